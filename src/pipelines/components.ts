import { UsageError, RunError } from '../core/errors.js';
import { encodeHalf, fromHalfBits, numericArray } from '../models/onnx/float16.js';
import { RunQueue, runOnce } from '../models/onnx/runner.js';
import type { OrtSession, OrtTensor, OrtTensorConstructor, OrtValueMetadata } from '../models/onnx/runtime.js';

/**
 * The networks of a diffusers-format ONNX pipeline (text encoder, UNet, VAE decoder and encoder)
 * over ONNX Runtime sessions, with the input and output names optimum's exporter writes. Each reads
 * its element types and shapes from the graph (float32 or float16 tensors, int32 or int64 token
 * ids, an int64 / float32 / float16 timestep as a scalar, one value or one per sample), runs through
 * the session runner (queued, native tensors disposed) and splits batches a graph fixes.
 */

/** A float tensor as the graph wants it: float16 bits or float32. */
function floatTensor(T: OrtTensorConstructor, type: 'float32' | 'float16', data: ArrayLike<number>, dims: readonly number[]): OrtTensor {
  return type === 'float16' ? new T('float16', encodeHalf(data, new Uint16Array(data.length)), dims) : new T('float32', Float32Array.from(data), dims);
}

/**
 * A float output as float32 values; a RunError naming it otherwise. float16 data comes as float16
 * bits in a Uint16Array (Node), or as a Float16Array where the engine has one (Chromium ≥ 135).
 */
function readFloats(t: OrtTensor | undefined, what: string): Float32Array {
  const data = t?.data;
  if (t && t.type === 'float16' && data instanceof Uint16Array) return Float32Array.from(data, fromHalfBits);
  const values = t?.type === 'float16' ? numericArray(data) : undefined;
  if (values) return Float32Array.from(values);
  if (t && data instanceof Float32Array) return Float32Array.from(data);
  throw new RunError(`${what} is ${t ? `${t.type} [${t.dims.join(', ')}]` : 'missing'}; expected a float32 or float16 tensor`);
}

/** The graph's metadata for `name`, or a UsageError listing what the graph has. */
function meta(session: OrtSession, kind: 'input' | 'output', name: string, source: string): OrtValueMetadata {
  const list = kind === 'input' ? session.inputMetadata : session.outputMetadata;
  const m = list.find((v) => v.name === name);
  if (!m) throw new UsageError(`${source}: the graph has no ${kind} "${name}"; its ${kind}s are ${list.map((v) => v.name).join(', ')}`);
  return m;
}

function floatType(m: OrtValueMetadata, source: string): 'float32' | 'float16' {
  if (m.type === 'float32' || m.type === 'float16') return m.type;
  throw new UsageError(`${source}: "${m.name}" is ${m.type ?? 'not a tensor'}; accepted: float32, float16`);
}

/** A positive batch size the graph fixes on its first axis, if it fixes one. */
function fixedBatch(m: OrtValueMetadata): number | undefined {
  const b = m.shape?.[0];
  return typeof b === 'number' && b > 0 ? b : undefined;
}

type TimeType = 'int64' | 'float32' | 'float16';
type TimeShape = 'scalar' | 'one' | 'batch';

/** A denoiser graph's timestep input: its element type and whether it is a scalar, one value or one per row. */
function timestepInput(session: OrtSession, source: string, batch: number | undefined, fallback: string): { type: TimeType; shape: TimeShape } {
  const time = meta(session, 'input', 'timestep', source);
  if (time.type !== 'int64' && time.type !== 'float32' && time.type !== 'float16') throw new UsageError(`${source}: "timestep" is ${time.type}; accepted: int64, float32, float16`);
  const ts = time.shape ?? [fallback];
  return { type: time.type, shape: ts.length === 0 ? 'scalar' : ts[0] === 1 && batch !== 1 ? 'one' : 'batch' };
}

/** The timestep for m rows as the graph takes it (int64 rounded, or float). */
function timestepTensor(T: OrtTensorConstructor, t: { type: TimeType; shape: TimeShape }, m: number, timestep: number): OrtTensor {
  const count = t.shape === 'batch' ? m : 1;
  const dims = t.shape === 'scalar' ? [] : [count];
  return t.type === 'int64' ? new T('int64', new BigInt64Array(count).fill(BigInt(Math.round(timestep))), dims) : floatTensor(T, t.type, new Float64Array(count).fill(timestep), dims);
}

/**
 * A denoiser graph on n rows of dim values, in chunks of `chunk` rows (a graph's fixed batch):
 * feeds(s, m) gives chunk s..s+m's inputs, and its output `output` must hold m × dim values.
 */
async function chunkedRun(
  session: OrtSession, n: number, dim: number, chunk: number, feeds: (s: number, m: number) => Record<string, OrtTensor>, output: string, what: string,
): Promise<Float64Array> {
  const out = new Float64Array(n * dim);
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    await runOnce(session, feeds(s, m), (r) => {
      const v = readFloats(r[output], `${what} output "${output}"`);
      if (v.length !== m * dim) throw new RunError(`${what} output "${output}" has ${v.length} values; expected ${m} × ${dim}`);
      out.set(v, s * dim);
    }, `running ${what}`);
  }
  return out;
}

/** Text encoder output: hidden states [n, tokens, width] and the pooled output [n, width] if the graph has one. */
export interface TextEncoding {
  hidden: Float32Array;
  tokens: number;
  width: number;
  /** pooler_output, or a CLIPTextModelWithProjection's text_embeds (its projected pooled output). */
  pooled?: Float32Array;
  /** hidden_states.0 … hidden_states.L (embeddings, then each layer's output), when the graph exports them (SDXL, SD3). */
  layers?: Float32Array[];
}

/** CLIP's text encoder (text_encoder/model.onnx): input_ids → last_hidden_state, pooler_output. */
export class OnnxTextEncoder {
  private readonly queue = new RunQueue();
  private readonly idType: 'int32' | 'int64';

  constructor(readonly session: OrtSession, private readonly T: OrtTensorConstructor, readonly source = 'text_encoder') {
    const ids = meta(session, 'input', 'input_ids', source);
    if (ids.type !== 'int32' && ids.type !== 'int64') throw new UsageError(`${source}: "input_ids" is ${ids.type}; accepted: int32, int64`);
    this.idType = ids.type;
    meta(session, 'output', 'last_hidden_state', source);
  }

  /** Encode n rows of token ids (n × tokens, row-major). */
  encode(ids: Int32Array, n: number): Promise<TextEncoding> {
    const tokens = ids.length / n;
    if (!Number.isInteger(tokens)) throw new UsageError(`${this.source}: ${ids.length} token ids do not split into ${n} rows`);
    const feed = this.idType === 'int32' ? new this.T('int32', Int32Array.from(ids), [n, tokens]) : new this.T('int64', BigInt64Array.from(ids, BigInt), [n, tokens]);
    return this.queue.enqueue(() => runOnce(this.session, { input_ids: feed }, (r) => {
      const hidden = readFloats(r.last_hidden_state, `${this.source} output "last_hidden_state"`);
      const width = hidden.length / (n * tokens);
      const pooledName = r.text_embeds ? 'text_embeds' : 'pooler_output';
      const pooled = r[pooledName] ? readFloats(r[pooledName], `${this.source} output "${pooledName}"`) : undefined;
      const layers: Float32Array[] = [];
      for (let k = 0; r[`hidden_states.${k}`]; k++) layers.push(readFloats(r[`hidden_states.${k}`], `${this.source} output "hidden_states.${k}"`));
      return { hidden, tokens, width, ...(pooled ? { pooled } : {}), ...(layers.length ? { layers } : {}) };
    }, `running ${this.source}`));
  }
}

/** Channels concatenated after the latents of every row (an inpainting UNet's mask and masked-image latents). */
export interface ExtraChannels {
  /** n × channels × h × w. */
  data: Float64Array;
  channels: number;
}

/** SDXL's added conditions, one row per sample: the pooled text embedding and the six time ids. */
export interface AddedConditions {
  textEmbeds: Float64Array;
  timeIds: Float64Array;
}

/** Rows s..s+m of an n-row array. */
const rowsOf = (v: Float64Array, n: number, s: number, m: number) => v.subarray((s * v.length) / n, ((s + m) * v.length) / n);

/** Rows s..s+m of [latents, extra] along the channel axis. */
function withChannels(latents: Float64Array, extra: ExtraChannels, s: number, m: number, dim: number, plane: number): Float64Array {
  const k = extra.channels * plane;
  const out = new Float64Array(m * (dim + k));
  for (let i = 0; i < m; i++) {
    out.set(latents.subarray((s + i) * dim, (s + i + 1) * dim), i * (dim + k));
    out.set(extra.data.subarray((s + i) * k, (s + i + 1) * k), i * (dim + k) + dim);
  }
  return out;
}

/** The denoising UNet (unet/model.onnx): sample, timestep, encoder_hidden_states → out_sample. */
export class OnnxUnet {
  private readonly queue = new RunQueue();
  private readonly sampleType: 'float32' | 'float16';
  private readonly contextType: 'float32' | 'float16';
  private readonly time: { type: TimeType; shape: TimeShape };
  private readonly batch?: number;
  /** The input channels the graph fixes (4; an inpainting UNet 9), when it fixes them. */
  readonly inChannels?: number;
  /** LCM's guidance embedding input (timestep_cond): its element type, and its width when the graph fixes it. */
  readonly condType?: 'float32' | 'float16';
  readonly condDim?: number;
  /** SDXL's added conditions (text_embeds, time_ids): their element types, when the graph takes them. */
  readonly addedTypes?: readonly ['float32' | 'float16', 'float32' | 'float16'];

  constructor(readonly session: OrtSession, private readonly T: OrtTensorConstructor, readonly source = 'unet') {
    const sample = meta(session, 'input', 'sample', source);
    this.sampleType = floatType(sample, source);
    this.contextType = floatType(meta(session, 'input', 'encoder_hidden_states', source), source);
    floatType(meta(session, 'output', 'out_sample', source), source);
    this.batch = fixedBatch(sample);
    this.time = timestepInput(session, source, this.batch, 'steps');
    const c = sample.shape?.[1];
    if (typeof c === 'number' && c > 0) this.inChannels = c;
    if (session.inputNames.includes('text_embeds') || session.inputNames.includes('time_ids')) {
      this.addedTypes = [floatType(meta(session, 'input', 'text_embeds', source), source), floatType(meta(session, 'input', 'time_ids', source), source)];
    }
    if (session.inputNames.includes('timestep_cond')) {
      const cond = meta(session, 'input', 'timestep_cond', source);
      this.condType = floatType(cond, source);
      const dim = cond.shape?.[1];
      if (typeof dim === 'number' && dim > 0) this.condDim = dim;
    }
    const unfed = session.inputNames.filter((n) => !['sample', 'timestep', 'encoder_hidden_states', 'timestep_cond', 'text_embeds', 'time_ids'].includes(n));
    if (unfed.length) throw new UsageError(`${source}: the graph also needs ${unfed.join(', ')}, which this pipeline does not feed`);
  }

  /**
   * The network on n latents (n × shape, float64) at one timestep, row i attending to row i of the
   * text context (n × tokens × width): a graph with a fixed batch runs in chunks of that batch.
   */
  predict(
    latents: Float64Array, n: number, shape: readonly number[], timestep: number, context: TextEncoding, extra?: ExtraChannels, cond?: Float64Array, added?: AddedConditions,
  ): Promise<Float64Array> {
    if (this.condType && !cond) throw new UsageError(`${this.source}: the graph takes timestep_cond (an LCM UNet's guidance embedding); pass it`);
    if (this.addedTypes && !added) throw new UsageError(`${this.source}: the graph takes text_embeds and time_ids (an SDXL UNet); pass them`);
    const dim = latents.length / n;
    const plane = shape[1] * shape[2];
    const inChannels = shape[0] + (extra?.channels ?? 0);
    if (this.inChannels !== undefined && this.inChannels !== inChannels) {
      throw new UsageError(`${this.source}: the graph takes ${this.inChannels} input channels, got ${inChannels}${this.inChannels === shape[0] + 5 ? ' (an inpainting UNet: pass an image and a mask)' : ''}`);
    }
    const ctx = context.tokens * context.width;
    if (context.hidden.length !== n * ctx) throw new UsageError(`${this.source}: ${n} latents but text context for ${context.hidden.length / ctx} rows`);
    const chunk = this.batch ?? n;
    if (this.batch !== undefined && n % this.batch !== 0) throw new UsageError(`${this.source}: the graph's batch is fixed at ${this.batch}; got ${n} rows`);
    return this.queue.enqueue(() => chunkedRun(this.session, n, dim, chunk, (s, m) => ({
      sample: floatTensor(this.T, this.sampleType, extra ? withChannels(latents, extra, s, m, dim, plane) : latents.subarray(s * dim, (s + m) * dim), [m, inChannels, shape[1], shape[2]]),
      timestep: timestepTensor(this.T, this.time, m, timestep),
      encoder_hidden_states: floatTensor(this.T, this.contextType, context.hidden.subarray(s * ctx, (s + m) * ctx), [m, context.tokens, context.width]),
      ...(this.condType && cond ? { timestep_cond: floatTensor(this.T, this.condType, cond.subarray(s * (cond.length / n), (s + m) * (cond.length / n)), [m, cond.length / n]) } : {}),
      ...(this.addedTypes && added ? {
        text_embeds: floatTensor(this.T, this.addedTypes[0], rowsOf(added.textEmbeds, n, s, m), [m, added.textEmbeds.length / n]),
        time_ids: floatTensor(this.T, this.addedTypes[1], rowsOf(added.timeIds, n, s, m), [m, added.timeIds.length / n]),
      } : {}),
    }), 'out_sample', `${this.source} at timestep ${timestep}`));
  }
}

/** The KL-VAE halves (vae_decoder/model.onnx, vae_encoder/model.onnx): latents ↔ images in [−1, 1]. */
export class OnnxVae {
  private readonly queue = new RunQueue();
  private readonly inType: 'float32' | 'float16';
  private readonly batch?: number;
  private readonly outName: string;
  /**
   * An encoder that returns the latent distribution's parameters, mean and log-variance stacked on
   * the channel axis (`latent_parameters`, optimum ≥ 1.23), not one latent (`latent_sample`).
   */
  readonly parameters: boolean;

  constructor(
    readonly session: OrtSession, private readonly T: OrtTensorConstructor, readonly kind: 'decoder' | 'encoder', readonly source = `vae_${kind}`,
  ) {
    const input = meta(session, 'input', kind === 'decoder' ? 'latent_sample' : 'sample', source);
    this.inType = floatType(input, source);
    this.batch = fixedBatch(input);
    this.parameters = kind === 'encoder' && session.outputNames.includes('latent_parameters');
    this.outName = kind === 'decoder' ? 'sample' : this.parameters ? 'latent_parameters' : 'latent_sample';
    floatType(meta(session, 'output', this.outName, source), source);
  }

  /** Run on n inputs of `shape` (n × shape values); returns the outputs row after row. */
  run(x: ArrayLike<number>, n: number, shape: readonly number[]): Promise<Float32Array> {
    const inName = this.kind === 'decoder' ? 'latent_sample' : 'sample';
    const { outName } = this;
    const dim = x.length / n;
    const chunk = this.batch ?? n;
    return this.queue.enqueue(async () => {
      const parts: Float32Array[] = [];
      for (let s = 0; s < n; s += chunk) {
        const m = Math.min(chunk, n - s);
        const rows = Float64Array.from({ length: m * dim }, (_, i) => x[s * dim + i]);
        parts.push(await runOnce(this.session, { [inName]: floatTensor(this.T, this.inType, rows, [m, ...shape]) },
          (r) => readFloats(r[outName], `${this.source} output "${outName}"`), `running ${this.source}`));
      }
      const out = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
      let off = 0;
      for (const p of parts) (out.set(p, off), (off += p.length));
      return out;
    });
  }
}

/**
 * A flow-matching transformer (transformer/model.onnx, SD3's MMDiT as optimum exports it):
 * hidden_states [n, c, h, w], timestep [n] (σ·1000), encoder_hidden_states [n, tokens, width],
 * pooled_projections [n, p] → out_hidden_states (the velocity).
 */
export class OnnxTransformer {
  private readonly queue = new RunQueue();
  private readonly sampleType: 'float32' | 'float16';
  private readonly contextType: 'float32' | 'float16';
  private readonly pooledType: 'float32' | 'float16';
  private readonly time: { type: TimeType; shape: TimeShape };
  private readonly batch?: number;

  constructor(readonly session: OrtSession, private readonly T: OrtTensorConstructor, readonly source = 'transformer') {
    const sample = meta(session, 'input', 'hidden_states', source);
    this.sampleType = floatType(sample, source);
    this.contextType = floatType(meta(session, 'input', 'encoder_hidden_states', source), source);
    this.pooledType = floatType(meta(session, 'input', 'pooled_projections', source), source);
    floatType(meta(session, 'output', 'out_hidden_states', source), source);
    this.batch = fixedBatch(sample);
    this.time = timestepInput(session, source, this.batch, 'step');
    const unfed = session.inputNames.filter((k) => !['hidden_states', 'timestep', 'encoder_hidden_states', 'pooled_projections'].includes(k));
    if (unfed.length) throw new UsageError(`${source}: the graph also needs ${unfed.join(', ')}, which this pipeline does not feed`);
  }

  /** The network on n latents (n × shape) at one timestep; row i reads row i of the context and pooled rows. */
  predict(latents: Float64Array, n: number, shape: readonly number[], timestep: number, context: TextEncoding, pooled: Float64Array): Promise<Float64Array> {
    const dim = latents.length / n;
    const ctx = context.tokens * context.width;
    const p = pooled.length / n;
    if (context.hidden.length !== n * ctx) throw new UsageError(`${this.source}: ${n} latents but text context for ${context.hidden.length / ctx} rows`);
    if (this.batch !== undefined && n % this.batch !== 0) throw new UsageError(`${this.source}: the graph's batch is fixed at ${this.batch}; got ${n} rows`);
    const chunk = this.batch ?? n;
    return this.queue.enqueue(() => chunkedRun(this.session, n, dim, chunk, (s, m) => ({
      hidden_states: floatTensor(this.T, this.sampleType, latents.subarray(s * dim, (s + m) * dim), [m, ...shape]),
      timestep: timestepTensor(this.T, this.time, m, timestep),
      encoder_hidden_states: floatTensor(this.T, this.contextType, context.hidden.subarray(s * ctx, (s + m) * ctx), [m, context.tokens, context.width]),
      pooled_projections: floatTensor(this.T, this.pooledType, pooled.subarray(s * p, (s + m) * p), [m, p]),
    }), 'out_hidden_states', `${this.source} at timestep ${timestep}`));
  }
}
