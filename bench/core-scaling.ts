/**
 * Every core (issue 17, part 3): samples per second of one job run by 1 … all cores, in the two
 * ways a Node machine can use them — ONNX Runtime's intra-op threads inside one process, or
 * separate processes (what `diffuse worker` processes on one machine are) — for network-bound work
 * (models/mnist, dpmpp-2m, 10 steps) and oracle-bound work (builtin:gmm16, the exact mixture
 * in plain JavaScript, which one process runs on one core).
 *
 * Each configuration starts its processes, lets each load its model and warm up, then starts them
 * together; the time is the wall-clock until the last one finishes (median of 3 rounds, the
 * configurations taking turns). Run: npm run bench (or `tsx bench/core-scaling.ts`) → docs/bench-cores.md.
 * A child is this file with --child.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sample } from '../src/sample.js';
import type { Model } from '../src/models/types.js';
import type { Process } from '../src/process/types.js';

const here = fileURLToPath(import.meta.url);
const root = resolve(dirname(here), '..');

interface Work { kind: 'network' | 'oracle'; n: number; threads: number; seed: number }

if (process.argv.includes('--child')) {
  const w = JSON.parse(process.argv[process.argv.indexOf('--child') + 1]) as Work;
  let model: Model;
  let p: Process;
  let steps: number;
  if (w.kind === 'network') {
    const { loadOnnxModel } = await import('../src/models/onnx/node.js');
    const net = await loadOnnxModel(resolve(root, 'models/mnist/card.json'), { intraOpNumThreads: w.threads, interOpNumThreads: 1 });
    model = net.withLabels(Array.from({ length: w.n }, (_, i) => i % 10));
    p = net.process;
    steps = 10;
  } else {
    const { GaussianMixture, GmmOracle } = await import('../src/models/oracle/gmm.js');
    const { builtinProblem } = await import('../src/models/oracle/builtin.js');
    const { createProcess } = await import('../src/process/index.js');
    p = createProcess({ name: 'vp' });
    model = new GmmOracle(new GaussianMixture(builtinProblem('gmm16')), p, 'epsilon');
    steps = 20;
  }
  const run = () => sample({ model, process: p, sampler: 'dpmpp-2m', steps, n: w.n, seed: w.seed });
  await run();
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line !== 'go') continue;
    const started = performance.now();
    await run();
    process.stdout.write(`${(performance.now() - started) / 1000}\n`);
    break;
  }
  lines.close();
  process.exit(0);
}

const cores = cpus().length;
const JOBS = { network: 256, oracle: 50_000 } as const;
interface Config { kind: Work['kind']; processes: number; threads: number }
const configs: Config[] = [];
for (const kind of ['network', 'oracle'] as const) {
  configs.push({ kind, processes: 1, threads: 1 });
  if (kind === 'network' && cores > 1) configs.push({ kind, processes: 1, threads: cores });
  if (cores > 1) configs.push({ kind, processes: cores, threads: 1 });
}

/** Wall-clock of one configuration: its processes loaded and warm, then started together. */
async function runConfig(c: Config): Promise<number> {
  const share = Math.ceil(JOBS[c.kind] / c.processes);
  const children = Array.from({ length: c.processes }, (_, i) => {
    const work: Work = { kind: c.kind, n: share, threads: c.threads, seed: i };
    return spawn(process.execPath, ['--import', 'tsx', here, '--child', JSON.stringify(work)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  });
  const closed = children.map((child) => new Promise((r) => child.on('close', r)));
  const outputs = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
  for (const o of outputs) if ((await o.next()).value !== 'ready') throw new Error('a child did not start');
  const started = performance.now();
  for (const child of children) child.stdin.write('go\n');
  await Promise.all(outputs.map((o) => o.next()));
  const wall = (performance.now() - started) / 1000;
  await Promise.all(closed);
  return wall;
}

const loadBefore = loadavg()[0];
const times = new Map<Config, number[]>(configs.map((c) => [c, []]));
for (let round = 0; round < 3; round++) {
  for (const c of configs) {
    const t = await runConfig(c);
    (times.get(c) as number[]).push(t);
    console.error(`round ${round} ${c.kind} ${c.processes} process(es) × ${c.threads} thread(s): ${t.toFixed(2)} s`);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rows: string[] = [];
for (const kind of ['network', 'oracle'] as const) {
  const base = median(times.get(configs.find((c) => c.kind === kind && c.processes === 1 && c.threads === 1) as Config) as number[]);
  for (const c of configs.filter((x) => x.kind === kind)) {
    const t = median(times.get(c) as number[]);
    rows.push(`| ${kind === 'network' ? `models/mnist, ${JOBS.network} digits, dpmpp-2m 10 steps` : `builtin:gmm16, ${JOBS.oracle} samples, dpmpp-2m 20 steps`} | ${c.processes} × ${c.threads} | ${t.toFixed(2)} s (${(times.get(c) as number[]).map((x) => x.toFixed(2)).join(', ')}) | ${(JOBS[kind] / t).toFixed(kind === 'network' ? 1 : 0)} | ${(base / t).toFixed(2)}× |`);
  }
}
/** What the medians say about the defaults, in words. */
function conclusion(): string {
  if (cores === 1) return 'One core: nothing to compare.';
  const at = (kind: Work['kind'], processes: number, threads: number) =>
    median(times.get(configs.find((c) => c.kind === kind && c.processes === processes && c.threads === threads) as Config) as number[]);
  const threads = at('network', 1, cores);
  const procs = at('network', cores, 1);
  const oracle = at('oracle', 1, 1) / at('oracle', cores, 1);
  return `For a network, ${threads <= procs ? `one process with ${cores} intra-op threads (the default of every Diffuse command: onnxruntime-node uses all cores unless told otherwise) is as fast or faster per sample than ${cores} processes (${threads.toFixed(2)} vs ${procs.toFixed(2)} s)` : `${cores} processes of one thread are faster per sample than one process with ${cores} threads (${procs.toFixed(2)} vs ${threads.toFixed(2)} s): on one machine, run ${cores} \`diffuse worker --threads 1\` on a local Redis`}. Exact-oracle work is plain JavaScript, one core per process: ${cores} processes run it ${oracle.toFixed(2)}× as fast as one — on one machine, start ${cores} \`diffuse worker\`s on a local Redis (docs/distributed.md); their result is the same bits as one process.`;
}

const doc = [
  '# Every core: one job on 1 … all cores',
  '',
  'Generated by `npm run bench` (bench/core-scaling.ts); do not edit by hand.',
  '',
  `Machine: ${cores} × ${cpus()[0]?.model ?? 'unknown CPU'} (shared with other jobs), Node ${process.version}; ${new Date().toISOString().slice(0, 10)}. Load average (1 min) before: ${loadBefore.toFixed(2)}, after: ${loadavg()[0].toFixed(2)}.`,
  '',
  'Each row runs the same job split over P processes with T ONNX Runtime intra-op threads each (P × T); the processes load and warm up first, then start together, and the time is until the last finishes: median of 3 rounds (all rounds in parentheses), the configurations taking turns. Speed-up is against 1 × 1.',
  '',
  '| job | processes × threads | wall-clock | samples / s | speed-up |',
  '|---|---|---|---:|---:|',
  ...rows,
  '',
  conclusion(),
  '',
].join('\n');
writeFileSync(resolve(root, 'docs/bench-cores.md'), doc);
console.error('wrote docs/bench-cores.md');
