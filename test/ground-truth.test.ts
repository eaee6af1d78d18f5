import { describe, expect, it } from 'vitest';
import { DOP853, dop853 } from '../src/ode/dopri.js';
import { pfOdeEndpoint } from '../src/ode/pf-ode.js';
import { sampleErrors, median } from '../src/metrics/error.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { createProcess, VpDiscrete } from '../src/process/index.js';
import { RunError, UsageError } from '../src/core/errors.js';
import { ring8Problem, ring8GroundTruth, refs, maxAbs } from './support/refs.js';

describe('DOP853 tableau', () => {
  const { a, b, c, e5, bhh } = DOP853;
  const power = (w: readonly number[], q: number) => w.reduce((s, wi, i) => s + wi * c[i] ** q, 0);
  it('rows sum to the nodes', () => {
    a.forEach((row, i) => expect(Math.abs(row.reduce((s: number, v: number) => s + v, 0) - c[i])).toBeLessThan(1e-14));
  });
  it('weights integrate polynomials of degree ≤ 7 exactly (order 8 quadrature), not degree 8', () => {
    for (let q = 0; q < 8; q++) expect(Math.abs(power(b, q) - 1 / (q + 1))).toBeLessThan(1e-14);
    expect(Math.abs(power(b, 8) - 1 / 9)).toBeGreaterThan(1e-6);
  });
  it('error weights: 5th-order estimate annihilates degree ≤ 4, 3rd-order degree ≤ 2', () => {
    for (let q = 0; q < 5; q++) expect(Math.abs(power(e5, q))).toBeLessThan(1e-14);
    const third = b.map((v, i) => v - (i === 0 ? bhh[0] : i === 8 ? bhh[1] : i === 11 ? bhh[2] : 0));
    for (let q = 0; q < 3; q++) expect(Math.abs(power(third, q))).toBeLessThan(1e-14);
    expect(Math.abs(power(third, 3))).toBeGreaterThan(1e-3);
  });
});

describe('dop853 on problems with known solutions', () => {
  const oscillator = (_t: number, y: Float64Array, out: Float64Array) => {
    out[0] = y[1];
    out[1] = -y[0];
  };
  it('harmonic oscillator over 5 periods, forward and backward, to 1e-11', () => {
    const T = 10 * Math.PI + 0.3;
    const fwd = dop853(oscillator, 0, Float64Array.of(1, 0), T);
    expect(maxAbs(fwd.y, [Math.cos(T), -Math.sin(T)])).toBeLessThan(1e-11);
    const back = dop853(oscillator, T, Float64Array.of(Math.cos(T), -Math.sin(T)), 0);
    expect(maxAbs(back.y, [1, 0])).toBeLessThan(1e-11);
    expect(fwd.steps).toBeLessThan(400);
  });
  it('y′ = y cos t gives exp(sin t); error shrinks with the tolerance like an 8th-order method', () => {
    const f = (t: number, y: Float64Array, out: Float64Array) => (out[0] = y[0] * Math.cos(t));
    const err = (tol: number) => {
      const r = dop853(f, 0, Float64Array.of(1), 20, { rtol: tol, atol: tol });
      return { e: Math.abs(r.y[0] - Math.exp(Math.sin(20))), steps: r.steps };
    };
    const loose = err(1e-6);
    const tight = err(1e-12);
    expect(tight.e).toBeLessThan(1e-10);
    expect(loose.e).toBeLessThan(1e-5);
    // steps ∝ tol^(−1/8): 6 decades cost a factor of about 10^(6/8) ≈ 5.6
    expect(tight.steps / loose.steps).toBeGreaterThan(3);
    expect(tight.steps / loose.steps).toBeLessThan(9);
  });
  it('reports running out of steps and bad tolerances clearly', () => {
    expect(() => dop853(oscillator, 0, Float64Array.of(1, 0), 1000, { maxSteps: 10 })).toThrow(RunError);
    expect(() => dop853(oscillator, 0, Float64Array.of(1, 0), 1000, { maxSteps: 10 })).toThrow(/after 10 steps/);
    expect(() => dop853(oscillator, 0, Float64Array.of(1, 0), 1, { rtol: 0 })).toThrow(UsageError);
    expect(() => dop853((_t, _y, out) => out.fill(NaN), 0, Float64Array.of(1), 1)).toThrow(/NaN/);
  });
});

describe('exact PF-ODE endpoints reproduce shared/refs ground truth (≤ 1e-8)', () => {
  const problem = ring8Problem();
  const gt = ring8GroundTruth();
  const gmm = new GaussianMixture(problem.gmm);
  const z = Float64Array.from(problem.z.flat());
  const vp = createProcess({ name: 'vp', schedule: 'linear' });
  const edm = createProcess({ name: 'edm' });

  it('continuous VP (linear β), t = 1 → 1e-3, from the mixture and through an ε function', () => {
    expect(maxAbs(pfOdeEndpoint(gmm, vp, z, 1, 1e-3), gt.vp_continuous.x_end.flat())).toBeLessThanOrEqual(1e-8);
    const oracle = new GmmOracle(gmm, vp, 'epsilon');
    const viaFn = pfOdeEndpoint((x, t) => oracle.predictSync(x, 64, t), vp, z, 1, 1e-3);
    expect(maxAbs(viaFn, gt.vp_continuous.x_end.flat())).toBeLessThanOrEqual(1e-8);
  });
  it('EDM from σ = 80 to σ = 0 exactly and to σ = 0.002', () => {
    const x80 = z.map((v) => 80 * v);
    expect(maxAbs(pfOdeEndpoint(new GmmOracle(gmm, edm), edm, x80, 80, 0), gt.edm.x_end.flat())).toBeLessThanOrEqual(1e-8);
    expect(maxAbs(pfOdeEndpoint(gmm, edm, x80, 80, 0.002), gt.edm.x_at_sigma_min.flat())).toBeLessThanOrEqual(1e-8);
  });

  /**
   * ground_truth_discrete keys read <coords>_t<start>_abend<ᾱ_end>_init<scale>: the PF-ODE from
   * diffusers' timestep <start> (its float32 ᾱ) with x_T = <scale>·z in the sampler's coordinates
   * (vp: x; ve: x/α, scale = float32 σ_VE(999) = init_noise_sigma) to ᾱ_end, returned in the same
   * coordinates. ᾱ_end = 1 is σ = 0 (t = −1). ᾱ_end = 0.999899983 is ᾱ_0 (t = 0), except for the
   * t999 (DPMSolver multistep) key, whose last σ_VE is σ_VE(0) rounded to float32, as that
   * scheduler keeps its sigmas in float32: there ᾱ_end = 1/(1 + σ²), slightly above ᾱ_0.
   */
  const discrete = new VpDiscrete();
  const sigma0 = Math.sqrt((1 - discrete.alphasCumprod[0]) / discrete.alphasCumprod[0]);
  for (const [key, entry] of Object.entries(refs().ground_truth_discrete)) {
    it(`diffusers ground truth ${key}`, () => {
      const m = /^(vp|ve)_t(\d+)_abend([\d.]+)_init([\d.]+)$/.exec(key);
      expect(m, `key ${key} follows the naming convention`).not.toBeNull();
      const [, coords, start, abEnd, init] = m as RegExpExecArray;
      const meta = entry as unknown as { alpha_bar_start: number; sigma_ve_end: number; init_noise_sigma: number };
      const tStart = Number(start);
      // the stored σ_VE went through ᾱ = 1/(1 + σ²) and back (≈1e-12 relative); float32 rounding moves σ by 1e-8
      const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-11 * Math.abs(b));
      close(discrete.alphaBar(tStart), meta.alpha_bar_start);
      const scale = coords === 've' ? Math.fround(discrete.sigmaVeAt(tStart)) : 1;
      expect(scale).toBe(meta.init_noise_sigma);
      expect(Math.abs(scale - Number(init))).toBeLessThan(1e-6 * scale);
      let tEnd: number;
      if (Number(abEnd) === 1) tEnd = discrete.tZero;
      else if (tStart === 999) {
        close(meta.sigma_ve_end, Math.fround(sigma0));
        tEnd = discrete.tOfLogSnr(-Math.log(Math.fround(sigma0)));
      } else {
        close(meta.sigma_ve_end, sigma0);
        tEnd = 0;
      }
      const xStart = z.map((v) => scale * v * (coords === 've' ? discrete.alpha(tStart) : 1));
      const xEnd = pfOdeEndpoint(gmm, discrete, xStart, tStart, tEnd);
      const inCoords = coords === 've' ? xEnd.map((v) => v / discrete.alpha(tEnd)) : xEnd;
      expect(maxAbs(inCoords, entry.x_end.flat())).toBeLessThanOrEqual(1e-8);
    });
  }

  it('a point mass ends on its exact straight path x/α = μ + (σ/α)·ε', () => {
    const point = new GaussianMixture(builtinProblem('point'));
    const mu = [0.6, -0.4];
    const x80 = z.map((v) => 80 * v);
    const atZero = pfOdeEndpoint(point, edm, x80, 80, 0);
    expect(maxAbs(atZero, Array.from(z, (_, i) => mu[i % 2]))).toBeLessThanOrEqual(1e-10);
    const atMin = pfOdeEndpoint(point, edm, x80, 80, 0.5);
    expect(maxAbs(atMin, Array.from(z, (v, i) => mu[i % 2] + (0.5 / 80) * (80 * v - mu[i % 2])))).toBeLessThanOrEqual(1e-10);
  });
  it('rejects a start at σ = 0', () => {
    expect(() => pfOdeEndpoint(gmm, edm, z, 0, 0)).toThrow(UsageError);
  });
});

describe('error metrics reproduce the errors stored in shared/refs cases (to ~1e-9)', () => {
  const { cases, ground_truth_discrete: discrete } = refs();
  const gt = ring8GroundTruth();
  const gmm = new GaussianMixture(ring8Problem().gmm);
  const truthOf = (key: string) =>
    key === 'vp_continuous' ? gt.vp_continuous.x_end : key === 'edm' ? gt.edm.x_end : discrete[key].x_end;
  type Stored = { rms_err: number; max_abs_err: number; median_sample_rms_err: number; mode_flips: number; rms_err_excl_flips: number };
  const full = cases.filter((c) => c.n_samples_stored === 64 && c.gt);
  it('checks every case with all 64 samples stored', () => {
    expect(full.length).toBeGreaterThan(100);
    expect(full.some((c) => (c.mode_flips ?? 0) > 0)).toBe(true);
  });
  for (const c of full) {
    it(`${c.library} ${c.label} steps=${c.steps}`, () => {
      const e = sampleErrors(Float64Array.from(c.output.flat()), Float64Array.from(truthOf(c.gt).flat()), gmm);
      const s = c as unknown as Stored;
      // outputs are stored to 12 significant digits: ≤ 1e-9 relative, or 1e-12 absolute for tiny errors
      const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * b + 1e-12);
      near(e.rmsErr, s.rms_err);
      near(e.medianSampleRmsErr, s.median_sample_rms_err);
      near(e.maxAbsErr, s.max_abs_err);
      expect(e.modeFlips).toBe(s.mode_flips);
      near(e.rmsErrExclFlips, s.rms_err_excl_flips);
    });
  }
  it('a mode flip is a change of the most likely component, not of the nearest mean (they differ on anisotropic mixtures)', () => {
    // Component 0: narrow at the origin; component 1: wide at (3, 0). x = (1.2, 0) is nearer mean 0
    // but far more likely under component 1; x = (0.1, 0) belongs to component 0 under both rules.
    const aniso = new GaussianMixture({ d: 2, K: 2, weights: [1, 1], means: [[0, 0], [3, 0]], covariance_type: 'diag', variances: [[0.01, 0.01], [4, 4]] });
    const x = Float64Array.of(1.2, 0);
    expect(aniso.nearestMode(x)).toBe(0);
    expect(aniso.likeliestComponent(x)).toBe(1);
    expect(sampleErrors(x, Float64Array.of(0.1, 0), aniso).modeFlips).toBe(1);
    expect(sampleErrors(Float64Array.of(2.9, 0), Float64Array.of(1.2, 0), aniso).modeFlips).toBe(0);
  });
  it('median follows numpy for even counts; all-flipped runs give NaN excluding flips', () => {
    expect(median(Float64Array.of(4, 1, 3, 2))).toBe(2.5);
    expect(median(Float64Array.of(3, 1, 2))).toBe(2);
    const e = sampleErrors(Float64Array.of(-1, 0), Float64Array.of(1, 0), gmm);
    expect(e.modeFlips).toBe(1);
    expect(e.rmsErrExclFlips).toBeNaN();
    expect(() => sampleErrors(Float64Array.of(1), Float64Array.of(1, 2), gmm)).toThrow(UsageError);
  });
});
