import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitLowRankGaussian, gaussiansFromTensor } from '../../src/ode/teleport.js';
import { loadRealImages } from '../../src/eval/data.js';
import { readNpyFile } from '../../src/io/files.js';
import { runCli } from '../support/cli.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();

/** `diffuse eval --json` in-process. */
async function evalJson(...args: string[]): Promise<{ fd: number; accuracy: number; nfe: number; steps: number }> {
  const r = await runCli('eval', '--json', ...args);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  return JSON.parse(r.out);
}

describe.skipIf(!ort)('Gaussian teleportation on the shipped networks (docs/teleport-results.md)', () => {
  it('held-out, paired: the shipped 3-step teleport run stays in its band and beats the same sampler from t_max by far', async () => {
    const file = JSON.parse(readFileSync('models/mnist/searched/teleport-nfe3.json', 'utf8')) as { sampler: string; nfe: number; grid: { times: number[] } };
    const teleported = await evalJson('--model', 'mnist', '--searched', 'teleport-nfe3', '--n', '200', '--seed', '0');
    const plain = await evalJson('--model', 'mnist', '--sampler', file.sampler, '--steps', '3', '--n', '200', '--seed', '0');
    expect(teleported.nfe).toBe(3);
    expect(plain.nfe).toBe(3);
    // measured when the run was shipped (n = 200, seed 0): FD 40.9 (the card's 3-step grid from t_max: 405.6)
    expect(teleported.fd).toBeGreaterThan(40.9 * 0.8);
    expect(teleported.fd).toBeLessThan(40.9 * 1.25);
    expect(teleported.fd).toBeLessThan(plain.fd / 4);
    // --teleport with the file's grid start is the same run
    const [start, end] = [file.grid.times[0], file.grid.times[file.grid.times.length - 1]];
    const flags = await evalJson('--model', 'mnist', '--sampler', file.sampler, '--steps', '3', '--grid', 'time-uniform', '--start', String(start),
      '--end', end < 0 ? 'zero' : 'min', '--teleport', '--n', '200', '--seed', '0');
    expect(flags.fd).toBeCloseTo(teleported.fd, 6);
  });

  it('sample --searched teleport-nfe3 starts at the file\'s first time; bad uses are refused with what to do', async () => {
    const file = JSON.parse(readFileSync('models/mnist/searched/teleport-nfe3.json', 'utf8')) as { grid: { times: number[] } };
    const r = await runCli('sample', '--model', 'mnist', '--searched', 'teleport-nfe3', '--labels', '3', '--n', '2', '--json');
    expect(r.err).toBe('');
    const summary = JSON.parse(r.out) as { nfe: number; grid: number[] };
    expect(summary.nfe).toBe(3);
    expect(summary.grid).toEqual(file.grid.times);
    expect((await runCli('sample', '--model', 'mnist', '--teleport', '--steps', '3', '--n', '1')).err).toMatch(/give the grid a --start below t_max/);
    expect((await runCli('sample', '--model', 'mnist', '--searched', 'teleport-nfe3', '--sampler', 'ddim', '--n', '1')).err).toMatch(/drop --sampler, --steps and --opt/);
    expect((await runCli('sample', '--model', 'mnist', '--searched', 'teleport-nfe3', '--start', '300', '--n', '1')).err).toMatch(/fixes the grid; drop the grid flags/);
    expect((await runCli('sample', '--model', 'mnist-slim', '--teleport', '--start', '0.5', '--steps', '2', '--n', '1')).err).toMatch(/gaussians\.npy is missing/);
    expect((await runCli('sample', '--model', 'builtin:ring8', '--teleport', '--start', '0.5', '--n', '1')).err).toMatch(/use an onnx: model/);
  });
});

describe('diffuse gaussians (the fit that --teleport reads)', () => {
  it('writes one Gaussian per class and one for all: the class means and the overall fit of the images it was given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-gaussians-'));
    const out = join(dir, 'g.npy');
    const r = await runCli('gaussians', '--data', 'mnist', '--n', '300', '--rank', '4', '--out', out, '--quiet');
    expect({ code: r.code, err: r.err, out: r.out }).toEqual({ code: 0, err: '', out: '' });
    const t = await readNpyFile(out);
    expect(t.shape).toEqual([11, 6, 784]);
    const gs = gaussiansFromTensor(t);
    const data = await loadRealImages('mnist', 300);
    // class 7's mean: the mean of the 7s among the 300 images, to float32
    const sevens = [...data.labels.keys()].filter((i) => data.labels[i] === 7);
    expect(sevens.length).toBeGreaterThan(15);
    let worst = 0;
    for (let j = 0; j < 784; j++) {
      const mean = sevens.reduce((s, i) => s + data.images[i * 784 + j], 0) / sevens.length;
      worst = Math.max(worst, Math.abs(gs[7].mean[j] - mean));
    }
    expect(worst).toBeLessThan(1e-6);
    // the last is the fit of all 300 (variances of the library's fit, to float32)
    const all = fitLowRankGaussian(data.images, 300, 784, 4);
    for (let k = 0; k < 4; k++) expect(gs[10].variances[k] / all.variances[k]).toBeCloseTo(1, 6);
    expect(gs[10].residual / all.residual).toBeCloseTo(1, 6);
    expect((await runCli('gaussians', '--data', 'mnist', '--n', '5', '--out', out)).err).toMatch(/--n.*expected an integer ≥ 20/);
    rmSync(dir, { recursive: true, force: true });
  });
});
