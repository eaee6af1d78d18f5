import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../core/errors.js';
import { readJsonObject } from '../../io/files.js';

/**
 * The networks that ship with Diffuse, in the package's `models/` folder (Node only): each is a
 * folder holding a card.json, reachable by its folder name from any working directory
 * (`--model mnist`, `loadOnnxModel(shippedModelCard('mnist'))`).
 */

/** The package's models/ folder (the same from src/ under tsx and from dist/ when installed). */
export const shippedModelsDir: string = fileURLToPath(new URL('../../../models/', import.meta.url));

/**
 * What a shipped network is, read from its card's `format` (a diffusion denoiser, an image classifier
 * or a masked language model), or a diffusers folder with a model_index.json (a text-to-image model).
 */
export type ShippedModelKind = 'denoiser' | 'classifier' | 'masked-lm' | 'deformation' | 'text-to-image';

/** One network in the package's models/ folder, as shippedModels lists it. */
export interface ShippedModel {
  /** Folder name, the name `--model` takes. */
  name: string;
  /** Which kind of card it has. */
  kind: ShippedModelKind;
  /** Absolute path of its card (a text-to-image model: of its folder's model_index.json). */
  card: string;
  /** Its card's description ("" when it has none). */
  description: string;
}

const kinds: Readonly<Record<string, ShippedModelKind>> = {
  'diffuse-model-card/v1': 'denoiser',
  'diffuse-classifier-card/v1': 'classifier',
  'diffuse-mlm-card/v1': 'masked-lm',
  'diffuse-drdm-card/v1': 'deformation',
};

/** Every shipped model with its kind and its card's description, sorted by name. */
export async function shippedModels(): Promise<ShippedModel[]> {
  let names: string[];
  try {
    names = (await readdir(shippedModelsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return [];
  }
  const out: ShippedModel[] = [];
  for (const name of names) {
    const card = join(shippedModelsDir, name, 'card.json');
    const model = await cardModel(name, card);
    if (model) {
      out.push(model);
      continue;
    }
    const pipeline = await textToImage(name);
    if (pipeline) {
      out.push(pipeline);
      continue;
    }
    // a family of models, one per subfolder (e.g. dna-drakes/alpha-0.3): named FOLDER/SUBFOLDER
    let subs: string[] = [];
    try {
      subs = (await readdir(join(shippedModelsDir, name), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    } catch {
      continue;
    }
    for (const sub of subs) {
      const m = await cardModel(`${name}/${sub}`, join(shippedModelsDir, name, sub, 'card.json'));
      if (m) out.push(m);
    }
  }
  return out;
}

/** The shipped model whose card is at `card`, or undefined when there is none or its format is not one of `kinds`. */
async function cardModel(name: string, card: string): Promise<ShippedModel | undefined> {
  let json: Record<string, unknown>;
  try {
    json = await readJsonObject(card);
  } catch {
    return undefined;
  }
  const kind = Object.hasOwn(kinds, String(json.format)) ? kinds[String(json.format)] : undefined;
  return kind ? { name, kind, card, description: typeof json.description === 'string' ? json.description : '' } : undefined;
}

/** The card path of a shipped model, or a UsageError listing those of the kinds asked for. */
export async function shippedModelCard(name: string, accept: readonly ShippedModelKind[] = ['denoiser', 'classifier', 'masked-lm', 'deformation']): Promise<string> {
  const models = (await shippedModels()).filter((m) => accept.includes(m.kind));
  const hit = models.find((m) => m.name === name);
  if (!hit) throw new UsageError(`no shipped model "${name}"; accepted: ${models.map((m) => m.name).join(', ') || '(none in this installation)'} (see \`diffuse list models\`)`);
  return hit.card;
}

/** A diffusers folder (model_index.json) in models/, described by its about.json. */
async function textToImage(name: string): Promise<ShippedModel | undefined> {
  const index = join(shippedModelsDir, name, 'model_index.json');
  try {
    await readJsonObject(index);
  } catch {
    return undefined;
  }
  const about = await readJsonObject(join(shippedModelsDir, name, 'about.json')).catch(() => ({} as Record<string, unknown>));
  return { name, kind: 'text-to-image', card: index, description: typeof about.description === 'string' ? about.description : '' };
}

/** The folder of a shipped text-to-image model (a models/ folder with a model_index.json), by name. */
export async function shippedPipelineDir(name: string): Promise<string | undefined> {
  const hit = (await shippedModels()).find((m) => m.name === name && m.kind === 'text-to-image');
  return hit ? join(shippedModelsDir, name) : undefined;
}
