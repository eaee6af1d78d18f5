import { UsageError } from '../core/errors.js';
import { sizeOf } from '../core/tensor.js';
import type { GridSpec } from '../grid/index.js';
import { guided } from '../models/onnx/guidance.js';
import type { OnnxDenoiser } from '../models/onnx/index.js';
import { findSampler, resolveOptions } from '../samplers/index.js';
import { resolveGrid, sample } from '../sample.js';
import { frechetDistance, gaussianFit, labelAccuracy, type GaussianFit } from '../metrics/fid.js';
import type { DigitClassifier } from './classifier.js';

/**
 * Sample quality of a class-conditional image network with one sampler: Fréchet distance between
 * Gaussian fits of a classifier's features of generated and real images, and how often the
 * classifier predicts the label each sample was drawn for.
 */

/** Samples per sample() call in `diffuse eval` (chunk c uses seed + c): results depend on it through x_T. */
export const DEFAULT_EVAL_BATCH = 250;

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

