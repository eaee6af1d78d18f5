/**
 * Small dense linear algebra for the exact oracles (d and m are tens at most): row-major square
 * matrices in Float64Array, Cholesky factors and triangular solves (Golub & Van Loan, Alg. 4.2.1).
 */
import { log } from './math.js';

/**
 * Lower Cholesky factor L of a symmetric positive semi-definite n×n matrix (L Lᵀ = a). A pivot at
 * or below `tol`·(largest diagonal entry) is taken as an exact zero and its column left zero, so
 * singular covariances (observed coordinates, point masses) factor for sampling. With
 * `semidefinite` false such a pivot returns undefined instead.
 */
export function cholesky(a: Float64Array, n: number, semidefinite = false, tol = 1e-12): Float64Array | undefined {
  const L = new Float64Array(n * n);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, a[i * n + i]);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j];
    for (let k = 0; k < j; k++) s -= L[j * n + k] * L[j * n + k];
    if (!(s > tol * scale)) {
      if (!semidefinite || !(s > -1e3 * tol * scale - Number.MIN_VALUE)) return undefined;
      continue;
    }
    const ljj = Math.sqrt(s);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j];
      for (let k = 0; k < j; k++) t -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = t / ljj;
    }
  }
  return L;
}

/** Solves L z = b in place (b at offset off), L lower triangular with a non-zero diagonal. */
export function solveLower(L: Float64Array, n: number, b: Float64Array, off = 0): void {
  for (let i = 0; i < n; i++) {
    let s = b[off + i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * b[off + k];
    b[off + i] = s / L[i * n + i];
  }
}

/** Solves Lᵀ z = b in place (b at offset off). */
export function solveUpper(L: Float64Array, n: number, b: Float64Array, off = 0): void {
  for (let i = n - 1; i >= 0; i--) {
    let s = b[off + i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * b[off + k];
    b[off + i] = s / L[i * n + i];
  }
}

/** Solves (L Lᵀ) z = b in place. */
export function cholSolve(L: Float64Array, n: number, b: Float64Array, off = 0): void {
  solveLower(L, n, b, off);
  solveUpper(L, n, b, off);
}

/** Σ_i log L_ii² = log det(L Lᵀ). */
export function logDetFromCholesky(L: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += 2 * log(L[i * n + i]);
  return s;
}

/** out = M v for an r×c matrix M (row-major) and v at offset off. */
export function matVec(M: Float64Array, r: number, c: number, v: Float64Array, off = 0, out = new Float64Array(r)): Float64Array {
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += M[i * c + j] * v[off + j];
    out[i] = s;
  }
  return out;
}

/** out = Mᵀ v for an r×c matrix M (row-major), v of length r. */
export function matTVec(M: Float64Array, r: number, c: number, v: Float64Array, out = new Float64Array(c)): Float64Array {
  out.fill(0);
  for (let i = 0; i < r; i++) {
    const vi = v[i];
    if (vi === 0) continue;
    for (let j = 0; j < c; j++) out[j] += M[i * c + j] * vi;
  }
  return out;
}

/** P Q for P r×s and Q s×c, both row-major. */
export function matMul(P: Float64Array, Q: Float64Array, r: number, s: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let k = 0; k < s; k++) {
      const p = P[i * s + k];
      if (p === 0) continue;
      for (let j = 0; j < c; j++) out[i * c + j] += p * Q[k * c + j];
    }
  }
  return out;
}

/** Mᵀ of an r×c matrix. */
export function transpose(M: Float64Array, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = M[i * c + j];
  return out;
}

/** (M + Mᵀ)/2 in place, removing rounding asymmetry. */
export function symmetrize(M: Float64Array, n: number): Float64Array {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (M[i * n + j] + M[j * n + i]);
      M[i * n + j] = v;
      M[j * n + i] = v;
    }
  }
  return M;
}

/**
 * Eigendecomposition a = V diag(λ) Vᵀ of a symmetric n×n matrix by the cyclic Jacobi method
 * (Golub & Van Loan, Alg. 8.5.3): sweeps of plane rotations that zero each off-diagonal entry in
 * turn, until the off-diagonal norm is below `tol` times the Frobenius norm. V's columns are the
 * eigenvectors (row-major, V[i·n + k] is component i of vector k).
 */
export function symmetricEigen(a: Float64Array, n: number, tol = 1e-15, maxSweeps = 60): { values: Float64Array; vectors: Float64Array } {
  const A = symmetrize(Float64Array.from(a), n);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i] * A[i];
  const target = tol * tol * total;
  for (let sweep = 0; sweep < maxSweeps && offDiagonal2(A, n) > target; sweep++) {
    for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) rotate(A, V, n, p, q);
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i];
  return { values, vectors: V };
}

/** Σ_{i≠j} a_ij². */
function offDiagonal2(A: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) s += A[i * n + j] * A[i * n + j];
  return s;
}

/** One Jacobi rotation J(p, q, θ) zeroing a_pq: A ← Jᵀ A J, V ← V J (Golub & Van Loan, Alg. 8.5.1–8.5.2). */
function rotate(A: Float64Array, V: Float64Array, n: number, p: number, q: number): void {
  const apq = A[p * n + q];
  if (apq === 0) return;
  const tau = (A[q * n + q] - A[p * n + p]) / (2 * apq);
  const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
  const c = 1 / Math.sqrt(1 + t * t);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    const akp = A[k * n + p];
    const akq = A[k * n + q];
    A[k * n + p] = c * akp - s * akq;
    A[k * n + q] = s * akp + c * akq;
  }
  for (let k = 0; k < n; k++) {
    const apk = A[p * n + k];
    const aqk = A[q * n + k];
    A[p * n + k] = c * apk - s * aqk;
    A[q * n + k] = s * apk + c * aqk;
  }
  A[p * n + q] = 0;
  A[q * n + p] = 0;
  for (let k = 0; k < n; k++) {
    const vkp = V[k * n + p];
    const vkq = V[k * n + q];
    V[k * n + p] = c * vkp - s * vkq;
    V[k * n + q] = s * vkp + c * vkq;
  }
}

/** The symmetric positive semi-definite square root V diag(√max(λ, 0)) Vᵀ of a symmetric matrix. */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors: V } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k], 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vi = r * V[i * n + k];
      if (vi === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vi * V[j * n + k];
    }
  }
  return symmetrize(out, n);
}
