import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { BUILTIN_MARKOV, DiscreteDenoiser, MarkovOracle, ancestral, type MarkovChainSpec } from '../../src/discrete/index.js';
import { decodeTokens, encodeText, loadOnnxMaskedLM, parseMlmCard } from '../../src/discrete/onnx/node.js';

const fixtures = resolve('test/fixtures/mlm');
const cardPath = join(fixtures, 'card.json');
const L = 6;
const V = 3;
const MASK = V;
const chain = BUILTIN_MARKOV.sticky3 as MarkovChainSpec;
const dir = mkdtempSync(join(tmpdir(), 'diffuse-mlm-'));

/** The fixture's closed form (training/make_test_mlm.py) in float64: log-softmax of left + right neighbour factors. */
function closedForm(x: Int32Array, b: number, i: number): number[] {
  const left = (v: number) => (i === 0 ? chain.initial[v] : x[b * L + i - 1] === MASK ? 1 : chain.transition[x[b * L + i - 1]][v]);
  const right = (v: number) => (i === L - 1 || x[b * L + i + 1] === MASK ? 1 : chain.transition[v][x[b * L + i + 1]]);
  const p = [0, 1, 2].map((v) => left(v) * right(v));
  const z = p.reduce((a, c) => a + c, 0);
  return p.map((q) => Math.log(q / z));
}

function randomTokens(n: number, maskRate: number, rng: Rng, isolated: boolean): Int32Array {
  const x = new Int32Array(n * L);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < L; i++) {
      const prevMasked = i > 0 && x[b * L + i - 1] === MASK;
      x[b * L + i] = rng.uniform() < maskRate && !(isolated && prevMasked) ? MASK : Math.floor(rng.uniform() * V);
    }
  }
  return x;
}

function writeCard(name: string, patch: Record<string, unknown>): string {
  const card = { ...JSON.parse(readFileSync(cardPath, 'utf8')), onnx: join(fixtures, 'mlm.onnx'), ...patch };
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(card));
  return path;
}

describe('ONNX masked-LM adapter on the closed-form sticky3 network', () => {
  it('matches the exact Markov oracle where masks are isolated, and the closed form everywhere', async () => {
    const model = await loadOnnxMaskedLM(cardPath);
    expect(model).toMatchObject({ vocabSize: V, length: L, timeConditioned: false });
    const oracle = new MarkovOracle(chain, L);
    const rng = new Rng(3);
    const n = 64;
    const t = new Float64Array(n).fill(0.5);
    const isolated = randomTokens(n, 0.5, rng, true);
    const [got, exact] = await Promise.all([model.logProbs(isolated, n, t), oracle.logProbs(isolated, n)]);
    let maxErr = 0;
    let checked = 0;
    for (let i = 0; i < n * L; i++) {
      if (isolated[i] !== MASK) continue;
      checked++;
      for (let v = 0; v < V; v++) maxErr = Math.max(maxErr, Math.abs(got[i * V + v] - exact[i * V + v]));
    }
    expect(checked).toBeGreaterThan(50);
    expect(maxErr).toBeLessThan(2e-6);
    const dense = randomTokens(n, 0.7, rng, false);
    const out = await model.logProbs(dense, n, t);
    let formulaErr = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < L; i++) {
        closedForm(dense, b, i).forEach((lp, v) => (formulaErr = Math.max(formulaErr, Math.abs(out[(b * L + i) * V + v] - lp))));
      }
    }
    expect(formulaErr).toBeLessThan(2e-6);
  });

  it('feeds t to a time-conditioned network and splits batches by max_batch', async () => {
    const model = await loadOnnxMaskedLM(join(fixtures, 'time.json'));
    expect(model.timeConditioned).toBe(true);
    const x = Int32Array.from([MASK, 0, MASK, 1, MASK, 2, MASK, 0, MASK, 1, MASK, 2]);
    const out = await model.logProbs(x, 2, Float64Array.from([0, 0.8]));
    const bias = [1.0, -0.5, 0.25];
    for (const [b, t] of [[0, 0], [1, 0.8]]) {
      const logits = closedForm(x, b, 2).map((lp, v) => lp + t * bias[v]);
      const z = Math.log(logits.reduce((a, c) => a + Math.exp(c), 0));
      logits.forEach((l, v) => expect(out[(b * L + 2) * V + v]).toBeCloseTo(l - z, 5));
    }
    const chunked = await loadOnnxMaskedLM(writeCard('chunked.json', { max_batch: 1 }));
    const one = await chunked.logProbs(x, 2, Float64Array.from([0.3, 0.3]));
    const base = await (await loadOnnxMaskedLM(cardPath)).logProbs(x, 2, Float64Array.from([0.3, 0.3]));
    expect(Array.from(one)).toEqual(Array.from(base));
  });

  it('samples through DiscreteDenoiser with ancestral steps and RADD caching (NFE counted)', async () => {
    const model = new DiscreteDenoiser(await loadOnnxMaskedLM(cardPath));
    const s = await ancestral(model, { n: 20, rng: new Rng(1) }, { steps: 32, cache: true });
    expect(s.x.every((v) => v >= 0 && v < V)).toBe(true);
    expect(s.nfe).toBe(model.nfe);
    expect(s.nfe).toBeLessThanOrEqual(32);
    expect(s.evaluations).toBe(model.evaluations);
    expect(s.evaluations).toBeGreaterThanOrEqual(20);
    expect(s.evaluations).toBeLessThanOrEqual(20 * L);
  });

  it('encodes and decodes text with the card tokenizer', () => {
    const spec = { type: 'char' as const, tokens: ['a', 'b', 'c'] };
    expect(Array.from(encodeText(spec, 'abca'))).toEqual([0, 1, 2, 0]);
    expect(decodeTokens(spec, [2, 3, 0])).toBe('c_a');
    expect(() => encodeText(spec, 'abd')).toThrow(/"d" is not in the tokenizer's vocabulary/);
    expect(Array.from(encodeText({ type: 'word', tokens: ['the', 'cat'], unknown: 'cat' }, ' the  dog the'))).toEqual([0, 1, 0]);
  });

  it('says what is wrong with a card or graph', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ onnx: join(dir, 'missing.onnx') }, /the ONNX file .*missing\.onnx does not exist/],
      [{ inputs: { ids: 'tokens', attention_mask: 'attention_mask' } }, /inputs\.ids names input "tokens", which the ONNX graph lacks; its inputs are: input_ids, attention_mask/],
      [{ inputs: { ids: 'input_ids' } }, /needs input attention_mask that the card does not map/],
      [{ output: 'scores' }, /"output" names "scores", which the ONNX graph lacks; its outputs are: logits/],
      [{ length: 5 }, /input "input_ids" has shape \[batch, 6\]; the card expects \[batch, 5\]/],
      [{ token_ids: [1, 2, 7] }, /output "logits" has shape \[batch, 6, 6\]; the card expects \[batch, 6, V′\] with V′ ≥ 8/],
      [{ time: { input: 't' } }, /time\.input names input "t", which the ONNX graph lacks/],
      [{ mask_id: 2 }, /mask_id 2 is also the id of token 1/],
      [{ format: 'diffuse-model-card/v1' }, /"format" must be "diffuse-mlm-card\/v1"/],
      [{ vocab_size: 4 }, /"token_ids" must list vocab_size = 4 network ids/],
      [{ extra: 1 }, /"extra" is not a known key; accepted: format, onnx/],
    ];
    for (const [patch, message] of cases) await expect(loadOnnxMaskedLM(writeCard('bad.json', patch))).rejects.toThrow(message);
    await expect(loadOnnxMaskedLM(join(fixtures, 'bad_dtype.json'))).rejects.toThrow(/input "input_ids" has element type float32; accepted: int64, int32/);
    expect(() => parseMlmCard({ ...JSON.parse(readFileSync(cardPath, 'utf8')), tokenizer: { type: 'char', tokens: ['a', 'bb', 'c'] } })).toThrow(/one character per token/);
  });
});
