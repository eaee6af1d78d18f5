import type { Prediction } from '../param/convert.js';
import type { GridSpec } from '../grid/spec.js';

/**
 * The one interface every model sits behind (oracles, ONNX networks, built-in networks).
 * A model is bound to a process: it reads t as that process's time.
 */
export interface Model {
  /** What predict() returns: ε, x0 ("sample"), v, flow velocity or score. */
  readonly prediction: Prediction;
  /** Shape of one sample, e.g. [2] or [1, 28, 28]. */
  readonly sampleShape: readonly number[];
  /** x holds n samples, row-major; returns a new array of the same layout. */
  predict(x: Float64Array, n: number, t: number): Promise<Float64Array>;
  /**
   * The grid this model samples best with for `steps` steps of `sampler` (a sampler's registry
   * name), e.g. measured on it and named in its card; undefined leaves the sampler's own default.
   * A run given a grid ignores it.
   */
  defaultGrid?(steps: number, sampler: string): GridSpec | undefined;
}
