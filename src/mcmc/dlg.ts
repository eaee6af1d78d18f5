import type { Model } from '../models/types.js';
import type { Edm } from '../process/ve.js';
import type { GaussianMixture } from '../models/oracle/gmm.js';
import { Denoiser } from '../models/denoiser.js';
import { sample } from '../sample.js';
import { makeGrid } from '../grid/index.js';
import { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * Denoising MCMC with Denoising Langevin Gibbs (Kim & Ye 2022/2023, §3–4, Alg. 1): a Markov chain
 * on the product of data x and noise level σ ∈ {σ_1 < … < σ_J} targeting
 *   π(x, σ_j) ∝ π_j · p_{σ_j}(x),  p_σ = p_data ∗ N(0, σ²I)  (EDM / VE coordinates, t = σ),
 * alternating a Gibbs draw of σ from p(σ_j | x) ∝ π_j p_{σ_j}(x) (the paper's noise-level
 * classifier; exact here for a mixture) and a Langevin step on x at the chain's σ with step ησ²:
 *   x ← x + (η/2)(D(x, σ) − x) + σ√η z,  since ∇log p_σ(x) = (D(x, σ) − x)/σ.
 * After burn-in every `thin`-th state (x, σ_j) of each chain is denoised by an ODE solve from σ_j
 * to 0 with any registry sampler. At equilibrium x | σ_j ~ p_{σ_j}, so the ODE output ~ p_data.
 */

/** log p_{σ_j}(x_i) for n samples and J levels (n×J, row-major). */
export type NoiseLogLikelihood = (x: Float64Array, n: number, sigmas: Float64Array) => Float64Array;

/** The exact noise-level likelihood of a Gaussian mixture: log Σ_k w_k N(x; μ_k, (v_k + σ²)I). */
export function gmmNoiseLikelihood(gmm: GaussianMixture): NoiseLogLikelihood {
  const { d, K, means, variances, logWeights } = gmm;
  return (x, n, sigmas) => {
    const J = sigmas.length;
    const out = new Float64Array(n * J);
    const terms = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < J; j++) {
        const s2 = sigmas[j] * sigmas[j];
        let max = -Infinity;
        for (let k = 0; k < K; k++) {
          let q = logWeights[k];
          for (let c = 0; c < d; c++) {
            const v = variances[k * d + c] + s2;
            const e = x[i * d + c] - means[k * d + c];
            q -= 0.5 * ((e * e) / v + log(2 * Math.PI * v));
          }
          terms[k] = q;
          if (q > max) max = q;
        }
        let s = 0;
        for (let k = 0; k < K; k++) s += exp(terms[k] - max);
        out[i * J + j] = max + log(s);
      }
    }
    return out;
  };
}

/** A `sampleDmcmc` run: the model, the noise levels and chains, the Langevin step, and the final ODE solver. */
export interface DmcmcRequest {
  /** A model bound to the EDM process (t = σ). */
  model: Model;
  /** The EDM process; every chain level must be ≤ its σ_max (tMax). */
  process: Edm;
  /** log p_σ(x) at every level, for the Gibbs draw of σ (e.g. `gmmNoiseLikelihood`). */
  noiseLikelihood: NoiseLogLikelihood;
  /** Increasing noise levels of the chain; default 16 geometric levels from 0.05 to 2. */
  sigmas?: Float64Array;
  /** Parallel chains (default 64); n must be a multiple. */
  chains?: number;
  /** Chain iterations before the first emitted state (default 20). */
  burnIn?: number;
  /** Chain iterations between emitted states (default 1). */
  thin?: number;
  /** Langevin step η (step size ησ²; default 0.5). */
  stepSize?: number;
  /** Registry sampler for the ODE from σ_j to 0 (default dpmpp-2m) and its steps (default 4). */
  sampler?: string;
  /** Karras-grid steps of each ODE solve (default 4). */
  steps?: number;
  /** Number of output samples (default `chains`); each chain emits n / chains states. */
  n?: number;
  /** Seed of the chains (default 0); the ODE solves from level j use seed + 1 + j. */
  seed?: number;
}

/** What `sampleDmcmc` returns: the denoised samples, where they started, and the cost. */
export interface DmcmcResult {
  /** The n samples after the ODE solves (n × d). */
  x: Float64Array;
  /** Chain level σ each sample was denoised from. */
  sigmaStart: Float64Array;
  /** Single-sample score evaluations: in the chains, in the ODE solves, and their sum per output sample. */
  mcmcEvaluations: number;
  /** Single-sample evaluations in the ODE solves. */
  odeEvaluations: number;
  /** (mcmcEvaluations + odeEvaluations) / n. */
  nfePerSample: number;
}

function geometric(lo: number, hi: number, J: number): Float64Array {
  return Float64Array.from({ length: J }, (_, j) => exp(log(lo) + ((log(hi) - log(lo)) * j) / (J - 1)));
}

/** Denoising Langevin Gibbs, then an ODE solve from each emitted state (Kim & Ye, Alg. 1–2). */
export async function sampleDmcmc(req: DmcmcRequest): Promise<DmcmcResult> {
  const { model, process: p } = req;
  const sigmas = req.sigmas ?? geometric(0.05, 2, 16);
  const C = req.chains ?? 64;
  const n = req.n ?? C;
  const burnIn = req.burnIn ?? 20;
  const thin = req.thin ?? 1;
  const eta = req.stepSize ?? 0.5;
  const J = sigmas.length;
  if (!(J >= 1 && sigmas.every((s, j) => s > 0 && (j === 0 || s > sigmas[j - 1])) && sigmas[J - 1] <= p.tMax)) {
    throw new UsageError(`DMCMC sigmas must be increasing, > 0 and ≤ σ_max=${p.tMax}`);
  }
  if (!(Number.isInteger(C) && C >= 1 && Number.isInteger(n) && n % C === 0)) throw new UsageError(`n (${n}) must be a multiple of chains (${C}), both integers ≥ 1`);
  checkCount(burnIn, 'burnIn', 0, LIMITS.iterations);
  checkCount(thin, 'thin', 1, LIMITS.iterations);
  if (!(eta > 0 && eta <= 2)) throw new UsageError(`DMCMC stepSize must be in (0, 2], got ${eta}`);
  const d = model.sampleShape.reduce((a, b) => a * b, 1);
  const rng = new Rng(req.seed ?? 0);
  const chainRng = rng.fork(0);
  const denoiser = new Denoiser(model, p);
  const x = chainRng.fillNormal(new Float64Array(C * d)).map((v) => sigmas[J - 1] * v);
  const level = new Int32Array(C).fill(J - 1);
  let mcmcEvaluations = 0;
  const emitted = new Float64Array(n * d);
  const emittedLevel = new Int32Array(n);
  const perChain = n / C;
  const iterations = burnIn + thin * perChain;
  for (let it = 1; it <= iterations; it++) {
    gibbsLevels(req.noiseLikelihood(x, C, sigmas), C, J, level, chainRng);
    for (let j = 0; j < J; j++) {
      const members = [...level.keys()].filter((i) => level[i] === j);
      if (members.length === 0) continue;
      const xs = new Float64Array(members.length * d);
      members.forEach((i, m) => xs.set(x.subarray(i * d, (i + 1) * d), m * d));
      const den = await denoiser.denoise(xs, members.length, sigmas[j]);
      mcmcEvaluations += members.length;
      const z = chainRng.fillNormal(new Float64Array(xs.length));
      const noiseScale = sigmas[j] * Math.sqrt(eta);
      members.forEach((i, m) => {
        for (let c = 0; c < d; c++) x[i * d + c] += 0.5 * eta * (den[m * d + c] - x[i * d + c]) + noiseScale * z[m * d + c];
      });
    }
    if (it > burnIn && (it - burnIn) % thin === 0) {
      const k = (it - burnIn) / thin - 1;
      for (let i = 0; i < C; i++) {
        emitted.set(x.subarray(i * d, (i + 1) * d), (k * C + i) * d);
        emittedLevel[k * C + i] = level[i];
      }
    }
  }
  const out = new Float64Array(n * d);
  let odeEvaluations = 0;
  for (let j = 0; j < J; j++) {
    const members = [...emittedLevel.keys()].filter((i) => emittedLevel[i] === j);
    if (members.length === 0) continue;
    const xT = new Float64Array(members.length * d);
    members.forEach((i, m) => xT.set(emitted.subarray(i * d, (i + 1) * d), m * d));
    const grid = makeGrid(p, { type: 'karras', steps: req.steps ?? 4, sigmaMax: sigmas[j], sigmaMin: Math.min(p.tMin, sigmas[j] / 2), end: 'zero' });
    const r = await sample({ model, process: p, sampler: req.sampler ?? 'dpmpp-2m', grid, xT, seed: (req.seed ?? 0) + 1 + j });
    odeEvaluations += r.nfe * members.length;
    members.forEach((i, m) => out.set(r.x.data.subarray(m * d, (m + 1) * d), i * d));
  }
  return {
    x: out,
    sigmaStart: Float64Array.from(emittedLevel, (j) => sigmas[j]),
    mcmcEvaluations,
    odeEvaluations,
    nfePerSample: (mcmcEvaluations + odeEvaluations) / n,
  };
}

/** Gibbs step on σ: level_i ~ p(σ_j | x_i) ∝ p_{σ_j}(x_i) under a uniform prior over the levels. */
function gibbsLevels(logLik: Float64Array, C: number, J: number, level: Int32Array, rng: Rng): void {
  const w = new Float64Array(J);
  for (let i = 0; i < C; i++) {
    let max = -Infinity;
    for (let j = 0; j < J; j++) max = Math.max(max, logLik[i * J + j]);
    let s = 0;
    for (let j = 0; j < J; j++) s += w[j] = exp(logLik[i * J + j] - max);
    let u = rng.uniform() * s;
    let j = 0;
    while (j < J - 1 && (u -= w[j]) > 0) j++;
    level[i] = j;
  }
}
