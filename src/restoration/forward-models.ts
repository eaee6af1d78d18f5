/**
 * Diffusion with Forward Models (Tewari et al. 2023, arXiv 2306.11719): sampling a signal that
 * training never saw, only its observations through a known forward model y = A_s(x).
 *
 * The network reads a noisy observation y^τ (and an optional context observation of the same
 * signal) and predicts the signal x̂; the forward model renders it, ŷ0 = A_s(x̂). The paper's
 * denoiser is this rendering of the network's signal, and the diffusion runs in observation space
 * on it. Any Diffuse sampler can run it, as ŷ0 is an
 * x0-prediction; the sample is the signal x̂ of the last network call.
 */
import { UsageError } from '../core/errors.js';
import type { Model } from '../models/types.js';
import type { ForwardModelSpec } from '../models/onnx/card.js';
import { gaussianBlur } from './degrade.js';

/** What dfmModel needs of a network: its card's forward model and a way to run it with its condition channels. */
export interface DfmNetwork {
  readonly sampleShape: readonly number[];
  readonly card: { method?: string; forwardModel?: ForwardModelSpec };
  /** The network with its condition channels fixed (one per sample). */
  withCondition(condition: Float64Array): Model;
}

/** Options of dfmModel. */
export interface DfmOptions {
  /** The blur std s of the observation the diffusion renders (default: the card's smallest, the sharpest view). */
  sigma?: number;
  /** Context observations: one [H·W] image for every sample, or one per sample; absent, zeros (unconditional). */
  context?: Float64Array;
}

/** A DFM network as a Model in observation space (prediction "sample": ŷ0 = A_s(x̂)), keeping the last x̂. */
export interface DfmModel extends Model {
  /** The blur std the observations are rendered at. */
  readonly sigma: number;
  /** The signal x̂ the network predicted at its last call (the sample, once a sampler has run). */
  lastSignal(): Float64Array;
}

/** The forward model A_s: the card's Gaussian blur of std s on n images [H, W]. */
export function renderObservation(spec: ForwardModelSpec, x: ArrayLike<number>, n: number, height: number, width: number, sigma: number): Float64Array {
  return gaussianBlur(x, n, height, width, sigma, spec.radius);
}

/**
 * The condition channels training/forward_models.py feeds: [context, s − (s_min + s_max)/2] per
 * sample, each H·W; `context` holds one image for all samples or one per sample.
 */
export function dfmCondition(spec: ForwardModelSpec, context: Float64Array | undefined, n: number, pixels: number, sigma: number): Float64Array {
  const count = context ? context.length / pixels : 1;
  if (context && !(count === 1 || count === n)) throw new UsageError(`the context holds ${context.length / pixels} image(s) of ${pixels} values; give one for all ${n} samples or one per sample`);
  const shift = sigma - (spec.sigma[0] + spec.sigma[1]) / 2;
  const out = new Float64Array(n * 2 * pixels);
  for (let i = 0; i < n; i++) {
    const base = i * 2 * pixels;
    if (context) out.set(context.subarray((count === 1 ? 0 : i) * pixels, ((count === 1 ? 0 : i) + 1) * pixels), base);
    out.fill(shift, base + pixels, base + 2 * pixels);
  }
  return out;
}

/** A "dfm" network (its card's method) as a Model over observations rendered at blur std `sigma`. */
export function dfmModel(net: DfmNetwork, o: DfmOptions = {}): DfmModel {
  const spec = net.card.forwardModel;
  if (net.card.method !== 'dfm' || !spec) throw new UsageError('this network is not a Diffusion-with-Forward-Models network (its card has no "method": "dfm" with a "forward_model")');
  const shape = net.sampleShape;
  if (shape.length !== 3 || shape[0] !== 1) throw new UsageError(`a DFM network's samples must be one-channel images [1, H, W]; its card says [${shape.join(', ')}]`);
  const [, height, width] = shape;
  const sigma = o.sigma ?? spec.sigma[0];
  if (!(Number.isFinite(sigma) && sigma >= spec.sigma[0] && sigma <= spec.sigma[1])) {
    throw new UsageError(`the observation's blur std must lie in the range the network was trained on, [${spec.sigma[0]}, ${spec.sigma[1]}] px; got ${sigma}`);
  }
  const pixels = height * width;
  if (o.context) {
    const bad = o.context.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UsageError(`the context observation must be finite; value ${bad} is ${o.context[bad]}`);
  }
  let signal: Float64Array | undefined;
  const conditioned = new Map<number, Model>();
  return {
    prediction: 'sample',
    sampleShape: shape,
    sigma,
    async predict(y, n, t) {
      let model = conditioned.get(n);
      if (!model) conditioned.set(n, (model = net.withCondition(dfmCondition(spec, o.context, n, pixels, sigma))));
      signal = await model.predict(y, n, t);
      return renderObservation(spec, signal, n, height, width, sigma);
    },
    lastSignal() {
      if (!signal) throw new UsageError('the DFM model has not been run yet: sample with it first');
      return signal;
    },
  };
}
