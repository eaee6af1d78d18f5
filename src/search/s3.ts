import type { Process } from '../process/types.js';
import { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { log } from '../core/math.js';
import { formatPlan, parsePlan, scheduleRun, type SolverSchedule, type StepPlan } from '../samplers/schedule.js';
import {
  checkInitial, coordinates, crossover, DEFAULT_EVOLUTION, moveTimes, mutate, remember, resolveOptions,
  type EvolutionOptions, type SearchProgress,
} from './evolution.js';
import type { RunFitness } from './fitness.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * S³, the solver-schedule search of Liu et al. 2023 ("A Unified Sampling Framework for Solver Searching
 * of Diffusion Probabilistic Models", ICLR 2024, §4): find the per-step decisions of the unified sampling
 * framework (time, prediction type, order, corrector; src/samplers/schedule.ts) that minimise the error at
 * a fixed NFE. The paper samples schedules, trains a performance predictor on the evaluated ones and lets it
 * pick the next candidates over several stages. Here the candidates come from an evolutionary search
 * (AutoDiffusion's operators for the times, src/search/evolution.ts, plus per-step decision mutations and a
 * uniform crossover), and a predictor (inverse-distance k-nearest-neighbour regression of log fitness on
 * every schedule scored so far) screens `screen` candidates per child, spending a real evaluation on the
 * one it ranks best. Lower fitness is better.
 */

export interface S3Options extends EvolutionOptions {
  /** Candidates the predictor ranks per evaluated child (1 = plain evolution). */
  screen: number;
}

/** The S³ options used where a request leaves them out: {@link DEFAULT_EVOLUTION} with 4 candidates screened per child. */
export const DEFAULT_S3: S3Options = { ...DEFAULT_EVOLUTION, screen: 4 };

/** One scored schedule: interior times (between the fixed ends), plan as "d2c,…", fitness. */
export interface ScoredSchedule {
  times: number[];
  plan: string;
  fitness: number;
}

/** Everything needed to continue an S³ search: plain JSON. */
export interface S3State {
  kind: 's3';
  options: S3Options;
  start: number;
  end: number;
  coordinate: 'logsnr' | 'time';
  steps: number;
  /** Generations completed (0: the initial population is scored; −1: stopped before that). */
  generation: number;
  /** Sorted by fitness, best first. */
  population: ScoredSchedule[];
  initial: ScoredSchedule;
  history: number[];
  evaluations: number;
  archive: ScoredSchedule[];
}

/** Fitness of a solver schedule (lower is better), e.g. from {@link scheduleFitness}. */
export type ScheduleFitness = (s: SolverSchedule) => Promise<number>;

/** Score schedules with a fitness built for the `schedule` sampler (oracleFitness / teacherFitness with sampler 'schedule'). */
export function scheduleFitness(f: RunFitness): ScheduleFitness {
  return (s) => {
    const run = scheduleRun(s);
    return f(Float64Array.from(run.grid.times), run.options);
  };
}

/** What {@link searchSchedule} searches: the starting schedule on a process, the fitness to minimise and how. */
export interface ScheduleSearchRequest {
  /** The process the schedule's times belong to. */
  process: Process;
  /** The schedule the search starts from; its first and last times stay fixed, its step count is the budget. */
  initial: SolverSchedule;
  /** The fitness to minimise; NaN counts as Infinity. */
  fitness: ScheduleFitness;
  /** Search options; missing ones from {@link DEFAULT_S3}. Ignored when resuming (the state's are used). */
  options?: Partial<S3Options>;
  /** A state returned by an earlier search with the same initial schedule and fitness: continue it. */
  resume?: S3State;
  /** Checked before each fitness evaluation: once aborted, the search returns the best schedule scored so far, `stopped` set. */
  signal?: AbortSignal;
  /** Called after the initial population and after each generation. */
  onProgress?: (p: SearchProgress) => void;
}

/** What {@link searchSchedule} returns: the best schedule found, its fitness and the state to continue from. */
export interface ScheduleSearchResult {
  /** The best schedule (plain JSON; run it with scheduleRun). */
  schedule: SolverSchedule;
  /** Fitness of `schedule`. */
  fitness: number;
  /** Fitness of the initial schedule, to compare with. */
  initialFitness: number;
  /** State after the last completed generation: pass it back as `resume` to continue. */
  state: S3State;
  /** True when the signal stopped the search before its last generation. */
  stopped: boolean;
}

const keyOf = (times: readonly number[], plan: string) => `${times.join(',')}|${plan}`;

/** Each step's decisions change with probability `rate`: one of prediction, order or corrector. */
export function mutatePlan(plan: readonly StepPlan[], rng: Rng, rate: number, dataOnlyFirst: boolean): StepPlan[] {
  return plan.map((s, i) => {
    if (rng.uniform() >= rate) return s;
    const field = Math.floor(rng.uniform() * 3);
    if (field === 0) return dataOnlyFirst && i === 0 ? s : { ...s, prediction: s.prediction === 'data' ? 'noise' : 'data' };
    if (field === 1) return { ...s, order: ((s.order + Math.floor(rng.uniform() * 2)) % 3) + 1 };
    return { ...s, corrector: !s.corrector };
  });
}

/** Features for the predictor: positions in (0, 1), then per step prediction, order/3, corrector. */
function features(u: readonly number[], plan: readonly StepPlan[]): number[] {
  return [...u, ...plan.flatMap((s) => [s.prediction === 'data' ? 0 : 1, s.order / 3, s.corrector ? 1 : 0])];
}

const NEIGHBOURS = 5;

/** Inverse-distance k-NN estimate of log fitness (S³'s performance predictor, in its simplest form). */
function predict(x: readonly number[], known: readonly { f: number[]; y: number }[]): number {
  const near = known
    .map((k) => ({ d: Math.sqrt(k.f.reduce((s, v, j) => s + (v - x[j]) * (v - x[j]), 0)), y: k.y }))
    .sort((a, b) => a.d - b.d)
    .slice(0, NEIGHBOURS);
  let w = 0;
  let s = 0;
  for (const n of near) {
    if (n.d === 0) return n.y;
    w += 1 / n.d;
    s += n.y / n.d;
  }
  return w > 0 ? s / w : 0;
}

function resolveS3(o: Partial<S3Options> | undefined): S3Options {
  const screen = o?.screen ?? DEFAULT_S3.screen;
  checkCount(screen, 'search option screen', 1, LIMITS.population);
  return { ...resolveOptions(o), screen };
}

/** S³ (Liu et al. 2023, §4): predictor-screened evolutionary search over per-step solver schedules. */
export async function searchSchedule(req: ScheduleSearchRequest): Promise<ScheduleSearchResult> {
  const p = req.process;
  const grid = Float64Array.from(req.initial.times);
  checkInitial(p, grid);
  if (req.initial.steps.length !== grid.length - 1) throw new UsageError(`the initial schedule has ${grid.length} times and ${req.initial.steps.length} steps; it needs one step per interval`);
  const start = grid[0];
  const end = grid[grid.length - 1];
  const steps = grid.length - 1;
  const coords = coordinates(p, start, end);
  const resume = req.resume && req.resume.generation >= 0 ? req.resume : undefined;
  if (resume && (resume.kind !== 's3' || resume.start !== start || resume.end !== end || resume.steps !== steps)) {
    throw new UsageError(`the resumed S³ state is for a ${resume.steps}-step schedule from ${resume.start} to ${resume.end}; this search has ${steps} steps from ${start} to ${end}`);
  }
  const o = resume ? resume.options : resolveS3(req.options);
  const dataOnlyFirst = p.alpha(start) === 0;
  const scored = new Map<string, ScoredSchedule>();
  let evaluations = resume?.evaluations ?? 0;
  const score = async (times: number[], plan: string): Promise<ScoredSchedule> => {
    const key = keyOf(times, plan);
    let hit = scored.get(key);
    if (!hit) {
      let fitness = await req.fitness({ times: [start, ...times, end], steps: parsePlan(plan) });
      if (Number.isNaN(fitness)) fitness = Infinity;
      hit = { times, plan, fitness };
      remember(scored, key, hit);
      evaluations++;
    }
    return hit;
  };
  const aborted = () => req.signal?.aborted === true;
  const byFitness = (a: ScoredSchedule, b: ScoredSchedule) => a.fitness - b.fitness;
  const mutated = (c: { times: number[]; plan: string }, rng: Rng, timeRate: number) => ({
    times: moveTimes(coords, start, end, c.times, (u) => mutate(u, rng, timeRate, o.mutationScale)),
    plan: formatPlan(mutatePlan(parsePlan(c.plan), rng, o.mutationRate, dataOnlyFirst)),
  });
  const predicted = (c: { times: number[]; plan: string }, known: readonly { f: number[]; y: number }[]) =>
    scored.has(keyOf(c.times, c.plan)) ? Infinity : predict(features(c.times.map(coords.toPosition), parsePlan(c.plan)), known);

  let state: S3State;
  if (resume) {
    state = structuredClone(resume);
    for (const c of state.archive) remember(scored, keyOf(c.times, c.plan), c);
  } else {
    const first = { times: Array.from(grid.subarray(1, steps)), plan: formatPlan(req.initial.steps) };
    const rng = new Rng(o.seed).fork(0);
    const initial = await score(first.times, first.plan);
    const population = [initial];
    while (population.length < o.population && !aborted()) {
      const c = mutated(first, rng, 1);
      population.push(await score(c.times, c.plan));
    }
    if (population.length < o.population) return finish(null, population, true);
    population.sort(byFitness);
    state = { kind: 's3', options: o, start, end, coordinate: coords.kind, steps, generation: 0, population, initial, history: [population[0].fitness], evaluations, archive: [...scored.values()] };
    req.onProgress?.(progressOf(state));
  }
  while (state.generation < o.generations) {
    if (aborted()) return finish(state, [], true);
    const rng = new Rng(o.seed).fork(state.generation + 1);
    const parents = state.population.slice(0, o.parents);
    const next = [...parents];
    const known = [...scored.values()].filter((c) => c.fitness > 0 && Number.isFinite(c.fitness)).map((c) => ({ f: features(c.times.map(coords.toPosition), parsePlan(c.plan)), y: log(c.fitness) }));
    while (next.length < o.population && !aborted()) {
      let pick: { times: number[]; plan: string } | undefined;
      let bestGuess = Infinity;
      for (let j = 0; j < o.screen; j++) {
        const a = parents[Math.floor(rng.uniform() * parents.length)];
        let child: { times: number[]; plan: string };
        if (rng.uniform() < o.crossover) {
          const b = parents[Math.floor(rng.uniform() * parents.length)];
          const pa = parsePlan(a.plan);
          const pb = parsePlan(b.plan);
          child = { times: crossover(a.times, b.times, rng), plan: formatPlan(pa.map((s, k) => (rng.uniform() < 0.5 ? s : pb[k]))) };
        } else child = mutated(a, rng, o.mutationRate);
        const guess = o.screen === 1 ? 0 : predicted(child, known);
        if (pick === undefined || guess < bestGuess) {
          pick = child;
          bestGuess = guess;
        }
      }
      if (pick) next.push(await score(pick.times, pick.plan));
    }
    if (next.length < o.population) return finish(state, next, true);
    next.sort(byFitness);
    state = { ...state, generation: state.generation + 1, population: next, history: [...state.history, next[0].fitness], evaluations, archive: [...scored.values()] };
    req.onProgress?.(progressOf(state));
  }
  return finish(state, [], false);

  function finish(done: S3State | null, extra: readonly ScoredSchedule[], stopped: boolean): ScheduleSearchResult {
    const best = [...(done?.population ?? []), ...extra].sort(byFitness)[0];
    const initial = done?.initial ?? extra[0];
    const last: S3State = done ?? {
      kind: 's3', options: o, start, end, coordinate: coords.kind, steps, generation: -1, population: [], initial, history: [], evaluations, archive: [],
    };
    return { schedule: { times: [start, ...best.times, end], steps: parsePlan(best.plan) }, fitness: best.fitness, initialFitness: initial.fitness, state: last, stopped };
  }
}

function progressOf(s: S3State): SearchProgress {
  return { generation: s.generation, generations: s.options.generations, evaluations: s.evaluations, best: s.population[0].fitness, initial: s.initial.fitness };
}
