import { entry, type OptionValue, type SampleContext, type SamplerEntry, type TypedEntry } from './types.js';
import { ddimSamplers } from './ddim.js';
import { dpmSolverSamplers } from './dpm-solver.js';
import { unipcSamplers } from './unipc.js';
import { UsageError } from '../core/errors.js';

/**
 * DualFast (Yu, Luo, Wang & Zhao 2025, "DualFast: Dual-Speedup Framework for Fast Sampling of
 * Diffusion Models", arXiv 2506.13058). The sampling error of a fast sampler is split into the
 * discretisation error (what higher-order solvers reduce) and the approximation error of the
 * network, which the paper measures to shrink as the noise level grows. DualFast keeps the base
 * solver's update and feeds it the mixed noise prediction (its Eq. 12)
 *   ε̃(x_t, t) = (1 + c)·ε_θ(x_t, t) − c·ε_θ(x_τ, τ),   τ > t, c ≥ 0,
 * where ε_θ(x_τ, τ) is a prediction the run already made at a larger noise level (no extra NFE).
 * A data-prediction solver gets x̃0 = (x_t − σ_t ε̃)/α_t = x̂0 − c·(σ_t/α_t)·(ε_θ(x_t, t) − ε_θ(x_τ, τ)).
 *
 * What the sources retrieved give (the paper's method section itself could not be read here):
 * Eq. 12's form and the sign of c (an ICLR 2025 review of the paper, a literature note quoting
 * `eps_new = (1 + c_t) eps_t − c_t eps_tau`), τ a higher-noise step already in the history, c
 * non-negative and step-dependent. Which τ and which c schedule the paper uses by default were not
 * retrievable: `reference` chooses τ = t_0 (the first call) or τ = the previous call, and
 * `mixingSchedule` how c varies over the steps; the defaults were chosen from measurements on the
 * MNIST model (docs/results.md).
 *
 * The wrapper acts on ctx.denoise only, so it composes with any base: DDIM, DPM-Solver++(2M) and
 * UniPC here. mixing = 0 is the base sampler, bit for bit. On an exact denoiser there is no
 * approximation error to remove: the substitution changes the ODE being solved, and the error no
 * longer vanishes as steps → ∞ (measured in test/order).
 */
export interface DualFastOptions {
  [k: string]: OptionValue;
  /** c, the weight of the difference from the higher-noise prediction (0 = the base sampler). */
  mixing: number;
  mixingSchedule: 'constant' | 'decreasing' | 'increasing';
  /** τ: 'first' (t_0, the largest noise level) or 'previous' (the model call before this one). */
  reference: 'first' | 'previous';
}

const SCHEDULES: readonly DualFastOptions['mixingSchedule'][] = ['constant', 'decreasing', 'increasing'];
const REFERENCES: readonly DualFastOptions['reference'][] = ['first', 'previous'];

/** c_i of step i of `total`: constant, or linear from c at the first step to 0 at the last (decreasing), or from 0 to c (increasing). */
export function mixingAt(o: Pick<DualFastOptions, 'mixing' | 'mixingSchedule'>, i: number, total: number): number {
  if (o.mixingSchedule === 'constant' || total <= 1) return o.mixing;
  const u = i / (total - 1);
  return o.mixing * (o.mixingSchedule === 'decreasing' ? 1 - u : u);
}

/**
 * Eq. 12 in data-prediction form, in place: x̂0 ← x̂0 − c·(σ/α)·(ε − ε_τ) with ε = (x − α·x̂0)/σ.
 * Returns ε (before mixing), the reference of later calls.
 */
export function mixPrediction(x: Float64Array, x0: Float64Array, epsRef: Float64Array | undefined, alpha: number, sigma: number, c: number): Float64Array {
  const eps = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) eps[j] = (x[j] - alpha * x0[j]) / sigma;
  if (epsRef && c !== 0) {
    const k = (c * sigma) / alpha;
    for (let j = 0; j < x.length; j++) x0[j] -= k * (eps[j] - epsRef[j]);
  }
  return eps;
}

/** ctx whose denoise returns Eq. 12's x̃0; the reference ε_τ is the first call's or the previous call's ε. */
function dualContext(ctx: SampleContext, o: DualFastOptions): SampleContext {
  let reference: Float64Array | undefined;
  let c = o.mixing;
  return {
    process: ctx.process,
    n: ctx.n,
    dim: ctx.dim,
    noise: () => ctx.noise(),
    step(i, total, x) {
      c = mixingAt(o, i, total);
      ctx.step(i, total, x);
    },
    async denoise(x, t) {
      const d = await ctx.denoise(x, t);
      if (o.mixing === 0) return d;
      const alpha = ctx.process.alpha(t);
      const sigma = ctx.process.sigma(t);
      // ε is undefined at σ = 0 and x̂0 at α = 0: such a call is left as it is and keeps the reference.
      if (!(sigma > 0 && alpha > 0)) return d;
      const eps = mixPrediction(x, d, reference, alpha, sigma, c);
      if (!reference || o.reference === 'previous') reference = eps;
      return d;
    },
  };
}

function baseEntry<E extends SamplerEntry, N extends E['name']>(list: readonly E[], name: N): Extract<E, { name: N }> {
  const e = list.find((s) => s.name === name);
  if (!e) throw new Error(`DualFast base sampler ${name} is not registered`);
  return e as Extract<E, { name: N }>;
}

/**
 * The defaults come from `diffuse eval` on the MNIST model (n = 200, cfg 1, NFE 5 and 10; the
 * table in docs/results.md): τ = t_0 and c rising linearly to `mixing` at the last step were best
 * for every base (the literature note also has c grow towards low noise); DDIM gains most at
 * mixing 1 (FD 377 → 131 at NFE 5, 119 → 52 at NFE 10), while on DPM-Solver++(2M) and UniPC every
 * mixing > 0 measured worse at NFE 5 (0.25: 496 → 586, 533 → 643) and moved FD by less than the
 * noise at NFE 10 (0.25: 49.8 → 48.3, 49.0 → 46.5), so their default is 0 (the base itself).
 */
function dualEntry<N extends string, O extends Record<string, OptionValue>>(base: TypedEntry<N, O>, aliases: string[], mixing: number) {
  const own: DualFastOptions = { mixing, mixingSchedule: 'increasing', reference: 'first' };
  return entry<`dualfast-${N}`, O & DualFastOptions>({
    name: `dualfast-${base.name}` as `dualfast-${N}`,
    aliases,
    family: 'dualfast',
    description: `DualFast over ${base.name}: each noise prediction ε̃ = (1 + c)ε − c·ε_τ with ε_τ an earlier, higher-noise prediction (Eq. 12; mixing c, mixingSchedule, reference first|previous; mixing=0 is ${base.name}; default mixing ${mixing}${mixing === 0 ? ', every mixing > 0 measured worse on the MNIST model' : ''}; τ, schedule and c chosen by measurement, the paper's own could not be retrieved)`,
    cite: `Yu et al. 2025, DualFast (arXiv 2506.13058), Eq. 12, over ${base.cite}`,
    order: base.order,
    stochastic: base.stochastic,
    defaults: { ...base.defaults, ...own } as O & DualFastOptions,
    choices: { ...base.choices, mixingSchedule: SCHEDULES, reference: REFERENCES } as Partial<Record<keyof (O & DualFastOptions), readonly string[]>>,
    validate(o) {
      if (!(typeof o.mixing === 'number' && Number.isFinite(o.mixing) && o.mixing >= 0)) {
        throw new UsageError(`mixing must be a number ≥ 0 (0 = the base sampler), got ${String(o.mixing)}`);
      }
      base.validate?.(o);
    },
    defaultGrid: base.defaultGrid,
    run: (x, grid, ctx, o: O & DualFastOptions) => base.run(x, grid, dualContext(ctx, o), o),
  });
}

export const dualfastSamplers = [
  dualEntry(baseEntry(ddimSamplers, 'ddim'), ['DualFast-DDIM', 'dualfast_ddim'], 1),
  dualEntry(baseEntry(dpmSolverSamplers, 'dpmpp-2m'), ['DualFast-DPM-Solver++', 'DualFast-DPM++ 2M', 'dualfast_dpmpp_2m'], 0),
  dualEntry(baseEntry(unipcSamplers, 'unipc'), ['DualFast-UniPC', 'dualfast_unipc'], 0),
];
