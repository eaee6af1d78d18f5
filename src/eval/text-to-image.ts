import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { frechetDistance, gaussianFit, labelAccuracy } from '../metrics/fid.js';
import { shippedModelsDir } from '../models/onnx/shipped.js';
import type { StableDiffusion } from '../pipelines/stable-diffusion.js';
import { loadClassifier } from './classifier.js';
import { realFeatureFit } from './data.js';

/**
 * Scoring the built-in text-to-image model (models/t2i, training/tiny_t2i.py): images drawn for a
 * caption of each of its 20 classes (the 10 digits, the 10 Fashion-MNIST classes), cropped back to
 * 28 × 28 grey levels, classified by the shipped MNIST / Fashion-MNIST classifier: how often the
 * classifier sees the class the prompt names, and the Fréchet distance of the classifier's features
 * to its shipped fit of 10 000 real images, per data set.
 */

/** One class of the built-in model: its caption and which classifier and label score it. */
export interface CaptionClass {
  caption: string;
  data: 'mnist' | 'fashion';
  label: number;
}

const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const CLOTHES = ['a top', 'a pair of trousers', 'a pullover', 'a dress', 'a coat', 'a sandal', 'a shirt', 'a sneaker', 'a bag', 'an ankle boot'];

/** The 20 classes of the built-in model with one caption each ("a handwritten 7", "an ankle boot"). */
export const captionClasses: readonly CaptionClass[] = [
  ...DIGITS.map((_, d) => ({ caption: `a handwritten ${d}`, data: 'mnist' as const, label: d })),
  ...CLOTHES.map((name, c) => ({ caption: name, data: 'fashion' as const, label: c })),
];

/** Options of scoreTextToImage. */
export interface TextToImageScoreOptions {
  /** Images per class (default 100). */
  perClass?: number;
  steps?: number;
  guidance?: number;
  /** A Diffuse sampler instead of the model's scheduler. */
  sampler?: string;
  seed?: number;
  /** Images per generate() call (default 50). */
  batch?: number;
  /** Only these classes (indices into captionClasses; default all 20). Each keeps its seeds, so its score equals the full run's. */
  classes?: readonly number[];
}

/** The scores: accuracy per class and overall, FD per data set, and the model calls of one image. */
export interface TextToImageScores {
  perClass: { caption: string; accuracy: number }[];
  accuracy: number;
  /** NaN for a data set none of the scored classes belongs to. */
  fd: { mnist: number; fashion: number };
  nfe: number;
  seconds: number;
}

/** 32 × 32 RGB in [0, 1] → the centre 28 × 28 of the first channel in [−1, 1] (the classifiers' input). */
function toClassifierInput(pixels: Float32Array, n: number, size: number): Float64Array {
  const out = new Float64Array(n * 28 * 28);
  const pad = (size - 28) / 2;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) out[(i * 28 + y) * 28 + x] = 2 * pixels[i * 3 * size * size + (y + pad) * size + x + pad] - 1;
    }
  }
  return out;
}

/** Score a 32 × 32 text-to-image pipeline of the built-in model's classes (see the module comment). */
export async function scoreTextToImage(pipe: StableDiffusion, o: TextToImageScoreOptions = {}): Promise<TextToImageScores> {
  const perClass = o.perClass ?? 100;
  const batch = o.batch ?? 50;
  if (!(Number.isInteger(perClass) && perClass >= 2)) throw new UsageError(`perClass must be an integer ≥ 2, got ${perClass}`);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new UsageError(`batch must be an integer ≥ 1, got ${batch}`);
  const started = performance.now();
  const classifiers = {
    mnist: await loadClassifier(join(shippedModelsDir, 'mnist-classifier', 'card.json')),
    fashion: await loadClassifier(join(shippedModelsDir, 'fashion-classifier', 'card.json')),
  };
  try {
    const features: Record<'mnist' | 'fashion', Float32Array[]> = { mnist: [], fashion: [] };
    const scores: { caption: string; accuracy: number }[] = [];
    let nfe = 0;
    const chosen = o.classes ?? captionClasses.map((_, k) => k);
    for (const k of chosen) {
      const c = captionClasses[k];
      if (!c) throw new UsageError(`classes must be indices 0..${captionClasses.length - 1}, got ${k}`);
      const logits: Float32Array[] = [];
      for (let s = 0; s < perClass; s += batch) {
        const n = Math.min(batch, perClass - s);
        const out = await pipe.generate({
          prompt: c.caption, n, seed: (o.seed ?? 0) + 1000 * k + s,
          ...(o.steps !== undefined ? { steps: o.steps } : {}), ...(o.guidance !== undefined ? { guidance: o.guidance } : {}),
          ...(o.sampler ? { sampler: o.sampler } : {}),
        });
        nfe = out.nfe;
        const r = await classifiers[c.data].classify(toClassifierInput(out.pixels, n, out.width), n);
        logits.push(r.logits);
        features[c.data].push(r.features);
      }
      const all = concat(logits);
      scores.push({ caption: c.caption, accuracy: labelAccuracy(all, 10, new Int32Array(perClass).fill(c.label)) });
    }
    const fd = async (data: 'mnist' | 'fashion') => {
      const cl = classifiers[data];
      if (features[data].length === 0) return NaN;
      return frechetDistance(gaussianFit(concat(features[data]), cl.featureDim), await realFeatureFit(cl));
    };
    return {
      perClass: scores,
      accuracy: scores.reduce((a, s) => a + s.accuracy, 0) / scores.length,
      fd: { mnist: await fd('mnist'), fashion: await fd('fashion') },
      nfe,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await classifiers.mnist.release();
    await classifiers.fashion.release();
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
  let off = 0;
  for (const p of parts) (out.set(p, off), (off += p.length));
  return out;
}
