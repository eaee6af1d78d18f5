import { UsageError } from '../core/errors.js';

/**
 * diffusers' scheduler classes as their constructors declare them: every config key of each class
 * and its default, read from the __init__ signatures at the pinned diffusers commit 58eb52c0803e
 * (the one shared/refs was made with). Used to tell a user which keys of a config a class does not
 * have (diffusers ignores them with a warning) and which keys Diffuse does not translate.
 */
export const DIFFUSERS_DEFAULTS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  DDIMInverseScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    clip_sample: true, set_alpha_to_one: true, steps_offset: 0, prediction_type: 'epsilon', clip_sample_range: 1.0,
    timestep_spacing: 'leading', rescale_betas_zero_snr: false,
  },
  DDIMScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    clip_sample: true, set_alpha_to_one: true, steps_offset: 0, prediction_type: 'epsilon', thresholding: false,
    dynamic_thresholding_ratio: 0.995, clip_sample_range: 1.0, sample_max_value: 1.0, timestep_spacing: 'leading',
    rescale_betas_zero_snr: false,
  },
  DDPMScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    variance_type: 'fixed_small', clip_sample: true, prediction_type: 'epsilon', thresholding: false,
    dynamic_thresholding_ratio: 0.995, clip_sample_range: 1.0, sample_max_value: 1.0, timestep_spacing: 'leading',
    steps_offset: 0, rescale_betas_zero_snr: false,
  },
  DEISMultistepScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    solver_order: 2, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0, algorithm_type: 'deis', solver_type: 'logrho', lower_order_final: true,
    use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, use_flow_sigmas: false,
    flow_shift: 1.0, timestep_spacing: 'linspace', steps_offset: 0, use_dynamic_shifting: false,
    time_shift_type: 'exponential',
  },
  DPMSolverMultistepInverseScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    solver_order: 2, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0, algorithm_type: 'dpmsolver++', solver_type: 'midpoint', lower_order_final: true,
    euler_at_final: false, use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false,
    use_flow_sigmas: false, flow_shift: 1.0, lambda_min_clipped: -Infinity, variance_type: null,
    timestep_spacing: 'linspace', steps_offset: 0,
  },
  DPMSolverMultistepScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    solver_order: 2, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0, algorithm_type: 'dpmsolver++', solver_type: 'midpoint', lower_order_final: true,
    euler_at_final: false, use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false,
    use_lu_lambdas: false, use_flow_sigmas: false, flow_shift: 1.0, final_sigmas_type: 'zero',
    lambda_min_clipped: -Infinity, variance_type: null, timestep_spacing: 'linspace', steps_offset: 0,
    rescale_betas_zero_snr: false, use_dynamic_shifting: false, time_shift_type: 'exponential',
  },
  DPMSolverSDEScheduler: {
    num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear', trained_betas: null,
    prediction_type: 'epsilon', use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false,
    noise_sampler_seed: null, timestep_spacing: 'linspace', steps_offset: 0,
  },
  DPMSolverSinglestepScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    solver_order: 2, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0, algorithm_type: 'dpmsolver++', solver_type: 'midpoint', lower_order_final: false,
    use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, use_flow_sigmas: false,
    flow_shift: 1.0, final_sigmas_type: 'zero', lambda_min_clipped: -Infinity, variance_type: null,
    use_dynamic_shifting: false, time_shift_type: 'exponential',
  },
  EDMDPMSolverMultistepScheduler: {
    sigma_min: 0.002, sigma_max: 80.0, sigma_data: 0.5, sigma_schedule: 'karras', num_train_timesteps: 1000,
    prediction_type: 'epsilon', rho: 7.0, solver_order: 2, thresholding: false, dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0, algorithm_type: 'dpmsolver++', solver_type: 'midpoint', lower_order_final: true,
    euler_at_final: false, final_sigmas_type: 'zero',
  },
  EDMEulerScheduler: {
    sigma_min: 0.002, sigma_max: 80.0, sigma_data: 0.5, sigma_schedule: 'karras', num_train_timesteps: 1000,
    prediction_type: 'epsilon', rho: 7.0, final_sigmas_type: 'zero',
  },
  EulerAncestralDiscreteScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    prediction_type: 'epsilon', timestep_spacing: 'linspace', steps_offset: 0, rescale_betas_zero_snr: false,
  },
  EulerDiscreteScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    prediction_type: 'epsilon', interpolation_type: 'linear', use_karras_sigmas: false, use_exponential_sigmas: false,
    use_beta_sigmas: false, sigma_min: null, sigma_max: null, timestep_spacing: 'linspace', timestep_type: 'discrete',
    steps_offset: 0, rescale_betas_zero_snr: false, final_sigmas_type: 'zero',
  },
  FlowMatchEulerDiscreteScheduler: {
    num_train_timesteps: 1000, shift: 1.0, use_dynamic_shifting: false, base_shift: 0.5, max_shift: 1.15,
    base_image_seq_len: 256, max_image_seq_len: 4096, invert_sigmas: false, shift_terminal: null,
    use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, time_shift_type: 'exponential',
    stochastic_sampling: false,
  },
  FlowMatchHeunDiscreteScheduler: { num_train_timesteps: 1000, shift: 1.0 },
  HeunDiscreteScheduler: {
    num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear', trained_betas: null,
    prediction_type: 'epsilon', use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false,
    clip_sample: false, clip_sample_range: 1.0, timestep_spacing: 'linspace', steps_offset: 0,
  },
  IPNDMScheduler: { num_train_timesteps: 1000, trained_betas: null },
  KDPM2AncestralDiscreteScheduler: {
    num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear', trained_betas: null,
    use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, prediction_type: 'epsilon',
    timestep_spacing: 'linspace', steps_offset: 0,
  },
  KDPM2DiscreteScheduler: {
    num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear', trained_betas: null,
    use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, prediction_type: 'epsilon',
    timestep_spacing: 'linspace', steps_offset: 0,
  },
  LCMScheduler: {
    num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
    trained_betas: null, original_inference_steps: 50, clip_sample: false, clip_sample_range: 1.0,
    set_alpha_to_one: true, steps_offset: 0, prediction_type: 'epsilon', thresholding: false,
    dynamic_thresholding_ratio: 0.995, sample_max_value: 1.0, timestep_spacing: 'leading', timestep_scaling: 10.0,
    rescale_betas_zero_snr: false,
  },
  LMSDiscreteScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, prediction_type: 'epsilon',
    timestep_spacing: 'linspace', steps_offset: 0,
  },
  PNDMScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    skip_prk_steps: false, set_alpha_to_one: false, prediction_type: 'epsilon', timestep_spacing: 'leading',
    steps_offset: 0,
  },
  TCDScheduler: {
    num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
    trained_betas: null, original_inference_steps: 50, clip_sample: false, clip_sample_range: 1.0,
    set_alpha_to_one: true, steps_offset: 0, prediction_type: 'epsilon', thresholding: false,
    dynamic_thresholding_ratio: 0.995, sample_max_value: 1.0, timestep_spacing: 'leading', timestep_scaling: 10.0,
    rescale_betas_zero_snr: false,
  },
  UniPCMultistepScheduler: {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    solver_order: 2, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0, predict_x0: true, solver_type: 'bh2', lower_order_final: true, disable_corrector: [],
    solver_p: null, use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false,
    use_flow_sigmas: false, flow_shift: 1.0, timestep_spacing: 'linspace', steps_offset: 0, final_sigmas_type: 'zero',
    rescale_betas_zero_snr: false, use_dynamic_shifting: false, time_shift_type: 'exponential', sigma_min: null,
    sigma_max: null, shift_terminal: null,
  },
};

/**
 * How each class that has `rescale_betas_zero_snr` treats the resulting ᾱ = 0 at its last
 * timestep: 'exact' keeps it (DDIM's first step then starts from pure noise), 'clamped' sets it to
 * 2⁻²⁴ so that σ = √((1 − ᾱ)/ᾱ) ≈ 4096 stays finite (diffusers' Euler, Euler ancestral, DPM-Solver
 * multistep and UniPC).
 */
export const ZERO_SNR: Readonly<Record<string, 'exact' | 'clamped'>> = {
  DDIMScheduler: 'exact', DDIMInverseScheduler: 'exact', DDPMScheduler: 'exact', LCMScheduler: 'exact', TCDScheduler: 'exact',
  EulerDiscreteScheduler: 'clamped', EulerAncestralDiscreteScheduler: 'clamped', DPMSolverMultistepScheduler: 'clamped',
  UniPCMultistepScheduler: 'clamped',
};

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Check a config against its class after translating it. `read` holds the keys the translation
 * looked at. A key of the class set to other than its default that the translation never read is
 * not translated: an error names class, key and value (a translation that read a key either
 * honoured it or refused it). Keys the class does not have are returned as warnings, as diffusers
 * ignores them ("… will be ignored"); `_`-prefixed bookkeeping (`_class_name`, `_diffusers_version`)
 * is not reported.
 */
export function auditDiffusersConfig(cls: string, config: Readonly<Record<string, unknown>>, read: ReadonlySet<string>): string[] {
  const defaults = Object.hasOwn(DIFFUSERS_DEFAULTS, cls) ? DIFFUSERS_DEFAULTS[cls] : undefined;
  if (!defaults) return [];
  const keys = Object.keys(config).filter((k) => !k.startsWith('_'));
  const untranslated = keys.find((k) => Object.hasOwn(defaults, k) && !read.has(k) && !same(config[k], defaults[k]));
  if (untranslated) {
    throw new UsageError(`diffusers ${cls} with ${untranslated}=${JSON.stringify(config[untranslated])} is not translated by Diffuse (its default is ${JSON.stringify(defaults[untranslated])})`);
  }
  const unknown = keys.filter((k) => !Object.hasOwn(defaults, k));
  return unknown.length ? [`${cls} has no config key ${unknown.join(', ')}; ignored, as diffusers ignores it`] : [];
}

/** The config seen through a recorder of the keys read (every `c.key` and `c[key]` of a translation). */
export function recordReads(config: Readonly<Record<string, unknown>>, read: Set<string>): Readonly<Record<string, unknown>> {
  return new Proxy(config, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

/** `config` with some keys replaced, keeping reads of the others visible to recordReads. */
export function overlay(config: Readonly<Record<string, unknown>>, patch: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  return new Proxy(config, {
    get: (target, key, receiver) => (typeof key === 'string' && Object.hasOwn(patch, key) ? patch[key] : Reflect.get(target, key, receiver) as unknown),
  });
}

/**
 * Keys a class stores but never reads in its arithmetic (e.g. TCDScheduler's thresholding): any
 * value translates, so they count as read.
 */
export function unusedUpstream(config: Readonly<Record<string, unknown>>, keys: readonly string[]): void {
  for (const k of keys) void config[k];
}

/** diffusers scheduler classes Diffuse does not translate, and why. */
export const UNTRANSLATED: Readonly<Record<string, string>> = {
  IPNDMScheduler: "its schedule is v-diffusion's (σ = sin²(πs/2) on α² + σ² = 1, starting at α = 0, for v-diffusion models), which no Diffuse process provides; Diffuse's ipndm sampler runs the same Adams–Bashforth steps on other schedules",
  SASolverScheduler: 'SA-Solver is not implemented',
  ScoreSdeVeScheduler: 'the predictor–corrector VE sampler of Song et al. 2021 is not translated',
  ScoreSdeVpScheduler: 'the continuous VP SDE sampler of Song et al. 2021 is not translated',
  CMStochasticIterativeScheduler: 'consistency-model sampling with a Karras-σ consistency model is not translated (lcm covers LCM-style models)',
  UnCLIPScheduler: 'UnCLIP (Karlo) is not translated',
  VQDiffusionScheduler: 'discrete VQ diffusion is not translated (Diffuse\'s discrete samplers are masked diffusion)',
  KarrasVeScheduler: 'the stochastic Karras VE sampler is not translated; use heun / euler with churn',
  RePaintScheduler: 'RePaint inpainting is not translated',
  AmusedScheduler: 'aMUSEd masked-token sampling is not translated',
  DDIMParallelScheduler: 'parallel sampling is not translated; DDIMScheduler is',
  DDPMParallelScheduler: 'parallel sampling is not translated; DDPMScheduler is',
  DDPMWuerstchenScheduler: "Würstchen's continuous-time DDPM is not translated",
  TCDSchedulerParallel: 'not translated',
  CogVideoXDDIMScheduler: "CogVideoX's DDIM variant is not translated; DDIMScheduler is",
  CogVideoXDPMScheduler: "CogVideoX's DPM variant is not translated",
  FlowMatchLCMScheduler: 'FlowMatch LCM is not translated',
};
