/**
 * Speed of the text-to-image pipeline on the tiny folders of test/fixtures (training/tiny_sd.py,
 * tiny_sdxl.py): load time, seconds per step and per image, and peak memory, on onnxruntime-node and
 * on onnxruntime-web's WebAssembly build in Node, for the float32 layout and the float16-I/O layout of
 * the same weights, and in headless Chromium (onnxruntime-web's WebAssembly, the folders served over HTTP
 * with cross-origin isolation headers so it gets every core). Rounds alternate between the
 * configurations and the machine's load is recorded,
 * so a number taken on a loaded machine shows as such. These are tiny networks (64 × 64 images): the
 * numbers measure the pipeline's own overhead and the runtimes' fixed costs, not a real model's.
 *
 * Run: npm run bench (after the other benchmarks) or npx tsx bench/pipeline-speed.ts → writes
 * docs/bench-pipelines.md. Env PIPELINE_BENCH_REPEATS (default 5).
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { SpeedCase, pipelineSpeed } from './browser/pipeline-speed-entry.js';
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
  runtime: 'onnxruntime-node' | 'onnxruntime-web (wasm)' | 'Chromium, onnxruntime-web (wasm)';
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

const browserConfigs: Config[] = configs.filter((c) => c.runtime === 'onnxruntime-web (wasm)').map((c) => ({ ...c, runtime: 'Chromium, onnxruntime-web (wasm)' }));
const prompt = (c: Config) => (c.folder === 'models/t2i' ? 'an ankle boot' : 'a photo of a cat');

const rows = new Map<string, { load: number[]; perStep: number[]; perImage: number[] }>();
const key = (c: Config) => `${c.label} | ${c.runtime}`;
const opened = await Promise.all(configs.map(async (c) => ({ c, ...(await open(c)) })));
for (const o of opened) rows.set(key(o.c), { load: [o.seconds], perStep: [], perImage: [] });
for (let round = 0; round < repeats; round++) {
  for (const o of opened) {
    const started = performance.now();
    const lcm = o.c.folder.endsWith('tiny-lcm');
    const out = await o.pipe.generate({ prompt: prompt(o.c), steps: lcm ? 4 : STEPS, guidance: lcm ? 8.5 : 7.5, seed: round });
    const seconds = (performance.now() - started) / 1000;
    const r = rows.get(key(o.c));
    r?.perImage.push(seconds / out.n);
    r?.perStep.push(seconds / out.steps);
  }
}
for (const o of opened) await o.release();

/**
 * The same runs in headless Chromium: the page bundle (bench/browser/pipeline-speed-entry.ts) opens
 * each folder by URL and times the rounds itself; the folders and onnxruntime-web's files are served
 * here with the COOP/COEP headers the playground's servers send.
 */
async function chromiumRows(): Promise<string> {
  const CHROMIUM = process.env.DIFFUSE_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(CHROMIUM)) return `Chromium rows skipped: ${CHROMIUM} is missing (bash scripts/setup-browser.sh installs Debian's).`;
  const bundle = await build({
    entryPoints: [join(root, 'bench/browser/pipeline-speed-entry.ts')], absWorkingDir: root, bundle: true, write: false,
    format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent',
  });
  const ortDist = join(root, 'node_modules/onnxruntime-web/dist');
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    if (path === '/') return res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><script type="module" src="/entry.js"></script>');
    if (path === '/entry.js') return res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(bundle.outputFiles[0].text);
    const file = path.startsWith('/ort/') ? join(ortDist, path.slice(5)) : join(root, path);
    const allowed = path.startsWith('/ort/') || browserConfigs.some((c) => path.startsWith(`/${c.folder}/`));
    if (!allowed || file.includes('..') || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
    const type = file.endsWith('.wasm') ? 'application/wasm' : /\.m?js$/.test(file) ? 'text/javascript' : 'application/octet-stream';
    res.writeHead(200, { ...headers, 'content-type': type }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'diffuse-pipeline-bench-')), {
    executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'pipelineSpeed' in globalThis);
    const cases: SpeedCase[] = browserConfigs.map((c) => {
      const lcm = c.folder.endsWith('tiny-lcm');
      return { key: key(c), url: `${origin}/${c.folder}/`, prompt: prompt(c), steps: lcm ? 4 : STEPS, guidance: lcm ? 8.5 : 7.5 };
    });
    const timed = await page.evaluate(([q, n]) => (globalThis as unknown as { pipelineSpeed: typeof pipelineSpeed }).pipelineSpeed.time(q, n), [cases, repeats] as const);
    for (const r of timed.results) rows.set(r.key, { load: [r.load], perStep: r.perStep, perImage: r.perImage });
    return `Chromium rows: ${CHROMIUM}, headless, the page ${timed.isolated ? 'cross-origin isolated' : 'not cross-origin isolated'}, WebAssembly on ${timed.threads} thread${timed.threads === 1 ? '' : 's'}; a load includes fetching the files over local HTTP, and the first folder's also compiling onnxruntime-web's WebAssembly (the folders load in the table's order).`;
  } finally {
    await context.close();
    server.close();
  }
}
const browserNote = await chromiumRows();
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const peak = process.resourceUsage().maxRSS / 1024;
const lines = [
  '# Pipeline speed (tiny folders)',
  '',
  `\`npx tsx bench/pipeline-speed.ts\` on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after.`,
  `Text-to-image, 64 × 64 (the built-in model 32 × 32), ${STEPS} steps of the folder's scheduler (LCM: 4), CFG 7.5 (one doubled batch per step; LCM: its guidance embedding), one image;`,
  `medians of ${repeats} rounds that alternate between the configurations. Peak memory of the whole run: ${peak.toFixed(0)} MB.`,
  'The networks are tiny (0.06–0.4 M parameters each), so these numbers are the pipeline\'s and the runtimes\' fixed costs per call, not a real model\'s speed.',
  `${browserNote} Peak memory is Node's only.`,
  '',
  '| model | runtime | load (s) | ms per step | ms per image |',
  '|---|---|---|---|---|',
  ...[...rows.entries()].map(([k, r]) => `| ${k} | ${r.load[0].toFixed(2)} | ${(1000 * median(r.perStep)).toFixed(1)} | ${(1000 * median(r.perImage)).toFixed(0)} |`),
  '',
];
writeFileSync(join(root, 'docs/bench-pipelines.md'), lines.join('\n'));
console.log(lines.join('\n'));
