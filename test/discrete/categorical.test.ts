import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { TokenSampler, entropy, gumbelMaxFloat32, gumbelMaxFloat32Law, tokenSamplerLaw } from '../../src/discrete/index.js';


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
      const l64 = tokenSamplerLaw(lp);
      const l32 = gumbelMaxFloat32Law(lp);
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
