import { describe, expect, it } from 'vitest';
import { TorchGenerator } from '../src/core/torch-rng.js';

describe('TorchGenerator (torch.manual_seed + torch.randn on the CPU)', () => {
  it("is MT19937: the reference outputs of seed 5489 (C++ std::mt19937's default)", () => {
    const g = new TorchGenerator(5489);
    expect([g.next(), g.next(), g.next(), g.next(), g.next()]).toEqual([3499211612, 581869302, 3890346734, 3586334585, 545404204]);
    // the 10000th output of std::mt19937 (C++ standard, [rand.predef])
    const h = new TorchGenerator(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = h.next();
    expect(v).toBe(4123659995);
  });

  it('takes float uniforms from the low 24 bits: torch.manual_seed(0); torch.rand(1) = 0.4963', () => {
    const g = new TorchGenerator(0);
    expect(((g.next() & 0xffffff) / 2 ** 24).toFixed(4)).toBe('0.4963');
  });

  it('draws normals in blocks of 16, redrawing the last 16 when 16 does not divide n', () => {
    const a = new TorchGenerator(3).randn(32);
    const b = new TorchGenerator(3).randn(16);
    expect(Array.from(a.subarray(0, 16))).toEqual(Array.from(b)); // the first block reads uniforms 0..15 either way
    const c = new TorchGenerator(3).randn(20);
    const d = new TorchGenerator(3);
    const first = d.randn(16); // uniforms 0..15, transformed
    expect(Array.from(c.subarray(0, 4))).toEqual(Array.from(first.subarray(0, 4)));
    // positions 4..19 come from 16 fresh uniforms (20..35), not from the first block's
    expect(c[4]).not.toBe(first[4]);
    d.next(); d.next(); d.next(); d.next(); // uniforms 16..19
    expect(Array.from(c.subarray(4))).toEqual(Array.from(d.randn(16)));
    const m = c.reduce((s, x) => s + x, 0) / c.length;
    expect(Math.abs(m)).toBeLessThan(1);
    expect(() => new TorchGenerator(0).randn(8)).toThrow(/at least 16/);
    expect(() => new TorchGenerator(-1)).toThrow(/non-negative integer/);
  });

  it('a large draw has unit variance', () => {
    const z = new TorchGenerator(42).randn(1 << 16);
    const mean = z.reduce((s, x) => s + x, 0) / z.length;
    const varr = z.reduce((s, x) => s + (x - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(varr - 1)).toBeLessThan(0.02);
  });
});
