import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { refsDir } from './support/refs.js';
import { findReference } from '../src/samplers/index.js';
import { toDiffusersConfig } from '../src/samplers/to-diffusers.js';
import { makeGrid } from '../src/grid/index.js';
import { createProcess } from '../src/process/index.js';

interface Case { class: string; label: string; kind: string; steps: number; config?: Record<string, unknown>; set_timesteps_kwargs?: { mu?: number }; step_kwargs?: { eta?: number } }
const nonFinite = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === '-inf' ? -Infinity : v]));

describe('toDiffusersConfig: the diffusers config that runs a Diffuse run', () => {
  it('finds a config for the runs of the reference configs (refs_ring8_diffusers2), and it translates back to the same run', () => {
    const refs = JSON.parse(readFileSync(join(refsDir, 'refs_ring8_diffusers2.json'), 'utf8')) as { cases: Case[] };
    const seen = new Set<string>();
    let found = 0;
    const missing: string[] = [];
    for (const c of refs.cases) {
      if (!c.config || c.kind === 'img2img' || seen.has(`${c.label} ${c.steps}`) || c.set_timesteps_kwargs?.mu !== undefined) continue;
      seen.add(`${c.label} ${c.steps}`);
      let t;
      try {
        t = findReference('diffusers', c.class).translate(nonFinite(c.config), c.steps);
        makeGrid(createProcess(t.process), t.grid);
      } catch {
        continue; // refused (see parity-diffusers2)
      }
      if (t.direction) continue;
      const config = toDiffusersConfig({ sampler: t.sampler, options: t.options, process: t.process, grid: t.grid, steps: c.steps, prediction: t.prediction });
      if (!config) {
        missing.push(`${c.label} ${c.steps}`);
        continue;
      }
      found++;
      const back = findReference('diffusers', config._class_name as string).translate(config, c.steps);
      expect(back.sampler).toBe(t.sampler);
    }
    console.log(`toDiffusersConfig: ${found} of ${found + missing.length} translated reference runs; none for: ${missing.join('; ')}`);
    expect(found).toBeGreaterThan(0.9 * (found + missing.length));
  });

  it('gives the expected config for DPM++ 2M Karras on SD 1.5\'s betas, and none for a process diffusers lacks', () => {
    const sd = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, use_karras_sigmas: true, timestep_spacing: 'leading', steps_offset: 1 };
    const t = findReference('diffusers', 'DPMSolverMultistepScheduler').translate(sd, 20);
    const config = toDiffusersConfig({ sampler: t.sampler, options: t.options, process: t.process, grid: t.grid, steps: 20, prediction: 'epsilon' });
    expect(config).toMatchObject({ _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true, beta_schedule: 'scaled_linear', solver_order: 2, algorithm_type: 'dpmsolver++' });
    expect(toDiffusersConfig({ sampler: 'dpmpp-2m', options: {}, process: { name: 'vp' }, grid: { type: 'logsnr', steps: 10, end: 'zero' }, steps: 10 })).toBeUndefined();
  });
});
