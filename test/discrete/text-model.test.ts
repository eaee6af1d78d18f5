import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { Rng } from '../../src/core/rng.js';
import {
  DISCRETE_SAMPLER_NAMES, DiscreteDenoiser, MarkovOracle, anyOrderLogLikelihood, oracleScorer, randomOrders, runDiscreteSampler,
  type MarkovChainSpec,
} from '../../src/discrete/index.js';
import { maskedElbo, unigramBits } from '../../src/discrete/elbo.js';
import { encodeText, loadOnnxMaskedLM } from '../../src/discrete/onnx/node.js';

const cardPath = 'models/text/card.json';
const trained = JSON.parse(readFileSync('models/text/train.json', 'utf8')) as { unigram_bits_per_char: number };

async function heldOut(lines: number) {
  const model = await loadOnnxMaskedLM(cardPath);
  const tokenizer = model.card.tokenizer;
  if (!tokenizer) throw new Error('the text model card has no tokenizer');
  const text = readFileSync('models/text/heldout.txt', 'utf8').split('\n').slice(0, lines).join('');
  return { model, x: encodeText(tokenizer, text) };
}

describe('the shipped Brown-corpus text model (models/text)', () => {
  it('held-out MDLM bound in bits/char beats the unigram entropy by a wide margin, and agrees with the AO-ARM likelihood', async () => {
    const n = 64;
    const { model, x } = await heldOut(n);
    expect(x.length).toBe(n * model.length);
    const elbo = await maskedElbo(new DiscreteDenoiser(model), x, n, 4, new Rng(0));
    const unigram = unigramBits(x, model.vocabSize);
    expect(Math.abs(unigram - trained.unigram_bits_per_char)).toBeLessThan(0.15);
    // full held-out file (256 windows, 8 draws): 3.19 ± 0.02 bits/char against 4.28
    expect(elbo.bitsPerToken).toBeLessThan(unigram - 0.8);
    expect(elbo.bitsPerToken + 3 * elbo.standardError).toBeLessThan(unigram - 0.5);
    // −log p under a random generation order: an unbiased estimate of the same bound (RADD, eq. 10)
    const orders = randomOrders(n, model.length, new Rng(1));
    const ll = await anyOrderLogLikelihood(new DiscreteDenoiser(model), x, n, orders);
    const aoBits = -ll.reduce((a, c) => a + c, 0) / n / model.length / Math.LN2;
    expect(Math.abs(aoBits - elbo.bitsPerToken)).toBeLessThan(0.25);
  });

  it('samples with every discrete sampler: in-vocabulary tokens, NFE counted', async () => {
    const model = await loadOnnxMaskedLM(cardPath);
    const L = model.length;
    const energy = oracleScorer(new MarkovOracle(JSON.parse(readFileSync('models/text/bigram.json', 'utf8')) as MarkovChainSpec, L));
    const steps = 8;
    const n = 3;
    for (const sampler of DISCRETE_SAMPLER_NAMES) {
      const s = await runDiscreteSampler(model, { sampler, steps, n, seed: 5 }, energy);
      expect(s.x.length, sampler).toBe(n * L);
      expect(s.x.every((v) => v >= 0 && v < model.vocabSize), sampler).toBe(true);
      expect(s.nfe, sampler).toBeGreaterThan(0);
      const expected: Record<string, number> = { 'first-hitting': L, 'any-order': L, 'first-hitting-parallel': steps, confidence: steps, 'ancestral-nocache': steps };
      if (sampler in expected) expect(s.nfe, sampler).toBe(expected[sampler]);
      else expect(s.nfe, sampler).toBeLessThanOrEqual(steps);
    }
  });

  it('diffuse sample-discrete --model onnx:models/text/card.json prints text and NFE', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
    const code = await main(['sample-discrete', '--model', `onnx:${cardPath}`, '--sampler', 'first-hitting-parallel', '--steps', '8', '--n', '2', '--json'], io);
    expect(code, err.join('')).toBe(0);
    const r = JSON.parse(out.join(''));
    expect(r).toMatchObject({ sampler: 'first-hitting-parallel', n: 2, length: 64, nfe: 8, nfePerSequence: 8 });
    const tokens = new Set(JSON.parse(readFileSync(cardPath, 'utf8')).tokenizer.tokens);
    expect(r.texts).toHaveLength(2);
    for (const t of r.texts) expect([...t].every((c: string) => tokens.has(c)) && [...t].length === 64).toBe(true);
    for (const args of [['--model', 'models/text/card.json'], ['--model', 'onnx:nope.json'], ['--model', `onnx:${cardPath}`, '--sampler', 'edlm'], ['--energy', 'x.json']]) {
      err.length = 0;
      expect(await main(['sample-discrete', ...args], io), args.join(' ')).toBe(2);
      expect(err.join('')).toMatch(/^diffuse: /);
    }
  });
});
