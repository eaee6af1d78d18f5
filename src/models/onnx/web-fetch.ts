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

/** What a WebGPU adapter says of itself (GPUAdapter.info, isFallbackAdapter), as far as it is read here. */
interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { architecture?: string; description?: string; device?: string; vendor?: string; isFallbackAdapter?: boolean };
}

/**
 * Why each requested backend cannot run here (undefined: it can); WebGPU is probed only when
 * requested. When WebAssembly is requested too, a software WebGPU adapter (the fallback adapter,
 * SwiftShader, llvmpipe/lavapipe) counts as unavailable: on a 2-core machine SwiftShader ran the
 * MNIST UNet 26× slower than WebAssembly (docs/playground.md). Asked for alone, it is used.
 */
export async function backendProblems(requested: readonly WebBackend[]): Promise<Record<WebBackend, string | undefined>> {
  return {
    wasm: typeof WebAssembly === 'object' ? undefined : 'WebAssembly is missing',
    webgpu: requested.includes('webgpu') ? await webGpuReason(requested.includes('wasm')) : 'not probed',
  };
}

/** A name for a software adapter (undefined for a hardware one). */
export function softwareAdapter(adapter: AdapterLike): string | undefined {
  const info = adapter.info ?? {};
  const text = [info.architecture, info.description, info.device, info.vendor].filter(Boolean).join(' ');
  const named = /swiftshader|llvmpipe|lavapipe|software/i.exec(text)?.[0];
  if (named) return named;
  return adapter.isFallbackAdapter === true || info.isFallbackAdapter === true ? 'the fallback adapter' : undefined;
}

/** Why WebGPU cannot be used here, or undefined when an adapter can be requested (a software one only when nothing else is). */
async function webGpuReason(hasAlternative: boolean): Promise<string | undefined> {
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) return 'navigator.gpu is missing';
  let adapter: unknown;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return `navigator.gpu.requestAdapter() failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (!adapter) return 'navigator.gpu.requestAdapter() found no adapter';
  const software = softwareAdapter(adapter as AdapterLike);
  return software && hasAlternative ? `the only WebGPU adapter is a software one (${software}), slower than WebAssembly; request ['webgpu'] alone to use it` : undefined;
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

