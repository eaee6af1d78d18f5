/**
 * The playground page: the Lab, where a sampler runs on an exact 2-D Gaussian mixture and the page
 * shows its trajectories beside the exact probability-flow path, its error against the exact
 * endpoint, a second sampler on the same noise, and error-vs-NFE curves. Every setting lives in
 * the URL; the numerics run in a Web Worker (worker.ts).
 */
import type { BenchPoint, Catalog, LabResult, LabState, Reply, Request } from './protocol.js';
import { drawChart, drawLab, PALETTE, toData } from './draw.js';
import { parseNpy } from '../../src/io/npy.js';
import { networksTab } from './networks.js';
import { verdictFor } from './verdicts.js';
import { textTab } from './text.js';
import { t2iTab } from './t2i.js';

const DEFAULTS: LabState = {
  problem: 'ring8', points: [], process: 'vp', sampler: 'dpmpp-2m', search: '', opts: '', guide: '', posterior: '', measure: 'inpaint:dims=0', noise: 0.05, compare: 'ddim', steps: 8, grid: 'default', n: 64, seed: 0,
  bench: ['ddim', 'dpmpp-2m', 'unipc', 'heun'], nfes: [3, 5, 8, 10, 15, 20, 30, 50],
};

/** The Lab's state from the URL's query, each field checked; what is missing or malformed takes its default. */
export function readState(search: string): LabState {
  const q = new URLSearchParams(search);
  const int = (k: string, d: number, lo: number, hi: number) => {
    const v = Number(q.get(k));
    return q.has(k) && Number.isInteger(v) && v >= lo && v <= hi ? v : d;
  };
  const list = (k: string, d: string[]) => (q.get(k) ? (q.get(k) as string).split(',').filter(Boolean) : d);
  const nfes = list('nfes', DEFAULTS.nfes.map(String)).map(Number).filter((v) => Number.isInteger(v) && v >= 1 && v <= 1000);
  const points = (q.get('points') ?? '').split(';').filter(Boolean).map((pair) => pair.split(',').map(Number))
    .filter((p) => p.length === 2 && p.every((v) => Number.isFinite(v) && Math.abs(v) <= 10)).slice(0, MAX_LINK_POINTS);
  const problem = q.get('problem') ?? DEFAULTS.problem;
  return {
    problem: problem === 'points' && points.length === 0 ? DEFAULTS.problem : problem,
    points,
    process: q.get('process') ?? DEFAULTS.process,
    sampler: q.get('sampler') ?? DEFAULTS.sampler,
    search: q.get('search') ?? DEFAULTS.search,
    opts: q.get('opts') ?? DEFAULTS.opts,
    guide: q.get('guide') ?? DEFAULTS.guide,
    posterior: q.get('posterior') ?? DEFAULTS.posterior,
    measure: q.get('measure') ?? DEFAULTS.measure,
    noise: q.has('noise') && Number(q.get('noise')) > 0 ? Number(q.get('noise')) : DEFAULTS.noise,
    compare: q.has('compare') ? (q.get('compare') as string) : DEFAULTS.compare,
    steps: int('steps', DEFAULTS.steps, 1, 1000),
    grid: q.get('grid') ?? DEFAULTS.grid,
    n: int('n', DEFAULTS.n, 1, 4096),
    seed: int('seed', DEFAULTS.seed, 0, 2 ** 31 - 1),
    bench: list('bench', DEFAULTS.bench),
    nfes: nfes.length ? nfes : DEFAULTS.nfes,
  };
}

/** Drawn or dropped points kept in the link (more stay on the page only). */
const MAX_LINK_POINTS = 256;

function writeState(s: LabState): void {
  const q = new URLSearchParams({
    tab: 'lab', problem: s.problem,
    ...(s.problem === 'points' && s.points.length <= MAX_LINK_POINTS ? { points: s.points.map((p) => p.join(',')).join(';') } : {}), process: s.process, sampler: s.sampler, ...(s.opts ? { opts: s.opts } : {}), ...(s.search ? { search: s.search } : {}),
    ...(s.guide ? { guide: s.guide } : {}), ...(s.posterior ? { posterior: s.posterior, measure: s.measure, noise: String(s.noise) } : {}), compare: s.compare, steps: String(s.steps), grid: s.grid,
    n: String(s.n), seed: String(s.seed), bench: s.bench.join(','), nfes: s.nfes.join(','),
    ...(benchRows.length ? { chart: '1' } : {}),
  });
  history.replaceState(null, '', `?${q}`);
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map<number, { ok: (r: Reply) => void; progress?: (r: Extract<Reply, { kind: 'progress' }>) => void }>();

function ask(m: Omit<Request, 'id'>, progress?: (r: Extract<Reply, { kind: 'progress' }>) => void): Promise<Reply> {
  const id = nextId++;
  return new Promise((ok) => {
    pending.set(id, { ok, ...(progress ? { progress } : {}) });
    worker.postMessage({ ...m, id } as Request);
  });
}

const catalogReady = new Promise<Catalog>((ok) => {
  worker.onmessage = (e: MessageEvent<Reply | { kind: 'catalog'; catalog: Catalog }>) => {
    const m = e.data;
    if (m.kind === 'catalog') return ok(m.catalog);
    const p = pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') return p.progress?.(m);
    pending.delete(m.id);
    p.ok(m);
  };
});
worker.onerror = (e) => showError(`the worker failed: ${e.message}`);

function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = message === '';
}

function fillSelect(el: HTMLSelectElement, options: { value: string; label: string; title?: string }[], value: string): void {
  el.replaceChildren(...options.map((o) => {
    const opt = document.createElement('option');
    opt.value = o.value;
    opt.textContent = o.label;
    if (o.title) opt.title = o.title;
    return opt;
  }));
  el.value = options.some((o) => o.value === value) ? value : options[0]?.value ?? '';
}

const fmt = (v: number) => (Number.isFinite(v) ? (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(4) : v.toExponential(3)) : String(v));

let state = readState(location.search);
let problemOptions: { value: string; label: string; title?: string }[] = [];
let drawing = false;

/** The problem menu: the built-ins, and the user's points when there are some. */
function fillProblems(): void {
  const mine = state.points.length ? [{ value: 'points', label: `your points (${state.points.length})`, title: 'a finite data set of the points you drew or dropped' }] : [];
  fillSelect($('problem'), [...mine, ...problemOptions], state.problem);
}

/** Add points (data coordinates, rounded to 3 decimals) and run on them. */
function addPoints(points: number[][]): void {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  state = { ...state, problem: 'points', points: [...state.points, ...points.map((p) => [round(p[0]), round(p[1])])] };
  fillProblems();
  if (state.points.length > MAX_LINK_POINTS) $('notes').textContent = `${state.points.length} points: more than ${MAX_LINK_POINTS}, so the link does not hold them.`;
  void runLab();
}
let benchRows: BenchPoint[] = [];
let result: LabResult | undefined;
let animation = { start: 0, playing: false };
const ANIMATION_MS = 2500;

function formState(): LabState {
  const v = (id: string) => ($(id) as HTMLInputElement | HTMLSelectElement).value;
  const checked = [...document.querySelectorAll<HTMLInputElement>('#bench-samplers input:checked')].map((c) => c.value);
  return {
    ...state,
    problem: v('problem'), process: v('process'), sampler: v('sampler'), search: v('search'), compare: v('compare'), grid: v('grid'),
    opts: v('opts').trim(), guide: v('guide').trim(), posterior: v('posterior').trim(), measure: v('measure').trim() || DEFAULTS.measure,
    noise: Number(v('noise')) > 0 ? Number(v('noise')) : state.noise,
    steps: Math.max(1, Math.min(1000, Math.round(Number(v('steps'))) || state.steps)),
    n: Math.max(1, Math.min(4096, Math.round(Number(v('n'))) || state.n)),
    seed: Math.max(0, Math.round(Number(v('seed'))) || 0),
    bench: checked.length ? checked : state.bench,
  };
}

/** The measured verdicts (docs/results.md) of the chosen search and samplers that have one. */
function renderVerdicts(): void {
  const kind = (spec: string) => spec.split(':')[0].trim();
  const names = state.posterior
    ? [`posterior:${kind(state.posterior)}`, state.compare]
    : [state.search ? `search:${state.search}` : '', state.guide ? `guide:${kind(state.guide)}` : '', state.sampler, state.compare];
  const items = [...new Set(names.filter(Boolean))].flatMap((name) => {
    const v = verdictFor(name);
    if (!v) return [];
    const p = document.createElement('p');
    p.className = 'status';
    p.dataset.sampler = name;
    p.innerHTML = `<b>${name.replace(/^(search|guide|posterior):/, '')}</b> (${v.source}, ${v.page}): `;
    p.append(v.text);
    return [p];
  });
  $('verdicts').replaceChildren(...items);
}

function renderMetrics(r: LabResult): void {
  const rows = r.runs.map((run, i) => {
    const tr = document.createElement('tr');
    const cells = [
      `<span class="swatch" style="background:${PALETTE[i]}"></span>${run.sampler}`, String(run.posterior ? state.steps : run.grid.length - 1), String(run.nfe),
      run.error ? fmt(run.error.rmsErr) : '—', run.error ? fmt(run.error.medianSampleRmsErr) : '—', run.error ? fmt(run.error.maxAbsErr) : '—',
      run.error ? String(run.error.modeFlips) : '—', `${(run.seconds * 1000).toFixed(1)}`,
    ];
    tr.innerHTML = cells.map((c) => `<td>${c}</td>`).join('');
    tr.dataset.sampler = run.sampler;
    if (run.error) tr.dataset.rmsErr = String(run.error.rmsErr);
    if (run.posterior) Object.assign(tr.dataset, { sw2: String(run.posterior.sw2), mmd2: String(run.posterior.mmd2), meanErr: String(run.posterior.meanErr), reward: String(run.posterior.reward) });
    tr.dataset.nfe = String(run.nfe);
    if (run.note) tr.title = run.note;
    return tr;
  });
  $('metrics-body').replaceChildren(...rows);
  const searchNotes = r.runs.flatMap((run) => (run.search
    ? [`${run.sampler}: searched for NFE ≤ ${state.steps} on its own 64 samples (seed 1) in ${run.search.seconds.toFixed(1)} s, ${run.search.evaluations} runs; error there ${fmt(run.search.initialFitness)} → ${fmt(run.search.fitness)}; the table's numbers are on the Lab's noise.`]
    : []));
  const posteriorNotes = r.runs.flatMap((run) => (run.posterior
    ? [`${run.sampler} vs ${state.n} exact posterior samples: SW2 ${fmt(run.posterior.sw2)} (two exact sets: ${fmt(run.posterior.exactSw2)}), MMD² ${fmt(run.posterior.mmd2)}, mean error ${fmt(run.posterior.meanErr)}, covariance error ${fmt(run.posterior.covErr)}, mean log-likelihood of y ${fmt(run.posterior.reward)}.`]
    : []));
  $('notes').textContent = [...posteriorNotes, ...searchNotes, ...r.runs.filter((run) => run.note).map((run) => `${run.sampler}: ${run.note}.`)].join(' ');
}

function frame(now: number): void {
  if (!result) return;
  // a frame's timestamp may precede the performance.now() that started the animation
  const p = animation.playing ? Math.min(1, Math.max(0, (now - animation.start) / ANIMATION_MS)) : Number(($('scrub') as HTMLInputElement).value) / 1000;
  if (animation.playing) ($('scrub') as HTMLInputElement).value = String(Math.round(p * 1000));
  drawLab($('lab-canvas') as HTMLCanvasElement, result, p);
  if (animation.playing && p < 1) requestAnimationFrame(frame);
  else animation.playing = false;
}

function play(): void {
  animation = { start: performance.now(), playing: true };
  requestAnimationFrame(frame);
}

/** A dropped .npy of n × 2 points (float or int) becomes the problem. */
function dropNpy(bytes: Uint8Array, name: string): void {
  try {
    const t = parseNpy(bytes);
    if (t.shape.length !== 2 || t.shape[1] !== 2) throw new Error(`${name} has shape [${t.shape.join(', ')}]; the Lab takes n × 2 points`);
    const v = Array.from(t.data as ArrayLike<number>, Number);
    if (!v.every(Number.isFinite)) throw new Error(`${name} holds non-finite values`);
    if (t.shape[0] > 4096) throw new Error(`${name} has ${t.shape[0]} points; the Lab takes up to 4096`);
    state = { ...state, points: [] };
    addPoints(Array.from({ length: t.shape[0] }, (_, i) => [v[2 * i], v[2 * i + 1]]));
  } catch (e) {
    showError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function runLab(): Promise<void> {
  state = formState();
  writeState(state);
  showError('');
  $('status').textContent = state.search ? `searching (${state.search})…` : 'running…';
  document.body.dataset.ready = '';
  const reply = await ask({ kind: 'run', state }, (p) => ($('status').textContent = `searching: generation ${p.done}/${p.total}, ${p.label}`));
  if (reply.kind === 'error') {
    showError(reply.message);
    $('status').textContent = '';
    document.body.dataset.ready = 'error';
    return;
  }
  if (reply.kind !== 'run') return;
  result = reply.result;
  // for tests and the console: the last result, final points included
  (window as unknown as { diffuseLab: LabResult }).diffuseLab = result;
  renderMetrics(result);
  $('status').textContent = `${result.runs.map((r) => `${r.sampler}: NFE ${r.nfe}`).join(' · ')}${result.exact ? ' · grey: exact PF-ODE path' : ''}`;
  renderVerdicts();
  document.body.dataset.ready = 'run';
  play();
}

async function runBench(): Promise<void> {
  state = formState();
  writeState(state);
  showError('');
  const bar = $('bench-progress') as HTMLProgressElement;
  bar.hidden = false;
  bar.value = 0;
  $('bench').dataset.ready = '';
  const reply = await ask({ kind: 'bench', state }, (p) => {
    bar.max = p.total;
    bar.value = p.done;
    $('bench-status').textContent = `${p.done}/${p.total}: ${p.label}`;
  });
  bar.hidden = true;
  if (reply.kind === 'error') {
    showError(reply.message);
    $('bench-status').textContent = '';
    return;
  }
  if (reply.kind !== 'bench') return;
  benchRows = reply.rows;
  $('bench-status').textContent = `${benchRows.length} runs, ${state.n} samples each, median per-sample RMS error vs the exact endpoint`;
  drawChart($('chart') as HTMLCanvasElement, benchRows);
  $('bench-body').replaceChildren(...benchRows.map((r) => {
    const tr = document.createElement('tr');
    tr.innerHTML = [r.label, String(r.budget), String(r.steps), String(r.nfe), fmt(r.medianErr), fmt(r.rmsErr), String(r.modeFlips)].map((c) => `<td>${c}</td>`).join('');
    Object.assign(tr.dataset, { label: r.label, nfe: String(r.nfe), medianErr: String(r.medianErr) });
    return tr;
  }));
  $('bench').dataset.ready = 'bench';
}

/** Names in the link the page does not know, each replaced by its default, as one message. */
function unknownNames(catalog: Catalog): string {
  const problems: string[] = [];
  const check = (field: 'problem' | 'process' | 'sampler' | 'search' | 'compare' | 'grid', known: string[]) => {
    const v = state[field];
    if (v === '' && (field === 'compare' || field === 'search')) return;
    if (!known.includes(v)) {
      problems.push(`unknown ${field} "${v}" (using ${DEFAULTS[field]})`);
      state = { ...state, [field]: DEFAULTS[field] };
    }
  };
  check('problem', [...catalog.problems.map((p) => p.name), ...(state.points.length ? ['points'] : [])]);
  check('process', catalog.processes.map((p) => p.name));
  check('sampler', catalog.samplers.map((s) => s.name));
  check('compare', catalog.samplers.map((s) => s.name));
  check('search', catalog.searches.map((s) => s.name));
  check('grid', ['default', ...catalog.grids.map((g) => g.type)]);
  const unknownBench = state.bench.filter((b) => !catalog.samplers.some((s) => s.name === b));
  if (unknownBench.length) problems.push(`unknown samplers in bench: ${unknownBench.join(', ')} (left out)`);
  state = { ...state, bench: state.bench.filter((b) => !unknownBench.includes(b)) };
  return problems.length ? `This link names settings the playground does not know: ${problems.join('; ')}.` : '';
}

async function initLab(): Promise<void> {
  const catalog = await catalogReady;
  const linkProblems = unknownNames(catalog);
  const samplerOptions = catalog.samplers.map((s) => ({ value: s.name, label: s.name, title: s.description }));
  problemOptions = catalog.problems.map((p) => ({ value: p.name, label: p.name, title: p.description }));
  fillProblems();
  fillSelect($('process'), catalog.processes.map((p) => ({ value: p.name, label: p.name, title: p.description })), state.process);
  fillSelect($('sampler'), samplerOptions, state.sampler);
  fillSelect($('compare'), [{ value: '', label: '(none)' }, ...samplerOptions], state.compare);
  fillSelect($('search'), [{ value: '', label: '(none)' }, ...catalog.searches.map((s) => ({ value: s.name, label: s.name, title: s.description }))], state.search);
  fillSelect($('grid'), [{ value: 'default', label: 'the sampler\'s default' }, ...catalog.grids.map((g) => ({ value: g.type, label: g.type, title: g.description }))], state.grid);
  ($('steps') as HTMLInputElement).value = String(state.steps);
  ($('n') as HTMLInputElement).value = String(state.n);
  ($('seed') as HTMLInputElement).value = String(state.seed);
  ($('opts') as HTMLInputElement).value = state.opts;
  ($('guide') as HTMLInputElement).value = state.guide;
  ($('posterior') as HTMLInputElement).value = state.posterior;
  ($('measure') as HTMLInputElement).value = state.measure;
  ($('noise') as HTMLInputElement).value = String(state.noise);
  $('bench-samplers').replaceChildren(...catalog.samplers.filter((s) => !s.stochastic).map((s) => {
    const label = document.createElement('label');
    label.title = s.description;
    label.innerHTML = `<input type="checkbox" value="${s.name}"${state.bench.includes(s.name) ? ' checked' : ''}> ${s.name}`;
    return label;
  }));
  for (const id of ['problem', 'process', 'sampler', 'opts', 'search', 'compare', 'grid', 'steps', 'n', 'seed', 'guide', 'posterior', 'measure', 'noise']) $(id).addEventListener('change', () => void runLab());
  $('replay').addEventListener('click', play);
  const canvas = $('lab-canvas') as HTMLCanvasElement;
  $('draw').addEventListener('click', () => {
    drawing = !drawing;
    $('draw').textContent = drawing ? 'Stop drawing' : 'Draw points';
    canvas.style.cursor = drawing ? 'crosshair' : '';
  });
  $('clear').addEventListener('click', () => {
    state = { ...state, problem: state.problem === 'points' ? DEFAULTS.problem : state.problem, points: [] };
    fillProblems();
    void runLab();
  });
  canvas.addEventListener('click', (e) => {
    if (!drawing || !result) return;
    const r = canvas.getBoundingClientRect();
    addPoints([toData(canvas, result, e.clientX - r.left, e.clientY - r.top)]);
  });
  canvas.addEventListener('dragover', (e) => e.preventDefault());
  canvas.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) void file.arrayBuffer().then((b) => dropNpy(new Uint8Array(b), file.name));
  });
  $('scrub').addEventListener('input', () => {
    animation.playing = false;
    requestAnimationFrame(frame);
  });
  $('run-bench').addEventListener('click', () => void runBench());
  const chart = new URLSearchParams(location.search).get('chart') === '1';
  await runLab();
  if (linkProblems && !$('error').textContent) showError(linkProblems);
  if (chart) await runBench();
}

const networks = networksTab();
const text = textTab();
const image = t2iTab();
let labStarted = false;
const TABS = ['lab', 'networks', 'text', 'image'] as const;

/** Show one tab (the others hidden) and start it the first time. */
function showTab(name: (typeof TABS)[number]): void {
  for (const t of TABS) {
    $(`${t}-tab`).hidden = t !== name;
    document.querySelector(`nav a[data-tab="${t}"]`)?.setAttribute('aria-current', t === name ? 'page' : 'false');
  }
  if (name === 'networks') networks.show();
  else if (name === 'text') text.show();
  else if (name === 'image') image.show();
  else if (!labStarted) {
    labStarted = true;
    void initLab();
  } else writeState(state);
}

for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-tab]')) {
  a.addEventListener('click', (e) => {
    e.preventDefault();
    const name = a.dataset.tab as (typeof TABS)[number];
    history.replaceState(null, '', `?tab=${name}`);
    showTab(name);
  });
}
const requested = new URLSearchParams(location.search).get('tab');
showTab(requested === 'networks' || requested === 'text' || requested === 'image' ? requested : 'lab');
