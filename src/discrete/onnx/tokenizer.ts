import { UsageError } from '../../core/errors.js';
import type { TokenizerSpec } from './card.js';

/** Shown for a still-masked token when decoding. */
export const MASK_GLYPH = '_';

/** Text → token ids: one per character (`char`) or per whitespace-separated word (`word`). */
export function encodeText(spec: TokenizerSpec, text: string): Int32Array {
  const pieces = spec.type === 'char' ? [...text] : text.split(/\s+/).filter((w) => w !== '');
  const index = new Map(spec.tokens.map((s, v) => [s, v]));
  const unknown = spec.unknown === undefined ? undefined : index.get(spec.unknown);
  return Int32Array.from(pieces, (p) => {
    const v = index.get(p) ?? unknown;
    if (v === undefined) throw new UsageError(`"${p}" is not in the tokenizer's vocabulary of ${spec.tokens.length} ${spec.type === 'char' ? 'characters' : 'words'}`);
    return v;
  });
}

/** Token ids → text; ids ≥ V (the mask) show as MASK_GLYPH. */
export function decodeTokens(spec: TokenizerSpec, ids: ArrayLike<number>): string {
  const pieces = Array.from(ids, (v) => spec.tokens[v] ?? MASK_GLYPH);
  return pieces.join(spec.type === 'char' ? '' : ' ');
}
