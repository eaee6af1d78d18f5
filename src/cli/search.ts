import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { createProcess, processes, type ProcessConfig } from '../process/index.js';
import type { Process } from '../process/types.js';
import { predictions, type Prediction } from '../param/convert.js';
import type { Model } from '../models/types.js';
import { GaussianMixture, GmmOracle } from '../models/oracle/gmm.js';
import { oracleFitness, teacherFitness, runSearchMethod, type RunFitness, type SearchProgress } from '../search/index.js';
import { readJsonObject, writeTextFile } from '../io/files.js';
import { searchFileSchema, searchMethods, validate, type SearchFile, type SearchMethod } from '../io/formats.js';

import { integerArg, keyValueArg, nonNegativeArg, numberArg, positiveArg } from './args.js';
import { guided } from '../models/onnx/index.js';
import { loadModelArg } from './model.js';
import { checkSampleMemory } from './budget.js';
import { progressBar, type CliIo } from './io.js';

/**
 * `diffuse search`: AutoDiffusion (time steps of a sampler), S³ (per-step solver schedule) or
 * LSD / LSD+ (distilled sampler coefficients) for one model, process and NFE budget. Exact models
 * are scored by the exact error, networks by the distance to a many-step teacher. Ctrl-C (or
 * --time-limit) stops the search cleanly and still writes the best result so far with its state;
 * --resume continues from such a file. The file loads into sample/bench with --grid-file,
 * --schedule or --lsd.
 */


interface SearchArgs {
  method: SearchMethod;
  model: string;
  prediction: Prediction;
  process: ProcessConfig['name'];
  sampler: string;
  opt: Record<string, string>;
  nfe: number;
  n: number;
  seed: number;
  population?: number;
  generations?: number;
  parents?: number;
  screen?: number;
  iterations?: number;
  learningRate?: number;
  searchSeed?: number;
  teacherSteps: number;
  cfg: number;
  resume?: string;
  timeLimit?: number;
  out: string;
  quiet?: boolean;
  json?: boolean;
}

export function addSearchCommand(program: Command, io: CliIo): void {
  program
    .command('search')
    .description('search time steps (AutoDiffusion), solver schedules (S³) or distilled coefficients (LSD/LSD+) for an NFE budget; writes JSON for sample/bench')
    .addOption(new Option('--method <m>', 'autodiffusion, s3, lsd or lsd+ (LSD+ also learns the times)').choices(searchMethods).default('autodiffusion'))
    .option('--model <spec>', 'builtin:NAME, gmm:FILE.json[#PROBLEM], data:FILE.npy (exact error) or onnx:CARD.json (distance to a teacher)', 'builtin:ring8')
    .addOption(new Option('--prediction <type>', 'what the oracle model predicts').choices(predictions).default('epsilon'))
    .addOption(new Option('--process <name>', 'forward process').choices(processes.map((p) => p.name)).default('vp'))
    .option('--sampler <name>', 'autodiffusion: the sampler whose grid is searched (s3 searches `schedule`, lsd the `lsd` sampler)', 'dpmpp-2m')
    .option('--opt <key=value>', 'autodiffusion: sampler option, repeatable', keyValueArg, {})
    .option('--nfe <n>', 'model calls per sample the result may spend', integerArg(1, LIMITS.steps), 10)
    .option('--n <n>', 'samples in the training batch', integerArg(1, LIMITS.samples), 64)
    .option('--seed <seed>', 'seed of the training batch', integerArg(0, LIMITS.seed), 1)
    .option('--population <n>', 'autodiffusion/s3: grids per generation (default 20)', integerArg(2, LIMITS.population))
    .option('--generations <n>', 'autodiffusion/s3: generations (default 25)', integerArg(0, LIMITS.generations))
    .option('--parents <n>', 'autodiffusion/s3: best kept and bred (default 5)', integerArg(1, LIMITS.population))
    .option('--screen <n>', 's3: candidates the predictor ranks per evaluation (default 4)', integerArg(1, LIMITS.population))
    .option('--iterations <n>', 'lsd: SPSA + Adam iterations, 3 runs each (default 150)', integerArg(0, LIMITS.iterations))
    .option('--learning-rate <x>', 'lsd: Adam step size (default 0.02; cut back by ×0.7 after a step that makes the fit worse)', positiveArg)
    .option('--search-seed <seed>', 'seed of the search itself (default 0)', integerArg(0, LIMITS.seed))
    .option('--teacher-steps <n>', 'onnx models: dpmpp-2m steps of the teacher', integerArg(2, LIMITS.steps), 200)
    .option('--cfg <w>', 'onnx class-conditional models: classifier-free guidance scale (labels 0..K−1 cycled, as diffuse eval)', numberArg, 1)
    .option('--resume <file>', 'continue the search saved in this result file')
    .option('--time-limit <s>', 'stop cleanly after this many seconds (as Ctrl-C does)', nonNegativeArg)
    .requiredOption('--out <file>', 'write the result (and the state to resume from) as JSON')
    .option('--quiet', 'print nothing but errors (and --json)')
    .option('--json', 'print the result file on stdout')
    .action(async (opts: SearchArgs) => runSearch(opts, io));
}

interface Target {
  process: Process;
  fitness: (sampler: string, options?: Record<string, unknown>) => RunFitness;
  /** A model for one-sample NFE counts. */
  model: Model;
  d: number;
}

/** Each run first yields to the event loop, so Ctrl-C and --time-limit are seen between runs. */
const yielding = (f: RunFitness): RunFitness => async (grid, options) => {
  await new Promise((resolve) => setImmediate(resolve));
  return f(grid, options);
};

async function targetOf(a: SearchArgs): Promise<Target> {
  const loaded = await loadModelArg(a.model);
  checkSampleMemory(a.n, loaded.kind === 'gmm' ? loaded.gmm.d : loaded.model.sampleShape.reduce((x, y) => x * y, 1));
  const batch = { n: a.n, seed: a.seed };
  if (loaded.kind === 'gmm') {
    const process = createProcess({ name: a.process });
    const gmm = new GaussianMixture(loaded.gmm);
    return {
      process, d: gmm.d, model: new GmmOracle(gmm, process, a.prediction),
      fitness: (sampler, options) => yielding(oracleFitness({ gmm, process, sampler, options, prediction: a.prediction, ...batch })),
    };
  }
  const net = loaded.model;
  // a class-conditional network is searched as `diffuse eval` samples it: labels 0..K−1 cycled, guided at --cfg
  const labels = net.numClasses === undefined ? undefined : Int32Array.from({ length: a.n }, (_, i) => i % (net.numClasses ?? 1));
  if (!labels && a.cfg !== 1) throw new UsageError('--cfg needs a class-conditional network (its card names num_classes)');
  const model = !labels ? net : a.cfg === 1 ? net.withLabels(labels) : guided(net, { labels, scale: a.cfg });
  const one = !labels ? net : net.withLabels(labels.subarray(0, 1));
  return {
    process: net.process, d: net.sampleShape.reduce((x, y) => x * y, 1), model: one,
    fitness: (sampler, options) => yielding(teacherFitness({ model, process: net.process, sampler, options, teacher: { sampler: 'dpmpp-2m', steps: a.teacherSteps }, ...batch })),
  };
}

async function resumeState(a: SearchArgs): Promise<SearchFile['state'] | undefined> {
  if (!a.resume) return undefined;
  const saved = validate(searchFileSchema, await readJsonObject(a.resume), a.resume);
  if (saved.method !== a.method) throw new UsageError(`${a.resume} holds a ${String(saved.method)} search; run it with --method ${String(saved.method)}`);
  const kind = a.method === 'lsd+' ? 'lsd' : a.method;
  if (saved.state.kind !== kind) throw new UsageError(`${a.resume}: "state.kind" is "${saved.state.kind}" but the file says method ${saved.method}; the file is not one diffuse search wrote`);
  return saved.state;
}

async function runSearch(a: SearchArgs, io: CliIo): Promise<void> {
  if (a.method !== 'autodiffusion' && (a.sampler !== 'dpmpp-2m' || Object.keys(a.opt).length)) {
    throw new UsageError(`--sampler and --opt choose the sampler of an autodiffusion search; ${a.method} searches its own sampler`);
  }
  const target = await targetOf(a);
  const resume = await resumeState(a);
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  globalThis.process.once('SIGINT', onSigint);
  const timer = a.timeLimit === undefined ? undefined : setTimeout(() => stop.abort(), a.timeLimit * 1000);
  const bar = progressBar(io, a.quiet === true || a.json === true, a.method, 0);
  const onProgress = (p: SearchProgress) =>
    bar.update(p.generation, p.generations, `generations | ${p.evaluations} runs | best ${p.best.toExponential(3)} (start ${p.initial.toExponential(3)})`);
  const evolution = { population: a.population, generations: a.generations, parents: a.parents, seed: a.searchSeed };
  try {
    const file = await searchBy(a, target, resume, { signal: stop.signal, onProgress, evolution: defined(evolution) });
    await writeTextFile(a.out, `${JSON.stringify(file, null, 2)}\n`);
    if (a.json) io.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
    else if (!a.quiet) io.stdout.write(describe(file, a.out));
  } finally {
    bar.stop();
    globalThis.process.off('SIGINT', onSigint);
    if (timer) clearTimeout(timer);
  }
}

interface Control {
  signal: AbortSignal;
  onProgress: (p: SearchProgress) => void;
  evolution: Partial<{ population: number; generations: number; parents: number; seed: number }>;
}

/** The options the flags set (commander leaves the others undefined): the library fills in its defaults. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function searchBy(a: SearchArgs, t: Target, resume: SearchFile['state'] | undefined, c: Control): Promise<SearchFile> {
  const head = { format: 'diffuse-search/1' as const, method: a.method, model: a.model, process: t.process.config, nfe: a.nfe };
  const { seed, ...evolution } = c.evolution;
  const r = await runSearchMethod(a.method, t, {
    nfe: a.nfe, sampler: a.sampler, options: a.opt, evolution, screen: a.screen, iterations: a.iterations, learningRate: a.learningRate, seed,
    resume, signal: c.signal, onProgress: c.onProgress,
  });
  return { ...head, ...r };
}

const loadFlag: Record<SearchMethod, string> = { autodiffusion: '--grid-file', s3: '--schedule', lsd: '--lsd', 'lsd+': '--lsd' };

function describe(f: SearchFile, out: string): string {
  return [
    `${f.method} for ${f.sampler} on ${f.model} (${String(f.process.name)}), NFE ${f.nfe}: ${f.stopped ? 'stopped early, ' : ''}${f.evaluations} fitness runs`,
    `training-batch error: start ${f.initialFitness.toExponential(3)} → best ${f.fitness.toExponential(3)} (${(f.initialFitness / f.fitness).toFixed(2)}×)`,
    `wrote ${out} (load it with diffuse sample ${loadFlag[f.method]} ${out}; continue with --resume ${out})`,
  ].join('\n') + '\n';
}
