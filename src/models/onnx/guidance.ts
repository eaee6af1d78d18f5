import type { Model } from '../types.js';
import { UsageError } from '../../core/errors.js';
import type { Labels, OnnxDenoiser } from './denoiser.js';
import { classifierFreeGuidance, type CfgOptions } from '../../guidance/cfg.js';

/**
 * How guided() runs the network: `doubled` = one run on the conditional and unconditional copies
 * stacked into a batch of 2n, `two-pass` = two runs of n.
 */
export type GuidanceBatching = 'doubled' | 'two-pass';

/** Options of guided(): labels, scale, batching, and classifierFreeGuidance's convention, rescale and interval. */
export interface OnnxGuidanceOptions extends Pick<CfgOptions, 'convention' | 'rescale' | 'interval'> {
  /** Class label of each sample. */
  labels: Labels;
  /** Guidance scale, in diffusers' convention unless `convention` says otherwise: 1 is the conditional model, 0 the unconditional one. */
  scale: number;
  /** One run on [conditional; unconditional] stacked (default), or two runs. */
  batching?: GuidanceBatching;
  /** The unconditional label; default: the card's null_class. */
  nullClass?: number;
}

/**
 * Classifier-free guidance (Ho & Salimans 2022) of a class-conditional ONNX model: the library's one
 * CFG (classifierFreeGuidance: both conventions, guidance rescale, limited interval) over the
 * network with the labels and with the null class, evaluated as one doubled batch by default.
 */
export function guided(model: OnnxDenoiser, o: OnnxGuidanceOptions): Model {
  const batching = o.batching ?? 'doubled';
  if (batching !== 'doubled' && batching !== 'two-pass') {
    throw new UsageError(`unknown guidance batching "${String(batching)}"; accepted: doubled, two-pass`);
  }
  const nullClass = o.nullClass ?? model.nullClass;
  if (nullClass === undefined) throw new UsageError('guidance needs the null class: the card names no null_class, so pass nullClass');
  const cond = Int32Array.from(o.labels);
  model.checkLabels([...cond, nullClass]);
  const uncond = new Int32Array(cond.length).fill(nullClass);
  const doubled = async (x: Float64Array, n: number, t: number): Promise<[Float64Array, Float64Array]> => {
    if (cond.length !== n) throw new UsageError(`got ${cond.length} class labels for ${n} samples`);
    const both = new Float64Array(2 * x.length);
    both.set(x);
    both.set(x, x.length);
    const out = await model.predictLabels(both, 2 * n, t, Int32Array.from([...cond, ...uncond]));
    return [out.subarray(0, x.length), out.subarray(x.length)];
  };
  const cfg = classifierFreeGuidance({
    conditional: model.withLabels(cond),
    unconditional: model.withLabels(uncond),
    scale: o.scale,
    convention: o.convention,
    rescale: o.rescale,
    interval: o.interval,
    ...(batching === 'doubled' ? { both: doubled } : {}),
  });
  return { ...cfg, defaultGrid: (steps, sampler) => model.defaultGrid(steps, sampler, o.scale !== 1) };
}
