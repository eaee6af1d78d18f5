/**
 * Denoising MCMC (Kim & Ye 2022): a Langevin–Gibbs chain over data and noise level whose states an
 * ODE solver then denoises.
 * @module
 */
export { gmmNoiseLikelihood, sampleDmcmc, type DmcmcRequest, type DmcmcResult, type NoiseLogLikelihood } from './dlg.js';
