import { UsageError, RunError } from '../core/errors.js';
import { exp, pow } from '../core/math.js';
import type { Rng } from '../core/rng.js';

/**
 * Deformations of square images and DRDM, the deformation-recovery diffusion model (Zheng et al. 2024,
 * arXiv 2407.07295): random multi-scale velocity fields integrated by self-composition (its forward
 * process), the recovery loop of its Algorithm 2, random elastic deformations (Simard et al. 2003) as the
 * baseline, and the folding rate of a field. A field holds n × 2 × S × S displacements in pixels, channel 0
 * along x (columns), channel 1 along y (rows); warping samples the image at p + u(p), bilinearly.
 */

/** The forward process's field parameters (a DRDM card's `field`). */
export interface FieldSpec {
  /** Side S of the square images. */
  size: number;
  /** Control grids, finest first; grid i carries Gaussian values of standard deviation σ·2^i pixels. */
  grids: number[];
  sigma: number;
}

/** DRDM's compositions of the velocity field for the image at step t: clamp(⌊2 t^1.3 / 3⌋, 1, 200) (the reference's N_ddf). */
export const drdmCompositions = (t: number): number => Math.min(200, Math.max(1, Math.floor((2 * pow(t, 1.3)) / 3)));

/** Bilinear upsampling of a g × g grid to S × S with half-pixel centres and clamped edges (PyTorch's align_corners = false). */
export function upsampleBilinear(grid: Float64Array, g: number, S: number, out = new Float64Array(S * S)): Float64Array {
  const scale = g / S;
  const coord = (i: number) => {
    const c = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(g - 1, Math.floor(c));
    return [i0, Math.min(g - 1, i0 + 1), c - i0] as const;
  };
  for (let y = 0; y < S; y++) {
    const [y0, y1, fy] = coord(y);
    for (let x = 0; x < S; x++) {
      const [x0, x1, fx] = coord(x);
      const top = grid[y0 * g + x0] * (1 - fx) + grid[y0 * g + x1] * fx;
      const bottom = grid[y1 * g + x0] * (1 - fx) + grid[y1 * g + x1] * fx;
      out[y * S + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** n random velocity fields: Σ_i upsample(N(0, (σ 2^i)²) on grid i) per channel (DRDM's multi-scale DVF). */
export function velocityField(n: number, spec: FieldSpec, rng: Rng): Float64Array {
  const { size: S, grids, sigma } = spec;
  const v = new Float64Array(n * 2 * S * S);
  const up = new Float64Array(S * S);
  for (let m = 0; m < n * 2; m++) {
    grids.forEach((g, i) => {
      const scale = sigma * (1 << i);
      const coarse = rng.fillNormal(new Float64Array(g * g)).map((z) => z * scale);
      upsampleBilinear(coarse, g, S, up);
      for (let k = 0; k < S * S; k++) v[m * S * S + k] += up[k];
    });
  }
  return v;
}

/**
 * Samples `channels` planes of x at p + u(p) for n images (u: n × 2 × S × S), bilinearly with pixel centres at
 * integers; outside the image the value is `fill`, or the nearest edge value when `fill` is 'border'.
 */
export function warp(x: Float64Array, u: Float64Array, n: number, channels: number, S: number, fill: number | 'border' = 0): Float64Array {
  const plane = S * S;
  if (x.length !== n * channels * plane || u.length !== n * 2 * plane) {
    throw new UsageError(`warp: ${x.length} values and a field of ${u.length} for n = ${n}, ${channels} channel(s) of ${S}×${S}`);
  }
  const out = new Float64Array(x.length);
  const border = fill === 'border';
  const at = (src: number, yy: number, xx: number): number => {
    if (xx < 0 || yy < 0 || xx >= S || yy >= S) {
      if (!border) return fill as number;
      xx = Math.min(S - 1, Math.max(0, xx));
      yy = Math.min(S - 1, Math.max(0, yy));
    }
    return x[src + yy * S + xx];
  };
  for (let b = 0; b < n; b++) {
    const ux = b * 2 * plane;
    const uy = ux + plane;
    for (let y = 0; y < S; y++) {
      for (let xi = 0; xi < S; xi++) {
        let px = xi + u[ux + y * S + xi];
        let py = y + u[uy + y * S + xi];
        if (border) {
          px = Math.min(S - 1, Math.max(0, px));
          py = Math.min(S - 1, Math.max(0, py));
        }
        const x0 = Math.floor(px);
        const y0 = Math.floor(py);
        const fx = px - x0;
        const fy = py - y0;
        for (let c = 0; c < channels; c++) {
          const src = (b * channels + c) * plane;
          const top = at(src, y0, x0) * (1 - fx) + at(src, y0, x0 + 1) * fx;
          const bottom = at(src, y0 + 1, x0) * (1 - fx) + at(src, y0 + 1, x0 + 1) * fx;
          out[src + y * S + xi] = top * (1 - fy) + bottom * fy;
        }
      }
    }
  }
  return out;
}

/** The field of (id + a)∘(id + b): b(p) + a(p + b(p)) (DRDM's composition, border padding). */
export function compose(a: Float64Array, b: Float64Array, n: number, S: number): Float64Array {
  const out = warp(a, b, n, 2, S, 'border');
  for (let k = 0; k < out.length; k++) out[k] += b[k];
  return out;
}

/** (id + v) composed with itself `counts[b]` times for each field b: the forward process's deformation. */
export function integrate(v: Float64Array, n: number, S: number, counts: ArrayLike<number>): Float64Array {
  const plane = 2 * S * S;
  const out = new Float64Array(v.length);
  for (let b = 0; b < n; b++) {
    const vb = v.subarray(b * plane, (b + 1) * plane);
    let d: Float64Array = new Float64Array(plane);
    for (let j = 0; j < counts[b]; j++) d = compose(d, vb, 1, S);
    out.set(d, b * plane);
  }
  return out;
}

/**
 * Random elastic deformations (Simard, Steinkraus and Platt 2003): uniform(−1, 1) displacements per pixel and
 * channel, smoothed by a Gaussian of standard deviation `sigma` pixels, times `alpha`.
 */
export function elasticField(n: number, S: number, alpha: number, sigma: number, rng: Rng): Float64Array {
  if (!(alpha >= 0 && sigma > 0)) throw new UsageError(`elastic deformation: alpha must be ≥ 0 and sigma > 0, got ${alpha}, ${sigma}`);
  const radius = Math.ceil(3 * sigma);
  const kernel = Float64Array.from({ length: 2 * radius + 1 }, (_, i) => exp(-((i - radius) * (i - radius)) / (2 * sigma * sigma)));
  const z = kernel.reduce((a, b) => a + b, 0);
  kernel.forEach((k, i) => (kernel[i] = k / z));
  const out = new Float64Array(n * 2 * S * S);
  const tmp = new Float64Array(S * S);
  for (let m = 0; m < n * 2; m++) {
    const raw = Float64Array.from({ length: S * S }, () => 2 * rng.uniform() - 1);
    // separable convolution, zero padding (as scipy's gaussian_filter with mode='constant')
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) if (x + k >= 0 && x + k < S) s += kernel[k + radius] * raw[y * S + x + k];
        tmp[y * S + x] = s;
      }
    }
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) if (y + k >= 0 && y + k < S) s += kernel[k + radius] * tmp[(y + k) * S + x];
        out[m * S * S + y * S + x] = alpha * s;
      }
    }
  }
  return out;
}

/** Root-mean-square displacement (pixels) of n fields. */
export function rmsDisplacement(u: Float64Array): number {
  let s = 0;
  for (let k = 0; k < u.length; k++) s += u[k] * u[k];
  return Math.sqrt((2 * s) / u.length);
}

/** Fraction of pixels where the map p ↦ p + u(p) folds: det(I + ∇u) ≤ 0 (central differences inside the image). */
export function foldingRate(u: Float64Array, n: number, S: number): number {
  const plane = S * S;
  let folded = 0;
  let count = 0;
  for (let b = 0; b < n; b++) {
    const ux = u.subarray(b * 2 * plane, b * 2 * plane + plane);
    const uy = u.subarray(b * 2 * plane + plane, (b + 1) * 2 * plane);
    for (let y = 1; y < S - 1; y++) {
      for (let x = 1; x < S - 1; x++) {
        const k = y * S + x;
        const dxx = 1 + (ux[k + 1] - ux[k - 1]) / 2;
        const dxy = (ux[k + S] - ux[k - S]) / 2;
        const dyx = (uy[k + 1] - uy[k - 1]) / 2;
        const dyy = 1 + (uy[k + S] - uy[k - S]) / 2;
        if (dxx * dyy - dxy * dyx <= 0) folded++;
        count++;
      }
    }
  }
  return folded / count;
}

/** A recovery network: (images n × S × S in the data range, step t per image) → n × 2 × S × S displacements in pixels. */
export interface RecoveryNet {
  readonly size: number;
  /** The forward process's T. */
  readonly steps: number;
  /** The recovery field of each image at its step t (pixels, n × 2 × S × S). */
  recover(images: Float64Array, n: number, t: Float64Array): Promise<Float64Array>;
}

/** Options of `drdmDeform`. */
export interface DrdmOptions {
  /** T′: the step the random deformation starts at (1 … the network's T). */
  start: number;
  field: FieldSpec;
  rng: Rng;
  /** The images' background value, used outside the image when warping (default −1, the data range's low end). */
  background?: number;
  /** Called after each recovery step with the steps done and the total. */
  onStep?: (done: number, total: number) => void;
}

/** What `drdmDeform` returns. */
export interface DrdmResult {
  /** The deformed images (the clean images warped by `field`). */
  images: Float64Array;
  /** The generated deformation φ, n × 2 × S × S pixels. */
  field: Float64Array;
  /** The random deformation it started from, and the images it gave. */
  randomField: Float64Array;
  randomImages: Float64Array;
  nfe: number;
}

/**
 * DRDM's Algorithm 2: deform each clean image by a random field of step T′ (velocityField integrated
 * drdmCompositions(T′) times), then for t = T′ … 1 predict the recovery field of the current image and compose it
 * in, φ ← pred + φ(p + pred), resampling the clean image by φ each time (so blur does not accumulate).
 */
export async function drdmDeform(net: RecoveryNet, clean: Float64Array, n: number, options: DrdmOptions): Promise<DrdmResult> {
  const S = net.size;
  const { start, field, rng } = options;
  const fill = options.background ?? -1;
  if (!(Number.isInteger(start) && start >= 1 && start <= net.steps)) throw new UsageError(`the start step T′ must be an integer in 1..${net.steps}, got ${start}`);
  if (field.size !== S) throw new UsageError(`the field is ${field.size}×${field.size}; the network's images are ${S}×${S}`);
  if (clean.length !== n * S * S) throw new UsageError(`expected n × ${S} × ${S} = ${n * S * S} image values, got ${clean.length}`);
  const v = velocityField(n, field, rng);
  const randomField = integrate(v, n, S, new Array<number>(n).fill(drdmCompositions(start)));
  let phi = randomField;
  const randomImages = warp(clean, phi, n, 1, S, fill);
  let img = randomImages;
  for (let t = start; t >= 1; t--) {
    const pred = await net.recover(img, n, new Float64Array(n).fill(t));
    if (pred.length !== n * 2 * S * S) throw new RunError(`the recovery network returned ${pred.length} values; expected n × 2 × ${S} × ${S}`);
    if (!pred.every(Number.isFinite)) throw new RunError(`the recovery network returned a non-finite displacement at step ${t}`);
    phi = compose(phi, pred, n, S);
    img = warp(clean, phi, n, 1, S, fill);
    options.onStep?.(start - t + 1, start);
  }
  return { images: img, field: phi, randomField, randomImages, nfe: start };
}

/** Mean pairwise Euclidean distance between the k deformed versions of each image (rows grouped by image: [image 0 × k, image 1 × k, …]). */
export function pairwiseDiversity(x: Float64Array, images: number, k: number, dim: number): number {
  let s = 0;
  let pairs = 0;
  for (let i = 0; i < images; i++) {
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        let d = 0;
        const oa = (i * k + a) * dim;
        const ob = (i * k + b) * dim;
        for (let j = 0; j < dim; j++) d += (x[oa + j] - x[ob + j]) * (x[oa + j] - x[ob + j]);
        s += Math.sqrt(d);
        pairs++;
      }
    }
  }
  return pairs === 0 ? 0 : s / pairs;
}
