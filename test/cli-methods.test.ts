import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { sample } from '../src/sample.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { Rng } from '../src/core/rng.js';
import { tensor } from '../src/core/tensor.js';
import { writeNpyFile } from '../src/io/files.js';
import { emsFromMixture, estimateEms, parseEms } from '../src/ems/index.js';

const dir = mkdtempSync(join(tmpdir(), 'diffuse-methods-'));
const tmp = (name: string) => join(dir, name);

const run = runCli;

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const small = ['--nfe', '5', '--n', '16', '--seed', '1'];
const evolution = ['--population', '4', '--parents', '2', '--generations', '2'];

/** The error `diffuse sample` measures on the search's own training batch (same seed and n). */
async function sampledError(...flags: string[]): Promise<{ nfe: number; err: number }> {
  const r = await run('sample', ...flags, '--n', '16', '--seed', '1', '--json');
  expect(r.err).toBe('');
  const s = JSON.parse(r.out);
  return { nfe: s.nfe, err: s.error.medianSampleRmsErr };
}

describe('diffuse search → sample', () => {
  it('autodiffusion: the saved grid, loaded by --grid-file, reproduces the fitness it was scored with', async () => {
    const r = await run('search', '--method', 'autodiffusion', ...small, ...evolution, '--out', tmp('ad.json'));
    expect(r).toMatchObject({ code: 0, err: '' });
    const f = json(tmp('ad.json'));
    expect(f).toMatchObject({ format: 'diffuse-search/1', method: 'autodiffusion', sampler: 'dpmpp-2m', nfe: 5, stopped: false });
    expect(f.fitness).toBeLessThanOrEqual(f.initialFitness);
    const s = await sampledError('--sampler', 'dpmpp-2m', '--grid-file', tmp('ad.json'));
    expect(s.nfe).toBe(5);
    expect(Math.abs(s.err - f.fitness)).toBeLessThan(1e-12 * f.fitness);
  });

  it('autodiffusion for another sampler: --grid-file runs the sampler and options it was searched with, and refuses a different --sampler', async () => {
    const r = await run('search', '--method', 'autodiffusion', '--sampler', 'unipc', '--opt', 'order=3', ...small, ...evolution, '--out', tmp('ad-unipc.json'));
    expect(r).toMatchObject({ code: 0, err: '' });
    const f = json(tmp('ad-unipc.json'));
    expect(f).toMatchObject({ sampler: 'unipc', options: { order: 3 } });
    const plain = await run('sample', '--grid-file', tmp('ad-unipc.json'), '--n', '16', '--seed', '1', '--json');
    expect(JSON.parse(plain.out)).toMatchObject({ sampler: 'unipc', options: { order: 3 } });
    expect(JSON.parse(plain.out).error.medianSampleRmsErr).toBeCloseTo(f.fitness, 12);
    const other = await run('sample', '--sampler', 'dpmpp-2m', '--grid-file', tmp('ad-unipc.json'));
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/searched for unipc; drop --sampler/);
    expect((await run('sample', '--opt', 'order=2', '--grid-file', tmp('ad-unipc.json'))).err).toMatch(/drop --opt/);
  });

  it('s3: --schedule runs the searched schedule with the same error', async () => {
    expect((await run('search', '--method', 's3', ...small, ...evolution, '--out', tmp('s3.json'))).code).toBe(0);
    const f = json(tmp('s3.json'));
    expect(f.schedule.steps).toHaveLength(5);
    const s = await sampledError('--schedule', tmp('s3.json'));
    expect(s.nfe).toBe(5);
    expect(Math.abs(s.err - f.fitness)).toBeLessThan(1e-12 * f.fitness);
  });

  it('lsd+: --lsd runs the distilled coefficients and times with the same error, below dpmpp-2m', async () => {
    expect((await run('search', '--method', 'lsd+', ...small, '--iterations', '4', '--out', tmp('lsd.json'))).code).toBe(0);
    const f = json(tmp('lsd.json'));
    expect(f.coefficients).toMatchObject({ kind: 'lsd', plus: true });
    expect(f.fitness).toBeLessThan(f.initialFitness);
    const s = await sampledError('--lsd', tmp('lsd.json'));
    expect(Math.abs(s.err - f.fitness)).toBeLessThan(1e-12 * f.fitness);
  });

  it('resumes: a finished search continues with no new runs; --time-limit 0 stops cleanly and still writes the best so far', async () => {
    const r = await run('search', '--method', 'autodiffusion', ...small, '--resume', tmp('ad.json'), '--out', tmp('ad2.json'));
    expect(r.code).toBe(0);
    const [a, b] = [json(tmp('ad.json')), json(tmp('ad2.json'))];
    expect(b.fitness).toBe(a.fitness);
    expect(b.evaluations).toBe(a.evaluations);
    const stopped = await run('search', '--method', 'autodiffusion', ...small, '--time-limit', '0', '--out', tmp('ad0.json'));
    expect(stopped.code).toBe(0);
    const c = json(tmp('ad0.json'));
    expect(c.stopped).toBe(true);
    expect(c.evaluations).toBeLessThan(20);
    expect(Number.isFinite(c.fitness)).toBe(true);
  });

  it('resumes in place (--resume s.json --out s.json): the saved state is replaced only by the finished one, equal to an uninterrupted search', async () => {
    const longer = ['--population', '4', '--parents', '2', '--generations', '6'];
    expect((await run('search', '--method', 'autodiffusion', ...small, ...longer, '--out', tmp('full.json'))).code).toBe(0);
    expect((await run('search', '--method', 'autodiffusion', ...small, ...longer, '--time-limit', '0', '--out', tmp('inplace.json'))).code).toBe(0);
    expect(json(tmp('inplace.json')).stopped).toBe(true);
    const r = await run('search', '--method', 'autodiffusion', ...small, ...longer, '--resume', tmp('inplace.json'), '--out', tmp('inplace.json'));
    expect(r).toMatchObject({ code: 0, err: '' });
    const [full, resumed] = [json(tmp('full.json')), json(tmp('inplace.json'))];
    expect(resumed.stopped).toBe(false);
    expect(resumed.grid).toEqual(full.grid);
    expect(resumed.state).toEqual(full.state);
  });

  it('rejects a resume file of another method and a sampler given with --schedule', async () => {
    expect((await run('search', '--method', 's3', ...small, '--resume', tmp('ad.json'), '--out', tmp('x.json'))).err).toMatch(/--method autodiffusion/);
    const r = await run('sample', '--sampler', 'unipc', '--schedule', tmp('s3.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/drop --sampler/);
  });
});

describe('diffuse ems → dpm-solver-v3', () => {
  it('writes oracle EMS that --ems passes to dpm-solver-v3 exactly as the library option does', async () => {
    expect((await run('ems', '--points', '20', '--samples', '32', '--out', tmp('ems.json'), '--quiet')).code).toBe(0);
    const text = readFileSync(tmp('ems.json'), 'utf8');
    const cli = await run('sample', '--sampler', 'dpm-solver-v3', '--ems', tmp('ems.json'), '--steps', '6', '--n', '8', '--json');
    const s = JSON.parse(cli.out);
    const process = createProcess({ name: 'vp' });
    const lib = await sample({
      model: new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'epsilon'), process, sampler: 'dpm-solver-v3', options: { ems: text },
      grid: { type: 'explicit', times: s.grid }, n: 8, seed: 0,
    });
    expect(s.nfe).toBe(6);
    expect(s.error.rmsErr).toBeGreaterThan(0);
    const out = tmp('v3.npy');
    await run('sample', '--sampler', 'dpm-solver-v3', '--ems', tmp('ems.json'), '--steps', '6', '--n', '8', '--out', out, '--quiet');
    const { parseNpy } = await import('../src/io/npy.js');
    expect(Array.from(parseNpy(new Uint8Array(readFileSync(out))).data)).toEqual(Array.from(lib.x.data));
  });

  it('bench adds the EMS to dpm-solver-v3 and rows for --schedule; --ems without v3 is a usage error', async () => {
    const r = await run('bench', '--samplers', 'dpmpp-2m,dpm-solver-v3', '--ems', tmp('ems.json'), '--schedule', tmp('s3.json'), '--nfe', '5', '--n', '8', '--json');
    const rows = JSON.parse(r.out) as { label: string; nfe: number }[];
    expect(rows.map((x) => x.label)).toEqual(['dpmpp-2m', `dpm-solver-v3(ems=${tmp('ems.json')})`, `schedule (${tmp('s3.json')})`]);
    expect(rows.every((x) => x.nfe === 5)).toBe(true);
    const bad = await run('bench', '--samplers', 'dpmpp-2m', '--ems', tmp('ems.json'));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--ems applies to dpm-solver-v3/);
  });
});

describe('methods with their own loop', () => {
  const summary = async (...args: string[]) => {
    const r = await run(...args, '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    return JSON.parse(r.out);
  };

  it('pfgm: NFE 2·steps − 1; D = inf (EDM) lands on the data points, D = 128 at 3 steps does not', async () => {
    const edm = await summary('pfgm', '--D', 'inf', '--steps', '3', '--n', '32');
    const d128 = await summary('pfgm', '--D', '128', '--steps', '3', '--n', '32');
    expect([edm.nfe, d128.nfe]).toEqual([5, 5]);
    expect(edm.error).toBeLessThan(1e-9);
    expect(d128.error).toBeGreaterThan(1e-2);
  });

  it('mr: the ODE error against the exact endpoint falls with steps; the posterior sampler reports sliced W2 only', async () => {
    const [e5, e20] = [await summary('mr', '--steps', '5', '--n', '32'), await summary('mr', '--steps', '20', '--n', '32')];
    expect([e5.nfe, e20.nfe]).toEqual([5, 20]);
    expect(e20.error).toBeLessThan(e5.error / 4);
    const post = await summary('mr', '--solver', 'posterior', '--steps', '5', '--n', '32');
    expect(post.error).toBeUndefined();
    // Within 1.5× of the sliced W2 between two exact sample sets of the same size (the noise floor).
    expect(post.slicedW2).toBeLessThan(1.5 * post.floor);
  });

  it('interpolant and dmcmc report their NFE and sliced W2', async () => {
    const i = await summary('interpolant', '--steps', '10', '--n', '32');
    expect(i.nfe).toBe(20);
    const sde = await summary('interpolant', '--method', 'sde-euler-maruyama', '--steps', '10', '--n', '32');
    expect(sde.nfe).toBe(10);
    const m = await summary('dmcmc', '--chains', '16', '--burn-in', '8', '--n', '64', '--steps', '5');
    expect(m.nfe).toBeGreaterThan(5);
    expect(m.slicedW2).toBeLessThan(1.5 * m.floor);
    const i50 = await summary('interpolant', '--steps', '50', '--n', '64');
    expect(i50.slicedW2).toBeLessThan(1.5 * i50.floor);
  });

  it('diffuse list shows the commands with their options', async () => {
    const r = await run('list', 'methods');
    for (const c of ['search', 'ems', 'pfgm', 'interpolant', 'mr', 'dmcmc', '--grid-file', '--schedule', '--lsd', '--ems', '--resume']) expect(r.out).toContain(c);
    const all = JSON.parse((await run('list', '--json')).out);
    expect(all.methods.map((m: { command: string }) => m.command)).toContain('search');
  });
});

describe('diffuse ems on an onnx: network', () => {
  const card = 'test/fixtures/onnx/gauss_eps.json';
  const fixture = JSON.parse(readFileSync('test/fixtures/onnx/oracles.json', 'utf8')) as { mean: number[]; variance: number };
  const d = fixture.mean.length;
  const gauss = new GaussianMixture({ d, K: 1, weights: [1], means: [fixture.mean], covariance_type: 'diag', variances: [fixture.mean.map(() => fixture.variance)] });

  it('estimates from --data what the library estimates on the exact model (ONNX float32 apart)', async () => {
    const data = gauss.sample(16, new Rng(3));
    await writeNpyFile(tmp('gauss-data.npy'), tensor('float64', [16, d], data));
    const r = await run('ems', '--model', `onnx:${card}`, '--method', 'estimate', '--data', tmp('gauss-data.npy'),
      '--points', '6', '--samples', '16', '--probes', '1', '--seed', '5', '--out', tmp('net-ems.json'), '--quiet');
    expect(r).toMatchObject({ code: 0, err: '' });
    const cli = parseEms(readFileSync(tmp('net-ems.json'), 'utf8'), d);
    const process = createProcess({ name: 'vp-discrete' });
    const lib = await estimateEms(new GmmOracle(gauss, process, 'epsilon'), process, data, {
      lambdaMin: cli.lambda[0], lambdaMax: cli.lambda[cli.lambda.length - 1], points: 6, probes: 1, rng: new Rng(5),
    });
    expect(cli.lambda).toEqual(lib.lambda);
    // for a Gaussian the Jacobian is a multiple of I, so one Rademacher probe gives its trace exactly:
    // the library's estimate is the exact l, and the CLI's through the float32 network is within ~4e-6
    const exact = emsFromMixture(gauss, { lambdaMin: cli.lambda[0], lambdaMax: cli.lambda[5], points: 6, samples: 16, rng: new Rng(5) });
    for (let j = 0; j < 6; j++) {
      expect(Math.abs(lib.l[j] - exact.l[j])).toBeLessThan(1e-10);
      expect(Math.abs(cli.l[j] - exact.l[j])).toBeLessThan(2e-5);
    }
  });

  it('says what is missing: --data, --method estimate, labels for class-conditional models', async () => {
    const noData = await run('ems', '--model', `onnx:${card}`, '--method', 'estimate', '--out', tmp('x.json'));
    expect(noData.code).toBe(2);
    expect(noData.err).toMatch(/--data is required/);
    const oracle = await run('ems', '--model', `onnx:${card}`, '--data', tmp('gauss-data.npy'), '--out', tmp('x.json'));
    expect(oracle.err).toMatch(/use --method estimate/);
    const cond = await run('ems', '--model', 'onnx:test/fixtures/onnx/gauss_eps_cond.json', '--method', 'estimate', '--data', tmp('gauss-data.npy'), '--out', tmp('x.json'));
    expect(cond.err).toMatch(/class-conditional: give --labels/);
    const mixture = await run('ems', '--data', tmp('gauss-data.npy'), '--out', tmp('x.json'));
    expect(mixture.err).toMatch(/--data and --labels apply to onnx: models/);
  });
});
