/**
 * Compare an exported network run by ONNX Runtime (Node, through Diffuse's model-card loader) with
 * PyTorch's outputs on the same inputs. Called by training/mnist.py:
 *   npx tsx training/check_onnx.ts CARD.json CASES.json TOLERANCE
 * CASES.json: [{t, labels, x, expected, condition?}] with x and expected flattened [n, ...sample_shape]
 * (condition, for an image-conditioned network, flattened [n, ...condition_shape]).
 * Then draws two samples with DDIM in 4 time-uniform steps through the card (its process, prediction
 * and time convention) and checks they are finite.
 * Prints {"max_abs_diff": …} as its last line; exits 1 when the difference exceeds TOLERANCE.
 */
import { readFileSync } from 'node:fs';
import { loadOnnxModel } from '../src/models/onnx/node.js';
import { sample } from '../src/sample.js';

interface Case {
  t: number;
  labels: number[];
  x: number[];
  expected: number[];
  condition?: number[];
}

const [cardPath, casesPath, tolerance] = process.argv.slice(2);
if (!cardPath || !casesPath || !tolerance) {
  console.error('usage: tsx training/check_onnx.ts CARD.json CASES.json TOLERANCE');
  process.exit(2);
}
const model = await loadOnnxModel(cardPath);
const cases = JSON.parse(readFileSync(casesPath, 'utf8')) as Case[];
let worst = 0;
for (const c of cases) {
  const n = c.x.length / model.sampleShape.reduce((a, b) => a * b, 1);
  const out = c.condition
    ? await model.withCondition(Float64Array.from(c.condition), c.labels.length ? c.labels : undefined).predict(Float64Array.from(c.x), n, c.t)
    : c.labels.length
      ? await model.predictLabels(Float64Array.from(c.x), c.labels.length, c.t, c.labels)
      : await model.predict(Float64Array.from(c.x), n, c.t);
  let diff = 0;
  for (let i = 0; i < out.length; i++) diff = Math.max(diff, Math.abs(out[i] - c.expected[i]));
  console.log(`t=${c.t}: max |ONNX Runtime − PyTorch| = ${diff.toExponential(2)}`);
  worst = Math.max(worst, diff);
}
const toSample = model.conditionShape
  ? model.withCondition(new Float64Array(model.conditionShape.reduce((a, b) => a * b, 1)).fill(-0.5))
  : model.numClasses === undefined ? model : model.withLabels([3, 7]);
const drawn = await sample({ model: toSample, process: model.process, sampler: 'ddim', grid: { type: 'time-uniform', steps: 4 }, n: 2 });
if (!drawn.x.data.every(Number.isFinite)) {
  console.error('sampling through the card gave non-finite values');
  process.exitCode = 1;
}
console.log(JSON.stringify({ max_abs_diff: worst }));
if (worst > Number(tolerance)) process.exitCode = 1;
