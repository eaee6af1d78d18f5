import type { Rng } from '../core/rng.js';
import { exp } from '../core/math.js';
import { usage } from '../core/errors.js';

/**
 * Distances between two sample sets x (n×d) and y (m×d), row-major: sliced Wasserstein-2, kernel
 * MMD² and moment errors, for scoring samplers against exact posterior samples.
 */

function rows(v: Float64Array, d: number, what: string): number {
  usage(Number.isInteger(d) && d > 0 && v.length % d === 0 && v.length > 0, `${what} must hold a positive number of rows of d=${d} values, got ${v.length} values`);
  return v.length / d;
}

/**
 * Exact squared W2 between the empirical measures of two sorted 1-D samples: the integral over
 * u ∈ (0, 1) of (F⁻¹(u) − G⁻¹(u))², whose quantile functions are steps at i/n and j/m.
 */
export function wasserstein2Sorted1d(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  usage(n > 0 && m > 0, 'W2 needs two non-empty samples');
  let i = 0;
  let j = 0;
  let prev = 0;
  let s = 0;
  while (i < n && j < m) {
    const ui = (i + 1) * m; // breakpoints in units of 1/(nm), exact in integers
    const uj = (j + 1) * n;
    const next = Math.min(ui, uj);
    const e = a[i] - b[j];
    s += (next - prev) * e * e;
    prev = next;
    if (ui === next) i++;
    if (uj === next) j++;
  }
  return s / (n * m);
}

/**
 * Sliced Wasserstein-2 (Rabin et al. 2011; Bonneel et al. 2015): √(mean over random unit directions
 * θ of W2²(θᵀx, θᵀy)), directions drawn from rng, each 1-D W2 exact by sorting.
 */
export function slicedWasserstein2(x: Float64Array, y: Float64Array, d: number, rng: Rng, projections = 256): number {
  const n = rows(x, d, 'x');
  const m = rows(y, d, 'y');
  usage(Number.isInteger(projections) && projections > 0, `projections must be a positive integer, got ${projections}`);
  const theta = new Float64Array(d);
  const px = new Float64Array(n);
  const py = new Float64Array(m);
  let total = 0;
  for (let p = 0; p < projections; p++) {
    let norm = 0;
    do {
      rng.fillNormal(theta);
      norm = Math.sqrt(theta.reduce((s, v) => s + v * v, 0));
    } while (!(norm > 0));
    for (let j = 0; j < d; j++) theta[j] /= norm;
    project(x, d, theta, px).sort();
    project(y, d, theta, py).sort();
    total += wasserstein2Sorted1d(px, py);
  }
  return Math.sqrt(total / projections);
}

function project(v: Float64Array, d: number, theta: Float64Array, out: Float64Array): Float64Array {
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += v[i * d + j] * theta[j];
    out[i] = s;
  }
  return out;
}

function sqDist(a: Float64Array, i: number, b: Float64Array, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const e = a[i * d + k] - b[j * d + k];
    s += e * e;
  }
  return s;
}

/** Median pairwise distance among the first `cap` rows of v (Gretton et al. 2012, §8); 1 if all coincide. */
export function medianBandwidth(v: Float64Array, d: number, cap = 800): number {
  const pool = v.subarray(0, Math.min(rows(v, d, 'samples'), cap) * d);
  const n = pool.length / d;
  const dist: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) dist.push(Math.sqrt(sqDist(pool, i, pool, j, d)));
  dist.sort((a, b) => a - b);
  const h = dist.length % 2 ? dist[(dist.length - 1) / 2] : 0.5 * (dist[dist.length / 2 - 1] + dist[dist.length / 2]);
  return h > 0 ? h : 1;
}

/**
 * Unbiased MMD² with the Gaussian kernel k(a, b) = exp(−‖a − b‖²/(2h²)) (Gretton et al. 2012,
 * Lemma 6): mean k over distinct pairs within x, within y, minus twice the mean across. h defaults
 * to the median heuristic. Can be slightly negative when the distributions agree.
 */
export function mmd2(x: Float64Array, y: Float64Array, d: number, bandwidth?: number): { mmd2: number; bandwidth: number } {
  const n = rows(x, d, 'x');
  const m = rows(y, d, 'y');
  usage(n > 1 && m > 1, 'unbiased MMD² needs at least 2 samples in each set');
  const h = bandwidth ?? medianBandwidth(pooled(x, y, d), d);
  usage(h > 0 && Number.isFinite(h), `MMD bandwidth must be a finite number > 0, got ${h}`);
  const c = -1 / (2 * h * h);
  const within = (v: Float64Array, k: number) => {
    let s = 0;
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) s += exp(c * sqDist(v, i, v, j, d));
    return (2 * s) / (k * (k - 1));
  };
  let cross = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) cross += exp(c * sqDist(x, i, y, j, d));
  return { mmd2: within(x, n) + within(y, m) - (2 * cross) / (n * m), bandwidth: h };
}

/** Up to 400 rows of each set, for the bandwidth of their pooled sample. */
function pooled(x: Float64Array, y: Float64Array, d: number): Float64Array {
  const a = x.subarray(0, Math.min(x.length / d, 400) * d);
  const b = y.subarray(0, Math.min(y.length / d, 400) * d);
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Sample mean and covariance (divisor n − 1) of n×d samples. */
export function sampleMoments(x: Float64Array, d: number): { mean: Float64Array; covariance: Float64Array } {
  const n = rows(x, d, 'x');
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  const covariance = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const ea = x[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) covariance[a * d + b] += (ea * (x[i * d + b] - mean[b])) / Math.max(n - 1, 1);
    }
  }
  return { mean, covariance };
}

/** ‖mean(x) − μ‖₂ and ‖cov(x) − Σ‖_F against reference moments (exact ones, or another sample's). */
export function momentErrors(x: Float64Array, d: number, ref: { mean: Float64Array; covariance: Float64Array }): { mean: number; covariance: number } {
  usage(ref.mean.length === d && ref.covariance.length === d * d, `reference moments must have d=${d} and d×d values`);
  const { mean, covariance } = sampleMoments(x, d);
  let em = 0;
  for (let j = 0; j < d; j++) em += (mean[j] - ref.mean[j]) * (mean[j] - ref.mean[j]);
  let ec = 0;
  for (let j = 0; j < d * d; j++) ec += (covariance[j] - ref.covariance[j]) * (covariance[j] - ref.covariance[j]);
  return { mean: Math.sqrt(em), covariance: Math.sqrt(ec) };
}
