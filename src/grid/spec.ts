import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';

/**
 * A time grid is a value the caller passes: decreasing process times t_0 > … > t_N, N = steps.
 * Every spec is plain data, so it can be saved and parsed from the CLI.
 *
 * `end` sets the last time: a number, 'min' (process.tMin, the default) or 'zero' (process.tZero,
 * σ = 0 exactly; the grid is then built down to tMin and the last step goes on to σ = 0,
 * diffusers' final_sigmas_type="zero" and k-diffusion's appended σ = 0).
 */
export type GridEnd = number | 'min' | 'zero';

/** A grid by type and parameters (see grid/index.ts for what each type builds); `explicit` gives the times themselves. */
export type GridSpec =
  | { type: 'time-uniform'; steps: number; start?: number; end?: GridEnd }
  | { type: 'time-quadratic'; steps: number; start?: number; end?: GridEnd }
  | { type: 'logsnr'; steps: number; start?: number; end?: GridEnd }
  | { type: 'karras'; steps: number; rho?: number; sigmaMin?: number; sigmaMax?: number; end?: GridEnd }
  | { type: 'exponential'; steps: number; sigmaMin?: number; sigmaMax?: number; end?: GridEnd }
  | { type: 'flow-shift'; steps: number; shift?: number; start?: number; end?: GridEnd }
  | { type: 'diffusers'; steps: number; spacing?: 'linspace' | 'leading' | 'trailing'; stepsOffset?: number; end?: GridEnd }
  | { type: 'normal'; steps: number }
  | { type: 'sgm-uniform'; steps: number }
  | { type: 'simple'; steps: number }
  | { type: 'ddim-uniform'; steps: number }
  | { type: 'compvis'; steps: number }
  | { type: 'beta'; steps: number; alpha?: number; beta?: number }
  | { type: 'kl-optimal'; steps: number }
  | { type: 'linear-quadratic'; steps: number; threshold?: number; linearSteps?: number }
  | { type: 'drop-penultimate'; steps: number; of: GridSpec }
  | { type: 'explicit'; times: number[] };

/** The names of the grid types. */
export type GridType = GridSpec['type'];

/** A registered grid type: its name, a description and how to build its times on a process. */
export interface GridEntry {
  type: GridType;
  description: string;
  /** `make` builds another grid (for grids defined over one, e.g. drop-penultimate). */
  build(p: Process, spec: GridSpec, make: (p: Process, spec: GridSpec) => Float64Array): Float64Array;
}

/** A grid must have at least 2 times, each finite or tZero, non-increasing (repeats allowed), and inside the process. */
export function checkGrid(p: Process, g: Float64Array): void {
  if (g.length < 2) throw new UsageError(`a grid needs at least 2 times, got ${g.length}`);
  for (let i = 0; i < g.length; i++) {
    const t = g[i];
    if (Number.isNaN(t) || (!Number.isFinite(t) && t !== p.tZero)) throw new UsageError(`grid time ${i} is ${t}`);
    if (t > p.tMax + 1e-12 || t < p.tZero) {
      throw new UsageError(`grid time ${t} is outside [${p.tZero}, ${p.tMax}] of process ${p.name}`);
    }
    if (i > 0 && t > g[i - 1]) throw new UsageError(`grid must be non-increasing; time ${i} (${t}) > time ${i - 1} (${g[i - 1]})`);
  }
}

/** Resolve `end` to (time to build down to, whether to append tZero). */
export function resolveEnd(p: Process, end: GridEnd | undefined): { tEnd: number; appendZero: boolean } {
  if (end === undefined || end === 'min') return { tEnd: p.tMin, appendZero: false };
  if (end === 'zero') return { tEnd: p.tMin, appendZero: true };
  if (typeof end === 'number' && end >= p.tZero && end <= p.tMax) return { tEnd: end, appendZero: false };
  throw new UsageError(`grid end must be a time in [${p.tZero}, ${p.tMax}], "min" or "zero"; got ${String(end)}`);
}

/**
 * Build N+1 times from a builder over N points, honouring `end`. With 'zero' the builder makes
 * N times down to tMin and tZero is appended (k-diffusion's convention).
 */
export function withEnd(
  p: Process, steps: number, end: GridEnd | undefined, build: (count: number, tEnd: number) => Float64Array,
): Float64Array {
  const { tEnd, appendZero } = resolveEnd(p, end);
  if (!appendZero) return build(steps + 1, tEnd);
  const g = new Float64Array(steps + 1);
  g.set(build(steps, tEnd));
  g[steps] = p.tZero;
  return g;
}

/** n evenly spaced values from a to b, both included (a alone when n = 1). */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = a;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = a + ((b - a) * i) / (n - 1);
  return out;
}
