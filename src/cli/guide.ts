import { UsageError } from '../core/errors.js';
import type { Process } from '../process/types.js';
import type { Model } from '../models/types.js';
import { GaussianMixture } from '../models/oracle/gmm.js';
import { ClassConditionalMixture } from '../models/oracle/posterior.js';
import { classifierFreeGuidance, cfgConventions, type CfgConvention } from '../guidance/cfg.js';
import { classifierGuidance } from '../guidance/classifier.js';

/**
 * `--guide` of `diffuse sample` on exact mixtures. Classes of a mixture: component k has class
 * k mod C (C = `classes`, default K: every component its own class), so p(x0 | c) is the mixture of
 * components c, c + C, c + 2C, … and the exact conditional, unconditional and classifier follow.
 *   cfg:w=G,class=C[,classes=N][,convention=diffusers|one-plus-w][,rescale=φ]
 *   classifier:scale=S,class=C[,classes=N]
 */
export const guideHelp = 'cfg:w=G,class=C[,classes=N,convention=diffusers|one-plus-w,rescale=φ] or classifier:scale=S,class=C[,classes=N]; component k has class k mod N (N = classes, default: one class per component)';

/** "kind:key=value,key=value" → kind and its options (shared by --guide, --measure, --method). */
export function parseSpec(value: string, flag: string, example: string): { kind: string; options: Record<string, string> } {
  const colon = value.indexOf(':');
  const kind = (colon < 0 ? value : value.slice(0, colon)).trim();
  const options: Record<string, string> = Object.create(null) as Record<string, string>;
  if (colon >= 0 && value.slice(colon + 1).trim() !== '') {
    for (const item of value.slice(colon + 1).split(',')) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new UsageError(`${flag} "${value}": options go as key=value separated by commas, e.g. ${example}`);
      options[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
    }
  }
  return { kind, options };
}

/** A numeric option of a spec, checked; `fallback` undefined makes it required. */
export function specNumber(spec: { kind: string; options: Record<string, string> }, key: string, flag: string, fallback?: number, integer = false): number {
  const raw = Object.hasOwn(spec.options, key) ? spec.options[key] : undefined;
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${flag} ${spec.kind} needs ${key}=…`);
    return fallback;
  }
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${flag} ${spec.kind}: ${key} must be ${integer ? 'an integer' : 'a finite number'}, got "${raw}"`);
  }
  return v;
}

/** Reject keys a spec does not know. */
export function checkKeys(spec: { kind: string; options: Record<string, string> }, allowed: readonly string[], flag: string): void {
  const bad = Object.keys(spec.options).filter((k) => !allowed.includes(k));
  if (bad.length) throw new UsageError(`${flag} ${spec.kind} does not take ${bad.join(', ')}; accepted: ${allowed.join(', ') || 'no options'}`);
}

/** The guided exact model a --guide spec asks for. */
export function guidedOracle(spec: GaussianMixture, process: Process, prediction: string, value: string): Model {
  const flag = '--guide';
  const g = parseSpec(value, flag, 'cfg:w=3,class=2');
  const K = spec.K;
  const classes = specNumber(g, 'classes', flag, K, true);
  if (classes < 1 || classes > K) throw new UsageError(`${flag}: classes must be in 1..${K} (the mixture's components), got ${classes}`);
  const source = new ClassConditionalMixture(spec, Array.from({ length: K }, (_, k) => k % classes));
  const label = specNumber(g, 'class', flag, undefined, true);
  if (label < 0 || label >= classes) throw new UsageError(`${flag}: class must be in 0..${classes - 1}, got ${label}`);
  if (g.kind === 'cfg') {
    checkKeys(g, ['w', 'class', 'classes', 'convention', 'rescale'], flag);
    const convention = (g.options.convention ?? 'diffusers') as CfgConvention;
    if (!cfgConventions.includes(convention)) throw new UsageError(`${flag} cfg: convention must be ${cfgConventions.join(' or ')}, got "${convention}"`);
    return classifierFreeGuidance({
      conditional: source.conditional(label, process, prediction),
      unconditional: source.unconditional(process, prediction),
      scale: specNumber(g, 'w', flag),
      convention,
      rescale: specNumber(g, 'rescale', flag, 0),
    });
  }
  if (g.kind === 'classifier') {
    checkKeys(g, ['scale', 'class', 'classes'], flag);
    return classifierGuidance({
      model: source.unconditional(process, prediction),
      classifier: source.classifier(process),
      process,
      label,
      scale: specNumber(g, 'scale', flag),
    });
  }
  throw new UsageError(`${flag} must be ${guideHelp}; got "${value}"`);
}
