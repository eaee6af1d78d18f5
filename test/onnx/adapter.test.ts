import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { GaussianMixture, GmmOracle } from '../../src/models/oracle/gmm.js';
import { sample } from '../../src/sample.js';
import type { OrtSession } from '../../src/models/onnx/runtime.js';
import { fromHalfBits, toHalfBits } from '../../src/models/onnx/float16.js';
import { FIXTURES, gaussian, loadOrt, maxAbsDiff, oracle } from './support.js';

const ort = await loadOrt();
const dim = oracle.mean.length;
const noise = (n: number, seed: number, scale = 1) => new Rng(Math.floor(seed)).fillNormal(new Float64Array(n * dim)).map((v) => v * scale);
const repeat = <T>(v: T, n: number) => Array.from({ length: n }, () => v);

describe.skipIf(!ort)('ONNX adapter vs the closed form', async () => {
  const node = ort as NonNullable<typeof ort>;
  const load = (name: string) => node.loadOnnxModel(`${FIXTURES}${name}.json`);

  it('float32, discrete time (fractional t interpolates σ_VE in the graph): ε̂ within 1e-6', async () => {
    const m = await load('gauss_eps');
    const p = m.process;
    let worst = 0;
    for (const t of [0, 1, 10.5, 123.25, 500, 876.75, 999]) {
      const x = noise(8, t + 1, p.sigma(t) + 1);
      const want = gaussian(x, repeat(oracle.mean, 8), p.alpha(t), p.sigma(t)).eps;
      worst = Math.max(worst, maxAbsDiff(await m.predict(x, 8, t), want));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('float16 sample and output: within one float16 ulp of ε̂ at the input rounded to the nearest half', async () => {
    const m = await load('gauss_eps_fp16');
    const p = m.process;
    let worst = 0;
    let worstUlps = 0;
    for (const t of [3, 250.5, 700]) {
      const x = noise(6, t, 1.5);
      const xHalf = x.map((v) => fromHalfBits(toHalfBits(v)));
      const got = await m.predict(x, 6, t);
      const want = gaussian(xHalf, repeat(oracle.mean, 6), p.alpha(t), p.sigma(t)).eps;
      worst = Math.max(worst, maxAbsDiff(got, gaussian(x, repeat(oracle.mean, 6), p.alpha(t), p.sigma(t)).eps));
      got.forEach((g, i) => (worstUlps = Math.max(worstUlps, Math.abs(g - want[i]) / Math.max(Math.abs(want[i]) / 1024, 6e-8))));
    }
    expect(worstUlps).toBeLessThanOrEqual(1);
    expect(worst).toBeLessThan(3e-3);
  });

  it('int64 timesteps round to the nearest index; class labels pick the class mean', async () => {
    const m = await load('gauss_eps_cond');
    const p = m.process;
    const labels = [0, 2, 1, 1, 0];
    const x = noise(5, 7);
    const conditioned = m.withLabels(labels);
    labels.fill(3); // the model keeps its own copy of the labels
    const got = await conditioned.predict(x, 5, 410.4);
    const want = gaussian(x, [0, 2, 1, 1, 0].map((c) => oracle.class_means[c]), p.alpha(410), p.sigma(410)).eps;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    const uncond = await m.predict(x, 5, 410.6);
    expect(maxAbsDiff(uncond, gaussian(x, repeat(oracle.class_means[3], 5), p.alpha(411), p.sigma(411)).eps)).toBeLessThan(1e-6);
  });

  it('continuous time, velocity prediction (flow), time input of shape [1]', async () => {
    const m = await load('gauss_flow');
    for (const t of [0.05, 0.5, 0.97]) {
      const x = noise(4, 11);
      const { eps, x0 } = gaussian(x, repeat(oracle.mean, 4), 1 - t, t);
      expect(maxAbsDiff(await m.predict(x, 4, t), eps.map((e, i) => e - x0[i]))).toBeLessThan(1e-6);
    }
  });

  it('σ as the time input (EDM process, ε-prediction)', async () => {
    const m = await load('gauss_eps_sigma');
    for (const sigma of [0.02, 1, 60]) {
      const x = noise(4, 5, sigma);
      expect(maxAbsDiff(await m.predict(x, 4, sigma), gaussian(x, repeat(oracle.mean, 4), 1, sigma).eps)).toBeLessThan(1e-6);
    }
  });

  it('EDM preconditioning: D = c_skip x + c_out F(c_in x; ¼ ln σ) is the posterior mean', async () => {
    const m = await load('gauss_edm');
    expect(m.prediction).toBe('sample');
    let worst = 0;
    for (const sigma of [0.01, 0.5, 3, 80]) {
      const x = noise(4, 3, sigma);
      worst = Math.max(worst, maxAbsDiff(await m.predict(x, 4, sigma), gaussian(x, repeat(oracle.mean, 4), 1, sigma).x0));
    }
    expect(worst).toBeLessThan(2e-5);
  });

  it('sampling the ONNX network equals sampling the GMM oracle (K=1) for ddim and dpmpp-2m', async () => {
    const m = await load('gauss_eps');
    const gmm = new GaussianMixture({ d: dim, K: 1, weights: [1], means: [oracle.mean], covariance_type: 'diag', variances: [repeat(oracle.variance, dim)] });
    const exact = new GmmOracle(gmm, m.process, 'epsilon');
    const asOracle = { prediction: exact.prediction, sampleShape: m.sampleShape, predict: exact.predict.bind(exact) };
    for (const sampler of ['ddim', 'dpmpp-2m']) {
      const req = { process: m.process, sampler, steps: 10, n: 64, seed: 5 };
      const a = await sample({ ...req, model: m });
      const b = await sample({ ...req, model: asOracle });
      expect(a.nfe).toBe(b.nfe);
      expect(maxAbsDiff(a.x.data, b.x.data), sampler).toBeLessThan(5e-6);
    }
  });

  it('chunks of max_batch equal one big batch; a fixed-batch graph is padded', async () => {
    const m = await load('gauss_eps');
    expect(m.card.maxBatch).toBe(16);
    const whole = new node.OnnxDenoiser(m.session, (await import('onnxruntime-node')).Tensor, { ...m.card, maxBatch: undefined });
    const x = noise(40, 2);
    expect(maxAbsDiff(await m.predict(x, 40, 321.5), await whole.predict(x, 40, 321.5))).toBe(0);
    const fixed = await load('gauss_eps_static');
    expect(maxAbsDiff(await fixed.predict(x, 40, 321.5), await whole.predict(x, 40, 321.5))).toBe(0);
    expect(maxAbsDiff(await fixed.predict(x.subarray(0, 3 * dim), 3, 321.5), await whole.predict(x.subarray(0, 3 * dim), 3, 321.5))).toBe(0);
  });

  it('queues calls: concurrent predictions never overlap on the session', async () => {
    const m = await load('gauss_eps');
    let active = 0;
    let peak = 0;
    const counting: OrtSession = {
      inputNames: m.session.inputNames,
      outputNames: m.session.outputNames,
      inputMetadata: m.session.inputMetadata,
      outputMetadata: m.session.outputMetadata,
      async run(feeds) {
        peak = Math.max(peak, ++active);
        try {
          return await m.session.run(feeds);
        } finally {
          active--;
        }
      },
    };
    const q = new node.OnnxDenoiser(counting, (await import('onnxruntime-node')).Tensor, m.card);
    const x = noise(40, 9);
    const [a, b, c] = await Promise.all([q.predict(x, 40, 100), q.predict(x, 40, 200), q.predict(x, 40, 100)]);
    expect(peak).toBe(1);
    expect(maxAbsDiff(a, c)).toBe(0);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0);
  });

  it('classifier-free guidance: w=1 is conditional, w=0 unconditional, doubled batch = two passes', async () => {
    const m = await load('gauss_eps_cond');
    const labels = [0, 1, 2, 1];
    const x = noise(4, 21);
    const t = 250;
    const cond = await m.withLabels(labels).predict(x, 4, t);
    const uncond = await m.predict(x, 4, t);
    const g = (scale: number, batching: 'doubled' | 'two-pass') => node.guided(m, { labels, scale, batching }).predict(x, 4, t);
    expect(maxAbsDiff(await g(1, 'doubled'), cond)).toBeLessThan(1e-12);
    expect(maxAbsDiff(await g(0, 'two-pass'), uncond)).toBe(0);
    const doubled = await g(4, 'doubled');
    expect(maxAbsDiff(doubled, await g(4, 'two-pass'))).toBe(0);
    expect(maxAbsDiff(doubled, uncond.map((u, i) => u + 4 * (cond[i] - u)))).toBeLessThan(1e-12);
    expect(maxAbsDiff(doubled, cond)).toBeGreaterThan(0.1);
    // the one CFG implementation: guidance rescale, the (1 + w) convention and a limited interval reach networks too
    const { classifierFreeGuidance } = await import('../../src/guidance/cfg.js');
    const twoModels = classifierFreeGuidance({ conditional: m.withLabels(labels), unconditional: m, scale: 4, rescale: 0.7 });
    const rescaled = await node.guided(m, { labels, scale: 4, rescale: 0.7 }).predict(x, 4, t);
    expect(maxAbsDiff(rescaled, await twoModels.predict(x, 4, t))).toBeLessThan(1e-12);
    expect(maxAbsDiff(rescaled, doubled)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(await node.guided(m, { labels, scale: 3, convention: 'one-plus-w' }).predict(x, 4, t), doubled)).toBeLessThan(1e-12);
    const outside = node.guided(m, { labels, scale: 4, interval: { process: m.process, sigmaLo: 1e3, sigmaHi: 1e4 } });
    expect(maxAbsDiff(await outside.predict(x, 4, t), cond)).toBeLessThan(1e-12);
  });
});
