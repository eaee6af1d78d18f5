"""CI smoke test of the MNIST recipe: every objective with every timestep sampler trains a few steps
of a tiny UNet, exports to ONNX with its model card, and is loaded from TypeScript (ONNX Runtime in
Node), compared with PyTorch within 1e-4 and sampled with DPM-Solver++(2M).

    /usr/bin/python3 training/smoke.py        (from the repository root, after `npm install` and `npm run build`)
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


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


def diffuse_grid(sampler, steps):
    """The grid Diffuse's own code gives `sampler` on vp-discrete (run through the built CLI, dist/)."""
    import json
    import subprocess
    cli = Path(__file__).resolve().parent.parent / "bin" / "diffuse.js"
    out = subprocess.run(["node", str(cli), "sample", "--process", "vp-discrete", "--sampler", sampler, "--steps", str(steps),
                          "--n", "1", "--no-error", "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["grid"]


def check_mmd_ddm():
    """training/mmd_ddm.py: its DDIM grid is Diffuse's (`ddim`'s default logSNR grid, 5 steps, as the
    built CLI prints it), MMD²_u and the stratified MMD² with a linear kernel equal their closed forms, and one
    fine-tuning step of a tiny UNet back-propagates through the whole chain to every parameter."""
    import torch
    import mmd_ddm
    diffuse = diffuse_grid("ddim", 5)
    grid = mmd_ddm.VpDiscrete().logsnr_grid(5)
    if max(abs(a - b) for a, b in zip(grid, diffuse)) > 1e-9:
        sys.exit(f"mmd_ddm DDIM grid {grid} differs from Diffuse's {diffuse}")
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 3, generator=gen, dtype=torch.float64), torch.randn(5, 3, generator=gen, dtype=torch.float64)
    sx, sy = x.sum(0), y.sum(0)
    exact = ((sx @ sx - (x * x).sum()) / 42 + (sy @ sy - (y * y).sum()) / 20 - 2 * (sx @ sy) / 35).item()
    got = mmd_ddm.mmd2_unbiased(x, y, lambda a, b: a @ b.T).item()
    if abs(got - exact) > 1e-12:
        sys.exit(f"MMD²_u with a linear kernel: {got}, closed form {exact}")
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    y = torch.randn(7, 3, generator=gen, dtype=torch.float64)

    def within(v):  # Σ_{i≠j} w_ij v_i·v_j, same-class pairs weighted n_c/(n_c − 1)
        s = v.sum(0) @ v.sum(0) - (v * v).sum()
        for c, n in ((0, 2), (1, 3), (2, 2)):
            vc = v[labels == c]
            s = s + (vc.sum(0) @ vc.sum(0) - (vc * vc).sum()) / (n - 1)
        return s
    exact_s = ((within(x) + within(y) - 2 * x.sum(0) @ y.sum(0)) / 49).item()
    got_s = mmd_ddm.mmd2_stratified(x, y, labels, lambda a, b: a @ b.T).item()
    if abs(got_s - exact_s) > 1e-12:
        sys.exit(f"stratified MMD² with a linear kernel: {got_s}, closed form {exact_s}")
    torch.manual_seed(0)
    net = mnist.UNet((8, 16, 16))
    labels = mmd_ddm.cycled_labels(4)
    fake = mmd_ddm.ddim(net, torch.randn(4, 1, 28, 28), labels, grid[::2], mmd_ddm.VpDiscrete())
    phi = mmd_ddm.load_classifier()
    loss = mmd_ddm.mmd2_unbiased(mmd_ddm.features(phi, fake), mmd_ddm.features(phi, torch.rand(4, 1, 28, 28) * 2 - 1))
    loss.backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0]
    if dead:
        sys.exit(f"MMD-DDM step: no finite gradient reaches {', '.join(dead[:5])}")
    print(f"mmd_ddm grid = Diffuse's, linear-kernel MMD²_u {got:.6f} (exact {exact:.6f}), stratified {got_s:.6f} "
          f"(exact {exact_s:.6f}), gradient reaches all "
          f"{len(list(net.parameters()))} tensors")


def check_reflow():
    """training/reflow.py: the pseudo-Huber loss against its closed form, the flow-to-VP time map
    inverting ᾱ exactly, then two Rectified Diffusion steps (U-shaped t, pseudo-Huber) of the shipped
    teacher and one Annealing-Reflow plus one Flow-Guided-Distillation step of a tiny student on 8 pairs."""
    import math
    import torch
    import reflow
    d = torch.tensor([[3.0, 4.0]])
    if abs(reflow.pseudo_huber(d, 0.5).item() - (math.sqrt(25.25) - 0.5)) > 1e-6:
        sys.exit(f"pseudo-Huber of |d| = 5, c = 0.5: {reflow.pseudo_huber(d, 0.5).item()}, expected {math.sqrt(25.25) - 0.5}")
    teacher = reflow.load_unet(reflow.TEACHER)[0]
    guide = reflow.FlowGuide(teacher)
    k = torch.tensor([0, 10, 500, 998])
    ab = mnist.alpha_bar().double()[k]
    s = (1 - ab).sqrt() / (ab.sqrt() + (1 - ab).sqrt())
    if (guide.vp_time(s) - k).abs().max() > 1e-6:
        sys.exit(f"flow time -> VP time: {guide.vp_time(s).tolist()}, expected {k.tolist()}")
    gen = torch.Generator().manual_seed(0)
    pairs = (torch.randn(8, 1, 28, 28, generator=gen), torch.rand(8, 1, 28, 28, generator=gen) * 2 - 1, torch.arange(8) % 10)
    common = ["--pairs", "-", "--out", "-", "--batch", "4", "--log-every", "1"]
    args = reflow.parser().parse_args(["rectified", *common, "--steps", "2", "--timesteps", "u-shaped", "--loss", "pseudo-huber"])
    before = teacher.conv_out.weight.clone()
    student, facts = reflow.rectified_diffusion(args, pairs, log=lambda line: None)
    moved = (student.conv_out.weight - before).abs().max().item()
    args = reflow.parser().parse_args(["slim", *common, "--channels", "8", "16", "16", "--reflow-steps", "1",
                                       "--distill-steps", "1", "--guide", reflow.TEACHER])
    args.steps = args.reflow_steps + args.distill_steps
    slim, slim_facts = reflow.slimflow(args, pairs, log=lambda line: None)
    if not (math.isfinite(facts["final_loss"]) and math.isfinite(slim_facts["final_loss"]) and moved > 0):
        sys.exit(f"reflow steps: losses {facts['final_loss']}, {slim_facts['final_loss']}, weights moved {moved}")
    print(f"reflow: pseudo-Huber exact, VP time map exact, rectified loss {facts['final_loss']:.3f} "
          f"(weights moved {moved:.1e}), slim loss {slim_facts['final_loss']:.3f}")


def check_drakes():
    """training/drakes.py: the soft forward–backward oracle equals brute-force conditionals on hard inputs; at the
    pretrained model the objective's gradient is zero (round-off) with reward weight 0 — the KL term alone keeps
    the model there — and not with weight 1; models/text's weights read from its ONNX file give the held-out bound
    its training recorded."""
    import itertools
    import json
    import numpy as np
    import torch
    import drakes
    chain = drakes.DNA_CHAIN
    V, L = chain["vocabSize"], 5
    init, T = np.array(chain["initial"]), np.array(chain["transition"])
    seqs = np.array(list(itertools.product(range(V), repeat=L)))
    p = init[seqs[:, 0]] * np.prod(T[seqs[:, :-1], seqs[:, 1:]], 1)
    oracle = drakes.ChainOracle(chain)
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    for _ in range(20):
        x = torch.randint(0, V + 1, (L,), generator=gen)
        fits = np.all([(seqs[:, j] == x[j].item()) | (x[j].item() == V) for j in range(L)], 0)
        brute = np.stack([np.bincount(seqs[fits, j], weights=p[fits], minlength=V) for j in range(L)])
        brute /= brute.sum(1, keepdims=True)
        got = oracle(torch.nn.functional.one_hot(x, V + 1).float()[None])[0].exp().double().numpy()
        masked = (x == V).numpy()
        worst = max(worst, float(np.abs(got[masked] - brute[masked]).max(initial=0)))
    if worst > 1e-6:
        sys.exit(f"drakes oracle: conditionals differ from brute force by {worst:.2e}")
    correction = drakes.Correction(V, L)
    tuned = drakes.OracleTuned(oracle, correction)

    def gradient(weight):
        correction.zero_grad()
        s, kl = drakes.trajectory(tuned, oracle, V, L, 64, 4, torch.Generator().manual_seed(1), 1.0, 4)
        (-weight * drakes.cg_count(s).mean() + 0.3 * kl.mean()).backward()
        return max(q.grad.abs().max().item() for q in correction.parameters() if q.grad is not None)
    at_zero, at_one = gradient(0.0), gradient(1.0)
    if not (at_zero < 1e-6 and at_one > 1e-3):
        sys.exit(f"drakes gradient at the pretrained model: {at_zero:.2e} with reward weight 0 (want ~0), {at_one:.2e} with 1")
    model, card = drakes.load_text_model()
    model.eval()
    import text
    chars = card["tokenizer"]["tokens"]
    lines = [np.array([chars.index(c) for c in line]) for line in (ROOT / "models/text/heldout.txt").read_text(encoding="utf-8").splitlines() if line]
    bits = text.heldout_bits(model, lines, card["vocab_size"], 1)
    want = json.loads((ROOT / "models/text/train.json").read_text())["heldout_bits_per_char_pytorch"]
    if abs(bits - want) > 1e-3:
        sys.exit(f"models/text read from text.onnx: held-out bound {bits:.4f} bits/char, its training recorded {want}")
    print(f"drakes: oracle = brute force (max diff {worst:.1e}); gradient at the pretrained model {at_zero:.1e} with reward "
          f"weight 0, {at_one:.1e} with 1; text.onnx weights give {bits:.4f} bits/char (recorded {want})")


def check_drdm():
    """training/drdm.py: integrating a constant velocity k times is k times it; the loss of the exact inverse of a
    translation is zero (and of no recovery is one); the recovery network starts at zero displacement."""
    import torch
    import drdm
    c = torch.zeros(3, 2, 28, 28)
    c[:, 0], c[:, 1] = 0.3, -0.2
    d = drdm.integrate(c, torch.tensor([1, 4, 7]))
    want = torch.tensor([1.0, 4.0, 7.0])[:, None, None] * 0.3
    if (d[:, 0] - want).abs().max() > 1e-5 or (d[:, 1] + want / 1.5).abs().max() > 1e-5:
        sys.exit("drdm: integrating a constant velocity k times is not k times it")
    _, exact = drdm.loss_fn(-c, c)
    _, none = drdm.loss_fn(torch.zeros_like(c), c, eps=0.0)
    out = drdm.RecoveryNet((8, 16, 16))(torch.zeros(2, 1, 28, 28), torch.tensor([1.0, 40.0]))
    if exact.item() > 1e-10 or abs(none.item() - 1) > 1e-6 or out.shape != (2, 2, 28, 28) or out.abs().max() != 0:
        sys.exit(f"drdm: loss of the exact inverse {exact.item()}, of none {none.item()}, network output {tuple(out.shape)}")
    print("drdm: constant-field integration exact, loss 0 for the exact inverse and 1 for none, network starts at zero")


def check_forward_models():
    """training/forward_models.py: its blur is a normalised Gaussian with repeated edges (a constant image stays
    constant, one bright pixel spreads with the std asked for) and its signal network is bounded by tanh."""
    import torch
    import forward_models as fm
    const = fm.blur(torch.full((2, 1, 28, 28), 0.3), torch.tensor([1.0, 2.0]))
    dot = torch.zeros(2, 1, 28, 28)
    dot[:, :, 14, 14] = 1
    spread = fm.blur(dot, torch.tensor([1.0, 2.0]))
    i = torch.arange(28, dtype=torch.float64) - 14
    var = [float((spread[b, 0].double().sum(0) * i * i).sum()) for b in range(2)]
    net = fm.SignalNet((8, 16, 16))
    out = net(torch.randn(2, 1, 28, 28) * 50, torch.tensor([1.0, 900.0]), fm.condition_of(torch.zeros(2, 1, 28, 28), torch.tensor([1.0, 2.0])))
    taps = torch.arange(-fm.RADIUS, fm.RADIUS + 1, dtype=torch.float64)
    want = []
    for s in (1.0, 2.0):  # the variance of the 11-tap kernel (truncated at 5 px)
        k = torch.exp(-taps ** 2 / (2 * s * s))
        want.append(float((k * taps ** 2).sum() / k.sum()))
    if (const - 0.3).abs().max() > 1e-6 or max(abs(v - w) for v, w in zip(var, want)) > 1e-4 or out.abs().max() > 1:
        sys.exit(f"forward_models: constant kept to {(const - 0.3).abs().max():.1e}, variances {var} (want {want}), |x^| max {out.abs().max():.3f}")
    print(f"forward_models: blur keeps constants, spreads a dot with variance {var[0]:.3f} / {var[1]:.3f} px², signal in [-1, 1]")


def check_pixelman():
    """training/pixelman.py: with the target block equal to the source and no masks, the editing graph's target equals
    the source (K/V injection from the same input); a leak-proof mask changes only the target; the plain forward equals
    the editing graph's copy and source blocks."""
    import torch
    import pixelman as pm
    torch.manual_seed(0)
    net = pm.CanvasUNet((8, 16, 16)).eval()
    x = torch.randn(3, 1, pm.SIZE, pm.SIZE)
    x[2] = x[1]
    t = torch.full((3,), 400.0)
    zero = torch.zeros(1, 1, pm.SIZE, pm.SIZE)
    with torch.no_grad():
        plain, _ = net(x, t)
        same, _ = net(x, t, (zero, zero, zero))
        block = torch.zeros_like(zero)
        block[..., :16, :] = 1
        masked, sim = net(x, t, (1 - block, block, block))
    gap = (same[2] - same[1]).abs().max().item()
    kept = max((same[:2] - plain[:2]).abs().max().item(), (masked[:2] - plain[:2]).abs().max().item())
    moved = (masked[2] - same[2]).abs().max().item()
    if gap > 1e-5 or kept > 1e-5 or moved < 1e-4 or abs(sim.sum().item() - 1) > 1e-4:
        sys.exit(f"pixelman: target vs source {gap:.1e}, copy/source vs plain {kept:.1e}, mask effect {moved:.1e}, attention sum {sim.sum().item():.4f}")
    print(f"pixelman: target = source without masks ({gap:.1e}), copy and source blocks = the plain network, the leak-proof mask moves only the target")


def check_quantize():
    """training/quantize.py's weight quantiser: 7 bits stay in -63..63 (what CPUs without VNNI add in 16 bits without
    saturating), 8 bits reach 127, and the MSE clip's error is no larger than max |w|'s on every channel; the layers it
    keeps in float by default are models/mnist's input and output convolutions."""
    import numpy as np
    import quantize
    w = np.random.default_rng(0).standard_t(3, size=(16, 8, 3, 3)).astype(np.float32)
    flat = w.reshape(16, -1)
    errors = {}
    for bits, method, peak in ((7, "maxabs", 63), (7, "mse", 63), (8, "maxabs", 127)):
        q, scale = quantize.quantise_weight(w, bits, method)
        if q.dtype != np.int8 or np.abs(q).max() != peak:
            sys.exit(f"quantise_weight({bits} bits, {method}): |q| reaches {np.abs(q).max()} ({q.dtype}), want {peak}")
        errors[bits, method] = ((q.reshape(16, -1) * scale[:, None] - flat) ** 2).sum(axis=1)
    if (errors[7, "mse"] > errors[7, "maxabs"] * (1 + 1e-6)).any() or not (errors[7, "mse"] < errors[7, "maxabs"]).any():
        sys.exit(f"quantise_weight: the MSE clip's channel errors {errors[7, 'mse']} vs max |w|'s {errors[7, 'maxabs']}")
    import onnx
    ends = quantize.end_layers(onnx.load(str(ROOT / "models" / "mnist" / "mnist.onnx")).graph)
    if ends != ("/conv_in/Conv", "/conv_out/Conv"):
        sys.exit(f"quantize.end_layers of models/mnist: {ends}, want the input and output convolutions")
    print(f"quantize: weights 7-bit within ±63, 8-bit ±127; MSE clip error {errors[7, 'mse'].sum():.4f} vs max |w| "
          f"{errors[7, 'maxabs'].sum():.4f}; float ends {', '.join(ends)}")


def main():
    check_quantize()
    check_timestep_samplers()
    check_mmd_ddm()
    check_reflow()
    check_drakes()
    check_drdm()
    check_forward_models()
    check_pixelman()
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
