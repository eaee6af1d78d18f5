import { sizeOf, tensor, type DType, type Tensor } from '../core/tensor.js';
import { UsageError } from '../core/errors.js';

/**
 * NumPy's .npy format (numpy.lib.format, versions 1.0 and 2.0): the magic "\x93NUMPY", a version,
 * a little-endian header length (uint16 in 1.0, uint32 in 2.0), an ASCII Python dict literal
 * {'descr', 'fortran_order', 'shape'} padded with spaces to a multiple of 64 bytes and ending in
 * "\n", then the raw data. Diffuse reads and writes little-endian float32/float64 in C order.
 * Pure functions over bytes; reading and writing files is in files.ts.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR: Record<string, DType> = { '<f4': 'float32', '<f8': 'float64' };
const BYTES: Record<DType, number> = { float32: 4, float64: 8 };
const ACCEPTED = "little-endian float32 ('<f4') or float64 ('<f8')";

/** Parse .npy bytes into a tensor (data copied, so the result does not alias `bytes`). */
export function parseNpy(bytes: Uint8Array): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new UsageError('not a .npy file (it does not start with the magic "\\x93NUMPY")');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major !== 1 && major !== 2) throw new UsageError(`.npy format version ${major}.${bytes[7]} is not supported; accepted: 1.0, 2.0`);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new UsageError('.npy file is truncated inside its header');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (bytes.length < dataStart) throw new UsageError(`.npy file is truncated: its header needs ${dataStart} bytes, the file has ${bytes.length}`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(8 + lenBytes, dataStart));
  const { dtype, shape } = parseHeader(header);
  const count = sizeOf(shape);
  const need = count * BYTES[dtype];
  const have = bytes.length - dataStart;
  if (have !== need) {
    const what = have < need ? 'truncated' : 'longer than its header says';
    throw new UsageError(`.npy data is ${what}: shape [${shape.join(', ')}] ${dtype} needs ${need} bytes, the file has ${have}`);
  }
  if (dtype === 'float32') {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(dataStart + 4 * i, true);
    return tensor('float32', shape, out);
  }
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat64(dataStart + 8 * i, true);
  return tensor('float64', shape, out);
}

function parseHeader(header: string): { dtype: DType; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new UsageError(`.npy header is malformed (needs 'descr', 'fortran_order' and 'shape'): ${header.trim()}`);
  }
  const dtype = Object.hasOwn(DESCR, descr) ? DESCR[descr] : undefined;
  if (!dtype) throw new UsageError(`.npy dtype '${descr}' is not supported; accepted: ${ACCEPTED}`);
  if (fortran === 'True') throw new UsageError('.npy array is in Fortran order; accepted: C order (save it with np.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (!shape.every((s) => Number.isInteger(s) && s >= 0)) throw new UsageError(`.npy shape (${shapeText}) is malformed`);
  return { dtype, shape };
}

/**
 * Encode a tensor as .npy bytes exactly as np.save writes them: version 1.0 (2.0 when the header
 * outgrows 65535 bytes), room for the first axis to grow to 21 digits, padding to 64 bytes.
 */
export function encodeNpy(t: Tensor): Uint8Array {
  const descr = t.dtype === 'float32' ? '<f4' : '<f8';
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  const growth = t.shape.length ? ' '.repeat(Math.max(0, 21 - String(t.shape[0]).length)) : '';
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }${growth}`;
  const paddedFor = (prefix: number) => prefix + dict.length + 1 + (64 - ((prefix + dict.length + 1) % 64));
  const major = paddedFor(10) - 10 > 0xffff ? 2 : 1;
  const prefix = major === 1 ? 10 : 12;
  const padded = paddedFor(prefix);
  const header = dict + ' '.repeat(padded - prefix - dict.length - 1) + '\n';
  const width = BYTES[t.dtype];
  const out = new Uint8Array(padded + t.data.length * width);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  const { data } = t;
  if (t.dtype === 'float32') for (let i = 0; i < data.length; i++) view.setFloat32(padded + 4 * i, data[i], true);
  else for (let i = 0; i < data.length; i++) view.setFloat64(padded + 8 * i, data[i], true);
  return out;
}

/**
 * Check a tensor against the shape a caller needs; null matches any size. `what` names the array
 * in the error, e.g. "x_T".
 */
export function expectShape(t: Tensor, expected: readonly (number | null)[], what: string): void {
  const ok = t.shape.length === expected.length && expected.every((e, i) => e === null || e === t.shape[i]);
  if (!ok) {
    const want = expected.map((e) => (e === null ? 'any' : String(e))).join(', ');
    throw new UsageError(`${what} has shape [${t.shape.join(', ')}]; expected [${want}]`);
  }
}
