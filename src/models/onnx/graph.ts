import { UsageError } from '../../core/errors.js';
import type { ModelCard } from './card.js';
import type { OrtSession, OrtValueMetadata } from './runtime.js';

/** What the adapter feeds and reads, resolved once from the card and the session's graph. */
export interface GraphLayout {
  sampleType: 'float32' | 'float16';
  outputType: 'float32' | 'float16';
  timeType: 'float32' | 'float16' | 'int64';
  labelType?: 'int64' | 'int32';
  conditionType?: 'float32' | 'float16';
  /** How the time input is shaped: a scalar, one value, or one per sample. */
  timeShape: 'scalar' | 'one' | 'batch';
  /** The batch size the graph fixes, if it fixes one (smaller chunks are zero-padded). */
  fixedBatch?: number;
}

const SAMPLE_TYPES = ['float32', 'float16'] as const;
const LABEL_TYPES = ['int64', 'int32'] as const;

/** Check the card against the graph's input/output names, element types and shapes. */
export function resolveLayout(card: ModelCard, session: OrtSession, source = 'model card'): GraphLayout {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const fed: [string, string][] = [['inputs.sample', card.inputs.sample], ['time.input', card.time.input]];
  if (card.inputs.classLabels) fed.push(['inputs.class_labels', card.inputs.classLabels]);
  if (card.inputs.condition) fed.push(['inputs.condition', card.inputs.condition]);
  for (const [key, name] of fed) {
    if (!session.inputNames.includes(name)) {
      fail(`${key} names input "${name}", which the ONNX graph lacks; its inputs are: ${session.inputNames.join(', ')}`);
    }
  }
  const unfed = session.inputNames.filter((n) => !fed.some(([, f]) => f === n));
  if (unfed.length) {
    fail(`the ONNX graph needs input${unfed.length > 1 ? 's' : ''} ${unfed.join(', ')} that the card does not map; ` +
      'the card can feed inputs.sample, time.input, inputs.class_labels and inputs.condition');
  }
  if (!session.outputNames.includes(card.output)) {
    fail(`"output" names "${card.output}", which the ONNX graph lacks; its outputs are: ${session.outputNames.join(', ')}`);
  }
  const meta = (list: readonly OrtValueMetadata[], name: string) => list.find((m) => m.name === name);
  const sample = meta(session.inputMetadata, card.inputs.sample);
  const output = meta(session.outputMetadata, card.output);
  const time = meta(session.inputMetadata, card.time.input);
  const layout: GraphLayout = {
    sampleType: elementType(sample, `input "${card.inputs.sample}"`, SAMPLE_TYPES, fail),
    outputType: elementType(output, `output "${card.output}"`, SAMPLE_TYPES, fail),
    timeType: elementType(time, `time input "${card.time.input}"`, [card.time.dtype], fail),
    timeShape: 'batch',
  };
  if (card.inputs.classLabels) {
    layout.labelType = elementType(meta(session.inputMetadata, card.inputs.classLabels), `input "${card.inputs.classLabels}"`, LABEL_TYPES, fail);
  }
  const batch = checkSampleShape(sample?.shape, card.sampleShape, `input "${card.inputs.sample}"`, fail);
  checkSampleShape(output?.shape, card.sampleShape, `output "${card.output}"`, fail);
  if (card.inputs.condition) {
    const condition = meta(session.inputMetadata, card.inputs.condition);
    layout.conditionType = elementType(condition, `input "${card.inputs.condition}"`, SAMPLE_TYPES, fail);
    checkSampleShape(condition?.shape, card.conditionShape ?? card.sampleShape, `input "${card.inputs.condition}"`, fail, 'condition_shape');
  }
  if (batch !== undefined) layout.fixedBatch = batch;
  const ts = time?.shape;
  if (ts && ts.length > 1) fail(`time input "${card.time.input}" must be a scalar or 1-D, got shape [${ts.join(', ')}]`);
  if (ts) layout.timeShape = ts.length === 0 ? 'scalar' : ts[0] === 1 && batch !== 1 ? 'one' : 'batch';
  return layout;
}

function elementType<T extends string>(
  m: OrtValueMetadata | undefined, what: string, accepted: readonly T[], fail: (message: string) => never,
): T {
  if (!m?.isTensor || m.type === undefined) return fail(`${what} is not a tensor`);
  if (!accepted.includes(m.type as T)) return fail(`${what} has element type ${m.type}; accepted: ${accepted.join(', ')}`);
  return m.type as T;
}

/** [batch, ...sample_shape] with symbolic or matching dimensions; returns a fixed batch size if any. */
function checkSampleShape(
  shape: readonly (number | string)[] | undefined, cardShape: readonly number[], what: string, fail: (message: string) => never, key = 'sample_shape',
): number | undefined {
  if (!shape) return undefined;
  const expected = `[batch, ${cardShape.join(', ')}] (${key} [${cardShape.join(', ')}])`;
  if (shape.length !== cardShape.length + 1) fail(`${what} has shape [${shape.join(', ')}]; the card expects ${expected}`);
  shape.slice(1).forEach((d, i) => {
    if (typeof d === 'number' && d >= 0 && d !== cardShape[i]) fail(`${what} has shape [${shape.join(', ')}]; the card expects ${expected}`);
  });
  return typeof shape[0] === 'number' && shape[0] > 0 ? shape[0] : undefined;
}
