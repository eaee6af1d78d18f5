import { RunError, usage } from '../core/errors.js';
import { exp } from '../core/math.js';
import type { Rng } from '../core/rng.js';
import { firstNonFinite } from '../core/vec.js';
import type { Model } from '../models/types.js';

/**
 * PixelMan (Jiang et al., AAAI 2025): consistent object editing without inversion or training. The
 * object is copied to its target in pixel space (the "pixel-manipulated" image x_man, which still
 * holds the original too), and at each of S steps three branches see the same fresh noise ε:
 *   z_t = add_noise(ẑ_0), z_t^src = add_noise(x_src), z_t^man = add_noise(x_man),
 * the target branch reading the source branch's keys and values in the decoder's self-attention and
 * blind, in the region to inpaint, to the object (leak-proof self-attention). The estimate is
 * anchored to the manipulated image by the delta of the two predictions,
 *   ẑ_0 ← x_man + (x̂_0(z_t) − x̂_0(z_t^man)) ⊙ (1 − blur(m_gen))   (1 in the last two steps),
 * so the copied object stays as copied until the end and everything else is regenerated.
 * Images here are single-channel S×S in pixel space; the reference edits SD's latents.
 */

/** The regions of a move on an S×S image, 0/1 per pixel (the reference code's masks). */
export interface MoveRegions {
  size: number;
  /** m_gud: the object where it is. */
  source: Float64Array;
  /** m_gen: the object where it goes. */
  target: Float64Array;
  /** m_ipt: the vacated pixels (source minus target), to inpaint. */
  inpaint: Float64Array;
}

/** x shifted by (dx, dy) pixels on an S×S grid; pixels shifted in from outside are `fill`. */
export function shiftImage(x: Float64Array, size: number, dx: number, dy: number, fill = 0): Float64Array {
  const out = new Float64Array(size * size).fill(fill);
  for (let y = 0; y < size; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= size) continue;
    for (let c = 0; c < size; c++) {
      const sx = c - dx;
      if (sx >= 0 && sx < size) out[y * size + c] = x[sy * size + sx];
    }
  }
  return out;
}

/** The regions of moving the object under `mask` (0/1, S×S) by whole pixels (dx, dy); it must stay on the image. */
export function moveRegions(mask: Float64Array, size: number, dx: number, dy: number): MoveRegions {
  usage(Number.isInteger(size) && size >= 2 && mask.length === size * size, `the object mask must hold S×S values for a square image of side S, got ${mask.length} for S = ${size}`);
  usage(mask.every((m) => m === 0 || m === 1), 'the object mask must hold only 0 and 1');
  usage(Number.isInteger(dx) && Number.isInteger(dy), `the move must be whole pixels, got (${dx}, ${dy})`);
  const area = mask.reduce((s, m) => s + m, 0);
  usage(area > 0, 'the object mask is empty: select at least one pixel');
  const target = shiftImage(mask, size, dx, dy);
  const kept = target.reduce((s, m) => s + m, 0);
  usage(kept === area, `moving the object by (${dx}, ${dy}) takes ${area - kept} of its ${area} pixels off the ${size}×${size} image`);
  const inpaint = mask.map((m, i) => (m === 1 && target[i] === 0 ? 1 : 0));
  return { size, source: mask, target, inpaint };
}

/** PixelMan's pixel manipulation: x_man = x (1 − m_gen) + shift(x) m_gen (the original stays). */
export function pixelManipulate(image: Float64Array, regions: MoveRegions, dx: number, dy: number): Float64Array {
  const S = regions.size;
  usage(image.length === S * S, `the image must hold ${S}×${S} values, got ${image.length}`);
  const moved = shiftImage(image, S, dx, dy);
  return image.map((v, i) => (regions.target[i] ? moved[i] : v));
}

/** A network run as PixelMan's three branches (training/pixelman.py exports one). */
export interface EditNet {
  /** Side S of the square single-channel images. */
  readonly size: number;
  /** Side of the attention map `sim`. */
  readonly simSize: number;
  /**
   * ε for n edits at discrete timestep t: x holds 3n images as blocks [manipulated, source, target];
   * the masks (n × S × S, 0/1) are the target's queries to restrict (inpaint), the keys they may not
   * see (block) and the moved object (gen). `sim`: n maps (simSize²) of the target's decoder
   * attention averaged over the queries in gen.
   */
  edit(x: Float64Array, n: number, t: number, masks: { inpaint: Float64Array; block: Float64Array; gen: Float64Array }): Promise<{ eps: Float64Array; sim: Float64Array }>;
}

/** Options of {@link pixelman}. */
export interface PixelManOptions {
  net: EditNet;
  /** ᾱ_t at t = 0 … T − 1 (the network's discrete VP process). */
  alphaBar: ArrayLike<number>;
  /** Steps S (default 16, the paper's); each runs the three branches (3 network evaluations per edit). */
  steps?: number;
  /** The fresh noise of every step. */
  rng: Rng;
  /** Leak-proof self-attention (default true); false lifts the masks (the paper's ablation). */
  leakProof?: boolean;
  /** Steps at the end that regenerate the object too (default 2, the reference code's). */
  finalSteps?: number;
  /** Threshold of the min–max-scaled attention map that marks m_sim (default 0.1). */
  simThreshold?: number;
  /** Called after each step with its index and timestep. */
  onStep?: (step: number, t: number) => void;
}

/** The discrete timesteps of S DDIM steps with "leading" spacing and SD's offset 1: k⌊T/S⌋ + 1, descending. */
export function leadingTimesteps(T: number, steps: number): number[] {
  usage(Number.isInteger(steps) && steps >= 1 && steps < T, `steps must be an integer in [1, ${T - 1}], got ${steps}`);
  const ratio = Math.floor(T / steps);
  return Array.from({ length: steps }, (_, k) => (steps - 1 - k) * ratio + 1);
}

/** torchvision's gaussian_blur with a 9-tap kernel (σ = 1.7, its default for 9 taps), reflected edges, S×S. */
export function blur9(x: Float64Array, size: number): Float64Array {
  const sd = 0.3 * (0.5 * (9 - 1) - 1) + 0.8;
  const taps = Array.from({ length: 9 }, (_, i) => exp(-((i - 4) * (i - 4)) / (2 * sd * sd)));
  const total = taps.reduce((a, b) => a + b, 0);
  const w = taps.map((v) => v / total);
  const reflect = (i: number): number => (i < 0 ? -i : i >= size ? 2 * size - 2 - i : i);
  const pass = (src: Float64Array, horizontal: boolean): Float64Array => {
    const out = new Float64Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let s = 0;
        for (let k = 0; k < 9; k++) s += w[k] * (horizontal ? src[y * size + reflect(x + k - 4)] : src[reflect(y + k - 4) * size + x]);
        out[y * size + x] = s;
      }
    }
    return out;
  };
  return pass(pass(x, true), false);
}

/** m_sim from the attention map: min–max scaled, ≥ threshold, taken up to S×S by repeating cells. */
function similarRegion(sim: ArrayLike<number>, simSize: number, size: number, threshold: number): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < sim.length; i++) {
    lo = Math.min(lo, sim[i]);
    hi = Math.max(hi, sim[i]);
  }
  const out = new Float64Array(size * size);
  if (!(hi > lo)) return out;
  const f = size / simSize;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) out[y * size + x] = (sim[Math.floor(y / f) * simSize + Math.floor(x / f)] - lo) / (hi - lo) >= threshold ? 1 : 0;
  }
  return out;
}

/**
 * PixelMan's inversion-free sampling (the reference code's edit_gsn_pixelman without its energy
 * guidance) for n edits at once: `source` and `manipulated` hold n S×S images, `regions` one
 * MoveRegions each. Returns the edited images; 3·steps network evaluations per edit.
 */
export async function pixelman(source: Float64Array, manipulated: Float64Array, regions: MoveRegions[], o: PixelManOptions): Promise<Float64Array> {
  const { net, alphaBar, rng } = o;
  const S = net.size;
  const P = S * S;
  const n = regions.length;
  const steps = o.steps ?? 16;
  const finalSteps = o.finalSteps ?? 2;
  const threshold = o.simThreshold ?? 0.1;
  const leakProof = o.leakProof ?? true;
  usage(n >= 1, 'give at least one edit');
  usage(source.length === n * P && manipulated.length === n * P, `source and manipulated images must each hold ${n} × ${S}×${S} values, got ${source.length} and ${manipulated.length}`);
  regions.forEach((r, i) => usage(r.size === S, `edit ${i}: its regions are ${r.size}×${r.size}, the network edits ${S}×${S} images`));
  usage(Number.isInteger(finalSteps) && finalSteps >= 0 && finalSteps <= steps, `finalSteps must be an integer in [0, ${steps}], got ${finalSteps}`);
  usage(threshold > 0 && threshold < 1, `simThreshold must be in (0, 1), got ${threshold}`);
  for (const [name, x] of [['source', source], ['manipulated', manipulated]] as const) {
    const bad = firstNonFinite(x);
    usage(bad < 0, `the ${name} images hold a non-finite value at index ${bad}`);
  }
  const timesteps = leadingTimesteps(alphaBar.length, steps);
  const gen = new Float64Array(n * P);
  const inpaint = new Float64Array(n * P);
  const keep: Float64Array[] = [];
  regions.forEach((r, i) => {
    gen.set(r.target, i * P);
    inpaint.set(leakProof ? r.inpaint : new Float64Array(P), i * P);
    keep.push(blur9(r.target, S).map((m) => 1 - m));
  });
  // m_sim starts as the object where it was (the reference's empty-m_sim fallback), then follows the attention
  const similar: Float64Array[] = regions.map((r) => Float64Array.from(r.source));
  let z0 = Float64Array.from(manipulated);
  const x = new Float64Array(3 * n * P);
  const eps = new Float64Array(n * P);
  for (let k = 0; k < steps; k++) {
    const t = timesteps[k];
    const a = alphaBar[t];
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    rng.fillNormal(eps);
    for (let i = 0; i < n * P; i++) {
      x[i] = sa * manipulated[i] + sb * eps[i];
      x[n * P + i] = sa * source[i] + sb * eps[i];
      x[2 * n * P + i] = sa * z0[i] + sb * eps[i];
    }
    const block = new Float64Array(n * P);
    for (let e = 0; e < n; e++) for (let i = 0; i < P; i++) block[e * P + i] = leakProof && (gen[e * P + i] || similar[e][i]) ? 1 : 0;
    const out = await net.edit(x, n, t, { inpaint, block, gen });
    const bad = Math.max(firstNonFinite(out.eps), firstNonFinite(out.sim));
    if (bad >= 0) throw new RunError(`the network returned a non-finite ε or attention map at step ${k + 1} (timestep ${t}), value ${bad}`);
    const m = net.simSize * net.simSize;
    for (let e = 0; e < n; e++) similar[e] = similarRegion(out.sim.subarray(e * m, (e + 1) * m), net.simSize, S, threshold);
    const regenerateAll = k >= steps - finalSteps;
    const next = new Float64Array(n * P);
    for (let e = 0; e < n; e++) {
      for (let i = 0; i < P; i++) {
        const j = e * P + i;
        // x̂_0 = (z_t − √(1 − ᾱ) ε̂)/√ᾱ for the target and the manipulated branch
        const x0Target = (x[2 * n * P + j] - sb * out.eps[2 * n * P + j]) / sa;
        const x0Man = (x[j] - sb * out.eps[j]) / sa;
        next[j] = manipulated[j] + (x0Target - x0Man) * (regenerateAll ? 1 : keep[e][i]);
      }
    }
    z0 = next;
    o.onStep?.(k, t);
  }
  return z0;
}

/** Options of {@link invertAndInpaint}. */
export interface InvertInpaintOptions {
  /** The plain ε network of the same process (discrete timesteps). */
  model: Model;
  alphaBar: ArrayLike<number>;
  /** Steps S of the inversion and of the regeneration each (2S network evaluations per edit). */
  steps: number;
  /** Noise for the region to inpaint at the start of the regeneration. */
  rng: Rng;
  /** Replace the pixels outside the region to inpaint by the inversion's latents at every step (default true); false regenerates them freely from the inverted x_T. */
  blend?: boolean;
}

/**
 * The inversion-based baseline: DDIM-invert the manipulated image in S steps, then regenerate in S
 * DDIM steps from that x_T with fresh noise in the region to inpaint, replacing every other pixel at
 * each step by the inversion's latent (blended latent inpainting); the result keeps x_man outside.
 * Without blending every pixel is regenerated from the inverted x_T, as inversion-based editors do.
 */
export async function invertAndInpaint(manipulated: Float64Array, regions: MoveRegions[], o: InvertInpaintOptions): Promise<Float64Array> {
  const n = regions.length;
  const S = regions[0]?.size ?? 0;
  const P = S * S;
  usage(n >= 1 && manipulated.length === n * P, `the manipulated images must hold ${n} × ${S}×${S} values, got ${manipulated.length}`);
  usage(firstNonFinite(manipulated) < 0, `the manipulated images hold a non-finite value at index ${firstNonFinite(manipulated)}`);
  const ts = leadingTimesteps(o.alphaBar.length, o.steps);
  const ab = (t: number): number => (t < 0 ? 1 : o.alphaBar[t]);
  const ddim = (z: Float64Array, e: Float64Array, from: number, to: number): Float64Array => {
    const a = ab(from);
    const b = ab(to);
    return z.map((v, i) => Math.sqrt(b) * ((v - Math.sqrt(1 - a) * e[i]) / Math.sqrt(a)) + Math.sqrt(1 - b) * e[i]);
  };
  const check = (e: Float64Array, t: number): Float64Array => {
    const bad = firstNonFinite(e);
    if (bad >= 0) throw new RunError(`the network returned a non-finite ε at timestep ${t}, value ${bad}`);
    return e;
  };
  // inversion: −1 → t_S−1 → … → t_0 (ascending), keeping each latent
  const up = [...ts].reverse();
  const latents: Float64Array[] = [Float64Array.from(manipulated)];
  let z = latents[0];
  for (let k = 0; k < up.length; k++) {
    const from = k === 0 ? -1 : up[k - 1];
    const e = check(await o.model.predict(z, n, Math.max(from, 0)), from);
    z = ddim(z, e, from, up[k]);
    latents.push(z);
  }
  const hole = new Float64Array(n * P);
  regions.forEach((r, e) => hole.set(r.inpaint, e * P));
  const noise = o.rng.fillNormal(new Float64Array(n * P));
  z = z.map((v, i) => (hole[i] ? noise[i] : v));
  for (let k = 0; k < ts.length; k++) {
    const to = k + 1 < ts.length ? ts[k + 1] : -1;
    const e = check(await o.model.predict(z, n, ts[k]), ts[k]);
    const known = latents[ts.length - 1 - k];
    z = ddim(z, e, ts[k], to);
    if (o.blend ?? true) z = z.map((v, i) => (hole[i] ? v : known[i]));
  }
  return z;
}

/** The copy-paste baseline's fill: the harmonic (Laplace) interpolation of the `hole` pixels from their surroundings. */
export function laplaceFill(image: Float64Array, hole: Float64Array, size: number, sweeps = 500): Float64Array {
  usage(image.length === size * size && hole.length === size * size, `image and hole must hold ${size}×${size} values`);
  const x = Float64Array.from(image);
  for (let s = 0; s < sweeps; s++) {
    for (let y = 0; y < size; y++) {
      for (let c = 0; c < size; c++) {
        const i = y * size + c;
        if (!hole[i]) continue;
        let sum = 0;
        let k = 0;
        if (y > 0) (sum += x[i - size]), k++;
        if (y < size - 1) (sum += x[i + size]), k++;
        if (c > 0) (sum += x[i - 1]), k++;
        if (c < size - 1) (sum += x[i + 1]), k++;
        x[i] = sum / k;
      }
    }
  }
  return x;
}
