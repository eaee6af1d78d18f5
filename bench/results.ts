/**
 * The results page of the training-free accelerators (issue 4): for NFE 5, 10 and 20 on mixture
 * problems (2-D and d = 16), the median per-sample error against the exact PF-ODE endpoint of the
 * standard samplers on their default grids and of grids found by the AutoDiffusion search, all
 * judged on a held-out batch of x_T that the search never saw; the Time-Shift sampler next to its
 * base; S³ and LSD / LSD+; DPM-Solver-v3, EVODiff and DualFast against their bases; the flow
 * samplers; PFGM++ against EDM; MR Sampler against the posterior sampler; Denoising MCMC against a
 * plain ODE solve; and the best of all of them against the best standard sampler.
 *
 * Run: npm run results  → prints progress and writes docs/results.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, arch } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { benchmark, type BenchRow } from '../src/bench.js';
import { searchGrid, oracleFitness, searchSchedule, scheduleFitness, unipcSchedule, distillLsd, lsdRun, formatPlan, DEFAULT_S3 } from '../src/search/index.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid } from '../src/grid/index.js';
import { defaultGrid, sample } from '../src/sample.js';
import { findSampler } from '../src/samplers/index.js';
import { emsFromMixture, emsToJson } from '../src/ems/index.js';
import { samplePfgm } from '../src/pfgm/index.js';
import { MeanReverting, MrOracle, sampleMr, mrPfOdeEndpoint } from '../src/mr/index.js';
import { gmmNoiseLikelihood, sampleDmcmc } from '../src/mcmc/index.js';
import { slicedWasserstein2 } from '../src/metrics/distance.js';
import { median, medianSampleRms } from '../src/metrics/error.js';
import { Rng } from '../src/core/rng.js';
import { Edm } from '../src/process/ve.js';

const PROBLEMS = ['ring8', 'checkerboard', 'gmm16'] as const;
const NFES = [5, 10, 20] as const;
const STANDARD = ['ddim', 'dpmpp-2m', 'dpmpp-3m', 'unipc', 'deis', 'heun', 'dpmpp-3m-full'] as const;
const SEARCHED = ['dpmpp-2m', 'unipc'] as const;
const TIME_SHIFT = [{ name: 'ts-ddim', base: 'ddim' }] as const;
/** The search sees one batch; every number on the page comes from another. */
const TRAIN = { seed: 1, n: 64 };
const HELD_OUT = { seed: 2, n: 256 };
const SEARCH = { population: 20, generations: 14, parents: 5, seed: 0 };

const process = createProcess({ name: 'vp' });

interface Searched {
  problem: string;
  sampler: string;
  budget: number;
  steps: number;
  nfe: number;
  initialHeldOut: number;
  heldOut: number;
  trainInitial: number;
  train: number;
  evaluations: number;
  seconds: number;
  times: number[];
}

/** Largest step count of the sampler's default grid whose one-sample run fits the budget. */
async function stepsFor(problem: string, sampler: string, budget: number): Promise<{ steps: number; nfe: number }> {
  const gmm = new GaussianMixture(builtinProblem(problem));
  const model = new GmmOracle(gmm, process, 'epsilon');
  for (let steps = budget; steps >= 1; steps--) {
    const grid = makeGrid(process, defaultGrid(findSampler(sampler).defaultGrid, steps));
    const run = await sample({ model, process, sampler, grid, n: 1 });
    if (run.nfe <= budget) return { steps, nfe: run.nfe };
  }
  throw new Error(`${sampler} cannot run within ${budget} model calls`);
}

async function searchOne(problem: string, sampler: string, budget: number): Promise<Searched> {
  const gmm = builtinProblem(problem);
  const { steps, nfe } = await stepsFor(problem, sampler, budget);
  const initial = makeGrid(process, defaultGrid(findSampler(sampler).defaultGrid, steps));
  const train = oracleFitness({ gmm, process, sampler, ...TRAIN });
  const heldOut = oracleFitness({ gmm, process, sampler, ...HELD_OUT });
  const t0 = performance.now();
  const r = await searchGrid({ process, initial, fitness: train, options: SEARCH });
  const seconds = (performance.now() - t0) / 1000;
  return {
    problem, sampler, budget, steps, nfe,
    initialHeldOut: await heldOut(initial),
    heldOut: await heldOut(Float64Array.from(r.grid.times)),
    trainInitial: r.initialFitness,
    train: r.fitness,
    evaluations: r.state.evaluations,
    seconds,
    times: r.grid.times,
  };
}

const sci = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : '—');
const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** Whether every searched grid beat its sampler's default grid on the held-out batch at NFE ≤ 10. */
function claim(searched: readonly Searched[]): string {
  const low = searched.filter((s) => s.budget <= 10);
  const beaten = low.filter((s) => s.heldOut < s.initialHeldOut).length;
  const gains = low.map((s) => s.initialHeldOut / s.heldOut);
  const range = `${Math.min(...gains).toFixed(1)}× to ${Math.max(...gains).toFixed(1)}×`;
  return beaten === low.length ? `reproduced (every searched grid beats its default grid at NFE 5 and 10, by ${range})` : `not reproduced in ${low.length - beaten} of ${low.length} cases (gains ${range})`;
}

function best(rows: readonly { label: string; err: number }[]): { label: string; err: number } {
  return rows.reduce((a, b) => (b.err < a.err ? b : a));
}

async function main(): Promise<void> {
  const started = performance.now();
  const standard = new Map<string, BenchRow[]>();
  const timeShift = new Map<string, BenchRow[]>();
  for (const problem of PROBLEMS) {
    const gmm = builtinProblem(problem);
    const common = { gmm, process, nfes: NFES, n: HELD_OUT.n, seed: HELD_OUT.seed };
    standard.set(problem, await benchmark({ ...common, samplers: STANDARD.map((name) => ({ name })) }));
    timeShift.set(problem, await benchmark({ ...common, samplers: TIME_SHIFT.flatMap((s) => [{ name: s.base }, { name: s.name }]) }));
    console.log(`${problem}: standard samplers and time-shift done (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  const searched: Searched[] = [];
  for (const problem of PROBLEMS) {
    for (const budget of NFES) {
      for (const sampler of SEARCHED) {
        const s = await searchOne(problem, sampler, budget);
        searched.push(s);
        console.log(`${problem} NFE ${budget} ${sampler}: ${sci(s.initialHeldOut)} → ${sci(s.heldOut)} (${s.seconds.toFixed(1)} s)`);
      }
    }
  }
  const learned: Learned[] = [];
  for (const problem of PROBLEMS) {
    for (const budget of LEARNED_NFES) {
      for (const method of ['S³', 'LSD', 'LSD+'] as const) {
        const l = await learnOne(problem, method, budget);
        learned.push(l);
        console.log(`${problem} NFE ${budget} ${method}: ${sci(l.baseHeldOut)} → ${sci(l.heldOut)} (${l.seconds.toFixed(1)} s)`);
      }
    }
  }
  const methods = await measureMethods((label) => console.log(`${label} (${((performance.now() - started) / 1000).toFixed(0)} s)`));
  const total = (performance.now() - started) / 1000;
  const path = resolve(dirname(fileURLToPath(import.meta.url)), '../docs/results.md');
  writeFileSync(
    path,
    page(standard, timeShift, searched, total) + learnedSection(standard, searched, learned) + methodsSection(standard, timeShift, searched, learned, methods) + mnistSection(path),
  );
  console.log(`wrote docs/results.md in ${total.toFixed(0)} s`);
}

function page(standard: Map<string, BenchRow[]>, timeShift: Map<string, BenchRow[]>, searched: readonly Searched[], seconds: number): string {
  const out: string[] = [];
  const cpu = cpus();
  out.push('# Results: training-free accelerators on exact mixtures', '');
  out.push(
    'Generated by `npm run results` (bench/results.ts); do not edit by hand.',
    `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${platform()} ${arch()}, Node ${globalThis.process.version}. ` +
      `Date: ${new Date().toISOString().slice(0, 10)}. Run time: ${seconds.toFixed(0)} s.`,
    '',
    `Process: vp (linear β, t ∈ [1e-3, 1]); oracles return ε. Error: the median over samples of each sample's RMS distance to the exact ` +
      `PF-ODE endpoint from the same x_T (DOP853, tolerance 1e-12), on a held-out batch (n = ${HELD_OUT.n}, seed ${HELD_OUT.seed}). ` +
      `Each sampler runs the largest step count of its default grid whose model calls fit the NFE budget. ` +
      `Search budgets (AutoDiffusion and S³: population ${SEARCH.population} × ${SEARCH.generations} generations; LSD / LSD+: ${DISTILL.iterations} iterations) ` +
      'are cut from 25 generations and 150 iterations to keep the whole page near 6 minutes on this machine.',
    '',
  );

  out.push('## Goal: best searched grid vs best standard sampler', '');
  out.push(
    `AutoDiffusion (Li et al. 2023, ICCV): evolutionary search of the time steps for a fixed NFE (population ${SEARCH.population}, ` +
      `${SEARCH.generations} generations, top ${SEARCH.parents} bred), fitness = the median error on a training batch ` +
      `(n = ${TRAIN.n}, seed ${TRAIN.seed}); the first and last time stay those of the sampler's default grid. ` +
      'Ratio = best searched error / best standard error, both on the held-out batch. Goal of issue 4: ratio ≤ 0.5 at NFE 5 and 10.',
    '',
  );
  const ratioRows: string[][] = [];
  const ratios: { budget: number; ratio: number }[] = [];
  for (const [problem, rows] of standard) {
    for (const budget of NFES) {
      const std = best(rows.filter((r) => r.budget === budget).map((r) => ({ label: r.label, err: r.medianErr })));
      const srch = best(searched.filter((s) => s.problem === problem && s.budget === budget).map((s) => ({ label: `${s.sampler} (searched)`, err: s.heldOut })));
      const ratio = srch.err / std.err;
      ratios.push({ budget, ratio });
      ratioRows.push([problem, String(budget), `${std.label} ${sci(std.err)}`, `${srch.label} ${sci(srch.err)}`, ratio.toFixed(3), budget <= 10 ? (ratio <= 0.5 ? 'met' : 'not met') : '—']);
    }
  }
  out.push(table(['problem', 'NFE', 'best standard', 'best searched', 'ratio', 'goal ≤ 0.5'], ratioRows), '');
  const low = ratios.filter((r) => r.budget <= 10);
  const worst = Math.max(...low.map((r) => r.ratio));
  out.push(
    `**Verdict:** at NFE 5 and 10 the searched grids reach ratios from ${Math.min(...low.map((r) => r.ratio)).toFixed(3)} to ${worst.toFixed(3)}: ` +
      `the goal (≤ 0.5) is ${worst <= 0.5 ? 'met on every problem' : `not met on every problem (${low.filter((r) => r.ratio > 0.5).length} of ${low.length} cases above 0.5)`}. ` +
      `AutoDiffusion's claim (searched time steps beat hand-designed ones at few steps, measured there by FID): ${claim(searched)}.`,
    '',
  );

  out.push('## AutoDiffusion: searched grid vs the same sampler on its default grid', '');
  out.push(
    table(
      ['problem', 'sampler', 'NFE', 'steps', 'default grid (held-out)', 'searched (held-out)', 'gain', 'train: default → searched', 'fitness calls', 'search time'],
      searched.map((s) => [
        s.problem, s.sampler, String(s.budget), String(s.steps), sci(s.initialHeldOut), sci(s.heldOut),
        `${(s.initialHeldOut / s.heldOut).toFixed(1)}×`, `${sci(s.trainInitial)} → ${sci(s.train)}`, String(s.evaluations), `${s.seconds.toFixed(1)} s`,
      ]),
    ),
    '',
  );
  out.push('Searched grids (process times, first to last):', '');
  for (const s of searched) out.push(`- ${s.problem}, ${s.sampler}, NFE ${s.budget}: \`${JSON.stringify({ type: 'explicit', times: s.times.map((t) => Number(t.toPrecision(6))) })}\``);
  out.push('', '(Rounded to 6 digits for reading; `searchGrid` returns the full-precision grid as JSON that `sample({ grid })` loads.)', '');

  out.push('## Standard samplers on their default grids (held-out batch)', '');
  for (const [problem, rows] of standard) {
    out.push(`### ${problem}`, '');
    out.push(table(['sampler', 'grid', ...NFES.map((b) => `NFE ${b}`)], STANDARD.map((name) => {
      const mine = rows.filter((r) => r.sampler === name);
      return [name, mine[0]?.grid ?? '—', ...NFES.map((b) => {
        const r = mine.find((x) => x.budget === b);
        return r ? `${sci(r.medianErr)} (${r.steps} steps)` : '—';
      })];
    })), '');
  }

  out.push('## Time-Shift sampler vs its base', '');
  out.push(
    'Time-Shift (Li et al. 2024, ICLR): before each step, each sample\'s variance over its values picks, among the times within ' +
      '±15 training-step units (window 30, units of 1/1000 of the time range) of the scheduled next time, the one whose σ² matches it; ' +
      'shifting stops below 30 % of the time range (cutoff 0.3), as in the official code\'s DPM-Solver example. ' +
      'Paper\'s claim: FID improves for DDIM/PNDM/DPM-Solver at 5–20 steps (e.g. F-PNDM, CIFAR-10, 10 steps: FID 3.88, 44.49 % better), ' +
      'by correcting the exposure bias of a trained network.',
    '',
  );
  const tsRows: string[][] = [];
  for (const [problem, rows] of timeShift) {
    for (const s of TIME_SHIFT) {
      for (const budget of NFES) {
        const base = rows.find((r) => r.sampler === s.base && r.budget === budget);
        const ts = rows.find((r) => r.sampler === s.name && r.budget === budget);
        if (base && ts) tsRows.push([problem, `${s.name} vs ${s.base}`, String(budget), sci(base.medianErr), sci(ts.medianErr), (ts.medianErr / base.medianErr).toFixed(3)]);
      }
    }
  }
  out.push(table(['problem', 'sampler', 'NFE', 'base error', 'time-shift error', 'ratio'], tsRows), '');
  const tsRatios = tsRows.map((r) => Number(r[5]));
  out.push(
    `**Verdict: not comparable.** The exact oracle has no exposure bias (its D(x, t) is exact at every x), which is what the method ` +
      `corrects; here the shift only moves the grid, by a per-sample variance estimate over ${[...new Set(PROBLEMS.map((p) => builtinProblem(p).means[0].length))].join(' or ')} values. ` +
      `Ratios to the base range from ${Math.min(...tsRatios).toFixed(3)} to ${Math.max(...tsRatios).toFixed(3)}. ` +
      'Bases: DDIM and DDPM (memoryless), PLMS, PNDM (pseudo Runge–Kutta warm-up on each sample\'s own intervals) and DPM-Solver++(2M) with per-sample histories at each sample\'s own times (ts-plms, ts-pndm, ts-dpmpp-2m; the page runs ts-ddim). ' +
      'Deviations from the paper: ' +
      '3M and SDE bases are not wrapped (a 3M history needs a third per-sample λ and an SDE base a per-sample noise draw at shifted times; the paper shows DDIM, PNDM and DPM-Solver).',
    '',
  );
  return out.join('\n');
}

// ---------------------------------------------------------------- S³ and LSD / LSD+

const LEARNED_NFES = [5, 10] as const;
const S3_SEARCH = { ...DEFAULT_S3, ...SEARCH, screen: 4 };
const DISTILL = { iterations: 90, learningRate: 0.02, perturbation: 0.02, seed: 0 };

interface Learned {
  problem: string;
  method: 'S³' | 'LSD' | 'LSD+';
  /** The sampler the method starts from and is compared with on its own default grid. */
  base: string;
  budget: number;
  baseHeldOut: number;
  heldOut: number;
  evaluations: number;
  seconds: number;
  /** The learned object as saved: a schedule plan or LSD coefficients, shortened for reading. */
  summary: string;
}

/** S³ from UniPC's schedule, LSD / LSD+ from dpmpp-2m, each on its default log-SNR grid with `budget` steps (one NFE per step). */
async function learnOne(problem: string, method: Learned['method'], budget: number): Promise<Learned> {
  const gmm = builtinProblem(problem);
  const grid = makeGrid(process, { type: 'logsnr', steps: budget, end: 'zero' });
  const t0 = performance.now();
  if (method === 'S³') {
    const train = scheduleFitness(oracleFitness({ gmm, process, sampler: 'schedule', ...TRAIN }));
    const heldOut = scheduleFitness(oracleFitness({ gmm, process, sampler: 'schedule', ...HELD_OUT }));
    const initial = unipcSchedule(Array.from(grid));
    const r = await searchSchedule({ process, initial, fitness: train, options: S3_SEARCH });
    const seconds = (performance.now() - t0) / 1000;
    return {
      problem, method, base: 'unipc', budget, baseHeldOut: await heldOut(initial), heldOut: await heldOut(r.schedule),
      evaluations: r.state.evaluations, seconds, summary: lsdOrPlan(r.schedule.times, formatPlan(r.schedule.steps)),
    };
  }
  const train = oracleFitness({ gmm, process, sampler: 'lsd', ...TRAIN });
  const heldOut = oracleFitness({ gmm, process, sampler: 'lsd', ...HELD_OUT });
  const r = await distillLsd({ process, initial: grid, fitness: train, options: { ...DISTILL, plus: method === 'LSD+' } });
  const seconds = (performance.now() - t0) / 1000;
  const run = lsdRun(r.coefficients);
  return {
    problem, method, base: 'dpmpp-2m', budget, baseHeldOut: await heldOut(grid), heldOut: await heldOut(Float64Array.from(r.coefficients.times), run.options),
    evaluations: r.state.evaluations, seconds, summary: lsdOrPlan(r.coefficients.times, r.coefficients.coefficients.map(([a, b]) => `${a.toFixed(3)}/${b.toFixed(3)}`).join(' ')),
  };
}

const lsdOrPlan = (times: readonly number[], what: string) => `times ${times.map((t) => t.toPrecision(3)).join(', ')}; ${what}`;

function learnedSection(standard: Map<string, BenchRow[]>, searched: readonly Searched[], learned: readonly Learned[]): string {
  const out: string[] = ['', '## S³ solver schedules and LSD / LSD+ distilled coefficients (held-out batch)', ''];
  out.push(
    'S³ (Liu et al. 2023, ICLR 2024): the unified sampling framework lets every step choose its prediction type (data/noise), ' +
      'Taylor order 1–3 and a UniC corrector (`schedule` sampler); the search (predictor-screened evolution, population ' +
      `${S3_SEARCH.population}, ${S3_SEARCH.generations} generations, ${S3_SEARCH.screen} candidates ranked by a k-NN predictor per evaluation) ` +
      'moves the times and the decisions, starting from UniPC-2. LSD / LSD+ (Fu et al. 2025, NeurIPS — a discrete-diffusion paper; ' +
      'here its continuous analogue): the two weights of every DPM-Solver++(2M) step (`lsd` sampler) and, for LSD+, the interior times, ' +
      `distilled by SPSA + Adam (${DISTILL.iterations} iterations, 3 runs each) on the training batch. Both fit the training batch ` +
      `(n = ${TRAIN.n}, seed ${TRAIN.seed}) and are judged on the held-out batch; one model call per step, so NFE = steps.`,
    '',
  );
  const rows: string[][] = [];
  const ratios: { method: string; std: number; auto: number }[] = [];
  for (const l of learned) {
    const std = best((standard.get(l.problem) ?? []).filter((r) => r.budget === l.budget).map((r) => ({ label: r.label, err: r.medianErr })));
    const auto = best(searched.filter((s) => s.problem === l.problem && s.budget === l.budget).map((s) => ({ label: `${s.sampler} (searched)`, err: s.heldOut })));
    ratios.push({ method: l.method, std: l.heldOut / std.err, auto: l.heldOut / auto.err });
    rows.push([
      l.problem, l.method, String(l.budget), `${l.base} ${sci(l.baseHeldOut)}`, sci(l.heldOut), `${(l.baseHeldOut / l.heldOut).toFixed(1)}×`,
      `${(l.heldOut / std.err).toFixed(3)} (${std.label})`, `${(l.heldOut / auto.err).toFixed(3)} (${auto.label})`, String(l.evaluations), `${l.seconds.toFixed(1)} s`,
    ]);
  }
  out.push(table(['problem', 'method', 'NFE', 'base on its default grid', 'learned', 'gain', 'ratio vs best standard', 'ratio vs best AutoDiffusion', 'fitness calls', 'time'], rows), '');
  const verdict = (method: string) => {
    const mine = learned.filter((l) => l.method === method);
    const beaten = mine.filter((l) => l.heldOut < l.baseHeldOut).length;
    const r = ratios.filter((x) => x.method === method);
    const range = (k: 'std' | 'auto') => `${Math.min(...r.map((x) => x[k])).toFixed(3)}–${Math.max(...r.map((x) => x[k])).toFixed(3)}`;
    return `beats its base in ${beaten} of ${mine.length} cases; ratio to the best standard sampler ${range('std')}, to the best AutoDiffusion grid ${range('auto')}`;
  };
  const lsdPlusWins = learned.filter((l) => l.method === 'LSD+').filter((l) => l.heldOut < (learned.find((m) => m.method === 'LSD' && m.problem === l.problem && m.budget === l.budget)?.heldOut ?? Infinity)).length;
  const nCases = learned.filter((l) => l.method === 'LSD+').length;
  out.push(
    `**S³** — paper's claim: at NFE < 10 searched schedules beat the best hand-designed solvers (DPM-Solver++, UniPC) by a large margin (FID, CIFAR-10 to LSUN and Stable Diffusion). ` +
      `Here it ${verdict('S³')}. Verdict: ${learned.filter((l) => l.method === 'S³').every((l) => l.heldOut < l.baseHeldOut) ? 'reproduced' : 'not reproduced in every case'} ` +
      '(against its UniPC base); deviation: the paper\'s multi-stage search trains an MLP predictor, here a k-NN predictor screens evolutionary candidates, and the derivative-estimation choice is one global UniPC variant (bh2).',
    '',
    `**LSD / LSD+** — paper's claim: the distilled few-step student beats the same sampler with analytic coefficients at equal NFE, and LSD+ (learned times) beats LSD. ` +
      `Here LSD ${verdict('LSD')}; LSD+ ${verdict('LSD+')}; LSD+ beats LSD in ${lsdPlusWins} of ${nCases} cases. ` +
      `Verdict: ${learned.filter((l) => l.method !== 'S³').every((l) => l.heldOut < l.baseHeldOut) ? 'reproduced in its continuous analogue' : 'not reproduced in every case'}; ` +
      'deviations: the paper distils discrete-diffusion samplers by backpropagation with an intermediate-trajectory loss; here the model is a black box, the loss is the endpoint distance and the gradient an SPSA estimate.',
    '',
    'Learned samplers (times rounded to 3 digits; the search returns full-precision JSON that `scheduleRun` / `lsdRun` turn into a sample() request):',
    '',
    ...learned.map((l) => `- ${l.problem}, ${l.method}, NFE ${l.budget}: ${l.summary}`),
    '',
  );
  return out.join('\n');
}

// ---------------------------------------------------------------- the other methods of issue 4

/** Wrappers and variants of a standard sampler, each against that base on its default grid. */
const VARIANTS = [
  { name: 'dpm-solver-v3', label: 'dpm-solver-v3 (oracle EMS)', base: ['dpmpp-2m', 'unipc'] },
  { name: 'evodiff', label: 'evodiff', base: ['dpmpp-2m'] },
  { name: 'dualfast-ddim', label: 'dualfast-ddim', base: ['ddim'] },
  { name: 'dualfast-dpmpp-2m', label: 'dualfast-dpmpp-2m', base: ['dpmpp-2m'] },
  { name: 'dualfast-unipc', label: 'dualfast-unipc', base: ['unipc'] },
] as const;
/** EMS of the exact denoiser: λ nodes over the vp range and Monte Carlo samples per node. */
const EMS = { points: 120, samples: 256, seed: 4 };
const FLOW_SAMPLERS = ['flow-euler', 'flow-heun', 'flow-midpoint', 'dpmpp-2m', 'unipc'] as const;
/** Every flow run starts at t = 0.995 (σ/α = 199): the exact PF-ODE cannot start at α = 0. */
const FLOW_START = 0.995;
const PFGM = { D: [128, 2048, Infinity], steps: [3, 5, 10], n: 256 };
const MR = { lambda: 0.5, n: 256, ode: [5, 10, 20], posterior: [5, 10, 20, 100] };
const DLG = { chains: 256, burnIn: 16, n: 1024, steps: [2, 5, 15] };

interface Distributional {
  problem: string;
  method: string;
  nfe: number;
  /** Median per-sample error against an exact reference, where one exists. */
  err?: number;
  /** Sliced W2 to exact draws. */
  sw?: number;
}

interface Methods {
  variants: Map<string, BenchRow[]>;
  flow: Map<string, BenchRow[]>;
  pfgm: Distributional[];
  mr: Distributional[];
  dlg: Distributional[];
  /** Sliced W2 between two exact draws of the same size, per problem and sample count. */
  floors: Map<string, number>;
}

const slicedTo = (gmm: GaussianMixture, n: number) => {
  const ref = gmm.sample(n, new Rng(9));
  return (x: Float64Array) => slicedWasserstein2(x, ref, gmm.d, new Rng(3), 64);
};

/** Median over samples of the per-sample RMS distance to the nearest data point (where the exact finite-data ODE ends). */
function nearestPointError(x: Float64Array, points: readonly (readonly number[])[]): number {
  const d = points[0].length;
  const per = new Float64Array(x.length / d);
  for (let i = 0; i < per.length; i++) {
    let bestSq = Infinity;
    for (const y of points) {
      let sq = 0;
      for (let j = 0; j < d; j++) sq += (x[i * d + j] - y[j]) * (x[i * d + j] - y[j]);
      bestSq = Math.min(bestSq, sq);
    }
    per[i] = Math.sqrt(bestSq / d);
  }
  return median(per);
}

async function measureMethods(log: (label: string) => void): Promise<Methods> {
  const out: Methods = { variants: new Map(), flow: new Map(), pfgm: [], mr: [], dlg: [], floors: new Map() };
  const flowProcess = createProcess({ name: 'flow' });
  const edm = new Edm();
  const mrProcess = new MeanReverting({ lambda: MR.lambda });
  for (const problem of PROBLEMS) {
    const spec = builtinProblem(problem);
    const gmm = new GaussianMixture(spec);
    const common = { gmm, nfes: NFES, n: HELD_OUT.n, seed: HELD_OUT.seed };
    const lambdaRange = { lambdaMin: process.logSnr(process.tMax) - 0.1, lambdaMax: process.logSnr(process.tMin) + 0.1 };
    const ems = emsToJson(emsFromMixture(gmm, { ...lambdaRange, points: EMS.points, samples: EMS.samples, rng: new Rng(EMS.seed) }));
    out.variants.set(problem, await benchmark({
      ...common, process, samplers: VARIANTS.map((v) => ({ name: v.name, label: v.label, ...(v.name === 'dpm-solver-v3' ? { options: { ems } } : {}) })),
    }));
    out.flow.set(problem, await benchmark({ ...common, process: flowProcess, prediction: 'velocity', samplers: FLOW_SAMPLERS.map((name) => ({
      name, grid: name.startsWith('flow-') ? { type: 'flow-shift' as const, shift: 1, start: FLOW_START, end: 'zero' as const } : { type: 'logsnr' as const, start: FLOW_START, end: 'zero' as const },
    })) }));
    log(`${problem}: v3, evodiff, dualfast, flow samplers done`);

    for (const D of PFGM.D) {
      for (const steps of PFGM.steps) {
        const run = await samplePfgm({ points: spec.means, weights: spec.weights, D, steps, n: PFGM.n, seed: HELD_OUT.seed });
        out.pfgm.push({ problem, method: D === Infinity ? 'EDM (D = ∞)' : `PFGM++ D = ${D}`, nfe: run.nfe, err: nearestPointError(run.x, spec.means) });
      }
    }

    const swMr = slicedTo(gmm, MR.n);
    out.floors.set(`${problem}:${MR.n}`, swMr(gmm.sample(MR.n, new Rng(10))));
    const mu = new Rng(5).fillNormal(new Float64Array(MR.n * gmm.d)).map((v) => 0.3 * v);
    const model = new MrOracle(gmm, mrProcess, 'noise');
    const mrRun = (steps: number, solver: 'ode' | 'posterior') =>
      sampleMr({ model, process: mrProcess, mu, n: MR.n, grid: { type: 'logsnr', steps, end: 'zero' }, solver, seed: 7 });
    for (const steps of MR.ode) {
      const r = await mrRun(steps, 'ode');
      const truth = mrPfOdeEndpoint(gmm, mrProcess, mu, r.xT, r.grid[0], r.grid[r.grid.length - 1]);
      out.mr.push({ problem, method: 'MR Sampler ODE-d-2', nfe: r.nfe, err: medianSampleRms(r.x, truth, gmm.d), sw: swMr(r.x) });
    }
    for (const steps of MR.posterior) {
      const r = await mrRun(steps, 'posterior');
      out.mr.push({ problem, method: 'IR-SDE posterior sampler', nfe: r.nfe, sw: swMr(r.x) });
    }

    const swDlg = slicedTo(gmm, DLG.n);
    out.floors.set(`${problem}:${DLG.n}`, swDlg(gmm.sample(DLG.n, new Rng(10))));
    const edmModel = new GmmOracle(gmm, edm, 'epsilon');
    const levels = Float64Array.from({ length: 16 }, (_, j) => 0.05 * Math.pow(2 / 0.05, j / 15));
    for (const steps of DLG.steps) {
      const dlg = await sampleDmcmc({
        model: edmModel, process: edm, noiseLikelihood: gmmNoiseLikelihood(gmm), sigmas: levels, chains: DLG.chains, burnIn: DLG.burnIn, n: DLG.n, steps, seed: 2,
      });
      out.dlg.push({ problem, method: `DLG + dpmpp-2m (${steps} steps)`, nfe: dlg.nfePerSample, sw: swDlg(dlg.x) });
      const odeSteps = Math.floor(dlg.nfePerSample);
      const ode = await sample({ model: edmModel, process: edm, sampler: 'dpmpp-2m', grid: { type: 'karras', steps: odeSteps, end: 'zero' }, n: DLG.n, seed: 4 });
      out.dlg.push({ problem, method: `dpmpp-2m from σ = 80 (${odeSteps} steps)`, nfe: ode.nfe, sw: swDlg(ode.x.data) });
    }
    log(`${problem}: PFGM++, MR Sampler, DMCMC done`);
  }
  return out;
}

const errOf = (rows: readonly BenchRow[] | undefined, label: string, budget: number) => rows?.find((r) => r.label === label && r.budget === budget)?.medianErr ?? NaN;

function methodsSection(
  standard: Map<string, BenchRow[]>, timeShift: Map<string, BenchRow[]>, searched: readonly Searched[], learned: readonly Learned[], m: Methods,
): string {
  const out: string[] = ['', '## DPM-Solver-v3, EVODiff and DualFast against their bases (held-out batch, vp)', ''];
  out.push(
    `Each runs its own default grid at the largest step count that fits the budget; the base is the same standard sampler as above. ` +
      `DPM-Solver-v3 uses EMS computed from the exact denoiser (\`emsFromMixture\`: ${EMS.points} λ nodes, ${EMS.samples} samples per node, ` +
      'Jacobian terms analytic), which costs no model call of the run; its default online EMS spends 12 × 5 extra model calls and does not fit these budgets.',
    '',
  );
  const rows: string[][] = [];
  const wins = new Map<string, { won: number; cases: number; ratios: number[] }>();
  for (const problem of PROBLEMS) {
    for (const v of VARIANTS) {
      for (const budget of NFES) {
        const mine = errOf(m.variants.get(problem), v.label, budget);
        const bases = v.base.map((b) => ({ b, e: errOf(standard.get(problem), b, budget) }));
        const bestBase = bases.reduce((a, b) => (b.e < a.e ? b : a));
        rows.push([problem, v.label, String(budget), bases.map((b) => `${b.b} ${sci(b.e)}`).join(', '), sci(mine), (mine / bestBase.e).toFixed(3)]);
        if (budget <= 10) {
          const w = wins.get(v.label) ?? { won: 0, cases: 0, ratios: [] };
          w.cases++;
          if (mine < bestBase.e) w.won++;
          w.ratios.push(mine / bestBase.e);
          wins.set(v.label, w);
        }
      }
    }
  }
  out.push(table(['problem', 'method', 'NFE', 'base error', 'method error', 'ratio to best base'], rows), '');
  const summary = (label: string) => {
    const w = wins.get(label) ?? { won: 0, cases: 0, ratios: [NaN] };
    return { all: w.won === w.cases, text: `beats its base in ${w.won} of ${w.cases} cases at NFE 5 and 10 (ratios ${Math.min(...w.ratios).toFixed(3)}–${Math.max(...w.ratios).toFixed(3)})` };
  };
  const v3 = summary('dpm-solver-v3 (oracle EMS)');
  const evo = summary('evodiff');
  const dual = VARIANTS.filter((v) => v.name.startsWith('dualfast')).map((v) => `${v.label} ${summary(v.label).text}`);
  out.push(
    `**DPM-Solver-v3** — paper's claim (Zheng et al. 2023, NeurIPS): the EMS-optimal parametrisation beats DPM-Solver++ and UniPC at 5–10 NFE ` +
      '(FID 12.21 at 5 NFE and 2.51 at 10 NFE on unconditional CIFAR-10, a 15–30 % speed-up). ' +
      `Here, against the better of dpmpp-2m and unipc, it ${v3.text}. Verdict: ${v3.all ? 'reproduced' : 'not reproduced in every case'}; ` +
      'deviations: the EMS are computed from the model (the official code ships precomputed ones), integrals by quadrature on any grid; where a fitted s has a standard error above 0.25 ' +
      '(f ≈ 0, e.g. ring8 at low λ) it takes the nearest well-determined node\'s value (the official code has no rule: its EMS come from many samples); the last steps are lowered only below 15 steps (diffusers\' rule; the official sampler does it on every grid, which caps the order at 2).',
    '',
    `**EVODiff** — paper's claim (Li et al. 2025): variance-optimised data-prediction steps lower the error of DPM-Solver++-type solvers at low NFE (FID on CIFAR-10, ImageNet, LSUN). ` +
      `Here it ${evo.text}. Verdict: ${evo.all ? 'reproduced' : 'not reproduced in every case'} on exact mixtures (the per-sample variance statistics see ${[...new Set(PROBLEMS.map((p) => builtinProblem(p).means[0].length))].join(' or ')} values).`,
    '',
    `**DualFast** — paper's claim (Yu et al. 2025): reducing the approximation error of the network on top of the discretisation error improves DDIM, DPM-Solver++ and UniPC at 5–10 steps. ` +
      'Diffuse feeds each base the mixed prediction of the paper\'s Eq. 12, ε̃ = (1 + c)ε − c·ε_τ, with ε_τ the first call\'s (τ = t_0) and c rising linearly to `mixing` at the last step; ' +
      'τ, the schedule and c were chosen by `diffuse eval` on the MNIST model (the paper\'s method section could not be retrieved): DDIM, mixing 1: FD 377 → 131 at NFE 5 and 119 → 52 at NFE 10 (n = 200); ' +
      'on DPM-Solver++(2M) and UniPC every mixing > 0 was worse at NFE 5 (mixing 0.25: 496 → 586 and 533 → 643) and at NFE 10 mixing 0.25 moved FD by less than the noise of n = 200 (49.8 → 48.3, 49.0 → 46.5), so their wrappers default to mixing 0, the base itself. ' +
      `Here ${dual.join('; ')}. Verdict: **reproduced for DDIM on the MNIST model, not for DPM-Solver++ or UniPC**; on the exact oracle there is no approximation error, the mixing changes the ODE ` +
      '(test/order.test.ts measures order 0 for dualfast-ddim); with mixing 0 each wrapper is its base bit for bit (test/dualfast.test.ts).',
    '',
  );

  out.push('## Rectified-flow samplers on the flow process (held-out batch)', '');
  out.push(
    `Process flow (α = 1 − t, σ = t), oracles return the velocity, every run from t = ${FLOW_START} to σ = 0 (the exact PF-ODE cannot start at α = 0). flow-euler/heun/midpoint step in t on the SD3 grid (shift 1); ` +
      'dpmpp-2m and unipc are the exponential integrators on the same process (steps in λ).',
    '',
  );
  const flowRows: string[][] = [];
  let expWins = 0;
  let expCases = 0;
  for (const problem of PROBLEMS) {
    const rs = m.flow.get(problem) ?? [];
    for (const name of FLOW_SAMPLERS) flowRows.push([problem, name, ...NFES.map((b) => sci(errOf(rs, name, b)))]);
    for (const budget of [5, 10]) {
      const flowBest = Math.min(...['flow-euler', 'flow-heun', 'flow-midpoint'].map((n) => errOf(rs, n, budget)));
      const expBest = Math.min(errOf(rs, 'dpmpp-2m', budget), errOf(rs, 'unipc', budget));
      expCases++;
      if (expBest < flowBest) expWins++;
    }
  }
  out.push(table(['problem', 'sampler', ...NFES.map((b) => `NFE ${b}`)], flowRows), '');
  out.push(
    `**Verdict:** the claim that exponential integrators (DPM-Solver-style, in λ) beat Runge–Kutta steps in t on flow models at few steps ` +
      `(Lu et al. 2022; diffusers' flow DPM-Solver/UniPC) holds in ${expWins} of ${expCases} cases at NFE 5 and 10: ${expWins === expCases ? 'reproduced' : 'not reproduced in every case'}. ` +
      'Rectified flow\'s own claim (straight paths, so few Euler steps suffice) concerns trained reflowed couplings and is not comparable on a fixed mixture, whose flow paths are curved.',
    '',
  );

  out.push('## PFGM++ vs EDM (exact finite-data field)', '');
  out.push(
    `Data: the component means of each problem as a finite data set; the exact PFGM++ field for D augmented dimensions, prior at r_max = σ_max√D, ` +
      `Heun on the EDM σ grid (NFE = 2·steps − 1), n = ${PFGM.n}. The exact ODE ends on a data point, so the error is each sample's RMS distance to the nearest point (median).`,
    '',
  );
  const pfgmNfes = [...new Set(m.pfgm.map((r) => r.nfe))];
  const pfgmRows: string[][] = [];
  for (const problem of PROBLEMS) {
    for (const method of [...new Set(m.pfgm.map((r) => r.method))]) {
      pfgmRows.push([problem, method, ...pfgmNfes.map((nfe) => sci(m.pfgm.find((r) => r.problem === problem && r.method === method && r.nfe === nfe)?.err ?? NaN))]);
    }
  }
  out.push(table(['problem', 'method', ...pfgmNfes.map((n) => `NFE ${n}`)], pfgmRows), '');
  /** Errors below this are rounding: the sample sits on a data point. */
  const ON_DATA = 1e-9;
  const cases = PROBLEMS.flatMap((problem) => pfgmNfes.map((nfe) => {
    const e = (method: string) => m.pfgm.find((r) => r.problem === problem && r.method === method && r.nfe === nfe)?.err ?? NaN;
    const finite = Math.min(e('PFGM++ D = 128'), e('PFGM++ D = 2048'));
    const edmErr = e('EDM (D = ∞)');
    return finite < ON_DATA && edmErr < ON_DATA ? 'tie' : finite < edmErr ? 'finite' : 'edm';
  }));
  const count = (k: string) => cases.filter((c) => c === k).length;
  out.push(
    `**Verdict: not comparable.** Paper's claim (Xu et al. 2023): intermediate D (2048) beats EDM (D → ∞) — CIFAR-10 FID 1.91 vs 1.98 at 35 NFE — ` +
      'and is more robust to the errors of a trained network and to step size. The exact field has no estimation error, so only the step-size part is tested: ' +
      `of ${cases.length} cases, a finite D is closer to the data in ${count('finite')}, EDM in ${count('edm')}, and in ${count('tie')} every run ends on data points ` +
      `(error < ${ON_DATA}). With few steps the heavy-tailed PFGM++ prior (r_max = σ_max√D) leaves samples off the data where EDM already lands on them. ` +
      'D → ∞ reproduces the EDM sampler (test/pfgm.test.ts).',
    '',
  );

  out.push('## MR Sampler vs the IR-SDE posterior sampler (mean-reverting process)', '');
  out.push(
    `Mean-reverting SDE with λ = ${MR.lambda}, θ̄ = −log 0.005, μ = 0.3·N(0, I) per sample; exact noise-predicting oracle, log-SNR grid to σ = 0, n = ${MR.n}. ` +
      'The ODE error is against the exact mean-reverting PF-ODE endpoint; sliced W2 (64 projections) is to exact draws of the data, with the two-sample floor beside it.',
    '',
  );
  const mrRows = m.mr.map((r) => [r.problem, r.method, String(r.nfe), r.err === undefined ? '—' : sci(r.err), sci(r.sw ?? NaN), sci(m.floors.get(`${r.problem}:${MR.n}`) ?? NaN)]);
  out.push(table(['problem', 'method', 'NFE', 'error vs exact ODE', 'sliced W2', 'floor'], mrRows), '');
  const mrOk = PROBLEMS.map((problem) => {
    const sw = (method: string, nfe: number) => m.mr.find((r) => r.problem === problem && r.method === method && r.nfe === nfe)?.sw ?? NaN;
    return sw('MR Sampler ODE-d-2', 10) <= 1.5 * Math.max(sw('IR-SDE posterior sampler', 100), m.floors.get(`${problem}:${MR.n}`) ?? 0);
  });
  out.push(
    `**Verdict:** paper's claim (MR Sampler, 2025): 10–20× fewer NFE than posterior sampling at the same quality. MR Sampler-ODE at 10 NFE is within 1.5× of ` +
      `the posterior sampler at 100 NFE (or of the floor) on ${mrOk.filter(Boolean).length} of ${mrOk.length} problems: ${mrOk.every(Boolean) ? 'reproduced' : 'not reproduced on every problem'}.`,
    '',
  );

  out.push('## Denoising MCMC (Denoising Langevin Gibbs) vs a plain ODE solve (edm process)', '');
  out.push(
    `DLG: ${DLG.chains} chains over (x, σ) on 16 geometric levels in [0.05, 2], burn-in ${DLG.burnIn}, then dpmpp-2m from each emitted state's σ; ` +
      `NFE per sample counts the chain's evaluations amortised over the n = ${DLG.n} outputs plus the ODE steps. Baseline: dpmpp-2m on the Karras grid from σ = 80 ` +
      'with at most the same NFE. Sliced W2 to exact draws.',
    '',
  );
  out.push(table(['problem', 'method', 'NFE / sample', 'sliced W2', 'floor'], m.dlg.map((r) => [r.problem, r.method, r.nfe.toFixed(1), sci(r.sw ?? NaN), sci(m.floors.get(`${r.problem}:${DLG.n}`) ?? NaN)])), '');
  const dlgWins = PROBLEMS.flatMap((problem) => {
    const mine = m.dlg.filter((r) => r.problem === problem);
    return mine.filter((_, i) => i % 2 === 0).map((d, i) => (d.sw ?? NaN) < (mine[2 * i + 1].sw ?? NaN));
  });
  out.push(
    `**Verdict:** paper's claim (Kim & Ye 2022): DLG in front of an integrator gives better samples at ≈10 NFE (CIFAR-10 FID 3.86). ` +
      `DLG beats the plain ODE at the same NFE in ${dlgWins.filter(Boolean).length} of ${dlgWins.length} cases: ${dlgWins.every(Boolean) ? 'reproduced' : dlgWins.some(Boolean) ? 'partly reproduced' : 'not reproduced'}.`,
    '',
  );

  out.push('## Goal, all methods: best Diffuse sampler vs best standard sampler (held-out batch, vp)', '');
  out.push(
    'Candidates: AutoDiffusion-searched grids, S³ schedules, LSD / LSD+, DPM-Solver-v3 (oracle EMS), EVODiff, DualFast wrappers and Time-Shift DDIM; ' +
      'the standard samplers are those of the first table. Ratio = best candidate / best standard; goal ≤ 0.5.',
    '',
  );
  const goalRows: string[][] = [];
  const goalRatios: number[] = [];
  for (const problem of PROBLEMS) {
    for (const budget of [5, 10]) {
      const std = best((standard.get(problem) ?? []).filter((r) => r.budget === budget).map((r) => ({ label: r.label, err: r.medianErr })));
      const candidates = [
        ...searched.filter((s) => s.problem === problem && s.budget === budget).map((s) => ({ label: `${s.sampler} (AutoDiffusion)`, err: s.heldOut })),
        ...learned.filter((l) => l.problem === problem && l.budget === budget).map((l) => ({ label: l.method, err: l.heldOut })),
        ...(m.variants.get(problem) ?? []).filter((r) => r.budget === budget).map((r) => ({ label: r.label, err: r.medianErr })),
        ...(timeShift.get(problem) ?? []).filter((r) => r.budget === budget && r.sampler.startsWith('ts-')).map((r) => ({ label: r.label, err: r.medianErr })),
      ];
      const top = best(candidates);
      const ratio = top.err / std.err;
      goalRatios.push(ratio);
      goalRows.push([problem, String(budget), `${std.label} ${sci(std.err)}`, `${top.label} ${sci(top.err)}`, ratio.toFixed(3), ratio <= 0.5 ? 'met' : 'not met']);
    }
  }
  out.push(table(['problem', 'NFE', 'best standard', 'best Diffuse', 'ratio', 'goal ≤ 0.5'], goalRows), '');
  const met = goalRatios.filter((r) => r <= 0.5).length;
  out.push(
    `**Verdict:** ratios from ${Math.min(...goalRatios).toFixed(3)} to ${Math.max(...goalRatios).toFixed(3)}; the goal is met in ${met} of ${goalRatios.length} cases` +
      `${met === goalRatios.length ? ' — on every problem at NFE 5 and 10' : ''}.`,
    '',
  );
  return out.join('\n');
}

/** The real-network section npm run results:mnist keeps between its markers, carried over unchanged. */
function mnistSection(path: string): string {
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const a = old.indexOf('<!-- mnist-results:start -->');
  const z = old.indexOf('<!-- mnist-results:end -->');
  return a >= 0 && z > a ? `\n${old.slice(a, z + '<!-- mnist-results:end -->'.length)}\n` : '';
}

await main();
