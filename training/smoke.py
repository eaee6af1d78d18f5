"""CI smoke test of the MNIST recipe: every objective with every timestep sampler trains a few steps
of a tiny UNet, exports to ONNX with its model card, and is loaded from TypeScript (ONNX Runtime in
Node), compared with PyTorch within 1e-4 and sampled with DPM-Solver++(2M).

    /usr/bin/python3 training/smoke.py        (from the repository root, after `npm install`)
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist  # noqa: E402


def check_timestep_samplers():
    """Each sampler's CDF at u = 0.1 against its closed form, on 200 000 draws."""
    import math
    import torch
    a = 4.0
    expected = {
        "uniform": 0.1,
        "logit-normal": 0.5 * (1 + math.erf(math.log(0.1 / 0.9) / math.sqrt(2))),
        "u-shaped": (math.sinh(a * (0.1 - 0.5)) + math.sinh(a / 2)) / (2 * math.sinh(a / 2)),
    }
    for kind, want in expected.items():
        u = mnist.sample_u(kind, 200_000, torch.Generator().manual_seed(0))
        got = (u < 0.1).double().mean().item()
        if not (0 <= u.min() and u.max() < 1 and abs(got - want) < 0.004):
            sys.exit(f"timestep sampler {kind}: P(u < 0.1) = {got:.4f}, expected {want:.4f}, range [{u.min():.3g}, {u.max():.3g}]")
        print(f"timesteps {kind:13s} P(u < 0.1) = {got:.4f} (exact {want:.4f})")


def main():
    check_timestep_samplers()
    images, labels = mnist.load_digits()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="diffuse-smoke-") as tmp:
        for objective in mnist.OBJECTIVES:
            for timesteps in mnist.TIMESTEP_SAMPLERS:
                args = mnist.parser().parse_args([
                    "--out", str(Path(tmp) / f"{objective}-{timesteps}"), "--objective", objective, "--timesteps", timesteps,
                    "--steps", "4", "--batch", "8", "--channels", "8", "16", "16", "--log-every", "4",
                ])
                facts = mnist.run(args, images, labels, log=lambda line: None)
                print(f"{objective:5s} {timesteps:13s} loss {facts['final_loss']:.3f}  "
                      f"max |ONNX Runtime - PyTorch| {facts['onnx_max_abs_diff']:.1e}", flush=True)
    print(f"smoke test passed in {time.time() - started:.0f} s")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
