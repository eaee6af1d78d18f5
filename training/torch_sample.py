"""The shipped MNIST model in PyTorch with a DPM-Solver++(2M) loop equivalent to Diffuse's `dpmpp-2m`:
the baseline of bench/mnist-speed.ts (Diffuse with ONNX Runtime vs the same weights in PyTorch).

Weights: training/teacher.py's load_unet (the recipe's checkpoint mnist.pt when present, else rebuilt
from the ONNX file's initializers).

    /usr/bin/python3 training/torch_sample.py --card models/mnist/card.json --plan PLAN.json --out RESULT.json

PLAN.json (written by the bench): the time grid and α, σ of the card's process at each time, the class
labels, the guidance scale, x_T flattened [n, 1, 28, 28] and threads. After a warm-up it prints `ready`;
then each input line `run` times one sampling run and prints its seconds, so the bench can alternate
Diffuse's runs with PyTorch's and a change in the machine's load falls on both alike. At the end of
input (or any other line) it writes RESULT.json: the seconds of each run, the final samples of the
last one, and the convolution arithmetic of one model call (multiply-adds × 2, counted by forward
hooks) for the bench's roofline.

    /usr/bin/python3 training/torch_sample.py --conv-onnx CONV.onnx

writes a chain of eight convolutions (96 → 96 channels, 3×3, batch 64 of 28×28: wider than any of the
shipped UNet's, whose heaviest is 32 → 32 at 28×28, because this shape reaches the machine's float32
peak, so the bound built on it is a lower bound; a chain, so that ONNX Runtime's layout changes at its
ends weigh little) on which the bench measures ONNX Runtime's best convolution throughput, and times
the same chain in PyTorch (fastest of 5 runs, --threads threads) for comparison: CONV.onnx.json.
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


ROOFLINE_CONV = (64, 96, 28, 8)  # batch, channels in = out, side, convolutions in the chain (the machine's peak)


def conv_flops(model, call):
    """Floating-point operations (2 per multiply-add) of the Conv2d layers in one call(), by forward hooks."""
    total = [0]

    def hook(mod, _inputs, out):
        total[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        call()
    finally:
        for h in handles:
            h.remove()
    return total[0]


@torch.no_grad()
def export_conv(path):
    batch, c, side, depth = ROOFLINE_CONV
    torch.manual_seed(0)
    chain = torch.nn.Sequential(*[torch.nn.Conv2d(c, c, 3, padding=1) for _ in range(depth)])
    x = torch.randn(batch, c, side, side)
    torch.onnx.export(chain, (x,), str(path), input_names=["x"], output_names=["y"], opset_version=17)
    chain(x)
    seconds = []
    for _ in range(5):
        started = time.perf_counter()
        chain(x)
        seconds.append(time.perf_counter() - started)
    Path(str(path) + ".json").write_text(json.dumps({"shape": [batch, c, side, side], "depth": depth,
                                                     "flops": 2 * depth * batch * side * side * c * c * 9,
                                                     "torchSeconds": min(seconds)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--card")
    p.add_argument("--plan")
    p.add_argument("--out")
    p.add_argument("--conv-onnx", help="write the roofline's convolution chain here, time it in PyTorch, and exit")
    p.add_argument("--threads", type=int, default=1, help="PyTorch's threads for --conv-onnx")
    args = p.parse_args()
    if args.conv_onnx:
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
        export_conv(args.conv_onnx)
        return
    if not (args.card and args.plan and args.out):
        p.error("--card, --plan and --out are required (or --conv-onnx alone)")
    plan = json.loads(Path(args.plan).read_text())
    torch.set_num_threads(plan["threads"])
    torch.set_num_interop_threads(1)
    model, source = load_model(args.card)
    xT = torch.tensor(plan["xT"], dtype=torch.float32).view(-1, 1, 28, 28)
    dpmpp_2m(model, plan, xT.clone())  # warm-up, as the bench warms Diffuse up
    batch = xT.shape[0] * (1 if plan["cfg"] == 1 else 2)
    with torch.no_grad():
        flops = conv_flops(model, lambda: model(torch.zeros(batch, 1, 28, 28), torch.full((batch,), 500.0),
                                                torch.zeros(batch, dtype=torch.int64)))
    print("ready", flush=True)
    seconds, x = [], xT
    for line in sys.stdin:
        if line.strip() != "run":
            break
        started = time.perf_counter()
        x = dpmpp_2m(model, plan, xT.clone())
        seconds.append(time.perf_counter() - started)
        print(seconds[-1], flush=True)
    Path(args.out).write_text(json.dumps({"seconds": seconds, "weights": source, "threads": torch.get_num_threads(),
                                          "torch": torch.__version__, "convFlopsPerCall": flops, "x": x.flatten().tolist()}))

if __name__ == "__main__":
    main()
