import { cos, log, sin } from './math.js';
import { UsageError } from './errors.js';

/**
 * The noise PyTorch draws on the CPU, so that a seed means what it means in diffusers (and in the
 * tools built on it): `torch.manual_seed(s)` then `torch.randn(shape)` gives the same numbers here.
 * Diffuse's own generator (Philox, rng.ts) stays the default; this one exists to reproduce runs.
 *
 * torch's CPU generator is MT19937 (Matsumoto & Nishimura 1998) seeded with the seed's low 32 bits.
 * A float32 randn of n ≥ 16 values fills n uniforms u = (r & 0xFFFFFF)·2⁻²⁴ from successive 32-bit
 * outputs r, then turns each block of 16 into normals by Box–Muller pairing u[j] with u[j + 8];
 * when 16 does not divide n, 16 fresh uniforms replace the last 16 values and are transformed again.
 * The values equal torch's to float32 rounding: torch's AVX2 kernel evaluates log and sincos with
 * its own float32 polynomials, which may round the last bit differently.
 */
export class TorchGenerator {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  /** torch.manual_seed(seed). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`a torch seed must be a non-negative integer, got ${seed}`);
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** The next 32-bit output of MT19937. */
  next(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** torch.randn(n) in float32 (n ≥ 16, the only size diffusion latents and noise come in). */
  randn(n: number): Float32Array {
    if (!(Number.isInteger(n) && n >= 16)) throw new UsageError(`torch-compatible noise needs at least 16 values per draw, got ${n}`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(out, i);
    if (n % 16 !== 0) {
      for (let i = n - 16; i < n; i++) out[i] = this.uniform();
      boxMuller16(out, n - 16);
    }
    return out;
  }

  private uniform(): number {
    return (this.next() & 0xffffff) / 16777216;
  }
}

/** Box–Muller on 16 uniforms from `at`: (u[j], u[j + 8]) → (r·cos θ, r·sin θ), r = √(−2 ln(1 − u[j])), θ = 2π·u[j + 8]. */
function boxMuller16(data: Float32Array, at: number): void {
  const f = Math.fround;
  for (let j = at; j < at + 8; j++) {
    const u1 = f(1 - data[j]);
    const radius = f(Math.sqrt(f(-2 * f(log(u1)))));
    const theta = f(f(2 * Math.PI) * data[j + 8]);
    data[j] = f(radius * f(cos(theta)));
    data[j + 8] = f(radius * f(sin(theta)));
  }
}
