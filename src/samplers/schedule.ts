import { entry, type SampleContext } from './types.js';
import { uniWeights } from './unipc.js';
import type { Process } from '../process/types.js';
import type { GridSpec } from '../grid/index.js';
import { linN } from '../core/vec.js';
import { UsageError } from '../core/errors.js';
import { expm1 } from '../core/math.js';

/**
 * The unified sampling framework (USF) of Liu et al. 2023 ("A Unified Sampling Framework for Solver
 * Searching of Diffusion Probabilistic Models", ICLR 2024, §3): every step of an exponential-integrator
 * solve may take its own decisions. Here a step chooses
 *   - its time (the grid),
 *   - the prediction integrated: data (x̂0) or noise (ε̂) (USF's "prediction type"),
 *   - the Taylor order p, i.e. how many model outputs (the latest p) enter the expansion (1–3),
 *   - whether the point it reaches is corrected UniC-style with the model output there.
 * The update is UniPC's (Zhao et al. 2023, Eq. 6–8, Theorem 3.1) in λ = log(α/σ):
 *   data:  x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) m_0 − α_t Σ_k c_k (m_k − m_0)/r_k
 *   noise: x_t = (α_t/α_s) x_s + (α_t σ_s/α_s)(e^{−h} − 1) m_0 − σ_t Σ_k c_k (m_k − m_0)/r_k
 * with c = uniWeights(r, ∓h): a 2-point data step is DPM-Solver++(2M) (midpoint form, bh2), and the
 * corrector adds the output at the reached point (r = 1) without an extra model call, as UniC does.
 * Warm-up and steps with h = ∞ (from α = 0 or to σ = 0) lower the order to what is available and are
 * not corrected; the last step's corrector would need one more model call and is not applied.
 */

export type PredictionKind = 'data' | 'noise';

/** One step's decisions. */
export interface StepPlan {
  prediction: PredictionKind;
  /** Model outputs in the expansion: 1, 2 or 3 (the order of the step). */
  order: number;
  corrector: boolean;
}

/** A per-step solver schedule: plain JSON, `times.length = steps.length + 1`. */
export interface SolverSchedule {
  times: number[];
  steps: StepPlan[];
}

export interface ScheduleOptions {
  [k: string]: number | string | boolean;
  /** Per-step decisions as "d2c,n1,…" (data/noise, order, c = corrected); empty = UniPC's default (d2c with warm-up). */
  plan: string;
  /** B(h) of the one-unknown weights: "bh1" (h) or "bh2" (e^h − 1), as in UniPC. */
  variant: 'bh1' | 'bh2';
}

const MAX_ORDER = 3;

/** Steps → their "d2c,n1" text (data/noise prediction, order, c = corrected). */
export function formatPlan(steps: readonly StepPlan[]): string {
  return steps.map((s) => `${s.prediction === 'data' ? 'd' : 'n'}${s.order}${s.corrector ? 'c' : ''}`).join(',');
}

/** A "d2c,n1,…" text → its steps; a malformed entry is a UsageError naming it. */
export function parsePlan(plan: string): StepPlan[] {
  if (plan.trim() === '') return [];
  return plan.split(',').map((item) => {
    const m = /^([dn])([123])(c?)$/.exec(item.trim());
    if (!m) throw new UsageError(`schedule plan step "${item}" is not accepted; each step is d|n (data or noise prediction), an order 1–3 and an optional c (corrector), e.g. "d1,d2c,n3c,d1"`);
    return { prediction: m[1] === 'd' ? 'data' : 'noise', order: Number(m[2]), corrector: m[3] === 'c' };
  });
}

/** What sample() needs to run a schedule: spread it into the request. */
export function scheduleRun(s: SolverSchedule, variant: ScheduleOptions['variant'] = 'bh2') {
  if (s.times.length !== s.steps.length + 1) throw new UsageError(`a schedule needs one time more than steps; got ${s.times.length} times and ${s.steps.length} steps`);
  const grid: GridSpec = { type: 'explicit', times: [...s.times] };
  return { sampler: 'schedule', options: { plan: formatPlan(s.steps), variant }, grid };
}

/** The schedule DPM-Solver++(2M) (dpmpp-2m defaults) runs on a grid: data, order 2 after warm-up, lowered at the end (< 15 steps). */
export function dpmpp2mSchedule(grid: readonly number[]): SolverSchedule {
  const n = grid.length - 1;
  const steps = Array.from({ length: n }, (_, i) => ({ prediction: 'data' as const, order: n < 15 ? Math.min(2, n - i) : 2, corrector: false }));
  return { times: [...grid], steps };
}

/** The schedule UniPC (unipc defaults: order p, bh2, corrector, lowerOrderFinal) runs on a grid. */
export function unipcSchedule(grid: readonly number[], order = 2, prediction: PredictionKind = 'data'): SolverSchedule {
  const n = grid.length - 1;
  const steps = Array.from({ length: n }, (_, i) => ({ prediction, order: Math.min(order, n - i), corrector: true }));
  return { times: [...grid], steps };
}

/** A model output kept for later steps: x̂0 at (t, λ) with the x the model saw (before any correction); ε̂ on demand. */
interface Point {
  t: number;
  lambda: number;
  x: Float64Array;
  x0: Float64Array;
  eps?: Float64Array;
}

/** ε̂ = (x − α x̂0)/σ, computed once per point. */
function outputOf(p: Process, q: Point, kind: PredictionKind): Float64Array {
  if (kind === 'data') return q.x0;
  if (!q.eps) {
    const a = p.alpha(q.t);
    const s = p.sigma(q.t);
    const e = new Float64Array(q.x.length);
    for (let i = 0; i < e.length; i++) e[i] = (q.x[i] - a * q.x0[i]) / s;
    q.eps = e;
  }
  return q.eps;
}

/**
 * One step s → t from the latest `order` points of `hist` (the last at s); given the point `mt`
 * reached at t, the UniC correction of that step instead.
 */
function usfStep(p: Process, variant: ScheduleOptions['variant'], kind: PredictionKind, xs: Float64Array, t: number, hist: readonly Point[], order: number, mt?: Point): Float64Array {
  const last = hist.length - 1;
  const from = hist[last];
  const h = p.logSnr(t) - from.lambda;
  const r: number[] = [];
  const outs: Float64Array[] = [];
  for (let k = 1; k < order; k++) {
    r.push((hist[last - k].lambda - from.lambda) / h);
    outs.push(outputOf(p, hist[last - k], kind));
  }
  if (mt) {
    r.push(1);
    outs.push(outputOf(p, mt, kind));
  }
  const at = p.alpha(t);
  const c = uniWeights(r, kind === 'data' ? -h : h, variant);
  let a: number;
  let b: number;
  let gamma: number;
  if (kind === 'data') {
    a = p.sigma(t) / p.sigma(from.t);
    b = -at * expm1(-h);
    gamma = at;
  } else {
    a = at / p.alpha(from.t);
    b = (at * p.sigma(from.t) * expm1(-h)) / p.alpha(from.t);
    gamma = p.sigma(t);
  }
  const coef = [a, b];
  const vecs = [xs, outputOf(p, from, kind)];
  for (let k = 0; k < c.length; k++) {
    const w = (gamma * c[k]) / r[k];
    coef.push(-w);
    vecs.push(outs[k]);
    coef[1] += w;
  }
  return linN(new Float64Array(xs.length), coef, vecs);
}

function planFor(o: ScheduleOptions, steps: number): StepPlan[] {
  const plan = parsePlan(o.plan);
  if (plan.length === 0) return Array.from({ length: steps }, (_, i) => ({ prediction: 'data', order: Math.min(2, steps - i), corrector: true }));
  if (plan.length !== steps) throw new UsageError(`schedule plan has ${plan.length} steps but the grid has ${steps}; give one step per grid interval`);
  return plan;
}

/** Run a per-step schedule (USF, Liu et al. 2023, §3): one model call per distinct grid time before the last. */
async function runSchedule(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: ScheduleOptions): Promise<Float64Array> {
  const p = ctx.process;
  const n = grid.length - 1;
  const plan = planFor(o, n);
  const hist: Point[] = [];
  let prev: { x: Float64Array; t: number; order: number; kind: PredictionKind } | undefined;
  for (let i = 0; i < n; i++) {
    ctx.step(i, n, x);
    const t = grid[i];
    const s = grid[i + 1];
    if (s === t) continue;
    if (plan[i].prediction === 'noise' && p.alpha(t) === 0) {
      throw new UsageError(`schedule step ${i} integrates the noise prediction from t=${t}, where α = 0; use data prediction (d) there`);
    }
    const here: Point = { t, lambda: p.logSnr(t), x, x0: await ctx.denoise(x, t) };
    if (prev) {
      x = usfStep(p, o.variant, prev.kind, prev.x, t, hist, prev.order, here);
    }
    hist.push(here);
    if (hist.length > MAX_ORDER) hist.shift();
    const finite = Number.isFinite(p.logSnr(s) - here.lambda);
    let usable = 0;
    while (usable < hist.length && Number.isFinite(hist[hist.length - 1 - usable].lambda)) usable++;
    const order = finite ? Math.min(plan[i].order, usable) : 1;
    prev = finite && plan[i].corrector ? { x, t, order, kind: plan[i].prediction } : undefined;
    x = usfStep(p, o.variant, plan[i].prediction, x, s, hist, order);
  }
  return x;
}

function validate(o: ScheduleOptions): void {
  for (const s of parsePlan(o.plan)) {
    if (!(s.order >= 1 && s.order <= MAX_ORDER)) throw new UsageError(`schedule orders must be 1–3, got ${s.order}`);
  }
}

export const scheduleSamplers = [
  entry({
    name: 'schedule',
    aliases: ['usf', 'USF', 'S3', 'solver-schedule'],
    family: 'schedule',
    description: 'unified sampling framework: per-step prediction type (data/noise), order 1–3 and UniC corrector from plan "d2c,n1,…" (empty = UniPC-2); searched by S³ (searchSchedule)',
    cite: 'Liu et al. 2023, A Unified Sampling Framework for Solver Searching of DPMs (ICLR 2024), §3; update of Zhao et al. 2023, UniPC, Theorem 3.1',
    order: 3,
    stochastic: false,
    defaults: { plan: '', variant: 'bh2' },
    choices: { variant: ['bh1', 'bh2'] },
    validate,
    run: runSchedule,
  }),
];
