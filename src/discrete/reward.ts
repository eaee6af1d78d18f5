import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';
import { checkSequences } from './model.js';

/**
 * Rewards over complete token sequences, for reward fine-tuning (DRAKES) and best-of-N: a motif count
 * or a token-class frequency, both stated in tokens and both with a known maximum.
 */
export interface SequenceReward {
  /** The spec it was made from, e.g. "motif:CG" or "class:aeiou". */
  readonly spec: string;
  /** The largest value any sequence of `length` tokens can get. */
  readonly max: number;
  /** r(x) of the complete row x[off … off+L). */
  score(x: Int32Array, off: number): number;
}

/** Number of (possibly overlapping) occurrences of `motif` in a sequence of `length` tokens. */
export function motifCount(motif: readonly number[], length: number, spec = `motif:${motif.join(',')}`): SequenceReward {
  const k = motif.length;
  if (k === 0 || k > length) throw new UsageError(`a motif needs 1..${length} tokens (the sequence length), got ${k}`);
  const m = Int32Array.from(motif);
  return {
    spec,
    max: maxOccurrences(m, length),
    score(x, off) {
      let c = 0;
      for (let i = 0; i + k <= length; i++) {
        let hit = true;
        for (let j = 0; j < k && hit; j++) hit = x[off + i + j] === m[j];
        if (hit) c++;
      }
      return c;
    },
  };
}

/** Most occurrences of a motif in `length` tokens: consecutive starts are its smallest self-overlap period apart. */
function maxOccurrences(m: Int32Array, length: number): number {
  const k = m.length;
  let period = k;
  for (let p = 1; p < k; p++) {
    let ok = true;
    for (let j = 0; j + p < k && ok; j++) ok = m[j] === m[j + p];
    if (ok) {
      period = p;
      break;
    }
  }
  return Math.floor((length - k) / period) + 1;
}

/** The fraction of a sequence's tokens that are in `tokens` (a character class such as the vowels). */
export function classFrequency(tokens: readonly number[], length: number, spec = `class:${tokens.join(',')}`): SequenceReward {
  if (tokens.length === 0) throw new UsageError('a token class needs at least one token');
  const member = new Set(tokens);
  return {
    spec,
    max: 1,
    score(x, off) {
      let c = 0;
      for (let i = 0; i < length; i++) if (member.has(x[off + i])) c++;
      return c / length;
    },
  };
}

/**
 * A reward from its spec: `motif:T1T2…` (a count of the motif, e.g. motif:CG) or `class:T1T2…` (the
 * fraction of tokens in the class, e.g. class:aeiou), written in the tokenizer's characters; or with
 * comma-separated token ids, e.g. motif:1,2 (needed when there is no character tokenizer).
 */
export function parseReward(spec: string, vocabSize: number, length: number, chars?: readonly string[]): SequenceReward {
  const accepted = 'accepted: motif:TOKENS (a motif count) or class:TOKENS (a token-class frequency), TOKENS as characters of the tokenizer or comma-separated ids';
  const m = /^(motif|class):(.+)$/.exec(spec);
  if (m === null) throw new UsageError(`reward "${spec}": ${accepted}`);
  const [, kind, body] = m;
  let ids: number[];
  if (/^\d+(,\d+)*$/.test(body) && (body.includes(',') || chars === undefined)) {
    ids = body.split(',').map(Number);
    const bad = ids.find((i) => i >= vocabSize);
    if (bad !== undefined) throw new UsageError(`reward "${spec}": token id ${bad} is out of range 0..${vocabSize - 1}`);
  } else {
    if (chars === undefined) throw new UsageError(`reward "${spec}": this model has no character tokenizer; write the tokens as ids, e.g. ${kind}:1,2`);
    ids = [...body].map((c) => {
      const i = chars.indexOf(c);
      if (i < 0) throw new UsageError(`reward "${spec}": "${c}" is not one of the model's tokens (${chars.join('')})`);
      return i;
    });
  }
  return kind === 'motif' ? motifCount(ids, length, spec) : classFrequency(ids, length, spec);
}

/** r(x) of every row of n complete sequences. */
export function scoreRows(reward: SequenceReward, x: Int32Array, n: number, length: number, vocabSize: number): Float64Array {
  checkSequences(x, n, length, vocabSize);
  if (x.includes(vocabSize)) throw new UsageError('a reward scores complete sequences; these still have masked tokens');
  return Float64Array.from({ length: n }, (_, b) => reward.score(x, b * length));
}

/** Σ_x q(x) r(x). */
export function expectation(q: Float64Array, r: Float64Array): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) if (q[i] > 0) s += q[i] * r[i];
  return s;
}

/** KL(q ‖ p) = Σ q log(q/p) in nats; +∞ where q puts mass p does not. */
export function klDivergence(q: Float64Array, p: Float64Array): number {
  if (q.length !== p.length) throw new UsageError(`KL of laws over ${q.length} and ${p.length} outcomes`);
  let s = 0;
  for (let i = 0; i < q.length; i++) {
    if (q[i] <= 0) continue;
    if (!(p[i] > 0)) return Infinity;
    s += q[i] * log(q[i] / p[i]);
  }
  return Math.max(0, s);
}

/**
 * The KL-regularised optimum: argmax_q E_q[r] − α KL(q ‖ p) = p(x) exp(r(x)/α) / Z (e.g. Rafailov et
 * al. 2023, eq. 4; DRAKES's target, Wang et al. 2024, eq. 3). α → ∞ gives p.
 */
export function tiltedLaw(p: Float64Array, r: Float64Array, alpha: number): Float64Array {
  if (!(alpha > 0)) throw new UsageError(`the KL weight α must be > 0, got ${alpha}`);
  let rmax = -Infinity;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) rmax = Math.max(rmax, r[i]);
  const q = Float64Array.from(p, (pi, i) => (pi > 0 ? pi * exp((r[i] - rmax) / alpha) : 0));
  const z = q.reduce((a, b) => a + b, 0);
  return q.map((v) => v / z);
}

/**
 * The exact law of best-of-N: draw N outcomes from p and keep one with the largest reward (ties go to
 * the first drawn, so within a reward level the law is p's). With F(k) = P_p(r ≤ k), the kept outcome
 * has reward level k with probability F(k)^N − F(k⁻)^N.
 */
export function bestOfNLaw(p: Float64Array, r: Float64Array, N: number): Float64Array {
  if (!(Number.isInteger(N) && N >= 1)) throw new UsageError(`best-of-N needs an integer N ≥ 1, got ${N}`);
  const levels = [...new Set(Array.from(r))].sort((a, b) => a - b);
  const mass = new Map<number, number>(levels.map((k) => [k, 0]));
  p.forEach((pi, i) => mass.set(r[i], (mass.get(r[i]) ?? 0) + pi));
  const scale = new Map<number, number>();
  let below = 0;
  for (const k of levels) {
    const m = mass.get(k) ?? 0;
    const F = Math.min(1, below + m);
    const pk = powInt(F, N) - powInt(below, N);
    scale.set(k, m > 0 ? pk / m : 0);
    below = F;
  }
  return Float64Array.from(p, (pi, i) => pi * (scale.get(r[i]) ?? 0));
}

function powInt(b: number, e: number): number {
  let r = 1;
  let x = b;
  for (let k = e; k > 0; k >>= 1) {
    if (k & 1) r *= x;
    x *= x;
  }
  return r;
}

/** The analytic bound KL(best-of-N ‖ p) ≤ log N − (N − 1)/N (Beirami et al. 2024), exact for a continuous reward. */
export function bestOfNKlBound(N: number): number {
  return log(N) - (N - 1) / N;
}

/** Best-of-N from draws: group g of rows [gN, (g+1)N) keeps its highest-reward row (the first on ties). */
export function bestOfNRows(rewards: Float64Array, N: number): number[] {
  if (!(Number.isInteger(N) && N >= 1)) throw new UsageError(`best-of-N needs an integer N ≥ 1, got ${N}`);
  const groups = Math.floor(rewards.length / N);
  return Array.from({ length: groups }, (_, g) => {
    let best = g * N;
    for (let i = g * N + 1; i < (g + 1) * N; i++) if (rewards[i] > rewards[best]) best = i;
    return best;
  });
}
