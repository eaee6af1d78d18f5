import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import { toDataCoefficients } from '../param/convert.js';
import { usage } from '../core/errors.js';

/** A noisy classifier: ∇_{x_t} log p(c | x_t) for n samples (n×d), e.g. the mixture's exact one. */
export interface Classifier {
  /** ∇_x log p(c | x_t) at time t for class `c`, one gradient per sample (n×d, the layout of `x`). */
  gradLogProb(x: Float64Array, n: number, t: number, c: number): Float64Array;
}

/** Options of {@link classifierGuidance}. */
export interface ClassifierGuidanceOptions {
  /** The unconditional model, in any prediction type. */
  model: Model;
  /** Gives ∇ log p(c | x_t) at the model's times. */
  classifier: Classifier;
  /** The forward process both were trained under (α, σ convert the model's output and scale the gradient). */
  process: Process;
  /** The class c to steer towards. */
  label: number;
  /** s of Dhariwal & Nichol; 1 turns an exact unconditional model into the exact conditional one. */
  scale: number;
}

/**
 * Classifier guidance (Dhariwal & Nichol 2021, Alg. 2): ε̂' = ε̂ − σ·s·∇ log p(c | x_t), σ = √(1 − ᾱ)
 * for VP. Written for any process through the score: x0' = (x − σε̂')/α = x̂0 + (σ²/α)·s·∇ log p(c | x_t).
 * Returns data predictions ('sample').
 */
export function classifierGuidance(o: ClassifierGuidanceOptions): Model {
  const { model, classifier, process, label, scale } = o;
  usage(Number.isFinite(scale), `classifier guidance scale must be a finite number, got ${scale}`);
  return {
    prediction: 'sample',
    sampleShape: model.sampleShape,
    async predict(x, n, t) {
      const out = await model.predict(x, n, t);
      const [a, b] = toDataCoefficients(process, t, model.prediction);
      const grad = classifier.gradLogProb(x, n, t, label);
      const alpha = process.alpha(t);
      const sigma = process.sigma(t);
      const k = ((sigma * sigma) / alpha) * scale;
      for (let i = 0; i < out.length; i++) out[i] = a * x[i] + b * out[i] + k * grad[i];
      return out;
    },
  };
}
