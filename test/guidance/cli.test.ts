import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

const json = async (...args: string[]) => {
  const r = await run(...args, '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Record<string, number>;
};

describe('diffuse posterior', () => {
  it('ideal sampling reaches the exact-sample floor; DPS, ΠGDM, RED-Diff, SMC and FlowChef run and report NFE', async () => {
    const ideal = await json('posterior', '--measure', 'inpaint:dims=0', '--method', 'ideal', '--n', '300');
    expect(ideal.nfe).toBe(20);
    expect(ideal.sw2).toBeLessThan(2 * ideal.exactSw2 + 0.05);
    const prior = await json('posterior', '--measure', 'inpaint:dims=0', '--method', 'dps:zeta=0', '--n', '300');
    expect(prior.sw2).toBeGreaterThan(3 * ideal.sw2);
    const fc = await json('posterior', '--measure', 'project:m=1,seed=1', '--process', 'flow', '--method', 'flowchef:step=0.2', '--n', '200', '--steps', '10');
    expect(fc.nfe).toBe(10);
    const smc = await json('posterior', '--model', 'builtin:gmm16', '--measure', 'average:factor=4', '--noise-std', '0.1', '--method', 'smc:particles=64', '--n', '64', '--steps', '10');
    expect(smc.nfe).toBe(10);
    expect(smc.m).toBe(4);
    const pg = await json('posterior', '--measure', 'inpaint:dims=1', '--method', 'pigdm', '--sampler', 'ddim', '--n', '100', '--steps', '5');
    expect(pg.nfe).toBe(5);
    const rd = await json('posterior', '--measure', 'inpaint:dims=0', '--method', 'red-diff:lr=0.05', '--n', '50', '--steps', '30');
    expect(rd.nfe).toBe(30);
  });

  it('the reward searches: one search per sample, NFE per search, and the reward grows with the budget', async () => {
    const base = ['posterior', '--model', 'builtin:moons', '--process', 'flow', '--measure', 'project:m=1,seed=0', '--noise-std', '0.05', '--steps', '10', '--n', '40'];
    const one = await json(...base, '--method', 'best-of-n:particles=1');
    const many = await json(...base, '--method', 'best-of-n:particles=16');
    expect([one.nfe, many.nfe]).toEqual([10, 160]);
    expect(many.reward).toBeGreaterThan(one.reward + 1);
    const smc = await json(...base, '--method', 'smc-search:particles=16');
    expect(smc.nfe).toBe(160);
    expect(smc.reward).toBeGreaterThan(one.reward + 1);
    // beam: B calls at the start, B·K per step that ends at σ > 0; the last step lands on σ = 0 (no call)
    expect((await json(...base, '--method', 'beam:beams=2,children=3')).nfe).toBe(2 + 2 * 3 * 9);
    for (const m of ['greedy', 'rbf']) expect((await json(...base, '--method', m)).nfe, m).toBe(160);
    // the reward is the exact log-likelihood of y, for every method
    const ideal = await json(...base, '--method', 'ideal');
    expect(Number.isFinite(ideal.reward)).toBe(true);
  });

  it('one-line usage errors with exit code 2', async () => {
    for (const args of [
      ['--measure', 'inpaint:dims=0', '--method', 'best-of-n:particles=0'],
      ['--measure', 'inpaint:dims=0', '--method', 'beam:beams=2,width=3'],
      ['--measure', 'inpaint:dims=0', '--method', 'rbf:budget=3', '--steps', '8'],
      ['--measure', 'inpaint:dims=0', '--method', 'smc-search:lambda=-1'],
      ['--measure', 'inpaint:dims=0', '--method', 'greedy', '--sampler', 'ddim'],
      ['--measure', 'blur:k=3'],
      ['--measure', 'inpaint:dims=7'],
      ['--measure', 'project:m=x'],
      ['--measure', 'inpaint:dims=0', '--method', 'dps:eta=1'],
      ['--measure', 'inpaint:dims=0', '--method', 'smc:particles=8', '--sampler', 'ddim'],
      ['--measure', 'inpaint:dims=0', '--noise-std', '0'],
      ['--measure', 'inpaint:dims=0', '--model', 'builtin:nope'],
    ]) {
      const r = await run('posterior', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^diffuse: /);
    }
  });
});

describe('diffuse sample --guide', () => {
  it('cfg with w = 1 equals classifier guidance with scale 1 (both the exact conditional)', async () => {
    const a = await json('sample', '--guide', 'cfg:w=1,class=2,classes=4', '--n', '16', '--sampler', 'dpmpp-2m', '--steps', '30');
    expect(a.error).toBeUndefined();
    const r1 = await run('sample', '--guide', 'cfg:w=1,class=2,classes=4', '--n', '16', '--steps', '30', '--out', '/tmp/diffuse-guide-a.npy', '--quiet');
    const r2 = await run('sample', '--guide', 'classifier:scale=1,class=2,classes=4', '--n', '16', '--steps', '30', '--out', '/tmp/diffuse-guide-b.npy', '--quiet');
    expect(r1.code + r2.code).toBe(0);
    const { readFileSync } = await import('node:fs');
    const { parseNpy } = await import('../../src/io/npy.js');
    const xa = parseNpy(readFileSync('/tmp/diffuse-guide-a.npy')).data;
    const xb = parseNpy(readFileSync('/tmp/diffuse-guide-b.npy')).data;
    let err = 0;
    for (let i = 0; i < xa.length; i++) err = Math.max(err, Math.abs(Number(xa[i]) - Number(xb[i])));
    expect(err).toBeLessThan(1e-6);
    // class 2 of ring8 with 4 classes: components 2 and 6, the points (0, ±2)·… at angles 90° and 270°.
    for (let i = 0; i < 16; i++) expect(Math.abs(Number(xa[2 * i]))).toBeLessThan(0.5);
  });

  it('minority guidance: w = 0 is the exact model; w > 0 moves samples to lower density', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseNpy } = await import('../../src/io/npy.js');
    const read = (f: string) => Float64Array.from(parseNpy(readFileSync(f)).data as ArrayLike<number>);
    const args = ['sample', '--model', 'builtin:ring8', '--sampler', 'dpmpp-2m', '--steps', '20', '--n', '200', '--quiet', '--out'];
    expect((await run(...args, '/tmp/diffuse-minority-plain.npy')).code).toBe(0);
    expect((await run(...args, '/tmp/diffuse-minority-0.npy', '--guide', 'minority:w=0')).code).toBe(0);
    expect((await run(...args, '/tmp/diffuse-minority-4.npy', '--guide', 'minority:w=4')).code).toBe(0);
    const [plain, zero, four] = ['plain', '0', '4'].map((k) => read(`/tmp/diffuse-minority-${k}.npy`));
    zero.forEach((v, i) => expect(v).toBeCloseTo(plain[i], 9));
    const { builtinProblem } = await import('../../src/models/oracle/builtin.js');
    const { FullGaussianMixture } = await import('../../src/models/oracle/full-gmm.js');
    const { GaussianMixture } = await import('../../src/models/oracle/gmm.js');
    const mix = FullGaussianMixture.fromDiagonal(new GaussianMixture(builtinProblem('ring8')));
    const median = (x: Float64Array) => Float64Array.from(mix.logDensity(x, 200).logp).sort()[100];
    expect(median(four)).toBeLessThan(median(plain) - 0.3);
  });

  it('rejects bad guide specs in one line', async () => {
    for (const g of ['cfg:w=3', 'cfg:w=3,class=9,classes=4', 'mystery:w=1,class=0', 'cfg:w=3,class=0,bogus=1', 'cfg:w=a,class=0', 'minority:levels=5', 'minority:w=2,levels=1', 'minority:w=2,class=0']) {
      const r = await run('sample', '--guide', g, '--n', '4', '--quiet');
      expect(r.code, g).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });
});
