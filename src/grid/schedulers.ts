import { type GridSpec, type GridEntry } from './spec.js';
import { sigmaVe, tOfSigmaVe } from './basic.js';
import type { Process } from '../process/types.js';
import { VpDiscrete } from '../process/vp-discrete.js';
import { UsageError } from '../core/errors.js';
import { atan, exp, log, tan } from '../core/math.js';
import { betaPpf } from '../core/special.js';

/** The grids this file defines (listed in grid/index.ts's registry). */
export const schedulerGrids: GridEntry[] = [];

/**
 * The σ schedules of ComfyUI's KSampler (comfy/samplers.py: normal_scheduler, simple_scheduler,
 * sgm_uniform, ddim_scheduler, beta_scheduler, linear_quadratic_schedule, kl_optimal_scheduler)
 * and A1111's Schedule types of the same names. Most read a discrete model's table of N sigmas
 * σ_i = √((1 − ᾱ_i)/ᾱ_i), i = 0..N−1, and between integers interpolate log σ linearly in t (as
 * ComfyUI's ModelSamplingDiscrete.sigma and k-diffusion's DiscreteSchedule do). Each list of σ ends
 * in 0; it becomes Diffuse process times through t(σ), so a sampler sees exactly these σ.
 */

type Spec<T extends GridSpec['type']> = Extract<GridSpec, { type: T }>;

/** The discrete model's σ table, or a UsageError naming the schedule that needs it. */
function sigmaTable(p: Process, name: string): (i: number) => number {
  if (!(p instanceof VpDiscrete)) {
    throw new UsageError(`the ${name} schedule reads a discrete model's table of sigmas: it needs process vp-discrete, got ${p.name}`);
  }
  return (i) => p.sigmaVeAt(i);
}

/** σ(t) between integer timesteps: log σ interpolated linearly (ComfyUI ModelSamplingDiscrete.sigma). */
function logInterpolated(table: (i: number) => number, t: number): number {
  const lo = Math.floor(t);
  const w = t - lo;
  return w === 0 ? table(lo) : exp((1 - w) * log(table(lo)) + w * log(table(lo + 1)));
}

/** Process times of a list of σ (σ = 0 → the process's clean end). */
function timesOf(p: Process, sigmas: readonly number[]): Float64Array {
  return Float64Array.from(sigmas, (s) => tOfSigmaVe(p, s));
}

const lastIndex = (p: Process) => (p as VpDiscrete).tMax;

/** σ at `count` timesteps `top/intervals` apart from the top of a discrete model, by log interpolation. */
function uniformTimesteps(p: Process, name: string, count: number, intervals: number): number[] {
  const table = sigmaTable(p, name);
  const top = lastIndex(p);
  return Array.from({ length: count }, (_, i) => logInterpolated(table, intervals === 0 ? top : top - (top * i) / intervals));
}

// ComfyUI normal_scheduler: t uniform from timestep(σ_max) to timestep(σ_min), σ(t), then 0
// (= A1111 "Uniform", k-diffusion DiscreteSchedule.get_sigmas; diffusers "linspace" timesteps).
schedulerGrids.push({
  type: 'normal',
  description: 'ComfyUI/A1111 "normal" (A1111 "Uniform"): timesteps uniform from the last to the first of a discrete model, σ by log interpolation, then σ = 0',
  build: (p, spec) => {
    const n = (spec as Spec<'normal'>).steps;
    return timesOf(p, [...uniformTimesteps(p, 'normal', n, n - 1), 0]);
  },
});

// ComfyUI normal_scheduler(sgm=True): steps + 1 uniform timesteps, the last dropped, then 0.
schedulerGrids.push({
  type: 'sgm-uniform',
  description: 'ComfyUI/A1111 "sgm_uniform": steps+1 uniform timesteps of a discrete model without the last, σ by log interpolation, then σ = 0',
  build: (p, spec) => {
    const n = (spec as Spec<'sgm-uniform'>).steps;
    return timesOf(p, [...uniformTimesteps(p, 'sgm_uniform', n, n), 0]);
  },
});

// ComfyUI simple_scheduler: every N/steps-th entry of the table from the top, then 0.
schedulerGrids.push({
  type: 'simple',
  description: 'ComfyUI/A1111 "simple": every (N/steps)-th sigma of a discrete model\'s table from the top, then σ = 0',
  build: (p, spec) => {
    const table = sigmaTable(p, 'simple');
    const n = (spec as Spec<'simple'>).steps;
    const count = lastIndex(p) + 1;
    return timesOf(p, [...Array.from({ length: n }, (_, i) => table(count - 1 - Math.trunc((i * count) / n))), 0]);
  },
});

// ComfyUI ddim_scheduler (A1111 Schedule type "DDIM"): timesteps 1, 1 + k, 1 + 2k, … below N with
// k = ⌊N/steps⌋, reversed, then 0. It does not start at σ_max and can give more than `steps` steps.
schedulerGrids.push({
  type: 'ddim-uniform',
  description: 'ComfyUI "ddim_uniform" (A1111 "DDIM"): table sigmas at timesteps 1, 1+k, 1+2k, … (k = ⌊N/steps⌋) from the top, then σ = 0',
  build: (p, spec) => {
    const table = sigmaTable(p, 'ddim_uniform');
    const n = (spec as Spec<'ddim-uniform'>).steps;
    const count = lastIndex(p) + 1;
    const k = Math.max(Math.floor(count / n), 1);
    const sigmas: number[] = [];
    for (let t = 1; t < count; t += k) sigmas.push(table(t));
    return timesOf(p, [...sigmas.reverse(), 0]);
  },
});

// A1111's CompVisSampler (modules/sd_samplers_timesteps.py get_timesteps, used by its DDIM, DDIM
// CFG++ and PLMS): timesteps clip(range(0, N, ⌊N/steps⌋) + 1, 0, N − 1), run from the largest to
// the smallest with no step beyond it, so the run makes one update fewer than the list is long and
// returns the sample at t = 1 (ᾱ_1), not at σ = 0. Non-dividing step counts give a longer list.
schedulerGrids.push({
  type: 'compvis',
  description: 'A1111 CompVis timesteps (its DDIM and PLMS): 1, 1+k, 1+2k, … (k = ⌊N/steps⌋, capped at N−1) from the top down to t = 1, no step to σ = 0',
  build: (p, spec) => {
    sigmaTable(p, 'compvis');
    const n = (spec as Spec<'compvis'>).steps;
    const count = lastIndex(p) + 1;
    const k = Math.max(Math.floor(count / n), 1);
    const times: number[] = [];
    for (let t = 0; t < count; t += k) {
      const tc = Math.min(t + 1, count - 1);
      if (times[times.length - 1] !== tc) times.push(tc);
    }
    if (times.length < 2) throw new UsageError(`the compvis grid with ${n} steps has the single timestep ${times[0]}: A1111 runs no step; use at least 2 steps`);
    return Float64Array.from(times.reverse());
  },
});

// ComfyUI beta_scheduler (Lee et al. 2024, "Beta sampling is all you need"): timesteps at the
// Beta(α, β) quantiles 1 − i/steps of the table, repeated timesteps dropped, then 0.
schedulerGrids.push({
  type: 'beta',
  description: 'ComfyUI "beta": timesteps rint(BetaPPF(1 − i/steps; α, β)·(N−1)) of a discrete model (α = β = 0.6), repeats dropped, then σ = 0',
  build: (p, spec) => {
    const s = spec as Spec<'beta'>;
    const [a, b] = [s.alpha ?? 0.6, s.beta ?? 0.6];
    if (!(a > 0 && b > 0)) throw new UsageError(`beta schedule needs alpha > 0 and beta > 0, got ${a}, ${b}`);
    const table = sigmaTable(p, 'beta');
    const top = lastIndex(p);
    const ts: number[] = [];
    for (let i = 0; i < s.steps; i++) {
      const t = roundHalfEven(betaPpf(1 - i / s.steps, a, b) * top);
      if (t !== ts[ts.length - 1]) ts.push(t);
    }
    return timesOf(p, [...ts.map(table), 0]);
  },
});

/** numpy.rint: round half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ComfyUI kl_optimal_scheduler (Sabour et al. 2024, "Align Your Steps", Eq. for the KL-optimal
// schedule): σ_i = tan((1 − i/(n−1))·atan σ_max + i/(n−1)·atan σ_min), then 0.
schedulerGrids.push({
  type: 'kl-optimal',
  description: 'ComfyUI "kl_optimal": uniform in atan σ from σ_max to σ_min, then σ = 0',
  build: (p, spec) => {
    const n = (spec as Spec<'kl-optimal'>).steps;
    const [lo, hi] = [sigmaVe(p, p.tMin), sigmaVe(p, p.tMax)];
    if (!(Number.isFinite(hi) && hi > lo)) throw new UsageError(`the kl_optimal schedule needs a finite σ range; process ${p.name} has σ from ${lo} to ${hi}`);
    const u = (i: number) => (n === 1 ? 0 : i / (n - 1));
    return timesOf(p, [...Array.from({ length: n }, (_, i) => tan(u(i) * atan(lo) + (1 - u(i)) * atan(hi))), 0]);
  },
});

// ComfyUI linear_quadratic_schedule (Genmo's Mochi): 1 − s with s linear up to the threshold for
// the first half of the steps and quadratic after, times σ_max (on flow: the flow time itself).
schedulerGrids.push({
  type: 'linear-quadratic',
  description: 'ComfyUI "linear_quadratic" (Mochi): linear to threshold 0.025 over half the steps, quadratic after, times σ_max (flow: t)',
  build: (p, spec) => {
    const s = spec as Spec<'linear-quadratic'>;
    const n = s.steps;
    const threshold = s.threshold ?? 0.025;
    const fractions = n === 1 ? [1, 0] : linearQuadratic(n, threshold, s.linearSteps ?? Math.floor(n / 2));
    if (p.name === 'flow') return Float64Array.from(fractions);
    const hi = sigmaVe(p, p.tMax);
    if (!Number.isFinite(hi)) throw new UsageError(`the linear_quadratic schedule needs a finite σ_max; process ${p.name} has ${hi}`);
    return timesOf(p, fractions.map((f) => f * hi));
  },
});

function linearQuadratic(n: number, threshold: number, linearSteps: number): number[] {
  if (!(Number.isInteger(linearSteps) && linearSteps >= 1 && linearSteps < n)) {
    throw new UsageError(`linear_quadratic needs 1 ≤ linearSteps < steps, got ${linearSteps} for ${n} steps`);
  }
  const diff = linearSteps - threshold * n;
  const quadraticSteps = n - linearSteps;
  const qc = diff / (linearSteps * quadraticSteps * quadraticSteps);
  const lc = threshold / linearSteps - (2 * diff) / (quadraticSteps * quadraticSteps);
  const c = qc * linearSteps * linearSteps;
  const s: number[] = [];
  for (let i = 0; i < linearSteps; i++) s.push((i * threshold) / linearSteps);
  for (let i = linearSteps; i < n; i++) s.push(qc * i * i + lc * i + c);
  s.push(1);
  return s.map((v) => 1 - v);
}

// A1111's discard_next_to_last_sigma and ComfyUI KSampler's DISCARD_PENULTIMATE_SIGMA_SAMPLERS:
// build the schedule for steps + 1 and drop its next-to-last entry.
schedulerGrids.push({
  type: 'drop-penultimate',
  description: 'another grid built for steps+1 with its next-to-last time removed (A1111 DPM2 / DPM2 a / DPM++ 3M SDE, ComfyUI dpm_2 / uni_pc)',
  build: (p, spec, make) => {
    const s = spec as Spec<'drop-penultimate'>;
    if (typeof s.of !== 'object' || s.of === null) throw new UsageError('drop-penultimate needs "of": the grid to build for steps + 1, e.g. {"type": "karras"}');
    if (s.of.type === 'explicit' || s.of.type === 'drop-penultimate') {
      throw new UsageError(`drop-penultimate needs a grid built from a step count, got ${s.of.type}`);
    }
    const g = make(p, { ...s.of, steps: s.steps + 1 });
    return Float64Array.from([...g.subarray(0, g.length - 2), g[g.length - 1]]);
  },
});
