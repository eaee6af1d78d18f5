import { describe, expect, it } from 'vitest';
import type { Model } from '../../src/models/types.js';
import { GaussianMixture } from '../../src/models/oracle/gmm.js';
import { FullGaussianMixture, FullGmmOracle } from '../../src/models/oracle/full-gmm.js';
import { ClassConditionalMixture, linearMeasurement, posteriorMixture } from '../../src/models/oracle/posterior.js';
import { builtinProblem } from '../../src/models/oracle/builtin.js';
import { classifierFreeGuidance, rescaleGuided } from '../../src/guidance/cfg.js';
import { classifierGuidance } from '../../src/guidance/classifier.js';
import { dps, pigdm } from '../../src/guidance/inverse.js';
import { createProcess } from '../../src/process/index.js';
import { sample } from '../../src/sample.js';
import { Rng } from '../../src/core/rng.js';
import { inverseProblems, runMethod, score, vp } from './problems.js';

const ring8 = new GaussianMixture(builtinProblem('ring8'));
const classes = new ClassConditionalMixture(ring8, [0, 0, 0, 0, 1, 1, 1, 1]);
const x = new Rng(4).fillNormal(new Float64Array(8 * 2));

/** Counts calls, to see which inner models a wrapper evaluates. */
function counted(m: Model): Model & { calls: number } {
  const c = { prediction: m.prediction, sampleShape: m.sampleShape, calls: 0, predict: (x: Float64Array, n: number, t: number) => (c.calls++, m.predict(x, n, t)) };
  return c;
}

describe('classifier-free guidance', () => {
  const cond = classes.conditional(0, vp, 'epsilon');
  const uncond = classes.unconditional(vp, 'epsilon');

  it('scale 1 (diffusers) and w = 0 (1+w) are the conditional model exactly, without the unconditional call', async () => {
    for (const [scale, convention] of [[1, 'diffusers'], [0, 'one-plus-w']] as const) {
      const u = counted(uncond);
      const g = classifierFreeGuidance({ conditional: cond, unconditional: u, scale, convention });
      for (const t of [0.05, 0.5, 0.95]) expect(await g.predict(x, 8, t)).toEqual(await cond.predict(x, 8, t));
      expect(u.calls).toBe(0);
    }
  });

  it('the two conventions agree with g = 1 + w and with u + g(c − u)', async () => {
    const a = await classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 3.5 }).predict(x, 8, 0.4);
    const b = await classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 2.5, convention: 'one-plus-w' }).predict(x, 8, 0.4);
    const c = await cond.predict(x, 8, 0.4);
    const u = await uncond.predict(x, 8, 0.4);
    for (let i = 0; i < a.length; i++) {
      expect(a[i]).toBeCloseTo(b[i], 12);
      expect(a[i]).toBeCloseTo(u[i] + 3.5 * (c[i] - u[i]), 12);
    }
  });

  it('rescale φ = 0 is plain CFG; φ = 1 gives each sample the conditional output’s std', async () => {
    const plain = classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 4 });
    const zero = classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 4, rescale: 0 });
    const one = classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 4, rescale: 1 });
    expect(await zero.predict(x, 8, 0.3)).toEqual(await plain.predict(x, 8, 0.3));
    const r = await one.predict(x, 8, 0.3);
    const c = await cond.predict(x, 8, 0.3);
    const p = await plain.predict(x, 8, 0.3);
    for (let i = 0; i < 8; i++) {
      const std = (v: Float64Array) => Math.abs(v[2 * i] - v[2 * i + 1]) / 2;
      expect(std(r)).toBeCloseTo(std(c), 12);
      expect(r[2 * i] / p[2 * i]).toBeCloseTo(r[2 * i + 1] / p[2 * i + 1], 12);
    }
    // A guided output with zero spread is left as it is (no division by its zero std).
    expect(rescaleGuided(Float64Array.of(1, 1, 3, 5), Float64Array.of(2, 3, 1, 2), 2, 0.5)).toEqual(Float64Array.of(1, 1, 2.25, 3.75));
    expect(rescaleGuided(new Float64Array(2), Float64Array.of(1, 2), 1, 1)).toEqual(new Float64Array(2));
    expect(() => classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 2, rescale: 1.5 })).toThrow(/\[0, 1\]/);
  });

  it('interval guidance is the conditional model outside (σ_lo, σ_hi] and plain CFG inside', async () => {
    const interval = { process: vp, sigmaLo: 0.5, sigmaHi: 2 };
    const u = counted(uncond);
    const g = classifierFreeGuidance({ conditional: cond, unconditional: u, scale: 3, interval });
    const plain = classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 3 });
    const noise = (t: number) => vp.sigma(t) / vp.alpha(t);
    const tIn = vp.tOfLogSnr(0);
    expect(noise(tIn)).toBeCloseTo(1, 9);
    expect(await g.predict(x, 8, tIn)).toEqual(await plain.predict(x, 8, tIn));
    for (const t of [vp.tOfLogSnr(2), vp.tOfLogSnr(-2)]) expect(await g.predict(x, 8, t)).toEqual(await cond.predict(x, 8, t));
    expect(u.calls).toBe(1);
  });

  it('interval guidance: σ_hi is inside the interval and σ_lo outside (half-open (σ_lo, σ_hi])', async () => {
    // A process whose σ/α is t itself, so the ends are hit exactly.
    const exact = { alpha: () => 1, sigma: (t: number) => t } as unknown as typeof vp;
    const g = classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 3, interval: { process: exact, sigmaLo: 0.5, sigmaHi: 2 } });
    const plain = classifierFreeGuidance({ conditional: cond, unconditional: uncond, scale: 3 });
    for (const [t, inside] of [[2, true], [0.5, false], [2 * (1 + 1e-15), false], [0.5 * (1 + 1e-15), true]] as const) {
      expect(await g.predict(x, 8, t), `σ = ${t}`).toEqual(await (inside ? plain : cond).predict(x, 8, t));
    }
  });

  it('on exact models, CFG with scale g equals classifier guidance with scale g (Ho & Salimans 2022, §3.2)', async () => {
    const clf = classes.classifier(vp);
    const condX0 = classes.conditional(0, vp);
    const uncondX0 = classes.unconditional(vp);
    for (const g of [1, 3]) {
      const a = await classifierFreeGuidance({ conditional: condX0, unconditional: uncondX0, scale: g }).predict(x, 8, 0.3);
      const b = await classifierGuidance({ model: classes.unconditional(vp, 'epsilon'), classifier: clf, process: vp, label: 0, scale: g }).predict(x, 8, 0.3);
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 9);
    }
  });
});

describe('inverse-problem guidance', () => {
  const [ringProblem] = inverseProblems();
  const prior = new FullGmmOracle(ringProblem.prior, vp);

  it('DPS with ζ = 0 and ΠGDM with infinite noise sample exactly the unconditional prior', async () => {
    const base = await sample({ model: prior, process: vp, sampler: 'dpmpp-2m', steps: 8, n: 16, seed: 5 });
    const zero = await sample({ model: dps({ prior, measurement: ringProblem.measurement, y: ringProblem.y, zeta: 0 }), process: vp, sampler: 'dpmpp-2m', steps: 8, n: 16, seed: 5 });
    const flat = { ...ringProblem.measurement, noiseStd: Infinity };
    const inf = await sample({ model: pigdm({ prior, measurement: flat, y: ringProblem.y }), process: vp, sampler: 'dpmpp-2m', steps: 8, n: 16, seed: 5 });
    expect(zero.x.data).toEqual(base.x.data);
    expect(inf.x.data).toEqual(base.x.data);
  });

  it('ΠGDM is the exact posterior denoiser for a N(μ, I) prior, in every process', async () => {
    const d = 3;
    const gauss = new FullGaussianMixture(d, { weights: [1] }, Float64Array.from([0.5, -1, 0.2]), Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]));
    const meas = linearMeasurement([[1, 0.2, 0], [0, -0.5, 1]], 0.3);
    const y = [0.7, -0.1];
    const post = posteriorMixture(gauss, meas, y);
    for (const process of [vp, createProcess({ name: 'edm' }), createProcess({ name: 'flow' })]) {
      const guided = pigdm({ prior: new FullGmmOracle(gauss, process), measurement: meas, y });
      const exact = new FullGmmOracle(post, process);
      for (const t of [process.tMax * 0.9, process.tMax * 0.3, process.tMin * 4]) {
        const a = await guided.predict(x.subarray(0, 6), 2, t);
        const b = await exact.predict(x.subarray(0, 6), 2, t);
        for (let i = 0; i < 6; i++) expect(a[i]).toBeCloseTo(b[i], 9);
      }
    }
  });
});

describe('posterior sampling against the exact posterior', () => {
  const n = 300;
  it('the ideal guided sampler matches exact samples; DPS and ΠGDM beat the unguided prior', async () => {
    for (const p of inverseProblems().slice(0, 3)) {
      const reference = p.posterior.sample(n, new Rng(1));
      const exact = [2, 3, 4].map((seed) => score(p, p.posterior.sample(n, new Rng(seed)), reference));
      const ideal = score(p, (await runMethod(p, { kind: 'ideal' }, 'dpmpp-2m', 20, n, 3)).x, reference);
      const prior = score(p, (await runMethod(p, { kind: 'prior' }, 'dpmpp-2m', 20, n, 3)).x, reference);
      const dpsS = score(p, (await runMethod(p, { kind: 'dps', zeta: 5 }, 'ddpm', 20, n, 3)).x, reference);
      const pi = score(p, (await runMethod(p, { kind: 'pigdm' }, 'ddpm', 20, n, 3)).x, reference);
      // Two exact sample sets differ by sampling noise alone: the ideal sampler must stay within it.
      expect(ideal.sw2).toBeLessThan(1.5 * Math.max(...exact.map((e) => e.sw2)));
      expect(ideal.mmd2).toBeLessThan(0.05 * prior.mmd2);
      // DPS's Gaussian-at-x̂0 likelihood is crude on the thin moons posterior (see the results table).
      if (!p.name.startsWith('moons')) expect(dpsS.meanErr).toBeLessThan(0.5 * prior.meanErr);
      expect(dpsS.sw2).toBeLessThan(prior.sw2);
      expect(pi.meanErr).toBeLessThan(0.5 * prior.meanErr);
      expect(pi.sw2).toBeLessThan(0.5 * prior.sw2);
    }
  });
});
