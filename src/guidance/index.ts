/** Guidance and posterior sampling: `import { … } from 'diffuse/guidance'` (also exported flat from 'diffuse'). */
export * from './cfg.js';
export * from './classifier.js';
export * from './inverse.js';
export * from './smc.js';
export * from './red-diff.js';
export * from './minority.js';
export * from './hallucination.js';
export * from './intrinsic-dim.js';
export * from './flowchef.js';
export * from './flow-scaling.js';
export { guidedOracle, runPosteriorSpec, parseMeasure, guideHelp, measureHelp, methodHelp, type PosteriorSpecRequest, type PosteriorSpecRun } from './specs.js';
