import type { LoadProgress } from '../models/onnx/progress.js';
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { finiteDataSet, type GmmSpec } from '../models/oracle/gmm.js';
import { builtinNames, builtinProblem, loadGmmJson } from '../models/oracle/builtin.js';
import { readNpyFile, readTextFile } from '../io/files.js';
import { toRows } from '../core/tensor.js';
import type { OnnxDenoiser } from '../models/onnx/index.js';
import { shippedModels } from '../models/onnx/shipped.js';

/** An exact Gaussian-mixture model (builtin:, gmm:, data:). */
export interface GmmModelArg {
  kind: 'gmm';
  /** Short name for titles and summaries, e.g. "ring8". */
  label: string;
  gmm: GmmSpec;
}

/** A network from a model card (onnx:). */
export interface OnnxModelArg {
  kind: 'onnx';
  label: string;
  model: OnnxDenoiser;
  /** Path of the model card (searches shipped with the model lie in its folder's searched/). */
  card: string;
}

export type ModelArg = GmmModelArg | OnnxModelArg;

const accepted = `a shipped network's NAME (\`diffuse list models\`), builtin:NAME (${builtinNames.join(', ')}), gmm:FILE.json, data:FILE.npy or onnx:CARD.json`;

/**
 * A bare --model NAME names a shipped network (`onnx:` its card in the package) or a built-in
 * problem (`builtin:NAME`); anything with a prefix is returned as it is.
 */
export async function expandModelSpec(value: string): Promise<string> {
  if (/^[a-z]+:/i.test(value)) return value;
  const shipped = (await shippedModels()).find((m) => m.name === value);
  if (shipped?.kind === 'text-to-image') throw new UsageError(`${value} is a text-to-image model: run it with \`diffuse generate "a prompt" --model ${value}\``);
  if (shipped) return `onnx:${shipped.card}`;
  if (builtinNames.includes(value)) return `builtin:${value}`;
  throw new UsageError(`--model must be ${accepted}; got "${value}"`);
}

/**
 * --model builtin:NAME | gmm:FILE.json (a refs problem file may pick one with FILE.json#NAME) |
 * data:FILE.npy (a finite data set [K, d] of equally weighted points) | onnx:CARD.json (a network
 * and its model card, run by ONNX Runtime; loaded only when asked for).
 */
export async function loadModelArg(spec: string, onProgress?: (p: LoadProgress) => void, threads?: number): Promise<ModelArg> {
  const value = await expandModelSpec(spec);
  const colon = value.indexOf(':');
  if (colon > 0 && value.slice(0, colon) === 'onnx') {
    const card = value.slice(colon + 1);
    const { loadOnnxModel } = await import('../models/onnx/node.js');
    const name = basename(card).replace(/\.json$/i, '');
    return { kind: 'onnx', label: name === 'card' ? basename(resolve(dirname(card))) : name, model: await loadOnnxModel(card, threads ? { intraOpNumThreads: threads } : {}, onProgress), card };
  }
  return { kind: 'gmm', ...(await loadGmmArg(value)) };
}

/** The exact model of --model, for commands that measure against the exact solution. */
export async function loadExactModelArg(value: string, command: string): Promise<GmmModelArg> {
  const m = await loadModelArg(value);
  if (m.kind !== 'gmm') throw new UsageError(`${command} measures errors against the exact solution: --model must be builtin:, gmm: or data:; got "${value}"`);
  return m;
}

async function loadGmmArg(value: string): Promise<{ label: string; gmm: GmmSpec }> {
  const colon = value.indexOf(':');
  const kind = colon > 0 ? value.slice(0, colon) : '';
  const rest = value.slice(colon + 1);
  if (kind === 'builtin') return { label: rest, gmm: builtinProblem(rest) };
  if (kind === 'gmm') {
    const hash = rest.lastIndexOf('#');
    const [file, problem] = hash > 0 ? [rest.slice(0, hash), rest.slice(hash + 1)] : [rest, undefined];
    try {
      return { label: problem ?? basename(file).replace(/\.json$/i, ''), gmm: loadGmmJson(await readTextFile(file), problem) };
    } catch (e) {
      if (e instanceof UsageError && !e.message.startsWith(`cannot read ${file}`)) throw new UsageError(`${file}: ${e.message}`);
      throw e;
    }
  }
  if (kind === 'data') {
    const points = await readNpyFile(rest, [null, null], 'data set');
    return { label: basename(rest).replace(/\.npy$/i, ''), gmm: finiteDataSet(toRows(points)) };
  }
  throw new UsageError(`--model must be ${accepted}; got "${value}"`);
}

/** Exact marginal density of coordinate j, Σ_k w_k N(x; μ_kj, v_kj); undefined if a variance is 0. */
export function marginalDensity(g: GmmSpec): ((j: number, x: number) => number) | undefined {
  if (g.variances.some((row) => row.some((v) => !(v > 0)))) return undefined;
  const total = g.weights.reduce((a, b) => a + b, 0);
  return (j, x) =>
    g.means.reduce((s, m, k) => {
      const v = g.variances[k][j];
      return s + (g.weights[k] / total) * Math.exp(-((x - m[j]) ** 2) / (2 * v)) / Math.sqrt(2 * Math.PI * v);
    }, 0);
}
