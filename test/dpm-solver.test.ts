import { describe, expect, it } from 'vitest';
import { sample } from '../src/sample.js';
import { createProcess, type ProcessConfig } from '../src/process/index.js';
import { GaussianMixture, GmmOracle, type GmmSpec } from '../src/models/oracle/gmm.js';
import { findSampler, resolveOptions } from '../src/samplers/index.js';
import { singlestepOrders } from '../src/samplers/dpm-solver.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { Rng } from '../src/core/rng.js';
import { UsageError } from '../src/core/errors.js';

const DETERMINISTIC = [
  'dpmpp-2m', 'dpmpp-3m', 'dpm-solver-2m', 'dpm-solver-3m',
  'dpm-solver-1', 'dpm-solver-2', 'dpm-solver-3', 'dpmpp-2s', 'dpmpp-3s',
] as const;

function gaussianStart(n: number, d: number, scale: number, seed: number): Float64Array {
  const z = new Rng(seed).fillNormal(new Float64Array(n * d));
  return z.map((v) => v * scale);
}

describe('exactness on a single data point', () => {
  // x0 = μ exactly: D ≡ μ and ε̂ = (x − αμ)/σ is constant along the ODE, whose solution is
  // x_t = α_t μ + σ_t ε. Every exponential-integrator step of either form is then exact.
  const mu = [0.7, -1.3, 0.25];
  const gmm: GmmSpec = { d: 3, K: 1, weights: [1], means: [mu], covariance_type: 'diag', variances: [[0, 0, 0]] };
  const cases: { process: ProcessConfig; grid: GridSpec; dataOnly?: boolean }[] = [
    { process: { name: 'vp', schedule: 'linear' }, grid: { type: 'time-uniform', steps: 7, end: 'zero' } },
    { process: { name: 'vp', schedule: 'linear' }, grid: { type: 'logsnr', steps: 6, end: 'min' } },
    { process: { name: 'edm' }, grid: { type: 'karras', steps: 5 } },
    { process: { name: 'vp-discrete' }, grid: { type: 'diffusers', steps: 8, spacing: 'linspace' } },
    { process: { name: 'flow' }, grid: { type: 'flow-shift', steps: 9, shift: 3, start: 0.98, end: 0.01 } },
    // From t = 1, where α = 0 and λ = −∞: only the data form is defined there.
    { process: { name: 'flow' }, grid: { type: 'flow-shift', steps: 9, shift: 3 }, dataOnly: true },
  ];
  for (const { process: pc, grid, dataOnly } of cases) {
    const names = [...DETERMINISTIC, 'dpmpp-2s-ancestral'].filter((s) => !dataOnly || !s.startsWith('dpm-solver'));
    for (const name of names) {
      it(`${name} on ${pc.name} ${grid.type}`, async () => {
        const p = createProcess(pc);
        const model = new GmmOracle(new GaussianMixture(gmm), p, pc.name === 'flow' ? 'velocity' : 'epsilon');
        const g = makeGrid(p, grid);
        const xT = gaussianStart(4, 3, p.sigma(g[0]), 1).map((v, i) => v + p.alpha(g[0]) * mu[i % 3]);
        const options = name === 'dpmpp-2s-ancestral' ? { eta: 0 } : {};
        const r = await sample({ model, process: p, sampler: name, options, grid: g, xT });
        const [at, st] = [p.alpha(g[0]), p.sigma(g[0])];
        const tEnd = g[g.length - 1];
        const [ae, se] = [p.alpha(tEnd), p.sigma(tEnd)];
        let err = 0;
        for (let i = 0; i < xT.length; i++) {
          const eps = (xT[i] - at * mu[i % 3]) / st;
          err = Math.max(err, Math.abs(r.x.data[i] - (ae * mu[i % 3] + se * eps)));
        }
        expect(err).toBeLessThanOrEqual(1e-10);
      });
    }
  }

  it('the noise form refuses to start where α = 0; an ε model there is refused before any step', async () => {
    const p = createProcess({ name: 'flow' });
    const eps = new GmmOracle(new GaussianMixture(gmm), p, 'epsilon');
    const run = sample({ model: eps, process: p, sampler: 'dpm-solver-2m', grid: { type: 'flow-shift', steps: 4 }, n: 2 });
    await expect(run).rejects.toThrow(/epsilon prediction gives no data estimate at t=1, where α = 0/);
    const velocity = new GmmOracle(new GaussianMixture(gmm), p, 'velocity');
    const noiseForm = sample({ model: velocity, process: p, sampler: 'dpm-solver-2m', grid: { type: 'flow-shift', steps: 4 }, n: 2 });
    await expect(noiseForm).rejects.toThrow(/noise form cannot start .* α = 0/);
  });
});

describe('measured order of convergence', () => {
  // A smooth 16-dimensional mixture of 4 broad, overlapping Gaussians on the linear VP process,
  // log-SNR grid from t = 1 to 1e-3. Reference: singlestep DPM-Solver++(3S) with 3000 steps
  // (it moves by < 1e-9 from 6000 steps; the errors measured here are > 1e-6).
  const d = 16;
  const rng = new Rng(7);
  const gmm: GmmSpec = {
    d,
    K: 4,
    weights: [0.4, 0.3, 0.2, 0.1],
    means: Array.from({ length: 4 }, () => Array.from(rng.fillNormal(new Float64Array(d)), (v) => 0.4 * v)),
    covariance_type: 'diag',
    variances: Array.from({ length: 4 }, () => Array.from({ length: d }, (_, j) => 0.3 + 0.4 * ((j * 7) % 5) / 4)),
  };
  const p = createProcess({ name: 'vp', schedule: 'linear' });
  const model = new GmmOracle(new GaussianMixture(gmm), p, 'epsilon');
  const n = 16;
  const xT = gaussianStart(n, d, 1, 3);
  const run = async (sampler: string, steps: number, options: Record<string, unknown> = {}) =>
    (await sample({ model, process: p, sampler, options, grid: { type: 'logsnr', steps, end: 'min' }, xT })).x.data;
  const rms = (a: Float64Array, b: Float64Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);
  const reference = run('dpmpp-3s', 3000, { lowerOrderFinal: false });

  // Whole singlestep groups at 48 and 192 steps. The third-order multistep D2 of the reference
  // codes (which parity pins down) is half the second difference, so the 3M solvers have order 2.
  const expected: Record<string, number> = {
    'dpm-solver-1': 1, 'dpm-solver-2': 2, 'dpm-solver-3': 3, 'dpmpp-2s': 2, 'dpmpp-3s': 3,
    'dpmpp-2m': 2, 'dpm-solver-2m': 2, 'dpmpp-3m': 2, 'dpm-solver-3m': 2, 'dpmpp-2s-ancestral': 2,
  };
  for (const [name, order] of Object.entries(expected)) {
    it(`${name} converges with order ${order}`, async () => {
      const ref = await reference;
      const options = name === 'dpmpp-2s-ancestral' ? { eta: 0 } : { lowerOrderFinal: false };
      const e48 = rms(await run(name, 48, options), ref);
      const e192 = rms(await run(name, 192, options), ref);
      const slope = Math.log(e48 / e192) / Math.log(4);
      expect(Math.abs(slope - order)).toBeLessThanOrEqual(0.3);
    });
  }
});

describe('order schedules', () => {
  it('singlestep groups follow DPM-Solver-fast and diffusers get_order_list', () => {
    expect(singlestepOrders(6, 3, true, false)).toEqual([3, 2, 1]);
    expect(singlestepOrders(7, 3, true, false)).toEqual([3, 3, 1]);
    expect(singlestepOrders(8, 3, true, false)).toEqual([3, 3, 2]);
    expect(singlestepOrders(8, 3, true, true)).toEqual([3, 3, 1, 1]);
    expect(singlestepOrders(6, 2, false, false)).toEqual([2, 2, 2]);
    expect(singlestepOrders(6, 2, true, false)).toEqual([2, 2, 1, 1]);
  });

  it('a multistep step to σ = 0 is first order: dpmpp-2m equals dpmpp-3m on two steps to zero', async () => {
    const p = createProcess({ name: 'edm' });
    const gmm: GmmSpec = { d: 2, K: 2, weights: [0.5, 0.5], means: [[1, 0], [-1, 0]], covariance_type: 'diag', variances: [[0.1, 0.1], [0.1, 0.1]] };
    const model = new GmmOracle(new GaussianMixture(gmm), p, 'epsilon');
    const xT = gaussianStart(3, 2, 80, 5);
    const grid = { type: 'karras', steps: 2 } as const;
    const a = await sample({ model, process: p, sampler: 'dpmpp-2m', grid, xT });
    const b = await sample({ model, process: p, sampler: 'dpmpp-3m', grid, xT });
    expect(Array.from(a.x.data)).toEqual(Array.from(b.x.data));
  });
});

describe('options', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['dpmpp-2m', { order: 4 }, /order must be 1, 2 or 3/],
    ['dpmpp-2s', { order: 0 }, /order must be 1, 2 or 3/],
    ['dpmpp-2m', { algorithm: 'dpmsolver+' }, /accepted: dpmsolver\+\+, dpmsolver/],
    ['dpmpp-2m', { solverType: 'rk4' }, /accepted: dpmsolver, midpoint, taylor, heun/],
    ['dpmpp-2m-sde', { eta: -1 }, /eta must be ≥ 0/],
    ['dpm-solver-2m', { eta: 1 }, /needs algorithm dpmsolver\+\+/],
    ['dpmpp-2m', { lowerOrderFinalSteps: 1.5 }, /lowerOrderFinalSteps must be an integer/],
    ['dpmpp-2s-ancestral', { sNoise: -0.5 }, /sNoise must be ≥ 0/],
    ['dpmpp-3m', { clipSample: 1, thresholdRatio: 0.9 }, /either clipSample or thresholdRatio/],
    ['dpmpp-2s', { eta: 1 }, /has no option "eta"/],
  ];
  for (const [name, options, message] of bad) {
    it(`${name} rejects ${JSON.stringify(options)}`, () => {
      expect(() => resolveOptions(findSampler(name), options)).toThrow(UsageError);
      expect(() => resolveOptions(findSampler(name), options)).toThrow(message);
    });
  }

  it('finds the samplers by the names users know', () => {
    expect(findSampler('DPM++ 2M Karras').named?.sampler).toBe('dpmpp-2m');
    expect(findSampler('DPMSolverMultistepScheduler').name).toBe('dpmpp-2m');
    expect(findSampler('DPMSolverSinglestepScheduler').name).toBe('dpmpp-2s');
    expect(findSampler('sample_dpmpp_2s_ancestral').name).toBe('dpmpp-2s-ancestral');
    expect(findSampler('DPM++ 3M SDE').named?.sampler).toBe('dpmpp-3m-sde');
    expect(findSampler('dpmpp-2m').defaultGrid).toEqual({ type: 'logsnr', steps: 10, end: 'zero' });
  });
});
