/**
 * Where a model call's time goes: ONNX Runtime's own profiler (session option enableProfiling) on
 * models/mnist (float32) at batch 64 (cfg 1) and 128 (cfg 2's doubled batch) and on models/mnist-int8
 * at batch 64, summed per operator type over timed calls after warm-up, with the same thread settings
 * as bench/mnist-speed.ts (2 intra-op threads, 1 inter-op). The convolution share against the rest
 * (normalisation, activations, element-wise ops, concatenation, layout changes) is what separates
 * the end-to-end time from the convolution bound of docs/bench-mnist.md.
 *
 * Run: npx tsx bench/op-profile.ts → writes docs/bench-ops.md. Env OP_PROFILE_CALLS (default 10).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from '../src/models/onnx/node-runtime.js';
import { guided, loadOnnxModel } from '../src/models/onnx/node.js';
import { sample } from '../src/sample.js';
import { int8Dot } from './cpu.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const calls = Number(process.env.OP_PROFILE_CALLS ?? 10);
const loadBefore = loadavg()[0];
const ort = await nodeRuntime();
const work = mkdtempSync(join(tmpdir(), 'diffuse-op-profile-'));

interface TraceEvent { cat?: string; name?: string; dur?: number; args?: { op_name?: string } }

/** A profiled session on one model and batch, with its feeds. */
async function open(model: string, batch: number) {
  const card = JSON.parse(readFileSync(join(root, 'models', model, 'card.json'), 'utf8')) as { onnx: string };
  const prefix = `${model}-${batch}`;
  const session = await ort.InferenceSession.create(join(root, 'models', model, card.onnx), {
    intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', enableProfiling: true, profileFilePrefix: join(work, prefix),
  });
  // models/mnist and models/mnist-int8 take sample, timestep (float32) and class_labels (int64; 10 = null)
  const feeds = {
    sample: new ort.Tensor('float32', Float32Array.from({ length: batch * 784 }, (_, i) => Math.sin(i)), [batch, 1, 28, 28]),
    timestep: new ort.Tensor('float32', new Float32Array(batch).fill(500), [batch]),
    class_labels: new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 11)), [batch]),
  };
  return { session, feeds, prefix, walls: [] as number[] };
}

/** Kernel microseconds per call per operator type, from a session's trace, over its runs after the first `skip`. */
function perOpFromTrace(prefix: string, skip: number, runs: number): Map<string, number> {
  // onnxruntime-node writes the trace as <prefix>_<timestamp>.json and does not return its name
  const file = join(work, readdirSync(work).find((f) => f.startsWith(prefix) && f.endsWith('.json')) ?? '');
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  const perOp = new Map<string, number>();
  let done = 0;
  for (const e of events) {
    // a run's node events come before its model_run event
    if (e.cat === 'Session' && e.name === 'model_run') done++;
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || done < skip) continue;
    const op = e.args?.op_name ?? 'unknown';
    perOp.set(op, (perOp.get(op) ?? 0) + (e.dur ?? 0) / runs);
  }
  return perOp;
}

const cases: [string, string, number][] = [
  ['float32, cfg 1 (batch 64)', 'mnist', 64],
  ['float32, cfg 2 (batch 128)', 'mnist', 128],
  ['int8, cfg 1 (batch 64)', 'mnist-int8', 64],
];
const sessions = await Promise.all(cases.map(([, model, batch]) => open(model, batch)));
const WARM = 3;
for (const s of sessions) for (let i = 0; i < WARM; i++) await s.session.run(s.feeds as never);
// rounds alternate between the cases, so a drift in the machine's speed falls on all alike
for (let i = 0; i < calls; i++) {
  for (const s of sessions) {
    const started = performance.now();
    await s.session.run(s.feeds as never);
    s.walls.push(performance.now() - started);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const results = cases.map(([label], k) => {
  const s = sessions[k];
  s.session.endProfiling();
  const perOp = perOpFromTrace(s.prefix, WARM, calls);
  return { label, perOp, wall: median(s.walls), total: [...perOp.values()].reduce((a, b) => a + b, 0) };
});
for (const s of sessions) await s.session.release();
for (const r of results) console.log(`${r.label}: ${r.wall.toFixed(1)} ms per call`);
rmSync(work, { recursive: true, force: true });

/**
 * The whole sampling job of docs/bench-mnist.md (64 digits, dpmpp-2m, 20 steps) per model call,
 * against plain session runs of the same batch on its own session, in alternating rounds (this
 * machine's speed drifts between runs): what `sample()` adds per call is Diffuse's own work.
 */
async function perCallInSampling(cfg: number): Promise<{ sampling: number; raw: number }> {
  const opts = { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' } as const;
  const net = await loadOnnxModel(join(root, 'models/mnist/card.json'), opts);
  const plain = await ort.InferenceSession.create(join(root, 'models/mnist/mnist.onnx'), opts);
  const labels = Array.from({ length: 64 }, (_, i) => i % 10);
  const model = cfg === 1 ? net.withLabels(labels) : guided(net, { labels, scale: cfg });
  const batch = cfg === 1 ? 64 : 128;
  const feeds = () => ({
    sample: new ort.Tensor('float32', Float32Array.from({ length: batch * 784 }, (_, i) => Math.sin(i)), [batch, 1, 28, 28]),
    timestep: new ort.Tensor('float32', new Float32Array(batch).fill(500), [batch]),
    class_labels: new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 11)), [batch]),
  });
  const [sampling, raw]: number[][] = [[], []];
  for (let r = 0; r < 6; r++) {
    let started = performance.now();
    const out = await sample({ model, process: net.process, sampler: 'dpmpp-2m', steps: 20, n: 64, seed: r });
    if (r > 0) sampling.push((performance.now() - started) / out.nfe);
    started = performance.now();
    for (let k = 0; k < 20; k++) await plain.run(feeds() as never);
    if (r > 0) raw.push((performance.now() - started) / 20);
  }
  await plain.release();
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  return { sampling: median(sampling), raw: median(raw) };
}
const sampling = [await perCallInSampling(1), await perCallInSampling(2)];

const ops = [...new Set(results.flatMap((r) => [...r.perOp.keys()]))].sort((a, b) => (results[0].perOp.get(b) ?? 0) - (results[0].perOp.get(a) ?? 0));
const ms = (us: number) => (us / 1000).toFixed(1);
const pct = (v: number, t: number) => `${((100 * v) / t).toFixed(0)} %`;
const lines = [
  '# Where a model call\'s time goes (ONNX Runtime\'s profiler)',
  '',
  `Generated by \`npx tsx bench/op-profile.ts\`; ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, onnxruntime-node, 2 intra-op threads, 1 inter-op; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after. The CPU ${int8Dot()} (int8 kernels differ by it: docs/quant.md).`,
  `Kernel time per call (mean over ${calls} calls after 3 warm-up calls, the three cases alternating call by call) summed per operator type (ms, and its share of all kernel time); "wall" is the median call as the caller sees it.`,
  '',
  `| operator | ${results.map((r) => r.label).join(' | ')} |`,
  `|---|${results.map(() => '---|').join('')}`,
  ...ops.map((op) => `| ${op} | ${results.map((r) => (r.perOp.has(op) ? `${ms(r.perOp.get(op) ?? 0)} (${pct(r.perOp.get(op) ?? 0, r.total)})` : '—')).join(' | ')} |`),
  `| all kernels | ${results.map((r) => ms(r.total)).join(' | ')} |`,
  `| wall | ${results.map((r) => ms(r.wall * 1000)).join(' | ')} |`,
  `| per call of the sampling job (64 digits, dpmpp-2m, 20 steps; float32) | ${ms(sampling[0].sampling * 1000)} | ${ms(sampling[1].sampling * 1000)} | — |`,
  `| plain runs of the same batch, alternating with it | ${ms(sampling[0].raw * 1000)} | ${ms(sampling[1].raw * 1000)} | — |`,
  '',
  'The last two rows time `sample()` with the network (cfg 2: one doubled batch per call, through `guided()`), divided by',
  'its model calls, and plain session runs of the same batch in alternating rounds (medians of 5): their difference is',
  'Diffuse\'s own work per call (the sampler, the guidance combination and the float64 ↔ float32 copies).',
  '',
];
writeFileSync(join(root, 'docs/bench-ops.md'), lines.join('\n'));
console.log(lines.join('\n'));
