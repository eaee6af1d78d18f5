/**
 * DPM-Solver-v3's empirical model statistics (EMS): computed exactly from a Gaussian mixture or
 * estimated from a model on pilot paths, and the file format dpm-solver-v3 reads.
 * `diffuse/ems`, or `ems` from `diffuse`.
 * @module
 */
export { EMS_FORMAT, checkEms, degenerateEms, emsToJson, parseEms, type Ems, type EmsProvenance } from './ems.js';
export { EmsCurve } from './curve.js';
export { emsFromMixture, emsLambdas, type EmsGridOptions } from './oracle.js';
export { estimateEms, pilotEms, nodeCost, type DenoiseFn, type EstimateOptions } from './estimate.js';
