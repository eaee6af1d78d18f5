/**
 * The Text-to-image tab's worker: a diffusers-format ONNX folder (the built-in tiny model served with
 * the page, or a folder the user opens from disk) on onnxruntime-web through loadStableDiffusionWeb,
 * run with the folder's scheduler or any Diffuse sampler, steps reported as they finish.
 */
import { loadStableDiffusionWeb, type WebPipeline } from '../../src/pipelines/web.js';
import { toRgba } from '../../src/pipelines/stable-diffusion.js';
import { configureRuntime } from './runtime.js';
import type { T2iReply, T2iRequest, T2iSource } from './protocol.js';

const scope = self as unknown as { postMessage(m: T2iReply, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<T2iRequest>) => void) | null };
configureRuntime();
let current: { key: string; pipe: Promise<WebPipeline> } | undefined;

/** A fetch over the files of an opened folder, by their path under a made-up origin (HEAD says whether one exists). */
function filesFetch(files: { path: string; file: File }[]): { base: string; fetch: typeof fetch } {
  const byPath = new Map(files.map((f) => [f.path.split('/').slice(1).join('/'), f.file]));
  const base = 'https://opened-folder.invalid/';
  return {
    base,
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const path = decodeURIComponent(new URL(String(input instanceof Request ? input.url : input)).pathname.slice(1));
      const file = byPath.get(path);
      if (!file) return new Response(null, { status: 404, statusText: `${path} is not in the opened folder` });
      if (init?.method === 'HEAD') return new Response(null, { status: 200 });
      return new Response(file, { headers: { 'content-length': String(file.size) } });
    }) as typeof fetch,
  };
}

function pipeline(id: number, source: T2iSource): Promise<WebPipeline> {
  const key = source.kind === 'url' ? source.url : `${source.name}:${source.files.length}`;
  if (current?.key === key) return current.pipe;
  void current?.pipe.then((p) => p.release()).catch(() => undefined);
  const onProgress = (q: { file: string; loaded: number; total?: number }) => scope.postMessage({ id, kind: 'load', file: q.file, loaded: q.loaded, total: q.total ?? 0 });
  const pipe = source.kind === 'url'
    ? loadStableDiffusionWeb(source.url, { executionProviders: ['wasm'], onProgress })
    : (() => {
      const f = filesFetch(source.files);
      return loadStableDiffusionWeb(f.base, { executionProviders: ['wasm'], fetch: f.fetch, onProgress });
    })();
  current = { key, pipe };
  pipe.catch(() => (current = undefined));
  return pipe;
}

scope.onmessage = async (e: MessageEvent<T2iRequest>) => {
  const m = e.data;
  try {
    const started = performance.now();
    const web = await pipeline(m.id, m.source);
    const loadMs = performance.now() - started;
    const sampling = performance.now();
    const out = await web.pipeline.generate({
      prompt: m.prompt, ...(m.negative ? { negativePrompt: m.negative } : {}), steps: m.steps, guidance: m.guidance, seed: m.seed, n: m.n,
      ...(m.sampler ? { sampler: m.sampler } : {}),
      onStep: (s) => scope.postMessage({ id: m.id, kind: 'step', step: s.step, total: s.total, nfe: s.nfe }),
    });
    const rgba = Array.from({ length: out.n }, (_, i) => toRgba(out, i));
    scope.postMessage({
      id: m.id, kind: 'images', width: out.width, height: out.height, rgba, backend: web.backend, sampler: out.sampler, steps: out.steps, nfe: out.nfe,
      loadMs, sampleMs: performance.now() - sampling, truncated: out.truncated,
    }, rgba.map((r) => r.buffer));
  } catch (err) {
    scope.postMessage({ id: m.id, kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};
