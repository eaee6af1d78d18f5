import { describe, expect, it } from 'vitest';
import { createProcess, GaussianMixture, GmmOracle, planSample, runPlan, sample, samplers, type SamplerName, type SamplerOptions } from '../src/index.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';

// The type checks below run in `npm run typecheck` (tsc over test/): an @ts-expect-error that no
// longer finds an error fails the suite, so the typed API cannot silently become untyped.

const process = createProcess({ name: 'vp' });
const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'sample');

describe('sampler options are typed per sampler name', () => {
  it('accepts the declared options and rejects misspelled keys and values at compile time', async () => {
    const ok: SamplerOptions<'unipc'> = { variant: 'bh1', order: 3 };
    const dual: SamplerOptions<'dualfast-ddim'> = { mixing: 1, eta: 0.5 };
    // @ts-expect-error a misspelled key
    const typo: SamplerOptions<'unipc'> = { varient: 'bh1' };
    // @ts-expect-error a value outside the option's choices
    const value: SamplerOptions<'ddim'> = { variance: 'fixed_huge' };
    // Other tools' names and aliases take untyped options, checked when the run starts.
    const alias: SamplerOptions<'DPM++ 2M Karras'> = { anything: 1 };
    expect([ok, dual, typo, value, alias]).toHaveLength(5);
    const run = () => sample({
      model, process, sampler: 'dpmpp-2m', n: 4, steps: 5,
      // @ts-expect-error sample() infers the name and checks its options
      options: { lowerOrderFinl: false },
    });
    await expect(run()).rejects.toThrow(/no option "lowerOrderFinl"; accepted: .*lowerOrderFinal/);
  });

  it('names every registered sampler in SamplerName', () => {
    const names: readonly SamplerName[] = samplers.map((s) => s.name as SamplerName);
    // @ts-expect-error not a Diffuse name
    const other: SamplerName = 'dpmpp2m';
    expect(names).toContain('dpmpp-2m');
    expect(other).toBe('dpmpp2m');
  });
});

describe('planSample resolves a run once; runPlan runs it', () => {
  it('gives the same bits as sample()', async () => {
    const req = { model, process, sampler: 'unipc', options: { variant: 'bh1' }, steps: 6, n: 8, seed: 3 } as const;
    const plan = planSample(req);
    expect(plan.sampler.name).toBe('unipc');
    expect(plan.options.variant).toBe('bh1');
    expect(plan.grid).toHaveLength(7);
    expect(plan.xT).toHaveLength(16);
    const a = await runPlan(plan, req);
    const b = await sample(req);
    expect(Array.from(a.x.data)).toEqual(Array.from(b.x.data));
  });

  it('scales z as init says and starts img2img at the strength\'s time', () => {
    const z = new Float64Array(8).fill(1);
    const t0 = (init: 'prior' | 'sigma' | 'sigma-plus-one') => planSample({ model, process, sampler: 'ddim', steps: 4, z, init }).xT[0];
    const plan = planSample({ model, process, sampler: 'ddim', steps: 4, z });
    const tStart = plan.grid[0];
    expect(t0('sigma')).toBeCloseTo(process.sigma(tStart), 14);
    expect(t0('sigma-plus-one')).toBeCloseTo(Math.hypot(process.sigma(tStart), process.alpha(tStart)), 14);
    const x0 = new Float64Array(8).fill(2);
    const img = planSample({ model, process, sampler: 'ddim', steps: 10, z, image: { x0, strength: 0.6 } });
    expect(img.start).toBe(4);
    expect(img.grid).toHaveLength(7);
    const t = img.grid[0];
    expect(img.xT[0]).toBeCloseTo(process.alpha(t) * 2 + process.sigma(t), 14);
  });

  it('refuses x_T given together with z', () => {
    const v = new Float64Array(8);
    expect(() => planSample({ model, process, sampler: 'ddim', xT: v, z: v })).toThrow(/not both/);
  });
});
