import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { addNoise, gaussianBlur, inpaintBox } from '../../src/restoration/index.js';

describe('restoration tasks (training/restoration.py denoise, deblur, inpaint)', () => {
  it('the blur of an impulse is the outer product of the normalised Gaussian kernel; a constant stays constant', () => {
    const S = 15;
    const x = new Float64Array(S * S);
    x[7 * S + 7] = 1;
    const b = gaussianBlur(x, 1, S, S, 1.5, 4);
    const k = Array.from({ length: 9 }, (_, i) => Math.exp(-((i - 4) ** 2) / (2 * 1.5 * 1.5)));
    const z = k.reduce((a, c) => a + c, 0);
    for (let r = -4; r <= 4; r++) for (let q = -4; q <= 4; q++) expect(b[(7 + r) * S + 7 + q]).toBeCloseTo((k[r + 4] / z) * (k[q + 4] / z), 14);
    expect(b[0]).toBe(0);
    gaussianBlur(new Float64Array(S * S).fill(0.3), 1, S, S).forEach((v) => expect(v).toBeCloseTo(0.3, 14));
  });

  it('the blur repeats edge pixels: a bright first column stays brighter at the edge than inside', () => {
    const S = 10;
    const x = new Float64Array(S * S).fill(-1);
    for (let r = 0; r < S; r++) x[r * S] = 1;
    const b = gaussianBlur(x, 1, S, S);
    expect(b[5 * S]).toBeGreaterThan(b[5 * S + 1]);
    expect(b[5 * S]).toBeGreaterThan(-1 + 2 * 0.35);
  });

  it('inpainting sets one hole × hole box per image to 0 and says where; noise has the asked std', () => {
    const S = 28;
    const { x, mask } = inpaintBox(new Float64Array(2 * S * S).fill(-1), 2, S, 12, new Rng(0));
    for (let i = 0; i < 2; i++) {
      const m = mask.subarray(i * S * S, (i + 1) * S * S);
      expect(m.reduce((a, v) => a + v, 0)).toBe(144);
      m.forEach((v, j) => expect(x[i * S * S + j]).toBe(v ? 0 : -1));
    }
    const noisy = addNoise(new Float64Array(20000), 0.3, new Rng(1));
    const sd = Math.sqrt(noisy.reduce((a, v) => a + v * v, 0) / noisy.length);
    expect(Math.abs(sd - 0.3)).toBeLessThan(0.01);
    expect(() => inpaintBox(new Float64Array(S * S), 1, S, 29, new Rng(0))).toThrow(UsageError);
    expect(() => gaussianBlur(new Float64Array(5), 1, S, S)).toThrow(UsageError);
  });
});
