import { MixtureInterpolantOracle } from './oracle.js';
import { makeInterpolant, type InterpolantConfig } from './schedule.js';
import type { GmmSpec } from '../models/oracle/gmm.js';
import { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { axpy, lin2, lin3 } from '../core/vec.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * Samplers that carry x0 ~ ρ0 at t = 0 to ρ1 at t = 1 along a stochastic interpolant (Albergo,
 * Boffi & Vanden-Eijnden 2023, §2): the probability-flow ODE dX = b(t, X) dt and the forward SDE
 *   dX = (b + ε(t)s)(t, X) dt + √(2ε(t)) dW
 * whose marginals are ρ_t for every ε ≥ 0 (ε = 0 is the ODE).
 */

/** How `sampleInterpolant` integrates: the ODE by Euler or Heun, or the SDE by Euler–Maruyama. */
export type InterpolantMethod = 'ode-euler' | 'ode-heun' | 'sde-euler-maruyama';
/** Every InterpolantMethod, as accepted by `sampleInterpolant`. */
export const interpolantMethods: readonly InterpolantMethod[] = ['ode-euler', 'ode-heun', 'sde-euler-maruyama'];

function velocity(oracle: MixtureInterpolantOracle, x: Float64Array, n: number, t: number): Float64Array {
  return oracle.fields(x, n, t).velocity;
}

/** Euler (1 call/step) or Heun (2 calls/step) on dX = b dt over increasing times. */
export function interpolantOde(
  oracle: MixtureInterpolantOracle, xStart: Float64Array, n: number, times: Float64Array, method: 'euler' | 'heun',
): { x: Float64Array; nfe: number } {
  const x = Float64Array.from(xStart);
  let nfe = 0;
  for (let i = 0; i + 1 < times.length; i++) {
    const [t, dt] = [times[i], times[i + 1] - times[i]];
    const b = velocity(oracle, x, n, t);
    nfe++;
    if (method === 'euler') {
      axpy(x, dt, b);
      continue;
    }
    const b2 = velocity(oracle, lin2(new Float64Array(x.length), 1, x, dt, b), n, times[i + 1]);
    nfe++;
    lin3(x, 1, x, dt / 2, b, dt / 2, b2);
  }
  return { x, nfe };
}

/** Euler–Maruyama on dX = (b + εs) dt + √(2ε) dW (Kloeden & Platen 1992, §9.1), ε(t) ≥ 0. */
export function interpolantSde(
  oracle: MixtureInterpolantOracle, xStart: Float64Array, n: number, times: Float64Array,
  epsilon: (t: number) => number, rng: Rng,
): { x: Float64Array; nfe: number } {
  const x = Float64Array.from(xStart);
  const noise = new Float64Array(x.length);
  for (let i = 0; i + 1 < times.length; i++) {
    const [t, dt] = [times[i], times[i + 1] - times[i]];
    const eps = epsilon(t);
    if (!(eps >= 0)) throw new UsageError(`the diffusion ε(t) must be ≥ 0, got ε(${t}) = ${eps}`);
    const { velocity: b, score } = oracle.fields(x, n, t);
    lin3(x, 1, x, dt, b, dt * eps, score);
    if (eps > 0) axpy(x, Math.sqrt(2 * eps * dt), rng.fillNormal(noise));
  }
  return { x, nfe: times.length - 1 };
}

/** A `sampleInterpolant` run: the interpolant's config, its two end laws, the integrator and the batch. */
export interface InterpolantRequest extends InterpolantConfig {
  /** The two end points, diagonal Gaussian mixtures with positive variances. */
  rho0: GmmSpec;
  /** The target law ρ1 at t = 1 (see `rho0`). */
  rho1: GmmSpec;
  /** Integrator (default "ode-heun"). */
  method?: InterpolantMethod;
  /** Diffusion of the SDE: a constant or a function of t (default 1; ignored by the ODE). */
  epsilon?: number | ((t: number) => number);
  /** Uniform steps from t = 0 to 1 (default 50). */
  steps?: number;
  /** Number of samples (default x0's count when given, else 64). */
  n?: number;
  /** Seed of the ρ0 draws and of the SDE noise (default 0). */
  seed?: number;
  /** Start samples (n × d); default n exact draws from ρ0. */
  x0?: Float64Array;
}

/** Transport samples of ρ0 to ρ1 with the exact velocity/score of the mixture interpolant. */
export function sampleInterpolant(req: InterpolantRequest): { x: Float64Array; x0: Float64Array; nfe: number } {
  const oracle = new MixtureInterpolantOracle(makeInterpolant(req), req.rho0, req.rho1);
  const method = req.method ?? 'ode-heun';
  if (!interpolantMethods.includes(method)) throw new UsageError(`unknown interpolant method "${String(method)}"; accepted: ${interpolantMethods.join(', ')}`);
  const steps = req.steps ?? 50;
  checkCount(steps, 'steps', 1, LIMITS.steps);
  const d = oracle.d;
  const n = req.n ?? (req.x0 ? req.x0.length / d : 64);
  checkCount(n, 'n', 1, LIMITS.samples);
  const rng = new Rng(req.seed ?? 0);
  const x0 = req.x0 ? Float64Array.from(req.x0) : oracle.rho0.sample(n, rng.fork(0));
  if (x0.length !== n * d) throw new UsageError(`x0 has ${x0.length} values; expected n×d = ${n}×${d}`);
  const times = Float64Array.from({ length: steps + 1 }, (_, i) => i / steps);
  if (method === 'sde-euler-maruyama') {
    const e = req.epsilon ?? 1;
    const epsilon = typeof e === 'number' ? () => e : e;
    return { ...interpolantSde(oracle, x0, n, times, epsilon, rng.fork(1)), x0 };
  }
  return { ...interpolantOde(oracle, x0, n, times, method === 'ode-euler' ? 'euler' : 'heun'), x0 };
}
