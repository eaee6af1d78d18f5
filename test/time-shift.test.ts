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
  for (const [ts, base] of [['ts-ddim', 'ddim'], ['ts-ddpm', 'ddpm']] as const) {
    it(`${ts} with window 0 is ${base}, bit for bit (same NFE)`, async () => {
      const a = await run(ts, base, { window: 0 }, 8);
      const b = await run(base, base, {}, 8);
      expect(Array.from(a.result.x.data)).toEqual(Array.from(b.result.x.data));
      expect(a.result.nfe).toBe(b.result.nfe);
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

  it('on the exact oracle (no exposure bias) the shift is measured, not assumed to help', async () => {
    const shifted = await run('ts-ddim', 'ddim', { window: 30, cutoff: 0.3 }, 10);
    const plain = await run('ddim', 'ddim', {}, 10);
    const truth = pfOdeEndpoint(gmm, process, plain.xT, plain.grid[0], plain.grid[plain.grid.length - 1]);
    const eShift = sampleErrors(shifted.result.x.data, truth, gmm).medianSampleRmsErr;
    const ePlain = sampleErrors(plain.result.x.data, truth, gmm).medianSampleRmsErr;
    // The shift moves the grid, so the error changes but stays of the same size as DDIM's.
    expect(eShift).not.toBe(ePlain);
    expect(eShift / ePlain).toBeGreaterThan(0.5);
    expect(eShift / ePlain).toBeLessThan(2);
  });

  it('rejects bad options and says what is accepted', () => {
    const e = findSampler('ts-ddim');
    expect(() => resolveOptions(e, { window: -1 })).toThrow(UsageError);
    expect(() => resolveOptions(e, { window: 2.5 })).toThrow(/integer ≥ 0/);
    expect(() => resolveOptions(e, { cutoff: 2 })).toThrow(/\[0, 1\]/);
  });
});
