import { describe, expect, it } from 'vitest';
import { gmmNoiseLikelihood, sampleDmcmc } from '../src/mcmc/index.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { Edm } from '../src/process/ve.js';
import { sample } from '../src/sample.js';
import { slicedWasserstein2 } from '../src/metrics/distance.js';
import { Rng } from '../src/core/rng.js';

const levels = Float64Array.from({ length: 16 }, (_, j) => 0.05 * Math.exp((Math.log(2 / 0.05) * j) / 15));

describe('Denoising Langevin Gibbs (DMCMC)', () => {
  it('noise-level likelihood: σ → 0 gives the data log-density; σ large gives N(0, σ²I) asymptotically', () => {
    const gmm = new GaussianMixture(builtinProblem('moons'));
    const x = Float64Array.from([0.2, -0.1, 1.5, 0.3]);
    const ll = gmmNoiseLikelihood(gmm)(x, 2, Float64Array.from([1e-9, 1e4]));
    expect(ll[0]).toBeCloseTo(gmm.logDensity(x, 0), 8);
    expect(ll[2]).toBeCloseTo(gmm.logDensity(x, 2), 8);
    expect(ll[1]).toBeCloseTo(-Math.log(2 * Math.PI * 1e8), 6);
  });

  it('counts chain and ODE evaluations per output sample', async () => {
    const gmm = new GaussianMixture(builtinProblem('ring8'));
    const p = new Edm();
    const r = await sampleDmcmc({ model: new GmmOracle(gmm, p), process: p, noiseLikelihood: gmmNoiseLikelihood(gmm), sigmas: levels, chains: 8, burnIn: 3, thin: 2, n: 16, steps: 3 });
    expect(r.mcmcEvaluations).toBe(8 * (3 + 2 * 2));
    expect(r.odeEvaluations).toBe(16 * 3);
    expect(r.nfePerSample).toBe((56 + 48) / 16);
    expect(r.x.every(Number.isFinite)).toBe(true);
    await expect(sampleDmcmc({ model: new GmmOracle(gmm, p), process: p, noiseLikelihood: gmmNoiseLikelihood(gmm), chains: 3, n: 16 })).rejects.toThrow(/multiple of chains/);
  });

  // Kim & Ye claim DLG accelerates every integrator (CIFAR-10: FID 3.86 at ≈10 NFE). Here: DLG
  // (5 amortised chain evaluations + 5 dpmpp-2m steps from the chain's σ) against dpmpp-2m from
  // σ = 80 with 9 steps, sliced W2 to exact draws.
  for (const name of ['ring8', 'moons']) {
    it(`${name}: DLG at 10 NFE/sample beats dpmpp-2m at 9 NFE`, async () => {
      const gmm = new GaussianMixture(builtinProblem(name));
      const p = new Edm();
      const model = new GmmOracle(gmm, p);
      const n = 1024;
      const ref = gmm.sample(n, new Rng(9));
      const sw = (x: Float64Array) => slicedWasserstein2(x, ref, 2, new Rng(3), 64);
      const dlg = await sampleDmcmc({ model, process: p, noiseLikelihood: gmmNoiseLikelihood(gmm), sigmas: levels, chains: 256, burnIn: 16, n, steps: 5, seed: 2 });
      expect(dlg.nfePerSample).toBe(10);
      const ode = await sample({ model, process: p, sampler: 'dpmpp-2m', grid: { type: 'karras', steps: 9, end: 'zero' }, n, seed: 4 });
      expect(sw(dlg.x)).toBeLessThan(0.8 * sw(ode.x.data));
    });
  }
});
