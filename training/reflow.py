"""Training for speed from the shipped MNIST model: reflow pairs drawn by Diffuse, Rectified Diffusion
fine-tuning (plain and with the improved rectified-flow techniques) and a SlimFlow one-step student.

Three steps, run from the repository root after `npm install && npm run build` (the pairs are drawn by
Diffuse's own CLI, `node bin/diffuse.js`; --diffuse names another command, e.g. `npx tsx src/cli/...`):

    /usr/bin/python3 training/reflow.py pairs --out .tmp/reflow/pairs.npz --n 5000 --seed 0
    /usr/bin/python3 training/reflow.py rectified --pairs .tmp/reflow/pairs.npz --out models/mnist-rectified
    /usr/bin/python3 training/reflow.py rectified --pairs .tmp/reflow/pairs.npz --out models/mnist-rectified-irf \
        --timesteps u-shaped --loss pseudo-huber
    /usr/bin/python3 training/reflow.py slim --pairs .tmp/reflow/pairs.npz --out models/mnist-slim \
        --guide models/mnist-rectified/card.json

pairs      Standard-normal z (seeded, kept) -> the teacher's deterministic probability-flow ODE solved by
           Diffuse (`diffuse sample --z Z.npy --labels 0..9 --cfg 1`, DPM-Solver++(2M), 20 steps) -> x0.
           Label of pair i: i mod 10. Reflow's coupling (Liu et al. 2022, Alg. 1: (Z0, Z1) drawn from the
           1-rectified flow); written as one .npz (z, x0, labels).
rectified  Rectified Diffusion (Wang et al. 2024): the teacher's own parameterisation and process (ε, the
           VP process of diffusers' DDPM linear betas), initialised from the teacher, retrained on the
           pairs: x_t = α_t x0 + σ_t z, target z (their Eq. 9: the noise of the pair replaces fresh noise).
           --timesteps u-shaped and --loss pseudo-huber are the improved rectified-flow techniques of Lee
           et al. 2024 (§4.1 U-shaped timestep density; §4.2 pseudo-Huber premetric
           sqrt(|x|^2 + c^2) - c with c = 0.00054 sqrt(d), as in iCT, Song & Dhariwal 2023).
slim       SlimFlow (Zhu et al. 2024): a smaller flow-matching UNet (process flow, x_t = (1 - t) x0 + t z,
           velocity z - x0) trained from scratch with Annealing Reflow (§3.2: the pair's noise mixed with
           fresh noise, sqrt(1 - b^2) z + b e, b annealed from 1 to 0), then Flow-Guided Distillation
           (§3.3): the one-step sample x0 = z - v(z, 1) regressed on the pair's x0 (L2 here, the paper's
           LPIPS needs weights we do not have) plus the 2-step guidance term: from fresh noise e, a step
           of the student's own velocity to a time s in [0.2, 0.8], then the guide's (the large reflowed
           model's) x0 prediction there closes the 2-step Euler path; the student's one-step velocity is
           regressed on e - x0_guide. Sampled by Diffuse's `flow-euler` with 1 step.
Every model is exported with its card (training/mnist.py's card_for) and checked from TypeScript (ONNX
Runtime in Node) against PyTorch.
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist  # noqa: E402
from mnist import NULL_CLASS, NUM_CLASSES, TRAIN_STEPS, UNet, alpha_bar, fit, sample_u  # noqa: E402
from teacher import load_unet  # noqa: E402

ROOT = mnist.ROOT
TEACHER = "models/mnist/card.json"
LOSSES = ("mse", "pseudo-huber")


# ---------------------------------------------------------------------------------------------- pairs

def draw_pairs(args, log=print):
    """z ~ N(0, I) from the seed, x0 = the teacher's ODE solution from z by Diffuse's CLI, chunk by chunk."""
    if args.chunk % NUM_CLASSES:
        sys.exit(f"--chunk must be a multiple of {NUM_CLASSES} so that labels 0..9 cycle over all pairs")
    gen = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, 1, 28, 28, generator=gen).numpy()
    x0 = np.empty_like(z)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="diffuse-pairs-") as tmp:
        for s in range(0, args.n, args.chunk):
            m = min(args.chunk, args.n - s)
            zf, xf = Path(tmp) / "z.npy", Path(tmp) / "x0.npy"
            np.save(zf, z[s:s + m].reshape(m, -1))
            cmd = args.diffuse.split() + [
                "sample", "--model", f"onnx:{args.teacher}", "--sampler", args.sampler, "--steps", str(args.steps),
                "--n", str(m), "--z", str(zf), "--labels", "0..9", "--cfg", "1", "--out", str(xf),
                "--dtype", "float32", "--no-error", "--quiet"]
            result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed:\n{result.stderr}")
            x0[s:s + m] = np.load(xf).reshape(m, 1, 28, 28)
            log(f"pairs {s + m}/{args.n}  {time.time() - started:.0f} s")
    labels = np.arange(args.n, dtype=np.int64) % NUM_CLASSES
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    facts = {"n": args.n, "sampler": args.sampler, "steps": args.steps, "seed": args.seed, "teacher": args.teacher,
             "seconds": time.time() - started}
    np.savez(out, z=z, x0=x0, labels=labels, facts=json.dumps(facts))
    return facts


def load_pairs(path):
    data = np.load(path)
    return (torch.from_numpy(data["z"]), torch.from_numpy(data["x0"]), torch.from_numpy(data["labels"]),
            json.loads(str(data["facts"])))


# ------------------------------------------------------------------------------------------ training

def pseudo_huber(diff, c):
    """Pseudo-Huber per sample, sqrt(|diff|^2 + c^2) - c (Lee et al. 2024, Eq. 9; Song & Dhariwal 2023)."""
    return (diff.flatten(1).pow(2).sum(1) + c * c).sqrt() - c


def regression_loss(kind, pred, target):
    if kind == "mse":
        return F.mse_loss(pred, target)
    if kind == "pseudo-huber":
        d = pred[0].numel()
        return pseudo_huber(pred - target, 0.00054 * math.sqrt(d)).mean()
    raise ValueError(f"unknown loss {kind}; accepted: {', '.join(LOSSES)}")


def pair_batch(pairs, batch, gen, dropout):
    """A batch of pairs (z, x0, labels), labels dropped to the null class with probability `dropout`."""
    z, x0, labels = pairs
    idx = torch.randint(0, len(z), (batch,), generator=gen)
    y = labels[idx].clone()
    y[torch.rand(batch, generator=gen) < dropout] = NULL_CLASS
    return z[idx], x0[idx], y


def rectified_diffusion(args, pairs, log=print):
    """Rectified Diffusion (Wang et al. 2024): the teacher retrained on its own noise-sample pairs in its
    own ε-parameterisation: x_t = α_t x0 + σ_t z, target z; uniform (or U-shaped) timesteps."""
    model, card, _ = load_unet(args.teacher)
    if card["prediction"] != "epsilon" or card["process"]["name"] != "vp-discrete":
        sys.exit(f"{args.teacher}: Rectified Diffusion here fine-tunes an epsilon vp-discrete model")
    abar = alpha_bar()

    def batch_loss(_step, gen):
        z, x0, y = pair_batch(pairs, args.batch, gen, args.cfg_dropout)
        t = (sample_u(args.timesteps, args.batch, gen) * TRAIN_STEPS).long().clamp(0, TRAIN_STEPS - 1)
        ab = abar[t].view(-1, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * z
        return regression_loss(args.loss, model(xt, t.float(), y), z)

    return fit(model, args, batch_loss, log)


class FlowGuide:
    """The x0 prediction at flow time s of an ε VP network: x_flow = (1 - s) x0 + s e is the VP point
    x = α x0 + σ e divided by α + σ where s = σ / (α + σ); the VP time is found by interpolating log ᾱ."""

    def __init__(self, model):
        self.model = model
        self.log_abar = alpha_bar().double().log()

    def vp_time(self, s):
        target = -torch.log1p((s / (1 - s)) ** 2)
        la = self.log_abar
        k = torch.searchsorted(-la, -target).clamp(1, TRAIN_STEPS - 1)
        lo, hi = la[k - 1], la[k]
        return (k - 1).double() + (lo - target) / (lo - hi)

    @torch.no_grad()
    def x0(self, x_flow, s, y):
        tau = self.vp_time(s.double())
        ab = torch.exp(torch.lerp(self.log_abar[tau.floor().long()], self.log_abar[tau.ceil().long()], tau - tau.floor()))
        alpha, sigma = ab.sqrt().float().view(-1, 1, 1, 1), (1 - ab).sqrt().float().view(-1, 1, 1, 1)
        x = (alpha + sigma) * x_flow
        eps = self.model(x, tau.float(), y)
        return (x - sigma * eps) / alpha


def slimflow(args, pairs, log=print):
    """SlimFlow (Zhu et al. 2024): Annealing Reflow for the first --reflow-steps, then Flow-Guided
    Distillation; a smaller flow UNet (time in [0, 1], t = 1 is noise, velocity z - x0)."""
    torch.manual_seed(args.seed)
    model = UNet(tuple(args.channels), time_scale=TRAIN_STEPS)
    guide = FlowGuide(load_unet(args.guide)[0]) if args.guide else None
    anneal = max(1, int(args.anneal * args.reflow_steps))

    def batch_loss(step, gen):
        z, x0, y = pair_batch(pairs, args.batch, gen, args.cfg_dropout)
        n = len(z)
        if step < args.reflow_steps:
            # Annealing Reflow (§3.2): noise sqrt(1 - b^2) z + b e, b from 1 (independent coupling,
            # plain flow matching on the teacher's samples) to 0 (the reflow pairs), linearly.
            b = max(0.0, 1.0 - step / anneal)
            noise = math.sqrt(1 - b * b) * z + b * torch.randn(z.shape, generator=gen)
            t = sample_u("uniform", n, gen).clamp(1e-4, 1.0)
            s = t.view(-1, 1, 1, 1)
            return F.mse_loss(model((1 - s) * x0 + s * noise, t, y), noise - x0)
        # Flow-Guided Distillation (§3.3): one-step distillation on the pairs, v(z, 1) -> z - x0 ...
        ones = torch.ones(n)
        loss = F.mse_loss(model(z, ones, y), z - x0)
        if guide is None:
            return loss
        # ... plus the 2-step term: from fresh noise e, the student's velocity to s, the guide's x0 there.
        e = torch.randn(z.shape, generator=gen)
        yg = torch.randint(0, NUM_CLASSES, (n,), generator=gen)
        v = model(e, ones, yg)
        s = 0.2 + 0.6 * torch.rand(n, generator=gen)
        x_s = e - (1 - s).view(-1, 1, 1, 1) * v.detach()
        return loss + F.mse_loss(v, e - guide.x0(x_s, s, yg))

    return fit(model, args, batch_loss, log)


# ------------------------------------------------------------------------------------------- export

def ship(model, args, objective, description, log=print):
    """mnist.onnx, card.json (mnist.card_for), PyTorch weights mnist.pt, and the TypeScript-side check."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mnist.export(model, out / "mnist.onnx")
    torch.save(model.state_dict(), out / "mnist.pt")
    (out / "card.json").write_text(json.dumps(mnist.card_for(objective, description), indent=2) + "\n")
    cases = out / "check_cases.json"
    cases.write_text(json.dumps(mnist.check_cases(model, objective, torch.Generator().manual_seed(args.seed + 1))))
    try:
        diff = mnist.check_onnx(out / "card.json", cases, args.tolerance)
    finally:
        cases.unlink()
    log(f"ONNX Runtime vs PyTorch: max abs diff {diff:.1e}")
    return diff


def parameters(model):
    return sum(p.numel() for p in model.parameters())


def command_pairs(args):
    print(json.dumps(draw_pairs(args)))


def command_rectified(args):
    torch.set_num_threads(args.threads)
    z, x0, labels, pair_facts = load_pairs(args.pairs)
    model, facts = rectified_diffusion(args, (z, x0, labels))
    facts["parameters"] = parameters(model)
    description = (f"Rectified Diffusion student of {args.teacher} ({facts['parameters']} parameters), objective eps, "
                   f"{pair_facts['n']} pairs ({pair_facts['sampler']}, {pair_facts['steps']} steps), timesteps "
                   f"{args.timesteps}, loss {args.loss}, {args.steps} steps of batch {args.batch}, seed {args.seed}; "
                   "recipe training/reflow.py")
    facts["onnx_max_abs_diff"] = ship(model, args, "eps", description)
    print(json.dumps(facts))


def command_slim(args):
    torch.set_num_threads(args.threads)
    z, x0, labels, pair_facts = load_pairs(args.pairs)
    args.steps = args.reflow_steps + args.distill_steps
    model, facts = slimflow(args, (z, x0, labels))
    facts["parameters"] = parameters(model)
    description = (f"SlimFlow one-step student of {args.teacher} ({facts['parameters']} parameters, channels "
                   f"{'/'.join(map(str, args.channels))}), objective flow, {pair_facts['n']} pairs, "
                   f"{args.reflow_steps} annealing-reflow + {args.distill_steps} flow-guided distillation steps "
                   f"(guide {args.guide}) of batch {args.batch}, seed {args.seed}; recipe training/reflow.py")
    facts["onnx_max_abs_diff"] = ship(model, args, "flow", description)
    print(json.dumps(facts))


EVAL_CELLS = {"epsilon": [("ddim", 1), ("ddim", 2), ("ddim", 4), ("ddim", 10), ("dpmpp-2m", 4), ("dpmpp-2m", 10)],
              "velocity": [("flow-euler", 1), ("flow-euler", 2), ("flow-euler", 4)]}


def command_evaluate(args):
    """`diffuse eval` (same n and seed, so paired x_T) of each model at the cells of its prediction type;
    JSON lines to --out and a markdown table (FD / accuracy) on stdout."""
    rows = []
    with open(args.out, "a") as log:
        for card in args.models:
            prediction = json.loads(Path(card).read_text())["prediction"]
            for sampler, steps in EVAL_CELLS[prediction]:
                cmd = args.diffuse.split() + ["eval", "--model", f"onnx:{card}", "--sampler", sampler, "--steps", str(steps),
                                              "--n", str(args.n), "--seed", str(args.seed), "--cfg", "1", "--json"]
                result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
                if result.returncode != 0:
                    sys.exit(f"{' '.join(cmd)} failed:\n{result.stderr}")
                row = json.loads(result.stdout)
                rows.append(row)
                log.write(json.dumps(row) + "\n")
                log.flush()
                print(f"{card} {sampler} NFE {row['nfe']}: FD {row['fd']:.1f}, accuracy {100 * row['accuracy']:.1f} %",
                      file=sys.stderr, flush=True)
    columns = sorted({(r["sampler"], r["nfe"]) for r in rows}, key=lambda c: (c[0] != "ddim", c[0], c[1]))
    print("| model | " + " | ".join(f"{s} NFE {k}" for s, k in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for card in args.models:
        cells = {(r["sampler"], r["nfe"]): r for r in rows if r["model"] == f"onnx:{card}"}
        print(f"| {Path(card).parent.name} | " + " | ".join(
            f"{cells[c]['fd']:.1f} / {100 * cells[c]['accuracy']:.0f} %" if c in cells else "" for c in columns) + " |")


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    pairs = sub.add_parser("pairs", help="noise-sample pairs of the teacher's ODE, drawn by Diffuse's CLI")
    pairs.add_argument("--out", required=True, help=".npz with z [n,1,28,28], x0 [n,1,28,28], labels [n]")
    pairs.add_argument("--n", type=int, default=5000)
    pairs.add_argument("--chunk", type=int, default=500, help="pairs per Diffuse run")
    pairs.add_argument("--sampler", default="dpmpp-2m")
    pairs.add_argument("--steps", type=int, default=20)
    pairs.add_argument("--seed", type=int, default=0)
    pairs.add_argument("--teacher", default=TEACHER)
    pairs.add_argument("--diffuse", default="node bin/diffuse.js", help="the command that runs Diffuse's CLI")
    pairs.set_defaults(run=command_pairs)

    def common(q, steps, lr, ema):
        q.add_argument("--pairs", required=True)
        q.add_argument("--out", required=True)
        q.add_argument("--teacher", default=TEACHER)
        q.add_argument("--batch", type=int, default=64)
        q.add_argument("--lr", type=float, default=lr)
        q.add_argument("--ema", type=float, default=ema)
        q.add_argument("--cfg-dropout", type=float, default=0.1)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--threads", type=int, default=1)
        q.add_argument("--tolerance", type=float, default=1e-4)
        q.add_argument("--log-every", type=int, default=100)
        if steps:
            q.add_argument("--steps", type=int, default=steps)

    rect = sub.add_parser("rectified", help="Rectified Diffusion fine-tuning of the teacher on the pairs")
    common(rect, 1000, 2e-4, 0.995)
    rect.add_argument("--timesteps", choices=mnist.TIMESTEP_SAMPLERS, default="uniform")
    rect.add_argument("--loss", choices=LOSSES, default="mse")
    rect.set_defaults(run=command_rectified)

    slim = sub.add_parser("slim", help="SlimFlow: smaller one-step flow student")
    common(slim, 0, 2e-3, 0.995)
    slim.add_argument("--channels", type=int, nargs=3, default=[16, 32, 32])
    slim.add_argument("--reflow-steps", type=int, default=1500)
    slim.add_argument("--anneal", type=float, default=0.5, help="fraction of the reflow steps over which b goes 1 -> 0")
    slim.add_argument("--distill-steps", type=int, default=500)
    slim.add_argument("--guide", help="card of the large reflowed ε model for the 2-step term (none: pairs only)")
    slim.set_defaults(run=command_slim)

    ev = sub.add_parser("evaluate", help="`diffuse eval` of teacher and students, as a markdown table")
    ev.add_argument("models", nargs="+", help="card.json of each model (ε cards: ddim 1/2/4/10 and dpmpp-2m 4/10; "
                                              "velocity cards: flow-euler 1/2/4)")
    ev.add_argument("--n", type=int, default=500)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", required=True, help="JSON lines of every `diffuse eval --json` (appended)")
    ev.add_argument("--diffuse", default="node bin/diffuse.js", help="the command that runs Diffuse's CLI")
    ev.set_defaults(run=command_evaluate)
    return p


def main():
    args = parser().parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
