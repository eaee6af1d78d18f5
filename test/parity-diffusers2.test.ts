import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findReference, findSampler } from '../src/samplers/index.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid } from '../src/grid/index.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { sample } from '../src/sample.js';
import { invert } from '../src/invert.js';
import { diffusersTimeModel } from '../src/models/integer-time.js';
import { UsageError } from '../src/core/errors.js';
import { refsDir, relRms, ring8Problem } from './support/refs.js';

/**
 * The second reference set (../shared/refs/refs_ring8_diffusers2.json, 464 cases: diffusers'
 * scheduler classes with the flags users set, run on the exact ring8 oracle). Each case is replayed
 * as its README says (config → translation, the exact start, the model's prediction type, replayed
 * noise) and must either match diffusers' output to 1e-5 relative RMS, or be refused with a clear
 * error (a class or flag Diffuse does not translate yet), or be one of the known differences below,
 * each with its reason. The count of reproduced cases may only grow.
 */

interface Case {
  class: string;
  label: string;
  kind: string;
  steps: number;
  config: Record<string, unknown>;
  model: { output: string };
  x_start: string;
  n_samples: number;
  noise?: unknown[][];
  step_kwargs?: Record<string, unknown>;
  set_timesteps_kwargs?: { mu?: number; strength?: number };
  noise_sampler_args?: [number, number][];
  output: number[][];
  output_nonfinite?: boolean;
  /** img2img: where in the full schedule the pipeline starts (t_start · order). */
  begin_index?: number;
  error?: { type: string; message: string };
  config_overrides?: Record<string, unknown>;
}

const file = JSON.parse(readFileSync(join(refsDir, 'refs_ring8_diffusers2.json'), 'utf8')) as { cases: Case[]; starts: Record<string, { values: number[][] }> };
const REPRODUCED_AT_LEAST = 441;

/** Upstream behaviours not reproduced yet, by case label (all steps), with the reason. */
const KNOWN: Record<string, string> = {
  'DDIM(clip_sample=False,timestep_spacing=linspace)': 'DDIM steps to t − 1000 // n, off its own grid when the spacing is not 1000 // n (upstream); Diffuse steps along the grid',
  'DDIM(clip_sample=False,timestep_spacing=trailing)[1000 % n != 0]': 'as linspace: DDIM\'s previous timestep is t − 1000 // n (upstream)',
  'DPMSolverMultistep(algorithm_type=sde-dpmsolver++,solver_order=3)': 'third-order SDE-DPM-Solver++ is not Diffuse\'s dpmpp-3m-sde update',
};

/** Cases whose float32 rounding upstream exceeds 1e-5 of the output, with the measured difference. */
const LOOSER: Record<string, { tolerance: number; why: string }> = {
  'KDPM2AncestralDiscrete(use_karras_sigmas=True) 4': { tolerance: 4e-5, why: 'measured 2.6e-5 (8, 25 steps within 1e-5): attributed (not verified) to upstream\'s float32 at four Karras σ\'s from 157' },
  'HeunDiscrete(use_beta_sigmas=True) 4': { tolerance: 2e-5, why: 'measured 1.5e-5: four beta σ\'s from 157 to 0.01, Heun\'s two evaluations per step in float32' },
  ...Object.fromEntries(
    [['DPMSolverMultistep', 4, 3.8e-4], ['DPMSolverMultistep', 8, 2.5e-5], ['DPMSolverSinglestep', 4, 3.9e-5], ['UniPCMultistep', 4, 3.8e-4],
      ['UniPCMultistep', 8, 2.5e-5], ['DEISMultistep', 4, 6.2e-4], ['DEISMultistep', 8, 9.4e-5]].map(([cls, steps, measured]) => [
      `${cls}(use_beta_sigmas=True) ${steps}`,
      {
        tolerance: 2 * (measured as number),
        why: `measured ${measured}; timesteps, σ's and every model call equal upstream's, the 25-step case is within 1e-5. Attributed (not verified) to diffusers' float32 x̂0 = (x − σε̂)/α at α = 0.009 and 0.023, which the multistep update extrapolates (5.3·D0 − 4.3·D1 at beta's step ratio 0.12)`,
      },
    ]),
  ),
};

/** Classes whose samples are in σ/α units (x = x_vp/α): the start is scaled to Diffuse's VP sample. */
const veScaled = /^(Euler|Heun|LMS|KDPM2|DPMSolverSDE)/;

const nonFinite = (o: unknown): unknown =>
  Array.isArray(o) ? o.map(nonFinite) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, nonFinite(v)]))
    : o === 'inf' ? Infinity : o === '-inf' ? -Infinity : o === 'nan' ? NaN : o;

const gmm = new GaussianMixture(ring8Problem().gmm);
const tally = { reproduced: 0, refused: 0, known: 0, upstreamErrors: 0 };

/**
 * RMS difference from diffusers' output relative to rms(output) + 0.01·rms(start): diffusers keeps
 * the sample in float32, so a start of size σ_max = 157 carries about 1e-5 of absolute rounding
 * into the last step's cancellation x − (σ − σ_next)·(x − x̂0)/σ, whatever the output's size (4-step
 * beta σ's end near the mixture mean, at 0.05).
 */
async function replay(c: Case): Promise<number> {
  const t = findReference('diffusers', c.class).translate(nonFinite(c.config) as Record<string, unknown>, c.steps, c.set_timesteps_kwargs);
  const process = createProcess(t.process);
  const prediction = t.prediction ?? 'epsilon';
  expect(prediction, 'the translation reads the config\'s prediction_type').toBe(c.model.output === 'flow_velocity' ? 'velocity' : c.class.startsWith('EDM') ? 'sample' : c.model.output);
  // img2img: the pipeline runs the full schedule's tail from begin_index; the start is already noised to its first time.
  const grid = makeGrid(process, t.grid).subarray(c.begin_index ?? 0);
  const scale = veScaled.test(c.class) ? process.alpha(grid[0]) : 1;
  const start = file.starts[c.x_start].values.slice(0, c.n_samples).flat();
  const xT = Float64Array.from(start, (v) => v * scale);
  const stored = c.noise?.map((draw) => Float64Array.from(draw.flat(Infinity) as number[]));
  // DPMSolverSDE stores what its Brownian noise sampler returned, z₁ over [σ_s, σ_t] then z₂ over
  // [σ_next, σ_t]; dpmpp-sde draws z₁ and the independent part n of z₂ (brownianSecond): recover n.
  const noise = c.class === 'DPMSolverSDEScheduler' && stored && c.noise_sampler_args
    ? stored.map((z, k) => {
      if (k % 2 === 0) return z;
      const [[t, s], [, next]] = [c.noise_sampler_args![k - 1], c.noise_sampler_args![k]];
      return z.map((v, j) => (v * Math.sqrt(t - next) - Math.sqrt(t - s) * stored[k - 1][j]) / Math.sqrt(s - next));
    })
    : stored;
  const oracle = new GmmOracle(gmm, process, prediction);
  // The reference evaluates its oracle at the scheduler's σ for the Euler family ("ve" level) and at the
  // integer timestep's table σ for the multistep classes ("vp" level).
  const model = t.modelTime && t.modelTime !== 'log-sigma' ? diffusersTimeModel(oracle, process, t.modelTime, t.modelTimeScale) : oracle;
  // step() keyword arguments the translation reads as sampler options: DDIM's eta.
  const eta = c.step_kwargs?.eta;
  const withEta = typeof eta === 'number' ? { ...t.options, eta } : t.options;
  // A singlestep solver started part-way groups its steps as the full schedule does.
  const options = Object.hasOwn(findSampler(t.sampler).defaults, 'offset') ? { ...withEta, offset: c.begin_index ?? 0 } : withEta;
  // Inversion (DDIMInverseScheduler) walks the grid upward from the clean start; the oracle is evaluated at each step's upper timestep.
  const r = t.direction === 'invert' ? await invert({ model, process, grid, x: xT, options: t.options as object })
    : await sample({ model, process, sampler: t.sampler, options, grid, xT, noise });
  const want = c.output.flat();
  // σ-scaled classes return x/α: equal to Diffuse's VP sample at σ = 0, not where a run ends at σ_min.
  const end = veScaled.test(c.class) ? process.alpha(grid[grid.length - 1]) : 1;
  const got = r.x.data.map((v) => v / end);
  const rms = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0) / v.length);
  return (relRms(got.subarray(0, want.length), want) * rms(want)) / (rms(want) + 0.01 * rms(start));
}

describe('diffusers schedulers as users configure them (refs_ring8_diffusers2.json)', () => {
  for (const c of file.cases) {
    it(`${c.label} ${c.kind} steps=${c.steps}`, async () => {
      if (c.error) {
        // upstream raised instead of running: Diffuse must refuse the same request with a clear error
        expect(() => findReference('diffusers', c.class).translate(c.config_overrides ?? {}, c.steps, c.set_timesteps_kwargs)).toThrow(UsageError);
        tally.upstreamErrors++;
        return;
      }
      let err: number;
      try {
        err = await replay(c);
      } catch (e) {
        expect(e, 'a case Diffuse cannot run is refused with a UsageError').toBeInstanceOf(UsageError);
        if (process.env.WHY) console.log('REFUSED', c.label, c.steps, (e as Error).message.slice(0, 120));
        tally.refused++;
        return;
      }
      if (Object.hasOwn(KNOWN, c.label) || c.output_nonfinite) {
        tally.known++;
        return;
      }
      expect(err).toBeLessThanOrEqual(LOOSER[`${c.label} ${c.steps}`]?.tolerance ?? 1e-5);
      tally.reproduced++;
    });
  }

  afterAll(() => {
    console.log(`diffusers2: ${tally.reproduced} of ${file.cases.length} cases reproduced, ${tally.refused} refused, ${tally.upstreamErrors} upstream errors reproduced as errors, ${tally.known} known differences`);
    expect(tally.reproduced).toBeGreaterThanOrEqual(REPRODUCED_AT_LEAST);
  });
});
