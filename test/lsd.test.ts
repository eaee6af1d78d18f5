import { describe, expect, it } from 'vitest';
import { distillLsd, oracleFitness, teacherFitness, lsdRun, analyticCoefficients, type DistillState, type LsdCoefficients } from '../src/search/index.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';

const process = createProcess({ name: 'vp' });
const problem = builtinProblem('ring8');
const model = new GmmOracle(new GaussianMixture(problem), process, 'epsilon');
const grid = makeGrid(process, { type: 'logsnr', steps: 5, end: 'zero' });
const train = oracleFitness({ gmm: problem, process, sampler: 'lsd', n: 16, seed: 1 });
const heldOut = oracleFitness({ gmm: problem, process, sampler: 'lsd', n: 128, seed: 2 });
const tiny = { iterations: 25, learningRate: 0.03, seed: 3 };

const g0 = (spec: GridSpec) => makeGrid(process, spec).length - 1;
const score = (f: typeof train, c: LsdCoefficients) => {
  const r = lsdRun(c);
  return f(Float64Array.from(r.grid.times), r.options);
};

describe('LSD sampler', () => {
  for (const spec of [
    { type: 'logsnr', steps: 5, end: 'zero' },
    { type: 'logsnr', steps: 16, end: 'min' },
    { type: 'time-uniform', steps: 7, end: 'zero' },
  ] as GridSpec[]) {
    it(`with no or analytic coefficients equals dpmpp-2m bit for bit (${spec.type}, ${g0(spec)} steps)`, async () => {
      const g = makeGrid(process, spec);
      const ref = await sample({ model, process, sampler: 'dpmpp-2m', grid: g, n: 16, seed: 4 });
      const plain = await sample({ model, process, sampler: 'lsd', grid: g, n: 16, seed: 4 });
      const c: LsdCoefficients = { kind: 'lsd', plus: false, times: Array.from(g), coefficients: analyticCoefficients(process, g) };
      const loaded = JSON.parse(JSON.stringify(c)) as LsdCoefficients;
      const analytic = await sample({ model, process, ...lsdRun(loaded), n: 16, seed: 4 });
      expect(Array.from(plain.x.data)).toEqual(Array.from(ref.x.data));
      expect(Array.from(analytic.x.data)).toEqual(Array.from(ref.x.data));
      expect(analytic.nfe).toBe(ref.nfe);
    });
  }

  it('rejects coefficient lists that do not fit the grid', async () => {
    await expect(sample({ model, process, sampler: 'lsd', options: { coefficients: '1,0,1,0' }, steps: 3, n: 2 })).rejects.toThrow(/2 coefficient pairs but the grid has 3 steps/);
    await expect(sample({ model, process, sampler: 'lsd', options: { coefficients: '1,x' }, steps: 1, n: 2 })).rejects.toThrow(/finite numbers/);
  });
});

describe('LSD / LSD+ distillation', () => {
  it('learns at NFE 20 with the default learning rate (step-size control; a fixed rate stayed at its start)', async () => {
    const gmm16 = builtinProblem('gmm16');
    const fine = makeGrid(process, { type: 'logsnr', steps: 20, end: 'zero' });
    const fitness = oracleFitness({ gmm: gmm16, process, sampler: 'lsd', n: 32, seed: 0 });
    const r = await distillLsd({ process, initial: fine, fitness, options: { iterations: 60 } });
    expect(r.initialFitness / r.fitness).toBeGreaterThan(1.5);
  });

  it('LSD and LSD+ learned on a training batch beat dpmpp-2m on a held-out batch', async () => {
    const lsd = await distillLsd({ process, initial: grid, fitness: train, options: tiny });
    const plus = await distillLsd({ process, initial: grid, fitness: train, options: { ...tiny, plus: true } });
    const base = await heldOut(grid);
    expect(lsd.initialFitness).toBe(await train(grid));
    expect(lsd.coefficients.times).toEqual(Array.from(grid));
    expect(await score(heldOut, lsd.coefficients)).toBeLessThan(0.8 * base);
    expect(await score(heldOut, plus.coefficients)).toBeLessThan(0.8 * base);
    expect(plus.coefficients.times).not.toEqual(Array.from(grid));
    expect(plus.coefficients.times[0]).toBe(grid[0]);
    expect(plus.coefficients.times[5]).toBe(grid[5]);
  });

  it('resumes exactly and stops cleanly', async () => {
    const opts = { ...tiny, iterations: 6, plus: true };
    const full = await distillLsd({ process, initial: grid, fitness: train, options: opts });
    const stop = new AbortController();
    const first = await distillLsd({ process, initial: grid, fitness: train, options: opts, signal: stop.signal, onProgress: (p) => p.generation === 2 && stop.abort() });
    expect(first.stopped).toBe(true);
    expect(first.state.iteration).toBe(2);
    expect(first.fitness).toBeLessThanOrEqual(first.initialFitness);
    const rest = await distillLsd({ process, initial: grid, fitness: train, resume: JSON.parse(JSON.stringify(first.state)) as DistillState });
    expect(rest.stopped).toBe(false);
    expect(rest.state).toEqual(full.state);
    expect(rest.coefficients).toEqual(full.coefficients);
    const other = makeGrid(process, { type: 'logsnr', steps: 4, end: 'zero' });
    await expect(distillLsd({ process, initial: other, fitness: train, resume: first.state })).rejects.toThrow(/another base grid/);
    await expect(distillLsd({ process, initial: grid, fitness: train, options: { learningRate: 0 } })).rejects.toThrow(/learningRate must be > 0/);
  });

  it('distils from a many-step teacher for black-box models', async () => {
    const teacher = teacherFitness({ model, process, sampler: 'lsd', n: 16, seed: 1, teacher: { sampler: 'dpmpp-2m', steps: 100 } });
    const r = await distillLsd({ process, initial: grid, fitness: teacher, options: { ...tiny, iterations: 15 } });
    expect(r.fitness).toBeLessThan(0.8 * r.initialFitness);
    expect(await score(heldOut, r.coefficients)).toBeLessThan(await heldOut(grid));
  });
});
