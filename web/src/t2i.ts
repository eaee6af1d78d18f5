/**
 * The Text-to-image tab: the built-in tiny text-to-image model served with the page (models/t2i, when
 * the site was built with it), or a diffusers-format ONNX folder opened from disk, with the folder's
 * scheduler or any Diffuse sampler (t2i-worker.ts). Settings but the opened folder live in the URL.
 */
import { errorBox } from './client.js';
import type { T2iReply, T2iSource, T2iState } from './protocol.js';

const DEFAULTS: T2iState = { prompt: 'an ankle boot', negative: '', steps: 20, guidance: 4, seed: 0, n: 4, sampler: '' };
const SAMPLERS = ['', 'dpmpp-2m', 'unipc', 'ddim', 'euler', 'euler-ancestral', 'heun', 'deis', 'lcm', 'flow-euler'];

/** The tab's settings from the URL's query; what is missing or malformed takes its default. */
export function readT2iState(search: string): T2iState {
  const q = new URLSearchParams(search);
  const num = (k: string, d: number, lo: number, hi: number, integer = true) => {
    const v = Number(q.get(k));
    return q.has(k) && Number.isFinite(v) && (!integer || Number.isInteger(v)) && v >= lo && v <= hi ? v : d;
  };
  return {
    prompt: q.get('prompt') ?? DEFAULTS.prompt, negative: q.get('negative') ?? '', steps: num('isteps', DEFAULTS.steps, 1, 200),
    guidance: num('guidance', DEFAULTS.guidance, 0, 30, false), seed: num('iseed', DEFAULTS.seed, 0, 2 ** 31 - 1), n: num('in', DEFAULTS.n, 1, 16),
    sampler: q.get('isampler') ?? '',
  };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Set up the tab; returns what shows it. */
export function t2iTab(): { show: () => void } {
  let state = readT2iState(location.search);
  let source: T2iSource = { kind: 'url', url: new URL('models/t2i/', location.href).href };
  let worker: Worker | undefined;
  let nextId = 1;
  let started = false;
  const showError = errorBox('t2i-error');
  const read = (): T2iState => {
    const v = (id: string) => ($(id) as HTMLInputElement | HTMLSelectElement).value;
    return readT2iState(`?${new URLSearchParams({ prompt: v('t2i-prompt'), negative: v('t2i-negative'), isteps: v('t2i-steps'), guidance: v('t2i-guidance'), iseed: v('t2i-seed'), in: v('t2i-n'), isampler: v('t2i-sampler') })}`);
  };
  const write = () => history.replaceState(null, '', `?${new URLSearchParams({
    tab: 'image', prompt: state.prompt, negative: state.negative, isteps: String(state.steps), guidance: String(state.guidance), iseed: String(state.seed), in: String(state.n), isampler: state.sampler,
  })}`);

  const run = () => {
    state = read();
    write();
    showError('');
    document.body.dataset.t2i = '';
    const bar = $('t2i-progress') as HTMLProgressElement;
    bar.hidden = false;
    worker ??= new Worker(new URL('./t2i-worker.ts', import.meta.url), { type: 'module' });
    const id = nextId++;
    worker.onmessage = (e: MessageEvent<T2iReply>) => {
      const r = e.data;
      if (r.id !== id) return;
      if (r.kind === 'load') {
        bar.max = r.total || 1;
        bar.value = r.loaded;
        $('t2i-status').textContent = `loading ${r.file.split('/').slice(-2).join('/')}: ${(r.loaded / 1e6).toFixed(2)} MB`;
      } else if (r.kind === 'step') {
        bar.max = r.total;
        bar.value = r.step;
        $('t2i-status').textContent = `step ${r.step} of ${r.total} (NFE ${r.nfe})`;
      } else if (r.kind === 'images') {
        bar.hidden = true;
        const scale = Math.max(1, Math.ceil(128 / Math.max(r.width, r.height)));
        $('t2i-images').replaceChildren(...r.rgba.map((rgba) => {
          const c = document.createElement('canvas');
          c.width = r.width;
          c.height = r.height;
          c.style.width = `${r.width * scale}px`;
          (c.getContext('2d') as CanvasRenderingContext2D).putImageData(new ImageData(new Uint8ClampedArray(rgba), r.width, r.height), 0, 0);
          return c;
        }));
        $('t2i-status').textContent = `${r.backend} · ${r.sampler}, ${r.steps} steps, NFE ${r.nfe} · load ${(r.loadMs / 1000).toFixed(2)} s · ` +
          `${(r.sampleMs / 1000).toFixed(2)} s (${(r.sampleMs / Math.max(1, r.steps)).toFixed(0)} ms per step)${r.truncated ? ` · prompt cut at: "${r.truncated}"` : ''}`;
        document.body.dataset.t2i = 'images';
        (window as unknown as { diffuseImages: unknown }).diffuseImages = { width: r.width, height: r.height, rgba: r.rgba.map((x) => Array.from(x)), sampler: r.sampler, nfe: r.nfe };
      } else {
        bar.hidden = true;
        showError(source.kind === 'url' && /HTTP 404/.test(r.message)
          ? `this site was built without the built-in model (models/t2i); open a diffusers ONNX folder instead (${r.message})`
          : r.message);
        $('t2i-status').textContent = '';
        document.body.dataset.t2i = 'error';
      }
    };
    worker.postMessage({ id, kind: 't2i', source, ...state });
  };

  return {
    show: () => {
      if (started) return;
      started = true;
      ($('t2i-prompt') as HTMLInputElement).value = state.prompt;
      ($('t2i-negative') as HTMLInputElement).value = state.negative;
      ($('t2i-steps') as HTMLInputElement).value = String(state.steps);
      ($('t2i-guidance') as HTMLInputElement).value = String(state.guidance);
      ($('t2i-seed') as HTMLInputElement).value = String(state.seed);
      ($('t2i-n') as HTMLInputElement).value = String(state.n);
      const sampler = $('t2i-sampler') as HTMLSelectElement;
      sampler.replaceChildren(...[...new Set([...SAMPLERS, state.sampler])].map((s) => Object.assign(document.createElement('option'), { value: s, textContent: s || 'the folder\'s scheduler' })));
      sampler.value = state.sampler;
      $('t2i-run').addEventListener('click', run);
      $('t2i-folder').addEventListener('change', () => {
        const input = $('t2i-folder') as HTMLInputElement;
        const files = [...(input.files ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
        if (files.length === 0) return;
        const name = files[0].path.split('/')[0];
        source = { kind: 'files', name, files };
        $('t2i-source').textContent = `folder: ${name} (${files.length} files)`;
        run();
      });
      run();
    },
  };
}
