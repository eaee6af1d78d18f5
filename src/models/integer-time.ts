import type { Model } from './types.js';
import { roundHalfEven } from '../grid/diffusers.js';
import type { Process } from '../process/types.js';
import { VpDiscrete } from '../process/vp-discrete.js';

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

/**
 * How a diffusers scheduler times its model when its σ's are not its table's (Karras, exponential,
 * beta σ's, Lu's λ's): 'log-sigma' passes `_sigma_to_t(σ)` (log-σ interpolation, VpDiscrete's
 * tOfLogSigma), 'round' and 'floor' that made an integer (the multistep classes). Diffuse's grid
 * holds the exact σ's as times of its σ-linear interpolation; this wrapper gives the model the
 * timestep upstream gives it. On other processes only the integer part applies, to the time in
 * units of 1/`scale` (the flow σ's of the multistep classes: timestep ⌊σ·N⌋, model time ⌊σ·N⌋/N).
 */
export function diffusersTimeModel(model: Model, process: Process, mode: 'round' | 'floor' | 'log-sigma', scale = 1): Model {
  const table = process instanceof VpDiscrete ? process : undefined;
  if (!table) {
    if (mode === 'log-sigma') return model;
    const integer = integerTimeModel({ ...model, predict: (x, n, t) => model.predict(x, n, t / scale) }, mode);
    return { prediction: model.prediction, sampleShape: model.sampleShape, predict: (x, n, t) => integer.predict(x, n, t * scale) };
  }
  const upstream = (t: number) => (Number.isFinite(t) && t >= 0 ? table.tOfLogSigma(table.sigmaVeAt(t)) : t);
  const inner = mode === 'log-sigma' ? model : integerTimeModel(model, mode);
  return { prediction: model.prediction, sampleShape: model.sampleShape, predict: (x, n, t) => inner.predict(x, n, upstream(t)) };
}
