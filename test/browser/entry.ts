/**
 * What the browser test bundles: a few calls into the numeric core that return their results as
 * hex strings of the Float64Array bytes, so runs in Chromium and in Node can be compared bit for bit.
 * The bundle exposes this module as the global `diffuse`.
 */
import { sample } from '../../src/sample.js';
import { createProcess, type ProcessConfig } from '../../src/process/index.js';
import { GaussianMixture, GmmOracle, type GmmSpec } from '../../src/models/oracle/gmm.js';
import { Rng } from '../../src/core/rng.js';

export interface SamplerCase {
  gmm: GmmSpec;
  process: ProcessConfig;
  sampler: string;
  steps: number;
  n: number;
  seed: number;
}

export interface CaseResult {
  hex: string;
  nfe: number;
}

/** The engine's own Math is in place: no function of it has been replaced by script. */
export function mathIsNative(): boolean {
  return Object.getOwnPropertyNames(Math).every((k) => {
    const f: unknown = Reflect.get(Math, k);
    return typeof f !== 'function' || /\{\s*\[native code\]\s*\}/.test(Function.prototype.toString.call(f));
  });
}

/** Math.exp/log/sin/cos/pow of a few arguments, to show whether this engine rounds them as Node does. */
export function mathProbe(): string {
  const xs = [0.1, 0.7, 1.3, 2.9, 5.5, 17.25, 123.456, 1e5];
  return toHex(Float64Array.from(xs.flatMap((x) => [Math.exp(x), Math.log(x), Math.sin(x), Math.cos(x), Math.pow(x, 1 / 7)])));
}

/** Little-endian bytes of a Float64Array as one hex string. */
export function toHex(x: Float64Array): string {
  const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** One seeded run of `sampler` on the exact GMM oracle (x_T and noise drawn from the seed). */
export async function runSampler(c: SamplerCase): Promise<CaseResult> {
  const process = createProcess(c.process);
  const model = new GmmOracle(new GaussianMixture(c.gmm), process, 'epsilon');
  const r = await sample({ model, process, sampler: c.sampler, steps: c.steps, n: c.n, seed: c.seed });
  return { hex: toHex(r.x.data), nfe: r.nfe };
}

/** `count` standard normals of stream `stream` of generator `seed`. */
export function normalStream(seed: number, stream: number, count: number): string {
  return toHex(new Rng(seed, stream).fillNormal(new Float64Array(count)));
}

/** `count` uniforms (pure integer arithmetic: identical in every engine whatever its Math). */
export function uniformStream(seed: number, stream: number, count: number): string {
  return toHex(new Rng(seed, stream).fillUniform(new Float64Array(count)));
}
