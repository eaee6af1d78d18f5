import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { tensor } from '../core/tensor.js';
import { createProcess, processes, type ProcessConfig } from '../process/index.js';
import { GaussianMixture } from '../models/oracle/gmm.js';
import { measureHelp, methodHelp, runPosteriorSpec, type PosteriorSpecRun } from '../guidance/specs.js';
import { plotFormat, writeNpyFile, writePlot } from '../io/files.js';
import { samplesFigure } from '../io/plot.js';
import { checkSampleMemory } from './budget.js';
import { integerArg, numberArg } from './args.js';
import { loadExactModelArg } from './model.js';
import type { CliIo } from './io.js';

/**
 * `diffuse posterior`: a posterior sampler on y = A x0 + n with an exact mixture prior, scored against
 * exact samples of the exact posterior (the posterior of a mixture under a linear-Gaussian
 * measurement is again a mixture). The truth x0* and the noise of y come from --seed.
 */

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

/** What `diffuse posterior --json` prints: the run's settings and its scores (PosteriorSpecRun's). */
export interface PosteriorSummary extends Pick<PosteriorSpecRun, 'sw2' | 'mmd2' | 'meanErr' | 'covErr' | 'exactSw2' | 'reward'> {
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
  out?: string;
  plot?: string;
}

async function runPosterior(a: PosteriorArgs, io: CliIo): Promise<void> {
  if (a.plot) plotFormat(a.plot);
  if (!(a.noiseStd > 0)) throw new UsageError(`--noise-std must be > 0, got ${a.noiseStd}`);
  const loaded = await loadExactModelArg(a.model, 'posterior');
  const prior = new GaussianMixture(loaded.gmm);
  checkSampleMemory(a.n, prior.d);
  const process = createProcess({ name: a.process });
  const run = await runPosteriorSpec({ prior, measure: a.measure, noiseStd: a.noiseStd, method: a.method, process, sampler: a.sampler, steps: a.steps, n: a.n, seed: a.seed });
  const d = run.d;
  const summary: PosteriorSummary = {
    model: a.model, measure: a.measure, noiseStd: a.noiseStd, method: a.method, process: process.name, sampler: run.sampler,
    steps: a.steps, n: a.n, d, m: run.m, nfe: run.nfe, seed: a.seed, y: Array.from(run.y),
    sw2: run.sw2, mmd2: run.mmd2, meanErr: run.meanErr, covErr: run.covErr, exactSw2: run.exactSw2, reward: run.reward,
  };
  if (a.out) {
    await writeNpyFile(a.out, tensor('float64', [a.n, d], run.x));
    summary.out = a.out;
  }
  if (a.plot) {
    const post = run.posterior;
    const title = `${loaded.label} · ${a.measure} · ${a.method}${run.sampler ? ` · ${run.sampler}` : ''} · NFE ${run.nfe} · SW2 ${summary.sw2.toFixed(3)}`;
    const means = Array.from({ length: post.K }, (_, k) => Array.from(post.means.subarray(k * d, (k + 1) * d)));
    await writePlot(a.plot, samplesFigure(run.x, a.n, d, { title, means }));
    summary.plot = a.plot;
  }
  if (a.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else if (!a.quiet) io.stdout.write(describe(summary));
}

function describe(s: PosteriorSummary): string {
  return [
    `${s.method}${s.sampler ? ` (${s.sampler})` : ''} on ${s.process}, ${s.model}, ${s.measure} (m=${s.m}, s=${s.noiseStd}), ${s.steps} steps`,
    `${s.n} samples × ${s.d} dims, NFE ${s.nfe}`,
    `vs exact posterior: SW2 ${s.sw2.toFixed(4)} (exact samples: ${s.exactSw2.toFixed(4)}), MMD² ${s.mmd2.toExponential(2)}, mean error ${s.meanErr.toFixed(4)}, covariance error ${s.covErr.toFixed(4)}`,
    `mean log-likelihood of y: ${s.reward.toFixed(3)}`,
    ...(s.out ? [`wrote ${s.out} [${s.n}, ${s.d}]`] : []),
    ...(s.plot ? [`wrote ${s.plot}`] : []),
  ].join('\n') + '\n';
}
