export {
  searchGrid, mutate, crossover, DEFAULT_EVOLUTION,
  type EvolutionOptions, type SearchState, type SearchProgress, type SearchResult, type GridFitness, type GridSearchRequest, type Candidate,
} from './evolution.js';
export { oracleFitness, teacherFitness, medianSampleDistance, type OracleFitnessRequest, type TeacherFitnessRequest } from './fitness.js';
