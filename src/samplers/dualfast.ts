import { entry, type OptionValue, type SampleContext, type SamplerEntry } from './types.js';
import { ddimSamplers } from './ddim.js';
import { dpmSolverSamplers } from './dpm-solver.js';
import { unipcSamplers } from './unipc.js';
import { UsageError } from '../core/errors.js';

/**
 * DualFast (Yu, Luo, Wang & Zhao 2025, "DualFast: Dual-Speedup Framework for Fast Sampling of
 * Diffusion Models", arXiv 2506.13058). The sampling error of a fast sampler is split into the
 * discretisation error (what higher-order solvers reduce) and the approximation error of the
 * network, which the paper measures to shrink as the noise level grows. DualFast keeps the base
 * solver's update and reduces the approximation error by replacing each data prediction with
 *   x̂0(x_t, t) + c_i·(x̂0(x_t, t) − x̂0(x_τ, τ)),
 * τ = t_0 (the first grid time, the largest noise level: its output is kept, no extra NFE), and a
 * mixing coefficient c_i that decays linearly from `mixing` at the first step to 0 at the last
 * ("linear"), or stays `mixing` ("constant"). The wrapper acts on ctx.denoise only, so it composes
 * with any base: DDIM, DPM-Solver++(2M) and UniPC here. mixing = 0 is the base sampler, bit for bit.
 *
 * On an exact denoiser there is no approximation error to remove: the substitution then changes
 * the ODE being solved, and the error no longer vanishes as steps → ∞ (measured in test/order).
 */
export interface DualFastOptions {
  [k: string]: OptionValue;
  /** c: the weight of the difference from the largest-noise prediction (0 = the base sampler). */
  mixing: number;
  mixingSchedule: 'linear' | 'constant';
}

const SCHEDULES: readonly DualFastOptions['mixingSchedule'][] = ['linear', 'constant'];

/** c_i of step i of `total` (DualFast's step-dependent mixing coefficient). */
export function mixingAt(o: DualFastOptions, i: number, total: number): number {
  if (o.mixingSchedule === 'constant' || total <= 1) return o.mixing;
  return o.mixing * (1 - i / (total - 1));
}

/** ctx whose denoise returns x̂0 + c_i(x̂0 − x̂0(x_{t_0}, t_0)); the first call sets the reference. */
function dualContext(ctx: SampleContext, o: DualFastOptions): SampleContext {
  let reference: Float64Array | undefined;
  let c = o.mixing;
  return {
    process: ctx.process,
    n: ctx.n,
    dim: ctx.dim,
    noise: () => ctx.noise(),
    step(i, total) {
      c = mixingAt(o, i, total);
      ctx.step(i, total);
    },
    async denoise(x, t) {
      const d = await ctx.denoise(x, t);
      if (!reference) {
        reference = d.slice();
        return d;
      }
      if (c === 0) return d;
      for (let j = 0; j < d.length; j++) d[j] += c * (d[j] - reference[j]);
      return d;
    },
  };
}

function baseEntry(list: readonly SamplerEntry[], name: string): SamplerEntry {
  const e = list.find((s) => s.name === name);
  if (!e) throw new Error(`DualFast base sampler ${name} is not registered`);
  return e;
}

function dualEntry(base: SamplerEntry, aliases: string[]): SamplerEntry {
  const own: DualFastOptions = { mixing: 0.5, mixingSchedule: 'linear' };
  return entry<Record<string, OptionValue>>({
    name: `dualfast-${base.name}`,
    aliases,
    family: 'dualfast',
    description: `DualFast over ${base.name} (experimental: update reconstructed from the paper's description, unverified against its code; on exact oracles and on the MNIST model it adds bias): each x̂0 mixed with its difference from the first-step x̂0 (mixing c, schedule linear|constant; mixing=0 is ${base.name})`,
    cite: `Yu et al. 2025, DualFast (arXiv 2506.13058), approximation-error reduction over ${base.cite}`,
    order: base.order,
    stochastic: base.stochastic,
    defaults: { ...base.defaults, ...own },
    choices: { ...base.choices, mixingSchedule: SCHEDULES },
    validate(o) {
      if (!(typeof o.mixing === 'number' && Number.isFinite(o.mixing) && o.mixing >= 0)) {
        throw new UsageError(`mixing must be a number ≥ 0 (0 = the base sampler), got ${String(o.mixing)}`);
      }
      base.validate?.(o);
    },
    defaultGrid: base.defaultGrid,
    run: (x, grid, ctx, o) => base.run(x, grid, dualContext(ctx, o as DualFastOptions), o),
  });
}

export const dualfastSamplers = [
  dualEntry(baseEntry(ddimSamplers, 'ddim'), ['DualFast-DDIM', 'dualfast_ddim']),
  dualEntry(baseEntry(dpmSolverSamplers, 'dpmpp-2m'), ['DualFast-DPM-Solver++', 'DualFast-DPM++ 2M', 'dualfast_dpmpp_2m']),
  dualEntry(baseEntry(unipcSamplers, 'unipc'), ['DualFast-UniPC', 'dualfast_unipc']),
];
