import { resolveEnd, type GridSpec, type GridEntry } from './spec.js';
import { UsageError } from '../core/errors.js';
import type { Process } from '../process/types.js';

/** The grids this file defines (listed in grid/index.ts's registry). */
export const diffusersGrids: GridEntry[] = [];

/** NumPy's np.round: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * diffusers' timestep spacings (DDIMScheduler.set_timesteps; Lin et al. 2024, Table 2 for
 * "trailing") over a discrete process with N = tMax + 1 training steps, then the end time.
 */
export function diffusersTimesteps(
  numTrain: number, steps: number, spacing: 'linspace' | 'leading' | 'trailing', stepsOffset = 0,
): number[] {
  if (steps > numTrain) throw new UsageError(`steps (${steps}) cannot exceed the process's ${numTrain} training timesteps`);
  const out: number[] = [];
  if (spacing === 'linspace') {
    for (let i = steps - 1; i >= 0; i--) {
      out.push(roundHalfEven(steps === 1 ? 0 : ((numTrain - 1) * i) / (steps - 1)) + stepsOffset);
    }
  } else if (spacing === 'leading') {
    const ratio = Math.floor(numTrain / steps);
    for (let i = steps - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
  } else if (spacing === 'trailing') {
    const ratio = numTrain / steps;
    for (let i = 0; i < steps; i++) out.push(roundHalfEven(numTrain - i * ratio) - 1);
  } else {
    throw new UsageError(`unknown timestep_spacing "${String(spacing)}"; accepted: linspace, leading, trailing`);
  }
  return out;
}

/**
 * diffusers' multistep schedulers' timesteps (DPMSolver, DEIS, UniPC set_timesteps): "linspace" and
 * "leading" space steps + 1 points and drop the last (t = 0); "trailing" counts down from N by
 * N/steps (numpy's arange). The end time is the caller's.
 */
export function diffusersMultistepTimesteps(numTrain: number, steps: number, spacing: string, stepsOffset: number): number[] {
  if (!(Number.isInteger(steps) && steps >= 1 && steps < numTrain)) {
    throw new UsageError(`steps must be an integer in [1, ${numTrain - 1}], got ${steps}`);
  }
  const out: number[] = [];
  if (spacing === 'linspace') {
    const delta = (numTrain - 1) / steps;
    out.push(numTrain - 1);
    for (let i = steps - 1; i >= 1; i--) out.push(roundHalfEven(i * delta));
  } else if (spacing === 'leading') {
    const ratio = Math.floor(numTrain / (steps + 1));
    for (let i = steps; i >= 1; i--) out.push(i * ratio + stepsOffset);
  } else if (spacing === 'trailing') {
    const ratio = numTrain / steps;
    if (Math.ceil(numTrain / ratio) > steps) {
      throw new UsageError(
        `with timestep_spacing=trailing, diffusers rounds ${numTrain}/${steps} so that arange yields an extra timestep −1; not translated, choose another step count`,
      );
    }
    for (let i = 0; i < steps; i++) out.push(roundHalfEven(numTrain - i * ratio) - 1);
  } else {
    throw new UsageError(`unknown timestep_spacing "${spacing}"; accepted: linspace, leading, trailing`);
  }
  return out;
}

type Spec = Extract<GridSpec, { type: 'diffusers' }>;

diffusersGrids.push({
  type: 'diffusers',
  description: 'diffusers timestep_spacing linspace/leading/trailing with steps_offset (discrete VP); end zero = ᾱ 1',
  build: (p: Process, spec) => {
    const s = spec as Spec;
    if (p.name !== 'vp-discrete') throw new UsageError(`the diffusers grid needs process vp-discrete, not ${p.name}`);
    const ts = diffusersTimesteps(p.tMax + 1, s.steps, s.spacing ?? 'leading', s.stepsOffset ?? 0);
    const { tEnd, appendZero } = resolveEnd(p, s.end ?? 'zero');
    ts.push(appendZero ? p.tZero : tEnd);
    return Float64Array.from(ts);
  },
});
