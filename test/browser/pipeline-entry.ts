/**
 * What the pipeline browser test bundles for the page: loadStableDiffusionWeb and one run, exposed as
 * the global `pipelineWeb` (onnxruntime-web's .wasm files are served under /ort/).
 */
import { loadStableDiffusionWeb } from '../../src/pipelines/web.js';

/** A run as plain data (what page.evaluate can pass). */
export interface WebRunCase {
  folder: string;
  prompt: string;
  steps: number;
  guidance: number;
  guidanceRescale: number;
  latents: number[];
  /** Replayed noise draws (LCM's re-noising), each of the latents' size. */
  noise?: number[][];
}

/** Load the folder on WebAssembly, generate once, free the sessions; the pixels and what ran. */
async function generate(c: WebRunCase): Promise<{ backend: string; pixels: number[]; nfe: number; sampler: string }> {
  const { pipeline, backend, release } = await loadStableDiffusionWeb(c.folder, { executionProviders: ['wasm'], wasmPaths: `${location.origin}/ort/` });
  try {
    const out = await pipeline.generate({
      prompt: c.prompt, steps: c.steps, guidance: c.guidance, guidanceRescale: c.guidanceRescale, latents: Float64Array.from(c.latents),
      ...(c.noise ? { noise: c.noise.map((v) => Float64Array.from(v)) } : {}),
    });
    return { backend, pixels: Array.from(out.pixels), nfe: out.nfe, sampler: out.sampler };
  } finally {
    await release();
  }
}

export const pipelineWeb = { generate };
(globalThis as unknown as { pipelineWeb: typeof pipelineWeb }).pipelineWeb = pipelineWeb;
