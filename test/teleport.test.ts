import { describe, expect, it } from 'vitest';
import { createProcess, type Process } from '../src/process/index.js';
import { fitLowRankGaussian, gaussiansFromTensor, gaussiansToTensor, teleport, type LowRankGaussian } from '../src/ode/teleport.js';
import { pfOdeEndpoint } from '../src/ode/pf-ode.js';
import { cholesky, cholSolve, symmetricEigen } from '../src/core/linalg.js';
import { Rng } from '../src/core/rng.js';
import { tensor } from '../src/core/tensor.js';
import { sample } from '../src/sample.js';
import { UsageError } from '../src/core/errors.js';

/** A Gaussian of dim 6 with 2 random orthonormal axes (variances 4 and 0.5) and residual ρ. */
function knownGaussian(seed: number, rho = 0.05): LowRankGaussian {
  const dim = 6;
  const rng = new Rng(seed);
  const axes = rng.fillNormal(new Float64Array(2 * dim));
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < a; b++) {
      let c = 0;
      for (let j = 0; j < dim; j++) c += axes[a * dim + j] * axes[b * dim + j];
      for (let j = 0; j < dim; j++) axes[a * dim + j] -= c * axes[b * dim + j];
    }
    const norm = Math.hypot(...axes.subarray(a * dim, (a + 1) * dim));
    for (let j = 0; j < dim; j++) axes[a * dim + j] /= norm;
  }
  return { dim, rank: 2, mean: rng.fillNormal(new Float64Array(dim)), axes, variances: Float64Array.of(4, 0.5), residual: rho };
}

/** The dense covariance U diag(λ) Uᵀ + ρ (I − U Uᵀ). */
function denseCovariance(g: LowRankGaussian): Float64Array {
  const { dim } = g;
  const C = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) C[i * dim + i] = g.residual;
  for (let k = 0; k < g.rank; k++) {
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < dim; j++) C[i * dim + j] += (g.variances[k] - g.residual) * g.axes[k * dim + i] * g.axes[k * dim + j];
    }
  }
  return C;
}

/** ε̂(x, t) = σ (α² Σ + σ² I)⁻¹ (x − α μ): the exact noise prediction for Gaussian data, by a dense Cholesky solve. */
function gaussianEps(g: LowRankGaussian, p: Process) {
  const C = denseCovariance(g);
  const { dim } = g;
  return (x: Float64Array, t: number) => {
    const [a, s] = [p.alpha(t), p.sigma(t)];
    const A = C.map((v, i) => a * a * v + (i % (dim + 1) === 0 ? s * s : 0));
    const L = cholesky(A, dim) as Float64Array;
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length / dim; i++) {
      for (let j = 0; j < dim; j++) out[i * dim + j] = x[i * dim + j] - a * g.mean[j];
      cholSolve(L, dim, out, i * dim);
      for (let j = 0; j < dim; j++) out[i * dim + j] *= s;
    }
    return out;
  };
}

describe('Gaussian teleportation (Wang & Vastola 2024)', () => {
  const cases: [string, Process, number, number][] = [
    ['vp-discrete', createProcess({ name: 'vp-discrete' }), 999, 400],
    ['vp', createProcess({ name: 'vp' }), 1, 0.3],
    ['edm', createProcess({ name: 'edm' }), 80, 0.5],
    ['flow', createProcess({ name: 'flow' }), 0.98, 0.4],
  ];
  for (const [name, p, from, to] of cases) {
    it(`is the exact probability-flow ODE map of the Gaussian on ${name} (closed form = DOP853 on the dense score)`, () => {
      const g = knownGaussian(3);
      const n = 5;
      const x = new Rng(4).fillNormal(new Float64Array(n * g.dim)).map((v) => v * Math.hypot(p.alpha(from) * 2, p.sigma(from)));
      const closed = teleport(p, g, x, n, from, to);
      const solved = pfOdeEndpoint(gaussianEps(g, p), p, x, from, to, { rtol: 1e-11, atol: 1e-11 });
      for (let i = 0; i < x.length; i++) expect(closed[i]).toBeCloseTo(solved[i], 7);
      // and it moves x: the check is not of an identity
      expect(Math.max(...closed.map((v, i) => Math.abs(v - x[i])))).toBeGreaterThan(0.1);
    });
  }

  it('maps the marginal at t_max onto the marginal at t_s: the mean and each axis\'s variance, for samples drawn from it', () => {
    const p = createProcess({ name: 'vp-discrete' });
    const g = knownGaussian(5, 0.2);
    const n = 20000;
    const rng = new Rng(6);
    // x_T = α_T x0 + σ_T ε with x0 from the Gaussian
    const C = denseCovariance(g);
    const L = cholesky(C, g.dim) as Float64Array;
    const [aT, sT] = [p.alpha(999), p.sigma(999)];
    const x = new Float64Array(n * g.dim);
    for (let i = 0; i < n; i++) {
      const z = rng.fillNormal(new Float64Array(g.dim));
      const e = rng.fillNormal(new Float64Array(g.dim));
      for (let r = 0; r < g.dim; r++) {
        let v = g.mean[r];
        for (let c = 0; c <= r; c++) v += L[r * g.dim + c] * z[c];
        x[i * g.dim + r] = aT * v + sT * e[r];
      }
    }
    const y = teleport(p, g, x, n, 999, 300);
    const [a, s] = [p.alpha(300), p.sigma(300)];
    for (let k = 0; k < g.rank; k++) {
      let m = 0;
      let m2 = 0;
      for (let i = 0; i < n; i++) {
        let c = 0;
        for (let j = 0; j < g.dim; j++) c += g.axes[k * g.dim + j] * (y[i * g.dim + j] - a * g.mean[j]);
        m += c / n;
        m2 += (c * c) / n;
      }
      expect(Math.abs(m)).toBeLessThan(0.05);
      expect(m2 / (a * a * g.variances[k] + s * s)).toBeGreaterThan(0.96);
      expect(m2 / (a * a * g.variances[k] + s * s)).toBeLessThan(1.04);
    }
  });

  it('fits the top principal axes as the exact eigendecomposition of the sample covariance does', () => {
    const dim = 8;
    const n = 400;
    const rng = new Rng(7);
    const scales = [3, 2, 1.5, 0.3, 0.2, 0.1, 0.1, 0.05];
    const x = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) {
      const z = rng.fillNormal(new Float64Array(dim));
      for (let j = 0; j < dim; j++) x[i * dim + j] = 1 + scales[j] * (z[j] + 0.3 * z[(j + 1) % dim]);
    }
    const g = fitLowRankGaussian(x, n, dim, 3);
    // the reference: the sample covariance's eigenpairs by Jacobi
    const mean = new Float64Array(dim);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] / n;
    const C = new Float64Array(dim * dim);
    for (let i = 0; i < n; i++) for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) C[a * dim + b] += ((x[i * dim + a] - mean[a]) * (x[i * dim + b] - mean[b])) / (n - 1);
    const { values, vectors } = symmetricEigen(C, dim);
    const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a]);
    for (let j = 0; j < dim; j++) expect(g.mean[j]).toBeCloseTo(mean[j], 12);
    for (let k = 0; k < 3; k++) {
      expect(g.variances[k]).toBeCloseTo(values[order[k]], 9);
      let cos = 0;
      for (let j = 0; j < dim; j++) cos += g.axes[k * dim + j] * vectors[j * dim + order[k]];
      expect(Math.abs(cos)).toBeCloseTo(1, 9);
    }
    const trace = values.reduce((s, v) => s + v, 0);
    expect(g.residual).toBeCloseTo((trace - g.variances.reduce((s, v) => s + v, 0)) / (dim - 3), 9);
  });

  it('round-trips through the [K, rank + 2, dim] array a model folder ships, and refuses malformed ones', () => {
    const gs = [knownGaussian(1), knownGaussian(2)];
    const back = gaussiansFromTensor(gaussiansToTensor(gs));
    expect(back.length).toBe(2);
    for (let k = 0; k < 2; k++) {
      expect(back[k].rank).toBe(2);
      for (let j = 0; j < 6; j++) expect(back[k].mean[j]).toBeCloseTo(gs[k].mean[j], 6);
      expect(back[k].variances[1]).toBeCloseTo(0.5, 6);
      expect(back[k].residual).toBeCloseTo(0.05, 6);
    }
    expect(() => gaussiansFromTensor(tensor('float32', [2, 6]))).toThrow(/must be a \[K, rank \+ 2, dim\] array/);
    const t = gaussiansToTensor(gs);
    (t.data as Float32Array)[3 * 6] = -1;
    expect(() => gaussiansFromTensor(t)).toThrow(/negative variance/);
    (t.data as Float32Array)[0] = Number.NaN;
    expect(() => gaussiansFromTensor(t)).toThrow(/hold NaN/);
    expect(() => fitLowRankGaussian(Float64Array.of(1, 2, Number.POSITIVE_INFINITY, 4), 2, 2, 1)).toThrow(/finite values/);
    expect(() => fitLowRankGaussian(new Float64Array(8), 2, 4, 4)).toThrow(/rank must be an integer from 0 to 3/);
    expect(() => teleport(createProcess({ name: 'flow' }), gs, new Float64Array(18), 3, 0.9, 0.5)).toThrow(/one per sample \(3\)/);
    expect(() => teleport(createProcess({ name: 'flow' }), gs[0], new Float64Array(6), 1, 0.5, 0.9)).toThrow(/must not exceed from/);
  });

  it('sample() with teleport starts the sampler at the grid\'s first time from x_T carried there, and refuses img2img', async () => {
    const p = createProcess({ name: 'vp-discrete' });
    const g = knownGaussian(9);
    const model = { prediction: 'epsilon' as const, sampleShape: [6], predict: async (x: Float64Array, t: number) => gaussianEps(g, p)(x, t) };
    const grid = { type: 'time-uniform' as const, steps: 3, start: 400, end: 'zero' as const };
    const run = await sample({ model, process: p, sampler: 'dpmpp-2m', grid, n: 4, seed: 2, teleport: g });
    const z = new Rng(2).fork(0).fillNormal(new Float64Array(24));
    const xT = teleport(p, g, z.map((v) => v * p.priorStd(p.tMax)), 4, p.tMax, 400);
    expect(Array.from(run.xT)).toEqual(Array.from(xT));
    const manual = await sample({ model, process: p, sampler: 'dpmpp-2m', grid, xT, seed: 2 });
    expect(Array.from(run.x.data)).toEqual(Array.from(manual.x.data));
    expect(run.nfe).toBe(3);
    await expect(sample({ model, process: p, sampler: 'ddim', grid, n: 1, image: { x0: new Float64Array(6), strength: 0.5 }, teleport: g })).rejects.toThrow(UsageError);
  });
});
