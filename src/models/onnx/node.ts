import { createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import { UsageError } from '../../core/errors.js';
import { readJsonObject } from '../../io/files.js';
import { parseModelCard } from './card.js';
import { OnnxDenoiser } from './denoiser.js';
import { nodeRuntime, type NodeRuntime, type NodeSessionOptions } from './node-runtime.js';
import { readChunks, type LoadProgress } from './progress.js';

/**
 * Open the .onnx file a card names (path relative to the card) on onnxruntime-node's CPU backend
 * and build a model on it, releasing the session if that fails. Problems are UsageErrors naming
 * the file. Shared by the continuous and the masked-LM loaders.
 */
export async function openCardSession<T>(
  cardPath: string, onnxFile: string, sessionOptions: NodeSessionOptions, build: (session: InferenceSession, runtime: NodeRuntime) => T,
  onProgress?: (progress: LoadProgress) => void,
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
    session = onProgress
      ? await runtime.InferenceSession.create(await readWithProgress(onnxPath, onProgress), sessionOptions)
      : await runtime.InferenceSession.create(onnxPath, sessionOptions);
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

/** The file's bytes, read in 4 MiB chunks with the bytes read so far reported after each. */
async function readWithProgress(path: string, onProgress: (progress: LoadProgress) => void): Promise<Uint8Array> {
  const { size } = await stat(path);
  const chunks = createReadStream(path, { highWaterMark: 4 << 20 })[Symbol.asyncIterator]();
  const reader = {
    read: async () => {
      const r = await chunks.next();
      return r.done ? { done: true } : { done: false, value: r.value as Uint8Array };
    },
  };
  return readChunks(reader, path, size, onProgress);
}

/**
 * Node entry point: load a model card and its network into an OnnxDenoiser; `onProgress` gets the
 * network's bytes read so far (the file is then read by Diffuse and handed to ONNX Runtime whole).
 */
export async function loadOnnxModel(
  cardPath: string, sessionOptions: NodeSessionOptions = {}, onProgress?: (progress: LoadProgress) => void,
): Promise<OnnxDenoiser> {
  const card = parseModelCard(await readJsonObject(cardPath), cardPath);
  return openCardSession(cardPath, card.onnx, sessionOptions, (session, { Tensor }) => new OnnxDenoiser(session, Tensor, card, cardPath), onProgress);
}

export * from './index.js';
