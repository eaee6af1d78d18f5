import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { runCli } from './support/cli.js';
import { gaussiansFor, sample } from '../src/index.js';
import { guided, loadOnnxModel } from '../src/models/onnx/node.js';
import { shippedModelCard } from '../src/models/onnx/shipped.js';
import { loadGaussians } from '../src/cli/teleport.js';
import { loadClassifier } from '../src/eval/classifier.js';
import { realFeatureFit } from '../src/eval/data.js';
import { frechetDistance, gaussianFit } from '../src/metrics/fid.js';
import { encodeNpy } from '../src/io/npy.js';
import { readNpyFile } from '../src/io/files.js';
import { tensor } from '../src/core/tensor.js';
import { loadStableDiffusion } from '../src/pipelines/node.js';
import { toRgba } from '../src/pipelines/stable-diffusion.js';

/**
 * The playground built by Vite into a static folder, served by a plain file server (no Node at run
 * time), opened in headless Chromium: the Lab's numbers equal the CLI's for the same settings
 * (`diffuse sample --json`'s error against the exact endpoint, `diffuse bench --json`'s rows), the
 * settings live in the URL, bad settings give a message, the canvases are not blank and the page
 * logs no error. Screenshots stay in the test's temp folder.
 */
const CHROMIUM = process.env.DIFFUSE_CHROMIUM ?? '/usr/bin/chromium';
const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const out = mkdtempSync(join(tmpdir(), 'diffuse-playground-'));
const site = join(out, 'site');
const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

function serve(dir: string): Server {
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
}

/** Share of a screenshot's pixels that differ from its most common colour. */
function inkShare(png: Buffer): number {
  const { data } = PNG.sync.read(png);
  const counts = new Map<number, number>();
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const total = data.length / 4;
  return 1 - Math.max(...counts.values()) / total;
}

describe.skipIf(!existsSync(CHROMIUM))('the playground in headless Chromium', () => {
  let server: Server;
  let origin = '';
  let context: BrowserContext;
  const errors: string[] = [];

  beforeAll(async () => {
    await build({ configFile: join(root, 'web/vite.config.ts'), logLevel: 'silent', build: { outDir: site, emptyOutDir: true } });
    server = serve(site);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    context = await chromium.launchPersistentContext(join(out, 'profile'), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1000, height: 1400 },
      args: ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  });

  const open = async (query: string, tab: 'lab' | 'net' | 'text' = 'lab'): Promise<Page> => {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    await page.goto(`${origin}/?${query}`);
    if (tab === 'lab') await page.waitForSelector('body[data-ready="run"], body[data-ready="error"]', { timeout: 60_000 });
    else if (tab === 'net') await page.waitForSelector('body[data-net="images"], body[data-net="error"]', { timeout: 90_000 });
    else await page.waitForSelector('body[data-text="done"], body[data-text="error"]', { timeout: 90_000 });
    return page;
  };

  it('shows the error against the exact endpoint that `diffuse sample` reports, for both samplers on the same noise', async () => {
    const page = await open('tab=lab&problem=moons&process=vp&sampler=dpmpp-2m&compare=unipc&steps=7&n=48&seed=3');
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    expect(rows.map((r) => r.sampler)).toEqual(['dpmpp-2m', 'unipc']);
    for (const row of rows) {
      const cli = await runCli('sample', '--model', 'builtin:moons', '--process', 'vp', '--sampler', row.sampler as string, '--steps', '7', '--n', '48', '--seed', '3', '--json', '--quiet');
      expect(cli.code, cli.err).toBe(0);
      const summary = JSON.parse(cli.out) as { nfe: number; error: { rmsErr: number } };
      expect(Number(row.nfe)).toBe(summary.nfe);
      expect(Number(row.rmsErr)).toBeCloseTo(summary.error.rmsErr, 12);
    }
    // the settings are in the URL the page keeps
    expect(new URL(page.url()).searchParams.get('compare')).toBe('unipc');
    await page.waitForTimeout(2800);
    const shot = await page.locator('#lab-canvas').screenshot();
    writeFileSync(join(out, 'lab.png'), shot);
    expect(inkShare(shot)).toBeGreaterThan(0.02);
    await page.close();
  }, 120_000);

  it('runs on points from the link as `diffuse sample --model data:points.npy` does, and a click in draw mode adds one', async () => {
    const points = [[0.5, 0.5], [-0.5, 0.2], [0.1, -0.7]];
    const page = await open(`tab=lab&problem=points&points=${points.map((p) => p.join(',')).join(';')}&process=vp&sampler=ddim&compare=&steps=6&n=32&seed=1`);
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    const npy = join(out, 'points.npy');
    writeFileSync(npy, encodeNpy(tensor('float64', [3, 2], Float64Array.from(points.flat()))));
    const cli = await runCli('sample', '--model', `data:${npy}`, '--process', 'vp', '--sampler', 'ddim', '--steps', '6', '--n', '32', '--seed', '1', '--json', '--quiet');
    expect(cli.code, cli.err).toBe(0);
    expect(Number(rows[0].rmsErr)).toBeCloseTo((JSON.parse(cli.out) as { error: { rmsErr: number } }).error.rmsErr, 12);
    expect(await page.$eval('#problem', (el) => (el as HTMLSelectElement).selectedOptions[0].textContent)).toBe('your points (3)');
    await page.click('#draw');
    await page.click('#lab-canvas', { position: { x: 60, y: 60 } });
    await page.waitForFunction(() => document.querySelector('#problem option[value="points"]')?.textContent === 'your points (4)');
    expect(new URL(page.url()).searchParams.get('points')?.split(';')).toHaveLength(4);
    await page.close();
  }, 60_000);

  it('takes points from a .npy dropped on the chart as `diffuse sample --model data:points.npy` does, and says what is wrong with a bad one', async () => {
    const page = await open('tab=lab&problem=ring8&process=vp&sampler=ddim&compare=&steps=6&n=32&seed=1');
    const points = [[0.25, -0.5], [-0.75, 0.5], [0.5, 0.125]];
    const npy = join(out, 'dropped.npy');
    writeFileSync(npy, encodeNpy(tensor('float64', [3, 2], Float64Array.from(points.flat()))));
    const drop = (bytes: Uint8Array, name: string) => page.evaluate(([b, n]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(b)], n));
      document.querySelector('#lab-canvas')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [Array.from(bytes), name] as const);
    await drop(readFileSync(npy), 'dropped.npy');
    await page.waitForFunction(() => document.querySelector('#problem option[value="points"]')?.textContent === 'your points (3)');
    await page.waitForSelector('body[data-ready="run"]', { timeout: 60_000 });
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    const cli = await runCli('sample', '--model', `data:${npy}`, '--process', 'vp', '--sampler', 'ddim', '--steps', '6', '--n', '32', '--seed', '1', '--json', '--quiet');
    expect(cli.code, cli.err).toBe(0);
    expect(Number(rows[0].rmsErr)).toBeCloseTo((JSON.parse(cli.out) as { error: { rmsErr: number } }).error.rmsErr, 12);
    await drop(encodeNpy(tensor('float64', [2, 3], new Float64Array(6))), 'wide.npy');
    await page.waitForFunction(() => !(document.querySelector('#error') as HTMLElement).hidden);
    expect(await page.$eval('#error', (el) => el.textContent)).toBe('wide.npy: wide.npy has shape [2, 3]; the Lab takes n × 2 points');
    expect(await page.$eval('#problem', (el) => (el as HTMLSelectElement).selectedOptions[0].textContent)).toBe('your points (3)');
    await page.close();
  }, 90_000);

  it('shows the measured verdict of docs/results.md beside an accelerator', async () => {
    const page = await open('tab=lab&problem=ring8&process=vp&sampler=dpm-solver-v3&compare=dualfast-ddim&steps=5&n=16');
    const verdicts = await page.$$eval('#verdicts p', (ps) => ps.map((p) => ({ sampler: (p as HTMLElement).dataset.sampler, text: p.textContent ?? '' })));
    const md = readFileSync(join(root, 'docs/results.md'), 'utf8');
    expect(verdicts.map((v) => v.sampler)).toEqual(['dpm-solver-v3', 'dualfast-ddim']);
    for (const v of verdicts) {
      const sentence = v.text.slice(v.text.indexOf('Verdict'));
      expect(md.replace(/\*\*/g, '')).toContain(sentence);
    }
    await page.close();
  }, 60_000);

  it('fits a searched schedule as `diffuse search` does and shows the error `diffuse sample` reports with it, beside the search\'s verdict', async () => {
    const page = await open('tab=lab&problem=ring8&process=vp&sampler=dpmpp-2m&search=s3&compare=unipc&steps=5&n=32&seed=2');
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    expect(rows.map((r) => r.sampler)).toEqual(['s3', 'unipc']);
    const file = join(out, 's3.json');
    const search = await runCli('search', '--method', 's3', '--model', 'builtin:ring8', '--process', 'vp', '--nfe', '5', '--out', file, '--quiet');
    expect(search.code, search.err).toBe(0);
    const cli = await runCli('sample', '--model', 'builtin:ring8', '--process', 'vp', '--schedule', file, '--n', '32', '--seed', '2', '--json', '--quiet');
    expect(cli.code, cli.err).toBe(0);
    const summary = JSON.parse(cli.out) as { nfe: number; error: { rmsErr: number } };
    expect(Number(rows[0].nfe)).toBe(summary.nfe);
    expect(summary.nfe).toBeLessThanOrEqual(5);
    expect(Number(rows[0].rmsErr)).toBeCloseTo(summary.error.rmsErr, 12);
    expect(await page.textContent('#notes')).toMatch(/^s3: searched for NFE ≤ 5 on its own 64 samples \(seed 1\)/);
    expect(new URL(page.url()).searchParams.get('search')).toBe('s3');
    const verdicts = await page.$$eval('#verdicts p', (ps) => ps.map((p) => ({ sampler: (p as HTMLElement).dataset.sampler, text: p.textContent ?? '' })));
    expect(verdicts.map((v) => v.sampler)).toEqual(['search:s3']);
    expect(readFileSync(join(root, 'docs/results.md'), 'utf8').replace(/\*\*/g, '')).toContain(verdicts[0].text.slice(verdicts[0].text.indexOf('Verdict')));
    await page.close();
  }, 120_000);

  it('offers every search with its verdict: AutoDiffusion searches the chosen sampler\'s grid within the NFE budget', async () => {
    const page = await open('tab=lab&problem=moons&process=vp&sampler=ddim&search=autodiffusion&compare=&steps=6&n=16&seed=0');
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    const file = join(out, 'ad.json');
    expect((await runCli('search', '--method', 'autodiffusion', '--sampler', 'ddim', '--model', 'builtin:moons', '--process', 'vp', '--nfe', '6', '--out', file, '--quiet')).code).toBe(0);
    const cli = JSON.parse((await runCli('sample', '--model', 'builtin:moons', '--process', 'vp', '--grid-file', file, '--n', '16', '--seed', '0', '--json', '--quiet')).out) as { nfe: number; error: { rmsErr: number } };
    expect(rows[0].sampler).toBe('autodiffusion (ddim)');
    expect(Number(rows[0].rmsErr)).toBeCloseTo(cli.error.rmsErr, 12);
    expect(await page.$$eval('#search option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'autodiffusion', 's3', 'lsd', 'lsd+']);
    expect(await page.$$eval('#verdicts p', (ps) => ps.map((p) => (p as HTMLElement).dataset.sampler))).toEqual(['search:autodiffusion']);
    await page.close();
  }, 120_000);

  it('runs a posterior sampler with `diffuse posterior`\'s scores and its verdict, and guidance as `diffuse sample --guide` does', async () => {
    const page = await open('tab=lab&problem=ring8&process=vp&sampler=ddim&posterior=smc:particles=48&measure=inpaint:dims=0&noise=0.05&compare=&steps=12&n=48&seed=1');
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    const cli = await runCli('posterior', '--model', 'builtin:ring8', '--process', 'vp', '--measure', 'inpaint:dims=0', '--noise-std', '0.05', '--method', 'smc:particles=48', '--steps', '12', '--n', '48', '--seed', '1', '--json', '--quiet');
    expect(cli.code, cli.err).toBe(0);
    const post = JSON.parse(cli.out) as { sw2: number; mmd2: number; meanErr: number; nfe: number };
    expect(rows[0].sampler).toBe('smc:particles=48');
    expect(Number(rows[0].nfe)).toBe(post.nfe);
    expect(Number(rows[0].sw2)).toBeCloseTo(post.sw2, 12);
    expect(Number(rows[0].mmd2)).toBeCloseTo(post.mmd2, 12);
    expect(Number(rows[0].meanErr)).toBeCloseTo(post.meanErr, 12);
    const verdict = await page.$$eval('#verdicts p', (ps) => ps.map((p) => ({ sampler: (p as HTMLElement).dataset.sampler, text: p.textContent ?? '' })));
    expect(verdict.map((v) => v.sampler)).toEqual(['posterior:smc']);
    const flat = (t: string) => t.replace(/\*\*/g, '').replace(/\s+/g, ' ');
    expect(flat(readFileSync(join(root, 'docs/guidance-results.md'), 'utf8'))).toContain(flat(verdict[0].text.slice(verdict[0].text.indexOf('Verdict'))));
    expect(verdict[0].text).toContain('Verdict: reproduced');
    await page.waitForTimeout(2800);
    const shot = await page.locator('#lab-tab').screenshot();
    writeFileSync(join(out, 'lab-posterior.png'), shot);
    expect(inkShare(shot)).toBeGreaterThan(0.02);
    await page.close();

    const guided = await open('tab=lab&problem=ring8&process=vp&sampler=ddim&guide=cfg:w=3,class=2&compare=ddim&steps=8&n=24&seed=4');
    const grows = await guided.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    expect(grows.map((r) => r.sampler)).toEqual(['ddim · cfg:w=3,class=2', 'ddim']);
    expect(grows[0].rmsErr).toBeUndefined();
    const file = join(out, 'guided.npy');
    expect((await runCli('sample', '--model', 'builtin:ring8', '--process', 'vp', '--sampler', 'ddim', '--guide', 'cfg:w=3,class=2', '--steps', '8', '--n', '24', '--seed', '4', '--out', file, '--quiet')).code).toBe(0);
    const want = (await readNpyFile(file)).data as Float64Array;
    const got = await guided.evaluate(() => {
      const frames = (window as unknown as { diffuseLab: { runs: { frames: { x: number[] }[] }[] } }).diffuseLab.runs[0].frames;
      return frames[frames.length - 1].x;
    });
    expect(got).toHaveLength(want.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    expect(await guided.$$eval('#verdicts p', (ps) => ps.map((p) => p.textContent ?? ''))).toEqual([expect.stringContaining('no verdict: exact identities')]);
    await guided.close();
    const bad = await open('tab=lab&problem=ring8&sampler=ddim&guide=cfg:class=2&compare=&steps=4');
    expect(await bad.textContent('#error')).toContain('--guide cfg needs w=');
    await bad.close();
  }, 120_000);

  it('runs a reward search (Rollover Budget Forcing) and minority guidance as the CLI does, with their verdicts', async () => {
    const page = await open('tab=lab&problem=moons&process=flow&sampler=flow-euler&posterior=rbf:budget=40&measure=project:m=1,seed=0&noise=0.05&compare=&steps=8&n=16&seed=2');
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    const cli = await runCli('posterior', '--model', 'builtin:moons', '--process', 'flow', '--measure', 'project:m=1,seed=0', '--noise-std', '0.05', '--method', 'rbf:budget=40', '--steps', '8', '--n', '16', '--seed', '2', '--json', '--quiet');
    expect(cli.code, cli.err).toBe(0);
    const post = JSON.parse(cli.out) as { sw2: number; reward: number; nfe: number };
    expect(post.nfe).toBe(40);
    expect(Number(rows[0].nfe)).toBe(post.nfe);
    expect(Number(rows[0].sw2)).toBeCloseTo(post.sw2, 12);
    expect(Number(rows[0].reward)).toBeCloseTo(post.reward, 12);
    expect(await page.textContent('#notes')).toContain('mean log-likelihood of y');
    const verdict = await page.$$eval('#verdicts p', (ps) => ps.map((p) => p.textContent ?? ''));
    expect(verdict).toEqual([expect.stringContaining('Verdict: (1) reproduced')]);
    await page.close();

    const minority = await open('tab=lab&problem=ring8&process=vp&sampler=dpmpp-2m&guide=minority:w=3&compare=dpmpp-2m&steps=10&n=24&seed=5');
    const file = join(out, 'minority.npy');
    expect((await runCli('sample', '--model', 'builtin:ring8', '--process', 'vp', '--sampler', 'dpmpp-2m', '--guide', 'minority:w=3', '--steps', '10', '--n', '24', '--seed', '5', '--out', file, '--quiet')).code).toBe(0);
    const want = (await readNpyFile(file)).data as Float64Array;
    const got = await minority.evaluate(() => {
      const frames = (window as unknown as { diffuseLab: { runs: { frames: { x: number[] }[] }[] } }).diffuseLab.runs[0].frames;
      return frames[frames.length - 1].x;
    });
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    expect(await minority.$$eval('#verdicts p', (ps) => ps.map((p) => p.textContent ?? ''))).toEqual([expect.stringContaining('Verdict: reproduced — every quantile of log p(x0) falls')]);
    await minority.close();
  }, 120_000);

  it('passes the first sampler\'s options as `diffuse sample --opt` does, and says what is wrong with a bad one', async () => {
    const page = await open('tab=lab&problem=ring8&process=vp&sampler=unipc&opts=order=3,variant=bh1&compare=unipc&steps=6&n=32&seed=1');
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    expect(rows.map((r) => r.sampler)).toEqual(['unipc (order=3,variant=bh1)', 'unipc']);
    const cli = await runCli('sample', '--model', 'builtin:ring8', '--process', 'vp', '--sampler', 'unipc', '--opt', 'order=3', '--opt', 'variant=bh1', '--steps', '6', '--n', '32', '--seed', '1', '--json', '--quiet');
    expect(cli.code, cli.err).toBe(0);
    const want = JSON.parse(cli.out) as { error: { rmsErr: number } };
    expect(Number(rows[0].rmsErr)).toBeCloseTo(want.error.rmsErr, 12);
    expect(Number(rows[0].rmsErr)).not.toBeCloseTo(Number(rows[1].rmsErr), 6);
    expect(await page.inputValue('#opts')).toBe('order=3,variant=bh1');
    await page.close();
    const bad = await open('tab=lab&problem=ring8&sampler=unipc&opts=bogus=1&compare=&steps=4');
    expect(await bad.textContent('#error')).toMatch(/bogus/);
    await bad.close();
  }, 60_000);

  it('draws the error-vs-NFE chart with `diffuse bench`\'s numbers', async () => {
    const page = await open('tab=lab&problem=ring8&sampler=ddim&compare=&steps=5&n=32&seed=0&bench=ddim,unipc&nfes=4,8');
    await page.click('#run-bench');
    await page.waitForSelector('#bench[data-ready="bench"]', { timeout: 60_000 });
    const rows = await page.$$eval('#bench-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    const cli = await runCli('bench', '--model', 'builtin:ring8', '--samplers', 'ddim,unipc', '--nfe', '4,8', '--n', '32', '--seed', '0', '--json', '--quiet');
    expect(cli.code, cli.err).toBe(0);
    const expected = JSON.parse(cli.out) as { label: string; nfe: number; medianErr: number }[];
    expect(rows).toHaveLength(expected.length);
    rows.forEach((r, i) => {
      expect([r.label, Number(r.nfe)]).toEqual([expected[i].label, expected[i].nfe]);
      expect(Number(r.medianErr)).toBeCloseTo(expected[i].medianErr, 12);
    });
    const shot = await page.locator('#chart').screenshot();
    writeFileSync(join(out, 'chart.png'), shot);
    expect(inkShare(shot)).toBeGreaterThan(0.01);
    await page.close();
  }, 120_000);

  it('says what is wrong with a link, and runs the flow samplers from pure noise on flow', async () => {
    const page = await open('tab=lab&problem=nowhere&process=flow&sampler=flow-heun&compare=flow-euler&steps=6');
    expect(await page.getAttribute('body', 'data-ready')).toBe('run');
    expect(await page.textContent('#error')).toContain('unknown problem "nowhere" (using ring8)');
    const rows = await page.$$eval('#metrics-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    expect(rows.map((r) => [r.sampler, r.nfe])).toEqual([['flow-heun', '11'], ['flow-euler', '6']]);
    await page.close();
  }, 60_000);

  it('Networks: the shipped MNIST network on onnxruntime-web gives onnxruntime-node\'s digits for the same seed, and the classifier\'s accuracy', async () => {
    const page = await open('tab=networks&model=mnist&classes=0,1,2,3,4,5,6,7,8,9&per=1&cfg=2&nsampler=dpmpp-2m&nsteps=10&nseed=0', 'net');
    expect(await page.getAttribute('body', 'data-net')).toBe('images');
    const got = await page.evaluate(() => (window as unknown as { diffuseNetworks: { images: number[]; labels: number[] } }).diffuseNetworks);
    const net = await loadOnnxModel(await shippedModelCard('mnist'));
    const labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const node = await sample({ model: guided(net, { labels, scale: 2 }), process: net.process, sampler: 'dpmpp-2m', steps: 10, n: 10, seed: 0 });
    expect(got.labels).toEqual(labels);
    let worst = 0;
    node.x.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got.images[i]))));
    expect(worst).toBeLessThan(1e-3);
    await page.click('#net-score-button');
    await page.waitForFunction(() => document.body.dataset.accuracy !== undefined, undefined, { timeout: 60_000 });
    const classifier = await loadClassifier(await shippedModelCard('mnist-classifier'));
    const { logits } = await classifier.classify(Float64Array.from(got.images), 10);
    const right = labels.filter((c, i) => {
      const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
      return row.indexOf(Math.max(...row)) === c;
    }).length;
    expect(Number(await page.getAttribute('body', 'data-accuracy'))).toBe(right / 10);
    // the FD the page shows is the classifier's features of the same images against its shipped real fit, as in Node
    const { features } = await classifier.classify(Float64Array.from(got.images), 10);
    const fd = frechetDistance(gaussianFit(features, classifier.featureDim), await realFeatureFit(classifier));
    expect(Number(await page.getAttribute('body', 'data-fd')) / fd).toBeCloseTo(1, 4);
    const timings = await page.evaluate(() => ({ ...document.body.dataset }));
    writeFileSync(join(out, 'networks.json'), `${JSON.stringify(timings, null, 2)}\n`);
    const shot = await page.locator('#net-canvas').screenshot();
    writeFileSync(join(out, 'networks.png'), shot);
    expect(inkShare(shot)).toBeGreaterThan(0.05);
    await page.close();
  }, 120_000);

  it('Networks: Gaussian teleportation runs the shipped teleport-nfe3 as `diffuse sample --searched teleport-nfe3` does, and a step count without a run says so', async () => {
    const page = await open('tab=networks&model=mnist&classes=0,1,2,3,4,5,6,7,8,9&per=1&cfg=1&nsteps=3&nseed=0&start=teleport&backend=wasm', 'net');
    expect(await page.getAttribute('body', 'data-net')).toBe('images');
    expect(await page.getAttribute('body', 'data-nfe')).toBe('3');
    expect(await page.textContent('#net-status')).toContain('teleport-nfe3: dpmpp-2m after teleporting x_T to t = 450');
    expect(await page.isDisabled('#net-sampler')).toBe(true);
    const got = await page.evaluate(() => (window as unknown as { diffuseNetworks: { images: number[] } }).diffuseNetworks);
    const card = await shippedModelCard('mnist');
    const net = await loadOnnxModel(card);
    const run = JSON.parse(readFileSync(join(dirname(card), 'searched/teleport-nfe3.json'), 'utf8'));
    const labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const node = await sample({
      model: net.withLabels(labels), process: net.process, sampler: run.sampler, options: run.options, grid: run.grid, n: 10, seed: 0,
      teleport: gaussiansFor(await loadGaussians(card), 784, labels),
    });
    let worst = 0;
    node.x.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got.images[i]))));
    expect(worst).toBeLessThan(1e-3);
    // the same seed from t_max without teleportation gives other (blurred) digits: the page did teleport
    const plain = await sample({ model: net.withLabels(labels), process: net.process, sampler: run.sampler, steps: 3, n: 10, seed: 0 });
    let apart = 0;
    plain.x.data.forEach((v, i) => (apart = Math.max(apart, Math.abs(v - got.images[i]))));
    expect(apart).toBeGreaterThan(0.5);
    const shot = await page.locator('#net-canvas').screenshot();
    writeFileSync(join(out, 'networks-teleport.png'), shot);
    expect(inkShare(shot)).toBeGreaterThan(0.05);
    await page.goto(`${origin}/?tab=networks&model=mnist&classes=3&per=1&cfg=1&nsteps=7&nseed=0&start=teleport&backend=wasm`);
    await page.waitForSelector('body[data-net="images"], body[data-net="error"]', { timeout: 90_000 });
    expect(await page.getAttribute('body', 'data-net')).toBe('error');
    expect(await page.textContent('#net-error')).toContain('Gaussian teleportation runs ship for 3, 4 and 5 steps');
    await page.close();
  }, 120_000);

  it('Networks on WebGPU (Chromium\'s SwiftShader adapter): backend=webgpu gives onnxruntime-node\'s digit; auto passes the software adapter over for WebAssembly', async () => {
    // a browser with WebGPU enabled: headless Chromium then offers SwiftShader, a software adapter
    const gpu = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
    try {
      const gpuErrors: string[] = [];
      const page = await gpu.newPage();
      page.on('pageerror', (e) => gpuErrors.push(e.message));
      page.on('console', (m) => (m.type() === 'error' ? gpuErrors.push(m.text()) : undefined));
      const net = await loadOnnxModel(await shippedModelCard('mnist'));
      const node = await sample({ model: net.withLabels([3]), process: net.process, sampler: 'ddim', steps: 2, n: 1, seed: 0 });
      for (const [backend, expected] of [['webgpu', 'webgpu'], ['auto', 'wasm']] as const) {
        await page.goto(`${origin}/?tab=networks&model=mnist&classes=3&per=1&cfg=1&nsampler=ddim&nsteps=2&nseed=0&backend=${backend}`);
        await page.waitForSelector('body[data-net="images"], body[data-net="error"]', { timeout: 120_000 });
        expect(await page.textContent('#net-error')).toBe('');
        expect(await page.getAttribute('body', 'data-backend')).toBe(expected);
        expect(await page.inputValue('#net-backend')).toBe(backend);
        const got = await page.evaluate(() => (window as unknown as { diffuseNetworks: { images: number[] } }).diffuseNetworks.images);
        let [worst, sum] = [0, 0];
        node.x.data.forEach((v, i) => ((worst = Math.max(worst, Math.abs(v - got[i]))), (sum += Math.abs(v - got[i]))));
        // WebGPU's kernels round differently from the CPU's (measured: max 3.3e-3, mean 1.6e-3; wasm 1.5e-4, 7.7e-5): within one grey level (2/255 on [−1, 1])
        expect(worst, backend).toBeLessThan(expected === 'wasm' ? 1e-3 : 2 / 255);
        expect(sum / got.length, backend).toBeLessThan(expected === 'wasm' ? 2e-4 : 4e-3);
      }
      expect(gpuErrors).toEqual([]);
    } finally {
      await gpu.close();
    }
  }, 240_000);

  it('Text: the masked-diffusion model in the page writes the CLI\'s texts for the same seed, and the comparison gives each sampler\'s NFE', async () => {
    const page = await open('tab=text&tsampler=first-hitting-parallel&tsteps=16&tn=3&tseed=1', 'text');
    expect(await page.getAttribute('body', 'data-text')).toBe('done');
    const got = await page.evaluate(() => (window as unknown as { diffuseText: { texts: string[]; nfe: number } }).diffuseText);
    const cli = await runCli('sample-discrete', '--model', `onnx:${join(root, 'models/text/card.json')}`, '--sampler', 'first-hitting-parallel', '--steps', '16', '--n', '3', '--seed', '1', '--json');
    expect(cli.code, cli.err).toBe(0);
    const expected = JSON.parse(cli.out) as { texts: string[]; nfe: number };
    expect(got.texts).toEqual(expected.texts);
    expect(got.nfe).toBe(expected.nfe);
    await page.click('#text-compare');
    await page.waitForSelector('body[data-text-compare="done"]', { timeout: 90_000 });
    const rows = await page.$$eval('#text-compare-body tr', (trs) => trs.map((tr) => ({ ...(tr as HTMLElement).dataset })));
    expect(rows.length).toBe(6);
    for (const row of rows.slice(0, 3)) {
      const r = await runCli('sample-discrete', '--model', `onnx:${join(root, 'models/text/card.json')}`, '--sampler', row.sampler as string, '--steps', '16', '--n', '3', '--seed', '1', '--json');
      expect(Number(row.nfe), row.sampler).toBe((JSON.parse(r.out) as { nfe: number }).nfe);
    }
    await page.close();
  }, 120_000);

  it('Text-to-image: a diffusers folder opened from disk runs on onnxruntime-web and gives the Node pipeline\'s images', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${origin}/?tab=image&prompt=a%20photo%20of%20a%20cat&isteps=6&guidance=5&iseed=2&in=2&isampler=`);
    await page.waitForSelector('body[data-t2i="images"], body[data-t2i="error"]', { timeout: 60_000 });
    await page.setInputFiles('#t2i-folder', join(root, 'test/fixtures/tiny-sd'));
    await page.waitForFunction(() => document.body.dataset.t2i === 'images' && (window as unknown as { diffuseImages?: unknown }).diffuseImages !== undefined, undefined, { timeout: 60_000 });
    expect(await page.textContent('#t2i-source')).toContain('tiny-sd');
    const got = await page.evaluate(() => (window as unknown as { diffuseImages: { width: number; height: number; rgba: number[][]; sampler: string; nfe: number } }).diffuseImages);
    const node = await (await loadStableDiffusion(join(root, 'test/fixtures/tiny-sd'))).generate({ prompt: 'a photo of a cat', steps: 6, guidance: 5, seed: 2, n: 2 });
    expect([got.width, got.height, got.sampler, got.nfe]).toEqual([node.width, node.height, node.sampler, node.nfe]);
    for (let i = 0; i < 2; i++) {
      const want = toRgba(node, i);
      let worst = 0;
      want.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - got.rgba[i][k]))));
      expect(worst).toBeLessThanOrEqual(1);
    }
    const shot = await page.locator('#t2i-images').screenshot();
    writeFileSync(join(out, 'text-to-image.png'), shot);
    await page.close();
  }, 120_000);

  it('fits a phone-sized screen: no sideways scrolling on any tab at 390 px', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ['lab', 'networks', 'text', 'image']) {
      await page.goto(`${origin}/?tab=${tab}`);
      await page.waitForTimeout(300);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, tab).toBeLessThanOrEqual(390);
    }
    await page.close();
  }, 60_000);

  it('logged no page error', () => {
    expect(errors).toEqual([]);
  });
});
