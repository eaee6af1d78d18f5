import type { GridSpec } from '../grid/index.js';
import type { OptionValue } from './types.js';

/**
 * @module
 * Names users bring from other tools, each meaning what it means there: the sampler, its options
 * and — where the name fixes one — the σ schedule. Read from the tools' sources (A1111 v1.10.1
 * modules/sd_samplers_kdiffusion.py and sd_schedulers.py; ComfyUI comfy/samplers.py and
 * comfy/k_diffusion/sampling.py; k-diffusion k_diffusion/sampling.py). Diffuse's own sampler names
 * and the diffusers class names are in the sampler registry (samplers/*.ts).
 *
 * A1111 ≥ 1.9 reads a label as sampler + Schedule type; a label without a schedule means the
 * sampler's "Automatic" one (Karras for DPM++ 2M, 2S a, DPM2; Exponential for the SDE ones;
 * the model's uniform timesteps, Diffuse's `normal` grid, for Euler, Euler a, LMS, Heun).
 * ComfyUI names only the sampler; its scheduler is the grid (`--grid normal|simple|karras|…`).
 */
/** The tool a name comes from. */
export type Tool = 'A1111' | 'ComfyUI';

/** A name from A1111 or ComfyUI and what it runs there, in Diffuse's terms (findSampler resolves it). */
export interface NamedRun {
  /** The name as the tool spells it. */
  name: string;
  tool: Tool;
  /** Diffuse's sampler and the options that make it the tool's. */
  sampler: string;
  options: Readonly<Record<string, OptionValue>>;
  /** The tool's σ schedule for `steps` steps, when the name fixes one. */
  grid?: (steps: number) => GridSpec;
  /** The k-diffusion function the tool calls (tests compare with its parity-checked translation). */
  kdiffusion?: string;
  /** What the tool does that Diffuse does not reproduce exactly, if anything. */
  note?: string;
  /**
   * The tool builds whatever schedule the user picks for steps + 1 and drops the next-to-last σ
   * (ComfyUI's KSampler for dpm_2, dpm_2_ancestral, uni_pc, uni_pc_bh2); sample() applies it to any grid spec.
   */
  dropPenultimate?: boolean;
  /**
   * The name is also one of Diffuse's (e.g. ComfyUI's lms, deis): the bare name keeps Diffuse's
   * meaning and the tool's is reached by its qualified spelling, `ComfyUI:lms`.
   */
  qualifiedOnly?: boolean;
}

/** A name Diffuse has no sampler for: what the tool runs, and the nearest thing Diffuse has. */
export interface UnsupportedName {
  name: string;
  tool: Tool;
  what: string;
  nearest: string;
}

const karras = (steps: number): GridSpec => ({ type: 'karras', steps, rho: 7, end: 'zero' });
const exponential = (steps: number): GridSpec => ({ type: 'exponential', steps, end: 'zero' });
const uniform = (steps: number): GridSpec => ({ type: 'normal', steps });
const dropPenultimate = (of: (steps: number) => GridSpec) => (steps: number): GridSpec => ({ type: 'drop-penultimate', steps, of: of(steps) });

const compvis = (steps: number): GridSpec => ({ type: 'compvis', steps });
const compvisNote = 'A1111 runs timesteps 1, 1 + ⌊1000/steps⌋, … from the top and stops at t = 1 (its sample at ᾱ_1, not x̂0: one update fewer than the list)';
const brownian = 'the tool draws its SDE noise from a Brownian tree; Diffuse draws independent Gaussians of the same law (other draws, same distribution)';
const brownianPair = 'the tool draws from a Brownian tree; Diffuse builds the two correlated increments of each step from its own independent Gaussians (same law, other draws)';
const kd2m = { lowerOrderFinal: false };
const kd2mSde = { eta: 1, sNoise: 1, lowerOrderFinal: false, solverType: 'midpoint' };
const kd2mSdeHeun = { ...kd2mSde, solverType: 'heun' };
const kd3mSde = { eta: 1, sNoise: 1, lowerOrderFinal: false };

function a1111(name: string, sampler: string, options: Record<string, OptionValue>, grid: (steps: number) => GridSpec, kdiffusion: string, note?: string): NamedRun {
  return { name, tool: 'A1111', sampler, options, grid, kdiffusion, ...(note ? { note } : {}) };
}

function comfy(name: string, sampler: string, options: Record<string, OptionValue>, kdiffusion?: string, note?: string): NamedRun {
  return { name, tool: 'ComfyUI', sampler, options, ...(kdiffusion ? { kdiffusion } : {}), ...(note ? { note } : {}) };
}

const dropNote = 'A1111 builds steps + 1 sigmas and drops the next-to-last (discard_next_to_last_sigma)';
const ksamplerDrop = "ComfyUI's KSampler node builds steps + 1 sigmas and drops the next-to-last for this sampler (its custom-sampling nodes do not): `diffuse sample` and sample() do the same to any grid spec";
/** A ComfyUI name whose KSampler drops the next-to-last σ of any schedule. */
const dropping = (run: NamedRun): NamedRun => ({ ...run, dropPenultimate: true });
/** A tool's name that is also Diffuse's: reached only as `Tool:name`. */
const qualified = (run: NamedRun): NamedRun => ({ ...run, qualifiedOnly: true });
const comfyDeis = { order: 3, basis: 'tab', lowerOrderFinal: false, denoiseLast: true };
const denoiseLast = 'the step to σ = 0 returns the model\'s x̂0';

/** Every A1111 and ComfyUI name Diffuse runs as the tool does (`diffuse list names`). */
export const namedRuns: readonly NamedRun[] = [
  a1111('DPM++ 2M', 'dpmpp-2m', kd2m, karras, 'sample_dpmpp_2m'),
  a1111('DPM++ 2M Karras', 'dpmpp-2m', kd2m, karras, 'sample_dpmpp_2m'),
  a1111('DPM++ 2M SDE', 'dpmpp-2m-sde', kd2mSde, exponential, 'sample_dpmpp_2m_sde', brownian),
  a1111('DPM++ 2M SDE Exponential', 'dpmpp-2m-sde', kd2mSde, exponential, 'sample_dpmpp_2m_sde', brownian),
  a1111('DPM++ 2M SDE Karras', 'dpmpp-2m-sde', kd2mSde, karras, 'sample_dpmpp_2m_sde', brownian),
  a1111('DPM++ 2M SDE Heun', 'dpmpp-2m-sde', kd2mSdeHeun, exponential, 'sample_dpmpp_2m_sde', brownian),
  a1111('DPM++ 2M SDE Heun Exponential', 'dpmpp-2m-sde', kd2mSdeHeun, exponential, 'sample_dpmpp_2m_sde', brownian),
  a1111('DPM++ 2M SDE Heun Karras', 'dpmpp-2m-sde', kd2mSdeHeun, karras, 'sample_dpmpp_2m_sde', brownian),
  // A1111 ≥ 1.9: DPM++ SDE's Automatic schedule is Karras
  a1111('DPM++ SDE', 'dpmpp-sde', { eta: 1 }, karras, 'sample_dpmpp_sde', brownianPair),
  a1111('DPM++ SDE Karras', 'dpmpp-sde', { eta: 1 }, karras, 'sample_dpmpp_sde', brownianPair),
  a1111('DPM++ 2S a', 'dpmpp-2s-ancestral', { eta: 1 }, karras, 'sample_dpmpp_2s_ancestral'),
  a1111('DPM++ 2S a Karras', 'dpmpp-2s-ancestral', { eta: 1 }, karras, 'sample_dpmpp_2s_ancestral'),
  a1111('DPM++ 3M SDE', 'dpmpp-3m-sde', kd3mSde, dropPenultimate(exponential), 'sample_dpmpp_3m_sde', `${dropNote}; ${brownian}`),
  a1111('DPM++ 3M SDE Exponential', 'dpmpp-3m-sde', kd3mSde, dropPenultimate(exponential), 'sample_dpmpp_3m_sde', `${dropNote}; ${brownian}`),
  a1111('DPM++ 3M SDE Karras', 'dpmpp-3m-sde', kd3mSde, dropPenultimate(karras), 'sample_dpmpp_3m_sde', `${dropNote}; ${brownian}`),
  a1111('Euler', 'euler', {}, uniform, 'sample_euler'),
  a1111('Euler a', 'euler-ancestral', { eta: 1 }, uniform, 'sample_euler_ancestral'),
  a1111('LMS', 'lms', { order: 4 }, uniform, 'sample_lms'),
  a1111('LMS Karras', 'lms', { order: 4 }, karras, 'sample_lms'),
  a1111('Heun', 'heun', {}, uniform, 'sample_heun'),
  a1111('DPM2', 'dpm2', {}, dropPenultimate(karras), 'sample_dpm_2', dropNote),
  a1111('DPM2 Karras', 'dpm2', {}, dropPenultimate(karras), 'sample_dpm_2', dropNote),
  a1111('DPM2 a', 'dpm2-ancestral', { eta: 1 }, dropPenultimate(karras), 'sample_dpm_2_ancestral', dropNote),
  a1111('DPM2 a Karras', 'dpm2-ancestral', { eta: 1 }, dropPenultimate(karras), 'sample_dpm_2_ancestral', dropNote),
  {
    name: 'UniPC', tool: 'A1111', sampler: 'unipc', options: { variant: 'bh1', order: 3 },
    grid: (steps) => ({ type: 'time-uniform', steps, end: 'min' }),
    note: "A1111's UniPC (its own port, variant bh1, order 3, time-uniform from t = 999 to 0) interpolates log α between timesteps, Diffuse σ: equal at integer timesteps",
  },
  // A1111's CompVisSampler labels (modules/sd_samplers_timesteps*.py): CompVis timesteps, no step past t = 1
  {
    name: 'DDIM', tool: 'A1111', sampler: 'ddim', options: { eta: 0 }, grid: compvis,
    note: `${compvisNote}; η is A1111's eta_ddim option (default 0): --opt eta=…`,
  },
  { name: 'PLMS', tool: 'A1111', sampler: 'plms', options: {}, grid: compvis, note: `${compvisNote}; a pseudo improved-Euler first step (2 model calls), then Adams–Bashforth 2–4 on ε` },
  comfy('dpmpp_2m', 'dpmpp-2m', kd2m, 'sample_dpmpp_2m'),
  comfy('dpmpp_2m_sde', 'dpmpp-2m-sde', kd2mSde, 'sample_dpmpp_2m_sde', brownian),
  comfy('dpmpp_2m_sde_gpu', 'dpmpp-2m-sde', kd2mSde, 'sample_dpmpp_2m_sde', brownian),
  comfy('dpmpp_2m_sde_heun', 'dpmpp-2m-sde', kd2mSdeHeun, 'sample_dpmpp_2m_sde', brownian),
  comfy('dpmpp_2m_sde_heun_gpu', 'dpmpp-2m-sde', kd2mSdeHeun, 'sample_dpmpp_2m_sde', brownian),
  comfy('dpmpp_3m_sde', 'dpmpp-3m-sde', kd3mSde, 'sample_dpmpp_3m_sde', brownian),
  comfy('dpmpp_3m_sde_gpu', 'dpmpp-3m-sde', kd3mSde, 'sample_dpmpp_3m_sde', brownian),
  comfy('dpmpp_sde', 'dpmpp-sde', { eta: 1 }, 'sample_dpmpp_sde', brownianPair),
  comfy('dpmpp_sde_gpu', 'dpmpp-sde', { eta: 1 }, 'sample_dpmpp_sde', brownianPair),
  dropping(comfy('dpm_2', 'dpm2', {}, 'sample_dpm_2', ksamplerDrop)),
  dropping(comfy('dpm_2_ancestral', 'dpm2-ancestral', { eta: 1 }, 'sample_dpm_2_ancestral', ksamplerDrop)),
  dropping(comfy('uni_pc', 'unipc', { variant: 'bh1', order: 3 }, undefined, `${ksamplerDrop}; ComfyUI also ends on σ = 0.001 instead of 0`)),
  dropping(comfy('uni_pc_bh2', 'unipc', { variant: 'bh2', order: 3 }, undefined, `${ksamplerDrop}; ComfyUI also ends on σ = 0.001 instead of 0`)),
  qualified(comfy('euler_ancestral', 'euler-ancestral', { eta: 1, sNoise: 1 }, 'sample_euler_ancestral')),
  qualified(comfy('dpmpp_2s_ancestral', 'dpmpp-2s-ancestral', { eta: 1, sNoise: 1 }, 'sample_dpmpp_2s_ancestral')),
  qualified(comfy('euler', 'euler', {}, 'sample_euler')),
  qualified(comfy('heun', 'heun', {}, 'sample_heun')),
  qualified(comfy('lms', 'lms', { order: 4, denoiseLast: true }, undefined, `ComfyUI's sample_lms: k-diffusion's, except that ${denoiseLast}`)),
  // comfy/samplers.py sampler_object: "ddim" is ksampler("euler") (Euler in σ is DDIM's update)
  qualified(comfy('ddim', 'euler', {}, 'sample_euler', "ComfyUI runs sample_euler for ddim: Euler in σ is DDIM's η = 0 update")),
  qualified(comfy('ddpm', 'ddpm', { eta: 1, variance: 'fixed_small' }, undefined, "ComfyUI's sample_ddpm: the ancestral DDPM posterior step with ᾱ = 1/(σ² + 1) on any schedule")),
  qualified(comfy('lcm', 'lcm', { sNoise: 1 }, undefined, "ComfyUI's sample_lcm: x̂0, re-noised to the next σ")),
  qualified(comfy('ipndm', 'ipndm', { order: 4, denoiseLast: true }, undefined, `ComfyUI's sample_ipndm: Adams–Bashforth up to order 4 on d = (x − x̂0)/σ; ${denoiseLast}`)),
  comfy('sample_ipndm', 'ipndm', { order: 4, denoiseLast: true }, undefined, `ComfyUI's k-diffusion function; ${denoiseLast}`),
  qualified(comfy('deis', 'deis', comfyDeis, undefined, "ComfyUI's sample_deis (tAB-DEIS, order 3, its 'tab' coefficients integrated exactly rather than by its 10 000-point sum, a 1e-4 difference); the step to σ = 0 is Euler")),
  comfy('sample_deis', 'deis', comfyDeis, undefined, "ComfyUI's k-diffusion function (tAB-DEIS, order 3)"),
];

/** Names from those tools Diffuse has no sampler for: findSampler refuses them naming the nearest. */
export const unsupportedNames: readonly UnsupportedName[] = [
  ...['DPM fast', 'dpm_fast'].map((name) => ({
    name, tool: (name === 'DPM fast' ? 'A1111' : 'ComfyUI') as Tool,
    what: "k-diffusion's sample_dpm_fast (singlestep DPM-Solver orders 3…1 uniform in log σ)",
    nearest: 'dpm-solver-3 (singlestep DPM-Solver-3) with --grid logsnr',
  })),
  ...['DPM adaptive', 'dpm_adaptive'].map((name) => ({
    name, tool: (name === 'DPM adaptive' ? 'A1111' : 'ComfyUI') as Tool,
    what: "k-diffusion's sample_dpm_adaptive (DPM-Solver-12/23 with step-size control)",
    nearest: 'dpm-solver-3 with more steps, or the exact ODE endpoint (`diffuse bench` reports it)',
  })),
  { name: 'DDIM CFG++', tool: 'A1111', what: "A1111's DDIM with CFG++ (guidance scale / 12.5 for x̂0, the unconditional prediction as direction)", nearest: 'A1111:DDIM with classifier-free guidance' },
  {
    name: 'LCM', tool: 'A1111',
    what: "A1111's LCM: sample_lcm on 50 timesteps t = 20j + 19 with σ interpolated between them, the model fed the nearest of the 50 and the LCM boundary condition applied to its output",
    nearest: 'lcm (the same x̂0-then-renoise loop) on --grid simple, with a model that applies its own boundary condition',
  },
  { name: 'Restart', tool: 'A1111', what: "A1111's Restart sampler (Xu et al. 2023: Heun with restart segments)", nearest: 'heun on the Karras grid, or edm-stochastic' },
  { name: 'heunpp2', tool: 'ComfyUI', what: "ComfyUI's three-point Heun++", nearest: 'heun' },
  { name: 'ipndm_v', tool: 'ComfyUI', what: "ComfyUI's variable-step iPNDM", nearest: 'ipndm' },
  { name: 'res_multistep', tool: 'ComfyUI', what: "ComfyUI's RES multistep exponential integrator", nearest: 'dpmpp-2m (the same exponential-integrator family)' },
  { name: 'er_sde', tool: 'ComfyUI', what: "ComfyUI's ER-SDE-Solver-3", nearest: 'dpmpp-3m-sde' },
  { name: 'euler_cfg_pp', tool: 'ComfyUI', what: 'Euler with CFG++ (the unconditional prediction as direction)', nearest: 'euler with classifier-free guidance' },
  ...Object.entries({
    euler_ancestral: 'euler-ancestral', dpmpp_2s_ancestral: 'dpmpp-2s-ancestral', dpmpp_2m: 'dpmpp-2m',
    res_multistep: 'dpmpp-2m', res_multistep_ancestral: 'dpmpp-2m-sde', gradient_estimation: 'dpmpp-2m',
  }).map(([base, nearest]) => ({
    name: `${base}_cfg_pp`, tool: 'ComfyUI' as Tool, what: `${base} with CFG++ (the unconditional prediction as direction)`, nearest: `${nearest} with classifier-free guidance`,
  })),
  { name: 'res_multistep_ancestral', tool: 'ComfyUI', what: "ComfyUI's RES multistep with ancestral noise", nearest: 'dpmpp-2m-sde' },
  { name: 'gradient_estimation', tool: 'ComfyUI', what: 'Euler with a gradient-estimation correction (Permenter & Yuan 2024)', nearest: 'dpmpp-2m' },
  ...['seeds_2', 'seeds_3'].map((name) => ({ name, tool: 'ComfyUI' as Tool, what: `SEEDS-${name.slice(-1)} (stochastic exponential derivative-free solver)`, nearest: 'dpmpp-sde or dpmpp-3m-sde' })),
  ...['sa_solver', 'sa_solver_pece'].map((name) => ({ name, tool: 'ComfyUI' as Tool, what: `SA-Solver${name.endsWith('pece') ? ' (PECE mode)' : ''} (stochastic Adams)`, nearest: 'dpmpp-2m-sde or dpmpp-3m-sde' })),
];
