export { PfgmProcess, sampleGamma } from './process.js';
export { PfgmDataOracle } from './oracle.js';
export { pfgmHeun, samplePfgm, type PfgmDenoise, type PfgmRequest, type PfgmResult } from './sampler.js';
