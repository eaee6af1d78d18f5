import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { loadOrt } from './onnx/support.js';

const ort = await loadOrt();
const dir = mkdtempSync(join(tmpdir(), 'diffuse-quant-'));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

const base = ['calibrate', '--model', 'onnx:models/mnist/card.json', '--out', join(dir, 'unused.json')];

describe.skipIf(!ort)('diffuse calibrate: errors a user can act on', () => {
  it.each([
    ['a model that is not a network', ['calibrate', '--model', 'builtin:ring8', '--augmented', 'x.onnx', '--out', 'c.json'], /--model must be onnx:CARD\.json; got "builtin:ring8"/],
    ['a missing augmented file', [...base, '--augmented', 'no/such.onnx'], /--augmented no\/such\.onnx: no such file \(make it with training\/quantize\.py augment\)/],
    ['the un-augmented model itself', [...base, '--augmented', 'models/mnist/mnist.onnx'], /outputs only "out_sample": it has no tensors to calibrate/],
    ['another network\'s graph', [...base, '--augmented', 'models/mnist-classifier/classifier.onnx'], /reads inputs \[images\] but the card's network reads \[sample, timestep, class_labels\]: it is not an augmented copy/],
    ['NDTC with σ = 0', [...base, '--augmented', 'models/mnist/mnist.onnx', '--std', '0'], /NDTC's standard deviation σ must be > 0, got 0/],
    ['an unknown time distribution', [...base, '--augmented', 'x.onnx', '--times', 'normal'], /--times <dist>' argument 'normal' is invalid\. Allowed choices are ndtc, uniform/],
    ['a percentile below 50', [...base, '--augmented', 'x.onnx', '--percentile', '40'], /expected a percentage in \(50, 100\]/],
    ['neither --augmented nor --quantized', base, /needs --augmented FILE\.onnx \(activation ranges; training\/quantize\.py augment\) and\/or --quantized CARD\.json/],
    ['a fixed-batch graph', ['calibrate', '--model', 'onnx:test/fixtures/onnx/gauss_eps_static.json', '--augmented', 'test/fixtures/onnx/gauss_eps_static.onnx', '--out', join(dir, 'unused.json')], /gauss_eps_static\.json: the graph's batch is fixed at \d+; calibrate needs a dynamic batch dimension/],
    ['a quantised build of another network', [...base, '--quantized', 'test/fixtures/onnx/gauss_eps.json'], /--quantized test\/fixtures\/onnx\/gauss_eps\.json: its network's inputs, sample shape or prediction differ from mnist\.onnx's/],
  ])('%s', async (_what, args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});

describe.skipIf(!ort)('diffuse calibrate --quantized (mean output error for bias correction)', () => {
  it('records E[ε_int8 − ε_fp32] on the NDTC inputs, as recomputed here sample by sample (both label sets)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { calibrationTimes, trajectoryInputs } = await import('../src/quant/ndtc.js');
    const { Rng } = await import('../src/core/rng.js');
    const out = join(dir, 'bias.json');
    const r = await run('calibrate', '--model', 'onnx:models/mnist/card.json', '--quantized', 'models/mnist-int8/card.json', '--n', '4', '--seed', '3', '--out', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/mean output error of models\/mnist-int8\/card\.json on 8 inputs \(4 samples at \d distinct ndtc times\)/);
    const file = JSON.parse(await readFile(out, 'utf8'));
    expect(file.tensors).toBeUndefined();
    const fp = await ort!.loadOnnxModel('models/mnist/card.json');
    const q = await ort!.loadOnnxModel('models/mnist-int8/card.json');
    const p = fp.process;
    const times = calibrationTimes(p, 4, 3, { method: 'ndtc', mu: 0.4, std: 0.4 }, true);
    const xT = new Rng(3).fork(0).fillNormal(new Float64Array(4 * 784)).map((v) => v * p.priorStd(p.tMax));
    const labels = [0, 1, 2, 3];
    const x = await trajectoryInputs({ process: p, times, xT, modelFor: (idx) => fp.withLabels(Array.from(idx, (i) => labels[i])) });
    const means: number[] = [];
    let sum = 0;
    for (const set of [labels, [10, 10, 10, 10]]) {
      for (let i = 0; i < 4; i++) {
        const xi = x.subarray(i * 784, (i + 1) * 784);
        const a = await fp.predictLabels(xi, 1, times[i], [set[i]]);
        const b = await q.predictLabels(xi, 1, times[i], [set[i]]);
        let s = 0;
        for (let k = 0; k < 784; k++) s += b[k] - a[k];
        means.push(s / 784);
        sum += s;
      }
    }
    expect(file.outputError.samples.map((s: { t: number }) => s.t)).toEqual([...times, ...times]);
    file.outputError.samples.forEach((s: { mean: number[] }, i: number) => expect(Math.abs(s.mean[0] - means[i])).toBeLessThan(1e-6));
    expect(file.outputError.count).toBe(8 * 784);
    expect(Math.abs(file.outputError.mean[0] - sum / (8 * 784))).toBeLessThan(1e-7);
  });
});
