/**
 * What bench/pipeline-speed.ts bundles for headless Chromium: open each folder by URL on
 * onnxruntime-web (WebAssembly), then time text-to-image in rounds that alternate between the
 * folders, as the Node rows are timed. Exposed as the global `pipelineSpeed`.
 */
import { env } from 'onnxruntime-web';
import { loadStableDiffusionWeb } from '../../src/pipelines/web.js';

/** One folder to time, as plain data (what page.evaluate can pass). */
export interface SpeedCase {
  key: string;
  url: string;
  prompt: string;
  steps: number;
  guidance: number;
}

/** Per folder: the load time and each round's seconds per step and per image. */
export interface SpeedResult {
  key: string;
  load: number;
  perStep: number[];
  perImage: number[];
}

async function time(cases: SpeedCase[], repeats: number): Promise<{ results: SpeedResult[]; isolated: boolean; threads: number }> {
  // every core where the page is cross-origin isolated (as the playground), else the one thread wasm has
  const isolated = globalThis.crossOriginIsolated === true;
  env.wasm.numThreads = isolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
  const opened = [];
  for (const c of cases) {
    const started = performance.now();
    const loaded = await loadStableDiffusionWeb(c.url, { executionProviders: ['wasm'], wasmPaths: `${location.origin}/ort/` });
    opened.push({ c, ...loaded, result: { key: c.key, load: (performance.now() - started) / 1000, perStep: [] as number[], perImage: [] as number[] } });
  }
  for (let round = 0; round < repeats; round++) {
    for (const o of opened) {
      const started = performance.now();
      const out = await o.pipeline.generate({ prompt: o.c.prompt, steps: o.c.steps, guidance: o.c.guidance, seed: round });
      const seconds = (performance.now() - started) / 1000;
      o.result.perStep.push(seconds / out.steps);
      o.result.perImage.push(seconds / out.n);
    }
  }
  for (const o of opened) await o.release();
  return { results: opened.map((o) => o.result), isolated, threads: Number(env.wasm.numThreads) };
}

export const pipelineSpeed = { time };
(globalThis as unknown as { pipelineSpeed: typeof pipelineSpeed }).pipelineSpeed = pipelineSpeed;
