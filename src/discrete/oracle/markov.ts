import { UsageError } from '../../core/errors.js';
import { exp, log } from '../../core/math.js';
import type { DiscreteModel } from '../model.js';
import { checkSequences } from '../model.js';
import { logSumExp } from '../categorical.js';
import { checkCount, LIMITS } from '../../core/limits.js';

const lse = (a: Float64Array, n: number) => logSumExp(a, 0, n);

/**
 * A Markov chain of order k over tokens 0..V−1. Windows of k consecutive tokens are encoded as
 * w = Σ_m x_m V^{k−1−m} (the oldest token most significant).
 */
export interface MarkovChainSpec {
  vocabSize: number;
  /** k ≥ 1 (default 1). */
  order?: number;
  /** Distribution of the first k tokens: V^k entries indexed by window code. */
  initial: number[];
  /** V^k rows of V: p(x_i = v | the previous k tokens' window). */
  transition: number[][];
}

/** p(x) = Σ_c w_c p_c(x); every chain has the same vocabulary (orders may differ). */
export interface MarkovMixtureSpec {
  weights: number[];
  chains: MarkovChainSpec[];
}

const PROB_TOL = 1e-9;
const MEMO_LIMIT = 1 << 16;

/** b^e for integers, by repeated multiplication (exact below 2^53). */
export function intPow(b: number, e: number): number {
  let r = 1;
  for (let i = 0; i < e; i++) r *= b;
  return r;
}

function logDistribution(p: number[], what: string): Float64Array {
  const sum = p.reduce((a, b) => a + b, 0);
  if (!p.every((q) => Number.isFinite(q) && q >= 0) || Math.abs(sum - 1) > PROB_TOL) {
    throw new UsageError(`${what} must be finite, ≥ 0 and sum to 1 (got sum ${sum})`);
  }
  return Float64Array.from(p, (q) => log(q / sum));
}

/**
 * One chain, with forward–backward in log space over the expanded state space of k-token windows
 * (an order-k chain is an order-1 chain on windows; Rabiner 1989, §III-A, with masked tokens as
 * missing observations).
 */
export class MarkovChain {
  readonly V: number;
  readonly k: number;
  /** Number of window states, V^k. */
  readonly S: number;
  private readonly head: number; // V^{k−1}
  private readonly place: number[]; // V^{k−1−m}
  readonly logInitial: Float64Array;
  readonly logTransition: Float64Array; // S × V

  constructor(spec: MarkovChainSpec) {
    const V = spec.vocabSize;
    const k = spec.order ?? 1;
    checkCount(V, 'chain vocabSize', 1, LIMITS.vocabulary);
    checkCount(k, 'chain order', 1, 16);
    const S = intPow(V, k);
    if (S > 1 << 20) throw new UsageError(`V^k = ${V}^${k} window states is too many (at most 2^20)`);
    if (spec.initial?.length !== S) throw new UsageError(`chain initial must have V^k = ${S} entries, got ${spec.initial?.length}`);
    if (spec.transition?.length !== S || !spec.transition.every((r) => r.length === V)) {
      throw new UsageError(`chain transition must be V^k × V = ${S} × ${V}`);
    }
    this.V = V;
    this.k = k;
    this.S = S;
    this.place = Array.from({ length: k }, (_, m) => intPow(V, k - 1 - m));
    this.head = S / V;
    this.logInitial = logDistribution(spec.initial, 'chain initial');
    this.logTransition = new Float64Array(S * V);
    spec.transition.forEach((row, w) => this.logTransition.set(logDistribution(row, `chain transition row ${w}`), w * V));
  }

  /** Token m (0 = oldest) of window w. */
  digit(w: number, m: number): number {
    return Math.floor(w / this.place[m]) % this.V;
  }

  /** log p(x) of a complete sequence x[off … off+L). */
  logProb(x: Int32Array, off: number, L: number): number {
    const { V, k } = this;
    let w = 0;
    for (let m = 0; m < k; m++) w = w * V + x[off + m];
    let lp = this.logInitial[w];
    for (let i = k; i < L; i++) {
      const v = x[off + i];
      lp += this.logTransition[w * V + v];
      w = (w % this.head) * V + v;
    }
    return lp;
  }

  private windowFits(x: Int32Array, off: number, w: number, first: number): boolean {
    for (let m = 0; m < this.k; m++) {
      const o = x[off + first + m];
      if (o !== this.V && o !== this.digit(w, m)) return false;
    }
    return true;
  }

  /**
   * Forward–backward on one partially masked sequence (mask id = V): writes the posterior marginals
   * p(x_j = v | unmasked tokens) into marg[j·V + v] and returns log p(unmasked tokens).
   */
  posterior(x: Int32Array, off: number, L: number, marg: Float64Array): number {
    const { V, k, S, head, logTransition: lT } = this;
    if (L < k) throw new UsageError(`sequence length ${L} is shorter than the chain order ${k}`);
    const R = L - k + 1;
    const la = new Float64Array(R * S);
    const lb = new Float64Array(R * S);
    const tmp = new Float64Array(V);
    for (let w = 0; w < S; w++) la[w] = this.windowFits(x, off, w, 0) ? this.logInitial[w] : -Infinity;
    for (let r = 1; r < R; r++) {
      const obs = x[off + r + k - 1];
      for (let w2 = 0; w2 < S; w2++) {
        const v = w2 % V;
        if (obs !== V && obs !== v) {
          la[r * S + w2] = -Infinity;
          continue;
        }
        const tail = Math.floor(w2 / V);
        for (let p = 0; p < V; p++) {
          const w = p * head + tail;
          tmp[p] = la[(r - 1) * S + w] + lT[w * V + v];
        }
        la[r * S + w2] = lse(tmp, V);
      }
    }
    for (let r = R - 2; r >= 0; r--) {
      const obs = x[off + r + k];
      for (let w = 0; w < S; w++) {
        for (let v = 0; v < V; v++) {
          tmp[v] = obs !== V && obs !== v ? -Infinity : lT[w * V + v] + lb[(r + 1) * S + (w % head) * V + v];
        }
        lb[r * S + w] = lse(tmp, V);
      }
    }
    const logZ = lse(la.subarray((R - 1) * S), S);
    marg.fill(0, 0, L * V);
    if (logZ === -Infinity) return logZ;
    for (let j = 0; j < L; j++) {
      const r = Math.max(0, j - k + 1);
      const m = j - r;
      for (let w = 0; w < S; w++) {
        const a = la[r * S + w];
        if (a === -Infinity) continue;
        marg[j * V + this.digit(w, m)] += exp(a + lb[r * S + w] - logZ);
      }
    }
    return logZ;
  }
}

/** Built-in chains and mixtures for tests and examples. */
export const BUILTIN_MARKOV: Record<string, MarkovChainSpec | MarkovMixtureSpec> = {
  /** V = 3, order 1, tokens tend to repeat. */
  sticky3: {
    vocabSize: 3,
    initial: [0.5, 0.3, 0.2],
    transition: [
      [0.7, 0.2, 0.1],
      [0.15, 0.7, 0.15],
      [0.1, 0.3, 0.6],
    ],
  },
  /** V = 2, order 2: the next bit depends on the last two. */
  order2: {
    vocabSize: 2,
    order: 2,
    initial: [0.4, 0.1, 0.2, 0.3],
    transition: [
      [0.9, 0.1],
      [0.3, 0.7],
      [0.6, 0.4],
      [0.2, 0.8],
    ],
  },
  /** V = 3: a sticky chain and a cyclic one (0 → 1 → 2 → 0), weights 0.6 / 0.4, so tokens far apart stay correlated. */
  mixture3: {
    weights: [0.6, 0.4],
    chains: [
      {
        vocabSize: 3,
        initial: [0.6, 0.2, 0.2],
        transition: [
          [0.8, 0.1, 0.1],
          [0.1, 0.8, 0.1],
          [0.1, 0.1, 0.8],
        ],
      },
      {
        vocabSize: 3,
        initial: [0.2, 0.2, 0.6],
        transition: [
          [0.05, 0.9, 0.05],
          [0.05, 0.05, 0.9],
          [0.9, 0.05, 0.05],
        ],
      },
    ],
  },
};

function isMixture(spec: MarkovChainSpec | MarkovMixtureSpec): spec is MarkovMixtureSpec {
  return 'chains' in spec;
}

/**
 * Exact oracle for masked diffusion: the data are sequences of `length` tokens from a Markov chain
 * (or a mixture of chains), and p(x_0^i | unmasked tokens) is computed exactly. Time-independent,
 * as the true clean-data conditional of absorbing diffusion is (Ou et al. 2024, Thm. 1).
 */
export class MarkovOracle implements DiscreteModel {
  readonly vocabSize: number;
  readonly timeConditioned = false;
  readonly chains: MarkovChain[];
  readonly logWeights: Float64Array;
  private readonly memo = new Map<number, Float64Array>();

  constructor(spec: MarkovChainSpec | MarkovMixtureSpec, readonly length: number) {
    const { chains, weights } = isMixture(spec) ? spec : { chains: [spec], weights: [1] };
    if (!Array.isArray(chains) || chains.length === 0 || weights?.length !== chains.length) {
      throw new UsageError(`a mixture needs one weight per chain (got ${weights?.length} weights, ${chains?.length} chains)`);
    }
    this.chains = chains.map((c) => new MarkovChain(c));
    this.vocabSize = this.chains[0].V;
    if (!this.chains.every((c) => c.V === this.vocabSize)) throw new UsageError('every chain of a mixture must have the same vocabSize');
    checkCount(length, 'length', 1, LIMITS.sequence);
    const kMax = Math.max(...this.chains.map((c) => c.k));
    if (length < kMax) throw new UsageError(`length ${length} is shorter than the chain order ${kMax}`);
    this.logWeights = logDistribution(weights, 'mixture weights');
  }

  /**
   * Exact conditionals of one sequence: p(x_j = v | unmasked tokens) into marg (L × V, probabilities);
   * returns log p(unmasked tokens). For a mixture, p = Σ_c r_c p_c with r_c ∝ w_c p_c(unmasked).
   */
  posterior(x: Int32Array, off: number, marg: Float64Array): number {
    const { length: L, vocabSize: V, chains } = this;
    if (chains.length === 1) return chains[0].posterior(x, off, L, marg);
    const part = new Float64Array(L * V);
    const logEv = new Float64Array(chains.length);
    const parts: Float64Array[] = [];
    chains.forEach((c, i) => {
      logEv[i] = this.logWeights[i] + c.posterior(x, off, L, part);
      parts.push(Float64Array.from(part));
    });
    const logZ = lse(Float64Array.from(logEv), chains.length);
    marg.fill(0, 0, L * V);
    if (logZ === -Infinity) return logZ;
    parts.forEach((p, i) => {
      const r = exp(logEv[i] - logZ);
      for (let j = 0; j < L * V; j++) marg[j] += r * p[j];
    });
    return logZ;
  }

  async logProbs(x: Int32Array, n: number): Promise<Float64Array> {
    return this.conditionals(x, n);
  }

  /**
   * Synchronous logProbs: n × L × V exact log p(x_0^j = v | unmasked tokens of row). Results are
   * memoised by masked sequence (up to MEMO_LIMIT of them), as samplers revisit the same states.
   */
  conditionals(x: Int32Array, n: number): Float64Array {
    const { length: L, vocabSize: V } = this;
    checkSequences(x, n, L, V);
    const out = new Float64Array(n * L * V);
    const marg = new Float64Array(L * V);
    const memoable = intPow(V + 1, L) <= Number.MAX_SAFE_INTEGER;
    for (let b = 0; b < n; b++) {
      const key = memoable ? encodeSequence(x, b * L, L, V + 1) : -1;
      let row = this.memo.get(key);
      if (row === undefined) {
        if (this.posterior(x, b * L, marg) === -Infinity) {
          throw new UsageError(`sequence ${b}: its unmasked tokens have probability 0 under the oracle`);
        }
        row = marg.map((m) => log(m));
        if (memoable && this.memo.size < MEMO_LIMIT) this.memo.set(key, row);
      }
      out.set(row, b * L * V);
    }
    return out;
  }

  /** log p(unmasked tokens) of one row (the full log-likelihood when nothing is masked). */
  logMarginal(x: Int32Array, off = 0): number {
    checkSequences(x.subarray(off, off + this.length), 1, this.length, this.vocabSize);
    return this.posterior(x, off, new Float64Array(this.length * this.vocabSize));
  }

  /** Exact log p(x) of a complete sequence, directly from the chain factors. */
  logProb(x: Int32Array, off = 0): number {
    const { length: L, vocabSize: V } = this;
    const row = x.subarray(off, off + L);
    checkSequences(row, 1, L, V);
    if (row.includes(V)) throw new UsageError('logProb needs a complete sequence; use logMarginal for a masked one');
    const terms = Float64Array.from(this.chains, (c, i) => this.logWeights[i] + c.logProb(x, off, L));
    return lse(terms, terms.length);
  }

  /**
   * The whole distribution: p[code] for every sequence, code = Σ_j x_j V^{L−1−j} (x_0 most
   * significant). Only when V^L ≤ maxStates.
   */
  enumerate(maxStates = 100_000): Float64Array {
    const { length: L, vocabSize: V } = this;
    const size = intPow(V, L);
    if (!(size <= maxStates)) {
      throw new UsageError(`cannot enumerate V^L = ${V}^${L} = ${size.toExponential(3)} sequences; at most ${maxStates} (maxStates)`);
    }
    const p = new Float64Array(size);
    const x = new Int32Array(L);
    for (let code = 0; code < size; code++) {
      decodeSequence(code, V, x);
      p[code] = exp(this.logProb(x));
    }
    return p;
  }
}

/** The code Σ_j x_j V^{L−1−j} of the row x[off … off+L). */
export function encodeSequence(x: Int32Array, off: number, L: number, V: number): number {
  let code = 0;
  for (let j = 0; j < L; j++) code = code * V + x[off + j];
  return code;
}

/** Writes the tokens of a code into x (length L). */
export function decodeSequence(code: number, V: number, x: Int32Array): Int32Array {
  for (let j = x.length - 1; j >= 0; j--) {
    x[j] = code % V;
    code = Math.floor(code / V);
  }
  return x;
}
