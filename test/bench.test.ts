import { describe, expect, it } from 'vitest';
import { benchmark, toCsv, toMarkdown } from '../src/bench.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid } from '../src/grid/index.js';
import { pfOdeEndpoint } from '../src/ode/pf-ode.js';
import { sampleErrors } from '../src/metrics/error.js';
import { sample } from '../src/sample.js';
import { Rng } from '../src/core/rng.js';
import { UsageError } from '../src/core/errors.js';

describe('benchmark', () => {
  const spec = builtinProblem('gmm16');
  const process = createProcess({ name: 'vp', schedule: 'linear' });
  const logsnr = { type: 'logsnr', end: 'min' } as const;
  const heunGrid = { type: 'karras', end: 'zero' } as const;
  const request = {
    gmm: spec, process, n: 8, seed: 7, nfes: [5, 10, 20],
    samplers: [{ name: 'ddim', grid: logsnr }, { name: 'heun', grid: heunGrid }],
  };

  it('picks the largest step count within each NFE budget and matches a direct run', async () => {
    const progress: number[] = [];
    const rows = await benchmark({ ...request, onProgress: (p) => progress.push(p.done) });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.map((r) => [r.sampler, r.budget, r.steps, r.nfe])).toEqual([
      ['ddim', 5, 5, 5], ['ddim', 10, 10, 10], ['ddim', 20, 20, 20],
      // Heun on a grid to σ = 0 takes 2 NFE per step but 1 on the last (Euler) step
      ['heun', 5, 3, 5], ['heun', 10, 5, 9], ['heun', 20, 10, 19],
    ]);
    const ddim = rows.filter((r) => r.sampler === 'ddim').map((r) => r.medianErr);
    expect(ddim[2]).toBeLessThan(ddim[1]);
    expect(ddim[1]).toBeLessThan(ddim[0]);

    const gmm = new GaussianMixture(spec);
    const grid = makeGrid(process, { ...logsnr, steps: 10 });
    const xT = new Rng(7).fork(0).fillNormal(new Float64Array(8 * 16));
    const run = await sample({ model: new GmmOracle(gmm, process), process, sampler: 'ddim', grid, xT });
    const e = sampleErrors(run.x.data, pfOdeEndpoint(gmm, process, xT, grid[0], grid[10]), gmm);
    expect(rows[1].rmsErr).toBe(e.rmsErr);
    expect(rows[1].medianErr).toBe(e.medianSampleRmsErr);
  });

  it('writes Markdown and CSV tables', async () => {
    const rows = await benchmark({ ...request, nfes: [5] });
    const md = toMarkdown(rows).trim().split('\n');
    expect(md).toHaveLength(2 + rows.length);
    expect(md[0]).toMatch(/^\| sampler \| grid \| NFE budget \| steps \| NFE \| RMS err \| median err/);
    expect(md[2]).toMatch(/^\| ddim \| logsnr\(end=min\) \| 5 \| 5 \| 5 \| \d\.\d\de-\d+ \|/);
    const csv = toCsv(rows).trim().split('\n');
    expect(csv[0]).toBe('label,sampler,grid,stochastic,budget,steps,nfe,rmsErr,medianErr,maxAbsErr,modeFlips,rmsErrExclFlips');
    expect(csv).toHaveLength(1 + rows.length);
    expect(Number(csv[1].split(',')[8])).toBe(rows[0].medianErr);
  });

  it('leaves out budgets a sampler cannot meet and rejects bad requests', async () => {
    const rows = await benchmark({ ...request, nfes: [1], samplers: [{ name: 'heun', grid: { type: 'karras', end: 'min' } }] });
    expect(rows).toEqual([]);
    await expect(benchmark({ ...request, nfes: [0] })).rejects.toThrow(UsageError);
    await expect(benchmark({ ...request, samplers: [] })).rejects.toThrow(UsageError);
    await expect(benchmark({ ...request, samplers: [{ name: 'nope' }] })).rejects.toThrow(/unknown sampler/);
  });
});
