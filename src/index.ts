/**
 * Diffuse's public library API. Everything exported here is pure computation with no Node-only
 * imports, so it runs unchanged in Node and in the browser (file I/O, plots and the CLI live in
 * io/ and cli/).
 *
 * One rule for namespaces: the shared core (processes, grids, samplers, sample/invert, models,
 * guidance, metrics) is exported flat; every other family — those with their own process (discrete,
 * pfgm, interpolant, mr, dmcmc), the tools that fit files for the samplers (search, ems, quant) and
 * the multi-network pipelines (pipelines), restoration and inverse problems on networks (restoration) —
 * is one namespace here and the subpath of the same name (`diffuse/search`), with the same
 * contents. `diffuse/guidance` is the flat guidance exports on their own.
 * @module
 */
export { Rng, philox4x32 } from './core/rng.js';
export { TorchGenerator } from './core/torch-rng.js';
export { tensor, sizeOf, fromRows, toRows, toFloat64, type Tensor, type DType, type DTypeMap } from './core/tensor.js';
export { UsageError, RunError } from './core/errors.js';
export {
  createProcess, processes, sdeCoefficients, VpDiscrete, VpLinear, VpCosine, Edm, Ve, Flow,
  type Process, type ProcessConfig,
} from './process/index.js';
export { predictions, toDataCoefficients, fromDataCoefficients, type Prediction } from './param/convert.js';
export { edmPreconditioning } from './param/edm.js';
export { makeGrid, gridTypes, type GridSpec, type GridEnd } from './grid/index.js';
export { sigmaVe, tOfSigmaVe, flowShift } from './grid/basic.js';
export { diffusersTimesteps } from './grid/diffusers.js';
export {
  samplers, findSampler, findReference, fromDiffusersConfig, resolveOptions, namedRuns, unsupportedNames,
  type SamplerEntry, type SamplerName, type SamplerOptions, type TypedEntry, type OptionValue, type SampleContext, type SamplerFn, type NoiseSampler, type ReferenceMapping, type Translation, type NamedRun, type UnsupportedName, type Tool,
} from './samplers/index.js';
export { flowShiftMu } from './samplers/flow.js';
export { toDiffusersConfig, type DiffuseRun } from './samplers/to-diffusers.js';
export { invert, type InvertRequest, type InvertResult } from './invert.js';
export { strengthStart, gridTail, noiseTo, type StrengthRule } from './img2img.js';
export { sample, planSample, runPlan, resolveGrid, defaultGrid, DEFAULT_STEPS, type SampleRequest, type SamplePlan, type SampleResult, type StepInfo } from './sample.js';
export type { Model } from './models/types.js';
export { Denoiser } from './models/denoiser.js';
export { GaussianMixture, GmmOracle, finiteDataSet, type GmmSpec } from './models/oracle/gmm.js';
export { builtinNames, builtinProblem, builtinDescription, loadGmmJson } from './models/oracle/builtin.js';
export { dop853, type OdeOptions } from './ode/dopri.js';
export { pfOdeEndpoint } from './ode/pf-ode.js';
export { fitLowRankGaussian, teleport, gaussiansFor, gaussiansToTensor, gaussiansFromTensor, type LowRankGaussian, type FitOptions } from './ode/teleport.js';
export { sampleErrors, type SampleErrors } from './metrics/error.js';
export { benchmark, toMarkdown, toCsv, DEFAULT_NFES, type BenchRequest, type BenchRow } from './bench.js';
export { parseNpy, encodeNpy } from './io/npy.js';
export * from './models/onnx/index.js';
export * from './guidance/index.js';
export * from './models/oracle/full-gmm.js';
export * from './models/oracle/posterior.js';
export * from './metrics/distance.js';
export * from './metrics/image.js';
export * as discrete from './discrete/index.js';
export * as pfgm from './pfgm/index.js';
export * as interpolant from './interpolant/index.js';
export * as mr from './mr/index.js';
export * as dmcmc from './mcmc/index.js';
export * as quant from './quant/index.js';
export * as search from './search/index.js';
export * as ems from './ems/index.js';
export * as pipelines from './pipelines/index.js';
export * as restoration from './restoration/index.js';
export { JOB_FORMAT, parseJobSpec, shardCount, shardRange, shardLabels, keyedNoise, runShard, type JobSpec, type ShardRequest } from './jobs/index.js';
