import { UsageError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Process } from '../process/types.js';
import type { Model } from '../models/types.js';
import { GaussianMixture } from '../models/oracle/gmm.js';
import { FullGaussianMixture, FullGmmOracle } from '../models/oracle/full-gmm.js';
import {
  averaging, ClassConditionalMixture, inpainting, measure, posteriorMixture, randomProjection, type LinearMeasurement,
} from '../models/oracle/posterior.js';
import { classifierFreeGuidance, cfgConventions, type CfgConvention } from './cfg.js';
import { classifierGuidance } from './classifier.js';
import { dps, pigdm } from './inverse.js';
import { redDiff } from './red-diff.js';
import { smcPosterior } from './smc.js';
import { flowChef, measurementCost } from './flowchef.js';
import { minorityGuidance, minorityLevel, minorityScore, minorityThresholds } from './minority.js';
import { beamSearch, bestOfN, budgetSearch, likelihoodReward, smcSearch, type ScalingOptions, type ScalingResult } from './flow-scaling.js';
import { findSampler } from '../samplers/index.js';
import { defaultGrid, resolveGrid, sample } from '../sample.js';
import { medianBandwidth, mmd2, momentErrors, slicedWasserstein2 } from '../metrics/distance.js';

/**
 * Guidance and posterior sampling on exact mixtures from spec strings, as `diffuse sample --guide`
 * and `diffuse posterior --measure … --method …` take them (and the playground's Lab).
 *
 * `--guide` of `diffuse sample` on exact mixtures. Classes of a mixture: component k has class
 * k mod C (C = `classes`, default K: every component its own class), so p(x0 | c) is the mixture of
 * components c, c + C, c + 2C, … and the exact conditional, unconditional and classifier follow.
 *   cfg:w=G,class=C[,classes=N][,convention=diffusers|one-plus-w][,rescale=φ]
 *   classifier:scale=S,class=C[,classes=N]
 *   minority:w=W[,levels=5,draws=32]   (towards the rarest of `levels` minority-score levels)
 */
export const guideHelp = 'cfg:w=G,class=C[,classes=N,convention=diffusers|one-plus-w,rescale=φ], classifier:scale=S,class=C[,classes=N] (component k has class k mod N; N = classes, default: one class per component) or minority:w=W[,levels=5,draws=32]';

/** "kind:key=value,key=value" → kind and its options (shared by --guide, --measure, --method). */
export function parseSpec(value: string, flag: string, example: string): { kind: string; options: Record<string, string> } {
  const colon = value.indexOf(':');
  const kind = (colon < 0 ? value : value.slice(0, colon)).trim();
  const options: Record<string, string> = Object.create(null) as Record<string, string>;
  if (colon >= 0 && value.slice(colon + 1).trim() !== '') {
    for (const item of value.slice(colon + 1).split(',')) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new UsageError(`${flag} "${value}": options go as key=value separated by commas, e.g. ${example}`);
      options[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
    }
  }
  return { kind, options };
}

/** A numeric option of a spec, checked; `fallback` undefined makes it required. */
export function specNumber(spec: { kind: string; options: Record<string, string> }, key: string, flag: string, fallback?: number, integer = false): number {
  const raw = Object.hasOwn(spec.options, key) ? spec.options[key] : undefined;
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${flag} ${spec.kind} needs ${key}=…`);
    return fallback;
  }
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${flag} ${spec.kind}: ${key} must be ${integer ? 'an integer' : 'a finite number'}, got "${raw}"`);
  }
  return v;
}

/** Reject keys a spec does not know. */
export function checkKeys(spec: { kind: string; options: Record<string, string> }, allowed: readonly string[], flag: string): void {
  const bad = Object.keys(spec.options).filter((k) => !allowed.includes(k));
  if (bad.length) throw new UsageError(`${flag} ${spec.kind} does not take ${bad.join(', ')}; accepted: ${allowed.join(', ') || 'no options'}`);
}

/** The guided exact model a --guide spec asks for. */
export async function guidedOracle(spec: GaussianMixture, process: Process, prediction: string, value: string): Promise<Model> {
  const flag = '--guide';
  const g = parseSpec(value, flag, 'cfg:w=3,class=2');
  if (g.kind === 'minority') return minorityOracle(spec, process, g);
  const K = spec.K;
  const classes = specNumber(g, 'classes', flag, K, true);
  if (classes < 1 || classes > K) throw new UsageError(`${flag}: classes must be in 1..${K} (the mixture's components), got ${classes}`);
  const source = new ClassConditionalMixture(spec, Array.from({ length: K }, (_, k) => k % classes));
  const label = specNumber(g, 'class', flag, undefined, true);
  if (label < 0 || label >= classes) throw new UsageError(`${flag}: class must be in 0..${classes - 1}, got ${label}`);
  if (g.kind === 'cfg') {
    checkKeys(g, ['w', 'class', 'classes', 'convention', 'rescale'], flag);
    const convention = (g.options.convention ?? 'diffusers') as CfgConvention;
    if (!cfgConventions.includes(convention)) throw new UsageError(`${flag} cfg: convention must be ${cfgConventions.join(' or ')}, got "${convention}"`);
    return classifierFreeGuidance({
      conditional: source.conditional(label, process, prediction),
      unconditional: source.unconditional(process, prediction),
      scale: specNumber(g, 'w', flag),
      convention,
      rescale: specNumber(g, 'rescale', flag, 0),
    });
  }
  if (g.kind === 'classifier') {
    checkKeys(g, ['scale', 'class', 'classes'], flag);
    return classifierGuidance({
      model: source.unconditional(process, prediction),
      classifier: source.classifier(process),
      process,
      label,
      scale: specNumber(g, 'scale', flag),
    });
  }
  throw new UsageError(`${flag} must be ${guideHelp}; got "${value}"`);
}

/**
 * Minority guidance (Um et al. 2024) on the exact mixture, as docs/guidance-results.md measures it:
 * minority score = L2 reconstruction error after re-noising to log-SNR 0 (4 draws), `levels` equally
 * populated levels cut on 2000 data samples, guidance scale w towards the rarest, the classifier
 * gradient from `draws` exact draws of x0 | x_t (see minorityGuidance). Fixed seeds: the same spec
 * gives the same model.
 */
async function minorityOracle(spec: GaussianMixture, process: Process, g: { kind: string; options: Record<string, string> }): Promise<Model> {
  const flag = '--guide';
  checkKeys(g, ['w', 'levels', 'draws'], flag);
  const levels = specNumber(g, 'levels', flag, 5, true);
  if (levels < 2 || levels > 20) throw new UsageError(`${flag} minority: levels must be in 2..20, got ${levels}`);
  const draws = specNumber(g, 'draws', flag, 32, true);
  if (draws < 2 || draws > 1024) throw new UsageError(`${flag} minority: draws must be in 2..1024, got ${draws}`);
  const mix = FullGaussianMixture.fromDiagonal(spec);
  const oracle = new FullGmmOracle(mix, process);
  const s = process.tOfLogSnr(0);
  const thresholds = minorityThresholds(await minorityScore(oracle, process, mix.sample(2000, new Rng(1)), 2000, s, new Rng(2), 4), levels);
  return minorityGuidance({
    model: oracle, process, target: levels - 1, scale: specNumber(g, 'w', flag), draws, rng: new Rng(4),
    level: async (x0, k) => Int32Array.from(await minorityScore(oracle, process, x0, k, s, new Rng(9)), (v) => minorityLevel(v, thresholds)),
    posteriorDraws: (x, k, t, m, rng) => oracle.posteriorAt(x, k, t).sample(m, rng),
  });
}

/** What --measure accepts. */
export const measureHelp = 'inpaint:dims=0 (observed coordinates: 0+2 or 0..3), project:m=4,seed=0 (random m×d, entries N(0, 1/d)) or average:factor=4';
/** What --method accepts. */
export const methodHelp = 'ideal (exact posterior denoiser), dps:zeta=5, pigdm[:scale=1], red-diff[:lambda=0.25,lr=0.05], smc:particles=256, flowchef[:step=0.5], or a reward search on the reverse SDE, one per sample: best-of-n[:particles=16], smc-search[:particles=16,lambda=1], beam[:beams=4,children=4], greedy[:budget=16·steps] or rbf[:budget=16·steps] (Rollover Budget Forcing)';

/** --measure → the measurement operator on d coordinates. */
export function parseMeasure(value: string, d: number, noiseStd: number): LinearMeasurement {
  const flag = '--measure';
  const spec = parseSpec(value, flag, 'project:m=4,seed=0');
  if (spec.kind === 'inpaint') {
    checkKeys(spec, ['dims'], flag);
    const dims = spec.options.dims ?? '0';
    const list = dims.split('+').flatMap((part) => {
      const r = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(part);
      if (!r) throw new UsageError(`${flag} inpaint: dims must be coordinates like 0, 0+2 or 0..3, got "${dims}"`);
      const lo = Number(r[1]);
      const hi = r[2] === undefined ? lo : Number(r[2]);
      return Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
    });
    return inpainting(d, list, noiseStd);
  }
  if (spec.kind === 'project') {
    checkKeys(spec, ['m', 'seed'], flag);
    return randomProjection(specNumber(spec, 'm', flag, undefined, true), d, new Rng(specNumber(spec, 'seed', flag, 0, true)), noiseStd);
  }
  if (spec.kind === 'average') {
    checkKeys(spec, ['factor'], flag);
    return averaging(d, specNumber(spec, 'factor', flag, undefined, true), noiseStd);
  }
  throw new UsageError(`${flag} must be ${measureHelp}; got "${value}"`);
}

/** A posterior problem and method from spec strings (`diffuse posterior`'s flags). */
export interface PosteriorSpecRequest {
  /** The exact mixture prior. */
  prior: GaussianMixture;
  /** --measure, e.g. inpaint:dims=0. */
  measure: string;
  noiseStd: number;
  /** --method, e.g. dps:zeta=5. */
  method: string;
  process: Process;
  /** Sampler for ideal, dps and pigdm (default: dpmpp-2m for ideal, ddpm for dps and pigdm). */
  sampler?: string;
  steps: number;
  n: number;
  /** Seed of the truth x0* (fork 2), the measurement noise (fork 3), the method (fork 4) and the exact reference (forks 5, 6). */
  seed: number;
}

/** A posterior run scored against n exact posterior samples; `exactSw2` is the SW2 of n other exact samples (the floor). */
export interface PosteriorSpecRun {
  x: Float64Array;
  nfe: number;
  sampler?: string;
  y: Float64Array;
  m: number;
  d: number;
  /** The exact posterior: a mixture. */
  posterior: FullGaussianMixture;
  sw2: number;
  mmd2: number;
  meanErr: number;
  covErr: number;
  exactSw2: number;
  /** Mean exact log-likelihood log N(y; A x0, s²I) of the samples (the reward the searches maximise). */
  reward: number;
}

/** Draws the truth and y, runs the method and scores it against exact posterior samples. */
export async function runPosteriorSpec(r: PosteriorSpecRequest): Promise<PosteriorSpecRun> {
  if (!(r.noiseStd > 0)) throw new UsageError(`--noise-std must be > 0, got ${r.noiseStd}`);
  const prior = FullGaussianMixture.fromDiagonal(r.prior);
  const d = prior.d;
  const meas = parseMeasure(r.measure, d, r.noiseStd);
  const rng = new Rng(r.seed);
  const y = measure(meas, prior.sample(1, rng.fork(2)), rng.fork(3));
  const post = posteriorMixture(prior, meas, y);
  const run = await runMethod(r, prior, post, meas, y);
  const reference = post.sample(r.n, rng.fork(5));
  const bandwidth = medianBandwidth(reference, d, 300);
  const errors = momentErrors(run.x, d, post.moments());
  return {
    ...run, y, m: meas.m, d, posterior: post,
    sw2: slicedWasserstein2(run.x, reference, d, new Rng(99), 128),
    mmd2: mmd2(run.x, reference, d, bandwidth).mmd2,
    meanErr: errors.mean,
    covErr: errors.covariance,
    exactSw2: slicedWasserstein2(post.sample(r.n, rng.fork(6)), reference, d, new Rng(99), 128),
    reward: likelihoodReward(meas, y)(run.x, r.n).reduce((s, v) => s + v, 0) / r.n,
  };
}

/**
 * The exact oracles need α > 0: a grid that starts where α = 0 (the flow grids at t = 1) starts at
 * 0.999 of that time instead.
 */
function oracleGrid(p: Process, grid: Float64Array): Float64Array {
  if (!(p.alpha(grid[0]) > 0)) grid[0] *= 0.999;
  return grid;
}

async function runMethod(
  a: PosteriorSpecRequest, prior: FullGaussianMixture, post: FullGaussianMixture, meas: LinearMeasurement, y: Float64Array,
): Promise<{ x: Float64Array; nfe: number; sampler?: string }> {
  const process = a.process;
  const flag = '--method';
  const spec = parseSpec(a.method, flag, 'dps:zeta=5');
  const oracle = new FullGmmOracle(prior, process);
  const rng = new Rng(a.seed).fork(4);
  const noSampler = () => {
    if (a.sampler) throw new UsageError(`--method ${spec.kind} runs its own update; drop --sampler`);
  };
  const withSampler = async (model: Model, fallback: string) => {
    const entry = findSampler(a.sampler ?? fallback);
    const grid = oracleGrid(process, resolveGrid(process, defaultGrid(entry.defaultGrid, a.steps), a.steps, entry.defaultGrid));
    const r = await sample({ model, process, sampler: entry.name, grid, n: a.n, seed: a.seed });
    return { x: r.x.data, nfe: r.nfe, sampler: entry.name };
  };
  switch (spec.kind) {
    case 'ideal':
      checkKeys(spec, [], flag);
      return withSampler(new FullGmmOracle(post, process), 'dpmpp-2m');
    case 'dps':
      checkKeys(spec, ['zeta'], flag);
      return withSampler(dps({ prior: oracle, measurement: meas, y, zeta: specNumber(spec, 'zeta', flag, 1) }), 'ddpm');
    case 'pigdm':
      checkKeys(spec, ['scale'], flag);
      return withSampler(pigdm({ prior: oracle, measurement: meas, y, scale: specNumber(spec, 'scale', flag, 1) }), 'ddpm');
    case 'red-diff': {
      checkKeys(spec, ['lambda', 'lr'], flag);
      noSampler();
      const times = resolveGrid(process, { type: 'time-uniform', steps: a.steps, end: 'min' }, undefined, undefined).slice(0, a.steps);
      return redDiff({
        model: oracle, process, measurement: meas, y, times: oracleGrid(process, times), n: a.n, rng,
        lambda: specNumber(spec, 'lambda', flag, 0.25), lr: specNumber(spec, 'lr', flag, 0.05),
      });
    }
    case 'smc': {
      checkKeys(spec, ['particles'], flag);
      noSampler();
      const particles = specNumber(spec, 'particles', flag, a.n, true);
      if (particles !== a.n) throw new UsageError(`--method smc: particles (${particles}) must equal --n (${a.n}): the sampler returns its particles`);
      const grid = oracleGrid(process, resolveGrid(process, { type: 'logsnr', steps: a.steps, end: 'zero' }, undefined, undefined));
      return smcPosterior({ prior: oracle, measurement: meas, y, grid, particles, rng });
    }
    case 'flowchef': {
      checkKeys(spec, ['step'], flag);
      noSampler();
      const entry = findSampler('flow-euler');
      const grid = oracleGrid(process, resolveGrid(process, defaultGrid(entry.defaultGrid, a.steps), a.steps, entry.defaultGrid));
      const xT = rng.fillNormal(new Float64Array(a.n * prior.d)).map((v) => v * process.priorStd(grid[0]));
      const r = await flowChef({ model: oracle, process, grid, xT, cost: measurementCost(meas, y), stepSize: specNumber(spec, 'step', flag, 0.5) });
      return { ...r, sampler: 'flowchef (Euler)' };
    }
    case 'best-of-n':
    case 'smc-search':
    case 'beam':
    case 'greedy':
    case 'rbf':
      noSampler();
      return rewardSearch(a, spec, oracle, meas, y);
    default:
      throw new UsageError(`${flag} must be ${methodHelp}; got "${a.method}"`);
  }
}

/**
 * The inference-time scaling searches (Kim et al. 2025; flow-scaling.ts) as posterior methods: the
 * reward is the exact measurement log-likelihood, the particles follow the reverse SDE on a
 * time-uniform grid of `steps` steps, and each of the n samples is the best final particle of its
 * own search (method rng fork i); NFE is the calls of one search, over its particles. They maximise
 * the reward rather than sample the posterior.
 */
async function rewardSearch(
  a: PosteriorSpecRequest, spec: { kind: string; options: Record<string, string> }, oracle: Model, meas: LinearMeasurement, y: Float64Array,
): Promise<{ x: Float64Array; nfe: number; sampler: string }> {
  const flag = '--method';
  const grid = oracleGrid(a.process, resolveGrid(a.process, { type: 'time-uniform', steps: a.steps, end: 'zero' }, undefined, undefined));
  const positive = (key: string, fallback: number) => {
    const v = specNumber(spec, key, flag, fallback, true);
    if (v < 1 || v > 4096) throw new UsageError(`${flag} ${spec.kind}: ${key} must be in 1..4096, got ${v}`);
    return v;
  };
  let run: (o: ScalingOptions) => Promise<ScalingResult>;
  if (spec.kind === 'best-of-n') {
    checkKeys(spec, ['particles'], flag);
    const particles = positive('particles', 16);
    run = (o) => bestOfN({ ...o, particles });
  } else if (spec.kind === 'smc-search') {
    checkKeys(spec, ['particles', 'lambda'], flag);
    const particles = positive('particles', 16);
    const lambda = specNumber(spec, 'lambda', flag, 1);
    if (!(lambda >= 0)) throw new UsageError(`${flag} smc-search: lambda must be ≥ 0, got ${lambda}`);
    run = (o) => smcSearch({ ...o, particles, lambda });
  } else if (spec.kind === 'beam') {
    checkKeys(spec, ['beams', 'children'], flag);
    const [beams, children] = [positive('beams', 4), positive('children', 4)];
    run = (o) => beamSearch({ ...o, beams, children });
  } else {
    checkKeys(spec, ['budget'], flag);
    const budget = positive('budget', 16 * a.steps);
    if (budget < a.steps) throw new UsageError(`${flag} ${spec.kind}: budget must be at least steps (${a.steps}) model calls, got ${budget}`);
    run = (o) => budgetSearch({ ...o, budget, rollover: spec.kind === 'rbf' });
  }
  const d = meas.d;
  const x = new Float64Array(a.n * d);
  const reward = likelihoodReward(meas, y);
  const rng = new Rng(a.seed).fork(4);
  let nfe = 0;
  for (let i = 0; i < a.n; i++) {
    const r = await run({ model: oracle, process: a.process, grid, reward, rng: rng.fork(i) });
    x.set(r.x, i * d);
    nfe += r.nfe;
  }
  // NFE per sample: every search spends the same number of calls, counted over its particles
  return { x, nfe: nfe / a.n, sampler: 'reverse SDE' };
}
