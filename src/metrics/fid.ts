import { RunError, usage } from '../core/errors.js';
import { firstNonFinite } from '../core/vec.js';
import { matMul, sqrtPsd, symmetricEigen } from '../core/linalg.js';

/**
 * Fréchet distance between Gaussian fits of feature sets (Heusel et al. 2017, "FID", eq. 6 with a
 * classifier's penultimate-layer features in place of Inception's), and the accuracy of a
 * classifier on class-conditional samples. Features are row-major n×d.
 */

export interface GaussianFit {
  /** Number of feature vectors fitted. */
  n: number;
  d: number;
  mean: Float64Array;
  /** Unbiased covariance (divisor n − 1), d×d row-major. */
  cov: Float64Array;
}

/** Mean and unbiased covariance of n feature vectors of dimension d. */
export function gaussianFit(features: Float64Array | Float32Array, d: number): GaussianFit {
  usage(Number.isInteger(d) && d > 0 && features.length % d === 0, `features must hold rows of d=${d} values, got ${features.length} values`);
  const n = features.length / d;
  usage(n >= 2, `a Gaussian fit needs at least 2 feature vectors, got ${n}`);
  const bad = firstNonFinite(features);
  if (bad >= 0) throw new RunError(`feature ${bad % d} of vector ${Math.floor(bad / d)} is ${features[bad]}: a Gaussian fit needs finite features`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = features[i * d + j] - mean[j];
    for (let j = 0; j < d; j++) {
      const rj = row[j];
      for (let k = j; k < d; k++) cov[j * d + k] += rj * row[k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const v = cov[j * d + k] / (n - 1);
      cov[j * d + k] = v;
      cov[k * d + j] = v;
    }
  }
  return { n, d, mean, cov };
}

/**
 * Fréchet (2-Wasserstein²) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂):
 * ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2} (Dowson & Landau 1982). The last
 * trace is Σ √λᵢ over the eigenvalues of the symmetric PSD matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}, which equal
 * those of Σ₁Σ₂, so no non-symmetric square root is needed.
 */
export function frechetDistance(a: Pick<GaussianFit, 'd' | 'mean' | 'cov'>, b: Pick<GaussianFit, 'd' | 'mean' | 'cov'>): number {
  usage(a.d === b.d, `the two fits have different dimensions (${a.d} and ${b.d})`);
  const d = a.d;
  let dist = 0;
  for (let j = 0; j < d; j++) {
    const diff = a.mean[j] - b.mean[j];
    dist += diff * diff + a.cov[j * d + j] + b.cov[j * d + j];
  }
  const root = sqrtPsd(a.cov, d);
  const { values } = symmetricEigen(matMul(matMul(root, b.cov, d, d, d), root, d, d, d), d);
  let trace = 0;
  for (const v of values) trace += Math.sqrt(Math.max(v, 0));
  return Math.max(dist - 2 * trace, 0);
}

/** Fraction of the n rows of logits (n×k) whose argmax is the requested label. */
export function labelAccuracy(logits: Float64Array | Float32Array, k: number, labels: ArrayLike<number>): number {
  const n = labels.length;
  usage(n > 0 && logits.length === n * k, `expected ${n}×${k} logits, got ${logits.length} values`);
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * k + c] > logits[i * k + best]) best = c;
    if (best === labels[i]) hits++;
  }
  return hits / n;
}
