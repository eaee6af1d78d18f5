import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStableDiffusion } from '../../src/pipelines/node.js';
import { captionClasses, scoreTextToImage } from '../../src/eval/text-to-image.js';
import { shippedModelsDir, shippedPipelineDir } from '../../src/models/onnx/shipped.js';
import { runCli } from '../support/cli.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();

/**
 * The built-in text-to-image model (models/t2i, training/tiny_t2i.py) draws what it is asked for:
 * the shipped MNIST / Fashion-MNIST classifiers see the class each caption names. docs/t2i-results.md
 * has the full measurement (100 images per class); this is a smaller, fixed-seed version of it.
 */
describe.skipIf(!ort)('the built-in text-to-image model', () => {
  it('is shipped as a diffusers folder reachable by name', async () => {
    expect(await shippedPipelineDir('t2i')).toBe(join(shippedModelsDir, 't2i'));
  });

  it('draws the class each caption names: ≥ 93 % over the 20 classes, ≥ 60 % on each (20 images per class, guidance 5)', async () => {
    const pipe = await loadStableDiffusion(join(shippedModelsDir, 't2i'));
    const s = await scoreTextToImage(pipe, { perClass: 20, steps: 20, guidance: 5 });
    expect(s.perClass.map((c) => c.caption)).toEqual(captionClasses.map((c) => c.caption));
    expect(s.accuracy).toBeGreaterThanOrEqual(0.93);
    for (const c of s.perClass) expect(c.accuracy, c.caption).toBeGreaterThanOrEqual(0.6);
    // without guidance the prompt still steers it, less sharply (the unconditional model is real)
    const plain = await scoreTextToImage(pipe, { perClass: 5, steps: 20, guidance: 1 });
    expect(plain.accuracy).toBeLessThan(s.accuracy);
  }, 300_000);

  it('draws shirts the classifier recognises more often as guidance rises (docs/t2i-results.md: 77 % at 5, 91 % at 15 with 100 images)', async () => {
    const pipe = await loadStableDiffusion(join(shippedModelsDir, 't2i'));
    const shirt = captionClasses.findIndex((c) => c.caption === 'a shirt');
    const at = async (guidance: number) => (await scoreTextToImage(pipe, { perClass: 100, steps: 20, guidance, classes: [shirt] })).perClass[0].accuracy;
    const [five, fifteen] = [await at(5), await at(15)];
    expect(fifteen).toBeGreaterThan(five + 0.05);
    // 91 % here; a margin for another CPU's rounding
    expect(fifteen).toBeGreaterThanOrEqual(0.88);
  }, 120_000);

  it('is what `diffuse generate` uses when no --model is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-t2i-'));
    const r = await runCli('generate', 'an ankle boot', '--steps', '10', '--out', join(dir, 'boot.png'), '--json');
    rmSync(dir, { recursive: true, force: true });
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out) as { model: string; width: number; nfe: number };
    expect([summary.model, summary.width]).toEqual(['t2i', 32]);
  });
});
