/**
 * IEEE 754 binary16 ("half") conversion for float16 ONNX models, whose tensors hold the bit
 * patterns in a Uint16Array. Encoding rounds a float64 to the nearest half, ties to even, directly
 * (float64 → float32 → float16 would round twice and can be wrong at ties).
 */

/** 2^k for k in [−24, 24] at index k + 24, built by exact doubling. */
const POW2 = new Float64Array(49);
for (let k = 0, p = 1 / 16777216; k < POW2.length; k++, p *= 2) POW2[k] = p;
const pow2 = (k: number) => POW2[k + 24];

/** A float64 and its two 32-bit words, for reading the bits without a DataView per value. */
const f64 = new Float64Array(1);
const words = new Uint32Array(f64.buffer);
const HI = new Uint32Array(new Float64Array([1]).buffer)[1] === 0x3ff00000 ? 1 : 0;
const LO = 1 - HI;

/** Round to the nearest integer, ties to even; q ≥ 0. */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The binary16 bits nearest to x (65520 and above round to infinity, as IEEE specifies). For a
 * normal result the 52-bit mantissa keeps its top 10 bits, rounded by the next bit and the sticky rest.
 */
export function toHalfBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  f64[0] = x;
  const hi = words[HI];
  const sign = (hi >>> 16) & 0x8000;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < pow2(-14)) return sign | roundHalfEven(a * pow2(24)); // subnormal; 1024 is the smallest normal
  const e = ((hi >>> 20) & 0x7ff) - 1023;
  const h = ((e + 15) << 10) | ((hi >>> 10) & 0x3ff);
  const roundBit = (hi >>> 9) & 1;
  const sticky = (hi & 0x1ff) | words[LO];
  return sign | (roundBit && (sticky || h & 1) ? h + 1 : h); // a carry out of the mantissa bumps the exponent
}

let decoded: Float64Array | undefined;

/** The value of binary16 bits h. */
export function fromHalfBits(h: number): number {
  decoded ??= Float64Array.from({ length: 0x10000 }, (_, b) => decodeHalf(b));
  return decoded[h & 0xffff];
}

function decodeHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * pow2(-24);
  return sign * (1024 + m) * pow2(e - 25);
}

export function encodeHalf(src: ArrayLike<number>, out: Uint16Array, offset = 0): Uint16Array {
  for (let i = 0; i < src.length; i++) out[offset + i] = toHalfBits(src[i]);
  return out;
}

/** A typed array of numbers (Float32Array, Uint16Array of float16 bits, or Float16Array where the engine has it). */
export function numericArray(data: unknown): ArrayLike<number> | undefined {
  const numeric = ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array);
  return numeric ? (data as unknown as ArrayLike<number>) : undefined;
}
