import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpy } from '../../src/io/npy.js';
import { loadStableDiffusion } from '../../src/pipelines/node.js';
import { toRgba } from '../../src/pipelines/stable-diffusion.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();

/**
 * The tiny random-weight SD 1.x-class folder (training/tiny_sd.py: optimum's layout, file and I/O
 * names) against the recipe's PyTorch reference of diffusers' StableDiffusionPipeline and
 * StableDiffusionImg2ImgPipeline with DDIMScheduler, on the same weights from the same z.
 */
const dir = fileURLToPath(new URL('../fixtures/tiny-sd', import.meta.url));
const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as {
  prompt: string; negative_prompt: string; steps: number; guidance: number; guidance_rescale: number; width: number; height: number;
  input_ids: number[][]; img2img_strength: number;
};
const array = (name: string) => Float64Array.from(parseNpy(readFileSync(`${dir}/reference/${name}.npy`)).data as ArrayLike<number>);
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const base = () => ({
  prompt: ref.prompt, negativePrompt: ref.negative_prompt, steps: ref.steps, guidance: ref.guidance, guidanceRescale: ref.guidance_rescale,
  width: ref.width, height: ref.height, latents: array('z'),
});

describe.skipIf(!ort)('the tiny SD folder against its PyTorch reference', async () => {
  const pipe = ort ? await loadStableDiffusion(dir) : undefined;
  const sd = () => pipe as NonNullable<typeof pipe>;

  it('tokenizes the prompt and the empty negative prompt as the reference does', () => {
    expect(Array.from(sd().parts.tokenizer.encode(ref.prompt).ids)).toEqual(ref.input_ids[1]);
    expect(Array.from(sd().parts.tokenizer.encode('').ids)).toEqual(ref.input_ids[0]);
  });

  it('text-to-image: the DDIM latents and the decoded image, CFG 7.5 with guidance rescale 0.7', async () => {
    const out = await sd().generate(base());
    const latents = array('latents');
    expect(out.nfe).toBe(ref.steps);
    expect(out.sampler).toBe('ddim');
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('image'))).toBeLessThan(1e-5);
    const rgba = toRgba(out, 0);
    expect(rgba).toHaveLength(64 * 64 * 4);
    expect(rgba[3]).toBe(255);
    expect(rgba[0]).toBe(Math.round(255 * out.pixels[0]));
  });

  it('image-to-image at strength 0.6: the init image through the VAE encoder, noised to the 5th of 10 timesteps, then the tail', async () => {
    const out = await sd().generate({ ...base(), image: Float32Array.from(array('img2img_init')), strength: ref.img2img_strength });
    const latents = array('img2img_latents');
    expect(out.steps).toBe(6);
    expect(out.nfe).toBe(6);
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('img2img_image'))).toBeLessThan(1e-5);
  });

  it('textToImage: the folder as one function; images as RGBA and PNG bytes, the loader\'s sampler by default, release frees it', async () => {
    const { textToImage } = await import('../../src/pipelines/node.js');
    const { PNG } = await import('pngjs');
    const pipe = await textToImage(dir, { sampler: 'dpmpp-2m' });
    const out = await pipe(ref.prompt, { steps: 4, seed: 3, n: 2 });
    const direct = await sd().generate({ prompt: ref.prompt, steps: 4, seed: 3, n: 2, sampler: 'dpmpp-2m' });
    expect([out.sampler, out.images.length, out.truncated]).toEqual(['dpmpp-2m', 2, '']);
    expect(Array.from(out.images[1].rgba)).toEqual(Array.from(toRgba(direct, 1)));
    const decoded = PNG.sync.read(Buffer.from(out.images[1].png ?? new Uint8Array()));
    expect([decoded.width, decoded.height]).toEqual([64, 64]);
    expect(Array.from(decoded.data)).toEqual(Array.from(out.images[1].rgba));
    // a call's own sampler wins over the loader's
    expect((await pipe(ref.prompt, { steps: 4, sampler: 'ddim' })).sampler).toBe('ddim');
    await pipe.release();
    await expect(pipe(ref.prompt, { steps: 2 })).rejects.toThrow();
  });

  it('guidance ≤ 1 runs the prompt alone, as diffusers does (no unconditional call)', async () => {
    const one = await sd().generate({ ...base(), guidance: 1 });
    const half = await sd().generate({ ...base(), guidance: 0.5 });
    const cfg = await sd().generate(base());
    expect(Array.from(half.latents)).toEqual(Array.from(one.latents));
    expect(maxAbs(one.latents, cfg.latents)).toBeGreaterThan(1e-3);
  });

  it('any Diffuse sampler replaces the folder\'s scheduler, and seeds reproduce', async () => {
    const a = await sd().generate({ prompt: ref.prompt, steps: 4, sampler: 'dpmpp-2m', seed: 3 });
    const b = await sd().generate({ prompt: ref.prompt, steps: 4, sampler: 'dpmpp-2m', seed: 3 });
    expect(a.sampler).toBe('dpmpp-2m');
    expect(a.width).toBe(64);
    expect(Array.from(a.pixels)).toEqual(Array.from(b.pixels));
    expect(a.pixels.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('refuses sizes that are not multiples of 8, an init image of another size, and img2img without a VAE encoder', async () => {
    await expect(sd().generate({ ...base(), width: 60 })).rejects.toThrow(/width must be a positive multiple of 8/);
    await expect(sd().generate({ ...base(), image: new Float32Array(10), strength: 0.5 })).rejects.toThrow(/init image holds 10 values; expected n × 3 × 64 × 64/);
    await expect(sd().generate({ ...base(), strength: 0 , image: Float32Array.from(array('img2img_init')) })).rejects.toThrow(/strength 0 leaves no step/);
  });

  it('names what a folder lacks', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tiny-sd-'));
    try {
      await expect(loadStableDiffusion(tmp)).rejects.toThrow(/no model_index.json/);
      cpSync(dir, tmp, { recursive: true });
      rmSync(join(tmp, 'unet'), { recursive: true });
      rmSync(join(tmp, 'tokenizer', 'merges.txt'));
      await expect(loadStableDiffusion(tmp)).rejects.toThrow(/lacks unet\/model.onnx, tokenizer\/tokenizer.json \(or vocab.json and merges.txt\)/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

/**
 * The same weights as optimum ≥ 1.24 writes them (test/fixtures/tiny-sd-v124): int64 input_ids, a
 * scalar float16 timestep, float16 inputs and outputs, the UNet's weights in model.onnx_data, and a
 * VAE encoder that returns latent_parameters (mean ‖ log-variance).
 */
describe.skipIf(!ort)('the optimum ≥ 1.24 layout of the same weights (float16 I/O, external data)', async () => {
  const v124 = fileURLToPath(new URL('../fixtures/tiny-sd-v124', import.meta.url));
  const pipe = ort ? await loadStableDiffusion(v124) : undefined;
  const sd = () => pipe as NonNullable<typeof pipe>;
  const rel = (a: ArrayLike<number>, b: Float64Array) => maxAbs(a, b) / Math.max(...b.map(Math.abs));

  it('text-to-image matches the float32 reference to float16 rounding', async () => {
    const out = await sd().generate(base());
    expect(rel(out.latents, array('latents'))).toBeLessThan(2e-4);
    expect(maxAbs(out.pixels, array('image'))).toBeLessThan(1e-3);
  });

  it('image-to-image takes the mean of latent_parameters with latentMode argmax, and samples it by default', async () => {
    const init = Float32Array.from(array('img2img_init'));
    const mean = await sd().generate({ ...base(), image: init, strength: ref.img2img_strength, latentMode: 'argmax' });
    expect(rel(mean.latents, array('img2img_latents'))).toBeLessThan(2e-4);
    expect(maxAbs(mean.pixels, array('img2img_image'))).toBeLessThan(1e-3);
    const sampled = await sd().generate({ ...base(), image: init, strength: ref.img2img_strength });
    expect(maxAbs(sampled.latents, mean.latents)).toBeGreaterThan(1e-3);
  });
});

/**
 * Inpainting with a 9-channel UNet (test/fixtures/tiny-sd-inpaint) against the recipe's reference of
 * diffusers' StableDiffusionInpaintPipeline at strength 1: the latents, the mask and the masked
 * image's latents stacked on the channel axis at every step.
 */
describe.skipIf(!ort)('inpainting with a 9-channel UNet', async () => {
  const folder = fileURLToPath(new URL('../fixtures/tiny-sd-inpaint', import.meta.url));
  const pipe = ort ? await loadStableDiffusion(folder) : undefined;
  const sd = () => pipe as NonNullable<typeof pipe>;

  it('matches the reference latents and image', async () => {
    const out = await sd().generate({
      ...base(), guidanceRescale: 0, image: Float32Array.from(array('img2img_init')), mask: Float32Array.from(array('inpaint_mask')),
    });
    const latents = array('inpaint_latents');
    expect(sd().parts.unet?.inChannels).toBe(9);
    expect(out.nfe).toBe(ref.steps);
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('inpaint_image'))).toBeLessThan(1e-5);
  });

  it('asks for an image and a mask, of the right sizes', async () => {
    await expect(sd().generate(base())).rejects.toThrow(/an inpainting UNet \(9 input channels\): pass an image and a mask/);
    const image = Float32Array.from(array('img2img_init'));
    await expect(sd().generate({ ...base(), image, mask: new Float32Array(7) })).rejects.toThrow(/the mask holds 7 values; expected n × 64 × 64 = 4096/);
  });

  it('an all-keep mask returns the input image up to the VAE round trip (plain UNet, latent blending)', async () => {
    const plain = await loadStableDiffusion(dir);
    const image = Float32Array.from(array('img2img_init'));
    const out = await plain.generate({ ...base(), steps: 4, image, mask: new Float32Array(64 * 64) });
    const vae = plain.parts;
    const latents = await vae.vaeEncoder?.run(image.map((v) => 2 * v - 1), 1, [3, 64, 64]);
    const roundTrip = await vae.vaeDecoder.run(Float64Array.from(latents ?? []), 1, [4, 8, 8]);
    expect(maxAbs(out.pixels, roundTrip.map((v) => Math.min(1, Math.max(0, v / 2 + 0.5))))).toBeLessThan(1e-6);
  });

  it('a plain 4-channel UNet inpaints by blending the kept latents back in after every step (the reference to 1e-6)', async () => {
    const plain = await loadStableDiffusion(dir);
    const out = await plain.generate({ ...base(), guidanceRescale: 0, image: Float32Array.from(array('img2img_init')), mask: Float32Array.from(array('inpaint_mask')) });
    const latents = array('blend_latents');
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('blend_image'))).toBeLessThan(1e-5);
  });
});

describe.skipIf(!ort)('SD 2.x-style v-prediction (the scheduler config says prediction_type v_prediction)', () => {
  it('CFG on v, then the DDIM update from v, as the reference, in text-to-image and image-to-image (strength 0.6)', async () => {
    const { StableDiffusion } = await import('../../src/pipelines/stable-diffusion.js');
    const plain = await loadStableDiffusion(dir);
    const scheduler = { ...plain.parts.scheduler, prediction_type: 'v_prediction' };
    const v = new StableDiffusion({ ...plain.parts, scheduler });
    const out = await v.generate(base());
    const latents = array('v_latents');
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('v_image'))).toBeLessThan(1e-5);
    const img = await v.generate({ ...base(), image: Float32Array.from(array('img2img_init')), strength: ref.img2img_strength });
    const imgLatents = array('v_img2img_latents');
    expect(img.nfe).toBe(6);
    expect(maxAbs(img.latents, imgLatents) / Math.max(...imgLatents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(img.pixels, array('v_img2img_image'))).toBeLessThan(1e-5);
  });
});

/**
 * SD-Turbo-style few-step runs (training/tiny_sd.py's turbo_reference): the folder's UNet with
 * EulerDiscreteScheduler at trailing spacing, as SD-Turbo's scheduler_config.json has it, and
 * guidance 0 (diffusers then runs the prompt alone), in 1 and 4 steps.
 */
describe.skipIf(!ort)('SD-Turbo-style: EulerDiscreteScheduler with trailing spacing, guidance 0, 1 and 4 steps', () => {
  it('equals the reference with one UNet call per step', async () => {
    const { StableDiffusion } = await import('../../src/pipelines/stable-diffusion.js');
    const plain = await loadStableDiffusion(dir);
    const scheduler = {
      _class_name: 'EulerDiscreteScheduler', num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
      interpolation_type: 'linear', prediction_type: 'epsilon', steps_offset: 1, timestep_spacing: 'trailing', use_karras_sigmas: false,
    };
    const turbo = new StableDiffusion({ ...plain.parts, scheduler });
    for (const steps of [1, 4]) {
      const out = await turbo.generate({ prompt: ref.prompt, steps, guidance: 0, width: 64, height: 64, latents: array('z') });
      const latents = array(`turbo${steps}_latents`);
      expect([out.sampler, out.nfe], `${steps} steps`).toEqual(['euler', steps]);
      expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs)), `${steps} steps`).toBeLessThan(1e-6);
      expect(maxAbs(out.pixels, array(`turbo${steps}_image`)), `${steps} steps`).toBeLessThan(1e-5);
    }
  });
});

/**
 * LCM (test/fixtures/tiny-lcm: a UNet with timestep_cond, LCMScheduler) against the reference of
 * diffusers' LatentConsistencyModelPipeline: no CFG, the guidance embedding of g − 1, 4 steps at
 * timesteps 999, 759, 499, 259, the boundary condition, re-noising with the replayed draws.
 */
describe.skipIf(!ort)('LCM: guidance embedding and the consistency boundary condition', async () => {
  const folder = fileURLToPath(new URL('../fixtures/tiny-lcm', import.meta.url));
  const pipe = ort ? await loadStableDiffusion(folder) : undefined;
  const sd = () => pipe as NonNullable<typeof pipe>;
  const noise = () => {
    const all = array('lcm_noise');
    return [0, 1, 2].map((k) => all.slice(k * 256, (k + 1) * 256));
  };

  it('matches the reference in 4 steps with one UNet call each', async () => {
    const out = await sd().generate({ prompt: ref.prompt, width: 64, height: 64, latents: array('z'), noise: noise() });
    const latents = array('lcm_latents');
    expect([out.sampler, out.steps, out.nfe]).toEqual(['lcm', 4, 4]);
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('lcm_image'))).toBeLessThan(1e-5);
  });

  it('image-to-image equals LatentConsistencyModelImg2ImgPipeline: strength 0.6 keeps all 4 steps, drawn from the lowest 30 distillation timesteps', async () => {
    const image = Float32Array.from(array('img2img_init'));
    const out = await sd().generate({ prompt: ref.prompt, width: 64, height: 64, latents: array('z'), noise: noise(), image, strength: 0.6 });
    const latents = array('lcm_img2img_latents');
    expect([out.sampler, out.steps, out.nfe]).toEqual(['lcm', 4, 4]);
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, array('lcm_img2img_image'))).toBeLessThan(1e-5);
    // the SD rule would run the last 2 of the 4 text-to-image steps instead
    const sdRule = await sd().generate({ prompt: ref.prompt, width: 64, height: 64, latents: array('z'), noise: noise(), image, strength: 0.6, strengthRule: 'sd' });
    expect(sdRule.nfe).toBe(2);
    await expect(sd().generate({ prompt: ref.prompt, steps: 4, image, strength: 0.06 })).rejects.toThrow(/at most int\(original_inference_steps × strength\) = 3 steps/);
  });

  it('the guidance scale changes the embedding, not the number of calls', async () => {
    const a = await sd().generate({ prompt: ref.prompt, guidance: 2, latents: array('z'), noise: noise() });
    const b = await sd().generate({ prompt: ref.prompt, latents: array('z'), noise: noise() });
    expect(a.nfe).toBe(4);
    expect(maxAbs(a.latents, b.latents)).toBeGreaterThan(1e-4);
  });
});

/**
 * SDXL (test/fixtures/tiny-sdxl, training/tiny_sdxl.py): two tokenizers and text encoders, the
 * prompt embedding from both encoders' hidden_states[-2], text_encoder_2's text_embeds and the time
 * ids as added conditions, an empty negative prompt as zeros; against the reference of diffusers'
 * StableDiffusionXLPipeline with DDIMScheduler.
 */
describe.skipIf(!ort)('SDXL: two text encoders and the added conditions', async () => {
  const folder = fileURLToPath(new URL('../fixtures/tiny-sdxl', import.meta.url));
  const xlRef = JSON.parse(readFileSync(`${folder}/reference.json`, 'utf8')) as { prompt: string; steps: number; guidance: number; input_ids: number[]; input_ids_2: number[] };
  const xl = (name: string) => Float64Array.from(parseNpy(readFileSync(`${folder}/reference/${name}.npy`)).data as ArrayLike<number>);
  const pipe = ort ? await loadStableDiffusion(folder) : undefined;
  const sd = () => pipe as NonNullable<typeof pipe>;

  it('tokenizes with each tokenizer\'s own padding and matches the reference', async () => {
    expect(Array.from(sd().parts.tokenizer.encode(xlRef.prompt).ids)).toEqual(xlRef.input_ids);
    expect(Array.from(sd().parts.tokenizer2?.encode(xlRef.prompt).ids ?? [])).toEqual(xlRef.input_ids_2);
    const out = await sd().generate({ prompt: xlRef.prompt, steps: xlRef.steps, guidance: xlRef.guidance, width: 64, height: 64, latents: xl('z') });
    const latents = xl('latents');
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, xl('image'))).toBeLessThan(1e-5);
  });

  it('CLIP skip 1 takes hidden_states[-3] of both encoders, as the reference; SD 1.x exports cannot skip', async () => {
    const out = await sd().generate({ prompt: xlRef.prompt, steps: xlRef.steps, guidance: xlRef.guidance, width: 64, height: 64, latents: xl('z'), clipSkip: 1 });
    const latents = xl('clip_skip1_latents');
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    await expect(sd().generate({ prompt: 'a cat', steps: 2, clipSkip: 2 })).rejects.toThrow(/exports 3 hidden_states.\* outputs; SDXL's prompt embedding with clipSkip 2 needs hidden_states\[-4\]/);
    const plain = await loadStableDiffusion(dir);
    await expect(plain.generate({ prompt: 'a cat', steps: 2, clipSkip: 1 })).rejects.toThrow(/CLIP skip is not available/);
  });

  it('SDXL-Turbo-style: EulerAncestralDiscreteScheduler, trailing spacing, guidance 0, one step, equals the reference', async () => {
    const { StableDiffusion } = await import('../../src/pipelines/stable-diffusion.js');
    const scheduler = {
      _class_name: 'EulerAncestralDiscreteScheduler', num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
      prediction_type: 'epsilon', steps_offset: 1, timestep_spacing: 'trailing',
    };
    const turbo = new StableDiffusion({ ...sd().parts, scheduler });
    const out = await turbo.generate({ prompt: xlRef.prompt, steps: 1, guidance: 0, width: 64, height: 64, latents: xl('z') });
    const latents = xl('turbo_latents');
    expect([out.sampler, out.nfe]).toEqual(['euler-ancestral', 1]);
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, xl('turbo_image'))).toBeLessThan(1e-5);
  });

  it('image-to-image equals StableDiffusionXLImg2ImgPipeline (strength 0.6: 6 of 10 steps, the same time ids)', async () => {
    const out = await sd().generate({ prompt: xlRef.prompt, steps: xlRef.steps, guidance: xlRef.guidance, latents: xl('z'), image: Float32Array.from(xl('init')), strength: 0.6, latentMode: 'argmax' });
    const latents = xl('img2img_latents');
    expect(out.nfe).toBe(6);
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, xl('img2img_image'))).toBeLessThan(1e-5);
  });

  it('inpainting equals StableDiffusionXLInpaintPipeline with a 4-channel UNet at strength 1 (latent blending)', async () => {
    const out = await sd().generate({
      prompt: xlRef.prompt, steps: xlRef.steps, guidance: xlRef.guidance, latents: xl('z'), image: Float32Array.from(xl('init')),
      mask: Float32Array.from(xl('inpaint_mask')), strength: 1, latentMode: 'argmax',
    });
    const latents = xl('inpaint_latents');
    expect(out.nfe).toBe(xlRef.steps);
    expect(maxAbs(out.latents, latents) / Math.max(...latents.map(Math.abs))).toBeLessThan(1e-6);
    expect(maxAbs(out.pixels, xl('inpaint_image'))).toBeLessThan(1e-5);
  });

  it('an explicit "" negative prompt is encoded, not zeros (diffusers zeroes only a missing one)', async () => {
    const zeros = await sd().generate({ prompt: xlRef.prompt, steps: 3, guidance: 5, latents: xl('z') });
    const empty = await sd().generate({ prompt: xlRef.prompt, steps: 3, guidance: 5, latents: xl('z'), negativePrompt: '' });
    expect(maxAbs(zeros.latents, empty.latents)).toBeGreaterThan(1e-4);
  });
});
