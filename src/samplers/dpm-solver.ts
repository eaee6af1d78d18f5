import type { SamplerEntry } from './types.js';

// TODO(issue 2): samplers of this family are being written.
export const dpmSolverSamplers: SamplerEntry[] = [];
