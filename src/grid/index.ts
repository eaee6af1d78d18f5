import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { checkGrid, type GridEntry, type GridSpec, type GridType } from './spec.js';
import { basicGrids } from './basic.js';
import { diffusersGrids } from './diffusers.js';
import { schedulerGrids } from './schedulers.js';

export * from './spec.js';

/** Every grid type, by name: an explicit list (no registration by side-effect imports). */
const registry = new Map<GridType, GridEntry>([...basicGrids, ...diffusersGrids, ...schedulerGrids].map((e) => [e.type, e]));

/** Every registered grid type with its description (what `diffuse list` and the docs show). */
export function gridTypes(): GridEntry[] {
  return [...registry.values()];
}

/**
 * The times of a grid spec on a process: non-increasing t_0 ≥ … ≥ t_N inside [tZero, tMax], N = steps
 * (or the given times for `explicit`). Throws a UsageError for an unknown type, steps outside
 * 1..LIMITS.steps, or times that fail `checkGrid`.
 */
export function makeGrid(p: Process, spec: GridSpec): Float64Array {
  const e = registry.get(spec.type);
  if (!e) {
    throw new UsageError(`unknown grid "${spec.type}"; accepted: ${[...registry.keys()].join(', ')}`);
  }
  if (spec.type !== 'explicit' && !(Number.isInteger(spec.steps) && spec.steps >= 1 && spec.steps <= LIMITS.steps)) {
    throw new UsageError(`steps must be an integer from 1 to ${LIMITS.steps}, got ${spec.steps}`);
  }
  if (spec.type === 'explicit' && spec.times.length > LIMITS.steps + 1) {
    throw new UsageError(`an explicit grid may have at most ${LIMITS.steps + 1} times, got ${spec.times.length}`);
  }
  const g = e.build(p, spec, makeGrid);
  checkGrid(p, g);
  return g;
}

