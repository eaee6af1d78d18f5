import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { UsageError } from '../../core/errors.js';

/**
 * onnxruntime-node, loaded on first use. It is an optional peer dependency of Diffuse: the exact
 * oracles need no runtime, and a Node user who runs networks installs it beside Diffuse (its CPU
 * libraries ship in its npm package; its install script only downloads CUDA libraries, which
 * `"allowScripts": {"onnxruntime-node": false}` or ONNXRUNTIME_NODE_INSTALL=skip leave out).
 */
export interface NodeRuntime {
  InferenceSession: typeof InferenceSession;
  Tensor: typeof Tensor;
}

/** Options for onnxruntime-node sessions (threads, graph optimisation, execution providers, …). */
export type NodeSessionOptions = InferenceSession.SessionOptions;

/** How to install the optional onnxruntime-node peer dependency, as error messages tell the user. */
export const INSTALL_NODE_RUNTIME =
  'npm install onnxruntime-node@1.30.0 (its CPU runtime ships in the package; to skip the CUDA download of its install script, first run `npm pkg set allowScripts.onnxruntime-node=false --json`, or set ONNXRUNTIME_NODE_INSTALL=skip)';

let loading: Promise<NodeRuntime> | undefined;

/** The onnxruntime-node module, or a UsageError saying how to install it. */
export function nodeRuntime(): Promise<NodeRuntime> {
  loading ??= import('onnxruntime-node').then(
    (m) => m as unknown as NodeRuntime,
    (e: unknown) => {
      loading = undefined;
      const missing = (e as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND';
      const why = missing ? 'onnxruntime-node is not installed' : `onnxruntime-node cannot be loaded (${e instanceof Error ? e.message : String(e)})`;
      throw new UsageError(`ONNX models run on onnxruntime-node in Node, and ${why}; install it with: ${INSTALL_NODE_RUNTIME}`);
    },
  );
  return loading;
}
