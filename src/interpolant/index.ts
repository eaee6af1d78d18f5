export { makeInterpolant, type Interpolant, type InterpolantConfig } from './schedule.js';
export { MixtureInterpolantOracle, type InterpolantFields } from './oracle.js';
export {
  interpolantOde, interpolantSde, sampleInterpolant, interpolantMethods, type InterpolantMethod, type InterpolantRequest,
} from './sampler.js';
