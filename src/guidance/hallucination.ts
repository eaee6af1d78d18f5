import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import { toDataCoefficients } from '../param/convert.js';
import { usage } from '../core/errors.js';

/**
 * Trajectory variance of the predicted x0 (Aithal et al. 2024, "Understanding Hallucinations in
 * Diffusion Models through Mode Interpolation", §5): a model wrapper that records x̂0(x_t, t) at
 * every call with tLo ≤ t ≤ tHi (the late part of the reverse trajectory) and gives, per sample,
 * Σ_j Var_t[x̂0_j] over those calls (Welford's running variance). Samples that land between modes
 * keep switching their predicted x0 late in sampling, so their variance is high.
 */
export class TrajectoryVariance {
  readonly model: Model;
  private count = 0;
  private mean: Float64Array | undefined;
  private m2: Float64Array | undefined;

  constructor(inner: Model, process: Process, readonly tLo: number, readonly tHi: number) {
    usage(tLo <= tHi, `the variance window needs tLo ≤ tHi, got [${tLo}, ${tHi}]`);
    this.model = {
      prediction: inner.prediction,
      sampleShape: inner.sampleShape,
      predict: async (x, n, t) => {
        const out = await inner.predict(x, n, t);
        if (t >= tLo && t <= tHi) {
          const [a, b] = toDataCoefficients(process, t, inner.prediction);
          this.record(out.map((v, i) => a * x[i] + b * v));
        }
        return out;
      },
    };
  }

  private record(x0: Float64Array): void {
    this.mean ??= new Float64Array(x0.length);
    this.m2 ??= new Float64Array(x0.length);
    usage(x0.length === this.mean.length, 'a TrajectoryVariance follows one batch: create one per sampling run');
    this.count++;
    for (let i = 0; i < x0.length; i++) {
      const delta = x0[i] - this.mean[i];
      this.mean[i] += delta / this.count;
      this.m2[i] += delta * (x0[i] - this.mean[i]);
    }
  }

  /** Steps recorded so far. */
  get steps(): number {
    return this.count;
  }

  /** Per-sample trajectory variance (n values), summed over the sample's elements. */
  variance(n: number): Float64Array {
    usage(this.count >= 2 && this.m2 !== undefined, `trajectory variance needs at least 2 recorded steps, got ${this.count}`);
    const m2 = this.m2 as Float64Array;
    const d = m2.length / n;
    usage(Number.isInteger(d), `n=${n} does not divide the ${m2.length} recorded values`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = i * d; j < (i + 1) * d; j++) out[i] += m2[j] / this.count;
    return out;
  }
}

/** The hallucination filter: keep the samples whose trajectory variance is at most the threshold. */
export function keepBelow(variance: Float64Array, threshold: number): boolean[] {
  return Array.from(variance, (v) => v <= threshold);
}
