/**
 * The playground's timings in headless Chromium: the site built by Vite, served by a plain file
 * server on this machine with cross-origin isolation headers (so WebAssembly runs on every core),
 * and the Networks tab again from a server without them (one thread, as on a static host that sets
 * no headers), each tab opened in a fresh page. Time to interactive: from navigation to
 * the Lab's first run drawn (data-ready="run"). Networks: from navigation to the first batch of
 * digits (ten MNIST digits, DPM-Solver++(2M), 10 steps, guidance 2), with its load time and time per
 * model call. Text: from navigation to the texts (ancestral, 64 steps, 4 sequences). Rounds
 * alternate between the tabs; the machine's load is recorded before and after.
 *
 * Run: npm run bench (after the other benchmarks) or npx tsx bench/playground-speed.ts → writes
 * docs/bench-playground.md. Env PLAYGROUND_BENCH_REPEATS (default 3).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repeats = Number(process.env.PLAYGROUND_BENCH_REPEATS ?? 3);
const CHROMIUM = process.env.DIFFUSE_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: bash scripts/setup-browser.sh installs Debian's Chromium`);
  process.exit(2);
}
const loadBefore = loadavg()[0];
const out = mkdtempSync(join(tmpdir(), 'diffuse-playground-bench-'));
await build({ configFile: join(root, 'web/vite.config.ts'), logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
/** The built site from a plain file server; with `isolated`, the COOP/COEP headers `npm run playground` / vite preview send. */
function serve(isolated: boolean) {
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = join(out, path === '/' ? 'index.html' : path);
    if (!file.startsWith(out) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
    // cross-origin isolated: WebAssembly gets threads; without the headers (a static host that sets none) it runs on one
    const isolation = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', ...isolation });
    res.end(readFileSync(file));
  });
}
const servers = [serve(true), serve(false)];
const [origin, plainOrigin] = await Promise.all(servers.map(async (server) => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

const cases = [
  { tab: 'lab', query: 'tab=lab&problem=ring8&sampler=dpmpp-2m&compare=ddim&steps=10&n=64', ready: 'body[data-ready="run"]' },
  { tab: 'networks', query: 'tab=networks&model=mnist&classes=0,1,2,3,4,5,6,7,8,9&per=1&cfg=2&nsampler=dpmpp-2m&nsteps=5&nseed=0', ready: 'body[data-net="images"]' },
  { tab: 'networks-plain', query: 'tab=networks&model=mnist&classes=0,1,2,3,4,5,6,7,8,9&per=1&cfg=2&nsampler=dpmpp-2m&nsteps=5&nseed=0', ready: 'body[data-net="images"]', plain: true },
  { tab: 'text', query: 'tab=text&tsampler=ancestral&tsteps=64&tn=4&tseed=0', ready: 'body[data-text="done"]' },
] as const;
const samples: Record<string, { wall: number[]; load: number[]; perCall: number[] }> = {};
for (let r = 0; r < repeats; r++) {
  for (const c of cases) {
    const page = await browser.newPage();
    const started = performance.now();
    await page.goto(`${'plain' in c ? plainOrigin : origin}/?${c.query}`);
    await page.waitForSelector(c.ready, { timeout: 120_000 });
    const wall = performance.now() - started;
    const data = await page.evaluate(() => ({ ...document.body.dataset }));
    const s = (samples[c.tab] ??= { wall: [], load: [], perCall: [] });
    s.wall.push(wall);
    if (data.loadMs) s.load.push(Number(data.loadMs));
    if (data.sampleMs && data.nfe) s.perCall.push(Number(data.sampleMs) / Number(data.nfe));
    await page.close();
    console.log(`round ${r + 1}, ${c.tab}: ${(wall / 1000).toFixed(2)} s`);
  }
}
await browser.close();
for (const server of servers) server.close();
rmSync(out, { recursive: true, force: true });
const loadAfter = loadavg()[0];
const median = (v: number[]) => (v.length ? [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] : NaN);
const f = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '—');
const lines = [
  '# The playground\'s timings',
  '',
  `Headless Chromium (${CHROMIUM}), the site built by \`npm run build:web\` and served from this machine, WebAssembly on`,
  `${cpus().length} threads (the page is cross-origin isolated; one row without); ${cpus().length} CPU cores, load average ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} after; ${repeats} rounds, tabs alternating,`,
  'medians. Generated by `npx tsx bench/playground-speed.ts` (part of `npm run bench`).',
  '',
  '| tab | what is timed | seconds from navigation | load (s) | per model call (s) |',
  '|---|---|---|---|---|',
  `| Lab | time to interactive: the first run drawn (ring8, DPM-Solver++(2M) and DDIM, 10 steps, 64 points) | ${f(median(samples.lab.wall))} | — | — |`,
  `| Networks | the first ten MNIST digits (the tab's defaults: DPM-Solver++(2M), 5 steps on the card's grid, guidance 2) | ${f(median(samples.networks.wall))} | ${f(median(samples.networks.load))} | ${f(median(samples.networks.perCall))} |`,
  `| Networks, served without the isolation headers (one thread) | the same | ${f(median(samples['networks-plain'].wall))} | ${f(median(samples['networks-plain'].load))} | ${f(median(samples['networks-plain'].perCall))} |`,
  `| Text | four 64-character texts (ancestral, 64 steps) | ${f(median(samples.text.wall))} | — | — |`,
  '',
];
writeFileSync(join(root, 'docs/bench-playground.md'), lines.join('\n'));
console.log(lines.join('\n'));
