import { entry, type SampleContext } from './types.js';
import { denoiseScaled, fromDiffusers, fromKDiffusion, fromScaled, karrasGrid, sigmasOf, slope, toScaled } from './euler.js';
import { axpy } from '../core/vec.js';
import { UsageError } from '../core/errors.js';

/**
 * Linear multistep (variable-step Adams–Bashforth) on the Karras ODE dx̃/dσ = (x̃ − D)/σ, as
 * k-diffusion's sample_lms: the last `order` slopes d_{i−j} at σ_{i−j} are interpolated by a
 * Lagrange polynomial in σ, which is integrated exactly over [σ_i, σ_{i+1}]. The first steps use
 * the history there is (orders 1, 2, …).
 */
export interface LmsOptions {
  [k: string]: number | boolean;
  order: number;
  /** A step to σ = 0 returns the model's x̂0 instead of the multistep combination (ComfyUI's sample_lms). */
  denoiseLast: boolean;
}

/**
 * Weights w_j = ∫_0^1 Π_{k≠j} (u − u_k)/(u_j − u_k) du of the Lagrange basis on nodes u_k
 * (Adams–Bashforth: u_0 = 0 and u_k < 0 for past nodes). Integrated exactly from the monomial
 * expansion; with every u_k ≤ 0 all its coefficients are ≥ 0, so nothing cancels.
 */
export function adamsWeights(u: readonly number[]): number[] {
  return u.map((uj, j) => {
    let poly = [1];
    let denom = 1;
    u.forEach((uk, k) => {
      if (k === j) return;
      const next = new Array<number>(poly.length + 1).fill(0);
      poly.forEach((a, m) => {
        next[m + 1] += a;
        next[m] -= uk * a;
      });
      poly = next;
      denom *= uj - uk;
    });
    return poly.reduce((s, a, m) => s + a / (m + 1), 0) / denom;
  });
}

async function lms(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: LmsOptions): Promise<Float64Array> {
  const p = ctx.process;
  const sig = sigmasOf(p, grid);
  const steps = grid.length - 1;
  const xs = toScaled(p, x, grid[0]);
  const history: { sigma: number; d: Float64Array }[] = [];
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps, x);
    if (grid[i + 1] === grid[i]) continue;
    const d0 = await denoiseScaled(ctx, xs, grid[i]);
    if (o.denoiseLast && sig[i + 1] === 0) {
      xs.set(d0);
      continue;
    }
    history.unshift({ sigma: sig[i], d: slope(xs, d0, sig[i]) });
    if (history.length > o.order) history.pop();
    const h = sig[i + 1] - sig[i];
    const w = adamsWeights(history.map((e) => (e.sigma - sig[i]) / h));
    history.forEach((e, j) => axpy(xs, h * w[j], e.d));
  }
  return fromScaled(p, xs, grid[steps]);
}

function validate(o: LmsOptions): void {
  if (!(Number.isInteger(o.order) && o.order >= 1)) {
    throw new UsageError(`order must be an integer ≥ 1 (number of past slopes, 4 by default), got ${o.order}`);
  }
}

export const lmsSamplers = [
  entry({
    name: 'lms',
    aliases: ['LMSDiscreteScheduler', 'sample_lms', 'k_lms'],
    family: 'karras',
    description: 'linear multistep in σ: Lagrange interpolation of past slopes, integrated exactly (1 NFE/step)',
    cite: 'k-diffusion sample_lms (Crowson 2022): variable-step Adams–Bashforth on the ODE of Karras et al. 2022, Eq. 1 and 3',
    order: 4,
    stochastic: false,
    defaults: { order: 4, denoiseLast: false },
    validate,
    defaultGrid: karrasGrid,
    run: lms,
    references: [fromKDiffusion('sample_lms', 'lms', () => ({ order: 4 })), fromDiffusers('LMSDiscreteScheduler', 'lms', false)],
  }),
];
