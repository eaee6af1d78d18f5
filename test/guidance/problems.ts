import { GaussianMixture } from '../../src/models/oracle/gmm.js';
import { FullGaussianMixture, FullGmmOracle } from '../../src/models/oracle/full-gmm.js';
import {
  averaging, inpainting, measure, posteriorMixture, randomProjection, type LinearMeasurement,
} from '../../src/models/oracle/posterior.js';
import { builtinProblem } from '../../src/models/oracle/builtin.js';
import { createProcess, type Process } from '../../src/process/index.js';
import { dps, pigdm } from '../../src/guidance/inverse.js';
import { sample } from '../../src/sample.js';
import type { Model } from '../../src/models/types.js';
import { Rng } from '../../src/core/rng.js';
import { medianBandwidth, mmd2, momentErrors, slicedWasserstein2 } from '../../src/metrics/distance.js';

/** Inverse problems with exact posteriors, shared by the tests and the results script. */
export interface InverseProblem {
  name: string;
  prior: FullGaussianMixture;
  measurement: LinearMeasurement;
  y: Float64Array;
  posterior: FullGaussianMixture;
}

function problem(name: string, builtin: string, meas: (d: number) => LinearMeasurement, seed: number): InverseProblem {
  const gmm = new GaussianMixture(builtinProblem(builtin));
  const measurement = meas(gmm.d);
  const y = measure(measurement, gmm.sample(1, new Rng(seed)), new Rng(seed + 1));
  return { name, prior: FullGaussianMixture.fromDiagonal(gmm), measurement, y, posterior: posteriorMixture(gmm, measurement, y) };
}

export const inverseProblems = (): InverseProblem[] => [
  problem('ring8, inpaint x₁ (s=0.05)', 'ring8', (d) => inpainting(d, [0], 0.05), 21),
  problem('moons, 1×2 projection (s=0.05)', 'moons', (d) => randomProjection(1, d, new Rng(31), 0.05), 32),
  problem('gmm16, 4×16 projection (s=0.1)', 'gmm16', (d) => randomProjection(4, d, new Rng(41), 0.1), 42),
  problem('gmm16, 4× averaging (s=0.1)', 'gmm16', (d) => averaging(d, 4, 0.1), 52),
];

export const vp: Process = createProcess({ name: 'vp', schedule: 'linear' });

export type Method = { kind: 'ideal' } | { kind: 'prior' } | { kind: 'dps'; zeta: number } | { kind: 'pigdm' };

export function methodModel(p: InverseProblem, m: Method, process: Process = vp): Model {
  const prior = new FullGmmOracle(p.prior, process);
  switch (m.kind) {
    case 'ideal':
      return new FullGmmOracle(p.posterior, process);
    case 'prior':
      return prior;
    case 'dps':
      return dps({ prior, measurement: p.measurement, y: p.y, zeta: m.zeta });
    case 'pigdm':
      return pigdm({ prior, measurement: p.measurement, y: p.y });
  }
}

export interface Scores {
  sw2: number;
  mmd2: number;
  meanErr: number;
}

const bandwidths = new WeakMap<Float64Array, number>();

/**
 * Distances of samples to the exact posterior: SW2 and MMD² against exact samples (one median-heuristic
 * bandwidth per reference set, so scores against it are comparable), mean error against the exact mean.
 */
export function score(p: InverseProblem, xs: Float64Array, reference: Float64Array): Scores {
  const d = p.prior.d;
  let h = bandwidths.get(reference);
  if (h === undefined) bandwidths.set(reference, (h = medianBandwidth(reference, d, 300)));
  return {
    sw2: slicedWasserstein2(xs, reference, d, new Rng(99), 128),
    mmd2: mmd2(xs, reference, d, h).mmd2,
    meanErr: momentErrors(xs, d, p.posterior.moments()).mean,
  };
}

export async function runMethod(p: InverseProblem, m: Method, sampler: string, steps: number, n: number, seed: number) {
  const r = await sample({ model: methodModel(p, m), process: vp, sampler, steps, n, seed });
  return { x: r.x.data, nfe: r.nfe };
}

/** Five Gaussians (std 0.15) on the unit circle with weights 0.4 … 0.05: majority and minority modes. */
export function minorityMixture(): FullGaussianMixture {
  const w = [0.4, 0.3, 0.15, 0.1, 0.05];
  const means = w.flatMap((_, k) => [Math.cos((2 * Math.PI * k) / 5), Math.sin((2 * Math.PI * k) / 5)]);
  return new FullGaussianMixture(2, { weights: w }, Float64Array.from(means), Float64Array.from(w.flatMap(() => [0.0225, 0, 0, 0.0225])));
}

/** Aithal et al. 2024's 1-D mixture: modes at 1, 2, 3 with std 0.05, equal weights. */
export const hallucinationMixture = (): FullGaussianMixture =>
  new FullGaussianMixture(1, { weights: [1, 1, 1] }, Float64Array.from([1, 2, 3]), Float64Array.from([0.0025, 0.0025, 0.0025]));

/**
 * A deliberately smooth approximation of the exact denoiser, standing in for a trained network
 * (the exact oracle itself never lands between modes): x̂0 = Σ_k r̃_k m_k with the exact component
 * means m_k but responsibilities r̃_k computed as if the noise were √(σ² + τ²), so the switch between
 * modes is smoothed over a width ~τ at every time, as a network's smooth fit of the step-like exact
 * denoiser is (the paper's mode interpolation).
 */
export function smoothedOracle(mix: FullGaussianMixture, process: Process, tau: number): Model {
  const { d, K } = mix;
  return {
    prediction: 'sample',
    sampleShape: [d],
    predict(x, n, t) {
      const a = process.alpha(t);
      const s = process.sigma(t);
      const exact = mix.noisy(x, n, a, s);
      const soft = mix.noisy(x, n, a, Math.sqrt(s * s + tau * tau));
      const out = new Float64Array(n * d);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) out[i * d + j] += soft.r[i * K + k] * exact.m[(i * K + k) * d + j];
      }
      return Promise.resolve(out);
    },
  };
}

/** k orthonormal vectors in R^d (Gram–Schmidt of Gaussian vectors), k×d. */
function orthonormal(k: number, d: number, rng: Rng): Float64Array {
  const U = rng.fillNormal(new Float64Array(k * d));
  for (let i = 0; i < k; i++) {
    for (let p = 0; p < i; p++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += U[i * d + j] * U[p * d + j];
      for (let j = 0; j < d; j++) U[i * d + j] -= dot * U[p * d + j];
    }
    let norm = 0;
    for (let j = 0; j < d; j++) norm += U[i * d + j] * U[i * d + j];
    for (let j = 0; j < d; j++) U[i * d + j] /= Math.sqrt(norm);
  }
  return U;
}

/** Σ_i c_i u_i u_iᵀ + thickness²·I for rows u_i of U, as a d×d matrix. */
function lowRankCovariance(U: Float64Array, c: readonly number[], d: number, thickness: number): Float64Array {
  const S = new Float64Array(d * d);
  c.forEach((ci, i) => {
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) S[a * d + b] += ci * U[i * d + a] * U[i * d + b];
  });
  for (let a = 0; a < d; a++) S[a * d + a] += thickness * thickness;
  return S;
}

/**
 * Data of known intrinsic dimension in R^d as thin Gaussian mixtures (normal thickness 1e-4):
 * `k` > 0, three unit-variance Gaussians in a random k-dimensional subspace; `circle`, 64
 * Gaussians along a unit circle in a random plane, each stretched along its tangent (dimension 1).
 */
export function manifoldMixture(shape: { k: number } | 'circle', d: number, seed: number): FullGaussianMixture {
  const rng = new Rng(seed);
  const thin = 1e-4;
  if (shape === 'circle') {
    const U = orthonormal(2, d, rng);
    const K = 64;
    const means = new Float64Array(K * d);
    const cov = new Float64Array(K * d * d);
    for (let c = 0; c < K; c++) {
      const th = (2 * Math.PI * c) / K;
      const tangent = new Float64Array(d);
      for (let j = 0; j < d; j++) {
        means[c * d + j] = Math.cos(th) * U[j] + Math.sin(th) * U[d + j];
        tangent[j] = -Math.sin(th) * U[j] + Math.cos(th) * U[d + j];
      }
      cov.set(lowRankCovariance(tangent, [0.05 * 0.05], d, thin), c * d * d);
    }
    return new FullGaussianMixture(d, { weights: new Array(K).fill(1) }, means, cov);
  }
  const { k } = shape;
  const U = orthonormal(k, d, rng);
  const means = new Float64Array(3 * d);
  for (let c = 0; c < 3; c++) {
    const coef = rng.fillNormal(new Float64Array(k));
    for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) means[c * d + j] += coef[i] * U[i * d + j];
  }
  const S = lowRankCovariance(U, new Array(k).fill(1), d, thin);
  return new FullGaussianMixture(d, { weights: [1, 1, 1] }, means, Float64Array.from([...S, ...S, ...S]));
}
