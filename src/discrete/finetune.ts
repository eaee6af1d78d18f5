import { UsageError } from '../core/errors.js';
import { exp } from '../core/math.js';
import type { Rng } from '../core/rng.js';
import { checkCount, LIMITS } from '../core/limits.js';
import { logSumExp, TokenSampler } from './categorical.js';
import { allMasked, DiscreteDenoiser, type DiscreteModel } from './model.js';
import { decodeSequence, intPow } from './oracle/markov.js';
import { linearSchedule, type MaskSchedule } from './schedule.js';
import { evaluateRows, maskTimes, unmaskProbability } from './samplers/types.js';
import { bestOfNKlBound, bestOfNLaw, bestOfNRows, expectation, klDivergence, scoreRows, tiltedLaw, type SequenceReward } from './reward.js';

/**
 * Reward fine-tuning of masked diffusion, measured (DRAKES, Wang et al. 2024): a fine-tuned model as a
 * base plus a network's logits, the exact law of the ancestral sampler's output and the exact path KL
 * to the pretrained model where the state space is small, and their Monte-Carlo estimates where it is not.
 */

/**
 * p(x_0^j | x_t) ∝ base(x_0^j | x_t) · exp(correction logits): a fine-tuned model stored as the logits a
 * network adds to a fixed base (for DRAKES on an exact oracle). A correction of zeros is the base itself.
 */
export class CorrectedModel implements DiscreteModel {
  readonly vocabSize: number;
  readonly length: number;
  readonly timeConditioned: boolean;

  constructor(readonly base: DiscreteModel, readonly correction: DiscreteModel) {
    if (base.vocabSize !== correction.vocabSize || base.length !== correction.length) {
      throw new UsageError(`the correction network is over ${correction.length} tokens of a ${correction.vocabSize}-token vocabulary; ` +
        `its base over ${base.length} of ${base.vocabSize}: they must match`);
    }
    this.vocabSize = base.vocabSize;
    this.length = base.length;
    this.timeConditioned = base.timeConditioned || correction.timeConditioned;
  }

  async logProbs(x: Int32Array, n: number, t: Float64Array): Promise<Float64Array> {
    const V = this.vocabSize;
    const [a, b] = await Promise.all([this.base.logProbs(x, n, t), this.correction.logProbs(x, n, t)]);
    const out = new Float64Array(a.length);
    for (let off = 0; off < a.length; off += V) {
      for (let v = 0; v < V; v++) out[off + v] = a[off + v] + b[off + v];
      const z = logSumExp(out, off, V);
      for (let v = 0; v < V; v++) out[off + v] = z === -Infinity ? -Infinity : out[off + v] - z;
    }
    return out;
  }
}

/** The ancestral sampler whose law is computed: N uniform steps of `schedule` (default linear) from all-masked. */
export interface LawOptions {
  steps: number;
  schedule?: MaskSchedule;
  /** Most masked states held at once (default 2^22); the state space is (V + 1)^L. */
  maxStates?: number;
  /** Called after each step with the steps done and the total. */
  onStep?: (done: number, total: number) => void;
}

/** What `samplerLaw` returns. */
export interface SamplerLaw {
  /** law[code] = P(output = x), code = Σ_j x_j V^{L−1−j} (as MarkovOracle.enumerate). */
  law: Float64Array;
  /**
   * With a reference model: E[Σ_steps Σ_{masked j} u_i KL(p_θ(x_0^j | x_t) ‖ p_ref(x_0^j | x_t))] over the
   * model's own trajectories, exactly — the path KL DRAKES regularises, an upper bound on KL(law ‖ ref law).
   */
  pathKl?: number;
  /** Model calls and masked states evaluated. */
  nfe: number;
  states: number;
}

const CHUNK = 8192;

/**
 * The exact law of the ancestral sampler's output (MDLM, Sahoo et al. 2024, eq. 7: each masked token
 * unmasks from t to s with probability u = (α_s − α_t)/(1 − α_t), to a token drawn from the model's
 * p(x_0 | x_t)), by propagating the probability of every partially masked state through the N steps.
 * The model is evaluated once per reachable masked state and step; (V + 1)^L must be small.
 */
export async function samplerLaw(model: DiscreteModel, options: LawOptions, reference?: DiscreteModel): Promise<SamplerLaw> {
  const net = new DiscreteDenoiser(model);
  const ref = reference === undefined ? undefined : new DiscreteDenoiser(reference);
  const { length: L, vocabSize: V } = net;
  if (ref && (ref.length !== L || ref.vocabSize !== V)) throw new UsageError(`the reference model is over ${ref.length} tokens of ${ref.vocabSize}; the model over ${L} of ${V}`);
  const maxStates = options.maxStates ?? 1 << 22;
  const space = intPow(V + 1, L);
  if (!(space <= maxStates)) {
    throw new UsageError(`the exact law needs (V + 1)^L = ${V + 1}^${L} = ${space.toExponential(3)} states; at most ${maxStates}: estimate it by sampling instead`);
  }
  const schedule = options.schedule ?? linearSchedule();
  const times = maskTimes(options.steps);
  const B = V + 1;
  let mass = new Float64Array(space);
  mass[encode(allMasked(1, L, V), 0, L, B)] = 1;
  let pathKl = 0;
  let states = 0;
  const x = new Int32Array(L);
  for (let i = 0; i + 1 < times.length; i++) {
    const u = unmaskProbability(schedule, times[i], times[i + 1]);
    const next = new Float64Array(space);
    const codes: number[] = [];
    for (let c = 0; c < space; c++) {
      if (mass[c] === 0) continue;
      if (decodeSequence(c, B, x).includes(V)) codes.push(c);
      else next[c] += mass[c];
    }
    for (let start = 0; start < codes.length; start += CHUNK) {
      const part = codes.slice(start, start + CHUNK);
      const batch = new Int32Array(part.length * L);
      part.forEach((c, r) => batch.set(decodeSequence(c, B, x), r * L));
      const t = new Float64Array(part.length).fill(times[i]);
      const lp = await net.logProbs(batch, part.length, t);
      const lq = ref ? await ref.logProbs(batch, part.length, t) : undefined;
      states += part.length;
      part.forEach((c, r) => {
        const row = batch.subarray(r * L, (r + 1) * L);
        if (lq) pathKl += mass[c] * u * maskedKl(row, lp, lq, r * L * V, V);
        spread(row, c, mass[c], u, lp, r * L * V, V, B, next);
      });
    }
    mass = next;
    options.onStep?.(i + 1, times.length - 1);
  }
  const law = new Float64Array(intPow(V, L));
  for (let c = 0; c < space; c++) {
    if (mass[c] === 0) continue;
    decodeSequence(c, B, x);
    if (x.includes(V)) throw new UsageError('the schedule leaves tokens masked at t = 0: its α(0) must be 1');
    law[encode(x, 0, L, V)] += mass[c];
  }
  return { law, ...(ref ? { pathKl } : {}), nfe: net.nfe, states };
}

function encode(x: Int32Array, off: number, L: number, B: number): number {
  let code = 0;
  for (let j = 0; j < L; j++) code = code * B + x[off + j];
  return code;
}

/** Σ_{masked j} KL(p(x_0^j) ‖ q(x_0^j)) of one state, from log-probability rows at off + j·V. */
function maskedKl(row: Int32Array, lp: Float64Array, lq: Float64Array, off: number, V: number): number {
  let s = 0;
  for (let j = 0; j < row.length; j++) {
    if (row[j] !== V) continue;
    for (let v = 0; v < V; v++) {
      const a = lp[off + j * V + v];
      if (a > -Infinity) s += exp(a) * (a - lq[off + j * V + v]);
    }
  }
  return s;
}

/** Adds to `next` the successors of one masked state of mass m: each masked token stays (1 − u) or becomes v (u · p(v)). */
function spread(row: Int32Array, code: number, m: number, u: number, lp: Float64Array, off: number, V: number, B: number, next: Float64Array): void {
  const L = row.length;
  const masked: number[] = [];
  for (let j = 0; j < L; j++) if (row[j] === V) masked.push(j);
  const k = masked.length;
  // place value of each masked position in the base-(V+1) code, and its V + 1 choices' probabilities
  const place = masked.map((j) => intPow(B, L - 1 - j));
  const probs = masked.map((j) => Float64Array.from({ length: B }, (_, v) => (v === V ? 1 - u : u * exp(lp[off + j * V + v]))));
  const base = code - masked.reduce((s, _, i) => s + V * place[i], 0);
  const choice = new Int32Array(k).fill(0);
  for (;;) {
    let p = m;
    let c = base;
    for (let i = 0; i < k; i++) {
      p *= probs[i][choice[i]];
      c += choice[i] * place[i];
    }
    next[c] += p;
    let i = 0;
    while (i < k && ++choice[i] === B) choice[i++] = 0;
    if (i === k) break;
  }
}

/** What `sampleWithPathKl` returns. */
export interface PathKlSample {
  /** n × L tokens. */
  x: Int32Array;
  /** Each sequence's path KL to the reference along its own trajectory (nats; zeros without a reference). */
  pathKl: Float64Array;
  nfe: number;
}

/**
 * The ancestral sampler (the law of `samplerLaw`, no caching), and with a reference model each
 * trajectory's path KL to it: Σ_steps u_i Σ_{masked j} KL(p_θ(x_0^j | x_t) ‖ p_ref(x_0^j | x_t)). Its mean is an
 * unbiased estimate of the exact path KL, for models whose state space is too large to enumerate. Only
 * sequences still masked are evaluated.
 */
export async function sampleWithPathKl(
  model: DiscreteModel, reference: DiscreteModel | undefined, run: { n: number; rng: Rng; steps: number; schedule?: MaskSchedule; onStep?: () => void },
): Promise<PathKlSample> {
  const net = new DiscreteDenoiser(model);
  const ref = reference === undefined ? undefined : new DiscreteDenoiser(reference);
  const { length: L, vocabSize: V } = net;
  if (ref && (ref.length !== L || ref.vocabSize !== V)) throw new UsageError(`the reference model is over ${ref.length} tokens of ${ref.vocabSize}; the model over ${L} of ${V}`);
  checkCount(run.n, 'n', 1, LIMITS.samples);
  const schedule = run.schedule ?? linearSchedule();
  const times = maskTimes(run.steps);
  const { n, rng } = run;
  const x = allMasked(n, L, V);
  const pathKl = new Float64Array(n);
  const tokens = new TokenSampler(V);
  const lp = new Float64Array(n * L * V);
  const lq = ref ? new Float64Array(n * L * V) : undefined;
  for (let i = 0; i + 1 < times.length; i++) {
    const u = unmaskProbability(schedule, times[i], times[i + 1]);
    const rows: number[] = [];
    for (let b = 0; b < n; b++) if (x.subarray(b * L, (b + 1) * L).includes(V)) rows.push(b);
    const t = new Float64Array(n).fill(times[i]);
    await evaluateRows(net, x, rows, t, lp);
    if (ref && lq) await evaluateRows(ref, x, rows, t, lq);
    for (const b of rows) {
      const row = x.subarray(b * L, (b + 1) * L);
      if (lq) pathKl[b] += u * maskedKl(row, lp, lq, b * L * V, V);
      for (let j = 0; j < L; j++) {
        if (row[j] !== V) continue;
        const stay = rng.uniform() >= u;
        const v = tokens.draw(lp, (b * L + j) * V, rng.uniform());
        if (!stay) row[j] = v;
      }
    }
    run.onStep?.();
  }
  return { x, pathKl, nfe: net.nfe };
}

/** Mean and standard error of the mean. */
export function meanAndError(values: ArrayLike<number>): { mean: number; se: number } {
  const n = values.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i];
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (values[i] - mean) * (values[i] - mean);
  return { mean, se: n > 1 ? Math.sqrt(v / (n - 1) / n) : 0 };
}


/** One row of a reward-vs-KL table. */
export interface RewardRow {
  /** e.g. "pretrained", "best-of-8", "fine-tuned", "KL-optimal (α = 0.3)". */
  method: string;
  /** E[r], exact, or a sample mean with its standard error `rewardSe`. */
  reward: number;
  rewardSe?: number;
  /** KL(law ‖ pretrained law) in nats: exact where the law is enumerated, else the best-of-N bound log N − (N−1)/N; null when unknown. */
  kl: number | null;
  /** How `kl` was obtained. */
  klKind: 'exact' | 'bound' | 'none';
  /** The path KL to the pretrained model (exact, or a sample mean with `pathKlSe`): DRAKES's regulariser. */
  pathKl?: number;
  pathKlSe?: number;
  /** Sampler runs per kept sample (N for best-of-N), so rows compare at equal inference compute. */
  runsPerSample: number;
}

/** Options of the reward tables: the sampler's steps, the N of best-of-N, the α of the KL-optimal rows. */
export interface RewardTableOptions {
  steps: number;
  /** Called as the sampler steps go by (exact tables: two laws; sampled: two runs), with the steps done and the total. */
  onStep?: (done: number, total: number) => void;
  bestOf?: readonly number[];
  alphas?: readonly number[];
  schedule?: MaskSchedule;
}

/** What `exactRewardTable` returns: the rows and the laws and rewards behind them. */
export interface ExactRewardTable {
  rows: RewardRow[];
  /** The pretrained sampler's law, the fine-tuned one's, and r of every sequence (indexed as `law`). */
  pretrainedLaw: Float64Array;
  tunedLaw: Float64Array;
  rewards: Float64Array;
  /** The best reward any law reaches at the fine-tuned model's KL: E[r] under the tilt whose KL equals it. */
  optimalAtSameKl: number;
  /** Best-of-N's reward at the fine-tuned model's KL, interpolated linearly in KL between the listed N (null outside their range). */
  bestOfNAtSameKl: number | null;
}

/**
 * Reward gained vs KL spent, exactly: the pretrained and fine-tuned ancestral samplers' laws (samplerLaw),
 * best-of-N on the pretrained law (bestOfNLaw) and the KL-optimal tilts p exp(r/α)/Z, all against the
 * pretrained sampler's law. For models whose (V + 1)^L states can be enumerated.
 */
export async function exactRewardTable(
  tuned: DiscreteModel, pretrained: DiscreteModel, reward: SequenceReward, options: RewardTableOptions,
): Promise<ExactRewardTable> {
  const N = options.steps;
  const pre = await samplerLaw(pretrained, { steps: N, schedule: options.schedule, onStep: (d) => options.onStep?.(d, 2 * N) });
  const fin = await samplerLaw(tuned, { steps: N, schedule: options.schedule, onStep: (d) => options.onStep?.(N + d, 2 * N) }, pretrained);
  const { length: L, vocabSize: V } = pretrained;
  const x = new Int32Array(L);
  const r = Float64Array.from({ length: pre.law.length }, (_, c) => reward.score(decodeSequence(c, V, x), 0));
  const rows: RewardRow[] = [{ method: 'pretrained', reward: expectation(pre.law, r), kl: 0, klKind: 'exact', runsPerSample: 1 }];
  const bon = (options.bestOf ?? [2, 4, 8, 16, 32, 64]).map((N) => {
    const q = bestOfNLaw(pre.law, r, N);
    return { method: `best-of-${N}`, reward: expectation(q, r), kl: klDivergence(q, pre.law), klKind: 'exact' as const, runsPerSample: N };
  });
  rows.push(...bon);
  const klTuned = klDivergence(fin.law, pre.law);
  rows.push({ method: 'fine-tuned', reward: expectation(fin.law, r), kl: klTuned, klKind: 'exact', pathKl: fin.pathKl, runsPerSample: 1 });
  for (const alpha of options.alphas ?? []) {
    const q = tiltedLaw(pre.law, r, alpha);
    rows.push({ method: `KL-optimal (α = ${alpha})`, reward: expectation(q, r), kl: klDivergence(q, pre.law), klKind: 'exact', runsPerSample: 1 });
  }
  const optimalAtSameKl = expectation(tiltAtKl(pre.law, r, klTuned), r);
  return { rows, pretrainedLaw: pre.law, tunedLaw: fin.law, rewards: r, optimalAtSameKl, bestOfNAtSameKl: interpolateAtKl([rows[0], ...bon], klTuned) };
}

/** The tilt p exp(r/α)/Z whose KL to p is `kl` (bisection on log α; KL falls as α grows). */
export function tiltAtKl(p: Float64Array, r: Float64Array, kl: number): Float64Array {
  if (!(kl > 0)) return Float64Array.from(p);
  let lo = -12;
  let hi = 12;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (klDivergence(tiltedLaw(p, r, exp(mid)), p) > kl) lo = mid;
    else hi = mid;
  }
  return tiltedLaw(p, r, exp(hi));
}

/** Reward at KL `kl` on the piecewise-linear curve through rows sorted by KL; null outside their range. */
function interpolateAtKl(rows: readonly RewardRow[], kl: number): number | null {
  const pts = rows.filter((w) => w.kl !== null).map((w) => [w.kl as number, w.reward]).sort((a, b) => a[0] - b[0]);
  for (let i = 0; i + 1 < pts.length; i++) {
    const [k0, r0] = pts[i];
    const [k1, r1] = pts[i + 1];
    if (kl >= k0 && kl <= k1) return k1 === k0 ? Math.max(r0, r1) : r0 + ((r1 - r0) * (kl - k0)) / (k1 - k0);
  }
  return null;
}

/**
 * Reward gained vs KL spent, by sampling, for models too large to enumerate: `n` fine-tuned samples with
 * their path KL to the pretrained model (sampleWithPathKl), and best-of-N from n × max(N) pretrained
 * samples, whose KL is given by its bound log N − (N−1)/N.
 */
export async function sampledRewardTable(
  tuned: DiscreteModel, pretrained: DiscreteModel, reward: SequenceReward, options: RewardTableOptions & { n: number; rng: Rng },
): Promise<RewardRow[]> {
  const { n, rng, steps } = options;
  let done = 0;
  const step = () => options.onStep?.(++done, 2 * steps);
  const { length: L, vocabSize: V } = pretrained;
  const bestOf = options.bestOf ?? [2, 4, 8, 16];
  const most = Math.max(1, ...bestOf);
  const pre = (await sampleWithPathKl(pretrained, undefined, { n: n * most, rng, steps, schedule: options.schedule, onStep: step })).x;
  const rPre = scoreRows(reward, pre, n * most, L, V);
  const rows: RewardRow[] = [];
  const firstN = rPre.subarray(0, n);
  rows.push({ method: 'pretrained', ...withSe(firstN), kl: 0, klKind: 'exact', runsPerSample: 1 });
  for (const N of bestOf) {
    const kept = Float64Array.from(bestOfNRows(rPre.subarray(0, n * N), N), (i) => rPre[i]);
    rows.push({ method: `best-of-${N}`, ...withSe(kept), kl: bestOfNKlBound(N), klKind: 'bound', runsPerSample: N });
  }
  const fin = await sampleWithPathKl(tuned, pretrained, { n, rng, steps, schedule: options.schedule, onStep: step });
  const k = meanAndError(fin.pathKl);
  rows.push({ method: 'fine-tuned', ...withSe(scoreRows(reward, fin.x, n, L, V)), kl: null, klKind: 'none', pathKl: k.mean, pathKlSe: k.se, runsPerSample: 1 });
  return rows;
}

function withSe(values: Float64Array): { reward: number; rewardSe: number } {
  const { mean, se } = meanAndError(values);
  return { reward: mean, rewardSe: se };
}
