/**
 * The playground's numerics, off the page's thread: the Lab's runs (a sampler on an exact
 * Gaussian mixture, its trajectories and its error against the exact PF-ODE endpoint, as
 * `diffuse sample` computes it) and the error-vs-NFE benchmark (`diffuse bench`'s rows).
 */
import {
  benchmark, builtinNames, builtinDescription, builtinProblem, createProcess, finiteDataSet, findSampler, GaussianMixture, GmmOracle, gridTypes,
  pfOdeEndpoint, processes, sample, sampleErrors, samplers, type GridSpec, type ProcessConfig,
} from '../../src/index.js';
import { oracleFitness, runSearchMethod, searchedRun } from '../../src/search/index.js';
import { guidedOracle, parseSpec, runPosteriorSpec } from '../../src/guidance/specs.js';
import type { SearchMethod } from '../../src/io/formats.js';
import type { BenchPoint, Catalog, ExactPath, LabResult, LabState, Reply, Request, RunResult } from './protocol.js';

const scope = self as unknown as { postMessage(m: Reply | { kind: 'catalog'; catalog: Catalog }): void; onmessage: ((e: MessageEvent<Request>) => void) | null };

/**
 * What the exact model predicts: velocity on flow (so the flow samplers can start at pure noise,
 * t = 1), ε elsewhere (`diffuse sample`'s default; pass --prediction velocity for the CLI's flow numbers).
 */
const prediction = (state: LabState) => (state.process === 'flow' ? 'velocity' as const : 'epsilon' as const);

function setting(state: LabState) {
  const gmm = new GaussianMixture(state.problem === 'points' ? finiteDataSet(state.points) : builtinProblem(state.problem));
  if (gmm.d !== 2) throw new Error(`the Lab draws 2-D problems; ${state.problem} has d = ${gmm.d}`);
  const process = createProcess({ name: state.process } as ProcessConfig);
  return { gmm, process, model: new GmmOracle(gmm, process, prediction(state)) };
}

const gridOf = (state: LabState): GridSpec | undefined => (state.grid === 'default' ? undefined : ({ type: state.grid, steps: state.steps } as GridSpec));

/** The searches the Lab offers, as `diffuse search --method` names them. */
const SEARCHES: { name: SearchMethod; description: string }[] = [
  { name: 'autodiffusion', description: 'AutoDiffusion: evolutionary search of the sampler\'s time steps' },
  { name: 's3', description: 'S³: search of a per-step solver schedule (prediction, order and corrector of each step)' },
  { name: 'lsd', description: 'LSD: distilled solver coefficients on a logSNR grid' },
  { name: 'lsd+', description: 'LSD+: distilled coefficients and time steps' },
];

/**
 * The run a search fixes, fitted on the exact model as `diffuse search --model … --process … --nfe steps`
 * does with its defaults (64 samples of seed 1, search seed 0); the Lab then samples on its own noise.
 */
async function searched(id: number, state: LabState, name: string) {
  const { gmm, process, model } = setting(state);
  const method = state.search as SearchMethod;
  const started = performance.now();
  const r = await runSearchMethod(method, {
    process, model, fitness: (sampler, options) => oracleFitness({ gmm, process, sampler, options, prediction: prediction(state), n: 64, seed: 1 }),
  }, {
    nfe: state.steps, sampler: name,
    onProgress: (p) => scope.postMessage({ id, kind: 'progress', done: p.generation, total: p.generations, label: `${method}: ${p.evaluations} runs, best ${p.best.toExponential(3)}` }),
  });
  const info = { method, initialFitness: r.initialFitness, fitness: r.fitness, evaluations: r.evaluations, seconds: (performance.now() - started) / 1000 };
  return { run: searchedRun(r), info };
}

/**
 * A posterior sampler on the Lab's problem as the prior, as `diffuse posterior --model … --process …
 * --measure … --noise-std … --method … --steps … --n … --seed …` runs it (its own sampler defaults).
 */
async function posteriorRun(state: LabState): Promise<{ run: RunResult; means: number[][]; stds: number[] }> {
  const { gmm, process } = setting(state);
  const started = performance.now();
  const r = await runPosteriorSpec({ prior: gmm, measure: state.measure, noiseStd: state.noise, method: state.posterior, process, steps: state.steps, n: state.n, seed: state.seed });
  const post = r.posterior;
  const weights = Array.from(post.logWeights, Math.exp);
  const kept = weights.map((w, k) => (w > 1e-3 ? k : -1)).filter((k) => k >= 0);
  return {
    run: {
      sampler: `${state.posterior}${r.sampler ? ` (${r.sampler})` : ''}`, stochastic: true, grid: [], nfe: r.nfe, seconds: (performance.now() - started) / 1000,
      frames: [{ t: 0, x: Array.from(r.x) }],
      posterior: { sw2: r.sw2, mmd2: r.mmd2, meanErr: r.meanErr, covErr: r.covErr, exactSw2: r.exactSw2, reward: r.reward, y: Array.from(r.y), m: r.m },
      note: `the posterior given y = (${Array.from(r.y, (v) => v.toFixed(3)).join(', ')}) from ${state.measure} (s = ${state.noise}); grey discs: its components`,
    },
    means: kept.map((k) => [post.means[2 * k], post.means[2 * k + 1]]),
    stds: kept.map((k) => Math.sqrt(Math.max(post.covariances[4 * k], post.covariances[4 * k + 3]))),
  };
}

/** "key=value,key=value" → the options record `diffuse sample --opt key=value …` gives (values as strings, parsed by the sampler's defaults). */
const parseOpts = (text: string): Record<string, string> => parseSpec(`options:${text}`, 'options', 'order=3,variant=bh1').options;

async function runOne(id: number, state: LabState, name: string, search = false): Promise<RunResult> {
  const { gmm, process, model: exact } = setting(state);
  const guided = search && state.guide !== '';
  const model = guided ? await guidedOracle(gmm, process, prediction(state), state.guide) : exact;
  const found = search && state.search ? await searched(id, state, name) : undefined;
  const entry = findSampler(found ? found.run.sampler : name);
  const frames: { t: number; x: number[] }[] = [];
  const started = performance.now();
  const options = search && !found && state.opts ? parseOpts(state.opts) : undefined;
  const how = found ? { sampler: found.run.sampler, options: found.run.options, grid: found.run.grid } : { sampler: name, ...(options ? { options } : {}), ...(gridOf(state) ? { grid: gridOf(state) } : {}) };
  const r = await sample({
    model, process, ...how, steps: state.steps, n: state.n, seed: state.seed,
    onStep: (info) => {
      if (!info.x || info.t === undefined) return;
      const last = frames[frames.length - 1];
      if (last && last.t === info.t) frames.pop();
      frames.push({ t: info.t, x: Array.from(info.x) });
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const grid = Array.from(r.grid);
  // samplers that report no intermediate batch still have their start and end
  if (frames.length === 0 || frames[0].t !== grid[0]) frames.unshift({ t: grid[0], x: Array.from(r.xT) });
  if (frames[frames.length - 1].t !== grid[grid.length - 1]) frames.push({ t: grid[grid.length - 1], x: Array.from(r.x.data) });
  const label = (found ? `${found.info.method}${found.info.method === 'autodiffusion' ? ` (${entry.name})` : ''}` : entry.name) + (options ? ` (${state.opts})` : '') + (guided ? ` · ${state.guide}` : '');
  const base = { sampler: label, stochastic: entry.stochastic, grid, nfe: r.nfe, seconds, frames, ...(found ? { search: found.info } : {}) };
  if (guided) return { ...base, note: 'guided: the exact PF-ODE endpoint (and the grey path) is the unguided model\'s, so there is no error to show' };
  if (entry.stochastic) return { ...base, note: 'a stochastic sampler: its endpoint differs from the PF-ODE\'s even without discretisation error' };
  if (!(process.alpha(grid[0]) > 0)) return { ...base, note: 'the grid starts at pure noise (α = 0), where the exact PF-ODE solve cannot start' };
  const truth = pfOdeEndpoint(gmm, process, r.xT, grid[0], grid[grid.length - 1]);
  const e = sampleErrors(r.x.data, truth, gmm);
  return { ...base, error: { rmsErr: e.rmsErr, medianSampleRmsErr: e.medianSampleRmsErr, maxAbsErr: e.maxAbsErr, modeFlips: e.modeFlips } };
}

/** The exact PF-ODE path of the first run's x_T through its grid times, segment by segment. */
function exactPath(state: LabState, run: RunResult): ExactPath | undefined {
  const { gmm, process } = setting(state);
  const times = run.grid;
  if (!(process.alpha(times[0]) > 0) || run.frames.length === 0) return undefined;
  let x: Float64Array = Float64Array.from(run.frames[0].x);
  const frames = [Array.from(x)];
  for (let k = 1; k < times.length; k++) {
    if (times[k] === times[k - 1]) {
      frames.push(Array.from(x));
      continue;
    }
    x = pfOdeEndpoint(gmm, process, x, times[k - 1], times[k], { rtol: 1e-8, atol: 1e-10 });
    frames.push(Array.from(x));
  }
  return { times, frames };
}

async function run(id: number, state: LabState): Promise<LabResult> {
  const { gmm } = setting(state);
  if (state.posterior && (state.guide || state.search)) throw new Error('a posterior sampler replaces the first run: clear Guide and Search to use it');
  if (state.posterior) {
    const p = await posteriorRun(state);
    const runs = [p.run];
    if (state.compare) runs.push(await runOne(id, state, state.compare));
    return { means: p.means, stds: p.stds, runs };
  }
  const runs = [await runOne(id, state, state.sampler, true)];
  if (state.compare) runs.push(await runOne(id, state, state.compare));
  const means: number[][] = [];
  const stds: number[] = [];
  for (let k = 0; k < gmm.K; k++) {
    means.push([gmm.means[2 * k], gmm.means[2 * k + 1]]);
    stds.push(Math.sqrt(Math.max(gmm.variances[2 * k], gmm.variances[2 * k + 1])));
  }
  const exact = exactPath(state, runs[0]);
  return { means, stds, runs, ...(exact ? { exact } : {}) };
}

async function bench(id: number, state: LabState): Promise<BenchPoint[]> {
  const { gmm, process } = setting(state);
  const grid = gridOf(state);
  const rows = await benchmark({
    gmm, process,
    samplers: state.bench.map((name) => ({ name, ...(grid ? { grid: { type: grid.type } as never } : {}) })),
    nfes: state.nfes, n: state.n, seed: state.seed, prediction: prediction(state),
    onProgress: (p) => scope.postMessage({ id, kind: 'progress', done: p.done, total: p.total, label: `${p.label} at NFE ${p.budget}` }),
  });
  return rows.map((r) => ({ label: r.label, budget: r.budget, steps: r.steps, nfe: r.nfe, medianErr: r.medianErr, rmsErr: r.rmsErr, modeFlips: r.modeFlips }));
}

const catalog: Catalog = {
  problems: builtinNames.filter((n) => builtinProblem(n).means[0].length === 2).map((name) => ({ name, description: builtinDescription(name) })),
  processes: processes.map((p) => ({ name: p.name, description: p.description })),
  samplers: samplers.map((s) => ({ name: s.name, description: s.description, stochastic: s.stochastic })),
  grids: gridTypes().filter((g) => ['time-uniform', 'time-quadratic', 'logsnr', 'karras', 'exponential', 'flow-shift'].includes(g.type)).map((g) => ({ type: g.type, description: g.description })),
  searches: SEARCHES,
};
scope.postMessage({ kind: 'catalog', catalog });

scope.onmessage = async (e: MessageEvent<Request>) => {
  const m = e.data;
  try {
    if (m.kind === 'run') scope.postMessage({ id: m.id, kind: 'run', result: await run(m.id, m.state) });
    else scope.postMessage({ id: m.id, kind: 'bench', rows: await bench(m.id, m.state) });
  } catch (err) {
    scope.postMessage({ id: m.id, kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};
