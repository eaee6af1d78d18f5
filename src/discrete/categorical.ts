import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';
import type { Rng } from '../core/rng.js';

/** Options that reshape a token distribution before drawing (baselines, not exact sampling). */
export interface TokenFilter {
  /** Divide log-probabilities by this (1 = exact). */
  temperature?: number;
  /** Keep the k most probable tokens (0 = all). */
  topK?: number;
  /** Keep the smallest set of most probable tokens whose mass reaches p (nucleus; Holtzman et al. 2020). 1 = all. */
  topP?: number;
}

/** Checks a TokenFilter: temperature finite and > 0, topK an integer ≥ 0, topP in (0, 1]; throws a UsageError otherwise. */
export function checkTokenFilter(f: TokenFilter): void {
  const { temperature = 1, topK = 0, topP = 1 } = f;
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new UsageError(`temperature must be a finite number > 0, got ${temperature}`);
  if (!(Number.isInteger(topK) && topK >= 0)) throw new UsageError(`topK must be an integer ≥ 0 (0 keeps all tokens), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new UsageError(`topP must be in (0, 1], got ${topP}`);
}

/**
 * Draws tokens from rows of log-probabilities by the inverse CDF of a float64 uniform: every
 * probability down to 2^−53 is honoured (no Gumbel noise, so no truncated tail; cf. Zheng et al.
 * 2024, §5). Holds one scratch row, so a sampler makes one and reuses it.
 */
export class TokenSampler {
  private readonly w: Float64Array;
  private readonly order: number[];
  private readonly invT: number;
  private readonly topK: number;
  private readonly topP: number;

  constructor(readonly vocabSize: number, filter: TokenFilter = {}) {
    checkTokenFilter(filter);
    this.w = new Float64Array(vocabSize);
    this.order = Array.from({ length: vocabSize }, (_, j) => j);
    this.invT = 1 / (filter.temperature ?? 1);
    this.topK = filter.topK ?? 0;
    this.topP = filter.topP ?? 1;
  }

  /** A token from the row logp[off … off+V) for the uniform u ∈ [0, 1). */
  draw(logp: Float64Array, off: number, u: number): number {
    const { w, vocabSize: V } = this;
    let max = -Infinity;
    for (let j = 0; j < V; j++) max = Math.max(max, logp[off + j]);
    if (max === -Infinity) throw new UsageError(`token distribution at offset ${off} has no mass`);
    let total = 0;
    for (let j = 0; j < V; j++) total += w[j] = exp((logp[off + j] - max) * this.invT);
    if (this.topK > 0 || this.topP < 1) total = this.filter();
    const target = u * total;
    let c = 0;
    let last = 0;
    for (let j = 0; j < V; j++) {
      if (w[j] === 0) continue;
      c += w[j];
      last = j;
      if (c > target) return j;
    }
    return last;
  }

  /** Zero the weights outside top-k / top-p; returns the kept mass. */
  private filter(): number {
    const { w, order } = this;
    order.sort((a, b) => w[b] - w[a] || a - b);
    const k = this.topK > 0 ? Math.min(this.topK, order.length) : order.length;
    let kept = 0;
    for (let r = 0; r < k; r++) kept += w[order[r]];
    const need = this.topP * kept;
    let mass = 0;
    let r = 0;
    for (; r < k && mass < need; r++) mass += w[order[r]];
    for (; r < order.length; r++) w[order[r]] = 0;
    return mass;
  }
}

/** log Σ_j e^{a_j} over a[off … off+n). */
export function logSumExp(a: Float64Array, off: number, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, a[off + j]);
  if (max === -Infinity || max === Infinity) return max;
  let s = 0;
  for (let j = 0; j < n; j++) s += exp(a[off + j] - max);
  return max + log(s);
}

/** Shannon entropy −Σ p log p (nats) of a probability vector (zeros contribute 0). */
export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * log(p[i]);
  return h;
}

const TWO_POW_24 = 16777216;
const TWO_POW_53 = 9007199254740992;

/** A float32 uniform as torch.rand makes it: k·2^−24, k ∈ [0, 2^24), so at most 1 − 2^−24. */
export function uniformFloat32(rng: Rng): number {
  return Math.floor(rng.uniform() * TWO_POW_24) / TWO_POW_24;
}

const GUMBEL_EPS = 1e-10;

/** Gumbel noise −log(−log(u + ε) + ε), ε = 1e-10, as GPU code writes it, every operation rounded to float32. */
export function gumbelFloat32(u: number): number {
  const f = Math.fround;
  const e = f(-f(log(f(f(u) + GUMBEL_EPS))));
  return f(-f(log(f(e + GUMBEL_EPS))));
}

/**
 * Gumbel-max in float32, as GPU code commonly draws tokens: argmax_j fl32(log p_j + g_j). Kept only to
 * reproduce Zheng et al. 2024 (§5, "inaccurate categorical sampling"): u ≤ 1 − 2^−24 truncates the
 * Gumbel tail at ≈ 16.6, so tokens that need a larger g to win — the tiny probabilities of many-step
 * masked diffusion — are drawn too rarely, which lowers the effective temperature.
 */
export function gumbelMaxFloat32(logp: Float64Array, off: number, V: number, rng: Rng): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let j = 0; j < V; j++) {
    const s = Math.fround(Math.fround(logp[off + j]) + gumbelFloat32(uniformFloat32(rng)));
    if (s > bestScore) {
      bestScore = s;
      best = j;
    }
  }
  return best;
}

/**
 * The exact law of TokenSampler.draw on a row: each category's share of the 2^53 float64
 * uniforms k·2^−53, found by binary search for its first k (draw is non-decreasing in u).
 */
export function tokenSamplerLaw(lp: Float64Array): Float64Array {
  const s = new TokenSampler(lp.length);
  const first = (j: number) => {
    let lo = 0;
    let hi = TWO_POW_53;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (s.draw(lp, 0, mid / TWO_POW_53) >= j) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const starts = Array.from({ length: lp.length + 1 }, (_, j) => (j === lp.length ? TWO_POW_53 : first(j)));
  return Float64Array.from({ length: lp.length }, (_, j) => (starts[j + 1] - starts[j]) / TWO_POW_53);
}

/**
 * The exact law of gumbelMaxFloat32 for the V tokens of a row whose last category is the mask:
 * u takes the 2^24 values k·2^−24 and scores s_c(k) = fl32(fl32(logit_c) + g(k)) are non-decreasing
 * in k, so P(s_c < y) is a count found by binary search; token j wins (first index on ties) with
 * probability Σ_k 2^−24 Π_{c<j} P(s_c < s_j(k)) Π_{c>j} P(s_c ≤ s_j(k)). Terms vanish below the
 * others' smallest score, so only the top levels are summed. The mask's share is the rest.
 */
export function gumbelMaxFloat32Law(lp: Float64Array): Float64Array {
  const C = lp.length;
  const TOP = 1 << 18;
  const gTop = Float64Array.from({ length: TOP }, (_, i) => gumbelFloat32((TWO_POW_24 - TOP + i) / TWO_POW_24));
  const g = (k: number) => (k >= TWO_POW_24 - TOP ? gTop[k - (TWO_POW_24 - TOP)] : gumbelFloat32(k / TWO_POW_24));
  const logit = Float64Array.from(lp, (x) => Math.fround(x));
  const score = (c: number, k: number) => Math.fround(logit[c] + g(k));
  /** Number of k with s_c(k) < y (strict) or ≤ y. */
  const below = (c: number, y: number, strict: boolean) => {
    let lo = 0;
    let hi = TWO_POW_24;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const s = score(c, mid);
      if (strict ? s >= y : s > y) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const law = new Float64Array(C);
  for (let j = 0; j < C - 1; j++) {
    let floor = -Infinity;
    for (let c = 0; c < C; c++) if (c !== j) floor = Math.max(floor, score(c, 0));
    for (let k = below(j, floor, true); k < TWO_POW_24; k++) {
      const y = score(j, k);
      let prod = 1 / TWO_POW_24;
      for (let c = 0; c < C && prod > 0; c++) if (c !== j) prod *= below(c, y, c < j) / TWO_POW_24;
      law[j] += prod;
    }
  }
  law[C - 1] = 1 - law.subarray(0, C - 1).reduce((a, b) => a + b, 0);
  return law;
}
