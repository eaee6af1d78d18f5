import { createHash } from 'node:crypto';
import { Option, type Command } from 'commander';
import { RunError, UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { tensor, sizeOf } from '../core/tensor.js';
import { createProcess, processes } from '../process/index.js';
import type { Process } from '../process/types.js';
import { predictions, type Prediction } from '../param/convert.js';
import type { Model } from '../models/types.js';
import { GaussianMixture, GmmOracle } from '../models/oracle/gmm.js';
import { cardProcess, parseModelCard } from '../models/onnx/card.js';
import { planSample } from '../sample.js';
import { findSampler } from '../samplers/index.js';
import { JOB_FORMAT, parseJobSpec, runShard, shardCount, shardLabels, shardRange, type JobSpec } from '../jobs/index.js';
import { readJsonObject, writeNpyFile } from '../io/files.js';
import { gridFromArgs, integerArg, keyValueArg, labelListArg, numberArg, positiveArg, type GridArgs } from './args.js';
import { addGridOptions } from './sample.js';
import { expandModelSpec, loadModelArg, type ModelArg } from './model.js';
import { progressBar, type CliIo } from './io.js';

/**
 * `diffuse submit / worker / collect`: a sampling job of n samples cut into shards on a BullMQ
 * queue in Redis, run by workers on any number of machines, assembled into one .npy that is the
 * same bits as the job run in one process (`diffuse submit --local`): see src/jobs. BullMQ and
 * ioredis are optional peer dependencies, loaded only by these commands.
 */

const QUEUE = 'shards';
const PREFIX = 'diffuse';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';
const specKey = (id: string) => `${PREFIX}:job:${id}`;
const shapeKey = (id: string) => `${PREFIX}:job:${id}:shape`;
const resultKey = (id: string, k: number) => `${PREFIX}:job:${id}:shard:${k}`;
const shardJobId = (id: string, k: number) => `${id}.${k}`;
/** Job ids: letters, digits, - and _ (BullMQ's job ids may not hold ':'; ours also name Redis keys). */
const JOB_ID = /^[\w-]{1,64}$/;

type BullMq = typeof import('bullmq');
type Redis = import('ioredis').Redis;

async function bullmq(): Promise<{ mq: BullMq; connect: (url: string, probe?: boolean) => Redis }> {
  try {
    const mq = await import('bullmq');
    const { Redis } = await import('ioredis');
    return {
      mq,
      connect: (url, probe) => new Redis(url, probe ? { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000 } : { maxRetriesPerRequest: null }),
    };
  } catch {
    throw new UsageError('diffuse submit, worker and collect need BullMQ and ioredis: npm install bullmq@6 ioredis@5');
  }
}

/** A connection, after a probe that fails at once with a clear error (instead of retrying forever) when Redis is not there. */
async function connectChecked(url: string): Promise<Redis> {
  const { connect } = await bullmq();
  let probe: Redis | undefined;
  try {
    probe = connect(url, true);
    probe.on('error', () => undefined);
    await probe.ping();
  } catch (e) {
    throw new UsageError(`cannot reach Redis at ${url}: ${e instanceof Error ? e.message : String(e)}; start one (e.g. redis-server) or pass --redis redis://HOST:PORT`);
  } finally {
    probe?.disconnect();
  }
  return connect(url);
}

interface SubmitArgs extends GridArgs {
  redis: string;
  model: string;
  process: string;
  prediction: Prediction;
  sampler: string;
  opt: Record<string, string>;
  steps: number;
  labels?: number[];
  cfg: number;
  n: number;
  seed: number;
  shardSize: number;
  job?: string;
  local?: boolean;
  out?: string;
  quiet?: boolean;
}

/** The model a spec names and how one shard of it runs: labels cycled by global index, guided at cfg. */
interface Loaded {
  process: Process;
  sampleShape: readonly number[];
  forShard(first: number, count: number): Model;
}

async function loadJobModel(spec: JobSpec, threads?: number): Promise<Loaded> {
  const m: ModelArg = await loadModelArg(spec.model, undefined, threads);
  if (m.kind === 'gmm') {
    if (spec.labels || spec.cfg !== 1) throw new UsageError('labels and cfg apply to class-conditional networks');
    const process = createProcess({ name: spec.process ?? 'vp' } as Parameters<typeof createProcess>[0]);
    const model = new GmmOracle(new GaussianMixture(m.gmm), process, (spec.prediction ?? 'epsilon') as Prediction);
    return { process, sampleShape: model.sampleShape, forShard: () => model };
  }
  const net = m.model;
  const { guided } = await import('../models/onnx/index.js');
  if (net.numClasses === undefined) {
    if (spec.labels || spec.cfg !== 1) throw new UsageError(`${spec.model} is not class-conditional: drop labels and cfg`);
    return { process: net.process, sampleShape: net.sampleShape, forShard: () => net };
  }
  const labels = spec.labels ?? Array.from({ length: net.numClasses }, (_, i) => i);
  return {
    process: net.process,
    sampleShape: net.sampleShape,
    forShard: (first, count) => {
      const part = shardLabels(labels, first, count);
      return spec.cfg === 1 ? net.withLabels(part) : guided(net, { labels: part, scale: spec.cfg });
    },
  };
}

/**
 * Check a job before it is queued, without loading a network: the model names something that
 * exists (a card is read and checked), and the sampler, its options and the grid plan on the
 * model's process and sample shape.
 */
async function checkJob(spec: JobSpec): Promise<void> {
  const expanded = await expandModelSpec(spec.model);
  let process: Process;
  let sampleShape: readonly number[];
  if (expanded.startsWith('onnx:')) {
    const path = expanded.slice('onnx:'.length);
    let value: Record<string, unknown>;
    try {
      value = await readJsonObject(path);
    } catch (e) {
      throw new UsageError(`cannot read the model card ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const card = parseModelCard(value, path);
    process = cardProcess(card, path);
    sampleShape = card.sampleShape;
    if (card.numClasses === undefined && (spec.labels || spec.cfg !== 1)) throw new UsageError(`${spec.model} is not class-conditional: drop --labels and --cfg`);
    if (card.numClasses !== undefined && spec.labels?.some((c) => c >= (card.numClasses ?? 0))) throw new UsageError(`labels must be classes 0..${card.numClasses - 1} of ${spec.model}`);
    if (spec.cfg !== 1 && card.nullClass === undefined) throw new UsageError(`--cfg needs the card's null_class; ${spec.model} names none`);
  } else {
    const loaded = await loadJobModel(spec);
    process = loaded.process;
    sampleShape = loaded.sampleShape;
  }
  const stand = { prediction: 'epsilon' as const, sampleShape, predict: async (x: Float64Array) => new Float64Array(x.length) };
  planSample({ model: stand, process, sampler: spec.sampler, options: spec.options, steps: spec.steps, ...(spec.grid ? { grid: spec.grid } : {}), n: 1, seed: spec.seed });
}

/** The job id: given, or a hash of the spec (the same job submitted twice is one job). */
function jobId(spec: JobSpec, given?: string): string {
  if (given !== undefined) {
    if (!JOB_ID.test(given)) throw new UsageError(`--job must be 1 to 64 letters, digits, - or _; got "${given}"`);
    return given;
  }
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

async function specFromArgs(a: SubmitArgs): Promise<JobSpec> {
  const exact = !(await expandModelSpec(a.model)).startsWith('onnx:');
  const sampler = findSampler(a.sampler).name;
  const grid = gridFromArgs(a, a.steps, { type: 'logsnr', steps: a.steps, end: 'zero' });
  return parseJobSpec({
    format: JOB_FORMAT, model: a.model, sampler, options: a.opt, steps: a.steps, cfg: a.cfg, n: a.n, seed: a.seed, shardSize: a.shardSize,
    ...(exact ? { process: a.process, prediction: a.prediction } : {}),
    ...(grid ? { grid } : {}), ...(a.labels ? { labels: a.labels } : {}),
  }, 'job');
}

/** All shards assembled into one [n, ...sampleShape] float64 array. */
function assemble(spec: JobSpec, shape: readonly number[], parts: readonly Float64Array[]) {
  const dim = sizeOf(shape);
  const x = new Float64Array(spec.n * dim);
  parts.forEach((p, k) => x.set(p, shardRange(spec, k).first * dim));
  return tensor('float64', [spec.n, ...shape], x);
}

async function runLocal(spec: JobSpec, out: string, io: CliIo, quiet: boolean): Promise<void> {
  const loaded = await loadJobModel(spec);
  const shards = shardCount(spec);
  const bar = progressBar(io, quiet, 'shards');
  const parts: Float64Array[] = [];
  for (let k = 0; k < shards; k++) {
    const { first, count } = shardRange(spec, k);
    parts.push(await runShard({ spec, k, model: loaded.forShard(first, count), process: loaded.process }));
    bar.update(k + 1, shards, 'shards');
  }
  bar.stop();
  await writeNpyFile(out, assemble(spec, loaded.sampleShape, parts));
  if (!quiet) io.stdout.write(`${spec.n} samples in ${shards} shards, run here → ${out}\n`);
}

async function runSubmit(a: SubmitArgs, io: CliIo): Promise<void> {
  const spec = await specFromArgs(a);
  await checkJob(spec);
  if (a.local) {
    if (!a.out) throw new UsageError('--local runs the job here and needs --out FILE.npy');
    await runLocal(spec, a.out, io, a.quiet === true);
    return;
  }
  if (a.out) throw new UsageError('--out goes with --local; a queued job is written by diffuse collect --out');
  const id = jobId(spec, a.job);
  const redis = await connectChecked(a.redis);
  const { mq } = await bullmq();
  const connection = redis.duplicate();
  const queue = new mq.Queue(QUEUE, { connection, prefix: PREFIX });
  try {
    const text = JSON.stringify(spec);
    const set = await redis.set(specKey(id), text, 'NX');
    if (set === null && (await redis.get(specKey(id))) !== text) {
      throw new UsageError(`job ${id} already exists with another spec; choose another --job or drop --job to name it by its spec`);
    }
    const shards = shardCount(spec);
    // shards already done (the same job submitted again) are not queued again; queued ones keep their job id
    const todo: number[] = [];
    for (let k = 0; k < shards; k++) if (!(await redis.exists(resultKey(id, k)))) todo.push(k);
    await queue.addBulk(todo.map((k) => ({
      name: 'shard', data: { job: id, shard: k },
      opts: { jobId: shardJobId(id, k), attempts: 5, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: false },
    })));
    if (!a.quiet) {
      io.stdout.write(`job ${id}: ${spec.n} samples in ${shards} shards of ${spec.shardSize} on ${a.redis}${todo.length < shards ? ` (${shards - todo.length} already done)` : ''}\n`);
      io.stdout.write(`run workers: diffuse worker --redis ${a.redis}\ncollect:     diffuse collect --redis ${a.redis} --job ${id} --out samples.npy\n`);
    }
  } finally {
    await queue.close();
    connection.disconnect();
    redis.disconnect();
  }
}

interface WorkerArgs {
  redis: string;
  concurrency: number;
  threads?: number;
  lockSeconds: number;
  quiet?: boolean;
}

/** Run shards until SIGINT/SIGTERM; a shard is retried elsewhere if this worker dies mid-shard (its lock lapses). */
async function runWorker(a: WorkerArgs, io: CliIo): Promise<void> {
  const redis = await connectChecked(a.redis);
  const { mq } = await bullmq();
  const models = new Map<string, Promise<Loaded>>();
  const log = (s: string) => a.quiet || io.stderr.write(`${new Date().toISOString()} ${s}\n`);
  const connection = redis.duplicate();
  const worker = new mq.Worker<{ job: string; shard: number }>(QUEUE, async (job) => {
    const { job: id, shard: k } = job.data;
    const text = await redis.get(specKey(id));
    if (text === null) throw new mq.UnrecoverableError(`job ${id} has no spec in Redis (deleted?)`);
    let spec: JobSpec;
    let loaded: Loaded;
    try {
      spec = parseJobSpec(JSON.parse(text), `job ${id}`);
      const key = JSON.stringify([spec.model, spec.process, spec.prediction, spec.labels, spec.cfg]);
      if (!models.has(key)) models.set(key, loadJobModel(spec, a.threads));
      loaded = await (models.get(key) as Promise<Loaded>);
    } catch (e) {
      throw new mq.UnrecoverableError(e instanceof Error ? e.message : String(e));
    }
    const { first, count } = shardRange(spec, k);
    log(`job ${id} shard ${k}: started (samples ${first}..${first + count - 1})`);
    const started = performance.now();
    let x: Float64Array;
    try {
      x = await runShard({ spec, k, model: loaded.forShard(first, count), process: loaded.process, onStep: (s) => void job.updateProgress(Math.round((100 * s.step) / s.total)) });
    } catch (e) {
      if (e instanceof UsageError) throw new mq.UnrecoverableError(e.message);
      throw e;
    }
    // the same bytes whichever worker writes them, so a retried shard duplicates nothing
    await redis.set(resultKey(id, k), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
    await redis.set(shapeKey(id), JSON.stringify(loaded.sampleShape));
    log(`job ${id} shard ${k}: done in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  }, {
    connection, prefix: PREFIX, concurrency: a.concurrency,
    lockDuration: a.lockSeconds * 1000, stalledInterval: a.lockSeconds * 1000, maxStalledCount: 5,
  });
  worker.on('failed', (job, e) => log(`job ${job?.data.job} shard ${job?.data.shard}: failed: ${e.message}`));
  log(`worker on ${a.redis}, queue ${PREFIX}:${QUEUE}, concurrency ${a.concurrency}`);
  await new Promise<void>((resolve) => {
    const stop = () => void worker.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  connection.disconnect();
  redis.disconnect();
}

interface CollectArgs {
  redis: string;
  job: string;
  out: string;
  timeout?: number;
  quiet?: boolean;
}

/** Wait for every shard of a job, then write the assembled samples; a shard that failed for good stops it with its reason. */
async function runCollect(a: CollectArgs, io: CliIo): Promise<void> {
  if (!JOB_ID.test(a.job)) throw new UsageError(`--job must be 1 to 64 letters, digits, - or _; got "${a.job}"`);
  const redis = await connectChecked(a.redis);
  const { mq } = await bullmq();
  const connection = redis.duplicate();
  const queue = new mq.Queue(QUEUE, { connection, prefix: PREFIX });
  const bar = progressBar(io, a.quiet === true, 'shards', 0);
  try {
    const text = await redis.get(specKey(a.job));
    if (text === null) throw new UsageError(`Redis at ${a.redis} has no job ${a.job}`);
    const spec = parseJobSpec(JSON.parse(text), `job ${a.job}`);
    const shards = shardCount(spec);
    const deadline = a.timeout === undefined ? Infinity : Date.now() + a.timeout * 1000;
    for (;;) {
      const done = await Promise.all(Array.from({ length: shards }, (_, k) => redis.exists(resultKey(a.job, k))));
      let partial = 0;
      for (let k = 0; k < shards; k++) {
        if (done[k]) continue;
        const job = await queue.getJob(shardJobId(a.job, k));
        // a worker may have finished the shard since `done` was read: its result is stored before the job is removed
        if (!job && (await redis.exists(resultKey(a.job, k)))) continue;
        if (!job) throw new RunError(`job ${a.job} shard ${k} is neither queued nor done (was the queue emptied?); submit the job again`);
        if (await job.isFailed()) throw new RunError(`job ${a.job} shard ${k} failed: ${job.failedReason}`);
        if (typeof job.progress === 'number') partial += job.progress / 100;
      }
      const present = done.filter(Boolean).length;
      bar.update(Math.floor(100 * (present + partial)) / 100, shards, `shards (${present} done)`);
      if (present === shards) break;
      if (Date.now() > deadline) throw new RunError(`job ${a.job}: ${present} of ${shards} shards done after ${a.timeout} s; the rest are still queued or running (run more workers, or collect again later)`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const shape = JSON.parse((await redis.get(shapeKey(a.job))) ?? 'null') as number[] | null;
    if (!Array.isArray(shape)) throw new RunError(`job ${a.job} has its shards but no sample shape`);
    const parts: Float64Array[] = [];
    for (let k = 0; k < shards; k++) {
      const buf = await redis.getBuffer(resultKey(a.job, k));
      const { count } = shardRange(spec, k);
      if (!buf || buf.byteLength !== count * sizeOf(shape) * 8) throw new RunError(`job ${a.job} shard ${k} holds ${buf?.byteLength ?? 0} bytes; expected ${count * sizeOf(shape) * 8}`);
      const copy = new Uint8Array(buf.byteLength);
      copy.set(buf);
      parts.push(new Float64Array(copy.buffer));
    }
    bar.stop();
    await writeNpyFile(a.out, assemble(spec, shape, parts));
    if (!a.quiet) io.stdout.write(`job ${a.job}: ${spec.n} samples from ${shards} shards → ${a.out}\n`);
  } finally {
    bar.stop();
    await queue.close();
    connection.disconnect();
    redis.disconnect();
  }
}

export function addJobCommands(program: Command, io: CliIo): void {
  addGridOptions(
    program
      .command('submit')
      .description('queue a sampling job of --n samples as shards on Redis (BullMQ) for `diffuse worker`s anywhere; --local runs it here')
      .option('--redis <url>', 'Redis URL', DEFAULT_REDIS)
      .option('--model <spec>', 'a shipped network\'s NAME, onnx:CARD.json (a path every worker can read), builtin:NAME, gmm:FILE.json or data:FILE.npy', 'mnist')
      .addOption(new Option('--process <name>', 'exact models: forward process').choices(processes.map((p) => p.name)).default('vp'))
      .addOption(new Option('--prediction <type>', 'exact models: what the oracle predicts').choices(predictions).default('epsilon'))
      .option('--sampler <name>', 'sampler name or alias', 'dpmpp-2m')
      .option('--opt <key=value>', 'sampler option, repeatable', keyValueArg, {})
      .option('--steps <n>', 'number of steps', integerArg(1, LIMITS.steps), 20),
  )
    .option('--labels <list>', 'class-conditional networks: labels cycled over the samples (default 0..K−1)', labelListArg)
    .option('--cfg <w>', 'class-conditional networks: classifier-free guidance scale', numberArg, 1)
    .option('--n <n>', 'number of samples', integerArg(1, LIMITS.jobSamples), 1000)
    .option('--seed <seed>', 'seed (sample i draws from Philox stream i + 1 of it)', integerArg(0, LIMITS.seed), 0)
    .option('--shard-size <n>', 'samples per shard', integerArg(1, LIMITS.samples), 250)
    .option('--job <id>', 'job id (default: a hash of the job, so the same job submitted twice is one job)')
    .option('--local', 'run the whole job in this process and write --out (no Redis): what the workers\' assembled result equals')
    .option('--out <file>', 'with --local: the samples (.npy, float64)')
    .option('--quiet', 'print nothing but errors')
    .action(async (a: SubmitArgs) => runSubmit(a, io));
  program
    .command('worker')
    .description('run queued shards from Redis until stopped (Ctrl-C / SIGTERM); start one on every machine')
    .option('--redis <url>', 'Redis URL', DEFAULT_REDIS)
    .option('--concurrency <n>', 'shards run at once by this worker', integerArg(1, 1024), 1)
    .option('--threads <n>', 'ONNX Runtime intra-op threads per network (default: all cores; with one worker per core, 1 is faster: docs/bench-cores.md)', integerArg(1, 1024))
    .option('--lock-seconds <s>', 'a shard whose worker is silent this long is given to another worker', positiveArg, 30)
    .option('--quiet', 'print nothing but errors')
    .action(async (a: WorkerArgs) => runWorker(a, io));
  program
    .command('collect')
    .description('wait for a job\'s shards and write the assembled samples (.npy, float64), with progress')
    .option('--redis <url>', 'Redis URL', DEFAULT_REDIS)
    .requiredOption('--job <id>', 'the id `diffuse submit` printed')
    .requiredOption('--out <file>', 'the samples (.npy)')
    .option('--timeout <s>', 'give up after this many seconds (default: wait)', positiveArg)
    .option('--quiet', 'print nothing but errors')
    .action(async (a: CollectArgs) => runCollect(a, io));
}
