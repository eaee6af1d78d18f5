import { GaussianMixture, type GmmSpec } from './gmm.js';
import { Rng } from '../../core/rng.js';
import * as v from 'valibot';
import { UsageError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { finite, integer, list, record, validate } from '../../io/schema.js';
import { cos, sin } from '../../core/math.js';

/**
 * Built-in problems: Gaussian mixtures whose exact denoiser and exact PF-ODE endpoints are
 * available, in the GmmSpec format of shared/refs problem files. 2-D shapes for plots, a smooth
 * high-dimensional mixture on which solvers reach their asymptotic order, and a point mass on
 * which data-prediction solvers are exact.
 */

const R = 0.707106781187;

/** The shared refs problem exactly: 8 equal-weight Gaussians of std 0.05 on the unit circle. */
function ring8(): GmmSpec {
  const means = [[1, 0], [R, R], [0, 1], [-R, R], [-1, 0], [-R, -R], [-0, -1], [R, -R]];
  return isotropic(means, 0.05);
}

/** Two interleaving half circles (scikit-learn's make_moons), 8 components each, centred and scaled by 2/3. */
function moons(): GmmSpec {
  const means: number[][] = [];
  const k = 2 / 3;
  for (let i = 0; i < 8; i++) {
    const a = (Math.PI * i) / 7;
    means.push([k * (cos(a) - 0.5), k * (sin(a) - 0.25)]);
    means.push([k * (0.5 - cos(a)), k * (0.25 - sin(a))]);
  }
  return isotropic(means, 0.06);
}

/** An Archimedean spiral r = θ/(4π), θ ∈ [π/2, 4π], 24 components. */
function spiral(): GmmSpec {
  const means: number[][] = [];
  for (let i = 0; i < 24; i++) {
    const theta = Math.PI / 2 + (3.5 * Math.PI * i) / 23;
    const r = theta / (4 * Math.PI);
    means.push([r * cos(theta), r * sin(theta)]);
  }
  return isotropic(means, 0.04);
}

/** The 8 dark squares of a 4×4 board on [−1, 1]², each made of 2×2 Gaussians. */
function checkerboard(): GmmSpec {
  const means: number[][] = [];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      if ((i + j) % 2 !== 0) continue;
      for (const [u, v] of [[0.125, 0.125], [0.125, 0.375], [0.375, 0.125], [0.375, 0.375]]) {
        means.push([-1 + 0.5 * i + u, -1 + 0.5 * j + v]);
      }
    }
  }
  return isotropic(means, 0.06);
}

/**
 * A smooth mixture in d = 16: K = 8 components, means ~ N(0, I), variances in [0.3, 1], unequal
 * weights; drawn once from a fixed seed and rounded to 6 decimals, so the spec is plain data.
 */
function gmm16(): GmmSpec {
  const d = 16;
  const K = 8;
  const rng = new Rng(16);
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  const weights = Array.from({ length: K }, () => round(0.5 + rng.uniform()));
  const means = Array.from({ length: K }, () => Array.from({ length: d }, () => round(rng.normal())));
  const variances = Array.from({ length: K }, () => Array.from({ length: d }, () => round(0.3 + 0.7 * rng.uniform())));
  return { d, K, weights, means, covariance_type: 'diag', variances };
}

/** A single point mass at (0.6, −0.4): every data-prediction step lands on it exactly. */
function point(): GmmSpec {
  return { d: 2, K: 1, weights: [1], means: [[0.6, -0.4]], covariance_type: 'diag', variances: [[0, 0]] };
}

function isotropic(means: number[][], std: number): GmmSpec {
  const d = means[0].length;
  return {
    d,
    K: means.length,
    weights: means.map(() => 1 / means.length),
    means,
    covariance_type: 'diag',
    variances: means.map(() => new Array<number>(d).fill(std * std)),
  };
}

const problems: Record<string, { describe: string; make: () => GmmSpec }> = {
  ring8: { describe: '8 Gaussians (std 0.05) on the unit circle; the shared refs problem', make: ring8 },
  moons: { describe: 'two interleaving half circles, 16 Gaussians (std 0.06)', make: moons },
  spiral: { describe: 'Archimedean spiral, 24 Gaussians (std 0.04)', make: spiral },
  checkerboard: { describe: '4×4 checkerboard, 32 Gaussians (std 0.06)', make: checkerboard },
  gmm16: { describe: 'smooth mixture in d=16, K=8, variances 0.3–1 (convergence-order tests)', make: gmm16 },
  point: { describe: 'a single point mass in d=2 (exactness tests)', make: point },
};

/** Names of the built-in problems (e.g. "ring8"), in the order `diffuse list` shows them. */
export const builtinNames: string[] = Object.keys(problems);

/** One-line description of the named built-in problem, for `diffuse list`; UsageError if unknown. */
export function builtinDescription(name: string): string {
  return lookup(name).describe;
}

/** A fresh copy of the named built-in problem's mixture. */
export function builtinProblem(name: string): GmmSpec {
  return lookup(name).make();
}

function lookup(name: string) {
  const p = Object.hasOwn(problems, name) ? problems[name] : undefined;
  if (!p) throw new UsageError(`unknown built-in problem "${name}"; accepted: ${builtinNames.join(', ')}`);
  return p;
}

/**
 * Parse a mixture from JSON text: `{"gmm": {...}}`, a bare GmmSpec, or a shared/refs problem file
 * `{"problems": {NAME: {"gmm": {...}}}}` (pick NAME with `problem` when the file holds several).
 * The spec is validated by constructing the mixture, so errors name the offending field.
 */
export function loadGmmJson(text: string, problem?: string): GmmSpec {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`GMM file is not valid JSON: ${(e as Error).message}`);
  }
  const spec = pickSpec(data, problem);
  new GaussianMixture(spec);
  return spec;
}

function pickSpec(data: unknown, problem: string | undefined): GmmSpec {
  if (!isObject(data)) throw new UsageError('GMM file must hold a JSON object: {"gmm": {...}} or {"problems": {NAME: {"gmm": {...}}}}');
  if (isObject(data.problems)) {
    const names = Object.keys(data.problems);
    const name = problem ?? (names.length === 1 ? names[0] : undefined);
    if (name === undefined || !Object.hasOwn(data.problems, name)) {
      throw new UsageError(`GMM file has problems ${names.join(', ') || '(none)'}; name one of them${problem ? ` (got "${problem}")` : ''}`);
    }
    const entry = data.problems[name];
    if (!isObject(entry) || !isObject(entry.gmm)) throw new UsageError(`problems.${name} has no "gmm" object`);
    return asSpec(entry.gmm, `problems.${name}.gmm`);
  }
  if (isObject(data.gmm)) return asSpec(data.gmm, 'gmm');
  if ('means' in data) return asSpec(data, '(top level)');
  throw new UsageError('GMM file has neither "gmm" nor "problems"; expected {"gmm": {d, K, weights, means, covariance_type, variances}}');
}

const nonNegative = v.pipe(finite, v.minValue(0, 'must be ≥ 0'));
const row = list(finite, 1, LIMITS.dims);

/** A diagonal Gaussian mixture: K weights, K means and K variances of d numbers, K·d bounded. */
const gmmSchema = v.pipe(
  record({
    d: integer(1, LIMITS.dims),
    K: integer(1, LIMITS.components),
    weights: list(nonNegative, 1, LIMITS.components),
    means: list(row, 1, LIMITS.components),
    covariance_type: v.optional(v.literal('diag', 'must be "diag"'), 'diag'),
    variances: list(list(nonNegative, 1, LIMITS.dims), 1, LIMITS.components),
  }, '{"d": 2, "K": 1, "weights": [1], "means": [[0, 0]], "covariance_type": "diag", "variances": [[1, 1]]}'),
  v.check((g) => g.K * g.d <= LIMITS.dims, `K·d (components × dimension) must be at most ${LIMITS.dims}`),
  v.check((g) => g.weights.length === g.K && g.means.length === g.K && g.variances.length === g.K, (i) => `"weights", "means" and "variances" must have K=${(i.input as { K: number }).K} entries each`),
  v.check((g) => [...g.means, ...g.variances].every((r) => r.length === g.d), (i) => `every row of "means" and "variances" must have d=${(i.input as { d: number }).d} numbers`),
  v.check((g) => g.weights.some((w) => w > 0), '"weights" must not be all 0'),
  v.check((g) => Number.isFinite(g.weights.reduce((a, b) => a + b, 0)), '"weights" overflow when summed; scale them down (only their ratios matter)'),
);

function asSpec(o: Record<string, unknown>, where: string): GmmSpec {
  return validate(gmmSchema, o, where) as GmmSpec;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
