import { UsageError } from './errors.js';

/**
 * Upper bounds on every count a user or a file can give, checked before any work so that a typo
 * (1e9 for 1e3) is a one-line error instead of minutes of allocation and an out-of-memory abort.
 * Each bound is far above real use and far below what breaks the machine; the reason is beside it.
 */
export const LIMITS = {
  /** Grid steps and model calls: 10⁵ is 100× DDPM's 1000 steps; a grid of 10⁵ times is 0.8 MB. */
  steps: 100_000,
  /** Training timesteps of a discrete schedule (diffusers' num_train_timesteps is 1000). */
  trainSteps: 100_000,
  /** Samples per run; the memory estimate below usually binds first. */
  samples: 10_000_000,
  /** Samples of a distributed job (each keys its own Philox stream, of which there are 2³²). */
  jobSamples: 1_000_000_000,
  /** Values in one sample: 2²⁶ = 67 M (a 4096 × 4096 RGB image is 50 M); the memory budget usually binds first. */
  dims: 1 << 26,
  /** Class labels of a conditional model (ImageNet has 1000; 10⁵ covers any label set). */
  classes: 100_000,
  /** Mixture components of a GMM file (each is a d-vector mean and variance). */
  components: 1_000_000,
  /** Search population / generations / parents, distillation iterations, screened candidates. */
  population: 10_000,
  generations: 100_000,
  iterations: 1_000_000,
  /** Markov chain length and chains of the discrete commands. */
  sequence: 100_000,
  vocabulary: 1_000_000,
  /** A Markov chain's window table V^k: 10⁶ rows. */
  windows: 1_000_000,
  /** Seeds key Philox with two 32-bit words: any integer below 2⁵³. */
  seed: Number.MAX_SAFE_INTEGER,
  /** Points of a measured curve (EMS λ nodes, DMCMC chains, error-vs-NFE budgets). */
  points: 100_000,
} as const;

/** Memory a run may plan to use unless the user raises it (CLI `--max-memory`): 4 GiB. */
const GIB = 1024 * 1024 * 1024;

export const DEFAULT_MEMORY_BUDGET = 4 * GIB;

const gib = (bytes: number) => `${(bytes / GIB).toFixed(bytes < GIB ? 3 : 1)} GiB`;

/**
 * Refuse a run whose estimated memory exceeds the budget, before it allocates anything.
 * `what` says where the bytes come from, e.g. "64 samples × 784 values × 8 B × 12 working copies".
 */
export function checkMemory(bytes: number, what: string, budget = DEFAULT_MEMORY_BUDGET): void {
  if (!(bytes <= budget)) {
    throw new UsageError(`this run needs about ${gib(bytes)} (${what}), over the memory budget of ${gib(budget)}; lower the count or raise the budget with --max-memory <GiB>`);
  }
}

/**
 * Working copies of the n × d state a sampler keeps at once (x, x_T, the model output, up to four
 * multistep history entries, temporaries, the output tensor and the exact endpoint).
 */
export const WORKING_COPIES = 12;

/** Bytes of a run over n samples of d float64 values. */
export const sampleBytes = (n: number, d: number, copies = WORKING_COPIES) => n * d * 8 * copies;

/** Check an integer count against [min, max] (a LIMITS entry), naming it as `what` in the error. */
export function checkCount(value: number, what: string, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}
