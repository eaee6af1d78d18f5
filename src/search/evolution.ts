import type { Process } from '../process/types.js';
import { checkGrid, type GridSpec } from '../grid/index.js';
import { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * AutoDiffusion's evolutionary search of time steps (Li et al. 2023, "AutoDiffusion: Training-Free
 * Optimization of Time Steps and Architectures for Automated Diffusion Model Acceleration", ICCV,
 * §3.3 and Alg. 1): a population of grids with a fixed number of steps, the best `parents` kept each
 * generation, the rest replaced by crossovers and mutations of them. The paper searches subsets of
 * the 1000 training steps; here the interior times are continuous and mutations move them by a
 * position u ∈ (0, 1) between the fixed first and last time — uniform in log-SNR where both ends
 * have a finite one, else in time — so any process can be searched. Lower fitness is better.
 */

export interface EvolutionOptions {
  /** Grids per generation (the initial grid among them). */
  population: number;
  /** Generations after the initial one. */
  generations: number;
  /** Best grids kept and bred each generation (AutoDiffusion's top-k). */
  parents: number;
  /** Probability that a child is a crossover of two parents (else a mutation of one). */
  crossover: number;
  /** Probability that each interior time of a mutated child moves. */
  mutationRate: number;
  /** Size of a move, as a fraction of the room between the time's neighbours. */
  mutationScale: number;
  seed: number;
}

/** The search options used where a request leaves them out: 20 grids per generation, 25 generations, the best 5 bred. */
export const DEFAULT_EVOLUTION: EvolutionOptions = {
  population: 20,
  generations: 25,
  parents: 5,
  crossover: 0.3,
  mutationRate: 0.4,
  mutationScale: 0.5,
  seed: 0,
};

/** One scored grid: its interior times (decreasing, between the fixed ends) and fitness. */
export interface Candidate {
  times: number[];
  fitness: number;
}

/** Everything needed to continue a search: plain JSON (save it with JSON.stringify). */
export interface SearchState {
  kind: 'autodiffusion';
  options: EvolutionOptions;
  /** First and last time of every grid, and the coordinate positions are measured in. */
  start: number;
  end: number;
  coordinate: 'logsnr' | 'time';
  steps: number;
  /** Generations completed (0: the initial population is scored; −1: stopped before that). */
  generation: number;
  /** Sorted by fitness, best first. */
  population: Candidate[];
  initial: Candidate;
  /** Best fitness after each completed generation. */
  history: number[];
  evaluations: number;
  /** Every grid scored so far, so a resumed search skips the same re-evaluations as an uninterrupted one. */
  archive: Candidate[];
}

/**
 * Progress of a search after each completed generation (AutoDiffusion, S³) or iteration (LSD, where
 * `generation` counts iterations).
 */
export interface SearchProgress {
  /** Generations completed (0: the initial population is scored). */
  generation: number;
  /** Generations in all. */
  generations: number;
  /** Fitness evaluations so far, those before a resume included. */
  evaluations: number;
  /** Best fitness so far (lower is better). */
  best: number;
  /** Fitness of the starting grid, schedule or sampler. */
  initial: number;
}

/** What {@link searchGrid} returns: the best grid found, its fitness and the state to continue from. */
export interface SearchResult {
  /** The best grid, as a spec sample() accepts (save it as JSON). */
  grid: Extract<GridSpec, { type: 'explicit' }>;
  /** Fitness of `grid`. */
  fitness: number;
  /** Fitness of the initial grid, to compare with. */
  initialFitness: number;
  /** State after the last completed generation: pass it back as `resume` to continue. */
  state: SearchState;
  /** True when the signal stopped the search before its last generation. */
  stopped: boolean;
}

/** Fitness of a grid (lower is better), e.g. the exact error of a sampler on it. */
export type GridFitness = (grid: Float64Array) => Promise<number>;

/** What {@link searchGrid} searches: the starting grid on a process, the fitness to minimise and how. */
export interface GridSearchRequest {
  /** The process the grid's times belong to. */
  process: Process;
  /** The grid the search starts from; its first and last times stay fixed, its step count is the budget. */
  initial: Float64Array;
  /** The fitness to minimise; NaN counts as Infinity. */
  fitness: GridFitness;
  /** Search options; missing ones from {@link DEFAULT_EVOLUTION}. Ignored when resuming (the state's are used). */
  options?: Partial<EvolutionOptions>;
  /** A state returned by an earlier search with the same initial grid and fitness: continue it. */
  resume?: SearchState;
  /** Checked before each fitness evaluation: once aborted, the search returns the best grid scored so far, `stopped` set. */
  signal?: AbortSignal;
  /** Called after the initial population and after each generation. */
  onProgress?: (p: SearchProgress) => void;
}

/** Maps positions u ∈ (0, 1) to times between the fixed ends, and back. */
export interface Coordinates {
  kind: 'logsnr' | 'time';
  toTime(u: number): number;
  toPosition(t: number): number;
}

/** The last time with σ > 0: the grid's end, or tMin when the grid ends at σ = 0. */
function lastNoisy(p: Process, end: number): number {
  return p.sigma(end) > 0 ? end : p.tMin;
}

export function coordinates(p: Process, start: number, end: number): Coordinates {
  const last = lastNoisy(p, end);
  const l0 = p.logSnr(start);
  const l1 = p.logSnr(last);
  if (Number.isFinite(l0) && Number.isFinite(l1)) {
    return { kind: 'logsnr', toTime: (u) => p.tOfLogSnr(l0 + u * (l1 - l0)), toPosition: (t) => (p.logSnr(t) - l0) / (l1 - l0) };
  }
  return { kind: 'time', toTime: (u) => start + u * (last - start), toPosition: (t) => (t - start) / (last - start) };
}

/** Smallest gap a mutation keeps between neighbouring positions (and the ends). */
export const MIN_GAP = 1e-6;

const gridOf = (start: number, end: number, times: readonly number[]) => Float64Array.of(start, ...times, end);

/** Strictly decreasing from start to end. */
export function decreasing(start: number, end: number, times: readonly number[]): boolean {
  let prev = start;
  for (const t of times) {
    if (!(t < prev)) return false;
    prev = t;
  }
  return end < prev;
}

/** Apply a change of positions to interior times; unmoved times stay bit for bit, an invalid result keeps the parent. */
export function moveTimes(c: Coordinates, start: number, end: number, times: readonly number[], change: (u: number[]) => number[]): number[] {
  const before = times.map(c.toPosition);
  const after = change(before);
  const moved = times.map((t, k) => (after[k] === before[k] ? t : c.toTime(after[k])));
  return decreasing(start, end, moved) ? moved : [...times];
}

/** Move each interior position with probability `rate` within the room between its neighbours. */
export function mutate(u: readonly number[], rng: Rng, rate: number, scale: number): number[] {
  const out = [...u];
  for (let k = 0; k < out.length; k++) {
    if (rng.uniform() >= rate) continue;
    const lo = (k === 0 ? 0 : out[k - 1]) + MIN_GAP;
    const hi = (k === out.length - 1 ? 1 : out[k + 1]) - MIN_GAP;
    if (!(hi > lo)) continue;
    const moved = out[k] + scale * rng.normal() * 0.5 * (hi - lo);
    out[k] = Math.min(hi, Math.max(lo, moved));
  }
  return out;
}

/** Each interior time from either parent, sorted decreasing; the first parent when two would coincide. */
export function crossover(a: readonly number[], b: readonly number[], rng: Rng): number[] {
  const child = a.map((v, k) => (rng.uniform() < 0.5 ? v : b[k])).sort((x, y) => y - x);
  return child.every((t, k) => k === 0 || t < child[k - 1]) ? child : [...a];
}

const keyOf = (u: readonly number[]) => u.join(',');

export function resolveOptions(o: Partial<EvolutionOptions> | undefined): EvolutionOptions {
  const r = { ...DEFAULT_EVOLUTION, ...o };
  checkCount(r.population, 'search option population', 2, LIMITS.population);
  checkCount(r.generations, 'search option generations', 0, LIMITS.generations);
  checkCount(r.parents, 'search option parents', 1, LIMITS.population);
  checkCount(r.seed, 'search option seed', 0, LIMITS.seed);
  if (r.parents >= r.population) throw new UsageError(`search option parents must be below population (${r.population}), got ${r.parents}`);
  for (const k of ['crossover', 'mutationRate'] as const) {
    if (!(r[k] >= 0 && r[k] <= 1)) throw new UsageError(`search option ${k} must be a probability in [0, 1], got ${r[k]}`);
  }
  if (!(r.mutationScale > 0)) throw new UsageError(`search option mutationScale must be > 0, got ${r.mutationScale}`);
  return r;
}

export function checkInitial(p: Process, g: Float64Array): void {
  checkGrid(p, g);
  if (g.length < 3) throw new UsageError(`a grid search needs at least 2 steps (an interior time to move), got ${g.length - 1}`);
  for (let i = 1; i < g.length; i++) {
    if (!(g[i] < g[i - 1])) throw new UsageError(`the initial grid of a search must strictly decrease; times ${i - 1} and ${i} are ${g[i - 1]}, ${g[i]}`);
  }
}

function checkResume(s: SearchState, start: number, end: number, steps: number): void {
  if (s.kind !== 'autodiffusion' || s.start !== start || s.end !== end || s.steps !== steps) {
    throw new UsageError(`the resumed search state is for a ${s.steps}-step grid from ${s.start} to ${s.end}; this search has ${steps} steps from ${start} to ${end}`);
  }
}

/**
 * Scored candidates a search remembers (and saves in its state) to skip re-evaluations: the most
 * recent MAX_ARCHIVE, so a long search's memory and state file stay bounded. Oldest are forgotten
 * first, in insertion order, so a resumed search remembers exactly what an uninterrupted one does.
 */
export const MAX_ARCHIVE = 4096;

export function remember<K, V>(archive: Map<K, V>, key: K, value: V): void {
  archive.set(key, value);
  if (archive.size > MAX_ARCHIVE) archive.delete(archive.keys().next().value as K);
}

/** AutoDiffusion's evolutionary search (Alg. 1) over the interior times of `initial`. */
export async function searchGrid(req: GridSearchRequest): Promise<SearchResult> {
  const p = req.process;
  checkInitial(p, req.initial);
  const start = req.initial[0];
  const end = req.initial[req.initial.length - 1];
  const steps = req.initial.length - 1;
  const coords = coordinates(p, start, end);
  const resume = req.resume && req.resume.generation >= 0 ? req.resume : undefined;
  if (resume) checkResume(resume, start, end, steps);
  const o = resume ? resume.options : resolveOptions(req.options);
  const scored = new Map<string, number>();
  let evaluations = resume?.evaluations ?? 0;
  const score = async (times: number[]): Promise<Candidate> => {
    const key = keyOf(times);
    let fitness = scored.get(key);
    if (fitness === undefined) {
      fitness = await req.fitness(gridOf(start, end, times));
      if (Number.isNaN(fitness)) fitness = Infinity;
      remember(scored, key, fitness);
      evaluations++;
    }
    return { times, fitness };
  };
  const aborted = () => req.signal?.aborted === true;
  const byFitness = (a: Candidate, b: Candidate) => a.fitness - b.fitness;

  const archive = () => [...scored].map(([key, fitness]) => ({ times: key.split(',').map(Number), fitness }));
  const mutated = (times: readonly number[], rng: Rng, rate: number) =>
    moveTimes(coords, start, end, times, (u) => mutate(u, rng, rate, o.mutationScale));
  let state: SearchState;
  if (resume) {
    state = structuredClone(resume);
    for (const c of state.archive) remember(scored, keyOf(c.times), c.fitness);
  } else {
    const t0 = Array.from(req.initial.subarray(1, steps));
    const rng = new Rng(o.seed).fork(0);
    const initial = await score(t0);
    const population = [initial];
    while (population.length < o.population && !aborted()) {
      population.push(await score(mutated(t0, rng, 1)));
    }
    if (population.length < o.population) return finish(null, population, true);
    population.sort(byFitness);
    state = { kind: 'autodiffusion', options: o, start, end, coordinate: coords.kind, steps, generation: 0, population, initial, history: [population[0].fitness], evaluations, archive: archive() };
    req.onProgress?.(progressOf(state));
  }
  while (state.generation < o.generations) {
    if (aborted()) return finish(state, [], true);
    const rng = new Rng(o.seed).fork(state.generation + 1);
    const parents = state.population.slice(0, o.parents);
    const next = [...parents];
    while (next.length < o.population && !aborted()) {
      const a = parents[Math.floor(rng.uniform() * parents.length)];
      const child =
        rng.uniform() < o.crossover
          ? crossover(a.times, parents[Math.floor(rng.uniform() * parents.length)].times, rng)
          : mutated(a.times, rng, o.mutationRate);
      next.push(await score(child));
    }
    if (next.length < o.population) return finish(state, next, true);
    next.sort(byFitness);
    state = { ...state, generation: state.generation + 1, population: next, history: [...state.history, next[0].fitness], evaluations, archive: archive() };
    req.onProgress?.(progressOf(state));
  }
  return finish(state, [], false);

  /** The best grid seen (completed generations and any children scored before a stop). */
  function finish(done: SearchState | null, extra: readonly Candidate[], stopped: boolean): SearchResult {
    const seen = [...(done?.population ?? []), ...extra].sort(byFitness);
    const best = seen[0];
    const initial = done?.initial ?? extra[0];
    const last: SearchState = done ?? {
      kind: 'autodiffusion', options: o, start, end, coordinate: coords.kind, steps, generation: -1, population: [], initial, history: [], evaluations, archive: [],
    };
    return {
      grid: { type: 'explicit', times: Array.from(gridOf(start, end, best.times)) },
      fitness: best.fitness,
      initialFitness: initial.fitness,
      state: last,
      stopped,
    };
  }
}

function progressOf(s: SearchState): SearchProgress {
  return { generation: s.generation, generations: s.options.generations, evaluations: s.evaluations, best: s.population[0].fitness, initial: s.initial.fitness };
}
