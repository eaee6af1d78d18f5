/**
 * The Networks tab's worker: the shipped MNIST / Fashion-MNIST networks on onnxruntime-web (WebGPU,
 * else WebAssembly), sampled with any Diffuse sampler and classifier-free guidance as `diffuse
 * sample` does (`guided(net, { labels, scale })`), or the model's shipped Gaussian-teleportation runs as
 * `diffuse sample --searched teleport-nfeN[-cfg2]` does; x̂0 reported after every model call; the
 * shipped classifier scores the batch on demand.
 */
import { InferenceSession, Tensor } from 'onnxruntime-web';
import { gaussiansFor, gaussiansFromTensor, parseNpy, sample, sizeOf, toDataCoefficients, type LowRankGaussian, type Model } from '../../src/index.js';
import { teleportFileSchema, validate, type TeleportFile } from '../../src/io/formats.js';
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

const gaussians = new Map<string, Promise<LowRankGaussian[]>>();

/**
 * The shipped teleport run for a model, step count and guidance (the cfg-2 run for any guidance but 1:
 * runs were searched at 1 and 2 only), and the model's Gaussians (models/NAME/gaussians.npy).
 */
async function teleportRun(base: string, model: string, steps: number, guidance: number): Promise<{ name: string; run: TeleportFile; gs: LowRankGaussian[] }> {
  if (steps < 3 || steps > 5) throw new Error(`Gaussian teleportation runs ship for 3, 4 and 5 steps (models/${model}/searched/teleport-nfe3…5.json); set Steps to 3, 4 or 5`);
  const name = `teleport-nfe${steps}${guidance === 1 ? '' : '-cfg2'}`;
  const file = `models/${model}/searched/${name}.json`;
  const run = validate(teleportFileSchema, JSON.parse(new TextDecoder().decode(await fetchBytes(new URL(file, base).href))), file);
  let gs = gaussians.get(model);
  if (!gs) {
    const npy = `models/${model}/gaussians.npy`;
    gs = fetchBytes(new URL(npy, base).href).then((b) => gaussiansFromTensor(parseNpy(b), npy));
    gs.catch(() => gaussians.delete(model));
    gaussians.set(model, gs);
  }
  return { name, run, gs: await gs };
}

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
  const t = m.teleport ? await teleportRun(m.base, m.model, m.steps, m.guidance) : undefined;
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
  const r = await sample({
    model, process: net.process, n: labels.length, seed: m.seed,
    ...(t
      ? { sampler: t.run.sampler, options: t.run.options, grid: t.run.grid, teleport: gaussiansFor(t.gs, sizeOf(net.sampleShape), labels) }
      : { sampler: m.sampler, steps: m.steps }),
  });
  const sampleMs = performance.now() - sampling;
  last = { model: m.model, images: r.x.data, labels };
  scope.postMessage({
    id: m.id, kind: 'images', images: Array.from(r.x.data), labels, backend: web.backend,
    threads: web.backend === 'wasm' ? wasmThreads() : 0,
    nfe: r.nfe, steps: r.grid.length - 1, loadMs, sampleMs, msPerCall: sampleMs / Math.max(1, r.nfe),
    run: t ? `${t.name}: ${t.run.sampler} after teleporting x_T to t = ${t.run.grid.times[0]}` : m.sampler,
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
