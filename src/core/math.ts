/**
 * Transcendental functions built from IEEE +, −, ×, ÷ and sqrt only, so every JavaScript engine
 * computes the same bits: engines' own Math.exp/log/sin/… are not specified to the last bit and do
 * differ (Node 20's V8 uses fdlibm, newer Chromium rounds correctly). The numeric core uses these,
 * never Math's inexact functions, so a seed gives the same bits in Node and in the browser.
 *
 * Accuracy is a few ulp: Cody–Waite range reduction (Payne–Hanek for
 * sin/cos of large arguments) and Taylor series taken well past 2^−53. Math.sqrt, abs, floor,
 * round, min, max are exact and stay as they are.
 */

const view = new DataView(new ArrayBuffer(8));
const LN2_HI = 6.93147180369123816490e-1; // ln 2 to 32 bits, so k·LN2_HI is exact
const LN2_LO = 1.90821492927058770002e-10;
const PIO2_A = 1.5707963267341256; // π/2 in three parts of 33 bits
const PIO2_B = 6.077100506303966e-11;
const PIO2_C = 2.0222662487959506e-21;
const PI_2 = 1.5707963267948966;
const PI_6 = 0.5235987755982989;
const SQRT3 = 1.7320508075688772;
const TAN_PI_12 = 0.2679491924311227;
const SQRT_HALF = 0.7071067811865476;

/** Series coefficients c_0..c_{n−1} from c_k = term(k). */
const series = (n: number, term: (k: number) => number) => Array.from({ length: n }, (_, k) => term(k));
const INV_FACT = series(24, (k) => 1 / factorial(k));
const EXP_C = INV_FACT.slice(0, 18); // e^r, |r| ≤ ln2/2
const EXPM1_C = INV_FACT.slice(1, 20); // (e^x − 1)/x, |x| < 1/2
const SIN_C = series(11, (j) => (j % 2 ? -1 : 1) * INV_FACT[2 * j + 1]); // sin(r)/r in r², |r| ≤ π/4
const COS_C = series(11, (j) => (j % 2 ? -1 : 1) * INV_FACT[2 * j]); // cos(r) in r²
const ATANH_C = series(14, (j) => 1 / (2 * j + 1)); // atanh(s)/s in s², |s| ≤ 0.172
const ATANH_TAIL_C = ATANH_C.slice(1); // (atanh(s)/s − 1)/s²
const ATAN_C = series(18, (j) => (j % 2 ? -1 : 1) / (2 * j + 1)); // atan(x)/x in x², |x| ≤ tan π/12

function factorial(k: number): number {
  let f = 1;
  for (let i = 2; i <= k; i++) f *= i;
  return f;
}

/** 2^k for an integer k in the normal range, built from its bits. */
function pow2(k: number): number {
  view.setUint32(0, (k + 1023) << 20);
  view.setUint32(4, 0);
  return view.getFloat64(0);
}

/** x·2^k without rounding unless the result leaves the normal range. */
function scale2(x: number, k: number): number {
  for (; k > 1023; k -= 1023) x *= pow2(1023);
  for (; k < -1022; k += 1022) x *= pow2(-1022);
  return x * pow2(k);
}

/** x = m·2^e with m in [√½, √2), for finite x > 0. */
function split(x: number): [number, number] {
  let e = 0;
  if (x < pow2(-1022)) {
    x *= pow2(54);
    e = -54;
  }
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  e += ((hi >>> 20) & 0x7ff) - 1023;
  view.setUint32(0, (hi & 0x800fffff) | (1023 << 20));
  let m = view.getFloat64(0);
  if (m > 2 * SQRT_HALF) {
    m /= 2;
    e++;
  }
  return [m, e];
}

/** Σ_k c[k]·x^k by Horner's rule. */
function horner(c: readonly number[], x: number): number {
  let s = 0;
  for (let k = c.length - 1; k >= 0; k--) s = s * x + c[k];
  return s;
}

/** e^{x + tail} = 2^k e^r, r = x − k ln 2 + tail, |r| ≤ ln2/2, for a small correction `tail` of x. */
function expWithTail(x: number, tail: number): number {
  if (!Number.isFinite(x)) return x === -Infinity ? 0 : x;
  if (x > 710) return Infinity;
  if (x < -746) return 0;
  const k = Math.round(x / (LN2_HI + LN2_LO));
  const r = x - k * LN2_HI - k * LN2_LO + tail;
  return scale2(horner(EXP_C, r), k);
}

export function exp(x: number): number {
  return expWithTail(x, 0);
}

/** a + b = s + e exactly (Knuth's TwoSum). */
function twoSum(a: number, b: number): [number, number] {
  const s = a + b;
  const bv = s - a;
  return [s, a - (s - bv) + (b - bv)];
}

/** a·b = p + e exactly for |a|, |b| < 2^996 (Dekker 1971, with Veltkamp's splitting). */
function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  const [ah, al] = halves(a);
  const [bh, bl] = halves(b);
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

/** a = hi + lo with hi on 26 bits (Veltkamp). */
function halves(a: number): [number, number] {
  const c = 134217729 * a;
  const hi = c - (c - a);
  return [hi, a - hi];
}

/** ln x as hi + lo to about 2^−65 relative (for pow): log's formula with s and its sums carried in two parts. */
function logTwoPart(x: number): [number, number] {
  const [m, e] = split(x);
  const [den, denLo] = twoSum(m, 1);
  const num = m - 1;
  const s = num / den;
  const [p, pe] = twoProduct(s, den);
  const sLo = (num - p - pe - s * denLo) / den;
  const s2 = s * s;
  const tail = 2 * s * s2 * horner(ATANH_TAIL_C, s2) + 2 * sLo + e * LN2_LO;
  const [hi, lo] = twoSum(e * LN2_HI, 2 * s);
  return twoSum(hi, lo + tail);
}

/** ln x = e ln 2 + 2 atanh((m − 1)/(m + 1)). */
export function log(x: number): number {
  if (!(x > 0) || x === Infinity) return x === 0 ? -Infinity : x === Infinity ? x : NaN;
  const [m, e] = split(x);
  const s = (m - 1) / (m + 1);
  return e * LN2_HI + (2 * s * horner(ATANH_C, s * s) + e * LN2_LO);
}

export function expm1(x: number): number {
  if (Math.abs(x) >= 0.5 || !Number.isFinite(x)) return exp(x) - 1;
  return x * horner(EXPM1_C, x);
}

/** ln(1 + x) with the rounding of 1 + x corrected (Goldberg 1991, Thm. 4). */
export function log1p(x: number): number {
  const u = 1 + x;
  if (u === 1 || !Number.isFinite(x)) return u === 1 ? x : log(u);
  return log(u) * (x / (u - 1));
}

/** Bits of 2/π kept for the large-argument reduction: 2^1024 · 2^53 · 2^−120 still leaves 120 bits. */
const TWO_OVER_PI_BITS = 1280n;
let twoOverPi: bigint | undefined;
const PI_2_LO = 6.123233995736766e-17; // π/2 − PI_2

/** atan(1/n)·one by its alternating series, in integers. */
function atanInverse(n: bigint, one: bigint): bigint {
  let term = one / n;
  let sum = term;
  for (let k = 1n; term !== 0n; k++) {
    term /= n * n;
    sum += (k % 2n === 1n ? -term : term) / (2n * k + 1n);
  }
  return sum;
}

/** ⌊2^1280 · 2/π⌋ from Machin's formula π = 16 atan(1/5) − 4 atan(1/239), with 64 guard bits. */
function twoOverPiScaled(): bigint {
  const guard = 64n;
  const one = 1n << (TWO_OVER_PI_BITS + guard);
  const pi = 16n * atanInverse(5n, one) - 4n * atanInverse(239n, one);
  return (one << (TWO_OVER_PI_BITS + 1n)) / pi;
}

/**
 * x = k·π/2 + r, |r| ≤ π/4, for x ≥ 2^20, in exact integer arithmetic (Payne & Hanek 1983):
 * x·2/π with 2/π to 1280 bits keeps every bit of r however large x is. Returns k mod 4 and r.
 */
function reduceLarge(x: number): [number, number] {
  twoOverPi ??= twoOverPiScaled();
  const [m, e] = split(x);
  const shift = TWO_OVER_PI_BITS - BigInt(e - 53);
  const product = BigInt(scale2(m, 53)) * twoOverPi;
  let k = product >> shift;
  let frac = product - (k << shift);
  if (frac >= 1n << (shift - 1n)) {
    k += 1n;
    frac -= 1n << shift;
  }
  const top = frac >> (shift - 240n); // |frac|/2^shift ≥ 2^−122: at least 118 bits survive
  const hi = Number(top);
  const fHi = scale2(hi, -240);
  const fLo = scale2(Number(top - BigInt(hi)), -240);
  return [Number(k & 3n), fHi * PI_2 + (fLo * PI_2 + fHi * PI_2_LO)];
}

/** x = k·π/2 + r, |r| ≤ π/4: k mod 4 and r (Cody–Waite below 2^20, where k·PIO2_A is exact). */
function reduce(x: number): [number, number] {
  if (Math.abs(x) >= 1048576) {
    const [k, r] = reduceLarge(Math.abs(x));
    return x < 0 ? [(4 - k) % 4, -r] : [k, r];
  }
  const k = Math.round(x / PI_2);
  return [((k % 4) + 4) % 4, x - k * PIO2_A - k * PIO2_B - k * PIO2_C];
}

/** sin and cos of x: quadrant k of x/(π/2), Taylor series on the rest (|r| ≤ π/4). */
function sinCos(x: number): [number, number] {
  if (!Number.isFinite(x)) return [NaN, NaN];
  if (x === 0) return [x, 1];
  const [k, r] = reduce(x);
  const s = r * horner(SIN_C, r * r);
  const c = horner(COS_C, r * r);
  switch (k) {
    case 0:
      return [s, c];
    case 1:
      return [c, -s];
    case 2:
      return [-s, -c];
    default:
      return [-c, s];
  }
}

/** atan by reflection (|x| > 1) and the π/6 shift (|x| > tan π/12), then its Taylor series. */
export function atan(x: number): number {
  if (x < 0) return -atan(-x);
  if (x > 1) return PI_2 - atan(1 / x);
  if (x > TAN_PI_12) return PI_6 + atan((x * SQRT3 - 1) / (x + SQRT3));
  return x * horner(ATAN_C, x * x);
}

export function acos(x: number): number {
  return 2 * atan(Math.sqrt((1 - x) / (1 + x)));
}

/** x^y for x = ±0, ±∞ or y = ±∞, as ECMAScript's Number::exponentiate specifies them exactly. */
function powSpecial(x: number, y: number): number {
  const oddInteger = Number.isInteger(y) && y % 2 !== 0;
  if (y === Infinity || y === -Infinity) {
    const a = Math.abs(x);
    if (a === 1) return NaN;
    return (a > 1) === (y > 0) ? Infinity : 0;
  }
  const big = (x === 0) === (y < 0);
  const negative = oddInteger && (Object.is(x, -0) || x === -Infinity);
  if (big) return negative ? -Infinity : Infinity;
  return negative ? -0 : 0;
}

/**
 * x^y: exact squaring for integer |y| ≤ 64, else e^{y ln x} with y ln x in two parts, so the
 * error stays a few ulp however large y ln x is; a negative x needs an integer y.
 * Special values as ECMAScript specifies them.
 */
export function pow(x: number, y: number): number {
  if (Number.isNaN(y)) return NaN;
  if (y === 0) return 1;
  if (Number.isNaN(x)) return NaN;
  if (x === 0 || !Number.isFinite(x) || !Number.isFinite(y)) return powSpecial(x, y);
  if (x === 1) return 1;
  if (x < 0) {
    if (!Number.isInteger(y)) return NaN;
    return (y % 2 === 0 ? 1 : -1) * pow(-x, y);
  }
  if (Number.isInteger(y) && Math.abs(y) <= 64) {
    let p = 1;
    let b = x;
    for (let n = Math.abs(y); n > 0; n = Math.floor(n / 2)) {
      if (n % 2 === 1) p *= b;
      b *= b;
    }
    if (y > 0) return p;
    if (p !== Infinity && p !== 0) return 1 / p;
  }
  const [hi, lo] = logTwoPart(x);
  if (!(Math.abs(y * hi) < 800)) return exp(y * hi);
  const [p, pe] = twoProduct(y, hi);
  const [z, zLo] = twoSum(p, pe + y * lo);
  return expWithTail(z, zLo);
}

export function sin(x: number): number {
  return sinCos(x)[0];
}

export function cos(x: number): number {
  return sinCos(x)[1];
}

export function tan(x: number): number {
  const [s, c] = sinCos(x);
  return s / c;
}
