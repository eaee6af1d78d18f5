import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../src/core/errors.js';
import { createProcess } from '../../src/process/index.js';
import { parseModelCard, type ForwardModelSpec } from '../../src/models/onnx/card.js';
import type { Model } from '../../src/models/types.js';
import { sample } from '../../src/sample.js';
import { gaussianBlur } from '../../src/restoration/degrade.js';
import { dfmCondition, dfmModel, renderObservation, type DfmNetwork } from '../../src/restoration/forward-models.js';
import { readNpyFile } from '../../src/io/files.js';
import { runCli } from '../support/cli.js';

const spec: ForwardModelSpec = { kind: 'gaussian-blur', sigma: [1, 2], radius: 5 };
const H = 6;
const W = 5;

/** A network whose signal is always `signal` (a point-mass signal distribution), recording the conditions it is given. */
function pointMass(signal: Float64Array, seen: Float64Array[] = []): DfmNetwork {
  return {
    sampleShape: [1, H, W],
    card: { method: 'dfm', forwardModel: spec },
    withCondition(c): Model {
      seen.push(c);
      return { prediction: 'sample', sampleShape: [1, H, W], predict: async (_x, n) => Float64Array.from({ length: n * H * W }, (_, i) => signal[i % (H * W)]) };
    },
  };
}

describe('Diffusion with Forward Models', () => {
  const signal = Float64Array.from({ length: H * W }, (_, i) => (i % 7 === 0 ? 1 : -1));

  it('renders the network\'s signal through the forward model: ŷ0 = A_s(x̂) with the card\'s radius and the chosen std', async () => {
    const m = dfmModel(pointMass(signal), { sigma: 1.7 });
    expect(m.prediction).toBe('sample');
    const y = await m.predict(new Float64Array(2 * H * W), 2, 500);
    const want = gaussianBlur(signal, 1, H, W, 1.7, 5);
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(want[i % (H * W)], 14);
    expect(Array.from(renderObservation(spec, signal, 1, H, W, 1.7))).toEqual(Array.from(want));
    // A different std renders differently: the std reaches the forward model.
    expect(Math.abs(gaussianBlur(signal, 1, H, W, 1, 5)[0] - want[0])).toBeGreaterThan(1e-3);
    expect(Array.from(m.lastSignal().subarray(0, H * W))).toEqual(Array.from(signal));
  });

  it('feeds the condition channels as training/forward_models.py: [context, s − (s_min + s_max)/2], one context for all or one per sample', () => {
    const c = dfmCondition(spec, Float64Array.from({ length: H * W }, (_, i) => i), 2, H * W, 1.25);
    expect(c.length).toBe(2 * 2 * H * W);
    expect(c[3]).toBe(3);
    expect(c[H * W]).toBe(-0.25);
    expect(c[2 * H * W + 3]).toBe(3);
    expect(c[4 * H * W - 1]).toBe(-0.25);
    const per = dfmCondition(spec, Float64Array.from({ length: 2 * H * W }, (_, i) => i), 2, H * W, 2);
    expect(per[2 * H * W]).toBe(H * W);
    expect(per[3 * H * W]).toBe(0.5);
    const none = dfmCondition(spec, undefined, 1, H * W, 1);
    expect(Array.from(none.subarray(0, H * W)).every((v) => v === 0)).toBe(true);
    expect(() => dfmCondition(spec, new Float64Array(3 * H * W), 2, H * W, 1)).toThrow(/one for all 2 samples or one per sample/);
  });

  it('any sampler over the observation space ends at the rendered signal when the signal distribution is a point mass; the sample is the signal', async () => {
    const seen: Float64Array[] = [];
    const m = dfmModel(pointMass(signal, seen));
    expect(m.sigma).toBe(1);
    const process = createProcess({ name: 'vp-discrete' });
    const want = gaussianBlur(signal, 1, H, W, 1, 5);
    for (const sampler of ['ddim', 'dpmpp-2m', 'unipc']) {
      const r = await sample({ model: m, process, sampler, steps: 8, n: 3, seed: 4, denoiseToZero: true });
      for (let i = 0; i < r.x.data.length; i++) expect(r.x.data[i]).toBeCloseTo(want[i % (H * W)], 6);
      expect(Array.from(m.lastSignal().subarray(H * W, 2 * H * W))).toEqual(Array.from(signal));
    }
    // Unconditional: the context channel is zero and the std channel is s − 1.5.
    expect(seen[0][0]).toBe(0);
    expect(seen[0][H * W]).toBe(-0.5);
  });

  it('refuses a network that is not a DFM one, a std outside the trained range, a non-finite context, and use before a run', () => {
    const net = pointMass(signal);
    expect(() => dfmModel({ ...net, card: {} })).toThrow(/not a Diffusion-with-Forward-Models network/);
    expect(() => dfmModel(net, { sigma: 2.5 })).toThrow(/\[1, 2\] px; got 2.5/);
    expect(() => dfmModel(net, { sigma: Number.NaN })).toThrow(UsageError);
    expect(() => dfmModel(net, { context: Float64Array.of(...new Array<number>(H * W - 1).fill(0), Number.NaN) })).toThrow(/context observation must be finite; value 29 is NaN/);
    expect(() => dfmModel(net).lastSignal()).toThrow(/has not been run yet/);
  });

  it('cards: "method": "dfm" and "forward_model" go together, and the blur range is checked', () => {
    const base = { format: 'diffuse-model-card/v1', onnx: 'x.onnx', prediction: 'sample', process: { name: 'vp-discrete' }, sample_shape: [1, 28, 28], inputs: { condition: 'condition' }, condition_shape: [2, 28, 28] };
    const fm = { kind: 'gaussian-blur', sigma: [1, 2], radius: 5 };
    expect(parseModelCard({ ...base, method: 'dfm', forward_model: fm }).forwardModel).toEqual(spec);
    expect(() => parseModelCard({ ...base, method: 'dfm' })).toThrow(/"method": "dfm" and "forward_model" go together/);
    expect(() => parseModelCard({ ...base, forward_model: fm })).toThrow(/go together/);
    expect(() => parseModelCard({ ...base, method: 'dfm', forward_model: { ...fm, sigma: [2, 1] } })).toThrow(/0 < min ≤ max/);
    expect(() => parseModelCard({ ...base, method: 'dfm', forward_model: { ...fm, kind: 'crop' } })).toThrow(/gaussian-blur/);
  });
});

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const shipped = existsSync(join(root, 'models/mnist-blur-dfm/card.json'));

describe.skipIf(!shipped)('diffuse sample with the shipped DFM network (models/mnist-blur-dfm)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-dfm-'));

  it('samples signals in the data range through `diffuse sample`, and checks --view-sigma', async () => {
    const out = join(dir, 's.npy');
    const r = await runCli('sample', '--model', 'mnist-blur-dfm', '--steps', '6', '--n', '3', '--out', out, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { nfe: number; n: number };
    expect(s.nfe).toBe(6);
    const x = (await readNpyFile(out)).data as Float64Array;
    expect(x.length).toBe(3 * 784);
    expect(x.every((v) => v >= -1 && v <= 1)).toBe(true);
    // A digit has dark background and bright strokes: not a constant image.
    expect(Math.max(...x) - Math.min(...x)).toBeGreaterThan(1);
    expect((await runCli('sample', '--model', 'mnist-blur-dfm', '--view-sigma', '3', '--steps', '2')).err).toMatch(/\[1, 2\] px; got 3/);
    expect((await runCli('sample', '--model', 'mnist', '--view-sigma', '1', '--steps', '2')).err).toMatch(/--view-sigma applies to Diffusion-with-Forward-Models networks/);
    expect((await runCli('restore', '--model', 'mnist-blur-dfm', '--images', 'mnist-heldout:0..1')).err).toMatch(/Diffusion-with-Forward-Models network: its condition is a context observation/);
  });
});
