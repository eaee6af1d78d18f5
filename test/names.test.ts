import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  builtinProblem, createProcess, samplers, findReference, findSampler, GaussianMixture, GmmOracle, makeGrid, namedRuns, sample, sigmaVe,
  unsupportedNames, UsageError, type GridSpec,
} from '../src/index.js';

/**
 * Every name from A1111 and ComfyUI (src/samplers/names.ts) against its definition in the tool:
 * its σ schedule against the lists A1111's own code gives for SD 1.x (the fixture of
 * test/schedulers.test.ts), and its sampler against Diffuse's translation of the k-diffusion
 * function the tool calls (test/parity.test.ts checks those translations against k-diffusion's
 * own outputs in ../shared/refs): same samples, bit for bit, from the same seed.
 */
const refs = JSON.parse(readFileSync(new URL('./fixtures/schedules/sd1-sigmas.json', import.meta.url), 'utf8')) as { a1111: Record<string, Record<string, number[]>> };
const sd = createProcess({ name: 'vp-discrete', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' });
const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), sd, 'epsilon');
const sigmas = (spec: GridSpec) => Array.from(makeGrid(sd, spec), (t) => sigmaVe(sd, t));

/** A1111's Schedule type behind a grid of names.ts, and whether the next-to-last σ is dropped. */
function a1111Schedule(g: GridSpec): { schedule: string; drop: boolean } | undefined {
  if (g.type === 'drop-penultimate') {
    const inner = a1111Schedule(g.of);
    return inner && { ...inner, drop: true };
  }
  const byType: Record<string, string> = { karras: 'Karras', exponential: 'Exponential', normal: 'Uniform' };
  return byType[g.type] ? { schedule: byType[g.type], drop: false } : undefined;
}

/**
 * What A1111 v1.10.1 runs for a label (modules/sd_samplers.py splits a " Karras" / " Exponential"
 * suffix off as the Schedule type; without one, the sampler's "Automatic" schedule of
 * modules/sd_samplers_kdiffusion.py; discard_next_to_last_sigma for DPM2, DPM2 a, DPM++ 3M SDE).
 */
const automatic: Record<string, string> = {
  'DPM++ 2M': 'Karras', 'DPM++ SDE': 'Karras', 'DPM++ 2M SDE': 'Exponential', 'DPM++ 2M SDE Heun': 'Exponential', 'DPM++ 2S a': 'Karras',
  'DPM++ 3M SDE': 'Exponential', Euler: 'Uniform', 'Euler a': 'Uniform', LMS: 'Uniform', Heun: 'Uniform', DPM2: 'Karras', 'DPM2 a': 'Karras',
};
const discards = new Set(['DPM2', 'DPM2 a', 'DPM++ 3M SDE']);
function a1111Expected(label: string): { schedule: string; drop: boolean } {
  const suffix = / (Karras|Exponential)$/.exec(label);
  const base = suffix ? label.slice(0, suffix.index) : label;
  return { schedule: suffix ? suffix[1] : automatic[base], drop: discards.has(base) };
}

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((s, i) => (want[i] === 0 ? expect(s).toBe(0) : expect(Math.abs(s / want[i] - 1)).toBeLessThan(2e-5)));
}

describe('names from A1111 and ComfyUI mean what they mean there', () => {
  for (const run of namedRuns) {
    it(`${run.tool} "${run.name}" → ${run.sampler} ${JSON.stringify(run.options)}${run.grid ? ` on ${run.grid(10).type}` : ''}`, async () => {
      const spelled = run.qualifiedOnly ? `${run.tool}:${run.name}` : run.name;
      const e = findSampler(spelled);
      expect(e.named?.sampler).toBe(run.sampler);
      expect(e.name).toBe(spelled);
      if (run.qualifiedOnly) expect(findSampler(run.name).named?.name, 'the bare name keeps Diffuse\'s meaning').not.toBe(run.name);
      expect(findSampler(`${run.tool}:${run.name}`)).toBe(e);
      for (const [k, v] of Object.entries(run.options)) expect(e.defaults[k], k).toBe(v);
      if (run.grid) {
        expect(e.defaultGrid).toEqual(run.grid(10));
        const tool = a1111Schedule(run.grid(10));
        if (run.tool === 'A1111' && run.sampler !== 'unipc' && run.grid(10).type !== 'compvis') expect(tool, 'the schedule A1111 runs for this label').toEqual(a1111Expected(run.name));
        if (tool) {
          // A1111 builds N + 1 sigmas and drops the next-to-last where it discards: compare with its N + 1 list.
          for (const n of tool.drop ? [3, 9, 24] : [4, 10, 25]) {
            const want = refs.a1111[tool.schedule][String(tool.drop ? n + 1 : n)];
            expectClose(sigmas(run.grid(n)), tool.drop ? [...want.slice(0, -2), 0] : want);
          }
        }
      }
      if (run.kdiffusion) {
        const config = run.options.solverType === 'heun' ? { solver_type: 'heun' } : {};
        const t = findReference('k-diffusion', run.kdiffusion).translate(config, 10);
        expect(t.sampler).toBe(run.sampler);
        const grid = run.grid?.(10) ?? { type: 'karras', steps: 10 };
        const viaName = await sample({ model, process: sd, sampler: spelled, grid, n: 16, seed: 4 });
        // ComfyUI's KSampler drops the next-to-last σ of any schedule for these names; sample() does too.
        const kdGrid = run.dropPenultimate && grid.type !== 'drop-penultimate' ? { type: 'drop-penultimate' as const, steps: 10, of: grid } : grid;
        const viaKd = await sample({ model, process: sd, sampler: t.sampler, options: t.options, grid: kdGrid, n: 16, seed: 4 });
        expect(viaName.x.data).toEqual(viaKd.x.data);
        expect(viaName.nfe).toBe(viaKd.nfe);
      }
    });
  }

  it('without --grid a name runs on its own schedule: "DPM++ 2M Karras" is dpmpp-2m on Karras σ, not the logSNR default', async () => {
    const named = await sample({ model, process: sd, sampler: 'DPM++ 2M Karras', steps: 10, n: 8, seed: 1 });
    expectClose(Array.from(named.grid, (t) => sigmaVe(sd, t)), refs.a1111.Karras['10']);
    const plain = await sample({ model, process: sd, sampler: 'dpmpp-2m', steps: 10, n: 8, seed: 1 });
    expect(plain.grid).not.toEqual(named.grid);
  });

  it("Diffuse's own lower-case names keep their meaning; the tools' exact spellings take theirs", () => {
    expect(findSampler('euler').named).toBeUndefined();
    expect(findSampler('Euler').named?.tool).toBe('A1111');
    expect(findSampler('unipc').defaults.variant).toBe('bh2');
    expect(findSampler('uni_pc').defaults.variant).toBe('bh1');
    expect(findSampler('uni_pc_bh2').defaults.variant).toBe('bh2');
    expect(findSampler('dpm 2m karras'.replace('dpm', 'DPM++')).named?.name).toBe('DPM++ 2M Karras');
    expect(findSampler('dpm_2_ancestral').named?.sampler).toBe('dpm2-ancestral');
    expect(findSampler('lcm').name).toBe('lcm');
  });

  it('every alias in the sampler registry still reaches its own sampler (none is shadowed by a name from a tool)', () => {
    for (const e of samplers) for (const a of e.aliases) expect(findSampler(a), `${a} → ${e.name}`).toBe(e);
  });

  for (const u of unsupportedNames) {
    it(`${u.tool} "${u.name}" is refused with the nearest equivalent`, () => {
      expect(() => findSampler(u.name)).toThrow(UsageError);
      expect(() => findSampler(u.name)).toThrow(`nearest: ${u.nearest}`);
    });
  }
});

describe("ComfyUI's lms", () => {
  it('is lms with denoiseLast: LMS of order 4 whose step to σ = 0 returns the model\'s x̂0 (the name lms keeps k-diffusion\'s meaning)', async () => {
    const { sample } = await import('../src/sample.js');
    const { createProcess } = await import('../src/process/index.js');
    const { makeGrid } = await import('../src/grid/index.js');
    const { GaussianMixture, GmmOracle } = await import('../src/models/oracle/gmm.js');
    const { builtinProblem } = await import('../src/models/oracle/builtin.js');
    const process = createProcess({ name: 'edm' });
    const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'sample');
    const grid = makeGrid(process, { type: 'karras', steps: 6, rho: 7, end: 'zero' });
    const xT = Float64Array.from({ length: 16 }, (_, i) => 80 * Math.sin(i + 1));
    const comfy = await sample({ model, process, sampler: 'lms', options: { order: 4, denoiseLast: true }, grid, xT });
    const head = await sample({ model, process, sampler: 'lms', options: { order: 4 }, grid: grid.subarray(0, grid.length - 1), xT });
    const last = await model.predict(head.x.data, 8, grid[grid.length - 2]);
    expect(Array.from(comfy.x.data)).toEqual(Array.from(last));
    const kd = await sample({ model, process, sampler: 'lms', options: { order: 4 }, grid, xT });
    expect(Math.max(...kd.x.data.map((v, i) => Math.abs(v - comfy.x.data[i])))).toBeGreaterThan(1e-6);
    expect(findSampler('lms').defaults.denoiseLast).toBe(false);
  });
});

/**
 * ComfyUI's own loops (comfy/k_diffusion/sampling.py and deis.py at a125cd8), transcribed in float64
 * over the EDM process (x in σ units, D the exact mixture denoiser), against what `ComfyUI:NAME` runs.
 */
describe('ComfyUI names that are also Diffuse names, against ComfyUI\'s loops', () => {
  const edm = createProcess({ name: 'edm' });
  const oracle = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), edm, 'sample');
  const n = 8;
  const grid = makeGrid(edm, { type: 'karras', steps: 8, rho: 7, end: 'zero' });
  const sig = Array.from(grid);
  const xT = Float64Array.from({ length: 2 * n }, (_, i) => 80 * Math.sin(3 * i + 1));
  const D = (x: Float64Array, s: number) => oracle.predict(x, n, s);
  const maxRel = (a: Float64Array, b: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]) / (Math.abs(b[i]) + 1e-3)));

  it('ComfyUI:ipndm is sample_ipndm (Adams–Bashforth 1–4 on d, the step to σ = 0 returns D), bit for bit in float64 up to rounding', async () => {
    let x: Float64Array = Float64Array.from(xT);
    const buffer: Float64Array[] = [];
    const ab = [[1], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24]];
    for (let i = 0; i < sig.length - 1; i++) {
      const [t, tn] = [sig[i], sig[i + 1]];
      const den = await D(x, t);
      const d = x.map((v, j) => (v - den[j]) / t);
      const order = Math.min(4, i + 1);
      if (tn === 0) x = den;
      else {
        const c = ab[order - 1];
        const hist = [d, ...buffer.slice().reverse()];
        x = x.map((v, j) => v + (tn - t) * c.reduce((acc, cj, k) => acc + cj * hist[k][j], 0));
      }
      buffer.push(d);
      if (buffer.length > 3) buffer.shift();
    }
    const ours = await sample({ model: oracle, process: edm, sampler: 'ComfyUI:ipndm', grid, xT });
    expect(maxRel(ours.x.data, x)).toBeLessThan(1e-12);
    const bare = await sample({ model: oracle, process: edm, sampler: 'ipndm', grid, xT });
    expect(maxRel(bare.x.data, x), 'the bare name is Diffuse\'s ipndm, AB to σ = 0').toBeGreaterThan(1e-6);
  });

  it('ComfyUI:deis is sample_deis (tAB-DEIS order 3 with its "tab" coefficients, Euler to σ = 0), to its 10 000-point quadrature', async () => {
    // deis.py edm2t and get_deis_coeff_list(…, 'tab'): nodes in the VP time τ, ∫ ℓ_j(τ) dρ by a 10 000-point sum.
    const [sMin, sMax, epsS] = [0.002, 80, 1e-3];
    const betaD = 2 * (Math.log(sMin ** 2 + 1) / epsS - Math.log(sMax ** 2 + 1)) / (epsS - 1);
    const betaMin = Math.log(sMax ** 2 + 1) - 0.5 * betaD;
    const [beta0, beta1] = [betaMin, betaD + betaMin];
    const tau = (s: number) => (Math.sqrt(betaMin ** 2 + 2 * betaD * Math.log(s ** 2 + 1)) - betaMin) / betaD;
    const ts = sig.map(tau);
    const integrand = (u: number) => {
      const a = Math.exp(-0.5 * u * u * (beta1 - beta0) - u * beta0);
      return (-0.5 * (-u * (beta1 - beta0) - beta0)) / Math.sqrt(a * (1 - a));
    };
    const N = 10000;
    const coeffs: number[][] = ts.slice(0, -1).map((tc, i) => {
      const order = Math.min(i + 1, 3);
      if (order === 1) return [];
      const tn = ts[i + 1];
      const prev = Array.from({ length: order }, (_, k) => ts[i - k]);
      const dtau = (tn - tc) / N;
      return prev.map((_, j) => {
        let sum = 0;
        for (let q = 0; q < N; q++) {
          const u = tc + ((tn - tc) * q) / (N - 1);
          let poly = 1;
          prev.forEach((pk, k) => { if (k !== j) poly *= (u - pk) / (prev[j] - pk); });
          sum += integrand(u) * poly;
        }
        return sum * dtau;
      });
    });
    let x: Float64Array = Float64Array.from(xT);
    const buffer: Float64Array[] = [];
    for (let i = 0; i < sig.length - 1; i++) {
      const [t, tn] = [sig[i], sig[i + 1]];
      const den = await D(x, t);
      const d = x.map((v, j) => (v - den[j]) / t);
      const order = tn <= 0 ? 1 : Math.min(3, i + 1);
      const hist = [d, ...buffer.slice().reverse()];
      x = order === 1 ? x.map((v, j) => v + (tn - t) * d[j]) : x.map((v, j) => v + coeffs[i].reduce((acc, c, k) => acc + c * hist[k][j], 0));
      buffer.push(d);
      if (buffer.length > 2) buffer.shift();
    }
    const ours = await sample({ model: oracle, process: edm, sampler: 'ComfyUI:deis', grid, xT });
    // ComfyUI's rectangle sum differs from the exact integral by O(1/N); our coefficients are exact.
    expect(maxRel(ours.x.data, x)).toBeLessThan(2e-3);
    const bare = await sample({ model: oracle, process: edm, sampler: 'deis', options: { order: 3, lowerOrderFinal: false }, grid, xT });
    expect(maxRel(bare.x.data, x), 'the bare name is diffusers\' log-ρ DEIS').toBeGreaterThan(maxRel(ours.x.data, x) * 10);
  });

  it('ComfyUI:ddpm and ComfyUI:lcm are sample_ddpm and sample_lcm on the same noise', async () => {
    const draws = Array.from({ length: sig.length }, (_, k) => Float64Array.from({ length: 2 * n }, (_, j) => Math.cos(7 * k + j)));
    // generic_step_sampler with DDPMSampler_step: VP x = x/√(1+σ²), ᾱ = 1/(σ²+1), the posterior mean plus √β̃·z
    let x: Float64Array = Float64Array.from(xT);
    let k = 0;
    for (let i = 0; i < sig.length - 1; i++) {
      const [s, sp] = [sig[i], sig[i + 1]];
      const den = await D(x, s);
      const eps = x.map((v, j) => (v - den[j]) / s);
      const [ac, acp] = [1 / (s * s + 1), 1 / (sp * sp + 1)];
      const a = ac / acp;
      const xv = x.map((v) => v / Math.sqrt(1 + s * s));
      let mu = xv.map((v, j) => Math.sqrt(1 / a) * (v - ((1 - a) * eps[j]) / Math.sqrt(1 - ac)));
      if (sp > 0) {
        const z = draws[k++];
        mu = mu.map((v, j) => v + Math.sqrt(((1 - a) * (1 - acp)) / (1 - ac)) * z[j]);
        x = mu.map((v) => v * Math.sqrt(1 + sp * sp));
      } else x = mu;
    }
    const ddpm = await sample({ model: oracle, process: edm, sampler: 'ComfyUI:ddpm', grid, xT, noise: draws.slice(0, k) });
    expect(maxRel(ddpm.x.data, x)).toBeLessThan(1e-10);
    // sample_lcm: x = D(x, σ), then x + σ_next·z while σ_next > 0
    let y: Float64Array = Float64Array.from(xT);
    k = 0;
    for (let i = 0; i < sig.length - 1; i++) {
      y = await D(y, sig[i]);
      if (sig[i + 1] > 0) {
        const z = draws[k++];
        y = y.map((v, j) => v + sig[i + 1] * z[j]);
      }
    }
    const lcm = await sample({ model: oracle, process: edm, sampler: 'ComfyUI:lcm', grid, xT, noise: draws.slice(0, k) });
    expect(maxRel(lcm.x.data, y)).toBeLessThan(1e-12);
  });

  it('a qualified name outside the tool, or an unknown tool, is a clear error', () => {
    expect(() => findSampler('ComfyUI:dpm_3000')).toThrow(/ComfyUI has no sampler "dpm_3000" that Diffuse knows; ComfyUI's names: .*ipndm/);
    expect(() => findSampler('Fooocus:euler')).toThrow(/unknown tool "Fooocus".*accepted: A1111:NAME, ComfyUI:NAME/);
    expect(() => findSampler('ComfyUI:seeds_2')).toThrow(/nearest: dpmpp-sde/);
    expect(findSampler('comfy:uni_pc')).toBe(findSampler('uni_pc'));
    expect(findSampler('ComfyUI:ddim').named?.sampler).toBe('euler');
    expect(findSampler('ddim').named).toBeUndefined();
  });
});

/**
 * A1111's CompVisSampler (modules/sd_samplers_timesteps.py, sd_samplers_timesteps_impl.py at v1.10.1),
 * transcribed in float64 on SD 1.x's schedule with the exact ε of a mixture: DDIM and PLMS run
 * timesteps clip(range(0, 1000, 1000 // steps) + 1, 0, 999) from the top and stop at t = 1.
 */
describe("A1111's DDIM and PLMS, against A1111's loops", () => {
  const eps = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), sd, 'epsilon');
  const n = 8;
  const abar = (t: number) => sd.alpha(t) ** 2;
  const a1111Timesteps = (steps: number) => {
    const out: number[] = [];
    for (let t = 0; t < 1000; t += Math.floor(1000 / steps)) out.push(Math.min(t + 1, 999));
    return out;
  };
  const z = Float64Array.from({ length: 2 * n }, (_, i) => Math.sin(5 * i + 2));
  const maxAbs = (a: Float64Array, b: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  const ddimStep = (x: Float64Array, e: Float64Array, at: number, ap: number) =>
    x.map((v, j) => Math.sqrt(ap) * ((v - Math.sqrt(1 - at) * e[j]) / Math.sqrt(at)) + Math.sqrt(1 - ap) * e[j]);

  for (const steps of [10, 7]) {
    it(`A1111 "DDIM" (η = 0) at ${steps} steps: its timesteps, its update, ending at t = 1`, async () => {
      const ts = a1111Timesteps(steps);
      let x: Float64Array = Float64Array.from(z);
      for (let index = ts.length - 1; index > 0; index--) {
        const e = await eps.predict(x, n, ts[index]);
        x = ddimStep(x, e, abar(ts[index]), abar(ts[index - 1]));
      }
      const ours = await sample({ model: eps, process: sd, sampler: 'DDIM', steps, xT: z });
      expect(Array.from(ours.grid)).toEqual(ts.slice().reverse());
      expect(ours.nfe).toBe(ts.length - 1);
      expect(maxAbs(ours.x.data, x)).toBeLessThan(1e-12);
    });

    it(`A1111 "PLMS" at ${steps} steps: pseudo improved Euler, then Adams–Bashforth 2–4 on ε`, async () => {
      const ts = a1111Timesteps(steps);
      let x: Float64Array = Float64Array.from(z);
      const old: Float64Array[] = [];
      let nfe = 0;
      for (let index = ts.length - 1; index > 0; index--) {
        const [at, ap] = [abar(ts[index]), abar(ts[index - 1])];
        const e = await eps.predict(x, n, ts[index]);
        nfe++;
        let prime: Float64Array;
        if (old.length === 0) {
          const xNext = ddimStep(x, e, at, ap);
          const eNext = await eps.predict(xNext, n, ts[index - 1]);
          nfe++;
          prime = e.map((v, j) => (v + eNext[j]) / 2);
        } else if (old.length === 1) prime = e.map((v, j) => (3 * v - old[0][j]) / 2);
        else if (old.length === 2) prime = e.map((v, j) => (23 * v - 16 * old[1][j] + 5 * old[0][j]) / 12);
        else prime = e.map((v, j) => (55 * v - 59 * old[2][j] + 37 * old[1][j] - 9 * old[0][j]) / 24);
        x = ddimStep(x, prime, at, ap);
        old.push(e);
        if (old.length > 3) old.shift();
      }
      const ours = await sample({ model: eps, process: sd, sampler: 'PLMS', steps, xT: z });
      expect(ours.nfe).toBe(nfe);
      expect(maxAbs(ours.x.data, x)).toBeLessThan(1e-12);
    });
  }
});
