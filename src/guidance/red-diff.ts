import type { Model } from '../models/types.js';
import type { LinearMeasurement } from '../models/oracle/posterior.js';
import type { Process } from '../process/types.js';
import type { Rng } from '../core/rng.js';
import { Denoiser } from '../models/denoiser.js';
import { cholSolve, cholesky, matMul, matTVec, matVec, transpose } from '../core/linalg.js';
import { usage } from '../core/errors.js';

/** Options of {@link redDiff}. */
export interface RedDiffOptions {
  /** The diffusion prior, in any prediction type (converted to ε̂ through `process`). */
  model: Model;
  /** The forward process the model was trained under. */
  process: Process;
  /** The operator A (m×d) and the noise std s, which must be in (0, ∞). */
  measurement: LinearMeasurement;
  /** The observation y, m values. */
  y: ArrayLike<number>;
  /** Noise times visited, in this order (the paper: descending); each costs one NFE. σ > 0 at each. */
  times: Float64Array;
  /** Number of independent runs (each with its own noise draws). */
  n: number;
  /** Draws the noise ε of each iteration. */
  rng: Rng;
  /** λ, the regulariser weight (paper: 0.25). */
  lambda?: number;
  /** Adam step size (paper: 0.1 on images in [−1, 1]). */
  lr?: number;
  /** Start μ (n×d); default the least-norm solution Aᵀ(AAᵀ)⁻¹y of A μ = y. */
  init?: Float64Array;
}

/**
 * RED-Diff (Mardani et al. 2023, "A Variational Perspective on Solving Inverse Problems with
 * Diffusion Models", Alg. 1) for y = A x0 + n: a point-mass variational posterior q = δ_μ (the
 * paper's small-σ Gaussian) fitted by Adam on
 *   ‖y − Aμ‖²/(2s²) + λ·w(t)·sg[ε̂(x_t, t) − ε]ᵀ μ,   x_t = α_t μ + σ_t ε,  w(t) = σ_t/α_t,
 * one t per iteration (Eq. 9–10; w is the paper's inverse square-root SNR weighting). The
 * regulariser's gradient λw(t)(ε̂ − ε) is the score-matching gradient with the noise subtracted
 * as a control variate. Returns μ (n×d) and the NFE.
 */
export async function redDiff(o: RedDiffOptions): Promise<{ x: Float64Array; nfe: number }> {
  const { process: p, measurement: meas, y, times, n, rng } = o;
  const { m, d, A, noiseStd } = meas;
  const lambda = o.lambda ?? 0.25;
  const lr = o.lr ?? 0.1;
  usage(o.model.sampleShape.reduce((a, b) => a * b, 1) === d, `the measurement acts on d=${d} values but the model's samples differ`);
  usage(y.length === m, `y must have m=${m} values, got ${y.length}`);
  usage(noiseStd > 0 && noiseStd < Infinity, `RED-Diff needs a measurement noise std in (0, ∞), got ${noiseStd}`);
  usage(lambda >= 0 && lr > 0, `RED-Diff needs λ ≥ 0 and a step size > 0, got λ=${lambda}, lr=${lr}`);
  usage(times.every((t) => p.sigma(t) > 0), 'RED-Diff times must all have σ > 0');
  const mu = o.init ? Float64Array.from(o.init) : leastNorm(meas, y, n);
  usage(mu.length === n * d, `init must hold n×d = ${n}×${d} values, got ${mu.length}`);
  const denoiser = new Denoiser(o.model, p);
  const adam = new Adam(mu.length, lr);
  const grad = new Float64Array(n * d);
  const res = new Float64Array(m);
  const atr = new Float64Array(d);
  const inv = 1 / (noiseStd * noiseStd);
  for (const t of times) {
    const a = p.alpha(t);
    const s = p.sigma(t);
    const eps = rng.fillNormal(new Float64Array(n * d));
    const xt = new Float64Array(n * d);
    for (let i = 0; i < xt.length; i++) xt[i] = a * mu[i] + s * eps[i];
    const x0 = await denoiser.denoise(xt, n, t);
    const w = lambda * (s / a);
    for (let i = 0; i < n; i++) {
      matVec(A, m, d, mu, i * d, res);
      for (let r = 0; r < m; r++) res[r] = (res[r] - y[r]) * inv;
      matTVec(A, m, d, res, atr);
      for (let j = 0; j < d; j++) {
        const k = i * d + j;
        const epsHat = (xt[k] - a * x0[k]) / s;
        grad[k] = atr[j] + w * (epsHat - eps[k]);
      }
    }
    adam.step(mu, grad);
  }
  return { x: mu, nfe: denoiser.nfe };
}

/** Aᵀ(AAᵀ)⁻¹y repeated n times (A of full row rank). */
function leastNorm(meas: LinearMeasurement, y: ArrayLike<number>, n: number): Float64Array {
  const { m, d, A } = meas;
  const L = cholesky(matMul(A, transpose(A, m, d), m, d, m), m);
  usage(L !== undefined, 'RED-Diff: AAᵀ is singular; pass init');
  const z = Float64Array.from(y);
  cholSolve(L as Float64Array, m, z);
  const x = matTVec(A, m, d, z);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) out.set(x, i * d);
  return out;
}

/** Adam (Kingma & Ba 2015, Alg. 1) with β = (0.9, 0.999), ε = 1e-8, bias-corrected, in place. */
class Adam {
  private readonly m1: Float64Array;
  private readonly m2: Float64Array;
  private b1t = 1;
  private b2t = 1;
  constructor(size: number, private readonly lr: number) {
    this.m1 = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }

  step(theta: Float64Array, g: Float64Array): void {
    this.b1t *= 0.9;
    this.b2t *= 0.999;
    for (let i = 0; i < theta.length; i++) {
      this.m1[i] = 0.9 * this.m1[i] + 0.1 * g[i];
      this.m2[i] = 0.999 * this.m2[i] + 0.001 * g[i] * g[i];
      const mh = this.m1[i] / (1 - this.b1t);
      const vh = this.m2[i] / (1 - this.b2t);
      theta[i] -= (this.lr * mh) / (Math.sqrt(vh) + 1e-8);
    }
  }
}
