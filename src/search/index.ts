/**
 * Searched samplers: AutoDiffusion grid search, S³ solver-schedule search and LSD/LSD+ learned
 * solver coefficients, scored against an exact oracle or a many-step teacher; their results are
 * files the samplers run (`--grid-file`, `--schedule`, `--lsd`). `diffuse/search`, or `search` from `diffuse`.
 * @module
 */
export {
  searchGrid, mutate, crossover, DEFAULT_EVOLUTION,
  type EvolutionOptions, type SearchState, type SearchProgress, type SearchResult, type GridFitness, type GridSearchRequest, type Candidate,
} from './evolution.js';
export { oracleFitness, teacherFitness, medianSampleDistance, type OracleFitnessRequest, type TeacherFitnessRequest, type RunFitness } from './fitness.js';
export {
  searchSchedule, scheduleFitness, mutatePlan, DEFAULT_S3,
  type S3Options, type S3State, type ScoredSchedule, type ScheduleFitness, type ScheduleSearchRequest, type ScheduleSearchResult,
} from './s3.js';
export { distillLsd, DEFAULT_DISTILL, type DistillOptions, type DistillState, type DistillRequest, type DistillResult } from './lsd.js';
export { scheduleRun, dpmpp2mSchedule, unipcSchedule, formatPlan, parsePlan, type SolverSchedule, type StepPlan } from '../samplers/schedule.js';
export { lsdRun, analyticCoefficients, type LsdCoefficients } from '../samplers/lsd.js';
export { runSearchMethod, searchedRun, initialGrid, type SearchTarget, type SearchSettings, type SearchOutcome } from './run.js';
