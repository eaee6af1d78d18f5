import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createProcess, makeGrid, sigmaVe, type GridSpec } from '../src/index.js';
import '../src/sample.js';
import { betaCdf, betaPpf, logGamma } from '../src/core/special.js';

/**
 * ComfyUI's and A1111's σ schedules against the lists their own code gives for Stable Diffusion
 * 1.x (test/fixtures/schedules/sd1-sigmas.json: made by running comfy/samplers.py and A1111's
 * modules/sd_schedulers.py; ComfyUI holds its table in float64, A1111 in float32, torch rounds
 * its intermediate steps to float32, hence a relative tolerance of 2e-5).
 */
type Lists = Record<string, Record<string, number[]>>;
const refs = JSON.parse(readFileSync(new URL('./fixtures/schedules/sd1-sigmas.json', import.meta.url), 'utf8')) as {
  sigma_min: number; sigma_max: number; comfyui: Lists; comfyui_ksampler_drop_penultimate: Lists; a1111: Lists;
};
const sd = createProcess({ name: 'vp-discrete', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' });
const sigmas = (spec: GridSpec) => Array.from(makeGrid(sd, spec), (t) => sigmaVe(sd, t));

function expectSigmas(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((s, i) => {
    if (want[i] === 0) expect(s).toBe(0);
    else expect(Math.abs(s / want[i] - 1), `σ[${i}] = ${s}, reference ${want[i]}`).toBeLessThan(2e-5);
  });
}

const comfyGrids: Record<string, (steps: number) => GridSpec> = {
  normal: (steps) => ({ type: 'normal', steps }),
  karras: (steps) => ({ type: 'karras', steps }),
  exponential: (steps) => ({ type: 'exponential', steps }),
  sgm_uniform: (steps) => ({ type: 'sgm-uniform', steps }),
  simple: (steps) => ({ type: 'simple', steps }),
  ddim_uniform: (steps) => ({ type: 'ddim-uniform', steps }),
  beta: (steps) => ({ type: 'beta', steps }),
  linear_quadratic: (steps) => ({ type: 'linear-quadratic', steps }),
  kl_optimal: (steps) => ({ type: 'kl-optimal', steps }),
};

describe('ComfyUI schedulers on SD 1.x, against comfy/samplers.py', () => {
  it('the process has ComfyUI\'s σ range', () => {
    expect(Math.abs(sigmaVe(sd, sd.tMin) / refs.sigma_min - 1)).toBeLessThan(2e-5);
    expect(Math.abs(sigmaVe(sd, sd.tMax) / refs.sigma_max - 1)).toBeLessThan(2e-5);
  });
  for (const [name, byStep] of Object.entries(refs.comfyui)) {
    for (const [steps, want] of Object.entries(byStep)) {
      it(`${name}, ${steps} steps`, () => expectSigmas(sigmas(comfyGrids[name](Number(steps))), want));
    }
  }
  for (const [name, byStep] of Object.entries(refs.comfyui_ksampler_drop_penultimate)) {
    for (const [steps, want] of Object.entries(byStep)) {
      it(`KSampler's dpm_2 / uni_pc σ (steps + 1, next-to-last dropped): ${name}, ${steps} steps`, () =>
        expectSigmas(sigmas({ type: 'drop-penultimate', steps: Number(steps), of: comfyGrids[name](Number(steps)) }), want));
    }
  }
});

describe('A1111 Schedule types that mean the same, against modules/sd_schedulers.py', () => {
  const a1111: Record<string, (steps: number) => GridSpec> = {
    Uniform: (steps) => ({ type: 'normal', steps }),
    Normal: (steps) => ({ type: 'normal', steps }),
    Karras: (steps) => ({ type: 'karras', steps }),
    Exponential: (steps) => ({ type: 'exponential', steps }),
    'SGM Uniform': (steps) => ({ type: 'sgm-uniform', steps }),
    Simple: (steps) => ({ type: 'simple', steps }),
    DDIM: (steps) => ({ type: 'ddim-uniform', steps }),
  };
  for (const [name, byStep] of Object.entries(refs.a1111)) {
    for (const [steps, want] of Object.entries(byStep)) {
      it(`${name}, ${steps} steps`, () => expectSigmas(sigmas(a1111[name](Number(steps))), want));
    }
  }
});

describe('schedules that need a discrete model say so', () => {
  it('normal on the continuous VP process is refused with what it needs', () => {
    expect(() => makeGrid(createProcess({ name: 'vp' }), { type: 'normal', steps: 10 })).toThrow(/needs process vp-discrete, got vp/);
  });
  it('drop-penultimate without the grid to build is refused', () => {
    expect(() => makeGrid(sd, { type: 'drop-penultimate', steps: 10 } as unknown as GridSpec)).toThrow(/needs "of"/);
  });
});

describe('Beta distribution (for the beta schedule)', () => {
  it('log Γ at known values', () => {
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 13);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
  });
  it('CDF of Beta(1, 1) is x and of Beta(2, 1) is x²; PPF inverts the CDF', () => {
    for (const x of [0.1, 0.37, 0.9]) {
      expect(betaCdf(x, 1, 1)).toBeCloseTo(x, 13);
      expect(betaCdf(x, 2, 1)).toBeCloseTo(x * x, 13);
      expect(betaCdf(betaPpf(x, 0.6, 0.6), 0.6, 0.6)).toBeCloseTo(x, 12);
    }
    // scipy.stats.beta.ppf(0.9, 0.6, 0.6) = 0.9624862… (symmetric: ppf(0.1) = 1 − that)
    expect(betaPpf(0.1, 0.6, 0.6) + betaPpf(0.9, 0.6, 0.6)).toBeCloseTo(1, 12);
    expect(betaPpf(0.5, 0.6, 0.6)).toBe(0.5);
  });
});
