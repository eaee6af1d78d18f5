import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { Rng } from '../core/rng.js';
import { tensor } from '../core/tensor.js';
import { psnr, ssim } from '../metrics/image.js';
import { measureBlocks, parallelBeam } from '../restoration/tomography.js';
import { admmTv, rotatingVolume, volumePosterior } from '../restoration/volume.js';
import { planSample, runPlan } from '../sample.js';
import { readNpyFile, writeNpyFile, writePlot } from '../io/files.js';
import { imageGridFigure } from '../io/plot.js';
import { integerArg, npyPathArg, numberArg } from './args.js';
import { cleanImages } from './images.js';
import { loadModelArg } from './model.js';
import { loadBar, progressBar, type CliIo } from './io.js';

/**
 * `diffuse tomography`: a volume (a real image rotated across slices, or a .npy volume) measured
 * slice by slice by sparse-view parallel-beam projections, reconstructed by DiffusionMBIR (a 2-D
 * network prior on slices + TV across slices), the prior slice by slice, or 3-D TV alone; PSNR and
 * SSIM against the truth.
 */

const methods = ['mbir', 'slices', 'tv'] as const;
type Method = (typeof methods)[number];

/** Per method: (λ, γ) chosen at 4 views on docs/restoration-results.md's tuning volumes. */
const defaults: Record<Method, { lambda: number; gamma: number }> = {
  mbir: { lambda: 0.3, gamma: 0.3 },
  slices: { lambda: 0, gamma: 0.3 },
  tv: { lambda: 0.1, gamma: 0 },
};

interface TomographyArgs {
  model: string;
  volume: string;
  slices: number;
  rotate: number;
  views: number;
  noiseStd: number;
  method: Method;
  lambda?: number;
  gamma?: number;
  sampler: string;
  steps: number;
  iterations?: number;
  seed: number;
  out?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}

export function addTomographyCommand(program: Command, io: CliIo): void {
  program
    .command('tomography')
    .description('reconstruct a volume from sparse-view projections of its slices: DiffusionMBIR (2-D network prior + TV across slices), the prior per slice, or 3-D TV; PSNR/SSIM vs the truth')
    .option('--model <name>', 'a network of single-channel images (the 2-D prior; its null class if class-conditional)', 'mnist')
    .option('--volume <spec>', 'the true volume: mnist:INDEX, fashion:INDEX (package order) or fashion-heldout:INDEX (as diffuse restore --images counts them), that image rotated across --slices; or FILE.npy [slices, H, W]', 'mnist:0')
    .option('--slices <n>', 'slices of an mnist:/fashion: volume', integerArg(1, 256), 16)
    .option('--rotate <degrees>', 'an mnist:/fashion: volume turns from −degrees to +degrees across its slices', numberArg, 30)
    .option('--views <n>', 'projection angles per slice, evenly spread over [0, π)', integerArg(1, 720), 4)
    .option('--noise-std <s>', 'Gaussian noise std on every projection bin (≥ 0)', numberArg, 0.1)
    .addOption(new Option('--method <name>', 'mbir (prior + TV across slices), slices (prior alone, slice by slice) or tv (3-D TV alone, no network)').choices(methods).default('mbir'))
    .option('--lambda <λ>', 'TV weight (defaults: mbir 0.3, tv 0.1)', numberArg)
    .option('--gamma <γ>', 'weight keeping each data step near the prior\'s estimate (defaults: 0.3)', numberArg)
    .option('--sampler <name>', 'sampler over the prior (mbir, slices)', 'ddim')
    .option('--steps <n>', 'sampler steps (mbir, slices)', integerArg(1, LIMITS.steps), 25)
    .option('--iterations <n>', 'ADMM iterations (default: 3 per step for mbir, 200 for tv)', integerArg(1, 10000))
    .option('--seed <seed>', 'seed of the measurement noise and the sampler', integerArg(0, LIMITS.seed), 0)
    .option('--out <file>', 'write the reconstruction as .npy [slices, H, W]', npyPathArg)
    .option('--plot <file>', 'truth (top) and reconstruction (bottom), slice by slice, .png or .svg')
    .option('--quiet', 'print nothing but errors (and --json)')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (a: TomographyArgs) => runTomography(a, io));
}

async function trueVolume(a: TomographyArgs, side: number): Promise<{ x: Float64Array; slices: number }> {
  const m = /^(mnist|fashion|fashion-heldout):(\d+)$/.exec(a.volume);
  if (!m) {
    if (!/\.npy$/i.test(a.volume)) throw new UsageError(`--volume must be mnist:INDEX, fashion:INDEX, fashion-heldout:INDEX or FILE.npy; got "${a.volume}"`);
    const t = await readNpyFile(a.volume, [null, side, side], 'volume');
    const x = Float64Array.from(t.data as ArrayLike<number>);
    if (t.shape[0] < 1 || t.shape[0] > 256) throw new UsageError(`--volume ${a.volume}: must have 1 to 256 slices, got ${t.shape[0]}`);
    return { x, slices: t.shape[0] };
  }
  if (side !== 28) throw new UsageError(`--volume ${m[1]}: builds 28×28 slices, but the model's are ${side}×${side}; give a FILE.npy volume`);
  const { x: image } = await cleanImages(`${m[1]}:${m[2]}..${m[2]}`, side, '--volume');
  return { x: rotatingVolume(image, 28, 28, a.slices, a.rotate), slices: a.slices };
}

async function runTomography(a: TomographyArgs, io: CliIo): Promise<void> {
  if (!(Number.isFinite(a.noiseStd) && a.noiseStd >= 0)) throw new UsageError(`--noise-std must be a finite number ≥ 0, got ${a.noiseStd}`);
  if (!Number.isFinite(a.rotate)) throw new UsageError(`--rotate must be a finite number of degrees, got ${a.rotate}`);
  const quiet = a.quiet === true || a.json === true;
  const load = loadBar(io, quiet);
  const loaded = await loadModelArg(a.model, load.onProgress).finally(() => load.stop());
  if (loaded.kind !== 'onnx') throw new UsageError(`--model must be a network (e.g. mnist, fashion); ${loaded.label} is an exact mixture`);
  const net = loaded.model;
  const s = net.sampleShape;
  if (!(s.length === 3 && s[0] === 1 && s[1] === s[2])) throw new UsageError(`--model must model square single-channel images; ${loaded.label} has sample shape [${s.join(', ')}]`);
  const side = s[1];
  const { x: truth, slices } = await trueVolume(a, side);
  const op = parallelBeam(side, a.views);
  const rng = new Rng(a.seed);
  const y = measureBlocks(op, truth, slices, a.noiseStd, rng.fork(3));
  const lambda = a.lambda ?? defaults[a.method].lambda;
  const gamma = a.gamma ?? defaults[a.method].gamma;
  const shape = { slices, height: side, width: side };
  const started = performance.now();
  let x: Float64Array;
  let nfe = 0;
  if (a.method === 'tv') {
    if (a.gamma !== undefined) throw new UsageError('--method tv has no prior estimate to stay near: drop --gamma');
    x = admmTv({ operator: op, shape, lambda, axes: ['z', 'y', 'x'], gamma: 0, rho: 2, iterations: a.iterations ?? 200, cgIterations: 10 }, y, new Float64Array(truth.length).fill(-1));
  } else {
    if (a.method === 'slices' && a.lambda !== undefined && a.lambda !== 0) throw new UsageError('--method slices solves each slice alone (λ = 0): drop --lambda or use --method mbir');
    const range = net.card.dataRange;
    const model = volumePosterior({
      prior: net, process: net.process, slices, operator: op, y, lambda: a.method === 'slices' ? 0 : lambda, gamma,
      rho: 2, iterations: a.iterations ?? 3, cgIterations: 30, ...(range ? { clip: range } : {}),
    });
    const req = { model, process: net.process, sampler: a.sampler, steps: a.steps, n: 1, seed: a.seed };
    const plan = planSample(req);
    const bar = progressBar(io, quiet, `${a.method} (${plan.sampler.name})`);
    const r = await runPlan(plan, { ...req, onStep: (st) => bar.update(st.step, st.total, `steps | NFE ${st.nfe}`) }).finally(() => bar.stop());
    x = r.x.data;
    nfe = r.nfe;
  }
  const seconds = (performance.now() - started) / 1000;
  const mean = (v: Float64Array) => v.reduce((p, q) => p + q, 0) / v.length;
  const summary = {
    model: loaded.label, volume: a.volume, slices, side, views: a.views, measurements: op.m * slices, noiseStd: a.noiseStd,
    method: a.method, lambda: a.method === 'slices' ? 0 : lambda, gamma: a.method === 'tv' ? 0 : gamma,
    ...(a.method === 'tv' ? {} : { sampler: a.sampler, steps: a.steps }), nfe, seed: a.seed, seconds,
    psnr: mean(psnr(x, truth, slices, side * side)), ssim: mean(ssim(x, truth, slices, side, side)),
    ...(a.out ? { out: a.out } : {}), ...(a.plot ? { plot: a.plot } : {}),
  };
  if (a.out) await writeNpyFile(a.out, tensor('float64', [slices, side, side], x));
  if (a.plot) {
    const both = new Float64Array(2 * truth.length);
    both.set(truth);
    both.set(x, truth.length);
    const title = `${a.volume} · ${a.views} views · ${a.method} · PSNR ${summary.psnr.toFixed(2)} dB · SSIM ${summary.ssim.toFixed(3)}`;
    await writePlot(a.plot, imageGridFigure(both, 2 * slices, side, side, { cols: slices, title }));
  }
  if (a.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else if (!a.quiet) {
    io.stdout.write([
      `${a.method} on ${a.volume} (${slices} slices of ${side}×${side}), ${a.views} views, noise std ${a.noiseStd}${nfe ? `, NFE ${nfe} (${a.sampler})` : ''}, ${seconds.toFixed(1)} s`,
      `vs truth: PSNR ${summary.psnr.toFixed(2)} dB, SSIM ${summary.ssim.toFixed(3)}`,
      ...(a.out ? [`wrote ${a.out} [${slices}, ${side}, ${side}]`] : []),
      ...(a.plot ? [`wrote ${a.plot}`] : []),
    ].join('\n') + '\n');
  }
}
