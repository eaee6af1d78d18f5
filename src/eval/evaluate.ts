import { UsageError } from '../core/errors.js';
import type { LowRankGaussian } from '../ode/teleport.js';
import { sizeOf } from '../core/tensor.js';
import type { GridSpec } from '../grid/index.js';
import { guided } from '../models/onnx/guidance.js';
import type { OnnxDenoiser } from '../models/onnx/index.js';
import { planSample, runPlan } from '../sample.js';
import { frechetDistance, gaussianFit, labelAccuracy, type GaussianFit } from '../metrics/fid.js';
import type { DigitClassifier } from './classifier.js';

/**
 * Sample quality of a class-conditional image network with one sampler: Fréchet distance between
 * Gaussian fits of a classifier's features of generated and real images, and how often the
 * classifier predicts the label each sample was drawn for.
 */

/** Samples per sample() call in `diffuse eval` (chunk c uses seed + c): results depend on it through x_T. */
export const DEFAULT_EVAL_BATCH = 250;

/** What {@link evaluateSampler} scores: a class-conditional network, one sampler and its settings. */
export interface EvalRequest {
  /** The class-conditional denoiser (its card must name a class input). */
  model: OnnxDenoiser;
  /** Scores the samples; its sample shape must hold as many values as the model's. */
  classifier: DigitClassifier;
  /** The Gaussian fit of the classifier's features of real images, the Fréchet distance's reference. */
  real: GaussianFit;
  /** Sampler name or alias. */
  sampler: string;
  /** Steps of the sampler's default grid; unused when `grid` is given. */
  steps: number;
  /** The sampler's options, by its option names. */
  options?: Record<string, unknown>;
  /** The grid (with its own step count); default the sampler's default grid with `steps` steps. */
  grid?: GridSpec;
  /**
   * Gaussian teleportation to the grid's first time (SampleRequest.teleport): one Gaussian per
   * class (index = label), or one for all.
   */
  teleport?: readonly LowRankGaussian[];
  /** Classifier-free guidance scale; 1 = the conditional model alone. */
  cfg: number;
  /** Number of samples drawn and scored. */
  n: number;
  /** Seed of the first chunk's sample() call. */
  seed: number;
  /** Samples drawn per sample() call; chunk c uses seed + c. */
  batch: number;
  /**
   * Progress in sampler steps over all chunks (done of total = chunks × steps), with the model calls
   * so far over all chunks.
   */
  onProgress?: (done: number, total: number, nfe: number) => void;
}

/** The scores of one {@link evaluateSampler} run and the settings that produced them. */
export interface EvalResult {
  /** The sampler's registry name. */
  sampler: string;
  /** Steps of the grid used. */
  steps: number;
  /** Model calls of one sample() call (every chunk makes as many; a guided call counts once). */
  nfe: number;
  /** The classifier-free guidance scale used. */
  cfg: number;
  /** Number of samples scored. */
  n: number;
  /** Fréchet distance (squared 2-Wasserstein, as FID) between the features of the samples and of real images; lower is better. */
  fd: number;
  /** Fraction of samples the classifier labels with the class they were drawn for. */
  accuracy: number;
  /** Wall-clock time of sampling and classifying, in seconds. */
  seconds: number;
}

/** Draw n class-conditional samples (labels 0, 1, …, K−1 cycled), classify them, score them against the real fit. */
export async function evaluateSampler(r: EvalRequest): Promise<EvalResult> {
  const net = r.model;
  if (net.numClasses === undefined) throw new UsageError('diffuse eval scores class-conditional models: the card names no class input');
  const d = sizeOf(net.sampleShape);
  if (d !== sizeOf(r.classifier.sampleShape)) throw new UsageError(`the model draws ${d} values per sample but the classifier reads ${sizeOf(r.classifier.sampleShape)}`);
  if (!(Number.isInteger(r.batch) && r.batch >= 1)) throw new UsageError(`batch must be an integer ≥ 1, got ${r.batch}`);
  const labels = Int32Array.from({ length: r.n }, (_, i) => i % (net.numClasses ?? 1));
  const chunks = Math.ceil(r.n / r.batch);
  // Chunk c is its own run of the same sampler, options and grid, seeded seed + c.
  const chunk = (c: number) => {
    const part = labels.subarray(c * r.batch, Math.min(r.n, (c + 1) * r.batch));
    const model = r.cfg === 1 ? net.withLabels(part) : guided(net, { labels: part, scale: r.cfg });
    const teleport = r.teleport && (r.teleport.length === 1 ? r.teleport[0] : Array.from(part, (l) => gaussianOf(r.teleport ?? [], l)));
    const req = { model, process: net.process, sampler: r.sampler, options: r.options ?? {}, grid: r.grid, steps: r.steps, n: part.length, seed: r.seed + c, teleport };
    return { req, plan: planSample(req) };
  };
  let next = chunk(0);
  const { sampler: entry, grid } = next.plan;
  const steps = grid.length - 1;
  const x = new Float64Array(r.n * d);
  const started = performance.now();
  let nfe = 0;
  let calls = 0;
  for (let c = 0; c < chunks; c++) {
    if (c > 0) next = chunk(c);
    const out = await runPlan(next.plan, { ...next.req, onStep: (s) => r.onProgress?.(c * steps + s.step, chunks * steps, calls + s.nfe) });
    x.set(out.x.data, c * r.batch * d);
    nfe = out.nfe;
    calls += out.nfe;
  }
  const { logits, features } = await r.classifier.classify(x, r.n);
  return {
    sampler: entry.name, steps, nfe, cfg: r.cfg, n: r.n,
    fd: frechetDistance(gaussianFit(features, r.classifier.featureDim), r.real),
    accuracy: labelAccuracy(logits, r.classifier.numClasses, labels),
    seconds: (performance.now() - started) / 1000,
  };
}

/** The Gaussian of class `label`: a per-class list must cover every class the model draws. */
function gaussianOf(gs: readonly LowRankGaussian[], label: number): LowRankGaussian {
  const g = gs[label];
  if (!g) throw new UsageError(`teleport holds ${gs.length} Gaussians but the samples include class ${label}: give one per class, or one for all`);
  return g;
}
