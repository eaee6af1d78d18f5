import { Tokenizer } from '@huggingface/tokenizers';
import { UsageError } from '../core/errors.js';

/**
 * Prompt tokenizers for text-to-image pipelines, run by Hugging Face's tokenizers library from the
 * files of a diffusers `tokenizer/` folder: `tokenizer.json` (a fast tokenizer) when the folder has
 * one, else CLIP's `vocab.json` + `merges.txt` (the slow CLIPTokenizer files optimum and diffusers
 * save), described to the library as the CLIPTokenizerFast definition of the same BPE. Ids are
 * padded and truncated as diffusers' pipelines ask: `padding="max_length"`, `truncation=True`.
 */

/** The files of a diffusers tokenizer folder (parsed JSON, merges as text). */
export interface TokenizerFiles {
  /** tokenizer.json, when present: used as it is. */
  tokenizerJson?: unknown;
  /** vocab.json and merges.txt of a CLIP BPE, used when there is no tokenizer.json. */
  vocab?: Readonly<Record<string, number>>;
  merges?: string;
  /** tokenizer_config.json with special_tokens_map.json merged in (model_max_length, pad_token, …). */
  config?: Readonly<Record<string, unknown>>;
  /** Name used in error messages (e.g. the folder). */
  source?: string;
  /** Ids per prompt, when the pipeline sets it rather than the config (SD3's T5: max_sequence_length 256). */
  maxLength?: number;
}

/** A prompt as a text encoder takes it: exactly maxLength ids, and what truncation cut off. */
export interface PromptTokens {
  ids: Int32Array;
  /** The text of the tokens cut off at maxLength ('' when the prompt fits), as diffusers warns with. */
  truncated: string;
}

/** CLIP's pre-tokenization pattern (openai/CLIP simple_tokenizer.py, CLIPTokenizerFast's Split). */
const CLIP_PATTERN = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

/** CLIPTokenizerFast's tokenizer.json for a CLIP vocabulary and merge list. */
function clipDefinition(vocab: Readonly<Record<string, number>>, merges: string, source: string): Record<string, unknown> {
  const id = (token: string) => {
    const v = Object.hasOwn(vocab, token) ? vocab[token] : undefined;
    if (typeof v !== 'number') throw new UsageError(`${source}: vocab.json has no ${token}; a CLIP vocabulary has <|startoftext|> and <|endoftext|>`);
    return v;
  };
  const special = (content: string) => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  const pairs = merges.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#version'));
  return {
    version: '1.0',
    added_tokens: [special(BOS), special(EOS)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [EOS, id(EOS)], cls: [BOS, id(BOS)], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: EOS, continuing_subword_prefix: '', end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false, vocab, merges: pairs,
    },
  };
}

/**
 * A tokenizer that gives every prompt as exactly `maxLength` ids (CLIP: 77), BOS … EOS then padding.
 * BOS and EOS are the config's bos_token and eos_token (default CLIP's); a vocabulary without the BOS
 * token (T5: `</s>` after the prompt, no BOS) starts with the prompt.
 */
export class PromptTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  private readonly tokenizer: Tokenizer;
  private readonly bos: number | undefined;
  private readonly eos: number | undefined;

  constructor(files: TokenizerFiles) {
    const source = files.source ?? 'tokenizer';
    const config = files.config ?? {};
    let definition: unknown = files.tokenizerJson;
    if (definition === undefined) {
      if (!files.vocab || files.merges === undefined) throw new UsageError(`${source}: needs tokenizer.json, or vocab.json and merges.txt`);
      definition = clipDefinition(files.vocab, files.merges, source);
    }
    try {
      this.tokenizer = new Tokenizer(definition as object, config);
    } catch (e) {
      throw new UsageError(`${source}: the tokenizer files could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    const max = files.maxLength ?? config.model_max_length;
    // Tokenizer configs write "no limit" as 1e30; CLIP text encoders take 77 positions.
    this.maxLength = typeof max === 'number' && Number.isInteger(max) && max > 2 && max < 1e6 ? max : 77;
    const eos = tokenText(config.eos_token) ?? EOS;
    this.bos = this.tokenizer.token_to_id(tokenText(config.bos_token) ?? BOS);
    this.eos = this.tokenizer.token_to_id(eos);
    const pad = tokenText(config.pad_token) ?? eos;
    const padId = this.tokenizer.token_to_id(pad);
    if (padId === undefined) throw new UsageError(`${source}: pad_token ${JSON.stringify(pad)} is not in the vocabulary`);
    this.padId = padId;
  }

  /** The token ids of a prompt without special tokens or padding. */
  tokens(prompt: string): number[] {
    return this.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  }

  /** BOS, the prompt's first maxLength − 2 tokens, EOS, then pad ids (diffusers: padding="max_length", truncation=True). */
  encode(prompt: string): PromptTokens {
    if (typeof prompt !== 'string') throw new UsageError(`a prompt must be a string, got ${typeof prompt}`);
    const body = this.tokens(prompt);
    const specials = (this.bos === undefined ? 0 : 1) + (this.eos === undefined ? 0 : 1);
    const room = this.maxLength - specials;
    const kept = body.slice(0, room);
    const ids = new Int32Array(this.maxLength).fill(this.padId);
    ids.set([...(this.bos === undefined ? [] : [this.bos]), ...kept, ...(this.eos === undefined ? [] : [this.eos])]);
    return { ids, truncated: body.length > room ? this.tokenizer.decode(body.slice(room), { skip_special_tokens: true }).trim() : '' };
  }

  /** The text of some ids (special tokens skipped). */
  decode(ids: ArrayLike<number>): string {
    return this.tokenizer.decode(Array.from(ids), { skip_special_tokens: true }).trim();
  }
}

/** A special token as tokenizer configs write it: a string, or an AddedToken object with `content`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}
