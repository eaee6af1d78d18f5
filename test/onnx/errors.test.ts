import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { cardProcess, parseModelCard } from '../../src/models/onnx/card.js';
import { FIXTURES, loadOrt } from './support.js';

const ort = await loadOrt();
const dir = mkdtempSync(join(tmpdir(), 'diffuse-onnx-'));
const baseCard = JSON.parse(readFileSync(`${FIXTURES}gauss_eps.json`, 'utf8')) as Record<string, unknown>;

/** Write a card (the fixture's, with changes) into a temp folder, its network path made absolute. */
function cardFile(name: string, changes: Record<string, unknown>, base = baseCard): string {
  const path = join(dir, `${name}.json`);
  const card = { ...base, onnx: join(FIXTURES, String(base.onnx)), ...changes };
  writeFileSync(path, JSON.stringify(card));
  return path;
}

describe('model card validation (pure)', () => {
  const bad = (changes: Record<string, unknown>, message: RegExp) =>
    expect(() => parseModelCard({ ...baseCard, ...changes }, 'card.json')).toThrow(message);

  it('accepts the fixture and fills diffusers defaults', () => {
    const card = parseModelCard({ format: 'diffuse-model-card/v1', onnx: 'm.onnx', prediction: 'epsilon', process: { name: 'vp-discrete' }, sample_shape: [1, 28, 28] });
    expect(card.inputs).toEqual({ sample: 'sample' });
    expect(card.time).toEqual({ input: 'timestep', kind: 'discrete', dtype: 'float32' });
    expect(card.output).toBe('out_sample');
  });

  it('says what is wrong and what is accepted', () => {
    bad({ format: 'v0' }, /card.json: "format" must be "diffuse-model-card\/v1"/);
    bad({ prediction: 'eps' }, /"prediction" must be one of: epsilon, sample, v_prediction, velocity; got "eps"/);
    bad({ time: { kind: 'index' } }, /"time.kind" must be one of: discrete, continuous, sigma, edm_c_noise; got "index"/);
    bad({ time: { dtype: 'float64' } }, /"time.dtype" must be one of: float32, float16, int64; got "float64"/);
    bad({ sample_shape: [1, 0] }, /"sample_shape" must be 1 to 8 positive integers/);
    bad({ max_batch: 0 }, /"max_batch" must be an integer from 1 to 10000000; got 0/);
    bad({ num_classes: 10 }, /"inputs.class_labels" and "num_classes" go together/);
    bad({ sampleShape: [1] }, /"sampleShape" is not a known key; accepted: format, onnx/);
    bad({ time: { kind: 'edm_c_noise' } }, /edm_c_noise.*"sample" prediction; got "epsilon"/);
    expect(() => parseModelCard([1], 'card.json')).toThrow(UsageError);
  });

  it('a null class must lie outside the classes; process keys must be the process\'s own (no diffusers snake_case)', () => {
    const classes = { inputs: { sample: 'sample', class_labels: 'class_labels' }, num_classes: 10 };
    bad({ ...classes, null_class: 3 }, /"null_class" 3 is one of the classes 0\.\.9; the unconditional label must be outside them/);
    expect(parseModelCard({ ...baseCard, ...classes, null_class: 10 }).nullClass).toBe(10);
    const card = (process: Record<string, unknown>) => parseModelCard({ ...baseCard, process }, 'card.json');
    expect(() => cardProcess(card({ name: 'vp-discrete', num_train_timesteps: 500, beta_schedule: 'squaredcos_cap_v2' }), 'card.json'))
      .toThrow(/card.json: unknown process keys "num_train_timesteps", "beta_schedule" for "vp-discrete"; accepted: name, numTrainTimesteps, betaStart, betaEnd, betaSchedule/);
    expect(() => cardProcess(card({ name: 'edm', sigma_data: 1 }), 'card.json')).toThrow(/unknown process key "sigma_data" for "edm"; accepted: .*sigmaData/);
    expect(cardProcess(card({ name: 'vp-discrete', numTrainTimesteps: 500, betaSchedule: 'squaredcos_cap_v2' })).tMax).toBe(499);
  });
});

describe.skipIf(!ort)('loading errors name the file and what is accepted', () => {
  const node = ort as NonNullable<typeof ort>;
  const load = (path: string) => node.loadOnnxModel(path);

  it('missing card, malformed card, missing network', async () => {
    await expect(load(join(dir, 'nope.json'))).rejects.toThrow(/cannot read .*nope\.json: no such file or directory/);
    const malformed = join(dir, 'malformed.json');
    writeFileSync(malformed, '{"format": ');
    await expect(load(malformed)).rejects.toThrow(/malformed\.json: malformed JSON/);
    await expect(load(cardFile('missing', { onnx: 'absent.onnx' }))).rejects.toThrow(/missing\.json: the ONNX file .*absent\.onnx does not exist/);
    writeFileSync(join(dir, 'garbage.onnx'), 'not a model');
    await expect(load(cardFile('garbage', { onnx: 'garbage.onnx' }))).rejects.toThrow(/garbage\.onnx: ONNX Runtime cannot load it/);
  });

  it('input and output names the graph lacks, listing the ones it has', async () => {
    await expect(load(`${FIXTURES}wrong_input_name.json`)).rejects.toThrow(
      /inputs.sample names input "sample", which the ONNX graph lacks; its inputs are: x, timestep/);
    await expect(load(cardFile('time-name', { time: { input: 't', kind: 'discrete' } }))).rejects.toThrow(/time.input names input "t".*its inputs are: sample, timestep/);
    await expect(load(cardFile('out-name', { output: 'eps' }))).rejects.toThrow(/"output" names "eps".*its outputs are: out_sample/);
  });

  it('rank and shape against sample_shape', async () => {
    await expect(load(cardFile('rank', { sample_shape: [16] }))).rejects.toThrow(
      /input "sample" has shape \[batch, 1, 4, 4\]; the card expects \[batch, 16\] \(sample_shape \[16\]\)/);
    await expect(load(cardFile('size', { sample_shape: [1, 8, 8] }))).rejects.toThrow(/has shape \[batch, 1, 4, 4\]; the card expects \[batch, 1, 8, 8\]/);
  });

  it('unsupported element types', async () => {
    await expect(load(`${FIXTURES}float64_input.json`)).rejects.toThrow(/input "sample" has element type float64; accepted: float32, float16/);
    await expect(load(cardFile('int-time', { time: { kind: 'discrete', dtype: 'int64' } }))).rejects.toThrow(
      /time input "timestep" has element type float32; accepted: int64/);
  });

  it('class labels: out of range, missing, or given to an unconditional model; sample sizes', async () => {
    const cond = await load(`${FIXTURES}gauss_eps_cond.json`);
    expect(() => cond.withLabels([0, 4])).toThrow(/class label 4 is out of range; accepted: integers 0..2 and the null class 3/);
    expect(() => cond.predictLabels(new Float64Array(32), 2, 10)).toThrow(/class-conditional: pass class labels/);
    expect(() => cond.predictLabels(new Float64Array(32), 2, 10, [1])).toThrow(/got 1 class labels for 2 samples/);
    const plain = await load(`${FIXTURES}gauss_eps.json`);
    expect(() => plain.withLabels([0])).toThrow(/no class input/);
    expect(() => plain.predict(new Float64Array(30), 2, 10)).toThrow(/expects n×16 values \(sample_shape \[1, 4, 4\]\), got 30 for n=2/);
    const noNull = await load(cardFile('no-null', { null_class: undefined }, JSON.parse(readFileSync(`${FIXTURES}gauss_eps_cond.json`, 'utf8'))));
    expect(() => noNull.predict(new Float64Array(16), 1, 10)).toThrow(/names no null_class/);
    expect(() => node.guided(noNull, { labels: [0], scale: 2 })).toThrow(/guidance needs the null class/);
  });

  it('a time convention that needs α = 1 on a VP process', async () => {
    await expect(load(cardFile('sigma-vp', { time: { kind: 'sigma' } }))).rejects.toThrow(/time.kind "sigma" needs a process with α = 1 \(edm, ve\); got "vp-discrete"/);
  });
});
