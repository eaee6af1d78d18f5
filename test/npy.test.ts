import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, expectShape, parseNpy } from '../src/io/npy.js';
import { readNpyFile, writeNpyFile } from '../src/io/files.js';
import { tensor } from '../src/core/tensor.js';
import { UsageError } from '../src/core/errors.js';
import { ring8Problem } from './support/refs.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

/** Replace the first occurrence of an ASCII string inside the header (same length keeps offsets). */
function patch(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = new TextDecoder('latin1').decode(bytes);
  const at = text.indexOf(from);
  expect(at).toBeGreaterThan(0);
  const out = Uint8Array.from(bytes);
  out.set(new TextEncoder().encode(to), at);
  return out;
}

describe('npy round trips', () => {
  it.each([
    ['float64', [3, 2]],
    ['float32', [2, 3, 4]],
    ['float64', [5]],
    ['float64', []],
    ['float32', [0, 2]],
  ] as const)('%s %j', (dtype, shape) => {
    const n = shape.reduce((a: number, b: number) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => (i - 3.3) * 0.37 + (i % 2 ? 1e-300 : -1e5));
    const t = dtype === 'float32' ? tensor(dtype, shape, Float32Array.from(values)) : tensor(dtype, shape, Float64Array.from(values));
    const back = parseNpy(encodeNpy(t));
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual(shape);
    expect(Array.from(back.data)).toEqual(Array.from(t.data));
  });

  it('keeps non-finite values and signed zero bit for bit', () => {
    const data = Float64Array.from([NaN, Infinity, -Infinity, -0, 5e-324]);
    const back = parseNpy(encodeNpy(tensor('float64', [5], data)));
    expect(Object.is(back.data[3], -0)).toBe(true);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('pads the header to 64 bytes and switches to version 2.0 when it outgrows 65535 bytes', () => {
    const small = encodeNpy(tensor('float64', [64, 2]));
    expect(small[6]).toBe(1);
    expect((10 + (small[8] | (small[9] << 8))) % 64).toBe(0);
    const shape = new Array<number>(23000).fill(1);
    const big = encodeNpy(tensor('float32', shape, Float32Array.from([2.5])));
    expect(big[6]).toBe(2);
    const headerLen = new DataView(big.buffer).getUint32(8, true);
    expect((12 + headerLen) % 64).toBe(0);
    const back = parseNpy(big);
    expect(back.shape.length).toBe(23000);
    expect(Array.from(back.data)).toEqual([2.5]);
  });
});

describe('npy files written by NumPy', () => {
  it('reads ring8 z (np.save, version 1.0, <f8) exactly and writes the same bytes back', () => {
    const bytes = fixture('ring8_z.npy');
    const t = parseNpy(bytes);
    expect(t.dtype).toBe('float64');
    expect(t.shape).toEqual([64, 2]);
    expect(Array.from(t.data)).toEqual(ring8Problem().z.flat());
    expect(encodeNpy(t)).toEqual(bytes);
  });

  it('reads a float32 array in format version 2.0', () => {
    const t = parseNpy(fixture('small_f32_v2.npy'));
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([-0.25, -0.125, 0, 0.125, 0.25, 0.375]);
  });

  it('writes 1-D arrays as np.save does', () => {
    const bytes = fixture('vec_f64.npy');
    expect(encodeNpy(tensor('float64', [3], Float64Array.from([1.5, -2, 3.25])))).toEqual(bytes);
  });
});

describe('npy errors say what is wrong and what is accepted', () => {
  const good = fixture('ring8_z.npy');
  const cases: [string, Uint8Array, RegExp][] = [
    ['bad magic', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 0, 0, 0, 0]), /not a \.npy file.*magic/],
    ['unsupported version', Uint8Array.from([...good.subarray(0, 6), 3, 0, ...good.subarray(8)]), /version 3\.0 is not supported; accepted: 1\.0, 2\.0/],
    ['int32 dtype', fixture('int32.npy'), /dtype '<i4' is not supported; accepted: little-endian float32 \('<f4'\) or float64 \('<f8'\)/],
    ['big-endian dtype', patch(good, "'<f8'", "'>f8'"), /dtype '>f8' is not supported; accepted/],
    ['Fortran order', fixture('fortran.npy'), /Fortran order; accepted: C order/],
    ['truncated data', good.subarray(0, good.length - 8), /truncated: shape \[64, 2\] float64 needs 1024 bytes, the file has 1016/],
    ['extra data', Uint8Array.from([...good, 0, 0, 0, 0, 0, 0, 0, 0]), /longer than its header says/],
    ['truncated header', good.subarray(0, 60), /truncated: its header needs 128 bytes/],
    ['malformed header', patch(good, "'shape'", "'shaep'"), /header is malformed/],
  ];
  it.each(cases)('%s', (_name, bytes, message) => {
    expect(() => parseNpy(bytes)).toThrow(UsageError);
    expect(() => parseNpy(bytes)).toThrow(message);
  });

  it('checks the shape a caller needs', () => {
    const t = tensor('float64', [64, 3]);
    expect(() => expectShape(t, [null, 2], 'x_T')).toThrow('x_T has shape [64, 3]; expected [any, 2]');
    expect(() => expectShape(t, [null], 'x_T')).toThrow('expected [any]');
    expect(() => expectShape(t, [64, 3], 'x_T')).not.toThrow();
  });
});

describe('npy files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-npy-'));

  it('writes and reads back through the file system', async () => {
    const t = tensor('float32', [2, 2], Float32Array.from([1, 2, 3, 4]));
    await writeNpyFile(join(dir, 'a.npy'), t);
    const back = await readNpyFile(join(dir, 'a.npy'), [null, 2], 'x');
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4]);
  });

  it('names the file in every error', async () => {
    await expect(readNpyFile(join(dir, 'missing.npy'))).rejects.toThrow(`cannot read ${join(dir, 'missing.npy')}: no such file or directory`);
    await writeNpyFile(join(dir, 'b.npy'), tensor('float64', [4, 3]));
    await expect(readNpyFile(join(dir, 'b.npy'), [null, 2], 'x_T')).rejects.toThrow(`${join(dir, 'b.npy')}: x_T has shape [4, 3]; expected [any, 2]`);
    await expect(writeNpyFile(join(dir, 'no/such/dir.npy'), tensor('float64', [1]))).rejects.toThrow(/cannot write .*no such file or directory/);
  });
});
