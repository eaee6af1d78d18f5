import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import { Denoiser } from '../models/denoiser.js';
import { cos, sin } from '../core/math.js';
import { usage } from '../core/errors.js';
import type { LinearOperator } from './tomography.js';

/**
 * 3-D inverse problems with a 2-D diffusion prior (DiffusionMBIR, Chung, Ryu, Ye & Kim, CVPR 2023):
 * a volume of `slices` images is measured slice by slice (y_j = A x_j + n), a 2-D model denoises
 * every slice, and a total-variation term across the third axis (which the 2-D prior cannot see)
 * ties the slices together; both are solved jointly by ADMM with conjugate gradients at every
 * diffusion step (the paper's Alg. 2).
 */

/** The volume's layout: `slices` images of height × width, slice-major. */
export interface VolumeShape {
  slices: number;
  height: number;
  width: number;
}

/** An axis of a volume: across slices (z) or within a slice (y rows, x columns). */
export type VolumeAxis = 'z' | 'y' | 'x';

/** The axes a TV term can run along. */
export const volumeAxes: readonly VolumeAxis[] = ['z', 'y', 'x'];

function stride(shape: VolumeShape, axis: VolumeAxis): [step: number, length: number] {
  if (axis === 'z') return [shape.height * shape.width, shape.slices];
  if (axis === 'y') return [shape.width, shape.height];
  return [1, shape.width];
}

/** out = D_axis x: forward differences x[i+1] − x[i] along the axis, 0 at its last element. */
function diff(x: Float64Array, off: number, shape: VolumeShape, axis: VolumeAxis, out: Float64Array): void {
  const [s, len] = stride(shape, axis);
  const size = shape.slices * shape.height * shape.width;
  for (let i = 0; i < size; i++) {
    const pos = Math.floor(i / s) % len;
    out[i] = pos < len - 1 ? x[off + i + s] - x[off + i] : 0;
  }
}

/** out += D_axisᵀ g. */
function addDiffT(g: Float64Array, shape: VolumeShape, axis: VolumeAxis, out: Float64Array, scale: number): void {
  const [s, len] = stride(shape, axis);
  for (let i = 0; i < g.length; i++) {
    const pos = Math.floor(i / s) % len;
    if (pos < len - 1) {
      out[i + s] += scale * g[i];
      out[i] -= scale * g[i];
    }
  }
}

/** Options of {@link admmTv}: min_x ½‖A x − y‖² + (γ/2)‖x − c‖² + λ Σ_axes ‖D_axis x‖₁. */
export interface AdmmTvOptions {
  /** The per-slice measurement operator A. */
  operator: LinearOperator;
  shape: VolumeShape;
  /** λ: weight of the anisotropic TV along `axes` (0: none). */
  lambda: number;
  axes: readonly VolumeAxis[];
  /** γ: weight of the proximal term that keeps x near the centre c (0: none). */
  gamma: number;
  /** ρ: ADMM penalty (default 1). */
  rho?: number;
  /** ADMM iterations (default 2) and conjugate-gradient iterations per x-update (default 10). */
  iterations?: number;
  cgIterations?: number;
}

function checkAdmm(o: AdmmTvOptions): void {
  const { slices, height, width } = o.shape;
  usage([slices, height, width].every((v) => Number.isInteger(v) && v >= 1), `the volume shape must be positive integers, got ${slices}×${height}×${width}`);
  usage(o.operator.d === height * width, `the operator acts on ${o.operator.d} values but a slice has ${height}×${width} = ${height * width}`);
  usage(Number.isFinite(o.lambda) && o.lambda >= 0, `the TV weight λ must be a finite number ≥ 0, got ${o.lambda}`);
  usage(Number.isFinite(o.gamma) && o.gamma >= 0, `the proximal weight γ must be a finite number ≥ 0, got ${o.gamma}`);
  usage(o.rho === undefined || (Number.isFinite(o.rho) && o.rho > 0), `the ADMM penalty ρ must be a finite number > 0, got ${o.rho}`);
  usage(o.axes.every((a) => volumeAxes.includes(a)), `TV axes must be among ${volumeAxes.join(', ')}, got ${o.axes.join(', ')}`);
  for (const [k, v] of [['iterations', o.iterations], ['cgIterations', o.cgIterations]] as const) {
    usage(v === undefined || (Number.isInteger(v) && v >= 1 && v <= 10000), `${k} must be an integer in [1, 10000], got ${v}`);
  }
}

/**
 * ADMM for min_x ½‖A x − y‖² + (γ/2)‖x − c‖² + λ Σ_a ‖D_a x‖₁ over one volume (A applied to every
 * slice), started at `init`: split v_a = D_a x; the x-update solves
 * (AᵀA + γI + ρ Σ D_aᵀD_a) x = Aᵀy + γc + ρ Σ D_aᵀ(v_a − u_a) by conjugate gradients, the v-update
 * soft-thresholds D_a x + u_a at λ/ρ, the u-update adds the residual (Boyd et al. 2011, Sec. 6.4.1).
 * With γ > 0 and λ = 0 this is DDS's proximal data consistency (Chung, Lee & Ye, ICLR 2024).
 */
export function admmTv(o: AdmmTvOptions, y: Float64Array, centre: Float64Array, init: Float64Array = centre): Float64Array {
  checkAdmm(o);
  const { operator: A, shape } = o;
  const size = shape.slices * shape.height * shape.width;
  usage(y.length === shape.slices * A.m, `y must hold ${shape.slices} slices × ${A.m} = ${shape.slices * A.m} values, got ${y.length}`);
  usage(centre.length === size && init.length === size, `the volume must hold ${size} values, got ${centre.length}`);
  const axes = o.lambda > 0 ? o.axes : [];
  if (shape.slices > 1 && !axes.includes('z')) {
    // Nothing couples the slices: solve each alone, so one slice's data never moves another's solution.
    const one = { ...o, shape: { ...shape, slices: 1 } };
    const x = new Float64Array(size);
    const step = shape.height * shape.width;
    for (let j = 0; j < shape.slices; j++) {
      const part = (v: Float64Array) => v.subarray(j * step, (j + 1) * step);
      x.set(admmTv(one, y.subarray(j * A.m, (j + 1) * A.m), part(centre), part(init)), j * step);
    }
    return x;
  }
  const rho = o.rho ?? 1;
  const x = Float64Array.from(init);
  const v = axes.map(() => new Float64Array(size));
  const u = axes.map(() => new Float64Array(size));
  axes.forEach((a, k) => diff(x, 0, shape, a, v[k]));
  const aty = new Float64Array(size);
  for (let j = 0; j < shape.slices; j++) A.adjoint(y, j * A.m, aty, j * A.d);
  const proj = new Float64Array(A.m);
  const tmp = new Float64Array(size);
  const normal = (p: Float64Array, out: Float64Array): void => {
    for (let j = 0; j < shape.slices; j++) {
      A.apply(p, j * A.d, proj, 0);
      A.adjoint(proj, 0, out, j * A.d);
    }
    for (let i = 0; i < size; i++) out[i] += o.gamma * p[i];
    for (const a of axes) {
      diff(p, 0, shape, a, tmp);
      addDiffT(tmp, shape, a, out, rho);
    }
  };
  const rhs = new Float64Array(size);
  const iterations = axes.length > 0 ? o.iterations ?? 2 : 1;
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < size; i++) rhs[i] = aty[i] + o.gamma * centre[i];
    axes.forEach((a, k) => {
      for (let i = 0; i < size; i++) tmp[i] = v[k][i] - u[k][i];
      addDiffT(tmp, shape, a, rhs, rho);
    });
    conjugateGradient(normal, rhs, x, o.cgIterations ?? 10);
    axes.forEach((a, k) => {
      diff(x, 0, shape, a, tmp);
      const thr = o.lambda / rho;
      for (let i = 0; i < size; i++) {
        const w = tmp[i] + u[k][i];
        v[k][i] = w > thr ? w - thr : w < -thr ? w + thr : 0;
        u[k][i] = w - v[k][i];
      }
    });
  }
  return x;
}

/** Solves M x = b for a symmetric positive semi-definite M from the start x (in place), `iterations` CG steps. */
function conjugateGradient(M: (p: Float64Array, out: Float64Array) => void, b: Float64Array, x: Float64Array, iterations: number): void {
  const n = b.length;
  const r = new Float64Array(n);
  const p = new Float64Array(n);
  const mp = new Float64Array(n);
  M(x, mp);
  let rr = 0;
  for (let i = 0; i < n; i++) {
    r[i] = b[i] - mp[i];
    p[i] = r[i];
    rr += r[i] * r[i];
  }
  const tol = 1e-20 * Math.max(1, b.reduce((s, v) => s + v * v, 0));
  for (let k = 0; k < iterations && rr > tol; k++) {
    M(p, mp);
    let pmp = 0;
    for (let i = 0; i < n; i++) pmp += p[i] * mp[i];
    if (!(pmp > 0)) return;
    const alpha = rr / pmp;
    let next = 0;
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * mp[i];
      next += r[i] * r[i];
    }
    const beta = next / rr;
    rr = next;
    for (let i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
  }
}

/** Options of {@link volumePosterior}. */
export interface VolumePosteriorOptions extends Omit<AdmmTvOptions, 'shape' | 'axes'> {
  /** The 2-D prior: one slice per sample (sample shape [height, width] or [1, height, width]). */
  prior: Model;
  process: Process;
  slices: number;
  /** The measurements: one volume's (slices × m values) shared by every sample, or one per sample. */
  y: Float64Array;
  /** Clip the prior's slice estimates to this range before the data step (e.g. the data range). */
  clip?: readonly [number, number];
}

/**
 * DiffusionMBIR as a model: x̂0 of every slice from the 2-D prior (clipped to `clip`), then the
 * ADMM-TV data step across z started at it (proximal to it with weight γ; λ = 0 solves each slice
 * alone); returns data predictions ('sample'), so any sampler runs it (DDIM as in the paper's DDS
 * form). Each call starts ADMM afresh: the paper's variable sharing across steps would make the
 * model stateful.
 */
export function volumePosterior(o: VolumePosteriorOptions): Model {
  const s = o.prior.sampleShape;
  const [height, width] = s.length === 3 && s[0] === 1 ? [s[1], s[2]] : s.length === 2 ? [s[0], s[1]] : [NaN, NaN];
  usage(Number.isInteger(height), `the prior must model single-channel slices (sample shape [H, W] or [1, H, W]), got [${s.join(', ')}]`);
  usage(Number.isInteger(o.slices) && o.slices >= 1, `slices must be a positive integer, got ${o.slices}`);
  const shape: VolumeShape = { slices: o.slices, height, width };
  const admm: AdmmTvOptions = { ...o, shape, axes: ['z'] };
  checkAdmm(admm);
  const perVolume = o.slices * o.operator.m;
  usage(o.y.length > 0 && o.y.length % perVolume === 0, `y must hold ${o.slices} slices × ${o.operator.m} measurements (or that per sample), got ${o.y.length} values`);
  usage(o.clip === undefined || o.clip[1] > o.clip[0], `clip must be [lo, hi] with hi > lo, got [${o.clip?.join(', ')}]`);
  const denoiser = new Denoiser(o.prior, o.process);
  const size = o.slices * height * width;
  return {
    prediction: 'sample',
    sampleShape: [o.slices, height, width],
    async predict(x, n, t) {
      const k = o.y.length / perVolume;
      usage(k === 1 || k === n, `y holds ${k} volumes' measurements; the batch has ${n} samples (give one volume's or one per sample)`);
      const x0 = await denoiser.denoise(x, n * o.slices, t);
      if (o.clip) for (let i = 0; i < x0.length; i++) x0[i] = Math.min(o.clip[1], Math.max(o.clip[0], x0[i]));
      const out = new Float64Array(n * size);
      for (let i = 0; i < n; i++) {
        const yi = o.y.subarray((k === 1 ? 0 : i) * perVolume, ((k === 1 ? 0 : i) + 1) * perVolume);
        out.set(admmTv(admm, yi, x0.subarray(i * size, (i + 1) * size)), i * size);
      }
      return out;
    },
  };
}

/**
 * A volume that varies smoothly across slices, built from one image: slice j is the image rotated
 * about its centre by an angle running linearly from −maxDegrees to +maxDegrees (bilinear
 * interpolation; outside the image, `background`).
 */
export function rotatingVolume(image: ArrayLike<number>, height: number, width: number, slices: number, maxDegrees: number, background = -1): Float64Array {
  usage(image.length === height * width, `the image must hold ${height}×${width} values, got ${image.length}`);
  usage(Number.isInteger(slices) && slices >= 1, `slices must be a positive integer, got ${slices}`);
  usage(Number.isFinite(maxDegrees), `the rotation must be finite, got ${maxDegrees}`);
  const out = new Float64Array(slices * height * width);
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  const at = (r: number, q: number): number => (r >= 0 && r < height && q >= 0 && q < width ? image[r * width + q] : background);
  for (let j = 0; j < slices; j++) {
    const angle = ((slices === 1 ? 0 : (2 * j) / (slices - 1) - 1) * maxDegrees * Math.PI) / 180;
    const c = cos(angle);
    const s = sin(angle);
    for (let r = 0; r < height; r++) {
      for (let q = 0; q < width; q++) {
        const sy = cy + (r - cy) * c - (q - cx) * s;
        const sx = cx + (r - cy) * s + (q - cx) * c;
        const r0 = Math.floor(sy);
        const q0 = Math.floor(sx);
        const fy = sy - r0;
        const fx = sx - q0;
        out[(j * height + r) * width + q] =
          (1 - fy) * ((1 - fx) * at(r0, q0) + fx * at(r0, q0 + 1)) + fy * ((1 - fx) * at(r0 + 1, q0) + fx * at(r0 + 1, q0 + 1));
      }
    }
  }
  return out;
}
