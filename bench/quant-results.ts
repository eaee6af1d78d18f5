/**
 * PTQ4DM-style int8 model (models/mnist-int8) against its fp32 teacher (models/mnist): sample
 * quality (`diffuse eval`'s Fréchet distance and accuracy, same seed so the same x_T), error of the
 * network's ε and x0 predictions on noised real digits, forward time of a batch of 64 in
 * onnxruntime-node on this machine, file size, and which integer kernels ONNX Runtime fused the QDQ
 * graph into. The shipped model is bias-corrected; the first build it was measured on (the same
 * settings without the correction) and the ablations are built under .tmp/quant/ by the commands in
 * models/mnist-int8/README.md and scored when present: bias correction by the plain mean, min-max and
 * percentile ranges, and naive uniform times with min-max ranges.
 *
 * Run: npx tsx bench/quant-results.ts → writes docs/quant.md. Env QUANT_N sets the samples per eval
 * row (default 500). Eval rows are cached in .tmp/quant/results-cache.json under a hash of the ONNX
 * file and card (so a rebuilt model is re-measured; delete the file to re-measure everything).
 */
import { defaultGrid } from '../src/sample.js';
import { findSampler } from '../src/samplers/index.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceSession } from 'onnxruntime-node';
import { loadOnnxModel } from '../src/models/onnx/node.js';
import { evaluateSampler, loadClassifier, loadMnistDigits, realFeatureFit, realSubset, type EvalResult } from '../src/eval/index.js';
import { Rng } from '../src/core/rng.js';
import { int8Dot } from './cpu.js';
import { alternatingTimes, mnistFeeds } from './alternating.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.QUANT_N ?? 500);
const SEED = 0;
const FP32 = 'models/mnist/card.json';
const INT8 = 'models/mnist-int8/card.json';
const UNCORRECTED = '.tmp/quant/first/mnist-int8/card.json';
const PLAIN_MEAN = '.tmp/quant/bias-plain/mnist-int8/card.json';
const ABLATIONS: [string, string][] = [
  ['NDTC times, min-max ranges', '.tmp/quant/ndtc-minmax/mnist-int8/card.json'],
  ['NDTC times, 99.99 % percentile ranges', '.tmp/quant/ndtc-percentile/mnist-int8/card.json'],
  ['uniform times, min-max ranges (naive)', '.tmp/quant/uniform-minmax/mnist-int8/card.json'],
  ['first and last layers quantised too (--quantise-ends)', '.tmp/quant/ends/mnist-int8/card.json'],
  ['weights: max-abs per channel (PTQ4DM\'s) instead of the MSE clip', '.tmp/quant/weights-maxabs/mnist-int8/card.json'],
  ['weights: 8-bit (−127..127), max-abs (saturates on x86 without VNNI)', '.tmp/quant/weights8/mnist-int8/card.json'],
];
const RUNS: [string, number][] = [['dpmpp-2m', 10], ['dpmpp-2m', 20], ['ddim', 10]];
const cachePath = join(root, '.tmp/quant/results-cache.json');

type Cache = Record<string, EvalResult>;
const cache: Cache = existsSync(cachePath) ? (JSON.parse(readFileSync(cachePath, 'utf8')) as Cache) : {};

const classifier = await loadClassifier();
const real = await realFeatureFit(classifier);

/** What an eval row depends on: the ONNX file's bytes and the card without its description. */
function modelHash(card: string): string {
  const { description: _, onnx, ...rest } = JSON.parse(readFileSync(join(root, card), 'utf8')) as Record<string, unknown>;
  const hash = createHash('sha256').update(readFileSync(join(root, dirname(card), String(onnx))));
  return hash.update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

async function evalRow(card: string, sampler: string, steps: number): Promise<EvalResult> {
  const key = `${modelHash(card)}|${sampler}|${steps}|${N}|${SEED}`;
  if (!cache[key]) {
    const model = await loadOnnxModel(join(root, card));
    // the sampler's own default grid, pinned (the cards' few-step rules, docs/few-step-results.md, do not apply here)
    cache[key] = await evaluateSampler({ model, classifier, real, sampler, steps, grid: defaultGrid(findSampler(sampler).defaultGrid, steps), cfg: 1, n: N, seed: SEED, batch: 250 });
    await (model.session as InferenceSession).release();
    mkdirSync(dirname(cachePath), { recursive: true });
    writeFileSync(cachePath, JSON.stringify(cache, null, 1));
    console.log(`${card} ${sampler} ${steps}: FD ${cache[key].fd.toFixed(2)} (${cache[key].seconds.toFixed(0)} s)`);
  }
  return cache[key];
}

/** Relative RMS error of ε̂, its mean (bias), and RMS error of x̂0 = (x − σ ε̂)/α against fp32, on noised real digits at each t. */
async function predictionErrors(card: string, times: number[]): Promise<{ t: number; eps: number; bias: number; x0: number }[]> {
  const fp = await loadOnnxModel(join(root, FP32));
  const q = await loadOnnxModel(join(root, card));
  const n = 100;
  const digits = realSubset(await loadMnistDigits(), n);
  const labels = Array.from(digits.labels);
  const rows = [];
  for (const t of times) {
    const z = new Rng(1).fork(t).fillNormal(new Float64Array(digits.images.length));
    const a = fp.process.alpha(t);
    const s = fp.process.sigma(t);
    const x = digits.images.map((v, i) => a * v + s * z[i]);
    const e32 = await fp.predictLabels(x, n, t, labels);
    const e8 = await q.predictLabels(x, n, t, labels);
    let err = 0;
    let ref = 0;
    let bias = 0;
    for (let i = 0; i < x.length; i++) {
      err += (e32[i] - e8[i]) ** 2;
      ref += e32[i] ** 2;
      bias += e8[i] - e32[i];
    }
    rows.push({ t, eps: Math.sqrt(err / ref), bias: bias / x.length, x0: (s / a) * Math.sqrt(err / x.length) });
  }
  await (fp.session as InferenceSession).release();
  await (q.session as InferenceSession).release();
  return rows;
}

/**
 * Median wall time of one forward pass of a batch of 64 for each model, the models taking turns in every round
 * (8 warm-up rounds, then 30) so that a change in the machine's load reaches them alike.
 */
async function forwardMs(onnx: string[]): Promise<number[]> {
  const sessions = await Promise.all(onnx.map((f) => InferenceSession.create(join(root, f))));
  const b = 64;
  const feeds = mnistFeeds(Float32Array.from(new Rng(3).fillNormal(new Float64Array(b * 784))), b);
  const times = await alternatingTimes(sessions, feeds, 30, 8);
  for (const session of sessions) await session.release();
  return times.map((t) => t[t.length >> 1]);
}

/** Node types of the graph ONNX Runtime runs after its optimisations (read from the saved optimised model). */
async function fusedOps(onnx: string): Promise<Map<string, number>> {
  const out = join(root, '.tmp/quant/optimized.onnx');
  mkdirSync(dirname(out), { recursive: true });
  const session = await InferenceSession.create(join(root, onnx), { optimizedModelFilePath: out, logSeverityLevel: 3 });
  await session.release();
  const counts = new Map<string, number>();
  for (const op of nodeOpTypes(readFileSync(out))) counts.set(op, (counts.get(op) ?? 0) + 1);
  return counts;
}

/** op_type of every node: ModelProto.graph (field 7) → GraphProto.node (field 1) → NodeProto.op_type (field 4). */
function nodeOpTypes(bytes: Uint8Array): string[] {
  const fields = (buf: Uint8Array): [number, Uint8Array | undefined][] => {
    const out: [number, Uint8Array | undefined][] = [];
    let i = 0;
    const varint = () => {
      let v = 0;
      let mul = 1;
      for (;;) {
        const byte = buf[i++];
        v += (byte & 0x7f) * mul;
        if (byte < 0x80) return v;
        mul *= 128;
      }
    };
    while (i < buf.length) {
      const key = varint();
      const wire = key % 8;
      const field = Math.floor(key / 8);
      if (wire === 0) varint();
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else if (wire === 2) {
        const len = varint();
        out.push([field, buf.subarray(i, i + len)]);
        i += len;
        continue;
      } else throw new Error(`unexpected protobuf wire type ${wire}`);
      out.push([field, undefined]);
    }
    return out;
  };
  const graph = fields(bytes).find(([f, v]) => f === 7 && v)?.[1];
  if (!graph) throw new Error('no graph in the optimised model');
  const decoder = new TextDecoder();
  return fields(graph).filter(([f, v]) => f === 1 && v).map(([, node]) => {
    const op = fields(node as Uint8Array).find(([f, v]) => f === 4 && v)?.[1];
    return op ? decoder.decode(op) : '?';
  });
}

const kb = (path: string) => Math.round(statSync(join(root, path)).size / 1024);
const times = [0, 20, 100, 300, 500, 700, 900, 999];

const lines: string[] = [];
const w = (s = '') => lines.push(s);
w('# PTQ4DM-style int8 MNIST model');
w();
w('Generated by `npx tsx bench/quant-results.ts`; the model and its recipe: `models/mnist-int8/README.md`.');
w(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'} (shared with other jobs while measured), onnxruntime-node, default session options. The CPU ${int8Dot()}.`);
w();
const uncorrected = existsSync(join(root, UNCORRECTED));
const quality: [string, string][] = [['fp32', FP32], ...(uncorrected ? [['int8 uncorrected', UNCORRECTED] as [string, string]] : []), ['int8 bias-corrected (shipped)', INT8]];
w(`## Sample quality (\`diffuse eval\`, n = ${N}, seed ${SEED}, cfg 1: same x_T for every model)`);
w();
w(`| sampler | steps | ${quality.map(([l]) => `${l} FD`).join(' | ')} | ${quality.map(([l]) => `${l} accuracy`).join(' | ')} |`);
w(`| --- | --- | ${quality.map(() => '--- | ---').join(' | ')} |`);
for (const [sampler, steps] of RUNS) {
  const r = [];
  for (const [, card] of quality) r.push(await evalRow(card, sampler, steps));
  w(`| ${sampler} | ${steps} | ${r.map((e) => e.fd.toFixed(1)).join(' | ')} | ${r.map((e) => `${(100 * e.accuracy).toFixed(1)} %`).join(' | ')} |`);
}
w();
if (uncorrected && existsSync(join(root, PLAIN_MEAN))) {
  w(`### Bias correction (n = ${N}, seed ${SEED}, cfg 1)`);
  w();
  w('The mean ε error E[ε_int8 − ε_fp32] of the first build, measured by `diffuse calibrate --quantized` on the 128 NDTC');
  w('calibration inputs, subtracted from the float output convolution\'s bias (Nagel et al. 2019; PTQD, He et al. 2023).');
  w();
  w('| int8 model | dpmpp-2m 10 FD | dpmpp-2m 20 FD | ddim 10 FD |');
  w('| --- | --- | --- | --- |');
  for (const [label, card] of [
    ['uncorrected (first build)', UNCORRECTED], ['plain mean over the inputs (Nagel et al.)', PLAIN_MEAN], ['σ_t²-weighted mean (shipped)', INT8],
  ]) {
    const r = [];
    for (const [sampler, steps] of RUNS) r.push(await evalRow(card, sampler, steps));
    w(`| ${label} | ${r.map((e) => e.fd.toFixed(1)).join(' | ')} |`);
  }
  w();
}
const present = ABLATIONS.filter(([, card]) => existsSync(join(root, card)));
if (present.length && uncorrected) {
  w(`### Calibration choices, without bias correction (n = ${N}, seed ${SEED}, cfg 1)`);
  w();
  w('| int8 model | dpmpp-2m 10 FD | accuracy | ddim 10 FD | accuracy |');
  w('| --- | --- | --- | --- | --- |');
  for (const [label, card] of [['first build: NDTC times, MSE-optimal ranges, 7-bit weights clipped for MSE, first and last layers in float', UNCORRECTED], ...present]) {
    const a = await evalRow(card, 'dpmpp-2m', 10);
    const b = await evalRow(card, 'ddim', 10);
    w(`| ${label} | ${a.fd.toFixed(1)} | ${(100 * a.accuracy).toFixed(1)} % | ${b.fd.toFixed(1)} | ${(100 * b.accuracy).toFixed(1)} % |`);
  }
  w();
}
w('## Network error against fp32 (100 noised real digits per t, their own labels)');
w();
w('ε: relative RMS error of the ε prediction; bias: mean of ε_int8 − ε_fp32 over all pixels; x0: RMS error of the implied');
w('x0 = (x − σ ε)/α (pixels in [−1, 1]).');
w();
const variants: [string, string][] = [['shipped', INT8], ...(uncorrected ? [['uncorrected', UNCORRECTED] as [string, string]] : []), ...present];
const errs: Awaited<ReturnType<typeof predictionErrors>>[] = [];
for (const [, card] of variants) errs.push(await predictionErrors(card, times));
const biased = uncorrected ? 2 : 1;
w(`| t | ${variants.map(([l]) => `ε: ${l}`).join(' | ')} | ${variants.slice(0, biased).map(([l]) => `bias: ${l}`).join(' | ')} | x0: shipped |`);
w(`| --- | ${variants.map(() => '---').join(' | ')} | ${variants.slice(0, biased).map(() => '---').join(' | ')} | --- |`);
times.forEach((t, k) => w(`| ${t} | ${errs.map((e) => e[k].eps.toFixed(4)).join(' | ')} | ${errs.slice(0, biased).map((e) => e[k].bias.toFixed(4)).join(' | ')} | ${errs[0][k].x0.toFixed(4)} |`));
w();
w('## Speed and size');
w();
const load = loadavg()[0];
const [fp32Ms, int8Ms] = await forwardMs(['models/mnist/mnist.onnx', 'models/mnist-int8/mnist-int8.onnx']);
w(`Forward pass of a batch of 64, median of 30 rounds in which the two models take turns; load average ${load.toFixed(2)} when it began.`);
w();
w('| model | file | forward, batch 64 |');
w('| --- | --- | --- |');
w(`| fp32 | ${kb('models/mnist/mnist.onnx')} KiB | ${fp32Ms.toFixed(1)} ms |`);
w(`| int8 QDQ | ${kb('models/mnist-int8/mnist-int8.onnx')} KiB | ${int8Ms.toFixed(1)} ms |`);
w();
const ops = await fusedOps('models/mnist-int8/mnist-int8.onnx');
w('## What ONNX Runtime runs');
w();
w('Node types of the int8 graph after ONNX Runtime\'s optimisations (`optimizedModelFilePath`):');
w();
w([...ops.entries()].sort((x, y) => y[1] - x[1]).map(([op, c]) => `${op} ${c}`).join(', '));
w();
writeFileSync(join(root, 'docs/quant.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
