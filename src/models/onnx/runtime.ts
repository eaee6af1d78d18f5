/**
 * The part of ONNX Runtime's API the adapter uses, as structural types: `onnxruntime-node` and
 * `onnxruntime-web` both satisfy them, so the adapter imports neither.
 */
export type OrtTensorType = 'float32' | 'float16' | 'int64' | 'int32';

export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
  dispose(): void;
}

export interface OrtTensorConstructor {
  new (type: OrtTensorType, data: Float32Array | Uint16Array | BigInt64Array | Int32Array, dims: readonly number[]): OrtTensor;
}

/** Name, element type and shape (numbers, or strings for symbolic dimensions) of a graph input or output. */
export interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly OrtValueMetadata[];
  readonly outputMetadata: readonly OrtValueMetadata[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
