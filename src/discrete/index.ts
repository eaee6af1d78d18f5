/**
 * Absorbing (masked) discrete diffusion: the masking schedule, masked-LM models and the exact
 * Markov-chain oracle, and the samplers over token sequences (ancestral with RADD caching,
 * first-hitting, any-order, MaskGIT, EDLM, APS). `diffuse/discrete`, or `discrete` from `diffuse`.
 * @module
 */
export * from './schedule.js';
export * from './model.js';
export * from './categorical.js';
export * from './oracle/markov.js';
export * from './samplers/types.js';
export { ancestral, maskedAfterStep, type AncestralOptions } from './samplers/ancestral.js';
export { firstHitting, firstHittingTime, type FirstHittingOptions } from './samplers/first-hitting.js';
export { anyOrder, anyOrderLogLikelihood, randomOrders } from './samplers/any-order.js';
export { confidence, type ConfidenceOptions } from './samplers/confidence.js';
export { edlm, oracleScorer, type EdlmOptions, type EdlmSample, type SequenceScorer } from './samplers/edlm.js';
export * from './inverse.js';
export { aps, type ApsOptions } from './samplers/aps.js';
export * from './bench.js';
export * from './elbo.js';
export * from './reward.js';
export * from './finetune.js';
export * from './onnx/index.js';
