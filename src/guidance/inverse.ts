import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import type { DifferentiableDenoiser } from '../models/oracle/full-gmm.js';
import type { LinearMeasurement } from '../models/oracle/posterior.js';
import { cholSolve, cholesky, matMul, matTVec, matVec, transpose } from '../core/linalg.js';
import { RunError, usage } from '../core/errors.js';

/**
 * Posterior sampling for y = A x0 + n as a model: the prior's data prediction plus a likelihood
 * score term ∇_{x_t} log p(y | x_t) ≈ Jᵀ Aᵀ u(x_t), with J = ∂x̂0/∂x_t from the prior's exact VJP.
 * Since x̂0 = (x_t + σ² ∇ log p_t)/α, a score term g moves the data prediction by (σ²/α)·g, so
 * every sampler runs the guided model unchanged. Returns data predictions ('sample').
 */
function likelihoodGuided(
  prior: DifferentiableDenoiser,
  meas: LinearMeasurement,
  y: ArrayLike<number>,
  weights: (residuals: Float64Array, n: number, t: number) => Float64Array,
): Model {
  const d = prior.sampleShape.reduce((a, b) => a * b, 1);
  usage(meas.d === d, `the measurement acts on d=${meas.d} values but the model's samples have ${d}`);
  usage(y.length === meas.m, `y must have m=${meas.m} values, got ${y.length}`);
  const { m, A } = meas;
  const p = prior.process;
  return {
    prediction: 'sample',
    sampleShape: prior.sampleShape,
    predict(x, n, t) {
      const { x0, vjp } = prior.denoiseWithVjp(x, n, t);
      const res = new Float64Array(n * m);
      const ax = new Float64Array(m);
      for (let i = 0; i < n; i++) {
        matVec(A, m, d, x0, i * d, ax);
        for (let r = 0; r < m; r++) res[i * m + r] = y[r] - ax[r];
      }
      const u = weights(res, n, t);
      const v = new Float64Array(n * d);
      const atu = new Float64Array(d);
      for (let i = 0; i < n; i++) {
        matTVec(A, m, d, u.subarray(i * m, (i + 1) * m), atu);
        v.set(atu, i * d);
      }
      const g = vjp(v);
      const alpha = p.alpha(t);
      const sigma = p.sigma(t);
      const k = (sigma * sigma) / alpha;
      for (let i = 0; i < x0.length; i++) x0[i] += k * g[i];
      return Promise.resolve(x0);
    },
  };
}

/** Options of {@link dps}. */
export interface DpsOptions {
  /** The prior, with the exact VJP of its data prediction. */
  prior: DifferentiableDenoiser;
  /** The operator A (m×d); DPS does not use its noise std. */
  measurement: LinearMeasurement;
  /** The observation y, m values. */
  y: ArrayLike<number>;
  /** ζ: step size of the likelihood gradient; 0 is the unconditional prior. */
  zeta: number;
}

/**
 * Diffusion posterior sampling (Chung et al. 2023, Alg. 1 with ζ_i = ζ/‖y − A x̂0‖, App. C.4): the
 * likelihood score is −ζ ∇_{x_t} ‖y − A x̂0(x_t)‖ = ζ Jᵀ Aᵀ (y − A x̂0)/‖y − A x̂0‖. Here it enters as a
 * score term, so its effect per step scales with the sampler's step rather than being a separate
 * update after each step as in the paper.
 */
export function dps(o: DpsOptions): Model {
  usage(o.zeta >= 0 && Number.isFinite(o.zeta), `DPS step size ζ must be a finite number ≥ 0, got ${o.zeta}`);
  const { m } = o.measurement;
  return likelihoodGuided(o.prior, o.measurement, o.y, (res, n) => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let r = 0; r < m; r++) s += res[i * m + r] * res[i * m + r];
      const w = s > 0 ? o.zeta / Math.sqrt(s) : 0;
      for (let r = 0; r < m; r++) res[i * m + r] *= w;
    }
    return res;
  });
}

/** Options of {@link pigdm}. */
export interface PigdmOptions {
  /** The prior, with the exact VJP of its data prediction. */
  prior: DifferentiableDenoiser;
  /** The operator A (m×d) and the noise std s; s = 0 needs A of full row rank. */
  measurement: LinearMeasurement;
  /** The observation y, m values. */
  y: ArrayLike<number>;
  /** Multiplies the guidance term (the paper's adaptive weight is 1 in score form); default 1. */
  scale?: number;
}

/**
 * Cholesky factor of ΠGDM's p(y | x_t) covariance r_t² AAᵀ + s²I, r_t² = σ_t²/(α_t² + σ_t²)
 * (Song et al. 2023, Eq. 7), for a precomputed AAᵀ (m×m).
 */
export function pigdmCovarianceFactor(AAt: Float64Array, m: number, p: Process, noiseStd: number, t: number, who: string): Float64Array {
  const a = p.alpha(t);
  const s = p.sigma(t);
  const r2 = (s * s) / (a * a + s * s);
  const M = AAt.map((v) => r2 * v);
  for (let i = 0; i < m; i++) M[i * m + i] += noiseStd * noiseStd;
  const L = cholesky(M, m);
  if (!L) throw new RunError(`${who}: r_t²AAᵀ + s²I is singular at t=${t}; use a measurement noise std > 0`);
  return L;
}

/**
 * Pseudoinverse-guided diffusion (ΠGDM, Song et al. 2023, Eq. 5–8) for noisy linear measurements:
 * p(x0 | x_t) ≈ N(x̂0, r_t² I), so p(y | x_t) ≈ N(A x̂0, r_t² AAᵀ + s²I) and
 *   ∇_{x_t} log p(y | x_t) ≈ Jᵀ Aᵀ (r_t² AAᵀ + s²I)⁻¹ (y − A x̂0),   r_t² = σ_t²/(α_t² + σ_t²)
 * (the paper's r_t² = σ²/(1 + σ²) in VE noise σ/α). Exact when the prior is N(μ, I).
 * Infinite measurement noise gives no guidance: the prior itself.
 */
export function pigdm(o: PigdmOptions): Model {
  const scale = o.scale ?? 1;
  usage(Number.isFinite(scale), `ΠGDM scale must be a finite number, got ${scale}`);
  const { m, d, A, noiseStd } = o.measurement;
  const AAt = matMul(A, transpose(A, m, d), m, d, m);
  const p = o.prior.process;
  return likelihoodGuided(o.prior, o.measurement, o.y, (res, n, t) => {
    if (noiseStd === Infinity) return res.fill(0);
    const L = pigdmCovarianceFactor(AAt, m, p, noiseStd, t, 'ΠGDM');
    for (let i = 0; i < n; i++) {
      cholSolve(L, m, res, i * m);
      for (let r = 0; r < m; r++) res[i * m + r] *= scale;
    }
    return res;
  });
}
