/**
 * Sample quality on real networks: the shipped MNIST model (models/mnist) vs NFE for the main
 * samplers, and each training-for-speed model against that teacher. Fréchet distance on the
 * features of the shipped classifier (models/mnist-classifier) against the 10 000 real digits, and
 * the classifier's accuracy on the requested labels.
 *
 * Run: npm run results:mnist → writes docs/mnist-results.md and its section of docs/results.md
 * (between the mnist-results markers). Env MNIST_RESULTS_N sets the samples per cell (default 500).
 * `-- --reuse` takes cells already measured with the same settings, code and weights from .tmp/mnist-results-cache.json;
 * `-- --no-results-page` leaves docs/results.md alone.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fingerprint } from './fingerprint.js';
import { int8Dot } from './cpu.js';
import { loadOnnxModel } from '../src/models/onnx/node.js';
import type { OnnxDenoiser } from '../src/models/onnx/index.js';
import { DEFAULT_EVAL_BATCH, evaluateSampler, loadClassifier, loadMnistDigits, realFeatureFit, realSubset, type EvalResult } from '../src/eval/index.js';
import { estimateEms, emsToJson } from '../src/ems/index.js';
import { Rng } from '../src/core/rng.js';
import { frechetDistance, gaussianFit, labelAccuracy } from '../src/metrics/fid.js';
import { defaultGrid, sample } from '../src/sample.js';
import { findSampler } from '../src/samplers/index.js';
import type { Process } from '../src/process/types.js';
import type { Prediction } from '../src/param/convert.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.MNIST_RESULTS_N ?? 500);
const SEED = 0;
const TEACHER = 'models/mnist';
const SAMPLERS = ['ddim', 'dpmpp-2m', 'dpmpp-3m', 'unipc', 'deis', 'heun', 'euler'];
const BUDGETS = [5, 10, 20, 50];
const CFG2 = { budgets: [10], long: { sampler: 'dpmpp-2m', nfe: 50 } };
/** DPM-Solver-v3 runs with EMS estimated from this many real digits on this many λ nodes (diffuse ems --data mnist). */
const V3_EMS = { points: 40, samples: 256, probes: 1 };

/** A training-for-speed model and the runs that compare it with the teacher. */
interface Method {
  name: string;
  dir: string;
  recipe: string;
  claim: string;
  /** [student sampler, teacher sampler, NFE budgets] */
  runs: [string, string, number[]][];
}
const METHODS: Method[] = [
  {
    name: 'Rectified Diffusion', dir: 'models/mnist-rectified', recipe: 'training/reflow.py',
    claim: 'retraining on the teacher\'s own noise–sample pairs makes few-step first-order sampling better (Wang et al. 2024)',
    runs: [['ddim', 'ddim', [1, 4, 10]], ['dpmpp-2m', 'dpmpp-2m', [4, 10]]],
  },
  {
    name: 'Rectified Diffusion + improved RF (U-shaped t, pseudo-Huber)', dir: 'models/mnist-rectified-irf', recipe: 'training/reflow.py',
    claim: 'U-shaped timesteps and the pseudo-Huber loss improve reflow at 1–2 NFE (Lee et al. 2024)',
    runs: [['ddim', 'ddim', [1, 4, 10]], ['dpmpp-2m', 'dpmpp-2m', [4, 10]]],
  },
  {
    name: 'SlimFlow one-step student', dir: 'models/mnist-slim', recipe: 'training/reflow.py',
    claim: 'a much smaller rectified-flow student samples in one step (Zhu et al. 2024)',
    runs: [['flow-euler', 'ddim', [1, 4]]],
  },
  {
    name: 'SlimFlow one-step student, larger and trained 4× longer', dir: 'models/mnist-slim-large', recipe: 'training/reflow.py slim --channels 24 48 48 --reflow-steps 4800 --distill-steps 1600',
    claim: 'a student of about half the teacher\'s size, trained four times as long, samples in one step within 2× the teacher\'s converged FD (issue 17\'s goal; docs/training-for-speed.md)',
    runs: [['flow-euler', 'ddim', [1, 2, 4]]],
  },
  {
    name: 'MMD-DDM', dir: 'models/mnist-mmd', recipe: 'training/mmd_ddm.py',
    claim: 'MMD fine-tuning for a fixed step budget improves FID at that budget (Aiello et al. 2023)',
    runs: [['ddim', 'ddim', [5, 10, 20]], ['dpmpp-2m', 'dpmpp-2m', [5]]],
  },
  {
    name: 'MMD-DDM for 10 steps', dir: 'models/mnist-mmd10', recipe: 'training/mmd_ddm.py --ddim-steps 10',
    claim: 'the same fine-tuning for a 10-step DDIM budget improves FID at that budget (Aiello et al. 2023)',
    runs: [['ddim', 'ddim', [5, 10, 20]], ['dpmpp-2m', 'dpmpp-2m', [5]]],
  },
  {
    name: 'PTQ4DM int8', dir: 'models/mnist-int8', recipe: 'training/quantize.py + diffuse calibrate',
    claim: 'int8 post-training quantisation with calibration across timesteps keeps sample quality (Shang et al. 2023)',
    runs: [['dpmpp-2m', 'dpmpp-2m', [10, 20]], ['ddim', 'ddim', [10]]],
  },
];

/** NFE of one run of `sampler` with `steps` steps, counted on a constant stand-in model. */
async function nfeOf(process: Process, prediction: Prediction, sampler: string, steps: number, options?: Record<string, unknown>): Promise<number> {
  const model = { prediction, sampleShape: [784], predict: async (x: Float64Array) => new Float64Array(x.length) };
  return (await sample({ model, process, sampler, steps, n: 1, options })).nfe;
}

/** The most steps whose NFE stays within the budget. */
async function stepsFor(process: Process, prediction: Prediction, sampler: string, budget: number, options?: Record<string, unknown>): Promise<number> {
  let steps = budget;
  while (steps > 1 && (await nfeOf(process, prediction, sampler, steps, options)) > budget) steps--;
  return steps;
}

const started = Date.now();
const cachePath = resolve(root, '.tmp/mnist-results-cache.json');
const cache: Record<string, EvalResult> = process.argv.includes('--reuse') && existsSync(cachePath)
  ? JSON.parse(readFileSync(cachePath, 'utf8')) as Record<string, EvalResult> : {};
const classifier = await loadClassifier(resolve(root, 'models/mnist-classifier/card.json'));
const real = await realFeatureFit(classifier);
const digits = await loadMnistDigits();

// the noise floor: N held-out real digits (never seen by the classifier; every k-th, so all classes) against the same reference
const held = classifier.heldOut.indices;
const floorN = Math.min(N, held.length);
const floorIdx = Array.from({ length: floorN }, (_, i) => held[Math.floor((i * held.length) / floorN)]);
const floorImages = new Float64Array(floorN * 784);
floorIdx.forEach((j, i) => floorImages.set(digits.images.subarray(j * 784, (j + 1) * 784), i * 784));
const floorOut = await classifier.classify(floorImages, floorN);
const floorFd = frechetDistance(gaussianFit(floorOut.features, classifier.featureDim), real);
const floorAcc = labelAccuracy(floorOut.logits, 10, floorIdx.map((j) => digits.labels[j]));

const srcFiles = (readdirSync(resolve(root, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort().map((f) => resolve(root, 'src', f));
const classifierFiles = ['card.json', 'classifier.onnx'].map((f) => resolve(root, 'models/mnist-classifier', f));
const fingerprints = new Map<string, string>();
function fingerprintOf(dir: string): string {
  let f = fingerprints.get(dir);
  if (!f) {
    const folder = resolve(root, dir);
    const weights = readdirSync(folder).filter((n) => n.endsWith('.json') || n.endsWith('.onnx') || n.endsWith('.onnx_data')).map((n) => resolve(folder, n));
    fingerprints.set(dir, (f = fingerprint([...srcFiles, ...classifierFiles, ...weights])));
  }
  return f;
}

const models = new Map<string, OnnxDenoiser>();
async function modelAt(dir: string): Promise<OnnxDenoiser> {
  let m = models.get(dir);
  if (!m) models.set(dir, (m = await loadOnnxModel(resolve(root, dir, 'card.json'))));
  return m;
}

/** Sampler options of a row, with the label they are cached under. */
interface Extra {
  label: string;
  options: Record<string, unknown>;
}

/** FD and accuracy of `sampler` on the model in `dir` within an NFE budget (cached by settings, code and weights). */
async function cell(dir: string, sampler: string, budget: number, cfg: number, extra?: Extra): Promise<EvalResult> {
  const model = await modelAt(dir);
  const steps = await stepsFor(model.process, model.prediction, sampler, budget, extra?.options);
  const key = JSON.stringify([dir, fingerprintOf(dir), sampler, steps, cfg, N, SEED, DEFAULT_EVAL_BATCH, ...(extra ? [extra.label] : [])]);
  if (!cache[key]) {
    // the sampler's own default grid, pinned: the model cards' few-step rules (docs/few-step-results.md) do not apply here
    const grid = defaultGrid(findSampler(sampler).defaultGrid, steps);
    cache[key] = await evaluateSampler({ model, classifier, real, sampler, steps, grid, cfg, n: N, seed: SEED, batch: DEFAULT_EVAL_BATCH, options: extra?.options });
    mkdirSync(dirname(cachePath), { recursive: true });
    writeFileSync(cachePath, JSON.stringify(cache));
  }
  const r = cache[key];
  console.error(`${dir} ${sampler} NFE ${r.nfe} cfg ${cfg}: FD ${r.fd.toFixed(2)} acc ${(100 * r.accuracy).toFixed(1)} % (${r.seconds.toFixed(1)} s)`);
  return r;
}

/** DPM-Solver-v3's EMS of the teacher, estimated from real digits (as `diffuse ems --data mnist`), cached in .tmp by code and weights. */
async function teacherEms(): Promise<Extra> {
  const { points, samples, probes } = V3_EMS;
  const label = `ems:${points}x${samples}x${probes}`;
  const path = resolve(root, `.tmp/mnist-${label.replace(/:/g, '-')}-${fingerprintOf(TEACHER)}.json`);
  if (!existsSync(path)) {
    const model = await modelAt(TEACHER);
    const data = realSubset(digits, samples);
    const p = model.process;
    const ems = await estimateEms(model.withLabels(Array.from(data.labels)), p, data.images, {
      lambdaMin: p.logSnr(p.tMax) + 0.05, lambdaMax: p.logSnr(p.tMin) - 0.05, points, probes, rng: new Rng(0),
    });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, emsToJson(ems));
  }
  return { label, options: { ems: readFileSync(path, 'utf8') } };
}

const show = (r: EvalResult | undefined, budget: number) =>
  r ? `${r.fd.toFixed(1)} / ${(100 * r.accuracy).toFixed(0)} %${r.nfe !== budget ? ` (NFE ${r.nfe})` : ''}` : '—';

const out: string[] = [];
const say = (s = '') => out.push(s);

say(`Model: ${TEACHER} (class-conditional ε UNet, 589 185 parameters, vp-discrete). Each cell: **FD / accuracy** of n = ${N} samples, labels 0–9 cycled, seed ${SEED}, drawn ${DEFAULT_EVAL_BATCH} at a time — exactly what \`diffuse eval --n ${N} --seed ${SEED}\` draws, and the same x_T for every sampler and model, so differences between cells are paired. FD is the Fréchet distance between Gaussian fits of the penultimate-layer (128-d) features of the shipped classifier (models/mnist-classifier, ${(100 * classifier.heldOut.accuracy).toFixed(2)} % on its 2 000 held-out digits) for the samples vs all 10 000 real digits of the mnist package; accuracy is the fraction the classifier labels as requested. Each sampler runs on its own default grid (logSNR down to σ = 0), pinned, with the most steps whose NFE fits the budget (heun: 2 NFE per step but the last); the grids the model cards now name for runs of up to 10 steps, which do far better at NFE ≤ 6, are measured in docs/few-step-results.md. cfg 2 rows are classifier-free guidance with scale 2 (each NFE is one doubled batch).`);
say();
say(`Noise floor at this n: ${floorN} held-out real digits score FD ${floorFd.toFixed(1)} and accuracy ${(100 * floorAcc).toFixed(1)} %. FD from ${N} samples is biased upwards by the finite sample (mostly the covariance estimate), so only differences well above the floor mean something.`);
say();
say('### Samplers on the teacher, cfg 1');
say();
say(`| sampler | ${BUDGETS.map((b) => `NFE ${b}`).join(' | ')} |`);
say(`|---|${BUDGETS.map(() => '---').join('|')}|`);
for (const s of SAMPLERS) {
  const cells: string[] = [];
  for (const b of BUDGETS) cells.push(show(await cell(TEACHER, s, b, 1), b));
  say(`| ${s} | ${cells.join(' | ')} |`);
}
const ems = await teacherEms();
const v3: string[] = [];
for (const b of BUDGETS) v3.push(show(await cell(TEACHER, 'dpm-solver-v3', b, 1, ems), b));
say(`| dpm-solver-v3 (EMS) | ${v3.join(' | ')} |`);
say();
say(`dpm-solver-v3 uses empirical model statistics estimated from the network itself: ${V3_EMS.samples} real digits (with their labels), ${V3_EMS.points} λ nodes, finite differences and ${V3_EMS.probes} Hutchinson probe (as \`diffuse ems --model onnx:models/mnist/card.json --method estimate --data mnist --points ${V3_EMS.points} --samples ${V3_EMS.samples} --probes ${V3_EMS.probes}\`), computed once and not counted in its NFE.`);
say();
const cfg2Cols = [...CFG2.budgets, CFG2.long.nfe];
say('### Samplers on the teacher, cfg 2');
say();
say(`| sampler | ${cfg2Cols.map((b) => `NFE ${b}`).join(' | ')} |`);
say(`|---|${cfg2Cols.map(() => '---').join('|')}|`);
for (const s of SAMPLERS) {
  const cells: string[] = [];
  for (const b of CFG2.budgets) cells.push(show(await cell(TEACHER, s, b, 2), b));
  cells.push(s === CFG2.long.sampler ? show(await cell(TEACHER, s, CFG2.long.nfe, 2), CFG2.long.nfe) : '—');
  say(`| ${s} | ${cells.join(' | ')} |`);
}
say();
say('### Training-for-speed methods vs their teacher, cfg 1');
say();
say('Each student is trained from the teacher (or its samples) by the recipe named; its card, command, seed and training time are in its folder\'s README. "teacher" is models/mnist with the sampler named, at the same NFE and x_T.');
say();
say('| method | student (sampler) | teacher (sampler) | NFE | student FD / acc | teacher FD / acc | FD ratio |');
say('|---|---|---|---:|---|---|---:|');
const missing: string[] = [];
for (const m of METHODS) {
  if (!existsSync(resolve(root, m.dir, 'card.json'))) {
    missing.push(`${m.name} (${m.dir})`);
    continue;
  }
  for (const [studentSampler, teacherSampler, budgets] of m.runs) {
    for (const b of budgets) {
      const s = await cell(m.dir, studentSampler, b, 1);
      const t = await cell(TEACHER, teacherSampler, b, 1);
      say(`| ${m.name} | ${m.dir} (${studentSampler}) | ${teacherSampler} | ${b} | ${show(s, b)} | ${show(t, b)} | ${(s.fd / t.fd).toFixed(2)} |`);
    }
  }
}
say();
say('Claims tested: ' + METHODS.map((m) => `**${m.name}** — ${m.claim} (${m.recipe})`).join('; ') + '.');
say();
say(`The PTQ4DM int8 model stores its weights in 7 bits (−63..63). ONNX Runtime's u8s8 convolutions on x86 without VNNI add pairs of uint8 × int8 products in 16 bits with saturation (VPMADDUBSW); 2 × 255 × 127 overflows there, 2 × 255 × 63 does not, so the rows hold on every CPU (the previous 8-bit build scored FD 421 at dpmpp-2m 10 steps on a CPU without VNNI, 39.7 on one with it; docs/quant.md). This CPU ${int8Dot()}.`);
if (missing.length > 0) say(`\nNot measured (model not in the repository): ${missing.join(', ')}.`);
say();
await classifier.release();

const seconds = ((Date.now() - started) / 1000).toFixed(0);
const machine = `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} (shared with other jobs), Node ${process.version}, ONNX Runtime CPU; ${new Date().toISOString().slice(0, 10)}; ${seconds} s in all${Object.keys(cache).length > 0 && process.argv.includes('--reuse') ? ' (cells reused from an earlier run with the same settings where available)' : ''}.`;
const body = out.join('\n');
writeFileSync(resolve(root, 'docs/mnist-results.md'), [
  '# MNIST: sample quality vs NFE, and training-for-speed methods', '',
  'Generated by `npm run results:mnist` (bench/mnist-results.ts); do not edit by hand.', '', machine, '', body,
].join('\n'));

// splice the same tables into docs/results.md between the markers (appended the first time)
const START = '<!-- mnist-results:start -->';
const END = '<!-- mnist-results:end -->';
const section = [START, '## Real network: MNIST (issue 3)', '', 'Generated by `npm run results:mnist` (bench/mnist-results.ts), also in docs/mnist-results.md.', '', machine, '', body, END].join('\n');
const resultsPath = resolve(root, 'docs/results.md');
if (process.argv.includes('--no-results-page')) process.exit(0);
const page = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '# Results\n';
const a = page.indexOf(START);
const z = page.indexOf(END);
writeFileSync(resultsPath, a >= 0 && z > a ? page.slice(0, a) + section + page.slice(z + END.length) : `${page.trimEnd()}\n\n${section}\n`);
console.error(`wrote docs/mnist-results.md and its section of docs/results.md in ${seconds} s`);
