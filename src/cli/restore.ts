import type { Command } from 'commander';
import { dirname, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { tensor } from '../core/tensor.js';
import { psnr, ssim } from '../metrics/image.js';
import { addNoise, gaussianBlur, inpaintBox, poolAndRepeat } from '../restoration/degrade.js';
import { resfusionRestore, scheduleFromBetas } from '../restoration/resfusion.js';
import { rddmSample, rddmSchedule } from '../restoration/rddm.js';
import type { OnnxDenoiser } from '../models/onnx/denoiser.js';
import { Rng } from '../core/rng.js';
import { BOUNDARY_FORMAT, parseBoundaryFile, repeatBoundary, searchBoundary, type BoundaryFile } from '../restoration/boundary.js';
import { planSample, runPlan } from '../sample.js';
import { readJsonObject, writeNpyFile, writePlot, writeTextFile } from '../io/files.js';
import { imageGridFigure } from '../io/plot.js';
import { integerArg, npyPathArg } from './args.js';
import { loadModelArg } from './model.js';
import { jsonNamesBeside } from './load.js';
import { cleanImages, imagesHelp } from './images.js';
import { loadBar, progressBar, type CliIo } from './io.js';

/**
 * `diffuse restore`: clean images degraded (average-pooled by --factor), restored by an
 * image-conditioned network with any sampler, from random starts or from a searched optimal
 * boundary condition (--boundary, or --search-boundary to find one); PSNR and SSIM vs the clean images.
 */

/** The folder beside a restoration model's card that holds its searched boundary conditions. */
export const BOUNDARY_DIR = 'boundary';

interface RestoreArgs {
  model: string;
  images: string;
  task: string;
  factor: number;
  sampler?: string;
  steps?: number;
  seed: number;
  boundary?: string;
  searchBoundary?: number;
  reference: string;
  saveBoundary?: string;
  generate?: boolean;
  out?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}


export function addRestoreCommand(program: Command, io: CliIo): void {
  program
    .command('restore')
    .description('restore degraded images with an image-conditioned network (e.g. fashion-sr4), from random starts or an optimal boundary condition; PSNR/SSIM vs the clean images')
    .option('--model <name>', 'an image-conditioned network (card inputs.condition)', 'fashion-sr4')
    .option('--images <spec>', `the clean images, degraded here: ${imagesHelp}`, 'fashion-heldout:0..9380:625')
    .option('--task <name>', 'the degradation: sr (average-pool by --factor; the sr4 models), or denoise (noise std 0.3), deblur (Gaussian σ 1.5 px), inpaint (a 12×12 box set to 0) for the mix models — as training/restoration.py makes them', 'sr')
    .option('--factor <k>', 'super-resolution factor: the images are average-pooled by k and repeated back (the sr4 models: 4)', integerArg(1, 28), 4)
    .option('--sampler <name>', 'sampler (deterministic for a boundary condition; default ddim); a Resfusion model runs its own chain', )
    .option('--steps <n>', 'sampler steps (default 10); a Resfusion model takes the steps of its schedule', integerArg(1, LIMITS.steps))
    .option('--seed <seed>', 'seed of the random starts and of the boundary search\'s candidates', integerArg(0, LIMITS.seed), 0)
    .option('--boundary <name>', 'start every image from this boundary condition: a file, or a NAME shipped in the model\'s boundary/ folder')
    .option('--search-boundary <candidates>', 'search the optimal boundary condition first: this many candidate starts scored on --reference', integerArg(1, 100000))
    .option('--reference <spec>', `the reference set of the search (${imagesHelp})`, 'fashion-heldout:10..9838:156')
    .option('--save-boundary <file>', 'write the searched boundary condition (JSON) for --boundary')
    .option('--generate', 'an RDDM model: generate from noise (zero condition) instead of restoring; --images then only sets how many')
    .option('--out <file>', 'write the restored images as .npy [n, 1, H, W], clipped to the card\'s data range (as they are scored)', npyPathArg)
    .option('--plot <file>', 'degraded (top), restored (middle) and clean (bottom) images, .png or .svg')
    .option('--quiet', 'print nothing but errors (and --json)')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (a: RestoreArgs) => runRestore(a, io));
}

/** The names of the boundary conditions shipped beside a model card (its folder's boundary/*.json). */
export function boundaryNames(card: string): string[] {
  return jsonNamesBeside(card, BOUNDARY_DIR);
}

async function boundaryFile(a: RestoreArgs, card: string, dim: number): Promise<BoundaryFile> {
  const name = a.boundary as string;
  let file = name;
  if (!/\.json$/i.test(name)) {
    const names = boundaryNames(card);
    if (!names.includes(name)) throw new UsageError(`--boundary ${name}: the model ships ${names.length ? `these boundary conditions: ${names.join(', ')}` : 'no boundary conditions'}; or give a FILE.json`);
    file = join(dirname(card), BOUNDARY_DIR, `${name}.json`);
  }
  return parseBoundaryFile(await readJsonObject(file), dim, file);
}

async function runRestore(a: RestoreArgs, io: CliIo): Promise<void> {
  if (!TASKS.includes(a.task)) throw new UsageError(`--task ${a.task}: accepted: ${TASKS.join(', ')}`);
  if (a.boundary !== undefined && a.searchBoundary !== undefined) throw new UsageError('--boundary uses a saved boundary condition and --search-boundary searches one: give one of them');
  if (a.saveBoundary !== undefined && a.searchBoundary === undefined) throw new UsageError('--save-boundary writes what --search-boundary finds: add --search-boundary N');
  const quiet = a.quiet === true || a.json === true;
  const load = loadBar(io, quiet);
  const loaded = await loadModelArg(a.model, load.onProgress).finally(() => load.stop());
  if (loaded.kind !== 'onnx' || !loaded.model.conditionShape) throw new UsageError(`--model must be an image-conditioned network (card inputs.condition), e.g. fashion-sr4; ${loaded.label} is not`);
  const net = loaded.model;
  if (net.card.method === 'dfm') throw new UsageError(`${loaded.label} is a Diffusion-with-Forward-Models network: its condition is a context observation and the blur std, not a degraded image; sample it with \`diffuse sample --model ${a.model}\` (or dfmModel(net, { context }) from the library)`);
  if (net.card.method === 'resfusion' && a.generate) throw new UsageError(`${loaded.label} is a Resfusion model: it restores only; drop --generate`);
  if (net.card.method === 'resfusion') return runResfusion(a, io, net, quiet, loaded.label);
  if (net.card.method === 'rddm') return runRddm(a, io, net, quiet, loaded.label);
  if (a.generate) throw new UsageError(`--generate needs a model that also generates (an RDDM card); ${loaded.label} restores only`);
  const sampler = a.sampler ?? 'ddim';
  const steps = a.steps ?? 10;
  const side = imageSide(net);
  const dim = side * side;
  const degrade = (x: Float64Array, n: number) => degradeImages(a, x, n, side);
  const { x: clean, n } = await cleanImages(a.images, side, '--images');
  const conditions = degrade(clean, n);
  let boundary: BoundaryFile | undefined;
  if (a.boundary !== undefined) boundary = await boundaryFile(a, loaded.card, dim);
  if (a.searchBoundary !== undefined) {
    const ref = await cleanImages(a.reference, side, '--reference');
    const bar = progressBar(io, quiet, 'boundary search');
    const found = await searchBoundary({
      conditioned: (c) => net.withCondition(c), process: net.process, sampler, steps,
      conditions: degrade(ref.x, ref.n), clean: ref.x, n: ref.n, candidates: a.searchBoundary, seed: a.seed,
      ...(net.card.dataRange ? { clip: net.card.dataRange } : {}),
      onCandidate: (k) => bar.update(k + 1, a.searchBoundary as number, 'candidates'),
    }).finally(() => bar.stop());
    boundary = {
      format: BOUNDARY_FORMAT, model: loaded.label, sampler, steps, reference: ref.n, candidates: a.searchBoundary,
      seed: a.seed, index: found.index, mse: found.mse[found.index], z: Array.from(found.z),
    };
    if (a.saveBoundary) await writeTextFile(a.saveBoundary, `${JSON.stringify(boundary)}\n`);
  }
  const req = {
    model: net.withCondition(conditions), process: net.process, sampler, steps, n, seed: a.seed,
    ...(boundary ? { z: repeatBoundary(Float64Array.from(boundary.z), n) } : {}),
  };
  const plan = planSample(req);
  if (boundary && plan.sampler.stochastic) throw new UsageError(`--sampler ${sampler} draws fresh noise at every step; a boundary condition fixes the start of a deterministic sampler (ddim, dpmpp-2m, unipc, …)`);
  const bar = progressBar(io, quiet, plan.sampler.name);
  const started = performance.now();
  const r = await runPlan(plan, { ...req, onStep: (st) => bar.update(st.step, st.total, `steps | NFE ${st.nfe}`) }).finally(() => bar.stop());
  const seconds = (performance.now() - started) / 1000;
  await report(a, io, {
    x: clipTo(r.x.data, net.card.dataRange), clean, conditions, n, side, sampler: plan.sampler.name, steps, nfe: r.nfe, seconds,
    start: boundary ? (a.searchBoundary !== undefined ? 'searched boundary' : `boundary ${a.boundary}`) : 'random', label: loaded.label,
    ...(boundary ? { boundary: { sampler: boundary.sampler, steps: boundary.steps, reference: boundary.reference, candidates: boundary.candidates, index: boundary.index, mse: boundary.mse } } : {}),
  });
}

/** A restoration model's square single-channel side, or a usage error. */
function imageSide(net: OnnxDenoiser): number {
  const s = net.sampleShape;
  if (!(s.length === 3 && s[0] === 1 && s[1] === s[2])) throw new UsageError(`--model must restore square single-channel images; it has sample shape [${s.join(', ')}]`);
  return s[1];
}

/** RDDM's sampler from the degraded images, or from zeros with --generate (the card's T; no sampler or boundary). */
async function runRddm(a: RestoreArgs, io: CliIo, net: OnnxDenoiser, quiet: boolean, label: string): Promise<void> {
  for (const [flag, given] of [['--sampler', a.sampler], ['--boundary', a.boundary], ['--search-boundary', a.searchBoundary]] as const) {
    if (given !== undefined) throw new UsageError(`${label} is an RDDM model: it runs its own sampler (--steps, default 10); drop ${flag}`);
  }
  const p = net.card.process;
  const T = p.name === 'vp-discrete' ? p.numTrainTimesteps ?? 1000 : 1000;
  const steps = a.steps ?? 10;
  if (steps > T) throw new UsageError(`--steps must be at most the model's ${T} steps, got ${steps}`);
  const side = imageSide(net);
  const { x: clean, n } = await cleanImages(a.images, side, '--images');
  const conditions = a.generate ? new Float64Array(clean.length) : degradeImages(a, clean, n, side);
  const bar = progressBar(io, quiet, 'rddm');
  const started = performance.now();
  const r = await rddmSample({
    model: net.withCondition(conditions), schedule: rddmSchedule(T), condition: conditions, n, steps, rng: new Rng(a.seed),
    ...(net.card.dataRange ? { clip: net.card.dataRange } : {}), onStep: (k, total) => bar.update(k, total, 'steps'),
  }).finally(() => bar.stop());
  await report(a, io, { x: clipTo(r.x, net.card.dataRange), clean, conditions, n, side, sampler: 'rddm', steps, nfe: r.nfe, seconds: (performance.now() - started) / 1000, start: a.generate ? 'noise (RDDM generation)' : 'degraded image (RDDM)', label });
}

/** Resfusion's own chain from the degraded images (the card's schedule; no sampler, steps or boundary). */
async function runResfusion(a: RestoreArgs, io: CliIo, net: OnnxDenoiser, quiet: boolean, label: string): Promise<void> {
  const p = net.card.process;
  const betas = p.name === 'vp-discrete' ? p.trainedBetas : undefined;
  if (!betas) throw new UsageError(`${label}: a Resfusion card's process must be vp-discrete with its trainedBetas`);
  for (const [flag, given] of [['--sampler', a.sampler], ['--steps', a.steps], ['--boundary', a.boundary], ['--search-boundary', a.searchBoundary]] as const) {
    if (given !== undefined) throw new UsageError(`${label} is a Resfusion model: it runs its own ${betas.length}-step chain from the degraded image; drop ${flag}`);
  }
  const side = imageSide(net);
  const { x: clean, n } = await cleanImages(a.images, side, '--images');
  const conditions = degradeImages(a, clean, n, side);
  const schedule = scheduleFromBetas(betas);
  const bar = progressBar(io, quiet, 'resfusion');
  const started = performance.now();
  const r = await resfusionRestore({ model: net.withCondition(conditions), schedule, condition: conditions, n, rng: new Rng(a.seed), onStep: (k, total) => bar.update(k, total, 'steps') }).finally(() => bar.stop());
  await report(a, io, { x: clipTo(r.x, net.card.dataRange), clean, conditions, n, side, sampler: 'resfusion', steps: r.nfe, nfe: r.nfe, seconds: (performance.now() - started) / 1000, start: 'degraded image (Resfusion)', label });
}

/** Restored images as images: clipped to the card's data range, when it names one. */
function clipTo(x: Float64Array, range: readonly [number, number] | undefined): Float64Array {
  return range ? x.map((v) => Math.min(range[1], Math.max(range[0], v))) : x;
}

interface Restored {
  x: Float64Array;
  clean: Float64Array;
  conditions: Float64Array;
  n: number;
  side: number;
  sampler: string;
  steps: number;
  nfe: number;
  seconds: number;
  start: string;
  /** The model's short name (its folder), not the path --model expanded to. */
  label: string;
  boundary?: Record<string, number | string>;
}

const TASKS = ['sr', 'denoise', 'deblur', 'inpaint'];

/** The condition images of --task (noise and holes drawn from stream 7 of --seed, apart from the sampler's). */
function degradeImages(a: RestoreArgs, x: Float64Array, n: number, side: number): Float64Array {
  if (a.task === 'sr') return poolAndRepeat(x, n, side, side, a.factor);
  if (a.task === 'denoise') return addNoise(x, 0.3, new Rng(a.seed, 7));
  if (a.task === 'deblur') return gaussianBlur(x, n, side, side, 1.5, 4);
  if (a.task === 'inpaint') return inpaintBox(x, n, side, Math.min(12, side), new Rng(a.seed, 7)).x;
  throw new UsageError(`--task ${a.task}: accepted: ${TASKS.join(', ')}`);
}

/** How the task reads in titles and summaries. */
const taskLabel = (a: RestoreArgs) => (a.task === 'sr' ? `×${a.factor} super-resolution` : a.task === 'denoise' ? 'denoising' : a.task === 'deblur' ? 'deblurring' : 'inpainting');

async function report(a: RestoreArgs, io: CliIo, r: Restored): Promise<void> {
  const { x, clean, conditions, n, side } = r;
  const dim = side * side;
  const mean = (v: Float64Array) => v.reduce((p, q) => p + q, 0) / v.length;
  const generated = a.generate === true;
  const scores = generated ? {} : {
    psnr: mean(psnr(x, clean, n, dim)), ssim: mean(ssim(x, clean, n, side, side)), degradedPsnr: mean(psnr(conditions, clean, n, dim)),
  };
  const summary = {
    model: r.label, ...(generated ? {} : { images: a.images, task: a.task, ...(a.task === 'sr' ? { factor: a.factor } : {}) }), n, sampler: r.sampler, steps: r.steps, nfe: r.nfe, seed: a.seed, start: r.start,
    ...(r.boundary ? { boundary: r.boundary } : {}),
    seconds: r.seconds, ...scores,
    ...(a.out ? { out: a.out } : {}), ...(a.plot ? { plot: a.plot } : {}), ...(a.saveBoundary ? { savedBoundary: a.saveBoundary } : {}),
  };
  if (a.out) await writeNpyFile(a.out, tensor('float64', [n, 1, side, side], x));
  if (a.plot) {
    const cols = Math.min(n, 16);
    const rows = generated ? [x] : [conditions, x, clean].map((v) => v.subarray(0, cols * dim));
    const count = generated ? n : 3 * cols;
    const grid = new Float64Array(count * dim);
    if (generated) grid.set(x);
    else rows.forEach((v, i) => grid.set(v, i * cols * dim));
    const title = generated ? `${r.label} · ${r.start} · NFE ${r.nfe}` : `${a.images} ${taskLabel(a)} · ${r.start} · ${r.sampler} NFE ${r.nfe} · PSNR ${(scores.psnr ?? 0).toFixed(2)} dB`;
    await writePlot(a.plot, imageGridFigure(grid, count, side, side, { cols, title }));
  }
  if (a.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else if (!a.quiet) {
    io.stdout.write([
      generated
        ? `${n} images generated by ${r.label}, ${r.sampler} NFE ${r.nfe}, ${r.seconds.toFixed(1)} s`
        : `${n} images ${a.images}, ${taskLabel(a)} by ${r.label}, ${r.sampler} NFE ${r.nfe}, start: ${r.start}, ${r.seconds.toFixed(1)} s`,
      ...(scores.psnr === undefined ? [] : [`vs clean: PSNR ${scores.psnr.toFixed(2)} dB, SSIM ${(scores.ssim ?? 0).toFixed(3)} (degraded input: PSNR ${(scores.degradedPsnr ?? 0).toFixed(2)} dB)`]),
      ...(a.saveBoundary && r.boundary ? [`wrote ${a.saveBoundary} (candidate ${r.boundary.index} of ${a.searchBoundary}, reference MSE ${Number(r.boundary.mse).toFixed(4)})`] : []),
      ...(a.out ? [`wrote ${a.out} [${n}, 1, ${side}, ${side}]`] : []),
      ...(a.plot ? [`wrote ${a.plot}`] : []),
    ].join('\n') + '\n');
  }
}
