"""Tiny random-weight Stable Diffusion 1.x-class models in the diffusers ONNX folder layout, and a
PyTorch reference of the text-to-image pipeline's mathematics on the same weights.

The architecture is the real one, small: a CLIP-like text encoder (token + position embeddings,
pre-LN transformer layers with a causal mask, final layer norm; pooled output at the EOS token), a
cross-attention UNet (sinusoidal timestep embedding, ResNet blocks with GroupNorm and the time
embedding added, a spatial transformer with self- and cross-attention, one down/up level with a
skip connection) and a KL-VAE (encoder to mean and log-variance, decoder with three 2x upsamplings,
so latents are 1/8 of the image). The folder is what optimum's exporter writes:

    model_index.json, scheduler/scheduler_config.json, tokenizer/{vocab.json, merges.txt,
    tokenizer_config.json, special_tokens_map.json}, text_encoder/model.onnx, unet/model.onnx,
    vae_decoder/model.onnx (+ config.json with scaling_factor), vae_encoder/model.onnx

with optimum's input and output names: input_ids (int32) -> last_hidden_state, pooler_output;
sample, timestep, encoder_hidden_states -> out_sample; latent_sample -> sample; sample ->
latent_sample. The tokenizer is a CLIP-format BPE (byte symbols, the same with </w>, a few merges,
<|startoftext|>, <|endoftext|>) so the loader reads the files a real CLIP tokenizer has.

The reference (reference()) runs diffusers' StableDiffusionPipeline order of operations with its
DDIMScheduler (steps_offset 1, leading spacing, set_alpha_to_one false): prompt and "" encoded,
latents = z, each step the UNet on [uncond; cond], CFG uncond + g (cond - uncond) with guidance
rescale, the DDIM update; image = decode(latents / scaling_factor), (image / 2 + 0.5) clipped.

Regenerate test/fixtures/tiny-sd/ (deterministic; from the repository root):
    /usr/bin/python3 training/tiny_sd.py
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "tiny-sd"
OPSET = 17
SEQ = 77
WIDTH = 32          # text hidden size
LATENT = 4
SCALING = 0.18215
MERGES = ["a n", "t h", "th e</w>", "o f</w>", "c a", "ca t</w>", "d o", "do g</w>", "p h", "ph o", "pho t", "phot o</w>"]
PROMPT, NEGATIVE = "a photo of a cat", ""


# ---------------------------------------------------------------- tokenizer files

def byte_symbols():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def tokenizer_files():
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in MERGES] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    return vocab, "#version: 0.2\n" + "\n".join(MERGES) + "\n"


def clip_bpe(vocab, text):
    """CLIP's tokenizer (openai/CLIP simple_tokenizer.py) on lower-cased ASCII words, for the reference."""
    ranks = {tuple(m.split()): i for i, m in enumerate(MERGES)}
    ids = [vocab["<|startoftext|>"]]
    for word in text.lower().split():
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = [(ranks.get((a, b), math.inf), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == math.inf:
                break
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        ids += [vocab[p] for p in parts]
    ids = ids[:SEQ - 1] + [vocab["<|endoftext|>"]]
    return ids + [vocab["<|endoftext|>"]] * (SEQ - len(ids))


# ---------------------------------------------------------------- modules

class TextLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    """CLIPTextModel in miniature: outputs last_hidden_state [b, 77, d] and pooler_output [b, d]."""

    def __init__(self, vocab_size, d=WIDTH, layers=2, heads=4):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(SEQ, d)
        self.layers = nn.ModuleList([TextLayer(d, heads) for _ in range(layers)])
        self.final = nn.LayerNorm(d)
        self.register_buffer("mask", torch.full((SEQ, SEQ), float("-inf")).triu(1))

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.tok(ids) + self.pos.weight[None, : ids.shape[1]]
        for layer in self.layers:
            x = layer(x, self.mask[: ids.shape[1], : ids.shape[1]])
        x = self.final(x)
        pooled = x[torch.arange(x.shape[0]), ids.argmax(-1)]
        return x, pooled


def timestep_embedding(t, dim, dtype=torch.float32):
    """diffusers' get_timestep_embedding with flip_sin_to_cos=True, downscale_freq_shift=0."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=dtype) / half)
    args = t.to(dtype)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout)
        self.n2, self.c2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.c1(F.silu(self.n1(x)))
        if emb is not None:
            h = h + self.t(F.silu(emb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class CrossAttention(nn.Module):
    def __init__(self, c, ctx, heads=4):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(c, c, bias=False), nn.Linear(ctx, c, bias=False), nn.Linear(ctx, c, bias=False)
        self.o = nn.Linear(c, c)

    def forward(self, x, context):
        b, n, c = x.shape
        h = self.heads
        q = self.q(x).reshape(b, n, h, c // h).transpose(1, 2)
        k = self.k(context).reshape(b, -1, h, c // h).transpose(1, 2)
        v = self.v(context).reshape(b, -1, h, c // h).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(c // h), dim=-1)
        return self.o((w @ v).transpose(1, 2).reshape(b, n, c))


class SpatialTransformer(nn.Module):
    """GroupNorm, proj_in, [self-attention, cross-attention to the text, feed-forward], proj_out, residual."""

    def __init__(self, c, ctx):
        super().__init__()
        self.norm, self.proj_in, self.proj_out = nn.GroupNorm(8, c), nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 1)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(c), nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn1, self.attn2 = CrossAttention(c, c), CrossAttention(c, ctx)
        self.ff = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))

    def forward(self, x, context):
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x)).reshape(b, c, hh * ww).transpose(1, 2)
        h = h + self.attn1(self.ln1(h), self.ln1(h))
        h = h + self.attn2(self.ln2(h), context)
        h = h + self.ff(self.ln3(h))
        return x + self.proj_out(h.transpose(1, 2).reshape(b, c, hh, ww))


class UNet(nn.Module):
    """sample [b, 4, h, w] (an inpainting UNet: [b, 9, h, w], the latents, the mask and the masked
    image's latents), timestep [b], encoder_hidden_states [b, 77, d] -> out_sample (ε, 4 channels)."""

    def __init__(self, ctx=WIDTH, c=32, temb=64, in_channels=LATENT, cond_dim=None, pooled_text=False):
        super().__init__()
        self.c = c
        self.time = nn.Sequential(nn.Linear(c, temb), nn.SiLU(), nn.Linear(temb, temb))
        # optional global conditioning (as Imagen's pooled text embedding): the mean of the text states,
        # projected and added to the time embedding; the graph's inputs stay SD 1.x's
        self.text_proj = nn.Linear(ctx, temb) if pooled_text else None
        # LCM's guidance embedding (diffusers TimestepEmbedding.cond_proj): added to the sinusoidal embedding
        self.cond_proj = nn.Linear(cond_dim, c, bias=False) if cond_dim else None
        self.conv_in = nn.Conv2d(in_channels, c, 3, padding=1)
        self.down = ResBlock(c, c, temb)
        self.down_attn = SpatialTransformer(c, ctx)
        self.downsample = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid1, self.mid_attn, self.mid2 = ResBlock(2 * c, 2 * c, temb), SpatialTransformer(2 * c, ctx), ResBlock(2 * c, 2 * c, temb)
        self.upsample = nn.Conv2d(2 * c, c, 3, padding=1)
        self.up = ResBlock(2 * c, c, temb)
        self.up_attn = SpatialTransformer(c, ctx)
        self.norm_out, self.conv_out = nn.GroupNorm(8, c), nn.Conv2d(c, LATENT, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, timestep_cond=None):
        t = timestep.reshape(-1).expand(sample.shape[0]) if timestep.numel() == 1 else timestep
        emb = timestep_embedding(t, self.c, self.conv_in.weight.dtype)
        if self.cond_proj is not None:
            emb = emb + self.cond_proj(timestep_cond)
        emb = self.time(emb)
        if self.text_proj is not None:
            emb = emb + self.text_proj(encoder_hidden_states.mean(dim=1))
        h = self.conv_in(sample)
        skip = self.down_attn(self.down(h, emb), encoder_hidden_states)
        h = self.downsample(skip)
        h = self.mid2(self.mid_attn(self.mid1(h, emb), encoder_hidden_states), emb)
        h = self.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.up_attn(self.up(torch.cat([h, skip], dim=1), emb), encoder_hidden_states)
        return self.conv_out(F.silu(self.norm_out(h)))


class VaeDecoder(nn.Module):
    """latent_sample [b, 4, h, w] -> sample [b, 3, 8h, 8w] (`levels` nearest-neighbour 2x upsamplings, default 3)."""

    def __init__(self, c=32, levels=3):
        super().__init__()
        self.conv_in = nn.Conv2d(LATENT, c, 3, padding=1)
        self.blocks = nn.ModuleList([ResBlock(c, c, 1) for _ in range(levels)])
        self.ups = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1) for _ in range(levels)])
        self.norm_out, self.conv_out = nn.GroupNorm(8, c), nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, latent_sample):
        h = self.conv_in(latent_sample)
        for block, up in zip(self.blocks, self.ups):
            h = up(F.interpolate(block(h, None), scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class VaeEncoder(nn.Module):
    """sample [b, 3, H, W] -> the latent distribution's mean and log-variance (8 channels at H/8)."""

    def __init__(self, c=32, levels=3):
        super().__init__()
        self.conv_in = nn.Conv2d(3, c, 3, padding=1)
        self.blocks = nn.ModuleList([ResBlock(c, c, 1) for _ in range(levels)])
        self.downs = nn.ModuleList([nn.Conv2d(c, c, 3, stride=2, padding=1) for _ in range(levels)])
        self.norm_out, self.conv_out = nn.GroupNorm(8, c), nn.Conv2d(c, 2 * LATENT, 3, padding=1)

    def forward(self, sample):
        h = self.conv_in(sample)
        for block, down in zip(self.blocks, self.downs):
            h = down(block(h, None))
        return self.conv_out(F.silu(self.norm_out(h)))


def build(seed=0):
    torch.manual_seed(seed)
    vocab, merges = tokenizer_files()
    models = {"text_encoder": TextEncoder(len(vocab)), "unet": UNet(), "vae_decoder": VaeDecoder(), "vae_encoder": VaeEncoder()}
    # Random weights give an ε far from unit scale; shrink the UNet's output so sampling stays tame.
    with torch.no_grad():
        models["unet"].conv_out.weight.mul_(0.1)
    for m in models.values():
        m.eval()
    return models, vocab, merges


# ---------------------------------------------------------------- export

class EncoderOut(nn.Module):
    """vae_encoder as optimum exports it for img2img: the mean of the latent distribution."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, sample):
        return self.enc(sample)[:, :LATENT]


def export(models, vocab, merges, out=OUT, variant=False, scheduler=None):
    out.mkdir(parents=True, exist_ok=True)
    ids = torch.zeros(1, SEQ, dtype=torch.int64 if variant else torch.int32)
    specs = {
        "text_encoder": (models["text_encoder"], (ids,), ["input_ids"], ["last_hidden_state", "pooler_output"],
                         {"input_ids": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "pooler_output": {0: "batch_size"}}),
        "unet": (ScalarTimestepUNet(models["unet"]) if variant else models["unet"],
                 (torch.zeros(2, models["unet"].conv_in.in_channels, 8, 8), torch.tensor(999.0) if variant else torch.tensor([999, 999], dtype=torch.int64), torch.zeros(2, SEQ, WIDTH),
                  *([torch.zeros(2, LCM_COND)] if models["unet"].cond_proj is not None else [])),
                 ["sample", "timestep", "encoder_hidden_states", *(["timestep_cond"] if models["unet"].cond_proj is not None else [])], ["out_sample"],
                 {"sample": {0: "batch_size", 2: "height", 3: "width"}, **({} if variant else {"timestep": {0: "steps"}}), "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"}, "timestep_cond": {0: "batch_size"}, "out_sample": {0: "batch_size", 2: "height", 3: "width"}}),
        "vae_decoder": (models["vae_decoder"], (torch.zeros(1, LATENT, 8, 8),), ["latent_sample"], ["sample"],
                        {"latent_sample": {0: "batch_size", 2: "height_latent", 3: "width_latent"}, "sample": {0: "batch_size", 2: "height", 3: "width"}}),
        "vae_encoder": (LatentParameters(models["vae_encoder"]) if variant else EncoderOut(models["vae_encoder"]), (torch.zeros(1, 3, 64, 64),), ["sample"],
                        ["latent_parameters" if variant else "latent_sample"],
                        {"sample": {0: "batch_size", 2: "height", 3: "width"}, ("latent_parameters" if variant else "latent_sample"): {0: "batch_size", 2: "height_latent", 3: "width_latent"}}),
    }
    for name, (module, args, inputs, outputs, axes) in specs.items():
        (out / name).mkdir(exist_ok=True)
        torch.onnx.export(module, args, str(out / name / "model.onnx"), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    vae = {"_class_name": "AutoencoderKL", "scaling_factor": SCALING, "latent_channels": LATENT, "block_out_channels": [32, 32, 32, 32]}
    for name in ("vae_decoder", "vae_encoder"):
        (out / name / "config.json").write_text(json.dumps(vae, indent=2) + "\n")
    unet_config = {"_class_name": "UNet2DConditionModel", "in_channels": models["unet"].conv_in.in_channels, "out_channels": LATENT, "sample_size": 8, "cross_attention_dim": WIDTH}
    if models["unet"].cond_proj is not None:
        unet_config["time_cond_proj_dim"] = LCM_COND
    (out / "unet" / "config.json").write_text(json.dumps(unet_config, indent=2) + "\n")
    (out / "text_encoder" / "config.json").write_text(json.dumps({"architectures": ["CLIPTextModel"], "hidden_size": WIDTH, "max_position_embeddings": SEQ}, indent=2) + "\n")
    (out / "scheduler").mkdir(exist_ok=True)
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler or SCHEDULER, indent=2) + "\n")
    tok = out / "tokenizer"
    tok.mkdir(exist_ok=True)
    (tok / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
    (tok / "merges.txt").write_text(merges)
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
    (tok / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    (tok / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer", "model_max_length": SEQ, "do_lower_case": True, **special}, indent=2) + "\n")
    index = {"_class_name": "ORTStableDiffusionPipeline", "_diffusers_version": "0.30.0", "scheduler": ["diffusers", "DDIMScheduler"],
             "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
             "vae_decoder": ["diffusers", "AutoencoderKL"], "vae_encoder": ["diffusers", "AutoencoderKL"], "requires_safety_checker": False}
    (out / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


class LatentParameters(nn.Module):
    """vae_encoder as optimum >= 1.23 exports it: the distribution's parameters, mean and log-variance."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, sample):
        return self.enc(sample)




class ScalarTimestepUNet(nn.Module):
    """The UNet with a rank-0 float timestep, as optimum >= 1.24 exports it."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep.reshape(1).expand(sample.shape[0]), encoder_hidden_states)


def half_io(path):
    """Make a graph's float inputs and outputs float16 (Cast nodes around the float32 body), as a
    float16 export's I/O is, while the arithmetic stays float32 (ONNX Runtime's CPU kernels)."""
    import onnx
    from onnx import TensorProto, helper
    m = onnx.load(str(path), load_external_data=True)
    g = m.graph
    for vi in list(g.input):
        if vi.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        inner = vi.name + "_f32"
        for node in g.node:
            node.input[:] = [inner if x == vi.name else x for x in node.input]
        g.node.insert(0, helper.make_node("Cast", [vi.name], [inner], to=TensorProto.FLOAT))
        vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    for vo in list(g.output):
        if vo.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        inner = vo.name + "_f32"
        for node in g.node:
            node.output[:] = [inner if x == vo.name else x for x in node.output]
            node.input[:] = [inner if x == vo.name else x for x in node.input]
        g.node.append(helper.make_node("Cast", [inner], [vo.name], to=TensorProto.FLOAT16))
        vo.type.tensor_type.elem_type = TensorProto.FLOAT16
    return m


def export_v124(models, out):
    """The same weights as optimum >= 1.24 writes them: int64 input_ids, a scalar float16 timestep,
    float16 I/O, the UNet's weights in model.onnx_data, the VAE encoder's latent_parameters."""
    import onnx
    export(models, *tokenizer_files(), out=out, variant=True)
    for name in ("text_encoder", "unet", "vae_decoder", "vae_encoder"):
        path = out / name / "model.onnx"
        m = half_io(path)
        if name == "unet":
            (out / name / "model.onnx_data").unlink(missing_ok=True)  # save_model appends to an existing file
            onnx.save_model(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=0)
        else:
            onnx.save_model(m, str(path))


LCM_COND = 16
LCM_SCHEDULER = {"_class_name": "LCMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                 "original_inference_steps": 50, "clip_sample": False, "set_alpha_to_one": True, "steps_offset": 1, "prediction_type": "epsilon",
                 "timestep_spacing": "leading", "timestep_scaling": 10.0}
SCHEDULER = {"_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1, "prediction_type": "epsilon", "timestep_spacing": "leading"}


# ---------------------------------------------------------------- reference pipeline

def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def rescale_noise_cfg(cfg, cond, rescale):
    """diffusers' rescale_noise_cfg (Lin et al. 2024, §3.4): std over every axis but the batch."""
    dims = list(range(1, cond.ndim))
    std_cond, std_cfg = cond.std(dim=dims, keepdim=True), cfg.std(dim=dims, keepdim=True)
    rescaled = cfg * (std_cond / std_cfg)
    return rescale * rescaled + (1 - rescale) * cfg


def pipeline_setup(models, vocab, unet, steps):
    """What every reference pipeline starts with, in float64: the networks (the UNet under `unet`), the
    [negative; prompt] token ids, alphas_cumprod, and DDIM's leading timesteps with steps_offset 1."""
    te, un, dec, enc = (models[k].double() for k in ("text_encoder", unet, "vae_decoder", "vae_encoder"))
    ids = torch.tensor([clip_bpe(vocab, NEGATIVE), clip_bpe(vocab, PROMPT)], dtype=torch.int32)
    ratio = 1000 // steps
    return te, un, dec, enc, ids, alphas_cumprod().double(), ratio, (np.arange(0, steps) * ratio)[::-1] + 1


def ddim_step(latents, out, t, ratio, ac, prediction="epsilon"):
    """DDIMScheduler.step with eta 0 and set_alpha_to_one false: from timestep t to t - ratio (alpha_0
    below 0); out is the (guided) model output, epsilon or v (x0 = sqrt(a) x - sqrt(1 - a) v,
    eps = sqrt(a) v + sqrt(1 - a) x)."""
    prev = t - ratio
    a_t, a_prev = ac[t], (ac[prev] if prev >= 0 else ac[0])
    if prediction == "v_prediction":
        x0 = a_t.sqrt() * latents - (1 - a_t).sqrt() * out
        eps = a_t.sqrt() * out + (1 - a_t).sqrt() * latents
    else:
        x0, eps = (latents - (1 - a_t).sqrt() * out) / a_t.sqrt(), out
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


def reference(models, vocab, z, steps=10, guidance=7.5, rescale=0.7, init_image=None, strength=1.0, prediction="epsilon"):
    """StableDiffusionPipeline (or StableDiffusionImg2ImgPipeline with init_image) + DDIMScheduler
    (eta 0) in float64 on the float32 weights."""
    te, unet, dec, enc, ids, ac, ratio, timesteps = pipeline_setup(models, vocab, "unet", steps)
    noise = torch.tensor(z, dtype=torch.float64)
    with torch.no_grad():
        context = te(ids)[0]
        if init_image is None:
            latents = noise
        else:
            # get_timesteps: init_timestep = min(int(steps * strength), steps), t_start = steps - init_timestep
            t_start = steps - min(int(steps * strength), steps)
            timesteps = timesteps[t_start:]
            init = enc(torch.tensor(init_image, dtype=torch.float64) * 2 - 1)[:, :LATENT] * SCALING
            a = ac[timesteps[0]]
            latents = a.sqrt() * init + (1 - a).sqrt() * noise
        for t in timesteps:
            out = unet(torch.cat([latents, latents]), torch.tensor([t, t]), context)
            uncond, cond = out.chunk(2)
            eps = uncond + guidance * (cond - uncond)
            if rescale > 0:
                eps = rescale_noise_cfg(eps, cond, rescale)
            latents = ddim_step(latents, eps, t, ratio, ac, prediction)
        image = dec(latents / SCALING)
    return latents.numpy(), (image / 2 + 0.5).clamp(0, 1).numpy(), ids.numpy()


def inpaint_reference(models, vocab, z, image, mask, steps=10, guidance=7.5):
    """StableDiffusionInpaintPipeline (9-channel UNet, strength 1) + DDIMScheduler in float64: the mask
    binarized at 0.5 (1 = repaint), masked_image = (2 image - 1) * (mask < 0.5), its latents (the encoder's
    mean) x scaling_factor, the mask resized to the latents by nearest neighbour; each step the UNet
    on [latents, mask, masked_image_latents] along the channels."""
    te, unet, dec, enc, ids, ac, ratio, timesteps = pipeline_setup(models, vocab, "unet_inpaint", steps)
    with torch.no_grad():
        context = te(ids)[0]
        m = (torch.tensor(mask, dtype=torch.float64) >= 0.5).double()
        masked = (torch.tensor(image, dtype=torch.float64) * 2 - 1) * (m < 0.5)
        masked_latents = enc(masked)[:, :LATENT] * SCALING
        m_latent = F.interpolate(m, size=(8, 8))
        latents = torch.tensor(z, dtype=torch.float64)
        for t in timesteps:
            x = torch.cat([latents, m_latent, masked_latents], dim=1)
            out = unet(torch.cat([x, x]), torch.tensor([t, t]), context)
            uncond, cond = out.chunk(2)
            eps = uncond + guidance * (cond - uncond)
            latents = ddim_step(latents, eps, t, ratio, ac)
        image_out = dec(latents / SCALING)
    return latents.numpy(), (image_out / 2 + 0.5).clamp(0, 1).numpy()


def blend_reference(models, vocab, z, image, mask, steps=10, guidance=7.5):
    """StableDiffusionInpaintPipeline with a 4-channel UNet (strength 1) + DDIMScheduler in float64:
    after every step the kept region (mask < 0.5 at the latents' nearest pixel) is replaced by the
    image's latents noised with the initial noise to the next timestep, and by the clean latents
    after the last."""
    te, unet, dec, enc, ids, ac, ratio, timesteps = pipeline_setup(models, vocab, "unet", steps)
    with torch.no_grad():
        context = te(ids)[0]
        m = F.interpolate((torch.tensor(mask, dtype=torch.float64) >= 0.5).double(), size=(8, 8))
        image_latents = enc(torch.tensor(image, dtype=torch.float64) * 2 - 1)[:, :LATENT] * SCALING
        noise = torch.tensor(z, dtype=torch.float64)
        latents = noise
        for i, t in enumerate(timesteps):
            out = unet(torch.cat([latents, latents]), torch.tensor([t, t]), context)
            uncond, cond = out.chunk(2)
            eps = uncond + guidance * (cond - uncond)
            latents = ddim_step(latents, eps, t, ratio, ac)
            proper = image_latents
            if i < len(timesteps) - 1:
                a = ac[timesteps[i + 1]]
                proper = a.sqrt() * image_latents + (1 - a).sqrt() * noise
            latents = (1 - m) * proper + m * latents
        image_out = dec(latents / SCALING)
    return latents.numpy(), (image_out / 2 + 0.5).clamp(0, 1).numpy()


TURBO_SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                   "beta_schedule": "scaled_linear", "interpolation_type": "linear", "prediction_type": "epsilon", "steps_offset": 1,
                   "timestep_spacing": "trailing", "use_karras_sigmas": False}


def turbo_reference(models, vocab, z, steps):
    """An SD-Turbo-style run: StableDiffusionPipeline with guidance_scale 0 (no CFG: the prompt alone)
    + EulerDiscreteScheduler with trailing spacing (timesteps round(arange(1000, 0, -1000/steps)) - 1),
    sigmas sqrt((1 - a)/a) interpolated at them then 0, latents z * max sigma (init_noise_sigma for
    trailing spacing), each step the UNet on x / sqrt(sigma^2 + 1) and x += eps * (sigma_next - sigma)."""
    te, unet, dec = (models[k].double() for k in ("text_encoder", "unet", "vae_decoder"))
    ids = torch.tensor([clip_bpe(vocab, PROMPT)], dtype=torch.int32)
    ac = alphas_cumprod().double()
    timesteps = np.round(np.arange(1000, 0, -1000 / steps)) - 1
    all_sigmas = ((1 - ac) / ac).sqrt().numpy()
    sigmas = np.concatenate([np.interp(timesteps, np.arange(1000), all_sigmas), [0.0]])
    with torch.no_grad():
        context = te(ids)[0]
        latents = torch.tensor(z, dtype=torch.float64) * sigmas.max()
        for i, t in enumerate(timesteps):
            eps = unet(latents / (sigmas[i] ** 2 + 1) ** 0.5, torch.tensor([t]), context)
            latents = latents + eps * (sigmas[i + 1] - sigmas[i])
        image = dec(latents / SCALING)
    return latents.numpy(), (image / 2 + 0.5).clamp(0, 1).numpy()


def guidance_embedding(w, dim):
    """diffusers' get_guidance_scale_embedding: w * 1000, sin and cos of it at dim / 2 frequencies."""
    w = w * 1000.0
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float64) * -(math.log(10000.0) / (half - 1)))
    emb = w[:, None] * freqs[None, :]
    return torch.cat([torch.sin(emb), torch.cos(emb)], dim=1)


def lcm_reference(models, vocab, z, noises, steps=4, guidance=8.5, init_image=None, strength=1.0):
    """LatentConsistencyModelPipeline (or LatentConsistencyModelImg2ImgPipeline with init_image) +
    LCMScheduler in float64: no CFG; the guidance scale enters as timestep_cond = embedding(g - 1);
    timesteps from the distillation steps 20 i - 1, i = 1 .. int(50 strength) (set_timesteps with
    strength: img2img runs all `steps` steps on the lower part of the schedule, starting from the init
    latents noised to the first); each step denoised = c_out x0 + c_skip x (t scaled by 10,
    sigma_data 0.5), re-noised with the next draw to the next timestep, the last step's denoised
    decoded."""
    te, unet, dec, enc = (models[k].double() for k in ("text_encoder", "unet_lcm", "vae_decoder", "vae_encoder"))
    ids = torch.tensor([clip_bpe(vocab, PROMPT)], dtype=torch.int32)
    ac = alphas_cumprod().double()
    kept = int(50 * strength)
    origin = (np.arange(1, kept + 1) * 20 - 1)[::-1]
    timesteps = origin[np.floor(np.linspace(0, kept, steps, endpoint=False)).astype(int)]
    with torch.no_grad():
        context = te(ids)[0]
        cond = guidance_embedding(torch.tensor([guidance - 1.0], dtype=torch.float64), LCM_COND)
        latents = torch.tensor(z, dtype=torch.float64)
        if init_image is not None:
            init = enc(torch.tensor(init_image, dtype=torch.float64) * 2 - 1)[:, :LATENT] * SCALING
            a = ac[timesteps[0]]
            latents = a.sqrt() * init + (1 - a).sqrt() * latents
        for i, t in enumerate(timesteps):
            eps = unet(latents, torch.tensor([t]), context, cond)
            a_t = ac[t]
            x0 = (latents - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            scaled = 10.0 * t
            c_skip = 0.25 / (scaled ** 2 + 0.25)
            c_out = scaled / (scaled ** 2 + 0.25) ** 0.5
            denoised = c_out * x0 + c_skip * latents
            if i < len(timesteps) - 1:
                a_prev = ac[timesteps[i + 1]]
                latents = a_prev.sqrt() * denoised + (1 - a_prev).sqrt() * torch.tensor(noises[i], dtype=torch.float64)
            else:
                latents = denoised
        image = dec(latents / SCALING)
    return latents.numpy(), (image / 2 + 0.5).clamp(0, 1).numpy()


def main():
    models, vocab, merges = build()
    export(models, vocab, merges)
    export_v124(models, OUT.parent / "tiny-sd-v124")
    torch.manual_seed(1)
    models["unet_inpaint"] = UNet(in_channels=9).eval()
    with torch.no_grad():
        models["unet_inpaint"].conv_out.weight.mul_(0.1)
    export({**models, "unet": models["unet_inpaint"]}, vocab, merges, out=OUT.parent / "tiny-sd-inpaint")
    torch.manual_seed(2)
    models["unet_lcm"] = UNet(cond_dim=LCM_COND).eval()
    with torch.no_grad():
        models["unet_lcm"].conv_out.weight.mul_(0.1)
    export({**models, "unet": models["unet_lcm"]}, vocab, merges, out=OUT.parent / "tiny-lcm", scheduler=LCM_SCHEDULER)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((1, LATENT, 8, 8))
    latents, image, ids = reference(models, vocab, z)
    init_image = rng.uniform(0, 1, (1, 3, 64, 64))
    latents2, image2, _ = reference(models, vocab, z, init_image=init_image.astype(np.float32).astype(np.float64), strength=0.6)
    ref = {"prompt": PROMPT, "negative_prompt": NEGATIVE, "steps": 10, "guidance": 7.5, "guidance_rescale": 0.7, "width": 64, "height": 64,
           "input_ids": ids.tolist(), "img2img_strength": 0.6,
           "arrays": "reference/*.npy: z and latents float64, images float32 (n, 3, 64, 64) in [0, 1]"}
    (OUT / "reference.json").write_text(json.dumps(ref) + "\n")
    mask = np.zeros((1, 1, 64, 64))
    mask[:, :, 16:48, 8:40] = 1.0
    latents3, image3 = inpaint_reference(models, vocab, z, init_image.astype(np.float32).astype(np.float64), mask)
    latents5, image5, _ = reference(models, vocab, z, prediction="v_prediction")
    lcm_noise = rng.standard_normal((3, 1, LATENT, 8, 8))
    latents6, image6 = lcm_reference(models, vocab, z, lcm_noise)
    init32 = init_image.astype(np.float32).astype(np.float64)
    latents7, image7, _ = reference(models, vocab, z, init_image=init32, strength=0.6, prediction="v_prediction")
    latents8, image8 = lcm_reference(models, vocab, z, lcm_noise, init_image=init32, strength=0.6)
    latents9, image9 = turbo_reference(models, vocab, z, 1)
    latents10, image10 = turbo_reference(models, vocab, z, 4)
    latents4, image4 = blend_reference(models, vocab, z, init_image.astype(np.float32).astype(np.float64), mask)
    arrays = OUT / "reference"
    arrays.mkdir(exist_ok=True)
    for name, value, dtype in [("z", z, np.float64), ("latents", latents, np.float64), ("image", image, np.float32),
                               ("img2img_init", init_image, np.float32), ("img2img_latents", latents2, np.float64), ("img2img_image", image2, np.float32),
                               ("inpaint_mask", mask, np.float32), ("inpaint_latents", latents3, np.float64), ("inpaint_image", image3, np.float32),
                               ("blend_latents", latents4, np.float64), ("blend_image", image4, np.float32),
                               ("v_latents", latents5, np.float64), ("v_image", image5, np.float32),
                               ("lcm_noise", lcm_noise, np.float64), ("lcm_latents", latents6, np.float64), ("lcm_image", image6, np.float32),
                               ("v_img2img_latents", latents7, np.float64), ("v_img2img_image", image7, np.float32),
                               ("lcm_img2img_latents", latents8, np.float64), ("lcm_img2img_image", image8, np.float32),
                               ("turbo1_latents", latents9, np.float64), ("turbo1_image", image9, np.float32),
                               ("turbo4_latents", latents10, np.float64), ("turbo4_image", image10, np.float32)]:
        np.save(arrays / f"{name}.npy", np.asarray(value, dtype=dtype))
    print(f"wrote {OUT}: image mean {image.mean():.4f} std {image.std():.4f}, latents std {latents.std():.4f}; img2img image mean {image2.mean():.4f}")


if __name__ == "__main__":
    sys.exit(main())
