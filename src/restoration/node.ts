import { readJsonObject } from '../io/files.js';
import { openCardSession } from '../models/onnx/node.js';
import type { NodeSessionOptions } from '../models/onnx/node-runtime.js';
import { OnnxRecoveryNet, parseDrdmCard } from './recovery-onnx.js';
import { OnnxEditNet, parsePixelManCard } from './pixelman-onnx.js';

/** Node entry point: a DRDM card (diffuse-drdm-card/v1) and its network, run by onnxruntime-node. */
export async function loadRecoveryNet(cardPath: string, sessionOptions: NodeSessionOptions = {}): Promise<OnnxRecoveryNet> {
  const card = parseDrdmCard(await readJsonObject(cardPath), cardPath);
  return openCardSession(cardPath, card.onnx, sessionOptions, (session, { Tensor }) => new OnnxRecoveryNet(session, Tensor, card, cardPath));
}

/** Node entry point: a PixelMan editing card (diffuse-pixelman-card/v1) and its three-branch graph. */
export async function loadEditNet(cardPath: string, sessionOptions: NodeSessionOptions = {}): Promise<OnnxEditNet> {
  const card = parsePixelManCard(await readJsonObject(cardPath), cardPath);
  return openCardSession(cardPath, card.onnx, sessionOptions, (session, { Tensor }) => new OnnxEditNet(session, Tensor, card, cardPath));
}
