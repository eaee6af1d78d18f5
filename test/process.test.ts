import { describe, expect, it } from 'vitest';
import { createProcess, VpDiscrete, type ProcessConfig } from '../src/process/index.js';
import { fromDataCoefficients, toDataCoefficients, predictions } from '../src/param/convert.js';
import { refs } from './support/refs.js';

const configs: ProcessConfig[] = [
  { name: 'vp-discrete' },
  { name: 'vp-discrete', betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 },
  { name: 'vp-discrete', betaSchedule: 'squaredcos_cap_v2' },
  { name: 'vp', schedule: 'linear' },
  { name: 'vp', schedule: 'cosine' },
  { name: 'edm' },
  { name: 've' },
  { name: 'flow' },
];

describe('processes', () => {
  for (const c of configs) {
    const p = createProcess(c);
    const label = JSON.stringify(c);
    const times = Array.from({ length: 23 }, (_, i) => p.tMin + ((p.tMax - p.tMin) * (i + 0.37)) / 23);

    it(`${label}: λ = log(α/σ) and tOfLogSnr inverts it`, () => {
      for (const t of times) {
        expect(p.logSnr(t)).toBeCloseTo(Math.log(p.alpha(t) / p.sigma(t)), 10);
        expect(Math.abs(p.tOfLogSnr(p.logSnr(t)) - t)).toBeLessThan(1e-9 * Math.max(1, Math.abs(t)));
      }
    });

    it(`${label}: dα/dt and dσ/dt match finite differences`, () => {
      for (const t of times) {
        const h = 1e-6 * Math.max(1, Math.abs(t));
        const fdA = (p.alpha(t + h) - p.alpha(t - h)) / (2 * h);
        const fdS = (p.sigma(t + h) - p.sigma(t - h)) / (2 * h);
        expect(Math.abs(p.dAlpha(t) - fdA)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fdA)));
        expect(Math.abs(p.dSigma(t) - fdS)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fdS)));
      }
    });

    it(`${label}: every prediction type converts to x0 and back exactly`, () => {
      for (const t of times) {
        for (const pred of predictions) {
          const [a, b] = fromDataCoefficients(p, t, pred);
          const [c2, d2] = toDataCoefficients(p, t, pred);
          // x0 = c·x + d·(a·x + b·x0) for all x, x0  ⇔  c + d·a = 0 and d·b = 1
          expect(Math.abs(c2 + d2 * a)).toBeLessThan(1e-8 * Math.max(1, Math.abs(c2)));
          expect(Math.abs(d2 * b - 1)).toBeLessThan(1e-10);
        }
      }
    });
  }

  it('VP discrete reproduces diffusers ᾱ: init_noise_sigma and the first ᾱ of the reference runs', () => {
    const p = new VpDiscrete({ betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });
    const euler = refs().cases.find((c) => c.sampler === 'EulerDiscreteScheduler');
    expect(euler?.init_noise_sigma).toBeDefined();
    // Euler with linspace spacing: init_noise_sigma = σ_max = √((1 − ᾱ_999)/ᾱ_999), float32-rounded
    expect(Math.abs(p.sigmaVeAt(999) - euler!.init_noise_sigma!)).toBeLessThan(2e-5);
    expect(Math.fround(p.alphasCumprod[0])).toBe(Math.fround(0.999899983));
    expect(p.alphaBar(-1)).toBe(1);
  });

  it('VP discrete ᾱ table is bit-identical to torch: every float32 σ diffusers stored at an integer timestep', () => {
    const p = new VpDiscrete();
    let checked = 0;
    for (const c of refs().cases) {
      if (c.library !== 'diffusers' || !c.sigmas || !c.timesteps) continue;
      c.timesteps.forEach((t, i) => {
        if (!Number.isInteger(t)) return;
        const ab = p.alphasCumprod[t];
        // diffusers: ((1 − ᾱ)/ᾱ)^0.5 on float32 tensors
        expect(Math.fround(Math.sqrt(Math.fround(Math.fround(1 - ab) / ab)))).toBe(Math.fround(Number(c.sigmas![i])));
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(400);
  });

  it('rejects invalid configs with what is accepted', () => {
    expect(() => createProcess({ name: 'nope' } as unknown as ProcessConfig)).toThrow(/accepted: vp-discrete/);
    expect(() => createProcess({ name: 'vp-discrete', betaSchedule: 'cubic' as 'linear' })).toThrow(/accepted: linear/);
    expect(() => createProcess({ name: 'edm', sigmaMin: 5, sigmaMax: 1 })).toThrow(/sigmaMin < sigmaMax/);
  });
});
