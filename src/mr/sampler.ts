import type { MeanReverting } from './process.js';
import { checkMu, muAt, toData, toNoise, type MrModel } from './oracle.js';
import { resolveGrid } from '../sample.js';
import type { GridSpec } from '../grid/index.js';
import { Rng } from '../core/rng.js';
import { RunError, UsageError } from '../core/errors.js';
import { exp, expm1 } from '../core/math.js';
import { firstNonFinite } from '../core/vec.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * MR Sampler (Li et al. 2025, "MRS", §3–4): semi-analytic solutions of the PF-ODE and the reverse
 * SDE of mean-reverting diffusion. In y = x − μ (src/mr/process.ts) every step is an exponential
 * integrator in λ = log(α/σ), h = λ_t − λ_s > 0 (s the earlier, noisier time):
 *   ODE, data  (Eq. 14/20):  y_t = (σ_t/σ_s) y_s + α_t(1 − e^{−h}) ŷ0 + α_t(1 − (1 − e^{−h})/h) D1
 *   ODE, noise (Eq. 11/19):  y_t = (α_t/α_s) y_s − σ_t(e^h − 1) ε̂ − σ_t((e^h − 1)/h − 1) D1
 *   SDE, data  (Eq. 22/24):  y_t = (σ_t/σ_s)e^{−h} y_s + α_t(1 − e^{−2h}) ŷ0 + α_t(1 − (1 − e^{−2h})/(2h)) D1 + σ_t√(1 − e^{−2h}) z
 *   SDE, noise (Eq. 21/23):  y_t = (α_t/α_s) y_s − 2σ_t(e^h − 1) ε̂ − 2σ_t((e^h − 1)/h − 1) D1 + σ_t√(e^{2h} − 1) z
 * with the multistep difference D1 = (q_s − q_prev)·h/h_prev (order 2; absent at order 1 and at
 * the first step). σ_t e^h = α_tσ_s/α_s keeps the noise forms finite at every h. A step to σ = 0
 * (h = ∞) returns ŷ0, the limit of the first-order ODE step; D1's coefficient diverges there.
 * The IR-SDE posterior sampler (Luo et al. 2023, Refusion Eq. 8–10) is the baseline of MRS.
 */
export type MrSolver = 'ode' | 'sde' | 'posterior';
/** The prediction the MR Sampler's update rules are written in: data (x̂0) or noise (ε̂). */
export type MrParameterization = 'data' | 'noise';

/** A `sampleMr` run: the model, its process and μ, the solver, the grid and the batch. */
export interface MrRequest {
  /** The network or oracle; its outputs are converted from its own `prediction` as each update needs. */
  model: MrModel;
  /** The mean-reverting process the model was trained on. */
  process: MeanReverting;
  /** The terminal mean μ (the degraded / conditioning image): d values shared, or n×d. */
  mu: Float64Array;
  /** 'ode' or 'sde' (MR Sampler), or 'posterior' (IR-SDE's posterior sampling). Default 'ode'. */
  solver?: MrSolver;
  /** What the MR Sampler integrates: data (x̂0) or noise (ε̂) prediction. Default 'data'. */
  parameterization?: MrParameterization;
  /** 1 or 2 (multistep). Default 2. */
  order?: number;
  /** Steps (= NFE) of the default grid: uniform in t from 1 to 0 (MRS's "linspace"). Default 10. */
  steps?: number;
  /** Decreasing times to step through, as a grid spec or explicit times; overrides `steps`' default grid. */
  grid?: GridSpec | Float64Array;
  /** Number of samples (default xT's count when given, else μ's rows). */
  n?: number;
  /** Seed of the start noise and of the SDE / posterior noise (default 0). */
  seed?: number;
  /** x at the first grid time (n×d); default μ + σ(t_0)·z (IR-SDE's noisy state). */
  xT?: Float64Array;
}

/** What `sampleMr` returns. */
export interface MrResult {
  /** The samples at the grid's last time (n×d). */
  x: Float64Array;
  /** Where sampling started (n×d). */
  xT: Float64Array;
  /** Model calls (one per step). */
  nfe: number;
  /** The time grid used. */
  grid: Float64Array;
}

interface Step {
  as: number;
  ss: number;
  at: number;
  st: number;
  h: number;
}

/** Sample x0 from a mean-reverting model with MR Sampler or the posterior sampler. */
export async function sampleMr(req: MrRequest): Promise<MrResult> {
  const { model, process: p, mu } = req;
  const solver = req.solver ?? 'ode';
  const param = req.parameterization ?? 'data';
  const order = req.order ?? 2;
  if (!['ode', 'sde', 'posterior'].includes(solver)) throw new UsageError(`MR solver must be ode, sde or posterior, got "${solver}"`);
  if (param !== 'data' && param !== 'noise') throw new UsageError(`MR parameterization must be data or noise, got "${String(param)}"`);
  if (order !== 1 && order !== 2) throw new UsageError(`MR Sampler order must be 1 or 2, got ${order}`);
  const dim = model.dim;
  const n = req.n ?? (req.xT ? req.xT.length / dim : mu.length / dim);
  checkCount(n, 'n', 1, LIMITS.samples);
  checkMu(mu, n, dim);
  const grid = resolveGrid(p, req.grid, req.steps, { type: 'time-uniform', steps: req.steps ?? 10, end: 0 });
  const rng = new Rng(req.seed ?? 0);
  const noise = rng.fork(1);
  let xT: Float64Array;
  if (req.xT) {
    if (req.xT.length !== n * dim) throw new UsageError(`x_T has ${req.xT.length} values; expected n×d = ${n}×${dim}`);
    xT = Float64Array.from(req.xT);
  } else {
    const s0 = p.sigma(grid[0]);
    xT = rng.fork(0).fillNormal(new Float64Array(n * dim)).map((z, i) => muAt(mu, dim, i) + s0 * z);
  }
  const y = xT.map((v, i) => v - muAt(mu, dim, i));
  let nfe = 0;
  let prev: { q: Float64Array; h: number } | undefined;
  for (let i = 0; i + 1 < grid.length; i++) {
    const [s, t] = [grid[i], grid[i + 1]];
    if (t === s) continue;
    const x = y.map((v, k) => v + muAt(mu, dim, k));
    const out = await model.predict(x, n, s, mu);
    nfe++;
    const bad = firstNonFinite(out);
    if (bad >= 0) throw new RunError(`mean-reverting model output is ${out[bad]} at step ${i}, t=${s} (sample ${Math.floor(bad / dim)})`);
    const st: Step = { as: p.alpha(s), ss: p.sigma(s), at: p.alpha(t), st: p.sigma(t), h: p.logSnr(t) - p.logSnr(s) };
    const useData = param === 'data' || solver === 'posterior' || st.st === 0;
    const q = useData ? toData(p, s, model.prediction, x, out, mu, dim) : toNoise(p, s, model.prediction, x, out, mu, dim);
    if (useData) for (let k = 0; k < q.length; k++) q[k] -= muAt(mu, dim, k);
    if (st.st === 0) {
      y.set(q);
    } else if (solver === 'posterior') {
      posteriorStep(p, s, t, y, q, noise);
    } else {
      const last = order === 2 ? prev : undefined;
      const d1 = last && q.map((v, k) => ((v - last.q[k]) * st.h) / last.h);
      mrStep(solver === 'sde', param, st, y, q, d1, noise);
    }
    prev = { q, h: st.h };
  }
  return { x: y.map((v, k) => v + muAt(mu, dim, k)), xT, nfe, grid };
}

/** One MR Sampler step (the four update rules above) on y in place. */
function mrStep(sde: boolean, param: MrParameterization, st: Step, y: Float64Array, q: Float64Array, d1: Float64Array | undefined, rng: Rng): void {
  const { as, ss, at, st: sigT, h } = st;
  const em = expm1(-h); // e^{−h} − 1
  const ratio = (at * ss) / as; // σ_t e^h
  let cy: number;
  let cq: number;
  let cd = 0;
  let cz = 0;
  if (param === 'data') {
    const e2 = sde ? expm1(-2 * h) : em;
    cy = sde ? (sigT / ss) * (1 + em) : sigT / ss;
    cq = -at * e2;
    if (d1) cd = sde ? at * (1 + e2 / (2 * h)) : at * (1 + em / h);
    if (sde) cz = sigT * Math.sqrt(-e2);
  } else {
    const k = sde ? 2 : 1;
    cy = at / as;
    cq = k * ratio * em;
    if (d1) cd = -k * ratio * (-em / h - 1 - em);
    if (sde) cz = ratio * Math.sqrt(-expm1(-2 * h));
  }
  const z = sde ? rng.fillNormal(new Float64Array(y.length)) : undefined;
  for (let i = 0; i < y.length; i++) {
    y[i] = cy * y[i] + cq * q[i] + (d1 ? cd * d1[i] : 0) + (z ? cz * z[i] : 0);
  }
}

/**
 * IR-SDE posterior step s → t (Luo et al. 2023, Refusion Eq. 9–10): the Gaussian q(y_t | y_s, ŷ0)
 * of the mean-reverting SDE, with A = e^{−θ̄(s−t)}, B = e^{−θ̄_s}, C = e^{−θ̄_t}:
 *   mean = A(1 − C²)/(1 − B²)·y_s + C(1 − A²)/(1 − B²)·ŷ0,  var = λ²(1 − A²)(1 − C²)/(1 − B²).
 */
function posteriorStep(p: MeanReverting, s: number, t: number, y: Float64Array, y0: Float64Array, rng: Rng): void {
  const th = p.thetaBar;
  const oneA2 = -expm1(-2 * th * (s - t));
  const oneB2 = -expm1(-2 * th * s);
  const oneC2 = -expm1(-2 * th * t);
  const cy = (exp(-th * (s - t)) * oneC2) / oneB2;
  const cq = (exp(-th * t) * oneA2) / oneB2;
  const cz = p.lambda * Math.sqrt((oneA2 * oneC2) / oneB2);
  const z = rng.fillNormal(new Float64Array(y.length));
  for (let i = 0; i < y.length; i++) y[i] = cy * y[i] + cq * y0[i] + cz * z[i];
}
