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
