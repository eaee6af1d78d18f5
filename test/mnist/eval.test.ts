import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { matMul, sqrtPsd, symmetricEigen } from '../../src/core/linalg.js';
import { frechetDistance, gaussianFit, labelAccuracy } from '../../src/metrics/fid.js';
import { main } from '../../src/cli/main.js';
import { loadClassifier, loadMnistDigits, realSubset } from '../../src/eval/index.js';
import { Rng } from '../../src/core/rng.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();

/** A random symmetric positive definite n×n matrix B Bᵀ + εI. */
function spd(n: number, rng: Rng, eps = 0.1): Float64Array {
  const b = rng.fillNormal(new Float64Array(n * n));
  const bt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) bt[j * n + i] = b[i * n + j];
  const a = matMul(b, bt, n, n, n);
  for (let i = 0; i < n; i++) a[i * n + i] += eps;
  return a;
}

const maxAbs = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const fit = (mean: number[], cov: Float64Array) => ({ d: mean.length, mean: Float64Array.from(mean), cov });

describe('symmetric eigendecomposition and PSD square root', () => {
  it('A V = V Λ with V orthogonal, and (√A)² = A, to 1e-12 relative on a 40×40 SPD matrix', () => {
    const n = 40;
    const a = spd(n, new Rng(1));
    const { values, vectors: v } = symmetricEigen(a, n);
    const vl = v.map((x, idx) => x * values[idx % n]);
    const scale = Math.max(...values);
    expect(maxAbs(matMul(a, v, n, n, n), vl) / scale).toBeLessThan(1e-12);
    const vtv = matMul(Float64Array.from({ length: n * n }, (_, idx) => v[(idx % n) * n + Math.floor(idx / n)]), v, n, n, n);
    expect(maxAbs(vtv, Float64Array.from({ length: n * n }, (_, idx) => (idx % (n + 1) === 0 ? 1 : 0)))).toBeLessThan(1e-12);
    const r = sqrtPsd(a, n);
    expect(maxAbs(matMul(r, r, n, n, n), a) / scale).toBeLessThan(1e-12);
  });

  it('a PSD matrix of rank 1 has the square root vvᵀ/‖v‖ (its zero eigenvalues come out as ±ε‖A‖, whose roots are √ε-sized)', () => {
    const v = [3, -1, 2];
    const a = Float64Array.from({ length: 9 }, (_, k) => v[Math.floor(k / 3)] * v[k % 3]);
    const norm = Math.sqrt(14);
    expect(maxAbs(sqrtPsd(a, 3), a.map((x) => x / norm))).toBeLessThan(1e-7);
  });
});

describe('Fréchet distance between Gaussians', () => {
  it('2-D, non-commuting covariances: tr (Σ₁Σ₂)^{1/2} = √(tr Σ₁Σ₂ + 2√(det Σ₁ det Σ₂))', () => {
    const s1 = Float64Array.from([2, 0.7, 0.7, 1]);
    const s2 = Float64Array.from([0.5, -0.3, -0.3, 3]);
    const tr12 = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
    const det = (s: Float64Array) => s[0] * s[3] - s[1] * s[2];
    const exact = (1 - 0.5) ** 2 + (2 + 1) ** 2 + 3 + 3.5 - 2 * Math.sqrt(tr12 + 2 * Math.sqrt(det(s1) * det(s2)));
    expect(frechetDistance(fit([1, -2], s1), fit([0.5, 1], s2))).toBeCloseTo(exact, 12);
  });

  it('30-D: Σ₂ = c²Σ₁ gives ‖Δμ‖² + (1 − c)² tr Σ₁; equal fits give 0', () => {
    const n = 30;
    const s1 = spd(n, new Rng(2));
    const c = 1.7;
    const m1 = new Rng(3).fillNormal(new Float64Array(n));
    const m2 = new Rng(4).fillNormal(new Float64Array(n));
    let exact = 0;
    for (let i = 0; i < n; i++) exact += (m1[i] - m2[i]) ** 2 + (1 - c) ** 2 * s1[i * n + i];
    const got = frechetDistance({ d: n, mean: m1, cov: s1 }, { d: n, mean: m2, cov: s1.map((x) => c * c * x) });
    expect(Math.abs(got - exact) / exact).toBeLessThan(1e-10);
    expect(frechetDistance({ d: n, mean: m1, cov: s1 }, { d: n, mean: m1, cov: s1 })).toBeLessThan(1e-9 * exact);
  });

  it('gaussianFit refuses non-finite features, naming the vector and the feature', () => {
    expect(() => gaussianFit(Float64Array.from([0, 1, 2, NaN, 4, 5]), 2)).toThrow(/feature 1 of vector 1 is NaN: a Gaussian fit needs finite features/);
    expect(() => gaussianFit(Float32Array.from([0, 1, Infinity, 3]), 2)).toThrow(/feature 0 of vector 1 is Infinity/);
  });

  it('gaussianFit: the mean and the unbiased covariance', () => {
    const g = gaussianFit(Float64Array.from([1, 2, 3, 6, 5, 10]), 2);
    expect(Array.from(g.mean)).toEqual([3, 6]);
    expect(Array.from(g.cov)).toEqual([4, 8, 8, 16]);
    expect(labelAccuracy(Float64Array.from([0, 1, 5, 2, 3, 3]), 2, [1, 0, 1])).toBeCloseTo(2 / 3, 15);
  });
});

describe.skipIf(!ort)('the MNIST classifier and diffuse eval', async () => {
  const classifier = ort ? await loadClassifier() : undefined;
  const digits = await loadMnistDigits();

  it('ships the fit of 10 000 real digits\' features it would compute (diffuse eval needs no data package)', async () => {
    const c = classifier as NonNullable<typeof classifier>;
    const { computeRealFeatureFit, realFeatureFit } = await import('../../src/eval/index.js');
    expect(c.referenceFit?.n).toBe(10000);
    const shipped = await realFeatureFit(c, 10000);
    const computed = await computeRealFeatureFit(c, 10000);
    const diff = (a: Float64Array, b: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    expect(shipped.n).toBe(computed.n);
    // the features are ONNX Runtime's float32: its kernels differ between CPUs (AVX2 vs AVX-512) at ~1e-7
    expect(diff(shipped.mean, computed.mean)).toBeLessThan(1e-6);
    expect(diff(shipped.cov, computed.cov)).toBeLessThan(1e-6);
    // another reference size is computed, not read
    expect((await realFeatureFit(c, 500)).n).toBe(500);
  });

  it('scores ≥ 95 % on 500 of the digits its recipe held out', async () => {
    const c = classifier as NonNullable<typeof classifier>;
    const idx = c.heldOut.indices.filter((_, i) => i % 4 === 0);
    const images = new Float64Array(idx.length * 784);
    idx.forEach((j, i) => images.set(digits.images.subarray(j * 784, (j + 1) * 784), i * 784));
    const { logits } = await c.classify(images, idx.length);
    expect(labelAccuracy(logits, 10, idx.map((j) => digits.labels[j]))).toBeGreaterThanOrEqual(0.95);
  });

  it('FD of two halves of real digits is small; of noise images vs real, large', async () => {
    const c = classifier as NonNullable<typeof classifier>;
    const real = realSubset(digits, 1200);
    const { features } = await c.classify(real.images, 1200);
    const half = (odd: number) => features.filter((_, k) => Math.floor(k / c.featureDim) % 2 === odd);
    const a = gaussianFit(half(0), c.featureDim);
    const b = gaussianFit(half(1), c.featureDim);
    const noise = new Rng(7).fillUniform(new Float64Array(600 * 784)).map((u) => 2 * u - 1);
    const fNoise = gaussianFit((await c.classify(noise, 600)).features, c.featureDim);
    const realReal = frechetDistance(a, b);
    const noiseReal = frechetDistance(fNoise, b);
    expect(realReal).toBeGreaterThan(0);
    expect(noiseReal).toBeGreaterThan(50 * realReal);
  });

  it('diffuse eval --n 20 prints FD and accuracy (in-process)', async () => {
    let out = '';
    let err = '';
    const code = await main(['eval', '--sampler', 'ddim', '--steps', '4', '--n', '20', '--reference', '300', '--json'], {
      stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) },
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const r = JSON.parse(out);
    expect(r).toMatchObject({ sampler: 'ddim', steps: 4, nfe: 4, cfg: 1, n: 20, reference: 300 });
    // measured: FD 1116, accuracy 0.75; noise images score FD > 5000, a label shift ≈ 0.1 accuracy
    expect(r.fd).toBeGreaterThan(100);
    expect(r.fd).toBeLessThan(2000);
    expect(r.accuracy).toBeGreaterThanOrEqual(0.5);
  });

  it('diffuse eval takes the result files sample takes: --grid-file fixes the grid, --ems needs dpm-solver-v3', async () => {
    const run = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await main(['eval', '--n', '20', '--reference', '300', '--json', ...args], {
        stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) },
      });
      return { code, out, err };
    };
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-eval-'));
    writeFileSync(join(dir, 'grid.json'), JSON.stringify({ type: 'explicit', times: [999, 600, 250, -1] }));
    const r = await run('--sampler', 'ddim', '--grid-file', join(dir, 'grid.json'));
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toMatchObject({ sampler: 'ddim', steps: 3, nfe: 3 });
    const bad = await run('--sampler', 'ddim', '--ems', join(dir, 'grid.json'));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--ems applies to --sampler dpm-solver-v3/);
  });

  it('a classifier card with wrong fields, names or sizes is refused, naming the card, the field and what is accepted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-classifier-'));
    const base = JSON.parse(readFileSync('models/mnist-classifier/card.json', 'utf8')) as Record<string, unknown>;
    const cardWith = (name: string, changes: Record<string, unknown>) => {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify({ ...base, onnx: resolve('models/mnist-classifier/classifier.onnx'), held_out: { file: resolve('models/mnist-classifier/held_out.json'), accuracy: 0.97 }, ...changes }));
      return path;
    };
    await expect(loadClassifier(cardWith('classes', { num_classes: '10' }))).rejects.toThrow(/classes\.json: "num_classes" must be an integer from 1 to 100000; got "10"/);
    await expect(loadClassifier(cardWith('held', { held_out: 'held_out.json' }))).rejects.toThrow(/"held_out" must be a JSON object, e\.g\. \{"file": "held_out.json", "accuracy": 0\.97\}; got "held_out.json"/);
    await expect(loadClassifier(cardWith('outs', { outputs: { logits: 'logits' } }))).rejects.toThrow(/"outputs\.features" is missing/);
    await expect(loadClassifier(cardWith('missing', { held_out: { file: join(dir, 'absent.json'), accuracy: 0.9 } }))).rejects.toThrow(/cannot read .*absent\.json/);
    await expect(loadClassifier(cardWith('name', { outputs: { logits: 'logits', features: 'feat' } }))).rejects.toThrow(/output "feat" is not in .*; its outputs are: .*features/);
    const wide = await loadClassifier(cardWith('wide', { feature_dim: 256 }));
    await expect(wide.classify(new Float64Array(2 * 784), 2)).rejects.toThrow(/output "features" gave 256 values for 2 images; "feature_dim" 256 needs 512/);
    await wide.release();
  });
});
