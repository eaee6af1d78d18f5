/**
 * Diffuse for Node: everything in 'diffuse', plus what reads files and runs networks on
 * onnxruntime-node (an optional peer dependency, loaded on first use), and the networks that ship
 * in the package (`shippedModelCard('mnist')`).
 * @module
 */
export * from './index.js';
export { loadOnnxModel, openCardSession } from './models/onnx/node.js';
export { loadOnnxMaskedLM, loadMaskedModel } from './discrete/onnx/node.js';
export { loadEditNet, loadRecoveryNet } from './restoration/node.js';
export { loadStableDiffusion, textToImage, type LoadOptions, type NodeTextToImageOptions } from './pipelines/node.js';
export { readPngRgb, writeRgbaPng, encodeRgbaPng } from './io/files.js';
export { nodeRuntime, INSTALL_NODE_RUNTIME, type NodeRuntime, type NodeSessionOptions } from './models/onnx/node-runtime.js';
export { shippedModels, shippedModelCard, shippedModelsDir, shippedPipelineDir, type ShippedModel, type ShippedModelKind } from './models/onnx/shipped.js';
export { readNpyFile, writeNpyFile, readJsonObject, readTextFile } from './io/files.js';
export {
  loadClassifier, loadMnistDigits, loadFashionImages, loadRealImages, realSubset, realFeatureFit, evaluateSampler,
  DEFAULT_CLASSIFIER, DEFAULT_EVAL_BATCH, realDataSets, scoreTextToImage, captionClasses,
  type CaptionClass, type TextToImageScoreOptions, type TextToImageScores,
  type DigitClassifier, type RealData, type EvalRequest, type EvalResult,
} from './eval/index.js';
