import { describe, expect, it } from 'vitest';
import { FullGmmOracle } from '../../src/models/oracle/full-gmm.js';
import { effectiveSampleSize, smcPosterior, systematicResample } from '../../src/guidance/smc.js';
import { redDiff } from '../../src/guidance/red-diff.js';
import { minorityGuidance, minorityLevel, minorityScore, minorityThresholds } from '../../src/guidance/minority.js';
import { TrajectoryVariance, keepBelow } from '../../src/guidance/hallucination.js';
import { intrinsicDimension, symmetricEigenvalues } from '../../src/guidance/intrinsic-dim.js';
import { resolveGrid, sample } from '../../src/sample.js';
import { Rng } from '../../src/core/rng.js';
import {
  hallucinationMixture, inverseProblems, manifoldMixture, minorityMixture, score, smoothedOracle, vp,
} from './problems.js';

const logsnrGrid = (steps: number) => resolveGrid(vp, { type: 'logsnr', steps, end: 'zero' }, undefined, undefined);

describe('particle tools', () => {
  it('systematic resampling copies each particle ⌊Nw⌋ or ⌈Nw⌉ times; ESS is N for equal weights', () => {
    const w = Float64Array.from([0.5, 0.3, 0.125, 0.075]);
    for (let seed = 0; seed < 20; seed++) {
      const idx = systematicResample(w, new Rng(seed), 40);
      const counts = [0, 0, 0, 0];
      for (const i of idx) counts[i]++;
      counts.forEach((c, k) => expect(Math.abs(c - 40 * w[k])).toBeLessThan(1));
    }
    expect(effectiveSampleSize(new Float64Array(7).fill(-3))).toBeCloseTo(7, 12);
    expect(effectiveSampleSize(Float64Array.from([0, -Infinity, -Infinity]))).toBeCloseTo(1, 12);
  });

  it('exact draws of x0 | x_t have the posterior mean E[x0 | x_t]', () => {
    const p = inverseProblems()[2];
    const post = p.prior.noisy(new Rng(3).fillNormal(new Float64Array(16)), 1, vp.alpha(0.4), vp.sigma(0.4));
    const draws = post.sample(20000, new Rng(4));
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let k = 0; k < 20000; k++) s += draws[k * 16 + j] / 20000;
      expect(Math.abs(s - post.x0[j])).toBeLessThan(0.03);
    }
  });

  it('data log-density: the score matches central differences and the mode is a stationary point', () => {
    const mix = inverseProblems()[1].posterior;
    const x = Float64Array.from([0.2, -0.1]);
    const { score: g } = mix.logDensity(x, 1);
    for (let j = 0; j < 2; j++) {
      const xp = Float64Array.from(x);
      const xm = Float64Array.from(x);
      xp[j] += 1e-6;
      xm[j] -= 1e-6;
      expect(g[j]).toBeCloseTo((mix.logDensity(xp, 1).logp[0] - mix.logDensity(xm, 1).logp[0]) / 2e-6, 5);
    }
    const mode = mix.mode();
    const atMode = mix.logDensity(mode.x, 1);
    expect(Math.hypot(...atMode.score)).toBeLessThan(1e-6);
    for (let k = 0; k < mix.K; k++) expect(mode.logp).toBeGreaterThanOrEqual(mix.logDensity(mix.means.slice(2 * k, 2 * k + 2), 1).logp[0] - 1e-9);
  });
});

describe('SMC posterior sampling', () => {
  const [ring] = inverseProblems();
  const prior = new FullGmmOracle(ring.prior, vp);

  it('with an uninformative measurement it is the prior’s DDPM sampler, step for step', async () => {
    const grid = logsnrGrid(12);
    const flat = { ...ring.measurement, noiseStd: Infinity };
    const r = smcPosterior({ prior, measurement: flat, y: ring.y, grid, particles: 16, rng: new Rng(7) });
    const rng = new Rng(7);
    const xT = rng.fillNormal(new Float64Array(32)).map((v) => v * vp.priorStd(grid[0]));
    const noise = Array.from({ length: 11 }, () => rng.fillNormal(new Float64Array(32)));
    const ddpm = await sample({ model: prior, process: vp, sampler: 'ddpm', grid, n: 16, xT, noise });
    expect(r.resamplings).toBe(0);
    for (let i = 0; i < 32; i++) expect(r.x[i]).toBeCloseTo(ddpm.x.data[i], 10);
  });

  it('its error against the exact posterior falls as the particle count grows', () => {
    const grid = logsnrGrid(40);
    const reference = ring.posterior.sample(1000, new Rng(1));
    const err = (N: number) => {
      let s = 0;
      for (const seed of [1, 2, 3]) {
        const r = smcPosterior({ prior, measurement: ring.measurement, y: ring.y, grid, particles: N, rng: new Rng(seed) });
        s += score(ring, r.x, reference).sw2 / 3;
      }
      return s;
    };
    const small = err(16);
    const large = err(1024);
    expect(large).toBeLessThan(0.5 * small);
    expect(large).toBeLessThan(0.3);
  });
});

describe('RED-Diff', () => {
  it('moves the least-norm start most of the way to the exact posterior mode', async () => {
    const p = inverseProblems()[3];
    const times = resolveGrid(vp, { type: 'time-uniform', steps: 1000, end: 'min' }, undefined, undefined).slice(0, 1000);
    const r = await redDiff({ model: new FullGmmOracle(p.prior, vp), process: vp, measurement: p.measurement, y: p.y, times, n: 4, rng: new Rng(3), lr: 0.05 });
    expect(r.nfe).toBe(1000);
    const mode = p.posterior.mode().x;
    const start = await redDiff({ model: new FullGmmOracle(p.prior, vp), process: vp, measurement: p.measurement, y: p.y, times: times.slice(0, 0), n: 1, rng: new Rng(3) });
    const dist = (v: Float64Array, off: number) => Math.hypot(...mode.map((m, j) => v[off + j] - m));
    for (let i = 0; i < 4; i++) expect(dist(r.x, 16 * i)).toBeLessThan(0.15 * dist(start.x, 0));
  });
});

describe('minority guidance', () => {
  const mix = minorityMixture();
  const oracle = new FullGmmOracle(mix, vp);
  const s = vp.tOfLogSnr(0);

  it('quantises minority scores into equally populated levels', async () => {
    const scores = await minorityScore(oracle, vp, mix.sample(1000, new Rng(1)), 1000, s, new Rng(2));
    const th = minorityThresholds(scores, 4);
    const counts = [0, 0, 0, 0];
    for (const v of scores) counts[minorityLevel(v, th)]++;
    for (const c of counts) expect(Math.abs(c - 250)).toBeLessThanOrEqual(1);
  });

  it('scale 0 is the model; guidance lowers the samples’ exact log-density', async () => {
    const th = minorityThresholds(await minorityScore(oracle, vp, mix.sample(1000, new Rng(1)), 1000, s, new Rng(2), 2), 5);
    const level = async (x0: Float64Array, n: number) => Int32Array.from(await minorityScore(oracle, vp, x0, n, s, new Rng(9)), (v) => minorityLevel(v, th));
    const run = async (scale: number) => {
      const model = minorityGuidance({
        model: oracle, process: vp, level, target: 4, scale, draws: 16, rng: new Rng(4),
        posteriorDraws: (x, n, t, draws, rng) => oracle.posteriorAt(x, n, t).sample(draws, rng),
      });
      const r = await sample({ model, process: vp, sampler: 'dpmpp-2m', steps: 12, n: 200, seed: 3 });
      return Float64Array.from(mix.logDensity(r.x.data, 200).logp).sort()[100];
    };
    const plain = await sample({ model: oracle, process: vp, sampler: 'dpmpp-2m', steps: 12, n: 200, seed: 3 });
    expect(await run(0)).toBe(Float64Array.from(mix.logDensity(plain.x.data, 200).logp).sort()[100]);
    expect(await run(2)).toBeLessThan((await run(0)) - 0.5);
  });
});

describe('hallucination detection by trajectory variance', () => {
  it('records x̂0 only inside the window; a constant prediction has zero variance', async () => {
    const constant = { prediction: 'sample' as const, sampleShape: [1], predict: (_x: Float64Array, n: number) => Promise.resolve(new Float64Array(n).fill(2)) };
    const tv = new TrajectoryVariance(constant, vp, 0.1, 0.5);
    for (const t of [0.9, 0.5, 0.3, 0.1, 0.05]) await tv.model.predict(new Float64Array(3), 3, t);
    expect(tv.steps).toBe(3);
    expect(Array.from(tv.variance(3))).toEqual([0, 0, 0]);
    expect(keepBelow(Float64Array.from([0.1, 0.3]), 0.2)).toEqual([true, false]);
  });

  it('on a smoothed denoiser, between-mode samples have the higher late-trajectory variance', async () => {
    const mix = hallucinationMixture();
    const tv = new TrajectoryVariance(smoothedOracle(mix, vp, 0.3), vp, vp.tOfLogSnr(-Math.log(0.01)), vp.tOfLogSnr(-Math.log(0.1)));
    expect(tv.tLo).toBeLessThan(tv.tHi);
    const r = await sample({ model: tv.model, process: vp, sampler: 'ddpm', steps: 100, n: 1500, seed: 1 });
    const v = tv.variance(1500);
    const between: number[] = [];
    const inside: number[] = [];
    r.x.data.forEach((x, i) => (Math.min(...[1, 2, 3].map((m) => Math.abs(x - m))) > 0.2 ? between : inside).push(v[i]));
    expect(between.length).toBeGreaterThan(20);
    let auc = 0;
    for (const b of between) for (const a of inside) auc += b > a ? 1 : 0;
    expect(auc / (between.length * inside.length)).toBeGreaterThan(0.85);
  });
});

describe('intrinsic dimension from the score spectrum', () => {
  it('Jacobi eigenvalues of a known symmetric matrix', () => {
    const e = symmetricEigenvalues(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
    [5, 3, 1].forEach((v, i) => expect(e[i]).toBeCloseTo(v, 12));
  });

  it('recovers k for k-dimensional subspaces and a circle in R^8', async () => {
    for (const [shape, k] of [[{ k: 1 }, 1], [{ k: 2 }, 2], [{ k: 4 }, 4], ['circle', 1]] as const) {
      const mix = manifoldMixture(shape, 8, 3);
      const x0 = mix.sample(3, new Rng(4));
      for (let i = 0; i < 3; i++) {
        const r = await intrinsicDimension({ model: new FullGmmOracle(mix, vp), process: vp, x0: x0.slice(8 * i, 8 * i + 8), t: vp.tOfLogSnr(5), samples: 32, rng: new Rng(i) });
        expect(r.dimension).toBe(k);
      }
    }
  });
});
