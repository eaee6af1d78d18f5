import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { Rng } from '../core/rng.js';
import { tensor } from '../core/tensor.js';
import { drdmDeform, elasticField, foldingRate, pairwiseDiversity, rmsDisplacement, warp } from '../restoration/deformation.js';
import { loadRecoveryNet } from '../restoration/node.js';
import { writeNpyFile, writePlot } from '../io/files.js';
import { imageGridFigure } from '../io/plot.js';
import { integerArg, npyPathArg, numberArg } from './args.js';
import { cleanImages, imagesHelp } from './images.js';
import { progressBar, type CliIo } from './io.js';

/**
 * `diffuse deform`: diverse, plausible deformations of given images by DRDM (a deformation-recovery
 * network, e.g. the shipped mnist-drdm), or random elastic deformations as the baseline.
 */

interface DeformArgs {
  model: string;
  images: string;
  n: number;
  method: string;
  start: number;
  alpha: number;
  elasticSigma: number;
  seed: number;
  out?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}

export function addDeformCommand(program: Command, io: CliIo): void {
  program
    .command('deform')
    .description('diverse, plausible deformations of images by DRDM (deformation-recovery diffusion) or random elastic deformations; RMS displacement, folding rate, diversity')
    .option('--model <name>', 'a DRDM network (card format diffuse-drdm-card/v1)', 'mnist-drdm')
    .option('--images <spec>', `the images to deform: ${imagesHelp}`, 'mnist-heldout:0..1999:250')
    .option('--n <k>', 'deformations per image', integerArg(1, 256), 8)
    .option('--method <name>', 'drdm (the network\'s Algorithm 2) or elastic (Simard et al. 2003, the baseline)', 'drdm')
    .option('--start <t>', 'drdm: the step T′ of the random deformation it starts from (1..the card\'s steps)', integerArg(1, 10000), 48)
    .option('--alpha <a>', 'elastic: scale of the smoothed displacement field, pixels', numberArg, 8)
    .option('--elastic-sigma <s>', 'elastic: standard deviation of the Gaussian smoothing, pixels', numberArg, 4)
    .option('--seed <seed>', 'seed of the random fields', integerArg(0, LIMITS.seed), 0)
    .option('--out <file>', 'write the deformed images as .npy [images × n, 1, S, S] (image-major)', npyPathArg)
    .option('--plot <file>', 'a grid: each image, then its deformations, one row per image (.png or .svg)')
    .option('--quiet', 'no progress bar')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (a: DeformArgs) => deform(a, io));
}

async function deform(a: DeformArgs, io: CliIo): Promise<void> {
  if (a.method !== 'drdm' && a.method !== 'elastic') throw new UsageError(`--method ${a.method}: accepted: drdm, elastic`);
  if (!a.model.startsWith('onnx:')) throw new UsageError(`--model ${a.model}: a DRDM network's NAME or onnx:CARD.json`);
  const net = await loadRecoveryNet(a.model.slice(5));
  const S = net.size;
  const { x: clean, n: count } = await cleanImages(a.images, S, '--images');
  const k = a.n;
  const n = count * k;
  const repeated = new Float64Array(n * S * S);
  for (let i = 0; i < count; i++) for (let j = 0; j < k; j++) repeated.set(clean.subarray(i * S * S, (i + 1) * S * S), (i * k + j) * S * S);
  const rng = new Rng(a.seed);
  const low = net.card.dataRange[0];
  let images: Float64Array;
  let field: Float64Array;
  let nfe = 0;
  if (a.method === 'drdm') {
    if (a.start > net.steps) throw new UsageError(`--start ${a.start}: this network's forward process has ${net.steps} steps; accepted: 1..${net.steps}`);
    const bar = progressBar(io, a.quiet ?? false, 'drdm');
    const r = await drdmDeform(net, repeated, n, { start: a.start, field: net.card.field, rng, background: low, onStep: (d, t) => bar.update(d, t, 'steps') });
    bar.stop();
    ({ images, field, nfe } = r);
  } else {
    field = elasticField(n, S, a.alpha, a.elasticSigma, rng);
    images = warp(repeated, field, n, 1, S, low);
  }
  const stats = {
    model: a.model.slice(5), method: a.method, images: count, perImage: k, ...(a.method === 'drdm' ? { start: a.start, nfe } : { alpha: a.alpha, sigma: a.elasticSigma }),
    rmsDisplacementPx: rmsDisplacement(field), foldingRate: foldingRate(field, n, S), diversity: pairwiseDiversity(images, count, k, S * S),
  };
  if (a.out) await writeNpyFile(a.out, tensor('float64', [n, 1, S, S], images));
  if (a.plot) {
    const tiles = new Float64Array(count * (k + 1) * S * S);
    for (let i = 0; i < count; i++) {
      tiles.set(clean.subarray(i * S * S, (i + 1) * S * S), i * (k + 1) * S * S);
      tiles.set(images.subarray(i * k * S * S, (i + 1) * k * S * S), (i * (k + 1) + 1) * S * S);
    }
    await writePlot(a.plot, imageGridFigure(tiles, count * (k + 1), S, S, { cols: k + 1, title: `each row: the image, then ${k} ${a.method === 'drdm' ? `DRDM deformations (T′ = ${a.start})` : 'elastic deformations'}` }));
  }
  if (a.json) {
    io.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
    return;
  }
  if (a.quiet) return;
  io.stdout.write(`${stats.model}: ${a.method}, ${count} image(s) × ${k} deformations${a.method === 'drdm' ? `, T′ = ${a.start} (${nfe} network calls)` : ''}\n` +
    `RMS displacement ${stats.rmsDisplacementPx.toFixed(2)} px, folding rate ${(100 * stats.foldingRate).toFixed(3)} % of pixels, ` +
    `mean pairwise distance between deformations of one image ${stats.diversity.toFixed(2)}\n`);
}
