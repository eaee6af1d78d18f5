/**
 * The Text tab: the shipped masked-diffusion text model unmasking its tokens call by call
 * (text-worker.ts), and the discrete samplers compared by NFE and time on the same seed.
 */
import { errorBox, workerClient } from './client.js';
import type { TextReply, TextRequest, TextState } from './protocol.js';

const SAMPLERS = ['ancestral', 'ancestral-nocache', 'first-hitting', 'first-hitting-parallel', 'confidence', 'any-order'];
const DEFAULTS: TextState = { sampler: 'ancestral', steps: 64, n: 4, seed: 0 };

/** The tab's settings from the URL's query; what is missing or malformed takes its default. */
export function readTextState(search: string): TextState {
  const q = new URLSearchParams(search);
  const int = (k: string, d: number, lo: number, hi: number) => {
    const v = Number(q.get(k));
    return q.has(k) && Number.isInteger(v) && v >= lo && v <= hi ? v : d;
  };
  const sampler = q.get('tsampler') ?? DEFAULTS.sampler;
  return { sampler: SAMPLERS.includes(sampler) ? sampler : DEFAULTS.sampler, steps: int('tsteps', DEFAULTS.steps, 1, 1024), n: int('tn', DEFAULTS.n, 1, 32), seed: int('tseed', DEFAULTS.seed, 0, 2 ** 31 - 1) };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Set up the tab's controls and worker; returns what shows it. */
export function textTab(): { show: () => void } {
  let state = readTextState(location.search);
  let started = false;
  const ask = workerClient<TextRequest, TextReply>(() => new Worker(new URL('./text-worker.ts', import.meta.url), { type: 'module' }));
  const base = new URL('./', location.href).href;
  const showError = errorBox('text-error');
  const read = (): TextState => {
    const v = (id: string) => ($(id) as HTMLInputElement | HTMLSelectElement).value;
    return readTextState(`?tsampler=${v('text-sampler')}&tsteps=${v('text-steps')}&tn=${v('text-n')}&tseed=${v('text-seed')}`);
  };
  const write = () => history.replaceState(null, '', `?${new URLSearchParams({ tab: 'text', tsampler: state.sampler, tsteps: String(state.steps), tn: String(state.n), tseed: String(state.seed) })}`);

  const run = () => {
    state = read();
    write();
    showError('');
    document.body.dataset.text = '';
    $('text-status').textContent = 'loading the model…';
    ask({ kind: 'text', base, ...state }, (r) => {
      if (r.kind === 'tokens') {
        $('text-out').textContent = r.texts.join('\n');
        $('text-status').textContent = `model call ${r.call}`;
      } else if (r.kind === 'text') {
        $('text-out').textContent = r.texts.join('\n');
        $('text-status').textContent = `${r.sampler}: NFE ${r.nfe} (${r.nfePerSequence.toFixed(2)} per sequence), ${r.seconds.toFixed(2)} s`;
        document.body.dataset.text = 'done';
        (window as unknown as { diffuseText: unknown }).diffuseText = r;
      } else if (r.kind === 'error') {
        showError(r.message);
        document.body.dataset.text = 'error';
      }
    });
  };

  const compare = () => {
    $('text-compare-status').textContent = 'running every sampler…';
    ask({ kind: 'text-compare', base, samplers: SAMPLERS, steps: state.steps, n: state.n, seed: state.seed }, (r) => {
      if (r.kind === 'text-compare') {
        $('text-compare-body').replaceChildren(...r.runs.map((run) => {
          const tr = document.createElement('tr');
          tr.innerHTML = [run.sampler, String(run.nfe), run.nfePerSequence.toFixed(2), run.seconds.toFixed(2), run.texts[0].replace(/&/g, '&amp;').replace(/</g, '&lt;')].map((c) => `<td>${c}</td>`).join('');
          tr.dataset.sampler = run.sampler;
          tr.dataset.nfe = String(run.nfe);
          return tr;
        }));
        $('text-compare-status').textContent = `${state.steps} steps, ${state.n} sequences, seed ${state.seed}`;
        document.body.dataset.textCompare = 'done';
      } else if (r.kind === 'error') showError(r.message);
    });
  };

  return {
    show: () => {
      if (started) return;
      started = true;
      const sampler = $('text-sampler') as HTMLSelectElement;
      sampler.replaceChildren(...SAMPLERS.map((s) => Object.assign(document.createElement('option'), { value: s, textContent: s })));
      sampler.value = state.sampler;
      ($('text-steps') as HTMLInputElement).value = String(state.steps);
      ($('text-n') as HTMLInputElement).value = String(state.n);
      ($('text-seed') as HTMLInputElement).value = String(state.seed);
      for (const id of ['text-sampler', 'text-steps', 'text-n', 'text-seed']) $(id).addEventListener('change', run);
      $('text-compare').addEventListener('click', compare);
      run();
    },
  };
}
