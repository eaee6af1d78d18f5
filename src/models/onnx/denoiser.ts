import { RunQueue, runChunked } from './runner.js';
import type { Model } from '../types.js';
import type { Process } from '../../process/types.js';
import type { Prediction } from '../../param/convert.js';
import { edmPreconditioning } from '../../param/edm.js';
import { sizeOf } from '../../core/tensor.js';
import { RunError, UsageError } from '../../core/errors.js';
import { cardGrid, cardProcess, type ModelCard } from './card.js';
import type { GridSpec } from '../../grid/spec.js';
import { resolveLayout, type GraphLayout } from './graph.js';
import { encodeHalf, fromHalfBits, numericArray } from './float16.js';
import type { OrtSession, OrtTensor, OrtTensorConstructor } from './runtime.js';

/** Class labels of a batch, one per sample. */
export type Labels = Int32Array | readonly number[];

/**
 * An ONNX network behind Diffuse's Model interface (transformers.js-style adapter): one session
 * reused across steps, float64 samples converted to the graph's float32/float16 and back, time fed
 * in the card's convention, batches split into chunks of the card's max_batch, runs queued so two
 * never overlap on the session, and native tensors disposed as soon as a run is read.
 */
export class OnnxDenoiser implements Model {
  readonly prediction: Prediction;
  readonly sampleShape: readonly number[];
  readonly process: Process;
  readonly numClasses?: number;
  readonly nullClass?: number;
  /** Shape of one condition image, for an image-conditioned network (card inputs.condition). */
  readonly conditionShape?: readonly number[];
  private readonly dim: number;
  private readonly conditionDim: number;
  private readonly layout: GraphLayout;
  private readonly sigmaData: number;
  private readonly queue = new RunQueue();

  constructor(
    readonly session: OrtSession,
    private readonly Tensor: OrtTensorConstructor,
    readonly card: ModelCard,
    source = 'model card',
  ) {
    this.process = cardProcess(card, source);
    this.layout = resolveLayout(card, session, source);
    this.prediction = card.prediction;
    this.sampleShape = card.sampleShape;
    this.dim = sizeOf(card.sampleShape);
    this.numClasses = card.numClasses;
    this.nullClass = card.nullClass;
    if (card.inputs.condition) this.conditionShape = card.conditionShape ?? card.sampleShape;
    this.conditionDim = this.conditionShape ? sizeOf(this.conditionShape) : 0;
    const sd = this.process.config.sigmaData;
    this.sigmaData = typeof sd === 'number' ? sd : 0.5;
  }

  /** The network at time t; a class-conditional network gets the null class (unconditional). */
  predict(x: Float64Array, n: number, t: number): Promise<Float64Array> {
    this.refuseUnconditioned();
    if (this.numClasses === undefined) return this.predictLabels(x, n, t);
    if (this.nullClass === undefined) {
      throw new UsageError('this model is class-conditional and its card names no null_class: pass labels with withLabels() or guided()');
    }
    return this.predictLabels(x, n, t, new Int32Array(n).fill(this.nullClass));
  }

  /** The card's grid for `steps` steps of `sampler`, guided or not (its first `grids` rule that applies), if any. */
  defaultGrid(steps: number, sampler: string, guided = false): GridSpec | undefined {
    return cardGrid(this.card, steps, sampler, guided);
  }

  /** This model with fixed class labels, one per sample. */
  withLabels(labels: Labels): Model {
    this.checkLabels(labels);
    const fixed = Int32Array.from(labels);
    return {
      prediction: this.prediction,
      sampleShape: this.sampleShape,
      predict: (x, n, t) => this.predictLabels(x, n, t, fixed),
      defaultGrid: (steps, sampler) => this.defaultGrid(steps, sampler),
    };
  }

  /**
   * This image-conditioned network (a restoration model) with its condition images: one per sample
   * (n × condition_shape values) or one for every sample; labels as withLabels takes them, if the
   * network also has a class input.
   */
  withCondition(condition: Float64Array, labels?: Labels): Model {
    const shape = this.conditionShape;
    if (!shape) throw new UsageError('this model has no condition input (its card names no inputs.condition)');
    const count = condition.length / this.conditionDim;
    if (!(Number.isInteger(count) && count >= 1)) {
      throw new UsageError(`the condition must hold k × ${this.conditionDim} values (condition_shape [${shape.join(', ')}]), got ${condition.length}`);
    }
    const bad = condition.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UsageError(`the condition must be finite; value ${bad} is ${condition[bad]}`);
    if (labels) this.checkLabels(labels);
    const fixed = Float64Array.from(condition);
    const labelFor = (n: number): Labels | undefined => {
      if (this.numClasses === undefined) return undefined;
      if (labels) return labels;
      if (this.nullClass === undefined) throw new UsageError('this model is class-conditional and its card names no null_class: pass labels');
      return new Int32Array(n).fill(this.nullClass);
    };
    return {
      prediction: this.prediction,
      sampleShape: this.sampleShape,
      predict: (x, n, t) => {
        if (count !== 1 && count !== n) throw new UsageError(`the model holds ${count} condition images; the batch has ${n} samples (give one per sample or one for all)`);
        return this.run(x, n, t, labelFor(n), fixed);
      },
      defaultGrid: (steps, sampler) => this.defaultGrid(steps, sampler),
    };
  }

  private refuseUnconditioned(): void {
    if (this.conditionShape) {
      throw new UsageError(`this model restores an image it is given (card inputs.condition "${this.card.inputs.condition}", shape [${this.conditionShape.join(', ')}]): give it with withCondition() (CLI: diffuse restore)`);
    }
  }

  /** The network on n samples with the given labels (required exactly when the model has a class input). */
  predictLabels(x: Float64Array, n: number, t: number, labels?: Labels): Promise<Float64Array> {
    this.refuseUnconditioned();
    return this.run(x, n, t, labels);
  }

  private run(x: Float64Array, n: number, t: number, labels?: Labels, condition?: Float64Array): Promise<Float64Array> {
    if (x.length !== n * this.dim) {
      throw new UsageError(`the model expects n×${this.dim} values (sample_shape [${this.sampleShape.join(', ')}]), got ${x.length} for n=${n}`);
    }
    if (this.numClasses !== undefined) {
      if (!labels) throw new UsageError('this model is class-conditional: pass class labels');
      this.checkLabels(labels);
      if (labels.length !== n) throw new UsageError(`got ${labels.length} class labels for ${n} samples`);
    } else if (labels) {
      throw new UsageError('this model has no class input (its card names no inputs.class_labels)');
    }
    return this.queue.enqueue(() => this.runChunks(x, n, t, labels, condition));
  }

  /** Throws a UsageError unless every label is a class of this model or its null class. */
  checkLabels(labels: Labels): void {
    const { numClasses, nullClass } = this;
    if (numClasses === undefined) throw new UsageError('this model has no class input (its card names no inputs.class_labels)');
    const bad = Array.from(labels).find((c) => !(Number.isInteger(c) && ((c >= 0 && c < numClasses) || c === nullClass)));
    if (bad !== undefined) {
      throw new UsageError(`class label ${bad} is out of range; accepted: integers 0..${numClasses - 1}${nullClass === undefined ? '' : ` and the null class ${nullClass}`}`);
    }
  }

  private async runChunks(x: Float64Array, n: number, t: number, labels: Labels | undefined, condition?: Float64Array): Promise<Float64Array> {
    const { dim, layout } = this;
    const chunk = layout.fixedBatch ?? Math.min(n, this.card.maxBatch ?? n);
    const { scaleIn, timeValue, skip, scaleOut } = this.timeFeed(t);
    const out = new Float64Array(n * dim);
    const rowsOf = (m: number) => layout.fixedBatch ?? m;
    await runChunked(this.session, n, chunk, (start, m) => {
      const rows = rowsOf(m);
      const feeds: Record<string, OrtTensor> = {
        [this.card.inputs.sample]: this.sampleTensor(x.subarray(start * dim, (start + m) * dim), scaleIn, rows),
        [this.card.time.input]: this.timeTensor(timeValue, rows),
      };
      if (labels && this.card.inputs.classLabels) feeds[this.card.inputs.classLabels] = this.labelTensor(labels, start, m, rows);
      if (condition && this.card.inputs.condition) feeds[this.card.inputs.condition] = this.conditionTensor(condition, start, m, rows);
      return feeds;
    }, (result, start, m) => this.readOutput(result[this.card.output], out, start * dim, m * dim, rowsOf(m) * dim), `at t=${t}`);
    if (skip !== 0 || scaleOut !== 1) for (let i = 0; i < out.length; i++) out[i] = skip * x[i] + scaleOut * out[i];
    return out;
  }

  /**
   * The time value the network reads and the affine maps around it: identity except for EDM's
   * D = c_skip x + c_out F(c_in x; c_noise) (Karras et al. 2022, Table 1).
   */
  private timeFeed(t: number): { scaleIn: number; timeValue: number; skip: number; scaleOut: number } {
    const p = this.process;
    switch (this.card.time.kind) {
      case 'discrete':
      case 'continuous':
        return { scaleIn: 1, timeValue: t, skip: 0, scaleOut: 1 };
      case 'sigma':
        return { scaleIn: 1, timeValue: p.sigma(t) / p.alpha(t), skip: 0, scaleOut: 1 };
      case 'edm_c_noise': {
        const c = edmPreconditioning(p.sigma(t), this.sigmaData);
        return { scaleIn: c.cIn, timeValue: c.cNoise, skip: c.cSkip, scaleOut: c.cOut };
      }
    }
  }

  private sampleTensor(x: Float64Array, scale: number, rows: number): OrtTensor {
    const dims = [rows, ...this.sampleShape];
    const size = rows * this.dim;
    if (this.layout.sampleType === 'float16') {
      const scaled = scale === 1 ? x : x.map((v) => v * scale);
      return new this.Tensor('float16', encodeHalf(scaled, new Uint16Array(size)), dims);
    }
    const data = new Float32Array(size);
    if (scale === 1) data.set(x);
    else for (let i = 0; i < x.length; i++) data[i] = x[i] * scale;
    return new this.Tensor('float32', data, dims);
  }

  /** Condition images start … start+m (one shared image repeated), zero-padded to `rows`. */
  private conditionTensor(condition: Float64Array, start: number, m: number, rows: number): OrtTensor {
    const cd = this.conditionDim;
    const dims = [rows, ...(this.conditionShape ?? [])];
    const shared = condition.length === cd;
    const fill = (out: Float32Array | Uint16Array, put: (o: number, src: Float64Array) => void) => {
      for (let i = 0; i < m; i++) put(i * cd, shared ? condition : condition.subarray((start + i) * cd, (start + i + 1) * cd));
      return out;
    };
    if (this.layout.conditionType === 'float16') {
      const out = new Uint16Array(rows * cd);
      return new this.Tensor('float16', fill(out, (o, src) => encodeHalf(src, out, o)), dims);
    }
    const out = new Float32Array(rows * cd);
    return new this.Tensor('float32', fill(out, (o, src) => out.set(src, o)), dims);
  }

  /** Time as the graph takes it; an int64 input gets the nearest integer timestep. */
  private timeTensor(value: number, rows: number): OrtTensor {
    const shape = this.layout.timeShape;
    const count = shape === 'batch' ? rows : 1;
    const dims = shape === 'scalar' ? [] : [count];
    switch (this.layout.timeType) {
      case 'int64':
        return new this.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(value))), dims);
      case 'float16':
        return new this.Tensor('float16', new Uint16Array(count).fill(encodeHalf([value], new Uint16Array(1))[0]), dims);
      case 'float32':
        return new this.Tensor('float32', new Float32Array(count).fill(value), dims);
    }
  }

  private labelTensor(labels: Labels, start: number, m: number, rows: number): OrtTensor {
    const nullClass = this.nullClass ?? 0;
    const at = (i: number) => (i < m ? labels[start + i] : nullClass);
    if (this.layout.labelType === 'int32') return new this.Tensor('int32', Int32Array.from({ length: rows }, (_, i) => at(i)), [rows]);
    return new this.Tensor('int64', BigInt64Array.from({ length: rows }, (_, i) => BigInt(at(i))), [rows]);
  }

  private readOutput(tensor: OrtTensor | undefined, out: Float64Array, offset: number, count: number, expected: number): void {
    const data = tensor?.data;
    const values = numericArray(data);
    if (!tensor || !values || values.length !== expected) {
      throw new RunError(`ONNX output "${this.card.output}" has ${tensor ? `type ${tensor.type}, shape [${tensor.dims.join(', ')}]` : 'no value'}; ` +
        `expected [batch, ${this.sampleShape.join(', ')}] in ${this.layout.outputType}`);
    }
    if (values instanceof Float32Array) out.set(values.subarray(0, count), offset);
    else if (values instanceof Uint16Array && tensor.type === 'float16') for (let i = 0; i < count; i++) out[offset + i] = fromHalfBits(values[i]);
    else for (let i = 0; i < count; i++) out[offset + i] = values[i];
  }
}
