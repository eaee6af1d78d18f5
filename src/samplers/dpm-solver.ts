import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { processX0, validateX0, x0Defaults, type X0Options } from './x0.js';
import { ancestralSigma } from './ddim.js';
import { diffusersFinalTime, diffusersFlowSigmas, diffusersMultistepGrid, diffusersProcess, diffusersSigmaFlag, diffusersSigmas, diffusersX0, rejectFlags, type DiffusersConfig, diffusersEdm, modelTimeOf } from './diffusers.js';
import { roundHalfEven } from '../grid/diffusers.js';
import { sigmaVe, tOfSigmaVe } from '../grid/basic.js';
import { overlay, unusedUpstream } from './diffusers-classes.js';
import { fromDiffusers, fromKDiffusion } from './euler.js';
import type { GridSpec } from '../grid/index.js';
import { createProcess, type ProcessConfig } from '../process/index.js';
import type { Process } from '../process/types.js';
import { linN } from '../core/vec.js';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { exp, expm1, log } from '../core/math.js';

/**
 * The DPM-Solver family: exponential integrators of the probability-flow ODE in λ = log(α/σ).
 * For x = αx0 + σε the ODE has the exact solution from t to s (h = λ_s − λ_t)
 *   noise form  x_s = (α_s/α_t) x_t − α_s ∫ e^{−λ} ε̂ dλ          (Lu et al. 2022, DPM-Solver, Eq. 3.4)
 *   data form   x_s = (σ_s/σ_t) x_t + σ_s ∫ e^{λ} x̂0 dλ           (Lu et al. 2022, DPM-Solver++, Eq. 8)
 * and each solver expands ε̂ or x̂0 in λ to order 1–3 and integrates the expansion exactly.
 * Written once for every process in terms of α, σ, λ; σ_s = 0 (λ = ∞) is exact (e^{−∞} = 0).
 */

export type Algorithm = 'dpmsolver++' | 'dpmsolver';

/**
 * How the second-order terms are formed: 'dpmsolver' and 'taylor' are the official code's names,
 * 'midpoint' and 'heun' diffusers'. 'heun' ≡ 'taylor'. 'midpoint' ≡ 'dpmsolver' except inside a
 * singlestep third-order step, whose second intermediate diffusers forms by the midpoint rule and the
 * official code by the Taylor rule.
 */
export type SolverType = 'dpmsolver' | 'midpoint' | 'taylor' | 'heun';

export interface MultistepOptions extends X0Options {
  [k: string]: number | string | boolean;
  order: number;
  algorithm: Algorithm;
  solverType: SolverType;
  /** Lower the order of the last steps (last: 1, second-to-last: ≤ 2) on grids of fewer than lowerOrderFinalSteps steps. */
  lowerOrderFinal: boolean;
  /** diffusers uses 15, the official DPM-Solver sample() 10. */
  lowerOrderFinalSteps: number;
  /** Always take the last step with first order (diffusers' euler_at_final). */
  eulerAtFinal: boolean;
  /** SDE-DPM-Solver++: η = 0 is the ODE, η = 1 the reverse SDE (data form only). */
  eta: number;
  /** Scale of the injected noise (k-diffusion's s_noise). */
  sNoise: number;
  /**
   * Third order only: take D2 as the full second difference, making the 3M update third order.
   * false (default) keeps the references' D2, half of it, which converges with order 2.
   */
  fullSecondDifference: boolean;
}

export interface SinglestepOptions extends X0Options {
  [k: string]: number | string | boolean;
  order: number;
  algorithm: Algorithm;
  solverType: SolverType;
  /** When the grid divides into whole steps of `order`, split the last into orders (order−1, 1). */
  lowerOrderFinal: boolean;
  /**
   * The grid is the tail of a schedule this many intervals longer (img2img's begin index): the
   * steps are grouped as that full schedule groups them, its cut group run at the order its
   * remaining intervals allow (diffusers' order_list read from the begin index).
   */
  offset: number;
}

export interface AncestralOptions extends X0Options {
  [k: string]: number | string | boolean;
  eta: number;
  sNoise: number;
}

export interface SdeOptions extends AncestralOptions {
  /** Where the intermediate point sits in λ, as a fraction of the step (1/2 in k-diffusion and diffusers). */
  r: number;
}

/** α, σ and λ at one time. */
interface Node {
  t: number;
  alpha: number;
  sigma: number;
  lambda: number;
}

export function nodeAt(p: Process, t: number): Node {
  return { t, alpha: p.alpha(t), sigma: p.sigma(t), lambda: p.logSnr(t) };
}

/** The model output each algorithm integrates: x̂0 (DPM-Solver++) or ε̂ = (x − αx̂0)/σ (DPM-Solver). */
export async function modelOutput(ctx: SampleContext, x: Float64Array, n: Node, algorithm: Algorithm, o: X0Options): Promise<Float64Array> {
  const d = processX0(await ctx.denoise(x, n.t), ctx.n, o);
  if (algorithm === 'dpmsolver++') return d;
  for (let i = 0; i < d.length; i++) d[i] = (x[i] - n.alpha * d[i]) / n.sigma;
  return d;
}

/**
 * One step from `from` to `to` as x_to = a·x + b·(w1·M0 + w2·D1 + w3·D2), where the model output
 * is expanded as M(λ) ≈ M0 + D1·ρ + D2·ρ²/2 in ρ = (λ − λ_from)/h, integrated exactly:
 *   data form  (DPM-Solver++ Eq. 9–10):  b = α_s, w1 = 1 − e^{−h}, w2 = φ2 = 1 + (e^{−h} − 1)/h,
 *              w3 = −(φ2/h − ½); with η > 0 (SDE-DPM-Solver++, §5; k-diffusion's dpmpp_*_sde) h is
 *              replaced by (1 + η)h in the weights and a = (σ_s/σ_t)e^{−ηh};
 *   noise form (DPM-Solver Eq. 3.7, App. B):  b = −α_s σ_t/α_t (= −σ_s e^h), w1 = 1 − e^{−h},
 *              w2 = e^{−h}((e^h − 1)/h − 1), w3 = e^{−h}((e^h − 1 − h)/h² − ½).
 * Weights are written with e^{−h} so that σ_s = 0 (h = ∞) stays finite.
 */
interface Weights {
  a: number;
  b: number;
  w1: number;
  w2: number;
  w3: number;
  /** The midpoint rule's weight of D1 (½·w1), used instead of w2 by the 'dpmsolver'/'midpoint' types. */
  mid: number;
}

export function weights(algorithm: Algorithm, from: Node, to: Node, eta = 0): Weights {
  const h = to.lambda - from.lambda;
  if (algorithm === 'dpmsolver++') {
    const hh = (1 + eta) * h;
    const w1 = -expm1(-hh);
    const w2 = 1 + expm1(-hh) / hh;
    const a = to.sigma === 0 ? 0 : (to.sigma / from.sigma) * (eta > 0 ? exp(-eta * h) : 1);
    return { a, b: to.alpha, w1, w2, w3: 0.5 - w2 / hh, mid: 0.5 * w1 };
  }
  if (from.alpha === 0) {
    throw new UsageError(`DPM-Solver's noise form cannot start at t=${from.t}, where α = 0; start the grid below it or use algorithm dpmsolver++`);
  }
  const e = exp(-h);
  const w1 = -expm1(-h);
  const w2 = w1 / h - e;
  return { a: to.alpha / from.alpha, b: (-to.alpha * from.sigma) / from.alpha, w1, w2, w3: w2 / h - 0.5 * e, mid: 0.5 * w1 };
}

/** out = a·x + b·Σ c_k·M_k: every update below is one such combination. */
function combine(w: Weights, x: Float64Array, c: readonly number[], m: readonly Float64Array[]): Float64Array {
  return linN(new Float64Array(x.length), [w.a, ...c.map((v) => w.b * v)], [x, ...m]);
}

/** DPM-Solver-1 / DPM-Solver++ first order (= DDIM; Lu et al. 2022, Eq. 3.5). */
export function firstOrder(w: Weights, x: Float64Array, m0: Float64Array): Float64Array {
  return combine(w, x, [w.w1], [m0]);
}

/** Weight of D1 in a second-order update: the midpoint rule or the Taylor (φ2) rule. */
const d1Weight = (w: Weights, midpoint: boolean) => (midpoint ? w.mid : w.w2);

// ---------------------------------------------------------------- multistep

/**
 * Multistep second order from M0 at λ_0 and M1 at λ_{−1}, r = h_{−1}/h, D1 = (M0 − M1)/r
 * (DPM-Solver++(2M), Lu et al. 2022, Alg. 2).
 */
export function multistep2(w: Weights, x: Float64Array, m: readonly Float64Array[], r0: number, midpoint: boolean): Float64Array {
  const q = d1Weight(w, midpoint) / r0;
  return combine(w, x, [w.w1 + q, -q], m);
}

/**
 * Multistep third order from M at λ_0, λ_{−1}, λ_{−2}: D1_0 = (M0 − M1)/r0, D1_1 = (M1 − M2)/r1,
 * D1 = D1_0 + r0/(r0 + r1)·(D1_0 − D1_1), D2 = c·(D1_0 − D1_1)/(r0 + r1). The official code,
 * diffusers and k-diffusion take c = 1, half the second difference h²M'' that the expansion
 * M0 + D1ρ + D2ρ²/2 needs (D1_0 − D1_1 ≈ h²M''(r0 + r1)/2), so their 3M is second order; c = 2
 * (`fullSecondDifference`) restores third order.
 */
function multistep3(w: Weights, x: Float64Array, m: readonly Float64Array[], r0: number, r1: number, full: boolean): Float64Array {
  const u = r0 / (r0 + r1);
  const v = (full ? 2 : 1) / (r0 + r1);
  const k0 = w.w2 * (1 + u) + w.w3 * v;
  const k1 = -(w.w2 * u + w.w3 * v);
  return combine(w, x, [w.w1 + k0 / r0, -k0 / r0 + k1 / r1, -k1 / r1], m);
}

/** Order of step i of n: warm-up from the history, lower orders at the end (diffusers' and DPM-Solver's rule). */
export function multistepOrder(o: MultistepOptions, i: number, n: number, history: number, toZero: boolean): number {
  let k = Math.min(o.order, history);
  if (o.lowerOrderFinal && n < o.lowerOrderFinalSteps) k = Math.min(k, n - i);
  if (toZero || (o.eulerAtFinal && i === n - 1)) k = 1;
  return k;
}

/**
 * Multistep DPM-Solver (noise form) and DPM-Solver++ (data form), orders 1–3, one model call per
 * step (Lu et al. 2022, DPM-Solver++ Alg. 2 and its third-order extension); with η > 0 the
 * SDE-DPM-Solver++ / DPM-Solver++(2M, 3M) SDE, noise σ_s√(1 − e^{−2ηh}) per step.
 */
async function multistep(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: MultistepOptions): Promise<Float64Array> {
  const p = ctx.process;
  const n = grid.length - 1;
  const midpoint = o.solverType === 'dpmsolver' || o.solverType === 'midpoint';
  const outputs: Float64Array[] = [];
  const lambdas: number[] = [];
  for (let i = 0; i < n; i++) {
    ctx.step(i, n, x);
    if (grid[i + 1] === grid[i]) continue;
    const from = nodeAt(p, grid[i]);
    const to = nodeAt(p, grid[i + 1]);
    outputs.unshift(await modelOutput(ctx, x, from, o.algorithm, o));
    lambdas.unshift(from.lambda);
    outputs.length = Math.min(outputs.length, 3);
    lambdas.length = outputs.length;
    const w = weights(o.algorithm, from, to, o.eta);
    const h = to.lambda - from.lambda;
    // From α = 0 (λ = −∞) only the first-order step is finite; the history restarts after it.
    const k = from.alpha === 0 ? 1 : multistepOrder(o, i, n, outputs.length, to.sigma === 0);
    if (k === 1) x = firstOrder(w, x, outputs[0]);
    else if (k === 2) x = multistep2(w, x, outputs.slice(0, 2), (lambdas[0] - lambdas[1]) / h, midpoint);
    else x = multistep3(w, x, outputs, (lambdas[0] - lambdas[1]) / h, (lambdas[1] - lambdas[2]) / h, o.fullSecondDifference);
    if (o.eta > 0 && to.sigma > 0) {
      const z = ctx.noise();
      const std = o.sNoise * to.sigma * Math.sqrt(-expm1(-2 * o.eta * h));
      for (let j = 0; j < x.length; j++) x[j] += std * z[j];
    }
    if (from.alpha === 0) {
      outputs.length = 0;
      lambdas.length = 0;
    }
  }
  return x;
}

// ---------------------------------------------------------------- singlestep

/**
 * Singlestep second order from M0 at `from` and M1 at an intermediate point r1 = (λ_1 − λ_0)/h:
 * D1 = (M1 − M0)/r1 (DPM-Solver-2, Lu et al. 2022, Alg. 1; DPM-Solver++(2S), Alg. 1).
 */
function singlestep2(w: Weights, x: Float64Array, m: readonly Float64Array[], r1: number, midpoint: boolean): Float64Array {
  const q = d1Weight(w, midpoint) / r1;
  return combine(w, x, [w.w1 - q, q], m);
}

/**
 * Singlestep third order from M at 0 < r1 < r2 < 1 (DPM-Solver-3, Lu et al. 2022, Alg. 2):
 * the paper's form uses D1 = (M2 − M0)/r2 with weight φ2; the Taylor form fits D1 and D2 through
 * both intermediate points.
 */
function singlestep3(w: Weights, x: Float64Array, m: readonly Float64Array[], r1: number, r2: number, taylor: boolean): Float64Array {
  if (!taylor) return combine(w, x, [w.w1 - w.w2 / r2, 0, w.w2 / r2], m);
  const b0 = (w.w2 * r2 - 2 * w.w3) / (r2 - r1);
  const b1 = (2 * w.w3 - w.w2 * r1) / (r2 - r1);
  return combine(w, x, [w.w1 - b0 / r1 - b1 / r2, b0 / r1, b1 / r2], m);
}

/**
 * Orders of the singlestep groups covering n grid intervals: whole groups of `order`, the remainder
 * last; with lowerOrderFinal a grid that divides evenly ends in orders (order−1, 1); a final step
 * to σ = 0 is always first order (DPM-Solver-fast, Lu et al. 2022 §3.4; diffusers get_order_list).
 */
export function singlestepOrders(n: number, order: number, lowerOrderFinal: boolean, toZero: boolean): number[] {
  if (n === 0) return [];
  const orders: number[] = new Array<number>(Math.floor(n / order)).fill(order);
  if (n % order > 0) orders.push(n % order);
  else if (lowerOrderFinal && order > 1) orders.splice(orders.length - 1, 1, order - 1, 1);
  const last = orders[orders.length - 1];
  if (toZero && last > 1) orders.splice(orders.length - 1, 1, last - 1, 1);
  return orders;
}

/** The groups of `orders` left after the first `skip` intervals: a group cut by the start keeps its remaining intervals. */
export function tailOrders(orders: readonly number[], skip: number): number[] {
  const out: number[] = [];
  let start = 0;
  for (const k of orders) {
    const left = Math.min(k, start + k - skip);
    if (left > 0) out.push(left);
    start += k;
  }
  return out;
}

/**
 * Singlestep DPM-Solver-k / DPM-Solver++(kS): the grid's times are every model call; a step of
 * order k spans k intervals and takes its intermediate points on the grid (so a log-SNR grid gives
 * the paper's r1 = 1/3, r2 = 2/3). The intermediate values use the lower-order updates.
 */
async function singlestep(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: SinglestepOptions): Promise<Float64Array> {
  const p = ctx.process;
  const times = grid.filter((t, i) => i === 0 || t !== grid[i - 1]);
  const n = times.length - 1;
  const nodes = Array.from(times, (t) => nodeAt(p, t));
  const taylor = o.solverType === 'taylor' || o.solverType === 'heun';
  const toZero = nodes[n].sigma === 0;
  // A first step from α = 0 (λ = −∞) has no finite intermediate points: it is first order alone.
  const full = n + o.offset;
  const orders = nodes[0].alpha === 0 && o.offset === 0 ? [1, ...singlestepOrders(n - 1, o.order, o.lowerOrderFinal, toZero)]
    : tailOrders(singlestepOrders(full, o.order, o.lowerOrderFinal, toZero), o.offset);
  let start = 0;
  for (const k of orders) {
    const n0 = nodes[start];
    const m: Float64Array[] = [];
    let xi = x;
    for (let j = 1; j <= k; j++) {
      ctx.step(start + j - 1, n, j === 1 ? x : undefined);
      m.push(await modelOutput(ctx, xi, nodes[start + j - 1], o.algorithm, o));
      const to = nodes[start + j];
      const w = weights(o.algorithm, n0, to);
      const h = to.lambda - n0.lambda;
      const r1 = j > 1 ? (nodes[start + 1].lambda - n0.lambda) / h : 0;
      if (j === 1) xi = firstOrder(w, x, m[0]);
      else if (j === 2) xi = singlestep2(w, x, m, r1, !taylor && !(k === 3 && o.solverType === 'dpmsolver'));
      else xi = singlestep3(w, x, m, r1, (nodes[start + 2].lambda - n0.lambda) / h, taylor);
    }
    x = xi;
    start += k;
  }
  return x;
}

// ---------------------------------------------------------------- SDE (singlestep)

/**
 * The two noise draws of one DPM++ SDE step as increments of one Brownian path W over σ_VE (k-diffusion's
 * BrownianTreeNoiseSampler returns (W(b) − W(a))/√|b − a|): z₁ over [σ_s, σ_t] is the first normal,
 * z₂ over [σ_next, σ_t] contains it, z₂ = (√(σ_t − σ_s)·z₁ + √(σ_s − σ_next)·n)/√(σ_t − σ_next).
 */
export function brownianSecond(z1: Float64Array, n: Float64Array, sigmaT: number, sigmaS: number, sigmaNext: number): Float64Array {
  const [a, b] = [Math.sqrt(sigmaT - sigmaS), Math.sqrt(sigmaS - sigmaNext)];
  const c = Math.sqrt(sigmaT - sigmaNext);
  return z1.map((v, i) => (a * v + b * n[i]) / c);
}

/**
 * DPM-Solver++ SDE (k-diffusion sample_dpmpp_sde; diffusers' DPMSolverSDEScheduler; A1111's
 * "DPM++ SDE"): per step, an ancestral first-order substep to λ_s = λ_t + r·h with noise, the model
 * there, then an ancestral step t → t_next from x_t with D = (1 − 1/(2r))·D_t + 1/(2r)·D_s and noise
 * (the data-prediction SDE solver of Lu et al. 2022, DPM-Solver++ §5 with η, in its singlestep form).
 * The two draws are increments of one Brownian path (brownianSecond). A step to σ = 0 is Euler.
 */
async function dpmppSde(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: SdeOptions): Promise<Float64Array> {
  const p = ctx.process;
  const n = grid.length - 1;
  const sigmaVe = (node: Node) => node.sigma / node.alpha;
  for (let i = 0; i < n; i++) {
    ctx.step(i, n, x);
    if (grid[i + 1] === grid[i]) continue;
    const from = nodeAt(p, grid[i]);
    const to = nodeAt(p, grid[i + 1]);
    const m0 = await modelOutput(ctx, x, from, 'dpmsolver++', o);
    if (to.sigma === 0 || from.alpha === 0) {
      x = firstOrder(weights('dpmsolver++', from, to), x, m0);
      continue;
    }
    const mid = nodeAt(p, p.tOfLogSnr(from.lambda + o.r * (to.lambda - from.lambda)));
    const first = ancestralSplit(p, from, mid, o.eta);
    const z1 = ctx.noise();
    const x2 = firstOrder(weights('dpmsolver++', from, first.down), x, m0);
    for (let j = 0; j < x2.length; j++) x2[j] += o.sNoise * first.sigmaUp * z1[j];
    const m1 = await modelOutput(ctx, x2, mid, 'dpmsolver++', o);
    const fac = 1 / (2 * o.r);
    const d = m0.map((v, j) => (1 - fac) * v + fac * m1[j]);
    const second = ancestralSplit(p, from, to, o.eta);
    x = firstOrder(weights('dpmsolver++', from, second.down), x, d);
    const z2 = brownianSecond(z1, ctx.noise(), sigmaVe(from), sigmaVe(mid), sigmaVe(to));
    for (let j = 0; j < x.length; j++) x[j] += o.sNoise * second.sigmaUp * z2[j];
  }
  return x;
}

// ---------------------------------------------------------------- ancestral

/**
 * k-diffusion's ancestral split of a step t → s: go down deterministically to λ_down and add noise
 * σ_up, with σ_up = min(σ_s, η·σ̃) (σ̃ = DDPM's posterior std) and σ_down² = σ_s² − σ_up² in the
 * process's own scale α_s (k-diffusion get_ancestral_step, written for any α).
 */
function ancestralSplit(p: Process, from: Node, to: Node, eta: number): { down: Node; sigmaUp: number } {
  if (eta === 0 || to.sigma === 0) return { down: to, sigmaUp: 0 };
  const sigmaUp = Math.min(to.sigma, eta * ancestralSigma(p, from.t, to.t));
  const sigmaDown = Math.sqrt(Math.max(0, to.sigma * to.sigma - sigmaUp * sigmaUp));
  const lambda = sigmaDown === 0 ? Infinity : log(to.alpha / sigmaDown);
  return { down: { t: to.t, alpha: to.alpha, sigma: sigmaDown, lambda }, sigmaUp };
}

/**
 * DPM-Solver++(2S) with ancestral noise (k-diffusion sample_dpmpp_2s_ancestral): per step one
 * second-order singlestep update with its intermediate point at the λ-midpoint, to λ_down, then
 * σ_up·z. η = 0 is the deterministic DPM-Solver++(2S) with r = ½; a step to σ = 0 is first order.
 */
async function dpmpp2sAncestral(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: AncestralOptions): Promise<Float64Array> {
  const p = ctx.process;
  const n = grid.length - 1;
  for (let i = 0; i < n; i++) {
    ctx.step(i, n, x);
    if (grid[i + 1] === grid[i]) continue;
    const from = nodeAt(p, grid[i]);
    const to = nodeAt(p, grid[i + 1]);
    const m0 = await modelOutput(ctx, x, from, 'dpmsolver++', o);
    const { down, sigmaUp } = ancestralSplit(p, from, to, o.eta);
    if (down.sigma === 0 || from.alpha === 0) {
      x = firstOrder(weights('dpmsolver++', from, down), x, m0);
    } else {
      const mid = nodeAt(p, p.tOfLogSnr(from.lambda + 0.5 * (down.lambda - from.lambda)));
      const m1 = await modelOutput(ctx, firstOrder(weights('dpmsolver++', from, mid), x, m0), mid, 'dpmsolver++', o);
      x = singlestep2(weights('dpmsolver++', from, down), x, [m0, m1], (mid.lambda - from.lambda) / (down.lambda - from.lambda), true);
    }
    if (sigmaUp > 0) {
      const z = ctx.noise();
      for (let j = 0; j < x.length; j++) x[j] += o.sNoise * sigmaUp * z[j];
    }
  }
  return x;
}

// ---------------------------------------------------------------- options and references

const ORDERS = [1, 2, 3];

function validateOrder(order: number): void {
  if (!ORDERS.includes(order)) throw new UsageError(`order must be 1, 2 or 3, got ${order}`);
}

function validateNoise(eta: number, sNoise: number): void {
  if (!(eta >= 0)) throw new UsageError(`eta must be ≥ 0 (0 = deterministic), got ${eta}`);
  if (!(sNoise >= 0)) throw new UsageError(`sNoise must be ≥ 0, got ${sNoise}`);
}

function validateMultistep(o: MultistepOptions): void {
  validateX0(o);
  validateOrder(o.order);
  validateNoise(o.eta, o.sNoise);
  if (o.eta > 0 && o.algorithm !== 'dpmsolver++') {
    throw new UsageError(`eta > 0 (SDE-DPM-Solver++) needs algorithm dpmsolver++, got ${o.algorithm}; use eta=0 with dpmsolver`);
  }
  if (!(Number.isInteger(o.lowerOrderFinalSteps) && o.lowerOrderFinalSteps >= 0)) {
    throw new UsageError(`lowerOrderFinalSteps must be an integer ≥ 0, got ${o.lowerOrderFinalSteps}`);
  }
}

function validateSinglestep(o: SinglestepOptions): void {
  validateX0(o);
  validateOrder(o.order);
  if (!(Number.isInteger(o.offset) && o.offset >= 0 && o.offset <= LIMITS.steps)) throw new UsageError(`offset must be an integer from 0 to ${LIMITS.steps}, got ${o.offset}`);
}

function validateAncestral(o: AncestralOptions): void {
  validateX0(o);
  validateNoise(o.eta, o.sNoise);
}

const ALGORITHMS: readonly Algorithm[] = ['dpmsolver++', 'dpmsolver'];
const SOLVER_TYPES: readonly SolverType[] = ['dpmsolver', 'midpoint', 'taylor', 'heun'];

export const multistepDefaults: MultistepOptions = {
  ...x0Defaults,
  order: 2,
  algorithm: 'dpmsolver++',
  solverType: 'midpoint',
  lowerOrderFinal: true,
  lowerOrderFinalSteps: 15,
  eulerAtFinal: false,
  eta: 0,
  fullSecondDifference: false,
  sNoise: 1,
};

const singlestepDefaults: SinglestepOptions = {
  ...x0Defaults,
  order: 2,
  algorithm: 'dpmsolver++',
  solverType: 'dpmsolver',
  lowerOrderFinal: true,
  offset: 0,
};

/** Uniform in λ down to tMin, then the last step to σ = 0 (diffusers' final_sigmas_type="zero"). */
const defaultGrid: GridSpec = { type: 'logsnr', steps: 10, end: 'zero' };

const isMinusInfinity = (v: unknown) => v === undefined || v === null || v === '-inf' || v === -Infinity;

/**
 * diffusers' DPMSolver schedulers: timestep_spacing "linspace" rounds np.linspace(0, N−1, steps+1)
 * and drops its first point; the end is σ = 0 ("zero") or the first training timestep ("sigma_min").
 */
function diffusersDpmGrid(c: DiffusersConfig, scheduler: string, steps: number): GridSpec {
  rejectFlags(c, scheduler, ['use_flow_sigmas', 'use_dynamic_shifting']);
  if (!isMinusInfinity(c.lambda_min_clipped)) throw new UsageError('diffusers lambda_min_clipped is not translated; accepted: -inf');
  if (c.variance_type != null) throw new UsageError('diffusers variance_type (learned variance) is not translated');
  return diffusersMultistepGrid(c, scheduler, steps, diffusersFinalTime(c));
}

function diffusersAlgorithm(c: DiffusersConfig): { algorithm: Algorithm; eta: number } {
  const a = c.algorithm_type ?? 'dpmsolver++';
  if (a === 'dpmsolver++' || a === 'dpmsolver') return { algorithm: a, eta: 0 };
  if (a === 'sde-dpmsolver++') return { algorithm: 'dpmsolver++', eta: 1 };
  throw new UsageError(`diffusers algorithm_type=${String(a)} is not translated; accepted: dpmsolver++, dpmsolver, sde-dpmsolver++`);
}

const fromDiffusersMultistep: ReferenceMapping = {
  library: 'diffusers',
  name: 'DPMSolverMultistepScheduler',
  translate(c, steps) {
    const { algorithm, eta } = diffusersAlgorithm(c);
    const order = Number(c.solver_order ?? 2);
    return {
      sampler: eta > 0 ? 'dpmpp-2m-sde' : algorithm === 'dpmsolver++' ? 'dpmpp-2m' : 'dpm-solver-2m',
      options: {
        ...diffusersX0(c),
        order,
        algorithm,
        eta,
        solverType: String(c.solver_type ?? 'midpoint'),
        lowerOrderFinal: c.lower_order_final !== false,
        lowerOrderFinalSteps: 15,
        eulerAtFinal: c.euler_at_final === true,
      },
      ...(c.use_flow_sigmas === true
        ? diffusersFlowSigmas(c, 'DPMSolverMultistepScheduler', steps)
        : { process: diffusersProcess(c, 'DPMSolverMultistepScheduler'), grid: diffusersDpmGrid(c, 'DPMSolverMultistepScheduler', steps), ...modelTimeOf(c) }),
    };
  },
};

/**
 * diffusers' DPMSolverMultistepInverseScheduler: the multistep solver run upward (invert() with the
 * sampler) from the first of round(linspace(0, N−1, n + 1)) to the last training timestep, or over
 * Karras / exponential / beta σ's of the whole table in increasing order (the last repeated).
 */
const fromDiffusersMultistepInverse: ReferenceMapping = {
  library: 'diffusers',
  name: 'DPMSolverMultistepInverseScheduler',
  translate(c, steps) {
    rejectFlags(c, 'DPMSolverMultistepInverseScheduler', ['use_flow_sigmas']);
    if (!isMinusInfinity(c.lambda_min_clipped)) throw new UsageError('diffusers lambda_min_clipped is not translated; accepted: -inf');
    if (c.variance_type != null) throw new UsageError('diffusers variance_type (learned variance) is not translated');
    if (String(c.timestep_spacing ?? 'linspace') !== 'linspace') throw new UsageError('DPMSolverMultistepInverseScheduler is translated with timestep_spacing=linspace only');
    unusedUpstream(c, ['steps_offset']);
    const t = fromDiffusersMultistep.translate(overlay(c, { use_flow_sigmas: false, lambda_min_clipped: null, variance_type: null, timestep_spacing: 'linspace', final_sigmas_type: 'sigma_min' }), steps);
    const numTrain = Number(c.num_train_timesteps ?? 1000);
    const p = createProcess(t.process);
    const flag = diffusersSigmaFlag(c);
    const up = flag
      ? (() => {
        const ts = diffusersSigmas(flag, sigmaVe(p, 0), sigmaVe(p, numTrain - 1), steps).reverse().map((s) => tOfSigmaVe(p, Math.fround(s)));
        return [...ts, ts[ts.length - 1]];
      })()
      : [...Array.from({ length: steps }, (_, i) => roundHalfEven((i * (numTrain - 1)) / steps)), numTrain - 1];
    return { ...t, direction: 'invert', grid: { type: 'explicit', times: up.reverse() } };
  },
};

/** diffusers' EDMDPMSolverMultistepScheduler: the multistep solver above on the EDM process and σ's (diffusersEdm). */
const fromDiffusersEdmMultistep: ReferenceMapping = {
  library: 'diffusers',
  name: 'EDMDPMSolverMultistepScheduler',
  translate(c, steps) {
    const t = fromDiffusersMultistep.translate(overlay(c, { final_sigmas_type: 'zero', use_karras_sigmas: false }), steps);
    return { ...t, ...diffusersEdm(c, steps) };
  },
};

const fromDiffusersSinglestep: ReferenceMapping = {
  library: 'diffusers',
  name: 'DPMSolverSinglestepScheduler',
  translate(c, steps) {
    const { algorithm, eta } = diffusersAlgorithm(c);
    if (eta > 0) throw new UsageError('diffusers DPMSolverSinglestepScheduler with sde-dpmsolver++ is not translated');
    const order = Number(c.solver_order ?? 2);
    // set_timesteps turns lower_order_final on for uneven step counts and for final σ = 0.
    const lowerOrderFinal = c.lower_order_final === true || steps % order !== 0 || (c.final_sigmas_type ?? 'zero') === 'zero';
    return {
      sampler: algorithm === 'dpmsolver++' ? 'dpmpp-2s' : 'dpm-solver-2',
      options: { ...diffusersX0(c), order, algorithm, solverType: String(c.solver_type ?? 'midpoint'), lowerOrderFinal },
      process: diffusersProcess(c, 'DPMSolverSinglestepScheduler'),
      grid: diffusersDpmGrid(c, 'DPMSolverSinglestepScheduler', steps),
      ...modelTimeOf(c),
    };
  },
};

/**
 * diffusers' DPMSolverSDEScheduler: the Euler family's σ's (see fromDiffusers) run by dpmpp-sde with
 * r = 1/2, η = 1. Upstream seeds a torchsde Brownian tree with noise_sampler_seed; Diffuse builds the
 * same law of Brownian increments from its own seed (replayed noise reproduces upstream's draws).
 */
const sdeEuler = fromDiffusers('DPMSolverSDEScheduler', 'dpmpp-sde', false);
const fromDiffusersSde: ReferenceMapping = {
  ...sdeEuler,
  translate(c, steps, run) {
    if (c.prediction_type === 'sample') throw new UsageError('DPMSolverSDEScheduler with prediction_type=sample is not implemented upstream (NotImplementedError)');
    unusedUpstream(c, ['noise_sampler_seed']);
    return sdeEuler.translate(c, steps, run);
  },
};

/** The official code's NoiseScheduleVP (continuous linear or cosine) and its time range. */
function dpmSolverSetup(c: Readonly<Record<string, unknown>>): { process: ProcessConfig; start: number; end: number; algorithm: Algorithm } {
  const schedule = c.noise_schedule ?? 'linear';
  if (schedule !== 'linear' && schedule !== 'cosine') {
    throw new UsageError(`DPM-Solver noise_schedule=${String(schedule)} is not translated; accepted: linear, cosine`);
  }
  if (c.denoise_to_zero === true) throw new UsageError('DPM-Solver denoise_to_zero=True is not translated; use sample({denoiseToZero: true})');
  const algorithm = (c.algorithm_type ?? 'dpmsolver++') as Algorithm;
  if (!ALGORITHMS.includes(algorithm)) throw new UsageError(`DPM-Solver algorithm_type must be dpmsolver++ or dpmsolver, got ${algorithm}`);
  const process: ProcessConfig = { name: 'vp', schedule, beta0: Number(c.beta_0 ?? 0.1), beta1: Number(c.beta_1 ?? 20) };
  return { process, start: Number(c.t_start ?? 1), end: Number(c.t_end ?? 1e-3), algorithm };
}

const SKIP_TYPES: Record<string, 'logsnr' | 'time-uniform' | 'time-quadratic'> = {
  logSNR: 'logsnr',
  time_uniform: 'time-uniform',
  time_quadratic: 'time-quadratic',
};

function skipType(c: Readonly<Record<string, unknown>>): 'logsnr' | 'time-uniform' | 'time-quadratic' {
  const s = SKIP_TYPES[String(c.skip_type ?? 'time_uniform')];
  if (!s) throw new UsageError(`DPM-Solver skip_type=${String(c.skip_type)} is not translated; accepted: ${Object.keys(SKIP_TYPES).join(', ')}`);
  return s;
}

const fromDpmSolverMultistep: ReferenceMapping = {
  library: 'dpm-solver',
  name: 'DPM_Solver.sample[multistep]',
  translate(c, steps) {
    const { process, start, end, algorithm } = dpmSolverSetup(c);
    return {
      sampler: algorithm === 'dpmsolver++' ? 'dpmpp-2m' : 'dpm-solver-2m',
      options: {
        order: Number(c.order ?? 2),
        algorithm,
        solverType: String(c.solver_type ?? 'dpmsolver'),
        lowerOrderFinal: c.lower_order_final !== false,
        lowerOrderFinalSteps: 10,
      },
      process,
      grid: { type: skipType(c), steps, start, end },
    };
  },
};

/**
 * The official singlestep sample() spends `steps` model calls on outer steps of orders
 * [3, …, 3, 2, 1] / [3, …, 3, 1] / [3, …, 3, 2] (order 3) or [2, …, 2(, 1)] (order 2), and puts
 * the intermediate points of each outer step evenly in its own spacing. With time spacings these
 * are the points of one `steps`-step grid; with logSNR the outer steps are uniform in λ, so the
 * grid is built here.
 */
const fromDpmSolverSinglestep: ReferenceMapping = {
  library: 'dpm-solver',
  name: 'DPM_Solver.sample[singlestep]',
  translate(c, steps) {
    const { process, start, end, algorithm } = dpmSolverSetup(c);
    const order = Number(c.order ?? 2);
    validateOrder(order);
    const lowerOrderFinal = order !== 2;
    const type = skipType(c);
    const grid: GridSpec =
      type === 'logsnr'
        ? { type: 'explicit', times: logSnrGroupedTimes(createProcess(process), start, end, singlestepOrders(steps, order, lowerOrderFinal, false)) }
        : { type, steps, start, end };
    return {
      sampler: algorithm === 'dpmsolver++' ? 'dpmpp-2s' : 'dpm-solver-2',
      options: { order, algorithm, solverType: String(c.solver_type ?? 'dpmsolver'), lowerOrderFinal },
      process,
      grid,
    };
  },
};

/** Outer steps uniform in λ from start to end, each divided evenly in λ into its order's intervals. */
function logSnrGroupedTimes(p: Process, start: number, end: number, orders: readonly number[]): number[] {
  const l0 = p.logSnr(start);
  const l1 = p.logSnr(end);
  const outer = orders.map((_, i) => l0 + ((l1 - l0) * i) / orders.length).concat([l1]);
  const times = [start];
  orders.forEach((k, i) => {
    const a = p.logSnr(p.tOfLogSnr(outer[i]));
    const b = p.logSnr(p.tOfLogSnr(outer[i + 1]));
    for (let j = 1; j <= k; j++) times.push(p.tOfLogSnr(a + ((b - a) * j) / k));
  });
  return times;
}

const kdiffusionNoise = (c: Readonly<Record<string, unknown>>) => ({ eta: Number(c.eta ?? 1), sNoise: Number(c.s_noise ?? 1) });

// ---------------------------------------------------------------- registry

const CITE_DPM = 'Lu et al. 2022, DPM-Solver (NeurIPS), Eq. 3.7, Alg. 1–3';
/** The third-order multistep D2 of every reference halves the second difference: order 2 in practice. */
const AS_REFERENCES = '; as in the reference codes, it converges with order 2';
const CITE_PP = 'Lu et al. 2022, DPM-Solver++ (arXiv 2211.01095), Alg. 1–2';

function multistepEntry<const N extends string>(name: N, aliases: string[], description: string, cite: string, defaults: Partial<Pick<MultistepOptions, 'order' | 'algorithm' | 'solverType' | 'eta' | 'fullSecondDifference'>>, references: ReferenceMapping[] = []) {
  const d: MultistepOptions = { ...multistepDefaults, ...defaults };
  return entry({
    name,
    aliases,
    family: 'dpm-solver',
    description,
    cite,
    order: d.order === 3 && !d.fullSecondDifference ? 2 : d.order,
    stochastic: d.eta > 0,
    defaults: d,
    choices: { algorithm: ALGORITHMS, solverType: SOLVER_TYPES },
    validate: validateMultistep,
    defaultGrid,
    run: multistep,
    references,
  });
}

function singlestepEntry<const N extends string>(name: N, aliases: string[], description: string, cite: string, defaults: Partial<Pick<SinglestepOptions, 'order' | 'algorithm'>>, references: ReferenceMapping[] = []) {
  const d: SinglestepOptions = { ...singlestepDefaults, ...defaults };
  return entry({
    name,
    aliases,
    family: 'dpm-solver',
    description,
    cite,
    order: d.order,
    stochastic: false,
    defaults: d,
    choices: { algorithm: ALGORITHMS, solverType: SOLVER_TYPES },
    validate: validateSinglestep,
    defaultGrid,
    run: singlestep,
    references,
  });
}

export const dpmSolverSamplers = [
  multistepEntry(
    'dpmpp-2m',
    ['DPMSolverMultistepScheduler', 'sample_dpmpp_2m', 'DPM-Solver++(2M)', 'dpmsolver++'],
    'DPM-Solver++(2M): multistep data-prediction solver, 1 model call per step (the default sampler)',
    `${CITE_PP} (Alg. 2)`,
    {},
    [fromDiffusersMultistep, fromDiffusersMultistepInverse, fromDiffusersEdmMultistep, fromDpmSolverMultistep, fromKDiffusion('sample_dpmpp_2m', 'dpmpp-2m', () => ({ lowerOrderFinal: false }))],
  ),
  multistepEntry('dpmpp-3m', ['DPM++ 3M', 'dpmpp_3m', 'DPM-Solver++(3M)'], `DPM-Solver++(3M): "third-order" multistep data-prediction solver${AS_REFERENCES}`, CITE_PP, { order: 3 }),
  multistepEntry(
    'dpmpp-3m-full',
    ['DPM-Solver++(3M) full D2'],
    'DPM-Solver++(3M) with the full second difference D2: third order at 1 model call per step (Diffuse\'s correction of the reference formula)',
    `${CITE_PP}; D2 as the Taylor expansion of DPM-Solver Eq. 3.6 requires`,
    { order: 3, fullSecondDifference: true },
  ),
  multistepEntry(
    'dpm-solver-2m',
    ['DPM-Solver-2M', 'dpmsolver multistep'],
    'multistep DPM-Solver-2 (noise prediction), 1 model call per step',
    CITE_DPM,
    { algorithm: 'dpmsolver' },
  ),
  multistepEntry('dpm-solver-3m', ['DPM-Solver-3M'], `multistep DPM-Solver-3 (noise prediction)${AS_REFERENCES}`, CITE_DPM, { algorithm: 'dpmsolver', order: 3 }),
  multistepEntry(
    'dpmpp-2m-sde',
    ['sample_dpmpp_2m_sde', 'sde-dpmsolver++', 'SDE-DPM-Solver++'],
    'DPM-Solver++(2M) SDE / SDE-DPM-Solver++: multistep, noise injected each step (eta=0 is dpmpp-2m)',
    `${CITE_PP}, §5 (SDE-DPM-Solver++)`,
    { eta: 1 },
    [fromKDiffusion('sample_dpmpp_2m_sde', 'dpmpp-2m-sde', (c) => ({ ...kdiffusionNoise(c), lowerOrderFinal: false, solverType: String(c.solver_type ?? 'midpoint') }))],
  ),
  multistepEntry(
    'dpmpp-3m-sde',
    ['sample_dpmpp_3m_sde'],
    `DPM-Solver++(3M) SDE: multistep with noise each step (k-diffusion)${AS_REFERENCES}`,
    `${CITE_PP}, §5; k-diffusion sample_dpmpp_3m_sde`,
    { eta: 1, order: 3, solverType: 'taylor' },
    [fromKDiffusion('sample_dpmpp_3m_sde', 'dpmpp-3m-sde', (c) => ({ ...kdiffusionNoise(c), lowerOrderFinal: false }))],
  ),
  singlestepEntry('dpm-solver-1', ['DPM-Solver-1'], 'DPM-Solver-1 (= DDIM, noise prediction)', CITE_DPM, { order: 1, algorithm: 'dpmsolver' }),
  singlestepEntry(
    'dpm-solver-2',
    ['DPM-Solver-2'],
    'singlestep DPM-Solver-2 (noise prediction); the grid holds every model call',
    `${CITE_DPM} (Alg. 1)`,
    { order: 2, algorithm: 'dpmsolver' },
  ),
  singlestepEntry(
    'dpm-solver-3',
    ['DPM-Solver-3', 'DPM-Solver-fast'],
    'singlestep DPM-Solver-3 (noise prediction), orders 3,…,3 then lower to fit the grid',
    `${CITE_DPM} (Alg. 2, DPM-Solver-fast §3.4)`,
    { order: 3, algorithm: 'dpmsolver' },
  ),
  singlestepEntry(
    'dpmpp-2s',
    ['DPMSolverSinglestepScheduler', 'DPM++ 2S', 'DPM-Solver++(2S)'],
    'DPM-Solver++(2S): singlestep second-order data-prediction solver; the grid holds every model call',
    `${CITE_PP} (Alg. 1)`,
    {},
    [fromDiffusersSinglestep, fromDpmSolverSinglestep],
  ),
  singlestepEntry('dpmpp-3s', ['DPM++ 3S', 'DPM-Solver++(3S)'], 'singlestep third-order DPM-Solver++', CITE_PP, { order: 3 }),
  entry({
    name: 'dpmpp-2s-ancestral',
    aliases: ['sample_dpmpp_2s_ancestral', 'dpmpp_2s_ancestral'],
    family: 'dpm-solver',
    description: 'DPM-Solver++(2S) with ancestral noise (k-diffusion); 2 model calls per step, eta=0 deterministic',
    cite: `${CITE_PP} (Alg. 1); k-diffusion sample_dpmpp_2s_ancestral`,
    order: 2,
    stochastic: true,
    defaults: { ...x0Defaults, eta: 1, sNoise: 1 },
    validate: validateAncestral,
    defaultGrid,
    run: dpmpp2sAncestral,
    references: [fromKDiffusion('sample_dpmpp_2s_ancestral', 'dpmpp-2s-ancestral', kdiffusionNoise)],
  }),
  entry({
    name: 'dpmpp-sde',
    aliases: ['sample_dpmpp_sde', 'DPMSolverSDEScheduler', 'DPM++ SDE (k-diffusion)'],
    family: 'dpm-solver',
    description: 'DPM-Solver++ SDE: an ancestral substep to the λ-midpoint, then the ancestral step with the midpoint estimate; Brownian noise (2 NFE/step)',
    cite: `${CITE_PP} (SDE solvers, §5); k-diffusion sample_dpmpp_sde`,
    order: 2,
    stochastic: true,
    defaults: { ...x0Defaults, eta: 1, sNoise: 1, r: 0.5 },
    validate: (o) => {
      validateAncestral(o);
      if (!(o.r > 0 && o.r < 1)) throw new UsageError(`r must be in (0, 1), got ${o.r}`);
    },
    defaultGrid,
    run: dpmppSde,
    references: [fromKDiffusion('sample_dpmpp_sde', 'dpmpp-sde', (c) => ({ ...kdiffusionNoise(c), r: Number(c.r ?? 0.5) })), fromDiffusersSde],
  }),
];
