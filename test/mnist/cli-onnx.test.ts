import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { main } from '../../src/cli/main.js';
import { parseNpy } from '../../src/io/npy.js';
import { sample } from '../../src/sample.js';
import { guided } from '../../src/models/onnx/guidance.js';
import { FIXTURES, loadOrt } from '../onnx/support.js';

const ort = await loadOrt();
const dir = mkdtempSync(join(tmpdir(), 'diffuse-cli-onnx-'));
const tmp = (name: string) => join(dir, name);
const cond = `${FIXTURES}gauss_eps_cond.json`;

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

const samples = (path: string) => Array.from(parseNpy(new Uint8Array(readFileSync(path))).data);

describe.skipIf(!ort)('diffuse sample --model onnx:CARD.json', async () => {
  const node = ort as NonNullable<typeof ort>;

  it('cycles the labels over the samples and equals the library run on the labelled network, bit for bit', async () => {
    const r = await run('sample', '--model', `onnx:${cond}`, '--labels', '0..2', '--sampler', 'ddim', '--steps', '10', '--n', '7',
      '--seed', '5', '--out', tmp('c.npy'), '--plot', tmp('c.png'), '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ model: `onnx:${cond}`, sampler: 'ddim', n: 7, d: 16, nfe: 10, labels: [0, 1, 2], cfg: 1 });
    expect(s.error).toBeUndefined();
    const m = await node.loadOnnxModel(cond);
    const want = await sample({ model: m.withLabels([0, 1, 2, 0, 1, 2, 0]), process: m.process, sampler: 'ddim', steps: 10, n: 7, seed: 5 });
    expect(samples(tmp('c.npy'))).toEqual(Array.from(want.x.data));
    // one column per label: 3 columns of 4×4 images at 2 figure pixels, rendered at twice the size
    const png = PNG.sync.read(readFileSync(tmp('c.png')));
    expect(png.width).toBeGreaterThanOrEqual(2 * 3 * (4 * 2 + 4));
  });

  it('--cfg w runs the guided model (one doubled batch per step)', async () => {
    const r = await run('sample', '--model', `onnx:${cond}`, '--labels', '2', '--cfg', '3', '--n', '4', '--steps', '6', '--out', tmp('g.npy'), '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(r.out)).toMatchObject({ labels: [2], cfg: 3, nfe: 6 });
    const m = await node.loadOnnxModel(cond);
    const want = await sample({ model: guided(m, { labels: [2, 2, 2, 2], scale: 3 }), process: m.process, sampler: 'dpmpp-2m', steps: 6, n: 4 });
    expect(samples(tmp('g.npy'))).toEqual(Array.from(want.x.data));
    await run('sample', '--model', `onnx:${cond}`, '--labels', '2', '--n', '4', '--steps', '6', '--out', tmp('g1.npy'), '--quiet');
    expect(samples(tmp('g1.npy'))).not.toEqual(samples(tmp('g.npy')));
  });

  it('an unconditional network needs no labels; the text summary names the run', async () => {
    const r = await run('sample', '--model', `onnx:${FIXTURES}gauss_eps.json`, '--n', '3', '--steps', '5');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/dpmpp-2m \(order 2\) on vp-discrete, 5 steps/);
    expect(r.out).toContain('3 samples × 16 dims, NFE 5');
  });

  it.each([
    ['the card fixes the process', ['--process', 'edm'], /card sets the process.*drop --process/],
    ['the card fixes the prediction', ['--prediction', 'v_prediction'], /drop --prediction/],
    ['a label out of range', ['--labels', '3..4'], /class label 4 is out of range; accepted: integers 0\.\.2 and the null class 3/],
    ['reference runs', ['--from', 'diffusers:DDIMScheduler'], /--from reproduces reference runs on exact models/],
  ])('exits 2 on %s', async (_what, flags, message) => {
    const r = await run('sample', '--model', `onnx:${cond}`, '--n', '2', ...flags);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('exits 2 on labels for models without classes, a missing card, and bench on a network', async () => {
    const cases: [string[], RegExp][] = [
      [['sample', '--model', `onnx:${FIXTURES}gauss_eps.json`, '--labels', '1'], /need a class-conditional model/],
      [['sample', '--labels', '1'], /--labels and --cfg apply to class-conditional onnx: models/],
      [['sample', '--model', 'onnx:no/such/card.json'], /cannot read no\/such\/card\.json/],
      [['bench', '--model', `onnx:${cond}`], /bench measures errors against the exact solution/],
      [['sample', '--model', 'onnix:x.json'], /--model must be .*onnx:CARD\.json/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect([r.code, r.err]).toEqual([2, expect.stringMatching(message)]);
    }
  });
});
