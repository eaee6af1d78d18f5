import { entry, type SampleContext } from './types.js';
import type { Process } from '../process/types.js';
import type { GridSpec } from '../grid/index.js';
import { linN } from '../core/vec.js';
import { UsageError } from '../core/errors.js';
import { expm1 } from '../core/math.js';

/**
 * Learnable sampler coefficients (LSD / LSD+, Fu, Guo & Liu 2025, "Learnable Sampler Distillation for
 * Discrete Diffusion Models", NeurIPS, §3): the paper scales each step of a discrete-diffusion sampler by
 * a learned coefficient Φ(t_k) and, for LSD+, learns the times τ_k too, distilled from a many-step
 * teacher. This is the continuous analogue on DPM-Solver++(2M) (Lu et al. 2022, Alg. 2): step i is
 *   x_{i+1} = (σ_{i+1}/σ_i) x_i + α_{i+1} (c0_i·x̂0_i + c1_i·x̂0_{i−1}),
 * whose analytic weights are c0 = w1 + q, c1 = −q with w1 = 1 − e^{−h}, q = w1/(2 r), r = h_{i−1}/h
 * (first-order steps: c0 = w1, c1 = 0). The distilled c0_i, c1_i replace them; the first step has no
 * history and keeps c1 = 0. The coefficients travel as a plain-JSON `LsdCoefficients` value:
 * `lsdRun(c)` turns it into the sampler name, options and grid that sample() takes.
 */

export interface LsdOptions {
  [k: string]: number | string | boolean;
  /** c0,c1 of every step, comma-separated (2 per step); empty = the analytic DPM-Solver++(2M) weights. */
  coefficients: string;
}

/** A distilled sampler: plain JSON (save it with JSON.stringify). */
export interface LsdCoefficients {
  kind: 'lsd';
  /** LSD+ (times learned too) or LSD (times of the base grid). */
  plus: boolean;
  times: number[];
  /** [c0, c1] per step. */
  coefficients: [number, number][];
}

/** The analytic DPM-Solver++(2M) weights [c0, c1] of every step of a grid (dpmpp-2m defaults: lower order in the last step of < 15, first order to σ = 0). */
export function analyticCoefficients(p: Process, grid: ArrayLike<number>): [number, number][] {
  const n = grid.length - 1;
  const out: [number, number][] = [];
  let prevLambda: number | undefined;
  for (let i = 0; i < n; i++) {
    const l0 = p.logSnr(grid[i]);
    const h = p.logSnr(grid[i + 1]) - l0;
    const w1 = -expm1(-h);
    const second = prevLambda !== undefined && Number.isFinite(prevLambda) && Number.isFinite(h) && (n >= 15 || n - i >= 2);
    if (second && prevLambda !== undefined) {
      const q = (0.5 * w1) / ((l0 - prevLambda) / h);
      out.push([w1 + q, -q]);
    } else out.push([w1, 0]);
    if (grid[i + 1] !== grid[i]) prevLambda = l0;
  }
  return out;
}

export function formatCoefficients(c: readonly (readonly [number, number])[]): string {
  return c.map(([a, b]) => `${a},${b}`).join(',');
}

function parseCoefficients(s: string): number[] {
  if (s.trim() === '') return [];
  const v = s.split(',').map((x) => Number(x.trim()));
  if (v.some((x) => !Number.isFinite(x)) || v.length % 2 !== 0) {
    throw new UsageError(`lsd coefficients must be finite numbers, two (c0,c1) per step, comma-separated; got "${s.length > 60 ? `${s.slice(0, 60)}…` : s}"`);
  }
  return v;
}

/** What sample() needs to run distilled coefficients: spread it into the request. */
export function lsdRun(c: LsdCoefficients) {
  if (c.coefficients.length !== c.times.length - 1) {
    throw new UsageError(`LSD coefficients need one [c0, c1] per step: ${c.times.length - 1} steps, ${c.coefficients.length} pairs`);
  }
  const grid: GridSpec = { type: 'explicit', times: [...c.times] };
  return { sampler: 'lsd', options: { coefficients: formatCoefficients(c.coefficients) }, grid };
}

/** DPM-Solver++(2M) with per-step coefficients (LSD's Φ(t_k) in the continuous setting); one model call per step. */
async function runLsd(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: LsdOptions): Promise<Float64Array> {
  const p = ctx.process;
  const n = grid.length - 1;
  const given = parseCoefficients(o.coefficients);
  if (given.length > 0 && given.length !== 2 * n) throw new UsageError(`lsd has ${given.length / 2} coefficient pairs but the grid has ${n} steps`);
  const analytic = given.length === 0 ? analyticCoefficients(p, grid) : [];
  let previous: Float64Array | undefined;
  for (let i = 0; i < n; i++) {
    ctx.step(i, n, x);
    const t = grid[i];
    const s = grid[i + 1];
    if (s === t) continue;
    const m0 = await ctx.denoise(x, t);
    const [c0, c1] = given.length ? [given[2 * i], given[2 * i + 1]] : analytic[i];
    const sigmaS = p.sigma(s);
    const a = sigmaS === 0 ? 0 : sigmaS / p.sigma(t);
    const b = p.alpha(s);
    const useHistory = previous !== undefined && c1 !== 0;
    x = useHistory && previous ? linN(new Float64Array(x.length), [a, b * c0, b * c1], [x, m0, previous]) : linN(new Float64Array(x.length), [a, b * c0], [x, m0]);
    previous = p.alpha(t) === 0 ? undefined : m0;
  }
  return x;
}

export const lsdSamplers = [
  entry({
    name: 'lsd',
    aliases: ['LSD', 'LSD+', 'lsd-plus'],
    family: 'lsd',
    description: 'DPM-Solver++(2M) with distilled per-step coefficients (LSD; LSD+ also learns the times): pass distillLsd()\'s result through lsdRun(); no coefficients = dpmpp-2m',
    cite: 'Fu, Guo & Liu 2025, Learnable Sampler Distillation (NeurIPS), §3 (continuous analogue on Lu et al. 2022, DPM-Solver++ Alg. 2)',
    order: 2,
    stochastic: false,
    defaults: { coefficients: '' },
    validate: (o) => void parseCoefficients(o.coefficients),
    run: runLsd,
  }),
];
