import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { encodeNpy, expectShape, parseNpy } from './npy.js';
import { renderPng, renderSvg, type Figure } from './plot.js';

/** Node file access for the CLI: every failure becomes one UsageError naming the file. */

function describe(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return e instanceof Error ? e.message : String(e);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${describe(e)}`);
  }
}

async function writeBytes(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${describe(e)}`);
  }
}

/** Read a .npy file; with `shape`, check it (null = any size) and name the array as `what`. */
export async function readNpyFile(path: string, shape?: readonly (number | null)[], what = 'array'): Promise<Tensor> {
  const bytes = await readBytes(path);
  try {
    const t = parseNpy(bytes);
    if (shape) expectShape(t, shape, what);
    return t;
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  }
}

export async function writeNpyFile(path: string, t: Tensor): Promise<void> {
  await writeBytes(path, encodeNpy(t));
}

export async function readTextFile(path: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(path));
}

/** Read a JSON file whose top level must be an object. */
export async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  const text = await readTextFile(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: malformed JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${path}: expected a JSON object at the top level`);
  }
  return value as Record<string, unknown>;
}

export async function writeTextFile(path: string, text: string): Promise<void> {
  await writeBytes(path, text);
}

/** The plot formats a file name may ask for, by extension. */
export function plotFormat(path: string): 'png' | 'svg' {
  const ext = extname(path).toLowerCase();
  if (ext === '.png' || ext === '.svg') return ext === '.png' ? 'png' : 'svg';
  throw new UsageError(`cannot tell the plot format of ${path}; accepted extensions: .png, .svg`);
}

/** Write a figure as PNG or SVG, chosen by the file's extension. */
export async function writePlot(path: string, figure: Figure): Promise<void> {
  const format = plotFormat(path);
  await writeBytes(path, format === 'png' ? renderPng(figure) : renderSvg(figure));
}
