import { describe, expect, it } from 'vitest';
import { OutputErrorMean } from '../src/quant/bias.js';
import { Rng } from '../src/core/rng.js';

describe('OutputErrorMean (empirical bias correction, Nagel et al. 2019)', () => {
  it('is E[ỹ − y] per channel, exactly, over batches of different sizes and times', () => {
    // 3 samples × 2 channels × 4 values; the quantised output adds +0.25 to channel 0 and −0.5 to channel 1
    // of the first two samples, and (1, 2, 3, 4) / (−4, 0, 0, 0) to the third.
    const reference = Float64Array.from({ length: 24 }, (_, i) => (i * 7) % 5 - 2);
    const offsets = [0.25, 0.25, 0.25, 0.25, -0.5, -0.5, -0.5, -0.5, 0.25, 0.25, 0.25, 0.25, -0.5, -0.5, -0.5, -0.5, 1, 2, 3, 4, -4, 0, 0, 0];
    const quantised = reference.map((v, i) => v + offsets[i]);
    const e = new OutputErrorMean(2);
    e.add(reference.subarray(0, 16), quantised.subarray(0, 16), [10, 500]);
    e.add(reference.subarray(16), quantised.subarray(16), [999]);
    expect(e.count).toBe(12);
    expect(e.mean).toEqual([(8 * 0.25 + 10) / 12, (8 * -0.5 - 4) / 12]);
    expect(e.rms[0]).toBeCloseTo(Math.sqrt((8 * 0.0625 + 30) / 12), 14);
    expect(e.rms[1]).toBeCloseTo(Math.sqrt((8 * 0.25 + 16) / 12), 14);
    expect(e.perSample).toEqual([{ t: 10, weight: 1, mean: [0.25, -0.5] }, { t: 500, weight: 1, mean: [0.25, -0.5] }, { t: 999, weight: 1, mean: [2.5, -1] }]);
    expect(e.weightedMean).toEqual(e.mean);
    expect(e.byTime([0, 500, 1000])).toEqual([
      { lo: 0, hi: 500, samples: 1, mean: [0.25, -0.5] },
      { lo: 500, hi: 1000, samples: 2, mean: [1.375, -0.75] },
    ]);
  });

  it('weights samples: Σ w_i ē_i / Σ w_i per channel (the σ_t²-weighted mean ignores t = 0)', () => {
    const e = new OutputErrorMean(1);
    e.add([0, 0, 0, 0, 0, 0], [-1, -3, 0.5, 0.5, 1, 2], [0, 300, 900], [0, 0.25, 0.75]);
    expect(e.mean).toEqual([0]);
    expect(e.weightedMean).toEqual([(0.25 * 0.5 + 0.75 * 1.5) / 1]);
    expect(e.perSample.map((s) => s.weight)).toEqual([0, 0.25, 0.75]);
    expect(() => e.add([0], [0], [1], [-1])).toThrow(/sample weights must be finite and ≥ 0, got -1/);
    expect(() => e.add([0, 0], [0, 0], [1, 2], [1])).toThrow(/got 1 weights for 2 samples/);
    const zero = new OutputErrorMean(1);
    zero.add([0], [1], [0], [0]);
    expect(() => zero.weightedMean).toThrow(/all had weight 0/);
  });

  it('subtracting the measured mean leaves outputs whose mean error is 0 (to rounding), whatever the noise', () => {
    const rng = new Rng(9);
    const reference = rng.fillNormal(new Float64Array(3 * 784));
    const quantised = reference.map((v) => v + 0.004 + 0.05 * rng.normal());
    const e = new OutputErrorMean(1);
    e.add(reference, quantised, [100, 400, 900]);
    const delta = e.mean[0];
    expect(Math.abs(delta - 0.004)).toBeLessThan(0.005);
    const after = new OutputErrorMean(1);
    after.add(reference, quantised.map((v) => v - delta), [100, 400, 900]);
    expect(Math.abs(after.mean[0])).toBeLessThan(1e-15);
    expect(after.rms[0]).toBeLessThan(e.rms[0]);
  });

  it('rejects outputs that do not match the reference or the channel count', () => {
    const e = new OutputErrorMean(2);
    expect(() => e.add([1, 2, 3, 4], [1, 2, 3], [0])).toThrow(/quantised output has 3 values, the full-precision one 4/);
    expect(() => e.add([1, 2, 3], [1, 2, 3], [0])).toThrow(/3 output values are not 1 samples × 2 channels/);
    expect(() => e.add([1, 2], [1, NaN], [0])).toThrow(/output error NaN at value 1 is not finite/);
    expect(() => e.mean).toThrow(/no outputs were compared/);
    expect(() => new OutputErrorMean(0)).toThrow(/output channels must be an integer ≥ 1, got 0/);
  });
});
