export { EMS_FORMAT, checkEms, degenerateEms, emsToJson, parseEms, type Ems, type EmsProvenance } from './ems.js';
export { EmsCurve } from './curve.js';
export { emsFromMixture, emsLambdas, type EmsGridOptions } from './oracle.js';
export { estimateEms, pilotEms, nodeCost, type DenoiseFn, type EstimateOptions } from './estimate.js';
