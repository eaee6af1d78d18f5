import { describe, expect, it } from 'vitest';
import { calibrationTimes, trajectoryInputs } from '../src/quant/ndtc.js';
import { createProcess } from '../src/process/index.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { sample } from '../src/sample.js';
import { Rng } from '../src/core/rng.js';
import { UsageError } from '../src/core/errors.js';

const ddpm = createProcess({ name: 'vp-discrete', numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' });
const meanStd = (v: Float64Array) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean: m, std: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) };
};

describe('NDTC calibration times (PTQ4DM, Alg. 1)', () => {
  it('are whole timesteps with the requested mean and standard deviation (as fractions of the time range)', () => {
    const t = calibrationTimes(ddpm, 20000, 0, { method: 'ndtc', mu: 0.5, std: 0.1 }, true);
    const { mean, std } = meanStd(t);
    // 20 000 draws: standard error of the mean 0.07 % of the range, of the std 0.05 %
    expect(Math.abs(mean / 999 - 0.5)).toBeLessThan(0.003);
    expect(Math.abs(std / 999 - 0.1)).toBeLessThan(0.003);
    expect(t.every(Number.isInteger)).toBe(true);
  });

  it('clamp draws outside the time range to its ends: with μ = σ = 0.4, P(t = 0) = Φ(−1), P(t = 999) = 1 − Φ(1.5)', () => {
    const t = calibrationTimes(ddpm, 20000, 1, { method: 'ndtc', mu: 0.4, std: 0.4 }, true);
    expect(Math.min(...t)).toBe(0);
    expect(Math.max(...t)).toBe(999);
    const at = (v: number) => t.filter((x) => x === v).length / t.length;
    expect(Math.abs(at(0) - 0.1587)).toBeLessThan(0.01);
    expect(Math.abs(at(999) - 0.0668)).toBeLessThan(0.01);
  });

  it('are reproducible for a seed, differ between seeds, and the uniform baseline covers the range evenly', () => {
    const d = { method: 'ndtc', mu: 0.4, std: 0.4 } as const;
    expect(Array.from(calibrationTimes(ddpm, 64, 7, d, true))).toEqual(Array.from(calibrationTimes(ddpm, 64, 7, d, true)));
    expect(Array.from(calibrationTimes(ddpm, 64, 8, d, true))).not.toEqual(Array.from(calibrationTimes(ddpm, 64, 7, d, true)));
    const u = calibrationTimes(ddpm, 20000, 0, { method: 'uniform' }, true);
    expect(Math.abs(meanStd(u).mean - 499.5)).toBeLessThan(6);
    expect(Math.abs(meanStd(u).std - 999 / Math.sqrt(12))).toBeLessThan(5);
  });

  it('stay continuous on a continuous process, within [tMin, tMax]', () => {
    const vp = createProcess({ name: 'vp' });
    const t = calibrationTimes(vp, 500, 0, { method: 'ndtc', mu: 0.4, std: 0.4 }, false);
    expect(t.some((x) => !Number.isInteger(x) && x > vp.tMin && x < vp.tMax)).toBe(true);
    expect(t.every((x) => x >= vp.tMin && x <= vp.tMax)).toBe(true);
  });

  it('reject σ ≤ 0 and a μ that is not in [0, 1]', () => {
    expect(() => calibrationTimes(ddpm, 8, 0, { method: 'ndtc', mu: 0.4, std: 0 }, true)).toThrow(UsageError);
    expect(() => calibrationTimes(ddpm, 8, 0, { method: 'ndtc', mu: NaN, std: 0.4 }, true)).toThrow(/μ/);
    expect(() => calibrationTimes(ddpm, 8, 0, { method: 'ndtc', mu: 5, std: 0.4 }, true)).toThrow(/μ must be a fraction of the time range in \[0, 1\].*got 5/);
  });
});

describe('calibration inputs from the model\'s own trajectory', () => {
  it('equal x_T at tMax and, at every other time, one DDIM run from x_T through the distinct calibration times down to it', async () => {
    const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), ddpm, 'epsilon');
    const times = Float64Array.from([999, 640, 640, 120, 0, 999, 37]);
    const xT = new Rng(5).fillNormal(new Float64Array(times.length * 2));
    const x = await trajectoryInputs({ process: ddpm, times, xT, modelFor: () => model });
    const stops = [999, 640, 120, 37, 0];
    for (let i = 0; i < times.length; i++) {
      const row = Array.from(x.subarray(2 * i, 2 * i + 2));
      if (times[i] === 999) {
        expect(row).toEqual(Array.from(xT.subarray(2 * i, 2 * i + 2)));
        continue;
      }
      const grid = Float64Array.from(stops.filter((t) => t >= times[i]));
      const ref = await sample({ model, process: ddpm, sampler: 'ddim', grid, xT: xT.subarray(2 * i, 2 * i + 2), n: 1 });
      expect(Math.max(...row.map((v, j) => Math.abs(v - ref.x.data[j])))).toBeLessThan(1e-12);
    }
  });
});
