import { describe, expect, it } from 'vitest';
import { createProcess } from '../../src/process/index.js';
import { FullGmmOracle } from '../../src/models/oracle/full-gmm.js';
import { ClassConditionalMixture } from '../../src/models/oracle/posterior.js';
import { flowChef, measurementCost } from '../../src/guidance/flowchef.js';
import {
  beamSearch, bestOfN, budgetSearch, classReward, convertInterpolant, likelihoodReward, sdeStep, smcSearch,
} from '../../src/guidance/flow-scaling.js';
import { Denoiser } from '../../src/models/denoiser.js';
import { resolveGrid, sample } from '../../src/sample.js';
import { Rng } from '../../src/core/rng.js';
import { slicedWasserstein2 } from '../../src/metrics/distance.js';
import { inverseProblems, score, vp } from './problems.js';

const flow = createProcess({ name: 'flow' });
const flowGrid = (steps: number) => resolveGrid(flow, { type: 'flow-shift', steps, shift: 1, start: 0.999, end: 'zero' }, undefined, undefined);
const [ring, moons] = inverseProblems();

describe('FlowChef', () => {
  it('step size 0 is flow-euler; steering moves samples to the exact posterior (ring8 inpainting)', async () => {
    const grid = flowGrid(100);
    const prior = new FullGmmOracle(ring.prior, flow);
    const xT = new Rng(3).fillNormal(new Float64Array(800));
    const cost = measurementCost(ring.measurement, ring.y);
    const plain = await flowChef({ model: prior, process: flow, grid, xT, cost, stepSize: 0 });
    const euler = await sample({ model: prior, process: flow, sampler: 'flow-euler', grid, xT });
    expect(plain.nfe).toBe(100);
    for (let i = 0; i < 800; i++) expect(plain.x[i]).toBeCloseTo(euler.x.data[i], 12);
    const ref = ring.posterior.sample(400, new Rng(1));
    const steered = await flowChef({ model: prior, process: flow, grid, xT, cost, stepSize: 0.5 });
    const s = score(ring, steered.x, ref);
    const floor = score(ring, ring.posterior.sample(400, new Rng(2)), ref);
    expect(s.sw2).toBeLessThan(1.5 * floor.sw2 + 0.02);
    expect(score(ring, plain.x, ref).sw2).toBeGreaterThan(4 * s.sw2);
  });
});

describe('inference-time scaling for flow models', () => {
  it('η = 0 is the flow-Euler step; the η = 1 SDE keeps the prior (SW2 at the exact-sample level)', async () => {
    const grid = flowGrid(60);
    const model = new FullGmmOracle(moons.prior, flow);
    const n = 600;
    const x0 = new Rng(5).fillNormal(new Float64Array(2 * n));
    const ode = Float64Array.from(x0);
    const sde = Float64Array.from(x0);
    const den = new Denoiser(model, flow);
    const noise = new Rng(6);
    for (let i = 0; i + 1 < grid.length; i++) {
      sdeStep(flow, ode, await den.denoise(ode, n, grid[i]), grid[i], grid[i + 1], 0, noise.fillNormal(new Float64Array(2 * n)));
      sdeStep(flow, sde, await den.denoise(sde, n, grid[i]), grid[i], grid[i + 1], 1, noise.fillNormal(new Float64Array(2 * n)));
    }
    const euler = await sample({ model, process: flow, sampler: 'flow-euler', grid, xT: x0 });
    for (let i = 0; i < 2 * n; i++) expect(ode[i]).toBeCloseTo(euler.x.data[i], 12);
    const ref = moons.prior.sample(n, new Rng(9));
    const floor = slicedWasserstein2(moons.prior.sample(n, new Rng(8)), ref, 2, new Rng(1), 64);
    expect(slicedWasserstein2(sde, ref, 2, new Rng(1), 64)).toBeLessThan(1.6 * floor + 0.01);
  });

  it('interpolant conversion: the flow oracle read on the VP path is the VP oracle', async () => {
    const converted = convertInterpolant(new FullGmmOracle(moons.prior, flow), flow, vp);
    const exact = new FullGmmOracle(moons.prior, vp);
    const x = new Rng(2).fillNormal(new Float64Array(20));
    for (const t of [0.05, 0.3, 0.9]) {
      const a = await converted.predict(x, 10, t);
      const b = await exact.predict(x, 10, t);
      for (let i = 0; i < 20; i++) expect(a[i]).toBeCloseTo(b[i], 9);
    }
  });

  it('class rewards are exact log-probabilities: Σ_c p(c | x0) = 1', () => {
    const src = new ClassConditionalMixture(ring.prior, Array.from({ length: ring.prior.K }, (_, k) => k % 3));
    const x = new Rng(4).fillNormal(new Float64Array(10));
    const total = new Float64Array(5);
    for (let c = 0; c < 3; c++) classReward(src, c)(x, 5).forEach((v, i) => (total[i] += Math.exp(v)));
    total.forEach((v) => expect(v).toBeCloseTo(1, 12));
  });

  it('every strategy spends its budget and search beats a single sample on the likelihood reward', async () => {
    const grid = flowGrid(8);
    const o = { model: new FullGmmOracle(moons.prior, flow), process: flow, grid, reward: likelihoodReward(moons.measurement, moons.y) };
    const mean = async (f: (rng: Rng) => Promise<{ reward: number; nfe: number }>, nfe: number) => {
      let s = 0;
      for (let k = 0; k < 12; k++) {
        const r = await f(new Rng(50 + k));
        expect(r.nfe).toBe(nfe);
        s += r.reward / 12;
      }
      return s;
    };
    const single = await mean((rng) => bestOfN({ ...o, rng, particles: 1 }), 8);
    const bon = await mean((rng) => bestOfN({ ...o, rng, particles: 8 }), 64);
    const smc = await mean((rng) => smcSearch({ ...o, rng, particles: 8 }), 64);
    const beam = await mean((rng) => beamSearch({ ...o, rng, beams: 2, children: 4 }), 2 + 2 * 4 * 7);
    const fixed = await mean((rng) => budgetSearch({ ...o, rng, budget: 64, rollover: false }), 64);
    const rbf = await mean((rng) => budgetSearch({ ...o, rng, budget: 64, rollover: true }), 64);
    for (const v of [bon, smc, beam, fixed, rbf]) expect(v).toBeGreaterThan(single);
  });
});
