import { describe, expect, it } from 'vitest';
import { sample } from '../src/sample.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid } from '../src/grid/index.js';
import { pfOdeEndpoint } from '../src/ode/pf-ode.js';
import { sampleErrors } from '../src/metrics/error.js';
import { findSampler, resolveOptions } from '../src/samplers/index.js';
import { shiftedTime } from '../src/samplers/time-shift.js';
import { UsageError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';

const gmm = new GaussianMixture(builtinProblem('gmm16'));
const process = createProcess({ name: 'vp', schedule: 'linear' });
const model = new GmmOracle(gmm, process, 'epsilon');
const n = 32;
const z = new Rng(11).fillNormal(new Float64Array(n * gmm.d));

async function run(sampler: string, base: string, options: Record<string, unknown>, steps: number) {
  const grid = makeGrid(process, { ...findSampler(base).defaultGrid ?? { type: 'logsnr', end: 'zero' }, steps } as never);
  const xT = z.map((v) => v * process.priorStd(grid[0]));
  return { grid, xT, result: await sample({ model, process, sampler, options, grid, xT, seed: 4 }) };
}

describe('time-shift sampler', () => {
  for (const [ts, base] of [['ts-ddim', 'ddim'], ['ts-ddpm', 'ddpm'], ['ts-plms', 'plms'], ['ts-pndm', 'pndm'], ['ts-dpmpp-2m', 'dpmpp-2m']] as const) {
    it(`${ts} with window 0 is ${base}, bit for bit (same NFE)`, async () => {
      const a = await run(ts, base, { window: 0 }, 8);
      const b = await run(base, base, {}, 8);
      expect(Array.from(a.result.x.data)).toEqual(Array.from(b.result.x.data));
      expect(a.result.nfe).toBe(b.result.nfe);
    });
  }

  for (const ts of ['ts-plms', 'ts-pndm', 'ts-dpmpp-2m']) {
    it(`${ts}: a batch whose samples take different times equals each sample run alone`, async () => {
      const grid = makeGrid(process, { type: 'logsnr', steps: 8, end: 'zero' });
      const xT = z.map((v) => v * process.priorStd(grid[0]));
      const options = { window: 60, cutoff: 0.1 };
      const batch = await sample({ model, process, sampler: ts, options, grid, xT });
      const alone: number[] = [];
      for (let j = 0; j < 6; j++) {
        const one = await sample({ model, process, sampler: ts, options, grid, xT: xT.slice(j * gmm.d, (j + 1) * gmm.d) });
        alone.push(...one.x.data);
      }
      expect(Array.from(batch.x.data.slice(0, 6 * gmm.d))).toEqual(alone);
      // more model calls than steps: samples chose different times and each time is one call
      const base = await sample({ model, process, sampler: ts, options: { window: 0 }, grid, xT });
      expect(batch.nfe).toBeGreaterThan(base.nfe);
    });
  }

  for (const [ts, base] of [['ts-plms', 'plms'], ['ts-pndm', 'pndm'], ['ts-dpmpp-2m', 'dpmpp-2m']] as const) {
    it(`${ts}: each sample's result is ${base} run on that sample's own shifted grid, bit for bit`, async () => {
      const grid = makeGrid(process, { type: 'logsnr', steps: 8, end: 'zero' });
      let moved = 0;
      for (let j = 0; j < 4; j++) {
        const xT = z.slice(j * gmm.d, (j + 1) * gmm.d).map((v) => v * process.priorStd(grid[0]));
        const times: number[] = [];
        const spy = { prediction: model.prediction, sampleShape: model.sampleShape, predict: (x: Float64Array, m: number, t: number) => (times.push(t), model.predict(x, m, t)) };
        const shifted = await sample({ model: spy, process, sampler: ts, options: { window: 60, cutoff: 0.1 }, grid, xT });
        const called = [...times.filter((t, k) => t !== times[k - 1]), grid[grid.length - 1]];
        // PNDM's three Runge–Kutta warm-up steps also call the model at their midpoints (1st, 3rd, 5th)
        const own = ts === 'ts-pndm' ? called.filter((_, k) => !(k % 2 === 1 && k < 6)) : called;
        expect(own.length).toBe(grid.length);
        if (own.some((t, k) => t !== grid[k])) moved++;
        const plain = await sample({ model, process, sampler: base, grid: Float64Array.from(own), xT });
        expect(Array.from(shifted.x.data)).toEqual(Array.from(plain.x.data));
      }
      expect(moved).toBeGreaterThan(0);
    });
  }

  it('a cutoff above the whole trajectory also leaves DDIM unchanged', async () => {
    const a = await run('ts-ddim', 'ddim', { window: 30, cutoff: 1 }, 6);
    const b = await run('ddim', 'ddim', {}, 6);
    expect(Array.from(a.result.x.data)).toEqual(Array.from(b.result.x.data));
  });

  it('picks the candidate whose σ² matches the variance, inside the neighbours', () => {
    const next = 0.5;
    const s = process.sigma(0.51);
    // window 30 = ±15 units of 1/1000 of the time range; 0.51 is 10 units above 0.5
    const tau = shiftedTime(process, s * s, 0.8, next, 0.2, 30);
    expect(Math.abs(tau - 0.51)).toBeLessThan(1e-3);
    // a huge variance goes to the top of the window, never to or past the current time
    expect(shiftedTime(process, 100, 0.505, next, 0.2, 30)).toBeLessThan(0.505);
    expect(shiftedTime(process, 0, 0.8, next, 0.499, 30)).toBeGreaterThan(0.499);
  });

  // Measured median errors (gmm16, 32 samples, vp linear, logSNR grid, 10 steps), window 0 → 30:
  // ts-ddim 0.2728 → 0.2784, ts-plms 0.04293 → 0.04452, ts-dpmpp-2m 0.07274 → 0.07159.
  for (const [ts, base] of [['ts-ddim', 'ddim'], ['ts-plms', 'plms'], ['ts-dpmpp-2m', 'dpmpp-2m']] as const) {
    it(`${ts} on the exact oracle (no exposure bias) moves the error by under 10 %, either way`, async () => {
      const shifted = await run(ts, base, { window: 30, cutoff: 0.3 }, 10);
      const plain = await run(base, base, {}, 10);
      const truth = pfOdeEndpoint(gmm, process, plain.xT, plain.grid[0], plain.grid[plain.grid.length - 1]);
      const eShift = sampleErrors(shifted.result.x.data, truth, gmm).medianSampleRmsErr;
      const ePlain = sampleErrors(plain.result.x.data, truth, gmm).medianSampleRmsErr;
      expect(eShift).not.toBe(ePlain);
      expect(Math.abs(eShift / ePlain - 1)).toBeLessThan(0.1);
    });
  }

  it('rejects bad options and says what is accepted', () => {
    const e = findSampler('ts-ddim');
    expect(() => resolveOptions(e, { window: -1 })).toThrow(UsageError);
    expect(() => resolveOptions(e, { window: 2.5 })).toThrow(/integer ≥ 0/);
    expect(() => resolveOptions(e, { cutoff: 2 })).toThrow(/\[0, 1\]/);
  });
});
