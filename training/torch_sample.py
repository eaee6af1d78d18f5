"""The shipped MNIST model in PyTorch with a DPM-Solver++(2M) loop equivalent to Diffuse's `dpmpp-2m`:
the baseline of bench/mnist-speed.ts (Diffuse with ONNX Runtime vs the same weights in PyTorch).

Weights: training/teacher.py's load_unet (the recipe's checkpoint mnist.pt when present, else rebuilt
from the ONNX file's initializers).

    /usr/bin/python3 training/torch_sample.py --card models/mnist/card.json --plan PLAN.json --out RESULT.json

PLAN.json (written by the bench): the time grid and α, σ of the card's process at each time, the class
labels, the guidance scale, x_T flattened [n, 1, 28, 28], threads and repeats. RESULT.json: the seconds of
each repeat and the final samples of the last one.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist import NULL_CLASS  # noqa: E402
from teacher import load_unet  # noqa: E402


def load_model(card_path):
    model, _, source = load_unet(card_path)
    return model, source


@torch.no_grad()
def dpmpp_2m(model, plan, x):
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) in data prediction on the plan's grid (at least 3 times;
    first order on the first step, the data prediction on a last step to σ = 0)."""
    times, alpha, sigma = plan["times"], plan["alpha"], plan["sigma"]
    n = x.shape[0]
    labels = torch.tensor(plan["labels"], dtype=torch.int64)
    w = plan["cfg"]
    if w != 1:
        labels = torch.cat([labels, torch.full((n,), NULL_CLASS, dtype=torch.int64)])
    prev, h_prev = None, None
    for i in range(len(times) - 1):
        t = torch.full((labels.shape[0],), float(times[i]))
        if w == 1:
            eps = model(x, t, labels).double()
        else:
            out = model(torch.cat([x, x]), t, labels).double()
            eps = out[n:] + w * (out[:n] - out[n:])
        d = (x.double() - sigma[i] * eps) / alpha[i]
        if sigma[i + 1] == 0:
            x = d.float()
            break
        lam, lam_next = np.log(alpha[i] / sigma[i]), np.log(alpha[i + 1] / sigma[i + 1])
        h = lam_next - lam
        if prev is None:
            dd = d
        else:
            r = h_prev / h
            dd = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * prev
        x = ((sigma[i + 1] / sigma[i]) * x.double() - alpha[i + 1] * np.expm1(-h) * dd).float()
        prev, h_prev = d, h
    return x


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--card", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    plan = json.loads(Path(args.plan).read_text())
    torch.set_num_threads(plan["threads"])
    torch.set_num_interop_threads(1)
    model, source = load_model(args.card)
    xT = torch.tensor(plan["xT"], dtype=torch.float32).view(-1, 1, 28, 28)
    dpmpp_2m(model, {**plan, "times": plan["times"][:3], "alpha": plan["alpha"][:3], "sigma": plan["sigma"][:3]}, xT)
    seconds = []
    for _ in range(plan["repeats"]):
        started = time.perf_counter()
        x = dpmpp_2m(model, plan, xT.clone())
        seconds.append(time.perf_counter() - started)
    Path(args.out).write_text(json.dumps({"seconds": seconds, "weights": source, "threads": torch.get_num_threads(),
                                          "torch": torch.__version__, "x": x.flatten().tolist()}))


if __name__ == "__main__":
    main()
