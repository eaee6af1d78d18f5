import { describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadProgress } from '../../src/models/onnx/progress.js';
import { loadOrt } from './support.js';

/** Load progress: the bytes of the network read so far, in Node (file) and through fetch (onnxruntime-web). */
const mnistCard = fileURLToPath(new URL('../../models/mnist/card.json', import.meta.url));
const mnistOnnx = fileURLToPath(new URL('../../models/mnist/mnist.onnx', import.meta.url));
const ort = await loadOrt();

function checkReports(reports: LoadProgress[], file: string, size: number): void {
  const mine = reports.filter((r) => r.file.endsWith(file));
  expect(mine.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < mine.length; i++) expect(mine[i].loaded).toBeGreaterThan(mine[i - 1].loaded);
  expect(mine[mine.length - 1]).toMatchObject({ loaded: size, total: size });
}

describe.skipIf(!ort)('load progress', () => {
  it('Node: loadOnnxModel reports the network\'s bytes as it reads them, and the model is the same', async () => {
    if (!ort) return;
    const reports: LoadProgress[] = [];
    const withProgress = await ort.loadOnnxModel(mnistCard, {}, (p) => reports.push({ ...p }));
    const plain = await ort.loadOnnxModel(mnistCard);
    const size = statSync(mnistOnnx).size;
    // one 4 MiB chunk holds the 2.3 MB network: a single final report
    expect(reports).toEqual([{ file: mnistOnnx, loaded: size, total: size }]);
    const x = new Float64Array(784).map((_, i) => Math.sin(i));
    const [a, b] = [await withProgress.withLabels([3]).predict(x, 1, 500), await plain.withLabels([3]).predict(x, 1, 500)];
    expect(a).toEqual(b);
  });

  it('web: loadOnnxModelWeb reports card and network bytes chunk by chunk from a streamed response', async () => {
    const { loadOnnxModelWeb } = await import('../../src/models/onnx/web.js');
    const files: Record<string, Uint8Array> = { 'card.json': readFileSync(mnistCard), 'mnist.onnx': readFileSync(mnistOnnx) };
    const chunked = (bytes: Uint8Array) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < bytes.length; i += 256 * 1024) c.enqueue(bytes.subarray(i, i + 256 * 1024));
          c.close();
        },
      });
    const fakeFetch = (async (url: URL) => {
      const bytes = files[url.pathname.split('/').pop() as string];
      return new Response(chunked(bytes), { headers: { 'content-length': String(bytes.length) } });
    }) as unknown as typeof fetch;
    const reports: LoadProgress[] = [];
    const { model, backend, release } = await loadOnnxModelWeb('http://example.invalid/models/mnist/card.json', {
      fetch: fakeFetch, executionProviders: ['wasm'], onProgress: (p) => reports.push({ ...p }),
    });
    expect(backend).toBe('wasm');
    expect(model.numClasses).toBe(10);
    checkReports(reports, 'mnist.onnx', files['mnist.onnx'].length);
    expect(reports.filter((r) => r.file.endsWith('mnist.onnx')).length).toBe(Math.ceil(files['mnist.onnx'].length / (256 * 1024)));
    await release();
  });
});
