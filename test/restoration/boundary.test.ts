import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { planSample, sample } from '../../src/sample.js';
import { boundaryCandidate, repeatBoundary, searchBoundary } from '../../src/restoration/boundary.js';
import { poolAndRepeat } from '../../src/restoration/degrade.js';
import { FIXTURES, loadOrt, oracle } from '../onnx/support.js';

const ort = await loadOrt();
const dim = oracle.mean.length;

describe('super-resolution degradation', () => {
  it('average-pools and repeats: a 4×4 image by 2 gives its 2×2 block means, each repeated 2×2', () => {
    const x = Float64Array.from({ length: 16 }, (_, i) => i);
    expect(Array.from(poolAndRepeat(x, 1, 4, 4, 2))).toEqual([2.5, 2.5, 4.5, 4.5, 2.5, 2.5, 4.5, 4.5, 10.5, 10.5, 12.5, 12.5, 10.5, 10.5, 12.5, 12.5]);
    expect(() => poolAndRepeat(x, 1, 4, 4, 3)).toThrow(/dividing 4×4/);
    expect(() => poolAndRepeat(x, 2, 4, 4, 2)).toThrow(/expected n × 16 = 32/);
  });
});

describe.skipIf(!ort)('optimal boundary condition search', async () => {
  const node = ort as NonNullable<typeof ort>;
  const net = await node.loadOnnxModel(`${FIXTURES}gauss_eps_image_cond.json`);
  const n = 6;
  const rng = new Rng(1);
  const clean = rng.fillNormal(new Float64Array(n * dim));
  // The model's law is N(condition, s²I); conditions are the clean images shifted by a common offset.
  const offset = Float64Array.from({ length: dim }, (_, k) => 0.3 * Math.sin(k));
  const conditions = clean.map((v, i) => v + offset[i % dim]);
  const run = (candidates: number) => searchBoundary({
    conditioned: (c) => net.withCondition(c), process: net.process, sampler: 'dpmpp-2m', steps: 60, conditions, clean, n, candidates, seed: 4,
  });

  it('scores each candidate by the restorations it gives and keeps the best: for N(y, s²I) the error is ‖y − x + s·z‖² averaged', async () => {
    const b = await run(8);
    const s = Math.sqrt(oracle.variance);
    for (let k = 0; k < 8; k++) {
      const z = boundaryCandidate(dim, 4, k);
      // The probability-flow ODE of N(μ, s²I) carries x_T to μ + s·(x_T − α_T μ)/√(α_T² s² + σ_T²).
      const t0 = planSample({ model: net.withCondition(conditions), process: net.process, sampler: 'dpmpp-2m', steps: 60, n }).grid[0];
      const [a, sg] = [net.process.alpha(t0), net.process.sigma(t0)];
      const c = Math.sqrt(a * a * s * s + sg * sg);
      const xT = z.map((v) => v * net.process.priorStd(t0));
      let want = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < dim; j++) {
          const e = offset[j] + (s * (xT[j] - a * conditions[i * dim + j])) / c;
          want += e * e;
        }
      }
      expect(b.mse[k]).toBeCloseTo(want / (n * dim), 2);
    }
    expect(b.mse[b.index]).toBe(Math.min(...b.mse));
    expect(Array.from(b.z)).toEqual(Array.from(boundaryCandidate(dim, 4, b.index)));
  });

  it('restoring from the chosen start reproduces its reference error; one candidate is the base sampler from that start', async () => {
    const b = await run(3);
    const r = await sample({ model: net.withCondition(conditions), process: net.process, sampler: 'dpmpp-2m', steps: 60, n, z: repeatBoundary(b.z, n) });
    let se = 0;
    for (let i = 0; i < r.x.data.length; i++) se += (r.x.data[i] - clean[i]) * (r.x.data[i] - clean[i]);
    expect(se / r.x.data.length).toBe(b.mse[b.index]);
    const one = await run(1);
    expect(one.index).toBe(0);
    expect(one.mse[0]).toBe(b.mse[0]);
  });

  it('refuses stochastic samplers, no candidates and clean images of the wrong size', async () => {
    const base = { conditioned: (c: Float64Array) => net.withCondition(c), process: net.process, steps: 5, conditions, clean, n, candidates: 2, seed: 0 };
    await expect(searchBoundary({ ...base, sampler: 'ddpm' })).rejects.toThrow(/deterministic \(ODE\) sampler; ddpm/);
    await expect(searchBoundary({ ...base, sampler: 'ddim', candidates: 0 })).rejects.toThrow(/candidates must be/);
    await expect(searchBoundary({ ...base, sampler: 'ddim', clean: clean.subarray(1) })).rejects.toThrow(/clean reference images must hold/);
  });
});
