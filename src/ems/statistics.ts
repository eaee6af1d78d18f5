import type { Ems, EmsProvenance } from './ems.js';

/**
 * Moments of the per-sample quantities at one λ node from which the EMS follow (Zheng et al. 2023,
 * Eq. 6–7): y = x/α, the denoiser x̂0, its derivative along the PF-ODE d = dx̂0/dλ, and an
 * estimate τ of tr ∂x̂0/∂y. f = (1 − l)y − x̂0 and f^(1) = −l'y + (1 − l)(x̂0 − y) − d are linear
 * in (y, x̂0, d) once l is known, so their (co)variances follow from these sums.
 */
class NodeMoments {
  count = 0;
  tau = 0;
  tau2 = 0;
  readonly y: Float64Array;
  readonly x: Float64Array;
  readonly d: Float64Array;
  /** Σ over samples and elements of the products yy, yx, yd, xx, xd. */
  yy = 0;
  yx = 0;
  yd = 0;
  xx = 0;
  xd = 0;
  constructor(dim: number) {
    this.y = new Float64Array(dim);
    this.x = new Float64Array(dim);
    this.d = new Float64Array(dim);
  }
}

export class EmsAccumulator {
  private readonly nodes: NodeMoments[];
  constructor(
    readonly lambda: readonly number[],
    readonly dim: number,
  ) {
    this.nodes = lambda.map(() => new NodeMoments(dim));
  }

  /** Add n samples at node j: rows of y, x̂0, dx̂0/dλ (n × dim) and the trace estimates τ (n). */
  add(j: number, n: number, y: Float64Array, x0: Float64Array, dx0: Float64Array, tau: ArrayLike<number>): void {
    const m = this.nodes[j];
    const D = this.dim;
    for (let i = 0; i < n; i++) {
      m.count++;
      m.tau += tau[i];
      m.tau2 += tau[i] * tau[i];
      for (let k = i * D, e = 0; e < D; k++, e++) {
        const a = y[k];
        const b = x0[k];
        const c = dx0[k];
        m.y[e] += a;
        m.x[e] += b;
        m.d[e] += c;
        m.yy += a * a;
        m.yx += a * b;
        m.yd += a * c;
        m.xx += b * b;
        m.xd += b * c;
      }
    }
  }

  /** l from the traces, l' by differences on the λ grid, then s and b as least-squares fits. */
  finish(provenance: EmsProvenance): Ems {
    const D = this.dim;
    const l = this.nodes.map((m) => 1 - m.tau / m.count / D);
    const lStdErr = this.nodes.map((m) => {
      const mean = m.tau / m.count;
      const v = m.count > 1 ? Math.max(0, (m.tau2 - m.count * mean * mean) / (m.count - 1)) : 0;
      return Math.sqrt(v / m.count) / D;
    });
    const dl = slopes(this.lambda, l);
    const s: number[] = [];
    const b: number[][] = [];
    this.nodes.forEach((m, j) => {
      const fit = linearFit(m, 1 - l[j], dl[j], D);
      s.push(fit.s);
      b.push(fit.b);
    });
    return { lambda: [...this.lambda], l, s, b, lStdErr, provenance };
  }
}

/** dl/dλ at each node: central differences inside, one-sided at the ends (0 for one node). */
function slopes(x: readonly number[], y: readonly number[]): number[] {
  const m = x.length;
  if (m < 2) return [0];
  return y.map((_, j) => {
    const a = Math.max(0, j - 1);
    const c = Math.min(m - 1, j + 1);
    return (y[c] - y[a]) / (x[c] - x[a]);
  });
}

/**
 * Bound on |s|. Where l absorbs the Gaussian part of the data (λ → −∞ for data of mean 0), f is
 * nearly 0 and the fit s = Cov/Var is a ratio of two vanishing, noisy moments (values in the
 * thousands were measured on ring8 with 256 samples); e^{∫s} then overflows the solver's weights.
 * A heuristic bound (not in the paper): at ±4 ring8 at NFE 5 still diverged, at ±2 it is 7×
 * more accurate than DPM-Solver++; gmm16's fit reaches −2.2 at high λ and is barely changed.
 */
const MAX_S = 2;

/**
 * s = Cov(f^(1), f)/Var(f) and b = E f^(1) − s·E f (Zheng et al. 2023, Eq. 7), with a = 1 − l and
 * f = a·y − x̂0, f^(1) = −(l' + a)·y + a·x̂0 − d. Var(f) = 0 (e.g. a point mass: f is constant)
 * gives s = 0; the fit is clamped to ±MAX_S.
 */
function linearFit(m: NodeMoments, a: number, dl: number, D: number): { s: number; b: number[] } {
  const n = m.count;
  const mean = (v: Float64Array) => Array.from(v, (t) => t / n);
  const my = mean(m.y);
  const mx = mean(m.x);
  const md = mean(m.d);
  const dot = (u: number[], v: number[]) => u.reduce((acc, t, e) => acc + t * v[e], 0);
  const cyy = m.yy / n - dot(my, my);
  const cyx = m.yx / n - dot(my, mx);
  const cyd = m.yd / n - dot(my, md);
  const cxx = m.xx / n - dot(mx, mx);
  const cxd = m.xd / n - dot(mx, md);
  const p = -(dl + a);
  const varF = a * a * cyy - 2 * a * cyx + cxx;
  const cov = p * a * cyy + (a * a - p) * cyx - a * cxx - a * cyd + cxd;
  const fMean = my.map((v, e) => a * v - mx[e]);
  const meanSq = varF + dot(fMean, fMean);
  const fit = varF > 1e-14 * meanSq ? cov / varF : 0;
  const s = Math.max(-MAX_S, Math.min(MAX_S, fit));
  const b: number[] = new Array<number>(D);
  for (let e = 0; e < D; e++) b[e] = p * my[e] + a * mx[e] - md[e] - s * fMean[e];
  return { s, b };
}
