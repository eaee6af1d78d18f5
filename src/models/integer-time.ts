import type { Model } from './types.js';
import { roundHalfEven } from '../grid/diffusers.js';

/**
 * A model called at integer timesteps, as diffusers' multistep schedulers call a UNet when their
 * σ's come from Karras, exponential, beta or Lu schedules: the solver steps between the exact σ's
 * while the network sees round(t) (NumPy's half-to-even) or trunc(t). On a network whose card feeds
 * int64 timesteps this changes nothing; on an exact oracle it reproduces that mismatch.
 */
export function integerTimeModel(model: Model, mode: 'round' | 'floor'): Model {
  const integer = mode === 'round' ? roundHalfEven : Math.trunc;
  return {
    prediction: model.prediction,
    sampleShape: model.sampleShape,
    predict: (x, n, t) => model.predict(x, n, Number.isFinite(t) ? integer(t) : t),
  };
}
