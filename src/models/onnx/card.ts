import { UsageError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import * as v from 'valibot';
import { flag, integer, list, looseRecord, oneOf, record, text, validate } from '../../io/schema.js';
import { dataRangeSchema as dataRange, sampleShapeSchema as sampleShape } from '../../io/formats.js';
import { createProcess, type Process, type ProcessConfig } from '../../process/index.js';
import { gridTypes, makeGrid, type GridSpec } from '../../grid/index.js';
import { findSampler } from '../../samplers/index.js';
import type { Prediction } from '../../param/convert.js';

/**
 * The model card: a small JSON file next to an .onnx network saying what it predicts, for which
 * process, and how its inputs are named and fed. Validated once here (pure, no file access);
 * defaults follow diffusers' UNet exports (`sample`, `timestep` → `out_sample`).
 */
export const CARD_FORMAT = 'diffuse-model-card/v1';

/**
 * How the network reads time: `discrete` = the process time itself (vp-discrete's timestep index),
 * `continuous` = the process time t, `sigma` = σ/α, `edm_c_noise` = ¼ ln σ with EDM's c_in/c_skip/c_out
 * preconditioning around the network (Karras et al. 2022, Table 1).
 */
export type TimeKind = 'discrete' | 'continuous' | 'sigma' | 'edm_c_noise';
/** Element type of the network's time input; it must match the graph's (an int64 input gets the nearest integer). */
export type TimeDtype = 'float32' | 'float16' | 'int64';
/** Every TimeKind a card may give as `time.kind`. */
export const timeKinds: readonly TimeKind[] = ['discrete', 'continuous', 'sigma', 'edm_c_noise'];
/** Every TimeDtype a card may give as `time.dtype`. */
export const timeDtypes: readonly TimeDtype[] = ['float32', 'float16', 'int64'];
/** The prediction types a model card may declare (every Prediction but score). */
export const cardPredictions: readonly Prediction[] = ['epsilon', 'sample', 'v_prediction', 'velocity'];

/**
 * A validated model card with defaults filled in (parseModelCard's result), in camelCase; the file
 * itself is snake_case JSON with `format` "diffuse-model-card/v1".
 */
export interface ModelCard {
  /** Path of the network, relative to the card's folder (or absolute). */
  onnx: string;
  /** What the network predicts (ε, x0 as "sample", v or flow velocity). */
  prediction: Prediction;
  /** The process the network was trained on, as createProcess takes it. */
  process: ProcessConfig;
  /** The time input's name (default "timestep"), what it reads (default discrete) and its element type (default float32). */
  time: { input: string; kind: TimeKind; dtype: TimeDtype };
  /**
   * Names of the sample input (default "sample"), for a class-conditional network the class-label
   * input, and for an image-conditioned network (restoration) the condition input.
   */
  inputs: { sample: string; classLabels?: string; condition?: string };
  /** Name of the output the prediction is read from (default "out_sample"). */
  output: string;
  /** Shape of one sample, without the batch axis, e.g. [1, 28, 28]. */
  sampleShape: number[];
  /**
   * A network trained for one sampling method rather than for the registry's samplers: "resfusion"
   * predicts Resfusion's resnoise on its truncated schedule (src/restoration/resfusion.ts); "rddm"
   * predicts RDDM's residual condition − x0 on its linear schedules (src/restoration/rddm.ts); "dfm"
   * predicts the signal behind a noisy observation, which `forwardModel` renders (Diffusion with
   * Forward Models, src/restoration/forward-models.ts).
   */
  method?: (typeof cardMethods)[number];
  /** The known forward model a "dfm" network's observations come through: a Gaussian blur whose std is drawn from `sigma` [min, max] (pixels), 2·radius + 1 taps. */
  forwardModel?: ForwardModelSpec;
  /** Shape of one condition image of an image-conditioned network (default: sample_shape). */
  conditionShape?: number[];
  /** Number of classes of a class-conditional network (labels 0 … numClasses−1). */
  numClasses?: number;
  /** Label of the unconditional ("null") class for classifier-free guidance. */
  nullClass?: number;
  /** Largest batch one run may take; larger requests are split into chunks. */
  maxBatch?: number;
  /** Range of the data the network was trained on, e.g. [-1, 1] for images; for plots and checks. */
  dataRange?: [number, number];
  /** Classifier card (training/classifier.py) that scores this model's samples in `diffuse eval`, relative to this card. */
  classifier?: string;
  /** One line about the model, shown by `diffuse list`. */
  description?: string;
  /** The grids runs take when they name none, by step count and sampler: the first rule that applies wins (see cardGrid). */
  grids?: GridRule[];
}

/**
 * A card's default-grid rule: `grid` (a grid spec without `steps`) for runs of at most `maxSteps`
 * steps (any number when absent) of the samplers listed (any sampler when absent), with or without
 * classifier-free guidance as `guided` says (either when absent).
 */
export interface GridRule {
  maxSteps?: number;
  samplers?: string[];
  /** Only runs with classifier-free guidance (true) or only runs without (false); both when absent. */
  guided?: boolean;
  grid: Omit<Exclude<GridSpec, { type: 'explicit' }>, 'steps'>;
}

const nonEmpty = text;

/** Sampling methods a card can require instead of the sampler registry (see ModelCard.method). */
export const cardMethods = ['resfusion', 'rddm', 'dfm'] as const;

/** A card's forward model (ModelCard.forwardModel): a Gaussian blur of std in [sigma[0], sigma[1]] px, 2·radius + 1 taps, edges repeated. */
export interface ForwardModelSpec {
  kind: 'gaussian-blur';
  sigma: [number, number];
  radius: number;
}

/** The card file's fields (snake_case, as written), typed and bounded; cross-field rules follow in parseModelCard. */
const cardSchema = record({
  format: v.literal(CARD_FORMAT, `must be "${CARD_FORMAT}"`),
  onnx: nonEmpty,
  prediction: oneOf(cardPredictions),
  process: looseRecord({ name: nonEmpty }, '{"name": "vp-discrete", "numTrainTimesteps": 1000}'),
  time: v.optional(record({ input: v.optional(nonEmpty), kind: v.optional(oneOf(timeKinds)), dtype: v.optional(oneOf(timeDtypes)) })),
  inputs: v.optional(record({ sample: v.optional(nonEmpty), class_labels: v.optional(nonEmpty), condition: v.optional(nonEmpty) })),
  output: v.optional(nonEmpty),
  sample_shape: sampleShape,
  method: v.optional(oneOf(cardMethods)),
  forward_model: v.optional(record({
    kind: v.literal('gaussian-blur', 'must be "gaussian-blur"'),
    sigma: v.pipe(v.tuple([v.number(), v.number()], 'must be [min, max]'), v.check(([a, b]) => a > 0 && b >= a && b <= 100, 'must be [min, max] with 0 < min ≤ max ≤ 100')),
    radius: integer(0, 100),
  })),
  condition_shape: v.optional(sampleShape),
  num_classes: v.optional(integer(1, LIMITS.classes)),
  null_class: v.optional(integer(0, LIMITS.classes)),
  max_batch: v.optional(integer(1, LIMITS.samples)),
  data_range: v.optional(dataRange),
  classifier: v.optional(nonEmpty),
  description: v.optional(v.string('must be a string')),
  grids: v.optional(list(record({
    max_steps: v.optional(integer(1, LIMITS.steps)),
    samplers: v.optional(list(nonEmpty, 1, 100)),
    guided: v.optional(flag),
    grid: looseRecord({ type: oneOf(gridTypes().map((e) => e.type).filter((t) => t !== 'explicit')) }, '{"type": "time-uniform", "end": "zero"}'),
  }), 1, 100)),
});

/** Validate plain card data (e.g. parsed JSON); `source` (the card's path) prefixes every error. */
export function parseModelCard(value: unknown, source = 'model card'): ModelCard {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const card = validate(cardSchema, value, source);
  const time = card.time ?? {};
  const inputs = card.inputs ?? {};
  const kind = time.kind ?? 'discrete';
  const result: ModelCard = {
    onnx: card.onnx,
    prediction: card.prediction,
    process: card.process as unknown as ProcessConfig,
    time: { input: time.input ?? 'timestep', kind, dtype: time.dtype ?? 'float32' },
    inputs: {
      sample: inputs.sample ?? 'sample',
      ...(inputs.class_labels === undefined ? {} : { classLabels: inputs.class_labels }),
      ...(inputs.condition === undefined ? {} : { condition: inputs.condition }),
    },
    output: card.output ?? 'out_sample',
    sampleShape: card.sample_shape,
  };
  if (card.method !== undefined) result.method = card.method;
  if ((card.method === 'dfm') !== (card.forward_model !== undefined)) fail('"method": "dfm" and "forward_model" go together (a DFM network renders its signal through the forward model)');
  if (card.forward_model !== undefined) result.forwardModel = { kind: card.forward_model.kind, sigma: [card.forward_model.sigma[0], card.forward_model.sigma[1]], radius: card.forward_model.radius };
  if (card.condition_shape !== undefined) {
    if (inputs.condition === undefined) fail('"condition_shape" needs "inputs.condition" (the condition input it shapes)');
    result.conditionShape = card.condition_shape;
  } else if (inputs.condition !== undefined) result.conditionShape = card.sample_shape;
  if (card.num_classes !== undefined) result.numClasses = card.num_classes;
  if (card.null_class !== undefined) result.nullClass = card.null_class;
  if (card.max_batch !== undefined) result.maxBatch = card.max_batch;
  if (card.data_range !== undefined) result.dataRange = card.data_range;
  if (card.classifier !== undefined) result.classifier = card.classifier;
  if (card.description !== undefined) result.description = card.description;
  if (card.grids !== undefined) {
    result.grids = card.grids.map((r, i) => {
      const grid = r.grid as Record<string, unknown>;
      if ('steps' in grid) fail(`"grids[${i}].grid" has "steps": a rule's grid takes the step count of the run`);
      return {
        grid: grid as unknown as GridRule['grid'],
        ...(r.max_steps === undefined ? {} : { maxSteps: r.max_steps }),
        ...(r.samplers === undefined ? {} : { samplers: r.samplers }),
        ...(r.guided === undefined ? {} : { guided: r.guided }),
      };
    });
  }
  if ((result.inputs.classLabels === undefined) !== (result.numClasses === undefined)) {
    fail('"inputs.class_labels" and "num_classes" go together: a class-conditional model needs both');
  }
  if (result.nullClass !== undefined && result.numClasses === undefined) fail('"null_class" needs "num_classes"');
  if (result.nullClass !== undefined && result.numClasses !== undefined && result.nullClass < result.numClasses) {
    fail(`"null_class" ${result.nullClass} is one of the classes 0..${result.numClasses - 1}; the unconditional label must be outside them (usually num_classes, ${result.numClasses})`);
  }
  if (kind === 'edm_c_noise' && card.prediction !== 'sample') {
    fail(`time.kind "edm_c_noise" wraps the network in EDM's preconditioning, whose result D is a "sample" prediction; got "${card.prediction}"`);
  }
  return result;
}

/** The card's process, built and checked against the card's time convention. */
export function cardProcess(card: ModelCard, source = 'model card'): Process {
  let p: Process;
  try {
    p = createProcess(card.process);
  } catch (e) {
    throw new UsageError(`${source}: process: ${e instanceof Error ? e.message : String(e)}`);
  }
  const accepted = Object.keys(p.config);
  const extra = Object.keys(card.process).filter((k) => !accepted.includes(k));
  if (extra.length) {
    throw new UsageError(`${source}: unknown process key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')} for "${p.name}"; accepted: ${accepted.join(', ')}`);
  }
  if ((card.time.kind === 'sigma' || card.time.kind === 'edm_c_noise') && !(p.alpha(p.tMin) === 1 && p.alpha(p.tMax) === 1)) {
    throw new UsageError(`${source}: time.kind "${card.time.kind}" needs a process with α = 1 (edm, ve); got "${p.name}"`);
  }
  (card.grids ?? []).forEach((rule, i) => {
    for (const name of rule.samplers ?? []) {
      let found: string;
      try {
        const entry = findSampler(name);
        found = entry.named?.sampler ?? entry.name;
      } catch (e) {
        throw new UsageError(`${source}: "grids[${i}].samplers": ${e instanceof Error ? e.message : String(e)}`);
      }
      if (found !== name) throw new UsageError(`${source}: "grids[${i}].samplers" names "${name}", an alias of ${found}; give the sampler's registry name`);
    }
    try {
      makeGrid(p, { ...rule.grid, steps: rule.maxSteps ?? 10 } as GridSpec);
    } catch (e) {
      throw new UsageError(`${source}: "grids[${i}].grid": ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return p;
}

/**
 * The grid of the card's first rule that applies to `steps` steps of `sampler` (a registry name),
 * guided or not, with `steps` filled in.
 */
export function cardGrid(card: ModelCard, steps: number, sampler: string, guided = false): GridSpec | undefined {
  const rule = card.grids?.find((r) => (r.maxSteps === undefined || steps <= r.maxSteps) && (r.samplers === undefined || r.samplers.includes(sampler))
    && (r.guided === undefined || r.guided === guided));
  return rule ? ({ ...rule.grid, steps } as GridSpec) : undefined;
}
