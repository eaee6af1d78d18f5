import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { nodeBuiltinGuard } from './support/bundle.js';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadOnnxModelWeb, type WebBackend } from '../src/models/onnx/web.js';
import { predictEps, sampleDigits, type Digits, type DigitsCase, type PredictCase } from './browser/onnx-web-case.js';
import type { LoadOutcome, onnxWeb, Source } from './browser/onnx-web-entry.js';
import { loadOrt } from './onnx/support.js';

/**
 * The onnxruntime-web adapter (src/models/onnx/web.ts) against the Node one: the loader is bundled
 * for the browser (no Node built-in may be reached), served with onnxruntime-web's .wasm files and
 * models/mnist from a local HTTP server, and run in headless Chromium (driven by playwright-core,
 * as in test/browser.test.ts); its MNIST samples are compared with onnxruntime-node's from the same
 * seed. The two runtimes' float32 kernels differ only in rounding, so the samples agree closely,
 * not bit for bit.
 */
const CHROMIUM = process.env.DIFFUSE_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const ort = await loadOrt();
const skipReason = !hasChromium ? `no Chromium at ${CHROMIUM}; install it with \`bash scripts/setup-browser.sh\` or set DIFFUSE_CHROMIUM`
  : 'onnxruntime-node, the reference, cannot load here';
if (!hasChromium || !ort) console.warn(`onnxruntime-web in the browser skipped: ${skipReason}`);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ortDist = resolve(root, 'node_modules/onnxruntime-web/dist');

/**
 * Largest |browser − Node| accepted: for one evaluation of ε̂, and over the 4 × 784 pixels of a
 * 5-step DDIM run, whose first steps magnify ε̂'s rounding by σ/α (≈ 160 at t = 999). WebGPU
 * (SwiftShader here) rounds more loosely than the two CPU runtimes. Measured values: docs/web.md.
 */
const EPS_TOLERANCE = 2e-5;
const SAMPLE_TOLERANCE = 1e-3;
const WEBGPU_EPS_TOLERANCE = 1e-3;
const WEBGPU_SAMPLE_TOLERANCE = 2e-2;
/** SwiftShader's WebGPU is slow (~30–60 s for the comparison), so its numbers are opt-in. */
const WEBGPU_NUMERICS = process.env.DIFFUSE_WEBGPU === '1';

const ddim = (cfg: number): DigitsCase => ({ sampler: 'ddim', steps: 5, seed: 0, labels: [0, 1, 2, 3], cfg });
const evals: PredictCase = { seed: 7, labels: [0, 1, 2, 3], timesteps: [999, 500, 20] };
const maxAbsDiff = (a: readonly number[], b: readonly number[]) => {
  expect(a).toHaveLength(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
};
const maxAbsDiffs = (a: readonly number[][], b: readonly number[][]) => a.map((row, i) => maxAbsDiff(row, b[i]));

const mnistCard = readFileSync(resolve(root, 'models/mnist/card.json'), 'utf8');

/**
 * The onnxruntime-web files docs/web.md tells a user to serve (its "Files to serve" paragraph):
 * the page below serves only these, so the browser tests fail if the doc names too few.
 */
const docFiles = (() => {
  const doc = readFileSync(resolve(root, 'docs/web.md'), 'utf8');
  const paragraph = doc.slice(doc.indexOf('**Files to serve.**'), doc.indexOf('**Backend.**'));
  return [...paragraph.matchAll(/`(ort-wasm[\w.-]+\.(?:wasm|mjs))`/g)].map((m) => m[1]);
})();

/** The page, the bundle, the onnxruntime-web files docs/web.md names, models/mnist, and two broken cards. */
function serve(bundle: string): Server {
  const ortFiles = new Set(docFiles);
  const routes: Record<string, () => [string, string | Buffer]> = {
    '/': () => ['text/html', '<!doctype html><meta charset="utf-8"><title>diffuse onnx web</title><script type="module" src="/onnx-web-entry.js"></script>'],
    '/onnx-web-entry.js': () => ['text/javascript', bundle],
    '/models/mnist/card.json': () => ['application/json', mnistCard],
    '/models/mnist/mnist.onnx': () => ['application/octet-stream', readFileSync(resolve(root, 'models/mnist/mnist.onnx'))],
    '/broken/card.json': () => ['application/json', JSON.stringify({ ...JSON.parse(mnistCard), sample_shape: [1, 0, 28] })],
    '/no-network/card.json': () => ['application/json', JSON.stringify({ ...JSON.parse(mnistCard), onnx: 'missing.onnx' })],
  };
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const ort = path.startsWith('/ort/') && ortFiles.has(path.slice(5)) ? path.slice(5) : undefined;
    const route = routes[path];
    if (ort) {
      res.writeHead(200, { 'content-type': ort.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' });
      res.end(readFileSync(join(ortDist, ort)));
    } else if (route) {
      const [type, body] = route();
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
}

describe('onnxruntime-web adapter', () => {
  let bundledInputs: string[] = [];
  const nodeImports: string[] = [];
  let server: Server;
  let origin = '';
  const inNode: { samples: Record<number, Digits>; eps: number[][] } = { samples: {}, eps: [] };

  beforeAll(async () => {
    const out = await build({
      entryPoints: [resolve(root, 'test/browser/onnx-web-entry.ts')],
      absWorkingDir: root,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
      plugins: [nodeBuiltinGuard(nodeImports, root)],
    });
    bundledInputs = Object.keys(out.metafile.inputs);
    server = serve(out.outputFiles[0].text);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (!ort) return;
    const net = await ort.loadOnnxModel(resolve(root, 'models/mnist/card.json'));
    for (const cfg of [1, 2]) inNode.samples[cfg] = await sampleDigits(net, ddim(cfg));
    inNode.eps = await predictEps(net, evals);
  }, 60_000);

  afterAll(() => new Promise<void>((ok) => (server ? server.close(() => ok()) : ok())));

  it('docs/web.md names the runtime files to serve, and each exists in onnxruntime-web', () => {
    expect(docFiles.length).toBeGreaterThanOrEqual(2);
    for (const f of docFiles) expect(readdirSync(ortDist), f).toContain(f);
  });

  it('bundles for the browser without any Node built-in', () => {
    expect(nodeImports, 'the browser bundle reaches Node built-ins').toEqual([]);
    expect(bundledInputs).toContain('src/models/onnx/web.ts');
    expect(bundledInputs.some((p) => p.startsWith('node_modules/onnxruntime-web/'))).toBe(true);
    expect(bundledInputs.some((p) => p.startsWith('node_modules/onnxruntime-node/'))).toBe(false);
  });

  it.skipIf(!ort)('the Node reference is not vacuous: guidance and labels change the digits', () => {
    const [plain, cfg2] = [inNode.samples[1], inNode.samples[2]];
    expect(plain.nfe).toBe(5);
    expect(cfg2.nfe).toBe(5);
    expect(plain.x.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(plain.x, cfg2.x)).toBeGreaterThan(0.1);
    const [first, second] = [plain.x.slice(0, 784), plain.x.slice(784, 1568)];
    expect(maxAbsDiff(first, second)).toBeGreaterThan(0.5);
  });

  describe('loader errors (in Node, onnxruntime-web\'s own Node build)', () => {
    const load = (path: string, executionProviders?: WebBackend[]) => loadOnnxModelWeb(`${origin}${path}`, { executionProviders });

    it('an unreachable card or network URL names the URL and the HTTP status', async () => {
      await expect(load('/models/none/card.json')).rejects.toThrow(/\/models\/none\/card\.json: fetching the model card gave HTTP 404/);
      await expect(load('/no-network/card.json', ['wasm'])).rejects.toThrow(/\/no-network\/missing\.onnx: fetching the ONNX network gave HTTP 404/);
      await expect(loadOnnxModelWeb('http://127.0.0.1:1/card.json')).rejects.toThrow(/127\.0\.0\.1:1\/card\.json: cannot fetch the model card/);
    });

    it('a malformed card says which field and what is accepted', async () => {
      await expect(load('/broken/card.json')).rejects.toThrow(/broken\/card\.json: "sample_shape" must be 1 to 8 positive integers/);
      await expect(load('/models/mnist/mnist.onnx')).rejects.toThrow(/mnist\.onnx: the model card is not valid JSON/);
    });

    it('a backend the runtime lacks, or an unknown one, is a UsageError saying what there is', async () => {
      await expect(load('/models/mnist/card.json', ['webgpu'])).rejects.toMatchObject({
        name: 'UsageError', message: expect.stringMatching(/no requested backend is available: webgpu \(navigator\.gpu is missing\); this browser has wasm/),
      });
      await expect(load('/models/mnist/card.json', ['webgl' as WebBackend])).rejects.toThrow(/executionProviders \["webgl"\]: give one or more of webgpu, wasm/);
    });
  });

  describe.skipIf(!hasChromium || !ort)(hasChromium && ort ? 'in headless Chromium' : `in Chromium — SKIPPED: ${skipReason}`, () => {
    const dirs: string[] = [];
    const contexts: BrowserContext[] = [];
    const pageErrors: string[] = [];

    /** A page of the local server in a fresh headless Chromium with `flags`. */
    async function openPage(flags: string[]): Promise<Page> {
      const dir = mkdtempSync(join(tmpdir(), 'diffuse-chromium-'));
      dirs.push(dir);
      const context = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless', '--no-sandbox', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync', ...flags,
        ],
      });
      contexts.push(context);
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => 'onnxWeb' in globalThis);
      return page;
    }

    type Api = { onnxWeb: typeof onnxWeb };
    const card = () => `${origin}/models/mnist/card.json`;
    const sampleAll = (page: Page, source: Source, backends: WebBackend[] | undefined, cases: DigitsCase[]) =>
      page.evaluate(([s, b, c]) => (globalThis as unknown as Api).onnxWeb.sampleAll(s, b, c), [source, backends, cases] as const);
    const predict = (page: Page, source: Source, backends: WebBackend[] | undefined) =>
      page.evaluate(([s, b, c]) => (globalThis as unknown as Api).onnxWeb.predict(s, b, c), [source, backends, evals] as const);
    const tryLoad = (page: Page, source: Source, backends: WebBackend[] | undefined): Promise<LoadOutcome> =>
      page.evaluate(([s, b]) => (globalThis as unknown as Api).onnxWeb.tryLoad(s, b), [source, backends] as const);

    /** Samples from the page vs Node's, with the measured difference logged. */
    function expectSameDigits(runs: Digits[], cfgs: number[], label: string, tolerance = SAMPLE_TOLERANCE) {
      runs.forEach((r, i) => {
        const diff = maxAbsDiff(r.x, inNode.samples[cfgs[i]].x);
        console.info(`${label} vs onnxruntime-node, ddim 5 steps, cfg ${cfgs[i]}: max |Δ| = ${diff.toExponential(2)}`);
        expect(r.nfe).toBe(5);
        expect(diff).toBeLessThan(tolerance);
      });
    }

    afterAll(async () => {
      for (const c of contexts) await c.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    describe('without a GPU (--disable-gpu): WebAssembly', () => {
      let page: Page;
      beforeAll(async () => {
        page = await openPage(['--disable-gpu']);
      }, 60_000);

      it('one evaluation of ε̂ at t = 999, 500, 20 equals onnxruntime-node\'s to float32 rounding; a bundled model gives the same bits as one loaded by URL', async () => {
        const byUrl = await predict(page, card(), ['wasm']);
        expect(byUrl.backend).toBe('wasm');
        const diffs = maxAbsDiffs(byUrl.eps, inNode.eps);
        console.info(`onnxruntime-web (wasm) vs onnxruntime-node, ε̂ at t = ${evals.timesteps.join(', ')}: max |Δ| = ${diffs.map((d) => d.toExponential(2)).join(', ')}`);
        for (const d of diffs) expect(d).toBeLessThan(EPS_TOLERANCE);
        const bundled = await predict(page, { card: card(), onnx: `${origin}/models/mnist/mnist.onnx` }, ['wasm']);
        expect(bundled.eps).toEqual(byUrl.eps);
        expect(pageErrors).toEqual([]);
      });

      it('ddim, 5 steps, labels 0..3, seed 0, without and with classifier-free guidance (scale 2): the same digits as onnxruntime-node', async () => {
        const r = await sampleAll(page, card(), ['wasm'], [ddim(1), ddim(2)]);
        expect(r.backend).toBe('wasm');
        expectSameDigits(r.runs, [1, 2], 'onnxruntime-web (wasm)');
        expect(pageErrors).toEqual([]);
      });

      it('falls back from WebGPU to wasm and says so; WebGPU alone is a clear error', async () => {
        expect(await tryLoad(page, card(), ['webgpu', 'wasm'])).toEqual({ backend: 'wasm' });
        const only = await tryLoad(page, card(), ['webgpu']);
        expect(only).toMatchObject({ error: 'UsageError' });
        expect('message' in only && only.message).toMatch(/no requested backend is available: webgpu \(navigator\.gpu\.requestAdapter\(\) found no adapter\); this browser has wasm/);
      });

      it('an unreachable card URL is a UsageError naming it and the HTTP status', async () => {
        expect(await tryLoad(page, `${origin}/models/none/card.json`, ['wasm'])).toEqual({
          error: 'UsageError', message: `${origin}/models/none/card.json: fetching the model card gave HTTP 404 Not Found`,
        });
      });
    });

    describe('with SwiftShader\'s software WebGPU (--enable-unsafe-webgpu)', () => {
      let page: Page;
      let adapter: string | null = null;
      const noAdapter = 'this Chromium offers no WebGPU adapter even with --enable-unsafe-webgpu';
      beforeAll(async () => {
        page = await openPage(['--enable-unsafe-webgpu']);
        adapter = await page.evaluate(() => (globalThis as unknown as Api).onnxWeb.webGpuAdapter());
        console.info(`WebGPU adapter: ${adapter ?? 'none'}`);
      }, 60_000);

      it('by default the loader passes the software adapter over for WebAssembly; asked for WebGPU alone, it uses it and says so', async (ctx) => {
        if (!adapter) ctx.skip(noAdapter);
        expect(await tryLoad(page, card(), undefined)).toEqual({ backend: 'wasm' });
        expect(await tryLoad(page, card(), ['webgpu'])).toEqual({ backend: 'webgpu' });
        expect(pageErrors).toEqual([]);
      });

      it.skipIf(!WEBGPU_NUMERICS)(WEBGPU_NUMERICS ? 'ε̂ and the ddim digits equal onnxruntime-node\'s within WebGPU\'s rounding'
        : 'ε̂ and the ddim digits vs onnxruntime-node — SKIPPED: SwiftShader runs the network in software (~30–60 s); set DIFFUSE_WEBGPU=1', async (ctx) => {
        if (!adapter) ctx.skip(noAdapter);
        const r = await predict(page, card(), ['webgpu']);
        expect(r.backend).toBe('webgpu');
        const diffs = maxAbsDiffs(r.eps, inNode.eps);
        console.info(`onnxruntime-web (webgpu, ${adapter}) vs onnxruntime-node, ε̂ at t = ${evals.timesteps.join(', ')}: max |Δ| = ${diffs.map((d) => d.toExponential(2)).join(', ')}`);
        for (const d of diffs) expect(d).toBeLessThan(WEBGPU_EPS_TOLERANCE);
        const digits = await sampleAll(page, card(), ['webgpu'], [ddim(1)]);
        expectSameDigits(digits.runs, [1], `onnxruntime-web (webgpu, ${adapter})`, WEBGPU_SAMPLE_TOLERANCE);
        expect(pageErrors).toEqual([]);
      }, 300_000);
    });
  });
});
