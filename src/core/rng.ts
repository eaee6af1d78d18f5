import { cos, log, sin } from './math.js';

/**
 * Seeded counter-based generator: Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers:
 * as easy as 1, 2, 3"). Pure 32-bit integer arithmetic, so the stream of uniforms is identical in
 * every JavaScript engine; normals use Box–Muller.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((lolo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/** One Philox4x32-10 block: 4 uint32 outputs for counter c and key k. */
export function philox4x32(c: Uint32Array, k0: number, k1: number, out: Uint32Array): void {
  let c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_M53 = 1 / 9007199254740992;

/**
 * A seeded random generator over Philox4x32-10: the key is the 53-bit seed, the stream number sits
 * in the counter's third word, so (seed, stream) pairs give independent, engine-independent streams.
 */
export class Rng {
  /** The seed this generator was made with. */
  readonly seed: number;
  /** The independent sub-sequence of the seed this generator draws from (default 0). */
  readonly stream: number;
  private readonly counter = new Uint32Array(4);
  private readonly block = new Uint32Array(4);
  private used = 4;
  private spareNormal: number | undefined;

  /** seed: a non-negative safe integer; stream: an independent sub-sequence for the same seed. */
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative integer below 2^53, got ${seed}`);
    }
    if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
      throw new RangeError(`stream must be an integer in [0, 2^32), got ${stream}`);
    }
    this.seed = seed;
    this.stream = stream;
    this.counter[2] = stream;
  }

  /** An independent generator for the same seed (e.g. one per purpose or per worker). */
  fork(stream: number): Rng {
    return new Rng(this.seed, stream);
  }

  /** The next uniform 32-bit unsigned integer of the stream (4 per Philox block). */
  nextUint32(): number {
    if (this.used === 4) {
      philox4x32(this.counter, this.seed % TWO_POW_32 >>> 0, Math.floor(this.seed / TWO_POW_32) >>> 0, this.block);
      this.counter[0] = (this.counter[0] + 1) >>> 0;
      if (this.counter[0] === 0) this.counter[1] = (this.counter[1] + 1) >>> 0;
      this.used = 0;
    }
    return this.block[this.used++];
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) * TWO_POW_M53;
  }

  /** Standard normal (Box–Muller; both outputs are used). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * log(u1));
    const theta = 2 * Math.PI * u2;
    this.spareNormal = r * sin(theta);
    return r * cos(theta);
  }

  /** Fill `out` with standard normals (as normal() draws them) and return it. */
  fillNormal(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }

  /** Fill `out` with uniforms in [0, 1) (as uniform() draws them) and return it. */
  fillUniform(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform();
    return out;
  }
}
