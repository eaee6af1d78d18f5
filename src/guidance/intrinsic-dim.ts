import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import type { Rng } from '../core/rng.js';
import { Denoiser } from '../models/denoiser.js';
import { usage } from '../core/errors.js';
import { symmetricEigen } from '../core/linalg.js';

/** Eigenvalues of a symmetric d×d matrix, descending (cyclic Jacobi, src/core/linalg.ts); `a` is left unchanged. */
export function symmetricEigenvalues(a: Float64Array, d: number): Float64Array {
  return symmetricEigen(a, d).values.sort().reverse();
}

/** Options of {@link intrinsicDimension}. */
export interface IntrinsicDimensionOptions {
  /** A model of the data, in any prediction type (its score comes from its data prediction). */
  model: Model;
  /** The forward process of the model (its α, σ). */
  process: Process;
  /** The point on the data manifold (length d). */
  x0: Float64Array;
  /** A small time: σ(t) well below the data's extent along the manifold, above its thickness. */
  t: number;
  /** Perturbed copies x_t = α x0 + σ ε whose scores are stacked (≥ d). */
  samples: number;
  /** Draws the perturbations ε. */
  rng: Rng;
}

/**
 * Intrinsic dimension from the score's spectrum (Stanczuk et al. 2024, "Diffusion Models Encode the
 * Intrinsic Dimension of Data Manifolds", Alg. 1): stack the scores ∇ log p_t(x_t) = (αx̂0 − x_t)/σ² of
 * `samples` perturbations of x0 into a matrix S; near the manifold the scores point along its
 * normal space, so S has d − k large singular values. The estimate is k = d − i at the largest
 * drop s_i − s_{i+1} of the descending singular values (from the eigenvalues of SᵀS).
 */
export async function intrinsicDimension(o: IntrinsicDimensionOptions): Promise<{ dimension: number; singularValues: Float64Array }> {
  const { process: p, x0, t, samples, rng } = o;
  const d = x0.length;
  usage(o.model.sampleShape.reduce((a, b) => a * b, 1) === d, `x0 has ${d} values, but the model's samples differ`);
  usage(Number.isInteger(samples) && samples >= d, `samples must be an integer ≥ d=${d}, got ${samples}`);
  const a = p.alpha(t);
  const s = p.sigma(t);
  usage(s > 0, 'the score needs σ(t) > 0');
  const x = rng.fillNormal(new Float64Array(samples * d));
  for (let i = 0; i < samples; i++) for (let j = 0; j < d; j++) x[i * d + j] = a * x0[j] + s * x[i * d + j];
  const xhat = await new Denoiser(o.model, p).denoise(x, samples, t);
  const gram = new Float64Array(d * d);
  const score = new Float64Array(d);
  for (let i = 0; i < samples; i++) {
    for (let j = 0; j < d; j++) score[j] = (a * xhat[i * d + j] - x[i * d + j]) / (s * s);
    for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) gram[j * d + k] += score[j] * score[k];
  }
  const singularValues = symmetricEigenvalues(gram, d).map((v) => Math.sqrt(Math.max(v, 0)));
  let best = 1;
  for (let i = 1; i < d; i++) if (singularValues[i - 1] - singularValues[i] > singularValues[best - 1] - singularValues[best]) best = i;
  return { dimension: d - best, singularValues };
}
