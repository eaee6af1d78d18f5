/**
 * PFGM++: Poisson flow generative models with D augmented dimensions (Xu et al. 2023), between PFGM
 * (D = 1) and EDM (D → ∞): the process, the exact oracle of a finite data set, and a Heun sampler.
 * @module
 */
export { PfgmProcess, sampleGamma } from './process.js';
export { PfgmDataOracle } from './oracle.js';
export { pfgmHeun, samplePfgm, type PfgmDenoise, type PfgmRequest, type PfgmResult } from './sampler.js';
