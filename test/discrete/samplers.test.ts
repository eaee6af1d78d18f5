import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import {
  BUILTIN_MARKOV,
  DiscreteDenoiser,
  MarkovOracle,
  ancestral,
  anyOrder,
  anyOrderLogLikelihood,
  confidence,
  encodeSequence,
  firstHitting,
  randomOrders,
  MASK_SCHEDULES,
  makeMaskSchedule,
  type DiscreteModel,
  type MaskScheduleSpec,
  type DiscreteSample,
} from '../../src/discrete/index.js';

const L = 4;
const oracle = new MarkovOracle(BUILTIN_MARKOV.mixture3, L);
const V = oracle.vocabSize;
const exact = oracle.enumerate();

function histogram(s: DiscreteSample, n: number): Float64Array {
  const q = new Float64Array(exact.length);
  for (let b = 0; b < n; b++) q[encodeSequence(s.x, b * L, L, V)] += 1 / n;
  return q;
}
const tv = (q: Float64Array, p: Float64Array) => 0.5 * q.reduce((s, qi, i) => s + Math.abs(qi - p[i]), 0);
const kl = (q: Float64Array, p: Float64Array) => q.reduce((s, qi, i) => (qi > 0 ? s + qi * Math.log(qi / p[i]) : s), 0);
/** E[TV] of an n-sample empirical distribution, ≈ ½ Σ √(2 p(1 − p)/(π n)). */
const expectedTv = (n: number) => 0.5 * exact.reduce((s, p) => s + Math.sqrt((2 * p * (1 - p)) / (Math.PI * n)), 0);

type Run = (n: number, seed: number) => Promise<DiscreteSample>;
const samplers: Record<string, Run> = {
  'ancestral (1024 steps, RADD cache)': (n, seed) => ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(seed) }, { steps: 1024 }),
  'first-hitting (sequential)': (n, seed) => firstHitting(new DiscreteDenoiser(oracle), { n, rng: new Rng(seed) }),
  'any-order autoregressive': (n, seed) => anyOrder(new DiscreteDenoiser(oracle), { n, rng: new Rng(seed) }),
};

const report: string[] = [];
const small = 2000;
const large = 32000;

describe('exact samplers against the enumerated mixture3 chain (V=3, L=4: 81 sequences)', () => {
  const hists: Record<string, Float64Array> = {};
  for (const [name, run] of Object.entries(samplers)) {
    it(`${name}: TV and KL to the exact law shrink like 1/√n and 1/n`, async () => {
      const a = await run(small, 1);
      const b = await run(large, 2);
      const [qa, qb] = [histogram(a, small), histogram(b, large)];
      hists[name] = qb;
      const [tva, tvb, kla, klb] = [tv(qa, exact), tv(qb, exact), kl(qa, exact), kl(qb, exact)];
      report.push(`${name}: TV ${tva.toFixed(4)} → ${tvb.toFixed(4)} (E ${expectedTv(small).toFixed(4)} → ${expectedTv(large).toFixed(4)}), KL ${kla.toFixed(5)} → ${klb.toFixed(5)} (E ${(80 / (2 * small)).toFixed(5)} → ${(80 / (2 * large)).toFixed(5)}); per-sequence NFE ${(b.evaluations / large).toFixed(2)}, draws/seq ${(b.draws / large).toFixed(1)}`);
      expect(tva).toBeLessThan(1.5 * expectedTv(small));
      expect(tvb).toBeLessThan(1.5 * expectedTv(large));
      expect(tvb / tva).toBeLessThan(0.4); // √(2000/32000) = 0.25
      expect(klb).toBeLessThan((2 * 80) / (2 * large));
    });
  }

  it('first-hitting and ancestral sampling agree in distribution', () => {
    const d = tv(hists['first-hitting (sequential)'], hists['ancestral (1024 steps, RADD cache)']);
    report.push(`TV(first-hitting, ancestral) at n=${large}: ${d.toFixed(4)}`);
    expect(d).toBeLessThan(1.5 * Math.SQRT2 * expectedTv(large));
  });

  it('RADD caching: the same samples as no caching, with fewer sequence evaluations', async () => {
    for (const [Lc, steps, n] of [[4, 64, 2000], [16, 256, 100], [16, 1024, 50]]) {
      const o = new MarkovOracle(BUILTIN_MARKOV.mixture3, Lc);
      const plain = await ancestral(new DiscreteDenoiser(o), { n, rng: new Rng(5) }, { steps, cache: false });
      const cached = await ancestral(new DiscreteDenoiser(o), { n, rng: new Rng(5) }, { steps, cache: true });
      expect(cached.x).toEqual(plain.x);
      expect(cached.evaluations).toBeLessThanOrEqual(n * Lc);
      const speedup = plain.evaluations / cached.evaluations;
      report.push(`RADD cache L=${Lc}, ${steps} steps: per-sequence NFE ${(plain.evaluations / n).toFixed(1)} → ${(cached.evaluations / n).toFixed(2)} (×${speedup.toFixed(1)}); batched calls ${plain.nfe} → ${cached.nfe}`);
      expect(cached.evaluations).toBeLessThan(plain.evaluations);
    }
  });

  it('baselines report their factorisation error: parallel first-hitting (2 per call), MaskGIT confidence, few-step ancestral', async () => {
    const n = 16000;
    const par = await firstHitting(new DiscreteDenoiser(oracle), { n, rng: new Rng(3) }, { tokensPerCall: 2 });
    const few = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(3) }, { steps: 2 });
    const conf = await confidence(new DiscreteDenoiser(oracle), { n, rng: new Rng(3) }, { steps: 2 });
    const [tPar, tFew, tConf] = [par, few, conf].map((s) => tv(histogram(s, n), exact));
    report.push(`n=${n}: TV parallel FHS k=2 ${tPar.toFixed(4)} (NFE ${par.nfe}); ancestral 2 steps ${tFew.toFixed(4)} (NFE ${few.nfe}); MaskGIT 2 steps ${tConf.toFixed(4)} (NFE ${conf.nfe}); noise level ${expectedTv(n).toFixed(4)}`);
    expect(par.nfe).toBe(2);
    expect(tPar).toBeGreaterThan(3 * expectedTv(n));
    expect(tFew).toBeGreaterThan(3 * expectedTv(n));
    expect(tConf).toBeGreaterThan(3 * expectedTv(n));
  });

  it('MaskGIT with top-k = 1 is greedy: every sample is the same sequence; top-p filters too', async () => {
    const g = await confidence(new DiscreteDenoiser(oracle), { n: 50, rng: new Rng(9) }, { steps: 4, topK: 1 });
    const first = Array.from(g.x.subarray(0, L));
    for (let b = 1; b < 50; b++) expect(Array.from(g.x.subarray(b * L, (b + 1) * L))).toEqual(first);
    const p = await ancestral(new DiscreteDenoiser(oracle), { n: 50, rng: new Rng(9) }, { steps: 8, topP: 1e-9 });
    const q = await ancestral(new DiscreteDenoiser(oracle), { n: 50, rng: new Rng(9) }, { steps: 8, topK: 1 });
    expect(p.x).toEqual(q.x);
  });

  it('first-hitting times are the order statistics of the unmasking times (linear schedule: mean (L − i + 1)/(L + 1))', async () => {
    const times: number[][] = [[], [], [], []];
    let call = 0;
    const timed: DiscreteModel = {
      vocabSize: V,
      length: L,
      timeConditioned: true,
      logProbs: async (x, n, t) => {
        times[call++].push(...t);
        return oracle.conditionals(x, n);
      },
    };
    const n = 20000;
    await firstHitting(new DiscreteDenoiser(timed), { n, rng: new Rng(4) });
    times.forEach((ts, i) => {
      const mean = ts.reduce((a, b) => a + b, 0) / n;
      const m = (L - i) / (L + 1);
      expect(Math.abs(mean - m)).toBeLessThan(4 * Math.sqrt((m * (1 - m)) / (L + 2) / n));
    });
  });

  it('AO-ARM likelihood is the exact log-likelihood for every order', async () => {
    const n = 64;
    const rng = new Rng(11);
    const x = Int32Array.from({ length: n * L }, () => Math.floor(rng.uniform() * V));
    const ll = await anyOrderLogLikelihood(new DiscreteDenoiser(oracle), x, n, randomOrders(n, L, rng));
    for (let b = 0; b < n; b++) expect(ll[b]).toBeCloseTo(oracle.logProb(x, b * L), 12);
  });

  it('errors: caching or AO-ARM with a time-conditioned model, bad orders, bad steps', async () => {
    const timed = new DiscreteDenoiser({ ...oracle, vocabSize: V, length: L, timeConditioned: true, logProbs: async (x, n) => oracle.conditionals(x, n) });
    await expect(ancestral(timed, { n: 1, rng: new Rng(1) }, { steps: 4, cache: true })).rejects.toThrow(/cache needs a time-independent model/);
    await expect(anyOrder(timed, { n: 1, rng: new Rng(1) })).rejects.toThrow(/time-independent model/);
    const d = new DiscreteDenoiser(oracle);
    await expect(anyOrderLogLikelihood(d, new Int32Array(L), 1, Int32Array.from([0, 0, 1, 2]))).rejects.toThrow(/not a permutation/);
    await expect(ancestral(d, { n: 1, rng: new Rng(1) }, { steps: 0 })).rejects.toThrow(/steps must be an integer from 1 to 100000, got 0/);
    for (const tStart of [0, -0.5, 1.01, NaN]) {
      await expect(firstHitting(d, { n: 1, rng: new Rng(1) }, { tStart }), `tStart ${tStart}`).rejects.toThrow(/tStart must be in \(0, 1\]/);
    }
    await expect(firstHitting(d, { n: 1, rng: new Rng(1) }, { tStart: 1 })).resolves.toBeDefined();
    await expect(firstHitting(d, { n: 1, rng: new Rng(1), init: Int32Array.from([0, 1, 3]) })).rejects.toThrow(/expected n × L = 1 × 4/);
  });

  it('every masking schedule, and an order-2 chain: ancestral and first-hitting stay exact', async () => {
    const n = 8000;
    for (const type of MASK_SCHEDULES) {
      const schedule = makeMaskSchedule({ type } as MaskScheduleSpec);
      const a = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(21) }, { steps: 512, schedule });
      const f = await firstHitting(new DiscreteDenoiser(oracle), { n, rng: new Rng(22) }, { schedule });
      expect(tv(histogram(a, n), exact)).toBeLessThan(1.5 * expectedTv(n));
      expect(tv(histogram(f, n), exact)).toBeLessThan(1.5 * expectedTv(n));
    }
    const L2 = 6;
    const o2 = new MarkovOracle(BUILTIN_MARKOV.order2, L2);
    const p2 = o2.enumerate();
    const f2 = await firstHitting(new DiscreteDenoiser(o2), { n, rng: new Rng(23) });
    const q2 = new Float64Array(p2.length);
    for (let b = 0; b < n; b++) q2[encodeSequence(f2.x, b * L2, L2, 2)] += 1 / n;
    const e2 = 0.5 * p2.reduce((s, p) => s + Math.sqrt((2 * p * (1 - p)) / (Math.PI * n)), 0);
    expect(tv(q2, p2)).toBeLessThan(1.5 * e2);
  });

  // The measured numbers, printed for the reader; each is asserted in the test that measured it.
  afterAll(() => console.log(report.join('\n')));
});
