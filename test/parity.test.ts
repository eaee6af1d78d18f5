import { describe, expect, it } from 'vitest';
import { refs, relRms, maxAbs, type RefCase } from './support/refs.js';
import { runCase } from './support/parity.js';
import { findReference } from '../src/samplers/index.js';
import { sigmaVe } from '../src/grid/basic.js';
import { createProcess } from '../src/process/index.js';

/**
 * One test per case of shared/refs/refs_ring8.json: Diffuse reproduces diffusers, k-diffusion and
 * DPM-Solver outputs from the same config and z, with the same timesteps/sigmas and NFE.
 * diffusers keeps its coefficients in float32, hence its looser tolerance.
 */
const tolerance: Record<RefCase['library'], number> = { diffusers: 1e-5, 'k-diffusion': 1e-9, 'dpm-solver': 1e-9 };

const cases = refs().cases;

describe('parity with reference implementations', () => {
  it('covers every case in the file', () => {
    expect(cases.length).toBeGreaterThan(100);
  });
  for (const c of cases) {
    if (!hasTranslation(c)) {
      it.todo(`${c.library} ${c.label} steps=${c.steps} (no translation yet)`);
      continue;
    }
    it(`${c.library} ${c.label} steps=${c.steps}`, async () => {
      const { result, translation, timesteps } = await runCase(c);
      expect(result.nfe).toBe(c.nfe);
      if (c.timesteps) {
        expect(timesteps).toHaveLength(c.timesteps.length);
        expect(maxAbs(timesteps, c.timesteps)).toBeLessThanOrEqual(1e-9 * 1000);
      }
      if (c.sigmas) {
        const p = createProcess(translation.process);
        const ours = Array.from(result.grid, (t) => sigmaVe(p, t));
        const theirs = c.sigmas.map(Number);
        expect(ours).toHaveLength(theirs.length);
        for (let i = 0; i < theirs.length; i++) {
          expect(Math.abs(ours[i] - theirs[i])).toBeLessThanOrEqual(tolerance[c.library] * Math.max(1, theirs[i]));
        }
      }
      const expected = c.output.flat();
      expect(relRms(result.x.data, expected)).toBeLessThanOrEqual(tolerance[c.library]);
    });
  }
});

function hasTranslation(c: RefCase): boolean {
  try {
    findReference(c.library, c.sampler);
    return true;
  } catch {
    return false;
  }
}
