export * from './schedule.js';
export * from './model.js';
export * from './categorical.js';
export * from './oracle/markov.js';
export * from './samplers/types.js';
export { ancestral, type AncestralOptions } from './samplers/ancestral.js';
export { firstHitting, firstHittingTime, type FirstHittingOptions } from './samplers/first-hitting.js';
export { anyOrder, anyOrderLogLikelihood, randomOrders } from './samplers/any-order.js';
export { confidence, type ConfidenceOptions } from './samplers/confidence.js';
