import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { RunError, UsageError } from '../../src/core/errors.js';
import type { Model } from '../../src/models/types.js';
import { resfusionForward, resfusionRestore, resfusionSchedule, resnoise, scheduleFromBetas } from '../../src/restoration/resfusion.js';

const d = 12;
const normals = (seed: number) => new Rng(seed).fillNormal(new Float64Array(d));

describe('Resfusion', () => {
  it('T = 12 gives the reference code\'s 5-step schedule: improved DDPM\'s linear betas ×1000/12, the last step landing on √ᾱ = ½', () => {
    const s = resfusionSchedule(12);
    const scale = 1000 / 12;
    const linear = (i: number) => scale * 1e-4 + ((scale * 0.02 - scale * 1e-4) * i) / 11;
    expect(s.betas.length).toBe(5);
    for (let i = 0; i < 4; i++) expect(s.betas[i]).toBeCloseTo(linear(i), 15);
    expect(Math.sqrt(s.alphaBar[4])).toBeCloseTo(0.5, 15);
    expect(Math.sqrt(s.alphaBar[3])).toBeGreaterThan(0.5);
    // Where the linear step lands within 0.01 below ½ it is kept as it is.
    const kept = resfusionSchedule(1000);
    expect(Math.sqrt(kept.alphaBar[kept.alphaBar.length - 1])).toBeLessThanOrEqual(0.5);
    expect(0.5 - Math.sqrt(kept.alphaBar[kept.alphaBar.length - 1])).toBeLessThan(0.01);
    expect(kept.betas[kept.betas.length - 1]).toBeCloseTo(1e-4 + ((0.02 - 1e-4) * (kept.betas.length - 1)) / 999, 15);
    expect(() => scheduleFromBetas([0.5, 1.2])).toThrow(UsageError);
  });

  it('at the acceleration point x_t = ½ x_in + √¾ ε whatever the clean image (the smooth equivalence transformation)', () => {
    const s = resfusionSchedule(12);
    const xIn = normals(1);
    const eps = normals(2);
    const a = resfusionForward(s, 4, normals(3), xIn, eps);
    const b = resfusionForward(s, 4, normals(4), xIn, eps);
    a.forEach((v, i) => {
      expect(v).toBeCloseTo(0.5 * xIn[i] + Math.sqrt(0.75) * eps[i], 12);
      expect(v).toBeCloseTo(b[i], 12);
    });
  });

  it('with the exact resnoise of a known clean image the chain ends on that image, from any start; from the clean image itself too', async () => {
    const s = resfusionSchedule(12);
    const x0 = normals(5);
    for (const xIn of [normals(6), x0]) {
      // The resnoise that x_t implies for this x0: ε = (x_t − √ᾱ x0 − (1 − √ᾱ)R)/√(1 − ᾱ).
      const oracle: Model = {
        prediction: 'epsilon', sampleShape: [d],
        predict: (x, _n, t) => {
          const a = s.alphaBar[t];
          const eps = x.map((v, i) => (v - Math.sqrt(a) * x0[i] - (1 - Math.sqrt(a)) * (xIn[i] - x0[i])) / Math.sqrt(1 - a));
          return Promise.resolve(resnoise(s, t, x0, xIn, eps));
        },
      };
      const r = await resfusionRestore({ model: oracle, schedule: s, condition: xIn, n: 1, rng: new Rng(7) });
      expect(r.nfe).toBe(5);
      r.x.forEach((v, i) => expect(v).toBeCloseTo(x0[i], 10));
    }
  });

  it('stops on a non-finite network output and refuses degraded images of the wrong size', async () => {
    const s = resfusionSchedule(12);
    const bad: Model = { prediction: 'epsilon', sampleShape: [d], predict: (x) => Promise.resolve(x.map(() => NaN)) };
    await expect(resfusionRestore({ model: bad, schedule: s, condition: normals(8), n: 1, rng: new Rng(0) })).rejects.toThrow(RunError);
    await expect(resfusionRestore({ model: bad, schedule: s, condition: normals(8), n: 2, rng: new Rng(0) })).rejects.toThrow(/n × 12 = 24/);
  });
});
