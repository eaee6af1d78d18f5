import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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
