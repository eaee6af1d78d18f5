import { UsageError } from '../../core/errors.js';
import { exp, log } from '../../core/math.js';
import { TokenSampler } from '../categorical.js';
import { checkObservation, clampedStart, tokenLikelihood, type TokenObservation } from '../inverse.js';
import type { DiscreteDenoiser } from '../model.js';
import { linearSchedule, type MaskSchedule } from '../schedule.js';
import { evaluateRows, maskedCount, maskTimes, unmaskProbability, type DiscreteRun, type DiscreteSample } from './types.js';
import { checkCount, LIMITS } from '../../core/limits.js';

/** Options of `aps`: the time grid, the observation, and the guidance and remasking variants. */
export interface ApsOptions {
  /** Number of steps N (ignored when `times` is given): one model call each. */
  steps: number;
  /** A non-increasing time grid in [0, 1] to use instead of the uniform one. */
  times?: Float64Array;
  /** How many tokens stay masked after each step, ⌊m_0 (1 − α(s))⌋ (anchored) or the unmask probability (random). */
  schedule?: MaskSchedule;
  /** The measured tokens y and their flip probability ρ. */
  observation: TokenObservation;
  /** Gradient steps on the guided logits per denoising step (the paper's inner loop; no model calls). */
  innerSteps?: number;
  /** Step size of each inner gradient step on the logits φ (default 0.5). */
  learningRate?: number;
  /**
   * λ of the proximity term λ KL(p_φ ‖ p_θ) (Thm. 3.2's log x_θ/x_φ term) in the inner loss; 0 keeps
   * only the measurement loss, as the paper's Alg. 1 does with a few steps from x_θ.
   */
  klWeight?: number;
  /**
   * qe: the quantised-expectation gradient steps (APS); tilt: the exact per-token Bayes update
   * p_φ ∝ p_θ q(y | ·), the optimum of the relaxed loss E_{p_φ}[−log q(y | v)] + KL(p_φ ‖ p_θ) — a reference
   * that separates the guidance's error from the factorisation's.
   */
  guidance?: 'qe' | 'tilt';
  /**
   * anchored: unmask the most confident tokens of the guided distribution (APS's anchored remasking);
   * random: unmask as ancestral sampling does (isolates the guidance).
   */
  remasking?: 'anchored' | 'random';
}

/**
 * Anchored Posterior Sampling (Rout et al. 2025, "Test-Time Anchoring for Discrete Diffusion Posterior
 * Sampling", Alg. 1), on token inverse problems y = observed tokens, each flipped to a uniform token
 * with probability ρ (TokenObservation). Per denoising step:
 *  1. the pretrained x_θ(z_t) gives per-token logits; the guided logits φ start there (Thm. 3.2's x_φ);
 *  2. quantised expectation: the expected embedding Σ_v p_φ(v) e_v is snapped to the nearest codebook
 *     entry — with one-hot token embeddings, the argmax token v̂ — and −log q(y | v̂) is differentiated
 *     straight through to p_φ: ∂/∂p_v = −q(y|v)/q(y|v̂), then to φ by the softmax Jacobian; `innerSteps`
 *     gradient steps of size `learningRate`;
 *  3. anchored remasking: draw x̃_0 ~ p_φ for every masked token and keep unmasked the most confident
 *     ones, p_φ(x̃_0^l) highest (the anchors agreeing with the measurement), so that ⌊m_0(1 − α(s))⌋ stay masked.
 * Exactly observed tokens (ρ = 0) are clamped from the start, as the measurement fixes them. The token
 * likelihood is separable, so the guidance acts per position; the model couples positions at later steps.
 * A heuristic: it does not sample the posterior exactly, even with an exact model.
 */
export async function aps(model: DiscreteDenoiser, run: DiscreteRun, options: ApsOptions): Promise<DiscreteSample> {
  const { length: L, vocabSize: V } = model;
  const { n, rng } = run;
  const obs = options.observation;
  checkObservation(obs, L, V);
  const inner = options.innerSteps ?? 20;
  const lr = options.learningRate ?? 0.5;
  const lambda = options.klWeight ?? 0;
  const guidance = options.guidance ?? 'qe';
  const remasking = options.remasking ?? 'anchored';
  checkCount(inner, 'innerSteps', 0, LIMITS.steps);
  if (!(lr > 0 && Number.isFinite(lr))) throw new UsageError(`learningRate must be a finite number > 0, got ${lr}`);
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new UsageError(`klWeight must be a finite number ≥ 0, got ${lambda}`);
  if (guidance !== 'qe' && guidance !== 'tilt') throw new UsageError(`guidance must be qe or tilt, got ${String(guidance)}`);
  if (remasking !== 'anchored' && remasking !== 'random') throw new UsageError(`remasking must be anchored or random, got ${String(remasking)}`);
  const schedule = options.schedule ?? linearSchedule();
  const times = maskTimes(options.steps, options.times);
  const tokens = new TokenSampler(V);
  const x = obs.flip === 0 ? clampedStart(obs, n, V) : new Int32Array(n * L).fill(V);
  const m0 = Array.from({ length: n }, (_, b) => maskedCount(x, b, L, V));
  const nfe0 = model.nfe;
  const ev0 = model.evaluations;
  const lp = new Float64Array(n * L * V);
  const phi = new Float64Array(V);
  const p = new Float64Array(V);
  const guided = new Float64Array(n * L * V);
  let draws = 0;
  const N = times.length - 1;
  for (let i = 0; i < N; i++) {
    const rows = m0.flatMap((_, b) => (maskedCount(x, b, L, V) > 0 ? [b] : []));
    if (rows.length === 0) break;
    await evaluateRows(model, x, rows, new Float64Array(n).fill(times[i]), lp);
    const last = i === N - 1;
    const pUnmask = unmaskProbability(schedule, times[i], times[i + 1]);
    const keepMasked = last ? 0 : 1 - schedule.alpha(times[i + 1]);
    for (const b of rows) {
      const cands: { j: number; v: number; score: number }[] = [];
      for (let j = b * L; j < (b + 1) * L; j++) {
        if (x[j] !== V) continue;
        const prior = lp.subarray(j * V, (j + 1) * V);
        phi.set(prior);
        const y = obs.y[j % L];
        if (y >= 0 && guidance === 'tilt') for (let v = 0; v < V; v++) phi[v] += log(tokenLikelihood(obs, V, y, v));
        if (y >= 0 && guidance === 'qe') for (let s = 0; s < inner; s++) guidanceStep(phi, p, prior, lambda, obs, y, lr);
        softmaxLog(phi, p);
        guided.set(phi, j * V);
        const v = tokens.draw(guided, j * V, rng.uniform());
        draws++;
        cands.push({ j, v, score: guided[j * V + v] });
      }
      let unmask: typeof cands;
      if (remasking === 'anchored') {
        const count = Math.max(1, cands.length - Math.floor(m0[b] * keepMasked));
        cands.sort((a, c) => c.score - a.score || a.j - c.j);
        unmask = cands.slice(0, count);
      } else {
        unmask = last ? cands : cands.filter(() => rng.uniform() < pUnmask);
        if (!last) draws += cands.length;
      }
      for (const c of unmask) x[c.j] = c.v;
    }
  }
  return { x, nfe: model.nfe - nfe0, evaluations: model.evaluations - ev0, draws };
}

/** p = softmax(φ), and φ renormalised to log p. */
function softmaxLog(phi: Float64Array, p: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < phi.length; v++) max = Math.max(max, phi[v]);
  let z = 0;
  for (let v = 0; v < phi.length; v++) z += p[v] = exp(phi[v] - max);
  const logZ = max + log(z);
  for (let v = 0; v < phi.length; v++) {
    p[v] /= z;
    phi[v] -= logZ;
  }
}

/**
 * One gradient step on φ for the loss −log q(y | QE(softmax φ)) + λ KL(softmax φ ‖ p_θ). The quantised
 * expectation is the argmax token v̂, with the straight-through gradient g_v = −q(y|v)/q(y|v̂) on p; the
 * KL adds g_v += λ (log p_v − log p_θ(v)); and ∂loss/∂φ_v = p_v (g_v − Σ_u p_u g_u) (softmax Jacobian).
 */
function guidanceStep(phi: Float64Array, p: Float64Array, prior: Float64Array, lambda: number, obs: TokenObservation, y: number, lr: number): void {
  const V = phi.length;
  softmaxLog(phi, p);
  let vHat = 0;
  for (let v = 1; v < V; v++) if (p[v] > p[vHat]) vHat = v;
  const qHat = tokenLikelihood(obs, V, y, vHat);
  const g = (v: number) => -tokenLikelihood(obs, V, y, v) / qHat + (p[v] > 0 ? lambda * (phi[v] - prior[v]) : 0);
  let mean = 0;
  for (let v = 0; v < V; v++) if (p[v] > 0) mean += p[v] * g(v);
  for (let v = 0; v < V; v++) if (p[v] > 0) phi[v] -= lr * p[v] * (g(v) - mean);
}
