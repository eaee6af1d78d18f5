import { readJsonObject } from '../../io/files.js';
import { openCardSession } from '../../models/onnx/node.js';
import type { NodeSessionOptions } from '../../models/onnx/node-runtime.js';
import { parseMlmCard } from './card.js';
import { OnnxMaskedLM } from './model.js';

/** Node entry point: load a masked-LM card and its network into an OnnxMaskedLM (CPU backend). */
export async function loadOnnxMaskedLM(cardPath: string, sessionOptions: NodeSessionOptions = {}): Promise<OnnxMaskedLM> {
  const card = parseMlmCard(await readJsonObject(cardPath), cardPath);
  return openCardSession(cardPath, card.onnx, sessionOptions, (session, { Tensor }) => new OnnxMaskedLM(session, Tensor, card, cardPath));
}

export * from './index.js';
