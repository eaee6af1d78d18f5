import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { Rng } from '../core/rng.js';
import { tensor } from '../core/tensor.js';
import { createProcess, processes, type ProcessConfig } from '../process/index.js';
import type { Process } from '../process/types.js';
import { Edm } from '../process/ve.js';
import { predictions, type Prediction } from '../param/convert.js';
import { GaussianMixture, GmmOracle, type GmmSpec } from '../models/oracle/gmm.js';
import { builtinProblem } from '../models/oracle/builtin.js';
import { makeGrid } from '../grid/index.js';
import { sample } from '../sample.js';
import { medianSampleRms } from '../metrics/error.js';
import { slicedWasserstein2 } from '../metrics/distance.js';
import { emsFromMixture, estimateEms, emsToJson } from '../ems/index.js';
import { samplePfgm } from '../pfgm/index.js';
import { sampleInterpolant } from '../interpolant/index.js';
import { interpolantMethods, type InterpolantMethod } from '../interpolant/sampler.js';
import { MeanReverting, MrOracle, sampleMr, mrPfOdeEndpoint, mrPredictions, type MrPrediction, type MrSolver, type MrParameterization } from '../mr/index.js';
import { gmmNoiseLikelihood, sampleDmcmc } from '../mcmc/index.js';
import { readNpyFile, writeNpyFile, writeTextFile } from '../io/files.js';
import { integerArg, labelListArg, numberArg } from './args.js';
import { loadExactModelArg, loadModelArg } from './model.js';
import { loadMnistDigits, realSubset } from '../eval/data.js';
import { checkSampleMemory } from './budget.js';
import { progressBar, type CliIo } from './io.js';

/**
 * Commands for the methods that are not registry samplers (they bring their own process or
 * sampling loop) and for EMS files: `diffuse ems`, `diffuse pfgm`, `diffuse interpolant`,
 * `diffuse mr`, `diffuse dmcmc`. Each runs on an exact mixture and prints the NFE and the error
 * against the exact answer where one exists (per-sample ODE endpoints), else the sliced W2 to
 * exact draws beside the two-sample floor.
 */

interface Common {
  model: string;
  n: number;
  seed: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

/** A row of `diffuse list methods`. */
export interface MethodCommand {
  command: string;
  description: string;
  options: string[];
}

const commonOptions = (cmd: Command, n: number) =>
  cmd
    .option('--model <spec>', 'builtin:NAME, gmm:FILE.json[#PROBLEM] or data:FILE.npy', 'builtin:ring8')
    .option('--n <n>', 'number of samples', integerArg(1, LIMITS.samples), n)
    .option('--seed <seed>', 'seed', integerArg(0, LIMITS.seed), 0)
    .option('--out <file>', 'write the samples as .npy [n, d]')
    .option('--quiet', 'print nothing but errors (and --json)')
    .option('--json', 'print a JSON summary on stdout');

/** What every method command reports. */
interface MethodSummary {
  method: string;
  model: string;
  n: number;
  d: number;
  nfe: number;
  settings: Record<string, unknown>;
  /** Median over samples of the per-sample RMS error against the exact answer. */
  error?: number;
  errorAgainst?: string;
  /** Sliced W2 (64 projections) to n exact draws, and between two sets of exact draws. */
  slicedW2?: number;
  floor?: number;
  out?: string;
}

function sliced(gmm: GaussianMixture, x: Float64Array, n: number): { slicedW2: number; floor: number } {
  const ref = gmm.sample(n, new Rng(9));
  const sw = (y: Float64Array) => slicedWasserstein2(y, ref, gmm.d, new Rng(3), 64);
  return { slicedW2: sw(x), floor: sw(gmm.sample(n, new Rng(10))) };
}

async function report(io: CliIo, a: Common, s: MethodSummary, x: Float64Array): Promise<void> {
  if (a.out) {
    await writeNpyFile(a.out, tensor('float64', [s.n, s.d], x));
    s.out = a.out;
  }
  if (a.json) {
    io.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  if (a.quiet) return;
  const settings = Object.entries(s.settings).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  const lines = [`${s.method} (${settings}) on ${s.model}: ${s.n} samples × ${s.d} dims, NFE ${s.nfe}`];
  if (s.error !== undefined) lines.push(`error vs ${s.errorAgainst}: median per-sample ${s.error.toExponential(3)}`);
  if (s.slicedW2 !== undefined) lines.push(`sliced W2 to exact draws ${s.slicedW2.toExponential(3)} (two-sample floor ${s.floor?.toExponential(3)})`);
  if (s.out) lines.push(`wrote ${s.out} [${s.n}, ${s.d}]`);
  io.stdout.write(`${lines.join('\n')}\n`);
}

/** "inf" or a number ≥ 1 (PFGM++'s D). */
function augmentArg(value: string): number {
  if (/^(inf|infinity)$/i.test(value.trim())) return Infinity;
  return numberArg(value);
}

// ----------------------------------------------------------------------------- diffuse ems

interface EmsArgs {
  model: string;
  process: ProcessConfig['name'];
  prediction: Prediction;
  method: 'oracle' | 'estimate';
  points: number;
  samples: number;
  probes: number;
  lambdaMin?: number;
  lambdaMax?: number;
  seed: number;
  out: string;
  quiet?: boolean;
  data?: string;
  labels?: number[];
}

function addEmsCommand(program: Command, io: CliIo): void {
  program
    .command('ems')
    .description('write empirical model statistics (EMS) for dpm-solver-v3: exact from the mixture, or estimated by treating it as a black box')
    .option('--model <spec>', 'builtin:NAME, gmm:FILE.json[#PROBLEM], data:FILE.npy, or onnx:CARD.json (estimate only; needs --data)', 'builtin:ring8')
    .addOption(new Option('--process <name>', 'forward process (onnx: the card\'s)').choices(processes.map((p) => p.name)).default('vp'))
    .addOption(new Option('--prediction <type>', 'estimate: what the model predicts').choices(predictions).default('epsilon'))
    .addOption(new Option('--method <m>', 'oracle: analytic Jacobian terms; estimate: finite differences + Hutchinson probes').choices(['oracle', 'estimate']).default('oracle'))
    .option('--points <n>', 'λ nodes, uniform in λ', integerArg(2, LIMITS.points), 120)
    .option('--samples <n>', 'data samples per node', integerArg(2, LIMITS.samples), 256)
    .option('--probes <n>', 'estimate: Hutchinson probes per sample', integerArg(1, LIMITS.population), 2)
    .option('--lambda-min <x>', 'smallest λ (default: λ(tMax) − 0.1; onnx: λ(tMax) + 0.05)', numberArg)
    .option('--lambda-max <x>', 'largest λ (default: λ(tMin) + 0.1; onnx: λ(tMin) − 0.05)', numberArg)
    .option('--seed <seed>', 'seed', integerArg(0, LIMITS.seed), 0)
    .option('--data <source>', 'onnx: data samples, FILE.npy [n, d] or "mnist" (the mnist package\'s digits, with their labels); the first --samples rows, spread evenly for mnist')
    .option('--labels <list>', 'onnx class-conditional models with --data FILE.npy: class labels cycled over the rows, e.g. 0..9', labelListArg)
    .requiredOption('--out <file>', 'the EMS JSON to write (load it with --ems FILE or --opt ems=…)')
    .option('--quiet', 'print nothing but errors')
    .action(async (a: EmsArgs) => {
      if (a.model.startsWith('onnx:')) return networkEms(a, io);
      if (a.data !== undefined || a.labels !== undefined) throw new UsageError('--data and --labels apply to onnx: models (mixtures are sampled exactly)');
      const { gmm: spec, label } = await loadExactModelArg(a.model, 'ems');
      const process = createProcess({ name: a.process });
      const { lambdaMin, lambdaMax } = emsRange(a, process);
      checkSampleMemory(a.samples, spec.d);
      const gmm = new GaussianMixture(spec);
      const rng = new Rng(a.seed);
      const grid = { lambdaMin, lambdaMax, points: a.points };
      const ems = a.method === 'oracle'
        ? emsFromMixture(gmm, { ...grid, samples: a.samples, rng })
        : await estimateEms(new GmmOracle(gmm, process, a.prediction), process, gmm.sample(a.samples, rng.fork(1)), { ...grid, probes: a.probes, rng: rng.fork(2) });
      await writeTextFile(a.out, emsToJson(ems));
      if (!a.quiet) io.stdout.write(`EMS (${a.method}) of ${label} on ${process.name}: ${a.points} λ nodes in [${lambdaMin.toFixed(3)}, ${lambdaMax.toFixed(3)}], ${a.samples} samples; wrote ${a.out}\n`);
    });
}

/**
 * λ range of the EMS grid: the flags', else 0.1 beyond the process's range (mixtures extrapolate)
 * or, with `inside`, 0.05 within it (a network is only defined on its training times).
 */
function emsRange(a: EmsArgs, process: Process, inside = false): { lambdaMin: number; lambdaMax: number } {
  const margin = inside ? -0.05 : 0.1;
  const lambdaMin = a.lambdaMin ?? process.logSnr(process.tMax) - margin;
  const lambdaMax = a.lambdaMax ?? process.logSnr(process.tMin) + margin;
  if (!Number.isFinite(lambdaMin) || !Number.isFinite(lambdaMax)) {
    throw new UsageError(`process ${process.name} has λ = ±∞ at an end of its range; give --lambda-min and --lambda-max`);
  }
  return { lambdaMin, lambdaMax };
}

/** EMS of a network (black box: finite differences + Hutchinson) from data samples, conditioned on their labels. */
async function networkEms(a: EmsArgs, io: CliIo): Promise<void> {
  if (a.method !== 'estimate') throw new UsageError('a network has no analytic Jacobian: use --method estimate with onnx: models');
  if (a.data === undefined) throw new UsageError('--data is required for onnx: models: FILE.npy [n, d] of data samples, or "mnist"');
  const loaded = await loadModelArg(a.model);
  if (loaded.kind !== 'onnx') throw new UsageError(`expected an onnx: model, got "${a.model}"`);
  const net = loaded.model;
  const d = net.sampleShape.reduce((x, y) => x * y, 1);
  checkSampleMemory(a.samples, d);
  let data: Float64Array;
  let labels: number[] | undefined;
  if (a.data === 'mnist') {
    if (d !== 784) throw new UsageError(`--data mnist holds 28×28 digits; ${a.model} draws ${d} values per sample`);
    const digits = realSubset(await loadMnistDigits(), a.samples);
    [data, labels] = [digits.images, Array.from(digits.labels)];
  } else {
    const t = await readNpyFile(a.data, [null, d], `EMS data for ${a.model}`);
    const rows = Math.min(a.samples, t.shape[0]);
    data = Float64Array.from(t.data.subarray(0, rows * d));
    if (a.labels) labels = Array.from({ length: rows }, (_, i) => (a.labels as number[])[i % (a.labels as number[]).length]);
  }
  const n = data.length / d;
  if (net.numClasses !== undefined && !labels) throw new UsageError(`${a.model} is class-conditional: give --labels for the rows of ${a.data}`);
  if (net.numClasses === undefined && labels && a.labels) throw new UsageError(`--labels needs a class-conditional model; ${a.model} has no class input`);
  const model = labels && net.numClasses !== undefined ? net.withLabels(labels) : net;
  const range = emsRange(a, net.process, true);
  const bar = progressBar(io, a.quiet === true, 'ems');
  const ems = await estimateEms(model, net.process, data, {
    ...range, points: a.points, probes: a.probes, rng: new Rng(a.seed), onNode: (done, total) => bar.update(done, total, 'λ nodes'),
  }).finally(() => bar.stop());
  await writeTextFile(a.out, emsToJson(ems));
  if (!a.quiet) io.stdout.write(`EMS (estimate) of ${loaded.label} on ${net.process.name}: ${a.points} λ nodes in [${range.lambdaMin.toFixed(3)}, ${range.lambdaMax.toFixed(3)}], ${n} data samples, ${a.probes} probe(s); wrote ${a.out}\n`);
}

// ---------------------------------------------------------------------------- diffuse pfgm

interface PfgmArgs extends Common {
  D: number;
  steps: number;
  sigmaMax: number;
}

function addPfgmCommand(program: Command, io: CliIo): void {
  commonOptions(
    program
      .command('pfgm')
      .description('PFGM++ (Xu et al. 2023): exact field of a finite data set (data:FILE.npy, or the component means of a mixture) for D augmented dimensions, Heun on the EDM σ grid')
      .option('--D <D>', 'augmented dimensions (inf = EDM)', augmentArg, 128)
      .option('--steps <n>', 'Heun steps (NFE = 2·steps − 1)', integerArg(1, LIMITS.steps), 18)
      .option('--sigma-max <x>', 'σ_max (r_max = σ_max√D)', numberArg, 80),
    64,
  ).action(async (a: PfgmArgs) => {
    const { gmm } = await loadExactModelArg(a.model, 'pfgm');
    checkSampleMemory(a.n, gmm.d);
    const points = gmm.means;
    const run = await samplePfgm({ points, weights: gmm.weights, D: a.D, steps: a.steps, n: a.n, seed: a.seed, sigmaMax: a.sigmaMax });
    const d = gmm.d;
    const nearest = new Float64Array(run.x.length);
    for (let i = 0; i < a.n; i++) {
      let best = points[0];
      let bestSq = Infinity;
      for (const y of points) {
        const sq = y.reduce((acc, v, j) => acc + (run.x[i * d + j] - v) * (run.x[i * d + j] - v), 0);
        if (sq < bestSq) [best, bestSq] = [y, sq];
      }
      nearest.set(best, i * d);
    }
    await report(io, a, {
      method: 'pfgm++', model: a.model, n: a.n, d, nfe: run.nfe, settings: { D: a.D, steps: a.steps, sigmaMax: a.sigmaMax },
      error: medianSampleRms(run.x, nearest, d), errorAgainst: 'the nearest data point (the exact ODE ends on one)',
    }, run.x);
  });
}

// --------------------------------------------------------------------- diffuse interpolant

interface InterpolantArgs extends Common {
  from: string;
  path: 'linear' | 'trig';
  noise: number;
  method: InterpolantMethod;
  epsilon: number;
  steps: number;
}

function standardNormal(d: number): GmmSpec {
  return { d, K: 1, weights: [1], means: [new Array<number>(d).fill(0)], covariance_type: 'diag', variances: [new Array<number>(d).fill(1)] };
}

function addInterpolantCommand(program: Command, io: CliIo): void {
  commonOptions(
    program
      .command('interpolant')
      .description('stochastic interpolants (Albergo et al. 2023): transport ρ0 (--from) to ρ1 (--model) by the ODE or the SDE with the exact velocity and score')
      .option('--from <spec>', 'ρ0: gaussian (N(0, I)) or builtin:NAME', 'gaussian')
      .addOption(new Option('--path <p>', 'α, β of x_t = αx0 + βx1 + γz').choices(['linear', 'trig']).default('linear'))
      .option('--noise <a>', 'γ(t) = √(a t(1 − t)); 0 = deterministic interpolant', numberArg, 1)
      .addOption(new Option('--method <m>', 'integrator').choices([...interpolantMethods]).default('ode-heun'))
      .option('--epsilon <e>', 'SDE diffusion ε', numberArg, 1)
      .option('--steps <n>', 'uniform steps from t = 0 to 1', integerArg(1, LIMITS.steps), 50),
    256,
  ).action(async (a: InterpolantArgs) => {
    const { gmm: rho1 } = await loadExactModelArg(a.model, 'interpolant');
    checkSampleMemory(a.n, rho1.d);
    const rho0 = a.from === 'gaussian' ? standardNormal(rho1.d) : builtinProblem(a.from.replace(/^builtin:/, ''));
    const run = sampleInterpolant({ rho0, rho1, path: a.path, noise: a.noise, method: a.method, epsilon: a.epsilon, steps: a.steps, n: a.n, seed: a.seed });
    const target = new GaussianMixture(rho1);
    await report(io, a, {
      method: `interpolant ${a.method}`, model: a.model, n: a.n, d: target.d, nfe: run.nfe,
      settings: { from: a.from, path: a.path, noise: a.noise, steps: a.steps, ...(a.method.startsWith('sde') ? { epsilon: a.epsilon } : {}) },
      ...sliced(target, run.x, a.n),
    }, run.x);
  });
}

// ------------------------------------------------------------------------------ diffuse mr

interface MrArgs extends Common {
  lambda: number;
  solver: MrSolver;
  parameterization: MrParameterization;
  order: number;
  steps: number;
  prediction: MrPrediction;
  muScale: number;
}

function addMrCommand(program: Command, io: CliIo): void {
  commonOptions(
    program
      .command('mr')
      .description('MR Sampler (2025) on the mean-reverting SDE of IR-SDE: ODE/SDE solvers in data or noise parameterisation, or the IR-SDE posterior sampler')
      .option('--lambda <x>', 'stationary standard deviation λ', numberArg, 0.5)
      .addOption(new Option('--solver <s>', 'ode, sde (MR Sampler) or posterior (IR-SDE)').choices(['ode', 'sde', 'posterior']).default('ode'))
      .addOption(new Option('--parameterization <p>', 'what MR Sampler integrates').choices(['data', 'noise']).default('data'))
      .option('--order <k>', 'MR Sampler order 1 or 2', integerArg(1, 2), 2)
      .option('--steps <n>', 'steps (= NFE) of the log-SNR grid to σ = 0', integerArg(1, LIMITS.steps), 10)
      .addOption(new Option('--prediction <type>', 'what the oracle predicts').choices([...mrPredictions]).default('noise'))
      .option('--mu-scale <x>', 'μ = scale·N(0, I) per sample (the degraded input)', numberArg, 0.3),
    256,
  ).action(async (a: MrArgs) => {
    const { gmm: spec } = await loadExactModelArg(a.model, 'mr');
    checkSampleMemory(a.n, spec.d);
    const gmm = new GaussianMixture(spec);
    const process = new MeanReverting({ lambda: a.lambda });
    const mu = new Rng(a.seed).fork(2).fillNormal(new Float64Array(a.n * gmm.d)).map((v) => a.muScale * v);
    const run = await sampleMr({
      model: new MrOracle(gmm, process, a.prediction), process, mu, n: a.n, grid: { type: 'logsnr', steps: a.steps, end: 'zero' },
      solver: a.solver, parameterization: a.parameterization, order: a.order, seed: a.seed,
    });
    const exact = a.solver === 'ode'
      ? { error: medianSampleRms(run.x, mrPfOdeEndpoint(gmm, process, mu, run.xT, run.grid[0], run.grid[run.grid.length - 1]), gmm.d), errorAgainst: 'the exact mean-reverting PF-ODE endpoint' }
      : {};
    await report(io, a, {
      method: a.solver === 'posterior' ? 'IR-SDE posterior sampler' : `MR Sampler ${a.solver}`, model: a.model, n: a.n, d: gmm.d, nfe: run.nfe,
      settings: { lambda: a.lambda, steps: a.steps, ...(a.solver === 'posterior' ? {} : { parameterization: a.parameterization, order: a.order }), prediction: a.prediction },
      ...exact, ...sliced(gmm, run.x, a.n),
    }, run.x);
  });
}

// --------------------------------------------------------------------------- diffuse dmcmc

interface DmcmcArgs extends Common {
  chains: number;
  burnIn: number;
  thin: number;
  stepSize: number;
  sampler: string;
  steps: number;
  compare?: boolean;
}

function addDmcmcCommand(program: Command, io: CliIo): void {
  commonOptions(
    program
      .command('dmcmc')
      .description('Denoising MCMC (Kim & Ye 2022): Denoising Langevin Gibbs over (x, σ) on the edm process, then an ODE solve from each chain state')
      .option('--chains <n>', 'parallel chains (n must be a multiple)', integerArg(1, LIMITS.samples), 256)
      .option('--burn-in <n>', 'chain iterations before the first emitted state', integerArg(0, LIMITS.iterations), 16)
      .option('--thin <n>', 'chain iterations between emitted states', integerArg(1, LIMITS.iterations), 1)
      .option('--step-size <x>', 'Langevin step η (step ησ²)', numberArg, 0.5)
      .option('--sampler <name>', 'registry sampler of the ODE from the chain σ to 0', 'dpmpp-2m')
      .option('--steps <n>', 'ODE steps', integerArg(1, LIMITS.steps), 5)
      .option('--compare', 'also run the sampler from σ = 80 on a Karras grid with the same NFE per sample'),
    1024,
  ).action(async (a: DmcmcArgs) => {
    const { gmm: spec } = await loadExactModelArg(a.model, 'dmcmc');
    checkSampleMemory(a.n + a.chains, spec.d);
    const gmm = new GaussianMixture(spec);
    const process = new Edm();
    const model = new GmmOracle(gmm, process, 'epsilon');
    const run = await sampleDmcmc({
      model, process, noiseLikelihood: gmmNoiseLikelihood(gmm), chains: a.chains, burnIn: a.burnIn, thin: a.thin, stepSize: a.stepSize,
      sampler: a.sampler, steps: a.steps, n: a.n, seed: a.seed,
    });
    const summary: MethodSummary = {
      method: 'dmcmc', model: a.model, n: a.n, d: gmm.d, nfe: run.nfePerSample,
      settings: { chains: a.chains, burnIn: a.burnIn, thin: a.thin, stepSize: a.stepSize, sampler: a.sampler, steps: a.steps }, ...sliced(gmm, run.x, a.n),
    };
    if (a.compare && !a.json && !a.quiet) {
      const steps = Math.max(1, Math.floor(run.nfePerSample));
      const ode = await sample({ model, process, sampler: a.sampler, grid: makeGrid(process, { type: 'karras', steps, end: 'zero' }), n: a.n, seed: a.seed });
      const base = sliced(gmm, ode.x.data, a.n);
      io.stdout.write(`${a.sampler} from σ = 80, ${steps} steps: NFE ${ode.nfe}, sliced W2 ${base.slicedW2.toExponential(3)}\n`);
    }
    await report(io, a, summary, run.x);
  });
}

/** The commands of this file and the result-file flags, for `diffuse list methods`. */
export const methodCommands: MethodCommand[] = [
  { command: 'search', description: 'AutoDiffusion (--method autodiffusion), S³ (s3), LSD / LSD+ (lsd, lsd+) for a model, process, sampler and NFE; Ctrl-C keeps the best so far; --resume FILE', options: ['--method', '--sampler', '--opt', '--nfe', '--n', '--seed', '--population', '--generations', '--parents', '--screen', '--iterations', '--learning-rate', '--search-seed', '--teacher-steps', '--resume', '--time-limit', '--out'] },
  { command: 'sample/bench', description: 'load results: --grid-file (AutoDiffusion grid), --schedule (S³, schedule sampler), --lsd (LSD/LSD+, lsd sampler), --ems (dpm-solver-v3)', options: ['--grid-file', '--schedule', '--lsd', '--ems'] },
  { command: 'ems', description: 'EMS JSON for dpm-solver-v3: exact from the mixture (--method oracle) or black-box estimate (--method estimate; also of onnx: networks from --data)', options: ['--method', '--points', '--samples', '--probes', '--lambda-min', '--lambda-max', '--data', '--labels', '--out'] },
  { command: 'pfgm', description: 'PFGM++ on the exact finite-data field, D augmented dimensions (inf = EDM)', options: ['--D', '--steps', '--sigma-max'] },
  { command: 'interpolant', description: 'stochastic interpolant ODE/SDE between two mixtures with the exact velocity and score', options: ['--from', '--path', '--noise', '--method', '--epsilon', '--steps'] },
  { command: 'mr', description: 'MR Sampler ODE/SDE (data/noise, orders 1–2) or the IR-SDE posterior sampler on the mean-reverting process', options: ['--lambda', '--solver', '--parameterization', '--order', '--steps', '--prediction', '--mu-scale'] },
  { command: 'dmcmc', description: 'Denoising Langevin Gibbs then an ODE solve from each chain state (edm process)', options: ['--chains', '--burn-in', '--thin', '--step-size', '--sampler', '--steps', '--compare'] },
  { command: 'restore', description: 'restoration (×4 SR, denoise, deblur, inpaint) by an image-conditioned network (RDDM, Resfusion, conditional DDPM) from random starts or an optimal boundary condition; PSNR/SSIM', options: ['--model', '--images', '--task', '--factor', '--sampler', '--steps', '--boundary', '--search-boundary', '--save-boundary', '--reference', '--generate', '--plot'] },
  { command: 'tomography', description: 'sparse-view 3-D reconstruction: a 2-D diffusion prior per slice with TV across slices (DiffusionMBIR), per-slice, or TV alone', options: ['--model', '--volume', '--slices', '--rotate', '--views', '--noise-std', '--lambda', '--gamma', '--sampler', '--steps', '--iterations', '--plot'] },
  { command: 'deform', description: 'diverse, plausible deformations of given images by DRDM (deformation-recovery diffusion) or random elastic deformations', options: ['--model', '--images', '--n', '--method', '--start', '--alpha', '--elastic-sigma', '--seed', '--out', '--plot'] },
  { command: 'edit', description: 'consistent object editing: move a digit on held-out textured canvases by PixelMan, DDIM inversion + masked regeneration or copy-paste; PSNR vs the true result by region', options: ['--model', '--scenes', '--method', '--steps', '--no-leak-proof', '--seed', '--out', '--plot'] },
  { command: 'reward', description: 'reward gained vs KL spent by a DRAKES fine-tuned masked-diffusion model, against best-of-N and the KL-optimal law (exact for small models)', options: ['--model', '--pretrained', '--reward', '--steps', '--best-of', '--alphas', '--n', '--seed', '--no-exact', '--out'] },
];

export function addMethodCommands(program: Command, io: CliIo): void {
  addEmsCommand(program, io);
  addPfgmCommand(program, io);
  addInterpolantCommand(program, io);
  addMrCommand(program, io);
  addDmcmcCommand(program, io);
}

