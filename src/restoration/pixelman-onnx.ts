import * as v from 'valibot';
import { RunError, UsageError } from '../core/errors.js';
import { integer, record, text, validate } from '../io/schema.js';
import { numericArray } from '../models/onnx/float16.js';
import { RunQueue, requireGraphNames, runOnce } from '../models/onnx/runner.js';
import type { OrtSession, OrtTensorConstructor } from '../models/onnx/runtime.js';
import type { EditNet } from './pixelman.js';

/** The `format` of a PixelMan editing card: the three-branch graph of a model (training/pixelman.py writes it). */
export const PIXELMAN_CARD_FORMAT = 'diffuse-pixelman-card/v1';

/** A validated PixelMan editing card. */
export interface PixelManCard {
  onnx: string;
  /** The plain model's card (relative to this one): its process and its ε network. */
  model: string;
  inputs: { sample: string; timestep: string; inpaint: string; block: string; gen: string };
  outputs: { eps: string; sim: string };
  size: number;
  simSize: number;
  description?: string;
}

const cardSchema = record({
  format: v.literal(PIXELMAN_CARD_FORMAT, `must be "${PIXELMAN_CARD_FORMAT}"`),
  onnx: text,
  model: text,
  inputs: record({ sample: text, timestep: text, m_ipt: text, m_block: text, m_gen: text }),
  outputs: record({ eps: text, sim: text }),
  size: integer(4, 1024),
  sim_size: integer(1, 1024),
  description: v.optional(v.string('must be a string')),
});

/** Validates card data (parsed JSON); `source` prefixes every error. */
export function parsePixelManCard(value: unknown, source = 'PixelMan card'): PixelManCard {
  const c = validate(cardSchema, value, source);
  if (c.size % c.sim_size !== 0) throw new UsageError(`${source}: "sim_size" must divide "size"; got ${c.sim_size} and ${c.size}`);
  const { m_ipt: inpaint, m_block: block, m_gen: gen, sample, timestep } = c.inputs;
  return {
    onnx: c.onnx, model: c.model, inputs: { sample, timestep, inpaint, block, gen }, outputs: c.outputs, size: c.size, simSize: c.sim_size,
    ...(c.description === undefined ? {} : { description: c.description }),
  };
}

/** PixelMan's three-branch graph in ONNX (see EditNet.edit); runs are queued so two never overlap. */
export class OnnxEditNet implements EditNet {
  readonly size: number;
  readonly simSize: number;
  private readonly queue = new RunQueue();

  constructor(readonly session: OrtSession, private readonly Tensor: OrtTensorConstructor, readonly card: PixelManCard, source = 'PixelMan card') {
    this.size = card.size;
    this.simSize = card.simSize;
    requireGraphNames(session, Object.values(card.inputs), Object.values(card.outputs), source);
  }

  edit(x: Float64Array, n: number, t: number, masks: { inpaint: Float64Array; block: Float64Array; gen: Float64Array }): Promise<{ eps: Float64Array; sim: Float64Array }> {
    const S = this.size;
    const P = S * S;
    const m = this.simSize * this.simSize;
    if (!(Number.isInteger(n) && n >= 1) || x.length !== 3 * n * P) throw new UsageError(`expected 3 × ${n} images of ${S}×${S}, got ${x.length} values`);
    for (const [k, mask] of Object.entries(masks)) if (mask.length !== n * P) throw new UsageError(`mask ${k}: expected ${n} × ${S}×${S} values, got ${mask.length}`);
    const { inputs, outputs } = this.card;
    const T = this.Tensor;
    return this.queue.enqueue(() => runOnce(this.session, {
      [inputs.sample]: new T('float32', Float32Array.from(x), [3 * n, 1, S, S]),
      [inputs.timestep]: new T('float32', new Float32Array(3 * n).fill(t), [3 * n]),
      [inputs.inpaint]: new T('float32', Float32Array.from(masks.inpaint), [n, 1, S, S]),
      [inputs.block]: new T('float32', Float32Array.from(masks.block), [n, 1, S, S]),
      [inputs.gen]: new T('float32', Float32Array.from(masks.gen), [n, 1, S, S]),
    }, (result) => {
      const eps = numericArray(result[outputs.eps]?.data);
      const sim = numericArray(result[outputs.sim]?.data);
      if (!eps || eps.length !== 3 * n * P) throw new RunError(`the editing graph's output "${outputs.eps}" has ${eps?.length ?? 0} values; expected ${3 * n * P}`);
      if (!sim || sim.length !== n * m) throw new RunError(`the editing graph's output "${outputs.sim}" has ${sim?.length ?? 0} values; expected ${n * m}`);
      return { eps: Float64Array.from(eps), sim: Float64Array.from(sim) };
    }, 'the PixelMan editing graph'));
  }
}
