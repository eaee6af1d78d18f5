import { checkEms, type Ems } from './ems.js';

/** 8-point Gauss–Legendre nodes and weights on [−1, 1]. */
const GL_X = [-0.9602898564975363, -0.7966664774136267, -0.525532409916329, -0.1834346424956498, 0.1834346424956498, 0.525532409916329, 0.7966664774136267, 0.9602898564975363];
const GL_W = [0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620, 0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763];

/** Widest quadrature piece in λ: 8-point Gauss–Legendre integrates e^{λ}·(polynomial) on it to rounding. */
const MAX_PIECE = 0.5;

/** Quadrature nodes λ_q and (signed) weights w_q for ∫_a^b, with the piece each node lies in. */
export interface Quadrature {
  x: number[];
  w: number[];
  /** Piece boundaries p_0 = a, …, p_m = b; node q lies in piece floor(q/8). */
  bounds: number[];
}

/**
 * The EMS as functions of λ (linear between nodes, constant outside) with the exact integrals
 * L_λ = ∫ l dλ and S_λ = ∫ s dλ, and composite Gauss–Legendre quadrature that breaks at the nodes,
 * where the interpolants have kinks. The official code instead integrates with the trapezoid rule
 * on the statistics' own grid and moves the sampling times onto it; here any grid is allowed.
 */
export class EmsCurve {
  readonly lambda: Float64Array;
  readonly l: Float64Array;
  readonly s: Float64Array;
  /** b rows, or undefined when b ≡ 0. */
  readonly b: Float64Array[] | undefined;
  private readonly cumL: Float64Array;
  private readonly cumS: Float64Array;

  constructor(ems: Ems, dim?: number) {
    checkEms(ems, dim);
    this.lambda = Float64Array.from(ems.lambda);
    this.l = Float64Array.from(ems.l);
    this.s = Float64Array.from(ems.s);
    this.b = ems.b && ems.b.some((row) => row.some((v) => v !== 0)) ? ems.b.map((row) => Float64Array.from(row)) : undefined;
    this.cumL = cumulative(this.lambda, this.l);
    this.cumS = cumulative(this.lambda, this.s);
  }

  get size(): number {
    return this.lambda.length;
  }

  /** Index j of the interval [λ_j, λ_j+1] holding λ (−1 left of the grid, size − 1 right of it). */
  private interval(lam: number): number {
    const g = this.lambda;
    if (lam < g[0]) return -1;
    let lo = 0;
    let hi = g.length - 1;
    if (lam >= g[hi]) return hi;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (g[mid] <= lam) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /** Interpolation weights: the value at λ is (1 − θ)·v_j + θ·v_{j+1}. */
  weights(lam: number): { j: number; theta: number } {
    const j = this.interval(lam);
    if (j < 0) return { j: 0, theta: 0 };
    if (j >= this.size - 1) return { j: this.size - 1, theta: 0 };
    return { j, theta: (lam - this.lambda[j]) / (this.lambda[j + 1] - this.lambda[j]) };
  }

  private value(v: Float64Array, lam: number): number {
    const { j, theta } = this.weights(lam);
    return theta === 0 ? v[j] : (1 - theta) * v[j] + theta * v[j + 1];
  }

  lAt(lam: number): number {
    return this.value(this.l, lam);
  }

  /** ∫_{λ_0}^{λ} of the interpolant v, exact (piecewise quadratic). */
  private integral(v: Float64Array, cum: Float64Array, lam: number): number {
    const g = this.lambda;
    const j = this.interval(lam);
    if (j < 0) return v[0] * (lam - g[0]);
    const u = lam - g[j];
    if (j >= this.size - 1) return cum[j] + v[j] * u;
    const slope = (v[j + 1] - v[j]) / (g[j + 1] - g[j]);
    return cum[j] + v[j] * u + 0.5 * slope * u * u;
  }

  L(lam: number): number {
    return this.integral(this.l, this.cumL, lam);
  }

  S(lam: number): number {
    return this.integral(this.s, this.cumS, lam);
  }

  /** Composite 8-point Gauss–Legendre for ∫_a^b (a > b allowed), breaking at the EMS nodes. */
  quadrature(a: number, b: number): Quadrature {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    const cuts = [lo, ...Array.from(this.lambda).filter((v) => v > lo && v < hi), hi];
    const bounds: number[] = [lo];
    for (let i = 1; i < cuts.length; i++) {
      const m = Math.max(1, Math.ceil((cuts[i] - cuts[i - 1]) / MAX_PIECE));
      for (let k = 1; k <= m; k++) bounds.push(k === m ? cuts[i] : cuts[i - 1] + ((cuts[i] - cuts[i - 1]) * k) / m);
    }
    if (b < a) bounds.reverse();
    const x: number[] = [];
    const w: number[] = [];
    for (let i = 1; i < bounds.length; i++) {
      const mid = 0.5 * (bounds[i] + bounds[i - 1]);
      const half = 0.5 * (bounds[i] - bounds[i - 1]);
      for (let q = 0; q < GL_X.length; q++) {
        x.push(mid + half * GL_X[q]);
        w.push(half * GL_W[q]);
      }
    }
    return { x, w, bounds };
  }

  /** ∫_a^b F(λ) dλ by one 8-point Gauss–Legendre rule: for F smooth on [a, b] (inside one piece). */
  static integrateSmooth(a: number, b: number, F: (lam: number) => number): number {
    const mid = 0.5 * (a + b);
    const half = 0.5 * (b - a);
    let sum = 0;
    for (let q = 0; q < GL_X.length; q++) sum += GL_W[q] * F(mid + half * GL_X[q]);
    return half * sum;
  }

  /** Add w·φ_j(λ) to c_j for the hat functions φ_j of the nodes (a term w·b_λ as node weights). */
  addWeights(c: Float64Array, lam: number, w: number): void {
    const { j, theta } = this.weights(lam);
    c[j] += (1 - theta) * w;
    if (theta !== 0) c[j + 1] += theta * w;
  }
}

/** ∫_{λ_0}^{λ_j} of the piecewise-linear interpolant at every node. */
function cumulative(g: Float64Array, v: Float64Array): Float64Array {
  const out = new Float64Array(g.length);
  for (let j = 1; j < g.length; j++) out[j] = out[j - 1] + 0.5 * (v[j] + v[j - 1]) * (g[j] - g[j - 1]);
  return out;
}
