import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { encodeNpy } from '../src/io/npy.js';
import { tensor } from '../src/core/tensor.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { JOB_FORMAT, keyedNoise, parseJobSpec, runShard, shardCount, shardRange, type JobSpec } from '../src/jobs/index.js';
import { GaussianMixture, GmmOracle } from '../src/models/oracle/gmm.js';
import { builtinProblem } from '../src/models/oracle/builtin.js';
import { createProcess } from '../src/process/index.js';
import { runCli } from './support/cli.js';
import { hasRedis, startRedis } from './support/redis.js';
import { loadOrt } from './onnx/support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffuse-jobs-'));
const ort = await loadOrt();

const spec = (changes: Partial<JobSpec>): JobSpec => parseJobSpec({
  format: JOB_FORMAT, model: 'builtin:ring8', process: 'vp', prediction: 'epsilon', sampler: 'dpmpp-2m', options: {}, steps: 6, cfg: 1, n: 13, seed: 7, shardSize: 13, ...changes,
});

/** Every shard of a job on the exact ring8 mixture, concatenated. */
async function runAll(s: JobSpec): Promise<Float64Array> {
  const p = createProcess({ name: 'vp' });
  const model = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), p, 'epsilon');
  const parts: Float64Array[] = [];
  for (let k = 0; k < shardCount(s); k++) parts.push(await runShard({ spec: s, k, model, process: p }));
  return Float64Array.from(parts.flatMap((x) => Array.from(x)));
}

describe('jobs: shards of any size give the same bits (library)', () => {
  it('shard ranges cover the samples once; the last shard holds the rest', () => {
    const s = spec({ n: 13, shardSize: 5 });
    expect(shardCount(s)).toBe(3);
    expect([0, 1, 2].map((k) => shardRange(s, k))).toEqual([{ first: 0, count: 5 }, { first: 5, count: 5 }, { first: 10, count: 3 }]);
    expect(() => shardRange(s, 3)).toThrow(/shard 3 is not one of the job's 3 shards 0\.\.2/);
  });

  it('keyed noise: a sample\'s numbers do not depend on its batch', () => {
    const whole = keyedNoise(3, 0, 6, 4);
    const tail = keyedNoise(3, 2, 4, 4);
    expect(tail.z).toEqual(whole.z.subarray(8));
    expect(tail.noise(new Float64Array(16))).toEqual(whole.noise(new Float64Array(24)).subarray(8));
  });

  it('deterministic and stochastic samplers: shards of 1, 4 and 13 samples assemble to the same bits', async () => {
    for (const sampler of ['dpmpp-2m', 'euler-ancestral', 'dpmpp-2m-sde']) {
      const one = await runAll(spec({ sampler, shardSize: 13 }));
      expect(await runAll(spec({ sampler, shardSize: 4 }))).toEqual(one);
      expect(await runAll(spec({ sampler, shardSize: 1 }))).toEqual(one);
      expect(one.every(Number.isFinite)).toBe(true);
    }
    // and a different seed gives different samples
    expect(await runAll(spec({ seed: 8 }))).not.toEqual(await runAll(spec({})));
  });

  it('bad specs say what is wrong', () => {
    expect(() => spec({ n: 0 })).toThrow(/"n" must be an integer from 1/);
    expect(() => parseJobSpec({ format: 'x' })).toThrow(/"format" must be "diffuse-job\/1"/);
  });
});

describe('diffuse submit: bad jobs are refused before they are queued', () => {
  it('unknown sampler, bad grid, labels on an oracle, no Redis', async () => {
    expect((await runCli('submit', '--local', '--model', 'ring8', '--sampler', 'nope', '--out', join(dir, 'x.npy'))).err).toMatch(/unknown sampler "nope"/);
    expect((await runCli('submit', '--local', '--model', 'ring8', '--grid', 'karras', '--rho', '-1', '--out', join(dir, 'x.npy'))).err).toMatch(/rho|ρ/);
    expect((await runCli('submit', '--local', '--model', 'ring8', '--cfg', '2', '--out', join(dir, 'x.npy'))).err).toMatch(/labels and cfg apply to class-conditional networks/);
    expect((await runCli('submit', '--model', 'onnx:/no/such/card.json', '--redis', 'redis://127.0.0.1:1')).err).toMatch(/cannot read the model card \/no\/such\/card\.json/);
    const r = await runCli('submit', '--model', 'ring8', '--redis', 'redis://127.0.0.1:1', '--n', '10');
    expect(r.err).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(r.code).toBe(2);
    expect((await runCli('collect', '--job', 'a:b', '--out', join(dir, 'x.npy'))).err).toMatch(/--job must be 1 to 64 letters/);
  });
});

/** A `diffuse worker` process; `started` resolves with the first shard it starts. */
function worker(url: string): { child: ChildProcess; log: () => string; started: Promise<string> } {
  const child = spawn(process.execPath, [join(root, 'bin/diffuse.js'), 'worker', '--redis', url, '--lock-seconds', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const started = new Promise<string>((resolve) => {
    child.stderr?.on('data', (b: Buffer) => {
      log += b.toString();
      const m = /(job \S+ shard \d+): started/.exec(log);
      if (m) resolve(m[1]);
    });
  });
  return { child, log: () => log, started };
}

describe.skipIf(!hasRedis || !ort)('diffuse submit / worker / collect on Redis (BullMQ)', () => {
  const children: ChildProcess[] = [];
  let stopRedis = () => undefined as void;
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    stopRedis();
  });

  it('3 workers, one killed mid-shard: the assembled samples are the single-process run\'s bits', async () => {
    const redis = await startRedis();
    stopRedis = redis.stop;
    const job = ['--model', 'mnist', '--steps', '20', '--cfg', '2', '--n', '48', '--seed', '3'];
    const local = join(dir, 'local.npy');
    expect((await runCli('submit', ...job, '--shard-size', '48', '--local', '--out', local, '--quiet')).err).toBe('');
    const sub = await runCli('submit', ...job, '--shard-size', '8', '--redis', redis.url, '--job', 'kill-test');
    expect(sub.err).toBe('');
    expect(sub.out).toMatch(/job kill-test: 48 samples in 6 shards of 8/);
    const ws = [worker(redis.url), worker(redis.url), worker(redis.url)];
    children.push(...ws.map((w) => w.child));
    const killed = await ws[0].started;
    ws[0].child.kill('SIGKILL');
    const out = join(dir, 'queued.npy');
    const c = await runCli('collect', '--redis', redis.url, '--job', 'kill-test', '--out', out, '--timeout', '90');
    expect(c.err).toBe('');
    expect(readFileSync(out).equals(readFileSync(local))).toBe(true);
    // the killed worker's shard was run again by another
    expect(ws[1].log() + ws[2].log()).toContain(`${killed}: done`);
    expect(ws[0].log()).not.toContain(`${killed}: done`);
    // submitting the same job again is the same job: nothing to do twice, the result is still there
    expect((await runCli('submit', ...job, '--shard-size', '8', '--redis', redis.url, '--job', 'kill-test', '--quiet')).err).toBe('');
    const again = await runCli('submit', '--model', 'mnist', '--n', '8', '--redis', redis.url, '--job', 'kill-test');
    expect(again.err).toMatch(/job kill-test already exists with another spec/);
    // a job whose data set is gone by the time a worker runs it fails for good, and collect says why;
    // no worker runs while the job is queued and its file deleted (an idle one could run it first)
    for (const w of ws) w.child.kill('SIGKILL');
    const data = join(dir, 'points.npy');
    writeFileSync(data, encodeNpy(tensor('float64', [3, 2], Float64Array.from([0, 0, 1, 1, -1, 1]))));
    expect((await runCli('submit', '--model', `data:${data}`, '--sampler', 'ddim', '--n', '4', '--shard-size', '2', '--redis', redis.url, '--job', 'gone', '--quiet')).err).toBe('');
    rmSync(data);
    children.push(worker(redis.url).child);
    const gone = await runCli('collect', '--redis', redis.url, '--job', 'gone', '--out', join(dir, 'gone.npy'), '--timeout', '60');
    expect(gone.err).toMatch(/job gone shard \d failed: .*points\.npy/);
    expect(gone.code).toBe(1);
  }, 180_000);
});
