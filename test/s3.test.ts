import { describe, expect, it } from 'vitest';
import {
  searchSchedule, scheduleFitness, oracleFitness, scheduleRun, dpmpp2mSchedule, unipcSchedule, parsePlan, formatPlan,
  type S3State, type SolverSchedule, type ScheduleFitness,
} from '../src/search/index.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid, checkGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { UsageError } from '../src/core/errors.js';

const process = createProcess({ name: 'vp' });
const problem = builtinProblem('ring8');
const model = new GmmOracle(new GaussianMixture(problem), process, 'epsilon');

function relErr(a: Float64Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return Math.sqrt(num / den);
}

async function runSchedule(s: SolverSchedule, seed = 3) {
  const r = scheduleRun(s);
  return sample({ model, process, ...r, n: 16, seed });
}

describe('schedule sampler (unified sampling framework)', () => {
  for (const spec of [
    { type: 'logsnr', steps: 5, end: 'zero' },
    { type: 'logsnr', steps: 12, end: 'min' },
    { type: 'time-uniform', steps: 7, end: 'zero' },
  ] as GridSpec[]) {
    const grid = Array.from(makeGrid(process, spec));
    it(`reproduces dpmpp-2m (≤ 1e-12) and unipc bh1/bh2, data and noise, orders 2 and 3 (bit for bit) on ${spec.type} ${grid.length - 1} steps`, async () => {
      const ref = await sample({ model, process, sampler: 'dpmpp-2m', grid: Float64Array.from(grid), n: 16, seed: 3 });
      const mine = await runSchedule(dpmpp2mSchedule(grid));
      expect(mine.nfe).toBe(ref.nfe);
      expect(relErr(mine.x.data, ref.x.data)).toBeLessThanOrEqual(1e-12);
      for (const order of [2, 3]) {
        for (const predictX0 of [true, false]) {
          for (const variant of ['bh1', 'bh2'] as const) {
            const u = await sample({ model, process, sampler: 'unipc', options: { order, predictX0, variant }, grid: Float64Array.from(grid), n: 16, seed: 3 });
            const s = unipcSchedule(grid, order, predictX0 ? 'data' : 'noise');
            const r = scheduleRun(s, variant);
            const v = await sample({ model, process, ...r, n: 16, seed: 3 });
            expect(Array.from(v.x.data)).toEqual(Array.from(u.x.data));
            expect(v.nfe).toBe(u.nfe);
          }
        }
      }
    });
  }

  it('the empty plan is UniPC-2 bit for bit; plans round-trip through strings and reject what is not a step', async () => {
    const u = await sample({ model, process, sampler: 'unipc', steps: 6, n: 8 });
    const s = await sample({ model, process, sampler: 'schedule', steps: 6, n: 8 });
    expect(Array.from(s.x.data)).toEqual(Array.from(u.x.data));
    expect(formatPlan(parsePlan('d1,n2c,d3'))).toBe('d1,n2c,d3');
    expect(() => parsePlan('d4')).toThrow(UsageError);
    await expect(sample({ model, process, sampler: 'schedule', options: { plan: 'd1,d2' }, steps: 3, n: 2 })).rejects.toThrow(/2 steps but the grid has 3/);
  });

  it('mixing prediction types and correctors changes the result and keeps one model call per step', async () => {
    const grid = Array.from(makeGrid(process, { type: 'logsnr', steps: 6, end: 'zero' }));
    const a = await runSchedule(unipcSchedule(grid));
    const mixed: SolverSchedule = { times: grid, steps: parsePlan('d1,n2c,d3,n2,d2c,d1') };
    const b = await runSchedule(mixed);
    expect(b.nfe).toBe(6);
    expect(relErr(b.x.data, a.x.data)).toBeGreaterThan(1e-6);
  });
});

describe('S³ schedule search', () => {
  const grid = Array.from(makeGrid(process, { type: 'logsnr', steps: 5, end: 'zero' }));
  const initial = unipcSchedule(grid);
  const fitness = scheduleFitness(oracleFitness({ gmm: problem, process, sampler: 'schedule', n: 8, seed: 1 }));
  const tiny = { population: 6, generations: 3, parents: 2, seed: 5, screen: 3 };

  function expectValid(s: SolverSchedule): void {
    const g = Float64Array.from(s.times);
    checkGrid(process, g);
    for (let i = 1; i < g.length; i++) expect(g[i]).toBeLessThan(g[i - 1]);
    expect(s.times[0]).toBe(grid[0]);
    expect(s.times[s.times.length - 1]).toBe(grid[grid.length - 1]);
    expect(s.steps.length).toBe(grid.length - 1);
  }

  it('improves its initial schedule and returns a valid plain-JSON schedule that sample() runs', async () => {
    const seen: number[] = [];
    const r = await searchSchedule({ process, initial, fitness, options: tiny, onProgress: (p) => seen.push(p.generation) });
    expect(r.initialFitness).toBe(await fitness(initial));
    expect(r.fitness).toBeLessThan(0.8 * r.initialFitness);
    expect(seen).toEqual([0, 1, 2, 3]);
    expectValid(r.schedule);
    const loaded = JSON.parse(JSON.stringify(r.schedule)) as SolverSchedule;
    expect(await fitness(loaded)).toBe(r.fitness);
  });

  it('resumed from a saved state, continues exactly as an uninterrupted run', async () => {
    const full = await searchSchedule({ process, initial, fitness, options: tiny });
    const stop = new AbortController();
    const first = await searchSchedule({ process, initial, fitness, options: tiny, signal: stop.signal, onProgress: (p) => p.generation === 1 && stop.abort() });
    expect(first.stopped).toBe(true);
    expect(first.state.generation).toBe(1);
    const rest = await searchSchedule({ process, initial, fitness, resume: JSON.parse(JSON.stringify(first.state)) as S3State });
    expect(rest.stopped).toBe(false);
    expect(rest.schedule).toEqual(full.schedule);
    expect(rest.state).toEqual(full.state);
  });

  it('stops cleanly mid-generation with the best schedule so far', async () => {
    const stop = new AbortController();
    let calls = 0;
    const counting: ScheduleFitness = async (s) => {
      calls++;
      if (calls === 9) stop.abort();
      return fitness(s);
    };
    const r = await searchSchedule({ process, initial, fitness: counting, options: tiny, signal: stop.signal });
    expect(r.stopped).toBe(true);
    expect(calls).toBe(9);
    expect(r.state.generation).toBe(0);
    expect(r.fitness).toBeLessThanOrEqual(r.initialFitness);
    expectValid(r.schedule);
  });

  it('rejects bad options and mismatched states', async () => {
    await expect(searchSchedule({ process, initial, fitness, options: { screen: 0 } })).rejects.toThrow(/screen must be an integer/);
    await expect(searchSchedule({ process, initial: { times: grid, steps: initial.steps.slice(1) }, fitness })).rejects.toThrow(/one step per interval/);
    const first = await searchSchedule({ process, initial, fitness, options: { ...tiny, generations: 0 } });
    const other = unipcSchedule(Array.from(makeGrid(process, { type: 'logsnr', steps: 4, end: 'zero' })));
    await expect(searchSchedule({ process, initial: other, fitness, resume: first.state })).rejects.toThrow(/5-step schedule/);
  });
});
