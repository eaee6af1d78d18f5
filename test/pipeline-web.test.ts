import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { nodeBuiltinGuard } from './support/bundle.js';
import { parseNpy } from '../src/io/npy.js';
import { loadStableDiffusionWeb, textToImage } from '../src/pipelines/web.js';
import type { pipelineWeb, WebRunCase } from './browser/pipeline-entry.js';

/**
 * The pipeline on onnxruntime-web: the tiny folders served over HTTP, loaded by URL, run on its
 * WebAssembly backend in Node (onnxruntime-web's own Node build) and in headless Chromium, against
 * the PyTorch reference the Node pipeline matches (test/pipelines/tiny-sd.test.ts).
 */
const CHROMIUM = process.env.DIFFUSE_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = resolve(root, 'test/fixtures');
const ortDist = resolve(root, 'node_modules/onnxruntime-web/dist');
const ref = JSON.parse(readFileSync(join(fixtures, 'tiny-sd/reference.json'), 'utf8')) as { prompt: string; steps: number; guidance: number; guidance_rescale: number };
const array = (name: string) => Array.from(parseNpy(readFileSync(join(fixtures, `tiny-sd/reference/${name}.npy`))).data as ArrayLike<number>);
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** The fixture folders under /models/, onnxruntime-web's files under /ort/, the page and its bundle. */
function serve(bundle: string): Server {
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path === '/') return send('text/html', '<!doctype html><meta charset="utf-8"><script type="module" src="/entry.js"></script>');
    if (path === '/entry.js') return send('text/javascript', bundle);
    const file = path.startsWith('/ort/') ? join(ortDist, path.slice(5)) : path.startsWith('/models/') ? join(fixtures, path.slice(8)) : undefined;
    if (file && !file.includes('..') && existsSync(file) && statSync(file).isFile()) {
      return send(file.endsWith('.wasm') ? 'application/wasm' : file.endsWith('.mjs') || file.endsWith('.js') ? 'text/javascript' : 'application/octet-stream', readFileSync(file));
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
}

describe('the text-to-image pipeline on onnxruntime-web', () => {
  let server: Server;
  let origin = '';
  const nodeImports: string[] = [];
  const run = (folder: string): WebRunCase => ({
    folder: `${origin}/models/${folder}/`, prompt: ref.prompt, steps: ref.steps, guidance: ref.guidance, guidanceRescale: ref.guidance_rescale, latents: array('z'),
  });

  beforeAll(async () => {
    const out = await build({
      entryPoints: [resolve(root, 'test/browser/pipeline-entry.ts')], absWorkingDir: root, bundle: true, write: false,
      format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent', plugins: [nodeBuiltinGuard(nodeImports, root)],
    });
    server = serve(out.outputFiles[0].text);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(() => new Promise<void>((ok) => (server ? server.close(() => ok()) : ok())));

  it('bundles for the browser without any Node built-in', () => {
    expect(nodeImports).toEqual([]);
  });

  it('loads a folder by URL (with the ≥ 1.24 layout and its external data) and matches the reference on WebAssembly in Node', async () => {
    for (const [folder, tolerance] of [['tiny-sd', 1e-5], ['tiny-sd-v124', 1e-3]] as const) {
      const c = run(folder);
      const { pipeline, backend, release } = await loadStableDiffusionWeb(c.folder, { executionProviders: ['wasm'] });
      try {
        const out = await pipeline.generate({ prompt: c.prompt, steps: c.steps, guidance: c.guidance, guidanceRescale: c.guidanceRescale, latents: Float64Array.from(c.latents) });
        expect(backend).toBe('wasm');
        expect(maxAbs(out.pixels, array('image')), folder).toBeLessThan(tolerance);
      } finally {
        await release();
      }
    }
  });

  it('textToImage: the folder as one function (transformers.js manner), RGBA images equal to the reference, backend pinned by device', async () => {
    const c = run('tiny-sd');
    const pipe = await textToImage(c.folder, { device: 'wasm' });
    try {
      expect(pipe.backend).toBe('wasm');
      const out = await pipe(c.prompt, { steps: c.steps, guidance: c.guidance, guidanceRescale: c.guidanceRescale, latents: Float64Array.from(c.latents) });
      expect([out.images.length, out.images[0].width, out.images[0].height, out.nfe]).toEqual([1, 64, 64, c.steps]);
      const want = array('image');
      let worst = 0;
      for (let k = 0; k < 64 * 64; k++) for (let ch = 0; ch < 3; ch++) worst = Math.max(worst, Math.abs(out.images[0].rgba[4 * k + ch] - Math.round(255 * want[ch * 64 * 64 + k])));
      expect(worst).toBeLessThanOrEqual(1);
      expect(out.images[0].png).toBeUndefined();
    } finally {
      await pipe.release();
    }
    await expect(textToImage(c.folder, { device: 'webgl' as never })).rejects.toThrow(/device must be webgpu or wasm, got webgl/);
  });

  it('loads an SD3 folder by URL (three text encoders, T5 tokenizer.json, the transformer) and matches its reference', async () => {
    const sd3 = (name: string) => Float64Array.from(parseNpy(readFileSync(join(fixtures, `tiny-sd3/reference/${name}.npy`))).data as ArrayLike<number>);
    const r = JSON.parse(readFileSync(join(fixtures, 'tiny-sd3/reference.json'), 'utf8')) as { prompt: string; steps: number; guidance: number };
    const { pipeline, release } = await loadStableDiffusionWeb(`${origin}/models/tiny-sd3/`, { executionProviders: ['wasm'] });
    try {
      expect(pipeline.parts.tokenizer3?.maxLength).toBe(256);
      const out = await pipeline.generate({ prompt: r.prompt, steps: r.steps, guidance: r.guidance, width: 64, height: 64, latents: sd3('z') });
      expect(maxAbs(out.pixels, sd3('image'))).toBeLessThan(1e-5);
    } finally {
      await release();
    }
  });

  it('says what is missing at a URL', async () => {
    await expect(loadStableDiffusionWeb(`${origin}/models/nowhere/`, { executionProviders: ['wasm'] })).rejects.toThrow(/model_index.json.*HTTP 404/);
  });

  it.skipIf(!hasChromium)('runs in headless Chromium and matches the references: SD 1.x (both layouts), SDXL, SD3 and LCM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-chromium-'));
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const errors: string[] = [];
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => 'pipelineWeb' in globalThis);
      const out = await page.evaluate((c) => (globalThis as unknown as { pipelineWeb: typeof pipelineWeb }).pipelineWeb.generate(c), run('tiny-sd'));
      expect([out.backend, out.sampler, out.nfe]).toEqual(['wasm', 'ddim', ref.steps]);
      expect(maxAbs(out.pixels, array('image'))).toBeLessThan(1e-5);
      // the SDXL (two encoders, added conditions) and SD3 (T5, MMDiT) references in the page too
      for (const [folder, sampler] of [['tiny-sdxl', 'ddim'], ['tiny-sd3', 'flow-euler']] as const) {
        const r = JSON.parse(readFileSync(join(fixtures, `${folder}/reference.json`), 'utf8')) as { prompt: string; steps: number; guidance: number };
        const ref2 = (name: string) => Array.from(parseNpy(readFileSync(join(fixtures, `${folder}/reference/${name}.npy`))).data as ArrayLike<number>);
        const c = { folder: `${origin}/models/${folder}/`, prompt: r.prompt, steps: r.steps, guidance: r.guidance, guidanceRescale: 0, latents: ref2('z') };
        const o = await page.evaluate((q) => (globalThis as unknown as { pipelineWeb: typeof pipelineWeb }).pipelineWeb.generate(q), c);
        expect([o.sampler, o.nfe], folder).toEqual([sampler, r.steps]);
        expect(maxAbs(o.pixels, ref2('image')), folder).toBeLessThan(1e-5);
      }
      // the optimum ≥ 1.24 layout: float16 I/O, a scalar float16 timestep, the UNet's weights in external data
      const v124 = await page.evaluate((q) => (globalThis as unknown as { pipelineWeb: typeof pipelineWeb }).pipelineWeb.generate(q), run('tiny-sd-v124'));
      expect(maxAbs(v124.pixels, array('image'))).toBeLessThan(1e-3);
      // LCM: the guidance embedding, its scheduler's 4 steps, the replayed re-noising (tiny-sd's lcm_* reference)
      const all = array('lcm_noise');
      const lcm = { folder: `${origin}/models/tiny-lcm/`, prompt: ref.prompt, steps: 4, guidance: 8.5, guidanceRescale: 0, latents: array('z'), noise: [0, 1, 2].map((k) => all.slice(k * 256, (k + 1) * 256)) };
      const o = await page.evaluate((q) => (globalThis as unknown as { pipelineWeb: typeof pipelineWeb }).pipelineWeb.generate(q), lcm);
      expect([o.sampler, o.nfe]).toEqual(['lcm', 4]);
      expect(maxAbs(o.pixels, array('lcm_image'))).toBeLessThan(1e-5);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
