import { RunQueue, runChunked } from '../../models/onnx/runner.js';
import { RunError, UsageError } from '../../core/errors.js';
import { exp, log } from '../../core/math.js';
import { fromHalfBits, numericArray } from '../../models/onnx/float16.js';
import type { OrtSession, OrtTensor, OrtTensorConstructor, OrtValueMetadata } from '../../models/onnx/runtime.js';
import type { DiscreteModel } from '../model.js';
import type { MlmCard } from './card.js';

type IdType = 'int64' | 'int32';

/** What the adapter feeds and reads, resolved once from the card and the session's graph. */
interface MlmLayout {
  idType: IdType;
  maskType?: IdType;
  outputType: 'float32' | 'float16';
  /** The batch size the graph fixes, if it does (smaller chunks are padded with masked rows). */
  fixedBatch?: number;
}

const ID_TYPES: readonly IdType[] = ['int64', 'int32'];

/**
 * A masked language model in ONNX behind Diffuse's DiscreteModel: ids (+ attention mask of ones, + t
 * when the card declares a time input) → logits [B, L, V′]; the V logits at the card's token ids are
 * normalised by a float64 log-softmax, the others (special tokens, the mask) are ignored. Without a
 * time input the model is time-independent (RADD, Ou et al. 2024), so samplers may cache its output.
 * One session, runs queued so two never overlap, native tensors disposed as soon as a run is read.
 */
export class OnnxMaskedLM implements DiscreteModel {
  readonly vocabSize: number;
  readonly length: number;
  readonly timeConditioned: boolean;
  private readonly layout: MlmLayout;
  private readonly queue = new RunQueue();

  constructor(
    readonly session: OrtSession,
    private readonly Tensor: OrtTensorConstructor,
    readonly card: MlmCard,
    source = 'masked-LM card',
  ) {
    this.vocabSize = card.vocabSize;
    this.length = card.length;
    this.timeConditioned = card.time !== undefined;
    this.layout = resolveMlmLayout(card, session, source);
  }

  logProbs(x: Int32Array, n: number, t: Float64Array): Promise<Float64Array> {
    const L = this.length;
    if (x.length !== n * L) throw new UsageError(`the model expects n × ${L} token ids, got ${x.length} for n = ${n}`);
    if (t.length !== n) throw new UsageError(`got ${t.length} times for ${n} sequences`);
    return this.queue.enqueue(() => this.runChunks(x, n, t));
  }

  private async runChunks(x: Int32Array, n: number, t: Float64Array): Promise<Float64Array> {
    const { length: L, vocabSize: V, layout, card } = this;
    const chunk = layout.fixedBatch ?? Math.max(1, Math.min(n, card.maxBatch ?? n));
    const out = new Float64Array(n * L * V);
    const rowsOf = (m: number) => layout.fixedBatch ?? m;
    await runChunked(this.session, n, chunk, (start, m) => {
      const rows = rowsOf(m);
      const feeds: Record<string, OrtTensor> = { [card.inputs.ids]: this.idTensor(x.subarray(start * L, (start + m) * L), rows) };
      if (card.inputs.attentionMask) feeds[card.inputs.attentionMask] = this.intTensor(layout.maskType ?? 'int64', new Array<number>(rows * L).fill(1), rows);
      if (card.time) feeds[card.time.input] = new this.Tensor('float32', Float32Array.from({ length: rows }, (_, r) => (r < m ? t[start + r] : 1)), [rows]);
      return feeds;
    }, (result, start, m) => this.readLogProbs(result[card.output], rowsOf(m), m, out.subarray(start * L * V, (start + m) * L * V)), 'on the masked LM');
    return out;
  }

  /** Diffuse ids → network ids (the mask V → mask_id); padding rows are all masked. */
  private idTensor(x: Int32Array, rows: number): OrtTensor {
    const { tokenIds, maskId } = this.card;
    const V = this.vocabSize;
    const ids = Array.from({ length: rows * this.length }, (_, i) => (i < x.length && x[i] !== V ? tokenIds[x[i]] : maskId));
    return this.intTensor(this.layout.idType, ids, rows);
  }

  private intTensor(type: IdType, values: number[], rows: number): OrtTensor {
    const dims = [rows, this.length];
    if (type === 'int32') return new this.Tensor('int32', Int32Array.from(values), dims);
    return new this.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
  }

  /** Log-softmax in float64 over the logits at the card's token ids (the first m of rows sequences). */
  private readLogProbs(tensor: OrtTensor | undefined, rows: number, m: number, out: Float64Array): void {
    const { length: L, vocabSize: V } = this;
    const { tokenIds, output } = this.card;
    const dims = tensor?.dims ?? [];
    const width = dims[2];
    const values = logitValues(tensor);
    const need = Math.max(...tokenIds) + 1;
    if (!tensor || !values || dims.length !== 3 || dims[0] !== rows || dims[1] !== L || width < need || values.length !== rows * L * width) {
      throw new RunError(`ONNX output "${output}" has ${tensor ? `type ${tensor.type}, shape [${dims.join(', ')}]` : 'no value'}; ` +
        `expected float logits [${rows}, ${L}, V′] with V′ ≥ ${need}`);
    }
    const logits = new Float64Array(V);
    for (let i = 0; i < m * L; i++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) {
        logits[v] = values[i * width + tokenIds[v]];
        if (logits[v] > max) max = logits[v];
      }
      if (!Number.isFinite(max)) throw new RunError(`ONNX output "${output}" has non-finite logits at sequence ${Math.floor(i / L)}, position ${i % L}`);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += exp(logits[v] - max);
      const norm = max + log(sum);
      for (let v = 0; v < V; v++) out[i * V + v] = logits[v] - norm;
    }
  }
}

/** The logits of a float32 or float16 tensor as numbers (float16 bits decoded; a Float16Array, where the engine has one, as it is). */
function logitValues(tensor: OrtTensor | undefined): ArrayLike<number> | undefined {
  const data = tensor?.data;
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array && tensor?.type === 'float16') return Float32Array.from(data, fromHalfBits);
  return tensor?.type === 'float16' ? numericArray(data) : undefined;
}

/** Check the card against the graph's input/output names, element types and shapes. */
export function resolveMlmLayout(card: MlmCard, session: OrtSession, source = 'masked-LM card'): MlmLayout {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const fed: [string, string][] = [['inputs.ids', card.inputs.ids]];
  if (card.inputs.attentionMask) fed.push(['inputs.attention_mask', card.inputs.attentionMask]);
  if (card.time) fed.push(['time.input', card.time.input]);
  for (const [key, name] of fed) {
    if (!session.inputNames.includes(name)) fail(`${key} names input "${name}", which the ONNX graph lacks; its inputs are: ${session.inputNames.join(', ')}`);
  }
  const unfed = session.inputNames.filter((name) => !fed.some(([, f]) => f === name));
  if (unfed.length) {
    fail(`the ONNX graph needs input${unfed.length > 1 ? 's' : ''} ${unfed.join(', ')} that the card does not map; ` +
      'the card can feed inputs.ids, inputs.attention_mask and time.input');
  }
  if (!session.outputNames.includes(card.output)) fail(`"output" names "${card.output}", which the ONNX graph lacks; its outputs are: ${session.outputNames.join(', ')}`);
  const meta = (list: readonly OrtValueMetadata[], name: string) => list.find((m) => m.name === name);
  const ids = meta(session.inputMetadata, card.inputs.ids);
  const output = meta(session.outputMetadata, card.output);
  const layout: MlmLayout = {
    idType: elementType(ids, `input "${card.inputs.ids}"`, ID_TYPES, fail),
    outputType: elementType(output, `output "${card.output}"`, ['float32', 'float16'] as const, fail),
  };
  if (card.inputs.attentionMask) layout.maskType = elementType(meta(session.inputMetadata, card.inputs.attentionMask), `input "${card.inputs.attentionMask}"`, ID_TYPES, fail);
  if (card.time) {
    const time = meta(session.inputMetadata, card.time.input);
    elementType(time, `time input "${card.time.input}"`, ['float32'] as const, fail);
    if (time?.shape && time.shape.length !== 1) fail(`time input "${card.time.input}" must be 1-D [batch], got shape [${time.shape.join(', ')}]`);
  }
  const L = card.length;
  const idShape = ids?.shape;
  if (idShape && (idShape.length !== 2 || (typeof idShape[1] === 'number' && idShape[1] >= 0 && idShape[1] !== L))) {
    fail(`input "${card.inputs.ids}" has shape [${idShape.join(', ')}]; the card expects [batch, ${L}] (length ${L})`);
  }
  const need = Math.max(...card.tokenIds) + 1;
  const outShape = output?.shape;
  if (outShape) {
    const [, len, width] = outShape;
    const badLen = typeof len === 'number' && len >= 0 && len !== L;
    const narrow = typeof width === 'number' && width >= 0 && width < need;
    if (outShape.length !== 3 || badLen || narrow) {
      fail(`output "${card.output}" has shape [${outShape.join(', ')}]; the card expects [batch, ${L}, V′] with V′ ≥ ${need} (its largest token id + 1)`);
    }
  }
  if (idShape && typeof idShape[0] === 'number' && idShape[0] > 0) layout.fixedBatch = idShape[0];
  return layout;
}

function elementType<T extends string>(m: OrtValueMetadata | undefined, what: string, accepted: readonly T[], fail: (message: string) => never): T {
  if (!m?.isTensor || m.type === undefined) return fail(`${what} is not a tensor`);
  if (!accepted.includes(m.type as T)) return fail(`${what} has element type ${m.type}; accepted: ${accepted.join(', ')}`);
  return m.type as T;
}
