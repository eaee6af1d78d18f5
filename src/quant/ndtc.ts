import { usage } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import { sample } from '../sample.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * Calibration inputs for post-training quantisation of a diffusion model, as PTQ4DM builds them
 * (Shang et al., CVPR 2023, Sec. 4.2, "Normally Distributed Time-step Calibration", Alg. 1):
 *   1. draw the calibration times t_i from a normal distribution over the time axis,
 *      t_i = round(T · u_i), u_i ~ N(μ, σ²), clamped to the valid times (μ ≤ 1/2 favours the
 *      less noisy half, where the paper finds the network's activations matter most);
 *   2. produce x_{t_i} by running the full-precision model's own denoising process from x_T ~ N(0, I)
 *      down to t_i — not by noising real data, whose x_t differ from what the sampler will feed.
 * The baseline draws u_i ~ U(0, 1) instead.
 */

export type TimeDistribution =
  | { method: 'ndtc'; mu: number; std: number }
  | { method: 'uniform' };

/**
 * n calibration times on [tMin, tMax] of the process: t = tMin + u (tMax − tMin) with u drawn as
 * above and clamped to [0, 1]; rounded to whole timesteps when `discrete`.
 */
export function calibrationTimes(p: Process, n: number, seed: number, dist: TimeDistribution, discrete: boolean): Float64Array {
  checkCount(n, 'the number of calibration samples', 1, LIMITS.samples);
  if (dist.method === 'ndtc') {
    usage(Number.isFinite(dist.mu) && dist.mu >= 0 && dist.mu <= 1, `NDTC's mean μ must be a fraction of the time range in [0, 1] (0 = data end, 1 = noise end), got ${dist.mu}`);
    usage(dist.std > 0 && Number.isFinite(dist.std), `NDTC's standard deviation σ must be > 0, got ${dist.std}`);
  }
  const rng = new Rng(seed).fork(2);
  const span = p.tMax - p.tMin;
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = dist.method === 'ndtc' ? dist.mu + dist.std * rng.normal() : rng.uniform();
    const t = p.tMin + Math.min(1, Math.max(0, u)) * span;
    times[i] = discrete ? Math.round(t) : t;
  }
  return times;
}

/** Input of `trajectoryInputs`: the process and model, each sample's calibration time, and the start x_T. */
export interface TrajectoryRequest {
  /** The process the model samples; the times must lie in its [tMin, tMax]. */
  process: Process;
  /** The model on the samples with these indices (a class-conditional model gets their labels). */
  modelFor: (indices: Int32Array) => Model;
  /** One time per sample, each in [tMin, tMax]. */
  times: Float64Array;
  /** x_T at tMax, n × dim (process coordinates). */
  xT: Float64Array;
  /** Called after each distinct calibration time is reached, with the segments done and their total. */
  onStep?: (step: number, total: number) => void;
}

/**
 * x_{t_i} for every sample i: DDIM (a one-step method, so running it segment by segment is the same
 * as one run) from x_T at tMax through every distinct calibration time, each sample leaving the
 * batch once its own time is reached. Returns n × dim values.
 */
export async function trajectoryInputs(r: TrajectoryRequest): Promise<Float64Array> {
  const { process: p, times, xT } = r;
  const n = times.length;
  usage(n >= 1 && xT.length % n === 0, `x_T has ${xT.length} values, not a multiple of the ${n} calibration times`);
  const dim = xT.length / n;
  for (const t of times) usage(t >= p.tMin && t <= p.tMax, `calibration time ${t} is outside [${p.tMin}, ${p.tMax}]`);
  const stops = [...new Set(times)].sort((a, b) => b - a).filter((t) => t < p.tMax);
  const x = Float64Array.from(xT);
  let from = p.tMax;
  for (let k = 0; k < stops.length; k++) {
    const to = stops[k];
    const active = Int32Array.from(Array.from(times.keys()).filter((i) => times[i] <= to));
    const batch = new Float64Array(active.length * dim);
    active.forEach((i, j) => batch.set(x.subarray(i * dim, (i + 1) * dim), j * dim));
    const out = await sample({
      model: r.modelFor(active), process: p, sampler: 'ddim', grid: Float64Array.of(from, to), xT: batch, n: active.length,
    });
    active.forEach((i, j) => x.set(out.x.data.subarray(j * dim, (j + 1) * dim), i * dim));
    from = to;
    r.onStep?.(k + 1, stops.length);
  }
  return x;
}
