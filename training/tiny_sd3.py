"""A tiny random-weight Stable Diffusion 3-class folder in optimum's ONNX layout, and a PyTorch
reference of diffusers' StableDiffusion3Pipeline and StableDiffusion3Img2ImgPipeline on the same
weights (test/fixtures/tiny-sd3).

SD3's parts, in miniature:
  - three text encoders: text_encoder and text_encoder_2 are CLIPTextModelWithProjection (text_embeds
    = the projected EOS state, last_hidden_state, hidden_states.0..L); text_encoder_3 is a T5-like
    bidirectional encoder (input_ids -> last_hidden_state) whose tokenizer_3 is a SentencePiece
    Unigram tokenizer.json (Metaspace pre-tokenizer, </s> appended, <pad> = 0);
  - the prompt embedding: both CLIPs' hidden_states[-2] side by side, zero-padded to T5's width,
    then T5's 256 states after them on the sequence axis; the pooled embedding: both text_embeds;
  - an MMDiT transformer (hidden_states [b, 16, h, w], timestep [b] = sigma * 1000,
    encoder_hidden_states, pooled_projections -> out_hidden_states, the velocity): 2 x 2 patches
    with a learned position table (top-left crop), the conditioning vector = timestep MLP + pooled
    MLP, joint-attention blocks with adaLN-Zero modulation of both streams, adaLN output norm;
  - a KL-VAE with 16 latent channels, scaling_factor and shift_factor;
  - FlowMatchEulerDiscreteScheduler with shift 3.0.

Regenerate (deterministic; from the repository root): /usr/bin/python3 training/tiny_sd3.py
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_sd  # noqa: E402
from tiny_sd import OPSET, SEQ, VaeDecoder, VaeEncoder, timestep_embedding  # noqa: E402
from tiny_sdxl import ClipText, pad_ids  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "tiny-sd3"
W1, W2, T5_WIDTH, DIM, PATCH, LATENT = 16, 24, 48, 32, 2, 16
T5_LENGTH = 256                      # the pipeline's max_sequence_length
SCALING, SHIFT = 1.5305, 0.0609
SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.29.0", "num_train_timesteps": 1000, "shift": 3.0}
T5_WORDS = ["a", "photo", "of", "cat", "dog", "the"]


# ---------------------------------------------------------------- T5-like tokenizer and encoder

def t5_tokenizer_json():
    """A SentencePiece Unigram tokenizer.json as T5TokenizerFast saves it (without the precompiled
    normalizer): <pad> 0, </s> 1, <unk> 2, whole words "▁word", then the letters and "▁" alone."""
    pieces = [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]] + [[f"▁{w}", -2.0 - 0.1 * i] for i, w in enumerate(T5_WORDS)]
    pieces += [["▁", -4.0]] + [[c, -6.0] for c in "abcdefghijklmnopqrstuvwxyz"]
    special = lambda i, t: {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}  # noqa: E731
    metaspace = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special(0, "<pad>"), special(1, "</s>"), special(2, "<unk>")],
        "normalizer": {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
        "post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": 2, "vocab": pieces, "byte_fallback": False},
    }


def t5_ids(text):
    """The reference's T5 ids of a prompt made of T5_WORDS: one piece per word, </s>, <pad> to 256."""
    ids = [3 + T5_WORDS.index(w) for w in text.split()] + [1]
    return ids + [0] * (T5_LENGTH - len(ids))


class T5Layer(nn.Module):
    """Pre-norm bidirectional self-attention and feed-forward, T5's RMSNorm without mean subtraction."""

    def __init__(self, d, heads=4):
        super().__init__()
        self.n1, self.n2 = RmsNorm(d), RmsNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d, bias=False), nn.ReLU(), nn.Linear(2 * d, d, bias=False))

    def forward(self, x):
        h = self.n1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.ff(self.n2(x))


class RmsNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


class T5Encoder(nn.Module):
    """input_ids [b, s] -> last_hidden_state [b, s, d] (with a learned position table: T5's relative
    position bias is beyond what the pipeline's conventions depend on)."""

    def __init__(self, vocab_size, d=T5_WIDTH, layers=2):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(T5_LENGTH, d)
        self.layers = nn.ModuleList([T5Layer(d) for _ in range(layers)])
        self.final = RmsNorm(d)

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.tok(ids) + self.pos.weight[None, : ids.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return self.final(x)


# ---------------------------------------------------------------- MMDiT

def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class JointBlock(nn.Module):
    """SD3's joint transformer block: each stream adaLN-Zero-modulated (shift, scale, gate for the
    attention and for the MLP), one attention over the image and text tokens together."""

    def __init__(self, d, heads=4):
        super().__init__()
        self.heads, self.d = heads, d
        # the exporter needs LayerNorm's weight and bias: initialised to 1 and 0, as no affine
        self.ln = nn.ModuleList([nn.LayerNorm(d) for _ in range(4)])
        self.mod_x, self.mod_c = nn.Linear(d, 6 * d), nn.Linear(d, 6 * d)
        self.qkv_x, self.qkv_c = nn.Linear(d, 3 * d), nn.Linear(d, 3 * d)
        self.out_x, self.out_c = nn.Linear(d, d), nn.Linear(d, d)
        self.mlp_x = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))
        self.mlp_c = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))

    def forward(self, x, ctx, c):
        d = self.d
        mx = self.mod_x(F.silu(c)).chunk(6, dim=-1)
        mc = self.mod_c(F.silu(c)).chunk(6, dim=-1)
        hx = modulate(self.ln[0](x), mx[0], mx[1])
        hc = modulate(self.ln[1](ctx), mc[0], mc[1])
        q, k, v = torch.cat([self.qkv_x(hx), self.qkv_c(hc)], dim=1).chunk(3, dim=-1)
        b, s, _ = q.shape
        split = lambda t: t.reshape(b, s, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        w = torch.softmax(split(q) @ split(k).transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
        a = (w @ split(v)).transpose(1, 2).reshape(b, s, d)
        ax, ac = a[:, : x.shape[1]], a[:, x.shape[1]:]
        x = x + mx[2][:, None] * self.out_x(ax)
        x = x + mx[5][:, None] * self.mlp_x(modulate(self.ln[2](x), mx[3], mx[4]))
        ctx = ctx + mc[2][:, None] * self.out_c(ac)
        ctx = ctx + mc[5][:, None] * self.mlp_c(modulate(self.ln[3](ctx), mc[3], mc[4]))
        return x, ctx


class MMDiT(nn.Module):
    def __init__(self, d=DIM, blocks=2, grid=16):
        super().__init__()
        self.d = d
        self.patch = nn.Conv2d(LATENT, d, PATCH, stride=PATCH)
        self.pos = nn.Parameter(0.02 * torch.randn(1, d, grid, grid))
        self.time = nn.Sequential(nn.Linear(64, d), nn.SiLU(), nn.Linear(d, d))
        self.pooled = nn.Sequential(nn.Linear(W1 + W2, d), nn.SiLU(), nn.Linear(d, d))
        self.context = nn.Linear(T5_WIDTH, d)
        self.blocks = nn.ModuleList([JointBlock(d) for _ in range(blocks)])
        self.norm_out, self.ln_out = nn.Linear(d, 2 * d), nn.LayerNorm(d)
        self.proj_out = nn.Linear(d, PATCH * PATCH * LATENT)

    def forward(self, hidden_states, timestep, encoder_hidden_states, pooled_projections):
        b, _, h, w = hidden_states.shape
        x = self.patch(hidden_states) + self.pos[:, :, : h // PATCH, : w // PATCH]
        x = x.flatten(2).transpose(1, 2)
        t = timestep.reshape(-1).expand(b) if timestep.numel() == 1 else timestep
        c = self.time(timestep_embedding(t, 64, x.dtype)) + self.pooled(pooled_projections)
        ctx = self.context(encoder_hidden_states)
        for block in self.blocks:
            x, ctx = block(x, ctx, c)
        scale, shift = self.norm_out(F.silu(c)).chunk(2, dim=-1)
        x = self.proj_out(modulate(self.ln_out(x), shift, scale))
        x = x.reshape(b, h // PATCH, w // PATCH, PATCH, PATCH, LATENT)
        return x.permute(0, 5, 1, 3, 2, 4).reshape(b, LATENT, h, w)


def vae(kind):
    """tiny_sd's KL-VAE halves with 16 latent channels."""
    if kind == "decoder":
        m = VaeDecoder()
        m.conv_in = nn.Conv2d(LATENT, m.conv_in.out_channels, 3, padding=1)
    else:
        m = VaeEncoder()
        m.conv_out = nn.Conv2d(m.conv_out.in_channels, 2 * LATENT, 3, padding=1)
    return m


def build():
    torch.manual_seed(7)
    vocab, merges = tiny_sd.tokenizer_files()
    m = {"text_encoder": ClipText(len(vocab), W1, projection=W1), "text_encoder_2": ClipText(len(vocab), W2, projection=W2),
         "text_encoder_3": T5Encoder(3 + len(T5_WORDS) + 27), "transformer": MMDiT(), "vae_decoder": vae("decoder"), "vae_encoder": vae("encoder")}
    with torch.no_grad():
        m["transformer"].proj_out.weight.mul_(0.5)
    for v in m.values():
        v.eval()
    return m, vocab, merges


# ---------------------------------------------------------------- export

def export(m, vocab, merges, out=OUT):
    out.mkdir(parents=True, exist_ok=True)
    ids = torch.zeros(1, SEQ, dtype=torch.int64)
    hid = [f"hidden_states.{i}" for i in range(3)]
    specs = {
        "text_encoder": (m["text_encoder"], (ids,), ["input_ids"], ["text_embeds", "last_hidden_state", *hid]),
        "text_encoder_2": (m["text_encoder_2"], (ids,), ["input_ids"], ["text_embeds", "last_hidden_state", *hid]),
        "text_encoder_3": (m["text_encoder_3"], (torch.zeros(1, T5_LENGTH, dtype=torch.int64),), ["input_ids"], ["last_hidden_state"]),
        "transformer": (m["transformer"], (torch.zeros(2, LATENT, 8, 8), torch.tensor([999.0, 999.0]), torch.zeros(2, SEQ + T5_LENGTH, T5_WIDTH), torch.zeros(2, W1 + W2)),
                        ["hidden_states", "timestep", "encoder_hidden_states", "pooled_projections"], ["out_hidden_states"]),
        "vae_decoder": (m["vae_decoder"], (torch.zeros(1, LATENT, 8, 8),), ["latent_sample"], ["sample"]),
        "vae_encoder": (tiny_sd.LatentParameters(m["vae_encoder"]), (torch.zeros(1, 3, 64, 64),), ["sample"], ["latent_parameters"]),
    }
    for name, (module, args, inputs, outputs) in specs.items():
        (out / name).mkdir(exist_ok=True)
        axes = {k: {0: "batch_size"} for k in inputs + outputs}
        for k in ("hidden_states", "out_hidden_states", "sample", "latent_sample", "latent_parameters"):
            if k in axes:
                axes[k] = {0: "batch_size", 2: "height", 3: "width"}
        torch.onnx.export(module, args, str(out / name / "model.onnx"), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    config = {"_class_name": "AutoencoderKL", "scaling_factor": SCALING, "shift_factor": SHIFT, "latent_channels": LATENT, "block_out_channels": [32, 32, 32, 32]}
    for name in ("vae_decoder", "vae_encoder"):
        (out / name / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "transformer" / "config.json").write_text(json.dumps({"_class_name": "SD3Transformer2DModel", "in_channels": LATENT, "out_channels": LATENT,
                                                                 "sample_size": 8, "patch_size": PATCH, "joint_attention_dim": T5_WIDTH,
                                                                 "pooled_projection_dim": W1 + W2, "caption_projection_dim": DIM}, indent=2) + "\n")
    (out / "scheduler").mkdir(exist_ok=True)
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER, indent=2) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    for tok, pad in (("tokenizer", "<|endoftext|>"), ("tokenizer_2", "!")):
        d = out / tok
        d.mkdir(exist_ok=True)
        (d / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
        (d / "merges.txt").write_text(merges)
        (d / "special_tokens_map.json").write_text(json.dumps({**special, "pad_token": pad}, indent=2) + "\n")
        (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer", "model_max_length": SEQ, **special, "pad_token": pad}, indent=2) + "\n")
    d = out / "tokenizer_3"
    d.mkdir(exist_ok=True)
    (d / "tokenizer.json").write_text(json.dumps(t5_tokenizer_json(), ensure_ascii=False) + "\n")
    t5_special = {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
    (d / "special_tokens_map.json").write_text(json.dumps(t5_special, indent=2) + "\n")
    (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer", "model_max_length": 512, **t5_special}, indent=2) + "\n")
    index = {"_class_name": "StableDiffusion3Pipeline", "_diffusers_version": "0.29.0", "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModelWithProjection"], "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
             "text_encoder_3": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
             "tokenizer_2": ["transformers", "CLIPTokenizer"], "tokenizer_3": ["transformers", "T5TokenizerFast"],
             "transformer": ["diffusers", "SD3Transformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}
    (out / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


# ---------------------------------------------------------------- reference pipeline

def flow_sigmas(steps, shift=3.0, n=1000):
    """FlowMatchEulerDiscreteScheduler.set_timesteps: the shifted training sigmas' range, linspace of
    its timesteps, shifted again (shift·s / (1 + (shift − 1)·s)), then a final 0."""
    shifted = lambda s: shift * s / (1 + (shift - 1) * s)  # noqa: E731
    train = shifted(np.linspace(1, n, n)[::-1].copy() / n)
    timesteps = np.linspace(train[0] * n, train[-1] * n, steps)
    return np.append(shifted(timesteps / n), 0.0)


def prompt_embeds(m, vocab, text, clip_skip=None):
    """encode_prompt for one prompt: (prompt_embeds [1, 77 + 256, T5_WIDTH], pooled [1, W1 + W2]);
    clip_skip k takes hidden_states[-(k + 2)] of both CLIPs."""
    o1 = m["text_encoder"](torch.tensor([pad_ids(vocab, text, "<|endoftext|>")]))
    o2 = m["text_encoder_2"](torch.tensor([pad_ids(vocab, text, "!")]))
    layer = -2 if clip_skip is None else -(clip_skip + 2)
    clip = torch.cat([o1[layer], o2[layer]], dim=-1)                 # hidden_states[-2] of each
    t5 = m["text_encoder_3"](torch.tensor([t5_ids(text)]))
    clip = F.pad(clip, (0, t5.shape[-1] - clip.shape[-1]))
    return torch.cat([clip, t5], dim=-2), torch.cat([o1[0], o2[0]], dim=-1)


def reference(m, vocab, z, steps=8, guidance=5.0, image=None, strength=0.6, clip_skip=None, mask=None):
    """StableDiffusion3Pipeline in float64 (negative prompt ""); with `image` (1 x 3 x 64 x 64 in
    [0, 1]) StableDiffusion3Img2ImgPipeline with the encoder's mean as the image latents; clip_skip
    applies to the prompt only (encode_prompt encodes the negative prompt with clip_skip=None). With
    `image` and `mask` (1 x 1 x 64 x 64, 1 = repaint) StableDiffusion3InpaintPipeline with a 16-channel
    transformer at strength 1: from pure noise, and after every step the kept latents replaced by the
    image's latents noised to the next sigma (scale_noise), the clean ones after the last."""
    m = {k: v.double() for k, v in m.items()}
    sigmas = flow_sigmas(steps)
    with torch.no_grad():
        neg, neg_pooled = prompt_embeds(m, vocab, "")
        pos, pos_pooled = prompt_embeds(m, vocab, tiny_sd.PROMPT, clip_skip)
        context, pooled = torch.cat([neg, pos]), torch.cat([neg_pooled, pos_pooled])
        latents = torch.tensor(z, dtype=torch.float64)
        start = 0
        keep = None
        if image is not None and mask is not None:
            x0 = (m["vae_encoder"](torch.tensor(image, dtype=torch.float64) * 2 - 1)[:, :LATENT] - SHIFT) * SCALING
            repaint = F.interpolate(torch.tensor(mask, dtype=torch.float64), size=(8, 8)) >= 0.5
            keep = (x0, repaint.double(), latents.clone())
        elif image is not None:
            x0 = (m["vae_encoder"](torch.tensor(image, dtype=torch.float64) * 2 - 1)[:, :LATENT] - SHIFT) * SCALING
            start = int(max(steps - min(steps * strength, steps), 0))   # get_timesteps
            latents = sigmas[start] * latents + (1 - sigmas[start]) * x0   # scale_noise
        for i in range(start, steps):
            t = torch.full((2,), sigmas[i] * 1000, dtype=torch.float64)
            v = m["transformer"](torch.cat([latents, latents]), t, context, pooled)
            uncond, cond = v.chunk(2)
            latents = latents + (sigmas[i + 1] - sigmas[i]) * (uncond + guidance * (cond - uncond))
            if keep is not None:
                x0, repaint, noise = keep
                proper = x0 if i == steps - 1 else sigmas[i + 1] * noise + (1 - sigmas[i + 1]) * x0
                latents = (1 - repaint) * proper + repaint * latents
        decoded = m["vae_decoder"](latents / SCALING + SHIFT)
    return latents.numpy(), (decoded / 2 + 0.5).clamp(0, 1).numpy()


def main():
    m, vocab, merges = build()
    export(m, vocab, merges)
    z = np.random.default_rng(11).standard_normal((1, LATENT, 8, 8))
    latents, image = reference(m, vocab, z)
    init = np.random.default_rng(12).uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    i2i_latents, i2i_image = reference(m, vocab, z, image=init)
    skip_latents, _ = reference(m, vocab, z, clip_skip=1)
    mask = np.zeros((1, 1, 64, 64))
    mask[:, :, 16:48, 8:40] = 1.0
    inp_latents, inp_image = reference(m, vocab, z, image=init, mask=mask)
    (OUT / "reference").mkdir(exist_ok=True)
    for name, value, dtype in [("z", z, np.float64), ("latents", latents, np.float64), ("image", image, np.float32),
                               ("init", init, np.float32), ("img2img_latents", i2i_latents, np.float64), ("img2img_image", i2i_image, np.float32),
                               ("clip_skip1_latents", skip_latents, np.float64), ("inpaint_mask", mask, np.float32),
                               ("inpaint_latents", inp_latents, np.float64), ("inpaint_image", inp_image, np.float32)]:
        np.save(OUT / "reference" / f"{name}.npy", np.asarray(value, dtype=dtype))
    (OUT / "reference.json").write_text(json.dumps({"prompt": tiny_sd.PROMPT, "steps": 8, "guidance": 5.0, "width": 64, "height": 64, "strength": 0.6,
                                                     "input_ids_3": t5_ids(tiny_sd.PROMPT)}) + "\n")
    print(f"wrote {OUT}: image mean {image.mean():.4f}, latents std {latents.std():.4f}, img2img latents std {i2i_latents.std():.4f}")


if __name__ == "__main__":
    sys.exit(main())
