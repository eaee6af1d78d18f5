import type { GaussianMixture } from '../models/oracle/gmm.js';
import type { MeanReverting } from './process.js';
import { MrOracle, muAt } from './oracle.js';
import { dop853, type OdeOptions } from '../ode/dopri.js';
import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';

const LOG_S_ZERO = log(1e-40);

/**
 * Ground truth for MR Sampler: the mean-reverting PF-ODE (MRS Eq. 9)
 *   dx/dt = θ_t(μ − x) − ½σ_t² ∇log p_t(x),  ∇log p_t = −ε̂/σ_t(x),
 * rewritten in u = −λ_t = log(σ_t/α_t), where dθ̄/du = σ̃² = 1 − α² and it becomes smooth down to σ = 0:
 *   dx/du = −σ̃²(x − μ) + σ_t ε̂(x, t(u)),
 * integrated by DOP853 (σ = 0 is reached at σ/α = 1e-40, as in src/ode/pf-ode.ts).
 */
export function mrPfOdeEndpoint(
  gmm: GaussianMixture, process: MeanReverting, mu: Float64Array, xStart: Float64Array, tStart: number, tEnd: number, options: OdeOptions = {},
): Float64Array {
  if (!(process.sigma(tStart) > 0)) throw new UsageError(`the PF-ODE must start where σ > 0; σ(${tStart}) = 0`);
  const oracle = new MrOracle(gmm, process, 'noise');
  const n = xStart.length / gmm.d;
  const uStart = -process.logSnr(tStart);
  const uEnd = process.sigma(tEnd) > 0 ? -process.logSnr(tEnd) : LOG_S_ZERO;
  const field = (u: number, x: Float64Array, out: Float64Array) => {
    const t = process.tOfLogSnr(-u);
    const a = process.alpha(t);
    const s = a * exp(u);
    const eps = oracle.predictSync(x, n, t, mu);
    const drift = 1 - a * a;
    for (let i = 0; i < x.length; i++) out[i] = -drift * (x[i] - muAt(mu, gmm.d, i)) + s * eps[i];
  };
  return dop853(field, uStart, xStart, uEnd, options).y;
}
