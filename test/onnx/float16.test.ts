import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { fromHalfBits, toHalfBits } from '../../src/models/onnx/float16.js';

/** All finite non-negative halves in increasing order, decoded independently of float16.ts. */
const halves = Array.from({ length: 0x7c00 }, (_, h) => {
  const e = h >> 10;
  const m = h & 0x3ff;
  return e === 0 ? m / 16777216 : ((1024 + m) / 1024) * 2 ** (e - 15);
});

/** Nearest half by search, ties to the even bit pattern; beyond 65504, halfway to 2^16 and up is ∞. */
function nearest(a: number): number {
  if (a >= 65520) return 0x7c00;
  let lo = 0;
  let hi = halves.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (halves[mid] <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - halves[lo];
  const dh = halves[hi] - a;
  if (dl !== dh) return dl < dh ? lo : hi;
  return lo % 2 === 0 ? lo : hi;
}

describe('float16 conversion', () => {
  it('decodes every bit pattern and re-encodes it exactly', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = fromHalfBits(h);
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nan ? !Number.isNaN(v) : toHalfBits(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(halves.every((v, h) => fromHalfBits(h) === v)).toBe(true);
  });

  it('rounds to nearest, ties to even, from float64 (no double rounding)', () => {
    const rng = new Rng(3);
    const wrong: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const a = Math.abs(rng.normal()) * 2 ** Math.floor(rng.uniform() * 44 - 28);
      if (toHalfBits(a) !== nearest(a) || toHalfBits(-a) !== (nearest(a) | 0x8000)) wrong.push(a);
    }
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (halves[h] + halves[h + 1]) / 2;
      if (toHalfBits(mid) !== (h % 2 === 0 ? h : h + 1)) wrong.push(mid);
    }
    expect(wrong).toEqual([]);
    // 1 + 2^-11 + 2^-40 rounds up in one step; via float32 it would round to the tie and then to even (1).
    expect(toHalfBits(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
    expect([toHalfBits(65504), toHalfBits(65519.99), toHalfBits(65520), toHalfBits(Infinity)]).toEqual([0x7bff, 0x7bff, 0x7c00, 0x7c00]);
    expect([toHalfBits(2 ** -25), toHalfBits(2 ** -25 * 1.0001), toHalfBits(-0), toHalfBits(NaN)]).toEqual([0, 1, 0x8000, 0x7e00]);
  });
});

describe('the ONNX adapter uses engine-independent math', () => {
  it('no Math.exp/log/sin/cos/pow/expm1/log1p and no ** in src/models/onnx', () => {
    const dir = new URL('../../src/models/onnx/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) {
      const code = readFileSync(new URL(f, dir), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(code, f).not.toMatch(/Math\.(exp|log|sin|cos|tan|pow|expm1|log1p|log2|log10|atan|acos|asin|sinh|cosh|tanh)\b|\*\*/);
    }
  });

  it('only the Node loaders (node.ts, node-runtime.ts, shipped.ts) import Node-only modules (the rest runs in the browser)', () => {
    const dir = new URL('../../src/models/onnx/', import.meta.url);
    const nodeOnly = readdirSync(dir).filter((f) => /(from |import\()'(node:|onnxruntime-node|.*\/io\/files)/.test(readFileSync(new URL(f, dir), 'utf8')));
    expect(nodeOnly).toEqual(['node-runtime.ts', 'node.ts', 'shipped.ts']);
  });
});
