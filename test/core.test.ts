import { describe, expect, it } from 'vitest';
import { Rng, philox4x32 } from '../src/core/rng.js';
import { fromRows, toRows, tensor } from '../src/core/tensor.js';

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    philox4x32(new Uint32Array([0, 0, 0, 0]), 0, 0, out);
    expect(Array.from(out, (v) => v.toString(16).padStart(8, '0'))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    philox4x32(new Uint32Array([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]), 0xffffffff, 0xffffffff, out);
    expect(Array.from(out, (v) => v.toString(16).padStart(8, '0'))).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    philox4x32(new Uint32Array([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]), 0xa4093822, 0x299f31d0, out);
    expect(Array.from(out, (v) => v.toString(16).padStart(8, '0'))).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('is reproducible per seed and differs across seeds and streams', () => {
    const a = new Rng(42).fillNormal(new Float64Array(1000));
    const b = new Rng(42).fillNormal(new Float64Array(1000));
    const c = new Rng(43).fillNormal(new Float64Array(1000));
    const d = new Rng(42, 1).fillNormal(new Float64Array(1000));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(d);
  });

  it('gives standard normals (moments of 200k draws) and uniforms in [0, 1)', () => {
    const n = 200_000;
    const z = new Rng(7).fillNormal(new Float64Array(n));
    const mean = z.reduce((s, v) => s + v, 0) / n;
    const m2 = z.reduce((s, v) => s + v * v, 0) / n;
    const m4 = z.reduce((s, v) => s + v ** 4, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(m2 - 1)).toBeLessThan(0.015);
    expect(Math.abs(m4 - 3)).toBeLessThan(0.06);
    const u = new Rng(8).fillUniform(new Float64Array(n));
    expect(u.reduce((m, v) => Math.min(m, v), 1)).toBeGreaterThanOrEqual(0);
    expect(u.reduce((m, v) => Math.max(m, v), 0)).toBeLessThan(1);
    expect(Math.abs(u.reduce((s, v) => s + v, 0) / n - 0.5)).toBeLessThan(0.005);
  });

  it('rejects invalid seeds', () => {
    expect(() => new Rng(-1)).toThrow(/seed/);
    expect(() => new Rng(1.5)).toThrow(/seed/);
  });
});

describe('tensors', () => {
  it('round-trips rows and checks sizes', () => {
    const t = fromRows([[1, 2], [3, 4], [5, 6]]);
    expect(t.shape).toEqual([3, 2]);
    expect(toRows(t)).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(() => tensor('float32', [2, 2], new Float32Array(3))).toThrow(/needs 4/);
    expect(() => fromRows([[1, 2], [3]])).toThrow(/row 1/);
  });
});
