export { gmmNoiseLikelihood, sampleDmcmc, type DmcmcRequest, type DmcmcResult, type NoiseLogLikelihood } from './dlg.js';
