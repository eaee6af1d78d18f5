import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { FIXTURES, loadOrt } from './support.js';

const ort = await loadOrt();
const dir = mkdtempSync(join(tmpdir(), 'diffuse-searched-'));
const condCard = JSON.parse(readFileSync(`${FIXTURES}gauss_eps_cond.json`, 'utf8')) as Record<string, unknown>;
const card = join(dir, 'card.json');
writeFileSync(card, JSON.stringify({ ...condCard, onnx: resolve(FIXTURES, String(condCard.onnx)) }));
mkdirSync(join(dir, 'searched'));
const small = ['--n', '8', '--seed', '1', '--population', '4', '--parents', '2', '--generations', '1', '--teacher-steps', '20'];

describe.skipIf(!ort)('searches shipped beside a network, selected by name', () => {
  it('a class-conditional network is searched as diffuse eval samples it (labels cycled, --cfg)', async () => {
    const r = await runCli('search', '--model', `onnx:${card}`, '--sampler', 'unipc', '--nfe', '3', '--cfg', '2', ...small, '--out', join(dir, 'searched', 'unipc-nfe3.json'), '--quiet');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    // a shipped model is recorded by its name, not by this machine's path to it
    const shipped = join(dir, 'shipped.json');
    expect((await runCli('search', '--model', 'mnist', '--nfe', '2', '--n', '2', '--population', '2', '--parents', '1', '--generations', '0', '--teacher-steps', '4', '--out', shipped, '--quiet')).err).toBe('');
    expect(JSON.parse(readFileSync(shipped, 'utf8')).model).toBe('mnist');
    const plain = await runCli('search', '--model', `onnx:${FIXTURES}gauss_eps.json`, '--cfg', '2', ...small, '--out', join(dir, 'x.json'));
    expect(plain.err).toMatch(/--cfg needs a class-conditional network/);
  });

  it('--searched NAME runs the file\'s sampler on its grid; unknown names list what the model ships', async () => {
    const file = JSON.parse(readFileSync(join(dir, 'searched', 'unipc-nfe3.json'), 'utf8')) as { grid: { times: number[] } };
    const r = await runCli('sample', '--model', `onnx:${card}`, '--searched', 'unipc-nfe3', '--labels', '0,1', '--cfg', '2', '--n', '2', '--json');
    expect(r.err).toBe('');
    const out = JSON.parse(r.out) as { sampler: string; nfe: number; grid: number[] };
    expect(out.sampler).toBe('unipc');
    expect(out.nfe).toBe(3);
    expect(out.grid).toEqual(file.grid.times);
    expect((await runCli('sample', '--model', `onnx:${card}`, '--searched', 'nope', '--labels', '0', '--n', '1')).err)
      .toMatch(/ships no search "nope"; it ships: unipc-nfe3/);
    expect((await runCli('sample', '--model', `onnx:${card}`, '--searched', 'unipc-nfe3', '--grid', 'karras', '--labels', '0', '--n', '1')).err)
      .toMatch(/--searched fixes the grid; drop the grid flags/);
    expect((await runCli('sample', '--model', `onnx:${card}`, '--searched', 'unipc-nfe3', '--sampler', 'ddim', '--labels', '0', '--n', '1')).err)
      .toMatch(/a grid searched for unipc; drop --sampler/);
    expect((await runCli('sample', '--model', 'builtin:ring8', '--searched', 'unipc-nfe3', '--n', '1')).err)
      .toMatch(/--searched names a search shipped with a network/);
  });
});
