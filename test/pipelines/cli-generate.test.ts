import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { runCli } from '../support/cli.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();
const model = fileURLToPath(new URL('../fixtures/tiny-sd', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffuse-generate-'));
const tmp = (name: string) => join(dir, name);

const run = runCli;

describe.skipIf(!ort)('diffuse generate', () => {
  it('writes the image(s) and a summary with the time per step; --image runs image-to-image', async () => {
    const r = await run('generate', 'a photo of a cat', '--model', model, '--steps', '4', '--sampler', 'dpmpp-2m', '--n', '2', '--upscale', '1', '--out', tmp('cat.png'), '--json');
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out) as { sampler: string; nfe: number; files: string[]; secondsPerStep: number; width: number };
    expect([s.sampler, s.nfe, s.width]).toEqual(['dpmpp-2m', 4, 64]);
    expect(s.files).toEqual([tmp('cat-0.png'), tmp('cat-1.png')]);
    expect(s.secondsPerStep).toBeGreaterThan(0);
    const png = PNG.sync.read(readFileSync(tmp('cat-0.png')));
    expect([png.width, png.height]).toEqual([64, 64]);
    // --grid: the same images in one sheet, ⌈√3⌉ = 2 columns, the first tile equal to the single file
    const g = await run('generate', 'a photo of a cat', '--model', model, '--steps', '4', '--sampler', 'dpmpp-2m', '--n', '3', '--upscale', '1', '--grid', '--out', tmp('sheet.png'), '--quiet');
    expect(g.code, g.err).toBe(0);
    const sheet = PNG.sync.read(readFileSync(tmp('sheet.png')));
    expect([sheet.width, sheet.height]).toEqual([128, 128]);
    for (const y of [0, 31, 63]) expect(Array.from(sheet.data.subarray(4 * y * 128, 4 * (y * 128 + 64)))).toEqual(Array.from(png.data.subarray(4 * y * 64, 4 * (y + 1) * 64)));
    expect(Array.from(sheet.data.subarray(4 * (100 * 128 + 100), 4 * (100 * 128 + 101)))).toEqual([0, 0, 0, 255]);
    const i2i = await run('generate', 'a photo of a cat', '--model', model, '--steps', '10', '--image', tmp('cat-0.png'), '--strength', '0.5', '--out', tmp('i2i.png'), '--quiet');
    expect(i2i.code, i2i.err).toBe(0);
    expect(PNG.sync.read(readFileSync(tmp('i2i.png'))).width, 'small images are written at k × k per pixel, to 128 px').toBe(128);
    const mask = new PNG({ width: 64, height: 64 });
    for (let k = 0; k < 64 * 64; k++) mask.data.set(k % 64 < 32 ? [255, 255, 255, 255] : [0, 0, 0, 255], 4 * k);
    writeFileSync(tmp('mask.png'), PNG.sync.write(mask));
    const inpaint = fileURLToPath(new URL('../fixtures/tiny-sd-inpaint', import.meta.url));
    const inp = await run('generate', 'a photo of a cat', '--model', inpaint, '--steps', '3', '--image', tmp('cat-0.png'), '--mask', tmp('mask.png'), '--out', tmp('inp.png'), '--quiet');
    expect(inp.code, inp.err).toBe(0);
    expect(PNG.sync.read(readFileSync(tmp('inp.png'))).width).toBe(128);
  });

  it('bad input is a clear error (exit 2) and leaves the output untouched', async () => {
    writeFileSync(tmp('keep.png'), 'old');
    const cases: [string[], RegExp][] = [
      [['--model', dir], /no model_index.json/],
      [['--model', model, '--width', '60'], /width must be a positive multiple of 8/],
      [['--model', model, '--image', tmp('keep.png')], /is not a PNG image/],
      [['--model', model, '--strength', '0.5'], /--strength goes with --image/],
      [['--model', model, '--mask', tmp('keep.png')], /--mask goes with --image/],
      [['--model', model, '--sampler', 'dpmpp-3000'], /unknown sampler "dpmpp-3000"/],
    ];
    for (const [args, message] of cases) {
      const r = await run('generate', 'a cat', ...args, '--out', tmp('keep.png'));
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(readFileSync(tmp('keep.png'), 'utf8')).toBe('old');
    }
  });
});
