import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNpy, parseNpy } from '../../src/io/npy.js';
import { tensor } from '../../src/core/tensor.js';
import { runCli } from '../support/cli.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const shipped = existsSync(join(root, 'models/fashion-sr4/card.json'));

describe.skipIf(!shipped)('diffuse restore (models/fashion-sr4)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-restore-'));

  it('restores held-out images above the degraded input\'s PSNR, searches a boundary, saves it, and a saved boundary reproduces the run', async () => {
    const saved = join(dir, 'b.json');
    const r = await runCli('restore', '--images', 'fashion-heldout:0..9000:1800', '--steps', '4', '--search-boundary', '3', '--reference', 'fashion-heldout:10..9838:1228', '--save-boundary', saved, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { psnr: number; degradedPsnr: number; nfe: number; start: string; boundary: { candidates: number; index: number } };
    expect(s.nfe).toBe(4);
    expect(s.start).toBe('searched boundary');
    expect(s.boundary.candidates).toBe(3);
    const file = JSON.parse(readFileSync(saved, 'utf8')) as { z: number[]; format: string };
    expect(file.format).toBe('diffuse-boundary/v1');
    expect(file.z.length).toBe(784);
    const out = join(dir, 'r.npy');
    const again = JSON.parse((await runCli('restore', '--images', 'fashion-heldout:0..9000:1800', '--steps', '4', '--boundary', saved, '--out', out, '--json')).out) as { psnr: number };
    expect(again.psnr).toBe(s.psnr);
    expect(parseNpy(new Uint8Array(readFileSync(out))).shape).toEqual([6, 1, 28, 28]);
    expect((await runCli('restore', '--images', 'fashion-heldout:0..10000')).err).toMatch(/B must stay below 10000/);
    const random = JSON.parse((await runCli('restore', '--images', 'fashion-heldout:0..9000:1800', '--steps', '10', '--json')).out) as { start: string; psnr: number; degradedPsnr: number };
    expect(random.start).toBe('random');
    expect(random.psnr).toBeGreaterThan(random.degradedPsnr);
  });

  it('loads a boundary shipped with the model by name', async () => {
    const r = await runCli('restore', '--images', 'fashion-heldout:0..1', '--steps', '10', '--boundary', 'ddim-nfe10', '--json');
    expect(r.err).toBe('');
    expect((JSON.parse(r.out) as { start: string }).start).toBe('boundary ddim-nfe10');
  });

  it('refuses contradictory flags, unknown boundaries, stochastic samplers with a boundary, and models without a condition', async () => {
    expect((await runCli('restore', '--boundary', 'x', '--search-boundary', '2')).err).toMatch(/give one of them/);
    expect((await runCli('restore', '--save-boundary', join(dir, 'n.json'))).err).toMatch(/add --search-boundary/);
    expect((await runCli('restore', '--boundary', 'nope')).err).toMatch(/ships these boundary conditions: .*ddim-nfe10/);
    expect((await runCli('restore', '--images', 'fashion-heldout:0..1', '--search-boundary', '2', '--sampler', 'ddpm')).err).toMatch(/deterministic \(ODE\) sampler/);
    expect((await runCli('restore', '--model', 'mnist')).err).toMatch(/image-conditioned network/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ format: 'diffuse-boundary/v1', model: 'm', sampler: 'ddim', steps: 5, reference: 4, candidates: 2, seed: 0, index: 0, mse: 0.1, z: [1, 2] }));
    expect((await runCli('restore', '--boundary', bad)).err).toMatch(/"z" has 2 values but the model's samples have 784/);
    expect((await runCli('restore', '--images', 'cat.png')).err).toMatch(/--images must be/);
    const r = await runCli('sample', '--model', 'fashion-sr4', '--steps', '2', '--n', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/restores an image it is given/);
  });
});

const shippedMethod = (name: string) => existsSync(join(root, `models/${name}/card.json`));

describe.skipIf(!shippedMethod('fashion-sr4-resfusion'))('diffuse restore with a Resfusion model', () => {
  it('runs its 5-step chain from the degraded image above the input\'s PSNR, and refuses sampler options', async () => {
    const r = await runCli('restore', '--model', 'fashion-sr4-resfusion', '--images', 'fashion-heldout:0..7', '--json');
    expect(r.err).toBe('');
    const s = JSON.parse(r.out) as { nfe: number; psnr: number; degradedPsnr: number; sampler: string };
    expect(s.sampler).toBe('resfusion');
    expect(s.nfe).toBe(5);
    expect(s.psnr).toBeGreaterThan(s.degradedPsnr);
    expect((await runCli('restore', '--model', 'fashion-sr4-resfusion', '--steps', '3')).err).toMatch(/own 5-step chain.*drop --steps/);
    expect((await runCli('restore', '--model', 'fashion-sr4-resfusion', '--generate')).err).toMatch(/restores only; drop --generate/);
  });
});

describe.skipIf(!shippedMethod('fashion-sr4-rddm'))('diffuse restore with an RDDM model', () => {
  it('restores in the steps asked for, generates from a zero condition, and refuses a sampler', async () => {
    const r = await runCli('restore', '--model', 'fashion-sr4-rddm', '--images', 'fashion-heldout:0..7', '--steps', '3', '--json');
    expect(r.err).toBe('');
    const s = JSON.parse(r.out) as { nfe: number; psnr: number; degradedPsnr: number; start: string };
    expect(s.nfe).toBe(3);
    expect(s.start).toBe('degraded image (RDDM)');
    expect(s.psnr).toBeGreaterThan(s.degradedPsnr);
    const g = JSON.parse((await runCli('restore', '--model', 'fashion-sr4-rddm', '--images', 'fashion-heldout:0..3', '--generate', '--steps', '5', '--json')).out) as { start: string; nfe: number };
    expect(g.start).toBe('noise (RDDM generation)');
    expect(g.nfe).toBe(5);
    expect((await runCli('restore', '--model', 'fashion-sr4-rddm', '--sampler', 'ddim')).err).toMatch(/RDDM model.*drop --sampler/);
    expect((await runCli('restore', '--generate')).err).toMatch(/--generate needs a model that also generates/);
  });
});

describe.skipIf(!shipped)('diffuse restore and tomography read .npy inputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-npy-'));
  const npy = (name: string, shape: number[], data: Float64Array) => {
    const path = join(dir, name);
    writeFileSync(path, encodeNpy(tensor('float64', shape, data)));
    return path;
  };

  it('restores images from FILE.npy [n, 1, 28, 28] and refuses NaN or a wrong shape', async () => {
    const imgs = new Float64Array(2 * 784).map((_, i) => (i % 28 > 8 && i % 28 < 20 ? 0.8 : -1));
    const ok = await runCli('restore', '--images', npy('ok.npy', [2, 1, 28, 28], imgs), '--steps', '3', '--json');
    expect(ok.err).toBe('');
    expect((JSON.parse(ok.out) as { n: number }).n).toBe(2);
    const nan = Float64Array.from(imgs);
    nan[5] = NaN;
    expect((await runCli('restore', '--images', npy('nan.npy', [2, 1, 28, 28], nan))).err).toMatch(/index \[0, 0, 0, 5\] is NaN/);
    expect((await runCli('restore', '--images', npy('shape.npy', [2, 28, 28], imgs))).code).toBe(2);
  });

  it('reconstructs a FILE.npy volume [slices, 28, 28] and refuses a non-finite one', async () => {
    const vol = new Float64Array(3 * 784).map((_, i) => (Math.floor(i / 28) % 28 > 10 && Math.floor(i / 28) % 28 < 18 ? 0.9 : -1));
    const r = await runCli('tomography', '--volume', npy('vol.npy', [3, 28, 28], vol), '--method', 'tv', '--views', '6', '--json');
    expect(r.err).toBe('');
    const s = JSON.parse(r.out) as { slices: number; psnr: number };
    expect(s.slices).toBe(3);
    expect(s.psnr).toBeGreaterThan(15);
    vol[10] = Infinity;
    expect((await runCli('tomography', '--volume', npy('inf.npy', [3, 28, 28], vol))).err).toMatch(/index \[0, 0, 10\] is Infinity/);
  });
});

describe.skipIf(!existsSync(join(root, 'models/fashion-mix-rddm/card.json')))('diffuse restore --task (models/fashion-mix, fashion-mix-rddm)', () => {
  it('restores each of denoise, deblur and inpaint (RDDM above the degraded input; the conditional DDPM runs the same tasks)', async () => {
    for (const model of ['fashion-mix-rddm', 'fashion-mix']) {
      for (const task of ['denoise', 'deblur', 'inpaint']) {
        const r = await runCli('restore', '--model', model, '--task', task, '--images', 'fashion-heldout:0..9000:1000', '--steps', '5', '--json');
        expect(r.err, `${model} ${task}`).toBe('');
        const s = JSON.parse(r.out) as { psnr: number; degradedPsnr: number; task: string; factor?: number };
        expect(s.task).toBe(task);
        expect(s.factor).toBeUndefined();
        if (model === 'fashion-mix-rddm') expect(s.psnr, `${model} ${task}`).toBeGreaterThan(s.degradedPsnr);
        else expect(Number.isFinite(s.psnr)).toBe(true);
      }
    }
    expect((await runCli('restore', '--model', 'fashion-mix-rddm', '--task', 'colorize')).err).toMatch(/--task colorize: accepted: sr, denoise, deblur, inpaint/);
    expect((await runCli('restore', '--out', 'restored.txt')).err).toMatch(/ending in \.npy/);
    expect((await runCli('tomography', '--out', 'volume.json')).err).toMatch(/ending in \.npy/);
  });
});
