import type { Process } from '../process/types.js';
import { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { log, pow } from '../core/math.js';
import { analyticCoefficients, lsdRun, type LsdCoefficients } from '../samplers/lsd.js';
import { checkInitial, coordinates, decreasing, MIN_GAP, type SearchProgress } from './evolution.js';
import type { RunFitness } from './fitness.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * LSD / LSD+ distillation (Fu, Guo & Liu 2025, "Learnable Sampler Distillation for Discrete Diffusion
 * Models", NeurIPS, §3–4), continuous analogue: learn the per-step coefficients of the `lsd` sampler
 * (DPM-Solver++(2M) with free weights, src/samplers/lsd.ts) and, for LSD+, its interior times, so that
 * the few-step run matches a many-step teacher on a training batch. The paper backpropagates through the
 * sampler; the model here is a black box, so the gradient of the log distance is estimated by simultaneous
 * perturbation (SPSA, Spall 1992: two runs per iteration whatever the number of parameters) and followed
 * with Adam (Kingma & Ba 2015). Parameters: offsets δ from the analytic weights at the current times
 * (c = analytic + δ; δ = 0 is dpmpp-2m) and, for LSD+, the interior times' positions u ∈ (0, 1) (uniform in
 * log-SNR where it is finite, as in src/search/evolution.ts). The loss is the fitness (the median distance
 * of the endpoints to the teacher's or the exact ones); the paper's loss also aligns intermediate states.
 */

export interface DistillOptions {
  /** SPSA + Adam iterations (3 fitness runs each). */
  iterations: number;
  /** Adam step size at the start, decayed linearly to a tenth at the end. */
  learningRate: number;
  /** SPSA perturbation size (in coefficient units and in positions u). */
  perturbation: number;
  /** LSD+: learn the interior times too. */
  plus: boolean;
  seed: number;
}

/** The distillation options used where a request leaves them out (LSD, not LSD+; 150 iterations). */
export const DEFAULT_DISTILL: DistillOptions = { iterations: 150, learningRate: 0.02, perturbation: 0.02, plus: false, seed: 0 };

/** A candidate sampler with its fitness. */
interface Scored {
  times: number[];
  coefficients: [number, number][];
  fitness: number;
}

/** Everything needed to continue a distillation: plain JSON. */
export interface DistillState {
  kind: 'lsd';
  options: DistillOptions;
  /** The base grid (its ends stay fixed). */
  grid: number[];
  iteration: number;
  theta: number[];
  m: number[];
  v: number[];
  best: Scored;
  initialFitness: number;
  /** Best fitness after each iteration. */
  history: number[];
  evaluations: number;
  /** Fitness at θ, and the factor on the learning rate the step-size control has reached (states saved before it: 1). */
  thetaFitness?: number;
  stepScale?: number;
}

/** What {@link distillLsd} distils: the base grid on a process, the fitness to minimise and how. */
export interface DistillRequest {
  /** The process the grid's times belong to (the analytic DPM-Solver++(2M) weights are its). */
  process: Process;
  /** The base grid: its step count is the budget (NFE); LSD keeps its times, LSD+ starts from them. */
  initial: Float64Array;
  /** A fitness built for the `lsd` sampler (oracleFitness / teacherFitness with sampler 'lsd'). */
  fitness: RunFitness;
  /** Distillation options; missing ones from {@link DEFAULT_DISTILL}. Ignored when resuming (the state's are used). */
  options?: Partial<DistillOptions>;
  /** A state returned by an earlier distillation on the same base grid and fitness: continue it. */
  resume?: DistillState;
  /** Checked between an iteration's fitness runs: once aborted, the unfinished iteration is dropped and the best sampler of the finished ones returned, `stopped` set. */
  signal?: AbortSignal;
  /** Called after each iteration (`generation` counts iterations). */
  onProgress?: (p: SearchProgress) => void;
}

/** What {@link distillLsd} returns: the best sampler found, its fitness and the state to continue from. */
export interface DistillResult {
  /** The best sampler found: pass it to lsdRun() and sample(). */
  coefficients: LsdCoefficients;
  /** Fitness of `coefficients`. */
  fitness: number;
  /** Fitness of the analytic dpmpp-2m weights on the base grid, to compare with. */
  initialFitness: number;
  /** State after the last completed iteration: pass it back as `resume` to continue. */
  state: DistillState;
  /** True when the signal stopped the distillation before its last iteration. */
  stopped: boolean;
}

function resolveDistill(o: Partial<DistillOptions> | undefined): DistillOptions {
  const r = { ...DEFAULT_DISTILL, ...o };
  checkCount(r.iterations, 'distill option iterations', 0, LIMITS.iterations);
  checkCount(r.seed, 'distill option seed', 0, LIMITS.seed);
  for (const k of ['learningRate', 'perturbation'] as const) {
    if (!(r[k] > 0)) throw new UsageError(`distill option ${k} must be > 0, got ${r[k]}`);
  }
  return r;
}

const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
/** Step-size control: factors on the learning rate after a rejected and an accepted step, and the worsening a step may cause and still be kept. */
const STEP_SHRINK = 0.7;
const STEP_GROWTH = 1.25;
const STEP_TOLERANCE = 0.05;

/** LSD / LSD+ (Fu et al. 2025): SPSA-estimated gradients of the log fitness, followed with Adam. */
export async function distillLsd(req: DistillRequest): Promise<DistillResult> {
  const p = req.process;
  checkInitial(p, req.initial);
  const base = Array.from(req.initial);
  const n = base.length - 1;
  const start = base[0];
  const end = base[n];
  const coords = coordinates(p, start, end);
  const resume = req.resume;
  if (resume && (resume.kind !== 'lsd' || resume.grid.length !== base.length || resume.grid.some((t, i) => t !== base[i]))) {
    throw new UsageError(`the resumed LSD state is for another base grid (${resume.grid.length - 1} steps from ${resume.grid[0]}); this distillation has ${n} steps from ${start}`);
  }
  const o = resume ? resume.options : resolveDistill(req.options);
  const nCoef = 2 * n - 1;
  let evaluations = resume?.evaluations ?? 0;

  /** θ → sampler: δ for c0 of every step and c1 of steps 1…n−1, then (LSD+) the positions. */
  const decode = (theta: readonly number[]): Omit<Scored, 'fitness'> => {
    let times = base;
    if (o.plus) {
      const moved = theta.slice(nCoef).map((u) => coords.toTime(Math.min(1 - MIN_GAP, Math.max(MIN_GAP, u))));
      if (decreasing(start, end, moved)) times = [start, ...moved, end];
    }
    const coefficients = analyticCoefficients(p, times).map(([c0, c1], i): [number, number] => [c0 + theta[i], i === 0 ? c1 : c1 + theta[n + i - 1]]);
    return { times, coefficients };
  };
  const score = async (s: Omit<Scored, 'fitness'>): Promise<Scored> => {
    const run = lsdRun({ kind: 'lsd', plus: o.plus, ...s });
    let fitness = await req.fitness(Float64Array.from(s.times), run.options);
    if (Number.isNaN(fitness)) fitness = Infinity;
    evaluations++;
    return { ...s, fitness };
  };
  const aborted = () => req.signal?.aborted === true;

  let state: DistillState;
  if (resume) state = structuredClone(resume);
  else {
    const theta = [...new Array<number>(nCoef).fill(0), ...(o.plus ? base.slice(1, n).map(coords.toPosition) : [])];
    const initial = await score({ times: base, coefficients: analyticCoefficients(p, base) });
    state = {
      kind: 'lsd', options: o, grid: base, iteration: 0, theta, m: theta.map(() => 0), v: theta.map(() => 0),
      best: initial, initialFitness: initial.fitness, history: [], evaluations,
    };
  }
  while (state.iteration < o.iterations) {
    if (aborted()) return finish(true);
    const k = state.iteration;
    const rng = new Rng(o.seed).fork(k + 1);
    const delta = state.theta.map(() => (rng.uniform() < 0.5 ? -1 : 1));
    const c = o.perturbation;
    const plus = await score(decode(state.theta.map((v, j) => v + c * delta[j])));
    const minus = await score(decode(state.theta.map((v, j) => v - c * delta[j])));
    if (aborted()) return finish(true);
    const diff = Number.isFinite(plus.fitness) && Number.isFinite(minus.fitness) ? (log(plus.fitness) - log(minus.fitness)) / (2 * c) : 0;
    const scale = state.stepScale ?? 1;
    const lr = o.learningRate * scale * (1 - (0.9 * k) / Math.max(1, o.iterations));
    const m = state.m.map((mj, j) => ADAM.beta1 * mj + (1 - ADAM.beta1) * diff * delta[j]);
    const v = state.v.map((vj, j) => ADAM.beta2 * vj + (1 - ADAM.beta2) * diff * diff);
    const b1 = 1 - pow(ADAM.beta1, k + 1);
    const b2 = 1 - pow(ADAM.beta2, k + 1);
    const theta = state.theta.map((t, j) => t - (lr * (m[j] / b1)) / (Math.sqrt(v[j] / b2) + ADAM.eps));
    const here = await score(decode(theta));
    const best = [state.best, plus, minus, here].reduce((a, b) => (b.fitness < a.fitness ? b : a));
    // Step-size control: a step that makes θ more than 5 % worse is undone and the rate cut; one
    // that does not lets the rate grow back toward the set value. One learning rate then serves
    // every NFE and dimension (a fixed 0.02 stalled at NFE 20, where 0.005 was needed).
    const before = state.thetaFitness ?? state.initialFitness;
    const accepted = here.fitness <= before * (1 + STEP_TOLERANCE);
    const next = accepted
      ? { theta, thetaFitness: here.fitness, stepScale: Math.min(1, scale * STEP_GROWTH) }
      : { theta: state.theta, thetaFitness: before, stepScale: scale * STEP_SHRINK };
    state = { ...state, iteration: k + 1, ...next, m, v, best, history: [...state.history, best.fitness], evaluations };
    req.onProgress?.({ generation: state.iteration, generations: o.iterations, evaluations, best: best.fitness, initial: state.initialFitness });
  }
  return finish(false);

  function finish(stopped: boolean): DistillResult {
    const { times, coefficients, fitness } = state.best;
    return { coefficients: { kind: 'lsd', plus: o.plus, times: [...times], coefficients }, fitness, initialFitness: state.initialFitness, state, stopped };
  }
}
