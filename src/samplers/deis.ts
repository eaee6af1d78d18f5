import { entry, type ReferenceMapping, type SampleContext } from './types.js';
import { diffusersMultistepGrid, diffusersProcess, diffusersX0, modelTimeOf, rejectFlags } from './diffusers.js';
import { processX0, validateX0, x0Defaults, type X0Options } from './x0.js';
import { UsageError } from '../core/errors.js';
import { lin2, linN } from '../core/vec.js';
import { cos, exp, log1p, pow } from '../core/math.js';

/**
 * DEIS (Zhang & Chen 2023, "Fast Sampling of Diffusion Models with Exponential Integrator"):
 * in x/α and ρ = σ/α the probability-flow ODE reads d(x/α)/dρ = ε̂, so a step from s to t is
 *   x_t/α_t = x_s/α_s + ∫_{ρ_s}^{ρ_t} ε̂ dρ,
 * with ε̂ replaced by the polynomial through the last `order` ε values (exponential Adams–Bashforth).
 * basis "logrho" interpolates in log ρ = −λ (diffusers' DEISMultistepScheduler, solver_type
 * "logrho"); basis "rho" interpolates in ρ (the paper's ρAB-DEIS); basis "tab" interpolates in the
 * time τ of a linear-β VP process with ρ(τ) = σ (the paper's tAB-DEIS as ComfyUI's sample_deis maps
 * EDM σ's to it, with σ_min = 0.002, σ_max = 80, ε_s = 10⁻³). Order 1 is DDIM.
 */
export interface DeisOptions extends X0Options {
  [k: string]: number | string | boolean;
  order: number;
  basis: 'logrho' | 'rho' | 'tab';
  /** Lower the order of the last steps (last: 1, second-to-last: ≤ 2) on grids of fewer than lowerOrderFinalSteps steps. */
  lowerOrderFinal: boolean;
  /** diffusers' DEISMultistepScheduler uses 15. */
  lowerOrderFinalSteps: number;
  /** The step to σ = 0 is first order: it returns the model's x̂0 (ComfyUI's sample_deis). */
  denoiseLast: boolean;
}

/**
 * tAB-DEIS's time: τ(ρ) of the linear-β VP process with σ_VE(τ) = ρ that ComfyUI's edm2t builds
 * (Song et al. 2021's VP σ inverse with β_d, β_min fitted to σ_min = 0.002 at τ = ε_s = 10⁻³ and
 * σ_max = 80 at τ = 1).
 */
const TAB = (() => {
  const [sigmaMin, sigmaMax, epsS] = [0.002, 80, 1e-3];
  const betaD = (2 * (log1p(sigmaMin * sigmaMin) / epsS - log1p(sigmaMax * sigmaMax))) / (epsS - 1);
  const betaMin = log1p(sigmaMax * sigmaMax) - 0.5 * betaD;
  return { tau: (rho: number) => (Math.sqrt(betaMin * betaMin + 2 * betaD * log1p(rho * rho)) - betaMin) / betaD };
})();

/** Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_n from the Chebyshev guesses). */
function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < n; i++) {
    let x = cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let it = 0; it < 100; it++) {
      let [p0, p1] = [1, x];
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    nodes.push(x);
    weights.push(2 / ((1 - x * x) * dp * dp));
  }
  return { nodes, weights };
}

const GL = gaussLegendre(32);

/** c_j = α_t ∫_{ρ_s}^{ρ_t} ℓ_j(τ(ρ)) dρ, ℓ_j the Lagrange basis over the nodes τ(ρ_m) (tab basis). */
function tabWeights(rhos: readonly number[], rhoT: number, alphaT: number): number[] {
  const taus = rhos.map(TAB.tau);
  const [a, b] = [rhos[0], rhoT];
  const out = new Array<number>(rhos.length).fill(0);
  GL.nodes.forEach((u, q) => {
    const rho = 0.5 * (a + b) + 0.5 * (b - a) * u;
    const tau = TAB.tau(rho);
    const w = 0.5 * (b - a) * GL.weights[q];
    taus.forEach((tj, j) => {
      let l = 1;
      taus.forEach((tm, m) => {
        if (m !== j) l *= (tau - tm) / (tj - tm);
      });
      out[j] += w * l;
    });
  });
  return out.map((c) => alphaT * c);
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
  if (basis === 'tab') return tabWeights(lambdas.map((l) => exp(-l)), exp(-lambdaT), alphaT);
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
    ctx.step(i, steps, x);
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
    const order = o.denoiseLast && p.sigma(s) === 0 ? 1 : Math.min(o.order, eps.length, finalOrders ? steps - i : Infinity);
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
    description: 'DEIS multistep exponential integrator (Adams–Bashforth in ρ = σ/α, polynomial in log ρ, ρ or the VP time τ), orders 1–3',
    cite: 'Zhang & Chen 2023, Fast Sampling of Diffusion Models with Exponential Integrator (ρAB- and tAB-DEIS)',
    order: 2,
    stochastic: false,
    defaults: { ...x0Defaults, order: 2, basis: 'logrho', lowerOrderFinal: true, lowerOrderFinalSteps: 15, denoiseLast: false },
    choices: { basis: ['logrho', 'rho', 'tab'] },
    validate,
    run: deis,
    references: [fromDiffusersDeis],
  }),
];
