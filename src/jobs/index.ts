import * as v from 'valibot';
import { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { finite, integer, looseRecord, list, record, text, validate } from '../io/schema.js';
import { sample, type SampleRequest } from '../sample.js';
import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import type { GridSpec } from '../grid/spec.js';

/**
 * @module
 * Sampling jobs split into shards that any number of workers run, on one machine or many (the
 * CLI's `diffuse submit / worker / collect` put them on a BullMQ queue). Every random number of
 * sample i comes from its own Philox stream (seed, i + 1): x_T first, then each step's noise; class
 * labels are cycled by the global index. So a shard of samples [first, first + count) computes
 * exactly what those samples are in one run of all n, and the assembled result is the same bits
 * whatever the number of workers or the shard size.
 */

/** The format tag of a job spec. */
export const JOB_FORMAT = 'diffuse-job/1';

/** What a job samples: a model (as `--model` names it), a sampler on a grid, n samples from a seed, cut into shards. */
export interface JobSpec {
  /** Always JOB_FORMAT. */
  format: typeof JOB_FORMAT;
  /** The model as the worker resolves it: a shipped NAME, builtin:NAME, gmm:FILE.json, data:FILE.npy or onnx:CARD.json. */
  model: string;
  /** Exact models: the process and what the oracle predicts (networks take their card's). */
  process?: string;
  prediction?: string;
  /** The sampler's registry name and its options. */
  sampler: string;
  options: Record<string, unknown>;
  /** The grid; absent: the model's or sampler's default with `steps` steps. */
  grid?: GridSpec;
  steps: number;
  /** Class-conditional networks: the labels, cycled over the samples (default 0..K−1), and the CFG scale (1 = none). */
  labels?: number[];
  cfg: number;
  /** Number of samples, and the seed whose streams 1 … n they draw from. */
  n: number;
  seed: number;
  /** Samples per shard; the last shard holds the rest. */
  shardSize: number;
}

const specSchema = record({
  format: v.literal(JOB_FORMAT, `must be "${JOB_FORMAT}"`),
  model: text,
  process: v.optional(text),
  prediction: v.optional(text),
  sampler: text,
  options: looseRecord({}),
  grid: v.optional(looseRecord({ type: text })),
  steps: integer(1, LIMITS.steps),
  labels: v.optional(list(integer(0, LIMITS.classes), 1, LIMITS.samples)),
  cfg: finite,
  n: integer(1, LIMITS.jobSamples),
  seed: integer(0, LIMITS.seed),
  shardSize: integer(1, LIMITS.samples),
});

/** Validate plain job data (a spec read back from the queue or a file); `source` prefixes every error. */
export function parseJobSpec(value: unknown, source = 'job'): JobSpec {
  return validate(specSchema, value, source) as unknown as JobSpec;
}

/** Number of shards of a job. */
export function shardCount(spec: Pick<JobSpec, 'n' | 'shardSize'>): number {
  return Math.ceil(spec.n / spec.shardSize);
}

/** The samples of shard k: [first, first + count). */
export function shardRange(spec: Pick<JobSpec, 'n' | 'shardSize'>, k: number): { first: number; count: number } {
  const shards = shardCount(spec);
  if (!(Number.isInteger(k) && k >= 0 && k < shards)) throw new UsageError(`shard ${k} is not one of the job's ${shards} shards 0..${shards - 1}`);
  const first = k * spec.shardSize;
  return { first, count: Math.min(spec.shardSize, spec.n - first) };
}

/** The class label of each sample of [first, first + count): `labels` cycled by the global index. */
export function shardLabels(labels: readonly number[], first: number, count: number): Int32Array {
  return Int32Array.from({ length: count }, (_, j) => labels[(first + j) % labels.length]);
}

/**
 * Noise keyed by sample index: sample first + j draws from Philox stream (seed, first + j + 1),
 * x_T's standard normals first, then each step's draw, so a sample's numbers never depend on
 * which other samples share its batch.
 */
export function keyedNoise(seed: number, first: number, count: number, dim: number): {
  /** x_T's standard normals, count × dim. */
  z: Float64Array;
  /** Fills a count × dim draw of step noise, each sample from its own stream. */
  noise: (out: Float64Array) => Float64Array;
} {
  if (first + count > LIMITS.jobSamples) throw new UsageError(`sample index ${first + count - 1} is past the ${LIMITS.jobSamples} keyed streams of a job`);
  const streams = Array.from({ length: count }, (_, j) => new Rng(seed, first + j + 1));
  const fill = (out: Float64Array) => {
    streams.forEach((rng, j) => rng.fillNormal(out.subarray(j * dim, (j + 1) * dim)));
    return out;
  };
  return { z: fill(new Float64Array(count * dim)), noise: fill };
}

/** One shard's run: `model` is already bound to the shard's samples (labels, guidance). */
export interface ShardRequest {
  /** The job. */
  spec: JobSpec;
  /** The shard's index, 0 … shardCount − 1. */
  k: number;
  /** The model, bound to this shard's samples. */
  model: Model;
  /** The process the model is read on. */
  process: Process;
  /** Progress of the shard's run (sample()'s onStep). */
  onStep?: SampleRequest['onStep'];
}

/** The samples of shard k (count × dim, row-major), exactly as in one run of the whole job. */
export async function runShard(r: ShardRequest): Promise<Float64Array> {
  const { spec, k } = r;
  const { first, count } = shardRange(spec, k);
  const dim = r.model.sampleShape.reduce((a, b) => a * b, 1);
  const { z, noise } = keyedNoise(spec.seed, first, count, dim);
  const out = await sample({
    model: r.model, process: r.process, sampler: spec.sampler, options: spec.options, steps: spec.steps,
    ...(spec.grid ? { grid: spec.grid } : {}), n: count, seed: spec.seed, z, noise, onStep: r.onStep,
  });
  return out.x.data;
}
