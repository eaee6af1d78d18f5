import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { UsageError } from '../../src/core/errors.js';
import { parseModelCard } from '../../src/models/onnx/card.js';
import { sample } from '../../src/sample.js';
import { FIXTURES, gaussian, loadOrt, maxAbsDiff, oracle } from './support.js';

const ort = await loadOrt();
const dim = oracle.mean.length;
const noise = (n: number, seed: number, scale = 1) => new Rng(Math.floor(seed)).fillNormal(new Float64Array(n * dim)).map((v) => v * scale);
const rows = (x: Float64Array, n: number) => Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * dim, (i + 1) * dim)));

describe.skipIf(!ort)('image-conditioned networks (card inputs.condition)', async () => {
  const node = ort as NonNullable<typeof ort>;
  const m = await node.loadOnnxModel(`${FIXTURES}gauss_eps_image_cond.json`);

  it('feed the condition image of every sample: ε̂ of N(condition, s²I) within 1e-6, one shared image or one per sample', async () => {
    const p = m.process;
    const cond = noise(5, 1);
    for (const t of [3, 250.5, 900]) {
      const x = noise(5, t, 1.3);
      const got = await m.withCondition(cond).predict(x, 5, t);
      expect(maxAbsDiff(got, gaussian(x, rows(cond, 5), p.alpha(t), p.sigma(t)).eps)).toBeLessThan(1e-6);
      const shared = await m.withCondition(cond.subarray(dim, 2 * dim)).predict(x, 5, t);
      expect(maxAbsDiff(shared, gaussian(x, rows(cond, 5).map(() => rows(cond, 5)[1]), p.alpha(t), p.sigma(t)).eps)).toBeLessThan(1e-6);
    }
  });

  it('sampling converges to the conditioned law: the DDIM mean over many samples is the condition image', async () => {
    const cond = noise(1, 2);
    const r = await sample({ model: m.withCondition(cond), process: m.process, sampler: 'ddim', steps: 30, n: 2000, seed: 3 });
    for (let k = 0; k < dim; k++) {
      let s = 0;
      for (let i = 0; i < 2000; i++) s += r.x.data[i * dim + k];
      expect(Math.abs(s / 2000 - cond[k])).toBeLessThan(0.05);
    }
  });

  it('refuses a run without a condition, a condition of the wrong size or with NaN, and a mismatched batch', async () => {
    expect(() => m.predict(noise(1, 4), 1, 10)).toThrow(/restores an image it is given.*withCondition/);
    expect(() => m.withCondition(new Float64Array(dim + 1))).toThrow(/k × 16 values/);
    expect(() => m.withCondition(new Float64Array(dim).fill(NaN))).toThrow(/must be finite/);
    expect(() => m.withCondition(noise(2, 5)).predict(noise(3, 6), 3, 10)).toThrow(/2 condition images; the batch has 3/);
    const plain = await node.loadOnnxModel(`${FIXTURES}gauss_eps.json`);
    expect(() => plain.withCondition(noise(1, 7))).toThrow(UsageError);
  });

  it('the card checks condition_shape against the graph and needs inputs.condition for it', async () => {
    const base = { format: 'diffuse-model-card/v1', onnx: 'gauss_eps_image_cond.onnx', prediction: 'epsilon', process: { name: 'vp' }, sample_shape: [1, 4, 4] };
    expect(() => parseModelCard({ ...base, condition_shape: [1, 4, 4] })).toThrow(/condition_shape" needs "inputs.condition/);
    expect(parseModelCard({ ...base, inputs: { condition: 'c' } }).conditionShape).toEqual([1, 4, 4]);
    const { writeFileSync, mkdtempSync, copyFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-cond-'));
    copyFileSync(`${FIXTURES}gauss_eps_image_cond.onnx`, join(dir, 'gauss_eps_image_cond.onnx'));
    writeFileSync(join(dir, 'wrong.json'), JSON.stringify({ ...base, process: { name: 'vp-discrete' }, inputs: { condition: 'condition' }, condition_shape: [1, 2, 8] }));
    await expect(node.loadOnnxModel(join(dir, 'wrong.json'))).rejects.toThrow(/input "condition" has shape \[batch, 1, 4, 4\]; the card expects \[batch, 1, 2, 8\] \(condition_shape/);
    writeFileSync(join(dir, 'unmapped.json'), JSON.stringify({ ...base, process: { name: 'vp-discrete' } }));
    await expect(node.loadOnnxModel(join(dir, 'unmapped.json'))).rejects.toThrow(/needs input condition that the card does not map/);
  });
});
