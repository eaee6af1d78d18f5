import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { PromptTokenizer } from '../../src/pipelines/tokenizer.js';

/**
 * The T5 tokenizer of SD3-class folders (tokenizer_3/) against T5's published vocabulary
 * (test/fixtures/t5: the real tokenizer.json, 32 000 Unigram pieces and 100 sentinels) and token ids
 * published by others: huggingface/transformers' tests/models/t5/test_tokenization_t5.py (t5-base)
 * and hpcaitech/ColossalAI's tests/kit/model_zoo/transformers/t5.py (t5-small), as they list them
 * (without the </s> that `encode` appends).
 */
const fixture = (f: string) => new URL(`../fixtures/t5/${f}`, import.meta.url);
const tokenizerJson = JSON.parse(gunzipSync(readFileSync(fixture('tokenizer.json.gz'))).toString('utf8')) as { model: { type: string; vocab: [string, number][] } };
const config = JSON.parse(readFileSync(fixture('tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
// as the SD3 loaders build it: the folder's files, the pipeline's max_sequence_length 256
const t5 = new PromptTokenizer({ tokenizerJson, config, maxLength: 256, source: 'tokenizer_3' });

const published: [string, number[]][] = [
  ['A long paragraph for summarization.', [71, 307, 8986, 21, 4505, 1635, 1707, 5]],
  ['Hey how are you doing', [9459, 149, 33, 25, 692]],
  ['The quick brown fox jumps over the lazy dog.', [37, 1704, 4216, 3, 20400, 4418, 7, 147, 8, 19743, 1782, 5]],
  ['BERT is designed to pre-train deep bidirectional representations from unlabeled text by jointly conditioning on both left and right context in all layers.',
    [272, 24203, 19, 876, 12, 554, 18, 9719, 1659, 2647, 26352, 6497, 7, 45, 73, 9339, 400, 26, 1499, 57, 22801, 10760, 30, 321, 646, 11, 269, 2625, 16, 66, 7500, 5]],
  ['translate English to German: The house is wonderful.', [13959, 1566, 12, 2968, 10, 37, 629, 19, 1627, 5]],
  ['Das Haus ist wunderbar.', [644, 4598, 229, 19250, 5]],
  // special tokens written in the text are read as such (add_special_tokens=False in the published test)
  ['Summary of the text. </s>', [20698, 13, 8, 1499, 5, 1]],
  ['<pad> Today is <unk> nice day </s>', [0, 1960, 19, 2, 1245, 239, 1]],
];

describe('the T5 prompt tokenizer on T5\'s published vocabulary', () => {
  it('is the published Unigram vocabulary: 32 100 entries, <pad> </s> <unk> ▁ first', () => {
    expect(tokenizerJson.model.type).toBe('Unigram');
    expect(tokenizerJson.model.vocab).toHaveLength(32100);
    expect(tokenizerJson.model.vocab.slice(0, 4).map(([piece]) => piece)).toEqual(['<pad>', '</s>', '<unk>', '▁']);
    expect(tokenizerJson.model.vocab[32099][0]).toBe('<extra_id_0>');
  });

  it.each(published)('%s gives the published ids', (text, ids) => {
    expect(t5.tokens(text)).toEqual(ids);
  });

  it('encodes as SD3\'s pipeline: no BOS, the ids, </s>, then <pad> = 0 to 256', () => {
    const { ids, truncated } = t5.encode('translate English to German: The house is wonderful.');
    expect(Array.from(ids.subarray(0, 12))).toEqual([13959, 1566, 12, 2968, 10, 37, 629, 19, 1627, 5, 1, 0]);
    expect(ids).toHaveLength(256);
    expect(ids.subarray(11).every((v) => v === 0)).toBe(true);
    expect(truncated).toBe('');
  });

  it('truncates a prompt longer than 255 pieces as diffusers does and says what was cut', () => {
    const long = Array.from({ length: 300 }, (_, i) => (i < 255 ? 'house' : 'wonderful')).join(' ');
    const { ids, truncated } = t5.encode(long);
    expect(ids[254]).toBe(629);
    expect(ids[255]).toBe(1);
    expect(truncated).toBe(Array(45).fill('wonderful').join(' '));
  });
});
