import { describe, expect, it } from 'vitest';
import { gridTypes, makeGrid } from '../src/grid/index.js';
import { createProcess } from '../src/process/index.js';

/** This file imports grid/index.ts alone: every grid must be there without other imports registering it. */
describe('the grid registry', () => {
  it('lists every grid type from grid/index.ts alone', () => {
    expect(gridTypes().map((g) => g.type).sort()).toEqual([
      'beta', 'compvis', 'ddim-uniform', 'diffusers', 'drop-penultimate', 'explicit', 'exponential', 'flow-shift', 'karras',
      'kl-optimal', 'linear-quadratic', 'logsnr', 'normal', 'sgm-uniform', 'simple', 'time-quadratic', 'time-uniform',
    ]);
    const p = createProcess({ name: 'vp-discrete' });
    expect(makeGrid(p, { type: 'drop-penultimate', steps: 4, of: { type: 'karras', steps: 4 } })).toHaveLength(5);
  });
});
