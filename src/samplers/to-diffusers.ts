import type { Prediction } from '../param/convert.js';
import type { ProcessConfig } from '../process/index.js';
import { createProcess } from '../process/index.js';
import { makeGrid, type GridSpec } from '../grid/index.js';
import { findReference, findSampler, resolveOptions } from './index.js';
import type { OptionValue, Translation } from './types.js';
import { ZERO_SNR } from './diffusers-classes.js';
import { flowShift } from '../grid/basic.js';

/**
 * The reverse of the diffusers translations: a diffusers `scheduler_config.json` that runs what a
 * Diffuse run ran — same sampler and options, same process, the same grid times, the same
 * prediction type — or undefined where no diffusers class does. Every config returned has been
 * translated back and compared with the run, so it is correct by construction; the search covers
 * the keys that choose the schedule (spacing, steps_offset, Karras / exponential / beta σ's, Lu's
 * λ's, final σ, the flow shift), the rest is read off the options.
 */
export interface DiffuseRun {
  sampler: string;
  options: Readonly<Record<string, unknown>>;
  process: ProcessConfig;
  /** The times the run stepped through. */
  grid: Float64Array | GridSpec;
  steps: number;
  prediction?: Prediction;
}

/** The classes that can run each Diffuse sampler, with the option keys read off its options. */
const CLASSES: Readonly<Record<string, { cls: string; keys: (o: Readonly<Record<string, OptionValue>>) => Record<string, unknown> }[]>> = {
  ddim: [{ cls: 'DDIMScheduler', keys: (o) => x0Keys(o, true) }],
  ddpm: [{ cls: 'DDPMScheduler', keys: (o) => ({ variance_type: o.variance, ...x0Keys(o, true) }) }],
  pndm: [{ cls: 'PNDMScheduler', keys: (o) => ({ skip_prk_steps: o.skipPrk }) }],
  deis: [{ cls: 'DEISMultistepScheduler', keys: (o) => ({ solver_order: o.order, lower_order_final: o.lowerOrderFinal, ...x0Keys(o, false) }) }],
  'dpmpp-2m': [multistep(), multistep('EDMDPMSolverMultistepScheduler')],
  'dpm-solver-2m': [multistep()],
  'dpmpp-2m-sde': [multistep(), multistep('EDMDPMSolverMultistepScheduler')],
  'dpmpp-2s': [singlestep()],
  'dpm-solver-2': [singlestep()],
  unipc: [{
    cls: 'UniPCMultistepScheduler',
    keys: (o) => ({
      solver_order: o.order, solver_type: o.variant, predict_x0: o.predictX0, lower_order_final: o.lowerOrderFinal,
      disable_corrector: String(o.disableCorrector ?? '').split(',').filter((s) => s !== '').map(Number), ...x0Keys(o, false),
    }),
  }],
  euler: [{ cls: 'EulerDiscreteScheduler', keys: () => ({}) }, { cls: 'EDMEulerScheduler', keys: () => ({}) }],
  'euler-ancestral': [{ cls: 'EulerAncestralDiscreteScheduler', keys: () => ({}) }],
  heun: [{ cls: 'HeunDiscreteScheduler', keys: () => ({}) }],
  lms: [{ cls: 'LMSDiscreteScheduler', keys: () => ({}) }],
  dpm2: [{ cls: 'KDPM2DiscreteScheduler', keys: () => ({}) }],
  'dpm2-ancestral': [{ cls: 'KDPM2AncestralDiscreteScheduler', keys: () => ({}) }],
  'dpmpp-sde': [{ cls: 'DPMSolverSDEScheduler', keys: () => ({}) }],
  lcm: [{ cls: 'LCMScheduler', keys: (o) => x0Keys(o, true) }],
  tcd: [{ cls: 'TCDScheduler', keys: () => ({}) }],
  'flow-euler': [{ cls: 'FlowMatchEulerDiscreteScheduler', keys: (o) => ({ stochastic_sampling: o.stochastic }) }],
  'flow-heun': [{ cls: 'FlowMatchHeunDiscreteScheduler', keys: () => ({}) }],
};

function multistep(cls = 'DPMSolverMultistepScheduler') {
  return {
    cls,
    keys: (o: Readonly<Record<string, OptionValue>>) => ({
      solver_order: o.order, algorithm_type: Number(o.eta) > 0 ? 'sde-dpmsolver++' : o.algorithm, solver_type: o.solverType,
      lower_order_final: o.lowerOrderFinal, euler_at_final: o.eulerAtFinal, ...x0Keys(o, false),
    }),
  };
}

function singlestep() {
  return {
    cls: 'DPMSolverSinglestepScheduler',
    keys: (o: Readonly<Record<string, OptionValue>>) => ({ solver_order: o.order, algorithm_type: o.algorithm, solver_type: o.solverType, lower_order_final: o.lowerOrderFinal, ...x0Keys(o, false) }),
  };
}

/** diffusers' clip / thresholding keys from X0Options. */
function x0Keys(o: Readonly<Record<string, OptionValue>>, hasClip: boolean): Record<string, unknown> {
  const clip = Number(o.clipSample ?? 0);
  const ratio = Number(o.thresholdRatio ?? 0);
  return {
    ...(hasClip ? { clip_sample: clip > 0, ...(clip > 0 ? { clip_sample_range: clip } : {}) } : {}),
    thresholding: ratio > 0,
    ...(ratio > 0 ? { dynamic_thresholding_ratio: ratio, sample_max_value: o.sampleMaxValue } : {}),
  };
}

/** The process's keys, or undefined where no diffusers class has that process. */
function processKeys(p: ProcessConfig, cls: string): Record<string, unknown>[] | undefined {
  const c = p as unknown as Readonly<Record<string, unknown>>;
  if (p.name === 'vp-discrete') {
    if (c.finalAlphaBar !== undefined && ZERO_SNR[cls] !== 'clamped') return undefined;
    if (c.rescaleZeroSnr === true && c.finalAlphaBar === undefined && ZERO_SNR[cls] !== 'exact') return undefined;
    return [{
      num_train_timesteps: c.numTrainTimesteps ?? 1000, beta_start: c.betaStart ?? 0.0001, beta_end: c.betaEnd ?? 0.02,
      beta_schedule: c.betaSchedule ?? 'linear', ...(c.trainedBetas ? { trained_betas: c.trainedBetas } : {}),
      ...(c.rescaleZeroSnr === true ? { rescale_betas_zero_snr: true } : {}),
    }];
  }
  if (p.name === 'edm' && cls.startsWith('EDM')) return [{ sigma_min: c.sigmaMin ?? 0.002, sigma_max: c.sigmaMax ?? 80, sigma_data: c.sigmaData ?? 0.5 }];
  if (p.name === 'flow' && cls.startsWith('FlowMatch')) return [{}];
  if (p.name === 'flow' && (cls === 'DPMSolverMultistepScheduler' || cls === 'UniPCMultistepScheduler')) return [{ use_flow_sigmas: true }];
  return undefined;
}

/** The shift s in [10⁻³, 10³] where the increasing f(s) reaches `target` (bisection in log s), to 6 decimals. */
function solveShift(f: (s: number) => number, target: number): number {
  let [lo, hi] = [1e-3, 1e3];
  for (let k = 0; k < 200; k++) {
    const mid = Math.sqrt(lo * hi);
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
  return Math.round(lo * 1e6) / 1e6;
}

/** Candidate values of the keys that choose a class's schedule. */
function scheduleCandidates(cls: string, times: Float64Array, steps: number, process: string): Record<string, unknown>[] {
  if (process === 'flow' && !cls.startsWith('FlowMatch')) {
    // the multistep classes' flow σ's: flow_shift from the second time (it grows with the shift)
    const n = 1000;
    const base = cls === 'UniPCMultistepScheduler' ? 1 + (1 / n - 1) / steps : ((steps - 1) * (1 - 1 / n)) / steps;
    const s = solveShift((v) => flowShift(base, v), times[1]);
    return [{ flow_shift: s }, { flow_shift: s, final_sigmas_type: 'sigma_min' }];
  }
  if (cls.startsWith('FlowMatch')) {
    // the static shift s that puts the second time (unreplaced σ's) or the last (Karras / exponential /
    // beta σ's keep the ends) where the run's are; both grow with s, so bisection finds it
    const n = 1000;
    const second = (s: number) => flowShift((n + (flowShift(1 / n, s) * n - n) / (steps - 1)) / n, s);
    const last = (s: number) => flowShift(flowShift(1 / n, s), s);
    const shifts = [1];
    if (steps >= 2 && times[1] > 0 && times[1] < 1) shifts.push(solveShift(second, times[1]));
    const end = times[times.length - 2];
    if (end > 0 && end < 1) shifts.push(solveShift(last, end));
    const flags = cls.startsWith('FlowMatchEuler') ? [{}, { use_karras_sigmas: true }, { use_exponential_sigmas: true }, { use_beta_sigmas: true }] : [{}];
    return shifts.flatMap((shift) => flags.map((f) => ({ shift, ...f })));
  }
  if (cls.startsWith('EDM')) return ['zero', 'sigma_min'].flatMap((f) => ['karras', 'exponential'].map((s) => ({ sigma_schedule: s, final_sigmas_type: f })));
  const spacings = ['linspace', 'leading', 'trailing'].flatMap((s) => [0, 1].map((o) => ({ timestep_spacing: s, steps_offset: o })));
  const flags = [{}, { use_karras_sigmas: true }, { use_exponential_sigmas: true }, { use_beta_sigmas: true }, { use_lu_lambdas: true }];
  const finals = [{}, { final_sigmas_type: 'sigma_min' }, { set_alpha_to_one: false }];
  const logLinear = cls === 'EulerDiscreteScheduler' ? spacings.map((s) => ({ ...s, interpolation_type: 'log_linear' })) : [];
  return [...spacings.flatMap((s) => flags.flatMap((f) => finals.map((e) => ({ ...s, ...f, ...e })))), ...logLinear];
}

/** The grid without repeated times (diffusers' Heun and KDPM2 list their second evaluations; a repeat is a no-op step). */
const distinct = (g: Float64Array) => g.filter((t, i) => i === 0 || t !== g[i - 1]);

const close = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((v, i) => v === b[i] || Math.abs(v - b[i]) <= 1e-6 * Math.max(1, Math.abs(v)));

/** A diffusers scheduler_config.json (with _class_name) that runs `run`, or undefined. */
export function toDiffusersConfig(run: DiffuseRun): Record<string, unknown> | undefined {
  const entry = findSampler(run.sampler);
  const options = resolveOptions(entry, run.options);
  const times = run.grid instanceof Float64Array ? run.grid : makeGrid(createProcess(run.process), run.grid);
  const processJson = JSON.stringify(createProcess(run.process).config);
  for (const { cls, keys } of CLASSES[entry.name] ?? []) {
    const base = processKeys(run.process, cls);
    if (!base) continue;
    const flowSigmas = base[0].use_flow_sigmas === true;
    const predictionType = run.prediction === 'velocity' ? (flowSigmas ? 'flow_prediction' : undefined) : run.prediction ?? 'epsilon';
    const fixed = { ...base[0], ...keys(options), prediction_type: predictionType };
    for (const schedule of scheduleCandidates(cls, times, run.steps, run.process.name)) {
      const config = Object.fromEntries(Object.entries({ ...fixed, ...schedule }).filter(([, v]) => v !== undefined));
      let t: Translation;
      let grid: Float64Array;
      try {
        t = findReference('diffusers', cls).translate(config, run.steps);
        grid = makeGrid(createProcess(t.process), t.grid);
      } catch {
        continue; // a combination the class refuses
      }
      if (t.direction || findSampler(t.sampler).name !== entry.name) continue;
      if ((t.prediction ?? 'epsilon') !== (run.prediction ?? 'epsilon')) continue;
      const p = createProcess(t.process);
      if (JSON.stringify(p.config) !== processJson) continue;
      if (!close(distinct(grid), distinct(times))) continue;
      if (JSON.stringify(resolveOptions(entry, t.options)) !== JSON.stringify(options)) continue;
      return { _class_name: cls, ...config };
    }
  }
  return undefined;
}
