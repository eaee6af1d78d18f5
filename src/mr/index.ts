/**
 * Mean-reverting diffusion towards a degraded image μ (IR-SDE, Luo et al. 2023): the process, its
 * exact mixture oracle, the MR Sampler (Li et al. 2025) and IR-SDE's posterior sampler, and a PF-ODE reference.
 * @module
 */
export { MeanReverting, type MeanRevertingConfig } from './process.js';
export { MrOracle, mrPredictions, toData, toNoise, type MrModel, type MrPrediction } from './oracle.js';
export { sampleMr, type MrParameterization, type MrRequest, type MrResult, type MrSolver } from './sampler.js';
export { mrPfOdeEndpoint } from './exact.js';
