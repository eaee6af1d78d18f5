import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/onnx/', import.meta.url));

/** The Gaussians the fixture networks are exact oracles for (written by training/make_test_models.py). */
export const oracle = JSON.parse(readFileSync(`${FIXTURES}oracles.json`, 'utf8')) as {
  sample_shape: number[];
  variance: number;
  mean: number[];
  class_means: number[][];
};

/** ε̂ and x0̂ of N(mean, s² I) at x = αx0 + σε: C = α²s² + σ², ε̂ = σ(x − αμ)/C, x0̂ = μ + αs²(x − αμ)/C. */
export function gaussian(x: Float64Array, means: readonly (readonly number[])[], alpha: number, sigma: number) {
  const d = means[0].length;
  const s2 = oracle.variance;
  const c = alpha * alpha * s2 + sigma * sigma;
  const eps = new Float64Array(x.length);
  const x0 = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const mu = means[Math.floor(i / d)][i % d];
    const e = x[i] - alpha * mu;
    eps[i] = (sigma * e) / c;
    x0[i] = mu + (alpha * s2 * e) / c;
  }
  return { eps, x0 };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The Node entry point, or undefined (with the reason logged) where onnxruntime-node's native binding cannot load. */
export async function loadOrt(): Promise<typeof import('../../src/models/onnx/node.js') | undefined> {
  try {
    await import('onnxruntime-node');
  } catch (e) {
    console.warn(`skipping ONNX tests: onnxruntime-node cannot load here (${e instanceof Error ? e.message : String(e)})`);
    return undefined;
  }
  return import('../../src/models/onnx/node.js');
}
