import { entry, type SampleContext, type SamplerEntry } from './types.js';
import { ddimSamplers } from './ddim.js';
import { adamsBashforth, epsAt, pndmSamplers, pseudoImprovedEuler, pseudoRungeKutta, transfer } from './pndm.js';
import { dpmSolverSamplers, firstOrder, modelOutput, multistep2, multistepDefaults, multistepOrder, nodeAt, weights } from './dpm-solver.js';
import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';

/**
 * Time-Shift Sampler (Li et al. 2024, "Alleviating Exposure Bias in Diffusion Models through
 * Sampling with Shifted Time Steps", ICLR; Alg. 1 and the official TS-DPM code): before each step,
 * the per-sample variance of the current x is compared with the noise variance σ²(τ) of the
 * candidate times τ in a window of `window` training-step units around the scheduled next time,
 * and the step is taken to the best-matching τ instead. Shifting stops below the cutoff time.
 *
 * Each sample follows its own grid τ_0 > τ_1 > …, and its result is the base sampler's on that
 * grid: a memoryless base (DDIM, DDPM) runs its own step on each sample's interval [τ_i, τ_{i+1}];
 * a multistep base (PLMS, DPM-Solver++(2M)) keeps each sample's history at its own times, as the
 * official DPM-Solver variant does with its per-sample time list. Samples at the same time share
 * one model call (the model interface takes a single t per call), so a step may cost one call per
 * distinct current time; per sample it is the base's count.
 */
export interface TimeShiftOptions {
  [k: string]: number | string | boolean;
  /** Width of the candidate window in units of (tMax − tMin)/1000 (one training step); 0 or 1: no shift. */
  window: number;
  /** Shift only while the scheduled next time is above tMin + cutoff·(tMax − tMin) (the paper's t_c, as a fraction). */
  cutoff: number;
}

/** The paper's time unit: one of 1000 training steps over the process's time range. */
const unitOf = (p: Process) => (p.tMax - p.tMin) / 1000;

/** Unbiased variance of the values of sample j (the paper's Var(x̂_t) over pixels). */
export function sampleVariance(x: Float64Array, j: number, dim: number): number {
  let mean = 0;
  for (let k = 0; k < dim; k++) mean += x[j * dim + k];
  mean /= dim;
  let ss = 0;
  for (let k = 0; k < dim; k++) {
    const d = x[j * dim + k] - mean;
    ss += d * d;
  }
  return ss / (dim - 1);
}

/**
 * The time τ ∈ {next + kδ : |k| ≤ ⌊window/2⌋} with σ²(τ) closest to `variance`, kept strictly
 * between `after` (the time following `next`) and `from` (the sample's current time) and inside
 * [tMin, tMax]; ties go to the smaller τ.
 */
export function shiftedTime(p: Process, variance: number, from: number, next: number, after: number, window: number): number {
  const half = Math.floor(window / 2);
  const delta = unitOf(p);
  let best = next;
  let bestGap = Infinity;
  for (let k = -half; k <= half; k++) {
    const tau = k === 0 ? next : next + k * delta;
    if (k !== 0 && !(tau > after && tau < from && tau >= p.tMin && tau <= p.tMax)) continue;
    const s = p.sigma(tau);
    const gap = Math.abs(variance - s * s);
    if (gap < bestGap) {
      best = tau;
      bestGap = gap;
    }
  }
  return best;
}

/** The batch's rows `rows` of x (n × dim) as one array. */
function gather(x: Float64Array, rows: readonly number[], dim: number): Float64Array {
  const out = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => out.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/**
 * A context for the samples `rows`: model calls run on the whole batch (the outer context's size),
 * with these rows replaced, and return these rows; noise is these rows of the step's shared draw.
 */
function subContext(ctx: SampleContext, x: Float64Array, rows: readonly number[], noise: () => Float64Array): SampleContext {
  const dim = ctx.dim;
  const scatter = (part: Float64Array) => {
    const full = Float64Array.from(x);
    rows.forEach((r, i) => full.set(part.subarray(i * dim, (i + 1) * dim), r * dim));
    return full;
  };
  return {
    process: ctx.process,
    n: rows.length,
    dim,
    denoise: async (part, t) => gather(await ctx.denoise(rows.length === ctx.n ? part : scatter(part), t), rows, dim),
    noise: () => gather(noise(), rows, dim),
    step: () => undefined,
  };
}

/** Rows 0..n−1 split into groups of equal key, in order of first appearance. */
function groupBy(n: number, key: (j: number) => string | undefined): number[][] {
  const groups = new Map<string, number[]>();
  for (let j = 0; j < n; j++) {
    const k = key(j);
    if (k === undefined) continue;
    const rows = groups.get(k);
    if (rows) rows.push(j);
    else groups.set(k, [j]);
  }
  return [...groups.values()];
}

/** Writes `part` (rows × dim) into rows `rows` of `out`. */
function scatterInto(out: Float64Array, part: Float64Array, rows: readonly number[], dim: number): void {
  rows.forEach((r, k) => out.set(part.subarray(k * dim, (k + 1) * dim), r * dim));
}

/** The k-th history entry of each of `rows`, stacked into one rows × dim array. */
function stack(history: readonly Float64Array[][], rows: readonly number[], k: number, dim: number): Float64Array {
  const out = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => out.set(history[r][k], i * dim));
  return out;
}

/** The times the samples step to at step i: variance-matched inside the window (Alg. 1), or the grid's. */
function targetsAt(ctx: SampleContext, x: Float64Array, times: Float64Array, grid: Float64Array, i: number, o: TimeShiftOptions): Float64Array {
  const p = ctx.process;
  const steps = grid.length - 1;
  const next = grid[i + 1];
  const shifting = i + 1 < steps && next > p.tMin + o.cutoff * (p.tMax - p.tMin) && o.window > 1;
  return Float64Array.from(times, (from, j) =>
    shifting ? shiftedTime(p, sampleVariance(x, j, ctx.dim), from, next, grid[i + 2], o.window) : next,
  );
}

function checkDim(ctx: SampleContext, o: TimeShiftOptions): void {
  if (ctx.dim < 2 && o.window > 1) throw new UsageError(`time-shift estimates each sample's variance over its values; it needs ≥ 2 values per sample, got ${ctx.dim}`);
}

/**
 * f evaluated once per distinct current time, on the samples at that time that `active` selects
 * (one model call each); rows not selected stay zero.
 */
async function perTime(
  ctx: SampleContext, x: Float64Array, times: Float64Array, active: (j: number) => boolean,
  f: (sub: SampleContext, part: Float64Array, t: number) => Promise<Float64Array>,
): Promise<Float64Array> {
  const out = new Float64Array(x.length);
  for (const rows of groupBy(ctx.n, (j) => (active(j) ? String(times[j]) : undefined))) {
    const part = await f(subContext(ctx, x, rows, () => ctx.noise()), gather(x, rows, ctx.dim), times[rows[0]]);
    scatterInto(out, part, rows, ctx.dim);
  }
  return out;
}

/** A memoryless base: its own step on each sample's interval [τ_i, τ_{i+1}], shared by samples with the same interval. */
function timeShift(base: SamplerEntry) {
  return async (x: Float64Array, grid: Float64Array, ctx: SampleContext, o: TimeShiftOptions): Promise<Float64Array> => {
    checkDim(ctx, o);
    const { n, dim } = ctx;
    const steps = grid.length - 1;
    const times = new Float64Array(n).fill(grid[0]);
    for (let i = 0; i < steps; i++) {
      ctx.step(i, steps);
      const targets = targetsAt(ctx, x, times, grid, i, o);
      let draw: Float64Array | undefined;
      const noise = () => (draw ??= ctx.noise());
      const out = new Float64Array(x.length);
      for (const rows of groupBy(n, (j) => `${times[j]}→${targets[j]}`)) {
        const interval = Float64Array.of(times[rows[0]], targets[rows[0]]);
        scatterInto(out, await base.run(gather(x, rows, dim), interval, subContext(ctx, x, rows, noise), base.defaults), rows, dim);
      }
      x = out;
      times.set(targets);
    }
    return x;
  };
}

/**
 * Time-Shift PLMS / PNDM. Each sample keeps its own ε history, evaluated at its own (shifted)
 * times; the step is PNDM's: the fixed Adams–Bashforth combination of the last four ε carried by
 * the DDIM transfer from τ_i to τ_{i+1}. While fewer than four are known, the warm-up is PLMS's
 * pseudo improved Euler (first step only) or PNDM's pseudo Runge–Kutta (first three steps), each on
 * the sample's own interval. The official code instead evaluates ε at the scheduled time and shifts
 * only the transfer's end point.
 */
const tsPseudoMultistep = (warmUp: 'improved-euler' | 'runge-kutta'): Run => async (x, grid, ctx, o) => {
  checkDim(ctx, o);
  const p = ctx.process;
  const { n, dim } = ctx;
  const steps = grid.length - 1;
  const times = new Float64Array(n).fill(grid[0]);
  const starts = new Float64Array(n).fill(NaN);
  const history: Float64Array[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps);
    const targets = targetsAt(ctx, x, times, grid, i, o);
    const eps = await perTime(ctx, x, times, () => true, (sub, part, t) => epsAt(sub, part, t));
    for (let j = 0; j < n; j++) {
      const e = eps.slice(j * dim, (j + 1) * dim);
      if (starts[j] === times[j]) history[j][history[j].length - 1] = e;
      else if (history[j].push(e) > 4) history[j].shift();
    }
    starts.set(times);
    const out = Float64Array.from(x);
    const moving = (j: number) => (targets[j] !== times[j] ? `${times[j]}→${targets[j]}|${history[j].length}` : undefined);
    for (const rows of groupBy(n, moving)) {
      const [t, s, known] = [times[rows[0]], targets[rows[0]], history[rows[0]].length];
      const past = Array.from({ length: known }, (_, k) => stack(history, rows, k, dim));
      const part = gather(x, rows, dim);
      const sub = () => subContext(ctx, x, rows, () => ctx.noise());
      const warming = p.sigma(s) > 0 && (warmUp === 'runge-kutta' ? known < 4 : known === 1);
      const next = !warming ? transfer(p, part, adamsBashforth(past), t, s)
        : warmUp === 'runge-kutta' ? await pseudoRungeKutta(sub(), part, past[known - 1], t, s)
        : await pseudoImprovedEuler(sub(), part, past[0], t, s);
      scatterInto(out, next, rows, dim);
    }
    x = out;
    times.set(targets);
  }
  return x;
};

/**
 * Time-Shift DPM-Solver++(2M). Each sample keeps its own history of x̂0 and λ at its own
 * (shifted) times, so the multistep ratio r = h_{−1}/h is the sample's own, as in the official
 * code, which keeps a per-sample time list; samples share an update only when their current, next
 * and previous times all agree.
 */
async function tsDpmpp2m(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: TimeShiftOptions): Promise<Float64Array> {
  checkDim(ctx, o);
  const p = ctx.process;
  const { n, dim } = ctx;
  const m = multistepDefaults;
  const midpoint = m.solverType === 'dpmsolver' || m.solverType === 'midpoint';
  const steps = grid.length - 1;
  const times = new Float64Array(n).fill(grid[0]);
  const outputs: Float64Array[][] = Array.from({ length: n }, () => []);
  const lambdas: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps);
    const targets = targetsAt(ctx, x, times, grid, i, o);
    const moving = (j: number) => targets[j] !== times[j];
    const d = await perTime(ctx, x, times, moving, (sub, part, t) => modelOutput(sub, part, nodeAt(p, t), m.algorithm, m));
    for (let j = 0; j < n; j++) {
      if (!moving(j)) continue;
      outputs[j].unshift(d.slice(j * dim, (j + 1) * dim));
      lambdas[j].unshift(p.logSnr(times[j]));
      outputs[j].length = Math.min(outputs[j].length, 2);
      lambdas[j].length = outputs[j].length;
    }
    const out = Float64Array.from(x);
    for (const rows of groupBy(n, (j) => (moving(j) ? `${times[j]}→${targets[j]}|${lambdas[j].join()}` : undefined))) {
      const from = nodeAt(p, times[rows[0]]);
      const to = nodeAt(p, targets[rows[0]]);
      const ls = lambdas[rows[0]];
      const w = weights(m.algorithm, from, to, 0);
      const k = from.alpha === 0 ? 1 : multistepOrder(m, i, steps, ls.length, to.sigma === 0);
      const part = gather(x, rows, dim);
      const next = k === 1
        ? firstOrder(w, part, stack(outputs, rows, 0, dim))
        : multistep2(w, part, [stack(outputs, rows, 0, dim), stack(outputs, rows, 1, dim)], (ls[0] - ls[1]) / (to.lambda - from.lambda), midpoint);
      scatterInto(out, next, rows, dim);
      if (from.alpha === 0) for (const r of rows) [outputs[r].length, lambdas[r].length] = [0, 0];
    }
    x = out;
    times.set(targets);
  }
  return x;
}

function validate(o: TimeShiftOptions): void {
  if (!(Number.isInteger(o.window) && o.window >= 0)) throw new UsageError(`window must be an integer ≥ 0 (training-step units; 0 = no shift), got ${o.window}`);
  if (!(o.cutoff >= 0 && o.cutoff <= 1)) throw new UsageError(`cutoff must be a fraction of the time range in [0, 1], got ${o.cutoff}`);
}

const CITE = 'Li et al. 2024, Alleviating Exposure Bias in Diffusion Models through Sampling with Shifted Time Steps (ICLR), Alg. 1';

function baseEntry(name: string): SamplerEntry {
  const b = [...ddimSamplers, ...pndmSamplers, ...dpmSolverSamplers].find((e) => e.name === name);
  if (!b) throw new UsageError(`time-shift base ${name} is not a registered sampler`);
  return b;
}

type Run = (x: Float64Array, grid: Float64Array, ctx: SampleContext, o: TimeShiftOptions) => Promise<Float64Array>;

function timeShiftEntry<const N extends string>(name: N, baseName: string, description: string, run?: Run) {
  const base = baseEntry(baseName);
  return entry({
    name,
    aliases: [`TS-${baseName.toUpperCase()}`],
    family: 'time-shift',
    description,
    cite: CITE,
    order: base.order,
    stochastic: base.stochastic,
    defaults: { window: 30, cutoff: 0.3 },
    validate,
    defaultGrid: base.defaultGrid,
    run: run ?? timeShift(base),
  });
}

/**
 * NFE: the model takes one time per call, so a step costs one call per distinct current time
 * among the samples (at most n; 1 with window 0); per sample it is the base's count.
 */
export const timeShiftSamplers = [
  timeShiftEntry('ts-ddim', 'ddim', 'Time-Shift DDIM: each step goes to the time in a window whose noise variance matches the sample\'s (window=0: DDIM)'),
  timeShiftEntry('ts-ddpm', 'ddpm', 'Time-Shift DDPM: ancestral DDPM steps to variance-matched shifted times (window=0: DDPM)'),
  timeShiftEntry('ts-plms', 'plms', 'Time-Shift PLMS: per-sample ε history, Adams–Bashforth + DDIM transfer to variance-matched shifted times, improved-Euler warm-up (window=0: PLMS)', tsPseudoMultistep('improved-euler')),
  timeShiftEntry('ts-pndm', 'pndm', 'Time-Shift PNDM: as ts-plms with PNDM\'s pseudo Runge–Kutta warm-up on each sample\'s own intervals (window=0: PNDM)', tsPseudoMultistep('runge-kutta')),
  timeShiftEntry('ts-dpmpp-2m', 'dpmpp-2m', 'Time-Shift DPM-Solver++(2M): per-sample x̂0/λ history, multistep steps to variance-matched shifted times (window=0: DPM++ 2M)', tsDpmpp2m),
];
