import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import {
  BUILTIN_MARKOV,
  DiscreteDenoiser,
  MarkovOracle,
  ancestral,
  aps,
  clampedStart,
  encodeSequence,
  exactPosterior,
  observationLogLikelihood,
  observe,
  type TokenObservation,
} from '../../src/discrete/index.js';

const L = 6;
const oracle = new MarkovOracle(BUILTIN_MARKOV.mixture3, L);
const V = oracle.vocabSize;
const prior = oracle.enumerate();
const truth = Int32Array.from([0, 1, 2, 0, 1, 2]);
const infill = observe(truth, [0, 3, 5], 0, V, new Rng(1));
const noisy = observe(truth, [0, 2, 3, 5], 0.3, V, new Rng(2));

function tv(x: Int32Array, n: number, p: Float64Array): number {
  const q = new Float64Array(p.length);
  for (let b = 0; b < n; b++) q[encodeSequence(x, b * L, L, V)] += 1 / n;
  return 0.5 * q.reduce((s, qi, i) => s + Math.abs(qi - p[i]), 0);
}
const noise = (n: number, p: Float64Array) => 0.5 * p.reduce((s, pi) => s + Math.sqrt((2 * pi * (1 - pi)) / (Math.PI * n)), 0);
const lines: string[] = [];

describe('token inverse problems: exact posterior, clamped baseline, APS (mixture3, L=6)', () => {
  it('the exact posterior is Bayes’ rule on the enumeration: it sums to 1 and matches p(x) q(y|x) ratios', () => {
    const post = exactPosterior(prior, noisy, V);
    expect(Math.abs(post.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
    const a = Int32Array.from([0, 0, 2, 2, 2, 2]);
    const b = Int32Array.from([1, 1, 1, 0, 1, 2]);
    const ratio = post[encodeSequence(a, 0, L, V)] / post[encodeSequence(b, 0, L, V)];
    const expected = Math.exp(oracle.logProb(a) + observationLogLikelihood(noisy, V, a) - oracle.logProb(b) - observationLogLikelihood(noisy, V, b));
    expect(ratio).toBeCloseTo(expected, 10);
    const inf = exactPosterior(prior, infill, V);
    expect(inf[encodeSequence(b, 0, L, V)]).toBe(0);
  });

  it('infilling: ancestral sampling with the observed tokens clamped converges to the exact posterior; APS too with random remasking, not with anchored', async () => {
    const post = exactPosterior(prior, infill, V);
    const n = 6000;
    const clamp = async (steps: number) => (await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(3), init: clampedStart(infill, n, V) }, { steps })).x;
    const [few, many] = [tv(await clamp(2), n, post), tv(await clamp(64), n, post)];
    const anchored = await aps(new DiscreteDenoiser(oracle), { n, rng: new Rng(3) }, { steps: 64, observation: infill });
    const random = await aps(new DiscreteDenoiser(oracle), { n, rng: new Rng(3) }, { steps: 64, observation: infill, remasking: 'random' });
    const [ta, tr] = [tv(anchored.x, n, post), tv(random.x, n, post)];
    lines.push(`infill: TV clamped 2 steps ${few.toFixed(3)}, 64 steps ${many.toFixed(3)}; APS 64 steps anchored ${ta.toFixed(3)} (NFE ${anchored.nfe}), random ${tr.toFixed(3)}; noise ${noise(n, post).toFixed(3)}`);
    expect(many).toBeLessThan(1.5 * noise(n, post));
    expect(few).toBeGreaterThan(3 * many);
    expect(tr).toBeLessThan(1.5 * noise(n, post));
    expect(ta).toBeGreaterThan(3 * noise(n, post));
    expect(anchored.nfe).toBeLessThanOrEqual(L - 3);
  });

  it('noisy observations: guidance pulls observed positions toward y; measured against the exact posterior', async () => {
    const post = exactPosterior(prior, noisy, V);
    const n = 6000;
    const agree = (x: Int32Array) => {
      let a = 0;
      let m = 0;
      for (let b = 0; b < n; b++) noisy.y.forEach((y, j) => (y >= 0 ? (m++, (a += x[b * L + j] === y ? 1 : 0)) : 0));
      return a / m;
    };
    let exactAgree = 0;
    const tmp = new Int32Array(L);
    post.forEach((p, code) => {
      let c = code;
      for (let j = L - 1; j >= 0; j--) (tmp[j] = c % V), (c = Math.floor(c / V));
      noisy.y.forEach((y, j) => (y >= 0 && tmp[j] === y ? (exactAgree += p / 4) : 0));
    });
    const plain = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(4) }, { steps: 8 });
    const clamped = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(4), init: clampedStart(noisy, n, V) }, { steps: 8 });
    const runs: Record<string, Int32Array> = { 'prior (ignores y)': plain.x, clamped: clamped.x };
    for (const [name, o] of [
      ['APS', {}],
      ['APS random remasking', { remasking: 'random' }],
      ['anchored + exact tilt', { guidance: 'tilt' }],
    ] as const) {
      const s = await aps(new DiscreteDenoiser(oracle), { n, rng: new Rng(4) }, { steps: 8, observation: noisy, ...o });
      expect(s.nfe).toBeLessThanOrEqual(8);
      runs[name] = s.x;
    }
    const tvs = Object.fromEntries(Object.entries(runs).map(([k, x]) => [k, tv(x, n, post)]));
    lines.push(`noisy ρ=0.3, 8 steps: exact agreement with y ${exactAgree.toFixed(3)}; ` + Object.entries(runs).map(([k, x]) => `${k}: TV ${tvs[k].toFixed(3)}, agreement ${agree(x).toFixed(3)}`).join('; '));
    expect(agree(runs.APS)).toBeGreaterThan(agree(plain.x) + 0.1);
    expect(agree(clamped.x)).toBe(1);
    expect(tvs['prior (ignores y)']).toBeGreaterThan(0.3);
    expect(tvs['anchored + exact tilt']).toBeLessThan(tvs.clamped);
  });

  it('errors', async () => {
    const d = new DiscreteDenoiser(oracle);
    const bad: TokenObservation = { y: Int32Array.from([0, 1]), flip: 0 };
    await expect(aps(d, { n: 1, rng: new Rng(1) }, { steps: 2, observation: bad })).rejects.toThrow(/observation has 2 entries; expected the sequence length 6/);
    await expect(aps(d, { n: 1, rng: new Rng(1) }, { steps: 2, observation: { ...noisy, flip: 1 } })).rejects.toThrow(/flip probability/);
    await expect(aps(d, { n: 1, rng: new Rng(1) }, { steps: 2, observation: noisy, learningRate: 0 })).rejects.toThrow(/learningRate/);
  });

  // The measured numbers, printed for the reader; each is asserted in the test that measured it.
  afterAll(() => console.log(lines.join('\n')));
});
