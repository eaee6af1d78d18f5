import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { LIMITS } from '../core/limits.js';
import { UsageError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { sizeOf } from '../core/tensor.js';
import type { OnnxDenoiser } from '../models/onnx/denoiser.js';
import { resolveLayout } from '../models/onnx/graph.js';
import type { OrtSession } from '../models/onnx/runtime.js';
import { runShared } from '../models/onnx/runner.js';
import { OutputErrorMean } from './bias.js';
import { calibrationTimes, trajectoryInputs, type TimeDistribution } from './ndtc.js';
import { CalibrationStatistics, type TensorStatistics } from './stats.js';

/**
 * Post-training quantisation statistics of an ONNX denoiser, PTQ4DM-style (Shang et al. 2023):
 * calibration times drawn by NDTC, inputs x_t from the full-precision model's own DDIM trajectory,
 * and min/max, percentile and MSE-optimal ranges of every tensor that `training/quantize.py
 * augment` exposed as an extra output of the graph. With a quantised build, on the same inputs: its
 * mean output error against the full-precision model per output channel, for empirical bias
 * correction (Nagel et al. 2019; PTQD, He et al. 2023), which `training/quantize.py build
 * --bias-correction` folds into the output layer's bias. Runtime-agnostic: the caller opens the
 * sessions and passes its runtime's Tensor class.
 */
export const CALIBRATION_FORMAT = 'diffuse-calibration/v1';

/** Input of `calibrate`: the networks and runtime, and the calibration set's size, times and statistics. */
export interface CalibrateOptions {
  /** The full-precision network. */
  model: OnnxDenoiser;
  /** Its card's path, recorded in the result and named in errors. */
  cardPath: string;
  /** The augmented graph (extra outputs to calibrate), opened by the caller, and its file name. */
  augmented?: { session: InferenceSession; path: string };
  /** A quantised build of the same network, and its card's path. */
  quantized?: { model: OnnxDenoiser; path: string };
  /** The runtime's Tensor class (onnxruntime-node or -web). */
  Tensor: typeof OrtTensor;
  /** Number of calibration samples. */
  n: number;
  /** Seed of the calibration times and of x_T. */
  seed: number;
  /** How the calibration times are drawn: NDTC's normal or the uniform baseline. */
  times: TimeDistribution;
  /** Central percentage of values the percentile range keeps. */
  percentile: number;
  /** Histogram bins per tensor. */
  bins: number;
  /** Samples per run. */
  batch: number;
  /** Called after each trajectory segment and each batch run, with the work done, its total, and what is counted. */
  onProgress?: (done: number, total: number, what: string) => void;
}

/** What `calibrate` returns: the calibration file's content and a summary of the run. */
export interface CalibrationResult {
  /** The calibration JSON (format CALIBRATION_FORMAT) that training/quantize.py reads. */
  file: Record<string, unknown>;
  /** The tensors calibrated (the augmented graph's extra outputs). */
  tensors: string[];
  /** Samples run through the graphs: n per label set (a second set with the null class when the model has one). */
  runs: number;
  /** Distinct calibration times below tMax: the segments of the DDIM trajectory. */
  distinctTimes: number;
  /** With a quantised build: per output channel, the mean, σ_t²-weighted mean and RMS of quantised − full-precision output. */
  outputError?: { mean: number[]; sigmaWeightedMean: number[]; rms: number[] };
  /** Wall-clock time of the run. */
  seconds: number;
}

/** Calibrate `o.model` (see the module comment); the result's `file` is the JSON training/quantize.py reads. */
export async function calibrate(o: CalibrateOptions): Promise<CalibrationResult> {
  const { model, cardPath, Tensor } = o;
  const { card, process: p } = model;
  if (card.time.kind === 'edm_c_noise') throw new UsageError(`${cardPath}: calibrate feeds time kinds discrete, continuous and sigma; this card's is edm_c_noise`);
  if (!o.augmented && !o.quantized) throw new UsageError('calibrate needs an augmented graph (activation ranges) and/or a quantised build (mean output error)');
  const started = performance.now();
  if (!(Number.isInteger(o.batch) && o.batch >= 1 && o.batch <= LIMITS.samples)) throw new UsageError(`batch must be an integer from 1 to ${LIMITS.samples}, got ${o.batch}`);
  if (!(o.percentile > 0 && o.percentile <= 100)) throw new UsageError(`percentile must be in (0, 100], got ${o.percentile}`);
  const session = o.augmented?.session;
  const quantised = o.quantized?.model;
  const times = calibrationTimes(p, o.n, o.seed, o.times, card.time.kind === 'discrete');
  checkPerSampleLayout(model, cardPath);
  const extra = session ? checkAugmented(session, model, o.augmented?.path ?? '') : [];
  if (quantised) checkQuantized(model, quantised, o.quantized?.path ?? '');
  const dim = sizeOf(model.sampleShape);
  const labels = model.numClasses === undefined ? undefined : Int32Array.from({ length: o.n }, (_, i) => i % (model.numClasses ?? 1));
  const xT = new Rng(o.seed).fork(0).fillNormal(new Float64Array(o.n * dim));
  const prior = p.priorStd(p.tMax);
  for (let i = 0; i < xT.length; i++) xT[i] *= prior;
  const labelSets = labels === undefined ? [undefined] : model.nullClass === undefined ? [labels] : [labels, new Int32Array(o.n).fill(model.nullClass)];
  const batches = labelSets.length * Math.ceil(o.n / o.batch);
  const distinct = new Set([...times].filter((t) => t < p.tMax)).size;
  const total = distinct + batches;
  const what = session ? 'trajectory steps + augmented runs' : 'trajectory steps + quantised runs';
  const x = await trajectoryInputs({
    process: p, times, xT,
    modelFor: (idx) => (labels === undefined ? model : model.withLabels(Int32Array.from(idx, (i) => labels[i]))),
    onStep: (k) => o.onProgress?.(k, total, what),
  });
  const stats = new CalibrationStatistics(o.bins);
  const errors = quantised ? new OutputErrorMean(model.sampleShape[0]) : undefined;
  let done = distinct;
  let checked = false;
  for (const set of labelSets) {
    for (let s = 0; s < o.n; s += o.batch) {
      const m = Math.min(o.batch, o.n - s);
      const feeds = buildFeeds(model.session, model, Tensor, x.subarray(s * dim, (s + m) * dim), times.subarray(s, s + m), set?.subarray(s, s + m), m);
      try {
        const output = (r: Record<string, { data: unknown }>, name: string) => Float32Array.from(r[name].data as Float32Array);
        // The augmented graph computes the full-precision output too: it stands in for the model's run.
        const reference = session ? await runShared(session, feeds, (r) => {
          for (const name of extra) {
            const v = r[name];
            if (v.type !== 'float32') throw new UsageError(`${o.augmented?.path}: output "${name}" is ${v.type}; only float32 tensors can be calibrated`);
            try {
              stats.add(name, v.data as Float32Array);
            } catch (e) {
              throw new UsageError(`${o.augmented?.path}: tensor "${name}": ${e instanceof Error ? e.message : String(e)}`);
            }
          }
          return output(r, card.output);
        }, `running the augmented graph ${o.augmented?.path}`) : undefined;
        if (reference && !checked) {
          await checkSameNetwork(model, feeds, reference, o.augmented?.path ?? '');
          checked = true;
        }
        if (quantised && errors) {
          const full = reference ?? await runShared(model.session, feeds, (r) => output(r, card.output), `running ${cardPath}`);
          const q = await runShared(quantised.session, feeds, (r) => output(r, quantised.card.output), `running the quantised build ${o.quantized?.path}`);
          try {
            const at = times.subarray(s, s + m);
            errors.add(full, q, at, at.map((t) => p.sigma(t) * p.sigma(t)));
          } catch (e) {
            throw new UsageError(`${o.quantized?.path}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      } finally {
        for (const f of Object.values(feeds)) f.dispose();
      }
      o.onProgress?.(++done, total, what);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const outputError = errors && {
    output: card.output,
    quantized: o.quantized?.path,
    count: errors.count,
    mean: errors.mean,
    sigmaWeightedMean: errors.weightedMean,
    rms: errors.rms,
    byTime: errors.byTime(Array.from({ length: 11 }, (_, k) => p.tMin + ((p.tMax - p.tMin) * k) / 10)),
    samples: errors.perSample,
  };
  const tensors: Record<string, TensorStatistics> | undefined = session ? stats.summary(o.percentile) : undefined;
  const file = {
    format: CALIBRATION_FORMAT,
    model: cardPath,
    augmented: o.augmented?.path,
    quantized: o.quantized?.path,
    n: o.n,
    seed: o.seed,
    times: { ...o.times, values: Array.from(times) },
    labels: labelSets.length === 2 ? 'i mod num_classes, and each x_t again with the null class' : labels ? 'i mod num_classes' : 'none',
    trajectory: 'DDIM from x_T through every distinct calibration time (the full-precision model)',
    levels: session ? 256 : undefined,
    seconds,
    tensors,
    outputError,
  };
  return { file, tensors: extra, runs: labelSets.length * o.n, distinctTimes: distinct, outputError, seconds };
}

/** A UsageError unless the quantised card describes a network with the same inputs, sample shape and process. */
function checkQuantized(model: OnnxDenoiser, quantised: OnnxDenoiser, path: string): void {
  const a = model.card;
  const b = quantised.card;
  const inputs = (c: typeof a) => JSON.stringify([c.inputs.sample, c.time.input, c.time.kind, c.inputs.classLabels ?? null]);
  if (inputs(a) !== inputs(b) || JSON.stringify(a.sampleShape) !== JSON.stringify(b.sampleShape) || a.prediction !== b.prediction) {
    throw new UsageError(`--quantized ${path}: its network's inputs, sample shape or prediction differ from ${model.card.onnx}'s: it is not a quantised build of this model`);
  }
  if (JSON.stringify(model.process.config) !== JSON.stringify(quantised.process.config)) {
    throw new UsageError(`--quantized ${path}: its process differs from the full-precision card's: it is not a quantised build of this model`);
  }
}

/** The augmented graph's extra outputs; a UsageError unless it reads the card's inputs and also gives the card's output. */
function checkAugmented(session: InferenceSession, model: OnnxDenoiser, path: string): string[] {
  const { card } = model;
  const wanted = [card.inputs.sample, card.time.input, ...(card.inputs.classLabels ? [card.inputs.classLabels] : [])];
  const missing = wanted.filter((name) => !session.inputNames.includes(name));
  if (missing.length || session.inputNames.length !== wanted.length) {
    throw new UsageError(`${path} reads inputs [${session.inputNames.join(', ')}] but the card's network reads [${wanted.join(', ')}]: it is not an augmented copy of this model`);
  }
  if (!session.outputNames.includes(card.output)) {
    throw new UsageError(`${path} has no output "${card.output}" (the card's output): it is not an augmented copy of this model`);
  }
  const extra = session.outputNames.filter((name) => name !== card.output);
  if (extra.length === 0) {
    throw new UsageError(`${path} outputs only "${card.output}": it has no tensors to calibrate (make it with training/quantize.py augment)`);
  }
  return extra;
}

/** calibrate runs a batch of samples each at its own time: the graph must take a dynamic batch and one time per sample. */
function checkPerSampleLayout(model: OnnxDenoiser, cardPath: string): void {
  const layout = resolveLayout(model.card, model.session, cardPath);
  if (layout.fixedBatch !== undefined) {
    throw new UsageError(`${cardPath}: the graph's batch is fixed at ${layout.fixedBatch}; calibrate needs a dynamic batch dimension (export with a symbolic batch axis)`);
  }
  if (layout.timeShape !== 'batch') {
    throw new UsageError(`${cardPath}: the graph takes ${layout.timeShape === 'scalar' ? 'a scalar time' : 'one time for the whole batch'}; calibrate feeds each sample its own time, so time input "${model.card.time.input}" must be 1-D [batch]`);
  }
}

/** Inputs for m samples, each at its own time, in the element types the augmented graph declares. */
function buildFeeds(
  session: OrtSession, model: OnnxDenoiser, Tensor: typeof OrtTensor, x: Float64Array, times: Float64Array, labels: Int32Array | undefined, m: number,
): Record<string, OrtTensor> {
  const { card, process: p } = model;
  const typeOf = (name: string) => {
    const d = session.inputMetadata.find((e) => e.name === name);
    return d?.isTensor ? d.type : undefined;
  };
  const sampleType = typeOf(card.inputs.sample);
  if (sampleType !== 'float32') throw new UsageError(`calibrate feeds float32 samples; input "${card.inputs.sample}" is ${sampleType}`);
  const feeds: Record<string, OrtTensor> = { [card.inputs.sample]: new Tensor('float32', Float32Array.from(x), [m, ...model.sampleShape]) };
  const value = (t: number) => (card.time.kind === 'sigma' ? p.sigma(t) / p.alpha(t) : t);
  const timeType = typeOf(card.time.input);
  if (timeType === 'float32') feeds[card.time.input] = new Tensor('float32', Float32Array.from(times, value), [m]);
  else if (timeType === 'int64') feeds[card.time.input] = new Tensor('int64', BigInt64Array.from(times, (t) => BigInt(Math.round(value(t)))), [m]);
  else throw new UsageError(`calibrate feeds time as float32 or int64 per sample; input "${card.time.input}" is ${timeType}`);
  if (labels && card.inputs.classLabels) {
    const labelType = typeOf(card.inputs.classLabels);
    feeds[card.inputs.classLabels] = labelType === 'int32'
      ? new Tensor('int32', Int32Array.from(labels), [m])
      : new Tensor('int64', BigInt64Array.from(labels, (c) => BigInt(c)), [m]);
  }
  return feeds;
}

/** The augmented graph must compute the card network's output: compare on the first batch. */
async function checkSameNetwork(model: OnnxDenoiser, feeds: Record<string, OrtTensor>, a: Float32Array, path: string): Promise<void> {
  const name = model.card.output;
  const b = await runShared(model.session, feeds, (r) => Float32Array.from(r[name].data as Float32Array), `running ${name}`);
  let diff = a.length === b.length ? 0 : Infinity;
  let scale = 0;
  for (let i = 0; i < a.length && i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (!(diff <= 1e-4 * (1 + scale))) {
    throw new UsageError(`${path} computes a different "${name}" than the card's network (max |difference| ${diff.toExponential(2)} on the first batch): augment this model's own ONNX file`);
  }
}
