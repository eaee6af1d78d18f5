import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import { UsageError } from '../../core/errors.js';
import { readJsonObject } from '../../io/files.js';
import { parseModelCard } from './card.js';
import { OnnxDenoiser } from './denoiser.js';
import { nodeRuntime, type NodeRuntime, type NodeSessionOptions } from './node-runtime.js';

/**
 * Open the .onnx file a card names (path relative to the card) on onnxruntime-node's CPU backend
 * and build a model on it, releasing the session if that fails. Problems are UsageErrors naming
 * the file. Shared by the continuous and the masked-LM loaders.
 */
export async function openCardSession<T>(
  cardPath: string, onnxFile: string, sessionOptions: NodeSessionOptions, build: (session: InferenceSession, runtime: NodeRuntime) => T,
): Promise<T> {
  const runtime = await nodeRuntime();
  const onnxPath = resolve(dirname(cardPath), onnxFile);
  try {
    await access(onnxPath);
  } catch {
    throw new UsageError(`${cardPath}: the ONNX file ${onnxPath} does not exist or cannot be read`);
  }
  let session: InferenceSession;
  try {
    session = await runtime.InferenceSession.create(onnxPath, sessionOptions);
  } catch (e) {
    throw new UsageError(`${onnxPath}: ONNX Runtime cannot load it (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    return build(session, runtime);
  } catch (e) {
    await session.release();
    throw e;
  }
}

/** Node entry point: load a model card and its network into an OnnxDenoiser. */
export async function loadOnnxModel(cardPath: string, sessionOptions: NodeSessionOptions = {}): Promise<OnnxDenoiser> {
  const card = parseModelCard(await readJsonObject(cardPath), cardPath);
  return openCardSession(cardPath, card.onnx, sessionOptions, (session, { Tensor }) => new OnnxDenoiser(session, Tensor, card, cardPath));
}

export * from './index.js';
