import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { BUILTIN_MARKOV, DiscreteDenoiser, MarkovOracle, ancestral, edlm, encodeSequence, oracleScorer, type DiscreteSample, type SequenceScorer } from '../../src/discrete/index.js';

const L = 4;
const oracle = new MarkovOracle(BUILTIN_MARKOV.mixture3, L);
const V = oracle.vocabSize;
const exact = oracle.enumerate();
const energy = oracleScorer(oracle);

function tvToExact(s: DiscreteSample, n: number): number {
  const q = new Float64Array(exact.length);
  for (let b = 0; b < n; b++) q[encodeSequence(s.x, b * L, L, V)] += 1 / n;
  return 0.5 * q.reduce((acc, qi, i) => acc + Math.abs(qi - exact[i]), 0);
}
const noise = (n: number) => 0.5 * exact.reduce((s, p) => s + Math.sqrt((2 * p * (1 - p)) / (Math.PI * n)), 0);

describe('EDLM: importance sampling with an autoregressive energy (mixture3, L=4)', () => {
  it('K = 1 is ancestral sampling, draw for draw', async () => {
    const a = await ancestral(new DiscreteDenoiser(oracle), { n: 500, rng: new Rng(3) }, { steps: 3 });
    const e = await edlm(new DiscreteDenoiser(oracle), { n: 500, rng: new Rng(3) }, { steps: 3, energy, candidates: 1 });
    expect(e.x).toEqual(a.x);
    expect(e.energyEvaluations).toBe(0);
  });

  it('lowers the factorisation error at 1 and 2 steps, more with more candidates', async () => {
    const n = 16000;
    const lines: string[] = [];
    for (const steps of [1, 2]) {
      const tvs: number[] = [];
      for (const K of [1, 2, 4, 16]) {
        const s = await edlm(new DiscreteDenoiser(oracle), { n, rng: new Rng(10 + K) }, { steps, energy, candidates: K });
        tvs.push(tvToExact(s, n));
        expect(s.nfe).toBeLessThanOrEqual(steps);
      }
      lines.push(`steps ${steps}: TV K=1,2,4,16: ${tvs.map((t) => t.toFixed(4)).join(', ')} (noise ${noise(n).toFixed(4)})`);
      expect(tvs[0]).toBeGreaterThan(5 * noise(n));
      for (let i = 1; i < tvs.length; i++) expect(tvs[i]).toBeLessThan(tvs[i - 1]);
      expect(tvs[3]).toBeLessThan(0.35 * tvs[0]);
    }
    console.log(lines.join('\n'));
  });

  it('a window outside the run is plain ancestral; a user energy model is called per candidate', async () => {
    const a = await ancestral(new DiscreteDenoiser(oracle), { n: 200, rng: new Rng(4) }, { steps: 2 });
    const off = await edlm(new DiscreteDenoiser(oracle), { n: 200, rng: new Rng(4) }, { steps: 2, energy, candidates: 8, windowStart: 0.2, windowEnd: 0.1 });
    expect(off.x).toEqual(a.x);
    let scored = 0;
    const counting: SequenceScorer = { vocabSize: V, length: L, logLikelihood: async (x, n) => ((scored += n), energy.logLikelihood(x, n)) };
    const s = await edlm(new DiscreteDenoiser(oracle), { n: 10, rng: new Rng(5) }, { steps: 1, energy: counting, candidates: 3 });
    expect(scored).toBe(30);
    expect(s.energyEvaluations).toBe(30);
  });

  it('errors', async () => {
    const d = new DiscreteDenoiser(oracle);
    await expect(edlm(d, { n: 1, rng: new Rng(1) }, { steps: 2, energy, candidates: 0 })).rejects.toThrow(/candidates must be an integer from 1 to 10000, got 0/);
    await expect(edlm(d, { n: 1, rng: new Rng(1) }, { steps: 2, energy, windowStart: 0.2, windowEnd: 0.5 })).rejects.toThrow(/window/);
    await expect(edlm(d, { n: 1, rng: new Rng(1) }, { steps: 2, energy: oracleScorer(new MarkovOracle(BUILTIN_MARKOV.mixture3, 5)) })).rejects.toThrow(/energy model is over 5 tokens/);
  });
});
