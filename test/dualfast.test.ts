import { describe, expect, it } from 'vitest';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { findSampler, resolveOptions } from '../src/samplers/index.js';
import { mixingAt, mixPrediction } from '../src/samplers/dualfast.js';
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

  it('defaults (measured on the MNIST model): ddim mixing 1, c rising to it, τ = t_0; dpmpp-2m and unipc mixing 0, their bases bit for bit', async () => {
    expect(resolveOptions(findSampler('dualfast-ddim'), {})).toMatchObject({ mixing: 1, mixingSchedule: 'increasing', reference: 'first' });
    for (const base of ['dpmpp-2m', 'unipc']) {
      const ref = await run(base, spec);
      const dflt = await run(`dualfast-${base}`, spec);
      expect(Array.from(dflt.x.data)).toEqual(Array.from(ref.x.data));
    }
  });

  it('keeps the base options and passes them on', async () => {
    const ref = await run('unipc', spec, { order: 3, variant: 'bh1' });
    const off = await run('dualfast-unipc', spec, { order: 3, variant: 'bh1', mixing: 0 });
    expect(Array.from(off.x.data)).toEqual(Array.from(ref.x.data));
  });

  it('mixing schedule: constant, decreasing from c to 0, increasing from 0 to c', () => {
    const o = { mixing: 0.6, mixingSchedule: 'decreasing' } as const;
    expect([0, 1, 2, 3].map((i) => mixingAt(o, i, 4))).toEqual([0.6, 0.6 * (1 - 1 / 3), 0.6 * (1 - 2 / 3), 0]);
    expect([0, 3].map((i) => mixingAt({ ...o, mixingSchedule: 'increasing' }, i, 4))).toEqual([0, 0.6]);
    expect(mixingAt({ ...o, mixingSchedule: 'constant' }, 3, 4)).toBe(0.6);
  });

  it('Eq. 12 in data-prediction form: x̃0 = (x − σ((1 + c)ε − cε_τ))/α', () => {
    const x = Float64Array.from([0.3, -1.2]);
    const x0 = Float64Array.from([0.5, 0.25]);
    const epsRef = Float64Array.from([0.1, -0.4]);
    const [alpha, sigma, c] = [0.8, 0.6, 0.5];
    const eps = Array.from(x, (v, j) => (v - alpha * x0[j]) / sigma);
    const expected = eps.map((e, j) => (x[j] - sigma * ((1 + c) * e - c * epsRef[j])) / alpha);
    const out = x0.slice();
    mixPrediction(x, out, epsRef, alpha, sigma, c).forEach((v, j) => expect(v).toBeCloseTo(eps[j], 14));
    out.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 14));
    const none = x0.slice();
    mixPrediction(x, none, undefined, alpha, sigma, c);
    expect(Array.from(none)).toEqual(Array.from(x0));
  });

  it('dualfast-ddim, two steps on an exact denoiser: the second DDIM step uses ε̃ from the first step\'s ε (reference first and previous agree)', async () => {
    const grid = makeGrid(process, { type: 'logsnr', steps: 2, end: 'min' });
    const xT = z.map((v) => v * process.priorStd(grid[0]));
    const [t0, t1, t2] = grid;
    const a = (t: number) => process.alpha(t);
    const s = (t: number) => process.sigma(t);
    const n = xT.length / gmm.d;
    // The oracle predicts ε. Step 0 (no earlier ε): plain DDIM. Step 1 with c = 0.4 (constant schedule).
    const eps0 = await model.predict(xT, n, t0);
    const x1 = xT.map((v, j) => a(t1) * ((v - s(t0) * eps0[j]) / a(t0)) + s(t1) * eps0[j]);
    const eps1 = await model.predict(x1, n, t1);
    const mixed = eps1.map((e, j) => 1.4 * e - 0.4 * eps0[j]);
    const expected = x1.map((v, j) => {
      const x0 = (v - s(t1) * mixed[j]) / a(t1);
      return a(t2) * x0 + s(t2) * mixed[j];
    });
    for (const reference of ['first', 'previous'] as const) {
      const out = await sample({ model, process, sampler: 'dualfast-ddim', options: { mixing: 0.4, mixingSchedule: 'constant', reference }, grid, xT });
      out.x.data.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 12));
    }
  });

  it('rejects a negative mixing and an unknown schedule with what is accepted', () => {
    const e = findSampler('DualFast-DPM-Solver++');
    expect(e.name).toBe('dualfast-dpmpp-2m');
    expect(() => resolveOptions(e, { mixing: -1 })).toThrow(UsageError);
    expect(() => resolveOptions(e, { mixingSchedule: 'cosine' })).toThrow(/constant, decreasing, increasing/);
    expect(() => resolveOptions(e, { reference: 'last' })).toThrow(/first, previous/);
  });
});
