import { UsageError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import * as v from 'valibot';
import { echo, integer, list, oneOf, positive, record, text, validate } from '../../io/schema.js';

/**
 * The masked-LM card: a small JSON file next to an .onnx masked language model saying how Diffuse's
 * tokens 0..V−1 and its mask map onto the network's vocabulary, how the graph's inputs and output are
 * named, and how to turn tokens into text. Validated once here (pure, no file access).
 * This is the value its `format` field must have.
 */
export const MLM_CARD_FORMAT = 'diffuse-mlm-card/v1';

/** How a card's tokenizer splits text: one character per token, or space-separated words. */
export type TokenizerKind = 'char' | 'word';

/** Token v is `tokens[v]`; `char` text is one character per token, `word` text is tokens separated by spaces. */
export interface TokenizerSpec {
  type: TokenizerKind;
  tokens: string[];
  /** Token used for text pieces not in `tokens` (otherwise encoding them is an error). */
  unknown?: string;
}

/** A validated masked-LM card (see MLM_CARD_FORMAT), in camelCase with its defaults filled in; `parseMlmCard` makes it. */
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
  /** Graph input names: token ids (default "input_ids") and, if the graph has one, the attention mask (fed all ones). */
  inputs: { ids: string; attentionMask?: string };
  /** Graph output holding the logits, [batch, L, V′] (default "logits"). */
  output: string;
  /** Present when the network reads t ∈ [0, 1] (float32, one per sequence); absent for RADD-style models. */
  time?: { input: string };
  /** How to turn tokens into text and back; absent when the card has none. */
  tokenizer?: TokenizerSpec;
  /** Most sequences per network run; larger batches are split (default: the whole batch). */
  maxBatch?: number;
  /**
   * Present when the network is a correction: its logits are added to the exact oracle of this Markov
   * chain (a diffuse chain JSON file, path relative to the card), as DRAKES fine-tuning of an oracle stores it.
   */
  base?: { chain: string };
  /** How the model was reward fine-tuned: the reward's spec (see parseReward), the KL weight α and the sampler steps it was tuned for. */
  fineTuning?: FineTuning;
  /** Free text describing the model. */
  description?: string;
}

/** A card's record of reward fine-tuning (training/drakes.py writes it). */
export interface FineTuning {
  method: 'drakes';
  /** e.g. "motif:CG" or "class:aeiou". */
  reward: string;
  /** The KL weight α of E[r] − α KL. */
  klWeight: number;
  /** Steps N of the ancestral sampler it was tuned through. */
  steps: number;
  /** The pretrained model's card (path relative to this card), when the model is a fine-tuned copy of one. */
  pretrained?: string;
}

const name = text;
const tokenId = integer(0, LIMITS.vocabulary);

/** The card file's fields, typed and bounded; cross-field rules follow in parseMlmCard. */
const mlmCardSchema = record({
  format: v.literal(MLM_CARD_FORMAT, `must be "${MLM_CARD_FORMAT}"`),
  onnx: name,
  length: integer(1, LIMITS.sequence),
  vocab_size: integer(1, LIMITS.vocabulary),
  mask_id: tokenId,
  token_ids: v.optional(list(tokenId, 1, LIMITS.vocabulary)),
  inputs: v.optional(record({ ids: v.optional(name), attention_mask: v.optional(name) })),
  output: v.optional(name),
  time: v.optional(record({ input: name })),
  tokenizer: v.optional(record({ type: oneOf(['char', 'word']), tokens: list(name, 1, LIMITS.vocabulary), unknown: v.optional(v.string('must be a string')) })),
  max_batch: v.optional(integer(1, LIMITS.samples)),
  base: v.optional(record({ chain: name })),
  fine_tuning: v.optional(record({ method: oneOf(['drakes']), reward: name, kl_weight: positive, steps: integer(1, LIMITS.steps), pretrained: v.optional(name) })),
  description: v.optional(v.string('must be a string')),
});

/** Validate plain card data (e.g. parsed JSON); `source` (the card's path) prefixes every error. */
export function parseMlmCard(value: unknown, source = 'masked-LM card'): MlmCard {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const card = validate(mlmCardSchema, value, source);
  const vocabSize = card.vocab_size;
  const maskId = card.mask_id;
  const tokenIds = card.token_ids ?? Array.from({ length: vocabSize }, (_, i) => i);
  if (tokenIds.length !== vocabSize) fail(`"token_ids" must list vocab_size = ${vocabSize} network ids, got ${tokenIds.length}`);
  if (new Set(tokenIds).size !== tokenIds.length) fail('"token_ids" has duplicates');
  if (tokenIds.includes(maskId)) fail(`mask_id ${maskId} is also the id of token ${tokenIds.indexOf(maskId)}; the mask needs its own id`);
  const inputs = card.inputs ?? {};
  const result: MlmCard = {
    onnx: card.onnx,
    length: card.length,
    vocabSize,
    maskId,
    tokenIds,
    inputs: { ids: inputs.ids ?? 'input_ids', ...(inputs.attention_mask === undefined ? {} : { attentionMask: inputs.attention_mask }) },
    output: card.output ?? 'logits',
  };
  if (card.time !== undefined) result.time = { input: card.time.input };
  if (card.tokenizer !== undefined) result.tokenizer = tokenizer(card.tokenizer, vocabSize, fail);
  if (card.max_batch !== undefined) result.maxBatch = card.max_batch;
  if (card.base !== undefined) result.base = { chain: card.base.chain };
  if (card.fine_tuning !== undefined) {
    const f = card.fine_tuning;
    result.fineTuning = { method: f.method, reward: f.reward, klWeight: f.kl_weight, steps: f.steps, ...(f.pretrained === undefined ? {} : { pretrained: f.pretrained }) };
  }
  if (card.description !== undefined) result.description = card.description;
  return result;
}

/** The tokenizer's rules beyond its types: one token per id, no duplicates, the kind's own form. */
function tokenizer(t: { type: TokenizerKind; tokens: string[]; unknown?: string }, vocabSize: number, fail: (m: string) => never): TokenizerSpec {
  const list = t.tokens;
  if (list.length !== vocabSize) fail(`"tokenizer.tokens" must list vocab_size = ${vocabSize} non-empty strings, got ${list.length}`);
  if (new Set(list).size !== list.length) fail('"tokenizer.tokens" has duplicates');
  if (t.type === 'char' && !list.every((s) => [...s].length === 1)) fail('a "char" tokenizer needs one character per token');
  if (t.type === 'word' && list.some((s) => /\s/.test(s))) fail('a "word" tokenizer\'s tokens cannot contain spaces');
  const spec: TokenizerSpec = { type: t.type, tokens: list };
  if (t.unknown !== undefined) {
    if (!list.includes(t.unknown)) fail(`"tokenizer.unknown" must be one of the tokens, got ${echo(t.unknown)}`);
    spec.unknown = t.unknown;
  }
  return spec;
}
