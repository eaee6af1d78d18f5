import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  builtinProblem, createProcess, samplers, findReference, findSampler, GaussianMixture, GmmOracle, makeGrid, namedRuns, sample, sigmaVe,
  unsupportedNames, UsageError, type GridSpec,
} from '../src/index.js';

/**
 * Every name from A1111 and ComfyUI (src/samplers/names.ts) against its definition in the tool:
 * its σ schedule against the lists A1111's own code gives for SD 1.x (the fixture of
 * test/schedulers.test.ts), and its sampler against Diffuse's translation of the k-diffusion
 * function the tool calls (test/parity.test.ts checks those translations against k-diffusion's
 * own outputs in ../shared/refs): same samples, bit for bit, from the same seed.
 */
const refs = JSON.parse(readFileSync(new URL('./fixtures/schedules/sd1-sigmas.json', import.meta.url), 'utf8')) as { a1111: Record<string, Record<string, number[]>> };
const sd = createProcess({ name: 'vp-discrete', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' });
const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), sd, 'epsilon');
const sigmas = (spec: GridSpec) => Array.from(makeGrid(sd, spec), (t) => sigmaVe(sd, t));

/** A1111's Schedule type behind a grid of names.ts, and whether the next-to-last σ is dropped. */
function a1111Schedule(g: GridSpec): { schedule: string; drop: boolean } | undefined {
  if (g.type === 'drop-penultimate') {
    const inner = a1111Schedule(g.of);
    return inner && { ...inner, drop: true };
  }
  const byType: Record<string, string> = { karras: 'Karras', exponential: 'Exponential', normal: 'Uniform' };
  return byType[g.type] ? { schedule: byType[g.type], drop: false } : undefined;
}

/**
 * What A1111 v1.10.1 runs for a label (modules/sd_samplers.py splits a " Karras" / " Exponential"
 * suffix off as the Schedule type; without one, the sampler's "Automatic" schedule of
 * modules/sd_samplers_kdiffusion.py; discard_next_to_last_sigma for DPM2, DPM2 a, DPM++ 3M SDE).
 */
const automatic: Record<string, string> = {
  'DPM++ 2M': 'Karras', 'DPM++ SDE': 'Karras', 'DPM++ 2M SDE': 'Exponential', 'DPM++ 2M SDE Heun': 'Exponential', 'DPM++ 2S a': 'Karras',
  'DPM++ 3M SDE': 'Exponential', Euler: 'Uniform', 'Euler a': 'Uniform', LMS: 'Uniform', Heun: 'Uniform', DPM2: 'Karras', 'DPM2 a': 'Karras',
};
const discards = new Set(['DPM2', 'DPM2 a', 'DPM++ 3M SDE']);
function a1111Expected(label: string): { schedule: string; drop: boolean } {
  const suffix = / (Karras|Exponential)$/.exec(label);
  const base = suffix ? label.slice(0, suffix.index) : label;
  return { schedule: suffix ? suffix[1] : automatic[base], drop: discards.has(base) };
}

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((s, i) => (want[i] === 0 ? expect(s).toBe(0) : expect(Math.abs(s / want[i] - 1)).toBeLessThan(2e-5)));
}

describe('names from A1111 and ComfyUI mean what they mean there', () => {
  for (const run of namedRuns) {
    it(`${run.tool} "${run.name}" → ${run.sampler} ${JSON.stringify(run.options)}${run.grid ? ` on ${run.grid(10).type}` : ''}`, async () => {
      const e = findSampler(run.name);
      expect(e.named?.sampler).toBe(run.sampler);
      expect(e.name).toBe(run.name);
      for (const [k, v] of Object.entries(run.options)) expect(e.defaults[k], k).toBe(v);
      if (run.grid) {
        expect(e.defaultGrid).toEqual(run.grid(10));
        const tool = a1111Schedule(run.grid(10));
        if (run.tool === 'A1111' && run.sampler !== 'unipc') expect(tool, 'the schedule A1111 runs for this label').toEqual(a1111Expected(run.name));
        if (tool) {
          // A1111 builds N + 1 sigmas and drops the next-to-last where it discards: compare with its N + 1 list.
          for (const n of tool.drop ? [3, 9, 24] : [4, 10, 25]) {
            const want = refs.a1111[tool.schedule][String(tool.drop ? n + 1 : n)];
            expectClose(sigmas(run.grid(n)), tool.drop ? [...want.slice(0, -2), 0] : want);
          }
        }
      }
      if (run.kdiffusion) {
        const config = run.options.solverType === 'heun' ? { solver_type: 'heun' } : {};
        const t = findReference('k-diffusion', run.kdiffusion).translate(config, 10);
        expect(t.sampler).toBe(run.sampler);
        const grid = run.grid?.(10) ?? { type: 'karras', steps: 10 };
        const viaName = await sample({ model, process: sd, sampler: run.name, grid, n: 16, seed: 4 });
        // ComfyUI's KSampler drops the next-to-last σ of any schedule for these names; sample() does too.
        const kdGrid = run.dropPenultimate && grid.type !== 'drop-penultimate' ? { type: 'drop-penultimate' as const, steps: 10, of: grid } : grid;
        const viaKd = await sample({ model, process: sd, sampler: t.sampler, options: t.options, grid: kdGrid, n: 16, seed: 4 });
        expect(viaName.x.data).toEqual(viaKd.x.data);
        expect(viaName.nfe).toBe(viaKd.nfe);
      }
    });
  }

  it('without --grid a name runs on its own schedule: "DPM++ 2M Karras" is dpmpp-2m on Karras σ, not the logSNR default', async () => {
    const named = await sample({ model, process: sd, sampler: 'DPM++ 2M Karras', steps: 10, n: 8, seed: 1 });
    expectClose(Array.from(named.grid, (t) => sigmaVe(sd, t)), refs.a1111.Karras['10']);
    const plain = await sample({ model, process: sd, sampler: 'dpmpp-2m', steps: 10, n: 8, seed: 1 });
    expect(plain.grid).not.toEqual(named.grid);
  });

  it("Diffuse's own lower-case names keep their meaning; the tools' exact spellings take theirs", () => {
    expect(findSampler('euler').named).toBeUndefined();
    expect(findSampler('Euler').named?.tool).toBe('A1111');
    expect(findSampler('unipc').defaults.variant).toBe('bh2');
    expect(findSampler('uni_pc').defaults.variant).toBe('bh1');
    expect(findSampler('uni_pc_bh2').defaults.variant).toBe('bh2');
    expect(findSampler('dpm 2m karras'.replace('dpm', 'DPM++')).named?.name).toBe('DPM++ 2M Karras');
    expect(findSampler('dpm_2_ancestral').named?.sampler).toBe('dpm2-ancestral');
    expect(findSampler('lcm').name).toBe('lcm');
  });

  it('every alias in the sampler registry still reaches its own sampler (none is shadowed by a name from a tool)', () => {
    for (const e of samplers) for (const a of e.aliases) expect(findSampler(a), `${a} → ${e.name}`).toBe(e);
  });

  for (const u of unsupportedNames) {
    it(`${u.tool} "${u.name}" is refused with the nearest equivalent`, () => {
      expect(() => findSampler(u.name)).toThrow(UsageError);
      expect(() => findSampler(u.name)).toThrow(`nearest: ${u.nearest}`);
    });
  }
});

describe("ComfyUI's lms", () => {
  it('is lms with denoiseLast: LMS of order 4 whose step to σ = 0 returns the model\'s x̂0 (the name lms keeps k-diffusion\'s meaning)', async () => {
    const { sample } = await import('../src/sample.js');
    const { createProcess } = await import('../src/process/index.js');
    const { makeGrid } = await import('../src/grid/index.js');
    const { GaussianMixture, GmmOracle } = await import('../src/models/oracle/gmm.js');
    const { builtinProblem } = await import('../src/models/oracle/builtin.js');
    const process = createProcess({ name: 'edm' });
    const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'sample');
    const grid = makeGrid(process, { type: 'karras', steps: 6, rho: 7, end: 'zero' });
    const xT = Float64Array.from({ length: 16 }, (_, i) => 80 * Math.sin(i + 1));
    const comfy = await sample({ model, process, sampler: 'lms', options: { order: 4, denoiseLast: true }, grid, xT });
    const head = await sample({ model, process, sampler: 'lms', options: { order: 4 }, grid: grid.subarray(0, grid.length - 1), xT });
    const last = await model.predict(head.x.data, 8, grid[grid.length - 2]);
    expect(Array.from(comfy.x.data)).toEqual(Array.from(last));
    const kd = await sample({ model, process, sampler: 'lms', options: { order: 4 }, grid, xT });
    expect(Math.max(...kd.x.data.map((v, i) => Math.abs(v - comfy.x.data[i])))).toBeGreaterThan(1e-6);
    expect(findSampler('lms').defaults.denoiseLast).toBe(false);
  });
});
