import type { Process } from './process/types.js';
import { makeGrid, type GridSpec } from './grid/index.js';
import { GaussianMixture, GmmOracle, type GmmSpec } from './models/oracle/gmm.js';
import type { Prediction } from './param/convert.js';
import { defaultGrid, sample } from './sample.js';
import { findSampler } from './samplers/index.js';
import { pfOdeEndpoint } from './ode/pf-ode.js';
import type { OdeOptions } from './ode/dopri.js';
import { sampleErrors, type SampleErrors } from './metrics/error.js';
import { Rng } from './core/rng.js';
import { UsageError } from './core/errors.js';
import { checkCount, LIMITS } from './core/limits.js';

/**
 * Accuracy per model call: every sampler, at every NFE budget, starts from the same x_T and is
 * compared with the exact PF-ODE endpoint at the end of its own grid (DOP853 on the exact
 * mixture). Pure library code: the CLI and bench scripts write the tables.
 */

/** A grid spec without its step count, which the benchmark chooses per NFE budget. */
export type GridShape = {
  [K in Exclude<GridSpec['type'], 'explicit'>]: Omit<Extract<GridSpec, { type: K }>, 'steps'>;
}[Exclude<GridSpec['type'], 'explicit'>];

/** One sampler to benchmark: its name, options, grid shape and row label. */
export interface BenchSampler {
  /** Sampler name or alias. */
  name: string;
  /** The sampler's options, by its option names. */
  options?: Readonly<Record<string, unknown>>;
  /** Default: the sampler's own default grid. */
  grid?: GridShape;
  /** Row label; default the sampler name with its options. */
  label?: string;
}

/** Progress of {@link benchmark}: one report per (sampler, budget) pair finished. */
export interface BenchProgress {
  /** Pairs finished so far, this one included. */
  done: number;
  /** Pairs in all: samplers × budgets. */
  total: number;
  /** The row label of the sampler just finished. */
  label: string;
  /** Its NFE budget. */
  budget: number;
}

/** What {@link benchmark} runs: the mixture and process, the samplers and the NFE budgets. */
export interface BenchRequest {
  /** The Gaussian mixture whose exact model (GmmOracle) every sampler runs on. */
  gmm: GmmSpec | GaussianMixture;
  /** The forward process of the oracle and of the ground-truth PF-ODE. */
  process: Process;
  /** The samplers to compare, at least one. */
  samplers: readonly BenchSampler[];
  /** NFE budgets (default 5, 10, 20, 50). */
  nfes?: readonly number[];
  /** Samples per run (default 64). */
  n?: number;
  /** Seed of x_T and of stochastic samplers' noise (default 0). */
  seed?: number;
  /** What the oracle returns before the denoiser normalises it (default epsilon, as in shared/refs). */
  prediction?: Prediction;
  /** Tolerances of the ground-truth ODE solve (default 1e-12). */
  ode?: OdeOptions;
  /** Called after each (sampler, budget) pair, whether or not it gave a row. */
  onProgress?: (p: BenchProgress) => void;
}

/**
 * One (sampler, budget) result: errors of the n samples against the exact PF-ODE endpoints from the
 * same x_T, over all coordinates unless said otherwise.
 */
export interface BenchRow {
  /** The row label (BenchSampler.label or the name with its options). */
  label: string;
  /** The sampler's registry name. */
  sampler: string;
  /** The grid shape, e.g. `karras(rho=7)`. */
  grid: string;
  /** Whether the sampler draws noise (its endpoint then differs from the PF-ODE's even without discretisation error). */
  stochastic: boolean;
  /** The NFE budget of this row. */
  budget: number;
  /** The largest step count whose measured NFE fits the budget. */
  steps: number;
  /** Model calls of the run (each on the whole batch of n samples). */
  nfe: number;
  /** RMS error over all samples and coordinates. */
  rmsErr: number;
  /** Median over samples of the per-sample RMS error (the robust convergence measure). */
  medianErr: number;
  /** Largest absolute error of any coordinate. */
  maxAbsErr: number;
  /** Samples whose likeliest mixture component differs from the ground truth's. */
  modeFlips: number;
  /** RMS error over the samples without a mode flip; NaN when every sample flipped. */
  rmsErrExclFlips: number;
}

/** The NFE budgets benchmarked when the request names none. */
export const DEFAULT_NFES: readonly number[] = [5, 10, 20, 50];

/**
 * Rows for every (sampler, budget) whose smallest run fits the budget; the step count is the
 * largest whose measured NFE (one-sample runs) does not exceed it.
 */
export async function benchmark(req: BenchRequest): Promise<BenchRow[]> {
  const gmm = req.gmm instanceof GaussianMixture ? req.gmm : new GaussianMixture(req.gmm);
  const { process } = req;
  const nfes = req.nfes ?? DEFAULT_NFES;
  const n = req.n ?? 64;
  const seed = req.seed ?? 0;
  for (const b of nfes) if (!(Number.isInteger(b) && b >= 1)) throw new UsageError(`NFE budgets must be integers ≥ 1, got ${b}`);
  checkCount(n, 'n', 1, LIMITS.samples);
  if (req.samplers.length === 0) throw new UsageError('benchmark needs at least one sampler');
  const model = new GmmOracle(gmm, process, req.prediction ?? 'epsilon');
  const z = new Rng(seed).fork(0).fillNormal(new Float64Array(n * gmm.d));
  const truths = new Map<string, Float64Array>();
  const rows: BenchRow[] = [];
  const total = req.samplers.length * nfes.length;
  let done = 0;
  for (const s of req.samplers) {
    const entry = findSampler(s.name);
    const label = s.label ?? labelOf(entry.name, s.options);
    const spec = s.grid ?? defaultGrid(entry.defaultGrid, 1);
    if (spec.type === 'explicit') throw new UsageError(`benchmark grids need a step count; ${label} has an explicit grid`);
    const shape: GridShape = spec;
    const gridOf = (steps: number) => makeGrid(process, { ...shape, steps } as GridSpec);
    const xTOf = (grid: Float64Array) => z.map((v) => v * process.priorStd(grid[0]));
    const nfeCache = new Map<number, number>();
    const nfeOf = async (steps: number) => {
      let nfe = nfeCache.get(steps);
      if (nfe === undefined) {
        const grid = gridOf(steps);
        const run = await sample({ model, process, sampler: entry.name, options: s.options, grid, xT: xTOf(grid).subarray(0, gmm.d), seed });
        nfe = run.nfe;
        nfeCache.set(steps, nfe);
      }
      return nfe;
    };
    for (const budget of nfes) {
      const steps = await stepsWithin(budget, nfeOf);
      if (steps !== undefined) {
        const grid = gridOf(steps);
        const xT = xTOf(grid);
        const run = await sample({ model, process, sampler: entry.name, options: s.options, grid, xT, seed });
        const truth = groundTruth(truths, gmm, process, xT, grid, req.ode);
        rows.push({
          label, sampler: entry.name, grid: gridLabel(shape), stochastic: entry.stochastic,
          budget, steps, nfe: run.nfe, ...errorColumns(sampleErrors(run.x.data, truth, gmm)),
        });
      }
      req.onProgress?.({ done: ++done, total, label, budget });
    }
  }
  return rows;
}

/** Largest step count with nfe(steps) ≤ budget, assuming NFE grows with steps; undefined if none. */
async function stepsWithin(budget: number, nfeOf: (steps: number) => Promise<number>): Promise<number | undefined> {
  let s = budget;
  let nfe = await nfeOf(s);
  while (nfe > budget && s > 1) {
    s = Math.max(1, Math.min(s - 1, Math.floor((s * budget) / nfe)));
    nfe = await nfeOf(s);
  }
  if (nfe > budget) return undefined;
  while (s < 4 * budget && (await nfeOf(s + 1)) <= budget) s++;
  return s;
}

/** The exact endpoint from (grid[0], x_T) to the grid's end, solved once per (start, end). */
function groundTruth(
  cache: Map<string, Float64Array>, gmm: GaussianMixture, process: Process, xT: Float64Array, grid: Float64Array, ode?: OdeOptions,
): Float64Array {
  const key = `${grid[0]}→${grid[grid.length - 1]}`;
  let truth = cache.get(key);
  if (!truth) {
    truth = pfOdeEndpoint(gmm, process, xT, grid[0], grid[grid.length - 1], ode);
    cache.set(key, truth);
  }
  return truth;
}

function labelOf(name: string, options: Readonly<Record<string, unknown>> | undefined): string {
  const opts = Object.entries(options ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  return opts.length ? `${name}(${opts.join(', ')})` : name;
}

function errorColumns(e: SampleErrors) {
  const { rmsErr, maxAbsErr, medianSampleRmsErr: medianErr, modeFlips, rmsErrExclFlips } = e;
  return { rmsErr, medianErr, maxAbsErr, modeFlips, rmsErrExclFlips };
}

function gridLabel(g: GridShape): string {
  const extras = Object.entries(g).filter(([k]) => k !== 'type' && k !== 'steps').map(([k, v]) => `${k}=${String(v)}`);
  return extras.length ? `${g.type}(${extras.join(', ')})` : g.type;
}

const columns: readonly [string, (r: BenchRow) => string][] = [
  ['sampler', (r) => r.label],
  ['grid', (r) => r.grid],
  ['NFE budget', (r) => String(r.budget)],
  ['steps', (r) => String(r.steps)],
  ['NFE', (r) => String(r.nfe)],
  ['RMS err', (r) => sci(r.rmsErr)],
  ['median err', (r) => sci(r.medianErr)],
  ['max err', (r) => sci(r.maxAbsErr)],
  ['mode flips', (r) => String(r.modeFlips)],
];

function sci(v: number): string {
  return Number.isFinite(v) ? v.toExponential(2) : '—';
}

/** A Markdown table, one row per (sampler, budget). */
export function toMarkdown(rows: readonly BenchRow[]): string {
  const head = `| ${columns.map(([h]) => h).join(' | ')} |`;
  const rule = `|${columns.map(([h], i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`;
  const body = rows.map((r) => `| ${columns.map(([, f]) => f(r)).join(' | ')} |`);
  return [head, rule, ...body].join('\n') + '\n';
}

const csvFields: readonly (keyof BenchRow)[] = [
  'label', 'sampler', 'grid', 'stochastic', 'budget', 'steps', 'nfe',
  'rmsErr', 'medianErr', 'maxAbsErr', 'modeFlips', 'rmsErrExclFlips',
];

/** CSV with a header row; numbers at full precision. */
export function toCsv(rows: readonly BenchRow[]): string {
  const quote = (v: unknown) => {
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [csvFields.join(','), ...rows.map((r) => csvFields.map((f) => quote(r[f])).join(','))].join('\n') + '\n';
}
