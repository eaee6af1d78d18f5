import { UsageError } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { TokenSampler, type TokenFilter } from '../categorical.js';
import { checkSequences, type DiscreteDenoiser } from '../model.js';
import { evaluateRows, startTokens, type DiscreteRun, type DiscreteSample } from './types.js';

function requireTimeIndependent(model: DiscreteDenoiser): void {
  if (model.timeConditioned) throw new UsageError('any-order autoregressive sampling needs a time-independent model (RADD); this model is time-conditioned');
}

/** A uniformly random order of the positions of row b that are masked in x (Fisher–Yates). */
function randomOrder(x: Int32Array, b: number, L: number, mask: number, rng: Rng): number[] {
  const order: number[] = [];
  for (let j = 0; j < L; j++) if (x[b * L + j] === mask) order.push(j);
  for (let i = order.length - 1; i > 0; i--) {
    const r = Math.min(i, Math.floor(rng.uniform() * (i + 1)));
    [order[i], order[r]] = [order[r], order[i]];
  }
  return order;
}

/**
 * Any-order autoregressive sampling (RADD's AO-ARM view, Ou et al. 2024, §3.2 and eq. 10): each
 * sequence draws a uniformly random order of its masked positions and unmasks them one per call,
 * x_σ(i) ~ p(· | x_σ(<i)). Exact for an exact model; equal in law to the first-hitting sampler.
 */
export async function anyOrder(model: DiscreteDenoiser, run: DiscreteRun, options: TokenFilter = {}): Promise<DiscreteSample> {
  requireTimeIndependent(model);
  const { length: L, vocabSize: V } = model;
  const { n, rng } = run;
  const tokens = new TokenSampler(V, options);
  const x = startTokens(model, run);
  const nfe0 = model.nfe;
  const ev0 = model.evaluations;
  const orders = Array.from({ length: n }, (_, b) => randomOrder(x, b, L, V, rng));
  let draws = orders.reduce((s, o) => s + Math.max(0, o.length - 1), 0);
  const lp = new Float64Array(n * L * V);
  const ones = new Float64Array(n).fill(1);
  for (let i = 0; i < L; i++) {
    const rows = orders.flatMap((o, b) => (i < o.length ? [b] : []));
    if (rows.length === 0) break;
    await evaluateRows(model, x, rows, ones, lp);
    for (const b of rows) {
      const j = b * L + orders[b][i];
      x[j] = tokens.draw(lp, j * V, rng.uniform());
      draws++;
    }
  }
  return { x, nfe: model.nfe - nfe0, evaluations: model.evaluations - ev0, draws };
}

/**
 * AO-ARM log-likelihood of complete sequences for given orders (RADD eq. 10 inside the expectation):
 * Σ_i log p(x_σ(i) | x_σ(<i)), L calls. orders: n × L permutations of 0..L−1. For an exact model every
 * order gives log p(x); for a learned one its mean over random orders is RADD's likelihood bound.
 */
export async function anyOrderLogLikelihood(model: DiscreteDenoiser, x: Int32Array, n: number, orders: Int32Array): Promise<Float64Array> {
  requireTimeIndependent(model);
  const { length: L, vocabSize: V } = model;
  checkSequences(x, n, L, V);
  if (x.includes(V)) throw new UsageError('anyOrderLogLikelihood needs complete sequences (no mask tokens)');
  if (orders.length !== n * L) throw new UsageError(`orders must be n × L = ${n} × ${L}, got ${orders.length} entries`);
  for (let b = 0; b < n; b++) {
    const seen = new Set(orders.subarray(b * L, (b + 1) * L));
    if (seen.size !== L || [...seen].some((j) => !(j >= 0 && j < L))) throw new UsageError(`orders row ${b} is not a permutation of 0..${L - 1}`);
  }
  const cur = new Int32Array(n * L).fill(V);
  const ll = new Float64Array(n);
  const lp = new Float64Array(n * L * V);
  const rows = Array.from({ length: n }, (_, b) => b);
  const ones = new Float64Array(n).fill(1);
  for (let i = 0; i < L; i++) {
    await evaluateRows(model, cur, rows, ones, lp);
    for (let b = 0; b < n; b++) {
      const j = b * L + orders[b * L + i];
      ll[b] += lp[j * V + x[j]];
      cur[j] = x[j];
    }
  }
  return ll;
}

/** n uniformly random permutations of 0..L−1, as anyOrderLogLikelihood takes them. */
export function randomOrders(n: number, L: number, rng: Rng): Int32Array {
  const masked = new Int32Array(L).fill(1);
  const out = new Int32Array(n * L);
  for (let b = 0; b < n; b++) out.set(randomOrder(masked, 0, L, 1, rng), b * L);
  return out;
}
