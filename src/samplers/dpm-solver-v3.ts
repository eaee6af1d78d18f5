import { entry, type SampleContext } from './types.js';
import type { GridSpec } from '../grid/index.js';
import { EmsCurve, type Quadrature } from '../ems/curve.js';
import { degenerateEms, parseEms, type Ems } from '../ems/ems.js';
import { nodeCost, pilotEms } from '../ems/estimate.js';
import { linN } from '../core/vec.js';
import { UsageError } from '../core/errors.js';
import { exp } from '../core/math.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * DPM-Solver-v3 (Zheng, Lu, Chen, Zhu 2023, NeurIPS). With y = x/α the PF-ODE is dy/dλ = −e^{−λ}ε̂.
 * Writing f = e^{−λ}ε̂ − l_λ y = (1 − l_λ)y − x̂0 and g = e^{−S_λ}f − B_λ (L = ∫l, S = ∫s,
 * B = ∫e^{−S}b) the exact solution from λ_s to λ_t is (Eq. 9)
 *   y_t = e^{−(L_t − L_s)} y_s − ∫ e^{L_λ − L_t} f_λ dλ,
 * and g, which the EMS make as flat as possible, is expanded in a Taylor series at λ_s whose
 * derivatives come from earlier (predictor) or later (corrector) model values (Eq. 11–13). The EMS
 * l, s, b come from src/ems; their integrals are taken by quadrature on the sampling grid itself.
 */

export interface V3Options {
  [k: string]: number | string | boolean;
  order: number;
  /** Predictor derivatives from plain divided differences (the paper's pseudo-order, §3.4). */
  pseudoOrder: boolean;
  /** Multistep corrector at no extra model call (§3.3): redo each step with the new model value. */
  corrector: boolean;
  /** The corrector one order higher with pseudo-order derivatives (the official `c_pseudo`). */
  correctorPseudo: boolean;
  /** Last step first order, second-to-last at most second, on grids of fewer than lowerOrderFinalSteps steps. */
  lowerOrderFinal: boolean;
  /**
   * 15 (diffusers' rule for DPM-Solver++). The official sampler lowers the last two steps on every
   * grid (lowerOrderFinalSteps = 1e9); its first-order last step has local error O(h²)·g′ where x̂0
   * still moves (near t_end), which caps the global order at 2 (measured on gmm16 at 640–2560
   * steps: 2.0 with it, 2.95 without; the first-order first step is harmless, g′ is small at t = 1).
   */
  lowerOrderFinalSteps: number;
  /** 'online' (estimate in the run), 'degenerate' (l = 1, s = b = 0: DPM-Solver++) or EMS JSON text. */
  ems: string;
  /** Online EMS: λ nodes of the pilot path, and Hutchinson probes per node. */
  emsPoints: number;
  emsProbes: number;
}

/** A model value kept for the multistep history. */
interface Point {
  lambda: number;
  alpha: number;
  x: Float64Array;
  /** f = (1 − l)x/α − x̂0 at the point's original model call; kept when the corrector moves x. */
  f: Float64Array;
}

/**
 * Rows k = 0..n: the Taylor coefficients g^(k)(λ_0) as combinations of g at the points
 * δ_i = λ_i − λ_0 (δ_0 = 0). With `pseudo`, Newton divided differences times k! (the official
 * pseudo-order, any n: the corrector of order + 1 uses four points); otherwise the derivatives of
 * the interpolating polynomial (official non-pseudo), n ≤ 2.
 */
function derivativeRows(delta: readonly number[], pseudo: boolean): number[][] {
  const n = delta.length - 1;
  if (pseudo || n < 2) {
    const rows: number[][] = [delta.map((_, i) => (i === 0 ? 1 : 0))];
    let prev: number[][] = delta.map((_, i) => delta.map((__, j) => (i === j ? 1 : 0)));
    let factorial = 1;
    for (let k = 1; k <= n; k++) {
      prev = prev.slice(0, n + 1 - k).map((row, j) => row.map((v, c) => (prev[j + 1][c] - v) / (delta[j + k] - delta[j])));
      factorial *= k;
      rows.push(prev[0].map((v) => v * factorial));
    }
    return rows;
  }
  if (n > 2) throw new Error('non-pseudo derivatives use at most three points');
  const dd01 = [-1 / delta[1], 1 / delta[1], 0];
  const dd02 = [-1 / delta[2], 0, 1 / delta[2]];
  const dd012 = dd02.map((v, i) => (v - dd01[i]) / (delta[2] - delta[1]));
  return [[1, 0, 0], dd01.map((v, i) => v - delta[1] * dd012[i]), dd012.map((v) => 2 * v)];
}

/**
 * One update from pts[0] (the expansion point λ_s) to (λ_t, α_t), with the derivatives of g taken
 * from all of pts. In y: y_t = e^{−(L_t−L_s)}y_s − Σ_k Φ_k g^(k) − Ψ, where (Eq. 12)
 *   Φ_k = ∫_s^t e^{L_λ − L_t + S_λ − S_s}(λ − λ_s)^k/k! dλ,
 *   Ψ = ∫_s^t e^{L_λ − L_t + S_λ}(B_λ − B_s) dλ = ∫_s^t e^{−(S_r − S_s)} b_r K(r) dr,  K(r) = ∫_r^t e^{L−L_t+S−S_s},
 * and g at λ_i, relative to λ_s, is e^{−(S_i − S_s)} f_i − ∫_s^{λ_i} e^{−(S_r − S_s)} b_r dr (the
 * official get_g). b enters through weights on its nodes, so the update is one linear combination.
 */
function update(curve: EmsCurve, pts: readonly Point[], lambdaT: number, alphaT: number, pseudo: boolean): Float64Array {
  const base = pts[0];
  const ls = base.lambda;
  const Ls = curve.L(ls);
  const Lt = curve.L(lambdaT);
  const Ss = curve.S(ls);
  const E = (lam: number) => exp(curve.L(lam) - Lt + curve.S(lam) - Ss);
  const n = pts.length - 1;
  const q = curve.quadrature(ls, lambdaT);
  const phi = new Array<number>(n + 1).fill(0);
  for (let i = 0; i < q.x.length; i++) {
    const u = q.x[i] - ls;
    let term = q.w[i] * E(q.x[i]);
    for (let k = 0; k <= n; k++) {
      phi[k] += term;
      term *= u / (k + 1);
    }
  }
  const rows = derivativeRows(pts.map((p) => p.lambda - ls), pseudo);
  const weight = pts.map((_, i) => rows.reduce((acc, row, k) => acc + phi[k] * row[i], 0));
  const decay = pts.map((p) => exp(-(curve.S(p.lambda) - Ss)));
  const cf = weight.map((w, i) => -w * decay[i]);
  const coeffs = [(alphaT / base.alpha) * exp(-(Lt - Ls)), ...cf.map((c) => alphaT * c)];
  const vectors = [base.x, ...pts.map((p) => p.f)];
  if (curve.b) {
    const cb = bWeights(curve, q, E, Ss);
    for (let j = 0; j < cb.length; j++) cb[j] = -cb[j];
    pts.forEach((p, i) => {
      const beta = new Float64Array(curve.size);
      const qi = curve.quadrature(ls, p.lambda);
      for (let m = 0; m < qi.x.length; m++) curve.addWeights(beta, qi.x[m], qi.w[m] * exp(-(curve.S(qi.x[m]) - Ss)));
      for (let j = 0; j < cb.length; j++) cb[j] += weight[i] * beta[j];
    });
    const shift = linN(new Float64Array(curve.b[0].length), Array.from(cb, (c) => alphaT * c), curve.b);
    const out = linN(new Float64Array(base.x.length), coeffs, vectors);
    for (let i = 0; i < out.length; i++) out[i] += shift[i % shift.length];
    return out;
  }
  return linN(new Float64Array(base.x.length), coeffs, vectors);
}

/** Node weights c_j of Ψ = Σ_j c_j b_j: ∫ e^{−(S_r − S_s)} K(r) φ_j(r) dr with K from piece sums. */
function bWeights(curve: EmsCurve, q: Quadrature, E: (lam: number) => number, Ss: number): Float64Array {
  const per = q.x.length / (q.bounds.length - 1);
  const pieces = q.bounds.length - 1;
  const tail = new Float64Array(pieces + 1);
  for (let p = pieces - 1; p >= 0; p--) {
    let sum = 0;
    for (let i = p * per; i < (p + 1) * per; i++) sum += q.w[i] * E(q.x[i]);
    tail[p] = tail[p + 1] + sum;
  }
  const c = new Float64Array(curve.size);
  for (let i = 0; i < q.x.length; i++) {
    const p = Math.floor(i / per);
    const K = tail[p + 1] + EmsCurve.integrateSmooth(q.x[i], q.bounds[p + 1], E);
    curve.addWeights(c, q.x[i], q.w[i] * exp(-(curve.S(q.x[i]) - Ss)) * K);
  }
  return c;
}

/** The EMS a run uses: parsed from the option, degenerate, or estimated on a pilot path. */
async function emsFor(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: V3Options): Promise<Ems> {
  if (o.ems === 'degenerate') return degenerateEms();
  if (o.ems === 'online') return pilotEms(ctx.denoise, ctx.process, x, grid, ctx.n, o.emsPoints, o.emsProbes, ctx.noise);
  return parseEms(o.ems, ctx.dim);
}

/** Predictor order of step i of n: warm-up from the history (official sample()), lower at the end of short grids. */
function predictorOrder(o: V3Options, i: number, n: number, history: number): number {
  const k = Math.min(o.order, history);
  return o.lowerOrderFinal && n < o.lowerOrderFinalSteps ? Math.min(k, n - i) : k;
}

/**
 * Multistep DPM-Solver-v3 with the optional corrector (Zheng et al. 2023, Alg. 1–2, official
 * sample()): one model call per step. A step to σ = 0 (λ = ∞, beyond any EMS) is the exact limit
 * of the first-order data-prediction step, x = α·x̂0; a step from α = 0 is DPM-Solver++'s first order.
 */
async function dpmSolverV3(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: V3Options): Promise<Float64Array> {
  const p = ctx.process;
  const curve = new EmsCurve(await emsFor(x, grid, ctx, o), ctx.dim);
  const n = grid.length - 1;
  let history: Point[] = [];
  let lastOrder = 0;
  for (let i = 0; i < n; i++) {
    ctx.step(i, n, x);
    if (grid[i + 1] === grid[i]) continue;
    const t = grid[i];
    const alpha = p.alpha(t);
    const to = { lambda: p.logSnr(grid[i + 1]), alpha: p.alpha(grid[i + 1]), sigma: p.sigma(grid[i + 1]) };
    const x0 = await ctx.denoise(x, t);
    if (alpha === 0) {
      const a = to.sigma / p.sigma(t);
      x = x.map((v, j) => a * v + to.alpha * x0[j]);
      history = [];
      lastOrder = 0;
      continue;
    }
    const lambda = p.logSnr(t);
    const c = (1 - curve.lAt(lambda)) / alpha;
    const point: Point = { lambda, alpha, x, f: x.map((v, j) => c * v - x0[j]) };
    const corrOrder = lastOrder + (o.correctorPseudo ? 1 : 0);
    if (o.corrector && history.length > 0 && corrOrder > 1) {
      const pts = [history[0], point, ...history.slice(1, corrOrder - 1)];
      point.x = update(curve, pts, lambda, alpha, o.correctorPseudo);
    }
    history = [point, ...history].slice(0, 3);
    if (!(to.sigma > 0)) {
      const k = (1 - curve.lAt(lambda)) / alpha;
      x = point.x.map((v, j) => to.alpha * (k * v - point.f[j]));
      lastOrder = 1;
      continue;
    }
    const k = predictorOrder(o, i, n, history.length);
    x = update(curve, history.slice(0, k), to.lambda, to.alpha, o.pseudoOrder);
    lastOrder = k;
  }
  return x;
}

function validate(o: V3Options): void {
  if (![1, 2, 3].includes(o.order)) throw new UsageError(`order must be 1, 2 or 3, got ${o.order}`);
  if (!(Number.isInteger(o.lowerOrderFinalSteps) && o.lowerOrderFinalSteps >= 0)) {
    throw new UsageError(`lowerOrderFinalSteps must be an integer ≥ 0, got ${o.lowerOrderFinalSteps}`);
  }
  checkCount(o.emsPoints, 'emsPoints', 2, LIMITS.points);
  checkCount(o.emsProbes, 'emsProbes', 1, LIMITS.population);
  if (o.ems !== 'online' && o.ems !== 'degenerate') {
    if (!o.ems.trimStart().startsWith('{')) {
      throw new UsageError(`ems must be "online", "degenerate" or EMS JSON text (emsToJson, from emsFromMixture or estimateEms); got ${JSON.stringify(o.ems.slice(0, 40))}`);
    }
    parseEms(o.ems);
  }
}

const defaults: V3Options = {
  order: 3,
  pseudoOrder: false,
  corrector: true,
  correctorPseudo: false,
  lowerOrderFinal: true,
  lowerOrderFinalSteps: 15,
  ems: 'online',
  emsPoints: 12,
  emsProbes: 1,
};

const defaultGrid: GridSpec = { type: 'logsnr', steps: 10, end: 'zero' };

export const dpmSolverV3Samplers = [
  entry({
    name: 'dpm-solver-v3',
    aliases: ['DPM-Solver-v3', 'dpm_solver_v3', 'DPM_Solver_v3'],
    family: 'dpm-solver-v3',
    description:
      `DPM-Solver-v3: multistep solver in the EMS-optimal parametrisation, orders 1–3, pseudo-order, corrector; 1 model call per step. ems=JSON text from emsFromMixture/estimateEms, "degenerate" (= DPM-Solver++), or "online": estimated in the run on a pilot path (emsPoints × ${nodeCost(1)} extra model calls at emsProbes=1)`,
    cite: 'Zheng, Lu, Chen, Zhu 2023, DPM-Solver-v3 (NeurIPS), Eq. 6–13, Alg. 1–2',
    order: 3,
    stochastic: false,
    defaults,
    validate,
    defaultGrid,
    run: dpmSolverV3,
  }),
];
