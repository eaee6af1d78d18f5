import { usage } from '../core/errors.js';

/**
 * Running statistics of one activation tensor for post-training quantisation: exact min and max,
 * and a histogram from which a percentile range and the range that minimises the expected squared
 * quantisation error are read (the calibration "metrics" PTQ4DM compares, Shang et al. 2023,
 * Sec. 4.3; the MSE range search is the one of BRECQ/QDrop, which PTQ4DM builds on: both ends of
 * [min, max] shrunk together in steps of 1 %).
 *
 * The histogram covers [−R, R) with R a power of two; when a value falls outside, R doubles and
 * pairs of bins merge, which is exact because the old bin edges are edges of the new bins. So the
 * statistics do not depend on how the data were split into batches.
 */
export class ActivationHistogram {
  readonly counts: Float64Array;
  /** Half-width R of the histogram's range; 0 until a non-zero value arrives. */
  private radius = 0;
  private zeros = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private n = 0;

  constructor(readonly bins = 8192) {
    usage(Number.isInteger(bins) && bins >= 4 && bins % 4 === 0, `histogram bins must be a multiple of 4 and ≥ 4, got ${bins}`);
    this.counts = new Float64Array(bins);
  }

  get min(): number {
    return this.lo;
  }

  get max(): number {
    return this.hi;
  }

  get count(): number {
    return this.n;
  }

  /** Adds a batch of values, doubling the range as needed; a RangeError on a non-finite value, before anything is added. */
  add(values: ArrayLike<number>): void {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) throw new RangeError(`activation value ${v} is not finite`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (values.length === 0) return;
    this.lo = lo;
    this.hi = hi;
    this.n += values.length;
    const extent = Math.max(-lo, hi);
    if (extent > 0 && this.radius === 0) this.start(extent);
    while (this.radius > 0 && extent >= this.radius) this.double();
    if (this.radius === 0) {
      this.zeros += values.length;
      return;
    }
    const { counts, bins } = this;
    const perUnit = bins / (2 * this.radius);
    const last = bins - 1;
    for (let i = 0; i < values.length; i++) counts[Math.min(last, Math.floor((values[i] + this.radius) * perUnit))]++;
  }

  /** Value below which a fraction q of the data lie (linear within a bin, clamped to [min, max]). */
  quantile(q: number): number {
    usage(q >= 0 && q <= 1, `quantile must be in [0, 1], got ${q}`);
    usage(this.n > 0, 'no data: the histogram is empty');
    if (this.radius === 0) return 0;
    const target = q * this.n;
    const width = (2 * this.radius) / this.bins;
    let below = 0;
    for (let b = 0; b < this.bins; b++) {
      const c = this.counts[b];
      if (c > 0 && below + c >= target) {
        const x = -this.radius + (b + (target - below) / c) * width;
        return Math.min(this.hi, Math.max(this.lo, x));
      }
      below += c;
    }
    return this.hi;
  }

  /** The central range holding p % of the data: [quantile((100 − p)/200), quantile(1 − (100 − p)/200)]. */
  percentileRange(p: number): { lo: number; hi: number } {
    usage(p > 0 && p <= 100, `percentile must be in (0, 100], got ${p}`);
    const tail = (100 - p) / 200;
    return { lo: this.quantile(tail), hi: this.quantile(1 - tail) };
  }

  /**
   * The range [f·min, f·max], f ∈ {1, 0.99, …, 0.20}, whose affine quantiser with `levels` levels
   * has the least mean squared error over the histogram (bin centres standing for their contents).
   */
  mseRange(levels = 256): { lo: number; hi: number; mse: number } {
    usage(this.n > 0, 'no data: the histogram is empty');
    let best = { lo: this.lo, hi: this.hi, mse: Infinity };
    if (this.radius === 0) return { lo: 0, hi: 0, mse: 0 };
    const width = (2 * this.radius) / this.bins;
    const centres: number[] = [];
    const weights: number[] = [];
    for (let b = 0; b < this.bins; b++) {
      if (this.counts[b] > 0) {
        centres.push(Math.min(this.hi, Math.max(this.lo, -this.radius + (b + 0.5) * width)));
        weights.push(this.counts[b]);
      }
    }
    for (let k = 0; k < 81; k++) {
      const f = 1 - 0.01 * k;
      const lo = f * this.lo;
      const hi = f * this.hi;
      const q = affineQuantiser(lo, hi, levels);
      let err = 0;
      for (let j = 0; j < centres.length; j++) {
        const e = q.fakeQuant(centres[j]) - centres[j];
        err += weights[j] * e * e;
      }
      const mse = err / this.n;
      if (mse < best.mse) best = { lo, hi, mse };
    }
    return best;
  }

  private start(extent: number): void {
    let r = 1;
    while (r > extent) r /= 2;
    while (r <= extent) r *= 2;
    this.radius = r;
    this.counts[this.bins / 2] += this.zeros;
    this.zeros = 0;
  }

  /** [−R, R) → [−2R, 2R): old bins 2k, 2k+1 become new bin bins/4 + k. */
  private double(): void {
    const { counts, bins } = this;
    const merged = new Float64Array(bins);
    for (let k = 0; k < bins / 2; k++) merged[bins / 4 + k] = counts[2 * k] + counts[2 * k + 1];
    counts.set(merged);
    this.radius *= 2;
  }
}

/** An asymmetric affine quantiser as `affineQuantiser` builds it: x ≈ (q − zeroPoint)·scale. */
export interface AffineQuantiser {
  /** Step s between adjacent levels. */
  scale: number;
  /** Integer level z that stands for 0. */
  zeroPoint: number;
  /** x → dequantise(quantise(x)). */
  fakeQuant(x: number): number;
}

/**
 * Asymmetric affine quantiser onto the integers 0 … levels − 1 for the range [lo, hi] widened to
 * contain 0 (so that 0, e.g. a convolution's zero padding, is exact): s = (hi − lo)/(levels − 1),
 * z = round(−lo/s), q = clamp(round(x/s) + z). ONNX's QuantizeLinear rounds half to even; the
 * difference only touches exact ties.
 */
export function affineQuantiser(lo: number, hi: number, levels = 256): AffineQuantiser {
  const a = Math.min(lo, 0);
  const b = Math.max(hi, 0);
  const scale = b > a ? (b - a) / (levels - 1) : 1;
  const zeroPoint = Math.min(levels - 1, Math.max(0, Math.round(-a / scale)));
  return {
    scale,
    zeroPoint,
    fakeQuant: (x) => (Math.min(levels - 1, Math.max(0, Math.round(x / scale) + zeroPoint)) - zeroPoint) * scale,
  };
}

/** Statistics of one tensor as the calibration file stores them. */
export interface TensorStatistics {
  count: number;
  min: number;
  max: number;
  percentile: { p: number; lo: number; hi: number };
  mse: { lo: number; hi: number; mse: number };
}

/** Histograms of many named tensors, filled batch by batch. */
export class CalibrationStatistics {
  private readonly tensors = new Map<string, ActivationHistogram>();

  constructor(readonly bins = 8192) {}

  /** Adds a batch of values of the tensor `name`, starting its histogram when the name is new. */
  add(name: string, values: ArrayLike<number>): void {
    let h = this.tensors.get(name);
    if (!h) {
      h = new ActivationHistogram(this.bins);
      this.tensors.set(name, h);
    }
    h.add(values);
  }

  get names(): string[] {
    return [...this.tensors.keys()];
  }

  /** The histogram of the tensor `name`; undefined when no values of it were added. */
  histogram(name: string): ActivationHistogram | undefined {
    return this.tensors.get(name);
  }

  /** Every tensor's min/max, central p % range and MSE-optimal range for `levels` levels. */
  summary(percentile = 99.99, levels = 256): Record<string, TensorStatistics> {
    const out: Record<string, TensorStatistics> = {};
    for (const [name, h] of this.tensors) {
      out[name] = { count: h.count, min: h.min, max: h.max, percentile: { p: percentile, ...h.percentileRange(percentile) }, mse: h.mseRange(levels) };
    }
    return out;
  }
}
