/**
 * Text-to-image pipelines over diffusers-format ONNX folders (Stable Diffusion 1.x/2.x class):
 * the CLIP prompt tokenizer, the networks over ONNX Runtime sessions, and the pipeline that runs
 * them with the folder's scheduler or any Diffuse sampler. Runtime-agnostic (Node and browser);
 * `loadStableDiffusion` in `diffuse/node` opens a folder on onnxruntime-node.
 * `diffuse/pipelines`, or `pipelines` from `diffuse`.
 * @module
 */
export { PromptTokenizer, type PromptTokens, type TokenizerFiles } from './tokenizer.js';
export { OnnxTextEncoder, OnnxUnet, OnnxVae, type TextEncoding } from './components.js';
export { StableDiffusion, toRgba, type StableDiffusionParts, type ImageRequest, type GeneratedImages } from './stable-diffusion.js';
