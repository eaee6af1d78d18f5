import { UsageError } from '../core/errors.js';
import { log } from '../core/math.js';
import type { Rng } from '../core/rng.js';
import type { DiscreteDenoiser } from './model.js';
import { checkCount, LIMITS } from '../core/limits.js';

/** A per-token bound in bits with its standard error (over every sequence and draw, text and Monte Carlo variation together). */
export interface BitsEstimate {
  bitsPerToken: number;
  standardError: number;
}

/**
 * Monte Carlo estimate of the MDLM negative ELBO (Sahoo et al. 2024, eq. 10) of clean sequences, in bits
 * per token. With t ~ U(0, 1) and each token masked with probability 1 − α(t), integrating t out given
 * the number k of masked tokens leaves weight 1/k on a uniformly random set of k positions, for any
 * schedule (RADD, Ou et al. 2024, Prop. 3.2):
 *   −log p(x) ≤ L · E_{k ~ U{1..L}} [ (1/k) Σ_{i masked} −log p_θ(x^i | x_masked) ].
 * k is stratified over the `draws` per sequence. The masked set is the k smallest of L uniforms and
 * t is the k-th smallest, distributed as t | k under the linear schedule α = 1 − t (Beta(k, L − k + 1)),
 * which is what a time-conditioned model is fed.
 */
export async function maskedElbo(model: DiscreteDenoiser, x0: Int32Array, n: number, draws: number, rng: Rng, batch = 64): Promise<BitsEstimate> {
  const { length: L, vocabSize: V } = model;
  checkCount(draws, 'draws', 1, LIMITS.samples);
  if (x0.length !== n * L || x0.some((v) => v < 0 || v >= V)) throw new UsageError(`expected n × ${L} clean token ids in 0..${V - 1}`);
  const total = n * draws;
  const values = new Float64Array(total);
  for (let start = 0; start < total; start += batch) {
    const m = Math.min(batch, total - start);
    const xt = new Int32Array(m * L);
    const t = new Float64Array(m);
    const masks: number[][] = [];
    for (let r = 0; r < m; r++) {
      const j = start + r;
      const b = Math.floor(j / draws);
      const k = 1 + Math.min(L - 1, Math.floor((L * ((j % draws) + rng.uniform())) / draws));
      const u = Float64Array.from({ length: L }, () => rng.uniform());
      const order = Array.from({ length: L }, (_, i) => i).sort((p, q) => u[p] - u[q]);
      const masked = order.slice(0, k);
      xt.set(x0.subarray(b * L, (b + 1) * L), r * L);
      for (const i of masked) xt[r * L + i] = V;
      t[r] = u[order[k - 1]];
      masks.push(masked);
    }
    const lp = await model.logProbs(xt, m, t);
    masks.forEach((masked, r) => {
      const b = Math.floor((start + r) / draws);
      let nll = 0;
      for (const i of masked) nll -= lp[(r * L + i) * V + x0[b * L + i]];
      values[start + r] = nll / masked.length / Math.LN2;
    });
  }
  return meanAndError(values);
}

/** Entropy in bits of the token frequencies of x (the unigram baseline). */
export function unigramBits(x: Int32Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize);
  for (const v of x) counts[v]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / x.length) * log(c / x.length);
  return h / Math.LN2;
}

function meanAndError(v: Float64Array): BitsEstimate {
  const mean = v.reduce((a, c) => a + c, 0) / v.length;
  const variance = v.length > 1 ? v.reduce((a, c) => a + (c - mean) * (c - mean), 0) / (v.length - 1) : 0;
  return { bitsPerToken: mean, standardError: Math.sqrt(variance / v.length) };
}
