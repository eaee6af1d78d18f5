import type { Prediction } from '../param/convert.js';
import type { Process } from '../process/types.js';
import type { ProcessConfig } from '../process/index.js';
import type { GridSpec } from '../grid/index.js';
import type { NamedRun } from './names.js';

/** Fills `out` with the next draw of standard-normal noise (k-diffusion's noise_sampler). */
export type NoiseSampler = (out: Float64Array) => Float64Array;

/** Everything a sampler may use besides x, the grid and its own options. */
export interface SampleContext {
  readonly process: Process;
  /** Number of samples in the batch and values per sample. */
  readonly n: number;
  readonly dim: number;
  /** D(x, t) ≈ E[x0 | x_t]: returns a fresh array; each call is one NFE. */
  denoise(x: Float64Array, t: number): Promise<Float64Array>;
  /** Fresh standard-normal noise of the batch's size (seeded generator or replayed noise). */
  noise(): Float64Array;
  /**
   * Call at the start of step i of `total` (progress bar and error messages) with the sample x at
   * grid[i] where the sampler holds it: a request's `project` may change it in place there.
   */
  step(i: number, total: number, x?: Float64Array): void;
}

/**
 * A sampler is a function (k-diffusion's design): it integrates from x at grid[0] through the
 * decreasing times grid[1..] of ctx.process and returns x at the last one. It keeps no state
 * between calls; multistep history lives in its local variables.
 */
export type SamplerFn<O> = (x: Float64Array, grid: Float64Array, ctx: SampleContext, options: O) => Promise<Float64Array>;

/** A reference library's way of stating a run, translated into Diffuse's terms. */
export interface Translation {
  sampler: string;
  options: Record<string, unknown>;
  process: ProcessConfig;
  grid: GridSpec;
  /**
   * How the reference scales z into x_T: 'prior' (default) x_T = priorStd(t_0)·z, or 'sigma'
   * x_T = σ(t_0)·z (diffusers' Euler family, whose init_noise_sigma is σ_max with linspace spacing), or
   * 'sigma-plus-one' x_T = α(t_0)·√(σ_VE(t_0)² + 1)·z (diffusers' EDM classes: init_noise_sigma √(σ_max² + 1)).
   */
  init?: 'prior' | 'sigma' | 'sigma-plus-one';
  /** What the reference's model predicts (diffusers' prediction_type); absent: ε. Samplers never branch on it: the model's outputs are converted at the edge. */
  prediction?: Prediction;
  /** The reference times its model by log-σ interpolation, made an integer or not (diffusersTimeModel); absent: at the grid's times. */
  modelTime?: 'round' | 'floor' | 'log-sigma';
  /** Timesteps per unit of process time where they differ (flow σ's: num_train_timesteps); see diffusersTimeModel. */
  modelTimeScale?: number;
  /** 'invert': the reference maps data to noise (DDIMInverseScheduler), run with invert() over `grid`. */
  direction?: 'invert';
  /** Config keys the reference class does not have (ignored, as the reference ignores them). */
  warnings?: string[];
}

/**
 * What pipelines pass to diffusers' set_timesteps besides the step count: `mu`, the resolution-
 * dependent shift of FlowMatch schedulers with use_dynamic_shifting (Flux and SD3 pipelines compute
 * it from the image's token count, see flowShiftMu), and LCM's img2img `strength`.
 */
export interface SetTimesteps {
  mu?: number;
  strength?: number;
}

/** How a reference library's scheduler class or sampler function becomes a Diffuse run (see findReference). */
export interface ReferenceMapping {
  library: 'diffusers' | 'k-diffusion' | 'dpm-solver';
  /** Class or function name as the reference spells it, e.g. "DDIMScheduler", "sample_euler". */
  name: string;
  /**
   * Translate the reference's full config (as it serialises it) for a run of `steps` steps, with
   * what the pipeline passes to diffusers' set_timesteps besides the step count.
   */
  translate(config: Readonly<Record<string, unknown>>, steps: number, run?: SetTimesteps): Translation;
  /**
   * The reference's own list of timesteps for this grid, when it is not simply the grid without
   * its end (e.g. PNDM repeats timesteps for its Runge–Kutta warm-up).
   */
  timesteps?(grid: Float64Array, steps: number, config?: Readonly<Record<string, unknown>>): number[];
}

/** The value types of sampler options (the CLI parses strings by the default's type). */
export type OptionValue = number | boolean | string;

/** A sampler in the registry: its names, what it implements, its options and defaults, and how it runs. */
export interface SamplerEntry<O extends Record<string, OptionValue> = Record<string, OptionValue>> {
  /** Diffuse's name, kebab-case, e.g. "dpmpp-2m". */
  name: string;
  /** Names users know: diffusers classes/configs, k-diffusion functions, A1111/ComfyUI labels. */
  aliases: readonly string[];
  family: string;
  description: string;
  /** Paper and equation/algorithm it implements. */
  cite: string;
  /** Order of convergence of the deterministic solver (for SDE samplers: of the ODE it reduces to). */
  order: number;
  stochastic: boolean;
  /** Default options; their types define how CLI strings are parsed. */
  defaults: O;
  /** Allowed values for string options, shown in errors and `diffuse list`. */
  choices?: Partial<Record<keyof O, readonly string[]>>;
  /** Extra validation across options; throw UsageError with what is accepted. */
  validate?(options: O): void;
  /** The grid used when the caller names none. */
  defaultGrid?: GridSpec;
  run: SamplerFn<O>;
  references?: readonly ReferenceMapping[];
  /** For a name from another tool (A1111, ComfyUI): what it stands for (Diffuse's sampler in `sampler`). */
  named?: NamedRun;
}

/**
 * A registry entry that keeps, for the typed API only, its name N and option type O (see
 * SamplerName and SamplerOptions); at run time it is a plain SamplerEntry.
 */
export type TypedEntry<N extends string, O> = SamplerEntry & {
  readonly name: N;
  /** @internal Type-only: the sampler's options; never set. */
  readonly __options?: O;
};

/**
 * Register a sampler: erase the option type so entries of all families fit one registry array,
 * keeping the name and the option type (the run function's) for SamplerOptions.
 */
export function entry<const N extends string, O extends Record<string, OptionValue>>(
  e: Omit<SamplerEntry<O>, 'name' | 'run' | 'validate' | 'choices' | 'defaults'> & {
    name: N;
    defaults: NoInfer<O>;
    run: SamplerFn<O>;
    validate?(options: NoInfer<O>): void;
    choices?: Partial<Record<keyof NoInfer<O>, readonly string[]>>;
  },
): TypedEntry<N, O> {
  return e as unknown as TypedEntry<N, O>;
}
