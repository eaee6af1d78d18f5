/**
 * Speed of the text-to-image pipeline on the tiny folders of test/fixtures (training/tiny_sd.py,
 * tiny_sdxl.py): load time, seconds per step and per image, and peak memory, on onnxruntime-node and
 * on onnxruntime-web's WebAssembly build in Node, for the float32 layout and the float16-I/O layout of
 * the same weights. Rounds alternate between the configurations and the machine's load is recorded,
 * so a number taken on a loaded machine shows as such. These are tiny networks (64 × 64 images): the
 * numbers measure the pipeline's own overhead and the runtimes' fixed costs, not a real model's.
 *
 * Run: npm run bench (after the other benchmarks) or npx tsx bench/pipeline-speed.ts → writes
 * docs/bench-pipelines.md. Env PIPELINE_BENCH_REPEATS (default 5).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStableDiffusion } from '../src/pipelines/node.js';
import { loadStableDiffusionWeb } from '../src/pipelines/web.js';
import type { StableDiffusion } from '../src/pipelines/stable-diffusion.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repeats = Number(process.env.PIPELINE_BENCH_REPEATS ?? 5);
const STEPS = 20;
const loadBefore = loadavg()[0];

interface Config {
  label: string;
  folder: string;
  runtime: 'onnxruntime-node' | 'onnxruntime-web (wasm)';
}
const configs: Config[] = [
  { label: 'SD 1.x float32', folder: 'test/fixtures/tiny-sd', runtime: 'onnxruntime-node' },
  { label: 'SD 1.x float16 I/O, external data', folder: 'test/fixtures/tiny-sd-v124', runtime: 'onnxruntime-node' },
  { label: 'SDXL', folder: 'test/fixtures/tiny-sdxl', runtime: 'onnxruntime-node' },
  { label: 'LCM (4 steps of its scheduler)', folder: 'test/fixtures/tiny-lcm', runtime: 'onnxruntime-node' },
  { label: 'SD3 (MMDiT, three text encoders; its FlowMatch scheduler)', folder: 'test/fixtures/tiny-sd3', runtime: 'onnxruntime-node' },
  { label: 'built-in t2i (32 × 32; its DPM-Solver++ 2M)', folder: 'models/t2i', runtime: 'onnxruntime-node' },
  { label: 'SD 1.x float32', folder: 'test/fixtures/tiny-sd', runtime: 'onnxruntime-web (wasm)' },
  { label: 'SD 1.x float16 I/O, external data', folder: 'test/fixtures/tiny-sd-v124', runtime: 'onnxruntime-web (wasm)' },
  { label: 'SD3 (MMDiT, three text encoders; its FlowMatch scheduler)', folder: 'test/fixtures/tiny-sd3', runtime: 'onnxruntime-web (wasm)' },
  { label: 'built-in t2i (32 × 32; its DPM-Solver++ 2M)', folder: 'models/t2i', runtime: 'onnxruntime-web (wasm)' },
];

async function open(c: Config): Promise<{ pipe: StableDiffusion; seconds: number; release: () => Promise<void> }> {
  const dir = join(root, c.folder);
  const started = performance.now();
  if (c.runtime === 'onnxruntime-node') {
    const pipe = await loadStableDiffusion(dir);
    return { pipe, seconds: (performance.now() - started) / 1000, release: async () => undefined };
  }
  const { pipeline, release } = await loadStableDiffusionWeb(`file://${dir}/`, {
    executionProviders: ['wasm'],
    fetch: async (u) => {
      const { readFile } = await import('node:fs/promises');
      try {
        return new Response(await readFile(fileURLToPath(String(u))));
      } catch {
        return new Response(null, { status: 404 });
      }
    },
  });
  return { pipe: pipeline, seconds: (performance.now() - started) / 1000, release };
}

const rows = new Map<string, { load: number[]; perStep: number[]; perImage: number[] }>();
const key = (c: Config) => `${c.label} | ${c.runtime}`;
const opened = await Promise.all(configs.map(async (c) => ({ c, ...(await open(c)) })));
for (const o of opened) rows.set(key(o.c), { load: [o.seconds], perStep: [], perImage: [] });
for (let round = 0; round < repeats; round++) {
  for (const o of opened) {
    const started = performance.now();
    const lcm = o.c.folder.endsWith('tiny-lcm');
    const out = await o.pipe.generate({ prompt: o.c.folder === 'models/t2i' ? 'an ankle boot' : 'a photo of a cat', steps: lcm ? 4 : STEPS, guidance: lcm ? 8.5 : 7.5, seed: round });
    const seconds = (performance.now() - started) / 1000;
    const r = rows.get(key(o.c));
    r?.perImage.push(seconds / out.n);
    r?.perStep.push(seconds / out.steps);
  }
}
for (const o of opened) await o.release();
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const peak = process.resourceUsage().maxRSS / 1024;
const lines = [
  '# Pipeline speed (tiny folders)',
  '',
  `\`npx tsx bench/pipeline-speed.ts\` on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after.`,
  `Text-to-image, 64 × 64 (the built-in model 32 × 32), ${STEPS} steps of the folder's scheduler (LCM: 4), CFG 7.5 (one doubled batch per step; LCM: its guidance embedding), one image;`,
  `medians of ${repeats} rounds that alternate between the configurations. Peak memory of the whole run: ${peak.toFixed(0)} MB.`,
  'The networks are tiny (0.06–0.4 M parameters each), so these numbers are the pipeline\'s and the runtimes\' fixed costs per call, not a real model\'s speed.',
  '',
  '| model | runtime | load (s) | ms per step | ms per image |',
  '|---|---|---|---|---|',
  ...[...rows.entries()].map(([k, r]) => `| ${k} | ${r.load[0].toFixed(2)} | ${(1000 * median(r.perStep)).toFixed(1)} | ${(1000 * median(r.perImage)).toFixed(0)} |`),
  '',
];
writeFileSync(join(root, 'docs/bench-pipelines.md'), lines.join('\n'));
console.log(lines.join('\n'));
