import { describe, expect, it } from 'vitest';
import { samplers } from '../src/samplers/index.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess, type Process } from '../src/process/index.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { Rng } from '../src/core/rng.js';

/**
 * On a single point mass x0 = μ the denoiser is constant, D ≡ μ, and along the exact PF-ODE path
 * ε̂ = (x/α − μ)/(σ/α) is constant too: the path is x/α = μ + (σ/α)·ε̂. Every update below is exact
 * for a constant D or a constant ε̂, so it must land on the path to rounding error, whatever the
 * grid. The list is by family; a deterministic sampler of a family not listed here fails until it
 * is classified (exact, with its reason, or in `notExact` with the reason).
 */
const exactFamilies: Record<string, string> = {
  ddim: 'DDIM x_s = α_s D + σ_s ε̂ is the exact step for constant D (Song et al. 2021, Eq. 12)',
  'dpm-solver': 'exponential integrators: the φ-weighted D (or ε̂) differences vanish when D (ε̂) is constant',
  unipc: 'predictor and corrector are exponential integrators in D; differences of a constant D vanish',
  deis: 'exponential integrator over a polynomial in ε̂, exact for the constant ε̂ of the path',
  pndm: 'DDIM transfer of a weighted sum of equal ε̂ values whose weights sum to 1',
  karras: 'Euler/Heun/DPM2/LMS in σ/α: dy/dσ = ε̂ is constant along the path, and each stage sees it exactly',
  lms: 'linear multistep in σ/α with weights summing to the step: exact for the constant ε̂ of the path',
  dualfast: 'the mixing term c·(D − D(x_{t_0}, t_0)) vanishes for a constant D, leaving the exact base step (ddim, dpm-solver, unipc)',
  'dpm-solver-v3': 'for a point mass the EMS it estimates online are l = 1, s = 0, b = 0 (x̂0 constant), where its update is DPM-Solver++\'s',
  'time-shift': 'DDIM, PLMS or DPM-Solver++(2M) steps on each sample\'s own shifted grid: each is exact for constant D (ε̂) on any grid',
  schedule: 'UniPC predictor/corrector steps in data or noise form: the differences of a constant D (or ε̂) vanish',
  lsd: 'with its default (analytic) coefficients the DPM-Solver++(2M) update; learned coefficients are exact only if c0 + c1 = 1 − e^{−h}',
};

/** Samplers of a listed family that are not exact, and why. */
const stepsInT = 'Runge–Kutta in the process time t: exact for a point mass where α and σ are affine in t (flow, edm: test/flow.test.ts), not under vp, whose path is curved in t';
const notExact: Record<string, string> = {
  'flow-euler': stepsInT,
  'flow-heun': stepsInT,
  'flow-midpoint': stepsInT,
  evodiff: 'its balanced differences D = m0 − γ·m1 use γ = (1 − w)√(σ_t σ_{−1}/σ_0²) + w·⟨m0, m1⟩/⟨m1, m1⟩ ≠ 1, so a constant D leaves a nonzero difference (test/evodiff.test.ts checks optimize=false, which is exact)',
};

const TOLERANCE = 1e-10;
const point = builtinProblem('point');
const gmm = new GaussianMixture(point);
const mu = point.means[0];

/** The exact endpoint for a point mass: x/α = μ + (σ/α)/(σ0/α0)·(x0/α0 − μ). */
function pointEndpoint(p: Process, xT: Float64Array, t0: number, t1: number): Float64Array {
  const a0 = p.alpha(t0);
  const a1 = p.alpha(t1);
  const ratio = p.sigma(t1) / a1 / (p.sigma(t0) / a0);
  return xT.map((v, i) => a1 * (mu[i % gmm.d] + ratio * (v / a0 - mu[i % gmm.d])));
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const processes = [createProcess({ name: 'vp', schedule: 'linear' }), createProcess({ name: 'edm' })];
const z = new Rng(5).fillNormal(new Float64Array(8 * gmm.d));

describe('exactness on a point mass (≤ 1e-10)', () => {
  const deterministic = samplers.filter((s) => !s.stochastic);
  it('every deterministic sampler belongs to a classified family', () => {
    const unclassified = deterministic.filter((s) => !(s.family in exactFamilies) && !(s.name in notExact)).map((s) => `${s.name} (${s.family})`);
    expect(unclassified, 'classify these in test/exactness.test.ts').toEqual([]);
  });
  for (const entry of deterministic) {
    if (!(entry.family in exactFamilies) || entry.name in notExact) continue;
    for (const p of processes) {
      const grids: GridSpec[] = [
        { ...(entry.defaultGrid ?? { type: 'logsnr', end: 'zero' }), steps: 7 } as GridSpec,
        { type: 'logsnr', steps: 7, end: 'min' },
      ];
      for (const spec of grids) {
        it(`${entry.name} on ${p.name}, ${spec.type} grid to ${String((spec as { end?: unknown }).end ?? 'default')}: ${exactFamilies[entry.family]}`, async () => {
          const grid = makeGrid(p, spec);
          const xT = z.map((v) => v * p.priorStd(grid[0]));
          const model = new GmmOracle(gmm, p, 'epsilon');
          const run = await sample({ model, process: p, sampler: entry.name, grid, xT });
          const expected = pointEndpoint(p, xT, grid[0], grid[grid.length - 1]);
          expect(maxAbsDiff(run.x.data, expected)).toBeLessThanOrEqual(TOLERANCE);
        });
      }
    }
  }
});
