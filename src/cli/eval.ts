import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { sizeOf } from '../core/tensor.js';
import { shippedModelCard } from '../models/onnx/shipped.js';
import type { ModelCard } from '../models/onnx/index.js';
import { findSampler } from '../samplers/index.js';
import { defaultGrid } from '../sample.js';
import { DEFAULT_CLASSIFIER, loadClassifier } from '../eval/classifier.js';
import { realFeatureFit } from '../eval/data.js';
import { DEFAULT_EVAL_BATCH, evaluateSampler } from '../eval/evaluate.js';
import { gridFromArgs, integerArg, keyValueArg, numberArg, type GridArgs } from './args.js';
import { loadModelArg } from './model.js';
import { loadBar, progressBar, type CliIo, type Progress } from './io.js';
import { checkSampleMemory } from './budget.js';
import { addGridOptions, gridKeys } from './sample.js';
import { addResultFileOptions, withResultFiles, type ResultFileArgs } from './load.js';
import { loadGaussians } from './teleport.js';
import { gaussiansFor } from '../ode/teleport.js';

/**
 * `diffuse eval`: sample quality of a class-conditional image network with one sampler — Fréchet
 * distance between Gaussian fits of a classifier's penultimate-layer features of generated and real
 * images (MNIST digits or Fashion-MNIST clothes, as the classifier's card says), and how often the
 * classifier predicts the label each sample was drawn for.
 */

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
  teleport?: boolean;
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
    .option('--teleport', "Gaussian teleportation: carry x_T from t_max to the grid's first time (--start) under the class Gaussians beside the model's card (gaussians.npy)")
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
  const loading = loadBar(io, a.json === true);
  const loaded = await loadModelArg(a.model, loading.onProgress).finally(() => loading.stop());
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
      { sampler: entry.name, options: a.opt as Record<string, unknown>, grid: gridFromArgs(a, a.steps, defaultGrid(entry.defaultGrid, a.steps)), teleport: false },
      a, given, gridGiven, loaded.card,
    );
    if (a.teleport && !plan.teleport && !(given('start') || given('times'))) throw new UsageError('--teleport carries x_T to the grid\'s first time: give the grid a --start below t_max (or --times)');
    const teleport = a.teleport || plan.teleport ? await loadGaussians(loaded.card) : undefined;
    if (teleport) gaussiansFor(teleport, sizeOf(loaded.model.sampleShape), [...Array(loaded.model.numClasses).keys()]);
    const bar: Progress = progressBar(io, a.json === true, plan.sampler);
    const result = await evaluateSampler({
      model: loaded.model, classifier, real, sampler: plan.sampler, steps: a.steps, options: plan.options,
      grid: plan.grid, cfg: a.cfg, n: a.n, seed: a.seed, batch: a.batch, teleport,
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
