/**
 * The Networks tab's worker: the shipped MNIST / Fashion-MNIST networks on onnxruntime-web (WebGPU,
 * else WebAssembly), sampled with any Diffuse sampler and classifier-free guidance as `diffuse
 * sample` does (`guided(net, { labels, scale })`), x̂0 reported after every model call; the shipped
 * classifier scores the batch on demand.
 */
import { InferenceSession, Tensor } from 'onnxruntime-web';
import { parseNpy, sample, toDataCoefficients, type Model } from '../../src/index.js';
import { frechetDistance, gaussianFit } from '../../src/metrics/fid.js';
import { guided, loadOnnxModelWeb, type WebModel } from '../../src/models/onnx/web.js';
import { configureRuntime, wasmThreads } from './runtime.js';
import type { NetReply, NetRequest, NetState } from './protocol.js';

const scope = self as unknown as { postMessage(m: NetReply): void; onmessage: ((e: MessageEvent<NetRequest>) => void) | null };
const loaded = new Map<string, Promise<WebModel>>();
const classifiers = new Map<string, Promise<{ session: InferenceSession; fit: { d: number; mean: Float64Array; cov: Float64Array } }>>();
let last: { model: string; images: Float64Array; labels: number[] } | undefined;

const fetchBytes = async (url: string): Promise<Uint8Array> => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
};

configureRuntime();

/** The network of a shipped model on a backend, loaded once per worker (bytes reported as they arrive). */
function network(id: number, base: string, name: string, backend: NetState['backend']): Promise<WebModel> {
  const key = `${name} ${backend}`;
  let p = loaded.get(key);
  if (!p) {
    p = loadOnnxModelWeb(new URL(`models/${name}/card.json`, base).href, {
      ...(backend === 'auto' ? {} : { executionProviders: [backend] }),
      onProgress: (q) => scope.postMessage({ id, kind: 'load', file: q.file, loaded: q.loaded, total: q.total ?? 0 }),
    });
    p.catch(() => loaded.delete(key));
    loaded.set(key, p);
  }
  return p;
}

/** A model that reports x̂0 = a·x + b·(model output) after every call (Eq. of the prediction's conversion). */
function watching(model: Model, process: WebModel['model']['process'], report: (x0: Float64Array) => void): Model {
  return {
    prediction: model.prediction,
    sampleShape: model.sampleShape,
    // the card's grids (guided or not) stay the run's default, as in Node
    ...(model.defaultGrid ? { defaultGrid: model.defaultGrid.bind(model) } : {}),
    async predict(x, n, t) {
      const out = await model.predict(x, n, t);
      const [a, b] = toDataCoefficients(process, t, model.prediction);
      report(out.map((o, i) => a * x[i] + b * o));
      return out;
    },
  };
}

async function generate(m: Extract<NetRequest, { kind: 'generate' }>): Promise<void> {
  const started = performance.now();
  const web = await network(m.id, m.base, m.model, m.backend);
  const loadMs = performance.now() - started;
  const net = web.model;
  const labels = Array.from({ length: m.perClass * m.classes.length }, (_, i) => m.classes[i % m.classes.length]);
  const base = m.guidance === 1 ? net.withLabels(labels) : guided(net, { labels, scale: m.guidance });
  let calls = 0;
  const model = watching(base, net.process, (x0) => {
    calls++;
    scope.postMessage({ id: m.id, kind: 'x0', call: calls, x0: Array.from(x0) });
  });
  const sampling = performance.now();
  const r = await sample({ model, process: net.process, sampler: m.sampler, steps: m.steps, n: labels.length, seed: m.seed });
  const sampleMs = performance.now() - sampling;
  last = { model: m.model, images: r.x.data, labels };
  scope.postMessage({
    id: m.id, kind: 'images', images: Array.from(r.x.data), labels, backend: web.backend,
    threads: web.backend === 'wasm' ? wasmThreads() : 0,
    nfe: r.nfe, steps: r.grid.length - 1, loadMs, sampleMs, msPerCall: sampleMs / Math.max(1, r.nfe),
  });
}

/** The shipped classifier of the last batch's model: how often it sees the label each image was drawn for. */
async function score(m: Extract<NetRequest, { kind: 'score' }>): Promise<void> {
  if (!last) throw new Error('generate a batch first');
  const name = `${last.model}-classifier`;
  let p = classifiers.get(name);
  if (!p) {
    p = (async () => {
      const card = JSON.parse(new TextDecoder().decode(await fetchBytes(new URL(`models/${name}/card.json`, m.base).href))) as { onnx: string; feature_dim: number; reference_fit: { file: string } };
      const session = await InferenceSession.create(await fetchBytes(new URL(`models/${name}/${card.onnx}`, m.base).href), { executionProviders: ['wasm'] });
      // the classifier's shipped Gaussian fit of 10 000 real images' features: [d + 1, d], the mean then the covariance
      const fit = Float64Array.from(parseNpy(await fetchBytes(new URL(`models/${name}/${card.reference_fit.file}`, m.base).href)).data as ArrayLike<number>);
      const d = card.feature_dim;
      return { session, fit: { d, mean: fit.slice(0, d), cov: fit.slice(d) } };
    })();
    classifiers.set(name, p);
  }
  const { session, fit } = await p;
  const n = last.labels.length;
  const out = await session.run({ images: new Tensor('float32', Float32Array.from(last.images, (v) => Math.min(1, Math.max(-1, v))), [n, 1, 28, 28]) });
  const fd = n > 1 ? frechetDistance(gaussianFit(out.features.data as Float32Array, fit.d), fit) : Number.NaN;
  const logits = out.logits.data as Float32Array;
  const k = logits.length / n;
  const predicted = Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * k + c] > logits[i * k + best]) best = c;
    return best;
  });
  const right = predicted.filter((v, i) => v === last?.labels[i]).length;
  scope.postMessage({ id: m.id, kind: 'score', accuracy: right / n, predicted, fd });
}

scope.onmessage = async (e: MessageEvent<NetRequest>) => {
  const m = e.data;
  try {
    if (m.kind === 'generate') await generate(m);
    else await score(m);
  } catch (err) {
    scope.postMessage({ id: m.id, kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};
