import { describe, expect, it } from 'vitest';
import { createProcess, GaussianMixture, GmmOracle, sample, samplers } from '../src/index.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';

/**
 * SampleRequest.project: called with x at every grid time after the first (a singlestep solver's
 * group boundaries only), then once after the last step; what it sets is what the sampler goes on
 * from, and what the run returns.
 */
describe('project', () => {
  const process = createProcess({ name: 'vp' });
  const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'epsilon');
  const singlestep: Record<string, number> = { 'dpm-solver-2': 3, 'dpm-solver-3': 2, 'dpmpp-2s': 3, 'dpmpp-3s': 2 };
  for (const s of samplers.filter((e) => e.family !== 'time-shift')) {
    it(`${s.name}: sees x at the step boundaries and keeps what it sets`, async () => {
      const times: number[] = [];
      let finals = 0;
      const r = await sample({
        model, process, sampler: s.name, steps: 6, n: 4, seed: 1,
        project: (x, t, final) => {
          if (final) finals++;
          else times.push(t);
          x[0] = 0.25;
        },
      });
      expect(r.x.data[0]).toBe(0.25);
      expect(finals).toBe(1);
      const inner = Array.from(r.grid.slice(1, -1));
      if (Object.hasOwn(singlestep, s.name)) {
        expect(times).toHaveLength(singlestep[s.name]);
        for (const t of times) expect(inner).toContain(t);
      }
      else expect(times).toEqual(inner);
    });
  }

  it('is refused by the time-shift samplers, whose samples are not at the grid times', async () => {
    await expect(sample({ model, process, sampler: 'ts-ddim', steps: 4, n: 2, project: () => undefined })).rejects.toThrow(/ts-ddim moves each sample on its own shifted times/);
  });

  it('what it sets is what the next step starts from (DDIM: x_{i+1} from the projected x_i)', async () => {
    const pinned = await sample({ model, process, sampler: 'ddim', steps: 4, n: 2, seed: 2, project: (x, _t, final) => { if (!final) x.fill(0); } });
    const free = await sample({ model, process, sampler: 'ddim', steps: 4, n: 2, seed: 2 });
    expect(Array.from(pinned.x.data)).not.toEqual(Array.from(free.x.data));
  });
});

/**
 * StepInfo.x and t: onStep reports the batch at the start and at each step boundary with its grid time; for a
 * deterministic sampler the batch at step k is what the same sampler reaches on the grid cut at k.
 */
describe('onStep with the batch', () => {
  const process = createProcess({ name: 'vp' });
  const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'epsilon');

  it('gives x at the grid times, equal to a run stopped there', async () => {
    const seen = new Map<number, { t: number; x: Float64Array }>();
    const r = await sample({
      model, process, sampler: 'ddim', steps: 6, n: 3, seed: 2,
      onStep: (info) => {
        if (info.x && info.t !== undefined) seen.set(info.step, { t: info.t, x: Float64Array.from(info.x) });
      },
    });
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(seen.get(0)?.x ?? [])).toEqual(Array.from(r.xT));
    for (const [k, v] of seen) expect(v.t).toBe(r.grid[k]);
    expect(Array.from(seen.get(6)?.x ?? [])).toEqual(Array.from(r.x.data));
    const cut = await sample({ model, process, sampler: 'ddim', grid: r.grid.slice(0, 4), n: 3, xT: r.xT });
    expect(Array.from(seen.get(3)?.x ?? [])).toEqual(Array.from(cut.x.data));
  });

  it('gives no x for the time-shift samplers but the final batch', async () => {
    const steps: number[] = [];
    await sample({ model, process, sampler: 'ts-ddim', steps: 4, n: 2, onStep: (info) => (info.x && steps.push(info.step)) });
    expect(steps).toEqual([4]);
  });
});
