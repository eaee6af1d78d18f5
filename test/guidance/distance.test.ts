import { describe, expect, it } from 'vitest';
import { medianBandwidth, mmd2, momentErrors, sampleMoments, slicedWasserstein2, wasserstein2Sorted1d } from '../../src/metrics/distance.js';
import { Rng } from '../../src/core/rng.js';
import { exp } from '../../src/core/math.js';

describe('distances between sample sets', () => {
  it('1-D W2 is exact for unequal sizes', () => {
    // {0, 1} vs {0, 0.5, 1}: quantiles differ on (1/3, 1/2) by 0.5 and on (1/2, 2/3) by 0.5.
    expect(wasserstein2Sorted1d(Float64Array.of(0, 1), Float64Array.of(0, 0.5, 1))).toBeCloseTo(0.25 / 6 + 0.25 / 6, 15);
    expect(wasserstein2Sorted1d(Float64Array.of(1, 2, 3), Float64Array.of(2, 3, 4))).toBeCloseTo(1, 15);
  });

  it('SW2 of a shifted copy is ‖c‖·√(E(θ·e)²) = ‖c‖/√d, and 0 for the same set', () => {
    const d = 3;
    const x = new Rng(1).fillNormal(new Float64Array(200 * d));
    const c = [0.3, -0.4, 1.2];
    const y = x.map((v, i) => v + c[i % d]);
    const sw = slicedWasserstein2(x, y, d, new Rng(2), 4000);
    expect(sw).toBeCloseTo(Math.hypot(...c) / Math.sqrt(d), 1);
    expect(slicedWasserstein2(x, x, d, new Rng(2), 10)).toBe(0);
  });

  it('unbiased MMD² equals the U-statistic written out, and separates shifted sets', () => {
    const x = Float64Array.of(0, 1, 3);
    const y = Float64Array.of(0.5, 2);
    const k = (a: number, b: number) => exp(-((a - b) * (a - b)) / 2);
    const xx = (2 * (k(0, 1) + k(0, 3) + k(1, 3))) / 6;
    const yy = k(0.5, 2);
    let xy = 0;
    for (const a of x) for (const b of y) xy += k(a, b);
    expect(mmd2(x, y, 1, 1).mmd2).toBeCloseTo(xx + yy - (2 * xy) / 6, 14);
    const rng = new Rng(3);
    const a = rng.fillNormal(new Float64Array(300 * 2));
    const b = rng.fillNormal(new Float64Array(300 * 2));
    expect(Math.abs(mmd2(a, b, 2).mmd2)).toBeLessThan(0.01);
    expect(mmd2(a, b.map((v) => v + 1), 2).mmd2).toBeGreaterThan(0.1);
  });

  it('median bandwidth and moments', () => {
    expect(medianBandwidth(Float64Array.of(0, 1, 3), 1)).toBe(2);
    const x = Float64Array.of(1, 2, 3, 6);
    const m = sampleMoments(x, 2);
    expect(Array.from(m.mean)).toEqual([2, 4]);
    expect(Array.from(m.covariance)).toEqual([2, 4, 4, 8]);
    expect(momentErrors(x, 2, { mean: Float64Array.of(2, 3), covariance: Float64Array.of(2, 4, 4, 6) })).toEqual({ mean: 1, covariance: 2 });
  });
});
