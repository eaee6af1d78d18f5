import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { diffusersEdm, diffusersProcess, diffusersSigmaFlag, diffusersSigmas, diffusersX0, rejectFlags } from './diffusers.js';
import { processX0, validateX0, x0Defaults, type X0Options } from './x0.js';
import { unusedUpstream } from './diffusers-classes.js';
import { sigmaVe, tOfSigmaVe } from '../grid/basic.js';
import { createProcess } from '../process/index.js';
import { diffusersTimesteps } from '../grid/diffusers.js';
import type { GridSpec } from '../grid/index.js';
import { axpy, lin2, lin3, scale } from '../core/vec.js';
import { UsageError } from '../core/errors.js';
import type { Process } from '../process/types.js';
import { exp, log, log1p } from '../core/math.js';

/**
 * The Karras/k-diffusion family (Karras et al. 2022, "Elucidating the Design Space of
 * Diffusion-Based Generative Models"). Every process is written in k-diffusion's coordinates
 * σ = σ_t/α_t = e^{−λ} and x̃ = x/α_t, where x̃ = x0 + σε and the probability-flow ODE is
 *   dx̃/dσ = (x̃ − D(x̃; σ)) / σ   (Karras et al. 2022, Eq. 1 with the score of Eq. 3).
 * For EDM α = 1 and σ = t, so these are k-diffusion's samplers verbatim; for VP they are
 * diffusers' Euler-family schedulers (whose "sample" is x̃).
 */

/** The grid's σ = σ/α (0 at tZero). */
export function sigmasOf(p: Process, grid: Float64Array): Float64Array {
  return grid.map((t) => sigmaVe(p, t));
}

/** x̃ = x/α(t), in a new array. */
export function toScaled(p: Process, x: Float64Array, t: number): Float64Array {
  return scale(new Float64Array(x.length), 1 / p.alpha(t), x);
}

/** x = α(t)·x̃, in place: the sampler's result in process coordinates. */
export function fromScaled(p: Process, xs: Float64Array, t: number): Float64Array {
  const a = p.alpha(t);
  return a === 1 ? xs : scale(xs, a, xs);
}

/** D(x̃; σ(t)): the model sees x = α(t)·x̃ at time t. */
export function denoiseScaled(ctx: SampleContext, xs: Float64Array, t: number): Promise<Float64Array> {
  const a = ctx.process.alpha(t);
  return ctx.denoise(a === 1 ? xs : scale(new Float64Array(xs.length), a, xs), t);
}

/** The ODE's slope d = (x̃ − D)/σ (k-diffusion's to_d), in a new array. */
export function slope(xs: Float64Array, denoised: Float64Array, sigma: number): Float64Array {
  return lin2(new Float64Array(xs.length), 1 / sigma, xs, -1 / sigma, denoised);
}

/** The time with σ/α = e^{−λ} and the σ the model actually sees there (processes may clamp t). */
function atLogSnr(p: Process, lambda: number): { t: number; sigma: number } {
  const t = p.tOfLogSnr(lambda);
  return { t, sigma: sigmaVe(p, t) };
}

/** Euler step x̃ ← x̃ + (σ_next − σ)·d, in place (Karras et al. 2022, Alg. 1 lines 4–5). */
function eulerStep(xs: Float64Array, denoised: Float64Array, sigma: number, sigmaNext: number): void {
  const r = (sigmaNext - sigma) / sigma;
  lin2(xs, 1 + r, xs, -r, denoised);
}

/**
 * The family's loop: x̃ = x/α at the first time, one `step` per grid interval of nonzero length
 * (updating x̃ in place, with σ = σ/α of every grid time), x = α·x̃ at the last time.
 */
async function scaledLoop(
  x: Float64Array, grid: Float64Array, ctx: SampleContext,
  step: (xs: Float64Array, i: number, sig: Float64Array) => Promise<void>,
): Promise<Float64Array> {
  const p = ctx.process;
  const sig = sigmasOf(p, grid);
  const steps = grid.length - 1;
  const xs = toScaled(p, x, grid[0]);
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps, x);
    if (grid[i + 1] === grid[i]) continue;
    await step(xs, i, sig);
  }
  return fromScaled(p, xs, grid[steps]);
}

const euler = (x: Float64Array, grid: Float64Array, ctx: SampleContext) =>
  scaledLoop(x, grid, ctx, async (xs, i, sig) => eulerStep(xs, await denoiseScaled(ctx, xs, grid[i]), sig[i], sig[i + 1]));

/**
 * σ_down, σ_up of an ancestral step σ → σ_next (k-diffusion's get_ancestral_step): the ODE goes
 * to σ_down, then fresh noise of std σ_up restores σ_next² = σ_down² + σ_up². η = 1 is the
 * DDPM posterior's variance; η = 0 the deterministic step.
 */
export function ancestralStep(sigma: number, sigmaNext: number, eta: number): { down: number; up: number } {
  if (eta === 0 || sigmaNext === 0) return { down: sigmaNext, up: 0 };
  const up = Math.min(sigmaNext, eta * sigmaNext * Math.sqrt((sigma * sigma - sigmaNext * sigmaNext) / (sigma * sigma)));
  return { down: Math.sqrt(sigmaNext * sigmaNext - up * up), up };
}

export interface EulerAncestralOptions {
  [k: string]: number;
  eta: number;
  /** Scale of the injected noise (k-diffusion's s_noise). */
  sNoise: number;
}

function eulerAncestral(
  x: Float64Array, grid: Float64Array, ctx: SampleContext, o: EulerAncestralOptions,
): Promise<Float64Array> {
  return scaledLoop(x, grid, ctx, async (xs, i, sig) => {
    const { down, up } = ancestralStep(sig[i], sig[i + 1], o.eta);
    eulerStep(xs, await denoiseScaled(ctx, xs, grid[i]), sig[i], down);
    if (up > 0) axpy(xs, o.sNoise * up, ctx.noise());
  });
}

/** Karras et al. 2022's stochastic "churn" (Alg. 2, lines 4–6); all zero means a plain ODE step. */
type Churn = {
  sChurn: number;
  sTmin: number;
  sTmax: number;
  sNoise: number;
};

const noChurn: Churn = { sChurn: 0, sTmin: 0, sTmax: Infinity, sNoise: 1 };

/**
 * Raise the noise level σ_i to σ̂ = (1 + γ)σ_i, γ = min(S_churn/N, √2 − 1) inside [S_tmin, S_tmax]
 * (N: the grid's steps, repeated times excluded), by adding noise of std S_noise·√(σ̂² − σ_i²) to
 * x̃ in place (Alg. 2, lines 4–6).
 * Returns the time and σ of the raised level (unchanged when γ = 0).
 */
function churn(ctx: SampleContext, xs: Float64Array, t: number, sigma: number, steps: number, c: Churn) {
  const gamma = sigma >= c.sTmin && sigma <= c.sTmax ? Math.min(c.sChurn / steps, Math.SQRT2 - 1) : 0;
  if (gamma === 0) return { t, sigma };
  const hat = atLogSnr(ctx.process, ctx.process.logSnr(t) - log1p(gamma));
  if (!(hat.sigma > sigma)) return { t, sigma };
  axpy(xs, c.sNoise * Math.sqrt(hat.sigma * hat.sigma - sigma * sigma), ctx.noise());
  return hat;
}

/**
 * Heun's 2nd-order method (Karras et al. 2022, Alg. 1; with churn, Alg. 2): Euler predictor to
 * σ_{i+1}, then the trapezoidal corrector with the mean of both slopes. The step to σ = 0 stays
 * Euler (Alg. 1 line 8), so N steps ending at σ = 0 cost 2N − 1 model calls.
 */
function heunLoop(x: Float64Array, grid: Float64Array, ctx: SampleContext, c: Churn): Promise<Float64Array> {
  const moving = grid.filter((t, i) => i > 0 && t !== grid[i - 1]).length;
  return scaledLoop(x, grid, ctx, async (xs, i, sig) => {
    const hat = churn(ctx, xs, grid[i], sig[i], moving, c);
    const d = slope(xs, await denoiseScaled(ctx, xs, hat.t), hat.sigma);
    const dt = sig[i + 1] - hat.sigma;
    if (sig[i + 1] === 0) {
      axpy(xs, dt, d);
      return;
    }
    const pred = lin2(new Float64Array(xs.length), 1, xs, dt, d);
    const d2 = slope(pred, await denoiseScaled(ctx, pred, grid[i + 1]), sig[i + 1]);
    lin3(xs, 1, xs, dt / 2, d, dt / 2, d2);
  });
}

/**
 * k-diffusion's sample_dpm_2 / sample_dpm_2_ancestral: a midpoint method in log σ (the 2nd-order
 * DPM-Solver-2 idea of Lu et al. 2022, Alg. 4, applied to the Karras ODE): Euler to
 * σ_mid = √(σ_i σ_down), then the full step to σ_down with the slope there, then (ancestral, η > 0)
 * fresh noise of std σ_up (σ_down = σ_{i+1} when η = 0). The step to σ = 0 is Euler.
 */
function dpm2(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: EulerAncestralOptions): Promise<Float64Array> {
  const p = ctx.process;
  return scaledLoop(x, grid, ctx, async (xs, i, sig) => {
    const denoised = await denoiseScaled(ctx, xs, grid[i]);
    const { down, up } = ancestralStep(sig[i], sig[i + 1], o.eta);
    if (down === 0) {
      eulerStep(xs, denoised, sig[i], 0);
      return;
    }
    const lambda = p.logSnr(grid[i]);
    const lambdaDown = up === 0 ? p.logSnr(grid[i + 1]) : -log(down);
    const mid = atLogSnr(p, lambda + (lambdaDown - lambda) / 2);
    const d = slope(xs, denoised, sig[i]);
    const half = lin2(new Float64Array(xs.length), 1, xs, mid.sigma - sig[i], d);
    const dMid = slope(half, await denoiseScaled(ctx, half, mid.t), mid.sigma);
    axpy(xs, down - sig[i], dMid);
    if (up > 0) axpy(xs, o.sNoise * up, ctx.noise());
  });
}

/**
 * Multistep consistency sampling (Song et al. 2023, Consistency Models, Alg. 1; Luo et al. 2023,
 * Latent Consistency Models, Alg. 1; k-diffusion/ComfyUI sample_lcm): jump to the model's x̂0, then
 * re-noise it to the next level with fresh noise, x̃ = x̂0 + σ_{i+1}·z. The consistency boundary
 * condition (c_skip, c_out) belongs to the model, not to the sampler. x̂0 may be clipped or
 * thresholded first (diffusers' LCMScheduler clip_sample / thresholding).
 */
export interface LcmOptions extends X0Options {
  [k: string]: number;
  sNoise: number;
}

function lcm(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: LcmOptions): Promise<Float64Array> {
  return scaledLoop(x, grid, ctx, async (xs, i, sig) => {
    xs.set(processX0(await denoiseScaled(ctx, xs, grid[i]), ctx.n, o));
    if (sig[i + 1] > 0) axpy(xs, o.sNoise * sig[i + 1], ctx.noise());
  });
}

export interface EdmStochasticOptions extends Churn {
  [k: string]: number;
}

function validateAncestral(o: EulerAncestralOptions): void {
  if (!(o.eta >= 0)) throw new UsageError(`eta must be ≥ 0 (0 = deterministic Euler, 1 = full ancestral noise), got ${o.eta}`);
  if (!(o.sNoise >= 0)) throw new UsageError(`sNoise must be ≥ 0 (1 = unscaled noise), got ${o.sNoise}`);
}

function validateChurn(o: EdmStochasticOptions): void {
  if (!(o.sChurn >= 0)) throw new UsageError(`sChurn (Karras' S_churn) must be ≥ 0 (0 = deterministic Heun), got ${o.sChurn}`);
  if (!(o.sTmin >= 0)) throw new UsageError(`sTmin (Karras' S_tmin) must be ≥ 0, got ${o.sTmin}`);
  if (!(o.sTmax >= o.sTmin)) throw new UsageError(`sTmax (Karras' S_tmax) must be ≥ sTmin (${o.sTmin}), got ${o.sTmax}`);
  if (!(o.sNoise >= 0)) throw new UsageError(`sNoise (Karras' S_noise) must be ≥ 0 (1 = unscaled noise), got ${o.sNoise}`);
}

/** The family's default grid: Karras et al. 2022, Eq. 5, ρ = 7, last step to σ = 0. */
export const karrasGrid: GridSpec = { type: 'karras', steps: 10, rho: 7, end: 'zero' };

/**
 * k-diffusion's samplers run on get_sigmas_karras(n, σ_min, σ_max, ρ) with 0 appended, on the
 * EDM process (x = x0 + σε, t = σ); `options` reads the sampler's options from the run's config.
 */
export function fromKDiffusion(
  name: string, sampler: string, options: (c: Readonly<Record<string, unknown>>) => Record<string, unknown> = () => ({}),
): ReferenceMapping {
  return {
    library: 'k-diffusion',
    name,
    translate(c, steps) {
      if ((c.schedule ?? 'karras') !== 'karras') {
        throw new UsageError(`k-diffusion schedule=${String(c.schedule)} is not translated; accepted: karras`);
      }
      const sigmaMin = Number(c.sigma_min ?? 0.002);
      const sigmaMax = Number(c.sigma_max ?? 80);
      return {
        sampler,
        options: options(c),
        process: { name: 'edm', sigmaMin, sigmaMax },
        grid: { type: 'karras', steps, rho: Number(c.rho ?? 7), sigmaMin, sigmaMax, end: 'zero' },
      };
    },
  };
}

/**
 * diffusers' Euler-family timesteps: "linspace" keeps the fractional np.linspace(0, N−1, steps)
 * reversed, in float32 as diffusers stores them; "leading"/"trailing" are the integer spacings.
 */
function diffusersEulerTimesteps(c: Readonly<Record<string, unknown>>, steps: number): number[] {
  const numTrain = Number(c.num_train_timesteps ?? 1000);
  const spacing = String(c.timestep_spacing ?? 'linspace');
  const offset = Number(c.steps_offset ?? 0); // upstream adds it with "leading" spacing only
  if (spacing === 'leading' || spacing === 'trailing') return diffusersTimesteps(numTrain, steps, spacing, offset);
  if (spacing !== 'linspace') {
    throw new UsageError(`unknown timestep_spacing "${spacing}"; accepted: linspace, leading, trailing`);
  }
  if (steps > numTrain) throw new UsageError(`steps (${steps}) cannot exceed the process's ${numTrain} training timesteps`);
  const stride = steps === 1 ? 0 : (numTrain - 1) / (steps - 1);
  const out: number[] = [];
  for (let i = steps - 1; i >= 0; i--) out.push(i === steps - 1 && steps > 1 ? numTrain - 1 : Math.fround(i * stride));
  return out;
}

/**
 * With use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas, diffusers' Euler family
 * replaces the σ's of its timesteps by that schedule between their σ_min and σ_max; the model is
 * called at those σ's (at fractional timesteps), so the grid is their times on the process.
 */
function sigmaFlagTimes(c: Readonly<Record<string, unknown>>, cls: string, ts: number[]): number[] {
  const flag = diffusersSigmaFlag(c);
  if (!flag) return c.interpolation_type === 'log_linear' ? logLinearTimes(c, cls, ts) : ts;
  const p = createProcess(diffusersProcess(c, cls));
  const sigmas = diffusersSigmas(flag, sigmaVe(p, ts[ts.length - 1]), sigmaVe(p, ts[0]), ts.length);
  // Upstream steps between these σ's stored in float32.
  return sigmas.map((s) => tOfSigmaVe(p, Math.fround(s)));
}

/**
 * interpolation_type "log_linear": upstream replaces the n σ's by n + 1 uniform in log σ between
 * the σ's of the first and last timestep, then appends 0, yet runs n steps: the last step ends at
 * σ_min, never at 0. The grid is those n + 1 σ's (as times) and no end.
 */
function logLinearTimes(c: Readonly<Record<string, unknown>>, cls: string, ts: number[]): number[] {
  const p = createProcess(diffusersProcess(c, cls));
  const [hi, lo] = [log(sigmaVe(p, ts[0])), log(sigmaVe(p, ts[ts.length - 1]))];
  const n = ts.length;
  return Array.from({ length: n + 1 }, (_, i) => tOfSigmaVe(p, exp(hi + ((lo - hi) * i) / n)));
}

/** Reject diffusers options that change the Euler family's σ, timesteps or x0 in ways not translated. */
function checkDiffusersEuler(c: Readonly<Record<string, unknown>>, scheduler: string): void {
  rejectFlags(c, scheduler, ['use_flow_sigmas', 'use_lu_lambdas', 'use_dynamic_shifting']);
  rejectFlags(c, scheduler, ['clip_sample'], 'the Euler family does not clip x0');
  if (c.timestep_type === 'continuous') {
    throw new UsageError(`${scheduler} with timestep_type=continuous (Stable Video Diffusion's EDM-style config: σ's between the config's sigma_min and sigma_max, past the training table, and the model fed 0.25·log σ) is not translated`);
  }
  const accepted: Record<string, readonly string[]> = { interpolation_type: ['linear', 'log_linear'], timestep_type: ['discrete'], final_sigmas_type: ['zero', 'sigma_min'] };
  for (const [key, values] of Object.entries(accepted)) {
    if (c[key] !== undefined && c[key] !== null && !values.includes(String(c[key]))) {
      throw new UsageError(`${scheduler} with ${key}=${String(c[key])} is not translated; accepted: ${values.join(', ')}`);
    }
  }
}

/**
 * diffusers' EulerDiscreteScheduler / HeunDiscreteScheduler on the DDPM process: the model is
 * called at (possibly fractional) timesteps, σ interpolated linearly in t (the vp-discrete
 * process's convention), and the last step goes to σ = 0. With "linspace"/"trailing" spacing
 * init_noise_sigma is σ_max, i.e. x̃_T = σ_max·z (x_T = σ_VP·z); with "leading" it is
 * √(σ_max² + 1), i.e. x_T = z. HeunDiscreteScheduler lists every interior timestep twice (the
 * corrector's evaluation); that grid's repeated times are no-op steps here.
 */
export function fromDiffusers(name: string, sampler: string, repeatInterior: boolean): ReferenceMapping {
  return {
    library: 'diffusers',
    name,
    translate(c, steps) {
      checkDiffusersEuler(c, name);
      const logLinear = c.interpolation_type === 'log_linear' && !diffusersSigmaFlag(c);
      if (logLinear && repeatInterior) throw new UsageError(`${name} with interpolation_type=log_linear is not translated`);
      const ts = sigmaFlagTimes(c, name, diffusersEulerTimesteps(c, steps));
      const times = repeatInterior ? [ts[0], ...ts.slice(1).flatMap((t) => [t, t])] : ts;
      return {
        sampler,
        options: {},
        process: diffusersProcess(c, name),
        // final_sigmas_type "sigma_min" ends at the first training timestep's σ instead of 0.
        grid: { type: 'explicit', times: logLinear ? times : [...times, c.final_sigmas_type === 'sigma_min' ? 0 : -1] },
        init: c.timestep_spacing === 'leading' ? 'prior' : 'sigma',
        // With replaced σ's the model is timed by log-σ interpolation (upstream's _sigma_to_t).
        ...(diffusersSigmaFlag(c) ? { modelTime: 'log-sigma' as const } : {}),
      };
    },
  };
}

/**
 * diffusers' LCMScheduler: n of the original_inference_steps (default 50) distillation timesteps
 * k·i − 1 (k = N / 50), picked at floor(linspace(0, 50, n, endpoint=False)) from the top, then
 * the last step returns x̂0 (ᾱ = 1). Each step re-noises x̂0 to the next timestep with a fresh
 * draw (Luo et al. 2023, Alg. 1). The boundary conditions c_skip = σ_d²/((10t)² + σ_d²) change
 * x̂0 by less than 1e-7 at the timesteps LCM uses (t ≥ 19) and are not applied.
 */
const fromDiffusersLcm: ReferenceMapping = {
  library: 'diffusers',
  name: 'LCMScheduler',
  translate(c, steps, run = {}) {
    rejectFlags(c, 'LCMScheduler');
    unusedUpstream(c, ['set_alpha_to_one', 'steps_offset', 'timestep_spacing']);
    const ts = distillationTimesteps(c, 'LCMScheduler', steps, run.strength);
    // clip_sample defaults to false in LCMScheduler
    return { sampler: 'lcm', options: { ...diffusersX0({ ...pick(c, ['thresholding', 'dynamic_thresholding_ratio', 'sample_max_value', 'clip_sample_range']), clip_sample: c.clip_sample === true }, true) }, process: diffusersProcess(c, 'LCMScheduler'), grid: { type: 'explicit', times: [...ts, -1] } };
  },
};

/**
 * The timesteps of diffusers' LCMScheduler and TCDScheduler: n of the original_inference_steps
 * (default 50) distillation timesteps k·i − 1 (k = N / 50), picked at floor(linspace(0, 50, n,
 * endpoint=False)) from the top.
 */
export function distillationTimesteps(c: Readonly<Record<string, unknown>>, cls: string, steps: number, strength = 1): number[] {
  const numTrain = Number(c.num_train_timesteps ?? 1000);
  const original = Number(c.original_inference_steps ?? 50);
  if (!(Number.isInteger(original) && original >= 1 && original <= numTrain)) throw new UsageError(`original_inference_steps must be an integer from 1 to ${numTrain}, got ${original}`);
  if (!(strength > 0 && strength <= 1)) throw new UsageError(`strength must be in (0, 1], got ${strength}`);
  // img2img: the pipeline passes strength, which keeps the lowest int(original·strength) distillation timesteps
  const kept = Math.floor(original * strength);
  if (steps > kept) {
    throw new UsageError(`${cls} runs at most int(original_inference_steps × strength) = ${kept} steps (${original} × ${strength}), got ${steps}; lower the steps or raise strength (upstream raises the same error)`);
  }
  const k = Math.floor(numTrain / original);
  const top = Array.from({ length: kept }, (_, i) => (kept - i) * k - 1);
  return Array.from({ length: steps }, (_, i) => top[Math.floor((i * kept) / steps)]);
}

/** The entries of `keys` that `c` has. */
function pick(c: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => c[k] !== undefined).map((k) => [k, c[k]]));
}

export const eulerSamplers = [
  entry({
    name: 'euler',
    aliases: ['EulerDiscreteScheduler', 'sample_euler', 'k_euler'],
    family: 'karras',
    description: 'Euler steps on the probability-flow ODE in σ = σ/α (1st order, 1 NFE/step)',
    cite: 'Karras et al. 2022, Elucidating the Design Space, Alg. 2 without churn (k-diffusion sample_euler)',
    order: 1,
    stochastic: false,
    defaults: {},
    defaultGrid: karrasGrid,
    run: euler,
    references: [
      fromKDiffusion('sample_euler', 'euler'),
      fromDiffusers('EulerDiscreteScheduler', 'euler', false),
      { library: 'diffusers', name: 'EDMEulerScheduler', translate: (c, steps) => ({ sampler: 'euler', options: {}, ...diffusersEdm(c, steps) }) },
    ],
  }),
  entry({
    name: 'euler-ancestral',
    aliases: ['EulerAncestralDiscreteScheduler', 'sample_euler_ancestral', 'k_euler_a', 'k_euler_ancestral'],
    family: 'karras',
    description: 'Euler step to σ_down, then fresh noise of std σ_up (eta=1: DDPM-like ancestral)',
    cite: 'k-diffusion sample_euler_ancestral / get_ancestral_step (Crowson 2022), on the ODE of Karras et al. 2022, Eq. 1 and 3',
    order: 1,
    stochastic: true,
    defaults: { eta: 1, sNoise: 1 },
    validate: validateAncestral,
    defaultGrid: karrasGrid,
    run: eulerAncestral,
    references: [
      fromKDiffusion('sample_euler_ancestral', 'euler-ancestral', (c) => ({ eta: Number(c.eta ?? 1), sNoise: Number(c.s_noise ?? 1) })),
      fromDiffusers('EulerAncestralDiscreteScheduler', 'euler-ancestral', false),
    ],
  }),
  entry({
    name: 'heun',
    aliases: ['HeunDiscreteScheduler', 'sample_heun', 'k_heun'],
    family: 'karras',
    description: "Heun's 2nd-order method in σ (2 NFE/step; Euler on the last step to σ = 0)",
    cite: 'Karras et al. 2022, Elucidating the Design Space, Alg. 1 (k-diffusion sample_heun)',
    order: 2,
    stochastic: false,
    defaults: {},
    defaultGrid: karrasGrid,
    run: (x, grid, ctx) => heunLoop(x, grid, ctx, noChurn),
    references: [fromKDiffusion('sample_heun', 'heun'), fromDiffusers('HeunDiscreteScheduler', 'heun', true)],
  }),
  entry({
    name: 'dpm2',
    aliases: ['KDPM2DiscreteScheduler', 'sample_dpm_2', 'k_dpm_2'],
    family: 'karras',
    description: 'midpoint in log σ (2nd order, 2 NFE/step; Euler on the last step to σ = 0)',
    cite: 'k-diffusion sample_dpm_2 (Crowson 2022), after DPM-Solver-2 (Lu et al. 2022, Alg. 4) and Karras et al. 2022, Alg. 2',
    order: 2,
    stochastic: false,
    defaults: {},
    defaultGrid: karrasGrid,
    run: (x, grid, ctx) => dpm2(x, grid, ctx, { eta: 0, sNoise: 1 }),
    references: [fromKDiffusion('sample_dpm_2', 'dpm2'), fromDiffusers('KDPM2DiscreteScheduler', 'dpm2', false)],
  }),
  entry({
    name: 'dpm2-ancestral',
    aliases: ['KDPM2AncestralDiscreteScheduler', 'sample_dpm_2_ancestral', 'k_dpm_2_a'],
    family: 'karras',
    description: 'DPM2 midpoint step to σ_down, then fresh noise of std σ_up (2 NFE/step; eta=0 is dpm2)',
    cite: 'k-diffusion sample_dpm_2_ancestral (Crowson 2022): sample_dpm_2 with get_ancestral_step',
    order: 2,
    stochastic: true,
    defaults: { eta: 1, sNoise: 1 },
    validate: validateAncestral,
    defaultGrid: karrasGrid,
    run: dpm2,
    references: [
      fromKDiffusion('sample_dpm_2_ancestral', 'dpm2-ancestral', (c) => ({ eta: Number(c.eta ?? 1), sNoise: Number(c.s_noise ?? 1) })),
      fromDiffusers('KDPM2AncestralDiscreteScheduler', 'dpm2-ancestral', false),
    ],
  }),
  entry({
    name: 'lcm',
    aliases: ['sample_lcm', 'multistep-consistency'],
    family: 'karras',
    description: 'multistep consistency sampling: x̂0, then fresh noise to the next σ (1 NFE/step; for consistency / LCM / TCD-distilled models)',
    cite: 'Song et al. 2023, Consistency Models, Alg. 1; Luo et al. 2023, Latent Consistency Models, Alg. 1 (k-diffusion/ComfyUI sample_lcm)',
    order: 1,
    stochastic: true,
    defaults: { sNoise: 1, ...x0Defaults },
    validate: (o) => {
      validateX0(o);
      if (!(o.sNoise >= 0)) throw new UsageError(`sNoise must be ≥ 0 (1 = unscaled noise), got ${o.sNoise}`);
    },
    defaultGrid: karrasGrid,
    run: lcm,
    references: [fromDiffusersLcm],
  }),
  entry({
    name: 'edm-stochastic',
    aliases: ['edm_sampler', 'Karras stochastic', 'EDM stochastic'],
    family: 'karras',
    description: "Karras' stochastic sampler: churn noise up to (1+γ)σ, then a Heun step (S_churn, S_tmin, S_tmax, S_noise)",
    cite: 'Karras et al. 2022, Elucidating the Design Space, Alg. 2; defaults from Table 5 (ImageNet-64)',
    order: 2,
    stochastic: true,
    defaults: { sChurn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1.003 },
    validate: validateChurn,
    defaultGrid: karrasGrid,
    run: heunLoop,
  }),
];
