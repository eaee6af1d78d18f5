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
 * The EMS as functions of λ — natural cubic splines through the node values (C², constant outside
 * the nodes) — with the exact integrals L_λ = ∫ l dλ and S_λ = ∫ s dλ, and composite Gauss–Legendre
 * quadrature that breaks at the nodes, where the third derivatives jump. The smoothness sets the order:
 * g inherits it, and a multistep step of order p crossing a node keeps its local error O(h^{p+1}) only
 * when g^{(p−1)} is continuous there — piecewise-linear EMS (kinks in g) cap the solver at order 2 and
 * make its error depend on where the grid falls between nodes. A spline is linear in the node values, so
 * b enters an update as weights on its nodes. The official code instead integrates with the trapezoid
 * rule on the statistics' own grid and moves the sampling times onto it; here any grid is allowed.
 */
export class EmsCurve {
  readonly lambda: Float64Array;
  readonly l: Float64Array;
  readonly s: Float64Array;
  /** b rows, or undefined when b ≡ 0. */
  readonly b: Float64Array[] | undefined;
  /** Row j: the spline's second derivative at node j as weights on the node values (size × size). */
  private readonly curvature: Float64Array[];
  private readonly ml: Float64Array;
  private readonly ms: Float64Array;
  private readonly cumL: Float64Array;
  private readonly cumS: Float64Array;

  constructor(ems: Ems, dim?: number) {
    checkEms(ems, dim);
    this.lambda = Float64Array.from(ems.lambda);
    this.l = Float64Array.from(ems.l);
    this.s = Float64Array.from(ems.s);
    this.b = ems.b && ems.b.some((row) => row.some((v) => v !== 0)) ? ems.b.map((row) => Float64Array.from(row)) : undefined;
    this.curvature = naturalSplineCurvature(this.lambda);
    this.ml = Float64Array.from(this.curvature, (row) => dot(row, this.l));
    this.ms = Float64Array.from(this.curvature, (row) => dot(row, this.s));
    this.cumL = this.cumulative(this.l, this.ml);
    this.cumS = this.cumulative(this.s, this.ms);
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

  /**
   * Coefficients [a, b, c, d] of v_j, v_{j+1}, M_j, M_{j+1} in the spline on interval j at t ∈ [0, 1]
   * (value) or in its integral from λ_j (integral).
   */
  private coefficients(j: number, t: number, integral: boolean): [number, number, number, number] {
    const H = this.lambda[j + 1] - this.lambda[j];
    const u = 1 - t;
    if (!integral) return [u, t, ((u * u * u - u) * H * H) / 6, ((t * t * t - t) * H * H) / 6];
    const h3 = (H * H * H) / 6;
    return [H * (t - (t * t) / 2), (H * t * t) / 2, h3 * ((u * u) / 2 - (u * u * u * u) / 4 - 0.25), h3 * ((t * t * t * t) / 4 - (t * t) / 2)];
  }

  private evaluate(v: Float64Array, m: Float64Array, j: number, t: number, integral: boolean): number {
    const [a, b, c, d] = this.coefficients(j, t, integral);
    return a * v[j] + b * v[j + 1] + c * m[j] + d * m[j + 1];
  }

  private cumulative(v: Float64Array, m: Float64Array): Float64Array {
    const out = new Float64Array(v.length);
    for (let j = 1; j < v.length; j++) out[j] = out[j - 1] + this.evaluate(v, m, j - 1, 1, true);
    return out;
  }

  /** (interval, t), or the end node when λ lies outside the nodes. */
  private locate(lam: number): { j: number; t: number } | { end: number } {
    const j = this.interval(lam);
    if (j < 0) return { end: 0 };
    if (j >= this.size - 1) return { end: this.size - 1 };
    return { j, t: (lam - this.lambda[j]) / (this.lambda[j + 1] - this.lambda[j]) };
  }

  /** l_λ: the spline through the l nodes at λ (the end value outside them). */
  lAt(lam: number): number {
    const at = this.locate(lam);
    return 'end' in at ? this.l[at.end] : this.evaluate(this.l, this.ml, at.j, at.t, false);
  }

  /** ∫_{λ_0}^{λ} of the spline v, exact (piecewise quartic). */
  private integral(v: Float64Array, m: Float64Array, cum: Float64Array, lam: number): number {
    const g = this.lambda;
    const j = this.interval(lam);
    if (j < 0) return v[0] * (lam - g[0]);
    if (j >= this.size - 1) return cum[j] + v[j] * (lam - g[j]);
    return cum[j] + this.evaluate(v, m, j, (lam - g[j]) / (g[j + 1] - g[j]), true);
  }

  /** L_λ = ∫_{λ_0}^{λ} l dλ' from the first node, exact for the spline. */
  L(lam: number): number {
    return this.integral(this.l, this.ml, this.cumL, lam);
  }

  /** S_λ = ∫_{λ_0}^{λ} s dλ' from the first node, exact for the spline. */
  S(lam: number): number {
    return this.integral(this.s, this.ms, this.cumS, lam);
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

  /** Add w·φ_k(λ) to c_k for the cardinal splines φ_k of the nodes (a term w·b_λ as node weights). */
  addWeights(c: Float64Array, lam: number, w: number): void {
    const at = this.locate(lam);
    if ('end' in at) {
      c[at.end] += w;
      return;
    }
    const [a, b, cj, cj1] = this.coefficients(at.j, at.t, false);
    c[at.j] += a * w;
    c[at.j + 1] += b * w;
    const rj = this.curvature[at.j];
    const rj1 = this.curvature[at.j + 1];
    for (let k = 0; k < c.length; k++) c[k] += w * (cj * rj[k] + cj1 * rj1[k]);
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The natural cubic spline's second derivatives M (M_0 = M_{n−1} = 0) as a linear map of the node
 * values: row j holds the weights of M_j. Each column solves the tridiagonal continuity system
 *   h_{j−1}/6·M_{j−1} + (h_{j−1} + h_j)/3·M_j + h_j/6·M_{j+1} = (v_{j+1} − v_j)/h_j − (v_j − v_{j−1})/h_{j−1}
 * for a unit vector v (Thomas algorithm).
 */
function naturalSplineCurvature(g: Float64Array): Float64Array[] {
  const n = g.length;
  const rows = Array.from({ length: n }, () => new Float64Array(n));
  const m = n - 2;
  if (m <= 0) return rows;
  const h = Float64Array.from({ length: n - 1 }, (_, j) => g[j + 1] - g[j]);
  const diag = Float64Array.from({ length: m }, (_, i) => (h[i] + h[i + 1]) / 3);
  const cPrime = new Float64Array(m);
  const denom = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    denom[i] = diag[i] - (i > 0 ? (h[i] / 6) * cPrime[i - 1] : 0);
    cPrime[i] = i < m - 1 ? h[i + 1] / 6 / denom[i] : 0;
  }
  const rhs = new Float64Array(m);
  const sol = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < m; i++) {
      const j = i + 1;
      rhs[i] = ((k === j + 1 ? 1 : 0) - (k === j ? 1 : 0)) / h[j] - ((k === j ? 1 : 0) - (k === j - 1 ? 1 : 0)) / h[j - 1];
    }
    for (let i = 0; i < m; i++) rhs[i] = (rhs[i] - (i > 0 ? (h[i] / 6) * rhs[i - 1] : 0)) / denom[i];
    for (let i = m - 1; i >= 0; i--) sol[i] = rhs[i] - (i < m - 1 ? cPrime[i] * sol[i + 1] : 0);
    for (let i = 0; i < m; i++) rows[i + 1][k] = sol[i];
  }
  return rows;
}
