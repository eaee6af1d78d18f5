import { GaussianMixture } from '../../src/models/oracle/gmm.js';
import { FullGaussianMixture, FullGmmOracle } from '../../src/models/oracle/full-gmm.js';
import {
  averaging, inpainting, measure, posteriorMixture, randomProjection, type LinearMeasurement,
} from '../../src/models/oracle/posterior.js';
import { builtinProblem } from '../../src/models/oracle/builtin.js';
import { createProcess, type Process } from '../../src/process/index.js';
import { dps, pigdm } from '../../src/guidance/inverse.js';
import { sample } from '../../src/sample.js';
import type { Model } from '../../src/models/types.js';
import { Rng } from '../../src/core/rng.js';
import { medianBandwidth, mmd2, momentErrors, slicedWasserstein2 } from '../../src/metrics/distance.js';

/** Inverse problems with exact posteriors, shared by the tests and the results script. */
export interface InverseProblem {
  name: string;
  prior: FullGaussianMixture;
  measurement: LinearMeasurement;
  y: Float64Array;
  posterior: FullGaussianMixture;
}

function problem(name: string, builtin: string, meas: (d: number) => LinearMeasurement, seed: number): InverseProblem {
  const gmm = new GaussianMixture(builtinProblem(builtin));
  const measurement = meas(gmm.d);
  const y = measure(measurement, gmm.sample(1, new Rng(seed)), new Rng(seed + 1));
  return { name, prior: FullGaussianMixture.fromDiagonal(gmm), measurement, y, posterior: posteriorMixture(gmm, measurement, y) };
}

export const inverseProblems = (): InverseProblem[] => [
  problem('ring8, inpaint x₁ (s=0.05)', 'ring8', (d) => inpainting(d, [0], 0.05), 21),
  problem('moons, 1×2 projection (s=0.05)', 'moons', (d) => randomProjection(1, d, new Rng(31), 0.05), 32),
  problem('gmm16, 4×16 projection (s=0.1)', 'gmm16', (d) => randomProjection(4, d, new Rng(41), 0.1), 42),
  problem('gmm16, 4× averaging (s=0.1)', 'gmm16', (d) => averaging(d, 4, 0.1), 52),
];

export const vp: Process = createProcess({ name: 'vp', schedule: 'linear' });

export type Method = { kind: 'ideal' } | { kind: 'prior' } | { kind: 'dps'; zeta: number } | { kind: 'pigdm' };

export function methodModel(p: InverseProblem, m: Method, process: Process = vp): Model {
  const prior = new FullGmmOracle(p.prior, process);
  switch (m.kind) {
    case 'ideal':
      return new FullGmmOracle(p.posterior, process);
    case 'prior':
      return prior;
    case 'dps':
      return dps({ prior, measurement: p.measurement, y: p.y, zeta: m.zeta });
    case 'pigdm':
      return pigdm({ prior, measurement: p.measurement, y: p.y });
  }
}

export interface Scores {
  sw2: number;
  mmd2: number;
  meanErr: number;
}

const bandwidths = new WeakMap<Float64Array, number>();

/**
 * Distances of samples to the exact posterior: SW2 and MMD² against exact samples (one median-heuristic
 * bandwidth per reference set, so scores against it are comparable), mean error against the exact mean.
 */
export function score(p: InverseProblem, xs: Float64Array, reference: Float64Array): Scores {
  const d = p.prior.d;
  let h = bandwidths.get(reference);
  if (h === undefined) bandwidths.set(reference, (h = medianBandwidth(reference, d, 300)));
  return {
    sw2: slicedWasserstein2(xs, reference, d, new Rng(99), 128),
    mmd2: mmd2(xs, reference, d, h).mmd2,
    meanErr: momentErrors(xs, d, p.posterior.moments()).mean,
  };
}

export async function runMethod(p: InverseProblem, m: Method, sampler: string, steps: number, n: number, seed: number) {
  const r = await sample({ model: methodModel(p, m), process: vp, sampler, steps, n, seed });
  return { x: r.x.data, nfe: r.nfe };
}
