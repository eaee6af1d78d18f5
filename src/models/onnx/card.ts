import { UsageError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { echo } from '../../io/schema.js';
import { createProcess, type Process, type ProcessConfig } from '../../process/index.js';
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
export type TimeDtype = 'float32' | 'float16' | 'int64';
export const timeKinds: readonly TimeKind[] = ['discrete', 'continuous', 'sigma', 'edm_c_noise'];
export const timeDtypes: readonly TimeDtype[] = ['float32', 'float16', 'int64'];
export const cardPredictions: readonly Prediction[] = ['epsilon', 'sample', 'v_prediction', 'velocity'];

export interface ModelCard {
  /** Path of the network, relative to the card's folder (or absolute). */
  onnx: string;
  prediction: Prediction;
  process: ProcessConfig;
  time: { input: string; kind: TimeKind; dtype: TimeDtype };
  inputs: { sample: string; classLabels?: string };
  output: string;
  sampleShape: number[];
  numClasses?: number;
  /** Label of the unconditional ("null") class for classifier-free guidance. */
  nullClass?: number;
  /** Largest batch one run may take; larger requests are split into chunks. */
  maxBatch?: number;
  /** Range of the data the network was trained on, e.g. [-1, 1] for images; for plots and checks. */
  dataRange?: [number, number];
  /** Classifier card (training/classifier.py) that scores this model's samples in `diffuse eval`, relative to this card. */
  classifier?: string;
  description?: string;
}

const CARD_KEYS = [
  'format', 'onnx', 'prediction', 'process', 'time', 'inputs', 'output', 'sample_shape', 'num_classes', 'null_class',
  'max_batch', 'data_range', 'classifier', 'description',
];

type Json = Record<string, unknown>;

/** Validate plain card data (e.g. parsed JSON); `source` (the card's path) prefixes every error. */
export function parseModelCard(value: unknown, source = 'model card'): ModelCard {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const card = object(value, 'the card', fail);
  const unknown = Object.keys(card).filter((k) => !CARD_KEYS.includes(k));
  if (unknown.length) fail(`unknown key ${unknown.map((k) => `"${k}"`).join(', ')}; accepted: ${CARD_KEYS.join(', ')}`);
  if (card.format !== CARD_FORMAT) fail(`"format" must be "${CARD_FORMAT}", got ${JSON.stringify(card.format)}`);
  const onnx = text(card.onnx, 'onnx', fail);
  const prediction = oneOf(card.prediction, cardPredictions, 'prediction', fail);
  const time = object(card.time ?? {}, 'time', fail);
  const kind = time.kind === undefined ? 'discrete' : oneOf(time.kind, timeKinds, 'time.kind', fail);
  const inputs = object(card.inputs ?? {}, 'inputs', fail);
  const shape = card.sample_shape;
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 8 || !shape.every((d) => Number.isInteger(d) && d > 0) || shape.reduce((a: number, b: number) => a * b, 1) > LIMITS.dims) {
    fail(`"sample_shape" must be 1 to 8 positive integers holding at most ${LIMITS.dims} values in all, e.g. [1, 28, 28]; got ${echo(shape)}`);
  }
  const result: ModelCard = {
    onnx,
    prediction,
    process: object(card.process, 'process', fail) as unknown as ProcessConfig,
    time: {
      input: time.input === undefined ? 'timestep' : text(time.input, 'time.input', fail),
      kind,
      dtype: time.dtype === undefined ? 'float32' : oneOf(time.dtype, timeDtypes, 'time.dtype', fail),
    },
    inputs: {
      sample: inputs.sample === undefined ? 'sample' : text(inputs.sample, 'inputs.sample', fail),
      ...(inputs.class_labels === undefined ? {} : { classLabels: text(inputs.class_labels, 'inputs.class_labels', fail) }),
    },
    output: card.output === undefined ? 'out_sample' : text(card.output, 'output', fail),
    sampleShape: shape as number[],
  };
  const extraInputs = Object.keys(inputs).filter((k) => k !== 'sample' && k !== 'class_labels');
  if (extraInputs.length) fail(`unknown inputs.${extraInputs[0]}; accepted: inputs.sample, inputs.class_labels`);
  const extraTime = Object.keys(time).filter((k) => !['input', 'kind', 'dtype'].includes(k));
  if (extraTime.length) fail(`unknown time.${extraTime[0]}; accepted: time.input, time.kind, time.dtype`);
  if (card.num_classes !== undefined) result.numClasses = count(card.num_classes, 'num_classes', 1, LIMITS.classes, fail);
  if (card.null_class !== undefined) result.nullClass = count(card.null_class, 'null_class', 0, LIMITS.classes, fail);
  if (card.max_batch !== undefined) result.maxBatch = count(card.max_batch, 'max_batch', 1, LIMITS.samples, fail);
  if (card.data_range !== undefined) result.dataRange = range(card.data_range, fail);
  if (card.classifier !== undefined) result.classifier = text(card.classifier, 'classifier', fail);
  if (card.description !== undefined) result.description = text(card.description, 'description', fail);
  if ((result.inputs.classLabels === undefined) !== (result.numClasses === undefined)) {
    fail('"inputs.class_labels" and "num_classes" go together: a class-conditional model needs both');
  }
  if (result.nullClass !== undefined && result.numClasses === undefined) fail('"null_class" needs "num_classes"');
  if (result.nullClass !== undefined && result.numClasses !== undefined && result.nullClass < result.numClasses) {
    fail(`"null_class" ${result.nullClass} is one of the classes 0..${result.numClasses - 1}; the unconditional label must be outside them (usually num_classes, ${result.numClasses})`);
  }
  if (kind === 'edm_c_noise' && prediction !== 'sample') {
    fail(`time.kind "edm_c_noise" wraps the network in EDM's preconditioning, whose result D is a "sample" prediction; got "${prediction}"`);
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
  return p;
}

function object(v: unknown, what: string, fail: (m: string) => never): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`"${what}" must be a JSON object, got ${echo(v)}`);
  return v as Json;
}

function text(v: unknown, what: string, fail: (m: string) => never): string {
  if (typeof v !== 'string' || v === '') return fail(`"${what}" must be a non-empty string, got ${echo(v)}`);
  return v;
}

function oneOf<T extends string>(v: unknown, accepted: readonly T[], what: string, fail: (m: string) => never): T {
  if (!accepted.includes(v as T)) return fail(`"${what}" is ${JSON.stringify(v)}; accepted: ${accepted.join(', ')}`);
  return v as T;
}

function range(v: unknown, fail: (m: string) => never): [number, number] {
  const ok = Array.isArray(v) && v.length === 2 && v.every((x) => Number.isFinite(x)) && (v[0] as number) < (v[1] as number);
  if (!ok) return fail(`"data_range" must be [low, high] with finite low < high, e.g. [-1, 1]; got ${echo(v)}`);
  return [v[0] as number, v[1] as number];
}

function count(v: unknown, what: string, min: number, max: number, fail: (m: string) => never): number {
  if (!(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) return fail(`"${what}" must be an integer from ${min} to ${max}, got ${echo(v)}`);
  return v as number;
}
