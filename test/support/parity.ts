import { findReference, type Translation } from '../../src/samplers/index.js';
import { createProcess } from '../../src/process/index.js';
import { GaussianMixture, GmmOracle } from '../../src/models/oracle/gmm.js';
import { sample, type SampleResult } from '../../src/sample.js';
import { makeGrid } from '../../src/grid/index.js';
import { ring8Problem, type RefCase } from './refs.js';

/** k-diffusion cases carry no config for the deterministic samplers: the conventions apply. */
const kdiffusionDefaults = { schedule: 'karras', rho: 7, sigma_min: 0.002, sigma_max: 80 };

export function translateCase(c: RefCase): Translation {
  const mapping = findReference(c.library, c.sampler);
  const config = c.config ?? (c.library === 'k-diffusion' ? kdiffusionDefaults : {});
  return mapping.translate(config, c.steps);
}

/** Run a reference case through Diffuse: same config, same z, same replayed noise. */
export async function runCase(c: RefCase): Promise<{ result: SampleResult; translation: Translation; timesteps: number[] }> {
  const problem = ring8Problem();
  const translation = translateCase(c);
  const process = createProcess(translation.process);
  const model = new GmmOracle(new GaussianMixture(problem.gmm), process, 'epsilon');
  const grid = makeGrid(process, translation.grid);
  const n = c.n_samples_stored;
  const z = Float64Array.from(problem.z.slice(0, n).flat());
  const scale = translation.init === 'sigma' ? process.sigma(grid[0]) : process.priorStd(grid[0]);
  const xT = z.map((v) => v * scale);
  const noise = c.noise?.map((draw) => Float64Array.from(draw.flat()));
  const result = await sample({
    model, process, sampler: translation.sampler, options: translation.options, grid, xT, noise,
  });
  const mapping = findReference(c.library, c.sampler);
  const timesteps = mapping.timesteps ? mapping.timesteps(grid, c.steps, c.config ?? {}) : Array.from(grid.subarray(0, grid.length - 1));
  return { result, translation, timesteps };
}
