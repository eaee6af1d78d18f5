import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { TokenSampler, entropy, gumbelFloat32, gumbelMaxFloat32 } from '../../src/discrete/index.js';

const TWO24 = 2 ** 24;
const TWO53 = 2 ** 53;

/** Zipf over V tokens: p_j ∝ 1/(j + 1), a high-entropy distribution with a long tail. */
function zipf(V: number): Float64Array {
  const w = Float64Array.from({ length: V }, (_, j) => 1 / (j + 1));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

/**
 * One MDLM ancestral draw for a masked token over a step that unmasks it with probability δ: a
 * categorical over V tokens (δ p_j) and "stay masked" (1 − δ), as log-probabilities.
 */
function stepLogits(p: Float64Array, delta: number): Float64Array {
  return Float64Array.from([...p].map((q) => Math.log(delta * q)).concat([Math.log1p(-delta)]));
}

/** The token distribution given that a token (not the mask) is drawn, from a law over V + 1 categories. */
function tokenConditional(law: Float64Array): Float64Array {
  const tok = law.subarray(0, law.length - 1);
  const z = tok.reduce((a, b) => a + b, 0);
  return tok.map((q) => q / z);
}

/**
 * The exact law of TokenSampler.draw on a row: each category's share of the 2^53 float64
 * uniforms k·2^−53, found by binary search for its first k (draw is non-decreasing in u).
 */
function lawFloat64(lp: Float64Array): Float64Array {
  const s = new TokenSampler(lp.length);
  const first = (j: number) => {
    let lo = 0;
    let hi = TWO53;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (s.draw(lp, 0, mid / TWO53) >= j) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const starts = Array.from({ length: lp.length + 1 }, (_, j) => (j === lp.length ? TWO53 : first(j)));
  return Float64Array.from({ length: lp.length }, (_, j) => (starts[j + 1] - starts[j]) / TWO53);
}

/**
 * The exact law of gumbelMaxFloat32 for the V tokens of a row whose last category is the mask:
 * u takes the 2^24 values k·2^−24 and scores s_c(k) = fl32(fl32(logit_c) + g(k)) are non-decreasing
 * in k, so P(s_c < y) is a count found by binary search; token j wins (first index on ties) with
 * probability Σ_k 2^−24 Π_{c<j} P(s_c < s_j(k)) Π_{c>j} P(s_c ≤ s_j(k)). Terms vanish below the
 * others' smallest score, so only the top levels are summed. The mask's share is the rest.
 */
function lawFloat32(lp: Float64Array): Float64Array {
  const C = lp.length;
  const TOP = 1 << 18;
  const gTop = Float64Array.from({ length: TOP }, (_, i) => gumbelFloat32((TWO24 - TOP + i) / TWO24));
  const g = (k: number) => (k >= TWO24 - TOP ? gTop[k - (TWO24 - TOP)] : gumbelFloat32(k / TWO24));
  const logit = Float64Array.from(lp, (x) => Math.fround(x));
  const score = (c: number, k: number) => Math.fround(logit[c] + g(k));
  /** Number of k with s_c(k) < y (strict) or ≤ y. */
  const below = (c: number, y: number, strict: boolean) => {
    let lo = 0;
    let hi = TWO24;
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
    for (let k = below(j, floor, true); k < TWO24; k++) {
      const y = score(j, k);
      let prod = 1 / TWO24;
      for (let c = 0; c < C && prod > 0; c++) if (c !== j) prod *= below(c, y, c < j) / TWO24;
      law[j] += prod;
    }
  }
  law[C - 1] = 1 - law.subarray(0, C - 1).reduce((a, b) => a + b, 0);
  return law;
}

describe('categorical sampling: float64 inverse CDF vs float32 Gumbel-max (Zheng et al. 2024, §5)', () => {
  const V = 32;
  const p = zipf(V);
  const H = entropy(p);

  it('float64 sampler: empirical entropy of draws matches the exact entropy', () => {
    const s = new TokenSampler(V);
    const lp = p.map(Math.log);
    const rng = new Rng(3);
    const n = 50_000;
    const q = new Float64Array(V);
    for (let i = 0; i < n; i++) q[s.draw(lp, 0, rng.uniform())] += 1 / n;
    const bias = (V - 1) / (2 * n); // plug-in entropy bias
    expect(Math.abs(entropy(q) + bias - H)).toBeLessThan(0.01);
    const g = new Float64Array(V);
    const r = new Rng(4);
    for (let i = 0; i < n; i++) g[gumbelMaxFloat32(lp, 0, V, r)] += 1 / n;
    expect(Math.abs(entropy(g) + bias - H)).toBeLessThan(0.01); // fine where probabilities are not tiny
  });

  it('many-step masked diffusion: float32 Gumbel-max lowers the token entropy, float64 does not', () => {
    const rows: string[] = [];
    const drops: number[] = [];
    for (const delta of [1e-4, 1e-5, 1e-6]) {
      const lp = stepLogits(p, delta);
      const l64 = lawFloat64(lp);
      const l32 = lawFloat32(lp);
      const [h64, h32] = [entropy(tokenConditional(l64)), entropy(tokenConditional(l32))];
      const unmask32 = 1 - l32[V];
      rows.push(`δ=${delta}: exact H ${H.toFixed(4)}, float64 ${h64.toFixed(6)}, float32 ${h32.toFixed(4)} nats; P(unmask) float32 ${unmask32.toExponential(3)} vs ${delta}`);
      expect(Math.abs(h64 - H)).toBeLessThan(1e-9);
      expect(Math.abs(1 - l64[V] - delta)).toBeLessThan(1e-12);
      drops.push(H - h32);
    }
    console.log(rows.join('\n'));
    expect(drops[0]).toBeGreaterThan(0.01);
    expect(drops[1]).toBeGreaterThan(drops[0]);
    expect(drops[2]).toBeGreaterThan(drops[1]);
    expect(drops[2]).toBeGreaterThan(0.3);
  });

  it('top-k and top-p keep the most probable tokens, renormalised', () => {
    const lp = Float64Array.from([0.1, 0.4, 0.3, 0.2].map(Math.log));
    const law = (f: ConstructorParameters<typeof TokenSampler>[1]) => {
      const s = new TokenSampler(4, f);
      const q = new Float64Array(4);
      for (let i = 0; i < 1000; i++) q[s.draw(lp, 0, (i + 0.5) / 1000)] += 1 / 1000;
      return q;
    };
    const near = (q: Float64Array, want: number[]) => want.forEach((w, j) => expect(Math.abs(q[j] - w)).toBeLessThan(2e-3));
    near(law({ topK: 2 }), [0, 4 / 7, 3 / 7, 0]);
    near(law({ topP: 0.65 }), [0, 4 / 7, 3 / 7, 0]);
    near(law({ topP: 0.75 }), [0, 4 / 9, 3 / 9, 2 / 9]);
    near(law({ topK: 3, topP: 0.5 }), [0, 4 / 7, 3 / 7, 0]);
    expect(() => new TokenSampler(4, { topP: 0 })).toThrow(/topP must be in \(0, 1\]/);
    expect(() => new TokenSampler(4, { temperature: -1 })).toThrow(/temperature must be/);
  });
});
