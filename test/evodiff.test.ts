import { describe, expect, it } from 'vitest';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { Rng } from '../src/core/rng.js';

const process = createProcess({ name: 'vp', schedule: 'linear' });
const gmm = new GaussianMixture(builtinProblem('ring8'));
const model = new GmmOracle(gmm, process, 'epsilon');
const z = new Rng(11).fillNormal(new Float64Array(6 * gmm.d));

async function run(sampler: string, spec: GridSpec, options: Record<string, unknown> = {}, xs = z) {
  const grid = makeGrid(process, spec);
  const xT = xs.map((v) => v * process.priorStd(grid[0]));
  return sample({ model, process, sampler, options, grid, xT });
}

const grids: Exclude<GridSpec, { type: 'explicit' }>[] = [
  { type: 'logsnr', steps: 10, end: 'zero' },
  { type: 'logsnr', steps: 25, end: 'min' },
  { type: 'time-uniform', steps: 7 },
];

describe('EVODiff (Li et al. 2025)', () => {
  for (const spec of grids) {
    it(`with optimize=false is DPM-Solver++(2M) bit for bit (${spec.type}, ${spec.steps} steps)`, async () => {
      const base = await run('dpmpp-2m', spec);
      const off = await run('evodiff', spec, { optimize: false });
      expect(Array.from(off.x.data)).toEqual(Array.from(base.x.data));
      expect(off.nfe).toBe(base.nfe);
    });
    it(`optimises at no extra model call and moves the result (${spec.type}, ${spec.steps} steps)`, async () => {
      const base = await run('dpmpp-2m', spec);
      const evo = await run('evodiff', spec);
      expect(evo.nfe).toBe(base.nfe);
      let diff = 0;
      evo.x.data.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - base.x.data[i]))));
      expect(diff).toBeGreaterThan(1e-6);
      expect(evo.x.data.every(Number.isFinite)).toBe(true);
    });
  }

  it('chooses its coefficients per sample: a batch equals its samples run one by one', async () => {
    const spec: GridSpec = { type: 'logsnr', steps: 12, end: 'zero' };
    const batch = await run('evodiff', spec);
    for (let k = 0; k < 6; k++) {
      const one = await run('evodiff', spec, {}, z.subarray(k * gmm.d, (k + 1) * gmm.d));
      expect(Array.from(one.x.data)).toEqual(Array.from(batch.x.data.subarray(k * gmm.d, (k + 1) * gmm.d)));
    }
  });
});
