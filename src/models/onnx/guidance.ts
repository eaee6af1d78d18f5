import type { Model } from '../types.js';
import { UsageError } from '../../core/errors.js';
import type { Labels, OnnxDenoiser } from './denoiser.js';

export type GuidanceBatching = 'doubled' | 'two-pass';

export interface OnnxGuidanceOptions {
  /** Class label of each sample. */
  labels: Labels;
  /** Guidance scale in diffusers' convention: 1 is the conditional model, 0 the unconditional one. */
  scale: number;
  /** One run on [conditional; unconditional] stacked (default), or two runs. */
  batching?: GuidanceBatching;
  /** The unconditional label; default: the card's null_class. */
  nullClass?: number;
}

/**
 * Classifier-free guidance (Ho & Salimans 2022) of a class-conditional ONNX model:
 * out = u + w (c − u) with c the prediction for the labels and u for the null class. The
 * combination is affine with weights summing to 1, so it holds in every prediction type.
 */
export function guided(model: OnnxDenoiser, o: OnnxGuidanceOptions): Model {
  const batching = o.batching ?? 'doubled';
  if (batching !== 'doubled' && batching !== 'two-pass') {
    throw new UsageError(`unknown guidance batching "${String(batching)}"; accepted: doubled, two-pass`);
  }
  if (!Number.isFinite(o.scale)) throw new UsageError(`guidance scale must be a finite number, got ${o.scale}`);
  const nullClass = o.nullClass ?? model.nullClass;
  if (nullClass === undefined) throw new UsageError('guidance needs the null class: the card names no null_class, so pass nullClass');
  const cond = Int32Array.from(o.labels);
  model.checkLabels([...cond, nullClass]);
  const w = o.scale;
  return {
    prediction: model.prediction,
    sampleShape: model.sampleShape,
    async predict(x, n, t) {
      if (cond.length !== n) throw new UsageError(`got ${cond.length} class labels for ${n} samples`);
      const uncondLabels = new Int32Array(n).fill(nullClass);
      let c: Float64Array;
      let u: Float64Array;
      if (batching === 'two-pass') {
        c = await model.predictLabels(x, n, t, cond);
        u = await model.predictLabels(x, n, t, uncondLabels);
      } else {
        const both = new Float64Array(2 * x.length);
        both.set(x);
        both.set(x, x.length);
        const labels = new Int32Array(2 * n);
        labels.set(cond);
        labels.set(uncondLabels, n);
        const out = await model.predictLabels(both, 2 * n, t, labels);
        c = out.subarray(0, x.length);
        u = out.subarray(x.length);
      }
      const result = new Float64Array(x.length);
      for (let i = 0; i < result.length; i++) result[i] = u[i] + w * (c[i] - u[i]);
      return result;
    },
  };
}
