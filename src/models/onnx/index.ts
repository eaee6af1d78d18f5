/**
 * ONNX models for any runtime: pass a session and the Tensor class of onnxruntime-node or
 * onnxruntime-web. No Node-only imports here; loading cards and files from disk is in ./node.ts.
 */
export { OnnxDenoiser, type Labels } from './denoiser.js';
export { guided, type OnnxGuidanceOptions, type GuidanceBatching } from './guidance.js';
export {
  parseModelCard, cardProcess, CARD_FORMAT, timeKinds, timeDtypes, cardPredictions,
  type ModelCard, type TimeKind, type TimeDtype,
} from './card.js';
export { resolveLayout, type GraphLayout } from './graph.js';
export { toHalfBits, fromHalfBits } from './float16.js';
export type { OrtSession, OrtTensor, OrtTensorConstructor, OrtValueMetadata, OrtTensorType } from './runtime.js';
export { readChunks, type LoadProgress } from './progress.js';
