import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import type { GridSpec } from '../grid/spec.js';
import { Rng } from '../core/rng.js';
import { usage } from '../core/errors.js';
import { sample } from '../sample.js';
import { findSampler } from '../samplers/index.js';
import * as v from 'valibot';
import { finite, integer, list, record, text, validate } from '../io/schema.js';
import { LIMITS } from '../core/limits.js';

/**
 * Diffusion ODEs with an optimal boundary condition (Ma, Yang, Yang, Fu & Liu, ICLR 2024): a
 * conditional model solved by a deterministic sampler maps each start x_T to one restoration
 * h(x_T, y); the paper shows the x_T that restores best is nearly the same for every input y, and
 * estimates it once on a reference set of (degraded, clean) pairs by drawing candidate x_T and
 * keeping the one whose restorations are closest to the clean images (its Sec. 3.3; the paper
 * scores with LPIPS, here with the mean squared error). Every later input starts from that x_T.
 */

/** Options of {@link searchBoundary}. */
export interface BoundarySearchOptions {
  /** The conditional model for a batch of condition images (e.g. net.withCondition). */
  conditioned: (condition: Float64Array) => Model;
  process: Process;
  /** A deterministic sampler (ddim, dpmpp-2m, …) and its steps or grid, as the restorations will use. */
  sampler: string;
  steps?: number;
  grid?: GridSpec | Float64Array;
  /** The reference set: n condition images and the n clean images they came from. */
  conditions: Float64Array;
  clean: Float64Array;
  n: number;
  /** Number of candidate starts and the seed they are drawn from (candidate k: Rng(seed, k + 1)). */
  candidates: number;
  seed: number;
  /** Score the restorations clipped to this range (the data range they are shown in), as they will be used. */
  clip?: readonly [number, number];
  /** Called after each candidate with its mean squared error. */
  onCandidate?: (k: number, mse: number) => void;
}

/** The chosen start (standard normals z; x_T = priorStd·z), its candidate index, and every candidate's mean squared error. */
export interface Boundary {
  z: Float64Array;
  index: number;
  mse: Float64Array;
}

/** Candidate k of a search: standard normals from the seed's stream k + 1. */
export function boundaryCandidate(dim: number, seed: number, k: number): Float64Array {
  return new Rng(seed, k + 1).fillNormal(new Float64Array(dim));
}

/** n copies of one start z, for a batch that starts every sample from the boundary condition. */
export function repeatBoundary(z: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * z.length);
  for (let i = 0; i < n; i++) out.set(z, i * z.length);
  return out;
}

/** Estimates the optimal boundary condition on the reference set: the candidate start with the least mean squared error. */
export async function searchBoundary(o: BoundarySearchOptions): Promise<Boundary> {
  usage(Number.isInteger(o.candidates) && o.candidates >= 1, `candidates must be a positive integer, got ${o.candidates}`);
  usage(!findSampler(o.sampler).stochastic, `the boundary condition fixes the start of a deterministic (ODE) sampler; ${o.sampler} draws fresh noise at every step`);
  usage(Number.isInteger(o.n) && o.n >= 1, `the reference set must hold n ≥ 1 pairs, got ${o.n}`);
  const model = o.conditioned(o.conditions);
  const dim = model.sampleShape.reduce((a, b) => a * b, 1);
  usage(o.clean.length === o.n * dim, `the clean reference images must hold n × ${dim} = ${o.n * dim} values, got ${o.clean.length}`);
  const mse = new Float64Array(o.candidates);
  let index = 0;
  for (let k = 0; k < o.candidates; k++) {
    const z = repeatBoundary(boundaryCandidate(dim, o.seed, k), o.n);
    const r = await sample({ model, process: o.process, sampler: o.sampler, steps: o.steps, grid: o.grid, n: o.n, z, seed: o.seed });
    let se = 0;
    for (let i = 0; i < r.x.data.length; i++) {
      const v = o.clip ? Math.min(o.clip[1], Math.max(o.clip[0], r.x.data[i])) : r.x.data[i];
      se += (v - o.clean[i]) * (v - o.clean[i]);
    }
    mse[k] = se / r.x.data.length;
    if (mse[k] < mse[index]) index = k;
    o.onCandidate?.(k, mse[k]);
  }
  return { z: boundaryCandidate(dim, o.seed, index), index, mse };
}

/** The `format` of a boundary file (`diffuse restore --save-boundary`). */
export const BOUNDARY_FORMAT = 'diffuse-boundary/v1';

/** A searched boundary condition as saved: the start z and how it was found. */
export interface BoundaryFile {
  format: typeof BOUNDARY_FORMAT;
  /** The model (as given to the search), sampler and steps it was searched for. */
  model: string;
  sampler: string;
  steps: number;
  /** Reference pairs, candidates, seed, the chosen candidate and its mean squared error. */
  reference: number;
  candidates: number;
  seed: number;
  index: number;
  mse: number;
  /** The start's standard normals, sample_shape values. */
  z: number[];
}

const boundarySchema = record({
  format: v.literal(BOUNDARY_FORMAT, `must be "${BOUNDARY_FORMAT}"`),
  model: text,
  sampler: text,
  steps: integer(1, LIMITS.steps),
  reference: integer(1, LIMITS.samples),
  candidates: integer(1, LIMITS.samples),
  seed: integer(0, LIMITS.seed),
  index: integer(0, LIMITS.samples),
  mse: finite,
  z: list(finite, 1, 1 << 24),
});

/** Validates a boundary file's data; `dim` (the model's sample size) must match its z. */
export function parseBoundaryFile(value: unknown, dim: number, source = 'boundary file'): BoundaryFile {
  const b = validate(boundarySchema, value, source);
  usage(b.z.length === dim, `${source}: "z" has ${b.z.length} values but the model's samples have ${dim}`);
  return b;
}
