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
