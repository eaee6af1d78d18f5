import { entry, type SampleContext, type SamplerEntry } from './types.js';
import { ddimSamplers } from './ddim.js';
import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';

/**
 * Time-Shift Sampler (Li et al. 2024, "Alleviating Exposure Bias in Diffusion Models through
 * Sampling with Shifted Time Steps", ICLR; Alg. 1 and the official TS-DPM code): before each step,
 * the per-sample variance of the current x is compared with the noise variance σ²(τ) of the
 * candidate times τ in a window of `window` training-step units around the scheduled next time,
 * and the step is taken to the best-matching τ instead. Shifting stops below the cutoff time.
 *
 * It wraps a memoryless base sampler by running the base's own step on each sample's interval
 * [τ_i, τ_{i+1}]; samples that chose the same interval share one step. Each sample follows its own
 * grid, so one step may need one model call per distinct chosen time (the model interface takes a
 * single t per call); per sample it is still one evaluation per base step.
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

function timeShift(base: SamplerEntry) {
  return async (x: Float64Array, grid: Float64Array, ctx: SampleContext, o: TimeShiftOptions): Promise<Float64Array> => {
    const p = ctx.process;
    const { n, dim } = ctx;
    if (dim < 2 && o.window > 1) throw new UsageError(`time-shift estimates each sample's variance over its values; it needs ≥ 2 values per sample, got ${dim}`);
    const steps = grid.length - 1;
    const cutoffTime = p.tMin + o.cutoff * (p.tMax - p.tMin);
    const times = new Float64Array(n).fill(grid[0]);
    for (let i = 0; i < steps; i++) {
      ctx.step(i, steps);
      const next = grid[i + 1];
      const shifting = i + 1 < steps && next > cutoffTime && o.window > 1;
      const targets = Float64Array.from(times, (from, j) =>
        shifting ? shiftedTime(p, sampleVariance(x, j, dim), from, next, grid[i + 2], o.window) : next,
      );
      const groups = new Map<string, number[]>();
      for (let j = 0; j < n; j++) {
        const key = `${times[j]}→${targets[j]}`;
        const rows = groups.get(key);
        if (rows) rows.push(j);
        else groups.set(key, [j]);
      }
      let draw: Float64Array | undefined;
      const noise = () => (draw ??= ctx.noise());
      const out = new Float64Array(x.length);
      for (const rows of groups.values()) {
        const interval = Float64Array.of(times[rows[0]], targets[rows[0]]);
        const part = await base.run(gather(x, rows, dim), interval, subContext(ctx, x, rows, noise), base.defaults);
        rows.forEach((r, k) => out.set(part.subarray(k * dim, (k + 1) * dim), r * dim));
      }
      x = out;
      times.set(targets);
    }
    return x;
  };
}

function validate(o: TimeShiftOptions): void {
  if (!(Number.isInteger(o.window) && o.window >= 0)) throw new UsageError(`window must be an integer ≥ 0 (training-step units; 0 = no shift), got ${o.window}`);
  if (!(o.cutoff >= 0 && o.cutoff <= 1)) throw new UsageError(`cutoff must be a fraction of the time range in [0, 1], got ${o.cutoff}`);
}

const CITE = 'Li et al. 2024, Alleviating Exposure Bias in Diffusion Models through Sampling with Shifted Time Steps (ICLR), Alg. 1';

function baseEntry(name: string): SamplerEntry {
  const b = ddimSamplers.find((s) => s.name === name);
  if (!b) throw new UsageError(`time-shift base ${name} is not a DDIM-family sampler`);
  return b;
}

function timeShiftEntry(name: string, baseName: string, description: string) {
  const base = baseEntry(baseName);
  return entry<TimeShiftOptions>({
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
    run: timeShift(base),
  });
}

export const timeShiftSamplers = [
  timeShiftEntry('ts-ddim', 'ddim', 'Time-Shift DDIM: each step goes to the time in a window whose noise variance matches the sample\'s (window=0: DDIM)'),
  timeShiftEntry('ts-ddpm', 'ddpm', 'Time-Shift DDPM: ancestral DDPM steps to variance-matched shifted times (window=0: DDPM)'),
];
