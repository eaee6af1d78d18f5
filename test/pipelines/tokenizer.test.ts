import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { PromptTokenizer } from '../../src/pipelines/tokenizer.js';

/**
 * The CLIP tokenizer against OpenAI's own (test/fixtures/clip: CLIP's published BPE merges and the
 * ids its SimpleTokenizer gives). The files a diffusers folder holds are made from the merges the way
 * CLIP builds its vocabulary: the 256 byte symbols, the same with </w>, one token per merge, then
 * <|startoftext|> and <|endoftext|> (49 408 tokens, as in openai/clip-vit-large-patch14's vocab.json).
 */
const fixture = (f: string) => new URL(`../fixtures/clip/${f}`, import.meta.url);
const ref = JSON.parse(readFileSync(fixture('simple-tokenizer.json'), 'utf8')) as { cases: { prompt: string; ids: number[] }[] };

function byteSymbols(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) (bs.push(b), cs.push(256 + n++));
  return cs.map((c) => String.fromCodePoint(c));
}

function clipFiles(): { vocab: Record<string, number>; merges: string } {
  const lines = gunzipSync(readFileSync(fixture('bpe_simple_vocab_16e6.txt.gz'))).toString('utf8').split('\n').slice(1, 49152 - 256 - 2 + 1);
  const symbols = byteSymbols();
  const tokens = [...symbols, ...symbols.map((s) => `${s}</w>`), ...lines.map((l) => l.split(' ').join('')), '<|startoftext|>', '<|endoftext|>'];
  return { vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges: ['#version: 0.2', ...lines].join('\n') };
}

const files = clipFiles();
const sd1 = new PromptTokenizer({ ...files, config: { model_max_length: 77, pad_token: '<|endoftext|>' } });

describe('the CLIP prompt tokenizer (vocab.json + merges.txt, run by @huggingface/tokenizers)', () => {
  it('has CLIP\'s 49 408 tokens with the known ids', () => {
    expect(Object.keys(files.vocab)).toHaveLength(49408);
    expect(sd1.tokens('a photo of a cat')).toEqual([320, 1125, 539, 320, 2368]);
  });

  for (const c of ref.cases) {
    it(`gives CLIP's ids for ${JSON.stringify(c.prompt.slice(0, 40))}`, () => {
      expect(sd1.tokens(c.prompt)).toEqual(c.ids);
    });
  }

  it('pads to 77 with <|startoftext|> … <|endoftext|> then the pad token, as diffusers asks (SD 1.x pads with <|endoftext|>, SD 2.x with "!")', () => {
    const { ids, truncated } = sd1.encode('a photo of a cat');
    expect(Array.from(ids.slice(0, 8))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
    expect(ids).toHaveLength(77);
    expect(truncated).toBe('');
    const sd2 = new PromptTokenizer({ ...files, config: { model_max_length: 77, pad_token: '!' } });
    expect(Array.from(sd2.encode('a cat').ids.slice(0, 5))).toEqual([49406, 320, 2368, 49407, 0]);
    expect(Array.from(sd1.encode('').ids.slice(0, 3))).toEqual([49406, 49407, 49407]);
  });

  it('truncates a long prompt to 75 tokens between BOS and EOS and says what was cut', () => {
    const words = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
    const body = sd1.tokens(words);
    const { ids, truncated } = sd1.encode(words);
    expect(Array.from(ids.slice(1, 76))).toEqual(body.slice(0, 75));
    expect(ids[76]).toBe(49407);
    expect(truncated.length).toBeGreaterThan(0);
    expect(sd1.tokens(truncated)).toEqual(body.slice(75));
  });

  it('says which tokenizer files are missing or wrong', () => {
    expect(() => new PromptTokenizer({ source: 'model/tokenizer' })).toThrow(/model\/tokenizer: needs tokenizer.json, or vocab.json and merges.txt/);
    expect(() => new PromptTokenizer({ vocab: { a: 0 }, merges: '', source: 't' })).toThrow(/t: vocab.json has no <\|startoftext\|>/);
    expect(() => new PromptTokenizer({ ...files, config: { pad_token: '<pad>' }, source: 't' })).toThrow(/pad_token "<pad>" is not in the vocabulary/);
  });
});
