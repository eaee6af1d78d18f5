import type { Prediction } from '../param/convert.js';
import type { ProcessConfig } from '../process/index.js';
import type { X0Options } from './x0.js';
import { diffusersMultistepTimesteps } from '../grid/diffusers.js';
import type { GridSpec } from '../grid/index.js';
import type { Translation } from './types.js';
import { UsageError } from '../core/errors.js';
import { exp, log, pow } from '../core/math.js';
import { betaPpf } from '../core/special.js';
import { createProcess } from '../process/index.js';
import { flowShift, sigmaVe, tOfSigmaVe } from '../grid/basic.js';
import type { BetaSchedule, VpDiscreteConfig } from '../process/vp-discrete.js';
import { ZERO_SNR } from './diffusers-classes.js';

/** Reading diffusers scheduler configs (as `ReferenceMapping.translate` receives them). */
export type DiffusersConfig = Readonly<Record<string, unknown>>;

const PREDICTION_TYPES: Readonly<Record<string, Prediction>> = { epsilon: 'epsilon', v_prediction: 'v_prediction', sample: 'sample', flow_prediction: 'velocity' };

/**
 * What the model of a diffusers config predicts: prediction_type epsilon (default), v_prediction or
 * sample. The solvers are unchanged (Diffuse converts a model's output at the edge), so every
 * translated class takes all three.
 */
export function diffusersPrediction(c: DiffusersConfig): Prediction {
  const p = String(c.prediction_type ?? 'epsilon');
  if (!Object.hasOwn(PREDICTION_TYPES, p)) throw new UsageError(`prediction_type "${p}" is not a diffusers prediction type Diffuse translates; accepted: ${Object.keys(PREDICTION_TYPES).join(', ')}`);
  // the multistep classes read flow_prediction only on their flow σ's (use_flow_sigmas)
  if (p === 'flow_prediction' && c.use_flow_sigmas !== true) throw new UsageError('prediction_type "flow_prediction" needs use_flow_sigmas=true (the flow-matching σ\'s)');
  return PREDICTION_TYPES[p];
}

/**
 * The discrete VP process named by the config of diffusers class `cls`: its β's (a named schedule,
 * or `trained_betas`), rescaled to zero terminal SNR where the class has `rescale_betas_zero_snr`,
 * with the last ᾱ = 0 kept or clamped to 2⁻²⁴ as that class does (ZERO_SNR).
 */
export function diffusersProcess(c: DiffusersConfig, cls: string): VpDiscreteConfig & { name: 'vp-discrete' } {
  diffusersPrediction(c);
  const zeroSnr = Object.hasOwn(ZERO_SNR, cls) && c.rescale_betas_zero_snr === true ? ZERO_SNR[cls] : undefined;
  const trained = c.trained_betas;
  if (trained != null && !(Array.isArray(trained) && trained.every((b) => typeof b === 'number'))) {
    throw new UsageError(`trained_betas must be a list of numbers, got ${JSON.stringify(trained).slice(0, 60)}`);
  }
  return {
    name: 'vp-discrete',
    numTrainTimesteps: Number(c.num_train_timesteps ?? 1000),
    betaStart: Number(c.beta_start ?? 0.0001),
    betaEnd: Number(c.beta_end ?? 0.02),
    betaSchedule: (c.beta_schedule ?? 'linear') as BetaSchedule,
    ...(trained != null ? { trainedBetas: trained as number[] } : {}),
    ...(zeroSnr ? { rescaleZeroSnr: true } : {}),
    ...(zeroSnr === 'clamped' ? { finalAlphaBar: 1 / 16777216 /* 2⁻²⁴ */ } : {}),
  };
}

/**
 * The flags with which diffusers replaces a scheduler's σ schedule (Karras, exponential, beta, flow
 * σ's, Lu's λ's, resolution-dependent shifting); in Diffuse the grid is passed instead. A scheduler
 * that lacks a flag never has it set, so one list serves them all.
 */
const SCHEDULE_FLAGS = [
  'use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas', 'use_lu_lambdas', 'use_dynamic_shifting',
];

/** Throw for the first of `flags` that is true in the config: it is not translated. */
export function rejectFlags(
  c: DiffusersConfig, scheduler: string, flags: readonly string[] = SCHEDULE_FLAGS, instead = 'pass a Diffuse grid instead',
): void {
  const flag = flags.find((k) => c[k] === true);
  if (flag) throw new UsageError(`${scheduler} with ${flag}=true is not translated; ${instead}`);
}

/**
 * diffusers' x0 post-processing as X0Options: dynamic thresholding (thresholding,
 * dynamic_thresholding_ratio, sample_max_value) and, for schedulers that have it, clip_sample
 * (on by default) with clip_sample_range.
 */
export function diffusersX0(c: DiffusersConfig, hasClipSample = false): X0Options {
  return {
    clipSample: hasClipSample && c.clip_sample !== false ? Number(c.clip_sample_range ?? 1) : 0,
    thresholdRatio: c.thresholding === true ? Number(c.dynamic_thresholding_ratio ?? 0.995) : 0,
    sampleMaxValue: Number(c.sample_max_value ?? 1),
  };
}

/**
 * The end time of the multistep schedulers' final_sigmas_type on vp-discrete: "zero" is t = −1
 * (ᾱ = 1, σ = 0), "sigma_min" the first training timestep t = 0.
 */
export function diffusersFinalTime(c: DiffusersConfig): number {
  const final = c.final_sigmas_type ?? 'zero';
  if (final !== 'zero' && final !== 'sigma_min') {
    throw new UsageError(`final_sigmas_type must be zero or sigma_min, got ${String(final)}`);
  }
  return final === 'zero' ? -1 : 0;
}

/**
 * The grid of diffusers' multistep schedulers (DPMSolver, DEIS, UniPC): their timesteps, then `end`.
 * With use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas / use_lu_lambdas the solver
 * steps between those σ's (uniform λ = uniform log σ for Lu's lambdas) over the whole training
 * table's σ range, while the model is called at their timesteps made integers (diffusersModelTime).
 */
export function diffusersMultistepGrid(c: DiffusersConfig, cls: string, steps: number, end: number): GridSpec {
  const numTrain = Number(c.num_train_timesteps ?? 1000);
  const spacing = String(c.timestep_spacing ?? 'linspace');
  const offset = Number(c.steps_offset ?? 0); // upstream adds it with "leading" spacing only
  const flag = c.use_lu_lambdas === true ? (diffusersSigmaFlag(c) ? 'both' : 'exponential') : diffusersSigmaFlag(c);
  if (flag === 'both') throw new UsageError('use_lu_lambdas cannot be combined with use_karras_sigmas, use_exponential_sigmas or use_beta_sigmas');
  if (!flag) return { type: 'explicit', times: [...diffusersMultistepTimesteps(numTrain, steps, spacing, offset), end] };
  const p = createProcess(diffusersProcess(c, cls));
  const sigmas = diffusersSigmas(flag, sigmaVe(p, 0), sigmaVe(p, numTrain - 1), steps);
  return { type: 'explicit', times: [...sigmas.map((s) => tOfSigmaVe(p, s)), end] };
}

/**
 * The flow-matching σ's of DPMSolverMultistep and UniPC with use_flow_sigmas (SANA, Wan): n σ's
 * shifted by flow_shift (s·σ/(1 + (s − 1)σ)) — DPM-Solver from 1 − 1/N down, UniPC from 1 (less 1e-6)
 * — in float32, then 0 (or the last again with final_sigmas_type "sigma_min"), on the flow process
 * (α = 1 − σ); the model is fed the timesteps σ·N truncated to integers.
 */
export function diffusersFlowSigmas(c: DiffusersConfig, cls: 'DPMSolverMultistepScheduler' | 'UniPCMultistepScheduler', steps: number): Pick<Translation, 'process' | 'grid' | 'modelTime' | 'modelTimeScale'> {
  rejectFlags(c, cls, ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas', 'use_lu_lambdas', 'use_dynamic_shifting']);
  const n = Number(c.num_train_timesteps ?? 1000);
  const s = Number(c.flow_shift ?? 1);
  if (!(s > 0)) throw new UsageError(`flow_shift must be > 0, got ${s}`);
  const shift = (v: number) => flowShift(v, s);
  const base = cls === 'UniPCMultistepScheduler'
    ? Array.from({ length: steps }, (_, i) => 1 + (i * (1 / n - 1)) / steps)
    : Array.from({ length: steps }, (_, i) => 1 - (1 + ((steps - i) * (1 / n - 1)) / steps));
  const sigmas = base.map(shift);
  if (cls === 'UniPCMultistepScheduler' && Math.abs(sigmas[0] - 1) < 1e-6) sigmas[0] -= 1e-6;
  const times = sigmas.map((v) => Math.fround(v));
  const last = diffusersFinalTime(c) === -1 ? 0 : times[times.length - 1];
  return {
    process: { name: 'flow', tMin: Math.min(1e-3, times[times.length - 1]) },
    grid: { type: 'explicit', times: [...times, last] },
    modelTime: 'floor',
    modelTimeScale: n,
  };
}

/**
 * How the model's timestep is made an integer when diffusers' multistep schedulers replace their
 * σ's: rounded for Karras σ's and Lu's lambdas, truncated for exponential and beta σ's (as upstream
 * does); undefined when the grid is already integer timesteps.
 */
export function diffusersModelTime(c: DiffusersConfig): 'round' | 'floor' | undefined {
  if (c.use_karras_sigmas === true || c.use_lu_lambdas === true) return 'round';
  if (c.use_exponential_sigmas === true || c.use_beta_sigmas === true) return 'floor';
  return undefined;
}

/** `{ modelTime }` for a Translation, or nothing. */
export function modelTimeOf(c: DiffusersConfig): { modelTime?: 'round' | 'floor' } {
  const m = diffusersModelTime(c);
  return m ? { modelTime: m } : {};
}

/** The σ-replacing flags of diffusers' discrete schedulers that Diffuse translates. */
export type SigmaFlag = 'karras' | 'exponential' | 'beta';
const SIGMA_FLAGS: readonly [string, SigmaFlag][] = [['use_karras_sigmas', 'karras'], ['use_exponential_sigmas', 'exponential'], ['use_beta_sigmas', 'beta']];

/** Which of use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas is set (at most one, as diffusers requires). */
export function diffusersSigmaFlag(c: DiffusersConfig): SigmaFlag | undefined {
  const set = SIGMA_FLAGS.filter(([key]) => c[key] === true);
  if (set.length > 1) throw new UsageError(`only one of ${set.map(([k]) => k).join(', ')} can be true (diffusers refuses the combination)`);
  return set[0]?.[1];
}

/**
 * diffusers' replacement σ's for n steps between the schedule's σ_min and σ_max (largest first):
 * Karras (ρ = 7, Karras et al. 2022 Eq. 5), exponential (uniform in log σ) or beta (σ_min +
 * (σ_max − σ_min)·B⁻¹(1 − i/(n−1); 0.6, 0.6), Lee et al. 2024, "Beta sampling is all you need").
 */
export function diffusersSigmas(flag: SigmaFlag, sigmaMin: number, sigmaMax: number, n: number, rho = 7): number[] {
  const u = (i: number) => (n === 1 ? 0 : i / (n - 1));
  if (flag === 'karras') {
    const [a, b] = [pow(sigmaMax, 1 / rho), pow(sigmaMin, 1 / rho)];
    return Array.from({ length: n }, (_, i) => pow(a + u(i) * (b - a), rho));
  }
  if (flag === 'exponential') {
    const [a, b] = [log(sigmaMax), log(sigmaMin)];
    return Array.from({ length: n }, (_, i) => exp(a + u(i) * (b - a)));
  }
  return Array.from({ length: n }, (_, i) => sigmaMin + betaPpf(1 - u(i), 0.6, 0.6) * (sigmaMax - sigmaMin));
}

/**
 * The EDM schedulers (EDMEulerScheduler, EDMDPMSolverMultistepScheduler): the edm process with the
 * config's σ_min, σ_max and σ_data; σ's by sigma_schedule (karras with ρ, or exponential), then 0
 * (final_sigmas_type "zero") or σ_min again. The network's output F is preconditioned into
 * D = c_skip·x + c_out·F by the model adapter (an ONNX card's time.kind "edm_c_noise"), so the
 * translation's model predicts the sample.
 */
export function diffusersEdm(c: DiffusersConfig, steps: number): { process: ProcessConfig; grid: GridSpec; prediction: Prediction; init: 'sigma-plus-one' } {
  const sigmaMin = Number(c.sigma_min ?? 0.002);
  const sigmaMax = Number(c.sigma_max ?? 80);
  const schedule = String(c.sigma_schedule ?? 'karras');
  if (schedule !== 'karras' && schedule !== 'exponential') throw new UsageError(`sigma_schedule must be karras or exponential, got ${schedule}`);
  const final = String(c.final_sigmas_type ?? 'zero');
  if (final !== 'zero' && final !== 'sigma_min') throw new UsageError(`final_sigmas_type must be zero or sigma_min, got ${final}`);
  diffusersPrediction(c);
  void c.num_train_timesteps; // stored by the EDM classes, never used in their arithmetic
  const sigmas = diffusersSigmas(schedule, sigmaMin, sigmaMax, steps, Number(c.rho ?? 7));
  return {
    process: { name: 'edm', sigmaMin, sigmaMax, sigmaData: Number(c.sigma_data ?? 0.5) },
    grid: { type: 'explicit', times: [...sigmas, final === 'zero' ? 0 : sigmaMin] },
    prediction: 'sample',
    // upstream's init_noise_sigma is √(σ_max² + 1), not σ_max
    init: 'sigma-plus-one',
  };
}
