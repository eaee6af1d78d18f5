import { access, constants, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { encodeNpy, expectShape, parseNpy } from './npy.js';
import { PNG } from 'pngjs';
import { renderPng, renderSvg, type Figure } from './plot.js';

/** Node file access for the CLI: every failure becomes one UsageError naming the file. */

function describe(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'ENOSPC') return 'no space left on the device';
  if (code === 'EFBIG') return 'the file is larger than the system allows';
  if (code === 'EROFS') return 'the file system is read-only';
  return e instanceof Error ? e.message : String(e);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${describe(e)}`);
  }
}

/**
 * Write a file atomically: into a temporary file beside it, flushed, then renamed over it. A run
 * that fails mid-write (disk full, file-size limit, Ctrl-C) leaves the old file as it was.
 */
async function writeBytes(path: string, data: Uint8Array | string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw new UsageError(`cannot write ${path}: ${describe(e)}`);
  }
}

/** The file's stat, or undefined if it does not exist; other failures are the user's. */
async function statOrNothing(path: string) {
  try {
    return await stat(path);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot write ${path}: ${describe(e)}`);
  }
}

/**
 * Check, before any work, that each output path can be written: its folder exists and is writable,
 * and the path is not a folder or a read-only file. Undefined entries (options not given) are skipped.
 */
export async function checkOutputs(paths: readonly (string | undefined)[]): Promise<void> {
  for (const path of paths) {
    if (path === undefined) continue;
    const folder = dirname(path);
    const info = await statOrNothing(path);
    if (info?.isDirectory()) throw new UsageError(`cannot write ${path}: it is a directory`);
    const folderInfo = await statOrNothing(folder);
    if (!folderInfo) throw new UsageError(`cannot write ${path}: the folder ${folder} does not exist`);
    if (!folderInfo.isDirectory()) throw new UsageError(`cannot write ${path}: ${folder} is not a folder`);
    try {
      await access(folder, constants.W_OK);
      if (info) await access(path, constants.W_OK);
    } catch (e) {
      throw new UsageError(`cannot write ${path}: ${describe(e)}`);
    }
  }
}

/**
 * Read a .npy file; with `shape`, check it (null = any size) and name the array as `what`. Every
 * value must be finite: a NaN or ±Infinity is reported here, with its index, as the file's.
 */
export async function readNpyFile(path: string, shape?: readonly (number | null)[], what = 'array'): Promise<Tensor> {
  const bytes = await readBytes(path);
  try {
    const t = parseNpy(bytes);
    if (shape) expectShape(t, shape, what);
    const bad = t.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new UsageError(`value at index [${unravel(bad, t.shape).join(', ')}] is ${t.data[bad]}, not finite; every value must be a finite number`);
    return t;
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  }
}

/** The multi-index of flat index i in a C-order array of `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const out: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    out.unshift(i % shape[k]);
    i = Math.floor(i / shape[k]);
  }
  return out;
}

/** Write a tensor as a .npy file (encodeNpy's bytes), atomically: a failed write leaves the old file. */
export async function writeNpyFile(path: string, t: Tensor): Promise<void> {
  await writeBytes(path, encodeNpy(t));
}

/** Read a file as UTF-8 text; a failure is a UsageError naming the file. */
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

/** Write text to a file as UTF-8, atomically: a failed write leaves the old file. */
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

/** RGBA bytes (width × height × 4) as a PNG file's bytes. */
export function encodeRgbaPng(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Uint8Array {
  if (rgba.length !== width * height * 4) throw new UsageError(`RGBA bytes of a ${width} × ${height} image are ${width * height * 4}, got ${rgba.length}`);
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}

/** Write RGBA bytes (width × height × 4) as a PNG. */
export async function writeRgbaPng(path: string, rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Promise<void> {
  await writeBytes(path, encodeRgbaPng(rgba, width, height));
}

/** An image file as RGB planes (3 × height × width) in [0, 1]; alpha is dropped. */
export async function readPngRgb(path: string): Promise<{ width: number; height: number; rgb: Float32Array }> {
  const bytes = await readBytes(path);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new UsageError(`${path} is not a PNG image this reader can decode (${describe(e)})`);
  }
  const { width, height, data } = png;
  const plane = width * height;
  const rgb = new Float32Array(3 * plane);
  for (let k = 0; k < plane; k++) for (let c = 0; c < 3; c++) rgb[c * plane + k] = data[4 * k + c] / 255;
  return { width, height, rgb };
}
