import type { Interpolant } from './schedule.js';
import { GaussianMixture, type GmmSpec } from '../models/oracle/gmm.js';
import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';

/** What the exact oracle returns at (t, x): the drift b, the score s, and E[x0 | x_t], E[x1 | x_t]. */
export interface InterpolantFields {
  velocity: Float64Array;
  score: Float64Array;
  x0: Float64Array;
  x1: Float64Array;
}

/**
 * Exact velocity and score of a stochastic interpolant between two diagonal Gaussian mixtures
 * ρ0 = Σ_i a_i N(m_i, S_i) and ρ1 = Σ_j b_j N(n_j, T_j), x0, x1, z independent. Given the pair
 * (i, j), x_t ~ N(μ_ij, C_ij) with μ_ij = αm_i + βn_j, C_ij = α²S_i + β²T_j + γ²I, and x0, x1, z
 * are jointly Gaussian with x_t, so with π_ij ∝ a_i b_j N(x; μ_ij, C_ij) and e = C_ij⁻¹(x − μ_ij):
 *   E[x0 | x] = Σ π_ij (m_i + αS_i e),  E[x1 | x] = Σ π_ij (n_j + βT_j e),  E[z | x] = Σ π_ij γ e,
 *   b = E[α̇x0 + β̇x1 + γ̇z | x_t = x] (Albergo et al. 2023, §2: the velocity of the interpolant)
 *     = Σ π_ij (α̇m_i + β̇n_j + (α̇αS_i + β̇βT_j + γ̇γ) e),
 *   s = ∇log ρ_t(x) = −Σ π_ij e (§2: s = −γ⁻¹E[z | x_t] where γ > 0).
 * Every term stays finite at t = 0 and 1 when the variances are positive.
 */
export class MixtureInterpolantOracle {
  readonly d: number;
  readonly rho0: GaussianMixture;
  readonly rho1: GaussianMixture;

  constructor(
    readonly interpolant: Interpolant,
    rho0: GmmSpec,
    rho1: GmmSpec,
  ) {
    this.rho0 = new GaussianMixture(rho0);
    this.rho1 = new GaussianMixture(rho1);
    if (this.rho0.d !== this.rho1.d) throw new UsageError(`the end points must have the same dimension; ρ0 has d=${this.rho0.d}, ρ1 has d=${this.rho1.d}`);
    if (!this.rho0.variances.every((v) => v > 0) || !this.rho1.variances.every((v) => v > 0)) {
      throw new UsageError('interpolant end points need variances > 0 (the velocity at t = 0 and 1 divides by them)');
    }
    this.d = this.rho0.d;
  }

  /** b, s, E[x0 | x_t], E[x1 | x_t] at time t for n samples x (n × d). */
  fields(x: Float64Array, n: number, t: number): InterpolantFields {
    const { d, rho0, rho1, interpolant: I } = this;
    if (x.length !== n * d) throw new UsageError(`interpolant oracle expects ${n}×${d} values, got ${x.length}`);
    if (!(t >= 0 && t <= 1)) throw new UsageError(`interpolant time must be in [0, 1], got ${t}`);
    const [al, be, g2] = [I.alpha(t), I.beta(t), I.gamma(t) * I.gamma(t)];
    const [da, db, gg] = [I.dAlpha(t), I.dBeta(t), I.gammaDotGamma(t)];
    const pairs = rho0.K * rho1.K;
    const mu = new Float64Array(pairs * d);
    const c = new Float64Array(pairs * d);
    const logNorm = new Float64Array(pairs);
    for (let i = 0; i < rho0.K; i++) {
      for (let j = 0; j < rho1.K; j++) {
        const p = i * rho1.K + j;
        logNorm[p] = rho0.logWeights[i] + rho1.logWeights[j];
        for (let k = 0; k < d; k++) {
          mu[p * d + k] = al * rho0.means[i * d + k] + be * rho1.means[j * d + k];
          c[p * d + k] = al * al * rho0.variances[i * d + k] + be * be * rho1.variances[j * d + k] + g2;
          logNorm[p] -= 0.5 * log(c[p * d + k]);
        }
      }
    }
    const out: InterpolantFields = {
      velocity: new Float64Array(x.length),
      score: new Float64Array(x.length),
      x0: new Float64Array(x.length),
      x1: new Float64Array(x.length),
    };
    const w = new Float64Array(pairs);
    for (let s = 0; s < n; s++) {
      const off = s * d;
      let max = -Infinity;
      for (let p = 0; p < pairs; p++) {
        let q = 0;
        for (let k = 0; k < d; k++) {
          const e = x[off + k] - mu[p * d + k];
          q += (e * e) / c[p * d + k];
        }
        w[p] = logNorm[p] - 0.5 * q;
        if (w[p] > max) max = w[p];
      }
      let sum = 0;
      for (let p = 0; p < pairs; p++) sum += w[p] = exp(w[p] - max);
      for (let p = 0; p < pairs; p++) {
        const pi = w[p] / sum;
        if (pi === 0) continue;
        const [i, j] = [Math.floor(p / rho1.K), p % rho1.K];
        for (let k = 0; k < d; k++) {
          const e = (x[off + k] - mu[p * d + k]) / c[p * d + k];
          const [m0, v0] = [rho0.means[i * d + k], rho0.variances[i * d + k]];
          const [m1, v1] = [rho1.means[j * d + k], rho1.variances[j * d + k]];
          out.x0[off + k] += pi * (m0 + al * v0 * e);
          out.x1[off + k] += pi * (m1 + be * v1 * e);
          out.velocity[off + k] += pi * (da * m0 + db * m1 + (da * al * v0 + db * be * v1 + gg) * e);
          out.score[off + k] -= pi * e;
        }
      }
    }
    return out;
  }

  /** Log-density of ρ_t at one sample (the mixture over pairs), for tests and metrics. */
  logDensity(x: Float64Array, t: number, off = 0): number {
    const { d, rho0, rho1, interpolant: I } = this;
    const [al, be, g2] = [I.alpha(t), I.beta(t), I.gamma(t) * I.gamma(t)];
    let max = -Infinity;
    const terms: number[] = [];
    for (let i = 0; i < rho0.K; i++) {
      for (let j = 0; j < rho1.K; j++) {
        let q = rho0.logWeights[i] + rho1.logWeights[j];
        for (let k = 0; k < d; k++) {
          const c = al * al * rho0.variances[i * d + k] + be * be * rho1.variances[j * d + k] + g2;
          const e = x[off + k] - al * rho0.means[i * d + k] - be * rho1.means[j * d + k];
          q -= 0.5 * ((e * e) / c + log(2 * Math.PI * c));
        }
        terms.push(q);
        if (q > max) max = q;
      }
    }
    return max + log(terms.reduce((s, q) => s + exp(q - max), 0));
  }
}
