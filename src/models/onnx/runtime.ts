/**
 * The part of ONNX Runtime's API the adapter uses, as structural types: `onnxruntime-node` and
 * `onnxruntime-web` both satisfy them, so the adapter imports neither.
 */
export type OrtTensorType = 'float32' | 'float16' | 'int64' | 'int32';

/** An ONNX Runtime tensor: element type, shape and data (a typed array for numeric types). */
export interface OrtTensor {
  /** Element type, e.g. "float32". */
  readonly type: string;
  /** Shape, one entry per axis, e.g. [batch, 1, 28, 28]. */
  readonly dims: readonly number[];
  /** The values, row-major. */
  readonly data: unknown;
  /** Release the tensor's memory (native or GPU); its data cannot be read afterwards. */
  dispose(): void;
}

/** The runtime's Tensor class, as the adapter constructs input tensors with it. */
export interface OrtTensorConstructor {
  /** A tensor of element type `type` with shape `dims` over `data`, row-major (float16 as Uint16Array bit patterns). */
  new (type: OrtTensorType, data: Float32Array | Uint16Array | BigInt64Array | Int32Array, dims: readonly number[]): OrtTensor;
}

/** Name, element type and shape (numbers, or strings for symbolic dimensions) of a graph input or output. */
export interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

/** An ONNX Runtime inference session over one loaded network. */
export interface OrtSession {
  /** The graph's input names. */
  readonly inputNames: readonly string[];
  /** The graph's output names. */
  readonly outputNames: readonly string[];
  /** Element type and shape of each input. */
  readonly inputMetadata: readonly OrtValueMetadata[];
  /** Element type and shape of each output. */
  readonly outputMetadata: readonly OrtValueMetadata[];
  /** Run the graph on `feeds` (one tensor per input name); resolves to the outputs by name. */
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
