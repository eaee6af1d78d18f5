/**
 * Masked discrete diffusion against exact Markov-chain oracles: every sampler's NFE, exact KL, TV,
 * entropy and NLL; RADD caching; first-hitting vs ancestral; float32 Gumbel-max vs float64 draws;
 * EDLM vs ancestral; APS vs the clamped baseline on token inverse problems.
 *
 * Run: npm run results:discrete  → writes docs/discrete-results.md.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/rng.js';
import {
  DISCRETE_SAMPLER_NAMES, DiscreteDenoiser, aps, ancestral, builtinOracle, clampedStart, discreteStats, discreteTable, edlm, encodeSequence,
  entropy, exactPosterior, exactReference, firstHitting, gumbelMaxFloat32Law, linearSchedule, maskedAfterStep, maskTimes, observe, oracleScorer,
  runDiscreteSampler, tokenSamplerLaw, type ApsOptions, type DiscreteStats, type MarkovOracle, type TokenObservation,
} from '../src/discrete/index.js';

const out: string[] = [];
const say = (s = '') => out.push(s);
const f = (x: number, d = 4) => x.toFixed(d);

function histogram(x: Int32Array, n: number, L: number, V: number, size: number): Float64Array {
  const q = new Float64Array(size);
  for (let b = 0; b < n; b++) q[encodeSequence(x, b * L, L, V)] += 1 / n;
  return q;
}
const tv = (q: Float64Array, p: Float64Array) => 0.5 * q.reduce((s, qi, i) => s + Math.abs(qi - p[i]), 0);
const kl = (q: Float64Array, p: Float64Array) => q.reduce((s, qi, i) => (qi > 0 ? s + qi * Math.log(qi / p[i]) : s), 0);
/** E[TV] of an exact sampler's n-sample histogram, ½ Σ √(2p(1 − p)/(πn)). */
const tvFloor = (p: Float64Array, n: number) => 0.5 * p.reduce((s, pi) => s + Math.sqrt((2 * pi * (1 - pi)) / (Math.PI * n)), 0);
/** E[KL(histogram ‖ p)] ≈ (support − 1)/(2n). */
const klFloor = (p: Float64Array, n: number) => (p.filter((x) => x > 0).length - 1) / (2 * n);

async function samplerTables(): Promise<void> {
  const n = 20000;
  const steps = 4;
  say('## Every sampler against the exact chain');
  say();
  say(`n = ${n} sequences per row, ${steps} steps (first-hitting and any-order take L calls whatever the steps; first-hitting-parallel unmasks ⌈L/steps⌉ tokens per call; edlm draws 4 candidates per step). KL and entropy are of the empirical histogram (plug-in), so even an exact sampler shows the noise floor given under each table; NLL is the mean −log p(x) of the samples, whose exact-sampler value is H(p).`);
  say();
  const worst: Record<string, number> = {};
  for (const [chain, L] of [['mixture3', 4], ['mixture3', 8], ['order2', 6], ['order2', 12]] as const) {
    const oracle = builtinOracle(chain, L);
    const ref = exactReference(oracle);
    const rows: DiscreteStats[] = [];
    for (const sampler of DISCRETE_SAMPLER_NAMES) {
      const cfg = { sampler, steps, n, seed: 1 };
      const row = discreteStats(oracle, ref, await runDiscreteSampler(oracle, cfg), cfg);
      rows.push(row);
      worst[sampler] = Math.max(worst[sampler] ?? 0, (row.tv ?? 0) / tvFloor(ref.p as Float64Array, n));
    }
    say(`### ${chain}, L = ${L} (V^L = ${(ref.p as Float64Array).length}; H(p) = ${f(ref.entropy as number, 3)} nats)`);
    say();
    say(discreteTable(rows));
    say(`Noise floor of an exact sampler at n = ${n}: TV ≈ ${f(tvFloor(ref.p as Float64Array, n))}, KL ≈ ${f(klFloor(ref.p as Float64Array, n))} (an overestimate when n is not ≫ V^L).`);
    say();
  }
  say(`Worst TV / noise floor over the four cases: ${DISCRETE_SAMPLER_NAMES.map((s) => `${s} ${worst[s].toFixed(1)}`).join(', ')}. The exact samplers (first-hitting, any-order) stay near 1; ${steps}-step ancestral, parallel first-hitting, EDLM and MaskGIT carry the factorisation error of unmasking several tokens per call.`);
  say();
}

async function raddCaching(): Promise<void> {
  say('## RADD caching (Ou et al. 2024: up to 3.5× fewer NFE)');
  say();
  say('A time-independent model\'s output changes only when a token changes, so ancestral sampling reuses it across steps that unmask nothing. Per-sequence NFE (model evaluations per sequence) on mixture3, n = 64, linear schedule; both runs draw the same samples (same seed). "expected cached" is N(1 − (1 − 1/N)^L), the mean number of distinct steps at which L tokens unmask.');
  say();
  say('| L | steps N | NFE / sequence, no cache | with cache | expected cached | speed-up |');
  say('|---:|---:|---:|---:|---:|---:|');
  let best = 0;
  let at = '';
  for (const L of [16, 64]) {
    const oracle = builtinOracle('mixture3', L);
    for (const N of [L / 4, L, 4 * L, 16 * L]) {
      const n = 64;
      const plain = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(5) }, { steps: N, cache: false });
      const cached = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(5) }, { steps: N, cache: true });
      if (!plain.x.every((v, i) => v === cached.x[i])) throw new Error('caching changed the samples');
      const speed = plain.evaluations / cached.evaluations;
      if (speed > best) [best, at] = [speed, `L = ${L}, N = ${N}`];
      const expected = N * (1 - (1 - 1 / N) ** L);
      say(`| ${L} | ${N} | ${f(plain.evaluations / n, 1)} | ${f(cached.evaluations / n, 2)} | ${f(expected, 2)} | ${f(speed, 2)}× |`);
    }
  }
  say();
  say(`**Verdict: confirmed, and the gain grows without bound in the step count.** Cached NFE never exceeds L (at most one evaluation per unmasking event), so the speed-up is about 1/(1 − e^{−L/N}) ≈ N/L + ½ once N ≫ L (${f(best, 1)}× at ${at}); at N = L it is ≈ 1/(1 − e^{−1}) ≈ 1.6×, and RADD's "up to 3.5×" is passed by N = 4L (measured 4.3–4.5×; expected speed-up 1/(1 − e^{−L/N}) ≈ 4.5×). Samples are bit-identical with and without caching.`);
  say();
}

/** Categorical draws of naive ancestral sampling: one (V+1)-way draw per masked token per step. */
function naiveAncestralDraws(L: number, N: number): number {
  const S = maskedAfterStep(linearSchedule(), maskTimes(N));
  return L * (1 + S.subarray(0, N - 1).reduce((a, b) => a + b, 0));
}

async function firstHittingVsAncestral(): Promise<void> {
  say('## First-hitting vs ancestral (Zheng et al. 2024: same distribution, far fewer categorical draws)');
  say();
  const L = 4;
  const n = 40000;
  const oracle = builtinOracle('mixture3', L);
  const p = oracle.enumerate();
  const N = 1024;
  const fhs = await firstHitting(new DiscreteDenoiser(oracle), { n, rng: new Rng(7) });
  const anc = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(8) }, { steps: N });
  const [qf, qa] = [histogram(fhs.x, n, L, 3, p.length), histogram(anc.x, n, L, 3, p.length)];
  say(`mixture3, L = ${L}, n = ${n}; ancestral with N = ${N} steps.`);
  say();
  say('| sampler | TV to exact | KL to exact | model evaluations / sequence | categorical draws / sequence |');
  say('|---|---:|---:|---:|---:|');
  say(`| first-hitting (sequential) | ${f(tv(qf, p))} | ${f(kl(qf, p), 5)} | ${f(fhs.evaluations / n, 2)} | ${L} token draws (+ ${2 * L} uniforms for times and positions) |`);
  say(`| ancestral, naive per-step draws | ${f(tv(qa, p))} | ${f(kl(qa, p), 5)} | ${f(anc.evaluations / n, 2)} (cached) | ${f(naiveAncestralDraws(L, N), 0)} (V+1)-way draws |`);
  say();
  say(`TV(first-hitting, ancestral) = ${f(tv(qf, qa))}; noise floor of one exact sampler ${f(tvFloor(p, n))}, of the difference of two ≈ ${f(Math.SQRT2 * tvFloor(p, n))}.`);
  say();
  say(`**Verdict: confirmed.** Both are within sampling noise of the exact law and of each other; first-hitting needs L token draws against ${f(naiveAncestralDraws(L, N), 0)} masked-or-token draws for naive ${N}-step ancestral sampling (Diffuse's own ancestral sampler draws each token's unmasking step once, up front, so it needs 2L uniforms too).`);
  say();
}

function float32Entropy(): void {
  say('## float32 Gumbel-max lowers the temperature (Zheng et al. 2024, §5)');
  say();
  const V = 32;
  const w = Float64Array.from({ length: V }, (_, j) => 1 / (j + 1));
  const z = w.reduce((a, b) => a + b, 0);
  const p = w.map((x) => x / z);
  const H = entropy(p);
  say(`A masked token over one ancestral step that unmasks it with probability δ (≈ 1/N for N steps): a (V+1)-way draw with weights δ p_j and 1 − δ, p = Zipf over V = ${V} tokens (H = ${f(H)} nats). Exact laws of both samplers over all their uniforms (2^53 float64 values for Diffuse's inverse CDF; 2^24 float32 values per Gumbel for GPU-style Gumbel-max), then the entropy of the token given that it unmasked.`);
  say();
  say('| δ | exact H | float64 inverse CDF H | float32 Gumbel-max H | float32 P(unmask) / δ |');
  say('|---:|---:|---:|---:|---:|');
  for (const delta of [1e-3, 1e-4, 1e-5, 1e-6]) {
    const lp = Float64Array.from([...p].map((q) => Math.log(delta * q)).concat([Math.log1p(-delta)]));
    const cond = (law: Float64Array) => {
      const t = law.subarray(0, V);
      const s = t.reduce((a, b) => a + b, 0);
      return { h: entropy(t.map((x) => x / s)), unmask: s };
    };
    const [e64, e32] = [cond(tokenSamplerLaw(lp)), cond(gumbelMaxFloat32Law(lp))];
    say(`| ${delta} | ${f(H)} | ${f(e64.h, 6)} | ${f(e32.h)} | ${f(e32.unmask / delta, 3)} |`);
  }
  say();
  say('**Verdict: confirmed.** float32 uniforms stop at 1 − 2^−24, which caps the Gumbel noise at ≈ 16.6, so low-probability tokens can no longer win; as steps grow (δ shrinks) the token entropy falls — a lower effective temperature — and unmasking slows. Diffuse\'s float64 inverse-CDF draws keep the exact entropy at every δ.');
  say();
}

async function edlmVsAncestral(): Promise<void> {
  say('## EDLM vs ancestral (Xu et al. 2024: the energy lowers the factorisation error)');
  say();
  const n = 20000;
  say(`Energy = the chain's exact log-likelihood (the paper's AR energy with a perfect AR model); K candidates per step; K = 1 is ancestral sampling. TV to the exact law, n = ${n}.`);
  say();
  say('| chain, L | steps | K = 1 (ancestral) | K = 2 | K = 4 | K = 16 | K = 16, window t ≥ 0.5 | model NFE | AR evaluations / sequence (K = 16) |');
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const gains: number[] = [];
  for (const [chain, L] of [['mixture3', 4], ['order2', 8]] as const) {
    const oracle = builtinOracle(chain, L);
    const p = oracle.enumerate();
    const energy = oracleScorer(oracle);
    for (const steps of [1, 2, 4]) {
      const cells: string[] = [];
      let nfe = 0;
      let arEv = 0;
      const tvs: number[] = [];
      for (const K of [1, 2, 4, 16]) {
        const s = await edlm(new DiscreteDenoiser(oracle), { n, rng: new Rng(20 + K) }, { steps, energy, candidates: K });
        tvs.push(tv(histogram(s.x, n, L, oracle.vocabSize, p.length), p));
        cells.push(f(tvs[tvs.length - 1]));
        nfe = s.nfe;
        arEv = s.energyEvaluations / n;
      }
      const win = await edlm(new DiscreteDenoiser(oracle), { n, rng: new Rng(40) }, { steps, energy, candidates: 16, windowEnd: 0.5 });
      gains.push(tvs[0] / tvs[3]);
      say(`| ${chain}, ${L} | ${steps} | ${cells.join(' | ')} | ${f(tv(histogram(win.x, n, L, oracle.vocabSize, p.length), p))} | ${nfe} | ${f(arEv, 1)} |`);
    }
    say(`| ${chain}, ${L}: noise floor | | ${f(tvFloor(p, n))} | | | | | | |`);
  }
  say();
  say(`**Verdict: confirmed.** At the same model NFE, TV falls monotonically with K (K = 16 cuts it ${f(Math.min(...gains), 1)}–${f(Math.max(...gains), 1)}×); the cost moves to the AR model (K sequence evaluations per unmasking step). Restricting importance sampling to the early window t ≥ 0.5 keeps most of the gain at 1–2 steps, where every step starts at t ≥ 0.5, and less at 4 steps.`);
  say();
}

async function apsVsBaseline(): Promise<void> {
  say('## APS vs the clamped baseline on token inverse problems');
  say();
  const L = 6;
  const n = 20000;
  const oracle: MarkovOracle = builtinOracle('mixture3', L);
  const V = oracle.vocabSize;
  const prior = oracle.enumerate();
  const truth = Int32Array.from([0, 1, 2, 0, 1, 2]);
  const problems: [string, TokenObservation][] = [
    ['infilling: positions 0, 3, 5 observed exactly', observe(truth, [0, 3, 5], 0, V, new Rng(1))],
    ['noisy: positions 0, 2, 3, 5 observed, each flipped to a uniform token with ρ = 0.3', observe(truth, [0, 2, 3, 5], 0.3, V, new Rng(2))],
  ];
  say(`mixture3, L = ${L}, n = ${n}; the exact posterior p(x | y) ∝ p(x) Π q(y_i | x_i) by enumeration. Baseline: ancestral sampling with every observed token clamped (exact for infilling as steps grow; it ignores ρ). APS: quantised-expectation guidance (20 inner steps, learning rate 0.5) and anchored remasking; ablations: random (ancestral) remasking, and the exact per-token Bayes tilt p_θ q(y|·) in place of the QE gradient. NFE = model calls (the inner loop calls no model).`);
  say();
  for (const [title, obs] of problems) {
    const post = exactPosterior(prior, obs, V);
    say(`### ${title} (y = [${Array.from(obs.y).map((v) => (v < 0 ? '·' : v)).join(', ')}])`);
    say();
    say('| steps | clamped ancestral TV (NFE) | APS TV (NFE) | APS, random remasking | APS, anchored + exact tilt |');
    say('|---:|---:|---:|---:|---:|');
    for (const steps of [2, 4, 8, 16]) {
      const clamp = await ancestral(new DiscreteDenoiser(oracle), { n, rng: new Rng(3), init: clampedStart(obs, n, V) }, { steps, cache: false });
      const cells = [`${f(tv(histogram(clamp.x, n, L, V, post.length), post), 3)} (${clamp.nfe})`];
      const variants: Partial<ApsOptions>[] = [{}, { remasking: 'random' }, { guidance: 'tilt' }];
      for (const v of variants) {
        const s = await aps(new DiscreteDenoiser(oracle), { n, rng: new Rng(3) }, { steps, observation: obs, ...v });
        cells.push(`${f(tv(histogram(s.x, n, L, V, post.length), post), 3)} (${s.nfe})`);
      }
      say(`| ${steps} | ${cells.join(' | ')} |`);
    }
    say();
    say(`Noise floor: TV ≈ ${f(tvFloor(post, n), 3)}.`);
    say();
  }
  say('**Verdict: not reproduced here.** With exact observations the measurement fixes the observed tokens, so guidance has nothing to add; anchored (confidence-ordered) remasking commits the most confident tokens first and converges to a biased law, while the clamped baseline (and APS with random remasking) reach the exact posterior as steps grow. With noisy observations, no per-token guidance is exact — evidence at one position reaches the others only through later model calls — and APS\'s quantised-expectation gradient (straight through an argmax) does not stop at the Bayes tilt: APS ties the clamped baseline at 4–16 steps and is worse at 2. The exact per-token tilt with anchored remasking is the best of these at every step count, yet still far from the posterior. The paper\'s gains are on images with learned codebooks, perceptual losses and a tuned inner loop; on small exact token problems they do not carry over.');
  say();
}

async function mainResults(): Promise<void> {
  const t0 = Date.now();
  say('# Masked discrete diffusion: results against exact oracles');
  say();
  say('Generated by `npm run results:discrete` (bench/discrete-results.ts); do not edit by hand. Data: the built-in Markov chains (src/discrete/oracle/markov.ts), whose conditionals, likelihoods and whole distributions are exact; every distance below is to that exact law.');
  say();
  await samplerTables();
  await raddCaching();
  await firstHittingVsAncestral();
  float32Entropy();
  await edlmVsAncestral();
  await apsVsBaseline();
  say(`Generated in ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
  const file = resolve(dirname(fileURLToPath(import.meta.url)), '../docs/discrete-results.md');
  writeFileSync(file, `${out.join('\n')}\n`);
  console.log(out.join('\n'));
  console.log(`wrote ${file}`);
}

await mainResults();
