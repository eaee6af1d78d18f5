import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import { nodeBuiltinGuard } from './support/bundle.js';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ring8Problem } from './support/refs.js';
import { samplers } from '../src/samplers/index.js';
import type { ProcessConfig } from '../src/process/index.js';
import * as direct from './browser/entry.js';
import type { SamplerCase } from './browser/entry.js';

/**
 * The numeric core must run unchanged in the browser: bundle test/browser/entry.ts for the browser
 * (no Node-only module may be reached), run the bundle in headless Chromium and, in Node, in a
 * fresh vm realm, and compare the Float64Array bytes — each engine with its own, untouched Math.
 *
 * Engines round Math.exp/log/sin/cos/pow differently (Node 20's V8: fdlibm; current Chromium:
 * correctly rounded); the core computes those with src/core/math.ts (from +, −, ×, ÷ and sqrt,
 * which ECMAScript pins to the bit), so a seed gives the same bits in both.
 */
const CHROMIUM = process.env.DIFFUSE_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const skipReason = `no Chromium at ${CHROMIUM}; install it with \`bash scripts/setup-browser.sh\` or set DIFFUSE_CHROMIUM`;
if (!hasChromium) console.warn(`browser parity skipped: ${skipReason}`);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type Entry = typeof direct;

/** The bundle in a fresh Node realm with only the globals a browser page also has. */
function nodeRealm(bundle: string): Entry {
  const g = createContext({ console, setTimeout, clearTimeout, queueMicrotask, structuredClone, TextEncoder, TextDecoder });
  runInContext(bundle, g, { filename: 'diffuse-browser-bundle.js' });
  return (g as { diffuse: Entry }).diffuse;
}

/** 16 hex digits per float64, so a mismatch names the element. */
const perElement = (hex: string) => hex.match(/.{16}/g) ?? [];
const fromHex = (hex: string) => perElement(hex).map((h) => new DataView(Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16)).buffer).getFloat64(0, true));
const maxAbsDiff = (a: string, b: string) => {
  const x = fromHex(a);
  const y = fromHex(b);
  return Math.max(...x.map((v, i) => Math.abs(v - y[i])));
};

const vpDiscrete: ProcessConfig = { name: 'vp-discrete' };
const vpLinear: ProcessConfig = { name: 'vp', schedule: 'linear' };
const edm: ProcessConfig = { name: 'edm' };
const ring8 = ring8Problem().gmm;
const sampleCase = (sampler: string, process: ProcessConfig): [string, SamplerCase] => [
  sampler, { gmm: ring8, process, sampler, steps: 10, n: 64, seed: 1234 },
];
const registered = (name: string) => samplers.some((s) => s.name === name);
const cases: [string, SamplerCase][] = [
  sampleCase('ddim', vpDiscrete),
  ...(registered('dpmpp-2m') ? [sampleCase('dpmpp-2m', vpLinear)] : []),
  sampleCase('ddpm', vpDiscrete),
  sampleCase('euler-ancestral', edm),
];
const streams: [number, number, number][] = [[0, 0, 1001], [20240607, 3, 4096], [2 ** 40 + 5, 1, 257]];

describe('browser bundle', () => {
  let bundle = '';
  let bundledInputs: string[] = [];
  const nodeImports: string[] = [];
  let node: Entry;

  beforeAll(async () => {
    const out = await build({
      entryPoints: [resolve(root, 'test/browser/entry.ts')],
      absWorkingDir: root,
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'diffuse',
      platform: 'browser',
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
      plugins: [nodeBuiltinGuard(nodeImports, root)],
    });
    bundle = out.outputFiles[0].text;
    bundledInputs = Object.keys(out.metafile.inputs);
    node = nodeRealm(bundle);
  });

  it('holds the numeric core without any Node-only module, and no npm dependency but valibot (the JSON schemas)', () => {
    expect(nodeImports, 'the browser bundle reaches Node built-ins').toEqual([]);
    const outside = bundledInputs.filter((p) => !p.startsWith('src/') && !p.startsWith('test/browser/') && !p.startsWith('node_modules/valibot/'));
    expect(outside, 'the browser bundle pulls files from outside src/').toEqual([]);
    expect(bundledInputs).toContain('src/sample.ts');
  });

  it('changes no bit: the bundle in a fresh Node realm equals the sources run directly', async () => {
    expect(node.mathIsNative()).toBe(true);
    for (const [name, c] of cases) {
      expect(perElement((await node.runSampler(c)).hex), name).toEqual(perElement((await direct.runSampler(c)).hex));
    }
  });

  describe.skipIf(!hasChromium)(hasChromium ? 'in headless Chromium' : `in Chromium — SKIPPED: ${skipReason}`, () => {
    let userDataDir = '';
    let context: BrowserContext | undefined;
    let page: Page;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      userDataDir = mkdtempSync(join(tmpdir(), 'diffuse-chromium-'));
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync',
        ],
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.setContent('<!doctype html><meta charset="utf-8"><title>diffuse parity</title>');
      await page.addScriptTag({ content: bundle });
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    type Browser = { diffuse: Entry };
    const browser = {
      mathIsNative: () => page.evaluate(() => (globalThis as unknown as Browser).diffuse.mathIsNative()),
      mathProbe: () => page.evaluate(() => (globalThis as unknown as Browser).diffuse.mathProbe()),
      runSampler: (c: SamplerCase) => page.evaluate((arg) => (globalThis as unknown as Browser).diffuse.runSampler(arg), c),
      normalStream: (s: number, k: number, m: number) =>
        page.evaluate(([a, b, c]) => (globalThis as unknown as Browser).diffuse.normalStream(a, b, c), [s, k, m] as const),
      uniformStream: (s: number, k: number, m: number) =>
        page.evaluate(([a, b, c]) => (globalThis as unknown as Browser).diffuse.uniformStream(a, b, c), [s, k, m] as const),
    };

    it('runs with each engine\'s own Math', async () => {
      expect(await browser.mathIsNative()).toBe(true);
      expect(node.mathIsNative()).toBe(true);
      const differ = perElement(await browser.mathProbe()).filter((h, i) => h !== perElement(node.mathProbe())[i]).length;
      console.info(`Chromium and Node ${process.version} round ${differ} of 40 Math.exp/log/sin/cos/pow probes differently`);
      // The bit-identity tests below prove the portable math only if the engines' own Math differs.
      expect(differ, 'the two engines round Math alike: bit-identity here would not show that src/core/math.ts is what makes it').toBeGreaterThan(0);
    });

    it('draws bit-identical uniform streams (Philox: integer arithmetic only)', async () => {
      for (const [s, k, m] of streams) {
        expect(perElement(await browser.uniformStream(s, k, m)), `seed ${s} stream ${k}`).toEqual(perElement(node.uniformStream(s, k, m)));
      }
      expect(pageErrors).toEqual([]);
    });

    it('draws bit-identical normal streams (Box–Muller through src/core/math.ts)', async () => {
      for (const [s, k, m] of streams) {
        expect(perElement(await browser.normalStream(s, k, m)), `seed ${s} stream ${k}`).toEqual(perElement(node.normalStream(s, k, m)));
      }
      expect(pageErrors).toEqual([]);
    });

    it.each(cases)('%s on ring8 gives the same bits in Chromium as in Node', async (_name, c) => {
      const inNode = await node.runSampler(c);
      const inBrowser = await browser.runSampler(c);
      expect(inNode.nfe).toBe(c.steps);
      expect(inBrowser.nfe).toBe(inNode.nfe);
      expect(perElement(inBrowser.hex)).toEqual(perElement(inNode.hex));
      expect(pageErrors).toEqual([]);
    });

    it('the comparisons are not vacuous: outputs depend on the seed and the sampler', async () => {
      const stochastic = cases[cases.length - 1][1];
      const a = await browser.runSampler(stochastic);
      const b = await browser.runSampler({ ...stochastic, seed: stochastic.seed + 1 });
      const det = await browser.runSampler(cases[0][1]);
      expect(maxAbsDiff(a.hex, b.hex)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(a.hex, det.hex)).toBeGreaterThan(1e-3);
    });
  });
});
