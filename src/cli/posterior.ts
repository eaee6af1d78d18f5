import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { Rng } from '../core/rng.js';
import { tensor } from '../core/tensor.js';
import { createProcess, processes, type ProcessConfig } from '../process/index.js';
import type { Process } from '../process/types.js';
import { GaussianMixture } from '../models/oracle/gmm.js';
import { FullGaussianMixture, FullGmmOracle } from '../models/oracle/full-gmm.js';
import {
  averaging, inpainting, measure, posteriorMixture, randomProjection, type LinearMeasurement,
} from '../models/oracle/posterior.js';
import type { Model } from '../models/types.js';
import { dps, pigdm } from '../guidance/inverse.js';
import { redDiff } from '../guidance/red-diff.js';
import { smcPosterior } from '../guidance/smc.js';
import { flowChef, measurementCost } from '../guidance/flowchef.js';
import { findSampler } from '../samplers/index.js';
import { defaultGrid, resolveGrid, sample } from '../sample.js';
import { medianBandwidth, mmd2, momentErrors, slicedWasserstein2 } from '../metrics/distance.js';
import { plotFormat, writeNpyFile, writePlot } from '../io/files.js';
import { samplesFigure } from '../io/plot.js';
import { checkSampleMemory } from './budget.js';
import { integerArg, numberArg } from './args.js';
import { loadExactModelArg } from './model.js';
import { checkKeys, parseSpec, specNumber } from './guide.js';
import type { CliIo } from './io.js';

/**
 * `diffuse posterior`: a posterior sampler on y = A x0 + n with an exact mixture prior, scored against
 * exact samples of the exact posterior (the posterior of a mixture under a linear-Gaussian
 * measurement is again a mixture). The truth x0* and the noise of y come from --seed.
 */

export const measureHelp = 'inpaint:dims=0 (observed coordinates: 0+2 or 0..3), project:m=4,seed=0 (random m×d, entries N(0, 1/d)) or average:factor=4';
export const methodHelp = 'ideal (exact posterior denoiser), dps:zeta=5, pigdm[:scale=1], red-diff[:lambda=0.25,lr=0.05], smc:particles=256 or flowchef[:step=0.5]';

interface PosteriorArgs {
  model: string;
  measure: string;
  noiseStd: number;
  method: string;
  process: ProcessConfig['name'];
  sampler?: string;
  steps: number;
  n: number;
  seed: number;
  out?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}

export function addPosteriorCommand(program: Command, io: CliIo): void {
  program
    .command('posterior')
    .description('solve y = A x0 + n with a posterior sampler on an exact mixture prior; SW2, MMD² and mean error against exact posterior samples')
    .option('--model <spec>', 'builtin:NAME, gmm:FILE.json[#PROBLEM] or data:FILE.npy (an exact mixture prior)', 'builtin:ring8')
    .requiredOption('--measure <spec>', measureHelp)
    .option('--noise-std <s>', 'measurement noise standard deviation s (> 0)', numberArg, 0.05)
    .option('--method <spec>', methodHelp, 'ideal')
    .addOption(new Option('--process <name>', 'forward process (flowchef: flow)').choices(processes.map((p) => p.name)).default('vp'))
    .option('--sampler <name>', 'sampler for ideal, dps and pigdm (default: dpmpp-2m for ideal, ddpm for dps and pigdm)')
    .option('--steps <n>', 'steps (iterations for red-diff)', integerArg(1, LIMITS.steps), 20)
    .option('--n <n>', 'number of samples', integerArg(2, LIMITS.samples), 500)
    .option('--seed <seed>', 'seed of the truth x0*, the measurement noise and the sampler', integerArg(0, LIMITS.seed), 0)
    .option('--out <file>', 'write the samples as .npy [n, d]')
    .option('--plot <file>', 'scatter (d = 2) or marginal histograms of the samples, .png or .svg')
    .option('--quiet', 'print nothing but errors (and --json)')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (a: PosteriorArgs) => runPosterior(a, io));
}

/** --measure → the measurement operator on d coordinates. */
export function parseMeasure(value: string, d: number, noiseStd: number): LinearMeasurement {
  const flag = '--measure';
  const spec = parseSpec(value, flag, 'project:m=4,seed=0');
  if (spec.kind === 'inpaint') {
    checkKeys(spec, ['dims'], flag);
    const dims = spec.options.dims ?? '0';
    const list = dims.split('+').flatMap((part) => {
      const r = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(part);
      if (!r) throw new UsageError(`${flag} inpaint: dims must be coordinates like 0, 0+2 or 0..3, got "${dims}"`);
      const lo = Number(r[1]);
      const hi = r[2] === undefined ? lo : Number(r[2]);
      return Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
    });
    return inpainting(d, list, noiseStd);
  }
  if (spec.kind === 'project') {
    checkKeys(spec, ['m', 'seed'], flag);
    return randomProjection(specNumber(spec, 'm', flag, undefined, true), d, new Rng(specNumber(spec, 'seed', flag, 0, true)), noiseStd);
  }
  if (spec.kind === 'average') {
    checkKeys(spec, ['factor'], flag);
    return averaging(d, specNumber(spec, 'factor', flag, undefined, true), noiseStd);
  }
  throw new UsageError(`${flag} must be ${measureHelp}; got "${value}"`);
}

export interface PosteriorSummary {
  model: string;
  measure: string;
  noiseStd: number;
  method: string;
  process: string;
  sampler?: string;
  steps: number;
  n: number;
  d: number;
  m: number;
  nfe: number;
  seed: number;
  y: number[];
  /** Against n exact posterior samples; `exactSw2` is the SW2 of n other exact samples (the floor). */
  sw2: number;
  mmd2: number;
  meanErr: number;
  covErr: number;
  exactSw2: number;
  out?: string;
  plot?: string;
}

async function runPosterior(a: PosteriorArgs, io: CliIo): Promise<void> {
  if (a.plot) plotFormat(a.plot);
  if (!(a.noiseStd > 0)) throw new UsageError(`--noise-std must be > 0, got ${a.noiseStd}`);
  const loaded = await loadExactModelArg(a.model, 'posterior');
  const prior = FullGaussianMixture.fromDiagonal(new GaussianMixture(loaded.gmm));
  const d = prior.d;
  checkSampleMemory(a.n, d);
  const meas = parseMeasure(a.measure, d, a.noiseStd);
  const rng = new Rng(a.seed);
  const y = measure(meas, prior.sample(1, rng.fork(2)), rng.fork(3));
  const post = posteriorMixture(prior, meas, y);
  const process = createProcess({ name: a.process });
  const run = await runMethod(a, process, prior, post, meas, y);
  const reference = post.sample(a.n, rng.fork(5));
  const bandwidth = medianBandwidth(reference, d, 300);
  const errors = momentErrors(run.x, d, post.moments());
  const summary: PosteriorSummary = {
    model: a.model, measure: a.measure, noiseStd: a.noiseStd, method: a.method, process: process.name, sampler: run.sampler,
    steps: a.steps, n: a.n, d, m: meas.m, nfe: run.nfe, seed: a.seed, y: Array.from(y),
    sw2: slicedWasserstein2(run.x, reference, d, new Rng(99), 128),
    mmd2: mmd2(run.x, reference, d, bandwidth).mmd2,
    meanErr: errors.mean,
    covErr: errors.covariance,
    exactSw2: slicedWasserstein2(post.sample(a.n, rng.fork(6)), reference, d, new Rng(99), 128),
  };
  if (a.out) {
    await writeNpyFile(a.out, tensor('float64', [a.n, d], run.x));
    summary.out = a.out;
  }
  if (a.plot) {
    const title = `${loaded.label} · ${a.measure} · ${a.method}${run.sampler ? ` · ${run.sampler}` : ''} · NFE ${run.nfe} · SW2 ${summary.sw2.toFixed(3)}`;
    const means = Array.from({ length: post.K }, (_, k) => Array.from(post.means.subarray(k * d, (k + 1) * d)));
    await writePlot(a.plot, samplesFigure(run.x, a.n, d, { title, means }));
    summary.plot = a.plot;
  }
  if (a.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else if (!a.quiet) io.stdout.write(describe(summary));
}

/**
 * The exact oracles need α > 0: a grid that starts where α = 0 (the flow grids at t = 1) starts at
 * 0.999 of that time instead.
 */
function oracleGrid(p: Process, grid: Float64Array): Float64Array {
  if (!(p.alpha(grid[0]) > 0)) grid[0] *= 0.999;
  return grid;
}

async function runMethod(
  a: PosteriorArgs, process: Process, prior: FullGaussianMixture, post: FullGaussianMixture, meas: LinearMeasurement, y: Float64Array,
): Promise<{ x: Float64Array; nfe: number; sampler?: string }> {
  const flag = '--method';
  const spec = parseSpec(a.method, flag, 'dps:zeta=5');
  const oracle = new FullGmmOracle(prior, process);
  const rng = new Rng(a.seed).fork(4);
  const noSampler = () => {
    if (a.sampler) throw new UsageError(`--method ${spec.kind} runs its own update; drop --sampler`);
  };
  const withSampler = async (model: Model, fallback: string) => {
    const entry = findSampler(a.sampler ?? fallback);
    const grid = oracleGrid(process, resolveGrid(process, defaultGrid(entry.defaultGrid, a.steps), a.steps, entry.defaultGrid));
    const r = await sample({ model, process, sampler: entry.name, grid, n: a.n, seed: a.seed });
    return { x: r.x.data, nfe: r.nfe, sampler: entry.name };
  };
  switch (spec.kind) {
    case 'ideal':
      checkKeys(spec, [], flag);
      return withSampler(new FullGmmOracle(post, process), 'dpmpp-2m');
    case 'dps':
      checkKeys(spec, ['zeta'], flag);
      return withSampler(dps({ prior: oracle, measurement: meas, y, zeta: specNumber(spec, 'zeta', flag, 1) }), 'ddpm');
    case 'pigdm':
      checkKeys(spec, ['scale'], flag);
      return withSampler(pigdm({ prior: oracle, measurement: meas, y, scale: specNumber(spec, 'scale', flag, 1) }), 'ddpm');
    case 'red-diff': {
      checkKeys(spec, ['lambda', 'lr'], flag);
      noSampler();
      const times = resolveGrid(process, { type: 'time-uniform', steps: a.steps, end: 'min' }, undefined, undefined).slice(0, a.steps);
      return redDiff({
        model: oracle, process, measurement: meas, y, times: oracleGrid(process, times), n: a.n, rng,
        lambda: specNumber(spec, 'lambda', flag, 0.25), lr: specNumber(spec, 'lr', flag, 0.05),
      });
    }
    case 'smc': {
      checkKeys(spec, ['particles'], flag);
      noSampler();
      const particles = specNumber(spec, 'particles', flag, a.n, true);
      if (particles !== a.n) throw new UsageError(`--method smc: particles (${particles}) must equal --n (${a.n}): the sampler returns its particles`);
      const grid = oracleGrid(process, resolveGrid(process, { type: 'logsnr', steps: a.steps, end: 'zero' }, undefined, undefined));
      return smcPosterior({ prior: oracle, measurement: meas, y, grid, particles, rng });
    }
    case 'flowchef': {
      checkKeys(spec, ['step'], flag);
      noSampler();
      const entry = findSampler('flow-euler');
      const grid = oracleGrid(process, resolveGrid(process, defaultGrid(entry.defaultGrid, a.steps), a.steps, entry.defaultGrid));
      const xT = rng.fillNormal(new Float64Array(a.n * prior.d)).map((v) => v * process.priorStd(grid[0]));
      const r = await flowChef({ model: oracle, process, grid, xT, cost: measurementCost(meas, y), stepSize: specNumber(spec, 'step', flag, 0.5) });
      return { ...r, sampler: 'flowchef (Euler)' };
    }
    default:
      throw new UsageError(`${flag} must be ${methodHelp}; got "${a.method}"`);
  }
}

function describe(s: PosteriorSummary): string {
  return [
    `${s.method}${s.sampler ? ` (${s.sampler})` : ''} on ${s.process}, ${s.model}, ${s.measure} (m=${s.m}, s=${s.noiseStd}), ${s.steps} steps`,
    `${s.n} samples × ${s.d} dims, NFE ${s.nfe}`,
    `vs exact posterior: SW2 ${s.sw2.toFixed(4)} (exact samples: ${s.exactSw2.toFixed(4)}), MMD² ${s.mmd2.toExponential(2)}, mean error ${s.meanErr.toFixed(4)}, covariance error ${s.covErr.toFixed(4)}`,
    ...(s.out ? [`wrote ${s.out} [${s.n}, ${s.d}]`] : []),
    ...(s.plot ? [`wrote ${s.plot}`] : []),
  ].join('\n') + '\n';
}
