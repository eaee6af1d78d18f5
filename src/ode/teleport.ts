import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';
import { symmetricEigen } from '../core/linalg.js';
import { Rng } from '../core/rng.js';
import { firstNonFinite } from '../core/vec.js';
import { tensor, type Tensor } from '../core/tensor.js';

/**
 * Gaussian teleportation (Wang & Vastola 2024, "The unreasonable effectiveness of Gaussian score
 * approximation for diffusion models", §5): at high noise a trained network's score is close to
 * the score of a Gaussian fitted to its data, and for Gaussian data the probability-flow ODE has a
 * closed-form solution. So the first stretch of the trajectory, from t_max down to some t_s, costs
 * no model calls: x_{t_s} is computed exactly for the Gaussian, and a sampler takes it from there.
 *
 * The Gaussian is held in low rank: N(μ, U diag(λ) Uᵀ + ρ (I − U Uᵀ)), the top principal axes of
 * the data's covariance and the mean variance of the rest.
 */
export interface LowRankGaussian {
  /** Values per sample. */
  dim: number;
  /** Number of principal axes kept. */
  rank: number;
  /** The mean μ (dim). */
  mean: Float64Array;
  /** The principal axes, orthonormal, as rank rows of dim values. */
  axes: Float64Array;
  /** The variance λ_k along each axis, decreasing (rank). */
  variances: Float64Array;
  /** ρ: the mean variance left in the directions orthogonal to the axes. */
  residual: number;
}

/** Options of {@link fitLowRankGaussian}. */
export interface FitOptions {
  /** Subspace iterations (default 30). */
  iterations?: number;
  /** Extra axes iterated and then dropped, for accuracy of the kept ones (default 8). */
  oversample?: number;
  /** Seed of the starting subspace (default 0). */
  seed?: number;
}

/**
 * The mean and top `rank` principal axes of n samples of dim values (row-major), by subspace
 * iteration on their covariance and a Rayleigh–Ritz step (Golub & Van Loan §8.2.4); the variance
 * not on the axes is spread evenly over the remaining dim − rank directions.
 */
export function fitLowRankGaussian(x: Float64Array, n: number, dim: number, rank: number, o: FitOptions = {}): LowRankGaussian {
  if (!(Number.isInteger(n) && n >= 2 && x.length === n * dim)) throw new UsageError(`a Gaussian fit needs n ≥ 2 samples of ${dim} values; got ${x.length} values for n = ${n}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < dim)) throw new UsageError(`rank must be an integer from 0 to ${dim - 1}, got ${rank}`);
  const bad = firstNonFinite(x);
  if (bad >= 0) throw new UsageError(`the data hold ${x[bad]} at sample ${Math.floor(bad / dim)}, value ${bad % dim}; a Gaussian fit needs finite values`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] / n;
  const cov = covariance(x, n, dim, mean);
  let trace = 0;
  for (let j = 0; j < dim; j++) trace += cov[j * dim + j];
  const k = Math.min(dim, rank + (rank > 0 ? o.oversample ?? 8 : 0));
  const axes = new Float64Array(rank * dim);
  const variances = new Float64Array(rank);
  if (rank > 0) {
    // Q: k orthonormal columns stored as rows; Q ← orth(C Q) repeatedly
    let Q = new Rng(o.seed ?? 0).fillNormal(new Float64Array(k * dim));
    orthonormalizeRows(Q, k, dim);
    for (let it = 0; it < (o.iterations ?? 30); it++) {
      Q = multiplyRows(cov, Q, k, dim);
      orthonormalizeRows(Q, k, dim);
    }
    // Rayleigh–Ritz: B = Q C Qᵀ (k × k), B = W diag(θ) Wᵀ, axes = Wᵀ Q
    const CQ = multiplyRows(cov, Q, k, dim);
    const B = new Float64Array(k * k);
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) B[a * k + b] = dot(Q, a * dim, CQ, b * dim, dim);
    const { values, vectors: W } = symmetricEigen(B, k);
    const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a]);
    for (let r = 0; r < rank; r++) {
      const c = order[r];
      variances[r] = Math.max(values[c], 0);
      for (let a = 0; a < k; a++) {
        const w = W[a * k + c];
        for (let j = 0; j < dim; j++) axes[r * dim + j] += w * Q[a * dim + j];
      }
    }
  }
  const kept = variances.reduce((s, v) => s + v, 0);
  return { dim, rank, mean, axes, variances, residual: Math.max(trace - kept, 0) / (dim - rank) };
}

/**
 * The exact probability-flow ODE map from time `from` to time `to` for Gaussian data (Wang &
 * Vastola 2024, Eq. 12 in the eigenbasis): along an axis of variance λ the marginal at t has
 * standard deviation s(t) = √(α(t)² λ + σ(t)²) about α(t) μ, and the flow scales the deviation by
 * s(to)/s(from):
 *   x_to = α_to μ + Σ_k r_k ⟨u_k, d⟩ u_k + r_ρ (d − Σ_k ⟨u_k, d⟩ u_k),   d = x_from − α_from μ.
 * `gaussians[i]` is the Gaussian of sample i (one per class), or one for all. Returns a new array.
 */
export function teleport(
  p: Process, gaussians: readonly LowRankGaussian[] | LowRankGaussian, x: Float64Array, n: number, from: number, to: number,
): Float64Array {
  const list = Array.isArray(gaussians) ? gaussians : [gaussians as LowRankGaussian];
  if (list.length !== 1 && list.length !== n) throw new UsageError(`teleport takes one Gaussian, or one per sample (${n}); got ${list.length}`);
  const dim = list[0].dim;
  if (x.length !== n * dim) throw new UsageError(`teleport: x has ${x.length} values; expected n×dim = ${n}×${dim}`);
  if (!(to <= from)) throw new UsageError(`teleport runs the flow forward in sampling: to (${to}) must not exceed from (${from})`);
  const [a0, s0, a1, s1] = [p.alpha(from), p.sigma(from), p.alpha(to), p.sigma(to)];
  const ratio = (v: number) => Math.sqrt((a1 * a1 * v + s1 * s1) / (a0 * a0 * v + s0 * s0));
  const out = new Float64Array(x.length);
  const d = new Float64Array(dim);
  const cache = new Map<LowRankGaussian, { r: Float64Array; rho: number }>();
  for (let i = 0; i < n; i++) {
    const g = list.length === 1 ? list[0] : list[i];
    if (g.dim !== dim) throw new UsageError(`teleport: Gaussian ${i} has ${g.dim} values per sample, the others ${dim}`);
    let c = cache.get(g);
    if (!c) cache.set(g, (c = { r: g.variances.map(ratio), rho: ratio(g.residual) }));
    const off = i * dim;
    for (let j = 0; j < dim; j++) d[j] = x[off + j] - a0 * g.mean[j];
    for (let j = 0; j < dim; j++) out[off + j] = a1 * g.mean[j] + c.rho * d[j];
    for (let k = 0; k < g.rank; k++) {
      const proj = dot(g.axes, k * dim, d, 0, dim) * (c.r[k] - c.rho);
      for (let j = 0; j < dim; j++) out[off + j] += proj * g.axes[k * dim + j];
    }
  }
  return out;
}

/** The sample covariance (n − 1 normalised) of n rows of dim values about `mean`. */
function covariance(x: Float64Array, n: number, dim: number, mean: Float64Array): Float64Array {
  const C = new Float64Array(dim * dim);
  // rank-8 updates of the upper triangle: C (dim² doubles) is read and written once per 8 samples, not per sample
  const B = 8;
  const r = new Float64Array(B * dim);
  for (let i0 = 0; i0 < n; i0 += B) {
    const m = Math.min(B, n - i0);
    r.fill(0);
    for (let s = 0; s < m; s++) for (let j = 0; j < dim; j++) r[s * dim + j] = x[(i0 + s) * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const [v0, v1, v2, v3, v4, v5, v6, v7] = [r[a], r[dim + a], r[2 * dim + a], r[3 * dim + a], r[4 * dim + a], r[5 * dim + a], r[6 * dim + a], r[7 * dim + a]];
      const o = a * dim;
      for (let b = a; b < dim; b++) {
        C[o + b] += v0 * r[b] + v1 * r[dim + b] + v2 * r[2 * dim + b] + v3 * r[3 * dim + b]
          + v4 * r[4 * dim + b] + v5 * r[5 * dim + b] + v6 * r[6 * dim + b] + v7 * r[7 * dim + b];
      }
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = C[a * dim + b] / (n - 1);
      C[a * dim + b] = v;
      C[b * dim + a] = v;
    }
  }
  return C;
}

/** Rows of C·Qᵀ transposed: row a of the result is C q_a (C symmetric dim × dim, Q k rows of dim). */
function multiplyRows(C: Float64Array, Q: Float64Array, k: number, dim: number): Float64Array {
  const out = new Float64Array(k * dim);
  // row by row of C, so that C (dim² doubles) streams through once and Q (k rows) stays in cache
  for (let j = 0; j < dim; j++) for (let a = 0; a < k; a++) out[a * dim + j] = dot(C, j * dim, Q, a * dim, dim);
  return out;
}

/** Modified Gram–Schmidt on k rows of dim values, in place (twice, for orthogonality to rounding). */
function orthonormalizeRows(Q: Float64Array, k: number, dim: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < a; b++) {
        const c = dot(Q, a * dim, Q, b * dim, dim);
        for (let j = 0; j < dim; j++) Q[a * dim + j] -= c * Q[b * dim + j];
      }
      const norm = Math.sqrt(dot(Q, a * dim, Q, a * dim, dim));
      for (let j = 0; j < dim; j++) Q[a * dim + j] /= norm;
    }
  }
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s = 0;
  for (let j = 0; j < len; j++) s += a[ao + j] * b[bo + j];
  return s;
}

/**
 * Gaussians as one float32 tensor [K, rank + 2, dim] (the `gaussians.npy` a model folder ships):
 * for Gaussian k, row 0 is the mean, rows 1…rank the axes, and row rank + 1 holds the rank
 * variances then ρ (the rest zeros). All K share one rank.
 */
export function gaussiansToTensor(gs: readonly LowRankGaussian[]): Tensor<'float32'> {
  if (gs.length === 0) throw new UsageError('no Gaussians to write');
  const { dim, rank } = gs[0];
  if (rank + 1 > dim) throw new UsageError(`rank ${rank} leaves no room for the variances in a row of ${dim}`);
  const rows = rank + 2;
  const data = new Float32Array(gs.length * rows * dim);
  gs.forEach((g, k) => {
    if (g.dim !== dim || g.rank !== rank) throw new UsageError(`Gaussian ${k} has dim ${g.dim} and rank ${g.rank}; the first has ${dim} and ${rank}`);
    const o = k * rows * dim;
    data.set(g.mean, o);
    data.set(g.axes, o + dim);
    data.set(g.variances, o + (rank + 1) * dim);
    data[o + (rank + 1) * dim + rank] = g.residual;
  });
  return tensor('float32', [gs.length, rows, dim], data);
}

/** The Gaussians of a [K, rank + 2, dim] tensor written by {@link gaussiansToTensor}, checked. */
export function gaussiansFromTensor(t: Tensor, what = 'the Gaussians'): LowRankGaussian[] {
  if (t.shape.length !== 3 || t.shape[1] < 2 || t.shape[1] - 1 > t.shape[2]) {
    throw new UsageError(`${what} must be a [K, rank + 2, dim] array (mean, axes, then variances and ρ per Gaussian); got shape [${t.shape.join(', ')}]`);
  }
  const [K, rows, dim] = t.shape;
  const rank = rows - 2;
  const bad = firstNonFinite(t.data);
  if (bad >= 0) throw new UsageError(`${what} hold ${t.data[bad]} at index ${bad}; every value must be finite`);
  return Array.from({ length: K }, (_, k) => {
    const o = k * rows * dim;
    const at = (from: number, len: number) => Float64Array.from(t.data.subarray(o + from, o + from + len));
    const variances = at((rank + 1) * dim, rank);
    const residual = t.data[o + (rank + 1) * dim + rank];
    if (variances.some((v) => v < 0) || residual < 0) throw new UsageError(`${what}: Gaussian ${k} has a negative variance`);
    return { dim, rank, mean: at(0, dim), axes: at(dim, rank * dim), variances, residual };
  });
}

/** The Gaussian of each sample: its class's where labels are given, else the one for all the data. */
export function gaussiansFor(gs: readonly LowRankGaussian[], dim: number, labels: readonly number[] | undefined): LowRankGaussian[] | LowRankGaussian {
  if (gs[0].dim !== dim) throw new UsageError(`the model's Gaussians have ${gs[0].dim} values per sample; the model draws ${dim}`);
  if (!labels) return gs[gs.length - 1];
  return labels.map((l) => {
    if (!(l >= 0 && l < gs.length - 1)) throw new UsageError(`the model's Gaussians cover classes 0..${gs.length - 2}; label ${l} has none`);
    return gs[l];
  });
}
