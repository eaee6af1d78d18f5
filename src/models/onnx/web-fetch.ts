import { UsageError } from '../../core/errors.js';
import { readChunks, type LoadProgress } from './progress.js';
import type { WebBackend } from './web.js';

/**
 * What the browser loaders share (models/onnx/web.ts for model cards, pipelines/web.ts for diffusers
 * folders): which onnxruntime-web backends this browser has, and fetching bytes with progress.
 */

interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

/** Why each requested backend cannot run here (undefined: it can); WebGPU is probed only when requested. */
export async function backendProblems(requested: readonly WebBackend[]): Promise<Record<WebBackend, string | undefined>> {
  return {
    wasm: typeof WebAssembly === 'object' ? undefined : 'WebAssembly is missing',
    webgpu: requested.includes('webgpu') ? await webGpuReason() : 'not probed',
  };
}

/** Why WebGPU cannot be used here, or undefined when an adapter can be requested. */
async function webGpuReason(): Promise<string | undefined> {
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) return 'navigator.gpu is missing';
  try {
    return (await gpu.requestAdapter()) ? undefined : 'navigator.gpu.requestAdapter() found no adapter';
  } catch (e) {
    return `navigator.gpu.requestAdapter() failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** `u` resolved against the page's location (a UsageError when it is not a URL). */
export function absoluteUrl(u: string | URL): URL {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return new URL(u, base);
  } catch {
    throw new UsageError(`model card URL ${JSON.stringify(String(u))} is not a valid URL${base ? '' : ' (there is no page location to resolve a relative URL against)'}`);
  }
}

/** The bytes at `url`, read chunk by chunk with progress; an unreachable URL or an HTTP error is a UsageError naming `what`. */
export async function fetchBytes(fetchFn: typeof fetch, url: URL, what: string, onProgress?: (p: LoadProgress) => void): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (e) {
    throw new UsageError(`${url.href}: cannot fetch ${what} (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!response.ok) throw new UsageError(`${url.href}: fetching ${what} gave HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  const length = Number(response.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? length : undefined;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ file: url.href, loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  return readChunks(response.body.getReader(), url.href, total, onProgress);
}

