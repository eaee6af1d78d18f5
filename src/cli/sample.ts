import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { sizeOf, tensor } from '../core/tensor.js';
import { gridTypes, type GridSpec } from '../grid/index.js';
import { createProcess, processes, type ProcessConfig } from '../process/index.js';
import type { Process } from '../process/types.js';
import { predictions, type Prediction } from '../param/convert.js';
import { GaussianMixture, GmmOracle } from '../models/oracle/gmm.js';
import type { Model } from '../models/types.js';
import { guided } from '../models/onnx/guidance.js';
import { diffusersTimeModel } from '../models/integer-time.js';
import type { StrengthRule } from '../img2img.js';
import { toDiffusersConfig } from '../samplers/to-diffusers.js';
import { TorchGenerator } from '../core/torch-rng.js';
import { findReference, findSampler } from '../samplers/index.js';
import { defaultGrid, planSample, runPlan, type SampleRequest } from '../sample.js';
import { loadGaussians } from './teleport.js';
import { gaussiansFor } from '../ode/teleport.js';
import { pfOdeEndpoint } from '../ode/pf-ode.js';
import { sampleErrors, type SampleErrors } from '../metrics/error.js';
import { plotFormat, readJsonObject, readNpyFile, writeNpyFile, writePlot, writeTextFile } from '../io/files.js';
import { diffusersConfigSchema, validate } from '../io/formats.js';
import { echo } from '../io/schema.js';
import { imageGridFigure, samplesFigure, type Figure } from '../io/plot.js';
import {
  gridEndArg, gridFromArgs, integerArg, keyValueArg, labelListArg, numberArg, numberListArg, parseReference, type GridArgs,
} from './args.js';
import { dfmModel } from '../restoration/forward-models.js';
import { loadModelArg, marginalDensity, type GmmModelArg, type ModelArg, type OnnxModelArg } from './model.js';
import { loadBar, progressBar, type CliIo } from './io.js';
import { checkSampleMemory } from './budget.js';
import { guideHelp, guidedOracle } from '../guidance/specs.js';
import { addResultFileOptions, withResultFiles, type ResultFileArgs } from './load.js';

export interface SampleArgs extends GridArgs, ResultFileArgs {
  model: string;
  teleport?: boolean;
  prediction: string;
  process: ProcessConfig['name'];
  sampler: string;
  steps: number;
  opt: Record<string, string>;
  n: number;
  seed: number;
  noise?: string;
  z?: string;
  init?: string;
  strength?: number;
  strengthRule?: string;
  denoiseToZero?: boolean;
  out?: string;
  dtype: 'float32' | 'float64';
  plot?: string;
  error: boolean;
  quiet?: boolean;
  json?: boolean;
  from?: string;
  config?: string;
  schedulerConfig?: string;
  mu?: number;
  saveSchedulerConfig?: string;
  rng: 'philox' | 'torch';
  labels?: number[];
  cfg?: number;
  viewSigma?: number;
  guide?: string;
}

/** A --grid value: a grid type, ComfyUI's spellings (sgm_uniform, kl_optimal, …) read with dashes. */
function gridTypeArg(value: string): string {
  const types = gridTypes().map((g) => g.type as string);
  const type = value.replace(/_/g, '-');
  if (!types.includes(type)) throw new InvalidArgumentError(`Allowed choices are ${types.join(', ')}.`);
  return type;
}

/** The grid flags, shared with bench. */
export function addGridOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--grid <type>', "time grid (default: the sampler's own; ComfyUI's scheduler names with _ are accepted)")
        .choices(gridTypes().map((g) => g.type))
        .argParser(gridTypeArg),
    )
    .option('--rho <x>', 'karras: ρ', numberArg)
    .option('--shift <x>', 'flow-shift: SD3 shift s', numberArg)
    .addOption(new Option('--spacing <s>', 'diffusers: timestep_spacing').choices(['linspace', 'leading', 'trailing']))
    .option('--steps-offset <k>', 'diffusers: steps_offset', integerArg(0, LIMITS.trainSteps))
    .option('--sigma-min <x>', 'karras/exponential: smallest σ = σ/α', numberArg)
    .option('--sigma-max <x>', 'karras/exponential: largest σ = σ/α', numberArg)
    .option('--start <t>', 'first process time of the grid', numberArg)
    .option('--end <end>', 'last time: zero (σ = 0), min (process tMin) or a process time', gridEndArg);
}

export function addSampleCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('sample')
    .description('draw samples with one sampler from an exact Gaussian-mixture model or an ONNX network; write .npy and a plot')
    .option('--model <spec>', 'builtin:NAME, gmm:FILE.json[#PROBLEM], data:FILE.npy or onnx:CARD.json (see `diffuse list models`)', 'builtin:ring8')
    .addOption(new Option('--prediction <type>', 'what the oracle model predicts').choices(predictions).default('epsilon'))
    .addOption(new Option('--process <name>', 'forward process').choices(processes.map((p) => p.name)).default('vp'))
    .option('--sampler <name>', 'sampler name or alias (see `diffuse list samplers`)', 'dpmpp-2m')
    .option('--steps <n>', 'number of steps', integerArg(1, LIMITS.steps), 10)
    .option('--times <list>', 'explicit grid: comma-separated decreasing process times', numberListArg);
  addResultFileOptions(addGridOptions(cmd))
    .option('--opt <key=value>', 'sampler option, repeatable (see `diffuse list samplers`)', keyValueArg, {})
    .option('--n <n>', 'number of samples', integerArg(1, LIMITS.samples), 64)
    .option('--teleport', "Gaussian teleportation: carry x_T from t_max to the grid's first time (--start) in closed form under the Gaussians beside the network's card (gaussians.npy), with no model call")
    .option('--labels <list>', 'onnx class-conditional models: class labels, cycled over the samples, e.g. 3 or 0..9 or 1,7 (default: every class)', labelListArg)
    .option('--cfg <w>', 'onnx class-conditional models: classifier-free guidance scale (1 = the conditional model alone)', numberArg)
    .option('--view-sigma <s>', 'Diffusion-with-Forward-Models networks: the blur std (px) of the observation the diffusion renders (default: the smallest the card allows); the samples are the signals', numberArg)
    .option('--guide <spec>', `exact mixtures: ${guideHelp}`)
    .option('--seed <seed>', 'seed of x_T (stream 0) and sampler noise (stream 1)', integerArg(0, LIMITS.seed), 0)
    .option('--noise <file>', 'x_T as .npy [n, d] (replaces the seeded start)')
    .option('--z <file>', 'standard-normal draws .npy [n, d], scaled to x_T the way the run starts')
    .option('--init <file>', 'img2img: samples .npy [n, d] noised to the schedule\'s start by --strength (SDEdit), then sampled from there')
    .option('--strength <s>', 'img2img: how far into the noise --init goes, 0..1 (diffusers\' strength; default 0.6)', numberArg)
    .option('--strength-rule <rule>', 'where the pipeline starts: sd (SD/SDXL: steps − ⌊steps·s⌋) or flow (SD3/Flux: ⌊steps − steps·s⌋)', 'sd')
    .option('--denoise-to-zero', 'finish with one data prediction at the last time (one more NFE)')
    .option('--out <file>', 'write the samples as .npy [n, d]')
    .addOption(new Option('--dtype <dtype>', 'dtype of --out').choices(['float64', 'float32']).default('float64'))
    .option('--plot <file>', 'write a scatter (d = 2), marginal histograms or, for image models, an image grid as .png or .svg')
    .option('--no-error', 'skip the error against the exact ODE endpoint')
    .option('--quiet', 'print nothing but errors (and --json)')
    .option('--json', 'print a JSON summary on stdout')
    .option('--from <library:name>', 'reproduce a reference run: diffusers:CLASS, k-diffusion:FUNCTION, dpm-solver:… (see `diffuse list references`)')
    .option('--config <file>', "the reference's config JSON for --from (default: the library's defaults)")
    .option('--scheduler-config <file>', "a diffusers scheduler_config.json as it is: its _class_name and keys choose the sampler, grid and prediction type (oracles and onnx: models, whose card must agree)")
    .addOption(new Option('--rng <generator>', "the normal draws for x_T and the sampler's noise: Diffuse's own (philox) or torch's CPU generator, torch.manual_seed(seed) then randn as diffusers pipelines draw latents and step noise (torch)").choices(['philox', 'torch']).default('philox'))
    .option('--save-scheduler-config <file>', 'write the diffusers scheduler_config.json that runs this sampler and grid (an error where no diffusers class does); --json always reports it as "diffusers"')
    .option('--mu <number>', "the resolution-dependent shift a FlowMatch config with use_dynamic_shifting needs (Flux pipelines compute it from the image's token count: 1.15 at 4096 tokens)", numberArg)
    .action(async (opts: SampleArgs) => runSample(opts, (key) => cmd.getOptionValueSource(key) === 'cli', io));
}

interface RunSpec {
  process: ProcessConfig;
  sampler: string;
  options: Record<string, unknown>;
  grid?: GridSpec;
  /** A shipped teleport run (--searched) fixed this run: start with Gaussian teleportation. */
  teleport?: boolean;
  /** How z becomes x_T: 'prior' x_T = priorStd(t_0)·z, 'sigma' x_T = σ(t_0)·z. */
  init: 'prior' | 'sigma' | 'sigma-plus-one';
  reference?: string;
  /** What the reference config says its model predicts (diffusers' prediction_type). */
  prediction?: Prediction;
  /** The reference calls its model at integer timesteps (see integerTimeModel). */
  modelTime?: 'round' | 'floor' | 'log-sigma';
  modelTimeScale?: number;
}

/** k-diffusion states no config of its own: shared/refs' conventions (Karras σ, ρ = 7, σ ∈ [0.002, 80]). */
const referenceDefaults: Record<string, Record<string, unknown>> = {
  'k-diffusion': { schedule: 'karras', rho: 7, sigma_min: 0.002, sigma_max: 80 },
};

export const gridKeys: readonly (keyof GridArgs)[] = ['grid', 'times', 'rho', 'shift', 'spacing', 'stepsOffset', 'sigmaMin', 'sigmaMax', 'start', 'end'];

async function planFromReference(a: SampleArgs, given: (key: string) => boolean, io: CliIo): Promise<RunSpec> {
  const clash = ['sampler', 'process', ...gridKeys].filter(given);
  if (clash.length) {
    const flags = clash.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new UsageError(`${a.schedulerConfig ? '--scheduler-config' : '--from'} takes the sampler, process and grid from the reference config; drop ${flags.join(', ')}`);
  }
  const { library, name } = parseReference(a.from ?? '');
  const mapping = findReference(library, name);
  const config = a.config ? await readConfig(a.config, library) : (Object.hasOwn(referenceDefaults, library) ? referenceDefaults[library] : {});
  if (a.mu !== undefined && library !== 'diffusers') throw new UsageError('--mu goes with a diffusers FlowMatch config');
  const t = mapping.translate(config, a.steps, a.mu !== undefined ? { mu: a.mu } : {});
  if (t.direction === 'invert') throw new UsageError(`${library}:${name} inverts data to noise, which \`diffuse sample\` does not do; call invert() from the library`);
  for (const w of t.warnings ?? []) io.stderr.write(`diffuse: warning: ${a.config ?? 'the config'}: ${w}\n`);
  if (t.prediction !== undefined && given('prediction') && a.prediction !== t.prediction) {
    throw new UsageError(`${a.config ?? 'the config'} has prediction_type ${t.prediction}; drop --prediction ${a.prediction} (the config says what the model predicts)`);
  }
  return {
    process: t.process, sampler: t.sampler, options: { ...t.options, ...a.opt }, grid: t.grid,
    init: t.init ?? 'prior', reference: `${library}:${name}`, ...(t.prediction ? { prediction: t.prediction } : {}),
    ...(t.modelTime ? { modelTime: t.modelTime } : {}),
    ...(t.modelTimeScale ? { modelTimeScale: t.modelTimeScale } : {}),
  };
}

/** A reference config file; diffusers' keys are checked by type and range before translation. */
async function readConfig(file: string, library: string): Promise<Record<string, unknown>> {
  const json = await readJsonObject(file);
  return library === 'diffusers' ? validate(diffusersConfigSchema, json, file) : json;
}

function planFromFlags(a: SampleArgs, given: (key: string) => boolean): RunSpec {
  if (a.config && !a.from) throw new UsageError('--config goes with --from LIBRARY:NAME');
  const entry = findSampler(a.sampler);
  if (given('steps') && a.times) throw new UsageError('--times sets the steps; drop --steps');
  const grid = gridFromArgs(a, a.steps, defaultGrid(entry.defaultGrid, a.steps));
  return { process: { name: a.process }, sampler: entry.name, options: a.opt, grid, init: 'prior' };
}

/**
 * Where the run starts: x_T (--noise), or z (--z, or the torch generator's draws; else sample()
 * draws it from the seed) with the img2img image (--init, noised to the --strength time).
 */
async function startInputs(a: SampleArgs, d: number, nGiven: boolean, torch?: TorchGenerator): Promise<Pick<SampleRequest, 'xT' | 'z' | 'image'>> {
  if (a.noise && a.z) throw new UsageError('give x_T (--noise) or z (--z), not both');
  if (a.init && a.noise) throw new UsageError('--init makes x_T from the init samples; drop --noise (use --z for the noise)');
  const rows = async (file: string, what: string): Promise<Float64Array> => {
    const t = await readNpyFile(file, [null, d], what);
    if (nGiven && t.shape[0] !== a.n) throw new UsageError(`${file} has ${t.shape[0]} rows but --n is ${a.n}`);
    return Float64Array.from(t.data);
  };
  if (a.noise) return { xT: await rows(a.noise, 'x_T') };
  const image = a.init ? { x0: await rows(a.init, 'init samples'), strength: a.strength ?? 0.6, rule: a.strengthRule as StrengthRule } : undefined;
  const n = image ? image.x0.length / d : a.n;
  checkSampleMemory(n, d);
  const z = a.z ? await rows(a.z, 'z') : torch ? Float64Array.from(torch.randn(n * d)) : undefined;
  if (z && image && z.length !== image.x0.length) throw new UsageError(`${a.z} has ${z.length / d} rows but ${a.init} has ${n}`);
  return { ...(z ? { z } : {}), ...(image ? { image } : {}) };
}

export interface SampleSummary {
  model: string;
  process: Readonly<Record<string, unknown>>;
  sampler: string;
  reference?: string;
  options: Record<string, unknown>;
  steps: number;
  grid: number[];
  n: number;
  d: number;
  nfe: number;
  seed: number;
  seconds: number;
  /** Against the exact PF-ODE endpoint from the same x_T (deterministic samplers). */
  error?: SampleErrors;
  out?: string;
  plot?: string;
  /** Class labels of a class-conditional network, cycled over the samples, and the guidance scale. */
  labels?: number[];
  cfg?: number;
  /** The diffusers scheduler_config.json that runs this sampler and grid; null where none does. */
  diffusers?: Record<string, unknown> | null;
}

/** --scheduler-config FILE is --from diffusers:<its _class_name> --config FILE. */
async function withSchedulerConfig(a: SampleArgs): Promise<SampleArgs> {
  if (!a.schedulerConfig) return a;
  if (a.from || a.config) throw new UsageError('--scheduler-config names the class itself (_class_name); drop --from and --config');
  const json = await readJsonObject(a.schedulerConfig);
  const cls = json._class_name;
  if (typeof cls !== 'string' || cls === '') {
    throw new UsageError(`${a.schedulerConfig}: "_class_name" must name the diffusers scheduler class, e.g. "DPMSolverMultistepScheduler"; got ${echo(cls)}`);
  }
  return { ...a, from: `diffusers:${cls}`, config: a.schedulerConfig };
}

/** A network runs a scheduler config only if the config's process and prediction type are the card's. */
function checkConfigAgainstCard(plan: RunSpec, m: OnnxModelArg, file: string): void {
  const card = m.model.card;
  if (plan.prediction !== undefined && plan.prediction !== card.prediction) {
    throw new UsageError(`${file} has prediction_type ${plan.prediction} but the model card says ${card.prediction}; the card describes the network: set prediction_type to ${card.prediction}`);
  }
  const fromConfig = JSON.stringify(createProcess(plan.process).config);
  const fromCard = JSON.stringify(m.model.process.config);
  if (fromConfig !== fromCard) throw new UsageError(`${file} describes the process ${fromConfig} but the model card's is ${fromCard}; they must agree`);
}

async function runSample(raw: SampleArgs, given: (key: string) => boolean, io: CliIo): Promise<void> {
  const a = await withSchedulerConfig(raw);
  if (a.plot) plotFormat(a.plot);
  const loading = loadBar(io, a.quiet === true || a.json === true);
  const loaded: ModelArg = await loadModelArg(a.model, loading.onProgress).finally(() => loading.stop());
  if (loaded.kind === 'onnx' && a.guide) throw new UsageError('--guide applies to exact mixtures (builtin:, gmm:, data:); class-conditional onnx: models take --labels and --cfg');
  if (loaded.kind === 'onnx') checkNetworkFlags(a, given);
  else if (a.labels || a.cfg !== undefined) throw new UsageError('--labels and --cfg apply to class-conditional onnx: models');
  if (a.from && (a.gridFile || a.schedule || a.lsd || a.ems || a.searched)) throw new UsageError('--from takes the sampler and grid from the reference; drop --grid-file, --schedule, --lsd, --searched and --ems');
  const plan = a.from ? await planFromReference(a, given, io) : await withResultFiles(planFromFlags(a, given), a, given, gridKeys.some(given), loaded.kind === 'onnx' ? loaded.card : undefined);
  if (loaded.kind === 'onnx' && a.schedulerConfig) checkConfigAgainstCard(plan, loaded, a.schedulerConfig);
  const process = loaded.kind === 'onnx' ? loaded.model.process : createProcess(plan.process);
  const d = loaded.kind === 'gmm' ? loaded.gmm.d : sizeOf(loaded.model.sampleShape);
  if (!(a.noise || a.z || a.init)) checkSampleMemory(a.n, d);
  if ((a.strength !== undefined || given('strengthRule')) && !a.init) throw new UsageError('--strength and --strength-rule go with --init FILE (img2img)');
  if (a.strengthRule !== 'sd' && a.strengthRule !== 'flow') throw new UsageError(`--strength-rule must be sd or flow, got ${String(a.strengthRule)}`);
  const torch = a.rng === 'torch' ? new TorchGenerator(a.seed) : undefined;
  const start = await startInputs(a, d, given('n'), torch);
  const given0 = start.xT ?? start.image?.x0 ?? start.z;
  const n = given0 ? given0.length / d : a.n;
  checkSampleMemory(n, d);
  const run = loaded.kind === 'gmm' ? await oracleModel(loaded, { ...a, prediction: plan.prediction ?? a.prediction }, process) : networkModel(loaded, a, n);
  // A network sees the timestep upstream feeds; an exact mixture is evaluated at the scheduler's σ,
  // as shared/refs does, except where upstream rounds the timestep to an integer (the table's σ).
  if (plan.modelTime && (plan.modelTime !== 'log-sigma' || loaded.kind === 'onnx')) run.model = diffusersTimeModel(run.model, process, plan.modelTime, plan.modelTimeScale);
  let teleport: SampleRequest['teleport'];
  if (a.teleport || plan.teleport) {
    if (loaded.kind !== 'onnx') throw new UsageError('--teleport starts from the Gaussians shipped beside a network\'s card; use an onnx: model');
    if (start.image) throw new UsageError('--teleport starts from noise; drop --init');
    if (!plan.teleport && !(given('start') || given('times'))) throw new UsageError('--teleport carries x_T to the grid\'s first time: give the grid a --start below t_max (or --times)');
    teleport = gaussiansFor(await loadGaussians(loaded.card), d, run.labels && Array.from({ length: n }, (_, i) => (run.labels as number[])[i % (run.labels as number[]).length]));
  }
  const req: SampleRequest = {
    model: run.model, process, sampler: plan.sampler, options: plan.options, grid: plan.grid, steps: a.steps,
    n, seed: a.seed, init: plan.init, ...start, denoiseToZero: a.denoiseToZero, teleport,
    ...(torch ? { noise: (out: Float64Array) => (out.set(torch.randn(out.length)), out) } : {}),
  };
  const resolved = planSample(req);
  const { sampler: entry, grid } = resolved;
  const bar = progressBar(io, a.quiet === true || a.json === true, entry.name);
  const started = performance.now();
  const ran = await runPlan(resolved, { ...req, onStep: (s) => bar.update(s.step, s.total, `steps | NFE ${s.nfe}`) }).finally(() => bar.stop());
  // A Diffusion-with-Forward-Models run samples observations; its samples are the signal behind the last one.
  const result = run.signal ? { ...ran, x: { ...ran.x, data: run.signal() } } : ran;
  const seconds = (performance.now() - started) / 1000;
  const summary: SampleSummary = {
    model: a.model, process: process.config, sampler: entry.name, reference: plan.reference, options: result.options,
    steps: grid.length - 1, grid: Array.from(grid), n, d, nfe: result.nfe, seed: a.seed, seconds,
    ...(run.labels ? { labels: run.labels, cfg: run.cfg } : {}),
  };
  const gmm = run.gmm;
  // The exact endpoint is solved from α > 0 (a grid starting at pure noise, e.g. flow at t = 1, has none).
  if (gmm && a.error && !entry.stochastic && n * d <= 1 << 14 && process.alpha(grid[0]) > 0) {
    const end = a.denoiseToZero ? process.tZero : grid[grid.length - 1];
    summary.error = sampleErrors(result.x.data, pfOdeEndpoint(gmm, process, result.xT, grid[0], end), gmm);
  }
  if (a.out) {
    const out = a.dtype === 'float32' ? tensor('float32', result.x.shape, Float32Array.from(result.x.data)) : result.x;
    await writeNpyFile(a.out, out);
    summary.out = a.out;
  }
  if (a.plot) {
    const cfg = summary.cfg === undefined || summary.cfg === 1 ? '' : ` · cfg ${summary.cfg}`;
    const title = `${loaded.label} · ${entry.name} · ${process.name} · ${summary.steps} steps · NFE ${result.nfe}${cfg}`;
    const figure: Figure = loaded.kind === 'gmm'
      ? samplesFigure(result.x.data, n, d, { title, means: loaded.gmm.means, density: marginalDensity(loaded.gmm) })
      : networkFigure(loaded, result.x.data, n, title, summary.labels);
    await writePlot(a.plot, figure);
    summary.plot = a.plot;
  }
  if (a.json || a.saveSchedulerConfig) {
    const config = toDiffusersConfig({ sampler: entry.name, options: result.options, process: process.config as unknown as ProcessConfig, grid, steps: summary.steps, prediction: run.model.prediction });
    summary.diffusers = config ?? null;
    if (a.saveSchedulerConfig) {
      if (!config) throw new UsageError(`no diffusers scheduler runs ${entry.name} on this process and grid (diffusers' classes cover the vp-discrete, edm and flow processes with their own schedules); nothing written`);
      await writeTextFile(a.saveSchedulerConfig, `${JSON.stringify(config, null, 2)}\n`);
    }
  }
  if (a.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else if (!a.quiet) io.stdout.write(describeRun(summary, entry.order));
}

/** A network's card fixes its process and prediction, and reference runs target exact models. */
function checkNetworkFlags(a: SampleArgs, given: (key: string) => boolean): void {
  const fixed = ['process', 'prediction'].filter(given);
  if (fixed.length) throw new UsageError(`the model card sets the process and the prediction type; drop ${fixed.map((k) => `--${k}`).join(', ')}`);
  if (a.from && !a.schedulerConfig) throw new UsageError('--from reproduces reference runs on exact models; with onnx: models use --scheduler-config FILE, or choose --sampler and the grid flags');
}

interface RunModel {
  model: Model;
  /** The exact mixture, for the error against the exact ODE endpoint. */
  gmm?: GaussianMixture;
  labels?: number[];
  cfg?: number;
  /** A Diffusion-with-Forward-Models network's signal behind the last observation it denoised. */
  signal?: () => Float64Array;
}

async function oracleModel(m: GmmModelArg, a: SampleArgs, process: Process): Promise<RunModel> {
  const gmm = new GaussianMixture(m.gmm);
  if (a.guide) return { model: await guidedOracle(gmm, process, a.prediction, a.guide) };
  return { model: new GmmOracle(gmm, process, a.prediction), gmm };
}

/** The network with its class labels (cycled over the n samples) and guidance, as the flags say. */
function networkModel(m: OnnxModelArg, a: SampleArgs, n: number): RunModel {
  const net = m.model;
  if (a.viewSigma !== undefined && net.card.method !== 'dfm') throw new UsageError(`--view-sigma applies to Diffusion-with-Forward-Models networks (card "method": "dfm"); ${a.model} is not one`);
  if (net.card.method === 'dfm') {
    if (a.labels || a.cfg !== undefined) throw new UsageError(`--labels and --cfg need a class-conditional model; ${a.model} has no class input`);
    const model = dfmModel(net, a.viewSigma === undefined ? {} : { sigma: a.viewSigma });
    return { model, signal: () => model.lastSignal() };
  }
  if (net.numClasses === undefined) {
    if (a.labels || a.cfg !== undefined) throw new UsageError(`--labels and --cfg need a class-conditional model; ${a.model} has no class input`);
    return { model: net };
  }
  const labels = a.labels ?? Array.from({ length: net.numClasses }, (_, c) => c);
  const perSample = Array.from({ length: n }, (_, i) => labels[i % labels.length]);
  const cfg = a.cfg ?? 1;
  return { model: cfg === 1 ? net.withLabels(perSample) : guided(net, { labels: perSample, scale: cfg }), labels, cfg };
}

/** Image models ([1, H, W] or [H, W]) as an image grid, one column per label when labels cycle; others as histograms. */
function networkFigure(m: OnnxModelArg, data: Float64Array, n: number, title: string, labels?: number[]): Figure {
  const shape = m.model.sampleShape;
  const image = shape.length === 2 || (shape.length === 3 && shape[0] === 1);
  if (!image) return samplesFigure(data, n, sizeOf(shape), { title });
  const [h, w] = shape.slice(-2);
  const range = m.model.card.dataRange ?? [-1, 1];
  const byColumn = labels && labels.length > 1 && n >= labels.length;
  return imageGridFigure(data, n, h, w, {
    title, range, ...(byColumn ? { cols: labels.length, colLabels: labels.map(String) } : {}),
  });
}

function describeRun(s: SampleSummary, order: number): string {
  const t0 = s.grid[0];
  const tN = s.grid[s.grid.length - 1];
  const lines = [
    `${s.reference ? `${s.reference} → ` : ''}${s.sampler} (order ${order}) on ${String(s.process.name)}, ${s.steps} steps from t=${fmt(t0)} to t=${fmt(tN)}`,
    `${s.n} samples × ${s.d} dims, NFE ${s.nfe}, ${(s.seconds * 1000).toFixed(1)} ms`,
  ];
  if (s.error) {
    const e = s.error;
    lines.push(`error vs exact ODE endpoint: RMS ${e.rmsErr.toExponential(3)}, median per-sample ${e.medianSampleRmsErr.toExponential(3)}, max ${e.maxAbsErr.toExponential(3)}, mode flips ${e.modeFlips}`);
  }
  if (s.out) lines.push(`wrote ${s.out} [${s.n}, ${s.d}]`);
  if (s.plot) lines.push(`wrote ${s.plot}`);
  return lines.join('\n') + '\n';
}

const fmt = (v: number) => String(Number(v.toPrecision(6)));
