import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import type { LinearMeasurement } from '../models/oracle/posterior.js';
import type { ExactClassifier } from '../models/oracle/posterior.js';
import { Denoiser } from '../models/denoiser.js';
import { matTVec, matVec } from '../core/linalg.js';
import { axpy, lin2 } from '../core/vec.js';
import { usage } from '../core/errors.js';

/** ∇_{x̂0} L(x̂0) of a steering cost for n samples (n×d): the only thing FlowChef needs of a task. */
export type CostGradient = (x0: Float64Array, n: number) => Float64Array;

/** L = ½‖y − A x̂0‖² (Patel et al. 2024, §4.2, linear inverse problems): ∇L = Aᵀ(A x̂0 − y). */
export function measurementCost(meas: LinearMeasurement, y: ArrayLike<number>): CostGradient {
  const { m, d, A } = meas;
  usage(y.length === m, `y must have m=${m} values, got ${y.length}`);
  return (x0, n) => {
    const g = new Float64Array(n * d);
    const res = new Float64Array(m);
    const atr = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      matVec(A, m, d, x0, i * d, res);
      for (let r = 0; r < m; r++) res[r] -= y[r];
      g.set(matTVec(A, m, d, res, atr), i * d);
    }
    return g;
  };
}

/**
 * L = −log p(c | x̂0) (§4.3, classifier guidance) with an exact noisy classifier read at a fixed small
 * time `t` (the mixture's classifier at σ = 0 is a step function of x0; a little noise smooths it).
 */
export function classifierCost(classifier: ExactClassifier, label: number, t: number): CostGradient {
  return (x0, n) => classifier.gradLogProb(x0, n, t, label).map((v) => -v);
}

/** Options of {@link flowChef}. */
export interface FlowChefOptions {
  /** The model, in any prediction type (its velocity and x̂0 come from one call per step). */
  model: Model;
  /** The forward process of the model; `flow` is the rectified-flow setting of the paper. */
  process: Process;
  /** Decreasing process times t_0 > … > t_N (typically ending at σ = 0). */
  grid: Float64Array;
  /** x_T, n×d. */
  xT: Float64Array;
  /** ∇_{x̂0} L of the steering cost, e.g. {@link measurementCost} or {@link classifierCost}. */
  cost: CostGradient;
  /** s′, the steering step on x_t; 0 is the unguided flow sampler. */
  stepSize: number;
  /** Steer on the last step too (the reference code skips it); default false. */
  steerLast?: boolean;
}

/**
 * FlowChef (Patel et al. 2024, "Steering Rectified Flow Models in the Vector Field", Alg. 1 with one
 * update per step, as the authors' pixel-space code does): at each step the velocity u(x_t) and
 * x̂0 = D(x_t) come from one model call; the state moves against the cost gradient taken at x̂0 —
 * gradient skipping, ∂x̂0/∂x_t ≈ I, so no backpropagation through the model —
 *   x_t ← x_t − s′ ∇_{x̂0} L(x̂0),
 * then takes the Euler step with the velocity computed before the update: x_{t+Δt} = x_t + Δt·u.
 * Written for any process through u = (σ'/σ)x + (α' − σ'α/σ)x̂0; on `flow` it is x̂0 = x − t·u.
 * One NFE per step.
 */
export async function flowChef(o: FlowChefOptions): Promise<{ x: Float64Array; nfe: number }> {
  const { process: p, grid, cost } = o;
  const d = o.model.sampleShape.reduce((a, b) => a * b, 1);
  const n = o.xT.length / d;
  usage(Number.isInteger(n) && n >= 1, `x_T must hold n×${d} values, got ${o.xT.length}`);
  usage(o.stepSize >= 0 && Number.isFinite(o.stepSize), `FlowChef step size must be a finite number ≥ 0, got ${o.stepSize}`);
  usage(grid.length >= 2 && p.sigma(grid[0]) > 0, 'FlowChef needs a grid of at least two times starting at σ > 0');
  const denoiser = new Denoiser(o.model, p);
  const x = Float64Array.from(o.xT);
  const last = grid.length - 2;
  for (let i = 0; i <= last; i++) {
    const t = grid[i];
    const dt = grid[i + 1] - t;
    if (dt === 0) continue;
    denoiser.step = i;
    const x0 = await denoiser.denoise(x, n, t);
    const r = p.dSigma(t) / p.sigma(t);
    const u = lin2(new Float64Array(x.length), r, x, p.dAlpha(t) - r * p.alpha(t), x0);
    if (o.stepSize > 0 && (i < last || o.steerLast)) axpy(x, -o.stepSize, cost(x0, n));
    axpy(x, dt, u);
  }
  return { x, nfe: denoiser.nfe };
}
