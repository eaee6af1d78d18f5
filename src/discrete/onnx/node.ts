import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { readJsonObject } from '../../io/files.js';
import { openCardSession } from '../../models/onnx/node.js';
import { parseMlmCard } from './card.js';
import { OnnxMaskedLM } from './model.js';

/** Node entry point: load a masked-LM card and its network into an OnnxMaskedLM (CPU backend). */
export async function loadOnnxMaskedLM(cardPath: string, sessionOptions: InferenceSession.SessionOptions = {}): Promise<OnnxMaskedLM> {
  const card = parseMlmCard(await readJsonObject(cardPath), cardPath);
  return openCardSession(cardPath, card.onnx, sessionOptions, (session) => new OnnxMaskedLM(session, Tensor, card, cardPath));
}

export * from './index.js';
