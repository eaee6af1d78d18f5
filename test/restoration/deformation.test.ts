import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { RunError, UsageError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import {
  compose, drdmCompositions, drdmDeform, elasticField, foldingRate, integrate, pairwiseDiversity, parseDrdmCard, rmsDisplacement, upsampleBilinear,
  velocityField, warp, type RecoveryNet,
} from '../../src/restoration/index.js';
import { runCli } from '../support/cli.js';

const S = 6;
const constant = (n: number, cx: number, cy: number) => {
  const u = new Float64Array(n * 2 * S * S);
  for (let b = 0; b < n; b++) {
    u.fill(cx, b * 2 * S * S, b * 2 * S * S + S * S);
    u.fill(cy, b * 2 * S * S + S * S, (b + 1) * 2 * S * S);
  }
  return u;
};

describe('fields and warps', () => {
  it('bilinear upsampling matches PyTorch (align_corners = false) on a 2×2 grid', () => {
    const up = upsampleBilinear(Float64Array.from([0, 1, 2, 3]), 2, 4);
    expect(Array.from(up.subarray(0, 4))).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(up.subarray(4, 8))).toEqual([0.5, 0.75, 1.25, 1.5]);
    expect(Array.from(up.subarray(12, 16))).toEqual([2, 2.25, 2.75, 3]);
  });

  it('warping by a whole-pixel shift moves the image and fills what comes from outside', () => {
    const x = Float64Array.from({ length: S * S }, (_, i) => i);
    const shifted = warp(x, constant(1, 1, 0), 1, 1, S, -1);
    for (let y = 0; y < S; y++) {
      for (let c = 0; c < S - 1; c++) expect(shifted[y * S + c]).toBe(x[y * S + c + 1]);
      expect(shifted[y * S + S - 1]).toBe(-1);
    }
    expect(Array.from(warp(x, constant(1, 0, 0), 1, 1, S))).toEqual(Array.from(x));
    expect(() => warp(x, constant(2, 0, 0), 1, 1, S)).toThrow(UsageError);
  });

  it('composition: zero is neutral, translations add, and integrating a constant field k times is k times it', () => {
    const a = constant(1, 0.5, -0.25);
    const zero = constant(1, 0, 0);
    expect(Array.from(compose(a, zero, 1, S))).toEqual(Array.from(a));
    expect(Array.from(compose(zero, a, 1, S))).toEqual(Array.from(a));
    const both = compose(a, constant(1, 0.25, 0.25), 1, S);
    expect(both[0]).toBeCloseTo(0.75, 12);
    expect(both[S * S]).toBeCloseTo(0, 12);
    const k = integrate(a, 1, S, [4]);
    expect(k[7]).toBeCloseTo(2, 12);
    expect(k[S * S + 7]).toBeCloseTo(-1, 12);
    expect(drdmCompositions(48)).toBe(102);
    expect(drdmCompositions(1)).toBe(1);
    expect(drdmCompositions(1000)).toBe(200);
  });

  it('composition order: (id + a)∘(id + b) samples a at p + b(p)', () => {
    const a = new Float64Array(2 * S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) a[y * S + x] = 0.1 * x;
    const c = compose(a, constant(1, 1, 0), 1, S);
    expect(c[2 * S + 2]).toBeCloseTo(1 + 0.1 * 3, 12);
  });

  it('folding rate: 0 for a smooth small field, 1 where x is mirrored', () => {
    expect(foldingRate(constant(1, 0.3, 0.2), 1, S)).toBe(0);
    const mirror = new Float64Array(2 * S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) mirror[y * S + x] = -2 * x;
    expect(foldingRate(mirror, 1, S)).toBe(1);
  });

  it('elastic fields scale with alpha; diversity is the mean pairwise distance', () => {
    const a = elasticField(2, S, 1, 1.5, new Rng(1));
    const b = elasticField(2, S, 3, 1.5, new Rng(1));
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(3 * v, 12));
    expect(rmsDisplacement(elasticField(1, S, 0, 1, new Rng(2)))).toBe(0);
    expect(() => elasticField(1, S, 1, 0, new Rng(2))).toThrow(/sigma > 0/);
    expect(pairwiseDiversity(Float64Array.from([0, 0, 3, 4, 1, 1, 1, 1]), 2, 2, 2)).toBeCloseTo(2.5, 12);
  });

  it('the forward process has the scale training/drdm.py measured (the same law in both languages)', () => {
    const card = parseDrdmCard(JSON.parse(readFileSync('models/mnist-drdm/card.json', 'utf8')));
    const facts = JSON.parse(readFileSync('models/mnist-drdm/train.json', 'utf8'));
    const n = 96;
    const d = integrate(velocityField(n, card.field, new Rng(3)), n, card.size, new Array<number>(n).fill(drdmCompositions(48)));
    expect(Math.abs(rmsDisplacement(d) / facts.rms_displacement_t48_px - 1)).toBeLessThan(0.1);
  });
});

describe('drdmDeform (Algorithm 2)', () => {
  const spec = { size: S, grids: [6, 3], sigma: 0.05 };
  const zeroNet: RecoveryNet = { size: S, steps: 10, recover: async (_x, n) => new Float64Array(n * 2 * S * S) };

  it('with a network that recovers nothing, the output is the random start; the NFE is T′', async () => {
    const clean = Float64Array.from({ length: 2 * S * S }, (_, i) => (i % 7) / 7);
    const r = await drdmDeform(zeroNet, clean, 2, { start: 4, field: spec, rng: new Rng(0) });
    expect(r.nfe).toBe(4);
    r.field.forEach((v, i) => expect(v).toBeCloseTo(r.randomField[i], 12));
    expect(Array.from(r.images)).toEqual(Array.from(r.randomImages));
  });

  it('composes each recovery step: a network returning a constant shift c moves the field by T′·c', async () => {
    const shift: RecoveryNet = { size: S, steps: 10, recover: async (_x, n) => constant(n, 0.1, 0) };
    const flat = { size: S, grids: [2], sigma: 0 };
    const r = await drdmDeform(shift, new Float64Array(S * S), 1, { start: 5, field: flat, rng: new Rng(0) });
    expect(r.field[0]).toBeCloseTo(0.5, 12);
  });

  it('each step composes the prediction first: φ ← pred + φ(p + pred)', async () => {
    const shift: RecoveryNet = { size: S, steps: 10, recover: async (_x, n) => constant(n, 0.5, 0.25) };
    const r = await drdmDeform(shift, new Float64Array(S * S), 1, { start: 1, field: spec, rng: new Rng(4) });
    const want = compose(r.randomField, constant(1, 0.5, 0.25), 1, S);
    r.field.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    const naive = r.randomField.map((v, i) => v + (i < S * S ? 0.5 : 0.25));
    expect(Math.max(...r.field.map((v, i) => Math.abs(v - naive[i])))).toBeGreaterThan(1e-3);
  });

  it('bad input is named', async () => {
    const clean = new Float64Array(S * S);
    await expect(drdmDeform(zeroNet, clean, 1, { start: 11, field: spec, rng: new Rng(0) })).rejects.toThrow(/1\.\.10/);
    await expect(drdmDeform(zeroNet, new Float64Array(5), 1, { start: 2, field: spec, rng: new Rng(0) })).rejects.toThrow(UsageError);
    const bad: RecoveryNet = { size: S, steps: 10, recover: async (_x, n) => new Float64Array(n * 2 * S * S).fill(Number.NaN) };
    await expect(drdmDeform(bad, clean, 1, { start: 2, field: spec, rng: new Rng(0) })).rejects.toThrow(RunError);
  });
});

describe('diffuse deform', () => {
  it('deforms held-out digits with the shipped network and with the elastic baseline', async () => {
    for (const method of ['drdm', 'elastic']) {
      const { code, out, err } = await runCli('deform', '--images', 'mnist-heldout:0..1', '--n', '2', '--start', '6', '--method', method, '--json', '--quiet');
      expect(err).toBe('');
      expect(code).toBe(0);
      const j = JSON.parse(out);
      expect(j.images).toBe(2);
      expect(j.rmsDisplacementPx).toBeGreaterThan(0.05);
      expect(j.foldingRate).toBeLessThan(0.05);
      expect(j.diversity).toBeGreaterThan(0);
    }
  });

  it('bad input is named with what is accepted', async () => {
    const cases: [string[], RegExp][] = [
      [['--method', 'warp'], /accepted: drdm, elastic/],
      [['--start', '500'], /accepted: 1\.\.80/],
      [['--images', 'mnist-heldout:0..5000'], /2000 held-out digits/],
      [['--model', 'mnist'], /DRDM|diffuse-drdm-card/],
      [['--out', 'deformed.txt'], /ending in \.npy/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await runCli('deform', ...args);
      expect(code, args.join(' ')).not.toBe(0);
      expect(err, args.join(' ')).toMatch(message);
    }
  });
});
