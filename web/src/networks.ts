/**
 * The Networks tab: the shipped MNIST / Fashion-MNIST networks in the browser (net-worker.ts) with
 * any sampler, guidance and step count, or the shipped Gaussian-teleportation runs; x̂0 after every
 * model call, the backend and the timings, and the shipped classifier's accuracy on demand. Settings
 * live in the URL.
 */
import { errorBox, workerClient } from './client.js';
import type { NetReply, NetRequest, NetState } from './protocol.js';

const DEFAULTS: NetState = { model: 'mnist', classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], perClass: 1, guidance: 2, sampler: 'dpmpp-2m', steps: 5, seed: 0, backend: 'auto', teleport: false };
const SAMPLERS = ['dpmpp-2m', 'unipc', 'ddim', 'deis', 'dpmpp-3m', 'heun', 'euler', 'euler-ancestral', 'lms', 'ipndm'];
const CLOTHES = ['top', 'trousers', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot'];

/** The tab's settings from the URL's query; what is missing or malformed takes its default. */
export function readNetState(search: string): NetState {
  const q = new URLSearchParams(search);
  const num = (k: string, d: number, lo: number, hi: number, integer = true) => {
    const v = Number(q.get(k));
    return q.has(k) && Number.isFinite(v) && (!integer || Number.isInteger(v)) && v >= lo && v <= hi ? v : d;
  };
  const classes = (q.get('classes') ?? '').split(',').filter((c) => /^\d$/.test(c)).map(Number);
  return {
    model: q.get('model') === 'fashion' ? 'fashion' : 'mnist',
    classes: classes.length ? [...new Set(classes)] : DEFAULTS.classes,
    perClass: num('per', DEFAULTS.perClass, 1, 16),
    guidance: num('cfg', DEFAULTS.guidance, 0, 20, false),
    sampler: q.get('nsampler') ?? DEFAULTS.sampler,
    steps: num('nsteps', DEFAULTS.steps, 1, 200),
    seed: num('nseed', DEFAULTS.seed, 0, 2 ** 31 - 1),
    backend: q.get('backend') === 'webgpu' ? 'webgpu' : q.get('backend') === 'wasm' ? 'wasm' : 'auto',
    teleport: q.get('start') === 'teleport',
  };
}

function writeNetState(s: NetState): void {
  const q = new URLSearchParams({
    tab: 'networks', model: s.model, classes: s.classes.join(','), per: String(s.perClass), cfg: String(s.guidance),
    nsampler: s.sampler, nsteps: String(s.steps), nseed: String(s.seed), ...(s.backend === 'auto' ? {} : { backend: s.backend }),
    ...(s.teleport ? { start: 'teleport' } : {}),
  });
  history.replaceState(null, '', `?${q}`);
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Images (n × 28 × 28 in [−1, 1]) as a grid on a canvas, `columns` per row, each scaled ×3. */
function drawDigits(canvas: HTMLCanvasElement, images: ArrayLike<number>, n: number, columns: number): void {
  const size = 28;
  const scale = 3;
  const rows = Math.ceil(n / columns);
  canvas.width = columns * size * scale;
  canvas.height = rows * size * scale;
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  const tile = g.createImageData(size, size);
  const small = document.createElement('canvas');
  small.width = small.height = size;
  const sg = small.getContext('2d') as CanvasRenderingContext2D;
  g.imageSmoothingEnabled = false;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < size * size; k++) {
      const v = Math.round(255 * Math.min(1, Math.max(0, (images[i * size * size + k] + 1) / 2)));
      tile.data.set([v, v, v, 255], 4 * k);
    }
    sg.putImageData(tile, 0, 0);
    g.drawImage(small, (i % columns) * size * scale, Math.floor(i / columns) * size * scale, size * scale, size * scale);
  }
}

/** Set up the tab's controls and worker; returns what runs it. */
export function networksTab(): { show: () => void } {
  let state = readNetState(location.search);
  let started = false;
  const ask = workerClient<NetRequest, NetReply>(() => new Worker(new URL('./net-worker.ts', import.meta.url), { type: 'module' }));
  const base = new URL('./', location.href).href;
  const showError = errorBox('net-error');

  const fill = () => {
    ($('net-model') as HTMLSelectElement).value = state.model;
    const sampler = $('net-sampler') as HTMLSelectElement;
    sampler.replaceChildren(...[...new Set([state.sampler, ...SAMPLERS])].map((s) => Object.assign(document.createElement('option'), { value: s, textContent: s })));
    sampler.value = state.sampler;
    ($('net-steps') as HTMLInputElement).value = String(state.steps);
    ($('net-cfg') as HTMLInputElement).value = String(state.guidance);
    ($('net-per') as HTMLInputElement).value = String(state.perClass);
    ($('net-seed') as HTMLInputElement).value = String(state.seed);
    ($('net-backend') as HTMLSelectElement).value = state.backend;
    ($('net-teleport') as HTMLInputElement).checked = state.teleport;
    sampler.disabled = state.teleport;
    const names = state.model === 'fashion' ? CLOTHES : ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
    $('net-classes').replaceChildren(...names.map((name, c) => {
      const label = document.createElement('label');
      label.innerHTML = `<input type="checkbox" value="${c}"${state.classes.includes(c) ? ' checked' : ''}> ${name}`;
      return label;
    }));
  };

  const read = (): NetState => {
    const v = (id: string) => ($(id) as HTMLInputElement | HTMLSelectElement).value;
    const classes = [...document.querySelectorAll<HTMLInputElement>('#net-classes input:checked')].map((c) => Number(c.value));
    return readNetState(`?model=${v('net-model')}&classes=${classes.join(',')}&per=${v('net-per')}&cfg=${v('net-cfg')}&nsampler=${encodeURIComponent(v('net-sampler'))}&nsteps=${v('net-steps')}&nseed=${v('net-seed')}&backend=${v('net-backend')}${($('net-teleport') as HTMLInputElement).checked ? '&start=teleport' : ''}`);
  };

  const run = () => {
    const previous = state.model;
    state = read();
    if (state.model !== previous) fill();
    ($('net-sampler') as HTMLSelectElement).disabled = state.teleport;
    writeNetState(state);
    showError('');
    document.body.dataset.net = '';
    $('net-score').textContent = '';
    const n = state.classes.length * state.perClass;
    const bar = $('net-progress') as HTMLProgressElement;
    bar.hidden = false;
    $('net-status').textContent = 'loading…';
    const t0 = performance.now();
    ask({ kind: 'generate', base, ...state }, (r) => {
      if (r.kind === 'load') {
        bar.max = r.total || 1;
        bar.value = r.loaded;
        $('net-status').textContent = `loading ${r.file.split('/').pop()}: ${(r.loaded / 1e6).toFixed(1)}${r.total ? ` / ${(r.total / 1e6).toFixed(1)}` : ''} MB`;
      } else if (r.kind === 'x0') {
        bar.hidden = true;
        $('net-status').textContent = `model call ${r.call}: x̂0`;
        drawDigits($('net-canvas') as HTMLCanvasElement, r.x0, n, state.classes.length);
      } else if (r.kind === 'images') {
        drawDigits($('net-canvas') as HTMLCanvasElement, r.images, n, state.classes.length);
        const total = performance.now() - t0;
        $('net-status').textContent = `${r.backend}${r.backend === 'wasm' ? ` (${r.threads} thread${r.threads === 1 ? '' : 's'})` : ''} · ${r.run}, ${r.steps} steps, NFE ${r.nfe} · ` +
          `load ${(r.loadMs / 1000).toFixed(2)} s · sampling ${(r.sampleMs / 1000).toFixed(2)} s (${r.msPerCall.toFixed(0)} ms per model call) · first image ${(performance.now() / 1000).toFixed(1)} s after the page opened`;
        Object.assign(document.body.dataset, { net: 'images', backend: r.backend, nfe: String(r.nfe), loadMs: String(r.loadMs), sampleMs: String(r.sampleMs), totalMs: String(total), firstImageMs: String(performance.now()) });
        (window as unknown as { diffuseNetworks: unknown }).diffuseNetworks = { images: r.images, labels: r.labels };
      } else if (r.kind === 'error') {
        bar.hidden = true;
        showError(r.message);
        $('net-status').textContent = '';
        document.body.dataset.net = 'error';
      }
    });
  };

  const score = () => {
    $('net-score').textContent = 'scoring…';
    ask({ kind: 'score', base }, (r) => {
      if (r.kind === 'score') {
        $('net-score').textContent = `the shipped classifier sees the requested class in ${(100 * r.accuracy).toFixed(1)} % of ${r.predicted.length} images; ` +
          `FD to its fit of 10 000 real images ${r.fd.toFixed(1)} (${r.predicted.length} images: biased high below a few hundred; \`diffuse eval\` uses 500)`;
        document.body.dataset.fd = String(r.fd);
        document.body.dataset.accuracy = String(r.accuracy);
      } else if (r.kind === 'error') showError(r.message);
    });
  };

  return {
    show: () => {
      if (started) return;
      started = true;
      fill();
      for (const id of ['net-model', 'net-sampler', 'net-steps', 'net-cfg', 'net-per', 'net-seed', 'net-backend', 'net-teleport']) $(id).addEventListener('change', run);
      $('net-classes').addEventListener('change', run);
      $('net-score-button').addEventListener('click', score);
      run();
    },
  };
}
