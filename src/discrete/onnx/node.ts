import { dirname, resolve } from 'node:path';
import { readJsonObject } from '../../io/files.js';
import { markovChainSchema, validate } from '../../io/formats.js';
import type { DiscreteModel } from '../model.js';
import { CorrectedModel } from '../finetune.js';
import { MarkovOracle } from '../oracle/markov.js';
import type { MlmCard } from './card.js';
import { openCardSession } from '../../models/onnx/node.js';
import type { NodeSessionOptions } from '../../models/onnx/node-runtime.js';
import { parseMlmCard } from './card.js';
import { OnnxMaskedLM } from './model.js';

/** Node entry point: load a masked-LM card and its network into an OnnxMaskedLM (CPU backend). */
export async function loadOnnxMaskedLM(cardPath: string, sessionOptions: NodeSessionOptions = {}): Promise<OnnxMaskedLM> {
  const card = parseMlmCard(await readJsonObject(cardPath), cardPath);
  return openCardSession(cardPath, card.onnx, sessionOptions, (session, { Tensor }) => new OnnxMaskedLM(session, Tensor, card, cardPath));
}

/**
 * A card as Diffuse samples it: the network, or — when the card names a `base` chain — the chain's exact
 * oracle with the network's logits added (a DRAKES fine-tuned oracle). `network` is the ONNX part alone.
 */
export async function loadMaskedModel(cardPath: string, sessionOptions: NodeSessionOptions = {}): Promise<{ model: DiscreteModel; card: MlmCard; network: OnnxMaskedLM }> {
  const network = await loadOnnxMaskedLM(cardPath, sessionOptions);
  const { card } = network;
  if (card.base === undefined) return { model: network, card, network };
  const chainPath = resolve(dirname(cardPath), card.base.chain);
  const chain = validate(markovChainSchema, await readJsonObject(chainPath), chainPath);
  const oracle = new MarkovOracle(chain, card.length);
  return { model: new CorrectedModel(oracle, network), card, network };
}

export * from './index.js';
