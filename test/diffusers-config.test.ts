import { describe, expect, it } from 'vitest';
import { fromDiffusersConfig, findReference } from '../src/samplers/index.js';
import { DIFFUSERS_DEFAULTS } from '../src/samplers/diffusers-classes.js';
import { VpDiscrete, rescaleZeroTerminalSnr, betas } from '../src/process/vp-discrete.js';
import { createProcess } from '../src/process/index.js';
import { UsageError } from '../src/core/errors.js';

/** Stable Diffusion 1.5's scheduler/scheduler_config.json, as the model repository ships it. */
const sd15 = {
  _class_name: 'PNDMScheduler', _diffusers_version: '0.6.0', beta_end: 0.012, beta_schedule: 'scaled_linear', beta_start: 0.00085,
  num_train_timesteps: 1000, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, trained_betas: null, clip_sample: false,
};

describe('a diffusers scheduler_config.json as it is (fromDiffusersConfig)', () => {
  it('reads _class_name and translates; keys the class does not have are warnings, as diffusers ignores them', () => {
    const t = fromDiffusersConfig(sd15, 20);
    expect(t).toMatchObject({ className: 'PNDMScheduler', sampler: 'pndm', prediction: 'epsilon' });
    expect(t.process).toMatchObject({ name: 'vp-discrete', betaSchedule: 'scaled_linear', betaStart: 0.00085 });
    // PNDMScheduler has no clip_sample (SD 1.5's file carries it from DDIM); _diffusers_version is bookkeeping.
    expect(t.warnings).toEqual(['PNDMScheduler has no config key clip_sample; ignored, as diffusers ignores it']);
    expect(fromDiffusersConfig({ ...sd15, _class_name: 'DDIMScheduler' }, 20).warnings).toEqual(['DDIMScheduler has no config key skip_prk_steps; ignored, as diffusers ignores it']);
  });

  it('a key of the class that Diffuse does not translate is an error naming class, key and value', () => {
    // Stable Video Diffusion's EulerDiscreteScheduler sets sigma_min / sigma_max, which Diffuse does not read.
    const svd = { _class_name: 'EulerDiscreteScheduler', sigma_min: 0.002, sigma_max: 700, use_karras_sigmas: true, prediction_type: 'v_prediction' };
    expect(() => fromDiffusersConfig(svd, 10)).toThrow(/EulerDiscreteScheduler with sigma_(min|max)=(0\.002|700) is not translated/);
    // The same key at its default is not an error.
    expect(() => fromDiffusersConfig({ ...svd, sigma_min: null, sigma_max: null }, 10)).not.toThrow();
    expect(() => fromDiffusersConfig({ _class_name: 'DPMSolverMultistepScheduler', variance_type: 'learned_range' }, 10)).toThrow(UsageError);
  });

  it('refuses a config without _class_name, a wrong type, and an unknown class', () => {
    expect(() => fromDiffusersConfig({ beta_start: 0.001 }, 10)).toThrow(/_class_name/);
    expect(() => fromDiffusersConfig({ _class_name: 'DDIMScheduler', num_train_timesteps: 'many' }, 10)).toThrow(/num_train_timesteps/);
    expect(() => fromDiffusersConfig({ _class_name: 'NoSuchScheduler' }, 10)).toThrow(/no translation for diffusers:NoSuchScheduler/);
  });

  it('every translated diffusers class has its keys and defaults listed', () => {
    const translated = ['DDIMScheduler', 'DDPMScheduler', 'PNDMScheduler', 'DEISMultistepScheduler', 'DPMSolverMultistepScheduler', 'DPMSolverSinglestepScheduler',
      'UniPCMultistepScheduler', 'EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'HeunDiscreteScheduler', 'LMSDiscreteScheduler',
      'KDPM2DiscreteScheduler', 'KDPM2AncestralDiscreteScheduler', 'LCMScheduler', 'TCDScheduler', 'DDIMInverseScheduler', 'EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler',
      'FlowMatchEulerDiscreteScheduler', 'FlowMatchHeunDiscreteScheduler'];
    for (const cls of translated) {
      expect(findReference('diffusers', cls).name).toBe(cls);
      expect(Object.keys(DIFFUSERS_DEFAULTS[cls] ?? {}).length, cls).toBeGreaterThan(0);
      // Each class's own defaults translate with no error and no warning.
      const t = findReference('diffusers', cls).translate(DIFFUSERS_DEFAULTS[cls], 10);
      expect(t.warnings, cls).toBeUndefined();
    }
  });
});

describe('zero terminal SNR and trained betas (vp-discrete)', () => {
  it('rescales √ᾱ to end at 0 and keep its first value (Lin et al. 2024, Alg. 1)', () => {
    const b = betas('linear', 0.0001, 0.02, 1000);
    const plain = new VpDiscrete();
    const zero = new VpDiscrete({ rescaleZeroSnr: true });
    expect(zero.alphasCumprod[999]).toBe(0);
    expect(zero.alphasCumprod[0]).toBeCloseTo(plain.alphasCumprod[0], 7);
    expect(rescaleZeroTerminalSnr(b)[999]).toBe(1);
    expect(zero.logSnr(999)).toBe(-Infinity);
    expect(Number.isFinite(zero.sigmaVeAt(998))).toBe(true);
  });

  it('DDIM keeps ᾱ = 0; Euler, DPM-Solver and UniPC clamp it to 2⁻²⁴ (σ ≈ 4096) as diffusers does', () => {
    const c = { rescale_betas_zero_snr: true, timestep_spacing: 'trailing', prediction_type: 'v_prediction' };
    const ddim = createProcess(findReference('diffusers', 'DDIMScheduler').translate({ ...c, clip_sample: false }, 4).process) as VpDiscrete;
    expect(ddim.alphasCumprod[999]).toBe(0);
    for (const cls of ['EulerDiscreteScheduler', 'DPMSolverMultistepScheduler', 'UniPCMultistepScheduler']) {
      const p = createProcess(findReference('diffusers', cls).translate(c, 4).process) as VpDiscrete;
      expect(p.alphasCumprod[999], cls).toBe(2 ** -24);
      expect(Math.fround(p.sigmaVeAt(999))).toBe(4095.999755859375); // upstream's first σ in refs_ring8_diffusers2
    }
    // A class without the key ignores it, as diffusers does, and says so.
    const heun = findReference('diffusers', 'HeunDiscreteScheduler').translate(c, 4);
    expect(heun.process).not.toHaveProperty('rescaleZeroSnr');
    expect(heun.warnings).toEqual(['HeunDiscreteScheduler has no config key rescale_betas_zero_snr; ignored, as diffusers ignores it']);
  });

  it('trained_betas replace the named schedule', () => {
    const b = Array.from(betas('linear', 0.0001, 0.02, 1000));
    const t = findReference('diffusers', 'DDIMScheduler').translate({ trained_betas: b, beta_schedule: 'scaled_linear' }, 10);
    const p = createProcess(t.process) as VpDiscrete;
    expect(Array.from(p.alphasCumprod)).toEqual(Array.from(new VpDiscrete().alphasCumprod));
    expect(() => new VpDiscrete({ trainedBetas: b.slice(1) })).toThrow(/trainedBetas must be numTrainTimesteps = 1000 numbers/);
    expect(() => new VpDiscrete({ finalAlphaBar: 0.5 })).toThrow(/needs rescaleZeroSnr/);
  });
});

describe('FlowMatch dynamic shifting (Flux)', () => {
  const flux = { _class_name: 'FlowMatchEulerDiscreteScheduler', base_image_seq_len: 256, base_shift: 0.5, max_image_seq_len: 4096, max_shift: 1.15, num_train_timesteps: 1000, shift: 3.0, use_dynamic_shifting: true };
  it("μ is linear in the image's token count (diffusers' calculate_shift)", async () => {
    const { flowShiftMu } = await import('../src/samplers/flow.js');
    expect(flowShiftMu(4096, flux)).toBeCloseTo(1.15, 12);
    expect(flowShiftMu(256, flux)).toBeCloseTo(0.5, 12);
    expect(flowShiftMu(1024, flux)).toBeCloseTo(0.5 + 0.65 * (768 / 3840), 12);
  });
  it('needs μ, then shifts σ by e^μ/(e^μ + 1/σ − 1)', () => {
    expect(() => fromDiffusersConfig(flux, 4)).toThrow(/needs mu/);
    const t = fromDiffusersConfig(flux, 4, 'flux', { mu: 1.15 });
    const g = (t.grid as { times: number[] }).times;
    // refs_ring8_diffusers2's FlowMatchEulerDiscrete(use_dynamic_shifting=True, mu=1.15) σ's, float32
    expect(g).toEqual([1, 0.8634974360466003, 0.6129788756370544, 0.0031513916328549385, 0]);
  });
});

describe('img2img starts where each pipeline starts (strengthStart, gridTail)', () => {
  it("reproduces every img2img case's t_start and begin index in refs_ring8_diffusers2", async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { refsDir } = await import('./support/refs.js');
    const { strengthStart, gridTail } = await import('../src/img2img.js');
    const { makeGrid } = await import('../src/grid/index.js');
    const refs = JSON.parse(readFileSync(join(refsDir, 'refs_ring8_diffusers2.json'), 'utf8')) as { cases: { class: string; kind: string; steps: number; strength: number; t_start: number; t_start_rule?: string; begin_index: number; config: Record<string, unknown> }[] };
    const cases = refs.cases.filter((c) => c.kind === 'img2img' && c.t_start_rule && !c.t_start_rule.startsWith('LCM'));
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const c of cases) {
      const rule = c.t_start_rule!.startsWith('SD3') ? 'flow' : 'sd';
      expect(strengthStart(c.steps, c.strength, rule), `${c.class} ${c.steps} ${c.strength}`).toBe(c.t_start);
      const t = findReference('diffusers', c.class).translate(c.config, c.steps);
      const grid = makeGrid(createProcess(t.process), t.grid);
      // the tail's first step starts where the reference's begin index does (a repeated time is a no-op step)
      expect(gridTail(grid, c.t_start)[0], `${c.class} ${c.steps}`).toBe(grid[c.begin_index]);
    }
    expect(strengthStart(10, 0.35, 'sd')).toBe(7);
    expect(strengthStart(10, 0.35, 'flow')).toBe(6);
    expect(() => strengthStart(10, 0.05, 'sd')).toThrow(/leaves no step/);
    expect(strengthStart(4, 0.6, 'schedule')).toBe(0);
    expect(() => strengthStart(4, 0.6, 'lcm' as never)).toThrow(/strength rule must be sd, flow or schedule, got lcm/);
  });
});

describe('EDM classes start where upstream starts', () => {
  it("x_T = √(σ_max² + 1)·z (init_noise_sigma), not σ_max·z", () => {
    for (const cls of ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler']) expect(findReference('diffusers', cls).translate({}, 10).init, cls).toBe('sigma-plus-one');
  });
});
