import * as v from 'valibot';
import { RunError, UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { integer, list, positive, record, text, validate } from '../io/schema.js';
import { numericArray } from '../models/onnx/float16.js';
import { RunQueue, requireGraphNames, runChunked } from '../models/onnx/runner.js';
import type { OrtSession, OrtTensorConstructor } from '../models/onnx/runtime.js';
import type { FieldSpec, RecoveryNet } from './deformation.js';

/** The `format` of a DRDM card: a recovery network and its forward process (training/drdm.py writes it). */
export const DRDM_CARD_FORMAT = 'diffuse-drdm-card/v1';

/** A validated DRDM card. */
export interface DrdmCard {
  onnx: string;
  inputs: { image: string; t: string };
  output: string;
  /** Side S of the square single-channel images. */
  size: number;
  dataRange: [number, number];
  /** The data set it was trained on (e.g. "mnist"). */
  data: string;
  /** The forward process's T. */
  steps: number;
  field: FieldSpec;
  description?: string;
}

const cardSchema = record({
  format: v.literal(DRDM_CARD_FORMAT, `must be "${DRDM_CARD_FORMAT}"`),
  onnx: text,
  inputs: record({ image: text, t: text }),
  output: text,
  image_shape: v.tuple([v.literal(1, 'must be 1 (one channel)'), integer(4, 1024), integer(4, 1024)], 'must be [1, S, S]'),
  data_range: v.tuple([v.number(), v.number()], 'must be [low, high]'),
  data: text,
  steps: integer(1, LIMITS.steps),
  field: record({ grids: list(integer(1, 1024), 1, 16), sigma: positive, size: integer(4, 1024) }),
  description: v.optional(v.string('must be a string')),
});

/** Validates card data (parsed JSON); `source` prefixes every error. */
export function parseDrdmCard(value: unknown, source = 'DRDM card'): DrdmCard {
  const c = validate(cardSchema, value, source);
  const [, h, w] = c.image_shape;
  if (h !== w || c.field.size !== h) throw new UsageError(`${source}: images must be square and "field.size" equal to their side; got ${h}×${w}, field ${c.field.size}`);
  if (!(c.data_range[0] < c.data_range[1])) throw new UsageError(`${source}: "data_range" must be [low, high] with low < high`);
  return {
    onnx: c.onnx, inputs: c.inputs, output: c.output, size: h, dataRange: [c.data_range[0], c.data_range[1]], data: c.data, steps: c.steps,
    field: { size: c.field.size, grids: c.field.grids, sigma: c.field.sigma },
    ...(c.description === undefined ? {} : { description: c.description }),
  };
}

/** A DRDM recovery network in ONNX: image [B, 1, S, S] float32 and t [B] float32 → field [B, 2, S, S] pixels. */
export class OnnxRecoveryNet implements RecoveryNet {
  readonly size: number;
  readonly steps: number;
  private readonly queue = new RunQueue();

  constructor(readonly session: OrtSession, private readonly Tensor: OrtTensorConstructor, readonly card: DrdmCard, source = 'DRDM card') {
    this.size = card.size;
    this.steps = card.steps;
    requireGraphNames(session, [card.inputs.image, card.inputs.t], [card.output], source);
  }

  /** Runs the network in chunks of 256 images (queued, so two runs never overlap); see RecoveryNet.recover. */
  recover(images: Float64Array, n: number, t: Float64Array): Promise<Float64Array> {
    const S = this.size;
    if (images.length !== n * S * S || t.length !== n) throw new UsageError(`expected ${n} images of ${S}×${S} and ${n} times, got ${images.length} values and ${t.length} times`);
    const out = new Float64Array(n * 2 * S * S);
    const { inputs, output } = this.card;
    return this.queue.enqueue(async () => {
      await runChunked(this.session, n, 256, (start, m) => ({
        [inputs.image]: new this.Tensor('float32', Float32Array.from(images.subarray(start * S * S, (start + m) * S * S)), [m, 1, S, S]),
        [inputs.t]: new this.Tensor('float32', Float32Array.from(t.subarray(start, start + m)), [m]),
      }), (result, start, m) => {
        const data = numericArray(result[output]?.data);
        if (!data || data.length !== m * 2 * S * S) throw new RunError(`the recovery network's output "${output}" has ${data?.length ?? 0} values; expected ${m} × 2 × ${S} × ${S}`);
        for (let k = 0; k < data.length; k++) out[start * 2 * S * S + k] = data[k];
      }, 'DRDM recovery network');
      return out;
    });
  }
}
