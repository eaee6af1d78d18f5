import type { Model } from './types.js';
import type { Process } from '../process/types.js';
import { toDataCoefficients } from '../param/convert.js';
import { lin2, firstNonFinite } from '../core/vec.js';
import { RunError, UsageError } from '../core/errors.js';

/**
 * A model normalised once, at the edge, to data prediction D(x, t) ≈ E[x0 | x_t] (k-diffusion's
 * wrappers): samplers never branch on the prediction type. Counts model calls (NFE) and stops
 * with a clear error on non-finite model output.
 */
export class Denoiser {
  nfe = 0;
  /** Index of the sampler step in progress, for error messages; set by the sampling loop. */
  step = -1;
  constructor(
    readonly model: Model,
    readonly process: Process,
  ) {}

  /** D(x, t): a fresh array the caller may keep (multistep solvers store them). */
  async denoise(x: Float64Array, n: number, t: number): Promise<Float64Array> {
    if (!(this.process.sigma(t) > 0)) {
      throw new RunError(`a sampler asked for the model at t=${t}, where σ = 0 (bug in the sampler or grid)`);
    }
    const out = await this.model.predict(x, n, t);
    this.nfe++;
    const bad = firstNonFinite(out);
    if (bad >= 0) {
      const d = out.length / n;
      throw new RunError(
        `model output is ${out[bad]} at step ${this.step}, t=${t} (model call ${this.nfe}, sample ${Math.floor(bad / d)}, element ${bad % d})`,
      );
    }
    if (this.model.prediction === 'sample') return out;
    const [a, b] = toDataCoefficients(this.process, t, this.model.prediction);
    if (!(Number.isFinite(a) && Number.isFinite(b))) {
      throw new UsageError(
        `the model's ${this.model.prediction} prediction gives no data estimate at t=${t}, where α = ${this.process.alpha(t)} (pure noise); start the grid below it (e.g. --start) or use a model predicting velocity, v or the sample`,
      );
    }
    return lin2(out, a, x, b, out);
  }
}
