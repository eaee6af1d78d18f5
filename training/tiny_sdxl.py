"""A tiny random-weight SDXL-class folder in optimum's ONNX layout, and a PyTorch reference of
diffusers' StableDiffusionXLPipeline on the same weights (test/fixtures/tiny-sdxl).

SDXL's differences from SD 1.x, in miniature:
  - two text encoders and tokenizers: text_encoder (CLIPTextModel: last_hidden_state, pooler_output,
    hidden_states.0..L) and text_encoder_2 (CLIPTextModelWithProjection: text_embeds = the projected
    EOS state, last_hidden_state, hidden_states.0..L); the prompt embedding is both encoders'
    hidden_states[-2] (before the final layer norm) concatenated on the feature axis, the pooled
    embedding text_encoder_2's text_embeds;
  - the UNet also takes text_embeds and time_ids (original size, crop top-left, target size): their
    embedding (sinusoidal for each time id, concatenated with text_embeds, then a linear map) is
    added to the timestep embedding;
  - an empty negative prompt is zeros (force_zeros_for_empty_prompt, in model_index.json).

Regenerate (deterministic; from the repository root): /usr/bin/python3 training/tiny_sdxl.py
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_sd  # noqa: E402
from tiny_sd import LATENT, OPSET, SEQ, TextLayer, UNet, VaeDecoder, VaeEncoder, timestep_embedding  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "tiny-sdxl"
W1, W2, PROJ, TIME_DIM = 16, 24, 20, 8
SCALING = 0.13025


class ClipText(nn.Module):
    """CLIP's text transformer returning every hidden state (embeddings, then each layer's output)."""

    def __init__(self, vocab_size, d, layers=2, heads=4, projection=None):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(SEQ, d)
        self.layers = nn.ModuleList([TextLayer(d, heads) for _ in range(layers)])
        self.final = nn.LayerNorm(d)
        self.proj = nn.Linear(d, projection, bias=False) if projection else None
        self.register_buffer("mask", torch.full((SEQ, SEQ), float("-inf")).triu(1))

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.tok(ids) + self.pos.weight[None, : ids.shape[1]]
        hidden = [x]
        for layer in self.layers:
            x = layer(x, self.mask[: ids.shape[1], : ids.shape[1]])
            hidden.append(x)
        last = self.final(x)
        pooled = last[torch.arange(last.shape[0]), ids.argmax(-1)]
        first = self.proj(pooled) if self.proj is not None else pooled
        return (first, last, *hidden)


class XLUNet(UNet):
    """tiny_sd's UNet with SDXL's added conditioning: emb += linear([text_embeds, sinusoid(time_ids)])."""

    def __init__(self, ctx):
        super().__init__(ctx=ctx)
        self.add = nn.Sequential(nn.Linear(PROJ + 6 * TIME_DIM, 64), nn.SiLU(), nn.Linear(64, 32))

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        b = sample.shape[0]
        t = timestep.reshape(-1).expand(b) if timestep.numel() == 1 else timestep
        emb = timestep_embedding(t, self.c, self.conv_in.weight.dtype)
        ids = timestep_embedding(time_ids.reshape(-1), TIME_DIM, self.conv_in.weight.dtype).reshape(b, -1)
        emb = self.time(emb + self.add(torch.cat([text_embeds, ids], dim=-1)))
        h = self.conv_in(sample)
        skip = self.down_attn(self.down(h, emb), encoder_hidden_states)
        h = self.downsample(skip)
        h = self.mid2(self.mid_attn(self.mid1(h, emb), encoder_hidden_states), emb)
        h = self.upsample(torch.nn.functional.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.up_attn(self.up(torch.cat([h, skip], dim=1), emb), encoder_hidden_states)
        return self.conv_out(torch.nn.functional.silu(self.norm_out(h)))


def build():
    torch.manual_seed(3)
    vocab, merges = tiny_sd.tokenizer_files()
    m = {"text_encoder": ClipText(len(vocab), W1), "text_encoder_2": ClipText(len(vocab), W2, projection=PROJ),
         "unet": XLUNet(ctx=W1 + W2), "vae_decoder": VaeDecoder(), "vae_encoder": VaeEncoder()}
    with torch.no_grad():
        m["unet"].conv_out.weight.mul_(0.1)
    for v in m.values():
        v.eval()
    return m, vocab, merges


def export(m, vocab, merges, out=OUT):
    out.mkdir(parents=True, exist_ok=True)
    ids = torch.zeros(1, SEQ, dtype=torch.int64)
    hid = lambda n: [f"hidden_states.{i}" for i in range(n)]  # noqa: E731
    specs = {
        "text_encoder": (m["text_encoder"], (ids,), ["input_ids"], ["pooler_output", "last_hidden_state", *hid(3)]),
        "text_encoder_2": (m["text_encoder_2"], (ids,), ["input_ids"], ["text_embeds", "last_hidden_state", *hid(3)]),
        "unet": (m["unet"], (torch.zeros(2, LATENT, 8, 8), torch.tensor(999.0), torch.zeros(2, SEQ, W1 + W2), torch.zeros(2, PROJ), torch.zeros(2, 6)),
                 ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"], ["out_sample"]),
        "vae_decoder": (m["vae_decoder"], (torch.zeros(1, LATENT, 8, 8),), ["latent_sample"], ["sample"]),
        "vae_encoder": (tiny_sd.LatentParameters(m["vae_encoder"]), (torch.zeros(1, 3, 64, 64),), ["sample"], ["latent_parameters"]),
    }
    for name, (module, args, inputs, outputs) in specs.items():
        (out / name).mkdir(exist_ok=True)
        axes = {k: {0: "batch_size"} for k in inputs + outputs if k != "timestep"}
        torch.onnx.export(module, args, str(out / name / "model.onnx"), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    vae = {"_class_name": "AutoencoderKL", "scaling_factor": SCALING, "latent_channels": LATENT, "block_out_channels": [32, 32, 32, 32]}
    for name in ("vae_decoder", "vae_encoder"):
        (out / name / "config.json").write_text(json.dumps(vae, indent=2) + "\n")
    (out / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel", "in_channels": LATENT, "sample_size": 8,
                                                          "addition_embed_type": "text_time", "addition_time_embed_dim": TIME_DIM,
                                                          "projection_class_embeddings_input_dim": PROJ + 6 * TIME_DIM}, indent=2) + "\n")
    (out / "scheduler").mkdir(exist_ok=True)
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(tiny_sd.SCHEDULER, indent=2) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
    for tok, pad in (("tokenizer", "<|endoftext|>"), ("tokenizer_2", "!")):
        d = out / tok
        d.mkdir(exist_ok=True)
        (d / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
        (d / "merges.txt").write_text(merges)
        (d / "special_tokens_map.json").write_text(json.dumps({**special, "pad_token": pad}, indent=2) + "\n")
        (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer", "model_max_length": SEQ, **special, "pad_token": pad}, indent=2) + "\n")
    index = {"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.30.0", "force_zeros_for_empty_prompt": True,
             "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
             "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "CLIPTokenizer"],
             "tokenizer_2": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
    (out / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def pad_ids(vocab, text, pad):
    """tiny_sd.clip_bpe with the tokenizer's own pad token (tokenizer_2 pads with "!")."""
    ids = tiny_sd.clip_bpe(vocab, text)
    eos = vocab["<|endoftext|>"]
    n = ids.index(eos) + 1
    return ids[:n] + [vocab[pad]] * (SEQ - n)


def reference(m, vocab, z, steps=10, guidance=5.0, size=64, clip_skip=None, init_image=None, strength=0.6, mask=None):
    """StableDiffusionXLPipeline + DDIMScheduler in float64, empty negative prompt (zeros); clip_skip k
    takes hidden_states[-(k + 2)] of both encoders (encode_prompt). With init_image (1 x 3 x 64 x 64
    in [0, 1]): StableDiffusionXLImg2ImgPipeline (requires_aesthetics_score false, so the same time
    ids), the encoder's mean x scaling_factor noised to the first of the strength's timesteps. With
    init_image and mask (1 x 1 x 64 x 64, 1 = repaint): StableDiffusionXLInpaintPipeline with a
    4-channel UNet at strength 1, from pure noise, the kept latents replaced after every step by the
    image's latents noised to the next timestep (add_noise), the clean ones after the last."""
    te1, te2, unet, dec, enc = (m[k].double() for k in ("text_encoder", "text_encoder_2", "unet", "vae_decoder", "vae_encoder"))
    ids1 = torch.tensor([pad_ids(vocab, tiny_sd.PROMPT, "<|endoftext|>")])
    ids2 = torch.tensor([pad_ids(vocab, tiny_sd.PROMPT, "!")])
    ac = tiny_sd.alphas_cumprod().double()
    ratio = 1000 // steps
    timesteps = (np.arange(0, steps) * ratio)[::-1] + 1
    with torch.no_grad():
        o1, o2 = te1(ids1), te2(ids2)
        layer = -2 if clip_skip is None else -(clip_skip + 2)
        embeds = torch.cat([o1[layer], o2[layer]], dim=-1)    # hidden_states[-2] of each, or clip_skip's
        pooled = o2[0]                                         # text_embeds
        context = torch.cat([torch.zeros_like(embeds), embeds])
        text_embeds = torch.cat([torch.zeros_like(pooled), pooled])
        time_ids = torch.tensor([[size, size, 0, 0, size, size]] * 2, dtype=torch.float64)
        latents = torch.tensor(z, dtype=torch.float64)
        keep = None
        if init_image is not None and mask is not None:
            x0 = enc(torch.tensor(init_image, dtype=torch.float64) * 2 - 1)[:, :LATENT] * SCALING
            repaint = (torch.nn.functional.interpolate(torch.tensor(mask, dtype=torch.float64), size=(8, 8)) >= 0.5).double()
            keep = (x0, repaint, latents.clone())
        elif init_image is not None:
            timesteps = timesteps[steps - min(int(steps * strength), steps):]   # get_timesteps
            init = enc(torch.tensor(init_image, dtype=torch.float64) * 2 - 1)[:, :LATENT] * SCALING
            a = ac[timesteps[0]]
            latents = a.sqrt() * init + (1 - a).sqrt() * latents           # scheduler.add_noise
        for t in timesteps:
            out = unet(torch.cat([latents, latents]), torch.tensor(float(t), dtype=torch.float64), context, text_embeds, time_ids)
            uncond, cond = out.chunk(2)
            eps = uncond + guidance * (cond - uncond)
            latents = tiny_sd.ddim_step(latents, eps, t, ratio, ac)
            if keep is not None:
                x0, repaint, noise = keep
                nxt = [u for u in timesteps if u < t]
                proper = x0 if not nxt else ac[nxt[0]].sqrt() * x0 + (1 - ac[nxt[0]]).sqrt() * noise
                latents = (1 - repaint) * proper + repaint * latents
        image = dec(latents / SCALING)
    return latents.numpy(), (image / 2 + 0.5).clamp(0, 1).numpy(), ids1.numpy(), ids2.numpy()


def turbo_reference(m, vocab, z, size=64):
    """An SDXL-Turbo-style run: StableDiffusionXLPipeline with guidance_scale 0 (no CFG: the prompt's
    embeddings alone, batch 1) + EulerAncestralDiscreteScheduler with trailing spacing in 1 step:
    timestep 999, latents z * sigma(999) (init_noise_sigma for trailing spacing), the UNet on
    x / sqrt(sigma^2 + 1); the step to sigma 0 has no ancestral noise (sigma_up = 0), so x0 = x - sigma eps."""
    te1, te2, unet, dec = (m[k].double() for k in ("text_encoder", "text_encoder_2", "unet", "vae_decoder"))
    ids1 = torch.tensor([pad_ids(vocab, tiny_sd.PROMPT, "<|endoftext|>")])
    ids2 = torch.tensor([pad_ids(vocab, tiny_sd.PROMPT, "!")])
    ac = tiny_sd.alphas_cumprod().double()
    sigma = float(((1 - ac[999]) / ac[999]).sqrt())
    with torch.no_grad():
        o1, o2 = te1(ids1), te2(ids2)
        context = torch.cat([o1[-2], o2[-2]], dim=-1)
        time_ids = torch.tensor([[size, size, 0, 0, size, size]], dtype=torch.float64)
        latents = torch.tensor(z, dtype=torch.float64) * sigma
        eps = unet(latents / (sigma ** 2 + 1) ** 0.5, torch.tensor(999.0, dtype=torch.float64), context, o2[0], time_ids)
        latents = latents - sigma * eps
        image = dec(latents / SCALING)
    return latents.numpy(), (image / 2 + 0.5).clamp(0, 1).numpy()


def main():
    m, vocab, merges = build()
    export(m, vocab, merges)
    z = np.random.default_rng(5).standard_normal((1, LATENT, 8, 8))
    latents, image, ids1, ids2 = reference(m, vocab, z)
    skip_latents, _, _, _ = reference(m, vocab, z, clip_skip=1)
    init = np.random.default_rng(6).uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    i2i_latents, i2i_image, _, _ = reference(m, vocab, z, init_image=init.astype(np.float64))
    mask = np.zeros((1, 1, 64, 64))
    mask[:, :, 8:40, 24:56] = 1.0
    inp_latents, inp_image, _, _ = reference(m, vocab, z, init_image=init.astype(np.float64), mask=mask)
    turbo_latents, turbo_image = turbo_reference(m, vocab, z)
    (OUT / "reference").mkdir(exist_ok=True)
    for name, value, dtype in [("z", z, np.float64), ("latents", latents, np.float64), ("image", image, np.float32),
                               ("clip_skip1_latents", skip_latents, np.float64), ("init", init, np.float32),
                               ("img2img_latents", i2i_latents, np.float64), ("img2img_image", i2i_image, np.float32),
                               ("inpaint_mask", mask, np.float32), ("inpaint_latents", inp_latents, np.float64), ("inpaint_image", inp_image, np.float32),
                               ("turbo_latents", turbo_latents, np.float64), ("turbo_image", turbo_image, np.float32)]:
        np.save(OUT / "reference" / f"{name}.npy", np.asarray(value, dtype=dtype))
    (OUT / "reference.json").write_text(json.dumps({"prompt": tiny_sd.PROMPT, "steps": 10, "guidance": 5.0, "width": 64, "height": 64,
                                                     "input_ids": ids1.tolist()[0], "input_ids_2": ids2.tolist()[0]}) + "\n")
    print(f"wrote {OUT}: image mean {image.mean():.4f}, latents std {latents.std():.4f}")


if __name__ == "__main__":
    sys.exit(main())
