import type { GaussianMixture } from '../models/oracle/gmm.js';
import { UsageError } from '../core/errors.js';

/**
 * Errors of n samples against their exact PF-ODE endpoints, as shared/refs/README.md defines them:
 * RMS and max over all values, the median over samples of each sample's RMS error (robust to the
 * few samples that end in another mode), the number of such mode flips (the most likely mixture
 * component differs from the ground truth's) and the RMS over the samples that did not flip.
 */
export interface SampleErrors {
  /** RMS error over all n·d values. */
  rmsErr: number;
  /** Largest absolute error of any value. */
  maxAbsErr: number;
  /** Median over samples of each sample's RMS error over its d values. */
  medianSampleRmsErr: number;
  /** Samples whose likeliest mixture component differs from their ground truth's. */
  modeFlips: number;
  /** RMS error over the samples that did not flip; NaN when every sample flipped. */
  rmsErrExclFlips: number;
}

/**
 * The SampleErrors of n samples x against their exact endpoints `truth` (both n×d, d = gmm.d),
 * mode flips judged by gmm's likeliest component.
 */
export function sampleErrors(x: Float64Array, truth: Float64Array, gmm: GaussianMixture): SampleErrors {
  const d = gmm.d;
  if (x.length !== truth.length || x.length % d !== 0) {
    throw new UsageError(`samples (${x.length} values) and ground truth (${truth.length}) must both be n×${d}`);
  }
  const n = x.length / d;
  const perSample = new Float64Array(n);
  let sum = 0;
  let max = 0;
  let keptSum = 0;
  let kept = 0;
  let modeFlips = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * d; j < (i + 1) * d; j++) {
      const e = x[j] - truth[j];
      s += e * e;
      max = Math.max(max, Math.abs(e));
    }
    sum += s;
    perSample[i] = Math.sqrt(s / d);
    if (gmm.likeliestComponent(x, i * d) !== gmm.likeliestComponent(truth, i * d)) modeFlips++;
    else {
      keptSum += s;
      kept++;
    }
  }
  return {
    rmsErr: Math.sqrt(sum / x.length),
    maxAbsErr: max,
    medianSampleRmsErr: median(perSample),
    modeFlips,
    rmsErrExclFlips: kept ? Math.sqrt(keptSum / (kept * d)) : NaN,
  };
}

/** The median over samples of each sample's RMS error, for n×d samples and their references. */
export function medianSampleRms(x: Float64Array, truth: Float64Array, d: number): number {
  const per = new Float64Array(x.length / d);
  for (let i = 0; i < per.length; i++) {
    let s = 0;
    for (let j = i * d; j < (i + 1) * d; j++) s += (x[j] - truth[j]) * (x[j] - truth[j]);
    per[i] = Math.sqrt(s / d);
  }
  return median(per);
}

/** Median, the mean of the two middle values for even counts (numpy's convention). */
export function median(v: Float64Array): number {
  const s = Float64Array.from(v).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}
