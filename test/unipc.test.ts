import { describe, expect, it } from 'vitest';
import { createProcess, type ProcessConfig } from '../src/process/index.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { sample } from '../src/sample.js';
import type { GridSpec } from '../src/grid/index.js';
import { Rng } from '../src/core/rng.js';
import { UsageError } from '../src/core/errors.js';
import { findReference, findSampler, resolveOptions } from '../src/samplers/index.js';
import { phiTerms, uniWeights } from '../src/samplers/unipc.js';
import { diffusersMultistepTimesteps } from '../src/grid/diffusers.js';

const rms = (a: Float64Array, b: Float64Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

describe('unipc: exact on single-point data', () => {
  // x0 ~ δ_μ: D(x, t) = μ, the PF-ODE solution is x_t = α_t μ + σ_t (x_T − α_T μ)/σ_T, and UniPC's
  // exponential integrator reproduces it at every order (all differences D_k vanish).
  const d = 3;
  const mu = [0.7, -1.3, 2.1];
  const gmm = new GaussianMixture({ d, K: 1, weights: [1], means: [mu], variances: [[0, 0, 0]], covariance_type: 'diag' });
  const n = 4;
  const z = new Rng(11).fillNormal(new Float64Array(n * d));
  const cases: { process: ProcessConfig; grid: GridSpec }[] = [
    { process: { name: 'vp', schedule: 'linear' }, grid: { type: 'logsnr', steps: 7, end: 1e-3 } },
    { process: { name: 'vp', schedule: 'cosine' }, grid: { type: 'time-uniform', steps: 6, end: 'zero' } },
    { process: { name: 'edm' }, grid: { type: 'karras', steps: 8 } },
    { process: { name: 've' }, grid: { type: 'logsnr', steps: 5 } },
    { process: { name: 'flow' }, grid: { type: 'time-uniform', steps: 6, end: 'zero' } },
    { process: { name: 'vp-discrete' }, grid: { type: 'diffusers', steps: 10, spacing: 'trailing' } },
    { process: { name: 'vp-discrete' }, grid: { type: 'explicit', times: [999, 700, 700, 400, 100, 100, 30, -1] } },
  ];
  for (const { process: pc, grid } of cases) {
    for (const options of [
      { order: 1 }, { order: 2, variant: 'bh1' }, { order: 3, lowerOrderFinal: false }, { order: 3, corrector: false },
    ] as const) {
      it(`${pc.name} ${grid.type} ${JSON.stringify(options)}`, async () => {
        const p = createProcess(pc);
        const model = new GmmOracle(gmm, p, 'sample');
        const res = await sample({ model, process: p, sampler: 'unipc', options, grid, xT: z.map((v) => v * p.priorStd(p.tMax)) });
        const g = res.grid;
        const [tT, t] = [g[0], g[g.length - 1]];
        const expected = res.xT.map((x, i) => p.alpha(t) * mu[i % d] + (p.sigma(t) * (x - p.alpha(tT) * mu[i % d])) / p.sigma(tT));
        for (let i = 0; i < expected.length; i++) {
          expect(Math.abs(res.x.data[i] - expected[i])).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(expected[i])));
        }
        // one model call per step that moves (repeated times are no-op steps)
        expect(res.nfe).toBe(new Set(g.subarray(0, g.length - 1)).size);
      });
    }
  }
});

describe('unipc: measured order of convergence', () => {
  // A smooth mixture in 16 dimensions on the linear VP process, logSNR grid down to t = 1e-3.
  const d = 16;
  const K = 4;
  const rng = new Rng(7);
  const means = Array.from({ length: K }, () => Array.from(rng.fillNormal(new Float64Array(d)), (v) => 0.5 * v));
  const variances = Array.from({ length: K }, (_, k) => Array.from({ length: d }, (_, j) => 0.3 + (0.1 * ((k * d + j) % 5))));
  const gmm = new GaussianMixture({ d, K, weights: [0.1, 0.2, 0.3, 0.4], means, variances, covariance_type: 'diag' });
  const process = createProcess({ name: 'vp', schedule: 'linear' });
  const model = new GmmOracle(gmm, process, 'epsilon');
  const xT = new Rng(3).fillNormal(new Float64Array(8 * d));
  const run = async (steps: number, options: Record<string, unknown>) =>
    (await sample({ model, process, sampler: 'unipc', options, grid: { type: 'logsnr', steps, end: 1e-3 }, xT })).x.data;
  // Reference endpoint: 8000 steps of UniPC-3 (error ≈ (320/8000)^4 of the 320-step run's).
  const reference = run(8000, { order: 3, lowerOrderFinal: false });
  const [coarse, fine] = [80, 320];

  for (const order of [1, 2, 3]) {
    for (const corrector of [true, false]) {
      for (const variant of ['bh1', 'bh2']) {
        for (const predictX0 of [true, false]) {
          const options = { order, corrector, variant, predictX0, lowerOrderFinal: false };
          const expected = corrector ? order + 1 : order;
          it(`${JSON.stringify(options)} converges with order ${expected}`, async () => {
            const ref = await reference;
            const e1 = rms(await run(coarse, options), ref);
            const e2 = rms(await run(fine, options), ref);
            const slope = Math.log(e1 / e2) / Math.log(fine / coarse);
            expect(Math.abs(slope - expected)).toBeLessThanOrEqual(0.3);
          });
        }
      }
    }
  }
});

describe('unipc: coefficients', () => {
  it('phiTerms: series and recursion agree with closed forms', () => {
    for (const z of [-3, -1.5, -0.9, -0.2, -1e-4, 1e-3, 0.5, 2]) {
      const [g1, g2, g3] = phiTerms(z, 3);
      // g_i = i!·z·φ_{i+1}(z)
      const phi2 = (Math.expm1(z) - z) / (z * z);
      const phi3 = (Math.expm1(z) - z - (z * z) / 2) / z ** 3;
      const phi4 = (Math.expm1(z) - z - (z * z) / 2 - z ** 3 / 6) / z ** 4;
      const tol = Math.abs(z) > 0.1 ? 1e-12 : 1e-6;
      expect(g1).toBeCloseTo(z * phi2, 12);
      expect(Math.abs(g2 - 2 * z * phi3)).toBeLessThan(tol);
      expect(Math.abs(g3 - 6 * z * phi4)).toBeLessThan(tol);
    }
    // small z: g_i/z = i!·φ_{i+1}(z) = i!/(i+1)! + i!·z/(i+2)! + O(z²)
    const z = 1e-8;
    const [a, b, c] = phiTerms(z, 3);
    expect(a / z / (1 / 2 + z / 6)).toBeCloseTo(1, 15);
    expect(b / z / (1 / 3 + z / 12)).toBeCloseTo(1, 15);
    expect(c / z / (1 / 4 + z / 20)).toBeCloseTo(1, 15);
  });

  it('uniWeights: B(h)ρ satisfies the order conditions; one unknown takes ρ = ½', () => {
    const z = -0.37;
    const r = [-1.2, -2.1, 1];
    const c = uniWeights(r, z, 'bh1');
    const g = phiTerms(z, 3);
    for (let i = 0; i < 3; i++) expect(c.reduce((s, ck, k) => s + ck * r[k] ** i, 0)).toBeCloseTo(g[i], 14);
    expect(uniWeights(r, z, 'bh2')).toEqual(c);
    expect(uniWeights([1], z, 'bh1')).toEqual([0.5 * z]);
    expect(uniWeights([1], z, 'bh2')[0]).toBeCloseTo(0.5 * Math.expm1(z), 15);
    expect(uniWeights([], z, 'bh2')).toEqual([]);
  });
});

describe('unipc: options and translation', () => {
  const s = findSampler('unipc');

  it('is found under the names users know', () => {
    expect(findSampler('UniPCMultistepScheduler')).toBe(s);
    for (const name of ['UniPC', 'uni_pc', 'uni_pc_bh2']) expect(findSampler(name).named?.sampler).toBe('unipc');
  });

  it('rejects invalid options with what is accepted', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ order: 0 }, /order must be 1, 2 or 3/],
      [{ order: 4 }, /order must be 1, 2 or 3/],
      [{ order: 2.5 }, /order must be 1, 2 or 3/],
      [{ variant: 'bh3' }, /accepted: bh1, bh2/],
      [{ disableCorrector: '0,x' }, /disableCorrector must list step indices/],
      [{ disableCorrector: '-1' }, /disableCorrector must list step indices/],
      [{ predictX0: false, thresholdRatio: 0.995 }, /need predictX0=true/],
      [{ clipSample: -1 }, /clipSample must be ≥ 0/],
      [{ corrector: 'maybe' }, /must be true or false/],
      [{ solverOrder: 2 }, /has no option "solverOrder"; accepted: .*order/],
    ];
    for (const [options, message] of bad) {
      expect(() => resolveOptions(s, options)).toThrow(UsageError);
      expect(() => resolveOptions(s, options)).toThrow(message);
    }
  });

  it('noise prediction refuses a step start with α = 0; clipping acts on the data prediction', async () => {
    const p = createProcess({ name: 'flow' });
    const gmm = new GaussianMixture({ d: 2, K: 1, weights: [1], means: [[0.9, -2]], variances: [[0, 0]], covariance_type: 'diag' });
    const model = new GmmOracle(gmm, p, 'sample');
    const grid: GridSpec = { type: 'time-uniform', steps: 5, end: 'zero' };
    await expect(sample({ model, process: p, sampler: 'unipc', options: { predictX0: false }, grid, n: 2 })).rejects.toThrow(
      /predictX0=false needs α > 0/,
    );
    const clipped = await sample({ model, process: p, sampler: 'unipc', options: { clipSample: 0.5 }, grid, n: 2 });
    expect(Array.from(clipped.x.data)).toEqual([0.5, -0.5, 0.5, -0.5]);
  });

  it('disableCorrector skips the correction of the listed steps only', async () => {
    const p = createProcess({ name: 'vp', schedule: 'linear' });
    const gmm = new GaussianMixture({
      d: 2, K: 2, weights: [0.5, 0.5], means: [[1, 0], [-1, 0.5]], variances: [[0.2, 0.3], [0.4, 0.1]], covariance_type: 'diag',
    });
    const model = new GmmOracle(gmm, p, 'epsilon');
    const go = async (options: Record<string, unknown>) =>
      (await sample({ model, process: p, sampler: 'unipc', options, grid: { type: 'logsnr', steps: 6 }, n: 4, seed: 1 })).x.data;
    const off = await go({ corrector: false });
    expect(await go({ disableCorrector: '0,1,2,3,4,5' })).toEqual(off);
    const first = await go({ disableCorrector: '0' });
    expect(rms(first, off)).toBeGreaterThan(1e-4);
    expect(rms(first, await go({}))).toBeGreaterThan(1e-4);
  });

  it('diffusers timestep spacings (values from numpy)', () => {
    expect(diffusersMultistepTimesteps(1000, 7, 'linspace', 0)).toEqual([999, 856, 714, 571, 428, 285, 143]);
    expect(diffusersMultistepTimesteps(1000, 10, 'leading', 1)).toEqual([901, 811, 721, 631, 541, 451, 361, 271, 181, 91]);
    expect(diffusersMultistepTimesteps(1000, 7, 'trailing', 0)).toEqual([999, 856, 713, 570, 428, 285, 142]);
    expect(diffusersMultistepTimesteps(1000, 9, 'trailing', 0)).toEqual([999, 888, 777, 666, 555, 443, 332, 221, 110]);
    expect(() => diffusersMultistepTimesteps(1000, 10, 'uniform', 0)).toThrow(/accepted: linspace, leading, trailing/);
    expect(() => diffusersMultistepTimesteps(1000, 1000, 'linspace', 0)).toThrow(UsageError);
    // numpy's arange(1000, 0, -1000/61) has 62 points, the last rounding to timestep −1
    expect(() => diffusersMultistepTimesteps(1000, 61, 'trailing', 0)).toThrow(/extra timestep −1/);
  });

  it('translates diffusers configs and refuses what it cannot reproduce', () => {
    const m = findReference('diffusers', 'UniPCMultistepScheduler');
    const base = { solver_order: 3, solver_type: 'bh1', predict_x0: false, lower_order_final: false, disable_corrector: [0, 2] };
    const tr = m.translate(base, 5);
    expect(tr.options).toMatchObject({ order: 3, variant: 'bh1', predictX0: false, lowerOrderFinal: false, disableCorrector: '0,2' });
    expect(tr.grid).toEqual({ type: 'explicit', times: [999, 799, 599, 400, 200, -1] });
    expect(m.translate({ final_sigmas_type: 'sigma_min', solver_type: 'midpoint' }, 5)).toMatchObject({
      options: { variant: 'bh2' },
      grid: { times: [999, 799, 599, 400, 200, 0] },
    });
    expect(() => m.translate({ use_dynamic_shifting: true }, 5)).toThrow(/use_dynamic_shifting=true is not translated/);
    expect(m.translate({ use_exponential_sigmas: true }, 5).modelTime).toBe('floor');
    expect(() => m.translate({ solver_p: {} }, 5)).toThrow(/solver_p/);
    expect(() => m.translate({ solver_type: 'rk4' }, 5)).toThrow(/solver_type must be bh1 or bh2/);
    expect(m.translate({ prediction_type: 'v_prediction' }, 5).prediction).toBe('v_prediction');
    expect(m.translate({ prediction_type: 'sample' }, 5).prediction).toBe('sample');
    expect(() => m.translate({ prediction_type: 'flow' }, 5)).toThrow(UsageError);
  });
});
