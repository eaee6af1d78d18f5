import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { MASK_SCHEDULES, makeMaskSchedule, maskForward, type MaskScheduleSpec } from '../../src/discrete/index.js';

describe('masking schedules', () => {
  for (const type of MASK_SCHEDULES) {
    it(`${type}: α decreasing from ≈1 to ≈0, dα matches finite differences, t(α(t)) = t`, () => {
      const s = makeMaskSchedule({ type } as MaskScheduleSpec);
      expect(s.alpha(0)).toBeGreaterThan(0.999);
      expect(s.alpha(1)).toBeLessThan(1.01e-3);
      for (let i = 1; i < 50; i++) {
        const t = i / 50;
        const h = 1e-6;
        expect(s.alpha(t)).toBeLessThan(s.alpha(t - 0.02));
        expect(s.dAlpha(t)).toBeCloseTo((s.alpha(t + h) - s.alpha(t - h)) / (2 * h), 6);
        expect(Math.abs(s.tOfAlpha(s.alpha(t)) - t)).toBeLessThan(1e-10);
      }
    });
  }

  it('rejects an unknown schedule and bad parameters', () => {
    expect(() => makeMaskSchedule({ type: 'sqrt' } as unknown as MaskScheduleSpec)).toThrow(/accepted: linear, cosine, log-linear, geometric/);
    expect(() => makeMaskSchedule({ type: 'geometric', sigmaMin: 2, sigmaMax: 1 })).toThrow(/sigmaMin < sigmaMax/);
  });

  it('forward masking keeps a token with probability α(t)', () => {
    const s = makeMaskSchedule({ type: 'cosine' });
    const x0 = new Int32Array(40_000).fill(1);
    const xt = maskForward(x0, 5, 0.3, s, new Rng(1));
    const kept = xt.filter((v) => v === 1).length / x0.length;
    expect(xt.every((v) => v === 1 || v === 5)).toBe(true);
    expect(Math.abs(kept - s.alpha(0.3))).toBeLessThan(4 * Math.sqrt(0.25 / x0.length));
  });
});
