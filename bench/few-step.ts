/**
 * Few-step sampling on the shipped networks (issue 17): which time grid each sampler should take
 * at NFE 3–10 on models/mnist and models/fashion, chosen on fitting noise and reported on held-out
 * noise, paired, against the same sampler at NFE 50.
 *
 * Run: npm run results:few-step → docs/few-step-results.md. Cells are cached in
 * .tmp/few-step-cache.json by settings, code and weights (`-- --reuse`). Env FEW_STEP_FIT_N and
 * FEW_STEP_TEST_N set the samples per fitting / held-out cell (default 500 / 1000).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fingerprint } from './fingerprint.js';
import { loadOnnxModel } from '../src/models/onnx/node.js';
import type { OnnxDenoiser } from '../src/models/onnx/index.js';
import { DEFAULT_EVAL_BATCH, evaluateSampler, loadClassifier, realFeatureFit, type EvalResult } from '../src/eval/index.js';
import type { DigitClassifier } from '../src/eval/classifier.js';
import type { GaussianFit } from '../src/metrics/fid.js';
import type { GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import type { Process } from '../src/process/types.js';
import { searchedRun } from '../src/search/index.js';
import type { SearchFile } from '../src/io/formats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIT_N = Number(process.env.FEW_STEP_FIT_N ?? 500);
const TEST_N = Number(process.env.FEW_STEP_TEST_N ?? 1000);
/** Fitting noise: chunks seeded 1000, 1001, …; held-out noise: 0, 1, … (what `diffuse eval --seed 0` draws). */
const FIT_SEED = 1000;
const TEST_SEED = 0;
const MODELS = ['models/mnist', 'models/fashion'];
const SAMPLERS = ['ddim', 'dpmpp-2m', 'dpmpp-3m', 'unipc', 'deis'];
/** cfg 2 costs twice per NFE: its sweep drops dpmpp-3m (dpmpp-2m's twin below 5 steps) and time-quadratic (never best at cfg 1). */
const CFG2_SKIP = ['dpmpp-3m', 'time-quadratic'];
const NFES = [3, 4, 5, 6, 8, 10];
/** Grids compared; `steps` is filled in per cell. */
const GRIDS: Record<string, Omit<GridSpec, 'steps'>> = {
  'logsnr→0': { type: 'logsnr', end: 'zero' },
  'logsnr': { type: 'logsnr', end: 'min' },
  'time-uniform': { type: 'time-uniform', end: 'min' },
  'time-uniform→0': { type: 'time-uniform', end: 'zero' },
  'time-quadratic': { type: 'time-quadratic', end: 'min' },
  'karras→0': { type: 'karras', end: 'zero' },
} as Record<string, Omit<GridSpec, 'steps'>>;
const REFERENCE = { sampler: 'dpmpp-2m', nfe: 50, grid: 'logsnr→0' };

const started = Date.now();
const cachePath = resolve(root, '.tmp/few-step-cache.json');
const cache: Record<string, EvalResult> = process.argv.includes('--reuse') && existsSync(cachePath)
  ? JSON.parse(readFileSync(cachePath, 'utf8')) as Record<string, EvalResult> : {};

/** A file's bytes; a card without its default-grid rules (cells name their grids, so the rules cannot change them). */
function contentOf(p: string): Buffer | string {
  if (!p.endsWith('.json')) return readFileSync(p);
  const card = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  delete card.grids;
  return JSON.stringify(card);
}

/** The code a cell's numbers come from: samplers, grids, processes, evaluation and metrics (not the CLI or loaders). */
const NUMERIC_CODE = ['samplers', 'grid', 'process', 'param', 'eval', 'metrics', 'core'];
const srcFiles = NUMERIC_CODE.flatMap((d) => (readdirSync(resolve(root, 'src', d), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort().map((f) => resolve(root, 'src', d, f)));
const weightsOf = (dir: string) => readdirSync(resolve(root, dir)).filter((n) => /\.(json|onnx|onnx_data)$/.test(n)).map((n) => resolve(root, dir, n));

interface Loaded { model: OnnxDenoiser; classifier: DigitClassifier; real: GaussianFit; print: string; classifierDir: string }
const loaded = new Map<string, Loaded>();
async function load(dir: string): Promise<Loaded> {
  let l = loaded.get(dir);
  if (!l) {
    const card = JSON.parse(readFileSync(resolve(root, dir, 'card.json'), 'utf8')) as { classifier?: string };
    const classifierCard = resolve(root, dir, card.classifier ?? '../mnist-classifier/card.json');
    const classifier = await loadClassifier(classifierCard);
    const classifierDir = dirname(classifierCard);
    l = { model: await loadOnnxModel(resolve(root, dir, 'card.json')), classifier, real: await realFeatureFit(classifier), classifierDir, print: fingerprint([...srcFiles, ...weightsOf(dir), ...weightsOf(classifierDir)], contentOf) };
    loaded.set(dir, l);
  }
  return l;
}

/** NFE of one run of `sampler` with `steps` steps on `grid`, counted on a constant stand-in model. */
async function nfeOf(p: Process, sampler: string, grid: GridSpec): Promise<number> {
  const model = { prediction: 'epsilon' as const, sampleShape: [4], predict: async (x: Float64Array) => new Float64Array(x.length) };
  return (await sample({ model, process: p, sampler, grid, n: 1 })).nfe;
}

/** The grid with the most steps whose NFE fits the budget. */
async function gridFor(p: Process, sampler: string, grid: string, budget: number): Promise<GridSpec> {
  for (let steps = budget; steps >= 1; steps--) {
    const spec = { ...GRIDS[grid], steps } as GridSpec;
    if ((await nfeOf(p, sampler, spec)) <= budget) return spec;
  }
  throw new Error(`${sampler} cannot run within ${budget} NFE`);
}

type Split = 'fit' | 'test';
/** A grid by its name in GRIDS (built with the most steps the NFE allows), or a searched explicit grid. */
type Choice = string | { label: string; spec: GridSpec; options?: Record<string, unknown> };
async function cell(dir: string, sampler: string, grid: Choice, nfe: number, cfg: number, split: Split): Promise<EvalResult> {
  const l = await load(dir);
  const spec = typeof grid === 'string' ? await gridFor(l.model.process, sampler, grid, nfe) : grid.spec;
  const options = typeof grid === 'string' ? undefined : grid.options;
  const n = split === 'fit' ? FIT_N : TEST_N;
  const seed = split === 'fit' ? FIT_SEED : TEST_SEED;
  // a searched schedule or coefficients live in the options
  const key = JSON.stringify([dir, l.print, sampler, spec, cfg, n, seed, DEFAULT_EVAL_BATCH, ...(options ? [options] : [])]);
  if (!cache[key]) {
    cache[key] = await evaluateSampler({ model: l.model, classifier: l.classifier, real: l.real, sampler, steps: spec.type === 'explicit' ? 0 : spec.steps, grid: spec, ...(options ? { options } : {}), cfg, n, seed, batch: DEFAULT_EVAL_BATCH });
    mkdirSync(dirname(cachePath), { recursive: true });
    writeFileSync(cachePath, JSON.stringify(cache));
  }
  const r = cache[key];
  if (r.nfe > nfe) throw new Error(`${sampler} on ${typeof grid === 'string' ? grid : grid.label} spent ${r.nfe} NFE, over ${nfe}`);
  console.error(`${dir} ${split} ${sampler} ${typeof grid === 'string' ? grid : grid.label} NFE ${r.nfe} cfg ${cfg}: FD ${r.fd.toFixed(2)} acc ${(100 * r.accuracy).toFixed(1)} %`);
  return r;
}

const fmt = (r: EvalResult) => `${r.fd.toFixed(1)} / ${(100 * r.accuracy).toFixed(0)} %`;
const CFGS = (process.env.FEW_STEP_CFGS ?? '1,2').split(',').map(Number);
const phase = process.argv.includes('--fit-only') ? 'fit' : 'all';
const samplersAt = (cfg: number) => SAMPLERS.filter((name) => cfg === 1 || !CFG2_SKIP.includes(name));
const gridsAt = (cfg: number) => Object.keys(GRIDS).filter((g) => cfg === 1 || !CFG2_SKIP.includes(g));

// 1. Fitting noise: every sampler × grid × NFE (cfg 2 without the skipped ones).
const fit: string[] = [];
for (const dir of MODELS) {
  for (const cfg of CFGS) {
    fit.push(`### ${dir}, cfg ${cfg} (fitting noise, n = ${FIT_N})`, '');
    for (const nfe of NFES) {
      const grids = gridsAt(cfg);
      fit.push(`NFE ${nfe}`, '', `| sampler | ${grids.join(' | ')} |`, `|---|${grids.map(() => '---').join('|')}|`);
      for (const s of samplersAt(cfg)) {
        const row: EvalResult[] = [];
        for (const g of grids) row.push(await cell(dir, s, g, nfe, cfg, 'fit'));
        const k = row.reduce((a, r, i) => (r.fd < row[a].fd ? i : a), 0);
        fit.push(`| ${s} | ${row.map((r, i) => (i === k ? `**${fmt(r)}**` : fmt(r))).join(' | ')} |`);
      }
      fit.push('');
    }
  }
}
if (phase === 'fit') {
  writeFileSync(resolve(root, '.tmp/few-step-fit.md'), fit.join('\n'));
  console.error(`fit tables in .tmp/few-step-fit.md (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  process.exit(0);
}

// 2. The card's rules, from the fitting noise only: per cfg (guided or not) and step range, each
//    measured sampler's grid with the least Σ ln FD over the range's NFEs (grids measured at every
//    cfg only). Samplers not measured keep their own default grid: no rule names them.
const BUCKETS = [{ maxSteps: 4, nfes: [3, 4] }, { maxSteps: 6, nfes: [5, 6] }, { maxSteps: 8, nfes: [8] }, { maxSteps: 10, nfes: [10] }];
interface Rule { max_steps: number; samplers?: string[]; guided: boolean; grid: Record<string, unknown> }
async function deriveRules(dir: string): Promise<Rule[]> {
  const candidates = Object.keys(GRIDS).filter((g) => CFGS.every((c) => gridsAt(c).includes(g)));
  const rules: Rule[] = [];
  for (const cfg of CFGS) {
    const guided = cfg !== 1;
    for (const b of BUCKETS) {
      const chosen = new Map<string, string>();
      for (const s of samplersAt(cfg)) {
        const score = new Map<string, number>();
        for (const g of candidates) {
          let sum = 0;
          for (const nfe of b.nfes) sum += Math.log((await cell(dir, s, g, nfe, cfg, 'fit')).fd);
          score.set(g, sum);
        }
        chosen.set(s, [...score].reduce((a, c) => (c[1] < a[1] ? c : a))[0]);
      }
      for (const g of new Set(chosen.values())) {
        rules.push({ max_steps: b.maxSteps, samplers: samplersAt(cfg).filter((s) => chosen.get(s) === g), guided, grid: { ...GRIDS[g] } });
      }
    }
  }
  return rules;
}
const gridName = (grid: Record<string, unknown>) => Object.keys(GRIDS).find((k) => JSON.stringify(GRIDS[k]) === JSON.stringify(grid)) as string;
const ruleFor = (rules: Rule[], steps: number, sampler: string, cfg: number) =>
  rules.find((r) => steps <= r.max_steps && (r.samplers === undefined || r.samplers.includes(sampler)) && r.guided === (cfg !== 1));

const rulesOf = new Map<string, Rule[]>();
for (const dir of MODELS) rulesOf.set(dir, await deriveRules(dir));
if (process.argv.includes('--write-cards')) {
  // models/mnist-int8 is models/mnist quantised: it takes mnist's rules (its rows below check them)
  for (const [dir, from] of [...MODELS.map((d) => [d, d]), ['models/mnist-int8', 'models/mnist']]) {
    const path = resolve(root, dir, 'card.json');
    const card = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    card.grids = rulesOf.get(from);
    writeFileSync(path, `${JSON.stringify(card, null, 2)}\n`);
  }
}

// 3. Held-out noise: the old default (logSNR to σ = 0) and the card's rule, per sampler and NFE,
//    against the same sampler converged (dpmpp-2m, NFE 50); and the searches shipped with the model.
const HELD = { 1: ['dpmpp-2m', 'unipc', 'ddim'], 2: ['dpmpp-2m', 'unipc'] } as Record<number, string[]>;
const HELD_NFES = [3, 4, 5, 6, 10];
const out: string[] = [];
const say = (line = '') => out.push(line);
const summary: string[] = [];
for (const dir of MODELS) {
  const rules = rulesOf.get(dir) as Rule[];
  const searched = readdirSync(resolve(root, dir)).includes('searched')
    ? readdirSync(resolve(root, dir, 'searched')).filter((f) => f.endsWith('.json') && !f.startsWith('teleport-')).sort() : [];
  for (const cfg of CFGS) {
    const ref = await cell(dir, REFERENCE.sampler, REFERENCE.grid, REFERENCE.nfe, cfg, 'test');
    say(`### ${dir}, cfg ${cfg}`, );
    say();
    say(`Converged: ${REFERENCE.sampler} at NFE ${REFERENCE.nfe} scores **${fmt(ref)}**.`);
    say();
    say('| sampler | NFE | old default: logSNR to σ = 0 | the card\'s grid | FD / converged FD |');
    say('|---|---:|---|---|---:|');
    const bestAt = new Map<number, { fd: number; what: string }>();
    const note = (nfe: number, fd: number, what: string) => {
      const b = bestAt.get(nfe);
      if (!b || fd < b.fd) bestAt.set(nfe, { fd, what });
    };
    for (const s of HELD[cfg] ?? []) {
      for (const nfe of HELD_NFES) {
        const old = await cell(dir, s, REFERENCE.grid, nfe, cfg, 'test');
        const rule = ruleFor(rules, nfe, s, cfg);
        const name = rule ? gridName(rule.grid) : REFERENCE.grid;
        const now = await cell(dir, s, name, nfe, cfg, 'test');
        note(nfe, now.fd, `${s}, ${name}`);
        say(`| ${s} | ${nfe} | ${fmt(old)} | ${fmt(now)} (${name}) | ${(now.fd / ref.fd).toFixed(2)} |`);
      }
    }
    for (const f of searched) {
      const file = JSON.parse(readFileSync(resolve(root, dir, 'searched', f), 'utf8')) as SearchFile;
      const run = searchedRun(file);
      const r = await cell(dir, run.sampler, { label: `searched/${f}`, spec: run.grid, options: run.options }, file.nfe, cfg, 'test');
      const name = file.method === 'autodiffusion' ? file.sampler : file.method;
      note(file.nfe, r.fd, `${name}, --searched ${f.slice(0, -5)}`);
      say(`| ${name} | ${file.nfe} | — | ${fmt(r)} (--searched ${f.slice(0, -5)}) | ${(r.fd / ref.fd).toFixed(2)} |`);
    }
    say();
    const goal = { 3: 2, 4: 1.5, 5: 1.15 } as Record<number, number>;
    for (const nfe of [3, 4, 5]) {
      const b = bestAt.get(nfe);
      if (b) summary.push(`| ${dir} | ${cfg} | ${nfe} | ${b.fd.toFixed(1)} (${b.what}) | ${ref.fd.toFixed(1)} | ${(b.fd / ref.fd).toFixed(2)} | ≤ ${goal[nfe]} | ${b.fd / ref.fd <= goal[nfe] ? 'met' : 'not met'} |`);
    }
  }
}

// models/mnist-int8 with mnist's rules: one check that they carry over
const int8: string[] = [];
if (existsSync(resolve(root, 'models/mnist-int8/card.json'))) {
  for (const nfe of [4, 5]) {
    const rule = ruleFor(rulesOf.get('models/mnist') as Rule[], nfe, 'dpmpp-2m', 1);
    const name = rule ? gridName(rule.grid) : REFERENCE.grid;
    const old = await cell('models/mnist-int8', 'dpmpp-2m', REFERENCE.grid, nfe, 1, 'test');
    const now = await cell('models/mnist-int8', 'dpmpp-2m', name, nfe, 1, 'test');
    int8.push(`| dpmpp-2m | ${nfe} | ${fmt(old)} | ${fmt(now)} (${name}) |`);
  }
}
for (const l of loaded.values()) await l.classifier.release();

const seconds = ((Date.now() - started) / 1000).toFixed(0);
const machine = `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} (shared with other jobs), Node ${process.version}, ONNX Runtime CPU; ${new Date().toISOString().slice(0, 10)}; ${seconds} s in all${process.argv.includes('--reuse') ? ' (cells reused from earlier runs with the same settings, numeric code and weights where available)' : ''}.`;
const doc = [
  '# Few-step sampling on the shipped networks: grids chosen by measurement',
  '',
  'Generated by `npm run results:few-step` (bench/few-step.ts); do not edit by hand.',
  '',
  machine,
  '',
  `Each cell is **FD / accuracy** as \`diffuse eval\` measures it (labels 0–9 cycled, drawn ${DEFAULT_EVAL_BATCH} at a time; FD on the features of the model's classifier against 10 000 real images). **Fitting noise**: n = ${FIT_N}, seeds ${FIT_SEED}+ — the grids were chosen on it. **Held-out noise**: n = ${TEST_N}, seeds ${TEST_SEED}+ (what \`diffuse eval --n ${TEST_N} --seed ${TEST_SEED}\` draws), the same x_T for every cell of a model and cfg, so differences are paired; only held-out numbers are reported as results. At n = 500, FD differences under ~5 are noise (docs/mnist-results.md).`,
  '',
  'Grids: `logsnr→0` uniform in log-SNR down to t_min, then a last step to σ = 0 (the samplers\' old default); `logsnr` the same without the step to σ = 0; `time-uniform` uniform in the timestep from 999 down to t_min, `time-uniform→0` the same with the last step to σ = 0 (so one fewer uniform interval); `time-quadratic` quadratic in time; `karras→0` Karras et al.\'s ρ = 7 σ schedule. Each sampler takes the most steps its NFE budget allows (for these samplers, steps = NFE).',
  '',
  '## Goals (issue 17): best training-free result at NFE 3/4/5 on held-out noise vs converged',
  '',
  '| model | cfg | NFE | best FD (sampler, grid) | converged FD | ratio | goal | |',
  '|---|---:|---:|---|---:|---:|---:|---|',
  ...summary,
  '',
  'These are grids and searched schedules from t_max. Gaussian teleportation, which starts the same samplers from a lower time with x_T carried there in closed form, meets every goal below: docs/teleport-results.md.',
  '',
  '## The grids the cards now name',
  '',
  'Runs that give no grid take their model card\'s `grids` rule for their step count, sampler and guidance (first rule that applies; see docs/api or `ModelCard.grids`); past the last rule (more than 10 steps) the sampler\'s own default (logSNR to σ = 0) stays. The rules were derived from the fitting noise only: for runs with and without guidance (cfg 2 and cfg 1 measured) and per step range (≤ 4, 5–6, 7–8, 9–10 steps), each measured sampler\'s grid with the least Σ ln FD over the range\'s measured NFEs. Samplers not measured here keep their own default grid (a first version gave them the grid best on average, and PLMS, iPNDM, Heun, the SDE solvers and EVODiff then drew pixels far outside [−1, 1] at 10 steps on time-uniform→0: a grid is chosen per sampler or not at all). (One rule for both cfgs was tried first: on models/mnist at 5 steps it picked time-uniform→0, best without guidance but 2–3× worse than time-uniform with it.)',
  '',
  ...MODELS.flatMap((dir) => [`${dir}/card.json:`, '', '```json', JSON.stringify(rulesOf.get(dir)), '```', '']),
  'models/mnist-int8 (models/mnist quantised) takes models/mnist\'s rules; held-out check, cfg 1:',
  '',
  '| sampler | NFE | old default | the card\'s grid |',
  '|---|---:|---|---|',
  ...int8,
  '',
  '## Held-out results',
  '',
  ...out,
  '## Fitting noise: every grid',
  '',
  ...fit,
].join('\n');
writeFileSync(resolve(root, 'docs/few-step-results.md'), doc);
console.error(`wrote docs/few-step-results.md in ${seconds} s`);
