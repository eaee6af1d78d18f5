import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finiteDataSet, GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { createProcess } from '../src/process/index.js';
import { sample } from '../src/sample.js';
import { encodeNpy } from '../src/io/npy.js';
import { tensor } from '../src/core/tensor.js';
import { main } from '../src/cli/main.js';

const points = [[0, 0], [1, 2], [-1, 0.5]];

describe('finite data set oracle', () => {
  it('E[x0 | x_t] is the softmax-weighted mean of the points (brute force)', () => {
    const p = createProcess({ name: 'vp' });
    const oracle = new GmmOracle(new GaussianMixture(finiteDataSet(points)), p, 'sample');
    const x = Float64Array.from([0.3, 0.7, -0.2, 0.1]);
    for (const t of [0.2, 0.5, 0.9]) {
      const a = p.alpha(t);
      const s = p.sigma(t);
      const out = oracle.predictSync(x, 2, t);
      for (let i = 0; i < 2; i++) {
        const logw = points.map((m) => -((x[2 * i] - a * m[0]) ** 2 + (x[2 * i + 1] - a * m[1]) ** 2) / (2 * s * s));
        const mx = Math.max(...logw);
        const w = logw.map((l) => Math.exp(l - mx));
        const z = w.reduce((u, v) => u + v, 0);
        for (let j = 0; j < 2; j++) {
          const expected = points.reduce((acc, m, k) => acc + (w[k] / z) * m[j], 0);
          expect(out[2 * i + j]).toBeCloseTo(expected, 12);
        }
      }
    }
  });

  it('the PF-ODE to σ = 0 ends on a data point (memorisation)', async () => {
    const p = createProcess({ name: 'vp' });
    const model = new GmmOracle(new GaussianMixture(finiteDataSet(points)), p);
    const { x } = await sample({ model, process: p, sampler: 'dpmpp-2m', steps: 50, n: 32, seed: 5 });
    for (let i = 0; i < 32; i++) {
      const dist = Math.min(...points.map((m) => Math.hypot(x.data[2 * i] - m[0], x.data[2 * i + 1] - m[1])));
      expect(dist).toBeLessThan(1e-6);
    }
  });

  it('rejects malformed data sets', () => {
    expect(() => finiteDataSet([])).toThrow(/at least one point/);
    expect(() => finiteDataSet([[0, 0], [1]])).toThrow(/d=2/);
    expect(() => finiteDataSet(points, [1, 2])).toThrow(/one entry per point/);
  });

  it('the CLI samples a data:FILE.npy model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-data-'));
    const file = join(dir, 'pts.npy');
    writeFileSync(file, encodeNpy(tensor('float64', [3, 2], Float64Array.from(points.flat()))));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['sample', '--model', `data:${file}`, '--steps', '20', '--json', '--quiet'], {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
    });
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out.join('')).nfe).toBe(20);
    const bad = await main(['sample', '--model', `data:${join(dir, 'missing.npy')}`], {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
    });
    expect(bad).toBe(2);
    expect(err.join('')).toMatch(/missing\.npy/);
  });
});
