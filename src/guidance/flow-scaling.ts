import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import type { LinearMeasurement } from '../models/oracle/posterior.js';
import type { ClassConditionalMixture } from '../models/oracle/posterior.js';
import { Denoiser } from '../models/denoiser.js';
import { toDataCoefficients } from '../param/convert.js';
import { matVec } from '../core/linalg.js';
import { exp, log } from '../core/math.js';
import type { Rng } from '../core/rng.js';
import { usage } from '../core/errors.js';
import { effectiveSampleSize, normalizeLogWeights, systematicResample } from './smc.js';

/**
 * Inference-time scaling for flow models (Kim et al. 2025, "Inference-Time Scaling for Flow Models via
 * Stochastic Generation and Rollover Budget Forcing"): the flow ODE becomes a reverse SDE with the
 * same marginals, so particles branch; a reward on the Tweedie estimate x̂0 picks among them.
 */

/** r(x0) for n samples (n×d) → n rewards, higher is better. */
export type Reward = (x0: Float64Array, n: number) => Float64Array;

/** The measurement log-likelihood log N(y; A x0, s²I): its reward-tilted prior is the posterior. */
export function likelihoodReward(meas: LinearMeasurement, y: ArrayLike<number>): Reward {
  const { m, d, A, noiseStd: s } = meas;
  usage(s > 0 && s < Infinity, `a likelihood reward needs a measurement noise std in (0, ∞), got ${s}`);
  usage(y.length === m, `y must have m=${m} values, got ${y.length}`);
  const norm = m * log(2 * Math.PI * s * s);
  return (x0, n) => {
    const out = new Float64Array(n);
    const ax = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      matVec(A, m, d, x0, i * d, ax);
      let q = 0;
      for (let r = 0; r < m; r++) q += (y[r] - ax[r]) * (y[r] - ax[r]);
      out[i] = -0.5 * (q / (s * s) + norm);
    }
    return out;
  };
}

/** The exact class log-probability log p(c | x0) = log p(x0, c) − log p(x0) of a labelled mixture. */
export function classReward(source: ClassConditionalMixture, label: number): Reward {
  const members = source.labels.flatMap((l, k) => (l === label ? [k] : []));
  usage(members.length > 0, `class must be an integer in 0..${source.classes - 1}, got ${label}`);
  const mix = source.mixture;
  const joint = mix.subset(members);
  let pc = 0;
  for (const k of members) pc += exp(mix.logWeights[k]);
  const logPc = log(pc);
  return (x0, n) => {
    const a = joint.logDensity(x0, n).logp;
    const b = mix.logDensity(x0, n).logp;
    return a.map((v, i) => v + logPc - b[i]);
  };
}

/**
 * Interpolant conversion (Kim et al. 2025, §4.1): a model of one path x_t = α_t x0 + σ_t ε read on
 * another, e.g. the linear (flow) path on a VP path. Both are the same law at equal log-SNR, up to
 * scale: x on the target path at s equals (α_s/α_t)·x' with x' on the source path at
 * t = t(λ(s)), so D_target(x, s) = D_source((α_t/α_s)·x, t). Returns data predictions.
 */
export function convertInterpolant(model: Model, source: Process, target: Process): Model {
  return {
    prediction: 'sample',
    sampleShape: model.sampleShape,
    async predict(x, n, s) {
      const t = source.tOfLogSnr(target.logSnr(s));
      const k = source.alpha(t) / target.alpha(s);
      const xs = x.map((v) => k * v);
      const out = await model.predict(xs, n, t);
      const [a, b] = toDataCoefficients(source, t, model.prediction);
      for (let i = 0; i < out.length; i++) out[i] = a * xs[i] + b * out[i];
      return out;
    },
  };
}

/**
 * One Euler–Maruyama step t → t + Δt (Δt < 0) of the reverse SDE with the flow's marginals (Kim et al.
 * 2025, Eq. 7; Song et al. 2021, Eq. 6): dx = [u − (g²/2)∇log p_t] dt + g dw̄, with u the flow velocity
 * and ∇log p_t = −ε̂/σ, both from x̂0 = D; g(t) = η·σ(t)² (on `flow`, the paper's g_t = t² at η = 1).
 * η = 0 is the flow-Euler step. A step to σ = 0 lands on x̂0. In place on x; z is N(0, I) noise.
 */
export function sdeStep(p: Process, x: Float64Array, D: Float64Array, t: number, tNext: number, eta: number, z: Float64Array): void {
  if (!(p.sigma(tNext) > 0)) {
    x.set(D);
    return;
  }
  const dt = tNext - t;
  const a = p.alpha(t);
  const s = p.sigma(t);
  const g = eta * s * s;
  const r = p.dSigma(t) / s;
  const cx = r + (g * g) / (2 * s * s);
  const cd = p.dAlpha(t) - r * a - (g * g * a) / (2 * s * s);
  const noise = g * Math.sqrt(-dt);
  for (let i = 0; i < x.length; i++) x[i] += dt * (cx * x[i] + cd * D[i]) + noise * z[i];
}

/**
 * Options shared by the scaling strategies ({@link bestOfN}, {@link smcSearch}, {@link beamSearch},
 * {@link budgetSearch}); each adds its own budget.
 */
export interface ScalingOptions {
  /** The model, in any prediction type; read on another path through {@link convertInterpolant}. */
  model: Model;
  /** The forward process whose reverse SDE the particles follow (see {@link sdeStep}). */
  process: Process;
  /** Decreasing process times ending at σ = 0. */
  grid: Float64Array;
  /** The reward on x̂0 that picks among particles, higher is better. */
  reward: Reward;
  /** Draws the initial particles, the SDE noise and (in SMC) the resampling. */
  rng: Rng;
  /** η of the diffusion g(t) = η σ(t)²; default 1. */
  eta?: number;
}

/** What a scaling strategy returns: its best final sample, that sample's reward and the calls spent. */
export interface ScalingResult {
  /** The returned sample (the highest-reward final particle), length d. */
  x: Float64Array;
  /** r(x) of the returned sample. */
  reward: number;
  /** Model calls spent, over all particles. */
  nfe: number;
}

/** n particles x with their x̂0 = D(x) and rewards r(x̂0). */
interface State {
  x: Float64Array;
  D: Float64Array;
  r: Float64Array;
}

/** Particles with their x̂0 and reward at one time; the shared machinery of every strategy. */
class Particles {
  readonly denoiser: Denoiser;
  readonly d: number;
  /** Model calls, one per particle evaluated. */
  nfe = 0;
  constructor(readonly o: ScalingOptions) {
    const { grid, process: p } = o;
    usage(grid.length >= 2 && p.sigma(grid[0]) > 0 && !(p.sigma(grid[grid.length - 1]) > 0),
      'the scaling grid must start at σ > 0 and end at σ = 0 (process.tZero)');
    usage((o.eta ?? 1) >= 0, `η must be ≥ 0, got ${o.eta}`);
    this.denoiser = new Denoiser(o.model, p);
    this.d = o.model.sampleShape.reduce((a, b) => a * b, 1);
  }

  async evaluate(x: Float64Array, n: number, t: number): Promise<State> {
    const noisy = this.o.process.sigma(t) > 0;
    if (noisy) this.nfe += n;
    const D = noisy ? await this.denoiser.denoise(x, n, t) : Float64Array.from(x);
    return { x, D, r: this.o.reward(D, n) };
  }

  async start(n: number): Promise<State> {
    const p = this.o.process;
    const t0 = this.o.grid[0];
    const x = this.o.rng.fillNormal(new Float64Array(n * this.d)).map((v) => v * p.priorStd(t0));
    return this.evaluate(x, n, t0);
  }

  /** Children of the listed parents at step i → i+1: one SDE step each, with x̂0 and reward. */
  async branch(x: Float64Array, D: Float64Array, parents: ArrayLike<number>, i: number): Promise<State> {
    const { d } = this;
    const { grid, process: p, rng } = this.o;
    const n = parents.length;
    const cx = new Float64Array(n * d);
    const cD = new Float64Array(n * d);
    for (let j = 0; j < n; j++) {
      cx.set(x.subarray(parents[j] * d, (parents[j] + 1) * d), j * d);
      cD.set(D.subarray(parents[j] * d, (parents[j] + 1) * d), j * d);
    }
    sdeStep(p, cx, cD, grid[i], grid[i + 1], this.o.eta ?? 1, rng.fillNormal(new Float64Array(n * d)));
    return this.evaluate(cx, n, grid[i + 1]);
  }

  best(x: Float64Array, r: Float64Array): ScalingResult {
    let k = 0;
    for (let i = 1; i < r.length; i++) if (r[i] > r[k]) k = i;
    return { x: x.slice(k * this.d, (k + 1) * this.d), reward: r[k], nfe: this.nfe };
  }
}

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** Best-of-N: N independent SDE trajectories, the highest final reward. NFE = N·(steps − 1) + N. */
export async function bestOfN(o: ScalingOptions & { particles: number }): Promise<ScalingResult> {
  usage(Number.isInteger(o.particles) && o.particles >= 1, `particles must be an integer ≥ 1, got ${o.particles}`);
  const P = new Particles(o);
  let s = await P.start(o.particles);
  for (let i = 0; i + 1 < o.grid.length; i++) s = await P.branch(s.x, s.D, range(o.particles), i);
  return P.best(s.x, s.r);
}

/**
 * SMC with the reward as potential (Kim et al. 2025, §5, after Wu et al. 2023): N particles, weights
 * × exp(λ(r(x̂0_s) − r(x̂0_t))) each step, systematic resampling when ESS < N/2; the target at the end
 * is p(x0)·exp(λ r(x0)). Returns the highest-reward final particle.
 */
export async function smcSearch(o: ScalingOptions & { particles: number; lambda?: number }): Promise<ScalingResult> {
  const N = o.particles;
  const lambda = o.lambda ?? 1;
  usage(Number.isInteger(N) && N >= 1, `particles must be an integer ≥ 1, got ${N}`);
  const P = new Particles(o);
  let s = await P.start(N);
  let logW = s.r.map((v) => lambda * v);
  for (let i = 0; i + 1 < o.grid.length; i++) {
    let parents: Int32Array = range(N);
    if (effectiveSampleSize(logW) < N / 2) {
      parents = systematicResample(normalizeLogWeights(logW), o.rng);
      logW = new Float64Array(N);
    }
    const prev = Float64Array.from(parents, (k) => s.r[k]);
    s = await P.branch(s.x, s.D, parents, i);
    logW = logW.map((v, j) => v + lambda * (s.r[j] - prev[j]));
  }
  return P.best(s.x, s.r);
}

/**
 * Beam search over particles (Kim et al. 2025, §5): B beams, each branching into K SDE children per step;
 * the B children of highest reward r(x̂0) survive. NFE = B + B·K per step with σ > 0 at its end.
 */
export async function beamSearch(o: ScalingOptions & { beams: number; children: number }): Promise<ScalingResult> {
  const { beams: B, children: K } = o;
  usage(Number.isInteger(B) && B >= 1 && Number.isInteger(K) && K >= 1, `beams and children must be integers ≥ 1, got ${B}, ${K}`);
  const P = new Particles(o);
  let s = await P.start(B);
  for (let i = 0; i + 1 < o.grid.length; i++) {
    const last = !(o.process.sigma(o.grid[i + 1]) > 0);
    const c = await P.branch(s.x, s.D, Int32Array.from({ length: last ? B : B * K }, (_, j) => (last ? j : Math.floor(j / K))), i);
    const keep = Int32Array.from(range(c.r.length)).sort((a, b) => c.r[b] - c.r[a]).slice(0, B);
    s = { x: gatherRows(c.x, keep, P.d), D: gatherRows(c.D, keep, P.d), r: Float64Array.from(keep, (k) => c.r[k]) };
  }
  return P.best(s.x, s.r);
}

/**
 * Greedy particle search with a total budget of model calls: one current sample; at each step with
 * σ > 0 at its end, children are drawn from it one at a time and the best kept. Fixed allocation
 * draws budget/steps children every step. Rollover Budget Forcing (Kim et al. 2025, §6) stops a step
 * at the first child whose reward beats the current one and carries the unused calls to the next step;
 * the last searched step spends all that is left, so both use the whole budget.
 */
export async function budgetSearch(o: ScalingOptions & { budget: number; rollover: boolean }): Promise<ScalingResult & { perStep: Int32Array }> {
  const P = new Particles(o);
  const noisy = o.grid.length - 2; // steps that end at σ > 0 (the last lands on x̂0 deterministically)
  usage(Number.isInteger(o.budget) && o.budget >= noisy + 1, `the budget must be an integer ≥ ${noisy + 1} model calls, got ${o.budget}`);
  let s = await P.start(1);
  const quota = Math.floor((o.budget - 1) / noisy);
  const spare = o.budget - 1 - quota * noisy;
  const perStep = new Int32Array(noisy);
  let carry = 0;
  for (let i = 0; i + 1 < o.grid.length; i++) {
    if (i === noisy) {
      s = await P.branch(s.x, s.D, [0], i);
      break;
    }
    const allowed = quota + carry + (i + 1 === noisy ? spare : 0);
    let best = await P.branch(s.x, s.D, [0], i);
    let used = 1;
    const stopEarly = o.rollover && i + 1 < noisy;
    while (used < allowed && !(stopEarly && best.r[0] > s.r[0])) {
      const c = await P.branch(s.x, s.D, [0], i);
      used++;
      if (c.r[0] > best.r[0]) best = c;
    }
    perStep[i] = used;
    carry = o.rollover ? allowed - used : 0;
    s = best;
  }
  return { ...P.best(s.x, s.r), perStep };
}

function gatherRows(v: Float64Array, idx: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) out.set(v.subarray(idx[i] * d, (idx[i] + 1) * d), i * d);
  return out;
}
