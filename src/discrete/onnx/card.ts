import { UsageError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { echo } from '../../io/schema.js';

/**
 * The masked-LM card: a small JSON file next to an .onnx masked language model saying how Diffuse's
 * tokens 0..V−1 and its mask map onto the network's vocabulary, how the graph's inputs and output are
 * named, and how to turn tokens into text. Validated once here (pure, no file access).
 */
export const MLM_CARD_FORMAT = 'diffuse-mlm-card/v1';

export type TokenizerKind = 'char' | 'word';

/** Token v is `tokens[v]`; `char` text is one character per token, `word` text is tokens separated by spaces. */
export interface TokenizerSpec {
  type: TokenizerKind;
  tokens: string[];
  /** Token used for text pieces not in `tokens` (otherwise encoding them is an error). */
  unknown?: string;
}

export interface MlmCard {
  /** Path of the network, relative to the card's folder (or absolute). */
  onnx: string;
  /** Sequence length L the network takes. */
  length: number;
  /** Number V of tokens Diffuse samples over. */
  vocabSize: number;
  /** Network id fed at masked positions. */
  maskId: number;
  /** Network id of Diffuse token v (default v); logits at other ids are ignored. */
  tokenIds: number[];
  inputs: { ids: string; attentionMask?: string };
  output: string;
  /** Present when the network reads t ∈ [0, 1] (float32, one per sequence); absent for RADD-style models. */
  time?: { input: string };
  tokenizer?: TokenizerSpec;
  maxBatch?: number;
  description?: string;
}

const CARD_KEYS = ['format', 'onnx', 'length', 'vocab_size', 'mask_id', 'token_ids', 'inputs', 'output', 'time', 'tokenizer', 'max_batch', 'description'];

type Json = Record<string, unknown>;
type Fail = (message: string) => never;

/** Validate plain card data (e.g. parsed JSON); `source` (the card's path) prefixes every error. */
export function parseMlmCard(value: unknown, source = 'masked-LM card'): MlmCard {
  const fail: Fail = (message) => {
    throw new UsageError(`${source}: ${message}`);
  };
  const card = object(value, 'the card', fail);
  onlyKeys(card, CARD_KEYS, '', fail);
  if (card.format !== MLM_CARD_FORMAT) fail(`"format" must be "${MLM_CARD_FORMAT}", got ${JSON.stringify(card.format)}`);
  const vocabSize = count(card.vocab_size, 'vocab_size', 1, LIMITS.vocabulary, fail);
  const maskId = count(card.mask_id, 'mask_id', 0, LIMITS.vocabulary, fail);
  const tokenIds = card.token_ids === undefined ? Array.from({ length: vocabSize }, (_, v) => v) : ids(card.token_ids, vocabSize, fail);
  if (tokenIds.includes(maskId)) fail(`mask_id ${maskId} is also the id of token ${tokenIds.indexOf(maskId)}; the mask needs its own id`);
  const inputs = object(card.inputs ?? {}, 'inputs', fail);
  onlyKeys(inputs, ['ids', 'attention_mask'], 'inputs.', fail);
  const result: MlmCard = {
    onnx: text(card.onnx, 'onnx', fail),
    length: count(card.length, 'length', 1, LIMITS.sequence, fail),
    vocabSize,
    maskId,
    tokenIds,
    inputs: {
      ids: inputs.ids === undefined ? 'input_ids' : text(inputs.ids, 'inputs.ids', fail),
      ...(inputs.attention_mask === undefined ? {} : { attentionMask: text(inputs.attention_mask, 'inputs.attention_mask', fail) }),
    },
    output: card.output === undefined ? 'logits' : text(card.output, 'output', fail),
  };
  if (card.time !== undefined) {
    const time = object(card.time, 'time', fail);
    onlyKeys(time, ['input'], 'time.', fail);
    result.time = { input: text(time.input, 'time.input', fail) };
  }
  if (card.tokenizer !== undefined) result.tokenizer = tokenizer(card.tokenizer, vocabSize, fail);
  if (card.max_batch !== undefined) result.maxBatch = count(card.max_batch, 'max_batch', 1, LIMITS.samples, fail);
  if (card.description !== undefined) result.description = text(card.description, 'description', fail);
  return result;
}

function tokenizer(value: unknown, vocabSize: number, fail: Fail): TokenizerSpec {
  const t = object(value, 'tokenizer', fail);
  onlyKeys(t, ['type', 'tokens', 'unknown'], 'tokenizer.', fail);
  if (t.type !== 'char' && t.type !== 'word') fail(`"tokenizer.type" is ${JSON.stringify(t.type)}; accepted: char, word`);
  const kind = t.type as TokenizerKind;
  const tokens = t.tokens;
  if (!Array.isArray(tokens) || tokens.length !== vocabSize || !tokens.every((s) => typeof s === 'string' && s !== '')) {
    fail(`"tokenizer.tokens" must list vocab_size = ${vocabSize} non-empty strings`);
  }
  const list = tokens as string[];
  if (new Set(list).size !== list.length) fail('"tokenizer.tokens" has duplicates');
  if (kind === 'char' && !list.every((s) => [...s].length === 1)) fail('a "char" tokenizer needs one character per token');
  if (kind === 'word' && list.some((s) => /\s/.test(s))) fail('a "word" tokenizer\'s tokens cannot contain spaces');
  const spec: TokenizerSpec = { type: kind, tokens: list };
  if (t.unknown !== undefined) {
    if (typeof t.unknown !== 'string' || !list.includes(t.unknown)) fail(`"tokenizer.unknown" must be one of the tokens, got ${JSON.stringify(t.unknown)}`);
    spec.unknown = t.unknown as string;
  }
  return spec;
}

function ids(value: unknown, vocabSize: number, fail: Fail): number[] {
  const ok = Array.isArray(value) && value.length === vocabSize && value.every((v) => Number.isInteger(v) && v >= 0);
  if (!ok) return fail(`"token_ids" must list vocab_size = ${vocabSize} network ids (integers ≥ 0), got ${JSON.stringify(value)}`);
  const list = value as number[];
  if (new Set(list).size !== list.length) fail('"token_ids" has duplicates');
  return list;
}

function onlyKeys(o: Json, accepted: string[], prefix: string, fail: Fail): void {
  const unknown = Object.keys(o).filter((k) => !accepted.includes(k));
  if (unknown.length) fail(`unknown key "${prefix}${unknown[0]}"; accepted: ${accepted.map((k) => prefix + k).join(', ')}`);
}

function object(v: unknown, what: string, fail: Fail): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`"${what}" must be a JSON object, got ${JSON.stringify(v)}`);
  return v as Json;
}

function text(v: unknown, what: string, fail: Fail): string {
  if (typeof v !== 'string' || v === '') return fail(`"${what}" must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function count(v: unknown, what: string, min: number, max: number, fail: Fail): number {
  if (!(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) return fail(`"${what}" must be an integer from ${min} to ${max}, got ${echo(v)}`);
  return v as number;
}
