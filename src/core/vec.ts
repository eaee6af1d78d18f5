/**
 * Allocation-free vector kernels on float64 arrays. Every sampler update is a short linear
 * combination of arrays; these loops keep the sampler's own cost memory-bound.
 */

/** out = a·x */
export function scale(out: Float64Array, a: number, x: Float64Array): Float64Array {
  for (let i = 0; i < out.length; i++) out[i] = a * x[i];
  return out;
}

/** out = a·x + b·y */
export function lin2(out: Float64Array, a: number, x: Float64Array, b: number, y: Float64Array): Float64Array {
  for (let i = 0; i < out.length; i++) out[i] = a * x[i] + b * y[i];
  return out;
}

/** out = a·x + b·y + c·z */
export function lin3(
  out: Float64Array, a: number, x: Float64Array, b: number, y: Float64Array, c: number, z: Float64Array,
): Float64Array {
  for (let i = 0; i < out.length; i++) out[i] = a * x[i] + b * y[i] + c * z[i];
  return out;
}

/** out = Σ_k c[k]·v[k] */
export function linN(out: Float64Array, c: readonly number[], v: readonly Float64Array[]): Float64Array {
  out.fill(0);
  for (let k = 0; k < v.length; k++) {
    const ck = c[k];
    const vk = v[k];
    if (ck === 0) continue;
    for (let i = 0; i < out.length; i++) out[i] += ck * vk[i];
  }
  return out;
}

/** out += a·x */
export function axpy(out: Float64Array, a: number, x: Float64Array): Float64Array {
  for (let i = 0; i < out.length; i++) out[i] += a * x[i];
  return out;
}

export function firstNonFinite(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}
