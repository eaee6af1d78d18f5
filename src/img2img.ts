import type { Process } from './process/types.js';
import { UsageError } from './core/errors.js';

/**
 * Image-to-image (SDEdit, Meng et al. 2022) as diffusers' pipelines start it: the sample is the
 * init image noised to the schedule's t_start-th time, and sampling runs the schedule's tail.
 *
 * The pipelines count t_start differently (both are reproduced):
 * - 'sd' (Stable Diffusion 1.x/2.x, SDXL img2img and inpainting): t_start = steps − ⌊steps·strength⌋;
 * - 'flow' (SD3, Flux and the other flow-matching pipelines): t_start = ⌊steps − steps·strength⌋.
 * They differ where steps·strength is not an integer (10 steps at 0.35: 7 and 6).
 * - 'schedule' (LCM's img2img pipeline): the scheduler already applied strength when it made the
 *   schedule (LCMScheduler.set_timesteps(steps, strength) picks every step from the lowest
 *   ⌊50·strength⌋ distillation timesteps), so t_start = 0 and the whole schedule runs.
 */
export type StrengthRule = 'sd' | 'flow' | 'schedule';

/** The index in the full schedule where img2img starts (t_start; diffusers' get_timesteps). */
export function strengthStart(steps: number, strength: number, rule: StrengthRule = 'sd'): number {
  if (!(Number.isInteger(steps) && steps >= 1)) throw new UsageError(`steps must be a positive integer, got ${steps}`);
  if (!(strength >= 0 && strength <= 1)) throw new UsageError(`strength must be in [0, 1] (0 keeps the image, 1 starts from pure noise), got ${strength}`);
  if (rule !== 'sd' && rule !== 'flow' && rule !== 'schedule') throw new UsageError(`strength rule must be sd, flow or schedule, got ${String(rule)}`);
  if (rule === 'schedule') return 0;
  const start = rule === 'sd' ? steps - Math.min(Math.floor(steps * strength), steps) : Math.floor(Math.max(steps - steps * strength, 0));
  if (start >= steps) throw new UsageError(`strength ${strength} leaves no step of ${steps} to run (t_start = ${start}); raise strength or steps`);
  return start;
}

/**
 * The tail of a grid from its `start`-th distinct time (a schedule that lists a time twice, as
 * diffusers' Heun and KDPM2 do for their second evaluation, counts it once).
 */
export function gridTail(grid: Float64Array, start: number): Float64Array {
  let distinct = 0;
  for (let i = 0; i < grid.length; i++) {
    if (i > 0 && grid[i] === grid[i - 1]) continue;
    if (distinct === start) return grid.subarray(i);
    distinct++;
  }
  throw new UsageError(`the grid has ${distinct} distinct times; cannot start at the ${start}-th`);
}

/**
 * x0 noised to time t: x_t = α(t)·x0 + σ(t)·z (diffusers' add_noise for VP schedulers and
 * scale_noise, (1 − σ)·x0 + σ·z, for flow matching — the same formula on Diffuse's processes).
 */
export function noiseTo(p: Process, x0: Float64Array, z: Float64Array, t: number): Float64Array {
  if (x0.length !== z.length) throw new UsageError(`the init sample has ${x0.length} values but the noise ${z.length}`);
  const [a, s] = [p.alpha(t), p.sigma(t)];
  return x0.map((v, i) => a * v + s * z[i]);
}
