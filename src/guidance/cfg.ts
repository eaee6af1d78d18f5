import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import { UsageError, usage } from '../core/errors.js';

/**
 * How the guidance scale is written: `diffusers` (guidance_scale g, out = u + g(c − u), g = 1 is the
 * conditional model) or `one-plus-w` (Ho & Salimans 2022, Eq. 6: out = (1 + w)c − w u, w = 0 is
 * the conditional model). The same guidance has g = 1 + w.
 */
export type CfgConvention = 'diffusers' | 'one-plus-w';
/** Every accepted {@link CfgConvention}, in the order error messages list them. */
export const cfgConventions: readonly CfgConvention[] = ['diffusers', 'one-plus-w'];

/** Options of {@link classifierFreeGuidance}. */
export interface CfgOptions {
  /** The model under the condition (prompt, class); its prediction type and sample shape are the result's. */
  conditional: Model;
  /** The model without it; must predict the same type with the same sample shape. */
  unconditional: Model;
  /** Guidance strength, g or w as `convention` says; must be finite. */
  scale: number;
  /** How `scale` is written; default `diffusers`. */
  convention?: CfgConvention;
  /** φ of guidance rescale (Lin et al. 2024, Eq. 15–16); 0 is plain CFG. */
  rescale?: number;
  /**
   * Limited-interval guidance (Kynkäänniemi et al. 2024): guide only while σ_lo < σ(t)/α(t) ≤ σ_hi
   * (the noise level in EDM's σ, for any process); elsewhere the conditional model alone.
   */
  interval?: { process: Process; sigmaLo: number; sigmaHi: number };
  /**
   * Both predictions from one call, [conditional, unconditional] (e.g. a network run once on the
   * batch stacked with itself under both conditions); default: the two models called in turn.
   */
  both?: (x: Float64Array, n: number, t: number) => Promise<[Float64Array, Float64Array]>;
}

/**
 * Classifier-free guidance (Ho & Salimans 2022) as a model: the combination is affine with weights
 * summing to 1, so it is the same in every prediction type; it is done in the models' own type,
 * where guidance rescale (not affine) is defined, as diffusers applies it to the model output.
 */
export function classifierFreeGuidance(o: CfgOptions): Model {
  const { conditional: cond, unconditional: uncond } = o;
  const convention = o.convention ?? 'diffusers';
  if (!cfgConventions.includes(convention)) {
    throw new UsageError(`unknown guidance convention "${String(convention)}"; accepted: ${cfgConventions.join(', ')}`);
  }
  usage(Number.isFinite(o.scale), `guidance scale must be a finite number, got ${o.scale}`);
  const g = convention === 'diffusers' ? o.scale : 1 + o.scale;
  const phi = o.rescale ?? 0;
  usage(phi >= 0 && phi <= 1, `guidance rescale φ must be in [0, 1], got ${phi}`);
  usage(cond.prediction === uncond.prediction,
    `conditional and unconditional models must predict the same type, got ${cond.prediction} and ${uncond.prediction}`);
  usage(cond.sampleShape.join() === uncond.sampleShape.join(),
    `conditional and unconditional models must have one sample shape, got [${cond.sampleShape.join(', ')}] and [${uncond.sampleShape.join(', ')}]`);
  const iv = o.interval;
  if (iv) usage(iv.sigmaLo >= 0 && iv.sigmaHi > iv.sigmaLo, `guidance interval needs 0 ≤ sigmaLo < sigmaHi, got (${iv.sigmaLo}, ${iv.sigmaHi}]`);
  const guided = (t: number) => {
    if (g === 1) return false;
    if (!iv) return true;
    const s = iv.process.sigma(t) / iv.process.alpha(t);
    return s > iv.sigmaLo && s <= iv.sigmaHi;
  };
  return {
    prediction: cond.prediction,
    sampleShape: cond.sampleShape,
    async predict(x, n, t) {
      if (!guided(t)) return cond.predict(x, n, t);
      const [c, u] = o.both ? await o.both(x, n, t) : [await cond.predict(x, n, t), await uncond.predict(x, n, t)];
      const out = new Float64Array(c.length);
      for (let i = 0; i < out.length; i++) out[i] = u[i] + g * (c[i] - u[i]);
      if (phi > 0) rescaleGuided(out, c, n, phi);
      return out;
    },
  };
}

/**
 * Guidance rescale, Lin et al. 2024, Eq. 15–16, per sample: x_rescaled = x_cfg·std(x_pos)/std(x_cfg),
 * x_final = φ·x_rescaled + (1 − φ)·x_cfg, in place on `guided`.
 */
export function rescaleGuided(guided: Float64Array, conditional: Float64Array, n: number, phi: number): Float64Array {
  const d = guided.length / n;
  for (let i = 0; i < n; i++) {
    const sCfg = std(guided, i * d, d);
    if (!(sCfg > 0)) continue;
    const factor = phi * (std(conditional, i * d, d) / sCfg) + (1 - phi);
    for (let j = i * d; j < (i + 1) * d; j++) guided[j] *= factor;
  }
  return guided;
}

function std(v: Float64Array, off: number, d: number): number {
  let mean = 0;
  for (let j = 0; j < d; j++) mean += v[off + j];
  mean /= d;
  let s = 0;
  for (let j = 0; j < d; j++) s += (v[off + j] - mean) * (v[off + j] - mean);
  return Math.sqrt(s / d);
}
