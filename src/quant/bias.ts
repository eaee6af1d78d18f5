import { usage } from '../core/errors.js';

/**
 * The mean error a quantised network adds to its output, per output channel, for empirical bias
 * correction: Nagel et al. 2019 ("Data-Free Quantization Through Weight Equalization and Bias
 * Correction", Sec. 4.2) note that quantisation noise ε = W̃ − W shifts a layer's expected output,
 * E[ỹ] = E[y] + ε E[x], and in the empirical variant measure E[ỹ − y] per output channel on data
 * and subtract it from the layer's bias. PTQD (He et al., NeurIPS 2023, Sec. 4) applies the same
 * correction to a diffusion model's noise prediction, subtracting the mean of the quantisation
 * noise of ε̂ at each step.
 *
 * Outputs are channel-first: a batch of m samples is m × channels × (values per channel). Each
 * sample's own channel means are kept too, with its time, so that a time-dependent correction can
 * be judged against the constant one.
 *
 * A constant correction δ of a noise prediction moves the denoiser's output x̂0 = (x_t − σ_t ε̂)/α_t,
 * i.e. the noise σ_t ε̂ it removes from x_t, by σ_t δ: an error at a time with little noise hardly
 * matters, and there the network's ε̂ (and so its quantisation error) is mostly noise. So besides
 * the plain mean, samples can carry weights; the weighted mean with weights σ_t² is the δ that
 * minimises Σ_i σ_i² (ē_i − δ)², the mean squared bias left in σ_t ε̂.
 */
export class OutputErrorMean {
  private readonly sum: Float64Array;
  private readonly sumSquares: Float64Array;
  private values = 0;
  private readonly samples: { t: number; weight: number; mean: number[] }[] = [];
  private readonly weightedSum: Float64Array;
  private weightTotal = 0;

  constructor(readonly channels: number) {
    usage(Number.isInteger(channels) && channels >= 1, `the number of output channels must be an integer ≥ 1, got ${channels}`);
    this.sum = new Float64Array(channels);
    this.sumSquares = new Float64Array(channels);
    this.weightedSum = new Float64Array(channels);
  }

  /** One batch: the full-precision and the quantised outputs of the same m inputs at the given times (weights: 1 each unless given). */
  add(reference: ArrayLike<number>, quantised: ArrayLike<number>, times: ArrayLike<number>, weights?: ArrayLike<number>): void {
    const m = times.length;
    usage(weights === undefined || weights.length === m, `got ${weights?.length} weights for ${m} samples`);
    for (let i = 0; weights && i < m; i++) usage(weights[i] >= 0 && Number.isFinite(weights[i]), `sample weights must be finite and ≥ 0, got ${weights[i]}`);
    usage(reference.length === quantised.length, `the quantised output has ${quantised.length} values, the full-precision one ${reference.length}`);
    usage(m >= 1 && reference.length % (m * this.channels) === 0, `${reference.length} output values are not ${m} samples × ${this.channels} channels`);
    const per = reference.length / (m * this.channels);
    for (let i = 0; i < m; i++) {
      const mean: number[] = [];
      for (let c = 0; c < this.channels; c++) {
        const start = (i * this.channels + c) * per;
        let s = 0;
        let s2 = 0;
        for (let k = start; k < start + per; k++) {
          const e = quantised[k] - reference[k];
          if (!Number.isFinite(e)) throw new RangeError(`output error ${e} at value ${k} is not finite`);
          s += e;
          s2 += e * e;
        }
        this.sum[c] += s;
        this.sumSquares[c] += s2;
        this.weightedSum[c] += (weights?.[i] ?? 1) * s;
        mean.push(s / per);
      }
      this.weightTotal += (weights?.[i] ?? 1) * per;
      this.samples.push({ t: times[i], weight: weights?.[i] ?? 1, mean });
    }
    this.values += m * per;
  }

  /** Values per channel seen so far. */
  get count(): number {
    return this.values;
  }

  /** E[ỹ − y] per channel: what to subtract from the output layer's bias. */
  get mean(): number[] {
    usage(this.values > 0, 'no data: no outputs were compared');
    return Array.from(this.sum, (s) => s / this.values);
  }

  /** Σ_i w_i Σ_k (ỹ − y) / Σ_i w_i K per channel, K values per channel of each sample i. */
  get weightedMean(): number[] {
    usage(this.weightTotal > 0, 'no data: no outputs were compared, or all had weight 0');
    return Array.from(this.weightedSum, (s) => s / this.weightTotal);
  }

  /** Root mean square of ỹ − y per channel (the noise the correction leaves, plus the mean). */
  get rms(): number[] {
    usage(this.values > 0, 'no data: no outputs were compared');
    return Array.from(this.sumSquares, (s) => Math.sqrt(s / this.values));
  }

  /** Each compared sample's time, weight and channel means, in the order they were added. */
  get perSample(): readonly { t: number; weight: number; mean: number[] }[] {
    return this.samples;
  }

  /**
   * Channel means over the samples whose time lies in each bin [edges[k], edges[k + 1]) (the last
   * bin closed), with the number of samples; bins with no sample get NaN means.
   */
  byTime(edges: readonly number[]): { lo: number; hi: number; samples: number; mean: number[] }[] {
    usage(edges.length >= 2 && edges.every((e, k) => k === 0 || e > edges[k - 1]), 'time bin edges must be at least two increasing numbers');
    return edges.slice(0, -1).map((lo, k) => {
      const hi = edges[k + 1];
      const last = k === edges.length - 2;
      const inBin = this.samples.filter((s) => s.t >= lo && (s.t < hi || (last && s.t === hi)));
      const mean = Array.from({ length: this.channels }, (_, c) => inBin.reduce((a, s) => a + s.mean[c], 0) / inBin.length);
      return { lo, hi, samples: inBin.length, mean };
    });
  }
}
