"""DRAKES: reward fine-tuning of masked discrete diffusion by back-propagating a differentiable reward
through the sampling trajectory (Wang et al. 2024, "Fine-Tuning Discrete Diffusion Models via Reward
Optimization with Applications to DNA and Protein Design", Alg. 1).

Objective (their eq. 4, with the KL of the paths): maximise over θ
    E_{x_{0:T} ~ p_θ} [ w·r(x_0) − α Σ_t KL(p_θ(x_{t−1} | x_t) ‖ p_pre(x_{t−1} | x_t)) ].
For absorbing diffusion a masked token's step from t to s stays masked with the model-free probability
1 − u and unmasks with u = (α_s − α_t)/(1 − α_t) to a token drawn from the model's p(x_0 | x_t), so each
step's KL is u · Σ_{masked j} KL(p_θ(x_0^j | x_t) ‖ p_pre(x_0^j | x_t)). The tokens drawn along the
trajectory are straight-through Gumbel-softmax samples (hard in the forward pass, the softmax's gradient
in the backward pass); models read soft one-hot inputs, so the reward's gradient reaches every earlier
step. --truncate K back-propagates the reward through the last K steps only (their §4.2); the default is all.

Tasks (from the repository root, one CPU thread):
  markov: the pretrained model is the exact oracle of an order-1 Markov chain over 4 tokens (A C G T,
          CpG-depleted: C→G is rare), L = 6; the fine-tuned model adds a small MLP's logits to the
          oracle's, its last layer zero so training starts at the pretrained law. Reward: the number of
          "CG" motifs (at most 3). One model per KL weight α, each a folder with card.json whose "base" names
          the chain: Diffuse computes their laws exactly (`diffuse reward`).
            /usr/bin/python3 training/drakes.py --task markov --out models/dna-drakes --alphas 0.1,0.2,0.3,0.5,1
  text:   the shipped character model models/text (its weights read from text.onnx), every weight fine-
          tuned; reward: the fraction of characters that are vowels (a e i o u).
            /usr/bin/python3 training/drakes.py --task text --out models/text-drakes --alphas 0.02
--reward-weight 0: the objective's gradient at the pretrained model is zero (up to round-off), so the KL term alone keeps
the model there (training/smoke.py checks it).
"""
import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
OPSET = 17

# The pretrained law of the markov task: tokens A C G T; rows p(next | current); C → G rare (CpG depletion).
DNA_CHAIN = {
    "vocabSize": 4, "order": 1, "initial": [0.3, 0.2, 0.2, 0.3],
    "transition": [[0.4, 0.2, 0.2, 0.2], [0.3, 0.3, 0.05, 0.35], [0.25, 0.25, 0.3, 0.2], [0.2, 0.2, 0.2, 0.4]],
}
DNA_LENGTH = 6
DNA_TOKENS = ["A", "C", "G", "T"]
VOWELS = "aeiou"


class ChainOracle(nn.Module):
    """Exact p(x_0^j = v | unmasked tokens) of an order-1 chain by forward–backward, on soft one-hot inputs:
    position j's evidence for token v is s_j(v) + s_j(mask), exact (0/1) on hard inputs, linear in between."""

    def __init__(self, spec):
        super().__init__()
        self.V = spec["vocabSize"]
        self.register_buffer("init", torch.tensor(spec["initial"], dtype=torch.float64))
        self.register_buffer("T", torch.tensor(spec["transition"], dtype=torch.float64))

    def forward(self, s):
        V = self.V
        e = (s[..., :V] + s[..., V:]).double()
        L = e.shape[1]
        a, x = [], self.init * e[:, 0]
        a.append(x / x.sum(-1, keepdim=True))
        for j in range(1, L):
            x = (a[-1] @ self.T) * e[:, j]
            a.append(x / x.sum(-1, keepdim=True))
        b = [None] * L
        y = torch.ones_like(e[:, 0])
        b[L - 1] = y
        for j in range(L - 2, -1, -1):
            y = (e[:, j + 1] * y) @ self.T.T
            y = y / y.sum(-1, keepdim=True)
            b[j] = y
        post = torch.stack(a, 1) * torch.stack(b, 1)
        return torch.log((post / post.sum(-1, keepdim=True)).clamp_min(1e-30)).float()  # observed positions: finite, unread


class Correction(nn.Module):
    """Logits added to the oracle's: an MLP over the whole (soft one-hot) sequence; last layer zero."""

    def __init__(self, V, L, hidden=128):
        super().__init__()
        self.V, self.L = V, L
        self.net = nn.Sequential(nn.Linear(L * (V + 1), hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, L * V))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, s):
        return self.net(s.flatten(1)).view(-1, self.L, self.V)


class OracleTuned(nn.Module):
    def __init__(self, oracle, correction):
        super().__init__()
        self.oracle, self.correction = oracle, correction

    def forward(self, s):
        return self.oracle(s) + self.correction(s)


class IdsToCorrection(nn.Module):
    """The exported graph: ids [B, L] (mask = V) → the correction's logits [B, L, V]."""

    def __init__(self, correction):
        super().__init__()
        self.correction = correction

    def forward(self, ids):
        return self.correction(F.one_hot(ids, self.correction.V + 1).float())


def soft_text_model(model):
    """The text model's forward pass on soft one-hot inputs (an embedding lookup as a matrix product)."""

    def forward(s):
        h = model.mix(s @ model.tok.weight + model.pos)
        for blk in model.blocks:
            h = blk(h)
        return model.head(model.ln(h))
    return forward


def load_text_model():
    """models/text's MaskedLM with its weights read from text.onnx (the exporter moved each Linear weight into
    a transposed MatMul initializer, in module order)."""
    import text
    import onnx_weights
    card = json.loads((ROOT / "models/text/card.json").read_text())
    weights = onnx_weights.initializers(ROOT / "models/text/text.onnx")
    V = card["vocab_size"]
    model = text.MaskedLM(V, card["length"], 96, 3, 4, 384)
    state = model.state_dict()
    matmuls = sorted((k for k in weights if k.startswith("onnx::MatMul_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    linear = [k for k in state if k.endswith(".weight") and state[k].dim() == 2 and k not in ("tok.weight",)]
    if len(matmuls) != len(linear):
        raise SystemExit(f"text.onnx has {len(matmuls)} MatMul weights, the model {len(linear)} Linear layers")
    new = {}
    for k, v in state.items():
        if k in weights:
            new[k] = torch.from_numpy(weights[k].copy())
    for k, m in zip(linear, matmuls):
        new[k] = torch.from_numpy(weights[m].T.copy())
    missing = [k for k in state if k not in new]
    if missing:
        raise SystemExit(f"weights not found in text.onnx: {missing}")
    for k in state:
        if new[k].shape != state[k].shape:
            raise SystemExit(f"{k}: text.onnx has shape {tuple(new[k].shape)}, the model {tuple(state[k].shape)}")
    model.load_state_dict(new)
    return model, card


def cg_count(s):
    """Soft count of the motif C G (tokens 1, 2) in adjacent positions; exact on hard sequences."""
    return (s[:, :-1, 1] * s[:, 1:, 2]).sum(1)


def vowel_fraction(chars):
    idx = [chars.index(c) for c in VOWELS]
    return lambda s: s[:, :, idx].sum(-1).mean(1)


def trajectory(tuned, pre, V, L, batch, steps, gen, tau, truncate):
    """One batch of ancestral trajectories from all-masked with straight-through Gumbel-softmax tokens;
    returns the final soft one-hot sequences and each row's path KL to the pretrained model."""
    s = torch.zeros(batch, L, V + 1)
    s[..., V] = 1
    kl = torch.zeros(batch)
    for i in range(steps):
        if i <= steps - truncate:
            s = s.detach()  # the reward's gradient reaches only the last `truncate` steps; every step's KL has its own
        u = 1.0 / (steps - i)  # α(t) = 1 − t on the uniform grid t_i = 1 − i/N: (t_i − t_{i+1}) / t_i
        masked = s[..., V].detach() > 0.5
        lp = F.log_softmax(tuned(s), -1)
        lq = F.log_softmax(pre(s), -1)
        kl = kl + u * ((lp.exp() * (lp - lq)).sum(-1) * masked).sum(1)
        g = -torch.log(-torch.log(torch.rand(lp.shape, generator=gen).clamp_min(1e-20)))
        soft = F.softmax((lp + g) / tau, -1)
        hard = F.one_hot(soft.argmax(-1), V).float()
        y = torch.cat([hard + (soft - soft.detach()), torch.zeros(batch, L, 1)], -1)
        unmask = (torch.rand(batch, L, generator=gen) < u) & masked
        s = torch.where(unmask[..., None], y, s)
    return s, kl


def fine_tune(tuned, pre, params, V, L, reward, args, alpha, log):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.Adam(params, lr=args.lr)
    start, hist = time.time(), []
    for step in range(args.iters):
        s, kl = trajectory(tuned, pre, V, L, args.batch, args.steps, gen, args.tau, args.truncate)
        r = reward(s)
        loss = (-args.reward_weight * r + alpha * kl).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        hist.append((r.mean().item(), kl.mean().item()))
        if (step + 1) % 10 == 0:
            rr, kk = np.mean(hist[-10:], 0)
            log(f"α {alpha:g} step {step + 1}: reward {rr:.4f}  path KL {kk:.4f}  {time.time() - start:.0f}s")
    return time.time() - start, np.mean(hist[-25:], 0)


def export(module, example, path):
    torch.onnx.export(module, (example,), str(path), opset_version=OPSET, input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch"}, "logits": {0: "batch"}})


def run_markov(args, out, log):
    V, L = DNA_CHAIN["vocabSize"], DNA_LENGTH
    (out / "chain.json").write_text(json.dumps(DNA_CHAIN) + "\n")
    oracle = ChainOracle(DNA_CHAIN)
    facts = []
    for alpha in args.alphas:
        correction = Correction(V, L)
        tuned = OracleTuned(oracle, correction)
        seconds, (r, kl) = fine_tune(tuned, oracle, list(correction.parameters()), V, L, cg_count, args, alpha, log)
        folder = out / f"alpha-{alpha:g}"
        folder.mkdir(parents=True, exist_ok=True)
        export(IdsToCorrection(correction).eval(), torch.randint(0, V + 1, (2, L)), folder / "correction.onnx")
        card = {
            "format": "diffuse-mlm-card/v1", "onnx": "correction.onnx", "length": L, "vocab_size": V, "mask_id": V,
            "inputs": {"ids": "input_ids"}, "output": "logits", "tokenizer": {"type": "char", "tokens": DNA_TOKENS},
            "base": {"chain": "../chain.json"},
            "fine_tuning": {"method": "drakes", "reward": "motif:CG", "kl_weight": alpha, "steps": args.steps},
            "description": f"DRAKES fine-tuning of the exact oracle of chain.json for the CG-motif count, KL weight {alpha:g}: "
                           "logits added to the oracle's; made by training/drakes.py --task markov",
        }
        (folder / "card.json").write_text(json.dumps(card, indent=1) + "\n")
        facts.append({"alpha": alpha, "train_seconds": round(seconds, 1), "final_reward": round(float(r), 4),
                      "final_path_kl": round(float(kl), 4)})
    return facts


def run_text(args, out, log):
    model, card = load_text_model()
    chars = card["tokenizer"]["tokens"]
    V, L = card["vocab_size"], card["length"]
    pre_model, _ = load_text_model()
    pre_model.eval()
    for p in pre_model.parameters():
        p.requires_grad_(False)
    pre = soft_text_model(pre_model)
    facts = []
    for alpha in args.alphas:
        tuned_model, _ = load_text_model()
        tuned_model.train()
        seconds, (r, kl) = fine_tune(soft_text_model(tuned_model), pre, list(tuned_model.parameters()), V, L,
                                     vowel_fraction(chars), args, alpha, log)
        folder = out if len(args.alphas) == 1 else out / f"alpha-{alpha:g}"
        folder.mkdir(parents=True, exist_ok=True)
        tuned_model.eval()
        export(tuned_model, torch.randint(0, V + 1, (2, L)), folder / "text.onnx")
        pretrained = os.path.relpath(ROOT / "models/text/card.json", folder.resolve())
        new_card = dict(card, onnx="text.onnx",
                        fine_tuning={"method": "drakes", "reward": "class:" + VOWELS, "kl_weight": alpha, "steps": args.steps,
                                     "pretrained": pretrained},
                        description=f"DRAKES fine-tuning of models/text for the fraction of vowels, KL weight {alpha:g}; "
                                    "made by training/drakes.py --task text")
        (folder / "card.json").write_text(json.dumps(new_card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        facts.append({"alpha": alpha, "train_seconds": round(seconds, 1), "final_reward": round(float(r), 4),
                      "final_path_kl": round(float(kl), 4)})
    return facts


def write_readme(out, command, settings, facts, markov):
    what = ("the exact oracle of chain.json (tokens A C G T, C → G rare, L = 6) fine-tuned for the number of CG motifs; "
            "each alpha-α/ folder holds the logits an MLP adds to the oracle's (card field `base`)") if markov else \
        "models/text (character-level masked diffusion) with every weight fine-tuned for the fraction of vowels"
    rows = "\n".join(f"| {m['alpha']:g} | {m['final_reward']:.4f} | {m['final_path_kl']:.4f} | {m['train_seconds']:.0f} |" for m in facts)
    (out / "README.md").write_text(
        f"# DRAKES reward fine-tuning\n\n{what[0].upper() + what[1:]}.\nMade by `training/drakes.py` (see its docstring) on CPU, one thread:\n\n    {command}\n\n"
        f"Settings: {', '.join(f'{k} {v}' for k, v in settings.items())}.\n\n"
        "| KL weight α | training reward (last 10 steps) | training path KL | seconds |\n|---|---|---|---|\n" + rows + "\n\n"
        "Measured exactly or by sampling in TypeScript: `diffuse reward --model onnx:<card.json>`; results in "
        "docs/restoration-results.md (section 8).\n", encoding="utf-8")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=["markov", "text"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--alphas", default="0.3", help="comma-separated KL weights α, one model each")
    p.add_argument("--reward-weight", type=float, default=1.0)
    p.add_argument("--iters", type=int, default=None, help="fine-tuning steps (default: markov 1000, text 150)")
    p.add_argument("--batch", type=int, default=None, help="trajectories per step (default: markov 128, text 16)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps N (default: markov 8, text 16)")
    p.add_argument("--truncate", type=int, default=None, help="back-propagate the reward through the last K steps only (default: all)")
    p.add_argument("--tau", type=float, default=1.0, help="Gumbel-softmax temperature")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: markov 1e-3, text 5e-4)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    markov = args.task == "markov"
    defaults = {"iters": (1000, 150), "batch": (128, 16), "steps": (8, 16), "lr": (1e-3, 5e-4)}
    for k, (a, b) in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, a if markov else b)
    args.truncate = args.steps if args.truncate is None else min(args.truncate, args.steps)
    args.alphas = [float(a) for a in args.alphas.split(",")]
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, flush=True)
    facts = (run_markov if markov else run_text)(args, out, log)
    settings = {k: getattr(args, k) for k in ("iters", "batch", "steps", "truncate", "tau", "lr", "seed", "reward_weight")}
    command = " ".join(["/usr/bin/python3", "training/drakes.py"] + sys.argv[1:])
    (out / "train.json").write_text(json.dumps({"command": command, **settings, "models": facts}, indent=1) + "\n")
    write_readme(out, command, settings, facts, markov)
    print(json.dumps(facts), flush=True)


if __name__ == "__main__":
    main()
