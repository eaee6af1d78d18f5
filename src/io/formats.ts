import * as v from 'valibot';
import { LIMITS } from '../core/limits.js';
import type { SolverSchedule } from '../samplers/schedule.js';
import type { LsdCoefficients } from '../samplers/lsd.js';
import type { SearchState } from '../search/evolution.js';
import type { S3State } from '../search/s3.js';
import type { DistillState } from '../search/lsd.js';
import type { MarkovChainSpec } from '../discrete/oracle/markov.js';
import { between, decreasing, finite, flag, integer, list, looseRecord, oneOf, positive, record, text, validate, type Schema } from './schema.js';

/**
 * The JSON files Diffuse reads besides cards and mixtures: grids, solver schedules, LSD
 * coefficients, search results with their resumable state, and Markov chains. Each schema
 * bounds every count and refuses unknown keys, so a file is either what it says or one clear error.
 */

/** Process times of a grid file: 2 to LIMITS.steps + 1, strictly decreasing. */
const times = decreasing(2, LIMITS.steps + 1);

export const explicitGridSchema = record({ type: v.literal('explicit', 'must be "explicit"'), times }, '{"type": "explicit", "times": [1, 0.5, 0]}');

const stepPlan = record({ prediction: oneOf(['data', 'noise']), order: integer(1, 3), corrector: flag }, '{"prediction": "data", "order": 2, "corrector": true}');

export const solverScheduleSchema: Schema<SolverSchedule> = v.pipe(
  record({ times, steps: list(stepPlan, 1, LIMITS.steps) }, '{"times": [1, 0.5, 0], "steps": [{"prediction": "data", "order": 1, "corrector": false}, …]}'),
  v.check((s) => s.times.length === s.steps.length + 1, '"times" must have one entry more than "steps" (a time before and after each step)'),
);

const pair = v.strictTuple([finite, finite], 'must be a pair [c0, c1] of finite numbers');

export const lsdCoefficientsSchema: Schema<LsdCoefficients> = v.pipe(
  record({ kind: v.literal('lsd', 'must be "lsd"'), plus: flag, times, coefficients: list(pair, 1, LIMITS.steps) }, '{"kind": "lsd", "plus": false, "times": […], "coefficients": [[c0, c1], …]}'),
  v.check((c) => c.coefficients.length === c.times.length - 1, '"coefficients" must have one pair per step (one fewer than "times")'),
);

/** A fitness: finite, or null where JSON wrote Infinity (a run that failed scores worst). */
const fitness = v.pipe(v.union([finite, v.null()], 'must be a number or null'), v.transform((x) => x ?? Infinity));
const ends = { start: finite, end: finite, coordinate: oneOf(['logsnr', 'time']), steps: integer(1, LIMITS.steps) };
const counters = { generation: integer(-1, LIMITS.generations), history: list(fitness, 0, LIMITS.generations + 1), evaluations: integer(0, Number.MAX_SAFE_INTEGER) };
const evolution = {
  population: integer(2, LIMITS.population), generations: integer(0, LIMITS.generations), parents: integer(1, LIMITS.population),
  crossover: between(0, 1), mutationRate: between(0, 1), mutationScale: positive, seed: integer(0, LIMITS.seed),
};
/** Saved populations and archives: the archive is bounded where it is kept (search/evolution.ts). */
const MAX_SAVED = 100_000;
const candidate = record({ times: list(finite, 0, LIMITS.steps), fitness });
const scoredSchedule = record({ times: list(finite, 0, LIMITS.steps), plan: v.string('must be a string'), fitness });

const autodiffusionState = record({
  kind: v.literal('autodiffusion'), options: record(evolution), ...ends, ...counters,
  population: list(candidate, 0, MAX_SAVED), initial: candidate, archive: list(candidate, 0, MAX_SAVED),
});
const s3State = record({
  kind: v.literal('s3'), options: record({ ...evolution, screen: integer(1, LIMITS.population) }), ...ends, ...counters,
  population: list(scoredSchedule, 0, MAX_SAVED), initial: scoredSchedule, archive: list(scoredSchedule, 0, MAX_SAVED),
});
const lsdScored = record({ times: list(finite, 2, LIMITS.steps + 1), coefficients: list(pair, 1, LIMITS.steps), fitness });
const lsdState = record({
  kind: v.literal('lsd'),
  options: record({ iterations: integer(0, LIMITS.iterations), learningRate: positive, perturbation: positive, plus: flag, seed: integer(0, LIMITS.seed) }),
  grid: list(finite, 2, LIMITS.steps + 1), iteration: integer(0, LIMITS.iterations),
  theta: list(finite, 0, 4 * LIMITS.steps), m: list(finite, 0, 4 * LIMITS.steps), v: list(finite, 0, 4 * LIMITS.steps),
  best: lsdScored, initialFitness: fitness, history: list(fitness, 0, LIMITS.iterations + 1), evaluations: integer(0, Number.MAX_SAFE_INTEGER),
  thetaFitness: v.optional(fitness), stepScale: v.optional(positive),
});

export type SearchMethod = 'autodiffusion' | 's3' | 'lsd' | 'lsd+';
export const searchMethods: readonly SearchMethod[] = ['autodiffusion', 's3', 'lsd', 'lsd+'];

/** What `diffuse search` writes: plain JSON that sample/bench load and --resume continues. */
export interface SearchFile {
  format: 'diffuse-search/1';
  method: SearchMethod;
  model: string;
  process: Readonly<Record<string, unknown>>;
  sampler: string;
  options: Record<string, unknown>;
  nfe: number;
  fitness: number;
  initialFitness: number;
  stopped: boolean;
  evaluations: number;
  /** AutoDiffusion: the grid (--grid-file); S³: the schedule (--schedule); LSD: the coefficients (--lsd). */
  grid?: { type: 'explicit'; times: number[] };
  schedule?: SolverSchedule;
  coefficients?: LsdCoefficients;
  state: SearchState | S3State | DistillState;
}

export const searchFileSchema: Schema<SearchFile> = looseRecord({
  format: v.literal('diffuse-search/1', 'must be "diffuse-search/1" (a file `diffuse search` wrote)'),
  method: oneOf(searchMethods),
  model: v.string(), process: looseRecord({}), sampler: v.string(), options: looseRecord({}),
  nfe: integer(1, LIMITS.steps), fitness, initialFitness: fitness, stopped: flag, evaluations: integer(0, Number.MAX_SAFE_INTEGER),
  grid: v.optional(explicitGridSchema), schedule: v.optional(solverScheduleSchema), coefficients: v.optional(lsdCoefficientsSchema),
  state: v.variant('kind', [autodiffusionState, s3State, lsdState], 'must be a search state {"kind": "autodiffusion" | "s3" | "lsd", …}'),
}) as Schema<SearchFile>;

/**
 * A run chosen for Gaussian teleportation (bench/teleport.ts writes them into a model folder's
 * searched/): the sampler, its options and its explicit grid, whose first time is where x_T is
 * teleported to, and the NFE and guidance scale it was chosen for.
 */
export interface TeleportFile {
  format: 'diffuse-teleport/1';
  model: string;
  sampler: string;
  options: Record<string, unknown>;
  grid: { type: 'explicit'; times: number[] };
  nfe: number;
  cfg: number;
}

export const teleportFileSchema: Schema<TeleportFile> = looseRecord({
  format: v.literal('diffuse-teleport/1', 'must be "diffuse-teleport/1"'),
  model: v.string(), sampler: v.string(), options: looseRecord({}), grid: explicitGridSchema,
  nfe: integer(1, LIMITS.steps), cfg: finite,
}) as Schema<TeleportFile>;

/** A Markov chain over V tokens of order k: V^k initial probabilities and V^k rows of V. */
export const markovChainSchema: Schema<MarkovChainSpec> = v.pipe(
  record({
    vocabSize: integer(1, LIMITS.vocabulary),
    order: v.optional(integer(1, 16)),
    initial: list(v.pipe(finite, v.minValue(0, 'must be a probability ≥ 0')), 1, LIMITS.windows),
    transition: list(list(v.pipe(finite, v.minValue(0, 'must be a probability ≥ 0')), 1, LIMITS.vocabulary), 1, LIMITS.windows),
  }, '{"vocabSize": 3, "order": 1, "initial": [V^k numbers], "transition": [V^k rows of V numbers]}'),
  v.check((c) => (c.vocabSize ** (c.order ?? 1)) <= LIMITS.windows, `vocabSize^order (the chain's window states) must be at most ${LIMITS.windows}`),
  v.check((c) => c.initial.length === c.vocabSize ** (c.order ?? 1), '"initial" must have vocabSize^order entries'),
  v.check((c) => c.transition.length === c.vocabSize ** (c.order ?? 1) && c.transition.every((r) => r.length === c.vocabSize), '"transition" must have vocabSize^order rows of vocabSize entries'),
);

/** Held-out indices a classifier card names (training/classifier.py writes them). */
export const heldOutSchema = list(integer(0, Number.MAX_SAFE_INTEGER), 1, LIMITS.samples);

export { validate, text };

/** Shape of one sample: 1 to 8 positive axes, at most LIMITS.dims values in all. */
export const sampleShapeSchema = v.custom<number[]>(
  (s) => Array.isArray(s) && s.length >= 1 && s.length <= 8 && s.every((d) => Number.isInteger(d) && d > 0) && s.reduce((a: number, b: number) => a * b, 1) <= LIMITS.dims,
  `must be 1 to 8 positive integers holding at most ${LIMITS.dims} values in all, e.g. [1, 28, 28]`,
);

/** [low, high] with finite low < high. */
export const dataRangeSchema = v.custom<[number, number]>(
  (r) => Array.isArray(r) && r.length === 2 && r.every((x) => Number.isFinite(x)) && (r[0] as number) < (r[1] as number),
  'must be [low, high] with finite low < high, e.g. [-1, 1]',
);

/** The card training/classifier.py writes beside a classifier's .onnx. */
export const classifierCardSchema = looseRecord({
  format: v.literal('diffuse-classifier-card/v1', 'must be "diffuse-classifier-card/v1" (a card training/classifier.py wrote)'),
  onnx: text,
  input: text,
  outputs: looseRecord({ logits: text, features: text }, '{"logits": "logits", "features": "features"}'),
  sample_shape: sampleShapeSchema,
  data_range: dataRangeSchema,
  num_classes: integer(1, LIMITS.classes),
  feature_dim: integer(1, 1 << 20),
  held_out: looseRecord({ file: text, accuracy: between(0, 1) }, '{"file": "held_out.json", "accuracy": 0.97}'),
  data: v.optional(oneOf(['mnist', 'fashion-mnist'])),
  /** A precomputed Gaussian fit of the features of n real images (npy [d + 1, d]: the mean, then the covariance). */
  reference_fit: v.optional(looseRecord({ file: text, n: integer(2, LIMITS.samples) }, '{"file": "reference-fit.npy", "n": 10000}')),
});
export type ClassifierCard = v.InferOutput<typeof classifierCardSchema>;

const optionalFlag = v.optional(v.nullable(flag));
/**
 * A diffusers scheduler_config.json: the keys Diffuse reads are type- and range-checked; keys it
 * does not read (diffusers' bookkeeping such as _class_name, _diffusers_version) pass through.
 */
export const diffusersConfigSchema = looseRecord({
  _class_name: v.optional(text),  num_train_timesteps: v.optional(integer(2, LIMITS.trainSteps)),
  beta_start: v.optional(between(0, 1)),
  beta_end: v.optional(between(0, 1)),
  beta_schedule: v.optional(text),
  trained_betas: v.optional(v.nullable(list(between(0, 1), 2, LIMITS.trainSteps))),
  prediction_type: v.optional(text),
  timestep_spacing: v.optional(oneOf(['linspace', 'leading', 'trailing'])),
  steps_offset: v.optional(integer(0, LIMITS.trainSteps)),
  solver_order: v.optional(integer(1, 4)),
  clip_sample: optionalFlag,
  clip_sample_range: v.optional(positive),
  thresholding: optionalFlag,
  dynamic_thresholding_ratio: v.optional(between(0, 1)),
  sample_max_value: v.optional(positive),
  final_sigmas_type: v.optional(oneOf(['zero', 'sigma_min'])),
  lower_order_final: optionalFlag,
  use_karras_sigmas: optionalFlag,
  use_exponential_sigmas: optionalFlag,
  use_beta_sigmas: optionalFlag,
  use_flow_sigmas: optionalFlag,
  use_lu_lambdas: optionalFlag,
  use_dynamic_shifting: optionalFlag,
  rescale_betas_zero_snr: optionalFlag,
});
