import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { RunError } from '../../src/core/errors.js';
import { createProcess } from '../../src/process/index.js';
import { GaussianMixture, GmmOracle } from '../../src/models/oracle/gmm.js';
import { builtinProblem } from '../../src/models/oracle/builtin.js';
import { Denoiser } from '../../src/models/denoiser.js';
import type { Model } from '../../src/models/types.js';
import { sample } from '../../src/sample.js';
import { rddmFromDdpm, rddmSample, rddmSchedule, rddmTimesteps } from '../../src/restoration/rddm.js';

describe('RDDM', () => {
  it('the linear schedules sum to ᾱ_T = β̄_T² = 1 with α_k ∝ T + 1 − k and β_k² ∝ k', () => {
    const T = 50;
    const s = rddmSchedule(T);
    expect(s.alphaCum[T - 1]).toBeCloseTo(1, 14);
    expect(s.betaCum[T - 1]).toBeCloseTo(1, 14);
    for (const k of [1, 7, 30, 50]) {
      const alpha = s.alphaCum[k - 1] - (k > 1 ? s.alphaCum[k - 2] : 0);
      const beta2 = s.betaCum[k - 1] * s.betaCum[k - 1] - (k > 1 ? s.betaCum[k - 2] * s.betaCum[k - 2] : 0);
      expect(alpha).toBeCloseTo((T + 1 - k) / ((T * (T + 1)) / 2), 14);
      expect(beta2).toBeCloseTo(k / ((T * (T + 1)) / 2), 14);
    }
    expect(rddmSchedule(10, 0.01).betaCum[9]).toBeCloseTo(0.1, 14);
  });

  it('skips steps as the reference code: ⌊linspace(−1, T − 1, S + 1)⌋ reversed', () => {
    expect(rddmTimesteps(1000, 10)).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99, -1]);
    expect(rddmTimesteps(1000, 5)).toEqual([999, 799, 599, 399, 199, -1]);
    expect(rddmTimesteps(1000, 3)).toEqual([999, 665, 332, -1]);
    expect(() => rddmTimesteps(10, 11)).toThrow(/steps must be an integer in \[1, 10\]/);
  });

  it('with DDPM\'s coefficients (ᾱ = 1 − √ᾱ^DDPM, β̄ = √(1 − ᾱ^DDPM)) and zero residual input, its sampler is DDIM, step for step', async () => {
    const process = createProcess({ name: 'vp-discrete' });
    const gmm = new GaussianMixture(builtinProblem('ring8'));
    const denoiser = new Denoiser(new GmmOracle(gmm, process, 'epsilon'), process);
    const abar = Float64Array.from({ length: 1000 }, (_, t) => process.alpha(t) * process.alpha(t));
    // The residual of generation is I_in − I_0 = −x̂0.
    const residual: Model = { prediction: 'sample', sampleShape: [2], predict: async (x, n, t) => (await denoiser.denoise(x, n, t)).map((v) => -v) };
    const n = 64;
    const r = await rddmSample({ model: residual, schedule: rddmFromDdpm(abar), condition: new Float64Array(n * 2), n, steps: 10, rng: new Rng(3) });
    const z = new Rng(3).fillNormal(new Float64Array(n * 2));
    const grid = Float64Array.from([...rddmTimesteps(1000, 10)]);
    const ddim = await sample({ model: new GmmOracle(gmm, process, 'epsilon'), process, sampler: 'ddim', grid, n, z, init: 'sigma' });
    expect(r.nfe).toBe(10);
    r.x.forEach((v, i) => expect(v).toBeCloseTo(ddim.x.data[i], 10));
  });

  it('with the true residual of a known image the chain returns it; a non-finite output is a RunError', async () => {
    const s = rddmSchedule(100);
    const x0 = new Rng(4).fillNormal(new Float64Array(6)).map((v) => 0.3 * v);
    const xIn = new Rng(5).fillNormal(new Float64Array(6));
    const oracle: Model = { prediction: 'sample', sampleShape: [6], predict: () => Promise.resolve(xIn.map((v, i) => v - x0[i])) };
    const r = await rddmSample({ model: oracle, schedule: s, condition: xIn, n: 1, steps: 7, rng: new Rng(6), eta: 1 });
    r.x.forEach((v, i) => expect(v).toBeCloseTo(x0[i], 12));
    const bad: Model = { prediction: 'sample', sampleShape: [6], predict: (x) => Promise.resolve(x.map(() => Infinity)) };
    await expect(rddmSample({ model: bad, schedule: s, condition: xIn, n: 1, steps: 2, rng: new Rng(0) })).rejects.toThrow(RunError);
  });
});
