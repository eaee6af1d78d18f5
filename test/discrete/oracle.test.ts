import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { BUILTIN_MARKOV, DiscreteDenoiser, MarkovOracle, decodeSequence, encodeSequence } from '../../src/discrete/index.js';

/** p(x_j = v | unmasked tokens of x) by summing the enumerated distribution. */
function bruteConditionals(p: Float64Array, x: Int32Array, V: number): Float64Array {
  const L = x.length;
  const marg = new Float64Array(L * V);
  const y = new Int32Array(L);
  let z = 0;
  for (let code = 0; code < p.length; code++) {
    decodeSequence(code, V, y);
    if (!y.every((v, j) => x[j] === V || x[j] === v)) continue;
    z += p[code];
    for (let j = 0; j < L; j++) marg[j * V + y[j]] += p[code];
  }
  return marg.map((m) => m / z);
}

const cases: [string, number][] = [
  ['sticky3', 5],
  ['order2', 7],
  ['mixture3', 5],
];

describe('Markov oracle (exact)', () => {
  for (const [name, L] of cases) {
    it(`${name}, L=${L}: enumeration sums to 1; conditionals and marginal likelihoods match brute force`, () => {
      const oracle = new MarkovOracle(BUILTIN_MARKOV[name], L);
      const V = oracle.vocabSize;
      const p = oracle.enumerate();
      expect(p.length).toBe(V ** L);
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-13);
      const rng = new Rng(7);
      let worst = 0;
      for (let trial = 0; trial < 40; trial++) {
        const x = Int32Array.from({ length: L }, () => (rng.uniform() < 0.5 ? V : Math.floor(rng.uniform() * V)));
        const brute = bruteConditionals(p, x, V);
        if (brute.some(Number.isNaN)) continue; // observed tokens impossible
        const lp = oracle.conditionals(x, 1);
        for (let i = 0; i < L * V; i++) worst = Math.max(worst, Math.abs(Math.exp(lp[i]) - brute[i]));
        let z = 0;
        for (let code = 0; code < p.length; code++) {
          const y = decodeSequence(code, V, new Int32Array(L));
          if (y.every((v, j) => x[j] === V || x[j] === v)) z += p[code];
        }
        expect(oracle.logMarginal(x)).toBeCloseTo(Math.log(z), 12);
      }
      expect(worst).toBeLessThan(1e-13);
    });
  }

  it('full-sequence likelihood: chain factors = forward algorithm, code round trip', () => {
    const oracle = new MarkovOracle(BUILTIN_MARKOV.mixture3, 6);
    const x = Int32Array.from([0, 1, 2, 2, 0, 1]);
    expect(oracle.logMarginal(x)).toBeCloseTo(oracle.logProb(x), 13);
    expect(decodeSequence(encodeSequence(x, 0, 6, 3), 3, new Int32Array(6))).toEqual(x);
  });

  it('clear errors for bad inputs', () => {
    const oracle = new MarkovOracle(BUILTIN_MARKOV.sticky3, 4);
    expect(() => oracle.conditionals(Int32Array.from([0, 1, 4, 3]), 1)).toThrow(/token id 4 .*accepted: 0..2, or 3 for the mask/);
    expect(() => oracle.conditionals(new Int32Array(7), 2)).toThrow(/expected n × L = 2 × 4 = 8/);
    expect(() => new MarkovOracle(BUILTIN_MARKOV.sticky3, 11).enumerate()).toThrow(/cannot enumerate V\^L = 3\^11/);
    expect(() => new MarkovOracle({ vocabSize: 2, initial: [0.5, 0.6], transition: [[1, 0], [0, 1]] }, 3)).toThrow(UsageError);
    expect(() => new MarkovOracle(BUILTIN_MARKOV.order2, 1)).toThrow(/shorter than the chain order 2/);
    const nanModel = new DiscreteDenoiser({ vocabSize: 2, length: 2, timeConditioned: true, logProbs: async () => new Float64Array(4).fill(NaN) });
    return expect(nanModel.logProbs(new Int32Array([2, 2]), 1, new Float64Array([1]))).rejects.toThrow(/model returned NaN/);
  });
});
