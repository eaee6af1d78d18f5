import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';

/**
 * What a model predicts, in diffusers' vocabulary plus flow velocity and score.
 * With x = αx0 + σε: v = αε − σx0 (Salimans & Ho 2022), velocity u = α'x0 + σ'ε (flow matching),
 * score = −ε/σ (Song et al. 2021).
 */
export type Prediction = 'epsilon' | 'sample' | 'v_prediction' | 'velocity' | 'score';
/** Every prediction type, in the order `diffuse list` shows them. */
export const predictions: readonly Prediction[] = ['epsilon', 'sample', 'v_prediction', 'velocity', 'score'];

/** `p` as a Prediction, or a UsageError naming the accepted ones. */
export function checkPrediction(p: string): Prediction {
  if ((predictions as readonly string[]).includes(p)) return p as Prediction;
  throw new UsageError(`unknown prediction type "${p}"; accepted: ${predictions.join(', ')}`);
}

/** Coefficients (a, b) with x0 = a·x + b·output, for a model output of the given type at time t. */
export function toDataCoefficients(p: Process, t: number, prediction: Prediction): [number, number] {
  const al = p.alpha(t);
  const s = p.sigma(t);
  switch (prediction) {
    case 'sample':
      return [0, 1];
    case 'epsilon':
      return [1 / al, -s / al];
    case 'v_prediction': {
      const n = al * al + s * s;
      return [al / n, -s / n];
    }
    case 'velocity': {
      const da = p.dAlpha(t);
      const ds = p.dSigma(t);
      const det = da * s - ds * al;
      return [-ds / det, s / det];
    }
    case 'score':
      return [1 / al, (s * s) / al];
  }
}

/** Coefficients (a, b) with output = a·x + b·x0, the inverse map (used by oracles). */
export function fromDataCoefficients(p: Process, t: number, prediction: Prediction): [number, number] {
  const al = p.alpha(t);
  const s = p.sigma(t);
  switch (prediction) {
    case 'sample':
      return [0, 1];
    case 'epsilon':
      return [1 / s, -al / s];
    case 'v_prediction':
      // v = αε − σx0 = (α/σ)x − (α²/σ + σ)x0
      return [al / s, -(al * al) / s - s];
    case 'velocity': {
      const ds = p.dSigma(t);
      return [ds / s, p.dAlpha(t) - (ds * al) / s];
    }
    case 'score':
      return [-1 / (s * s), al / (s * s)];
  }
}
