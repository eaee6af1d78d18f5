import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { PNG } from 'pngjs';
import { main } from '../src/cli/main.js';
import { loadBar, progressBar } from '../src/cli/io.js';
import { parseNpy, encodeNpy } from '../src/io/npy.js';
import { tensor } from '../src/core/tensor.js';
import { samplers } from '../src/samplers/index.js';
import { refs, relRms, type RefCase } from './support/refs.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffuse-cli-'));
const tmp = (name: string) => join(dir, name);
const fixture = (name: string) => join(root, 'test/fixtures', name);
const example = (name: string) => join(root, 'examples', name);

/** Run main() in-process and capture what it writes. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

const readNpy = (path: string) => parseNpy(new Uint8Array(readFileSync(path)));

describe('diffuse sample', () => {
  it('ComfyUI names whose KSampler drops the next-to-last σ do so on any --grid; Diffuse\'s own names do not', async () => {
    const { makeGrid } = await import('../src/grid/index.js');
    const { createProcess } = await import('../src/process/index.js');
    const comfy = JSON.parse((await run('sample', '--sampler', 'dpm_2', '--grid', 'karras', '--steps', '10', '--n', '4', '--json')).out);
    const own = JSON.parse((await run('sample', '--sampler', 'dpm2', '--grid', 'karras', '--steps', '10', '--n', '4', '--json')).out);
    const p = createProcess({ name: 'vp' });
    expect(comfy.grid).toEqual(Array.from(makeGrid(p, { type: 'drop-penultimate', steps: 10, of: { type: 'karras', steps: 10 } })));
    expect(own.grid).toEqual(Array.from(makeGrid(p, { type: 'karras', steps: 10 })));
    expect(comfy.steps).toBe(10);
    expect(comfy.grid).not.toEqual(own.grid);
  });

  it('--rng torch draws x_T and then the sampler\'s noise from torch.manual_seed(seed) as diffusers pipelines do', async () => {
    const r = await run('sample', '--sampler', 'euler-ancestral', '--steps', '5', '--n', '8', '--seed', '3', '--rng', 'torch', '--out', tmp('torch.npy'));
    expect(r.code, r.err).toBe(0);
    const { TorchGenerator } = await import('../src/core/torch-rng.js');
    const { sample } = await import('../src/sample.js');
    const { createProcess } = await import('../src/process/index.js');
    const { GaussianMixture, GmmOracle } = await import('../src/models/oracle/gmm.js');
    const { builtinProblem } = await import('../src/models/oracle/builtin.js');
    const gen = new TorchGenerator(3);
    const process = createProcess({ name: 'vp' });
    const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'epsilon');
    const { makeGrid } = await import('../src/grid/index.js');
    const { findSampler } = await import('../src/samplers/index.js');
    const grid = makeGrid(process, { ...(findSampler('euler-ancestral').defaultGrid ?? { type: 'logsnr', end: 'zero' }), steps: 5 } as never);
    const xT = Float64Array.from(gen.randn(16)).map((v) => v * process.priorStd(grid[0]));
    const want = await sample({ model, process, sampler: 'euler-ancestral', grid, xT, noise: (out) => (out.set(gen.randn(out.length)), out) });
    expect(Array.from(readNpy(tmp('torch.npy')).data as Float64Array)).toEqual(Array.from(want.x.data));
    const philox = await run('sample', '--sampler', 'euler-ancestral', '--steps', '5', '--n', '8', '--seed', '3', '--out', tmp('philox.npy'));
    expect(philox.code).toBe(0);
    expect(Array.from(readNpy(tmp('philox.npy')).data as Float64Array)).not.toEqual(Array.from(want.x.data));
  });

  it('--init --strength: img2img noises the samples to the schedule\'s t_start-th time and runs the tail', async () => {
    const rows = [[1, 0], [0, 1], [-1, 0], [0, -1]];
    writeFileSync(tmp('init.npy'), encodeNpy(tensor('float64', [4, 2], Float64Array.from(rows.flat()))));
    const low = await run('sample', '--sampler', 'ddim', '--steps', '10', '--init', tmp('init.npy'), '--strength', '0.3', '--out', tmp('i2i.npy'), '--json');
    expect(low.code, low.err).toBe(0);
    const s = JSON.parse(low.out);
    expect(s.steps).toBe(3); // SD rule: t_start = 10 − ⌊10·0.3⌋ = 7
    const x = readNpy(tmp('i2i.npy')).data as Float64Array;
    // a little noise: every sample comes back to its own mode of the ring
    rows.forEach((r, i) => expect(Math.hypot(x[2 * i] - r[0], x[2 * i + 1] - r[1])).toBeLessThan(0.2));
    const flow = JSON.parse((await run('sample', '--sampler', 'ddim', '--steps', '10', '--init', tmp('init.npy'), '--strength', '0.35', '--strength-rule', 'flow', '--json')).out);
    expect(flow.steps).toBe(4); // flow rule: t_start = ⌊10 − 3.5⌋ = 6
    expect((await run('sample', '--strength', '0.5')).err).toMatch(/go with --init/);
    expect((await run('sample', '--init', tmp('init.npy'), '--strength-rule', 'schedule')).err).toMatch(/--strength-rule must be sd or flow, got schedule/);
    expect((await run('sample', '--init', tmp('init.npy'), '--noise', tmp('init.npy'))).err).toMatch(/drop --noise/);
    expect((await run('sample', '--init', tmp('init.npy'), '--strength', '1.5')).err).toMatch(/strength must be in \[0, 1\]/);
  });

  it('--scheduler-config reads a diffusers scheduler_config.json as it is: same run as --from diffusers:<_class_name> --config', async () => {
    const config = { _class_name: 'DPMSolverMultistepScheduler', _diffusers_version: '0.30.0', use_karras_sigmas: true, prediction_type: 'v_prediction' };
    writeFileSync(tmp('scheduler_config.json'), JSON.stringify(config));
    const a = await run('sample', '--scheduler-config', tmp('scheduler_config.json'), '--steps', '6', '--n', '8', '--json');
    const b = await run('sample', '--from', 'diffusers:DPMSolverMultistepScheduler', '--config', tmp('scheduler_config.json'), '--steps', '6', '--n', '8', '--json');
    expect(a.code).toBe(0);
    const [sa, sb] = [JSON.parse(a.out), JSON.parse(b.out)];
    expect(sa).toMatchObject({ sampler: 'dpmpp-2m', reference: 'diffusers:DPMSolverMultistepScheduler', nfe: 6 });
    expect(sa.grid).toEqual(sb.grid);
    expect(sa.error).toEqual(sb.error);
    // the reverse: the config that runs what ran, written as diffusers reads it
    expect(sa.diffusers).toMatchObject({ _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true, prediction_type: 'v_prediction' });
    const saved = await run('sample', '--scheduler-config', tmp('scheduler_config.json'), '--steps', '6', '--n', '8', '--save-scheduler-config', tmp('back.json'));
    expect(saved.code, saved.err).toBe(0);
    const c = await run('sample', '--scheduler-config', tmp('back.json'), '--steps', '6', '--n', '8', '--json');
    expect(JSON.parse(c.out).grid).toEqual(sa.grid);
    const none = await run('sample', '--sampler', 'dpmpp-2m', '--steps', '6', '--n', '8', '--save-scheduler-config', tmp('none.json'));
    expect(none.err).toMatch(/no diffusers scheduler runs dpmpp-2m/);
    expect(existsSync(tmp('none.json'))).toBe(false);
    expect((await run('sample', '--scheduler-config', tmp('scheduler_config.json'), '--from', 'diffusers:DDIMScheduler')).err).toMatch(/drop --from/);
    writeFileSync(tmp('no-class.json'), '{"beta_start": 0.0001}');
    expect((await run('sample', '--scheduler-config', tmp('no-class.json'))).err).toMatch(/"_class_name" must name the diffusers scheduler class/);
  });

  it('writes samples, a plot and a JSON summary with the NFE and the error against the exact ODE', async () => {
    const r = await run('sample', '--sampler', 'ddim', '--steps', '5', '--n', '16', '--out', tmp('a.npy'), '--plot', tmp('a.svg'), '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ sampler: 'ddim', steps: 5, nfe: 5, n: 16, d: 2, out: tmp('a.npy'), plot: tmp('a.svg') });
    expect(s.error.rmsErr).toBeGreaterThan(1e-3);
    expect(s.error.rmsErr).toBeLessThan(0.5);
    const x = readNpy(tmp('a.npy'));
    expect(x.shape).toEqual([16, 2]);
    expect(readFileSync(tmp('a.svg'), 'utf8')).toContain('ring8 · ddim · vp · 5 steps · NFE 5');
  });

  it('is reproducible from the seed, and --noise replays x_T', async () => {
    await run('sample', '--sampler', 'dpmpp-2m', '--n', '8', '--seed', '3', '--out', tmp('s1.npy'), '--quiet');
    await run('sample', '--sampler', 'dpmpp-2m', '--n', '8', '--seed', '3', '--out', tmp('s2.npy'), '--quiet');
    await run('sample', '--sampler', 'dpmpp-2m', '--n', '8', '--seed', '4', '--out', tmp('s3.npy'), '--quiet');
    expect(readNpy(tmp('s1.npy')).data).toEqual(readNpy(tmp('s2.npy')).data);
    expect(readNpy(tmp('s1.npy')).data).not.toEqual(readNpy(tmp('s3.npy')).data);
    // x_T = 0 lies on the symmetry centre: every sample ends at the same point
    writeFileSync(tmp('zero.npy'), encodeNpy(tensor('float64', [3, 2])));
    const r = await run('sample', '--noise', tmp('zero.npy'), '--out', tmp('z.npy'), '--json');
    expect(JSON.parse(r.out).n).toBe(3);
    const z = Array.from(readNpy(tmp('z.npy')).data);
    expect(z.slice(2)).toEqual([...z.slice(0, 2), ...z.slice(0, 2)]);
  });

  it('writes float32 on request and honours the grid flags', async () => {
    const r = await run('sample', '--sampler', 'euler', '--grid', 'karras', '--rho', '3', '--steps', '4', '--end', 'zero', '--dtype', 'float32', '--out', tmp('f.npy'), '--json', '--process', 'edm');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.grid).toHaveLength(5);
    expect(s.grid[0]).toBeCloseTo(80, 10);
    expect(s.grid[4]).toBe(0);
    // Karras Eq. 5 with ρ = 3: σ_1 = (80^{1/3} + (0.002^{1/3} − 80^{1/3})/3)^3
    expect(s.grid[1]).toBeCloseTo((80 ** (1 / 3) + (0.002 ** (1 / 3) - 80 ** (1 / 3)) / 3) ** 3, 10);
    expect(readNpy(tmp('f.npy')).dtype).toBe('float32');
  });

  it('plots marginal histograms for d > 2', async () => {
    const r = await run('sample', '--model', 'builtin:gmm16', '--steps', '8', '--n', '32', '--plot', tmp('h.png'), '--quiet');
    expect(r).toEqual({ code: 0, out: '', err: '' });
    const png = PNG.sync.read(readFileSync(tmp('h.png')));
    expect(png.width).toBeGreaterThan(1000);
  });
});

describe('diffuse sample with names from A1111 and ComfyUI', () => {
  it('--sampler "DPM++ 2M Karras" runs on Karras σ; ComfyUI\'s scheduler spelling --grid sgm_uniform is read as sgm-uniform', async () => {
    const named = await run('sample', '--model', 'builtin:ring8', '--process', 'vp-discrete', '--sampler', 'DPM++ 2M Karras', '--steps', '6', '--n', '4', '--json');
    expect(named).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(named.out)).toMatchObject({ sampler: 'DPM++ 2M Karras', nfe: 6 });
    const comfy = await run('sample', '--model', 'builtin:ring8', '--process', 'vp-discrete', '--sampler', 'uni_pc', '--grid', 'sgm_uniform', '--steps', '6', '--n', '4', '--json');
    expect(comfy).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(comfy.out)).toMatchObject({ sampler: 'uni_pc' });
    const bad = await run('sample', '--grid', 'not_a_grid');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Allowed choices are .*sgm-uniform/);
    const refused = await run('sample', '--sampler', 'dpm_fast');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/nearest: dpm-solver-3/);
    const sde = await run('sample', '--sampler', 'dpmpp_sde', '--steps', '5', '--n', '4', '--json');
    expect(sde.code).toBe(0);
    expect(JSON.parse(sde.out)).toMatchObject({ sampler: 'dpmpp_sde', nfe: 9 }); // 2 per step, 1 on the last (to σ = 0)
  });
});

describe('diffuse sample --from reproduces reference runs', () => {
  const cases = refs().cases;
  const find = (library: string, label: string, steps: number): RefCase => {
    const c = cases.find((k) => k.library === library && k.label === label && k.steps === steps);
    if (!c) throw new Error(`no ref case ${library} ${label} ${steps}`);
    return c;
  };
  it.each([
    ['diffusers:DDIMScheduler', 'diffusers-ddim.json', 'diffusers', 'DDIMScheduler(clip_sample=False)', 1e-6],
    ['k-diffusion:sample_euler', 'k-diffusion-karras.json', 'k-diffusion', 'sample_euler', 1e-10],
    ['dpm-solver:DPM_Solver.sample[multistep]', 'dpm-solver-multistep-logsnr.json', 'dpm-solver', 'dpmsolver++ multistep order=2 logSNR', 1e-10],
  ])('%s', async (from, config, library, label, tol) => {
    const c = find(library, label, 10);
    const out = tmp(`${library}.npy`);
    const r = await run('sample', '--from', from, '--config', example(config), '--steps', '10', '--z', fixture('ring8_z.npy'), '--out', out, '--json');
    expect(r.err).toBe('');
    const s = JSON.parse(r.out);
    expect(s.nfe).toBe(c.nfe);
    expect(relRms(readNpy(out).data, c.output.flat())).toBeLessThan(tol);
    expect(Math.abs(s.error.rmsErr / c.rms_err! - 1)).toBeLessThan(1e-4);
    expect(s.error.modeFlips).toBe(c.mode_flips);
  });
});

describe('bad input: one line on stderr, exit 2 (usage) or 1 (failure)', () => {
  beforeAll(() => {
    writeFileSync(tmp('bad.json'), '{"gmm": {"d": 2,');
    writeFileSync(tmp('huge.json'), JSON.stringify({ gmm: { d: 2, K: 2, weights: [1, 1], means: [[1e200, 0], [-1e200, 0]], covariance_type: 'diag', variances: [[1, 1], [1, 1]] } }));
    writeFileSync(tmp('x3.npy'), encodeNpy(tensor('float64', [4, 3])));
    writeFileSync(tmp('junk.npy'), 'not numpy at all');
    writeFileSync(tmp('zero3.npy'), encodeNpy(tensor('float64', [3, 2])));
  });

  it.each([
    ['unknown sampler', ['sample', '--sampler', 'nope'], 2, /unknown sampler "nope"; accepted: ddim, ddpm, .*dpmpp-2m/],
    ['an order the sampler lacks', ['sample', '--sampler', 'dpmpp-2m', '--opt', 'order=5'], 2, /order must be 1, 2 or 3, got 5/],
    ['an option combination', ['sample', '--sampler', 'unipc', '--opt', 'predictX0=false', '--opt', 'clipSample=1'], 2, /need predictX0=true/],
    ['an unknown option', ['sample', '--sampler', 'ddim', '--opt', 'order=2'], 2, /sampler ddim has no option "order"; accepted: clipSample, /],
    ['a value outside the choices', ['sample', '--sampler', 'ddim', '--opt', 'variance=huge'], 2, /variance=huge is not accepted; accepted: fixed_small, fixed_large/],
    ['steps < 1', ['sample', '--steps', '0'], 2, /option '--steps <n>' argument '0' is invalid\. expected an integer ≥ 1/],
    ['a bad process', ['sample', '--process', 'vpp'], 2, /Allowed choices are vp-discrete, vp, edm, ve, flow/],
    ['a grid flag of another grid', ['sample', '--grid', 'logsnr', '--rho', '3'], 2, /--rho applies to grid karras, but the grid is logsnr/],
    ['NaN in a model output', ['sample', '--model', `gmm:${tmp('huge.json')}`, '--sampler', 'ddim'], 1, /model output is NaN at step 0, t=0\.99999/],
    ['a missing .npy', ['sample', '--noise', tmp('missing.npy')], 2, /cannot read .*missing\.npy: no such file or directory/],
    ['a mis-shaped .npy', ['sample', '--noise', tmp('x3.npy')], 2, /x3\.npy: x_T has shape \[4, 3\]; expected \[any, 2\]/],
    ['a file that is not .npy', ['sample', '--z', tmp('junk.npy')], 2, /junk\.npy: not a \.npy file/],
    ['rows that disagree with --n', ['sample', '--noise', tmp('x3.npy'), '--model', 'builtin:gmm16', '--n', '5'], 2, /x_T has shape \[4, 3\]; expected \[any, 16\]/],
    ['rows that disagree with an explicit --n', ['sample', '--noise', tmp('zero3.npy'), '--n', '5'], 2, /zero3\.npy has 3 rows but --n is 5/],
    ['malformed model JSON', ['sample', '--model', `gmm:${tmp('bad.json')}`], 2, /bad\.json: GMM file is not valid JSON/],
    ['malformed reference config', ['sample', '--from', 'diffusers:DDIMScheduler', '--config', tmp('bad.json')], 2, /bad\.json: malformed JSON/],
    ['an unknown model', ['sample', '--model', 'builtin:ring9'], 2, /unknown built-in problem "ring9"; accepted: ring8, /],
    ['an unknown reference', ['sample', '--from', 'diffusers:FooScheduler'], 2, /no translation for diffusers:FooScheduler; accepted diffusers names: DDIMScheduler/],
    ['--from with --sampler', ['sample', '--from', 'k-diffusion:sample_euler', '--sampler', 'ddim'], 2, /drop --sampler/],
    ['an unknown flag', ['sample', '--stesp', '3'], 2, /unknown option '--stesp'.*Did you mean --steps\?/],
    ['an unknown command', ['smaple'], 2, /unknown command 'smaple'/],
    ['a plot format', ['sample', '--plot', tmp('p.jpg')], 2, /accepted extensions: \.png, \.svg/],
    ['bench NFE list', ['bench', '--nfe', '5,x'], 2, /expected an integer ≥ 1/],
  ])('%s', async (_what, args, code, message) => {
    const r = await run(...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.endsWith('\n')).toBe(true);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('help exits 0', async () => {
    const r = await run('sample', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('--sampler <name>');
    expect(r.out).toContain('(default: "dpmpp-2m")');
  });
});

describe('progress bar', () => {
  /** A stand-in terminal: cli-progress draws on anything writable that says it is a TTY. */
  function terminal() {
    const stream = new PassThrough() as PassThrough & { isTTY: boolean; columns: number };
    stream.isTTY = true;
    stream.columns = 100;
    let text = '';
    stream.on('data', (b: Buffer) => (text += b.toString()));
    return { stream, text: () => text };
  }

  it('the network-loading bar counts KiB once loading lasts longer than 300 ms', async () => {
    const tty = terminal();
    const bar = loadBar({ stdout: tty.stream, stderr: tty.stream, progress: tty.stream }, false);
    bar.onProgress({ loaded: 1024, total: 4096 });
    await new Promise((r) => setTimeout(r, 350));
    bar.onProgress({ loaded: 3072, total: 4096 });
    bar.stop();
    await new Promise((r) => setImmediate(r));
    expect(tty.text()).toMatch(/loading \[.*\] 3\/4 KiB/);
    const quick = terminal();
    const fast = loadBar({ stdout: quick.stream, stderr: quick.stream, progress: quick.stream }, false);
    fast.onProgress({ loaded: 4096, total: 4096 });
    fast.stop();
    expect(quick.text()).toBe('');
  });

  it('draws on a terminal and stays silent when quiet or without one', async () => {
    const tty = terminal();
    const bar = progressBar({ stdout: tty.stream, stderr: tty.stream, progress: tty.stream }, false, 'ddim', 0);
    bar.update(0, 4, 'steps | NFE 0');
    bar.update(3, 4, 'steps | NFE 3');
    bar.stop();
    await new Promise((r) => setImmediate(r));
    expect(tty.text()).toMatch(/ddim \[.*\] 3\/4 steps \| NFE 3/);
    const quiet = terminal();
    progressBar({ stdout: quiet.stream, stderr: quiet.stream, progress: quiet.stream }, true, 'ddim', 0).update(1, 4, '');
    const none = progressBar({ stdout: quiet.stream, stderr: quiet.stream }, false, 'ddim', 0);
    none.update(1, 4, '');
    none.stop();
    await new Promise((r) => setImmediate(r));
    expect(quiet.text()).toBe('');
  });
});

describe('diffuse list', () => {
  it('lists every registered sampler with its aliases and options', async () => {
    const r = await run('list');
    expect(r.code).toBe(0);
    for (const s of samplers) expect(r.out).toContain(`  ${s.name} `);
    expect(r.out).toMatch(/aliases: DPMSolverMultistepScheduler.*sample_dpmpp_2m/);
    expect(r.out).toContain('k-diffusion:sample_euler');
    expect(r.out).toContain('builtin:ring8');
    const json = JSON.parse((await run('list', 'samplers', '--json')).out);
    expect(json.map((s: { name: string }) => s.name)).toEqual(samplers.map((s) => s.name));
  });
});

describe('diffuse bench', () => {
  it('writes the table, CSV and a log–log plot; errors fall with NFE', async () => {
    const r = await run('bench', '--samplers', 'ddim,dpmpp-2m:order=1', '--nfe', '5,20', '--n', '16',
      '--out', tmp('b.md'), '--csv', tmp('b.csv'), '--plot', tmp('b.png'));
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(tmp('b.md'), 'utf8'));
    const rows = readFileSync(tmp('b.csv'), 'utf8').trim().split('\n');
    expect(rows).toHaveLength(1 + 4);
    const header = rows[0].split(',');
    const median = (i: number) => Number(rows[i].split(',')[header.indexOf('medianErr')]);
    expect(median(2)).toBeLessThan(median(1) / 2);
    // dpmpp-2m with order=1 is DDIM (DPM-Solver-1): same numbers
    expect(median(3)).toBeCloseTo(median(1), 12);
    expect(existsSync(tmp('b.png'))).toBe(true);
  });
});

describe('the built bin/diffuse.js', () => {
  beforeAll(() => {
    // Type errors are the typecheck's business; the build must emit the CLI.
    spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root });
    expect(existsSync(join(root, 'dist/cli/main.js'))).toBe(true);
  }, 120_000);

  const bin = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/diffuse.js'), ...args], { cwd: dir, encoding: 'utf8' });

  it('samples the built-in ring8 mixture through the built bin (npy, PNG, NFE)', () => {
    const r = bin('sample', '--model', 'builtin:ring8', '--steps', '10', '--out', 'ring8.npy', '--plot', 'ring8.png');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('NFE 10');
    expect(readNpy(tmp('ring8.npy')).shape).toEqual([64, 2]);
    const png = PNG.sync.read(readFileSync(tmp('ring8.png')));
    expect([png.width, png.height]).toEqual([1040, 1080]);
  });

  it('exits 2 on a usage error and 1 on a failure', () => {
    expect(bin('sample', '--steps', '0').status).toBe(2);
    const r = bin('sample', '--model', `gmm:${tmp('huge.json')}`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^diffuse: error: model output is NaN at step 0/);
  });
});
