import { RunError, UsageError } from '../core/errors.js';

/**
 * Dormand–Prince 8(5,3) (Hairer, Nørsett & Wanner, Solving ODEs I, 2nd ed., §II.10; the DOP853
 * code): an explicit 12-stage Runge–Kutta method of order 8 whose local error is estimated by
 * combining embedded 5th- and 3rd-order solutions. Used for exact ground truth, where a
 * tolerance of 1e-12 must be reachable in a few hundred steps.
 */

/** dy/dt = f(t, y): writes the derivative into `out` (same length as y). */
export type VectorField = (t: number, y: Float64Array, out: Float64Array) => void;

/** Error control of dop853: each step's estimated local error must stay below atol + rtol·max(|y|, |y_new|) in every component. */
export interface OdeOptions {
  /** Relative tolerance of the local error, per component (default 1e-12). */
  rtol?: number;
  /** Absolute tolerance of the local error, per component (default 1e-12). */
  atol?: number;
  /** Most accepted plus rejected steps before giving up (default 100000). */
  maxSteps?: number;
}

/** What dop853 returns: the state at t1 and the work it took. */
export interface OdeSolution {
  /** y(t1). */
  y: Float64Array;
  /** Accepted steps. */
  steps: number;
  /** Rejected steps (error estimate above tolerance, retried with a smaller h). */
  rejected: number;
  /** Calls of the vector field f. */
  evaluations: number;
}

/** Butcher tableau of DOP853: nodes c, stage matrix a (row i has i entries), weights b and the
 *  5th-order (e5) and 3rd-order (e3) error-estimate weights, all over stages 1..12. */
export const DOP853 = {
  c: [
    0, 0.526001519587677318785587544488e-1, 0.789002279381515978178381316732e-1, 0.11835034190722739672675719751,
    0.28164965809277260327324280249, 1 / 3, 0.25, 0.307692307692307692307692307692, 0.651282051282051282051282051282,
    0.6, 0.857142857142857142857142857142, 1,
  ],
  a: [
    [],
    [5.26001519587677318785587544488e-2],
    [1.97250569845378994544595329183e-2, 5.91751709536136983633785987549e-2],
    [2.95875854768068491816892993775e-2, 0, 8.87627564304205475450678981324e-2],
    [2.41365134159266685502369798665e-1, 0, -8.84549479328286085344864962717e-1, 9.24834003261792003115737966543e-1],
    [3.7037037037037037037037037037e-2, 0, 0, 1.70828608729473871279604482173e-1, 1.25467687566822425016691814123e-1],
    [3.7109375e-2, 0, 0, 1.70252211019544039314978060272e-1, 6.02165389804559606850219397283e-2, -1.7578125e-2],
    [
      3.70920001185047927108779319836e-2, 0, 0, 1.70383925712239993810214054705e-1, 1.07262030446373284651809199168e-1,
      -1.53194377486244017527936158236e-2, 8.27378916381402288758473766002e-3,
    ],
    [
      6.24110958716075717114429577812e-1, 0, 0, -3.36089262944694129406857109825, -8.68219346841726006818189891453e-1,
      2.75920996994467083049415600797e1, 2.01540675504778934086186788979e1, -4.34898841810699588477366255144e1,
    ],
    [
      4.77662536438264365890433908527e-1, 0, 0, -2.48811461997166764192642586468, -5.90290826836842996371446475743e-1,
      2.12300514481811942347288949897e1, 1.52792336328824235832596922938e1, -3.32882109689848629194453265587e1,
      -2.03312017085086261358222928593e-2,
    ],
    [
      -9.3714243008598732571704021658e-1, 0, 0, 5.18637242884406370830023853209, 1.09143734899672957818500254654,
      -8.14978701074692612513997267357, -1.85200656599969598641566180701e1, 2.27394870993505042818970056734e1,
      2.49360555267965238987089396762, -3.0467644718982195003823669022,
    ],
    [
      2.27331014751653820792359768449, 0, 0, -1.05344954667372501984066689879e1, -2.00087205822486249909675718444,
      -1.79589318631187989172765950534e1, 2.79488845294199600508499808837e1, -2.85899827713502369474065508674,
      -8.87285693353062954433549289258, 1.23605671757943030647266201528e1, 6.43392746015763530355970484046e-1,
    ],
  ],
  b: [
    5.42937341165687622380535766363e-2, 0, 0, 0, 0, 4.45031289275240888144113950566, 1.89151789931450038304281599044,
    -5.8012039600105847814672114227, 3.1116436695781989440891606237e-1, -1.52160949662516078556178806805e-1,
    2.01365400804030348374776537501e-1, 4.47106157277725905176885569043e-2,
  ],
  e5: [
    0.1312004499419488073250102996e-1, 0, 0, 0, 0, -0.1225156446376204440720569753e1, -0.4957589496572501915214079952,
    0.1664377182454986536961530415e1, -0.350328848749973681688648729, 0.3341791187130174790297318841,
    0.8192320648511571246570742613e-1, -0.2235530786388629525884427845e-1,
  ],
  /** b minus the 3rd-order weights, which are nonzero on stages 1, 9 and 12 only. */
  bhh: [0.244094488188976377952755905512, 0.733846688281611857341361741547, 0.220588235294117647058823529412e-1],
} as const;

const STAGES = 12;
const SAFETY = 0.9;
const MIN_FACTOR = 0.2;
const MAX_FACTOR = 6;

/** v^{1/8} by three square roots (exactly rounded each, so the same in every engine). */
const root8 = (v: number) => Math.sqrt(Math.sqrt(Math.sqrt(v)));

/** Integrate y' = f(t, y) from (t0, y0) to t1 (either direction) with DOP853's error control. */
export function dop853(f: VectorField, t0: number, y0: Float64Array, t1: number, options: OdeOptions = {}): OdeSolution {
  const rtol = options.rtol ?? 1e-12;
  const atol = options.atol ?? 1e-12;
  const maxSteps = options.maxSteps ?? 100000;
  if (!(rtol > 0 && atol >= 0)) throw new UsageError(`ODE tolerances need rtol > 0 and atol ≥ 0, got rtol=${rtol}, atol=${atol}`);
  if (!(Number.isFinite(t0) && Number.isFinite(t1))) throw new UsageError(`ODE interval must be finite, got [${t0}, ${t1}]`);
  const m = y0.length;
  const y = Float64Array.from(y0);
  const counts = { steps: 0, rejected: 0, evaluations: 0 };
  const evaluate = (t: number, state: Float64Array, out: Float64Array) => {
    f(t, state, out);
    counts.evaluations++;
    for (let i = 0; i < m; i++) {
      if (!Number.isFinite(out[i])) throw new RunError(`ODE vector field returned ${out[i]} at t=${t} (component ${i})`);
    }
  };
  if (t0 === t1 || m === 0) return { y, ...counts };
  const dir = Math.sign(t1 - t0);
  const k = Array.from({ length: STAGES }, () => new Float64Array(m));
  const stage = new Float64Array(m);
  const yNew = new Float64Array(m);
  const fNew = new Float64Array(m);
  evaluate(t0, y, k[0]);
  let t = t0;
  let h = dir * initialStep(evaluate, t0, y, k[0], t1, rtol, atol);
  let rejectedLast = false;
  while (dir * (t1 - t) > 0) {
    if (counts.steps + counts.rejected >= maxSteps) {
      throw new RunError(
        `ODE solver stopped after ${maxSteps} steps at t=${t} before reaching t=${t1}; loosen rtol/atol (now ${rtol}/${atol}) or raise maxSteps`,
      );
    }
    if (Math.abs(h) <= 1e-14 * Math.max(1, Math.abs(t))) {
      throw new RunError(`ODE step size underflow at t=${t} (h=${h}): the vector field is too stiff or singular there`);
    }
    const last = dir * (t + h - t1) >= 0;
    if (last) h = t1 - t;
    rkStep(evaluate, t, y, h, k, stage, yNew);
    const err = errorNorm(k, h, y, yNew, rtol, atol);
    if (err <= 1) {
      counts.steps++;
      t = last ? t1 : t + h;
      evaluate(t, yNew, fNew);
      y.set(yNew);
      k[0].set(fNew);
      const grow = err === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY / root8(err));
      h *= rejectedLast ? Math.min(1, grow) : grow;
      rejectedLast = false;
    } else {
      counts.rejected++;
      h *= Math.max(MIN_FACTOR, SAFETY / root8(err));
      rejectedLast = true;
    }
  }
  return { y, ...counts };
}

/** Stages 2..12 from k[0] = f(t, y), then the 8th-order solution y + h Σ b_i k_i into yNew. */
function rkStep(
  evaluate: VectorField, t: number, y: Float64Array, h: number, k: Float64Array[], stage: Float64Array, yNew: Float64Array,
): void {
  const m = y.length;
  for (let s = 1; s < STAGES; s++) {
    const row = DOP853.a[s];
    stage.set(y);
    for (let j = 0; j < row.length; j++) {
      const c = h * row[j];
      if (c === 0) continue;
      const kj = k[j];
      for (let i = 0; i < m; i++) stage[i] += c * kj[i];
    }
    evaluate(t + DOP853.c[s] * h, stage, k[s]);
  }
  yNew.set(y);
  for (let s = 0; s < STAGES; s++) {
    const c = h * DOP853.b[s];
    if (c === 0) continue;
    const ks = k[s];
    for (let i = 0; i < m; i++) yNew[i] += c * ks[i];
  }
}

/**
 * DOP853's combined estimate |h|·e5²/√(e5² + 0.01·e3²) (Hairer's code), with the max norm over
 * components scaled by atol + rtol·max(|y|, |yNew|), so no single sample of a batch is diluted.
 */
function errorNorm(k: Float64Array[], h: number, y: Float64Array, yNew: Float64Array, rtol: number, atol: number): number {
  const [c1, c9, c12] = DOP853.bhh;
  const e5 = DOP853.e5;
  const b = DOP853.b;
  let n5 = 0;
  let n3 = 0;
  for (let i = 0; i < y.length; i++) {
    const sc = atol + rtol * Math.max(Math.abs(y[i]), Math.abs(yNew[i]));
    let err5 = 0;
    let bk = 0;
    for (let s = 0; s < STAGES; s++) {
      err5 += e5[s] * k[s][i];
      bk += b[s] * k[s][i];
    }
    const err3 = bk - c1 * k[0][i] - c9 * k[8][i] - c12 * k[11][i];
    n5 = Math.max(n5, Math.abs(err5) / sc);
    n3 = Math.max(n3, Math.abs(err3) / sc);
  }
  if (n5 === 0) return 0;
  return (Math.abs(h) * n5 * n5) / Math.sqrt(n5 * n5 + 0.01 * n3 * n3);
}

/** Hairer's starting step heuristic (Solving ODEs I, §II.4): h ≈ (0.01 / max(‖f‖, ‖f'‖))^{1/8}. */
function initialStep(
  evaluate: VectorField, t0: number, y0: Float64Array, f0: Float64Array, t1: number, rtol: number, atol: number,
): number {
  const m = y0.length;
  const span = Math.abs(t1 - t0);
  const dir = Math.sign(t1 - t0);
  let d0 = 0;
  let d1 = 0;
  for (let i = 0; i < m; i++) {
    const sc = atol + rtol * Math.abs(y0[i]);
    d0 = Math.max(d0, Math.abs(y0[i]) / sc);
    d1 = Math.max(d1, Math.abs(f0[i]) / sc);
  }
  const h0 = Math.min(span, d0 < 1e-5 || d1 < 1e-5 ? 1e-6 * span : (0.01 * d0) / d1);
  const y1 = new Float64Array(m);
  const f1 = new Float64Array(m);
  for (let i = 0; i < m; i++) y1[i] = y0[i] + dir * h0 * f0[i];
  evaluate(t0 + dir * h0, y1, f1);
  let d2 = 0;
  for (let i = 0; i < m; i++) d2 = Math.max(d2, Math.abs(f1[i] - f0[i]) / (atol + rtol * Math.abs(y0[i])));
  d2 /= h0;
  const h1 = Math.max(d1, d2) <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : root8(0.01 / Math.max(d1, d2));
  return Math.min(100 * h0, h1, span);
}
