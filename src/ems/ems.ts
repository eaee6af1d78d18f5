import * as v from 'valibot';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { finite, integer, list, looseRecord, record, text, validate } from '../io/schema.js';

/**
 * Empirical model statistics (EMS) of DPM-Solver-v3 (Zheng et al. 2023, §3.2, Eq. 6–7): on an
 * increasing grid of λ = log(α/σ), the scalars l_λ and s_λ and the vector b_λ (one value per data
 * element). With y = x/α and f_θ = e^{−λ}ε̂ − l_λ·y = (1 − l_λ)·y − x̂0,
 *   l_λ = argmin_l E‖σ∇_x ε̂ − l·I‖²_F = 1 − E[tr ∂x̂0/∂y]/D,
 *   (s_λ, b_λ) = argmin E‖f_θ^(1) − s·f_θ − b‖²  (f^(1) = df_θ/dλ along the PF-ODE).
 * They depend on λ only, not on how a process parametrises time, so one file serves every process.
 * Between nodes EmsCurve interpolates them by natural cubic splines in λ; outside the grid they stay
 * at the end values.
 */
export interface Ems {
  /** Strictly increasing λ nodes. */
  lambda: number[];
  /** l_λ per node. */
  l: number[];
  /** s_λ per node. */
  s: number[];
  /** b_λ per node, `dim` values each; absent means b ≡ 0. */
  b?: number[][];
  /** Monte Carlo standard error of l per node, where it was estimated from samples. */
  lStdErr?: number[];
  /** How and from what the statistics were obtained. */
  provenance: EmsProvenance;
}

/** Where an EMS came from: the method, the sample counts behind it and a free note. */
export interface EmsProvenance {
  /** How the statistics were obtained: 'analytic-gmm', 'finite-difference', 'online', 'degenerate'. */
  method: string;
  /** Samples of x_λ per node. */
  samples: number;
  /** Hutchinson probes per sample (black-box estimates). */
  probes?: number;
  /** Free text: model, process, seed… */
  note?: string;
}

/** The `format` tag of EMS JSON files (emsToJson writes it, parseEms requires it). */
export const EMS_FORMAT = 'diffuse-ems/1';

/**
 * l = 1, s = 0, b = 0: f_θ = −x̂0 and DPM-Solver-v3 is DPM-Solver++ (data prediction) with its
 * Taylor-form multistep updates (the official code's `degenerated=True`).
 */
export function degenerateEms(): Ems {
  return { lambda: [0, 1], l: [1, 1], s: [0, 0], provenance: { method: 'degenerate', samples: 0 } };
}

/** Throw a UsageError unless `e` is well-formed (and, given `dim`, has b rows of that length). */
export function checkEms(e: Ems, dim?: number): void {
  const bad = (what: string) => {
    throw new UsageError(`EMS ${what}; accepted: {format: "${EMS_FORMAT}", lambda: increasing numbers, l, s: one number per λ, b (optional): one row of dim numbers per λ, provenance: {method, samples}}`);
  };
  const m = Array.isArray(e.lambda) ? e.lambda.length : 0;
  if (m < 1) bad('needs at least one λ node');
  const finite = (a: unknown): a is number[] => Array.isArray(a) && a.length === m && a.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (!finite(e.lambda)) bad('lambda must hold finite numbers');
  for (let j = 1; j < m; j++) if (!(e.lambda[j] > e.lambda[j - 1])) bad(`lambda must increase (node ${j})`);
  if (!finite(e.l)) bad(`l must hold ${m} finite numbers`);
  if (!finite(e.s)) bad(`s must hold ${m} finite numbers`);
  if (e.b !== undefined) {
    if (!Array.isArray(e.b) || e.b.length !== m) bad(`b must hold ${m} rows`);
    const d = dim ?? e.b[0]?.length;
    e.b.forEach((row, j) => {
      if (!Array.isArray(row) || row.length !== d || !row.every(Number.isFinite)) bad(`b row ${j} must hold ${d} finite numbers`);
    });
  }
  if (typeof e.provenance !== 'object' || e.provenance === null || typeof e.provenance.method !== 'string') bad('needs provenance.method');
}

/** The EMS as JSON text (the file format: EMS_FORMAT plus the fields of Ems). */
export function emsToJson(e: Ems): string {
  checkEms(e);
  return JSON.stringify({ format: EMS_FORMAT, ...e });
}

const perNode = list(finite, 1, LIMITS.points);

/** The file's fields, typed and bounded; checkEms then checks how they fit together. */
const emsSchema = record({
  format: v.literal(EMS_FORMAT, `must be "${EMS_FORMAT}" (a file \`diffuse ems\` or emsToJson wrote)`),
  lambda: perNode,
  l: perNode,
  s: perNode,
  b: v.optional(list(list(finite, 1, LIMITS.dims), 1, LIMITS.points)),
  lStdErr: v.optional(perNode),
  provenance: looseRecord({ method: text, samples: integer(0, Number.MAX_SAFE_INTEGER), probes: v.optional(integer(0, LIMITS.population)), note: v.optional(v.string()) }),
});

/** Parse and check EMS JSON text written by emsToJson. */
export function parseEms(text: string, dim?: number): Ems {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`EMS is not valid JSON (${(err as Error).message}); accepted: the text written by emsToJson / \`diffuse ems\``);
  }
  const { lambda, l, s, b, lStdErr, provenance } = validate(emsSchema, raw, 'EMS');
  const e: Ems = { lambda, l, s, provenance };
  if (b !== undefined) e.b = b;
  if (lStdErr !== undefined) e.lStdErr = lStdErr;
  checkEms(e, dim);
  return e;
}
