import { afterEach, describe, expect, it, vi } from 'vitest';
import { backendProblems, softwareAdapter } from '../../src/models/onnx/web-fetch.js';

/**
 * Which onnxruntime-web backends the browser loaders use: a software WebGPU adapter (Chromium's
 * SwiftShader ran the MNIST UNet 26× slower than WebAssembly here) is passed over when WebAssembly
 * is also requested, and used when WebGPU is asked for alone.
 */
const withAdapter = (adapter: unknown) => vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => adapter } });

describe('WebGPU adapters', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('names software adapters by what they say of themselves', () => {
    expect(softwareAdapter({ info: { vendor: 'google', architecture: 'swiftshader' } })).toBe('swiftshader');
    expect(softwareAdapter({ info: { description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } })).toBe('llvmpipe');
    expect(softwareAdapter({ isFallbackAdapter: true, info: {} })).toBe('the fallback adapter');
    expect(softwareAdapter({ info: { vendor: 'nvidia', architecture: 'ada' } })).toBeUndefined();
  });

  it('passes a software adapter over when WebAssembly is requested too, and uses it when asked for alone', async () => {
    withAdapter({ info: { vendor: 'google', architecture: 'swiftshader' } });
    expect((await backendProblems(['webgpu', 'wasm'])).webgpu).toMatch(/the only WebGPU adapter is a software one \(swiftshader\)/);
    expect((await backendProblems(['webgpu'])).webgpu).toBeUndefined();
    withAdapter({ info: { vendor: 'nvidia', architecture: 'ada' } });
    expect((await backendProblems(['webgpu', 'wasm'])).webgpu).toBeUndefined();
    withAdapter(null);
    expect((await backendProblems(['webgpu', 'wasm'])).webgpu).toMatch(/found no adapter/);
  });
});
