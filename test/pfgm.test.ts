import { describe, expect, it } from 'vitest';
import { PfgmDataOracle, PfgmProcess, pfgmHeun, sampleGamma, samplePfgm } from '../src/pfgm/index.js';
import { finiteDataSet, GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { Rng } from '../src/core/rng.js';

/** R²/σ² of each draw of the PFGM++ perturbation (N values per draw). */
function squaredRadii(p: PfgmProcess, count: number, sigma: number, seed: number): Float64Array {
  const x = p.samplePerturbation(count, sigma, new Rng(seed));
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < p.n; j++) out[i] += x[i * p.n + j] ** 2;
    out[i] /= sigma * sigma;
  }
  return out;
}

function quantile(v: Float64Array, q: number): number {
  const s = Float64Array.from(v).sort();
  return s[Math.floor(q * (s.length - 1))];
}

const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;

describe('PFGM++ prior: radius law R²/r² ~ BetaPrime(N/2, D/2)', () => {
  it('Gamma draws have mean k and variance k', () => {
    for (const k of [0.5, 3, 1000]) {
      const rng = new Rng(11);
      const g = Float64Array.from({ length: 40000 }, () => sampleGamma(rng, k));
      const m = mean(g);
      const v = mean(g.map((x) => (x - m) ** 2));
      expect(Math.abs(m - k)).toBeLessThan(4 * Math.sqrt(k / g.length));
      expect(Math.abs(v / k - 1)).toBeLessThan(0.05);
    }
  });

  // N = 2: B ~ Beta(1, D/2) has CDF 1 − (1 − b)^{D/2}, so P(R²/r² ≤ u) = 1 − (1 + u)^{−D/2}.
  for (const D of [4, 128]) {
    it(`N = 2, D = ${D}: quantiles of R²/r² match 1 − (1 + u)^{−D/2}`, () => {
      const p = new PfgmProcess(2, D);
      const count = 20000;
      const u = squaredRadii(p, count, 3, 1).map((v) => v / D);
      for (const q of [0.1, 0.5, 0.9, 0.99]) {
        const exact = (1 - q) ** (-2 / D) - 1;
        const cdfAtEmpirical = 1 - (1 + quantile(u, q)) ** (-D / 2);
        // Binomial standard error of an empirical quantile's level: √(q(1 − q)/count).
        expect(Math.abs(cdfAtEmpirical - q), `q=${q}: exact ${exact}, empirical ${quantile(u, q)}`).toBeLessThan(4 * Math.sqrt((q * (1 - q)) / count));
      }
    });
  }

  it('N = 16, D = 64: E[R²/σ²] = N·D/(D − 2) (Beta-prime mean) and directions are uniform', () => {
    const [N, D] = [16, 64];
    const p = new PfgmProcess(N, D);
    const count = 20000;
    const r2 = squaredRadii(p, count, 0.7, 2);
    const [a, b] = [N / 2, D / 2];
    const sd = D * Math.sqrt((a * (a + b - 1)) / ((b - 2) * (b - 1) ** 2));
    expect(Math.abs(mean(r2) - (N * D) / (D - 2))).toBeLessThan((4 * sd) / Math.sqrt(count));
    const x = p.samplePerturbation(count, 1, new Rng(3));
    const first = Float64Array.from({ length: count }, (_, i) => x[i * N] / Math.sqrt(r2[i] || 1));
    expect(Math.abs(mean(first))).toBeLessThan(0.05);
  });

  it('D = Infinity draws σ·N(0, I): E[R²/σ²] = N', () => {
    const r2 = squaredRadii(new PfgmProcess(8, Infinity), 20000, 2, 4);
    expect(Math.abs(mean(r2) - 8)).toBeLessThan(4 * Math.sqrt(16 / 20000));
  });

  it('rejects bad dimensions', () => {
    expect(() => new PfgmProcess(0, 4)).toThrow(/N that is an integer ≥ 1/);
    expect(() => new PfgmProcess(2, 0)).toThrow(/D > 0/);
  });
});

describe('PFGM++ exact oracle for a finite data set', () => {
  const points = Float64Array.from([0, 0, 0, 1, 2, -1, -1, 0.5, 0.3]);
  const weights = [1, 2, 0.5];
  const N = 3;

  // The electric field of the points in N + D dimensions at x̃ = (x, r e_1):
  // E ∝ Σ w_k (x̃ − ỹ_k)/‖x̃ − ỹ_k‖^{N+D}; the ODE is dx/dr = E_x/E_r.
  for (const D of [1, 5]) {
    it(`D = ${D}: (x − E[y | x, r])/r equals E_x/E_r of the brute-force field`, () => {
      const oracle = new PfgmDataOracle(points, N, D, weights);
      const x = Float64Array.from([0.4, -0.3, 1.1]);
      for (const sigma of [0.05, 0.5, 3]) {
        const r = sigma * Math.sqrt(D);
        const ex = [0, 0, 0];
        let er = 0;
        for (let k = 0; k < 3; k++) {
          const diff = [0, 1, 2].map((j) => x[j] - points[k * N + j]);
          const dist = Math.sqrt(diff.reduce((s, v) => s + v * v, 0) + r * r);
          const c = weights[k] / dist ** (N + D);
          diff.forEach((v, j) => (ex[j] += c * v));
          er += c * r;
        }
        const e = oracle.denoise(x, 1, sigma);
        for (let j = 0; j < N; j++) expect((x[j] - e[j]) / r).toBeCloseTo(ex[j] / er, 12);
      }
    });
  }

  it('as D → ∞ the posterior weights tend to the Gaussian ones (difference ∝ 1/D); D = Infinity is EDM', () => {
    const gmm = new GaussianMixture(finiteDataSet([[0, 0, 0], [1, 2, -1], [-1, 0.5, 0.3]], weights));
    const x = Float64Array.from([0.4, -0.3, 1.1]);
    const sigma = 0.8;
    const gauss = new Float64Array(3);
    gmm.posterior(x, 1, 1, sigma, gauss);
    const gap = (D: number) => {
      const e = new PfgmDataOracle(points, N, D, weights).denoise(x, 1, sigma);
      return Math.max(...[0, 1, 2].map((j) => Math.abs(e[j] - gauss[j])));
    };
    expect(gap(Infinity)).toBeLessThan(1e-14);
    const gaps = [1e2, 1e3, 1e4, 1e5].map(gap);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i - 1] / gaps[i]).toBeGreaterThan(8);
    expect(gaps[3] * 1e5).toBeGreaterThan(0.5 * gaps[0] * 1e2);
  });

  it('rejects malformed data', () => {
    expect(() => new PfgmDataOracle(Float64Array.from([1, 2, 3]), 2, 4)).toThrow(/multiple of N=2/);
    expect(() => new PfgmDataOracle(points, N, 4, [1, 2])).toThrow(/one entry per point/);
    expect(() => new PfgmDataOracle(points, N, 4, [0, 0, 0])).toThrow(/not all be 0/);
  });
});

describe('PFGM++ sampler: D → ∞ approaches the EDM sampler', () => {
  const edm = createProcess({ name: 'edm' });
  const problems: [string, Float64Array, number][] = [
    ['ring8 centres (N = 2)', Float64Array.from(builtinProblem('ring8').means.flat()), 2],
    ['32 points of gmm16 (N = 16)', new GaussianMixture(builtinProblem('gmm16')).sample(32, new Rng(9)), 16],
  ];
  const n = 64;

  for (const [name, pts, dim] of problems) {
    const rows = Array.from({ length: pts.length / dim }, (_, k) => Array.from(pts.subarray(k * dim, (k + 1) * dim)));
    const xT = new Rng(4).fillNormal(new Float64Array(n * dim)).map((v) => v * 80);

    it(`${name}: D = Infinity reproduces the library's heun on edm with the finite-data oracle (18 steps)`, async () => {
      const grid = makeGrid(edm, { type: 'karras', steps: 18, end: 'zero' });
      const model = new GmmOracle(new GaussianMixture(finiteDataSet(rows)), edm, 'sample');
      const heun = await sample({ model, process: edm, sampler: 'heun', grid, xT });
      const pfgm = await samplePfgm({ points: rows, D: Infinity, steps: 18, xT });
      expect(pfgm.nfe).toBe(heun.nfe);
      expect(Array.from(pfgm.sigmas)).toEqual(Array.from(grid));
      expect(Math.max(...pfgm.x.map((v, i) => Math.abs(v - heun.x.data[i])))).toBeLessThan(1e-12);
    });

    // Stopped at σ = 0.3, before the samples collapse onto data points (to σ = 0 every D tested
    // here lands on the same points as EDM): mean distance to the EDM path shrinks like 1/D.
    it(`${name}: the mean distance to EDM at σ = 0.3 shrinks like 1/D (D = 128, 2048, 32768)`, async () => {
      const grid = makeGrid(edm, { type: 'karras', steps: 18, end: 0.3 });
      const run = async (D: number) => {
        const o = new PfgmDataOracle(pts, dim, D);
        return (await pfgmHeun((x, m, s) => o.denoise(x, m, s), xT, n, grid)).x;
      };
      const ref = await run(Infinity);
      const dist = async (D: number) => {
        const x = await run(D);
        let total = 0;
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < dim; j++) s += (x[i * dim + j] - ref[i * dim + j]) ** 2;
          total += Math.sqrt(s);
        }
        return total / n;
      };
      const d = [await dist(128), await dist(2048), await dist(32768)];
      expect(d[0] / d[1], d.map((v) => v.toExponential(2)).join(', ')).toBeGreaterThan(12);
      expect(d[1] / d[2], d.map((v) => v.toExponential(2)).join(', ')).toBeGreaterThan(14);
      expect(d[1] / d[2]).toBeLessThan(18);
    });
  }

  it('samplePfgm draws x_T from the prior at r_max = σ_max√D and ends on data points', async () => {
    const points = builtinProblem('ring8').means;
    const run = await samplePfgm({ points, D: 128, steps: 18, n: 32, seed: 3 });
    expect(run.nfe).toBe(35);
    expect(run.sigmas[0]).toBeCloseTo(80, 10);
    const r2 = mean(Array.from({ length: 32 }, (_, i) => run.xT[2 * i] ** 2 + run.xT[2 * i + 1] ** 2));
    expect(r2 / (80 * 80 * 2 * (128 / 126))).toBeGreaterThan(0.5);
    expect(r2 / (80 * 80 * 2 * (128 / 126))).toBeLessThan(1.6);
    for (let i = 0; i < 32; i++) {
      const nearest = Math.min(...points.map((m) => Math.hypot(run.x[2 * i] - m[0], run.x[2 * i + 1] - m[1])));
      expect(nearest).toBeLessThan(1e-6);
    }
    await expect(samplePfgm({ points: [] })).rejects.toThrow(/at least one data point/);
    await expect(samplePfgm({ points, n: 2, xT: new Float64Array(3) })).rejects.toThrow(/x_T has 3 values/);
  });
});
