import type { DifferentiableDenoiser } from '../models/oracle/full-gmm.js';
import type { LinearMeasurement } from '../models/oracle/posterior.js';
import type { Process } from '../process/types.js';
import type { Rng } from '../core/rng.js';
import { cholSolve, cholesky, logDetFromCholesky, matMul, matTVec, matVec, transpose } from '../core/linalg.js';
import { exp, log } from '../core/math.js';
import { pigdmCovarianceFactor } from './inverse.js';
import { RunError, usage } from '../core/errors.js';

/** Normalised weights exp(logW − logsumexp(logW)). */
export function normalizeLogWeights(logW: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of logW) max = Math.max(max, v);
  usage(max > -Infinity, 'all particle weights are zero');
  const w = logW.map((v) => exp(v - max));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/** Effective sample size (Σw)²/Σw² (Kong, Liu & Wong 1994) of log-weights: N for equal weights, 1 for one particle. */
export function effectiveSampleSize(logW: Float64Array): number {
  const w = normalizeLogWeights(logW);
  let s2 = 0;
  for (const v of w) s2 += v * v;
  return 1 / s2;
}

/**
 * Systematic resampling (Kitagawa 1996; Douc, Cappé & Moulines 2005): one uniform u, then
 * `count` evenly spaced points (u + i)/count through the cumulative weights; returns ancestor
 * indices. Each particle is copied ⌊count·w⌋ or ⌈count·w⌉ times.
 */
export function systematicResample(weights: Float64Array, rng: Rng, count = weights.length): Int32Array {
  usage(Number.isInteger(count) && count >= 1, `resample count must be an integer ≥ 1, got ${count}`);
  const out = new Int32Array(count);
  const u = rng.uniform();
  let cum = weights[0];
  let k = 0;
  for (let i = 0; i < count; i++) {
    const point = (u + i) / count;
    while (point >= cum && k < weights.length - 1) cum += weights[++k];
    out[i] = k;
  }
  return out;
}

/** Options of {@link smcPosterior}. */
export interface SmcPosteriorOptions {
  /** The prior, with the exact VJP of its data prediction (for the twist's gradient). */
  prior: DifferentiableDenoiser;
  /** The operator A (m×d) and noise std s; s must be > 0 (the final weights are the likelihood N(y; A x0, s²I)). */
  measurement: LinearMeasurement;
  /** The observation y, m values. */
  y: ArrayLike<number>;
  /** Decreasing process times ending at σ = 0 (process.tZero). */
  grid: Float64Array;
  /** N, the number of particles (and of samples returned). */
  particles: number;
  /** Draws the initial particles, the kernels' noise and the resampling uniforms. */
  rng: Rng;
  /** Resample when ESS/N falls below this (default 0.5; 1 resamples every step, 0 never). */
  essThreshold?: number;
  /** Move particles with the twisted (guided) kernel rather than the prior's (default true). */
  guidedProposal?: boolean;
}

/** What {@link smcPosterior} returns: the samples and the run's diagnostics. */
export interface SmcPosteriorResult {
  /** N equally weighted particles (systematically resampled at the end), N×d. */
  x: Float64Array;
  /** ESS after each step's reweighting, before any resampling. */
  ess: Float64Array;
  /** How many times the particles were resampled during the run (the final resampling not counted). */
  resamplings: number;
  /** Estimate of log p(y) under the sampler's prior chain (product of mean incremental weights). */
  logEvidence: number;
  /** Prior evaluations (x̂0 with its VJP on all N particles): the number of grid times with σ > 0. */
  nfe: number;
}

/**
 * The twist L_t(x_t) = N(y; A x̂0(x_t), s²I + r_t² AAᵀ), r_t² = σ²/(α² + σ²) (ΠGDM's Gaussian
 * p(x0 | x_t); Song et al. 2023, Eq. 7), its log and its x_t-gradient through the VJP. At σ = 0 it is
 * the true likelihood N(y; A x0, s²I).
 */
function makeTwist(prior: DifferentiableDenoiser, meas: LinearMeasurement, y: ArrayLike<number>) {
  const { m, d, A, noiseStd } = meas;
  const AAt = matMul(A, transpose(A, m, d), m, d, m);
  const p = prior.process;
  const covarianceFactor = (t: number) => {
    const L = pigdmCovarianceFactor(AAt, m, p, noiseStd, t, 'SMC twist');
    return { L, logdet: logDetFromCholesky(L, m) };
  };
  const residuals = (x0: Float64Array, n: number) => {
    const res = new Float64Array(n * m);
    const ax = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      matVec(A, m, d, x0, i * d, ax);
      for (let r = 0; r < m; r++) res[i * m + r] = y[r] - ax[r];
    }
    return res;
  };
  const logLik = (res: Float64Array, n: number, L: Float64Array, logdet: number) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const z = res.slice(i * m, (i + 1) * m);
      cholSolve(L, m, z);
      let q = 0;
      for (let r = 0; r < m; r++) q += res[i * m + r] * z[r];
      out[i] = -0.5 * (q + logdet + m * log(2 * Math.PI));
      res.set(z, i * m);
    }
    return out;
  };
  return {
    /** log L_t, x̂0 and the twist gradient in data-prediction form (σ²/α)∇ log L_t, at σ(t) > 0. */
    at(x: Float64Array, n: number, t: number) {
      const { x0, vjp } = prior.denoiseWithVjp(x, n, t);
      if (noiseStd === Infinity) return { logL: new Float64Array(n), x0, shift: new Float64Array(n * d) };
      const { L, logdet } = covarianceFactor(t);
      const res = residuals(x0, n);
      const logL = logLik(res, n, L, logdet);
      const v = new Float64Array(n * d);
      const atu = new Float64Array(d);
      for (let i = 0; i < n; i++) v.set(matTVec(A, m, d, res.subarray(i * m, (i + 1) * m), atu), i * d);
      const shift = vjp(v);
      const k = (p.sigma(t) * p.sigma(t)) / p.alpha(t);
      for (let i = 0; i < shift.length; i++) shift[i] *= k;
      return { logL, x0, shift };
    },
    /** log p(y | x0), the exact likelihood. */
    final(x0: Float64Array, n: number) {
      if (noiseStd === Infinity) return new Float64Array(n);
      const M = new Float64Array(m * m);
      for (let i = 0; i < m; i++) M[i * m + i] = noiseStd * noiseStd;
      const L = cholesky(M, m);
      if (!L) throw new RunError('SMC needs a measurement noise std > 0 (the likelihood of a noiseless measurement is a point mass)');
      return logLik(residuals(x0, n), n, L, logDetFromCholesky(L, m));
    },
  };
}

/** Coefficients of the Gaussian q(x_s | x_t, x0) of the forward process (Ho et al. 2020, Eq. 7, for any α, σ). */
function bridge(p: Process, t: number, s: number) {
  const at = p.alpha(t);
  const st = p.sigma(t);
  const as = p.alpha(s);
  const ss = p.sigma(s);
  const ats = at / as;
  const var_ts = Math.max(0, st * st - ats * ats * ss * ss);
  return { cx: (ats * ss * ss) / (st * st), c0: (as * var_ts) / (st * st), std: Math.sqrt((var_ts * ss * ss) / (st * st)) };
}

/**
 * Sequential Monte Carlo posterior sampling for y = A x0 + n with a diffusion prior: N weighted
 * particles follow the twisted path q_t(x_t) ∝ p_t(x_t) L_t(x_t), from q_T ≈ p_T·L_T to
 * q_0 = p_0(x0) p(y | x0) = the posterior. Each step moves particles with the prior's ancestral
 * kernel shifted by the twist's score (the "modified drift") and multiplies each weight by
 *   p(x_s | x_t) L_s(x_s) / (q(x_s | x_t) L_t(x_t))
 * (the "reweighting term"), the discrete Feynman–Kac form of the posterior PDE; the twisted
 * diffusion sampler of Wu et al. 2023 (Alg. 1) and the ensemble scheme of Chen et al. 2025
 * ("approximation-free ensemble sampling", arXiv 2506.03979) share this structure. The weights
 * correct any twist, so the only errors are the prior chain's discretisation and Monte Carlo error
 * in N. Systematic resampling when ESS < essThreshold·N. NFE = number of grid times with σ > 0.
 */
export function smcPosterior(o: SmcPosteriorOptions): SmcPosteriorResult {
  const { prior, grid, particles: N, rng } = o;
  const p = prior.process;
  const d = prior.sampleShape.reduce((a, b) => a * b, 1);
  const threshold = o.essThreshold ?? 0.5;
  const guided = o.guidedProposal ?? true;
  usage(o.measurement.d === d, `the measurement acts on d=${o.measurement.d} values but the model's samples have ${d}`);
  usage(o.y.length === o.measurement.m, `y must have m=${o.measurement.m} values, got ${o.y.length}`);
  usage(Number.isInteger(N) && N >= 1, `particles must be an integer ≥ 1, got ${N}`);
  usage(threshold >= 0 && threshold <= 1, `ESS threshold must be in [0, 1], got ${threshold}`);
  usage(grid.length >= 2 && p.sigma(grid[grid.length - 1]) === 0 && p.sigma(grid[0]) > 0,
    'the SMC grid must start at σ > 0 and end at σ = 0 (process.tZero)');
  const twist = makeTwist(prior, o.measurement, o.y);
  let x = rng.fillNormal(new Float64Array(N * d));
  const s0 = p.priorStd(grid[0]);
  for (let i = 0; i < x.length; i++) x[i] *= s0;
  let cur: { logL: Float64Array; x0: Float64Array; shift: Float64Array } = twist.at(x, N, grid[0]);
  let nfe = 1;
  // Particles from p_T are weighted by L_T to target q_T ∝ p_T L_T.
  let logW = Float64Array.from(cur.logL);
  let logEvidence = logMeanExp(logW);
  const ess = new Float64Array(grid.length - 1);
  let resamplings = 0;
  for (let step = 0; step + 1 < grid.length; step++) {
    const t = grid[step];
    const s = grid[step + 1];
    if (effectiveSampleSize(logW) < threshold * N) {
      const idx = systematicResample(normalizeLogWeights(logW), rng);
      x = gather(x, idx, d);
      cur = { logL: gather(cur.logL, idx, 1), x0: gather(cur.x0, idx, d), shift: gather(cur.shift, idx, d) };
      logW = new Float64Array(N).fill(logMeanExp(logW));
      resamplings++;
    }
    const before = normalizeLogWeights(logW);
    const inc = new Float64Array(N);
    const { cx, c0, std } = bridge(p, t, s);
    if (p.sigma(s) === 0) {
      // Last step: x0 = x̂0 deterministically under both kernels; reweight by the exact likelihood.
      const lik = twist.final(cur.x0, N);
      for (let i = 0; i < N; i++) inc[i] = lik[i] - cur.logL[i];
      x = cur.x0;
    } else {
      const next = new Float64Array(N * d);
      const z = rng.fillNormal(new Float64Array(N * d));
      for (let i = 0; i < N; i++) {
        let logRatio = 0; // log p(x_s | x_t) − log q(x_s | x_t): both Gaussians of std `std`
        for (let j = i * d; j < (i + 1) * d; j++) {
          const meanPrior = cx * x[j] + c0 * cur.x0[j];
          const shift = guided ? c0 * cur.shift[j] : 0;
          next[j] = meanPrior + shift + std * z[j];
          logRatio += (z[j] * z[j] - (z[j] + shift / std) * (z[j] + shift / std)) / 2;
        }
        inc[i] = logRatio;
      }
      x = next;
      const nxt = twist.at(x, N, s);
      nfe++;
      for (let i = 0; i < N; i++) inc[i] += nxt.logL[i] - cur.logL[i];
      cur = nxt;
    }
    let mean = -Infinity;
    for (let i = 0; i < N; i++) {
      logW[i] += inc[i];
      mean = logAdd(mean, log(before[i]) + inc[i]);
    }
    logEvidence += mean;
    ess[step] = effectiveSampleSize(logW);
  }
  const idx = systematicResample(normalizeLogWeights(logW), rng);
  return { x: gather(x, idx, d), ess, resamplings, logEvidence, nfe };
}

function gather(v: Float64Array, idx: Int32Array, d: number): Float64Array {
  const out = new Float64Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) out.set(v.subarray(idx[i] * d, (idx[i] + 1) * d), i * d);
  return out;
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + log(exp(a - m) + exp(b - m));
}

function logMeanExp(v: Float64Array): number {
  let s = -Infinity;
  for (const x of v) s = logAdd(s, x);
  return s - log(v.length);
}
