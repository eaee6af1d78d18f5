import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import {
  BUILTIN_MARKOV, CorrectedModel, DiscreteDenoiser, MarkovOracle, ancestral, bestOfNKlBound, bestOfNLaw, bestOfNRows, classFrequency,
  decodeSequence, encodeSequence, exactRewardTable, expectation, klDivergence, motifCount, parseReward, sampleWithPathKl, samplerLaw,
  tiltAtKl, tiltedLaw, type DiscreteModel,
} from '../../src/discrete/index.js';
import { loadMaskedModel } from '../../src/discrete/onnx/node.js';
import { parseMlmCard } from '../../src/discrete/onnx/card.js';

/** A model whose logits are fixed per (position, token) plus a term in the number of masked tokens: not an oracle, but a law. */
class ToyModel implements DiscreteModel {
  readonly timeConditioned = false;
  constructor(readonly vocabSize: number, readonly length: number, private readonly seed: number, private readonly scale = 1) {}
  async logProbs(x: Int32Array, n: number): Promise<Float64Array> {
    const { vocabSize: V, length: L } = this;
    const out = new Float64Array(n * L * V);
    for (let b = 0; b < n; b++) {
      let m = 0;
      for (let j = 0; j < L; j++) if (x[b * L + j] === V) m++;
      for (let j = 0; j < L; j++) {
        let z = 0;
        const row = out.subarray((b * L + j) * V, (b * L + j + 1) * V);
        for (let v = 0; v < V; v++) z += row[v] = Math.exp(this.scale * Math.sin(this.seed + 3 * j + 7 * v + m * (v + 1)));
        for (let v = 0; v < V; v++) row[v] = Math.log(row[v] / z);
      }
    }
    return out;
  }
}

const zeros = (V: number, L: number): DiscreteModel => ({
  vocabSize: V, length: L, timeConditioned: false, logProbs: async (_x, n) => new Float64Array(n * L * V),
});

describe('rewards', () => {
  it('motif counts include overlaps and know their maximum; class frequency is a fraction', () => {
    const r = motifCount([1, 2], 6);
    expect(r.score(Int32Array.from([1, 2, 1, 2, 1, 2]), 0)).toBe(3);
    expect(r.score(Int32Array.from([0, 1, 2, 3, 1, 1]), 0)).toBe(1);
    expect(r.max).toBe(3);
    expect(motifCount([0, 0], 6).max).toBe(5);
    expect(motifCount([0, 1, 0], 7).max).toBe(3);
    const c = classFrequency([0, 3], 4);
    expect(c.score(Int32Array.from([0, 1, 3, 3]), 0)).toBe(0.75);
  });

  it('specs are read in characters or ids; bad ones are named with what is accepted', () => {
    const chars = ['A', 'C', 'G', 'T'];
    expect(parseReward('motif:CG', 4, 6, chars).score(Int32Array.from([1, 2, 0, 0, 1, 2]), 0)).toBe(2);
    expect(parseReward('motif:1,2', 4, 6, chars).score(Int32Array.from([1, 2, 0, 0, 1, 2]), 0)).toBe(2);
    expect(parseReward('class:3', 4, 2).score(Int32Array.from([3, 0]), 0)).toBe(0.5);
    expect(() => parseReward('count:CG', 4, 6, chars)).toThrow(/accepted: motif:TOKENS/);
    expect(() => parseReward('motif:CX', 4, 6, chars)).toThrow(/"X" is not one of the model's tokens/);
    expect(() => parseReward('motif:1,9', 4, 6, chars)).toThrow(/token id 9 is out of range 0..3/);
    expect(() => parseReward('motif:CG', 4, 6)).toThrow(/no character tokenizer/);
    expect(() => parseReward('motif:CGCGCGC', 4, 6, chars)).toThrow(/1..6 tokens/);
  });
});

describe('exact laws: best-of-N and the KL-optimal tilt', () => {
  const p = Float64Array.from([0.5, 0.2, 0.2, 0.1]);
  const r = Float64Array.from([0, 1, 1, 2]);

  it('best-of-N equals the enumeration of N independent draws keeping the first best', () => {
    for (const N of [1, 2, 3]) {
      const brute = new Float64Array(4);
      const idx = new Int32Array(N);
      for (let code = 0; code < 4 ** N; code++) {
        decodeSequence(code, 4, idx);
        let best = idx[0];
        let prob = 1;
        for (const i of idx) {
          prob *= p[i];
          if (r[i] > r[best]) best = i;
        }
        brute[best] += prob;
      }
      const law = bestOfNLaw(p, r, N);
      law.forEach((q, i) => expect(q).toBeCloseTo(brute[i], 14));
      expect(klDivergence(law, p)).toBeLessThanOrEqual(bestOfNKlBound(N) + 1e-12);
    }
    expect(() => bestOfNLaw(p, r, 0)).toThrow(UsageError);
  });

  it('the tilt p·exp(r/α)/Z maximises E[r] − α KL (no perturbation does better), and tiltAtKl finds the α of a KL', () => {
    const alpha = 0.7;
    const q = tiltedLaw(p, r, alpha);
    const objective = (s: Float64Array) => expectation(s, r) - alpha * klDivergence(s, p);
    const rng = new Rng(3);
    for (let k = 0; k < 200; k++) {
      const s = q.map((v) => v * Math.exp(0.3 * (rng.uniform() - 0.5)));
      const z = s.reduce((a, b) => a + b, 0);
      expect(objective(s.map((v) => v / z))).toBeLessThanOrEqual(objective(q) + 1e-12);
    }
    const target = klDivergence(q, p);
    expect(klDivergence(tiltAtKl(p, r, target), p)).toBeCloseTo(target, 9);
    expect(expectation(tiltAtKl(p, r, target), r)).toBeCloseTo(expectation(q, r), 8);
    expect(() => tiltedLaw(p, r, 0)).toThrow(/α must be > 0/);
  });

  it('best-of-N rows keep each group\'s first best', () => {
    expect(bestOfNRows(Float64Array.from([1, 3, 3, 0, 2, 2, 5]), 3)).toEqual([1, 4]);
  });
});

describe('samplerLaw: the exact law of the ancestral sampler', () => {
  it('one step from all-masked draws every token at once: the product of the oracle\'s marginals', async () => {
    const oracle = new MarkovOracle(BUILTIN_MARKOV.sticky3, 4);
    const { law } = await samplerLaw(oracle, { steps: 1 });
    const marg = new Float64Array(12);
    oracle.posterior(new Int32Array(4).fill(3), 0, marg);
    const x = new Int32Array(4);
    law.forEach((q, c) => {
      decodeSequence(c, 3, x);
      expect(q).toBeCloseTo(x.reduce((a, v, j) => a * marg[j * 3 + v], 1), 14);
    });
  });

  it('equals the frequencies of the library\'s own ancestral sampler (40 000 draws), and sums to 1', async () => {
    const model = new ToyModel(3, 4, 1);
    const { law } = await samplerLaw(model, { steps: 3 });
    expect(law.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const n = 40_000;
    const s = await ancestral(new DiscreteDenoiser(model), { n, rng: new Rng(5) }, { steps: 3, cache: false });
    const freq = new Float64Array(law.length);
    for (let b = 0; b < n; b++) freq[encodeSequence(s.x, b * 4, 4, 3)] += 1 / n;
    let tv = 0;
    law.forEach((q, c) => (tv += Math.abs(q - freq[c]) / 2));
    expect(tv).toBeLessThan(0.03);
    // a wrong law (one step instead of three) is far off
    const wrong = (await samplerLaw(model, { steps: 1 })).law;
    let tvWrong = 0;
    wrong.forEach((q, c) => (tvWrong += Math.abs(q - freq[c]) / 2));
    expect(tvWrong).toBeGreaterThan(0.1);
  });

  it('path KL: 0 against itself, ≥ the KL of the laws otherwise, and its sampled estimate agrees', async () => {
    const model = new ToyModel(3, 4, 1);
    const other = new ToyModel(3, 4, 2, 0.5);
    expect((await samplerLaw(model, { steps: 3 }, model)).pathKl).toBe(0);
    const a = await samplerLaw(other, { steps: 3 }, model);
    const b = await samplerLaw(model, { steps: 3 });
    expect(a.pathKl).toBeGreaterThanOrEqual(klDivergence(a.law, b.law));
    const s = await sampleWithPathKl(other, model, { n: 4000, rng: new Rng(9), steps: 3 });
    const mean = s.pathKl.reduce((x, y) => x + y, 0) / 4000;
    expect(Math.abs(mean - (a.pathKl as number))).toBeLessThan(0.05 * (a.pathKl as number));
  });

  it('path KL equals the KL of the two trajectory laws, enumerated by brute force (2 steps, V = 2, L = 3)', async () => {
    const [V, L] = [2, 3];
    const a = new ToyModel(V, L, 4);
    const b = new ToyModel(V, L, 5, 0.6);
    const u = 0.5; // linear schedule, 2 uniform steps: 1 → 0.5 unmasks with probability 1/2, 0.5 → 0 with 1
    const allMasked = new Int32Array(L).fill(V);
    const [pa, pb] = [await a.logProbs(allMasked, 1), await b.logProbs(allMasked, 1)];
    const x1 = new Int32Array(L);
    let kl = 0;
    for (let code = 0; code < (V + 1) ** L; code++) {
      decodeSequence(code, V + 1, x1);
      let [qa, qb] = [1, 1];
      x1.forEach((v, j) => {
        qa *= v === V ? 1 - u : u * Math.exp(pa[j * V + v]);
        qb *= v === V ? 1 - u : u * Math.exp(pb[j * V + v]);
      });
      kl += qa * Math.log(qa / qb);
      const [la, lb] = [await a.logProbs(x1, 1), await b.logProbs(x1, 1)];
      x1.forEach((v, j) => {
        if (v !== V) return;
        for (let w = 0; w < V; w++) kl += qa * Math.exp(la[j * V + w]) * (la[j * V + w] - lb[j * V + w]);
      });
    }
    const exact = await samplerLaw(a, { steps: 2 }, b);
    expect(exact.pathKl).toBeCloseTo(kl, 12);
  });

  it('refuses state spaces it cannot enumerate, naming the alternative', async () => {
    await expect(samplerLaw(new ToyModel(40, 64, 1), { steps: 2 })).rejects.toThrow(/estimate it by sampling/);
  });
});

describe('fine-tuned models', () => {
  it('a correction of zeros is the base model itself (DRAKES with zero reward weight)', async () => {
    const oracle = new MarkovOracle(BUILTIN_MARKOV.sticky3, 4);
    const tuned = new CorrectedModel(oracle, zeros(3, 4));
    const x = Int32Array.from([3, 0, 3, 3, 1, 3, 2, 3]);
    const t = new Float64Array(2);
    const a = await tuned.logProbs(x, 2, t);
    const b = await oracle.logProbs(x, 2);
    a.forEach((v, i) => (Number.isFinite(v) ? expect(v).toBeCloseTo(b[i], 12) : expect(v).toBe(b[i])));
    const table = await exactRewardTable(tuned, oracle, motifCount([0, 1], 4), { steps: 4 });
    const row = table.rows.find((w) => w.method === 'fine-tuned');
    expect(row?.kl).toBeCloseTo(0, 12);
    expect(row?.pathKl).toBeCloseTo(0, 12);
    expect(() => new CorrectedModel(oracle, zeros(3, 5))).toThrow(/must match/);
  });

  it('the card records fine-tuning and a base chain; bad values are named', () => {
    const card = {
      format: 'diffuse-mlm-card/v1', onnx: 'c.onnx', length: 6, vocab_size: 4, mask_id: 4, base: { chain: '../chain.json' },
      fine_tuning: { method: 'drakes', reward: 'motif:CG', kl_weight: 0.3, steps: 8 },
    };
    const parsed = parseMlmCard(card);
    expect(parsed.base).toEqual({ chain: '../chain.json' });
    expect(parsed.fineTuning).toEqual({ method: 'drakes', reward: 'motif:CG', klWeight: 0.3, steps: 8 });
    expect(() => parseMlmCard({ ...card, fine_tuning: { ...card.fine_tuning, kl_weight: 0 } })).toThrow(/kl_weight.*> 0/);
    expect(() => parseMlmCard({ ...card, fine_tuning: { ...card.fine_tuning, method: 'ppo' } })).toThrow(/method/);
  });

  it('the shipped DRAKES model (α = 0.3) gains reward at a KL where it is within 5 % of the optimal law', async () => {
    const { model, card } = await loadMaskedModel('models/dna-drakes/alpha-0.3/card.json');
    expect(model).toBeInstanceOf(CorrectedModel);
    const base = (model as CorrectedModel).base;
    const reward = parseReward(card.fineTuning?.reward ?? '', 4, card.length, card.tokenizer?.tokens);
    const t = await exactRewardTable(model, base, reward, { steps: card.fineTuning?.steps ?? 8 });
    const pre = t.rows[0].reward;
    const tuned = t.rows.find((w) => w.method === 'fine-tuned');
    expect(tuned && tuned.reward > pre + 0.2).toBe(true);
    expect(tuned?.reward).toBeGreaterThan(pre + 0.95 * (t.optimalAtSameKl - pre));
    expect(tuned?.reward).toBeLessThanOrEqual(t.optimalAtSameKl + 1e-9);
  });
});
