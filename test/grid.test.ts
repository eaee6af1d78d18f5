import { describe, expect, it } from 'vitest';
import { makeGrid } from '../src/grid/index.js';
import '../src/grid/basic.js';
import '../src/grid/diffusers.js';
import { diffusersTimesteps, roundHalfEven } from '../src/grid/diffusers.js';
import { flowShift, sigmaVe } from '../src/grid/basic.js';
import { createProcess } from '../src/process/index.js';
import { edmPreconditioning } from '../src/param/edm.js';

describe('grids', () => {
  it('diffusers spacings match the table of Lin et al. 2024 (10 of 1000 steps)', () => {
    expect(diffusersTimesteps(1000, 10, 'linspace')).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expect(diffusersTimesteps(1000, 10, 'leading')).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(diffusersTimesteps(1000, 10, 'trailing')).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    expect(diffusersTimesteps(1000, 10, 'leading', 1)[0]).toBe(901);
    for (const steps of [3, 6, 9, 11, 13, 15, 18, 21]) expect(diffusersTimesteps(1000, steps, 'trailing')).toHaveLength(steps);
    expect(diffusersTimesteps(1000, 3, 'trailing')).toEqual([999, 666, 332]);
    expect([0.5, 1.5, 2.5, -0.5, 2.4].map(roundHalfEven)).toEqual([0, 2, 2, -0, 2]);
  });

  it('the diffusers grid ends at ᾱ = 1 (t = −1) or at t = 0', () => {
    const p = createProcess({ name: 'vp-discrete' });
    expect(Array.from(makeGrid(p, { type: 'diffusers', steps: 5 }))).toEqual([800, 600, 400, 200, 0, -1]);
    expect(Array.from(makeGrid(p, { type: 'diffusers', steps: 5, end: 'min' }))).toEqual([800, 600, 400, 200, 0, 0]);
  });

  it('karras grid on EDM is Karras et al. Eq. 5 with σ = 0 appended', () => {
    const p = createProcess({ name: 'edm' });
    const g = makeGrid(p, { type: 'karras', steps: 4, rho: 7, sigmaMin: 0.002, sigmaMax: 80 });
    const r = (i: number) => (80 ** (1 / 7) + (i / 3) * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7;
    expect(g).toHaveLength(5);
    for (let i = 0; i < 4; i++) expect(g[i]).toBeCloseTo(r(i), 12);
    expect(g[4]).toBe(0);
  });

  it('logsnr grid is uniform in λ and time-uniform grid uniform in t (VP linear)', () => {
    const p = createProcess({ name: 'vp' });
    const g = makeGrid(p, { type: 'logsnr', steps: 6 });
    const l = Array.from(g, (t) => p.logSnr(t));
    for (let i = 1; i < 6; i++) expect(l[i + 1] - l[i]).toBeCloseTo(l[1] - l[0], 9);
    expect(g[0]).toBeCloseTo(1, 12);
    expect(g[6]).toBeCloseTo(1e-3, 12);
    const u = makeGrid(p, { type: 'time-uniform', steps: 4, end: 'zero' });
    expect(Array.from(u)).toEqual([1, 0.75025, 0.5005, 0.25075, 0].map((v, i) => (i < 4 ? 1 + (i * (1e-3 - 1)) / 3 : 0)));
  });

  it('karras grid works for VP via σ_VE = σ/α', () => {
    const p = createProcess({ name: 'vp' });
    const g = makeGrid(p, { type: 'karras', steps: 5, end: 'min' });
    expect(sigmaVe(p, g[0])).toBeCloseTo(sigmaVe(p, 1), 9);
    expect(sigmaVe(p, g[5])).toBeCloseTo(sigmaVe(p, 1e-3), 9);
  });

  it('karras and exponential on flow, where σ(1) is infinite, start at 1 − t_end as logsnr does', () => {
    const p = createProcess({ name: 'flow' });
    for (const type of ['karras', 'exponential'] as const) {
      const g = makeGrid(p, { type, steps: 5 });
      expect(g.every((t) => Number.isFinite(t)), type).toBe(true);
      expect(g[0]).toBeCloseTo(1 - p.tMin, 12);
      expect(sigmaVe(p, g[0])).toBeCloseTo(1 / sigmaVe(p, p.tMin), 6);
      expect(g[g.length - 1]).toBe(0);
    }
  });

  it('SD3 flow shift', () => {
    expect(flowShift(0.5, 3)).toBeCloseTo(0.75, 15);
    expect(flowShift(1, 3)).toBe(1);
    const p = createProcess({ name: 'flow' });
    const g = makeGrid(p, { type: 'flow-shift', steps: 2, shift: 3 });
    expect(g[0]).toBe(1);
    expect(g[1]).toBeCloseTo(flowShift(1e-3, 3), 15);
    expect(g[2]).toBe(0);
  });

  it('a logSNR grid on flow starts where λ mirrors its end (λ(1) = −∞), and refuses to start at α = 0', () => {
    const p = createProcess({ name: 'flow' });
    const g = makeGrid(p, { type: 'logsnr', steps: 4, end: 'zero' });
    expect(g[0]).toBeCloseTo(1 - 1e-3, 12);
    expect(g[3]).toBeCloseTo(1e-3, 12);
    expect(g[4]).toBe(0);
    expect(() => makeGrid(p, { type: 'logsnr', steps: 4, start: 1 })).toThrow(/cannot start at t=1 .* α = 0/);
  });

  it('rejects bad grids with what is accepted', () => {
    const p = createProcess({ name: 'edm' });
    expect(() => makeGrid(p, { type: 'karras', steps: 0 })).toThrow(/steps must be an integer from 1 to 100000/);
    expect(() => makeGrid(p, { type: 'wiggly', steps: 3 } as never)).toThrow(/accepted: .*karras/);
    expect(() => makeGrid(p, { type: 'explicit', times: [1, 2] })).toThrow(/non-increasing/);
    expect(() => makeGrid(p, { type: 'explicit', times: [100, 1] })).toThrow(/outside/);
    expect(() => makeGrid(p, { type: 'diffusers', steps: 3 })).toThrow(/vp-discrete/);
  });
});

describe('EDM preconditioning (Karras et al. 2022, Table 1)', () => {
  it('gives unit-variance network input and target', () => {
    for (const s of [0.002, 0.5, 80]) {
      const c = edmPreconditioning(s, 0.5);
      expect(c.cIn * c.cIn * (s * s + 0.25)).toBeCloseTo(1, 12);
      // D = c_skip x + c_out F with data of std σ_d: effective target variance 1 (Eq. 138–140)
      expect((c.cSkip ** 2 * (s * s + 0.25) + 0.25 - 2 * c.cSkip * 0.25) / c.cOut ** 2).toBeCloseTo(1, 10);
      expect(c.cNoise).toBeCloseTo(Math.log(s) / 4, 15);
    }
  });
});
