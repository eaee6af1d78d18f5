import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpy } from '../../src/io/npy.js';
import { loadStableDiffusion } from '../../src/pipelines/node.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();

/**
 * SD3 (test/fixtures/tiny-sd3, training/tiny_sd3.py): two CLIP encoders with projection and a
 * T5-like encoder with a SentencePiece Unigram tokenizer.json, an MMDiT flow transformer fed σ·1000
 * with the pooled projections, a 16-channel VAE with shift_factor, FlowMatchEulerDiscreteScheduler
 * with shift 3; against the recipe's float64 reference of diffusers' StableDiffusion3Pipeline and
 * StableDiffusion3Img2ImgPipeline on the same weights.
 */
const dir = fileURLToPath(new URL('../fixtures/tiny-sd3', import.meta.url));
const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as {
  prompt: string; steps: number; guidance: number; width: number; height: number; strength: number; input_ids_3: number[];
};
const array = (name: string) => Float64Array.from(parseNpy(readFileSync(`${dir}/reference/${name}.npy`)).data as ArrayLike<number>);
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const relative = (a: ArrayLike<number>, b: Float64Array) => maxAbs(a, b) / Math.max(...b.map(Math.abs));

describe.skipIf(!ort)('SD3: three text encoders, a flow transformer and a shifted VAE', async () => {
  const pipe = ort ? await loadStableDiffusion(dir) : undefined;
  const sd = () => pipe as NonNullable<typeof pipe>;
  const base = () => ({ prompt: ref.prompt, steps: ref.steps, guidance: ref.guidance, width: ref.width, height: ref.height, latents: array('z') });

  it('tokenizes for T5 as the reference: one piece per word, </s>, <pad> = 0 to 256 ids', () => {
    const t5 = sd().parts.tokenizer3;
    expect(t5?.maxLength).toBe(256);
    expect(Array.from(t5?.encode(ref.prompt).ids ?? [])).toEqual(ref.input_ids_3);
    expect(Array.from(t5?.encode('').ids.slice(0, 3) ?? [])).toEqual([1, 0, 0]);
  });

  it('text-to-image equals StableDiffusion3Pipeline (FlowMatch Euler, shift 3, CFG, decode / scaling + shift)', async () => {
    const out = await sd().generate(base());
    expect(out.sampler).toBe('flow-euler');
    expect(out.nfe).toBe(ref.steps);
    expect(relative(out.latents, array('latents'))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('image'))).toBeLessThan(1e-5);
  });

  it('image-to-image equals StableDiffusion3Img2ImgPipeline ((encoded − shift) · scaling, σ-noised, the grid\'s tail)', async () => {
    const out = await sd().generate({ ...base(), image: Float32Array.from(array('init')), strength: ref.strength, latentMode: 'argmax' });
    expect(out.nfe).toBe(ref.steps - 3);
    expect(relative(out.latents, array('img2img_latents'))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('img2img_image'))).toBeLessThan(1e-5);
  });

  it('inpainting equals StableDiffusion3InpaintPipeline with a 16-channel transformer (latents blended with the σ-noised image after every step)', async () => {
    const out = await sd().generate({ ...base(), image: Float32Array.from(array('init')), mask: Float32Array.from(array('inpaint_mask')), strength: 1, latentMode: 'argmax' });
    expect(out.nfe).toBe(ref.steps);
    expect(relative(out.latents, array('inpaint_latents'))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('inpaint_image'))).toBeLessThan(1e-5);
  });

  it('CLIP skip 1 takes hidden_states[-3] of both CLIPs for the prompt, [-2] for the negative prompt, as encode_prompt', async () => {
    const out = await sd().generate({ ...base(), clipSkip: 1 });
    expect(relative(out.latents, array('clip_skip1_latents'))).toBeLessThan(1e-6);
  });

  it('uses SD3\'s defaults, and guidance ≤ 1 makes one call per step', async () => {
    const one = await sd().generate({ ...base(), guidance: 1, steps: 3 });
    expect(one.nfe).toBe(3);
    const other = await sd().generate({ ...base(), sampler: 'flow-heun', steps: 3 });
    expect(other.sampler).toBe('flow-heun');
  });

  it('without text_encoder_3 the T5 states are zeros (diffusers), which changes the result', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'sd3-'));
    try {
      cpSync(dir, tmp, { recursive: true });
      rmSync(join(tmp, 'text_encoder_3'), { recursive: true });
      const noT5 = await loadStableDiffusion(tmp);
      expect(noT5.parts.textEncoder3).toBeUndefined();
      const out = await noT5.generate({ ...base(), steps: 3 });
      const full = await sd().generate({ ...base(), steps: 3 });
      expect(out.latents.every(Number.isFinite)).toBe(true);
      expect(maxAbs(out.latents, full.latents)).toBeGreaterThan(1e-4);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
