import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { Rng } from '../core/rng.js';
import { tensor } from '../core/tensor.js';
import { loadMnistDigits } from '../eval/data.js';
import { objectFromDigit, randomMoves } from '../restoration/canvas.js';
import { EDIT_METHODS, editCanvasMoves, type EditMethod } from '../restoration/editing.js';
import { loadEditNet } from '../restoration/node.js';
import type { VpDiscrete } from '../process/vp-discrete.js';
import { writeNpyFile, writePlot } from '../io/files.js';
import { imageGridFigure } from '../io/plot.js';
import { integerArg, npyPathArg } from './args.js';
import { loadModelArg } from './model.js';
import { progressBar, type CliIo } from './io.js';

/**
 * `diffuse edit`: consistent object editing on textured canvases (the shipped canvas model): moves of
 * an object in held-out scenes by PixelMan, by DDIM inversion with masked regeneration, or by
 * copy-paste; PSNR against the true result by region.
 */

interface EditArgs {
  model: string;
  scenes: number;
  method: string;
  steps: number;
  leakProof: boolean;
  seed: number;
  out?: string;
  plot?: string;
  quiet?: boolean;
  json?: boolean;
}

export function addEditCommand(program: Command, io: CliIo): void {
  program
    .command('edit')
    .description('move an object on held-out canvases (the canvas model) by PixelMan, DDIM inversion + masked regeneration or copy-paste; PSNR vs the true result outside the edit, where it was, where it went')
    .option('--model <name>', 'a canvas model with a PixelMan editing card (edit.json) beside its card', 'canvas')
    .option('--scenes <n>', 'how many held-out scenes (two digits each, the first moved)', integerArg(1, 4096), 8)
    .option('--method <name>', `${EDIT_METHODS.join(', ')}`, 'pixelman')
    .option('--steps <n>', 'pixelman: steps (3 network calls each); invert: inversion and regeneration steps each (2 calls per step pair)', integerArg(1, 999), 16)
    .option('--no-leak-proof', 'pixelman: lift the leak-proof self-attention masks (the paper\'s ablation)')
    .option('--seed <seed>', 'seed of the scenes and of the noise', integerArg(0, LIMITS.seed), 0)
    .option('--out <file>', 'write the edited canvases as .npy [scenes, 1, 32, 32]', npyPathArg)
    .option('--plot <file>', 'a grid, one column per scene: source, copy at the target, the edit, the truth (.png or .svg)')
    .option('--quiet', 'no progress bar')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (a: EditArgs) => edit(a, io));
}

/** PSNR is capped at 60 dB before averaging: pixels kept exactly have PSNR ∞ (as docs/restoration-results.md does). */
const CAP = 60;
const mean = (x: Float64Array): number => x.reduce((s, v) => s + Math.min(CAP, v), 0) / x.length;

async function edit(a: EditArgs, io: CliIo): Promise<void> {
  if (!(EDIT_METHODS as readonly string[]).includes(a.method)) throw new UsageError(`--method ${a.method}: accepted: ${EDIT_METHODS.join(', ')}`);
  const method = a.method as EditMethod;
  if (!a.model.startsWith('onnx:')) throw new UsageError(`--model ${a.model}: a canvas model's NAME or onnx:CARD.json (with edit.json beside it)`);
  const card = a.model.slice(5);
  const loaded = await loadModelArg(a.model);
  if (loaded.kind !== 'onnx') throw new UsageError(`--model ${a.model}: not a network`);
  const process = loaded.model.process as Partial<VpDiscrete>;
  if (process.name !== 'vp-discrete' || !process.alphasCumprod) throw new UsageError(`--model ${a.model}: editing needs a discrete VP (DDPM) network; this one's process is ${String(process.name)}`);
  const [, height, width] = loaded.model.sampleShape;
  if (loaded.model.sampleShape.length !== 3 || loaded.model.sampleShape[0] !== 1 || height !== 32 || width !== 32) {
    throw new UsageError(`--model ${a.model}: editing works on 32×32 canvases with one channel (the shipped canvas model); this network's samples are ${loaded.model.sampleShape.join('×')}`);
  }
  const editCard = join(dirname(card), 'edit.json');
  if (method === 'pixelman' && !existsSync(editCard)) throw new UsageError(`--model ${a.model}: PixelMan needs the model's editing card ${editCard} (training/pixelman.py writes it); the other methods run without it`);
  const net = method === 'pixelman' ? await loadEditNet(editCard) : undefined;
  const digits = await loadMnistDigits();
  const pool: Float64Array[] = [];
  for (let i = 0; i < digits.labels.length; i += 7) pool.push(objectFromDigit(digits.images.subarray(i * 784, (i + 1) * 784)));
  const rng = new Rng(a.seed);
  const moves = randomMoves(pool, a.scenes, rng);
  const bar = progressBar(io, a.quiet ?? false, method);
  const run = await editCanvasMoves(moves, {
    method, ...(net ? { net } : {}), model: loaded.model, alphaBar: process.alphasCumprod, steps: a.steps, rng: rng.fork(1), leakProof: a.leakProof,
    onStep: (k) => bar.update(k + 1, a.steps, 'steps'),
  });
  bar.stop();
  const S = 32;
  const n = a.scenes;
  const summary = {
    model: card, method, scenes: n, ...(method === 'copy-paste' ? {} : { steps: a.steps }), nfe: run.nfe,
    ...(method === 'pixelman' ? { leakProof: a.leakProof } : {}), seed: a.seed,
    psnr: { background: mean(run.scores.background), inpaint: mean(run.scores.inpaint), object: mean(run.scores.object), all: mean(run.scores.all) },
  };
  if (a.out) await writeNpyFile(a.out, tensor('float64', [n, 1, S, S], run.edited));
  if (a.plot) {
    const tiles = new Float64Array(4 * n * S * S);
    [run.source, run.manipulated, run.edited, run.truth].forEach((x, row) => tiles.set(x, row * n * S * S));
    await writePlot(a.plot, imageGridFigure(tiles, 4 * n, S, S, { cols: n, pixel: 4, title: `rows: source, copied to the target, ${method} (${run.nfe} network calls), truth` }));
  }
  if (a.json) {
    io.stdout.write(`${JSON.stringify({ ...summary, psnrCapDb: CAP }, null, 2)}\n`);
    return;
  }
  if (a.quiet) return;
  const p = summary.psnr;
  const db = (v: number): string => `${v.toFixed(2)} dB`;
  io.stdout.write(`${card}: ${method}, ${n} scene(s), ${run.nfe} network calls per edit\n` +
    `PSNR vs the true result: outside the edit ${db(p.background)}, vacated region ${db(p.inpaint)}, ` +
    `object at its new place ${db(p.object)}, whole canvas ${db(p.all)} (each edit's PSNR capped at ${CAP} dB)\n`);
}
