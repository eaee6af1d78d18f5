import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { processX0, validateX0, x0Defaults, type X0Options } from './x0.js';
import { diffusersFinalTime, diffusersFlowSigmas, diffusersMultistepGrid, diffusersProcess, diffusersX0, modelTimeOf, rejectFlags } from './diffusers.js';
import { linN } from '../core/vec.js';
import { UsageError } from '../core/errors.js';
import type { Process } from '../process/types.js';
import { expm1, pow } from '../core/math.js';

/**
 * UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of
 * Diffusion Models", §3 and Alg. 1–3), written in λ = log(α/σ) for any process x = αx0 + σε.
 *
 * With model outputs m (data prediction x̂0, or noise prediction ε̂), a step s → t, h = λ_t − λ_s,
 * earlier points r_k = (λ_{s_k} − λ_s)/h and differences D_k = (m_k − m_0)/r_k:
 *   data:  x_t = (σ_t/σ_s) x_s + α_t (1 − e^{−h}) m_0 − α_t B(h) Σ_k ρ_k D_k
 *   noise: x_t = (α_t/α_s) x_s − σ_t (e^{h} − 1) m_0 − σ_t B(h) Σ_k ρ_k D_k
 * UniP-p (predictor) uses the p − 1 latest earlier outputs; UniC-p (corrector) adds the output at
 * the predicted point itself (r = 1) and re-does the last step, reaching order p + 1 without an
 * extra model call: that output is kept and reused by the next predictor.
 */
export interface UniPcOptions extends X0Options {
  [k: string]: number | string | boolean;
  /** p of UniP-p / UniC-p: 1, 2 or 3. */
  order: number;
  /** B(h) = h ("bh1") or e^h − 1 ("bh2"), with h of the variant's sign (−h for data prediction). */
  variant: 'bh1' | 'bh2';
  corrector: boolean;
  /** Data prediction (UniPC with x̂0, the default) or noise prediction (ε̂). */
  predictX0: boolean;
  /** Lower the order over the last steps (order ≤ number of steps left), as diffusers does. */
  lowerOrderFinal: boolean;
  /** Comma-separated step indices whose result is not corrected (diffusers' disable_corrector). */
  disableCorrector: string;
}

const MAX_ORDER = 3;

/** g_i = i!·z·φ_{i+1}(z) for i = 1..n, with φ_1(z) = (e^z − 1)/z, φ_{k+1}(z) = (φ_k(z) − 1/k!)/z. */
export function phiTerms(z: number, n: number): number[] {
  const phi: number[] = [];
  if (Math.abs(z) < 1) {
    // φ_k(z) = Σ_j z^j/(j + k)!: the recursion would cancel catastrophically for small z.
    for (let k = 2; k <= n + 1; k++) {
      let term = 1;
      for (let j = 2; j <= k; j++) term /= j;
      let sum = 0;
      for (let j = 0; j < 30 && term !== 0; j++) {
        sum += term;
        term *= z / (j + k + 1);
      }
      phi.push(sum);
    }
  } else {
    let p = expm1(z) / z;
    let fact = 1;
    for (let k = 1; k <= n; k++) {
      p = (p - 1 / fact) / z;
      fact *= k + 1;
      phi.push(p);
    }
  }
  const g: number[] = [];
  let fact = 1;
  for (let i = 1; i <= n; i++) {
    fact *= i;
    g.push(fact * z * phi[i - 1]);
  }
  return g;
}

/**
 * The weights c_k = B(h)·ρ_k of the differences D_k at ratios r_k. ρ solves the order conditions
 * Σ_k ρ_k r_k^{i−1} = g_i/B(h), i = 1..n (Theorem 3.1), so c does not depend on B; with a single
 * unknown (UniP-2, UniC-1) the authors' code and diffusers take ρ = ½, where B does matter.
 */
export function uniWeights(r: readonly number[], z: number, variant: UniPcOptions['variant']): number[] {
  const n = r.length;
  if (n === 0) return [];
  if (n === 1) return [0.5 * (variant === 'bh1' ? z : expm1(z))];
  const g = phiTerms(z, n);
  const rows = g.map((gi, i) => [...r.map((rk) => pow(rk, i)), gi]);
  return solveAugmented(rows);
}

/** Gaussian elimination with partial pivoting on an n × (n + 1) augmented matrix (n ≤ 3). */
function solveAugmented(a: number[][]): number[] {
  const n = a.length;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let i = col + 1; i < n; i++) if (Math.abs(a[i][col]) > Math.abs(a[piv][col])) piv = i;
    [a[col], a[piv]] = [a[piv], a[col]];
    for (let i = col + 1; i < n; i++) {
      const f = a[i][col] / a[col][col];
      for (let j = col; j <= n; j++) a[i][j] -= f * a[col][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = a[i][n];
    for (let j = i + 1; j < n; j++) s -= a[i][j] * x[j];
    x[i] = s / a[i][i];
  }
  return x;
}

/** A model output kept for later steps: at log-SNR λ, x̂0 or ε̂ per the variant. */
interface Point {
  lambda: number;
  out: Float64Array;
}

/**
 * One UniP-p step s → t from the latest `order` points of `hist` (its last one is at s), or, given
 * the output `mt` at t, one UniC-p step (the order-p predictor plus the point at t).
 */
function uniStep(
  p: Process, o: UniPcOptions, x: Float64Array, s: number, t: number, hist: readonly Point[], order: number,
  mt?: Float64Array,
): Float64Array {
  const last = hist.length - 1;
  const m0 = hist[last].out;
  const lamS = hist[last].lambda;
  const h = p.logSnr(t) - lamS;
  const r: number[] = [];
  const outs: Float64Array[] = [];
  for (let k = 1; k < order; k++) {
    r.push((hist[last - k].lambda - lamS) / h);
    outs.push(hist[last - k].out);
  }
  if (mt) {
    r.push(1);
    outs.push(mt);
  }
  const at = p.alpha(t);
  const as = p.alpha(s);
  const ss = p.sigma(s);
  const c = uniWeights(r, o.predictX0 ? -h : h, o.variant);
  // x_t = a·x_s + b·m_0 − γ Σ_k c_k (m_k − m_0)/r_k
  let a: number;
  let b: number;
  let gamma: number;
  if (o.predictX0) {
    a = p.sigma(t) / ss;
    b = -at * expm1(-h);
    gamma = at;
  } else {
    // σ_t(e^h − 1) = (α_t σ_s/α_s)(1 − e^{−h}) stays finite at σ_t = 0, h = ∞.
    a = at / as;
    b = (at * ss * expm1(-h)) / as;
    gamma = p.sigma(t);
  }
  const coef = [a, b];
  const vecs = [x, m0];
  for (let k = 0; k < c.length; k++) {
    const w = (gamma * c[k]) / r[k];
    coef.push(-w);
    vecs.push(outs[k]);
    coef[1] += w;
  }
  return linN(new Float64Array(x.length), coef, vecs);
}

/** The model output UniPC works with: x̂0 (clipped/thresholded as asked) or ε̂ = (x − αx̂0)/σ. */
async function modelOutput(ctx: SampleContext, x: Float64Array, t: number, o: UniPcOptions): Promise<Float64Array> {
  const p = ctx.process;
  const a = p.alpha(t);
  if (!o.predictX0 && a === 0) {
    throw new UsageError(`unipc with predictX0=false needs α > 0 at every step start, but α(${t}) = 0; use predictX0=true`);
  }
  const x0 = await ctx.denoise(x, t);
  if (o.predictX0) return processX0(x0, ctx.n, o);
  const s = p.sigma(t);
  for (let i = 0; i < x.length; i++) x0[i] = (x[i] - a * x0[i]) / s;
  return x0;
}

/**
 * UniPC-p multistep (Alg. 3): at each grid time one model call, the corrector applied to the
 * point just reached (skipped at the first step), then the predictor. Orders warm up from 1;
 * a step with h = ∞ (from α = 0 or to σ = 0) has only the first-order limit and is not corrected.
 */
async function unipc(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: UniPcOptions): Promise<Float64Array> {
  const p = ctx.process;
  const steps = grid.length - 1;
  const noCorrection = parseSteps(o.disableCorrector);
  const hist: Point[] = [];
  // the last predictor step: its start point, order, index and whether h was finite
  let prev: { x: Float64Array; t: number; order: number; step: number; finite: boolean } | undefined;
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps, x);
    const t = grid[i];
    const s = grid[i + 1];
    if (s === t) continue;
    const out = await modelOutput(ctx, x, t, o);
    if (prev && prev.finite && o.corrector && !noCorrection.has(prev.step)) {
      x = uniStep(p, o, prev.x, prev.t, t, hist, prev.order, out);
    }
    hist.push({ lambda: p.logSnr(t), out });
    if (hist.length > o.order) hist.shift();
    const finite = Number.isFinite(p.logSnr(s) - p.logSnr(t));
    const usable = hist.filter((q) => Number.isFinite(q.lambda)).length;
    const order = finite ? Math.min(o.order, usable, o.lowerOrderFinal ? steps - i : MAX_ORDER) : 1;
    prev = { x, t, order, step: i, finite };
    x = uniStep(p, o, x, t, s, hist, order);
  }
  return x;
}

function parseSteps(list: string): Set<number> {
  const out = new Set<number>();
  for (const item of list.split(',')) {
    const v = item.trim();
    if (v === '') continue;
    const k = Number(v);
    if (!(Number.isInteger(k) && k >= 0)) {
      throw new UsageError(`disableCorrector must list step indices ≥ 0 separated by commas (e.g. "0,1"), got "${list}"`);
    }
    out.add(k);
  }
  return out;
}

function validate(o: UniPcOptions): void {
  validateX0(o);
  if (!(Number.isInteger(o.order) && o.order >= 1 && o.order <= MAX_ORDER)) {
    throw new UsageError(`unipc order must be 1, 2 or 3, got ${o.order}`);
  }
  parseSteps(o.disableCorrector);
  if (!o.predictX0 && (o.clipSample > 0 || o.thresholdRatio > 0)) {
    throw new UsageError('clipSample and thresholdRatio act on the data prediction; they need predictX0=true');
  }
}

const fromDiffusersUniPc: ReferenceMapping = {
  library: 'diffusers',
  name: 'UniPCMultistepScheduler',
  translate(c, steps) {
    rejectFlags(c, 'UniPCMultistepScheduler', ['use_dynamic_shifting']);
    if (c.solver_p != null) throw new UsageError('UniPCMultistepScheduler with solver_p is not translated');
    const flow = c.use_flow_sigmas === true ? diffusersFlowSigmas(c, 'UniPCMultistepScheduler', steps) : undefined;
    const process = flow ? flow.process : diffusersProcess(c, 'UniPCMultistepScheduler');
    const grid = flow ? flow.grid : diffusersMultistepGrid(c, 'UniPCMultistepScheduler', steps, diffusersFinalTime(c));
    const solverType = String(c.solver_type ?? 'bh2');
    // diffusers maps the DPM-Solver names midpoint/heun/logrho to bh2.
    if (!['bh1', 'bh2', 'midpoint', 'heun', 'logrho'].includes(solverType)) {
      throw new UsageError(`solver_type must be bh1 or bh2 (or midpoint, heun, logrho for bh2), got ${solverType}`);
    }
    const disable = Array.isArray(c.disable_corrector) ? c.disable_corrector.map(Number) : [];
    return {
      sampler: 'unipc',
      options: {
        order: Number(c.solver_order ?? 2),
        variant: solverType === 'bh1' ? 'bh1' : 'bh2',
        predictX0: c.predict_x0 !== false,
        lowerOrderFinal: c.lower_order_final !== false,
        disableCorrector: disable.join(','),
        ...diffusersX0(c),
      },
      process,
      grid,
      ...(flow ? { modelTime: flow.modelTime, modelTimeScale: flow.modelTimeScale } : modelTimeOf(c)),
    };
  },
};

export const unipcSamplers = [
  entry({
    name: 'unipc',
    aliases: ['UniPCMultistepScheduler'],
    family: 'unipc',
    description: 'UniPC multistep predictor-corrector (UniP-p + UniC-p, order p+1 at one NFE per step); variant bh1|bh2',
    cite: 'Zhao et al. 2023, UniPC: A Unified Predictor-Corrector Framework, §3, Theorem 3.1, Alg. 1–3',
    order: 3,
    stochastic: false,
    defaults: {
      ...x0Defaults,
      order: 2,
      variant: 'bh2',
      corrector: true,
      predictX0: true,
      lowerOrderFinal: true,
      disableCorrector: '',
    },
    choices: { variant: ['bh1', 'bh2'] },
    validate,
    run: unipc,
    references: [fromDiffusersUniPc],
  }),
];
