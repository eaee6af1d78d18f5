export { MeanReverting, type MeanRevertingConfig } from './process.js';
export { MrOracle, mrPredictions, toData, toNoise, type MrModel, type MrPrediction } from './oracle.js';
export { sampleMr, type MrParameterization, type MrRequest, type MrResult, type MrSolver } from './sampler.js';
export { mrPfOdeEndpoint } from './exact.js';
