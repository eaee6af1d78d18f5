import { describe, expect, it } from 'vitest';
import { sample } from '../src/sample.js';
import { createProcess } from '../src/process/index.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { ring8Problem } from './support/refs.js';
import { resolveOptions, findSampler } from '../src/samplers/index.js';

const gmm = new GaussianMixture(ring8Problem().gmm);
const process = createProcess({ name: 'vp-discrete' });
const model = new GmmOracle(gmm, process, 'epsilon');
const grid = Float64Array.from([999, 759, 499, 259, 0]);
const xT = Float64Array.from(ring8Problem().z.slice(0, 16).flat());

describe('tcd (strategic stochastic sampling)', () => {
  it('γ = 0 is DDIM on the same grid', async () => {
    const a = await sample({ model, process, sampler: 'tcd', options: { eta: 0 }, grid, xT });
    const b = await sample({ model, process, sampler: 'ddim', options: { eta: 0, clipSample: 0 }, grid, xT });
    expect(Math.max(...a.x.data.map((v, i) => Math.abs(v - b.x.data[i])))).toBeLessThan(1e-14);
  });

  it('γ > 0 jumps to ⌊(1 − γ)·t_next⌋ and re-noises to t_next: one draw per step but the last', async () => {
    const draws: number[] = [];
    const noise = (out: Float64Array) => (draws.push(1), out.fill(0));
    // With zero noise the re-noised sample is (α_next/α_s)·x_s: differs from DDIM unless γ = 0.
    const a = await sample({ model, process, sampler: 'tcd', options: { eta: 0.5 }, grid, xT, noise });
    const b = await sample({ model, process, sampler: 'ddim', options: { eta: 0, clipSample: 0 }, grid, xT });
    expect(draws.length).toBe(3);
    expect(Math.max(...a.x.data.map((v, i) => Math.abs(v - b.x.data[i])))).toBeGreaterThan(1e-3);
    expect(() => resolveOptions(findSampler('tcd'), { eta: 1.5 })).toThrow(/\[0, 1\]/);
  });
});

describe('invert (DDIM inversion)', () => {
  it('maps data to noise that DDIM maps back to the data (exact oracle, 200 steps)', async () => {
    const { invert } = await import('../src/invert.js');
    // 700, 695, …, 5, 0, then the clean end −1
    const g = Float64Array.from([...Array.from({ length: 141 }, (_, i) => 700 - 5 * i), -1]);
    const x0 = Float64Array.from(ring8Problem().gmm.means.slice(0, 4).flat());
    const inv = await invert({ model, process, grid: g, x: x0 });
    const back = await sample({ model, process, sampler: 'ddim', options: { eta: 0, clipSample: 0 }, grid: g, xT: inv.x.data });
    expect(inv.nfe).toBe(g.length - 1);
    const roundTrip = Math.max(...back.x.data.map((v, i) => Math.abs(v - x0[i])));
    const moved = Math.max(...inv.x.data.map((v, i) => Math.abs(v - x0[i])));
    expect(roundTrip).toBeLessThan(moved / 20);
    await expect(invert({ model, process, grid: g, x: new Float64Array(3) })).rejects.toThrow(/whole number of samples/);
    // a multistep solver run upward (DPMSolverMultistepInverse) inverts too, more accurately at the same NFE
    const h = g.subarray(0, g.length - 1); // a solver starts above the clean end, at t = 0 as diffusers does
    const inv2 = await invert({ model, process, grid: h, x: x0, sampler: 'dpmpp-2m', samplerOptions: { lowerOrderFinal: false } });
    const back2 = await sample({ model, process, sampler: 'dpmpp-2m', options: { lowerOrderFinal: false }, grid: h, xT: inv2.x.data });
    expect(inv2.nfe).toBe(h.length - 1);
    await expect(invert({ model, process, grid: g, x: x0, sampler: 'dpmpp-2m' })).rejects.toThrow(/above the clean end/);
    expect(Math.max(...back2.x.data.map((v, i) => Math.abs(v - x0[i])))).toBeLessThan(roundTrip);
    await expect(invert({ model, process, grid: h, x: x0, sampler: 'euler-ancestral' })).rejects.toThrow(/deterministic/);
  });
});
