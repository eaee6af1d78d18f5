import { describe, expect, it } from 'vitest';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { findSampler, resolveOptions } from '../src/samplers/index.js';
import { mixingAt } from '../src/samplers/dualfast.js';
import { Rng } from '../src/core/rng.js';
import { UsageError } from '../src/core/errors.js';

const process = createProcess({ name: 'vp', schedule: 'linear' });
const gmm = new GaussianMixture(builtinProblem('checkerboard'));
const model = new GmmOracle(gmm, process, 'epsilon');
const z = new Rng(7).fillNormal(new Float64Array(8 * gmm.d));

async function run(sampler: string, spec: GridSpec, options: Record<string, unknown> = {}) {
  const grid = makeGrid(process, spec);
  const xT = z.map((v) => v * process.priorStd(grid[0]));
  return sample({ model, process, sampler, options, grid, xT });
}

const bases = ['ddim', 'dpmpp-2m', 'unipc'];
const spec: GridSpec = { type: 'logsnr', steps: 8, end: 'zero' };

describe('DualFast (Yu et al. 2025)', () => {
  for (const base of bases) {
    it(`dualfast-${base} with mixing 0 is ${base} bit for bit`, async () => {
      const ref = await run(base, spec);
      const off = await run(`dualfast-${base}`, spec, { mixing: 0 });
      expect(Array.from(off.x.data)).toEqual(Array.from(ref.x.data));
      expect(off.nfe).toBe(ref.nfe);
    });
    it(`dualfast-${base} with mixing > 0 changes the result at the base's NFE`, async () => {
      const ref = await run(base, spec);
      const mixed = await run(`dualfast-${base}`, spec, { mixing: 0.3 });
      expect(mixed.nfe).toBe(ref.nfe);
      let diff = 0;
      mixed.x.data.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - ref.x.data[i]))));
      expect(diff).toBeGreaterThan(1e-4);
    });
  }

  it('keeps the base options and passes them on', async () => {
    const ref = await run('unipc', spec, { order: 3, variant: 'bh1' });
    const off = await run('dualfast-unipc', spec, { order: 3, variant: 'bh1', mixing: 0 });
    expect(Array.from(off.x.data)).toEqual(Array.from(ref.x.data));
  });

  it('mixing schedule: linear from c at the first step to 0 at the last, or constant', () => {
    const o = { mixing: 0.6, mixingSchedule: 'linear' } as const;
    expect([0, 1, 2, 3].map((i) => mixingAt(o, i, 4))).toEqual([0.6, 0.6 * (1 - 1 / 3), 0.6 * (1 - 2 / 3), 0]);
    expect(mixingAt({ ...o, mixingSchedule: 'constant' }, 3, 4)).toBe(0.6);
  });

  it('rejects a negative mixing and an unknown schedule with what is accepted', () => {
    const e = findSampler('DualFast-DPM-Solver++');
    expect(e.name).toBe('dualfast-dpmpp-2m');
    expect(() => resolveOptions(e, { mixing: -1 })).toThrow(UsageError);
    expect(() => resolveOptions(e, { mixingSchedule: 'cosine' })).toThrow(/linear, constant/);
  });
});
