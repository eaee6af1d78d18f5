import { usage } from '../core/errors.js';
import { exp } from '../core/math.js';
import type { Rng } from '../core/rng.js';

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

/** training/restoration.py's denoise task: x plus Gaussian noise of standard deviation `std`. */
export function addNoise(x: ArrayLike<number>, std: number, rng: Rng): Float64Array {
  usage(std >= 0 && Number.isFinite(std), `the noise std must be a finite number ≥ 0, got ${std}`);
  return Float64Array.from(x, (v) => v + std * rng.normal());
}

/**
 * training/restoration.py's deblur task: a separable Gaussian blur of standard deviation `sigma` with
 * 2·radius + 1 taps, the edge pixels repeated outside the image (PyTorch's replicate padding).
 */
export function gaussianBlur(x: ArrayLike<number>, n: number, height: number, width: number, sigma = 1.5, radius = 4): Float64Array {
  usage(sigma > 0 && Number.isInteger(radius) && radius >= 0, `the blur needs sigma > 0 and an integer radius ≥ 0, got ${sigma}, ${radius}`);
  usage(x.length === n * height * width, `expected n × ${height * width} = ${n * height * width} values, got ${x.length}`);
  const k = Float64Array.from({ length: 2 * radius + 1 }, (_, i) => exp(-((i - radius) * (i - radius)) / (2 * sigma * sigma)));
  const z = k.reduce((a, b) => a + b, 0);
  k.forEach((v, i) => (k[i] = v / z));
  const tmp = new Float64Array(x.length);
  const out = new Float64Array(x.length);
  const clamp = (v: number, hi: number) => Math.min(hi - 1, Math.max(0, v));
  for (let i = 0; i < n; i++) {
    const base = i * height * width;
    for (let r = 0; r < height; r++) {
      for (let q = 0; q < width; q++) {
        let s = 0;
        for (let j = -radius; j <= radius; j++) s += k[j + radius] * x[base + r * width + clamp(q + j, width)];
        tmp[base + r * width + q] = s;
      }
    }
    for (let r = 0; r < height; r++) {
      for (let q = 0; q < width; q++) {
        let s = 0;
        for (let j = -radius; j <= radius; j++) s += k[j + radius] * tmp[base + clamp(r + j, height) * width + q];
        out[base + r * width + q] = s;
      }
    }
  }
  return out;
}

/** training/restoration.py's inpaint task: a hole × hole box at a uniformly random position of each image set to `fill` (0). */
export function inpaintBox(x: ArrayLike<number>, n: number, side: number, hole: number, rng: Rng, fill = 0): { x: Float64Array; mask: Uint8Array } {
  usage(Number.isInteger(hole) && hole >= 1 && hole <= side, `the hole must be an integer in 1..${side}, got ${hole}`);
  usage(x.length === n * side * side, `expected n × ${side * side} = ${n * side * side} values, got ${x.length}`);
  const out = Float64Array.from(x);
  const mask = new Uint8Array(x.length);
  for (let i = 0; i < n; i++) {
    const ox = Math.floor(rng.uniform() * (side - hole + 1));
    const oy = Math.floor(rng.uniform() * (side - hole + 1));
    for (let r = oy; r < oy + hole; r++) {
      for (let q = ox; q < ox + hole; q++) {
        out[i * side * side + r * side + q] = fill;
        mask[i * side * side + r * side + q] = 1;
      }
    }
  }
  return { x: out, mask };
}
