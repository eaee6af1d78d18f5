import { cos, sin } from '../core/math.js';
import { usage } from '../core/errors.js';
import type { Rng } from '../core/rng.js';

/**
 * A linear map from d values to m values with its adjoint, applied without a dense matrix
 * (restoration operators are sparse: a projection touches two detector bins per pixel and view).
 */
export interface LinearOperator {
  readonly m: number;
  readonly d: number;
  /** out[outOff .. outOff+m) = A · x[xOff .. xOff+d). */
  apply(x: Float64Array, xOff: number, out: Float64Array, outOff: number): void;
  /** out[outOff .. outOff+d) = Aᵀ · y[yOff .. yOff+m). */
  adjoint(y: Float64Array, yOff: number, out: Float64Array, outOff: number): void;
}

/** A sparse-view parallel-beam projector (a discrete Radon transform) of size × size images. */
export interface ParallelBeam extends LinearOperator {
  readonly size: number;
  readonly views: number;
  /** Detector bins per view (covering the image's diagonal). */
  readonly bins: number;
}

/**
 * Parallel-beam projections of a size × size image at `views` angles evenly spread over [0, π)
 * (sparse-view CT, as in DiffusionMBIR's experiments): each pixel's value is split between the two
 * detector bins nearest its centre's projection by linear interpolation (pixel-driven projector),
 * so a view's bins sum to the image's sum. Pixels have unit width.
 */
export function parallelBeam(size: number, views: number): ParallelBeam {
  usage(Number.isInteger(size) && size >= 2 && size <= 512, `the image side must be an integer in [2, 512], got ${size}`);
  usage(Number.isInteger(views) && views >= 1 && views <= 720, `the number of views must be an integer in [1, 720], got ${views}`);
  const bins = Math.ceil(size * Math.SQRT2) + 2;
  const d = size * size;
  const m = views * bins;
  const first = new Int32Array(views * d);
  const frac = new Float64Array(views * d);
  const centre = (size - 1) / 2;
  const origin = (bins - 1) / 2;
  for (let k = 0; k < views; k++) {
    const c = cos((Math.PI * k) / views);
    const s = sin((Math.PI * k) / views);
    for (let r = 0; r < size; r++) {
      for (let q = 0; q < size; q++) {
        const pos = (q - centre) * c + (centre - r) * s + origin;
        const b = Math.floor(pos);
        first[k * d + r * size + q] = k * bins + b;
        frac[k * d + r * size + q] = pos - b;
      }
    }
  }
  return {
    size, views, bins, m, d,
    apply(x, xOff, out, outOff) {
      out.fill(0, outOff, outOff + m);
      for (let j = 0; j < views * d; j++) {
        const v = x[xOff + (j % d)];
        const i = outOff + first[j];
        out[i] += (1 - frac[j]) * v;
        out[i + 1] += frac[j] * v;
      }
    },
    adjoint(y, yOff, out, outOff) {
      out.fill(0, outOff, outOff + d);
      for (let j = 0; j < views * d; j++) {
        const i = yOff + first[j];
        out[outOff + (j % d)] += (1 - frac[j]) * y[i] + frac[j] * y[i + 1];
      }
    },
  };
}

/**
 * y = A x + s·z for each of the `count` blocks of x (slices of a volume, images of a batch), z
 * standard normal from `rng`: the measurement a reconstruction starts from.
 */
export function measureBlocks(op: LinearOperator, x: Float64Array, count: number, noiseStd: number, rng: Rng): Float64Array {
  usage(x.length === count * op.d, `the operator acts on ${op.d} values per block; ${count} blocks need ${count * op.d} values, got ${x.length}`);
  usage(Number.isFinite(noiseStd) && noiseStd >= 0, `the measurement noise std must be a finite number ≥ 0, got ${noiseStd}`);
  const y = new Float64Array(count * op.m);
  for (let i = 0; i < count; i++) op.apply(x, i * op.d, y, i * op.m);
  if (noiseStd > 0) for (let i = 0; i < y.length; i++) y[i] += noiseStd * rng.normal();
  return y;
}
