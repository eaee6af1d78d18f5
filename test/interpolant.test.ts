import { describe, expect, it } from 'vitest';
import {
  interpolantOde, interpolantSde, makeInterpolant, MixtureInterpolantOracle, sampleInterpolant,
} from '../src/interpolant/index.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, type GmmSpec } from '../src/models/oracle/gmm.js';
import { momentErrors, slicedWasserstein2 } from '../src/metrics/distance.js';
import { Rng } from '../src/core/rng.js';

/** ρ0: three unequal 2-D Gaussians; ρ1: the ring of 8 (std 0.05). */
const rho0: GmmSpec = {
  d: 2, K: 3, weights: [0.5, 0.3, 0.2], covariance_type: 'diag',
  means: [[-1, 0.5], [0.5, -0.5], [0, 1.5]], variances: [[0.3, 0.2], [0.1, 0.4], [0.25, 0.25]],
};
const rho1 = builtinProblem('ring8');

/** Exact mean and covariance of a diagonal mixture. */
function mixtureMoments(spec: GmmSpec) {
  const { d } = spec;
  const w = spec.weights.map((v) => v / spec.weights.reduce((a, b) => a + b, 0));
  const mean = new Float64Array(d);
  spec.means.forEach((m, k) => m.forEach((v, j) => (mean[j] += w[k] * v)));
  const covariance = new Float64Array(d * d);
  spec.means.forEach((m, k) => {
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) covariance[a * d + b] += w[k] * ((a === b ? spec.variances[k][a] : 0) + m[a] * m[b]);
    }
  });
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) covariance[a * d + b] -= mean[a] * mean[b];
  return { mean, covariance };
}

describe('exact mixture interpolant oracle', () => {
  const configs = [{ path: 'linear', noise: 1 }, { path: 'trig', noise: 0.5 }, { path: 'linear', noise: 0 }] as const;
  const points = [[0.3, -0.2], [-1.1, 0.9], [0.8, 1.2]];

  for (const c of configs) {
    // The velocity must satisfy the transport equation ∂_t ρ + ∇·(ρ b) = 0 and s = ∇log ρ
    // (Albergo et al. 2023, §2); both checked by central differences of the exact density.
    it(`${c.path}, γ = √(${c.noise} t(1−t)): ∂_t ρ + ∇·(ρb) = 0 and s = ∇log ρ (finite differences)`, () => {
      const oracle = new MixtureInterpolantOracle(makeInterpolant(c), rho0, rho1);
      const rho = (x: number[], t: number) => Math.exp(oracle.logDensity(Float64Array.from(x), t));
      const h = 1e-5;
      for (const t of [0.1, 0.5, 0.9]) {
        for (const x of points) {
          const f = oracle.fields(Float64Array.from(x), 1, t);
          const dt = (rho(x, t + h) - rho(x, t - h)) / (2 * h);
          let div = 0;
          for (let j = 0; j < 2; j++) {
            const [xp, xm] = [[...x], [...x]];
            xp[j] += h;
            xm[j] -= h;
            const bp = oracle.fields(Float64Array.from(xp), 1, t).velocity[j];
            const bm = oracle.fields(Float64Array.from(xm), 1, t).velocity[j];
            div += (rho(xp, t) * bp - rho(xm, t) * bm) / (2 * h);
            const dlog = (oracle.logDensity(Float64Array.from(xp), t) - oracle.logDensity(Float64Array.from(xm), t)) / (2 * h);
            expect(f.score[j]).toBeCloseTo(dlog, 5);
          }
          expect(Math.abs(dt + div), `t=${t} x=${x}: ∂tρ=${dt}, ∇·(ρb)=${div}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(dt)));
        }
      }
    });
  }

  it('at the ends the conditional means are the sample itself: E[x0 | x_0] = x, E[x1 | x_1] = x', () => {
    const oracle = new MixtureInterpolantOracle(makeInterpolant({ path: 'trig', noise: 2 }), rho0, rho1);
    const x = Float64Array.from(points.flat());
    const start = oracle.fields(x, 3, 0).x0;
    const end = oracle.fields(x, 3, 1).x1;
    x.forEach((v, i) => {
      expect(start[i]).toBeCloseTo(v, 12);
      expect(end[i]).toBeCloseTo(v, 12);
    });
  });

  it('rejects what it cannot handle', () => {
    expect(() => makeInterpolant({ noise: -1 })).toThrow(/≥ 0/);
    expect(() => makeInterpolant({ path: 'cubic' as 'linear' })).toThrow(/accepted: linear, trig/);
    expect(() => new MixtureInterpolantOracle(makeInterpolant(), rho0, builtinProblem('point'))).toThrow(/variances > 0/);
    expect(() => new MixtureInterpolantOracle(makeInterpolant(), rho0, builtinProblem('gmm16'))).toThrow(/same dimension/);
    expect(() => sampleInterpolant({ rho0, rho1, method: 'rk4' as 'ode-heun' })).toThrow(/accepted: ode-euler/);
  });
});

describe('transport from ρ0 to ρ1', () => {
  const n = 1000;
  const exact = mixtureMoments(rho1);
  const ref = new GaussianMixture(rho1).sample(n, new Rng(100));
  // The sampling floor: mean sliced W2 between `ref` and independent exact draws of ρ1 (it varies
  // from 0.051 to 0.080 over these three sets of 1000).
  const floor = [101, 102, 103]
    .map((seed) => slicedWasserstein2(new GaussianMixture(rho1).sample(n, new Rng(seed)), ref, 2, new Rng(7), 64))
    .reduce((a, b) => a + b) / 3;
  const score = (x: Float64Array) => ({ ...momentErrors(x, 2, exact), sw: slicedWasserstein2(x, ref, 2, new Rng(7), 64) });

  for (const [method, steps] of [['ode-heun', 50], ['sde-euler-maruyama', 200]] as const) {
    it(`${method} (${steps} steps) ends with ρ1's moments and within 1.5× the sampling floor of sliced W2`, () => {
      // Measured SW2 0.061–0.080 over seeds against a floor of 0.066; 25 Heun steps give 0.17.
      const run = sampleInterpolant({ rho0, rho1, method, steps, n, seed: 1, noise: 1, epsilon: 0.5 });
      const s = score(run.x);
      const msg = `mean err ${s.mean.toExponential(2)}, cov err ${s.covariance.toExponential(2)}, SW2 ${s.sw.toExponential(2)} (floor ${floor.toExponential(2)})`;
      expect(s.mean, msg).toBeLessThan(0.05);
      expect(s.covariance, msg).toBeLessThan(0.06);
      expect(s.sw, msg).toBeLessThan(1.5 * floor);
      const start = score(run.x0);
      expect(start.sw, 'the start is far from ρ1').toBeGreaterThan(5 * floor);
    });
  }

  it('the ε = 0 SDE is the ODE (Euler), bit for bit', () => {
    const oracle = new MixtureInterpolantOracle(makeInterpolant({ noise: 1 }), rho0, rho1);
    const x0 = new GaussianMixture(rho0).sample(200, new Rng(3));
    const times = Float64Array.from({ length: 21 }, (_, i) => i / 20);
    const ode = interpolantOde(oracle, x0, 200, times, 'euler').x;
    const sde = interpolantSde(oracle, x0, 200, times, () => 0, new Rng(4)).x;
    expect(Array.from(sde)).toEqual(Array.from(ode));
  });

  it('ODE Euler converges with order 1 and Heun with order 2 (vs Heun with 2048 steps)', () => {
    const oracle = new MixtureInterpolantOracle(makeInterpolant({ path: 'trig', noise: 1 }), rho0, rho1);
    const x0 = new GaussianMixture(rho0).sample(32, new Rng(5));
    const grid = (k: number) => Float64Array.from({ length: k + 1 }, (_, i) => i / k);
    const truth = interpolantOde(oracle, x0, 32, grid(2048), 'heun').x;
    const err = (k: number, m: 'euler' | 'heun') => {
      const x = interpolantOde(oracle, x0, 32, grid(k), m).x;
      return Math.sqrt(x.reduce((s, v, i) => s + (v - truth[i]) ** 2, 0) / x.length);
    };
    for (const [m, order] of [['euler', 1], ['heun', 2]] as const) {
      const e = [err(64, m), err(256, m)];
      const slope = Math.log(e[0] / e[1]) / Math.log(4);
      expect(Math.abs(slope - order), `${m}: errors ${e.map((v) => v.toExponential(2))}`).toBeLessThanOrEqual(0.3);
    }
  });
});
