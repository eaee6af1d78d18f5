/**
 * The MNIST runs the onnxruntime-web test makes in Chromium and in Node, written once so both
 * sides do exactly the same: a sampling run (`sampler`, `steps`, x_T from `seed`, one label per
 * sample, classifier-free guidance at `cfg`; 1 = the conditional model alone), and single network
 * evaluations at given timesteps on a seeded standard-normal x.
 */
import { sample } from '../../src/sample.js';
import { Rng } from '../../src/core/rng.js';
import { sizeOf } from '../../src/core/tensor.js';
import { guided } from '../../src/models/onnx/guidance.js';
import type { OnnxDenoiser } from '../../src/models/onnx/denoiser.js';

export interface DigitsCase {
  sampler: string;
  steps: number;
  seed: number;
  labels: number[];
  cfg: number;
}

export interface Digits {
  x: number[];
  nfe: number;
}

export async function sampleDigits(net: OnnxDenoiser, c: DigitsCase): Promise<Digits> {
  const model = c.cfg === 1 ? net.withLabels(c.labels) : guided(net, { labels: c.labels, scale: c.cfg });
  const r = await sample({ model, process: net.process, sampler: c.sampler, steps: c.steps, n: c.labels.length, seed: c.seed });
  return { x: Array.from(r.x.data), nfe: r.nfe };
}

export interface PredictCase {
  seed: number;
  labels: number[];
  timesteps: number[];
}

/** The network's ε̂ for each timestep, on the same seeded x (labels.length samples). */
export async function predictEps(net: OnnxDenoiser, c: PredictCase): Promise<number[][]> {
  const n = c.labels.length;
  const x = new Rng(c.seed).fillNormal(new Float64Array(n * sizeOf(net.sampleShape)));
  const model = net.withLabels(c.labels);
  const out: number[][] = [];
  for (const t of c.timesteps) out.push(Array.from(await model.predict(x, n, t)));
  return out;
}
