import { linspace, withEnd, type GridSpec, type GridEntry } from './spec.js';
import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';
import { exp, log, pow } from '../core/math.js';

/** The grids this file defines (listed in grid/index.ts's registry). */
export const basicGrids: GridEntry[] = [];

type Spec<T extends GridSpec['type']> = Extract<GridSpec, { type: T }>;

/** σ_VE(t) = σ/α = e^{−λ}: the "sigma" of k-diffusion and diffusers' Euler family. */
export function sigmaVe(p: Process, t: number): number {
  return exp(-p.logSnr(t));
}

/** The time whose σ_VE = σ/α is `s`: the inverse of {@link sigmaVe}, with s = 0 at process.tZero. */
export function tOfSigmaVe(p: Process, s: number): number {
  return s === 0 ? p.tZero : p.tOfLogSnr(-log(s));
}

function startOf(p: Process, start: number | undefined): number {
  const s = start ?? p.tMax;
  if (!(s <= p.tMax && s > p.tZero)) throw new UsageError(`grid start ${s} is outside (${p.tZero}, ${p.tMax}]`);
  return s;
}

// DPM-Solver's skip_type="time_uniform" (Lu et al. 2022, §3.3).
basicGrids.push({
  type: 'time-uniform',
  description: 'uniform in t (DPM-Solver skip_type="time_uniform")',
  build: (p, spec) => {
    const s = spec as Spec<'time-uniform'>;
    return withEnd(p, s.steps, s.end, (n, tEnd) => linspace(startOf(p, s.start), tEnd, n));
  },
});

// DPM-Solver's skip_type="time_quadratic": uniform in √t, then squared.
basicGrids.push({
  type: 'time-quadratic',
  description: 'uniform in √t (DPM-Solver skip_type="time_quadratic")',
  build: (p, spec) => {
    const s = spec as Spec<'time-quadratic'>;
    return withEnd(p, s.steps, s.end, (n, tEnd) =>
      linspace(Math.sqrt(startOf(p, s.start)), Math.sqrt(tEnd), n).map((u) => u * u),
    );
  },
});

/**
 * Where a logSNR grid starts by default: tMax, or — where λ(tMax) = −∞ (α = 0, e.g. flow at t = 1)
 * and no uniform-in-λ grid can start — the time whose λ mirrors λ(tEnd) (flow: 1 − tEnd).
 */
function logSnrStart(p: Process, start: number | undefined, tEnd: number): number {
  if (start !== undefined) {
    if (!Number.isFinite(p.logSnr(startOf(p, start)))) {
      throw new UsageError(`a logSNR grid cannot start at t=${start} of process ${p.name}, where α = 0; start below it or use another grid`);
    }
    return start;
  }
  return Number.isFinite(p.logSnr(p.tMax)) ? p.tMax : p.tOfLogSnr(-p.logSnr(tEnd));
}

// DPM-Solver's skip_type="logSNR": uniform in λ (Lu et al. 2022, §3.3).
basicGrids.push({
  type: 'logsnr',
  description: 'uniform in log-SNR λ (DPM-Solver skip_type="logSNR"); on flow it starts at 1 − t_end',
  build: (p, spec) => {
    const s = spec as Spec<'logsnr'>;
    return withEnd(p, s.steps, s.end, (n, tEnd) =>
      linspace(p.logSnr(logSnrStart(p, s.start, tEnd)), p.logSnr(tEnd), n).map((l) => p.tOfLogSnr(l)),
    );
  },
});

function sigmaRange(p: Process, s: { sigmaMin?: number; sigmaMax?: number }, tEnd: number): [number, number] {
  const lo = s.sigmaMin ?? sigmaVe(p, tEnd);
  // where α(tMax) = 0 (flow at t = 1) σ_max is infinite: start at 1/σ(t_end), i.e. t = 1 − t_end, as the logsnr grid does
  const top = sigmaVe(p, p.tMax);
  const hi = s.sigmaMax ?? (Number.isFinite(top) ? top : 1 / sigmaVe(p, tEnd));
  if (!(lo > 0 && hi > lo)) throw new UsageError(`grid needs 0 < sigmaMin < sigmaMax, got ${lo}, ${hi}`);
  return [lo, hi];
}

// Karras et al. 2022, Eq. 5: σ_i = (σmax^{1/ρ} + i/(N−1)(σmin^{1/ρ} − σmax^{1/ρ}))^ρ.
basicGrids.push({
  type: 'karras',
  description: 'Karras et al. 2022 Eq. 5 in σ = σ/α (k-diffusion get_sigmas_karras), ρ = 7 by default; on flow it starts at 1 − t_end',
  build: (p, spec) => {
    const s = spec as Spec<'karras'>;
    const rho = s.rho ?? 7;
    if (!(rho > 0)) throw new UsageError(`karras rho must be > 0, got ${rho}`);
    return withEnd(p, s.steps, s.end ?? 'zero', (n, tEnd) => {
      const [lo, hi] = sigmaRange(p, s, tEnd);
      const a = pow(hi, 1 / rho);
      const b = pow(lo, 1 / rho);
      return linspace(0, 1, n).map((r) => tOfSigmaVe(p, pow(a + r * (b - a), rho)));
    });
  },
});

// k-diffusion get_sigmas_exponential: uniform in log σ.
basicGrids.push({
  type: 'exponential',
  description: 'uniform in log σ (k-diffusion get_sigmas_exponential); on flow it starts at 1 − t_end',
  build: (p, spec) => {
    const s = spec as Spec<'exponential'>;
    return withEnd(p, s.steps, s.end ?? 'zero', (n, tEnd) => {
      const [lo, hi] = sigmaRange(p, s, tEnd);
      return linspace(log(hi), log(lo), n).map((l) => tOfSigmaVe(p, exp(l)));
    });
  },
});

/**
 * SD3's shifted schedule (Esser et al. 2024, §5.3.2): t' = s·t / (1 + (s − 1)·t) for flow time t in
 * [0, 1]; shift s > 1 moves steps towards high noise, s = 1 is the identity.
 */
export function flowShift(t: number, shift: number): number {
  return (shift * t) / (1 + (shift - 1) * t);
}

basicGrids.push({
  type: 'flow-shift',
  description: 'uniform in t then SD3 shift t → s·t/(1 + (s−1)t) (flow models)',
  build: (p, spec) => {
    const s = spec as Spec<'flow-shift'>;
    const shift = s.shift ?? 1;
    if (!(shift > 0)) throw new UsageError(`flow shift must be > 0, got ${shift}`);
    return withEnd(p, s.steps, s.end ?? 'zero', (n, tEnd) =>
      linspace(startOf(p, s.start), tEnd, n).map((t) => flowShift(t, shift)),
    );
  },
});

basicGrids.push({
  type: 'explicit',
  description: 'the times given, in process time',
  build: (_p, spec) => Float64Array.from((spec as Spec<'explicit'>).times),
});
