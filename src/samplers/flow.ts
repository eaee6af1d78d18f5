import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { rejectFlags } from './diffusers.js';
import { UsageError } from '../core/errors.js';
import type { GridSpec } from '../grid/index.js';
import { axpy, lin2, lin3 } from '../core/vec.js';

/**
 * Rectified-flow samplers (Liu et al. 2022, "Flow Straight and Fast"; Lipman et al. 2022; SD3,
 * Esser et al. 2024): explicit Runge–Kutta steps in the process time t on the velocity
 *   dx/dt = u(x, t) = α'(t)·x̂0 + σ'(t)·ε̂,   ε̂ = (x − α·x̂0)/σ,
 * which for any x = αx0 + σε is the probability-flow ODE (Song et al. 2021, Eq. 13) written with
 * the flow-matching target u = α'x0 + σ'ε (Lipman et al. 2022, Eq. 21). On the `flow` process
 * (α = 1 − t, σ = t) this is diffusers' FlowMatchEulerDiscreteScheduler / SD3's sampler; on other
 * processes it steps uniformly in their own t, which is what makes these samplers differ from the
 * Karras family (steps in σ/α) and from the exponential integrators (steps in λ).
 */

/** u(x, t) from D = x̂0, in place in D: u = (σ'/σ)·x + (α' − σ'α/σ)·D (needs σ(t) > 0). */
async function velocity(ctx: SampleContext, x: Float64Array, t: number): Promise<Float64Array> {
  const p = ctx.process;
  const d = await ctx.denoise(x, t);
  const r = p.dSigma(t) / p.sigma(t);
  return lin2(d, r, x, p.dAlpha(t) - r * p.alpha(t), d);
}

/** One step t → tNext of an explicit method, updating x in place. */
type FlowStep = (ctx: SampleContext, x: Float64Array, t: number, tNext: number) => Promise<void>;

/** Forward Euler in t: x ← x + (t_next − t)·u(x, t) (diffusers' FlowMatchEulerDiscreteScheduler.step). */
const eulerStep: FlowStep = async (ctx, x, t, tNext) => {
  axpy(x, tNext - t, await velocity(ctx, x, t));
};

/**
 * Heun's method (explicit trapezoidal rule): Euler predictor, then the mean of the slopes at both
 * ends. A step ending where σ = 0 stays Euler, as in Karras et al. 2022, Alg. 1 line 8, since the
 * model is never called at σ = 0.
 */
const heunStep: FlowStep = async (ctx, x, t, tNext) => {
  const dt = tNext - t;
  const u = await velocity(ctx, x, t);
  if (!(ctx.process.sigma(tNext) > 0)) {
    axpy(x, dt, u);
    return;
  }
  const pred = lin2(new Float64Array(x.length), 1, x, dt, u);
  lin3(x, 1, x, dt / 2, u, dt / 2, await velocity(ctx, pred, tNext));
};

/** Explicit midpoint: Euler to t + dt/2, then the full step with the slope there (2nd order on every step). */
const midpointStep: FlowStep = async (ctx, x, t, tNext) => {
  const dt = tNext - t;
  const half = lin2(new Float64Array(x.length), 1, x, dt / 2, await velocity(ctx, x, t));
  axpy(x, dt, await velocity(ctx, half, t + dt / 2));
};

function flowSampler(step: FlowStep) {
  return async (x: Float64Array, grid: Float64Array, ctx: SampleContext): Promise<Float64Array> => {
    const steps = grid.length - 1;
    const out = Float64Array.from(x);
    for (let i = 0; i < steps; i++) {
      ctx.step(i, steps);
      if (grid[i + 1] !== grid[i]) await step(ctx, out, grid[i], grid[i + 1]);
    }
    return out;
  };
}

/**
 * SD3's schedule: uniform in t from t_max down to t_min, shifted by t → s·t/(1 + (s − 1)t), then
 * t = 0 (diffusers' FlowMatchEulerDiscreteScheduler; shift 1 is its default, SD3 uses 3).
 */
const flowGrid: GridSpec = { type: 'flow-shift', steps: 10, shift: 1, end: 'zero' };

/** SD3's shift of a flow time: s·σ / (1 + (s − 1)·σ). */
const shifted = (s: number, sigma: number) => (s * sigma) / (1 + (s - 1) * sigma);

/**
 * diffusers' FlowMatchEulerDiscreteScheduler / FlowMatchHeunDiscreteScheduler: σ's uniform from
 * σ_max·N to σ_min·N in timesteps, then shifted, then 0. σ_min is the shift of 1/N, so the last σ is
 * shifted twice (upstream: shift 3 ends at 0.00893, not 0.00300). The model predicts the flow
 * velocity ε − x0 at σ = t. Dynamic shifting needs the μ the pipeline computes from the image size,
 * which a scheduler config does not hold: not translated.
 */
function fromDiffusersFlow(name: string, sampler: string): ReferenceMapping {
  return {
    library: 'diffusers',
    name,
    translate(c, steps) {
      rejectFlags(c, name);
      for (const [key, ok] of [['invert_sigmas', false], ['stochastic_sampling', false]] as const) {
        if (c[key] !== undefined && c[key] !== ok) throw new UsageError(`${name} with ${key}=${String(c[key])} is not translated`);
      }
      if (c.shift_terminal != null) throw new UsageError(`${name} with shift_terminal is not translated`);
      const n = Number(c.num_train_timesteps ?? 1000);
      const s = Number(c.shift ?? 1);
      if (!(Number.isInteger(n) && n >= 2) || !(s > 0)) throw new UsageError(`${name} needs num_train_timesteps ≥ 2 and shift > 0, got ${n} and ${s}`);
      const sigmaMax = shifted(s, 1);
      const sigmaMin = shifted(s, 1 / n);
      const times = Array.from({ length: steps }, (_, i) => shifted(s, (sigmaMax * n + (steps === 1 ? 0 : (i * (sigmaMin * n - sigmaMax * n)) / (steps - 1))) / n));
      return {
        sampler,
        options: {},
        process: { name: 'flow', tMin: Math.min(1e-3, times[times.length - 1]) },
        grid: { type: 'explicit', times: [...times, 0] },
        prediction: 'velocity',
      };
    },
  };
}

export const flowSamplers = [
  entry({
    name: 'flow-euler',
    aliases: ['FlowMatchEulerDiscreteScheduler', 'Euler (flow)', 'rectified-flow-euler'],
    family: 'flow',
    description: 'Euler in t on the flow velocity u = α\'x̂0 + σ\'ε̂ (1 NFE/step; SD3 / rectified flow)',
    cite: 'Liu et al. 2022, Flow Straight and Fast, Eq. 1 solved by Euler; Esser et al. 2024 (SD3) §2 and §5.3.2 (shifted grid)',
    order: 1,
    stochastic: false,
    defaults: {},
    defaultGrid: flowGrid,
    run: flowSampler(eulerStep),
    references: [fromDiffusersFlow('FlowMatchEulerDiscreteScheduler', 'flow-euler')],
  }),
  entry({
    name: 'flow-heun',
    aliases: ['FlowMatchHeunDiscreteScheduler', 'Heun (flow)', 'rectified-flow-heun'],
    family: 'flow',
    description: "Heun's 2nd-order method in t on the flow velocity (2 NFE/step; Euler on the last step to σ = 0)",
    cite: 'Karras et al. 2022, Alg. 1 applied to the flow ODE dx/dt = u (Lipman et al. 2022, Eq. 21)',
    order: 2,
    stochastic: false,
    defaults: {},
    defaultGrid: flowGrid,
    run: flowSampler(heunStep),
    references: [fromDiffusersFlow('FlowMatchHeunDiscreteScheduler', 'flow-heun')],
  }),
  entry({
    name: 'flow-midpoint',
    aliases: ['Midpoint (flow)', 'rectified-flow-midpoint'],
    family: 'flow',
    description: 'explicit midpoint in t on the flow velocity (2nd order on every step, 2 NFE/step)',
    cite: 'explicit midpoint rule (Runge 1895) on the flow ODE dx/dt = u (Lipman et al. 2022, Eq. 21)',
    order: 2,
    stochastic: false,
    defaults: {},
    defaultGrid: flowGrid,
    run: flowSampler(midpointStep),
  }),
];
