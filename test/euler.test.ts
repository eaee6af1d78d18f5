import { describe, expect, it } from 'vitest';
import { createProcess, type ProcessConfig } from '../src/process/index.js';
import { GaussianMixture, GmmOracle, type GmmSpec } from '../src/models/oracle/gmm.js';
import { sample } from '../src/sample.js';
import { findReference, findSampler, resolveOptions } from '../src/samplers/index.js';
import { adamsWeights } from '../src/samplers/lms.js';
import { sigmaVe } from '../src/grid/basic.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { Rng } from '../src/core/rng.js';
import { UsageError } from '../src/core/errors.js';

const rms = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / b.length);
};
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const edm = createProcess({ name: 'edm' });

describe('Karras family on a single point (D(x; σ) = μ): exact in σ-space', () => {
  const mu = [0.3, -1.2, 2];
  const point: GmmSpec = { d: 3, K: 1, weights: [1], means: [mu], covariance_type: 'diag', variances: [[0, 0, 0]] };
  const cases: [string, ProcessConfig, string][] = [
    ['edm', { name: 'edm' }, 'sample'],
    ['vp', { name: 'vp', schedule: 'linear' }, 'epsilon'],
    ['vp-discrete', { name: 'vp-discrete' }, 'epsilon'],
  ];
  for (const [label, config, prediction] of cases) {
    const p = createProcess(config);
    const model = new GmmOracle(new GaussianMixture(point), p, prediction);
    const grid = makeGrid(p, { type: 'karras', steps: 7, end: 'min' });
    const n = 4;
    const xT = new Rng(1).fillNormal(new Float64Array(n * 3)).map((v) => v * p.priorStd(grid[0]));
    // x̃ = x/α moves on the straight line x̃(σ) = μ + (x̃_T − μ)σ/σ_T.
    const exact = (t: number) => {
      const ratio = sigmaVe(p, t) / sigmaVe(p, grid[0]);
      return xT.map((v, i) => p.alpha(t) * (mu[i % 3] + (v / p.alpha(grid[0]) - mu[i % 3]) * ratio));
    };
    for (const sampler of ['euler', 'heun', 'dpm2', 'lms']) {
      it(`${sampler} on ${label} to σ_min and to σ = 0 (NFE as k-diffusion counts)`, async () => {
        const toMin = await sample({ model, process: p, sampler, grid, xT });
        expect(maxAbs(toMin.x.data, exact(grid[grid.length - 1]))).toBeLessThanOrEqual(1e-10);
        const steps = grid.length - 1;
        expect(toMin.nfe).toBe(sampler === 'heun' || sampler === 'dpm2' ? 2 * steps : steps);
        const zeroGrid = Float64Array.from([...grid, p.tZero]);
        const toZero = await sample({ model, process: p, sampler, grid: zeroGrid, xT });
        expect(maxAbs(toZero.x.data, exact(p.tZero))).toBeLessThanOrEqual(1e-10);
        expect(toZero.nfe).toBe(sampler === 'heun' || sampler === 'dpm2' ? 2 * steps + 1 : steps + 1);
      });
    }
    it(`stochastic samplers on ${label} land exactly on μ at σ = 0`, async () => {
      const zeroGrid = Float64Array.from([...grid, p.tZero]);
      const runs: [string, Record<string, number>][] = [['euler-ancestral', {}], ['edm-stochastic', { sChurn: 80, sTmin: 0, sTmax: 1e9 }]];
      for (const [sampler, options] of runs) {
        const r = await sample({ model, process: p, sampler, options, grid: zeroGrid, xT, seed: 3 });
        expect(maxAbs(r.x.data, exact(p.tZero))).toBeLessThanOrEqual(1e-10);
      }
    });
  }
});

/** k-diffusion's get_ancestral_step, transcribed: σ_up and σ_down of a step σ → σ_next. */
function kdAncestralStep(s: number, sn: number, eta: number): { up: number; down: number } {
  const up = Math.min(sn, eta * Math.sqrt((sn ** 2 * (s ** 2 - sn ** 2)) / s ** 2));
  return { up, down: Math.sqrt(sn ** 2 - up ** 2) };
}

/** A smooth 16-d mixture: overlapping components, so no sample changes mode between step counts. */
function smoothMixture(): GaussianMixture {
  const d = 16;
  const K = 4;
  const rng = new Rng(3);
  return new GaussianMixture({
    d,
    K,
    weights: [0.1, 0.2, 0.3, 0.4],
    means: Array.from({ length: K }, () => Array.from({ length: d }, () => 0.5 * rng.normal())),
    covariance_type: 'diag',
    variances: Array.from({ length: K }, () => Array.from({ length: d }, () => 0.3 + 0.4 * rng.uniform())),
  });
}

describe('measured order of convergence on the EDM process (Karras grid to σ_min)', () => {
  const model = new GmmOracle(smoothMixture(), edm, 'sample');
  const run = async (sampler: string, steps: number, options = {}) =>
    (await sample({ model, process: edm, sampler, options, grid: { type: 'karras', steps, end: 'min' }, n: 16, seed: 5 })).x.data;
  const slope = (e1: number, e2: number, n1: number, n2: number) => Math.log(e1 / e2) / Math.log(n2 / n1);

  it('euler 1, heun 2, dpm2 2, lms(order 2) 2 between 20 and 80 steps; lms(3), lms(4) between 80 and 320', async () => {
    const reference = await run('heun', 4000);
    // The fine LMS run is the reference for the high orders (its error ~1e-10 vs Heun-4000's ~6e-7);
    // it must agree with the Heun reference to that Heun's accuracy.
    const referenceLms = await run('lms', 4000);
    expect(rms(referenceLms, reference)).toBeLessThan(2e-6);
    const cases: [string, number, Record<string, number>, number, number, Float64Array][] = [
      ['euler', 1, {}, 20, 80, reference],
      ['heun', 2, {}, 20, 80, reference],
      ['dpm2', 2, {}, 20, 80, reference],
      ['lms', 2, { order: 2 }, 20, 80, reference],
      ['lms', 3, { order: 3 }, 80, 320, referenceLms],
      ['lms', 4, {}, 80, 320, referenceLms],
    ];
    for (const [sampler, order, options, n1, n2, ref] of cases) {
      const e1 = rms(await run(sampler, n1, options), ref);
      const e2 = rms(await run(sampler, n2, options), ref);
      expect(Math.abs(slope(e1, e2, n1, n2) - order), `${sampler} ${JSON.stringify(options)}: errors ${e1}, ${e2}`).toBeLessThanOrEqual(0.3);
    }
  });
});

describe('stochastic samplers: seeded, and replaying given noise exactly', () => {
  const gmm = smoothMixture();
  const model = new GmmOracle(gmm, edm, 'sample');
  const grid = makeGrid(edm, { type: 'karras', steps: 8, end: 'zero' });
  const n = 5;
  const sigmas = Array.from(grid);

  async function recordNoise(sampler: string, options: Record<string, number>) {
    const draws: Float64Array[] = [];
    const rng = new Rng(11);
    const r = await sample({
      model, process: edm, sampler, options, grid, n, seed: 2,
      noise: (out) => {
        rng.fillNormal(out);
        draws.push(Float64Array.from(out));
        return out;
      },
    });
    return { x: r.x.data, xT: r.xT, draws };
  }

  it('same seed, same samples; another seed, other samples', async () => {
    for (const sampler of ['euler-ancestral', 'edm-stochastic']) {
      const a = await sample({ model, process: edm, sampler, grid, n, seed: 7 });
      const b = await sample({ model, process: edm, sampler, grid, n, seed: 7 });
      const c = await sample({ model, process: edm, sampler, grid, n, seed: 8 });
      expect(b.x.data).toEqual(a.x.data);
      expect(rms(c.x.data, a.x.data)).toBeGreaterThan(1e-3);
    }
  });

  it('euler-ancestral replays its noise and matches k-diffusion sample_euler_ancestral step by step', async () => {
    const options = { eta: 0.7, sNoise: 1.1 };
    const rec = await recordNoise('euler-ancestral', options);
    expect(rec.draws).toHaveLength(grid.length - 2); // no noise on the last step to σ = 0
    const replay = await sample({ model, process: edm, sampler: 'euler-ancestral', options, grid, xT: rec.xT, noise: rec.draws });
    expect(replay.x.data).toEqual(rec.x);
    // Independent transcription of sample_euler_ancestral with get_ancestral_step.
    let x = Float64Array.from(rec.xT);
    for (let i = 0; i + 1 < sigmas.length; i++) {
      const [s, sn] = [sigmas[i], sigmas[i + 1]];
      const den = model.predictSync(x, n, s);
      const { up, down } = kdAncestralStep(s, sn, options.eta);
      x = x.map((v, j) => v + ((v - den[j]) / s) * (down - s));
      if (sn > 0) x = x.map((v, j) => v + rec.draws[i][j] * options.sNoise * up);
    }
    expect(maxAbs(rec.x, x)).toBeLessThanOrEqual(1e-10);
  });

  it('dpm2-ancestral replays its noise and matches k-diffusion sample_dpm_2_ancestral step by step; eta = 0 is dpm2', async () => {
    const options = { eta: 0.8, sNoise: 1.05 };
    const rec = await recordNoise('dpm2-ancestral', options);
    expect(rec.draws).toHaveLength(grid.length - 2);
    // Independent transcription of sample_dpm_2_ancestral: midpoint in log σ towards σ_down, then noise σ_up.
    let x = Float64Array.from(rec.xT);
    for (let i = 0; i + 1 < sigmas.length; i++) {
      const [s, sn] = [sigmas[i], sigmas[i + 1]];
      const den = model.predictSync(x, n, s);
      const { up, down } = kdAncestralStep(s, sn, options.eta);
      const d = x.map((v, j) => (v - den[j]) / s);
      if (down === 0) {
        x = x.map((v, j) => v + d[j] * (down - s));
        continue;
      }
      const mid = Math.exp((Math.log(s) + Math.log(down)) / 2);
      const x2 = x.map((v, j) => v + d[j] * (mid - s));
      const den2 = model.predictSync(x2, n, mid);
      x = x.map((v, j) => v + ((x2[j] - den2[j]) / mid) * (down - s) + rec.draws[i][j] * options.sNoise * up);
    }
    expect(maxAbs(rec.x, x)).toBeLessThanOrEqual(1e-10);
    const xT = new Rng(4).fillNormal(new Float64Array(n * gmm.d)).map((v) => v * 80);
    const plain = await sample({ model, process: edm, sampler: 'dpm2', grid, xT });
    const eta0 = await sample({ model, process: edm, sampler: 'dpm2-ancestral', options: { eta: 0 }, grid, xT, noise: [] });
    expect(eta0.x.data).toEqual(plain.x.data);
  });

  it('lcm replays its noise and matches sample_lcm step by step: x̂0, then x̂0 + σ_next·z', async () => {
    const rec = await recordNoise('lcm', {});
    expect(rec.draws).toHaveLength(grid.length - 2);
    let x = Float64Array.from(rec.xT);
    for (let i = 0; i + 1 < sigmas.length; i++) {
      const den = model.predictSync(x, n, sigmas[i]);
      x = den.map((v, j) => (sigmas[i + 1] > 0 ? v + sigmas[i + 1] * rec.draws[i][j] : v));
    }
    expect(maxAbs(rec.x, x)).toBeLessThanOrEqual(1e-12);
  });

  it('edm-stochastic replays its noise and matches Karras et al. Alg. 2 step by step', async () => {
    const options = { sChurn: 10, sTmin: 0.05, sTmax: 20, sNoise: 1.003 };
    const rec = await recordNoise('edm-stochastic', options);
    const churned = sigmas.slice(0, -1).filter((s) => s >= options.sTmin && s <= options.sTmax);
    expect(rec.draws).toHaveLength(churned.length);
    expect(churned.length).toBeGreaterThan(2);
    expect(churned.length).toBeLessThan(sigmas.length - 1);
    const replay = await sample({ model, process: edm, sampler: 'edm-stochastic', options, grid, xT: rec.xT, noise: rec.draws });
    expect(replay.x.data).toEqual(rec.x);
    let x = Float64Array.from(rec.xT);
    let k = 0;
    const N = sigmas.length - 1;
    for (let i = 0; i < N; i++) {
      const [s, sn] = [sigmas[i], sigmas[i + 1]];
      const gamma = s >= options.sTmin && s <= options.sTmax ? Math.min(options.sChurn / N, Math.SQRT2 - 1) : 0;
      const sHat = s * (1 + gamma);
      if (gamma > 0) {
        const z = rec.draws[k++];
        x = x.map((v, j) => v + options.sNoise * Math.sqrt(sHat ** 2 - s ** 2) * z[j]);
      }
      const den = model.predictSync(x, n, sHat);
      const d = x.map((v, j) => (v - den[j]) / sHat);
      const x1 = x.map((v, j) => v + (sn - sHat) * d[j]);
      if (sn === 0) {
        x = x1;
        continue;
      }
      const den2 = model.predictSync(x1, n, sn);
      x = x.map((v, j) => v + (sn - sHat) * 0.5 * (d[j] + (x1[j] - den2[j]) / sn));
    }
    expect(maxAbs(rec.x, x)).toBeLessThanOrEqual(1e-10);
  });

  it('edm-stochastic without churn is Heun and draws no noise', async () => {
    const xT = new Rng(4).fillNormal(new Float64Array(n * gmm.d)).map((v) => v * 80);
    const heun = await sample({ model, process: edm, sampler: 'heun', grid, xT });
    const plain = await sample({ model, process: edm, sampler: 'edm-stochastic', options: { sChurn: 0 }, grid, xT, noise: [] });
    expect(plain.x.data).toEqual(heun.x.data);
    expect(plain.nfe).toBe(heun.nfe);
  });
});

describe('grids with repeated times (diffusers Heun lists interior timesteps twice)', () => {
  const model = new GmmOracle(smoothMixture(), edm, 'sample');
  it('a repeated time is a no-op step: same result, same NFE', async () => {
    const grid = makeGrid(edm, { type: 'karras', steps: 6, end: 'zero' });
    const repeated = Float64Array.from([grid[0], ...Array.from(grid.subarray(1, -1)).flatMap((t) => [t, t]), 0]);
    for (const sampler of ['euler', 'euler-ancestral', 'heun', 'dpm2', 'edm-stochastic', 'lms']) {
      const options = sampler === 'edm-stochastic' ? { sChurn: 1 } : {};
      const a = await sample({ model, process: edm, sampler, options, grid, n: 3, seed: 9 });
      const b = await sample({ model, process: edm, sampler, options, grid: repeated, n: 3, seed: 9 });
      expect(b.x.data, sampler).toEqual(a.x.data);
      expect(b.nfe, sampler).toBe(a.nfe);
    }
  });
});

describe('linear multistep weights', () => {
  it('integrate polynomials of degree < order exactly', () => {
    // Nodes of a step from σ = 2 to 1.5 with history at 2, 3, 5, 9: u_k = (σ_k − σ_i)/h.
    const sig = [2, 3, 5, 9];
    const h = -0.5;
    const w = adamsWeights(sig.map((s) => (s - 2) / h));
    for (let deg = 0; deg < 4; deg++) {
      const quad = w.reduce((acc, wj, j) => acc + h * wj * sig[j] ** deg, 0);
      const exact = (1.5 ** (deg + 1) - 2 ** (deg + 1)) / (deg + 1);
      expect(Math.abs(quad - exact)).toBeLessThanOrEqual(1e-13);
    }
    expect(adamsWeights([0])).toEqual([1]);
  });
});

describe('names and options', () => {
  it('finds the samplers by the names users know', () => {
    const names: Record<string, string> = {
      EulerDiscreteScheduler: 'euler', sample_euler: 'euler', Euler: 'euler',
      'Euler a': 'euler-ancestral', EulerAncestralDiscreteScheduler: 'euler-ancestral', euler_ancestral: 'euler-ancestral',
      HeunDiscreteScheduler: 'heun', sample_heun: 'heun', Heun: 'heun',
      KDPM2DiscreteScheduler: 'dpm2', sample_dpm_2: 'dpm2', DPM2: 'dpm2',
      LMSDiscreteScheduler: 'lms', sample_lms: 'lms', LMS: 'lms', 'LMS Karras': 'lms',
      edm_sampler: 'edm-stochastic',
    };
    for (const [alias, name] of Object.entries(names)) {
      const e = findSampler(alias);
      expect(e.named?.sampler ?? e.name, alias).toBe(name);
    }
    expect(findSampler('euler').defaultGrid).toEqual({ type: 'karras', steps: 10, rho: 7, end: 'zero' });
  });

  it('rejects invalid options with what is accepted', () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['edm-stochastic', { sChurn: -1 }, /sChurn .*must be ≥ 0/],
      ['edm-stochastic', { sTmin: 2, sTmax: 1 }, /sTmax .*must be ≥ sTmin/],
      ['edm-stochastic', { sTmin: -1, sTmax: 1 }, /sTmin .*must be ≥ 0, got -1/],
      ['edm-stochastic', { sNoise: -0.1 }, /sNoise .*must be ≥ 0/],
      ['euler-ancestral', { eta: -0.5 }, /eta must be ≥ 0/],
      ['lms', { order: 0 }, /order must be an integer ≥ 1/],
      ['lms', { order: 2.5 }, /order must be an integer ≥ 1/],
      ['heun', { eta: 1 }, /has no option "eta"/],
    ];
    for (const [sampler, options, message] of bad) {
      expect(() => resolveOptions(findSampler(sampler), options), `${sampler} ${JSON.stringify(options)}`).toThrow(message);
      expect(() => resolveOptions(findSampler(sampler), options)).toThrow(UsageError);
    }
  });

  it('refuses reference configs it does not translate', () => {
    const euler = findReference('diffusers', 'EulerDiscreteScheduler');
    expect(() => euler.translate({ use_lu_lambdas: true }, 10)).toThrow(/use_lu_lambdas=true is not translated/);
    expect(() => euler.translate({ use_karras_sigmas: true, use_beta_sigmas: true }, 10)).toThrow(/only one of use_karras_sigmas, use_beta_sigmas/);
    expect(() => euler.translate({ timestep_type: 'continuous' }, 10)).toThrow(/timestep_type=continuous/);
    expect(euler.translate({ final_sigmas_type: 'sigma_min' }, 4).grid).toEqual({ type: 'explicit', times: [999, 666, 333, 0, 0] });
    expect(() => findReference('k-diffusion', 'sample_lms').translate({ schedule: 'exponential' }, 10)).toThrow(/karras/);
  });

  it('translates diffusers linspace spacing to fractional float32 timesteps with init σ_max', () => {
    const t = findReference('diffusers', 'HeunDiscreteScheduler').translate({ timestep_spacing: 'linspace' }, 4);
    expect(t.grid).toEqual({ type: 'explicit', times: [999, 666, 666, 333, 333, 0, 0, -1] });
    expect(t.init).toBe('sigma');
    const e = findReference('diffusers', 'EulerDiscreteScheduler').translate({ timestep_spacing: 'leading', steps_offset: 1 }, 4);
    expect(e.grid).toEqual({ type: 'explicit', times: [751, 501, 251, 1, -1] });
    expect(e.init).toBe('prior');
    const grid: GridSpec = findReference('diffusers', 'EulerDiscreteScheduler').translate({}, 20).grid;
    expect(grid.type === 'explicit' && grid.times[1]).toBe(Math.fround(999 * 18 / 19));
  });
});
