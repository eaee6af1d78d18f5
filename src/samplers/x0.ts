import { UsageError } from '../core/errors.js';

/**
 * Post-processing of the data prediction x0 that diffusers' schedulers offer: clipping
 * (clip_sample) and dynamic thresholding (Saharia et al. 2022, Imagen §2.3).
 * Applied in place to the n × dim batch.
 */
export interface X0Options {
  /** Clip x0 to [−clipRange, clipRange]; 0 = off. */
  clipSample: number;
  /** Dynamic-thresholding percentile (e.g. 0.995); 0 = off. */
  thresholdRatio: number;
  /** Upper bound on the dynamic threshold s (diffusers' sample_max_value). */
  sampleMaxValue: number;
}

export const x0Defaults: X0Options = { clipSample: 0, thresholdRatio: 0, sampleMaxValue: 1 };

export function validateX0(o: X0Options): void {
  if (!(o.clipSample >= 0)) throw new UsageError(`clipSample must be ≥ 0 (0 = off), got ${o.clipSample}`);
  if (!(o.thresholdRatio >= 0 && o.thresholdRatio < 1)) {
    throw new UsageError(`thresholdRatio must be in [0, 1) (0 = off), got ${o.thresholdRatio}`);
  }
  if (o.clipSample > 0 && o.thresholdRatio > 0) throw new UsageError('use either clipSample or thresholdRatio, not both');
}

export function processX0(x0: Float64Array, n: number, o: X0Options): Float64Array {
  if (o.thresholdRatio > 0) return dynamicThreshold(x0, n, o.thresholdRatio, o.sampleMaxValue);
  if (o.clipSample > 0) {
    const r = o.clipSample;
    for (let i = 0; i < x0.length; i++) x0[i] = Math.min(r, Math.max(-r, x0[i]));
  }
  return x0;
}

/** Per sample: s = clamp(quantile(|x0|, ratio), 1, maxValue); x0 ← clamp(x0, −s, s) / s. */
export function dynamicThreshold(x0: Float64Array, n: number, ratio: number, maxValue: number): Float64Array {
  const dim = x0.length / n;
  const abs = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const row = x0.subarray(i * dim, (i + 1) * dim);
    for (let j = 0; j < dim; j++) abs[j] = Math.abs(row[j]);
    abs.sort();
    const s = Math.min(maxValue, Math.max(1, quantileSorted(abs, ratio)));
    for (let j = 0; j < dim; j++) row[j] = Math.min(s, Math.max(-s, row[j])) / s;
  }
  return x0;
}

/** torch.quantile's default linear interpolation on sorted values. */
function quantileSorted(v: Float64Array, q: number): number {
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, v.length - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}
