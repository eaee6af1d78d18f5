import { describe, expect, it } from 'vitest';
import { evaluateSampler } from '../src/eval/evaluate.js';
import { calibrate } from '../src/quant/calibrate.js';
import { createProcess } from '../src/process/index.js';

// Counts the CLI checks with integerArg are checked by the library too: a library caller passing
// batch 0 would otherwise loop forever (calibrate) or divide by zero (evaluateSampler).
const fake = <T>(v: unknown) => v as T;
type EvalReq = Parameters<typeof evaluateSampler>[0];
type CalReq = Parameters<typeof calibrate>[0];

describe('library guards on batch sizes', () => {
  for (const batch of [0, -1, 2.5, Number.NaN]) {
    it(`evaluateSampler refuses batch ${batch}`, async () => {
      const req = fake<EvalReq>({ model: { numClasses: 10, sampleShape: [4] }, classifier: { sampleShape: [4] }, sampler: 'ddim', n: 4, batch, cfg: 1, seed: 0 });
      await expect(evaluateSampler(req)).rejects.toThrow(/batch must be an integer ≥ 1/);
    });
    it(`calibrate refuses batch ${batch}`, async () => {
      const model = { card: { time: { kind: 'discrete' } }, process: createProcess({ name: 'vp-discrete' }) };
      const req = fake<CalReq>({ model, cardPath: 'card.json', augmented: {}, batch, percentile: 99.9, n: 4, seed: 0 });
      await expect(calibrate(req)).rejects.toThrow(/batch must be an integer from 1/);
    });
  }
  it('calibrate refuses a percentile outside (0, 100] before any run', async () => {
    const model = { card: { time: { kind: 'discrete' } }, process: createProcess({ name: 'vp-discrete' }) };
    const req = fake<CalReq>({ model, cardPath: 'card.json', augmented: {}, batch: 4, percentile: 0, n: 4, seed: 0 });
    await expect(calibrate(req)).rejects.toThrow(/percentile must be in/);
  });
});

describe('a run never returns non-finite samples', () => {
  it('an overflowing run is a RunError naming the sampler and where, not NaN samples', async () => {
    const { sample, GaussianMixture, GmmOracle, builtinProblem } = await import('../src/index.js');
    const process = createProcess({ name: 'edm' });
    const huge = { prediction: 'epsilon' as const, sampleShape: [2], predict: async (x: Float64Array) => x.map(() => 1e307) };
    await expect(sample({ model: huge, process, sampler: 'euler', steps: 4, n: 1 })).rejects.toThrow(/euler ended with NaN at sample 0, value 0, on edm over 4 steps.*overflowed/);
    // the flow samplers on VE, whose σ = 0 is at t = −∞: the last step is x̂0, not an infinite step in t
    const ve = createProcess({ name: 've' });
    const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), ve, 'epsilon');
    for (const sampler of ['flow-euler', 'flow-heun', 'flow-midpoint']) {
      const r = await sample({ model, process: ve, sampler, steps: 5, n: 2 });
      expect(r.x.data.every(Number.isFinite), sampler).toBe(true);
    }
  });
});
