import type { Process } from '../process/types.js';
import type { Model } from '../models/types.js';
import { GaussianMixture, GmmOracle, type GmmSpec } from '../models/oracle/gmm.js';
import type { Prediction } from '../param/convert.js';
import { makeGrid } from '../grid/index.js';
import { sample } from '../sample.js';
import { pfOdeEndpoint } from '../ode/pf-ode.js';
import { median, sampleErrors } from '../metrics/error.js';
import { Rng } from '../core/rng.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * Fitness functions for grid searches: a sampler run on a fixed batch of x_T, scored against the
 * exact PF-ODE endpoint (oracles) or against a many-step teacher run (any model). Each batch is
 * drawn from its own seed, so a search can be scored on a training batch and judged on a held-out one.
 */

interface RunSpec {
  process: Process;
  /** Sampler name or alias, and its options. */
  sampler: string;
  options?: Readonly<Record<string, unknown>>;
  /** Samples in the batch (default 64). */
  n?: number;
  /** Seed of the batch's x_T (and of a stochastic sampler's noise); default 0. */
  seed?: number;
}

/** What {@link oracleFitness} scores: a sampler on the exact model of a Gaussian mixture. */
export interface OracleFitnessRequest extends RunSpec {
  /** The mixture whose exact model (GmmOracle) the sampler runs and whose exact PF-ODE is the reference. */
  gmm: GmmSpec | GaussianMixture;
  /** What the oracle returns before the denoiser normalises it (default epsilon). */
  prediction?: Prediction;
}

/** What {@link teacherFitness} scores: a sampler on any model, against a many-step teacher run of it. */
export interface TeacherFitnessRequest extends RunSpec {
  /** The model both the sampler and the teacher run. */
  model: Model;
  /** The teacher: a sampler and its step count on a log-SNR grid between the same ends (default dpmpp-2m, 200). */
  teacher?: { sampler: string; steps: number; options?: Readonly<Record<string, unknown>> };
}

/** Median over samples of the per-sample RMS distance (the robust error of src/bench.ts). */
export function medianSampleDistance(x: Float64Array, y: Float64Array, d: number): number {
  const n = x.length / d;
  const per = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * d; j < (i + 1) * d; j++) s += (x[j] - y[j]) * (x[j] - y[j]);
    per[i] = Math.sqrt(s / d);
  }
  return median(per);
}

function batchSize(n: number | undefined): number {
  const size = n ?? 64;
  checkCount(size, 'n', 1, LIMITS.samples);
  return size;
}

/** z of the batch; x_T = priorStd(t_0)·z for each grid's first time. */
function batchNoise(seed: number, n: number, d: number): Float64Array {
  return new Rng(seed).fork(0).fillNormal(new Float64Array(n * d));
}

/** A reference endpoint per (first, last) time: the only grid data the reference depends on. */
function cachedByEnds(make: (grid: Float64Array, xT: Float64Array) => Promise<Float64Array>) {
  const cache = new Map<string, Float64Array>();
  return async (grid: Float64Array, xT: Float64Array) => {
    const key = `${grid[0]}→${grid[grid.length - 1]}`;
    let ref = cache.get(key);
    if (!ref) {
      ref = await make(grid, xT);
      cache.set(key, ref);
    }
    return ref;
  };
}

/**
 * A fitness that can also score other options of its sampler (S³ plans, LSD coefficients):
 * `options` replaces the request's options for that run.
 */
export type RunFitness = (grid: Float64Array, options?: Readonly<Record<string, unknown>>) => Promise<number>;

/** Median per-sample error of `sampler` on a grid against the exact PF-ODE endpoint of the mixture. */
export function oracleFitness(req: OracleFitnessRequest): RunFitness {
  const gmm = req.gmm instanceof GaussianMixture ? req.gmm : new GaussianMixture(req.gmm);
  const { process } = req;
  const n = batchSize(req.n);
  const seed = req.seed ?? 0;
  const model = new GmmOracle(gmm, process, req.prediction ?? 'epsilon');
  const z = batchNoise(seed, n, gmm.d);
  const truth = cachedByEnds(async (grid, xT) => pfOdeEndpoint(gmm, process, xT, grid[0], grid[grid.length - 1]));
  return async (grid: Float64Array, options: Readonly<Record<string, unknown>> | undefined = req.options) => {
    const xT = z.map((v) => v * process.priorStd(grid[0]));
    const run = await sample({ model, process, sampler: req.sampler, options, grid, xT, seed });
    return sampleErrors(run.x.data, await truth(grid, xT), gmm).medianSampleRmsErr;
  };
}

/** Median per-sample distance of `sampler` on a grid to a many-step teacher from the same x_T (black-box models). */
export function teacherFitness(req: TeacherFitnessRequest): RunFitness {
  const { process, model } = req;
  const n = batchSize(req.n);
  const seed = req.seed ?? 0;
  const d = model.sampleShape.reduce((a, b) => a * b, 1);
  const teacher = req.teacher ?? { sampler: 'dpmpp-2m', steps: 200 };
  const z = batchNoise(seed, n, d);
  const reference = cachedByEnds(async (grid, xT) => {
    const tEnd = grid[grid.length - 1];
    const end = process.sigma(tEnd) > 0 ? tEnd : 'zero';
    const teacherGrid = makeGrid(process, { type: 'logsnr', steps: teacher.steps, start: grid[0], end });
    const run = await sample({ model, process, sampler: teacher.sampler, options: teacher.options, grid: teacherGrid, xT, seed });
    return run.x.data;
  });
  return async (grid: Float64Array, options: Readonly<Record<string, unknown>> | undefined = req.options) => {
    const xT = z.map((v) => v * process.priorStd(grid[0]));
    const run = await sample({ model, process, sampler: req.sampler, options, grid, xT, seed });
    return medianSampleDistance(run.x.data, await reference(grid, xT), d);
  };
}
