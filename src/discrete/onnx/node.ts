import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { UsageError } from '../../core/errors.js';
import { readJsonObject } from '../../io/files.js';
import { parseMlmCard } from './card.js';
import { OnnxMaskedLM } from './model.js';

/**
 * Node entry point: load a masked-LM card and its .onnx network (path relative to the card) into an
 * OnnxMaskedLM on onnxruntime-node's CPU backend. Every problem is a UsageError naming the file.
 */
export async function loadOnnxMaskedLM(cardPath: string, sessionOptions: InferenceSession.SessionOptions = {}): Promise<OnnxMaskedLM> {
  const card = parseMlmCard(await readJsonObject(cardPath), cardPath);
  const onnxPath = resolve(dirname(cardPath), card.onnx);
  try {
    await access(onnxPath);
  } catch {
    throw new UsageError(`${cardPath}: the ONNX file ${onnxPath} does not exist or cannot be read`);
  }
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(onnxPath, sessionOptions);
  } catch (e) {
    throw new UsageError(`${onnxPath}: ONNX Runtime cannot load it (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    return new OnnxMaskedLM(session, Tensor, card, cardPath);
  } catch (e) {
    await session.release();
    throw e;
  }
}

export * from './index.js';
