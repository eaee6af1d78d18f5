/**
 * Stochastic interpolants x_t = α(t)x0 + β(t)x1 + γ(t)z between two laws ρ0 and ρ1 (Albergo, Boffi &
 * Vanden-Eijnden 2023): the coefficients, the exact fields between Gaussian mixtures, and ODE / SDE samplers.
 * @module
 */
export { makeInterpolant, type Interpolant, type InterpolantConfig } from './schedule.js';
export { MixtureInterpolantOracle, type InterpolantFields } from './oracle.js';
export {
  interpolantOde, interpolantSde, sampleInterpolant, interpolantMethods, type InterpolantMethod, type InterpolantRequest,
} from './sampler.js';
