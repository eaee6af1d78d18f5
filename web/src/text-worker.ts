/**
 * The Text tab's worker: the shipped masked-diffusion text model (models/text) on onnxruntime-web,
 * sampled by the discrete samplers as `diffuse sample-discrete --model onnx:models/text/card.json`
 * does (runDiscreteSampler), with the partly unmasked sequences reported at every model call.
 */
import { InferenceSession, Tensor } from 'onnxruntime-web';
import { decodeTokens, OnnxMaskedLM, parseMlmCard, runDiscreteSampler, type DiscreteModel } from '../../src/discrete/index.js';
import { configureRuntime } from './runtime.js';
import type { OrtSession, OrtTensorConstructor } from '../../src/models/onnx/runtime.js';
import type { TextReply, TextRequest, TextRun } from './protocol.js';

const scope = self as unknown as { postMessage(m: TextReply): void; onmessage: ((e: MessageEvent<TextRequest>) => void) | null };
configureRuntime();
let loaded: Promise<OnnxMaskedLM> | undefined;

const fetchBytes = async (url: string): Promise<Uint8Array> => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
};

function model(base: string): Promise<OnnxMaskedLM> {
  loaded ??= (async () => {
    const cardUrl = new URL('models/text/card.json', base).href;
    const card = parseMlmCard(JSON.parse(new TextDecoder().decode(await fetchBytes(cardUrl))), cardUrl);
    const session = await InferenceSession.create(await fetchBytes(new URL(card.onnx, cardUrl).href), { executionProviders: ['wasm'] });
    return new OnnxMaskedLM(session as unknown as OrtSession, Tensor as unknown as OrtTensorConstructor, card, cardUrl);
  })();
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

/** The network, reporting the sequences it is asked about (mask shown as its glyph) at every call of the whole batch. */
function watching(net: OnnxMaskedLM, n: number, report: (texts: string[]) => void): DiscreteModel {
  const tokenizer = net.card.tokenizer;
  return {
    vocabSize: net.vocabSize, length: net.length, timeConditioned: net.timeConditioned,
    logProbs(x, m, t) {
      if (m === n && tokenizer) report(Array.from({ length: n }, (_, b) => decodeTokens(tokenizer, x.subarray(b * net.length, (b + 1) * net.length))));
      return net.logProbs(x, m, t);
    },
  };
}

async function run(id: number, base: string, sampler: string, steps: number, n: number, seed: number, live: boolean): Promise<TextRun> {
  const net = await model(base);
  let calls = 0;
  const watched = live ? watching(net, n, (texts) => scope.postMessage({ id, kind: 'tokens', call: ++calls, texts })) : net;
  const started = performance.now();
  const s = await runDiscreteSampler(watched, { sampler, steps, n, seed });
  const seconds = (performance.now() - started) / 1000;
  const tokenizer = net.card.tokenizer;
  const texts = Array.from({ length: n }, (_, b) => {
    const row = s.x.subarray(b * net.length, (b + 1) * net.length);
    return tokenizer ? decodeTokens(tokenizer, row) : Array.from(row).join(' ');
  });
  return { sampler, texts, nfe: s.nfe, nfePerSequence: s.evaluations / n, seconds };
}

scope.onmessage = async (e: MessageEvent<TextRequest>) => {
  const m = e.data;
  try {
    if (m.kind === 'text') scope.postMessage({ id: m.id, kind: 'text', ...(await run(m.id, m.base, m.sampler, m.steps, m.n, m.seed, true)) });
    else {
      const runs: TextRun[] = [];
      for (const sampler of m.samplers) runs.push(await run(m.id, m.base, sampler, m.steps, m.n, m.seed, false));
      scope.postMessage({ id: m.id, kind: 'text-compare', runs });
    }
  } catch (err) {
    scope.postMessage({ id: m.id, kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};
