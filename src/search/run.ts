/**
 * One search by name (AutoDiffusion, S³, LSD, LSD+) for a model, process and NFE budget, and the
 * sampler run its result fixes: what `diffuse search` writes and the playground's Lab runs, shared.
 */
import { UsageError } from '../core/errors.js';
import type { Process } from '../process/types.js';
import type { Model } from '../models/types.js';
import { makeGrid, type GridSpec } from '../grid/index.js';
import { findSampler, resolveOptions } from '../samplers/index.js';
import { defaultGrid, sample } from '../sample.js';
import type { SearchFile, SearchMethod } from '../io/formats.js';
import { searchGrid, type EvolutionOptions, type SearchProgress, type SearchState } from './evolution.js';
import type { RunFitness } from './fitness.js';
import { searchSchedule, scheduleFitness, type S3State } from './s3.js';
import { distillLsd, type DistillState } from './lsd.js';
import { formatPlan, scheduleRun, unipcSchedule } from '../samplers/schedule.js';
import { lsdRun } from '../samplers/lsd.js';

/** What a search scores: its process, a model for one-sample NFE counts, and the fitness of a sampler's runs. */
export interface SearchTarget {
  process: Process;
  model: Model;
  /** The fitness of runs of `sampler` with `options` (lower is better). */
  fitness: (sampler: string, options?: Record<string, unknown>) => RunFitness;
}

/** A search's settings (the library's defaults where absent), as `diffuse search`'s flags give them. */
export interface SearchSettings {
  /** Model calls per sample the result may spend. */
  nfe: number;
  /** AutoDiffusion: the sampler whose grid is searched, and its options (default dpmpp-2m). */
  sampler?: string;
  options?: Record<string, unknown>;
  /** AutoDiffusion / S³: population, generations, parents and the search's seed. */
  evolution?: Partial<EvolutionOptions>;
  /** S³: candidates the predictor ranks per evaluation. */
  screen?: number;
  /** LSD: iterations, step size and the search's seed. */
  iterations?: number;
  learningRate?: number;
  seed?: number;
  /** The state of an earlier search to continue. */
  resume?: SearchFile['state'];
  /** Stops the search cleanly (the best result so far is returned). */
  signal?: AbortSignal;
  /** Called after each generation (LSD: each iteration). */
  onProgress?: (p: SearchProgress) => void;
}

/** A search's result: SearchFile without the fields that name the model and the file format. */
export type SearchOutcome = Omit<SearchFile, 'format' | 'model' | 'process' | 'nfe'>;

/** The options the caller set: the library fills in its defaults for the others. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The largest step count of the sampler's default grid whose one-sample run fits `nfe` model calls. */
export async function initialGrid(t: SearchTarget, sampler: string, options: Record<string, unknown>, nfe: number): Promise<Float64Array> {
  const entry = findSampler(sampler);
  for (let steps = nfe; steps >= 1; steps--) {
    const grid = makeGrid(t.process, t.model.defaultGrid?.(steps, entry.name) ?? defaultGrid(entry.defaultGrid, steps));
    const run = await sample({ model: t.model, process: t.process, sampler: entry.name, options, grid, n: 1 });
    if (run.nfe <= nfe) return grid;
  }
  throw new UsageError(`${entry.name} needs more than ${nfe} model calls for one step; raise the NFE budget`);
}

/** Runs the named search: AutoDiffusion from the sampler's default grid, S³ from UniPC's schedule and LSD from analytic coefficients, both on a logSNR grid. */
export async function runSearchMethod(method: SearchMethod, t: SearchTarget, s: SearchSettings): Promise<SearchOutcome> {
  const { signal, onProgress } = s;
  const evolution = defined({ ...s.evolution, ...(s.seed === undefined ? {} : { seed: s.seed }) });
  if (method === 'autodiffusion') {
    const entry = findSampler(s.sampler ?? 'dpmpp-2m');
    const options = resolveOptions(entry, s.options ?? {});
    const initial = await initialGrid(t, entry.name, options, s.nfe);
    const r = await searchGrid({
      process: t.process, initial, fitness: t.fitness(entry.name, options), options: evolution, resume: s.resume as SearchState | undefined, signal, onProgress,
    });
    return { method, sampler: entry.name, options, fitness: r.fitness, initialFitness: r.initialFitness, stopped: r.stopped, evaluations: r.state.evaluations, grid: r.grid, state: r.state };
  }
  const grid = makeGrid(t.process, { type: 'logsnr', steps: s.nfe, end: 'zero' });
  if (method === 's3') {
    const r = await searchSchedule({
      process: t.process, initial: unipcSchedule(Array.from(grid)), fitness: scheduleFitness(t.fitness('schedule')),
      options: { ...evolution, ...defined({ screen: s.screen }) }, resume: s.resume as S3State | undefined, signal, onProgress,
    });
    return {
      method, sampler: 'schedule', options: { plan: formatPlan(r.schedule.steps) }, fitness: r.fitness, initialFitness: r.initialFitness,
      stopped: r.stopped, evaluations: r.state.evaluations, schedule: r.schedule, state: r.state,
    };
  }
  const r = await distillLsd({
    process: t.process, initial: grid, fitness: t.fitness('lsd'),
    options: { plus: method === 'lsd+', ...defined({ iterations: s.iterations, learningRate: s.learningRate, seed: s.seed }) },
    resume: s.resume as DistillState | undefined, signal, onProgress,
  });
  return {
    method, sampler: 'lsd', options: {}, fitness: r.fitness, initialFitness: r.initialFitness, stopped: r.stopped,
    evaluations: r.state.evaluations, coefficients: r.coefficients, state: r.state,
  };
}

/** The sampler run a search result fixes (sampler, options, explicit grid), as sample's --grid-file, --schedule and --lsd load it. */
export function searchedRun(r: Pick<SearchOutcome, 'method' | 'sampler' | 'options' | 'grid' | 'schedule' | 'coefficients'>): { sampler: string; options: Record<string, unknown>; grid: GridSpec } {
  if (r.method === 'autodiffusion' && r.grid) return { sampler: r.sampler, options: r.options, grid: r.grid };
  if (r.method === 's3' && r.schedule) return scheduleRun(r.schedule);
  if ((r.method === 'lsd' || r.method === 'lsd+') && r.coefficients) return lsdRun(r.coefficients);
  throw new UsageError(`a ${r.method} search result must hold its ${r.method === 'autodiffusion' ? 'grid' : r.method === 's3' ? 'schedule' : 'coefficients'}`);
}
