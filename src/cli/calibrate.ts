import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { InferenceSession } from 'onnxruntime-common';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { sizeOf } from '../core/tensor.js';
import type { OnnxDenoiser } from '../models/onnx/index.js';
import { nodeRuntime } from '../models/onnx/node-runtime.js';
import type { TimeDistribution } from '../quant/ndtc.js';
import { calibrate } from '../quant/calibrate.js';
import { writeTextFile } from '../io/files.js';
import { integerArg, numberArg } from './args.js';
import { checkSampleMemory } from './budget.js';
import { loadModelArg } from './model.js';
import { progressBar, type CliIo } from './io.js';

/** `diffuse calibrate`: the command over the library's calibrate() (src/quant/calibrate.ts). */

interface CalibrateArgs {
  model: string;
  augmented?: string;
  quantized?: string;
  out: string;
  n: number;
  seed: number;
  times: 'ndtc' | 'uniform';
  mu: number;
  std: number;
  percentile: number;
  bins: number;
  batch: number;
  json?: boolean;
}

function percentileArg(value: string): number {
  const v = numberArg(value);
  if (!(v > 50 && v <= 100)) throw new InvalidArgumentError('expected a percentage in (50, 100], e.g. 99.99');
  return v;
}

export function addCalibrateCommand(program: Command, io: CliIo): void {
  program
    .command('calibrate')
    .description('activation statistics for int8 post-training quantisation of an ONNX denoiser (PTQ4DM: NDTC times, x_t from the model\'s own trajectory)')
    .requiredOption('--model <spec>', 'onnx:CARD.json of the full-precision network')
    .option('--augmented <file.onnx>', 'the same graph with the tensors to quantise as extra outputs (training/quantize.py augment): records activation ranges')
    .option('--quantized <card.json>', 'a quantised build of the same network (training/quantize.py build): records its mean output error per channel, for bias correction')
    .requiredOption('--out <file.json>', 'where to write the statistics')
    .option('--n <n>', 'calibration samples (each at its own time)', integerArg(1, LIMITS.samples), 64)
    .option('--seed <seed>', 'seed of the times, labels and x_T', integerArg(0, LIMITS.seed), 0)
    .addOption(new Option('--times <dist>', 'how calibration times are drawn').choices(['ndtc', 'uniform']).default('ndtc'))
    .option('--mu <fraction>', 'NDTC mean μ as a fraction of the time range (0 = data end)', numberArg, 0.4)
    .option('--std <fraction>', 'NDTC standard deviation σ as a fraction of the time range', numberArg, 0.4)
    .option('--percentile <p>', 'central percentage of values the percentile range keeps', percentileArg, 99.99)
    .option('--bins <n>', 'histogram bins per tensor (a multiple of 4)', integerArg(4, 1 << 20), 8192)
    .option('--batch <n>', 'samples per run of the augmented graph', integerArg(1, LIMITS.samples), 64)
    .addOption(new Option('--json', 'print a JSON summary on stdout'))
    .action(async (a: CalibrateArgs) => runCalibrate(a, io));
}

async function runCalibrate(a: CalibrateArgs, io: CliIo): Promise<void> {
  if (!a.model.startsWith('onnx:')) throw new UsageError(`diffuse calibrate quantises networks: --model must be onnx:CARD.json; got "${a.model}"`);
  if (a.augmented === undefined && a.quantized === undefined) {
    throw new UsageError('diffuse calibrate needs --augmented FILE.onnx (activation ranges; training/quantize.py augment) and/or --quantized CARD.json (mean output error of a quantised build, for bias correction)');
  }
  const cardPath = a.model.slice('onnx:'.length);
  const loaded = await loadModelArg(a.model);
  if (loaded.kind !== 'onnx') throw new UsageError(`--model must be onnx:CARD.json; got "${a.model}"`);
  const model = loaded.model;
  if (model.card.time.kind === 'edm_c_noise') throw new UsageError(`${cardPath}: calibrate feeds time kinds discrete, continuous and sigma; this card's is edm_c_noise`);
  const dist: TimeDistribution = a.times === 'ndtc' ? { method: 'ndtc', mu: a.mu, std: a.std } : { method: 'uniform' };
  const augmentedPath = a.augmented === undefined ? undefined : resolve(a.augmented);
  if (augmentedPath !== undefined) {
    try {
      await access(augmentedPath);
    } catch {
      throw new UsageError(`--augmented ${a.augmented}: no such file (make it with training/quantize.py augment)`);
    }
  }
  const { openCardSession, loadOnnxModel } = await import('../models/onnx/node.js');
  const { Tensor } = await nodeRuntime();
  const session = augmentedPath === undefined ? undefined : await openCardSession(cardPath, augmentedPath, {}, (s) => s);
  let quantised: OnnxDenoiser | undefined;
  const bar = progressBar(io, a.json === true, 'calibrate');
  try {
    quantised = a.quantized === undefined ? undefined : await loadOnnxModel(a.quantized);
    checkSampleMemory(a.n, sizeOf(model.sampleShape));
    const r = await calibrate({
      model, cardPath, Tensor, n: a.n, seed: a.seed, times: dist, percentile: a.percentile, bins: a.bins, batch: a.batch,
      ...(session ? { augmented: { session, path: a.augmented ?? '' } } : {}),
      ...(quantised ? { quantized: { model: quantised, path: a.quantized ?? '' } } : {}),
      onProgress: (done, total, what) => bar.update(done, total, what),
    });
    await writeTextFile(a.out, `${JSON.stringify(r.file, null, 1)}\n`);
    bar.stop();
    const summary = {
      out: a.out, n: a.n, times: dist, distinctTimes: r.distinctTimes, runs: r.runs, tensors: r.tensors.length,
      outputErrorMean: r.outputError?.mean, outputErrorSigmaWeightedMean: r.outputError?.sigmaWeightedMean, seconds: r.seconds,
    };
    if (a.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      const on = `on ${r.runs} inputs (${a.n} samples at ${r.distinctTimes} distinct ${dist.method} times)`;
      if (session) io.stdout.write(`${r.tensors.length} tensors calibrated ${on}\n`);
      if (r.outputError) {
        const fmt = (v: number[]) => v.map((e) => e.toExponential(3)).join(', ');
        io.stdout.write(`mean output error of ${a.quantized} ${on}: [${fmt(r.outputError.mean)}] per channel, σ_t²-weighted [${fmt(r.outputError.sigmaWeightedMean)}] (RMS [${fmt(r.outputError.rms)}])\n`);
      }
      io.stdout.write(`wrote ${a.out} in ${r.seconds.toFixed(1)} s\n`);
    }
  } finally {
    bar.stop();
    await session?.release();
    await (quantised?.session as InferenceSession | undefined)?.release();
  }
}
