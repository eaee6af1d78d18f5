import type { Process } from '../../process/types.js';
import { GaussianMixture } from './gmm.js';
import { FullGaussianMixture, FullGmmOracle } from './full-gmm.js';
import { cholSolve, cholesky, logDetFromCholesky, matMul, matVec, symmetrize, transpose } from '../../core/linalg.js';
import { UsageError, usage } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { exp, log } from '../../core/math.js';

/** y = A x0 + n, n ~ N(0, s² I): A is m×d, row-major. */
export interface LinearMeasurement {
  readonly m: number;
  readonly d: number;
  readonly A: Float64Array;
  /** s, the measurement noise standard deviation (0 for noiseless, Infinity for no information). */
  readonly noiseStd: number;
}

/** A measurement from an explicit m×d matrix (rows of equal length). */
export function linearMeasurement(rows: readonly (readonly number[])[], noiseStd: number): LinearMeasurement {
  const m = rows.length;
  const d = m > 0 ? rows[0].length : 0;
  usage(m > 0 && d > 0 && rows.every((r) => r.length === d), 'the measurement matrix must be a non-empty list of rows of equal length');
  usage(rows.every((r) => r.every(Number.isFinite)), 'the measurement matrix must be finite');
  usage(noiseStd >= 0, `measurement noise std must be ≥ 0 (or Infinity), got ${noiseStd}`);
  return { m, d, A: Float64Array.from(rows.flat()), noiseStd };
}

/** Inpainting: observe the listed coordinates of x0 (a masking operator's rows of the identity). */
export function inpainting(d: number, observed: readonly number[], noiseStd: number): LinearMeasurement {
  usage(observed.length > 0 && observed.every((j) => Number.isInteger(j) && j >= 0 && j < d) && new Set(observed).size === observed.length,
    `observed coordinates must be distinct integers in 0..${d - 1}, got [${observed.join(', ')}]`);
  return linearMeasurement(observed.map((j) => Array.from({ length: d }, (_, c) => (c === j ? 1 : 0))), noiseStd);
}

/** Down-sampling by averaging consecutive blocks of `factor` coordinates (d divisible by factor). */
export function averaging(d: number, factor: number, noiseStd: number): LinearMeasurement {
  usage(Number.isInteger(factor) && factor >= 1 && d % factor === 0, `averaging factor must be an integer ≥ 1 dividing d=${d}, got ${factor}`);
  const rows = Array.from({ length: d / factor }, (_, i) =>
    Array.from({ length: d }, (_, c) => (Math.floor(c / factor) === i ? 1 / factor : 0)));
  return linearMeasurement(rows, noiseStd);
}

/** A random m×d projection with entries N(0, 1/d) (rows of norm ≈ 1), drawn from rng. */
export function randomProjection(m: number, d: number, rng: Rng, noiseStd: number): LinearMeasurement {
  usage(Number.isInteger(m) && m >= 1 && Number.isInteger(d) && d >= 1, `a projection needs integers m, d ≥ 1, got ${m}×${d}`);
  const scale = 1 / Math.sqrt(d);
  return linearMeasurement(Array.from({ length: m }, () => Array.from({ length: d }, () => scale * rng.normal())), noiseStd);
}

/** y = A x0 + s·n for one x0 (length d), with n from rng. */
export function measure(meas: LinearMeasurement, x0: ArrayLike<number>, rng: Rng): Float64Array {
  usage(x0.length === meas.d, `x0 must have d=${meas.d} values, got ${x0.length}`);
  usage(Number.isFinite(meas.noiseStd), 'cannot draw a measurement with infinite noise');
  const y = matVec(meas.A, meas.m, meas.d, Float64Array.from(x0));
  for (let i = 0; i < meas.m; i++) y[i] += meas.noiseStd * rng.normal();
  return y;
}

/**
 * The exact posterior p(x0 | y) of a mixture prior under y = A x0 + n (Bishop 2006, Eq. 2.113–2.117
 * per component; the mixture weights are re-weighted by each component's evidence):
 *   S_k = AΣ_kAᵀ + s²I,  w'_k ∝ w_k N(y; Aμ_k, S_k),  K_k = Σ_kAᵀS_k⁻¹,
 *   μ'_k = μ_k + K_k(y − Aμ_k),  Σ'_k = Σ_k − K_k AΣ_k.
 */
export function posteriorMixture(prior: GaussianMixture | FullGaussianMixture, meas: LinearMeasurement, y: ArrayLike<number>): FullGaussianMixture {
  const p = prior instanceof GaussianMixture ? FullGaussianMixture.fromDiagonal(prior) : prior;
  const { d, K } = p;
  const { m, A, noiseStd } = meas;
  usage(meas.d === d, `the measurement acts on d=${meas.d} values but the prior has d=${d}`);
  usage(y.length === m, `y must have m=${m} values, got ${y.length}`);
  usage(noiseStd < Infinity, 'an infinite-noise measurement carries no information: use the prior itself');
  const dd = d * d;
  const At = transpose(A, m, d);
  const logW = new Float64Array(K);
  const means = new Float64Array(K * d);
  const cov = new Float64Array(K * dd);
  for (let k = 0; k < K; k++) {
    const Sigma = p.covariances.subarray(k * dd, (k + 1) * dd);
    const SAt = matMul(Sigma, At, d, d, m); // Σ_k Aᵀ, d×m
    const S = matMul(A, SAt, m, d, m);
    for (let i = 0; i < m; i++) S[i * m + i] += noiseStd * noiseStd;
    const L = cholesky(symmetrize(S, m), m);
    if (!L) throw new UsageError(`component ${k}: AΣAᵀ + s²I is singular; use a measurement noise std > 0`);
    const resid = matVec(A, m, d, p.means, k * d);
    for (let i = 0; i < m; i++) resid[i] = y[i] - resid[i];
    const z = Float64Array.from(resid);
    cholSolve(L, m, z);
    let q = 0;
    for (let i = 0; i < m; i++) q += resid[i] * z[i];
    logW[k] = p.logWeights[k] - 0.5 * (q + logDetFromCholesky(L, m) + m * log(2 * Math.PI));
    const shift = matVec(SAt, d, m, z);
    for (let j = 0; j < d; j++) means[k * d + j] = p.means[k * d + j] + shift[j];
    // Σ'_k = Σ_k − (Σ_kAᵀ) S_k⁻¹ (AΣ_k): solve S_k X = AΣ_k column by column.
    const ASigma = transpose(SAt, d, m); // m×d
    const col = new Float64Array(m);
    for (let j = 0; j < d; j++) {
      for (let i = 0; i < m; i++) col[i] = ASigma[i * d + j];
      cholSolve(L, m, col);
      for (let r = 0; r < d; r++) {
        let s = 0;
        for (let i = 0; i < m; i++) s += SAt[r * m + i] * col[i];
        cov[k * dd + r * d + j] = Sigma[r * d + j] - s;
      }
    }
  }
  return new FullGaussianMixture(d, { logWeights: logW }, means, cov);
}

/**
 * A class-conditional mixture: each component carries a class label, p(x0 | c) is the mixture of
 * that class's components and p(c) their total weight. Gives the exact conditional and
 * unconditional denoisers and the exact noisy classifier p(c | x_t) with its gradient.
 */
export class ClassConditionalMixture {
  readonly classes: number;
  readonly mixture: FullGaussianMixture;
  private readonly members: number[][];

  constructor(mixture: GaussianMixture | FullGaussianMixture, readonly labels: readonly number[]) {
    this.mixture = mixture instanceof GaussianMixture ? FullGaussianMixture.fromDiagonal(mixture) : mixture;
    usage(labels.length === this.mixture.K && labels.every((c) => Number.isInteger(c) && c >= 0),
      `labels must give one class index ≥ 0 per component (K=${this.mixture.K}), got ${labels.length}`);
    this.classes = Math.max(...labels) + 1;
    this.members = Array.from({ length: this.classes }, (_, c) => labels.flatMap((l, k) => (l === c ? [k] : [])));
    usage(this.members.every((ks) => ks.length > 0), `every class 0..${this.classes - 1} needs at least one component`);
  }

  private checkClass(c: number): void {
    usage(Number.isInteger(c) && c >= 0 && c < this.classes, `class must be an integer in 0..${this.classes - 1}, got ${c}`);
  }

  /** The exact model of p(x0 | c). */
  conditional(c: number, process: Process, prediction = 'sample'): FullGmmOracle {
    this.checkClass(c);
    return new FullGmmOracle(this.mixture.subset(this.members[c]), process, prediction);
  }

  /** The exact model of p(x0) = Σ_c p(c) p(x0 | c). */
  unconditional(process: Process, prediction = 'sample'): FullGmmOracle {
    return new FullGmmOracle(this.mixture, process, prediction);
  }

  /** The exact noisy classifier p(c | x_t) of this mixture under a process. */
  classifier(process: Process): ExactClassifier {
    return new ExactClassifier(this, process, this.members);
  }
}

/**
 * p(c | x_t) = Σ_{k∈c} r_k(x_t), and ∇ log p(c | x_t) = Σ_{k∈c} (r_k/p(c|x_t)) g_k − Σ_k r_k g_k with
 * g_k the component scores (the gradient classifier guidance needs; Dhariwal & Nichol 2021, §4).
 */
export class ExactClassifier {
  constructor(
    readonly source: ClassConditionalMixture,
    readonly process: Process,
    private readonly members: readonly (readonly number[])[],
  ) {}

  /** log p(c | x_t) for each of n samples. */
  logProb(x: Float64Array, n: number, t: number, c: number): Float64Array {
    const post = this.posterior(x, n, t, c);
    const { K } = this.source.mixture;
    const out = new Float64Array(n);
    const all = Array.from({ length: K }, (_, k) => k);
    for (let i = 0; i < n; i++) out[i] = logSumExp(post.logits, i * K, this.members[c]) - logSumExp(post.logits, i * K, all);
    return out;
  }

  /** ∇_{x_t} log p(c | x_t), n×d. */
  gradLogProb(x: Float64Array, n: number, t: number, c: number): Float64Array {
    const post = this.posterior(x, n, t, c);
    const { K, d } = this.source.mixture;
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      let pc = 0;
      for (const k of this.members[c]) pc += post.r[i * K + k];
      for (const k of this.members[c]) {
        const wk = post.r[i * K + k] / pc;
        for (let j = 0; j < d; j++) out[i * d + j] += wk * post.g[(i * K + k) * d + j];
      }
      for (let k = 0; k < K; k++) {
        const rk = post.r[i * K + k];
        for (let j = 0; j < d; j++) out[i * d + j] -= rk * post.g[(i * K + k) * d + j];
      }
    }
    return out;
  }

  private posterior(x: Float64Array, n: number, t: number, c: number) {
    usage(Number.isInteger(c) && c >= 0 && c < this.members.length, `class must be an integer in 0..${this.members.length - 1}, got ${c}`);
    return this.source.mixture.noisy(x, n, this.process.alpha(t), this.process.sigma(t));
  }
}

/** log Σ_{k ∈ ks} exp(v[off + k]). */
function logSumExp(v: Float64Array, off: number, ks: readonly number[]): number {
  let max = -Infinity;
  for (const k of ks) max = Math.max(max, v[off + k]);
  if (max === -Infinity) return max;
  let s = 0;
  for (const k of ks) s += exp(v[off + k] - max);
  return max + log(s);
}
