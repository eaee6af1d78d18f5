import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { BUILTIN_MARKOV, DiscreteDenoiser, MarkovOracle, maskedElbo, unigramBits } from '../../src/discrete/index.js';

describe('maskedElbo (MDLM bound by Monte Carlo over t)', () => {
  it('is unbiased for −log p(x) under an exact model (the bound is tight for exact conditionals)', async () => {
    const L = 6;
    const oracle = new MarkovOracle(BUILTIN_MARKOV.mixture3, L);
    const x = Int32Array.from([0, 0, 1, 2, 2, 2, 1, 2, 0, 1, 2, 0, 2, 2, 2, 2, 2, 1]);
    const n = 3;
    for (let b = 0; b < n; b++) {
      const row = x.subarray(b * L, (b + 1) * L);
      const est = await maskedElbo(new DiscreteDenoiser(oracle), row, 1, 3000, new Rng(b));
      const exact = -oracle.logProb(row, 0) / L / Math.LN2;
      expect(Math.abs(est.bitsPerToken - exact)).toBeLessThan(4 * est.standardError + 1e-3);
    }
  });

  it('a model that ignores context gets no better than the unigram entropy', async () => {
    const V = 4;
    const L = 8;
    const p = [0.4, 0.3, 0.2, 0.1];
    const flat = {
      vocabSize: V, length: L, timeConditioned: false,
      logProbs: async (_x: Int32Array, n: number) => Float64Array.from({ length: n * L * V }, (_, i) => Math.log(p[i % V])),
    };
    const rng = new Rng(7);
    const n = 400;
    const x = Int32Array.from({ length: n * L }, () => {
      const u = rng.uniform();
      return u < 0.4 ? 0 : u < 0.7 ? 1 : u < 0.9 ? 2 : 3;
    });
    const est = await maskedElbo(new DiscreteDenoiser(flat), x, n, 2, new Rng(1));
    const crossEntropy = -Array.from(x).reduce((a, v) => a + Math.log2(p[v]), 0) / x.length;
    expect(est.bitsPerToken).toBeCloseTo(crossEntropy, 1);
    expect(Math.abs(est.bitsPerToken - unigramBits(x, V))).toBeLessThan(0.05);
  });
});
