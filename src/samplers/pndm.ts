import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { diffusersPrediction, diffusersProcess } from './diffusers.js';
import { diffusersTimesteps } from '../grid/diffusers.js';
import { UsageError } from '../core/errors.js';
import { lin2, linN } from '../core/vec.js';
import type { Process } from '../process/types.js';

/**
 * Pseudo numerical methods (Liu et al. 2022, PNDM): a classical multistep or Runge–Kutta
 * combination of noise predictions ε, carried from t to s by the DDIM step (the "transfer part").
 * PNDM/PLMS and iPNDM (Zhang & Chen 2023, DEIS's "improved PNDM") differ only in how the first
 * steps are taken, before four ε values are known. The fixed Adams–Bashforth weights assume steps
 * uniform in ρ = σ/α (σ-uniform on EDM): there these methods are fourth order, on other grids second.
 */
export interface PndmOptions {
  [k: string]: number | string | boolean;
  /** diffusers' skip_prk_steps: warm up with the pseudo improved Euler step instead of pseudo Runge–Kutta. */
  skipPrk: boolean;
}

export interface IpndmOptions {
  [k: string]: number | string | boolean;
  /** Highest Adams–Bashforth order (1–4). */
  order: number;
  /** The step to σ = 0 returns the model's x̂0 instead of the Adams–Bashforth step (ComfyUI's sample_ipndm). */
  denoiseLast: boolean;
}

/** How the steps are taken before `order` ε values are known. */
type WarmUp = 'runge-kutta' | 'improved-euler' | 'adams-bashforth';

/** Adams–Bashforth weights for uniform steps, newest ε first; order 4 is PNDM's pseudo linear multistep. */
const ADAMS_BASHFORTH: readonly (readonly number[])[] = [
  [1],
  [3 / 2, -1 / 2],
  [23 / 12, -16 / 12, 5 / 12],
  [55 / 24, -59 / 24, 37 / 24, -9 / 24],
];

/**
 * The transfer φ(x, ε, t → s) of PNDM Eq. 9, which is the deterministic DDIM step:
 *   x_s = (α_s/α_t) x + (σ_s − α_s σ_t/α_t) ε.
 */
export function transfer(p: Process, x: Float64Array, eps: Float64Array, t: number, s: number): Float64Array {
  const ratio = p.alpha(s) / p.alpha(t);
  return lin2(new Float64Array(x.length), ratio, x, p.sigma(s) - ratio * p.sigma(t), eps);
}

/** ε̂ = (x − α x̂0)/σ from the data prediction. */
function noiseOf(p: Process, x: Float64Array, x0: Float64Array, t: number): Float64Array {
  return lin2(new Float64Array(x.length), 1 / p.sigma(t), x, -p.alpha(t) / p.sigma(t), x0);
}

export async function epsAt(ctx: SampleContext, x: Float64Array, t: number): Promise<Float64Array> {
  return noiseOf(ctx.process, x, await ctx.denoise(x, t), t);
}

/** Adams–Bashforth combination of the last ε values (newest last in `history`). */
export function adamsBashforth(history: readonly Float64Array[]): Float64Array {
  const weights = ADAMS_BASHFORTH[history.length - 1];
  const newestFirst = [...history].reverse();
  return linN(new Float64Array(history[0].length), weights, newestFirst);
}

/** PNDM's pseudo Runge–Kutta step: classical RK4 weights on ε, half steps at the time midpoint. */
export async function pseudoRungeKutta(ctx: SampleContext, x: Float64Array, e1: Float64Array, t: number, s: number) {
  const p = ctx.process;
  const mid = (t + s) / 2;
  const e2 = await epsAt(ctx, transfer(p, x, e1, t, mid), mid);
  const e3 = await epsAt(ctx, transfer(p, x, e2, t, mid), mid);
  const e4 = await epsAt(ctx, transfer(p, x, e3, t, s), s);
  const e = linN(new Float64Array(x.length), [1 / 6, 1 / 3, 1 / 3, 1 / 6], [e1, e2, e3, e4]);
  return transfer(p, x, e, t, s);
}

/** PNDM's pseudo improved Euler step (CompVis' PLMS warm-up): ε averaged over both ends. */
export async function pseudoImprovedEuler(ctx: SampleContext, x: Float64Array, e1: Float64Array, t: number, s: number) {
  const p = ctx.process;
  const e2 = await epsAt(ctx, transfer(p, x, e1, t, s), s);
  return transfer(p, x, lin2(new Float64Array(x.length), 0.5, e1, 0.5, e2), t, s);
}

/**
 * The pseudo linear multistep loop (PNDM Alg. 2): one ε per grid time, the
 * Adams–Bashforth combination of the last `order` of them transferred by φ. While fewer are
 * known, `warmUp` decides the step; a warm-up stage that would evaluate the model at σ = 0 is
 * replaced by the lower-order Adams–Bashforth step. A zero-length step only refreshes ε.
 */
async function pseudoLinearMultistep(
  x: Float64Array, grid: Float64Array, ctx: SampleContext, order: number, warmUp: WarmUp, denoiseLast = false,
): Promise<Float64Array> {
  const p = ctx.process;
  const steps = grid.length - 1;
  const history: Float64Array[] = [];
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps, x);
    const t = grid[i];
    const s = grid[i + 1];
    const eps = await epsAt(ctx, x, t);
    if (i > 0 && grid[i - 1] === t) history[history.length - 1] = eps;
    else if (history.push(eps) > order) history.shift();
    if (s === t) continue;
    const warming = history.length < order && p.sigma(s) > 0;
    if (warming && warmUp === 'runge-kutta') x = await pseudoRungeKutta(ctx, x, eps, t, s);
    else if (warming && warmUp === 'improved-euler' && history.length === 1) x = await pseudoImprovedEuler(ctx, x, eps, t, s);
    else x = transfer(p, x, denoiseLast && p.sigma(s) === 0 ? eps : adamsBashforth(history), t, s);
  }
  return x;
}

const pndm = (x: Float64Array, grid: Float64Array, ctx: SampleContext, o: PndmOptions) =>
  pseudoLinearMultistep(x, grid, ctx, 4, o.skipPrk ? 'improved-euler' : 'runge-kutta');

const ipndm = (x: Float64Array, grid: Float64Array, ctx: SampleContext, o: IpndmOptions) =>
  pseudoLinearMultistep(x, grid, ctx, o.order, 'adams-bashforth', o.denoiseLast);

function validateIpndm(o: IpndmOptions): void {
  if (!(Number.isInteger(o.order) && o.order >= 1 && o.order <= 4)) {
    throw new UsageError(`ipndm order must be an integer from 1 to 4, got ${o.order}`);
  }
}

/**
 * diffusers' PNDMScheduler steps from each timestep to t − ⌊N/steps⌋ and takes its Runge–Kutta
 * half steps at t − ⌊N/steps⌋/2: it is this sampler on its own grid only when those land on the
 * next timestep and the midpoint, which holds for its default "leading" spacing.
 */
const fromDiffusersPndm: ReferenceMapping = {
  library: 'diffusers',
  name: 'PNDMScheduler',
  translate(c, steps) {
    if (diffusersPrediction(c) !== 'epsilon') {
      throw new UsageError(`diffusers PNDMScheduler with prediction_type=${String(c.prediction_type)} is not translated: it combines the model's raw outputs in its linear multistep and converts the sum at the current time, which no Diffuse sampler does; use another class or prediction_type=epsilon`);
    }
    const numTrain = Number(c.num_train_timesteps ?? 1000);
    const spacing = (c.timestep_spacing ?? 'leading') as 'leading';
    const stepsOffset = Number(c.steps_offset ?? 0);
    const skipPrk = c.skip_prk_steps === true;
    const ratio = Math.floor(numTrain / steps);
    const ts = diffusersTimesteps(numTrain, steps, spacing, stepsOffset);
    const uneven = ts.some((t, i) => i > 0 && ts[i - 1] - t !== ratio);
    if (uneven || (!skipPrk && ratio % 2 !== 0)) {
      throw new UsageError(
        `diffusers PNDMScheduler with timestep_spacing=${spacing} and ${steps} steps steps by ${ratio} between timesteps ` +
          `${ts.join(', ')}${skipPrk ? '' : ` with half steps of ${ratio >> 1}`}, off its own grid; not translated`,
      );
    }
    if (steps < (skipPrk ? 2 : 4)) {
      throw new UsageError(`diffusers PNDMScheduler needs at least ${skipPrk ? 2 : 4} steps with skip_prk_steps=${skipPrk}`);
    }
    const last = ts[ts.length - 1] - ratio;
    const end = last >= 0 ? last : c.set_alpha_to_one === true ? 'zero' : 'min';
    return {
      sampler: 'pndm',
      options: { skipPrk },
      process: diffusersProcess(c, 'PNDMScheduler'),
      grid: { type: 'diffusers', steps, spacing, stepsOffset, end },
    };
  },
  timesteps(grid, steps, config?: Readonly<Record<string, unknown>>) {
    return evaluationTimes(grid, steps, config?.skip_prk_steps === true);
  },
};

/**
 * The times at which the model is called, in diffusers' PNDMScheduler.timesteps form: the
 * Runge–Kutta warm-up lists t, the midpoint twice and s for each of its three steps; the pseudo
 * improved Euler warm-up lists its first step's end twice.
 */
export function evaluationTimes(grid: Float64Array, steps: number, skipPrk: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = grid[i];
    const s = grid[i + 1];
    if (!skipPrk && i < 3) {
      out.push(t, (t + s) / 2, (t + s) / 2, s);
    } else {
      out.push(t);
      if (skipPrk && i === 0) out.push(s);
    }
  }
  return out;
}

const cite = 'Liu et al. 2022, Pseudo Numerical Methods for Diffusion Models on Manifolds, Eq. 9 (transfer), 12–13, Alg. 2';

export const pndmSamplers = [
  entry({
    name: 'pndm',
    aliases: ['PNDMScheduler', 'PNDM', 'F-PNDM'],
    family: 'pndm',
    description: 'PNDM: 4th-order pseudo linear multistep with a pseudo Runge–Kutta warm-up (3 steps × 4 model calls)',
    cite,
    order: 4,
    stochastic: false,
    defaults: { skipPrk: false },
    run: pndm,
    references: [fromDiffusersPndm],
  }),
  entry({
    name: 'plms',
    aliases: ['PLMSSampler'],
    family: 'pndm',
    description: 'PLMS: PNDM with the pseudo improved Euler warm-up (diffusers skip_prk_steps, CompVis PLMSSampler)',
    cite,
    order: 4,
    stochastic: false,
    defaults: { skipPrk: true },
    run: pndm,
  }),
  entry({
    name: 'ipndm',
    aliases: ['IPNDMScheduler', 'iPNDM'],
    family: 'pndm',
    description: 'iPNDM: Adams–Bashforth on ε with the DDIM transfer, lower-order warm-up (no extra model calls)',
    cite: 'Zhang & Chen 2023, Fast Sampling of Diffusion Models with Exponential Integrator (iPNDM)',
    order: 4,
    stochastic: false,
    defaults: { order: 4, denoiseLast: false },
    validate: validateIpndm,
    run: ipndm,
  }),
];
