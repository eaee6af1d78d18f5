import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { parseNpy } from '../../src/io/npy.js';
import { BUILTIN_MARKOV, type MarkovChainSpec } from '../../src/discrete/oracle/markov.js';

const dir = mkdtempSync(join(tmpdir(), 'diffuse-discrete-cli-'));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
  return { code, out: out.join(''), err: err.join('') };
}

describe('diffuse sample-discrete / bench-discrete', () => {
  it('sample-discrete writes n × L tokens as .npy and .json, and prints exact statistics as JSON', async () => {
    const npy = join(dir, 'tokens.npy');
    const r = await run('sample-discrete', '--chain', 'sticky3', '--length', '5', '--sampler', 'first-hitting', '--n', '300', '--seed', '2', '--out', npy, '--json');
    expect(r.code).toBe(0);
    const stats = JSON.parse(r.out);
    expect(stats).toMatchObject({ chain: 'sticky3', length: 5, sampler: 'first-hitting', n: 300, nfe: 5, nfePerSequence: 5 });
    expect(stats.tv).toBeGreaterThan(0);
    expect(stats.tv).toBeLessThan(0.5);
    // The chain's entropy by enumerating its 3^5 sequences, p(x) = p0(x0)·Π T(x_{i−1}, x_i).
    const { initial, transition } = BUILTIN_MARKOV.sticky3 as MarkovChainSpec;
    let entropy = 0;
    for (let code = 0; code < 3 ** 5; code++) {
      const x = Array.from({ length: 5 }, (_, i) => Math.floor(code / 3 ** (4 - i)) % 3);
      const p = x.slice(1).reduce((acc, v, i) => acc * transition[x[i]][v], initial[x[0]]);
      if (p > 0) entropy -= p * Math.log(p);
    }
    expect(stats.exactEntropy).toBeCloseTo(entropy, 10);
    const t = parseNpy(readFileSync(npy));
    expect(t.shape).toEqual([300, 5]);
    expect(Array.from(t.data).every((v) => Number.isInteger(v) && v >= 0 && v < 3)).toBe(true);
    const json = join(dir, 'tokens.json');
    const again = await run('sample-discrete', '--chain', 'sticky3', '--length', '5', '--sampler', 'first-hitting', '--n', '300', '--seed', '2', '--out', json);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/exact entropy H\(p\) = [0-9.]+ nats/);
    expect(JSON.parse(readFileSync(json, 'utf8')).flat()).toEqual(Array.from(t.data));
  });

  it('bench-discrete prints one Markdown row per sampler; KL/TV omitted when not enumerable', async () => {
    const r = await run('bench-discrete', '--chain', 'order2', '--length', '6', '--steps', '3', '--n', '500', '--samplers', 'ancestral,edlm,confidence');
    expect(r.code).toBe(0);
    const rows = r.out.split('\n').filter((l) => /^\| (ancestral|edlm|confidence) \|/.test(l));
    expect(rows).toHaveLength(3);
    const big = await run('bench-discrete', '--chain', 'sticky3', '--length', '40', '--steps', '4', '--n', '20', '--samplers', 'ancestral', '--json');
    expect(big.code).toBe(0);
    const res = JSON.parse(big.out);
    expect(res.exactEntropy).toBeNull();
    expect(res.rows[0].kl).toBeNull();
    expect(res.rows[0].nll).toBeGreaterThan(0);
  });

  it('`sample --discrete` and `bench --discrete` are the same commands', async () => {
    const a = await run('sample-discrete', '--chain', 'sticky3', '--length', '4', '--n', '20', '--seed', '3', '--json');
    const b = await run('sample', '--discrete', '--chain', 'sticky3', '--length', '4', '--n', '20', '--seed', '3', '--json');
    expect(b.code).toBe(0);
    expect(b.out).toBe(a.out);
    const c = await run('bench', '--discrete', '--chain', 'sticky3', '--length', '4', '--n', '50', '--samplers', 'ancestral');
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/ancestral/);
  });

  it('usage errors exit 2 with one line', async () => {
    for (const args of [
      ['sample-discrete', '--sampler', 'nope'],
      ['sample-discrete', '--chain', 'nope'],
      ['sample-discrete', '--steps', '0'],
      ['sample-discrete', '--out', join(dir, 'x.txt')],
      ['bench-discrete', '--samplers', 'ancestral,bogus'],
      ['sample-discrete', '--chain', 'order2', '--length', '1'],
    ]) {
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^diffuse: /);
    }
  });
});
