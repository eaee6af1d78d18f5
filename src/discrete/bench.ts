import { UsageError } from '../core/errors.js';
import { log } from '../core/math.js';
import { Rng } from '../core/rng.js';
import { entropy } from './categorical.js';
import { DiscreteDenoiser, type DiscreteModel } from './model.js';
import { BUILTIN_MARKOV, encodeSequence, intPow, MarkovOracle } from './oracle/markov.js';
import { ancestral } from './samplers/ancestral.js';
import { anyOrder } from './samplers/any-order.js';
import { confidence } from './samplers/confidence.js';
import { edlm, oracleScorer, type SequenceScorer } from './samplers/edlm.js';
import { firstHitting } from './samplers/first-hitting.js';
import type { DiscreteSample } from './samplers/types.js';

/** The discrete samplers the CLI and the results page run on the built-in chains, by name. */
export const DISCRETE_SAMPLERS = {
  ancestral: 'MDLM/SEDD ancestral sampling with RADD caching (Sahoo et al. 2024; Ou et al. 2024)',
  'ancestral-nocache': 'ancestral sampling calling the model on every masked sequence at every step',
  'first-hitting': 'first-hitting sampler, one token per call (Zheng et al. 2024); ignores --steps (NFE = L)',
  'first-hitting-parallel': 'first-hitting sampler, ⌈L/steps⌉ tokens per call',
  'any-order': 'any-order autoregressive sampling (RADD AO-ARM view); ignores --steps (NFE = L)',
  confidence: 'MaskGIT confidence-ordered unmasking, cosine schedule (Chang et al. 2022)',
  edlm: 'EDLM: per-step importance sampling with the chain as the AR energy (Xu et al. 2024)',
} as const;
/** A key of DISCRETE_SAMPLERS. */
export type DiscreteSamplerName = keyof typeof DISCRETE_SAMPLERS;
/** The names of DISCRETE_SAMPLERS, in their listing order. */
export const DISCRETE_SAMPLER_NAMES = Object.keys(DISCRETE_SAMPLERS) as DiscreteSamplerName[];
/** The names of the built-in Markov chains (BUILTIN_MARKOV) that `builtinOracle` accepts. */
export const DISCRETE_CHAINS = Object.keys(BUILTIN_MARKOV);

/** Sequences up to this many are enumerated for exact KL / TV / entropy. */
export const ENUMERATION_LIMIT = 200_000;

/** The exact MarkovOracle of a built-in chain over sequences of `length` tokens; throws a UsageError for an unknown chain. */
export function builtinOracle(chain: string, length: number): MarkovOracle {
  const spec = Object.hasOwn(BUILTIN_MARKOV, chain) ? BUILTIN_MARKOV[chain] : undefined;
  if (!spec) throw new UsageError(`unknown chain "${chain}"; accepted: ${DISCRETE_CHAINS.join(', ')}`);
  return new MarkovOracle(spec, length);
}

/** One run of `runDiscreteSampler`: which sampler, how many steps, sequences and which seed. */
export interface DiscreteRunConfig {
  /** A DiscreteSamplerName; checked by `checkDiscreteSampler`. */
  sampler: string;
  /** Sampling steps (ignored by first-hitting and any-order). */
  steps: number;
  /** Number of sequences to generate. */
  n: number;
  /** Seed of the run's Rng. */
  seed: number;
  /** EDLM's candidates per step (default 4). */
  candidates?: number;
}

/** Returns `name` as a DiscreteSamplerName; throws a UsageError listing the accepted names if it is not one. */
export function checkDiscreteSampler(name: string): DiscreteSamplerName {
  if (!Object.hasOwn(DISCRETE_SAMPLERS, name)) throw new UsageError(`unknown discrete sampler "${name}"; accepted: ${DISCRETE_SAMPLER_NAMES.join(', ')}`);
  return name as DiscreteSamplerName;
}

/**
 * Runs one named sampler on a model (an oracle chain or a network) from all-masked sequences. EDLM's
 * energy is `energy`, or the chain itself when the model is a MarkovOracle.
 */
export async function runDiscreteSampler(network: DiscreteModel, cfg: DiscreteRunConfig, energy?: SequenceScorer): Promise<DiscreteSample> {
  const name = checkDiscreteSampler(cfg.sampler);
  const model = new DiscreteDenoiser(network);
  const run = { n: cfg.n, rng: new Rng(cfg.seed) };
  const { steps } = cfg;
  switch (name) {
    case 'ancestral':
      return ancestral(model, run, { steps, cache: true });
    case 'ancestral-nocache':
      return ancestral(model, run, { steps, cache: false });
    case 'first-hitting':
      return firstHitting(model, run);
    case 'first-hitting-parallel':
      return firstHitting(model, run, { tokensPerCall: Math.ceil(network.length / steps) });
    case 'any-order':
      return anyOrder(model, run);
    case 'confidence':
      return confidence(model, run, { steps });
    case 'edlm': {
      const scorer = energy ?? (network instanceof MarkovOracle ? oracleScorer(network) : undefined);
      if (!scorer) throw new UsageError('edlm needs an autoregressive energy for this model (e.g. a Markov chain JSON)');
      return edlm(model, run, { steps, energy: scorer, candidates: cfg.candidates });
    }
  }
}

/** What a run measures against the exact chain. */
export interface DiscreteStats {
  sampler: string;
  steps: number;
  n: number;
  /** Batched model calls. */
  nfe: number;
  /** Model evaluations per sequence. */
  nfePerSequence: number;
  /** Uniforms drawn per sequence. */
  drawsPerSequence: number;
  /** KL(empirical ‖ exact) in nats; null when V^L is too large to enumerate. */
  kl: number | null;
  tv: number | null;
  /** Plug-in entropy of the empirical distribution (nats); null when not enumerable. */
  entropy: number | null;
  /** Mean −log p(x) of the samples under the exact chain (nats per sequence). */
  nll: number;
}

/** The exact law of a chain's sequences, enumerated once and shared by every run's `discreteStats`. */
export interface ExactReference {
  /** The enumerated law, or null when V^L > ENUMERATION_LIMIT. */
  p: Float64Array | null;
  /** H(p) in nats, when enumerable. */
  entropy: number | null;
}

/** Enumerates the oracle's law p and its entropy; both null when V^L > ENUMERATION_LIMIT. */
export function exactReference(oracle: MarkovOracle): ExactReference {
  const size = intPow(oracle.vocabSize, oracle.length);
  if (size > ENUMERATION_LIMIT) return { p: null, entropy: null };
  const p = oracle.enumerate(ENUMERATION_LIMIT);
  return { p, entropy: entropy(p) };
}

/** NFE, KL, TV, entropy and NLL of n samples x against the exact chain. */
export function discreteStats(oracle: MarkovOracle, ref: ExactReference, s: DiscreteSample, cfg: DiscreteRunConfig): DiscreteStats {
  const { n } = cfg;
  const { length: L, vocabSize: V } = oracle;
  let nll = 0;
  for (let b = 0; b < n; b++) nll -= oracle.logProb(s.x, b * L);
  const base = { sampler: cfg.sampler, steps: cfg.steps, n, nfe: s.nfe, nfePerSequence: s.evaluations / n, drawsPerSequence: s.draws / n, nll: nll / n };
  if (ref.p === null) return { ...base, kl: null, tv: null, entropy: null };
  const q = new Float64Array(ref.p.length);
  for (let b = 0; b < n; b++) q[encodeSequence(s.x, b * L, L, V)] += 1 / n;
  let kl = 0;
  let tv = 0;
  q.forEach((qi, i) => {
    if (qi > 0) kl += qi * log(qi / (ref.p as Float64Array)[i]);
    tv += 0.5 * Math.abs(qi - (ref.p as Float64Array)[i]);
  });
  return { ...base, kl, tv, entropy: entropy(q) };
}

const fmt = (v: number | null, d: number) => (v === null ? '—' : v.toFixed(d));

/** The stats as a Markdown table. */
export function discreteTable(rows: readonly DiscreteStats[]): string {
  const head = '| sampler | steps | NFE (calls) | NFE / sequence | draws / sequence | KL (nats) | TV | entropy (nats) | NLL (nats) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  return (
    head +
    rows
      .map((r) => `| ${r.sampler} | ${r.steps} | ${r.nfe} | ${r.nfePerSequence.toFixed(2)} | ${r.drawsPerSequence.toFixed(1)} | ${fmt(r.kl, 4)} | ${fmt(r.tv, 4)} | ${fmt(r.entropy, 3)} | ${r.nll.toFixed(3)} |`)
      .join('\n') +
    '\n'
  );
}
