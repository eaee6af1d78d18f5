import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { processX0, validateX0, x0Defaults, type X0Options } from './x0.js';
import { diffusersProcess, diffusersX0, rejectFlags } from './diffusers.js';
import { unusedUpstream } from './diffusers-classes.js';
import { distillationTimesteps } from './euler.js';
import { UsageError } from '../core/errors.js';
import type { Process } from '../process/types.js';
import { expm1 } from '../core/math.js';

/**
 * DDIM (Song et al. 2021, Eq. 12) for any process x = αx0 + σε:
 *   x_s = α_s x̂0 + √(σ_s² − σ̃²) ε̂ + σ̃ z,  σ̃ = η σ_s √(1 − e^{2(λ_t − λ_s)}),
 * which for VP equals the paper's σ̃ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s). η = 0 is the
 * deterministic DDIM (first-order DPM-Solver); η = 1 is DDPM's ancestral step (Ho et al. 2020,
 * Eq. 6–7, "fixed_small" variance).
 */
export interface DdimOptions extends X0Options {
  [k: string]: number | string | boolean;
  eta: number;
  /** DDPM's variance choice for η = 1: β̃ ("fixed_small") or 1 − ᾱ_t/ᾱ_s ("fixed_large"). */
  variance: 'fixed_small' | 'fixed_large';
}

/** Ancestral noise level σ̃ of a DDIM step t → s with η = 1 (the posterior q(x_s | x_t, x0)). */
export function ancestralSigma(p: Process, t: number, s: number): number {
  const sigmaS = p.sigma(s);
  if (sigmaS === 0) return 0;
  return sigmaS * Math.sqrt(-expm1(2 * (p.logSnr(t) - p.logSnr(s))));
}

/**
 * DDIM's step (Song et al. 2021, Eq. 12): x_s = α_s·x̂0 + √(σ_s² − σ̃²)·ε̂ + σ̃·z with σ̃ = η·(posterior
 * std). `posterior` recomputes ε̂ from the processed (clipped / thresholded) x̂0, which makes η = 1 the
 * DDPM posterior mean μ̃(x_t, x̂0) of Ho et al. (2020) Eq. 7 as diffusers' DDPMScheduler takes it;
 * DDIM keeps the network's ε̂ (diffusers' DDIMScheduler).
 */
async function ddim(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: DdimOptions, posterior = false): Promise<Float64Array> {
  const p = ctx.process;
  const steps = grid.length - 1;
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps, x);
    const t = grid[i];
    const s = grid[i + 1];
    const x0 = await ctx.denoise(x, t);
    const at = p.alpha(t);
    const st = p.sigma(t);
    const eps = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) eps[j] = (x[j] - at * x0[j]) / st;
    processX0(x0, ctx.n, o);
    if (posterior) for (let j = 0; j < x.length; j++) eps[j] = (x[j] - at * x0[j]) / st;
    const as = p.alpha(s);
    const ss = p.sigma(s);
    const small = o.eta * ancestralSigma(p, t, s);
    // fixed_large: the forward transition's variance σ_t² − (α_t σ_s/α_s)² (= β_t for one DDPM step)
    const carried = (at * ss) / as;
    const noiseStd =
      o.variance === 'fixed_large' && ss > 0 ? o.eta * Math.sqrt(Math.max(0, st * st - carried * carried)) : small;
    const dir = Math.sqrt(Math.max(0, ss * ss - small * small));
    const out = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) out[j] = as * x0[j] + dir * eps[j];
    if (noiseStd > 0) {
      const z = ctx.noise();
      for (let j = 0; j < x.length; j++) out[j] += noiseStd * z[j];
    }
    x = out;
  }
  return x;
}

function validate(o: DdimOptions): void {
  validateX0(o);
  if (!(o.eta >= 0)) throw new UsageError(`eta must be ≥ 0, got ${o.eta}`);
}

const fromDiffusersDdim: ReferenceMapping = {
  library: 'diffusers',
  name: 'DDIMScheduler',
  translate(c, steps) {
    return {
      sampler: 'ddim',
      options: { eta: 0, ...diffusersX0(c, true) },
      process: diffusersProcess(c, 'DDIMScheduler'),
      grid: {
        type: 'diffusers',
        steps,
        spacing: (c.timestep_spacing ?? 'leading') as 'leading',
        stepsOffset: Number(c.steps_offset ?? 0),
        end: c.set_alpha_to_one === false ? 'min' : 'zero',
      },
    };
  },
};

/**
 * diffusers' DDIMInverseScheduler: DDIM run upward (direction "invert", see invert()) over the
 * grid DDIM would run down, "leading" (default) or "trailing" spacing, from ᾱ = 1 (set_alpha_to_one)
 * or ᾱ_0; the model is evaluated at each step's upper timestep on the sample still at the lower.
 */
const fromDiffusersDdimInverse: ReferenceMapping = {
  library: 'diffusers',
  name: 'DDIMInverseScheduler',
  translate(c, steps) {
    const spacing = String(c.timestep_spacing ?? 'leading');
    if (spacing !== 'leading' && spacing !== 'trailing') throw new UsageError(`DDIMInverseScheduler with timestep_spacing=${spacing} is refused upstream; accepted: leading, trailing`);
    return {
      sampler: 'ddim',
      direction: 'invert',
      options: { eta: 0, ...diffusersX0(c, true) },
      process: diffusersProcess(c, 'DDIMInverseScheduler'),
      grid: { type: 'diffusers', steps, spacing, stepsOffset: Number(c.steps_offset ?? 0), end: c.set_alpha_to_one === false ? 'min' : 'zero' },
    };
  },
};

/**
 * diffusers' DDPMScheduler: DDPM's posterior step between the timesteps of its spacing (default
 * "leading", stepping t → t − N/n, the last to ᾱ = 1), with the variance_type's variance and one
 * draw per step but the last (Ho et al. 2020, Alg. 2).
 */
const fromDiffusersDdpm: ReferenceMapping = {
  library: 'diffusers',
  name: 'DDPMScheduler',
  translate(c, steps) {
    const variance = String(c.variance_type ?? 'fixed_small');
    if (variance !== 'fixed_small' && variance !== 'fixed_large') {
      throw new UsageError(`diffusers DDPMScheduler with variance_type=${variance} is not translated; accepted: fixed_small, fixed_large`);
    }
    return {
      sampler: 'ddpm',
      options: { eta: 1, variance, ...diffusersX0(c, true) },
      process: diffusersProcess(c, 'DDPMScheduler'),
      grid: { type: 'diffusers', steps, spacing: (c.timestep_spacing ?? 'leading') as 'leading', stepsOffset: Number(c.steps_offset ?? 0), end: 'zero' },
    };
  },
};

export interface TcdOptions {
  [k: string]: number;
  /** γ of strategic stochastic sampling (diffusers' step eta): 0 deterministic, 1 a full re-noise each step. */
  eta: number;
}

/**
 * Trajectory Consistency Distillation's strategic stochastic sampling (Zheng et al. 2024, TCD,
 * §4.4, Alg. 4): from t, jump along the model's trajectory to s = (1 − γ)·t_next with DDIM's
 * x_s = α_s x̂0 + σ_s ε̂, then (γ > 0, every step but the last) go forward to t_next with fresh noise,
 * x = (α_next/α_s)·x_s + √(σ_next² − (α_next σ_s/α_s)²)·z. On vp-discrete s is floored to a
 * training timestep, as diffusers' TCDScheduler does; the last step ends at s = (1 − γ)·t_end.
 */
async function tcd(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: TcdOptions): Promise<Float64Array> {
  const p = ctx.process;
  const steps = grid.length - 1;
  const discrete = p.name === 'vp-discrete';
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps, x);
    const [t, next] = [grid[i], grid[i + 1]];
    const x0 = await ctx.denoise(x, t);
    const [at, st] = [p.alpha(t), p.sigma(t)];
    const raw = (1 - o.eta) * next;
    const s = Math.max(discrete ? Math.floor(raw) : raw, p.tZero);
    const [as, ss] = [p.alpha(s), p.sigma(s)];
    const out = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) out[j] = as * x0[j] + (ss * (x[j] - at * x0[j])) / st;
    if (o.eta > 0 && i < steps - 1) {
      const z = ctx.noise();
      const [an, sn] = [p.alpha(next), p.sigma(next)];
      const carried = an / as;
      const std = Math.sqrt(Math.max(0, sn * sn - carried * carried * ss * ss));
      for (let j = 0; j < x.length; j++) out[j] = carried * out[j] + std * z[j];
    }
    x = out;
  }
  return x;
}

/**
 * diffusers' TCDScheduler: LCM's distillation timesteps, the last step to the first training
 * timestep (t = 0, not ᾱ = 1), γ from the step's eta (default 0.3). Its clip, thresholding and
 * timestep-scaling keys are stored but never used by its step.
 */
const fromDiffusersTcd: ReferenceMapping = {
  library: 'diffusers',
  name: 'TCDScheduler',
  translate(c, steps) {
    rejectFlags(c, 'TCDScheduler');
    unusedUpstream(c, ['clip_sample', 'clip_sample_range', 'set_alpha_to_one', 'steps_offset', 'thresholding', 'dynamic_thresholding_ratio', 'sample_max_value', 'timestep_spacing', 'timestep_scaling']);
    const ts = distillationTimesteps(c, 'TCDScheduler', steps);
    return { sampler: 'tcd', options: { eta: 0.3 }, process: diffusersProcess(c, 'TCDScheduler'), grid: { type: 'explicit', times: [...ts, 0] } };
  },
};

export const ddimSamplers = [
  entry({
    name: 'ddim',
    aliases: ['DDIMScheduler'],
    family: 'ddim',
    description: 'DDIM; eta=0 deterministic, eta=1 DDPM-like ancestral',
    cite: 'Song et al. 2021, Denoising Diffusion Implicit Models, Eq. 12',
    order: 1,
    stochastic: false,
    defaults: { ...x0Defaults, eta: 0, variance: 'fixed_small' },
    choices: { variance: ['fixed_small', 'fixed_large'] },
    validate,
    run: ddim,
    references: [fromDiffusersDdim, fromDiffusersDdimInverse],
  }),
  entry({
    name: 'ddpm',
    aliases: ['DDPMScheduler', 'DDPM'],
    family: 'ddim',
    description: 'DDPM ancestral sampling (posterior q(x_s|x_t,x0), fixed_small or fixed_large variance)',
    cite: 'Ho et al. 2020, Denoising Diffusion Probabilistic Models, Eq. 6–7 and Alg. 2',
    order: 1,
    stochastic: true,
    defaults: { ...x0Defaults, eta: 1, variance: 'fixed_small' },
    choices: { variance: ['fixed_small', 'fixed_large'] },
    validate,
    run: (x, grid, ctx, o: DdimOptions) => ddim(x, grid, ctx, o, true),
    references: [fromDiffusersDdpm],
  }),
  entry({
    name: 'tcd',
    aliases: ['TCDScheduler', 'TCD'],
    family: 'ddim',
    description: 'TCD strategic stochastic sampling: DDIM jump to (1−γ)·t_next, then re-noise to t_next (γ = eta; 0 = DDIM)',
    cite: 'Zheng et al. 2024, Trajectory Consistency Distillation, §4.4 and Alg. 4 (diffusers TCDScheduler)',
    order: 1,
    stochastic: true,
    defaults: { eta: 0.3 },
    validate: (o) => {
      if (!(o.eta >= 0 && o.eta <= 1)) throw new UsageError(`tcd eta (γ) must be in [0, 1], got ${o.eta}`);
    },
    run: tcd,
    references: [fromDiffusersTcd],
  }),
];
