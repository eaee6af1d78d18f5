import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { diffusersMultistepGrid, diffusersProcess, diffusersX0, modelTimeOf, rejectFlags } from './diffusers.js';
import { processX0, validateX0, x0Defaults, type X0Options } from './x0.js';
import { UsageError } from '../core/errors.js';
import { lin2, linN } from '../core/vec.js';
import { exp, pow } from '../core/math.js';

/**
 * DEIS (Zhang & Chen 2023, "Fast Sampling of Diffusion Models with Exponential Integrator"):
 * in x/α and ρ = σ/α the probability-flow ODE reads d(x/α)/dρ = ε̂, so a step from s to t is
 *   x_t/α_t = x_s/α_s + ∫_{ρ_s}^{ρ_t} ε̂ dρ,
 * with ε̂ replaced by the polynomial through the last `order` ε values (exponential Adams–Bashforth).
 * basis "logrho" interpolates in log ρ = −λ (diffusers' DEISMultistepScheduler, solver_type
 * "logrho"); basis "rho" interpolates in ρ (the paper's ρAB-DEIS). Order 1 is DDIM.
 */
export interface DeisOptions extends X0Options {
  [k: string]: number | string | boolean;
  order: number;
  basis: 'logrho' | 'rho';
  /** Lower the order of the last steps (last: 1, second-to-last: ≤ 2) on grids of fewer than lowerOrderFinalSteps steps. */
  lowerOrderFinal: boolean;
  /** diffusers' DEISMultistepScheduler uses 15. */
  lowerOrderFinalSteps: number;
}

/** Coefficients of Π_m (w + c_m)/d_m as a polynomial in w, lowest power first. */
function lagrangePolynomial(roots: readonly number[], scale: number): number[] {
  let poly = [1 / scale];
  for (const c of roots) {
    const next = new Array<number>(poly.length + 1).fill(0);
    poly.forEach((a, k) => {
      next[k] += a * c;
      next[k + 1] += a;
    });
    poly = next;
  }
  return poly;
}

/**
 * ∫_0^h e^{−w} w^k dw = γ(k+1, h) for k = 0..n−1: the series e^{−h} Σ_j h^{k+1+j}/((k+1)…(k+1+j))
 * is free of cancellation for small h; for large h the closed form k!(1 − e^{−h} Σ_{m≤k} h^m/m!) is.
 */
function lowerGamma(n: number, h: number): number[] {
  const out: number[] = [];
  let factorial = 1;
  for (let k = 0; k < n; k++) {
    if (k > 0) factorial *= k;
    if (h === Infinity) {
      out.push(factorial);
    } else if (h > 40) {
      let partial = 0;
      let term = 1;
      for (let m = 0; m <= k; m++, term *= h / m) partial += term;
      out.push(factorial * (1 - exp(-h) * partial));
    } else {
      let term = pow(h, k + 1) / (k + 1);
      let sum = 0;
      for (let j = 1; term > 1e-17 * sum; j++) {
        sum += term;
        term *= h / (k + 1 + j);
      }
      out.push(exp(-h) * sum);
    }
  }
  return out;
}

/**
 * Weights c_j with x_t = (α_t/α_s) x_s + Σ_j c_j ε_j (ε_0 at s, ε_j at earlier times s_j).
 * logrho: with w = λ − λ_s, ρ = ρ_s e^{−w} and the nodes at w = −v_j, v_j = λ_s − λ_{s_j},
 *   c_j = −α_t ρ_s ∫_0^h e^{−w} ℓ_j(w) dw,  ℓ_j(w) = Π_{m≠j} (w + v_m)/(v_m − v_j).
 * rho: c_j = α_t ∫_{ρ_s}^{ρ_t} ℓ_j(ρ) dρ with the Lagrange basis in ρ, integrated exactly.
 */
function deisWeights(basis: DeisOptions['basis'], lambdas: readonly number[], lambdaT: number, alphaT: number): number[] {
  const [lambdaS] = lambdas;
  const rhoS = exp(-lambdaS);
  if (basis === 'logrho') {
    const v = lambdas.map((l) => lambdaS - l);
    const gamma = lowerGamma(lambdas.length, lambdaT - lambdaS);
    return v.map((vj, j) => {
      const others = v.filter((_, m) => m !== j);
      const poly = lagrangePolynomial(others, others.reduce((d, vm) => d * (vm - vj), 1));
      return -alphaT * rhoS * poly.reduce((acc, a, k) => acc + a * gamma[k], 0);
    });
  }
  const r = lambdas.map((l) => exp(-l) - rhoS);
  const delta = exp(-lambdaT) - rhoS;
  return r.map((rj, j) => {
    const others = r.filter((_, m) => m !== j);
    const poly = lagrangePolynomial(others.map((rm) => -rm), others.reduce((d, rm) => d * (rj - rm), 1));
    return alphaT * poly.reduce((acc, a, k) => acc + (a * pow(delta, k + 1)) / (k + 1), 0);
  });
}

async function deis(x: Float64Array, grid: Float64Array, ctx: SampleContext, o: DeisOptions): Promise<Float64Array> {
  const p = ctx.process;
  const steps = grid.length - 1;
  const eps: Float64Array[] = [];
  const lambdas: number[] = [];
  const finalOrders = o.lowerOrderFinal && steps < o.lowerOrderFinalSteps;
  for (let i = 0; i < steps; i++) {
    ctx.step(i, steps);
    const t = grid[i];
    const s = grid[i + 1];
    const x0 = processX0(await ctx.denoise(x, t), ctx.n, o);
    const e = lin2(new Float64Array(x.length), 1 / p.sigma(t), x, -p.alpha(t) / p.sigma(t), x0);
    if (i > 0 && grid[i - 1] === t) eps.shift();
    else lambdas.unshift(p.logSnr(t));
    eps.unshift(e);
    if (eps.length > o.order) {
      eps.pop();
      lambdas.pop();
    }
    if (s === t) continue;
    const order = Math.min(o.order, eps.length, finalOrders ? steps - i : Infinity);
    const weights = deisWeights(o.basis, lambdas.slice(0, order), p.logSnr(s), p.alpha(s));
    const out = linN(new Float64Array(x.length), weights, eps.slice(0, order));
    x = lin2(out, p.alpha(s) / p.alpha(t), x, 1, out);
  }
  return x;
}

function validate(o: DeisOptions): void {
  validateX0(o);
  if (!(Number.isInteger(o.order) && o.order >= 1 && o.order <= 3)) {
    throw new UsageError(`deis order must be 1, 2 or 3, got ${o.order}`);
  }
  if (!(Number.isInteger(o.lowerOrderFinalSteps) && o.lowerOrderFinalSteps >= 0)) {
    throw new UsageError(`lowerOrderFinalSteps must be an integer ≥ 0, got ${o.lowerOrderFinalSteps}`);
  }
}

const fromDiffusersDeis: ReferenceMapping = {
  library: 'diffusers',
  name: 'DEISMultistepScheduler',
  translate(c, steps) {
    rejectFlags(c, 'DEISMultistepScheduler', ['use_flow_sigmas', 'use_dynamic_shifting']);
    return {
      sampler: 'deis',
      options: {
        order: Number(c.solver_order ?? 2),
        basis: 'logrho',
        lowerOrderFinal: c.lower_order_final !== false,
        lowerOrderFinalSteps: 15,
        ...diffusersX0(c),
      },
      process: diffusersProcess(c, 'DEISMultistepScheduler'),
      // diffusers' DEIS ends at ᾱ_0, the first training timestep (t = 0)
      grid: diffusersMultistepGrid(c, 'DEISMultistepScheduler', steps, 0),
      ...modelTimeOf(c),
    };
  },
};

export const deisSamplers = [
  entry({
    name: 'deis',
    aliases: ['DEISMultistepScheduler', 'DEIS'],
    family: 'deis',
    description: 'DEIS multistep exponential integrator (Adams–Bashforth in ρ = σ/α, polynomial in log ρ or ρ), orders 1–3',
    cite: 'Zhang & Chen 2023, Fast Sampling of Diffusion Models with Exponential Integrator (ρAB-DEIS)',
    order: 2,
    stochastic: false,
    defaults: { ...x0Defaults, order: 2, basis: 'logrho', lowerOrderFinal: true, lowerOrderFinalSteps: 15 },
    choices: { basis: ['logrho', 'rho'] },
    validate,
    run: deis,
    references: [fromDiffusersDeis],
  }),
];
