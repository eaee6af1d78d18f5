/**
 * End-to-end sampling speed on the shipped MNIST model: Diffuse (ONNX Runtime, Node) vs the same
 * weights in PyTorch with an equivalent DPM-Solver++(2M) loop (training/torch_sample.py), measured
 * in one run with the same thread count, from the same x_T; 64 digits, 20 steps, cfg 1 and 2.
 *
 * Run: npm run bench (after the overhead benchmark) or npm run bench:mnist → writes docs/bench-mnist.md.
 * Without PyTorch (python3-torch) it says so and writes nothing. Env: MNIST_BENCH_THREADS (default: all
 * cores), MNIST_BENCH_REPEATS (default 5), PYTHON (default /usr/bin/python3).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { loadOnnxModel } from '../src/models/onnx/node.js';
import { guided } from '../src/models/onnx/guidance.js';
import { findSampler } from '../src/samplers/index.js';
import { resolveGrid, sample } from '../src/sample.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const card = resolve(root, 'models/mnist/card.json');
const threads = Number(process.env.MNIST_BENCH_THREADS ?? cpus().length);
const repeats = Number(process.env.MNIST_BENCH_REPEATS ?? 5);
const python = process.env.PYTHON ?? '/usr/bin/python3';
const N = 64;
const loadBefore = loadavg()[0];

const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error(`MNIST speed ratio skipped: ${python} cannot import torch (Debian: apt-get install python3-torch; or set PYTHON)`);
  process.exit(0);
}
const STEPS = 20;
const SAMPLER = 'dpmpp-2m';

const sessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' } as const;
const model = await loadOnnxModel(card, sessionOptions);
const int8 = await loadOnnxModel(resolve(root, 'models/mnist-int8/card.json'), sessionOptions);
const grid = resolveGrid(model.process, undefined, STEPS, findSampler(SAMPLER).defaultGrid);
const NFE = grid.length - 1;
const labels = Array.from({ length: N }, (_, i) => i % 10);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
/** Median over the rounds of a / b (the runs of one round are back to back). */
const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]));
const dir = mkdtempSync(join(tmpdir(), 'diffuse-bench-mnist-'));

/** ONNX Runtime's best convolution throughput here: a chain of wide convolutions (the machine's float32 peak), fastest of 10 runs. */
async function convPeak(): Promise<{ flops: number; seconds: number; shape: number[]; depth: number; torchSeconds: number }> {
  const path = join(dir, 'conv.onnx');
  const py = spawnSync(python, [resolve(root, 'training/torch_sample.py'), '--conv-onnx', path, '--threads', String(threads)], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`training/torch_sample.py --conv-onnx failed:\n${py.stderr}`);
  const { shape, flops, depth, torchSeconds } = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as { shape: number[]; flops: number; depth: number; torchSeconds: number };
  const session = await InferenceSession.create(path, { ...sessionOptions, graphOptimizationLevel: 'all' });
  const x = new Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i)), shape);
  for (let i = 0; i < 3; i++) await session.run({ x });
  const seconds: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await session.run({ x });
    seconds.push((performance.now() - started) / 1000);
  }
  await session.release();
  return { flops, seconds: Math.min(...seconds), shape, depth, torchSeconds };
}

interface Row {
  cfg: number;
  diffuse: number[];
  int8: number[];
  torch: number[];
  maxAbsDiff: number;
  convFlopsPerCall: number;
  weights: string;
  torchVersion: string;
}

/** One timed sampling run per call, after a warm-up run. */
async function diffuseRunner(m: typeof model, cfg: number) {
  const net = cfg === 1 ? m.withLabels(labels) : guided(m, { labels, scale: cfg });
  const run = () => sample({ model: net, process: m.process, sampler: SAMPLER, grid, n: N, seed: 0 });
  const first = await run();
  let x: ArrayLike<number> = first.x.data;
  return {
    xT: first.xT,
    last: () => x,
    async time(): Promise<number> {
      const started = performance.now();
      x = (await run()).x.data;
      return (performance.now() - started) / 1000;
    },
  };
}

/** training/torch_sample.py kept running: `time()` asks it for one timed run, `end()` collects its result. */
async function torchRunner(planPath: string, outPath: string) {
  const py = spawn(python, [resolve(root, 'training/torch_sample.py'), '--card', card, '--plan', planPath, '--out', outPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((ok) => py.on('close', ok));
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error(`training/torch_sample.py stopped (exit ${await exited}):\n${stderr}`);
    return line.value;
  };
  if ((await next()) !== 'ready') throw new Error(`training/torch_sample.py did not start:\n${stderr}`);
  return {
    async time(): Promise<number> {
      py.stdin.write('run\n');
      return Number(await next());
    },
    async end() {
      py.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`training/torch_sample.py failed (exit ${code}):\n${stderr}`);
      return JSON.parse(readFileSync(outPath, 'utf8')) as { seconds: number[]; x: number[]; weights: string; torch: string; convFlopsPerCall: number };
    },
  };
}

/** Diffuse, PyTorch and the int8 model in turns, so that a change in the machine's load falls on all three alike. */
async function measure(cfg: number): Promise<Row> {
  const fp32 = await diffuseRunner(model, cfg);
  const q = await diffuseRunner(int8, cfg);
  const plan = {
    times: Array.from(grid), alpha: Array.from(grid, (t) => model.process.alpha(t)), sigma: Array.from(grid, (t) => model.process.sigma(t)),
    labels, cfg, threads, xT: Array.from(fp32.xT),
  };
  const planPath = join(dir, `plan-${cfg}.json`);
  writeFileSync(planPath, JSON.stringify(plan));
  const py = await torchRunner(planPath, join(dir, `torch-${cfg}.json`));
  const diffuse: number[] = [];
  const int8Seconds: number[] = [];
  for (let r = 0; r < repeats; r++) {
    diffuse.push(await fp32.time());
    await py.time();
    int8Seconds.push(await q.time());
  }
  const t = await py.end();
  const x = fp32.last();
  let maxAbsDiff = 0;
  for (let i = 0; i < x.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x[i] - t.x[i]));
  return { cfg, diffuse, int8: int8Seconds, torch: t.seconds, maxAbsDiff, convFlopsPerCall: t.convFlopsPerCall, weights: t.weights, torchVersion: t.torch };
}

const peak = await convPeak();
const peakRate = peak.flops / peak.seconds;
console.error(`ONNX Runtime convolution throughput (${peak.shape.join('×')}, 3×3): ${(peakRate / 1e9).toFixed(0)} GFLOP/s`);
/** Seconds a run would take if each model call did only its convolutions, at ONNX Runtime's best rate. */
const convBound = (r: Row) => (NFE * r.convFlopsPerCall) / peakRate;
const rows: Row[] = [];
for (const cfg of [1, 2]) {
  const row = await measure(cfg);
  rows.push(row);
  console.error(`cfg ${cfg}: Diffuse ${median(row.diffuse).toFixed(2)} s, PyTorch ${median(row.torch).toFixed(2)} s, ratio ${ratio(row.diffuse, row.torch).toFixed(2)}, max |Δx| ${row.maxAbsDiff.toExponential(1)}; roofline ${convBound(row).toFixed(2)} s; int8 ${median(row.int8).toFixed(2)} s`);
}
rmSync(dir, { recursive: true, force: true });

/** What a ratio of 0.5 would leave per model call for everything but the convolutions, against what Diffuse spends now. */
function budget(r: Row): string {
  const bound = convBound(r);
  const left = (0.5 * median(r.torch) - bound) / NFE;
  const spent = (median(r.diffuse) - bound) / NFE;
  const now = `Diffuse now spends ${(1000 * spent).toFixed(1)} ms per call beyond its convolutions at the bound, on normalisation, activations, additions, concatenations, layout changes and the sampler`;
  return left <= 0
    ? `cfg ${r.cfg}: a ratio of 0.5 lies below the bound, so removing every other cost could not reach it; ${now}.`
    : `cfg ${r.cfg}: a ratio of 0.5 would leave ${(1000 * left).toFixed(1)} ms per call for everything but the convolutions; ${now}.`;
}

const s = (v: number[]) => `${median(v).toFixed(2)} s (${v.map((x) => x.toFixed(2)).join(', ')})`;
const out = [
  '# MNIST end-to-end sampling speed: Diffuse (ONNX Runtime) vs PyTorch',
  '',
  'Generated by `npm run bench` or `npm run bench:mnist` (bench/mnist-speed.ts); do not edit by hand.',
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} (shared with other jobs), Node ${process.version}, PyTorch ${rows[0].torchVersion} (CPU); ${new Date().toISOString().slice(0, 10)}. Both sides use ${threads} intra-op thread(s) and one inter-op thread. Load average (1 min) before the run: ${loadBefore.toFixed(2)}, after: ${loadavg()[0].toFixed(2)} — the ratio is only meaningful on an otherwise idle machine (under load from other jobs PyTorch's threads slow down far more than ONNX Runtime's: a run at load ≈ 10 measured 0.19).`,
  '',
  `Job: ${N} class-conditional digits (labels 0–9 cycled) from models/mnist with ${SAMPLER}, ${STEPS} steps on its default logSNR grid ending at σ = 0, from the same x_T. Diffuse: \`sample()\` with the ONNX model (onnxruntime-node); PyTorch: training/torch_sample.py, the recipe's UNet class with the same weights (${rows[0].weights}) and the same DPM-Solver++(2M) update in float64 on the same times, no autograd. cfg 2 runs one doubled batch per step on both sides. Times are wall-clock per sampling run after a warm-up run, median of ${repeats} (all runs in parentheses); the runs take turns (Diffuse, PyTorch, then the int8 model below, ${repeats} rounds), so that a change in the machine's load falls on all alike, and the ratio is the median over the rounds of Diffuse / PyTorch (goal ≤ 0.5).`,
  '',
  '| cfg | Diffuse (ONNX Runtime) | PyTorch | ratio | max abs difference of the samples | convolution bound | lowest attainable ratio |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const bound = convBound(r);
    return `| ${r.cfg} | ${s(r.diffuse)} | ${s(r.torch)} | **${ratio(r.diffuse, r.torch).toFixed(2)}** | ${r.maxAbsDiff.toExponential(1)} | ${bound.toFixed(2)} s | ${(bound / median(r.torch)).toFixed(2)} |`;
  }),
  '',
  `Roofline. One model call does ${(rows[0].convFlopsPerCall / 1e9).toFixed(2)} GFLOP of convolution at batch ${N} (${(rows[1].convFlopsPerCall / 1e9).toFixed(2)} at the doubled batch of cfg 2; counted in PyTorch by forward hooks, 2 FLOP per multiply-add), and a run makes ${NFE} calls. ONNX Runtime's best convolution throughput on this machine, measured in the same run on a chain of ${peak.depth} convolutions of ${peak.shape[1]} → ${peak.shape[1]} channels, 3×3, batch ${peak.shape[0]} of ${peak.shape[2]}×${peak.shape[3]} (fastest of 10 runs; wider than any convolution of the UNet, whose narrower ones run slower, so the bound below is a lower bound), is ${(peakRate / 1e9).toFixed(0)} GFLOP/s (PyTorch on the same chain: ${(peak.flops / peak.torchSeconds / 1e9).toFixed(0)} GFLOP/s, so ONNX Runtime's convolutions are ${(peak.torchSeconds / peak.seconds).toFixed(2)}× as fast as PyTorch's here). "Convolution bound" is the time a run would take if each call did nothing but its convolutions at that rate; "lowest attainable ratio" divides it by PyTorch's time. Diffuse runs at ${rows.map((r) => ((100 * convBound(r)) / median(r.diffuse)).toFixed(0)).join(' % / ')} % of the bound (cfg 1 / cfg 2)${rows.every((r) => convBound(r) / median(r.diffuse) > 0.75) ? ": the convolutions, not the sampler or the runtime's overhead, set the time" : ''}. ${rows.map((r) => budget(r)).join(' ')}`,
  '',
  `For comparison only (other weights, not the goal's comparison): models/mnist-int8, the post-training int8 quantisation of this model (docs/quant.md), samples the same job in ${rows.map((r) => `${median(r.int8).toFixed(2)} s (cfg ${r.cfg}, ${ratio(r.int8, r.torch).toFixed(2)} × PyTorch's float32 time)`).join(' and ')}.`,
  '',
];
writeFileSync(resolve(root, 'docs/bench-mnist.md'), out.join('\n'));
console.error('wrote docs/bench-mnist.md');
