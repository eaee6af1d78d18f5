import type { Model } from '../models/types.js';
import type { Process } from '../process/types.js';
import type { Rng } from '../core/rng.js';
import { Denoiser } from '../models/denoiser.js';
import { usage } from '../core/errors.js';

/**
 * Minority score (Um et al. 2024, "Don't Play Favorites: Minority Guidance for Diffusion Models",
 * Eq. 6) with the L2 distance in place of LPIPS: l(x0) = mean over `draws` noises ε of
 * ‖x0 − x̂0(α_s x0 + σ_s ε, s)‖², the error of reconstructing x0 from its re-noised version at time s.
 * Samples in low-density regions are pulled towards the bulk by Tweedie's formula, so l is large.
 */
export async function minorityScore(model: Model, process: Process, x0: Float64Array, n: number, s: number, rng: Rng, draws = 1): Promise<Float64Array> {
  const d = x0.length / n;
  usage(Number.isInteger(d) && d > 0, `x0 must hold n×d values, got ${x0.length} for n=${n}`);
  usage(Number.isInteger(draws) && draws >= 1, `draws must be an integer ≥ 1, got ${draws}`);
  const denoiser = new Denoiser(model, process);
  const a = process.alpha(s);
  const sig = process.sigma(s);
  const out = new Float64Array(n);
  for (let k = 0; k < draws; k++) {
    const xs = rng.fillNormal(new Float64Array(n * d));
    for (let i = 0; i < xs.length; i++) xs[i] = a * x0[i] + sig * xs[i];
    const rec = await denoiser.denoise(xs, n, s);
    for (let i = 0; i < n; i++) {
      let e = 0;
      for (let j = i * d; j < (i + 1) * d; j++) e += (x0[j] - rec[j]) * (x0[j] - rec[j]);
      out[i] += e / draws;
    }
  }
  return out;
}

/** Cut points between `levels` equally populated minority-score levels (the paper's quantisation, §3.2). */
export function minorityThresholds(scores: Float64Array, levels: number): Float64Array {
  usage(Number.isInteger(levels) && levels >= 2, `levels must be an integer ≥ 2, got ${levels}`);
  const sorted = Float64Array.from(scores).sort();
  return Float64Array.from({ length: levels - 1 }, (_, c) => sorted[Math.floor(((c + 1) * sorted.length) / levels)]);
}

/** The level of a score under the cut points (0 = most common, levels − 1 = rarest). */
export function minorityLevel(score: number, thresholds: Float64Array): number {
  let c = 0;
  while (c < thresholds.length && score >= thresholds[c]) c++;
  return c;
}

/** Exact draws of x0 | x_t (n×draws×d), e.g. FullGmmOracle.posteriorAt(x, n, t).sample(draws, rng). */
export type PosteriorDraws = (x: Float64Array, n: number, t: number, draws: number, rng: Rng) => Float64Array;

/** Options of {@link minorityGuidance}. */
export interface MinorityGuidanceOptions {
  /** The unconditional model whose data prediction is guided. */
  model: Model;
  /** The forward process of the model (its α, σ). */
  process: Process;
  /** Exact draws of x0 | x_t, from which the classifier gradient is estimated. */
  posteriorDraws: PosteriorDraws;
  /** Labels each x0 draw with its minority level (minorityScore + minorityLevel). */
  level: (x0: Float64Array, n: number) => Promise<Int32Array>;
  /** L̃, the level to guide towards (the rarest: levels − 1). */
  target: number;
  /** w, the classifier-guidance scale; 0 is the unguided model. */
  scale: number;
  /** Draws of x0 | x_t per sample for the Monte Carlo classifier gradient (default 64). */
  draws?: number;
  /** Passed to `posteriorDraws`. */
  rng: Rng;
}

/**
 * Minority guidance (Um et al. 2024, Eq. 8): classifier guidance towards minority level L̃ with
 * x̂0' = x̂0 + w·(σ²/α)·∇ log p(L̃ | x_t). In place of the paper's trained level classifier, the
 * classifier gradient comes from the exact identity
 *   ∇_{x_t} log p(c | x_t) = (α/σ²)(E[x0 | x_t, c] − E[x0 | x_t])
 * (differentiate p(c|x_t) = ∫ p(c|x0) p(x0|x_t) dx0 with ∇ log p(x_t|x0) = (αx0 − x_t)/σ²), both
 * expectations estimated from the same exact draws of x0 | x_t, labelled by their minority level.
 * A sample none of whose draws reaches the level is left unguided. Returns data predictions.
 */
export function minorityGuidance(o: MinorityGuidanceOptions): Model {
  const draws = o.draws ?? 64;
  usage(Number.isFinite(o.scale), `minority guidance scale must be finite, got ${o.scale}`);
  usage(Number.isInteger(draws) && draws >= 2, `draws must be an integer ≥ 2, got ${draws}`);
  const denoiser = new Denoiser(o.model, o.process);
  return {
    prediction: 'sample',
    sampleShape: o.model.sampleShape,
    async predict(x, n, t) {
      const x0 = await denoiser.denoise(x, n, t);
      if (o.scale === 0) return x0;
      const d = x.length / n;
      const samples = o.posteriorDraws(x, n, t, draws, o.rng);
      const labels = await o.level(samples, n * draws);
      for (let i = 0; i < n; i++) {
        const all = new Float64Array(d);
        const hit = new Float64Array(d);
        let count = 0;
        for (let k = 0; k < draws; k++) {
          const off = (i * draws + k) * d;
          const inTarget = labels[i * draws + k] === o.target;
          if (inTarget) count++;
          for (let j = 0; j < d; j++) {
            all[j] += samples[off + j] / draws;
            if (inTarget) hit[j] += samples[off + j];
          }
        }
        if (count === 0) continue;
        for (let j = 0; j < d; j++) x0[i * d + j] += o.scale * (hit[j] / count - all[j]);
      }
      return x0;
    },
  };
}
