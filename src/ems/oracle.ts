import type { GaussianMixture } from '../models/oracle/gmm.js';
import type { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';
import { EmsAccumulator } from './statistics.js';
import type { Ems } from './ems.js';

/** The λ nodes and the Monte Carlo sample of an EMS computation ({@link emsFromMixture}). */
export interface EmsGridOptions {
  /** First (smallest) λ = log(α/σ) node; finite. */
  lambdaMin: number;
  /** Last (largest) λ node; finite and above lambdaMin. */
  lambdaMax: number;
  /** Number of λ nodes, uniform in λ (the official statistics use 120–1200). */
  points: number;
  /** Samples x_λ per node (the same x0 and ε at every node, so the statistics are smooth in λ). */
  samples: number;
  /** Draws the samples x0 and the noise ε. */
  rng: Rng;
}

/** `points` λ nodes uniform from lambdaMin to lambdaMax, both included; throws a UsageError on a bad range or count. */
export function emsLambdas(o: Pick<EmsGridOptions, 'lambdaMin' | 'lambdaMax' | 'points'>): number[] {
  if (!(Number.isFinite(o.lambdaMin) && Number.isFinite(o.lambdaMax) && o.lambdaMax > o.lambdaMin)) {
    throw new UsageError(`EMS needs finite lambdaMin < lambdaMax, got ${o.lambdaMin}, ${o.lambdaMax}`);
  }
  if (!(Number.isInteger(o.points) && o.points >= 2)) throw new UsageError(`EMS points must be an integer ≥ 2, got ${o.points}`);
  return Array.from({ length: o.points }, (_, j) => o.lambdaMin + ((o.lambdaMax - o.lambdaMin) * j) / (o.points - 1));
}

/**
 * Exact per-sample terms of a diagonal Gaussian mixture in y = x/α = x0 + sε (s = e^{−λ}): with
 * c_k = v_k + s², component posteriors m_k = μ_k + v_k/c_k·(y − μ_k) and responsibilities r_k,
 *   x̂0 = Σ r_k m_k,  ∂x̂0/∂y = Cov[x0|y]/s² (Tweedie),
 *   Cov[x0|y] = Σ r_k (diag(v_k s²/c_k) + (m_k − x̂0)(m_k − x̂0)ᵀ),
 *   dx̂0/dλ along dy/dλ = x̂0 − y:  (Cov/s²)(x̂0 − y) − s·∂x̂0/∂s|_y,
 *   ∂x̂0/∂s = Σ r_k ((a_k − ā)(m_k − x̂0) − 2s v_k (y − μ_k)/c_k²),  a_k = ∂ log N(y; μ_k, c_k)/∂s.
 */
function mixtureTerms(g: GaussianMixture, y: Float64Array, off: number, s: number, x0: Float64Array, dx0: Float64Array, scratch: Scratch): number {
  const { d, K, means, variances, logWeights } = g;
  const s2 = s * s;
  const { r, a, m } = scratch;
  a.fill(0);
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    let q = 0;
    for (let j = 0; j < d; j++) {
      const c = variances[k * d + j] + s2;
      const e = y[off + j] - means[k * d + j];
      q += (e * e) / c + log(c);
      a[k] += s * ((e * e) / (c * c) - 1 / c);
    }
    r[k] = logWeights[k] - 0.5 * q;
    if (r[k] > max) max = r[k];
  }
  let sum = 0;
  for (let k = 0; k < K; k++) sum += r[k] = exp(r[k] - max);
  let aMean = 0;
  for (let k = 0; k < K; k++) aMean += (r[k] /= sum) * a[k];
  for (let j = 0; j < d; j++) x0[off + j] = 0;
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < d; j++) {
      const v = variances[k * d + j];
      m[k * d + j] = means[k * d + j] + (v / (v + s2)) * (y[off + j] - means[k * d + j]);
      x0[off + j] += r[k] * m[k * d + j];
    }
  }
  let trace = 0;
  for (let j = 0; j < d; j++) dx0[off + j] = 0;
  for (let k = 0; k < K; k++) {
    if (r[k] === 0) continue;
    let proj = 0;
    for (let j = 0; j < d; j++) {
      const dev = m[k * d + j] - x0[off + j];
      const v = variances[k * d + j];
      trace += r[k] * ((v * s2) / (v + s2) + dev * dev);
      proj += dev * (x0[off + j] - y[off + j]);
    }
    for (let j = 0; j < d; j++) {
      const dev = m[k * d + j] - x0[off + j];
      const v = variances[k * d + j];
      const c = v + s2;
      const u = x0[off + j] - y[off + j];
      const jvp = ((v * s2) / c) * u + dev * proj;
      const dS = (a[k] - aMean) * dev - (2 * s * v * (y[off + j] - means[k * d + j])) / (c * c);
      dx0[off + j] += r[k] * (jvp / s2 - s * dS);
    }
  }
  return trace / s2;
}

interface Scratch {
  r: Float64Array;
  a: Float64Array;
  m: Float64Array;
}

/**
 * EMS of the exact denoiser of a diagonal Gaussian mixture: Monte Carlo over x_λ ~ p_λ only, with
 * every Jacobian term exact (no finite differences, no Hutchinson probes).
 */
export function emsFromMixture(g: GaussianMixture, o: EmsGridOptions): Ems {
  const lambda = emsLambdas(o);
  if (!(Number.isInteger(o.samples) && o.samples >= 2)) throw new UsageError(`EMS samples must be an integer ≥ 2, got ${o.samples}`);
  const n = o.samples;
  const data = g.sample(n, o.rng);
  const eps = o.rng.fillNormal(new Float64Array(n * g.d));
  const acc = new EmsAccumulator(lambda, g.d);
  const y = new Float64Array(n * g.d);
  const x0 = new Float64Array(n * g.d);
  const dx0 = new Float64Array(n * g.d);
  const tau = new Float64Array(n);
  const scratch: Scratch = { r: new Float64Array(g.K), a: new Float64Array(g.K), m: new Float64Array(g.K * g.d) };
  lambda.forEach((lam, j) => {
    const s = exp(-lam);
    for (let i = 0; i < y.length; i++) y[i] = data[i] + s * eps[i];
    for (let i = 0; i < n; i++) tau[i] = mixtureTerms(g, y, i * g.d, s, x0, dx0, scratch);
    acc.add(j, n, y, x0, dx0, tau);
  });
  return acc.finish({ method: 'analytic-gmm', samples: n, note: `diagonal GMM d=${g.d} K=${g.K}` });
}
