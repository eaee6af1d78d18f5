/**
 * Text-to-image pipelines over diffusers-format ONNX folders (Stable Diffusion 1.x/2.x, SDXL, LCM,
 * SD3): the prompt tokenizers (CLIP BPE, T5 Unigram), the networks over ONNX Runtime sessions, and the pipeline that runs
 * them with the folder's scheduler or any Diffuse sampler. Runtime-agnostic (Node and browser);
 * `loadStableDiffusion` in `diffuse/node` opens a folder on onnxruntime-node.
 * `diffuse/pipelines`, or `pipelines` from `diffuse`.
 * @module
 */
export { PromptTokenizer, type PromptTokens, type TokenizerFiles } from './tokenizer.js';
export { OnnxTextEncoder, OnnxTransformer, OnnxUnet, OnnxVae, type TextEncoding } from './components.js';
export { StableDiffusion, toRgba, type StableDiffusionParts, type ImageRequest, type GeneratedImages } from './stable-diffusion.js';
export { textToImageFunction, type TextToImage, type TextToImageCall, type TextToImageDefaults, type TextToImageImage, type TextToImageOutput } from './text-to-image.js';
