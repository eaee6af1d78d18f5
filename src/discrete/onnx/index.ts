/**
 * ONNX masked language models for any runtime: pass a session and the Tensor class of onnxruntime-node
 * or onnxruntime-web. No Node-only imports here; loading cards and files from disk is in ./node.ts.
 */
export { OnnxMaskedLM, resolveMlmLayout } from './model.js';
export { parseMlmCard, MLM_CARD_FORMAT, type MlmCard, type FineTuning, type TokenizerSpec, type TokenizerKind } from './card.js';
export { encodeText, decodeTokens, MASK_GLYPH } from './tokenizer.js';
