import { usage } from '../core/errors.js';

/**
 * The super-resolution degradation of training/restoration.py's sr tasks, applied to n images of
 * height × width: average-pool by `factor` (the low-resolution image), then repeat every pixel
 * factor × factor times (nearest upsampling back to full size, the network's condition input).
 */
export function poolAndRepeat(x: ArrayLike<number>, n: number, height: number, width: number, factor: number): Float64Array {
  usage(Number.isInteger(factor) && factor >= 1 && height % factor === 0 && width % factor === 0, `the pooling factor must be a positive integer dividing ${height}×${width}, got ${factor}`);
  usage(x.length === n * height * width, `expected n × ${height * width} = ${n * height * width} values, got ${x.length}`);
  const out = new Float64Array(x.length);
  const area = factor * factor;
  for (let i = 0; i < n; i++) {
    const base = i * height * width;
    for (let r = 0; r < height; r += factor) {
      for (let q = 0; q < width; q += factor) {
        let s = 0;
        for (let a = 0; a < factor; a++) for (let b = 0; b < factor; b++) s += x[base + (r + a) * width + q + b];
        for (let a = 0; a < factor; a++) for (let b = 0; b < factor; b++) out[base + (r + a) * width + q + b] = s / area;
      }
    }
  }
  return out;
}
