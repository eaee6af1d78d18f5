import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { UsageError } from '../../src/core/errors.js';
import { createProcess } from '../../src/process/index.js';
import { psnr, ssim } from '../../src/metrics/image.js';
import { measureBlocks, parallelBeam } from '../../src/restoration/tomography.js';
import { admmTv, rotatingVolume, volumePosterior } from '../../src/restoration/volume.js';
import type { Model } from '../../src/models/types.js';
import { parseNpy } from '../../src/io/npy.js';
import { runCli } from '../support/cli.js';

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);
const normals = (n: number, seed: number) => new Rng(seed).fillNormal(new Float64Array(n));

describe('PSNR and SSIM', () => {
  it('PSNR is 10·log10(R²/MSE): an offset c on [−1, 1] gives 10·log10(4/c²); identical images give Infinity', () => {
    const x = normals(2 * 49, 1);
    const y = x.map((v) => v + 0.1);
    const p = psnr(x, y, 2, 49);
    expect(p[0]).toBeCloseTo(10 * Math.log10(4 / 0.01), 10);
    expect(p[1]).toBeCloseTo(p[0], 10);
    expect(psnr(x, x, 2, 49)[0]).toBe(Infinity);
    expect(psnr(x, y, 1, 98, [0, 1])[0]).toBeCloseTo(10 * Math.log10(1 / 0.01), 10);
  });

  it('SSIM is 1 for identical images, (2ab + C1)/(a² + b² + C1) for flat ones, symmetric, and below 1 for noise', () => {
    const x = normals(3 * 144, 2);
    expect(Array.from(ssim(x, x, 3, 12, 12))).toEqual([1, 1, 1].map((v) => expect.closeTo(v, 12)));
    const a = 0.3;
    const b = -0.2;
    const c1 = (0.01 * 2) * (0.01 * 2);
    const flat = ssim(new Float64Array(144).fill(a), new Float64Array(144).fill(b), 1, 12, 12)[0];
    expect(flat).toBeCloseTo((2 * a * b + c1) / (a * a + b * b + c1), 12);
    const y = x.map((v, i) => v + 0.5 * normals(x.length, 3)[i]);
    const s = ssim(x, y, 3, 12, 12);
    expect(Array.from(s)).toEqual(Array.from(ssim(y, x, 3, 12, 12)));
    for (const v of s) expect(v).toBeLessThan(0.95);
    expect(() => ssim(x, y, 3, 12, 12, { window: 13 })).toThrow(/window \(13\)/);
    expect(() => psnr(x, y.subarray(1), 3, 144)).toThrow(UsageError);
  });
});

describe('parallel-beam projector', () => {
  it('its adjoint is its transpose: ⟨A x, y⟩ = ⟨x, Aᵀ y⟩', () => {
    const op = parallelBeam(28, 5);
    const x = normals(op.d, 4);
    const y = normals(op.m, 5);
    const ax = new Float64Array(op.m);
    const aty = new Float64Array(op.d);
    op.apply(x, 0, ax, 0);
    op.adjoint(y, 0, aty, 0);
    expect(dot(ax, y)).toBeCloseTo(dot(x, aty), 9);
  });

  it('every view sums to the image sum; the 0° view of a 3×3 image is its column sums, the 90° view its row sums', () => {
    const op = parallelBeam(3, 2);
    const img = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const y = new Float64Array(op.m);
    op.apply(img, 0, y, 0);
    expect(op.bins).toBe(7);
    expect(Array.from(y.subarray(2, 5))).toEqual([12, 15, 18]);
    expect(Array.from(y.subarray(7 + 2, 7 + 5)).map((v) => Math.round(v * 1e9) / 1e9)).toEqual([24, 15, 6]);
    const big = parallelBeam(28, 7);
    const x = normals(784, 6);
    const yb = new Float64Array(big.m);
    big.apply(x, 0, yb, 0);
    const total = x.reduce((s, v) => s + v, 0);
    for (let k = 0; k < 7; k++) expect(yb.subarray(k * big.bins, (k + 1) * big.bins).reduce((s, v) => s + v, 0)).toBeCloseTo(total, 9);
  });

  it('measures block by block, adds the noise asked for, and refuses bad sizes', () => {
    const op = parallelBeam(6, 3);
    const x = normals(2 * 36, 7);
    const clean = measureBlocks(op, x, 2, 0, new Rng(0));
    const second = new Float64Array(op.m);
    op.apply(x, 36, second, 0);
    expect(Array.from(clean.subarray(op.m))).toEqual(Array.from(second));
    const noisy = measureBlocks(op, x, 2, 0.5, new Rng(0));
    const diff = noisy.map((v, i) => v - clean[i]);
    expect(Math.sqrt(dot(diff, diff) / diff.length)).toBeGreaterThan(0.35);
    expect(() => measureBlocks(op, x, 3, 0, new Rng(0))).toThrow(/3 blocks need 108/);
    expect(() => parallelBeam(28, 0)).toThrow(UsageError);
  });
});

describe('ADMM-TV data step', () => {
  const op = parallelBeam(8, 3);
  const shape = { slices: 4, height: 8, width: 8 };
  const truth = normals(4 * 64, 8);
  const y = measureBlocks(op, truth, 4, 0, new Rng(0));

  it('with λ = 0 solves the proximal least squares (AᵀA + γI) x = Aᵀy + γc', () => {
    const centre = normals(4 * 64, 9);
    const gamma = 0.5;
    const x = admmTv({ operator: op, shape, lambda: 0, axes: ['z'], gamma, cgIterations: 400 }, y, centre);
    const proj = new Float64Array(op.m);
    const lhs = new Float64Array(64);
    const aty = new Float64Array(64);
    for (let j = 0; j < 4; j++) {
      op.apply(x, j * 64, proj, 0);
      op.adjoint(proj, 0, lhs, 0);
      op.adjoint(y, j * op.m, aty, 0);
      for (let i = 0; i < 64; i++) expect(lhs[i] + gamma * x[j * 64 + i]).toBeCloseTo(aty[i] + gamma * centre[j * 64 + i], 6);
    }
  });

  it('a large TV weight across z makes the slices equal; across y and x it flattens each slice', () => {
    const z = admmTv({ operator: op, shape, lambda: 1e3, axes: ['z'], gamma: 0.1, rho: 50, iterations: 300, cgIterations: 50 }, y, truth);
    for (let j = 1; j < 4; j++) for (let i = 0; i < 64; i += 7) expect(z[j * 64 + i]).toBeCloseTo(z[i], 2);
    const xy = admmTv({ operator: op, shape, lambda: 1e3, axes: ['y', 'x'], gamma: 0.1, rho: 50, iterations: 300, cgIterations: 50 }, y, truth);
    for (let i = 1; i < 64; i += 5) expect(xy[i]).toBeCloseTo(xy[0], 2);
  });

  it('refuses bad weights, axes, shapes and y', () => {
    const base = { operator: op, shape, lambda: 0.1, axes: ['z'] as const, gamma: 1 };
    expect(() => admmTv({ ...base, lambda: -1 }, y, truth)).toThrow(/TV weight λ/);
    expect(() => admmTv({ ...base, gamma: NaN }, y, truth)).toThrow(/proximal weight γ/);
    expect(() => admmTv({ ...base, axes: ['w' as 'z'] }, y, truth)).toThrow(/TV axes/);
    expect(() => admmTv({ ...base, shape: { ...shape, width: 7 } }, y, truth)).toThrow(/operator acts on 64/);
    expect(() => admmTv(base, y.subarray(1), truth)).toThrow(/y must hold 4 slices/);
  });
});

describe('DiffusionMBIR as a model over a 2-D prior', () => {
  const process = createProcess({ name: 'vp' });
  const op = parallelBeam(6, 2);
  const slices = 3;
  // A stand-in prior whose data prediction is 0.5·x for every slice.
  const prior: Model = { prediction: 'sample', sampleShape: [1, 6, 6], predict: (x) => Promise.resolve(x.map((v) => 0.5 * v)) };
  const truth = normals(slices * 36, 10);
  const y = measureBlocks(op, truth, slices, 0, new Rng(0));

  it('with a huge γ returns the prior\'s estimate (clipped), and with λ = 0 each slice ignores the others\' measurements', async () => {
    const x = normals(2 * slices * 36, 11);
    const stay = volumePosterior({ prior, process, slices, operator: op, y, lambda: 0, gamma: 1e9, clip: [-0.3, 0.3] });
    const out = await stay.predict(x, 2, 0.5);
    out.forEach((v, i) => expect(v).toBeCloseTo(Math.min(0.3, Math.max(-0.3, 0.5 * x[i])), 6));
    const y2 = Float64Array.from(y);
    y2.fill(0, 2 * op.m);
    const alone = (yy: Float64Array, lambda: number) => volumePosterior({ prior, process, slices, operator: op, y: yy, lambda, gamma: 0.5 }).predict(x, 2, 0.5);
    const [a, b] = [await alone(y, 0), await alone(y2, 0)];
    expect(Array.from(a.subarray(0, 72))).toEqual(Array.from(b.subarray(0, 72)));
    expect(a[80]).not.toBeCloseTo(b[80], 3);
    const [c, d] = [await alone(y, 1), await alone(y2, 1)];
    expect(Math.abs(c[0] - d[0])).toBeGreaterThan(1e-6);
  });

  it('takes one y per sample, and refuses a prior of colour images or a y of the wrong size', async () => {
    const x = normals(2 * slices * 36, 12);
    const y2 = new Float64Array(2 * y.length);
    y2.set(y);
    y2.set(y, y.length);
    const m = volumePosterior({ prior, process, slices, operator: op, y: y2, lambda: 0.2, gamma: 0.5 });
    const out = await m.predict(x, 2, 0.5);
    expect(out.length).toBe(2 * slices * 36);
    await expect(m.predict(x.subarray(0, 108), 1, 0.5)).rejects.toThrow(/y holds 2 volumes/);
    expect(() => volumePosterior({ prior: { ...prior, sampleShape: [3, 6, 6] }, process, slices, operator: op, y, lambda: 0, gamma: 1 })).toThrow(/single-channel/);
    expect(() => volumePosterior({ prior, process, slices, operator: op, y: y.subarray(1), lambda: 0, gamma: 1 })).toThrow(/y must hold 3 slices/);
  });

  it('a rotating volume is the image at the middle slice of an odd stack and turns it by ±90° exactly', () => {
    const img = normals(9, 13);
    const v = rotatingVolume(img, 3, 3, 3, 90);
    Array.from(v.subarray(9, 18)).forEach((val, i) => expect(val).toBeCloseTo(img[i], 12));
    // +90° (the last slice) moves the top-left pixel's value to the top-right.
    expect(v[18 + 2]).toBeCloseTo(img[0], 9);
    expect(v[0 + 6]).toBeCloseTo(img[0], 9);
  });
});

describe('diffuse tomography', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-tomo-'));

  it('reconstructs an MNIST volume with the network prior, writes the volume and reports PSNR/SSIM', async () => {
    const out = join(dir, 'v.npy');
    const r = await runCli('tomography', '--volume', 'mnist:3', '--slices', '4', '--views', '4', '--steps', '5', '--out', out, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { psnr: number; ssim: number; nfe: number; method: string };
    expect(s.method).toBe('mbir');
    expect(s.nfe).toBe(5);
    expect(s.psnr).toBeGreaterThan(10);
    const arr = parseNpy(new Uint8Array(readFileSync(out)));
    expect(arr.shape).toEqual([4, 28, 28]);
    const tv = JSON.parse((await runCli('tomography', '--volume', 'mnist:3', '--slices', '4', '--views', '4', '--method', 'tv', '--json')).out) as { nfe: number; psnr: number };
    expect(tv.nfe).toBe(0);
    expect(tv.psnr).toBeGreaterThan(10);
  });

  it('refuses bad volumes and options with usage errors', async () => {
    const bad = await runCli('tomography', '--volume', 'mnist:99999', '--slices', '2');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/below 10000/);
    expect((await runCli('tomography', '--volume', 'cat.png')).err).toMatch(/--volume must be/);
    expect((await runCli('tomography', '--method', 'tv', '--gamma', '1')).err).toMatch(/drop --gamma/);
    expect((await runCli('tomography', '--model', 'builtin:ring8')).err).toMatch(/must be a network/);
  });
});
