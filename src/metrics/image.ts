import { exp, log } from '../core/math.js';
import { usage } from '../core/errors.js';

/** Restoration metrics on grey images: PSNR and SSIM, one value per image. */

/** The value range [lo, hi] of the images (the peak signal of PSNR, the constants of SSIM). */
export type ValueRange = readonly [number, number];

function checkPair(x: ArrayLike<number>, y: ArrayLike<number>, n: number, size: number, range: ValueRange, who: string): number {
  usage(Number.isInteger(n) && n >= 1, `${who}: n must be a positive integer, got ${n}`);
  usage(x.length === n * size && y.length === n * size, `${who}: both image sets must hold n × ${size} = ${n * size} values, got ${x.length} and ${y.length}`);
  usage(Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[1] > range[0], `${who}: the range must be finite with hi > lo, got [${range.join(', ')}]`);
  return range[1] - range[0];
}

/**
 * Peak signal-to-noise ratio per image, 10·log10(R² / MSE) dB with R = hi − lo of `range`;
 * Infinity for identical images. x and y hold n images of `size` values each.
 */
export function psnr(x: ArrayLike<number>, y: ArrayLike<number>, n: number, size: number, range: ValueRange = [-1, 1]): Float64Array {
  const r = checkPair(x, y, n, size, range, 'PSNR');
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let se = 0;
    for (let k = i * size; k < (i + 1) * size; k++) se += (x[k] - y[k]) * (x[k] - y[k]);
    out[i] = se === 0 ? Infinity : (10 * log((r * r * size) / se)) / Math.LN10;
  }
  return out;
}

/** The normalised Gaussian window of SSIM: `width` taps of standard deviation `sd`, separable. */
function gaussianTaps(width: number, sd: number): Float64Array {
  const w = new Float64Array(width);
  const c = (width - 1) / 2;
  for (let i = 0; i < width; i++) w[i] = exp(-((i - c) * (i - c)) / (2 * sd * sd));
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}

/** Options of {@link ssim}; the defaults are Wang et al.'s (2004, Sec. III-C). */
export interface SsimOptions {
  range?: ValueRange;
  /** Side of the Gaussian window (default 11) and its standard deviation (default 1.5). */
  window?: number;
  sd?: number;
  /** K1, K2 of the stabilising constants C_i = (K_i·R)² (defaults 0.01, 0.03). */
  k1?: number;
  k2?: number;
}

/**
 * Structural similarity per image (Wang, Bovik, Sheikh & Simoncelli 2004, Eq. 13 with the Gaussian
 * window of Sec. III-C): the mean of the SSIM map over the window positions inside the image
 * ("valid"), with weighted local means, variances and covariance. 1 for identical images.
 */
export function ssim(x: ArrayLike<number>, y: ArrayLike<number>, n: number, height: number, width: number, o: SsimOptions = {}): Float64Array {
  const range = o.range ?? [-1, 1];
  const r = checkPair(x, y, n, height * width, range, 'SSIM');
  const win = o.window ?? 11;
  usage(Number.isInteger(win) && win >= 1 && win <= height && win <= width, `SSIM: the window (${win}) must be a positive integer no larger than the image (${height}×${width})`);
  const taps = gaussianTaps(win, o.sd ?? 1.5);
  const c1 = ((o.k1 ?? 0.01) * r) * ((o.k1 ?? 0.01) * r);
  const c2 = ((o.k2 ?? 0.03) * r) * ((o.k2 ?? 0.03) * r);
  const oh = height - win + 1;
  const ow = width - win + 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * height * width;
    let total = 0;
    for (let a = 0; a < oh; a++) {
      for (let b = 0; b < ow; b++) {
        let mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
        for (let u = 0; u < win; u++) {
          for (let v = 0; v < win; v++) {
            const w = taps[u] * taps[v];
            const k = base + (a + u) * width + b + v;
            mx += w * x[k];
            my += w * y[k];
            sxx += w * x[k] * x[k];
            syy += w * y[k] * y[k];
            sxy += w * x[k] * y[k];
          }
        }
        const vx = sxx - mx * mx;
        const vy = syy - my * my;
        const cxy = sxy - mx * my;
        total += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      }
    }
    out[i] = total / (oh * ow);
  }
  return out;
}

/**
 * PSNR per image over the pixels where `mask` (one 0/1 mask per image, n × size) is 1; NaN for an
 * image whose mask is empty, Infinity where the pixels agree exactly.
 */
export function maskedPsnr(x: ArrayLike<number>, y: ArrayLike<number>, mask: ArrayLike<number>, n: number, size: number, range: ValueRange = [-1, 1]): Float64Array {
  const r = checkPair(x, y, n, size, range, 'masked PSNR');
  usage(mask.length === n * size, `masked PSNR: the masks must hold n × ${size} = ${n * size} values, got ${mask.length}`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let se = 0;
    let k = 0;
    for (let j = i * size; j < (i + 1) * size; j++) {
      if (!mask[j]) continue;
      se += (x[j] - y[j]) * (x[j] - y[j]);
      k++;
    }
    out[i] = k === 0 ? NaN : se === 0 ? Infinity : (10 * log((r * r * k) / se)) / Math.LN10;
  }
  return out;
}
