import { describe, expect, it } from 'vitest';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess, type Process } from '../src/process/index.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { pfOdeEndpoint } from '../src/ode/pf-ode.js';
import { sampleErrors } from '../src/metrics/error.js';
import { sample } from '../src/sample.js';
import { findSampler } from '../src/samplers/index.js';
import { Rng } from '../src/core/rng.js';

const flow = createProcess({ name: 'flow' });
const edm = createProcess({ name: 'edm' });
const vp = createProcess({ name: 'vp', schedule: 'linear' });

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function run(p: Process, gmm: GaussianMixture, sampler: string, grid: Float64Array, xT: Float64Array) {
  const model = new GmmOracle(gmm, p, p === flow ? 'velocity' : 'epsilon');
  return sample({ model, process: p, sampler, grid, xT });
}

describe('flow samplers: registry', () => {
  it('are found by the names diffusers and UIs use', () => {
    expect(findSampler('FlowMatchEulerDiscreteScheduler').name).toBe('flow-euler');
    expect(findSampler('FlowMatchHeunDiscreteScheduler').name).toBe('flow-heun');
    expect(findSampler('Euler (flow)').name).toBe('flow-euler');
    expect(findSampler('flow-midpoint').defaultGrid).toEqual({ type: 'flow-shift', steps: 10, shift: 1, end: 'zero' });
  });

  it('cost 1, 2, 2 NFE per step (Heun: Euler on the last step to t = 0)', async () => {
    const gmm = new GaussianMixture(builtinProblem('ring8'));
    const model = new GmmOracle(gmm, flow, 'velocity');
    const nfe = async (sampler: string) => (await sample({ model, process: flow, sampler, steps: 10, n: 4, seed: 1 })).nfe;
    expect([await nfe('flow-euler'), await nfe('flow-heun'), await nfe('flow-midpoint')]).toEqual([10, 19, 20]);
  });
});

/**
 * A point mass x0 = μ: along the exact path x_t = α(t)μ + σ(t)ε the velocity α'μ + σ'ε is constant
 * in t when α and σ are affine in t (flow: α = 1 − t, σ = t; edm: α = 1, σ = t), so the path is a
 * straight line and every Runge–Kutta step in t is exact. Under vp the path is curved in t, so
 * steps in t are not exact there, while the exponential integrator dpmpp-2m is exact everywhere.
 */
describe('exactness on a point mass', () => {
  const gmm = new GaussianMixture(builtinProblem('point'));
  const mu = gmm.means;
  const z = new Rng(5).fillNormal(new Float64Array(8 * gmm.d));
  /** Every grid here ends at σ = 0, where the exact path reaches μ. */
  const onMu = (xT: Float64Array) => xT.map((_, i) => mu[i % gmm.d]);
  const grids: [Process, GridSpec][] = [
    [flow, { type: 'flow-shift', steps: 7, shift: 1, end: 'zero' }],
    [flow, { type: 'flow-shift', steps: 7, shift: 3, end: 'zero' }],
    [edm, { type: 'karras', steps: 7, end: 'zero' }],
  ];
  for (const [p, spec] of grids) {
    for (const sampler of ['flow-euler', 'flow-heun', 'flow-midpoint', 'dpmpp-2m']) {
      it(`${sampler} on ${p.name}, ${JSON.stringify(spec)}: lands on μ (≤ 1e-10)`, async () => {
        const grid = makeGrid(p, spec);
        const xT = z.map((v) => v * p.priorStd(grid[0]));
        const out = await run(p, gmm, sampler, grid, xT);
        expect(maxAbsDiff(out.x.data, onMu(xT))).toBeLessThanOrEqual(1e-10);
      });
    }
  }

  it('under vp, dpmpp-2m is exact and flow-euler (steps in t on a curved path) is not', async () => {
    const grid = makeGrid(vp, { type: 'logsnr', steps: 7, end: 'zero' });
    const xT = z.map((v) => v * vp.priorStd(grid[0]));
    const exact = onMu(xT);
    expect(maxAbsDiff((await run(vp, gmm, 'dpmpp-2m', grid, xT)).x.data, exact)).toBeLessThanOrEqual(1e-10);
    expect(maxAbsDiff((await run(vp, gmm, 'flow-euler', grid, xT)).x.data, exact)).toBeGreaterThan(1e-2);
  });
});

describe('flow samplers on gmm16 under the flow process', () => {
  const gmm = new GaussianMixture(builtinProblem('gmm16'));
  const n = 16;
  const z = new Rng(3).fillNormal(new Float64Array(n * gmm.d));
  // pfOdeEndpoint needs α > 0 at the start, so the grids start at t = 0.999 instead of 1.
  const start = 0.999;
  const truth = pfOdeEndpoint(gmm, flow, z, start, 0);
  const error = async (sampler: string, steps: number, shift = 1) => {
    const grid = makeGrid(flow, { type: 'flow-shift', steps, shift, start, end: 'zero' });
    return sampleErrors((await run(flow, gmm, sampler, grid, z)).x.data, truth, gmm).medianSampleRmsErr;
  };

  it('flow-euler is DDIM: on x = (1 − t)x0 + tε, Euler in t and in σ/α give the same step', async () => {
    const grid = makeGrid(flow, { type: 'flow-shift', steps: 12, shift: 3, start, end: 'zero' });
    const a = await run(flow, gmm, 'flow-euler', grid, z);
    const b = await run(flow, gmm, 'ddim', grid, z);
    expect(maxAbsDiff(a.x.data, b.x.data)).toBeLessThan(1e-12);
  });

  for (const [sampler, order] of [['flow-euler', 1], ['flow-heun', 2], ['flow-midpoint', 2]] as const) {
    it(`${sampler}: measured order ${order} ± 0.3 against the exact PF-ODE endpoint`, async () => {
      const steps = [20, 40, 80];
      const errs = await Promise.all(steps.map((s) => error(sampler, s)));
      const slope = -Math.log(errs[2] / errs[0]) / Math.log(steps[2] / steps[0]);
      expect(Math.abs(slope - order), `errors ${errs.map((e) => e.toExponential(2)).join(', ')}`).toBeLessThanOrEqual(0.3);
    });
  }

  // Measured (median RMS error, 10 steps): flow-euler 1.56e-1 (shift 1) vs 1.94e-1 (shift 3);
  // flow-midpoint 4.84e-3 vs 2.23e-3 (20 NFE). SD3's shift spends steps at high noise: on this smooth
  // mixture it helps the 2nd-order midpoint rule and hurts Euler.
  it('the SD3 shift 3 hurts flow-euler and helps flow-midpoint here', async () => {
    expect(await error('flow-euler', 10, 3)).toBeGreaterThan(1.2 * (await error('flow-euler', 10, 1)));
    expect(await error('flow-midpoint', 10, 3)).toBeLessThan(0.6 * (await error('flow-midpoint', 10, 1)));
  });
});
