import { describe, expect, it } from 'vitest';
import { integerTimeModel } from '../src/models/integer-time.js';
import type { Model } from '../src/models/types.js';

describe('integerTimeModel', () => {
  const seen: number[] = [];
  const probe: Model = { prediction: 'epsilon', sampleShape: [1], predict: async (x, _n, t) => (seen.push(t), x) };
  it('rounds half to even (NumPy) or truncates, and leaves non-finite times alone', async () => {
    const round = integerTimeModel(probe, 'round');
    const floor = integerTimeModel(probe, 'floor');
    for (const t of [775.134, 602.5, 603.5, 0.4, -Infinity]) await round.predict(new Float64Array(1), 1, t);
    for (const t of [602.77, 966.6, 0.9]) await floor.predict(new Float64Array(1), 1, t);
    expect(seen).toEqual([775, 602, 604, 0, -Infinity, 602, 966, 0]);
    expect(round.prediction).toBe('epsilon');
  });
});

describe('diffusersTimeModel: the timestep upstream feeds its model off the σ table', () => {
  it("log-σ interpolation gives diffusers' Euler timesteps for Karras / exponential / beta σ's (refs_ring8_diffusers2)", async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { refsDir } = await import('./support/refs.js');
    const { findReference } = await import('../src/samplers/index.js');
    const { createProcess } = await import('../src/process/index.js');
    const { makeGrid } = await import('../src/grid/index.js');
    const { diffusersTimeModel } = await import('../src/models/integer-time.js');
    const refs = JSON.parse(readFileSync(join(refsDir, 'refs_ring8_diffusers2.json'), 'utf8')) as { cases: { class: string; label: string; kind: string; steps: number; config: Record<string, unknown>; timesteps: number[] }[] };
    const cases = refs.cases.filter((c) => c.class === 'EulerDiscreteScheduler' && c.kind === 'txt2img' && /use_(karras|exponential|beta)_sigmas=True\)$/.test(c.label));
    expect(cases.length).toBeGreaterThanOrEqual(9);
    const worst = { fed: 0, grid: 0 };
    for (const c of cases) {
      const t = findReference('diffusers', c.class).translate(c.config, c.steps);
      expect(t.modelTime).toBe('log-sigma');
      const process = createProcess(t.process);
      const grid = makeGrid(process, t.grid);
      const fed: number[] = [];
      const probe = diffusersTimeModel({ prediction: 'epsilon', sampleShape: [1], predict: async (x, _n, time) => (fed.push(time), x) }, process, 'log-sigma');
      for (const time of grid.slice(0, -1)) await probe.predict(new Float64Array(1), 1, time);
      worst.fed = Math.max(worst.fed, ...fed.map((v, i) => Math.abs(v - c.timesteps[i])));
      worst.grid = Math.max(worst.grid, ...Array.from(grid.slice(0, -1), (g, i) => Math.abs(g - c.timesteps[i])));
    }
    // The timesteps fed equal upstream's float32 timesteps; the σ-linear grid times do not.
    console.log(`log-σ timing: worst |Δt| ${worst.fed.toExponential(2)} fed vs ${worst.grid.toExponential(2)} for the grid's own times`);
    expect(worst.fed).toBeLessThan(2e-4); // float32 timesteps near 1000 are spaced 6e-5 apart
    expect(worst.grid).toBeGreaterThan(10 * worst.fed);
  });
});
