import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { loadOrt } from './onnx/support.js';

const ort = await loadOrt();

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

const base = ['calibrate', '--model', 'onnx:models/mnist/card.json', '--out', '.tmp/quant-test-unused.json'];

describe.skipIf(!ort)('diffuse calibrate: errors a user can act on', () => {
  it.each([
    ['a model that is not a network', ['calibrate', '--model', 'builtin:ring8', '--augmented', 'x.onnx', '--out', 'c.json'], /--model must be onnx:CARD\.json; got "builtin:ring8"/],
    ['a missing augmented file', [...base, '--augmented', 'no/such.onnx'], /--augmented no\/such\.onnx: no such file \(make it with training\/quantize\.py augment\)/],
    ['the un-augmented model itself', [...base, '--augmented', 'models/mnist/mnist.onnx'], /outputs only "out_sample": it has no tensors to calibrate/],
    ['another network\'s graph', [...base, '--augmented', 'models/mnist-classifier/classifier.onnx'], /reads inputs \[images\] but the card's network reads \[sample, timestep, class_labels\]: it is not an augmented copy/],
    ['NDTC with σ = 0', [...base, '--augmented', 'models/mnist/mnist.onnx', '--std', '0'], /NDTC's standard deviation σ must be > 0, got 0/],
    ['an unknown time distribution', [...base, '--augmented', 'x.onnx', '--times', 'normal'], /--times <dist>' argument 'normal' is invalid\. Allowed choices are ndtc, uniform/],
    ['a percentile below 50', [...base, '--augmented', 'x.onnx', '--percentile', '40'], /expected a percentage in \(50, 100\]/],
    ['no --augmented', base, /required option '--augmented <file\.onnx>' not specified/],
  ])('%s', async (_what, args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});
