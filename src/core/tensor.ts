/** dtype → typed array; arrays are row-major (C order). */
export interface DTypeMap {
  float32: Float32Array;
  float64: Float64Array;
}
/** The element types tensors hold. */
export type DType = keyof DTypeMap;

/** A row-major array with its shape, the unit of data crossing I/O (npy files, models, results). */
export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeMap[D];
}

/** Number of elements of a shape (1 for []). */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor of `shape`: over `data` (its length must match) or zero-filled. */
export function tensor<D extends DType>(dtype: D, shape: readonly number[], data?: DTypeMap[D]): Tensor<D> {
  const n = sizeOf(shape);
  const arr = data ?? (dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
  if (arr.length !== n) {
    throw new RangeError(`data has ${arr.length} elements but shape [${shape.join(', ')}] needs ${n}`);
  }
  return { dtype, shape: [...shape], data: arr as DTypeMap[D] };
}

/** Copy any tensor's values into float64 (samplers and oracles work in float64). */
export function toFloat64(t: Tensor): Tensor<'float64'> {
  return tensor('float64', t.shape, Float64Array.from(t.data));
}

/** Rows of a 2-D nested array (e.g. JSON) into a float64 tensor [n, d]. */
export function fromRows(rows: readonly (readonly number[])[]): Tensor<'float64'> {
  const n = rows.length;
  const d = n > 0 ? rows[0].length : 0;
  const data = new Float64Array(n * d);
  rows.forEach((r, i) => {
    if (r.length !== d) throw new RangeError(`row ${i} has ${r.length} values, expected ${d}`);
    data.set(r, i * d);
  });
  return tensor('float64', [n, d], data);
}

/** A tensor [n, …] as n plain rows (e.g. for JSON). */
export function toRows(t: Tensor): number[][] {
  const [n] = t.shape;
  const d = n > 0 ? t.data.length / n : 0;
  return Array.from({ length: n }, (_, i) => Array.from(t.data.subarray(i * d, (i + 1) * d)));
}
