import { describe, expect, it } from 'vitest';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { makeGrid, type GridSpec } from '../src/grid/index.js';
import { sample } from '../src/sample.js';
import { benchmark } from '../src/bench.js';
import { pfOdeEndpoint } from '../src/ode/pf-ode.js';
import { sampleErrors } from '../src/metrics/error.js';
import { resolveOptions, findSampler } from '../src/samplers/index.js';
import { emsFromMixture, emsToJson, estimateEms, parseEms, type Ems } from '../src/ems/index.js';
import { UsageError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { measuredOrder } from './support/order.js';

const process = createProcess({ name: 'vp', schedule: 'linear' });
const lambdaMin = process.logSnr(process.tMax) - 0.1;
const lambdaMax = process.logSnr(process.tMin) + 0.1;
const mixture = (name: string) => new GaussianMixture(builtinProblem(name));
const analytic = (g: GaussianMixture, samples: number, points: number, seed: number) =>
  emsFromMixture(g, { lambdaMin, lambdaMax, points, samples, rng: new Rng(seed) });

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('DPM-Solver-v3 with degenerate EMS (l = 1, s = b = 0) is DPM-Solver++ (Taylor form)', () => {
  const g = mixture('gmm16');
  const model = new GmmOracle(g, process, 'epsilon');
  const xT = new Rng(1).fillNormal(new Float64Array(4 * g.d));
  const cases = [
    { order: 1, sampler: 'dpmpp-2m', options: { order: 1 } },
    { order: 2, sampler: 'dpmpp-2m', options: { solverType: 'taylor' } },
    { order: 3, sampler: 'dpmpp-3m-full', options: { solverType: 'taylor' } },
  ];
  for (const c of cases) {
    for (const end of ['min', 'zero'] as const) {
      for (const lowerOrderFinal of [false, true]) {
        it(`order ${c.order} ≡ ${c.sampler}, grid to ${end}, lowerOrderFinal=${lowerOrderFinal}: ≤ 1e-12`, async () => {
          const grid = makeGrid(process, { type: 'logsnr', steps: 9, end });
          const v3 = await sample({ model, process, sampler: 'dpm-solver-v3', options: { ems: 'degenerate', order: c.order, corrector: false, lowerOrderFinal }, grid, xT });
          const pp = await sample({ model, process, sampler: c.sampler, options: { ...c.options, lowerOrderFinal, lowerOrderFinalSteps: 1000 }, grid, xT });
          expect(v3.nfe).toBe(pp.nfe);
          expect(maxDiff(v3.x.data, pp.x.data)).toBeLessThanOrEqual(1e-12);
        });
      }
    }
  }
});

describe('EMS from the model', () => {
  it('analytic (exact Jacobians) and black-box (finite differences + Hutchinson) agree within Monte Carlo error', async () => {
    const g = mixture('gmm16');
    const opts = { lambdaMin, lambdaMax, points: 12 };
    const exactA = emsFromMixture(g, { ...opts, samples: 256, rng: new Rng(11) });
    const exactB = emsFromMixture(g, { ...opts, samples: 256, rng: new Rng(12) });
    const model = new GmmOracle(g, process, 'v_prediction');
    const estimate = await estimateEms(model, process, g.sample(256, new Rng(13)), { ...opts, probes: 2, rng: new Rng(14) });
    for (let j = 0; j < opts.points; j++) {
      const se = Math.hypot(exactA.lStdErr![j], estimate.lStdErr![j]);
      expect(Math.abs(exactA.l[j] - estimate.l[j]), `l at λ=${estimate.lambda[j].toFixed(2)}`).toBeLessThanOrEqual(4 * se + 1e-6);
    }
    // s and b have no closed-form error bar: compare with the spread of two exact runs on other samples.
    const spreadS = maxDiff(exactA.s, exactB.s);
    const spreadB = maxDiff(exactA.b!.flat(), exactB.b!.flat());
    expect(maxDiff(exactA.s, estimate.s)).toBeLessThanOrEqual(2 * spreadS);
    expect(maxDiff(exactA.b!.flat(), estimate.b!.flat())).toBeLessThanOrEqual(2 * spreadB);
  });

  it('s where Var(f) vanishes takes the nearest well-determined value instead of the noise (ring8: f ∝ α³ at low λ)', () => {
    const lowest = (samples: number) => analytic(mixture('ring8'), samples, 40, 4).s[0];
    // The raw slope at λ ≈ −5.1 reads 767 with 256 samples and 260 with 4096.
    expect(Math.abs(lowest(256) - 3)).toBeLessThan(0.3);
    expect(Math.abs(lowest(4096) - 3)).toBeLessThan(0.3);
  });

  it('a point mass has l = 1, s = 0, b = 0 exactly (DPM-Solver++ is optimal there)', () => {
    const e = analytic(mixture('point'), 16, 5, 1);
    expect(e.l.every((v) => v === 1)).toBe(true);
    expect(e.s.every((v) => v === 0)).toBe(true);
    expect(maxDiff(e.b!.flat(), new Array<number>(10).fill(0))).toBe(0);
  });

  it('round-trips through JSON and rejects malformed files with what is accepted', () => {
    const e = analytic(mixture('ring8'), 32, 6, 2);
    const back: Ems = parseEms(emsToJson(e), 2);
    expect(back).toEqual(e);
    expect(() => parseEms('{"format":"diffuse-ems/1","lambda":[1,0],"l":[1,1],"s":[0,0],"provenance":{"method":"x","samples":0}}')).toThrow(/increase/);
    expect(() => parseEms(emsToJson(e), 3)).toThrow(UsageError);
    expect(() => resolveOptions(findSampler('dpm-solver-v3'), { ems: 'ems.json' })).toThrow(/online.*degenerate.*JSON/);
    for (const emsPoints of [1, 0, 2.5, 1e9]) {
      expect(() => resolveOptions(findSampler('dpm-solver-v3'), { ems: 'online', emsPoints }), `emsPoints ${emsPoints}`).toThrow(/emsPoints must be an integer from 2 to 100000/);
    }
    expect(resolveOptions(findSampler('dpm-solver-v3'), { ems: 'online', emsPoints: 2 })).toMatchObject({ emsPoints: 2 });
  });
});

describe('measured order on gmm16 (analytic EMS, logSNR grid to t = 1e-3)', () => {
  const g = mixture('gmm16');
  const model = new GmmOracle(g, process, 'epsilon');
  const ems = emsToJson(analytic(g, 128, 40, 3));
  const z = new Rng(3).fillNormal(new Float64Array(16 * g.d));
  const steps = [40, 80, 160];
  const start = z.map((v) => v * process.priorStd(process.tMax));
  const truth = pfOdeEndpoint(g, process, start, process.tMax, process.tMin);
  const cases: [string, Record<string, unknown>, number][] = [
    ['order 3 with the corrector (smaller errors than without it; its order-1 warm-up step keeps the global order from 4)', {}, 3],
    ['order 3 with the pseudo-order corrector of order 4 (the official c_pseudo)', { correctorPseudo: true }, 2],
    ['order 3 without corrector', { corrector: false }, 3],
    ['order 2', { order: 2, corrector: false }, 2],
    ['pseudo-order 3 (first derivative uncorrected: order 2)', { pseudoOrder: true, corrector: false }, 2],
  ];
  for (const [label, options, expected] of cases) {
    it(`${label}: ${expected} ± 0.3`, async () => {
      const errors: number[] = [];
      for (const N of steps) {
        const grid = makeGrid(process, { type: 'logsnr', steps: N, end: 'min' });
        const run = await sample({ model, process, sampler: 'dpm-solver-v3', options: { ems, ...options }, grid, xT: start });
        errors.push(sampleErrors(run.x.data, truth, g).medianSampleRmsErr);
      }
      const order = measuredOrder(steps, errors);
      expect(Math.abs(order - expected), `measured ${order.toFixed(2)} (errors ${errors.map((e) => e.toExponential(2)).join(', ')})`).toBeLessThanOrEqual(0.3);
    });
  }
});

/**
 * Every case beats both bases by 20 % except ring8 at NFE 5: its s at low λ is ≈ 3 (f ∝ α³, 16384
 * samples give 2.99) and with it the 5-step run is 2× dpmpp-2m's error (the earlier ±2 clamp of s
 * won there by accident; pseudoOrder, the official 5-step setting, gives 0.87×).
 */
const LOSES = new Set(['ring8:5']);

describe('accuracy at NFE 5 and 10 against dpmpp-2m and unipc (median per-sample error vs the exact PF-ODE endpoint)', () => {
  for (const name of ['ring8', 'checkerboard', 'gmm16']) {
    it(`${name}: DPM-Solver-v3 with analytic EMS beats both${name === 'ring8' ? ' (at NFE 5 it does not)' : ''}`, async () => {
      const g = mixture(name);
      const ems = emsToJson(analytic(g, 256, 120, 4));
      const grid: Omit<Extract<GridSpec, { type: 'logsnr' }>, 'steps'> = { type: 'logsnr', end: 'zero' };
      const rows = await benchmark({
        gmm: g, process, n: 32, nfes: [5, 10],
        samplers: [{ name: 'dpmpp-2m', grid }, { name: 'unipc', grid }, { name: 'dpm-solver-v3', options: { ems }, grid, label: 'v3' }],
      });
      const err = (label: string, budget: number) => rows.find((r) => r.label === label && r.budget === budget)!.medianErr;
      const ratios = [5, 10].map((b) => ({ b, vsDpmpp: err('v3', b) / err('dpmpp-2m', b), vsUnipc: err('v3', b) / err('unipc', b) }));
      console.log(name, JSON.stringify(ratios.map((r) => ({ nfe: r.b, vsDpmpp2m: +r.vsDpmpp.toFixed(2), vsUnipc: +r.vsUnipc.toFixed(2) }))));
      for (const r of ratios) {
        const bound = LOSES.has(`${name}:${r.b}`) ? 2.5 : 0.8;
        expect(r.vsDpmpp, `NFE ${r.b}`).toBeLessThan(bound);
        expect(r.vsUnipc, `NFE ${r.b}`).toBeLessThan(bound);
      }
    });
  }
});
