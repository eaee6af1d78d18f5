import { describe, expect, it } from 'vitest';
import { GaussianMixture, GmmOracle } from '../../src/models/oracle/gmm.js';
import { FullGaussianMixture, FullGmmOracle } from '../../src/models/oracle/full-gmm.js';
import {
  ClassConditionalMixture, averaging, inpainting, linearMeasurement, measure, posteriorMixture, randomProjection,
} from '../../src/models/oracle/posterior.js';
import { builtinProblem } from '../../src/models/oracle/builtin.js';
import { createProcess } from '../../src/process/index.js';
import { Rng } from '../../src/core/rng.js';
import { exp } from '../../src/core/math.js';

const vp = createProcess({ name: 'vp', schedule: 'linear' });
const ring8 = new GaussianMixture(builtinProblem('ring8'));
const gmm16 = new GaussianMixture(builtinProblem('gmm16'));

/** Inverse of a small SPD matrix by Gauss–Jordan (a different route from the Cholesky code under test). */
function inverse(M: number[][]): number[][] {
  const n = M.length;
  const a = M.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    const p = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= p;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((r) => r.slice(n));
}

describe('linear-measurement posterior', () => {
  it('matches the information-form closed form for one Gaussian', () => {
    const d = 3;
    const prior = new GaussianMixture({ d, K: 1, weights: [1], means: [[0.3, -1, 2]], covariance_type: 'diag', variances: [[0.5, 2, 1.5]] });
    const meas = linearMeasurement([[1, 0.5, -0.2], [0.3, -1, 0.7]], 0.3);
    const y = [0.4, -0.9];
    const post = posteriorMixture(prior, meas, y);
    // Σ' = (Σ⁻¹ + AᵀA/s²)⁻¹, μ' = Σ'(Σ⁻¹μ + Aᵀy/s²)
    const A = [[1, 0.5, -0.2], [0.3, -1, 0.7]];
    const prec = [0.5, 2, 1.5].map((v, i) => [0, 1, 2].map((j) => (i === j ? 1 / v : 0) + (A[0][i] * A[0][j] + A[1][i] * A[1][j]) / 0.09));
    const cov = inverse(prec);
    const rhs = [0, 1, 2].map((i) => [0.3, -1, 2][i] / [0.5, 2, 1.5][i] + (A[0][i] * y[0] + A[1][i] * y[1]) / 0.09);
    const mean = cov.map((r) => r.reduce((s, v, j) => s + v * rhs[j], 0));
    for (let i = 0; i < d; i++) {
      expect(post.means[i]).toBeCloseTo(mean[i], 12);
      for (let j = 0; j < d; j++) expect(post.covariances[i * d + j]).toBeCloseTo(cov[i][j], 12);
    }
  });

  it('agrees with Monte Carlo importance weighting of prior samples (ring8, 1-D projection)', () => {
    const rng = new Rng(3);
    const meas = linearMeasurement([[0.6, 0.8]], 0.1);
    const y = [0.75];
    const post = posteriorMixture(ring8, meas, y);
    const N = 200_000;
    const xs = ring8.sample(N, rng);
    let wsum = 0;
    const m = [0, 0];
    const mass = new Float64Array(8);
    for (let i = 0; i < N; i++) {
      const r = y[0] - (0.6 * xs[2 * i] + 0.8 * xs[2 * i + 1]);
      const w = exp((-0.5 * r * r) / 0.01);
      wsum += w;
      m[0] += w * xs[2 * i];
      m[1] += w * xs[2 * i + 1];
      mass[ring8.nearestMode(xs, 2 * i)] += w;
    }
    const exact = post.moments().mean;
    expect(Math.abs(m[0] / wsum - exact[0])).toBeLessThan(0.01);
    expect(Math.abs(m[1] / wsum - exact[1])).toBeLessThan(0.01);
    for (let k = 0; k < 8; k++) expect(Math.abs(mass[k] / wsum - exp(post.logWeights[k]))).toBeLessThan(0.01);
  });

  it('exact posterior samples have the mixture moments', () => {
    const meas = randomProjection(4, 16, new Rng(5), 0.1);
    const y = measure(meas, gmm16.sample(1, new Rng(6)), new Rng(7));
    const post = posteriorMixture(gmm16, meas, y);
    const xs = post.sample(20_000, new Rng(8));
    const { mean, covariance } = post.moments();
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let i = 0; i < 20_000; i++) s += xs[i * 16 + j];
      expect(Math.abs(s / 20_000 - mean[j])).toBeLessThan(5 * Math.sqrt(covariance[j * 17] / 20_000));
    }
  });

  it('noiseless inpainting pins the observed coordinate and samples stay on it', () => {
    const meas = inpainting(2, [0], 0);
    const post = posteriorMixture(new GaussianMixture(builtinProblem('moons')), meas, [0.2]);
    const xs = post.sample(100, new Rng(1));
    for (let i = 0; i < 100; i++) expect(xs[2 * i]).toBeCloseTo(0.2, 12);
  });

  it('averaging rows average blocks', () => {
    const meas = averaging(4, 2, 0);
    expect(Array.from(meas.A)).toEqual([0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]);
    expect(() => averaging(5, 2, 0)).toThrow(/dividing d=5/);
  });
});

describe('full-covariance noisy-time oracle', () => {
  it('equals the diagonal oracle on a diagonal mixture', async () => {
    const full = new FullGmmOracle(FullGaussianMixture.fromDiagonal(gmm16), vp);
    const diag = new GmmOracle(gmm16, vp, 'sample');
    const x = new Rng(2).fillNormal(new Float64Array(5 * 16));
    for (const t of [0.02, 0.3, 0.9]) {
      const a = await full.predict(x, 5, t);
      const b = await diag.predict(x, 5, t);
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 10);
    }
  });

  it('vector–Jacobian product matches central differences of E[x0|x_t]', () => {
    const meas = randomProjection(3, 16, new Rng(9), 0.2);
    const post = posteriorMixture(gmm16, meas, [0.5, -0.3, 0.1]);
    const oracle = new FullGmmOracle(post, vp);
    const x = new Rng(10).fillNormal(new Float64Array(16)).map((v) => 0.8 * v);
    const v = new Rng(11).fillNormal(new Float64Array(16));
    for (const t of [0.1, 0.5]) {
      const jv = oracle.denoiseWithVjp(x, 1, t).vjp(v);
      const h = 1e-5;
      for (let j = 0; j < 16; j++) {
        const xp = Float64Array.from(x);
        const xm = Float64Array.from(x);
        xp[j] += h;
        xm[j] -= h;
        const fp = oracle.posteriorAt(xp, 1, t).x0;
        const fm = oracle.posteriorAt(xm, 1, t).x0;
        let fd = 0; // (vᵀJ)_j = Σ_i v_i ∂x0_i/∂x_j
        for (let i = 0; i < 16; i++) fd += (v[i] * (fp[i] - fm[i])) / (2 * h);
        expect(jv[j]).toBeCloseTo(fd, 6);
      }
    }
  });
});

describe('class-conditional mixture', () => {
  const classes = new ClassConditionalMixture(ring8, [0, 0, 0, 1, 1, 1, 2, 2]);
  const x = new Rng(12).fillNormal(new Float64Array(6 * 2));

  it('the unconditional denoiser is the p(c|x_t)-weighted conditional ones', async () => {
    for (const t of [0.05, 0.4, 0.9]) {
      const u = await classes.unconditional(vp).predict(x, 6, t);
      const mix = new Float64Array(12);
      const clf = classes.classifier(vp);
      for (let c = 0; c < 3; c++) {
        const pc = clf.logProb(x, 6, t, c);
        const dc = await classes.conditional(c, vp).predict(x, 6, t);
        for (let i = 0; i < 12; i++) mix[i] += exp(pc[Math.floor(i / 2)]) * dc[i];
      }
      for (let i = 0; i < 12; i++) expect(mix[i]).toBeCloseTo(u[i], 12);
    }
  });

  it('the classifier gradient matches central differences of log p(c|x_t)', () => {
    const clf = classes.classifier(vp);
    const t = 0.3;
    const g = clf.gradLogProb(x, 6, t, 1);
    const h = 1e-6;
    for (let j = 0; j < 12; j++) {
      const xp = Float64Array.from(x);
      const xm = Float64Array.from(x);
      xp[j] += h;
      xm[j] -= h;
      const i = Math.floor(j / 2);
      const fd = (clf.logProb(xp, 6, t, 1)[i] - clf.logProb(xm, 6, t, 1)[i]) / (2 * h);
      expect(g[j]).toBeCloseTo(fd, 5);
    }
  });

  it('rejects unknown classes with the accepted range', () => {
    expect(() => classes.conditional(3, vp)).toThrow(/0\.\.2/);
  });
});
