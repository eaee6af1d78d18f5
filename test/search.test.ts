import { describe, expect, it } from 'vitest';
import { searchGrid, oracleFitness, teacherFitness, type GridFitness, type SearchState } from '../src/search/index.js';
import { MAX_ARCHIVE } from '../src/search/evolution.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid, checkGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { UsageError } from '../src/core/errors.js';

const process = createProcess({ name: 'vp' });
const gmm = builtinProblem('ring8');
const initial = makeGrid(process, { type: 'logsnr', steps: 4, end: 'zero' });
const fitness = oracleFitness({ gmm, process, sampler: 'dpmpp-2m', n: 8, seed: 1 });
const tiny = { population: 5, generations: 3, parents: 2, seed: 7 };

function expectValid(times: readonly number[]): void {
  const g = Float64Array.from(times);
  checkGrid(process, g);
  for (let i = 1; i < g.length; i++) expect(g[i]).toBeLessThan(g[i - 1]);
  expect(g[0]).toBe(initial[0]);
  expect(g[g.length - 1]).toBe(initial[initial.length - 1]);
  expect(g.length).toBe(initial.length);
}

describe('AutoDiffusion grid search', () => {
  it('improves the fitness of its initial grid and returns a valid grid that sample() loads from JSON', async () => {
    const seen: number[] = [];
    const r = await searchGrid({ process, initial, fitness, options: tiny, onProgress: (p) => seen.push(p.generation) });
    expect(r.initialFitness).toBe(await fitness(initial));
    expect(r.fitness).toBeLessThan(0.8 * r.initialFitness);
    expect(r.stopped).toBe(false);
    expect(seen).toEqual([0, 1, 2, 3]);
    expectValid(r.grid.times);
    const spec = JSON.parse(JSON.stringify(r.grid)) as GridSpec;
    const model = new GmmOracle(new GaussianMixture(gmm), process, 'epsilon');
    const run = await sample({ model, process, sampler: 'dpmpp-2m', grid: spec, n: 2 });
    expect(Array.from(run.grid)).toEqual(r.grid.times);
  });

  it('resumed from a saved state, continues exactly as an uninterrupted run', async () => {
    const full = await searchGrid({ process, initial, fitness, options: tiny });
    const stop = new AbortController();
    const first = await searchGrid({
      process, initial, fitness, options: tiny, signal: stop.signal,
      onProgress: (p) => p.generation === 1 && stop.abort(),
    });
    expect(first.stopped).toBe(true);
    expect(first.state.generation).toBe(1);
    const saved = JSON.parse(JSON.stringify(first.state)) as SearchState;
    const rest = await searchGrid({ process, initial, fitness, resume: saved });
    expect(rest.stopped).toBe(false);
    expect(rest.grid).toEqual(full.grid);
    expect(rest.state).toEqual(full.state);
  });

  it('remembers at most MAX_ARCHIVE scored grids, so a long search stays bounded, and resumes exactly past the bound', async () => {
    // A cheap deterministic fitness with many distinct grids: 60 × 150 children, more than MAX_ARCHIVE of them new.
    const cheap: GridFitness = async (g) => g.reduce((s, t, i) => s + Math.abs(t - 1 + i / (g.length - 1)), 0);
    const long = { population: 60, generations: 150, parents: 5, seed: 3 };
    const wide = makeGrid(process, { type: 'logsnr', steps: 12, end: 'zero' });
    const full = await searchGrid({ process, initial: wide, fitness: cheap, options: long });
    expect(full.state.evaluations).toBeGreaterThan(MAX_ARCHIVE);
    expect(full.state.archive).toHaveLength(MAX_ARCHIVE);
    const stop = new AbortController();
    const first = await searchGrid({
      process, initial: wide, fitness: cheap, options: long, signal: stop.signal, onProgress: (p) => p.generation === 120 && stop.abort(),
    });
    expect(first.state.archive).toHaveLength(MAX_ARCHIVE);
    const rest = await searchGrid({ process, initial: wide, fitness: cheap, resume: JSON.parse(JSON.stringify(first.state)) as SearchState });
    expect(rest.state).toEqual(full.state);
  });

  it('stops cleanly mid-generation with the best grid so far and no further evaluations', async () => {
    const stop = new AbortController();
    let calls = 0;
    const counting: GridFitness = async (g) => {
      calls++;
      if (calls === 15) stop.abort();
      return fitness(g);
    };
    const r = await searchGrid({ process, initial, fitness: counting, options: { ...tiny, population: 12 }, signal: stop.signal });
    expect(r.stopped).toBe(true);
    expect(calls).toBe(15);
    expect(r.state.generation).toBe(0);
    expect(r.fitness).toBeLessThanOrEqual(r.initialFitness);
    expectValid(r.grid.times);
  });

  it('a stop during the initial population still returns the best grid scored', async () => {
    const stop = new AbortController();
    stop.abort();
    const r = await searchGrid({ process, initial, fitness, options: tiny, signal: stop.signal });
    expect(r.stopped).toBe(true);
    expect(r.grid.times).toEqual(Array.from(initial));
  });

  it('scores grids against a many-step teacher for black-box models', async () => {
    const model = new GmmOracle(new GaussianMixture(gmm), process, 'epsilon');
    const f = teacherFitness({ model, process, sampler: 'dpmpp-2m', n: 8, teacher: { sampler: 'dpmpp-2m', steps: 60 } });
    const coarse = await f(makeGrid(process, { type: 'logsnr', steps: 4, end: 'zero' }));
    const fine = await f(makeGrid(process, { type: 'logsnr', steps: 30, end: 'zero' }));
    expect(fine).toBeLessThan(coarse / 10);
  });

  it('rejects bad options, grids and states, saying what is accepted', async () => {
    await expect(searchGrid({ process, initial, fitness, options: { parents: 5, population: 5 } })).rejects.toThrow(/parents must be below population/);
    await expect(searchGrid({ process, initial, fitness, options: { generations: -1 } })).rejects.toThrow(UsageError);
    await expect(searchGrid({ process, initial, fitness, options: { crossover: 2 } })).rejects.toThrow(/probability in \[0, 1\]/);
    const oneStep = makeGrid(process, { type: 'logsnr', steps: 1, end: 'zero' });
    await expect(searchGrid({ process, initial: oneStep, fitness })).rejects.toThrow(/at least 2 steps/);
    const first = await searchGrid({ process, initial, fitness, options: { ...tiny, generations: 0 } });
    const other = makeGrid(process, { type: 'logsnr', steps: 5, end: 'zero' });
    await expect(searchGrid({ process, initial: other, fitness, resume: first.state })).rejects.toThrow(/4-step grid/);
  });
});
