"""MMD-DDM: fine-tune the shipped MNIST model for a fixed budget of DDIM steps (Aiello, Valsesia & Magli
2023, "Fast Inference in Denoising Diffusion Models via MMD Finetuning").

The teacher's weights θ are fine-tuned so that the samples x̂_0 = DDIM_θ(x_T) of T' deterministic DDIM
steps match the data under the squared maximum mean discrepancy of a feature map φ:
    L(θ) = MMD²_u(φ(DDIM_θ(x_T)), φ(x_0)),  x_T ~ N(0, I),  x_0 ~ data,
with the gradient taken through the whole sampling chain (the authors' code, github.com/diegovalsesia/
MMD-DDM, keeps every step in the graph). As in the paper, and in its code:
- the unbiased estimator MMD²_u (Gretton et al. 2012, Lemma 6) with the polynomial kernel of KID,
  k(a, b) = (a·b / d + 1)³ (Bińkowski et al. 2018), on features of a pretrained classifier (the paper:
  Inception-V3 or CLIP; here the shipped MNIST classifier models/mnist-classifier, whose 128-wide
  penultimate layer is ALSO what `diffuse eval`'s Fréchet distance reads: the loss optimises the
  metric's own features, as the paper's Inception-MMD does FID's — see docs/mmd-ddm.md for the checks
  made against a gamed metric);
- Adam at 5e-6, gradient-norm clipping at 0.5, no EMA (the fine-tuned weights themselves are exported),
  a fresh batch of x_T and of real images at each step, samples clamped to the data range before φ.
Class-conditional here (the paper's models are not): the generated batch cycles through the labels
from a random offset and the real batch draws, for each generated label, a real digit of that class,
so both batches have the same label histogram; the MMD is taken over the whole batch (not per class),
with same-class pairs reweighted so that this stratified draw leaves it unbiased (`mmd2_stratified`).

The sampler is exactly Diffuse's `ddim` (η = 0) on its default grid for the card's vp-discrete process:
uniform in log-SNR λ from t = 999 to t = 0 (T' times), then t = −1 (σ = 0), where between integer
timesteps σ/α is linear in t (src/grid/basic.ts `logsnr`, src/process/vp-discrete.ts). `sample`
reproduces it in PyTorch so the two can be compared from the same z (`diffuse sample --z`).

From the repository root (Debian python3-torch on CPU, one thread):
    /usr/bin/python3 training/mmd_ddm.py train --out models/mnist-mmd --ddim-steps 5 --iters 150 --seed 0
    /usr/bin/python3 training/mmd_ddm.py sample --card models/mnist/card.json --ddim-steps 5 --z Z.npy --out X.npy
    /usr/bin/python3 training/mmd_ddm.py pixel-check A.npy B.npy ...   (samples drawn with labels 0..9 cycled)
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classifier import Classifier  # noqa: E402
from mnist import NUM_CLASSES, alpha_bar, card_for, check_cases, check_onnx, export, load_digits  # noqa: E402
from teacher import load_unet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER = ROOT / "models" / "mnist-classifier"


class VpDiscrete:
    """The card's process as Diffuse builds it: ᾱ_i (float32, diffusers' linear betas) at t = 0 … 999,
    ᾱ = 1 at t = −1, σ_VE = √((1 − ᾱ)/ᾱ) linear in t between integer timesteps."""

    def __init__(self):
        abar = alpha_bar().double().numpy()
        self.abar = abar
        self.t_max = len(abar) - 1
        self.sigma_ve = np.concatenate([[0.0], np.sqrt((1 - abar) / abar)])  # index t + 1
        self.log_snr_table = 0.5 * (np.log(abar) - np.log1p(-abar))

    def sigma_ve_at(self, t):
        u = t + 1
        i = min(int(np.floor(u)), len(self.sigma_ve) - 2)
        w = u - i
        return (1 - w) * self.sigma_ve[i] + w * self.sigma_ve[i + 1]

    def log_snr(self, t):
        if float(t).is_integer() and t >= 0:
            return self.log_snr_table[int(t)]
        return -np.log(self.sigma_ve_at(t))

    def t_of_log_snr(self, lam):
        """Exact inverse of the piecewise-linear σ_VE(t)."""
        s = np.exp(-lam)
        tab = self.sigma_ve
        if s >= tab[-1]:
            return float(self.t_max)
        hi = int(np.searchsorted(tab, s, side="right"))
        lo = hi - 1
        return lo - 1 + (s - tab[lo]) / (tab[hi] - tab[lo])

    def alpha_sigma(self, t):
        if t == -1:
            return 1.0, 0.0
        if float(t).is_integer():
            ab = self.abar[int(t)]
        else:
            s = self.sigma_ve_at(t)
            ab = 1 / (1 + s * s)
        return np.sqrt(ab), np.sqrt(1 - ab)

    def logsnr_grid(self, steps):
        """Diffuse's default grid for `ddim`: {type: 'logsnr', end: 'zero'} — `steps` times uniform in λ
        from t_max to t = 0 (DPM-Solver's skip_type="logSNR", Lu et al. 2022, §3.3), then t = −1."""
        lams = np.linspace(self.log_snr(self.t_max), self.log_snr(0), steps)
        return [self.t_of_log_snr(lam) for lam in lams] + [-1.0]


def ddim(model, x, labels, times, process):
    """Deterministic DDIM (Song et al. 2021, Eq. 12 with η = 0) over `times`:
    x̂0 = (x − σ_t ε̂)/α_t,  x_s = α_s x̂0 + σ_s ε̂; the last step (σ_s = 0) returns x̂0.
    x is carried in float64 (as Diffuse does; the network reads float32), since x̂0 divides by α_t = 0.0064
    at t = 999. Differentiable: the graph keeps every step (MMD-DDM back-propagates through the whole chain)."""
    n = x.shape[0]
    x = x.double()
    for t, s in zip(times[:-1], times[1:]):
        a_t, s_t = process.alpha_sigma(t)
        a_s, s_s = process.alpha_sigma(s)
        eps = model(x.float(), torch.full((n,), float(t)), labels).double()
        x0 = (x - s_t * eps) / a_t
        x = a_s * x0 + s_s * eps
    return x.float()


def load_classifier():
    """The shipped classifier rebuilt in PyTorch from its ONNX initializers (all named after the modules)."""
    card = json.loads((CLASSIFIER / "card.json").read_text())
    graph = onnx.load(str(CLASSIFIER / card["onnx"])).graph
    state = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    net = Classifier()
    net.load_state_dict(state)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def features(classifier, x):
    """φ(x): the classifier's penultimate-layer features of x clamped to the data range [-1, 1]
    (as `diffuse eval` clamps before classifying), in float64 for the kernel sums."""
    return classifier(x.clamp(-1, 1))[1].double()


def poly_kernel(a, b):
    """KID's kernel k(a, b) = (a·b/d + 1)³ (Bińkowski et al. 2018, with γ = 1/d, c = 1)."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def mmd2_unbiased(x, y, kernel=poly_kernel):
    """MMD²_u (Gretton et al. 2012, Lemma 6): within-set sums without the diagonal, cross sum in full."""
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    return ((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
            - 2 * kxy.mean())


def mmd2_stratified(x, y, labels, kernel=poly_kernel):
    """MMD²_u for two sets drawn with the same label sequence (x_i and y_i both of class labels[i]).
    The plain MMD²_u is biased then: its within-set sums hold n_c(n_c − 1) same-class pairs where
    independent draws from the label mixture would give n_c², so its expectation rewards within-class
    similarity (measured on real-vs-real batches of 64: mean −902 instead of 0). Weighting each
    same-class pair by n_c/(n_c − 1) makes E[Σ_{i≠j} w_ij k(x_i, x_j)] = m² ‖μ̄‖², μ̄ the mixture's mean
    embedding, so the estimate is unbiased for the MMD² between the two label-weighted mixtures."""
    m = x.shape[0]
    counts = torch.bincount(labels, minlength=NUM_CLASSES).double()
    same = labels[:, None] == labels[None, :]
    w = torch.where(same, (counts / (counts - 1).clamp(min=1))[labels][:, None].expand(m, m), torch.ones(m, m, dtype=torch.float64))
    w.fill_diagonal_(0)
    return ((w * kernel(x, x)).sum() + (w * kernel(y, y)).sum()) / (m * m) - 2 * kernel(x, y).mean()


class RealBatches:
    """Real digits drawn per label, so the real batch has the generated batch's label histogram."""

    def __init__(self, images, labels):
        self.images = images
        self.by_class = [torch.nonzero(labels == c).flatten() for c in range(NUM_CLASSES)]

    def draw(self, labels, gen):
        idx = [self.by_class[c][torch.randint(len(self.by_class[c]), (1,), generator=gen)].item() for c in labels.tolist()]
        return self.images[idx]


def cycled_labels(n, offset=0):
    return (torch.arange(n) + offset) % NUM_CLASSES


def train(args, log=print):
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model, card, source = load_unet(args.card)
    model.train()
    classifier = load_classifier()
    images, labels = load_digits()
    real = RealBatches(images, labels)
    process = VpDiscrete()
    times = process.logsnr_grid(args.ddim_steps)
    log(f"teacher {args.card} ({source}); DDIM grid {[round(t, 3) for t in times]}")
    # a fixed validation set: z and labels of `val` samples, features of a fixed set of real digits
    val_gen = torch.Generator().manual_seed(args.seed + 1000)
    val_z = torch.randn(args.val, 1, 28, 28, generator=val_gen)
    val_labels = cycled_labels(args.val)
    with torch.no_grad():
        val_real = features(classifier, real.draw(val_labels, val_gen))

    def validate():
        with torch.no_grad():
            x = torch.cat([ddim(model, val_z[i:i + 250], val_labels[i:i + 250], times, process)
                           for i in range(0, args.val, 250)])
            return mmd2_stratified(features(classifier, x), val_real, val_labels).item()

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    history = [{"iter": 0, "val_mmd2": validate()}]
    log(f"iter 0  val MMD² {history[0]['val_mmd2']:.4f}")
    started, losses = time.time(), []
    for it in range(1, args.iters + 1):
        y = cycled_labels(args.batch, int(torch.randint(NUM_CLASSES, (1,), generator=gen)))
        x_T = torch.randn(args.batch, 1, 28, 28, generator=gen)
        x_real = real.draw(y, gen)
        fake = ddim(model, x_T, y, times, process)
        loss = mmd2_stratified(features(classifier, fake), features(classifier, x_real), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        losses.append(loss.item())
        if it % args.log_every == 0 or it == args.iters:
            row = {"iter": it, "train_mmd2": float(np.mean(losses[-args.log_every:])), "seconds": time.time() - started}
            if it % args.val_every == 0 or it == args.iters:
                row["val_mmd2"] = validate()
            history.append(row)
            log(f"iter {it}/{args.iters}  train MMD² {row['train_mmd2']:.4f}"
                + (f"  val MMD² {row['val_mmd2']:.4f}" if "val_mmd2" in row else "") + f"  {row['seconds']:.0f} s")
    model.eval()
    return model, {"seconds": time.time() - started, "history": history, "grid": times}


def run_train(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, facts = train(args, log=lambda line: print(line, flush=True))
    export(model, out / "mnist.onnx")
    teacher = Path(args.card).resolve()
    teacher = teacher.relative_to(ROOT) if ROOT in teacher.parents else teacher
    description = (f"MMD-DDM fine-tune of {teacher} for {args.ddim_steps} DDIM steps (Diffuse's ddim default grid): "
                   f"{args.iters} iterations of batch {args.batch}, Adam {args.lr:g}, clip {args.clip:g}, polynomial-kernel "
                   f"MMD on models/mnist-classifier features, seed {args.seed}; recipe training/mmd_ddm.py")
    (out / "card.json").write_text(json.dumps(card_for("eps", description), indent=2) + "\n")
    cases = out / "check_cases.json"
    cases.write_text(json.dumps(check_cases(model, "eps", torch.Generator().manual_seed(args.seed + 1))))
    try:
        facts["onnx_max_abs_diff"] = check_onnx(out / "card.json", cases, args.tolerance)
    finally:
        cases.unlink()
    (Path(args.log_json) if args.log_json else out / "train_log.json").write_text(json.dumps(facts, indent=1) + "\n")
    print(json.dumps({k: v for k, v in facts.items() if k != "history"}))


def run_sample(args):
    """PyTorch DDIM from standard-normal z [n, 784] (labels 0..9 cycled), to compare with Diffuse's `--z`."""
    torch.set_num_threads(args.threads)
    model, _, _ = load_unet(args.card)
    process = VpDiscrete()
    z = torch.from_numpy(np.load(args.z)).float().view(-1, 1, 28, 28)
    with torch.no_grad():
        x = ddim(model, z, cycled_labels(len(z)), process.logsnr_grid(args.ddim_steps), process)
    np.save(args.out, x.double().view(len(z), -1).numpy())


def run_pixel_check(args):
    """A check in pixel space (no classifier): MMD² with a Gaussian kernel on raw pixels (bandwidth: the
    median distance between the reference digits) of each sample file (labels 0..9 cycled) vs `--real`
    real digits with the same labels, over all classes (`mmd2_stratified`) and per class (MMD²_u, averaged);
    the floor is a second, disjoint set of real digits with the same labels."""
    images, labels = load_digits()
    gen = torch.Generator().manual_seed(0)
    perm = [torch.nonzero(labels == c).flatten()[torch.randperm(int((labels == c).sum()), generator=gen)]
            for c in range(NUM_CLASSES)]
    y = cycled_labels(args.real)
    per = args.real // NUM_CLASSES

    def pick(half):
        idx = torch.empty(args.real, dtype=torch.int64)
        for c in range(NUM_CLASSES):
            idx[y == c] = perm[c][half * per:(half + 1) * per]
        return images[idx].view(args.real, -1).double()

    ref, floor = pick(0), pick(1)
    bandwidth = torch.cdist(ref, ref).median().item()

    def kernel(a, b):
        return torch.exp(-torch.cdist(a, b) ** 2 / (2 * bandwidth ** 2))

    def score(x):
        per_class = [mmd2_unbiased(x[y == c], ref[y == c], kernel).item() for c in range(NUM_CLASSES)]
        return {"pixel_mmd2": mmd2_stratified(x, ref, y, kernel).item(), "pixel_mmd2_per_class": float(np.mean(per_class))}

    rows = {"real digits (floor)": score(floor)}
    for path in args.samples:
        x = torch.from_numpy(np.load(path)).double().reshape(-1, 28 * 28).clamp(-1, 1)
        if len(x) != args.real:
            sys.exit(f"{path} has {len(x)} samples; --real is {args.real} (give as many, drawn with labels 0..9 cycled)")
        rows[path] = score(x)
    print(json.dumps({"bandwidth": bandwidth, "real": args.real, "rows": rows}, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="fine-tune, export to ONNX with its card, check against ONNX Runtime")
    t.add_argument("--card", default="models/mnist/card.json", help="the teacher's card")
    t.add_argument("--out", required=True, help="folder for mnist.onnx and card.json")
    t.add_argument("--ddim-steps", type=int, default=5, help="the step budget T' of the DDIM sampler")
    t.add_argument("--iters", type=int, default=300)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-6, help="Adam learning rate (the paper's 5e-6)")
    t.add_argument("--clip", type=float, default=0.5, help="gradient-norm clipping (the paper's code: 0.5)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--val", type=int, default=250, help="fixed validation samples for the logged MMD²")
    t.add_argument("--val-every", type=int, default=50)
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--log-json", help="where the training history goes (default OUT/train_log.json)")
    t.add_argument("--tolerance", type=float, default=1e-4, help="largest ONNX Runtime vs PyTorch difference accepted")
    s = sub.add_parser("sample", help="PyTorch DDIM on Diffuse's grid from z.npy (labels 0..9 cycled)")
    s.add_argument("--card", required=True)
    s.add_argument("--ddim-steps", type=int, required=True)
    s.add_argument("--z", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, default=1)
    c = sub.add_parser("pixel-check", help="pixel-space MMD of sample files (labels 0..9 cycled) vs real digits")
    c.add_argument("samples", nargs="+")
    c.add_argument("--real", type=int, default=500)
    args = p.parse_args()
    {"train": run_train, "sample": run_sample, "pixel-check": run_pixel_check}[args.command](args)


if __name__ == "__main__":
    main()
