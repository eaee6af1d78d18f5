import { PfgmDataOracle } from './oracle.js';
import { Edm } from '../process/ve.js';
import { makeGrid } from '../grid/index.js';
import { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { lin2, lin3 } from '../core/vec.js';
import { checkCount, LIMITS } from '../core/limits.js';

/** E[y | x, r = σ√D] for n samples: the exact oracle or a trained PFGM++ network (EDM-style σ input). */
export type PfgmDenoise = (x: Float64Array, n: number, sigma: number) => Float64Array | Promise<Float64Array>;

/**
 * The PFGM++ ODE dx/dr = (x − E[y | x, r])/r (Xu et al. 2023, §3) integrated with Heun steps
 * on a decreasing σ grid, r = σ√D. Since dr/r = dσ/σ this is dx/dσ = (x − E)/σ, EDM's ODE
 * (Karras et al. 2022, Eq. 1) with the PFGM++ posterior mean in place of the Gaussian one, and the
 * step is EDM's Alg. 1; the last step to σ = 0 is Euler. Returns x and the number of calls.
 */
export async function pfgmHeun(
  denoise: PfgmDenoise, xStart: Float64Array, n: number, sigmas: Float64Array,
): Promise<{ x: Float64Array; nfe: number }> {
  const x = Float64Array.from(xStart);
  let nfe = 0;
  const slope = async (y: Float64Array, sigma: number) => {
    nfe++;
    return lin2(new Float64Array(y.length), 1 / sigma, y, -1 / sigma, await denoise(y, n, sigma));
  };
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const [s, sNext] = [sigmas[i], sigmas[i + 1]];
    if (sNext === s) continue;
    const d = await slope(x, s);
    const ds = sNext - s;
    if (sNext === 0) {
      lin2(x, 1, x, ds, d);
      continue;
    }
    const d2 = await slope(lin2(new Float64Array(x.length), 1, x, ds, d), sNext);
    lin3(x, 1, x, ds / 2, d, ds / 2, d2);
  }
  return { x, nfe };
}

/** A `samplePfgm` run: the data set, D, the Karras σ grid (EDM's defaults), and the batch. */
export interface PfgmRequest {
  /** The data set y_k (each of N values). */
  points: readonly (readonly number[])[];
  /** Point weights (default equal). */
  weights?: readonly number[];
  /** Augmented dimensions D; Infinity gives EDM. Default 128 (the paper's best CIFAR-10 setting). */
  D?: number;
  /** Heun steps (NFE = 2·steps − 1); default 18 as EDM on CIFAR-10. */
  steps?: number;
  /** Number of samples (default xT's count when given, else 64). */
  n?: number;
  /** Seed of the prior draw (default 0). */
  seed?: number;
  /** Smallest nonzero σ of the grid (default 0.002). */
  sigmaMin?: number;
  /** Largest σ, where sampling starts at r_max = σ_max√D (default 80). */
  sigmaMax?: number;
  /** Karras et al. 2022, Eq. 5 exponent (default 7). */
  rho?: number;
  /** Start x at σ_max (n × N); default a draw from the PFGM++ prior at r_max = σ_max√D. */
  xT?: Float64Array;
}

/** What `samplePfgm` returns: the samples, where they started, and the cost. */
export interface PfgmResult {
  /** The n samples at σ = 0 (n × N). */
  x: Float64Array;
  /** The start at σ_max (n × N). */
  xT: Float64Array;
  /** Denoiser calls. */
  nfe: number;
  /** The σ grid (ending at 0); r = σ√D. */
  sigmas: Float64Array;
}

/**
 * PFGM++ sampling from the exact field of a finite data set: prior draw at r_max (radius from its
 * Beta-prime law, uniform direction; Xu et al. 2023, Appendix B), then Heun on the EDM σ grid.
 */
export async function samplePfgm(req: PfgmRequest): Promise<PfgmResult> {
  const { points } = req;
  if (!(points.length > 0)) throw new UsageError('samplePfgm needs at least one data point');
  const dim = points[0].length;
  if (!points.every((p) => p.length === dim)) throw new UsageError(`every data point must have N=${dim} values`);
  const oracle = new PfgmDataOracle(Float64Array.from(points.flat()), dim, req.D ?? 128, req.weights);
  const steps = req.steps ?? 18;
  const n = req.n ?? (req.xT ? req.xT.length / dim : 64);
  checkCount(n, 'n', 1, LIMITS.samples);
  const edm = new Edm({ sigmaMin: req.sigmaMin ?? 0.002, sigmaMax: req.sigmaMax ?? 80 });
  const sigmas = makeGrid(edm, { type: 'karras', steps, rho: req.rho ?? 7, end: 'zero' });
  let xT: Float64Array;
  if (req.xT) {
    if (req.xT.length !== n * dim) throw new UsageError(`x_T has ${req.xT.length} values; expected n×N = ${n}×${dim}`);
    xT = Float64Array.from(req.xT);
  } else {
    xT = oracle.process.samplePerturbation(n, sigmas[0], new Rng(req.seed ?? 0));
  }
  const { x, nfe } = await pfgmHeun((y, m, s) => oracle.denoise(y, m, s), xT, n, sigmas);
  return { x, xT, nfe, sigmas };
}
