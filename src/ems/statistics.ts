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
  /** Σ over samples and elements of the products yy, yx, yd, xx, xd, dd. */
  yy = 0;
  yx = 0;
  yd = 0;
  xx = 0;
  xd = 0;
  dd = 0;
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
        m.dd += c * c;
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
    const fits = this.nodes.map((m, j) => linearFit(m, 1 - l[j], dl[j], D));
    const s = determinedSlopes(this.lambda, fits);
    const b = fits.map((fit, j) => fit.intercept.map((v, e) => v - s[j] * fit.fMean[e]));
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
 * Largest standard error of a fitted s that the EMS keep. s = Cov(f^(1), f)/Var(f) is a regression
 * slope; where l absorbs nearly all of the data (λ → −∞ for data of mean 0) f is nearly 0 and the
 * slope is a ratio of two vanishing Monte Carlo moments: on ring8 with 256 samples it reads 767 at
 * λ = −5.1, 260 with 4096 samples and 2.9 with 16384, where the better-determined nodes give ≈ 3
 * (f ∝ α³ there). s enters the solver as e^{∫s dλ} over steps of up to h ≈ 2 in λ, so an error
 * of 0.25 changes a weight by at most e^{0.5}.
 */
const MAX_SLOPE_STD_ERR = 0.25;

interface Fit {
  /** Least-squares slope, and its standard error (∞ where Var(f) = 0). */
  slope: number;
  stdErr: number;
  /** b = intercept − s·E f for whichever s the node keeps. */
  intercept: number[];
  fMean: number[];
}

/**
 * s = Cov(f^(1), f)/Var(f) and b = E f^(1) − s·E f (Zheng et al. 2023, Eq. 7), with a = 1 − l and
 * f = a·y − x̂0, f^(1) = −(l' + a)·y + a·x̂0 − d. The standard error of the slope counts each sample
 * as one observation (its elements are not independent): √(Var(residual)/(n·Var(f))).
 */
function linearFit(m: NodeMoments, a: number, dl: number, D: number): Fit {
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
  const cdd = m.dd / n - dot(md, md);
  const p = -(dl + a);
  const varF = a * a * cyy - 2 * a * cyx + cxx;
  const cov = p * a * cyy + (a * a - p) * cyx - a * cxx - a * cyd + cxd;
  const varF1 = p * p * cyy + a * a * cxx + cdd + 2 * p * a * cyx - 2 * p * cyd - 2 * a * cxd;
  const fMean = my.map((v, e) => a * v - mx[e]);
  const meanSq = varF + dot(fMean, fMean);
  const intercept: number[] = new Array<number>(D);
  for (let e = 0; e < D; e++) intercept[e] = p * my[e] + a * mx[e] - md[e];
  if (!(varF > 1e-14 * meanSq)) return { slope: 0, stdErr: Infinity, intercept, fMean };
  const slope = cov / varF;
  const residual = Math.max(0, varF1 - slope * cov);
  return { slope, stdErr: Math.sqrt(residual / (n * varF)), intercept, fMean };
}

/**
 * Each node's fitted s where its standard error is at most MAX_SLOPE_STD_ERR; elsewhere the s of
 * the nearest node in λ where it is (the EMS are smooth in λ), or 0 where none is (e.g. a point
 * mass: f is constant, and DPM-Solver++ is optimal).
 */
function determinedSlopes(lambda: readonly number[], fits: readonly Fit[]): number[] {
  const ok = fits.map((f) => f.stdErr <= MAX_SLOPE_STD_ERR);
  return fits.map((f, j) => {
    if (ok[j]) return f.slope;
    let best = -1;
    ok.forEach((good, k) => {
      if (good && (best < 0 || Math.abs(lambda[k] - lambda[j]) < Math.abs(lambda[best] - lambda[j]))) best = k;
    });
    return best < 0 ? 0 : fits[best].slope;
  });
}
