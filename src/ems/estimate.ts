import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import { Denoiser } from '../models/denoiser.js';
import { UsageError } from '../core/errors.js';
import { exp, expm1 } from '../core/math.js';
import { EmsAccumulator } from './statistics.js';
import { emsLambdas, type EmsGridOptions } from './oracle.js';
import { degenerateEms, type Ems } from './ems.js';

/** D(x, t) on a batch of fixed size: a Denoiser's, or a sampler context's. */
export type DenoiseFn = (x: Float64Array, t: number) => Promise<Float64Array>;

/** Relative step of the spatial differences (× s = σ/α) and the step in λ of the ODE differences. */
const SPATIAL_STEP = 1e-3;
const LAMBDA_STEP = 1e-3;

/** Model calls per node and sample batch: D itself, two along the ODE, two per probe. */
export const nodeCost = (probes: number) => 3 + 2 * probes;

/**
 * The black-box terms at one node λ for the n rows of y = x/α, through model calls only
 * (Zheng et al. 2023, App. C computes them with JVPs; here central finite differences):
 *   τ = tr ∂x̂0/∂y by Hutchinson, v·(x̂0(y + δv) − x̂0(y − δv))/(2δ) with Rademacher v;
 *   dx̂0/dλ along the PF-ODE dy/dλ = x̂0 − y, from x̂0 at (y ± Δ·(x̂0 − y), λ ± Δ).
 * Adds them to `acc` at node j and returns x̂0(y).
 */
async function observe(
  denoise: DenoiseFn, p: Process, lambda: number, y: Float64Array, n: number, probes: readonly Float64Array[], acc: EmsAccumulator, j: number,
): Promise<Float64Array> {
  const t = p.tOfLogSnr(lambda);
  const alpha = p.alpha(t);
  const at = (v: Float64Array, a: number) => v.map((e) => a * e);
  const x0 = await denoise(at(y, alpha), t);
  const dim = y.length / n;
  const tau = new Float64Array(n);
  const delta = SPATIAL_STEP * exp(-lambda);
  for (const v of probes) {
    const plus = await denoise(y.map((e, i) => alpha * (e + delta * v[i])), t);
    const minus = await denoise(y.map((e, i) => alpha * (e - delta * v[i])), t);
    for (let i = 0; i < y.length; i++) tau[Math.floor(i / dim)] += (v[i] * (plus[i] - minus[i])) / (2 * delta * probes.length);
  }
  const velocity = x0.map((e, i) => e - y[i]);
  const shifted = async (dl: number) => {
    const ts = p.tOfLogSnr(lambda + dl);
    const actual = p.logSnr(ts) - lambda;
    return { out: await denoise(y.map((e, i) => p.alpha(ts) * (e + actual * velocity[i])), ts), actual };
  };
  const fwd = await shifted(LAMBDA_STEP);
  const bwd = await shifted(-LAMBDA_STEP);
  const dx0 = fwd.out.map((e, i) => (e - bwd.out[i]) / (fwd.actual - bwd.actual));
  acc.add(j, n, y, x0, dx0, tau);
  return x0;
}

function rademacher(count: number, size: number, draw: () => Float64Array | number[]): Float64Array[] {
  return Array.from({ length: count }, () => Float64Array.from(draw().slice(0, size), (u) => (u < 0 ? -1 : 1)));
}

/** Options of {@link estimateEms}: the λ nodes, the probes and the generator (the samples are the data given). */
export interface EstimateOptions extends Omit<EmsGridOptions, 'samples'> {
  /** Hutchinson probes per sample. */
  probes: number;
  /** Progress: called after each λ node with the nodes done and the nodes in all. */
  onNode?: (done: number, total: number) => void;
}

/**
 * EMS of any model from samples x0 of its data (the paper uses 1024–4096 training images):
 * x_λ = α(x0 + e^{−λ}ε) with the same ε at every node, the Jacobian terms by finite differences
 * and Hutchinson probes. Costs points × (3 + 2·probes) batched model calls.
 */
export async function estimateEms(model: Model, process: Process, data: Float64Array, o: EstimateOptions): Promise<Ems> {
  const lambda = emsLambdas(o);
  const dim = model.sampleShape.reduce((a, b) => a * b, 1);
  const n = data.length / dim;
  if (!(Number.isInteger(n) && n >= 2)) throw new UsageError(`EMS data must hold n ≥ 2 samples of ${dim} values, got ${data.length} values`);
  if (!(Number.isInteger(o.probes) && o.probes >= 1)) throw new UsageError(`EMS probes must be an integer ≥ 1, got ${o.probes}`);
  const denoiser = new Denoiser(model, process);
  const denoise: DenoiseFn = (x, t) => denoiser.denoise(x, n, t);
  const eps = o.rng.fillNormal(new Float64Array(data.length));
  const probes = rademacher(o.probes, data.length, () => o.rng.fillUniform(new Float64Array(data.length)).map((u) => u - 0.5));
  const acc = new EmsAccumulator(lambda, dim);
  for (let j = 0; j < lambda.length; j++) {
    const s = exp(-lambda[j]);
    await observe(denoise, process, lambda[j], data.map((v, i) => v + s * eps[i]), n, probes, acc, j);
    o.onNode?.(j + 1, lambda.length);
  }
  return acc.finish({ method: 'finite-difference', samples: n, probes: o.probes });
}

/**
 * EMS estimated inside a sampling run, with no data: the batch itself is carried down a pilot
 * path of first-order DPM-Solver++ steps through `points` nodes uniform in λ over the grid's
 * finite range, and its states stand in for samples of p_λ. Probes are the signs of `noise()`.
 * Costs points × (3 + 2·probes) model calls (plus one when the grid starts where α = 0).
 */
export async function pilotEms(
  denoise: DenoiseFn, p: Process, x: Float64Array, grid: Float64Array, n: number, points: number, probes: number, noise: () => Float64Array,
): Promise<Ems> {
  const finite = Array.from(grid, (t) => p.logSnr(t)).filter(Number.isFinite);
  if (finite.length < 2 || !(finite[finite.length - 1] > finite[0])) return degenerateEms();
  const lambda = emsLambdas({ lambdaMin: finite[0], lambdaMax: finite[finite.length - 1], points });
  const dim = x.length / n;
  const acc = new EmsAccumulator(lambda, dim);
  const v = rademacher(probes, x.length, noise);
  let t = grid[0];
  let state = x;
  const moveTo = (next: number, x0: Float64Array) => {
    state = firstOrderStep(p, t, next, state, x0);
    t = next;
  };
  if (p.alpha(t) === 0) moveTo(p.tOfLogSnr(lambda[0]), await denoise(state, t));
  for (let j = 0; j < lambda.length; j++) {
    const alpha = p.alpha(t);
    const x0 = await observe(denoise, p, lambda[j], state.map((e) => e / alpha), n, v, acc, j);
    if (j + 1 < lambda.length) moveTo(p.tOfLogSnr(lambda[j + 1]), x0);
  }
  return acc.finish({ method: 'online', samples: n, probes, note: 'pilot path of first-order DPM-Solver++ steps from the run\'s own x_T' });
}

/** DPM-Solver++ first order: x_s = (σ_s/σ_t)x_t + α_s(1 − e^{−h})x̂0 (exact for h = ∞ from α = 0). */
function firstOrderStep(p: Process, t: number, s: number, x: Float64Array, x0: Float64Array): Float64Array {
  const h = p.logSnr(s) - p.logSnr(t);
  const a = p.sigma(s) / p.sigma(t);
  const b = -p.alpha(s) * expm1(-h);
  return x.map((e, i) => a * e + b * x0[i]);
}
