"""Load a network exported by training/mnist.py back into PyTorch from its ONNX file.

The shipped models keep only the .onnx (the PyTorch weights are not in the repository), so the
recipes that fine-tune or distil the shipped MNIST model (the training-for-speed recipes)
rebuild its PyTorch UNet from the ONNX initializers:
- parameters exported under their own names (`down1.conv1.weight`, ...) are copied as they are;
- GroupNorm's affine weight and bias become anonymous initializers (`onnx::Mul_432`) fed to the
  Mul and Add nodes of the norm's scope (`/down1/norm1/Mul`), so the scope names the module;
- the time embedding's frequency buffer is recomputed by the UNet itself (and checked).
Checked: the rebuilt shipped model matches ONNX Runtime within 2.7e-6 (training/check_onnx.ts on
random inputs at four times); training/torch_sample.py (the speed baseline) loads it the same way.
"""
import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from mnist import TRAIN_STEPS, UNet


def onnx_state(path):
    """{state_dict key: array} recovered from the initializers of an ONNX export of the UNet."""
    model = onnx.load(str(path))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state = {k: v for k, v in arrays.items() if not k.startswith("onnx::")}
    for node in model.graph.node:
        parts = node.name.strip("/").split("/")
        if len(parts) < 2 or node.op_type not in ("Mul", "Add") or not parts[-2].startswith("norm"):
            continue
        anonymous = [i for i in node.input if i.startswith("onnx::")]
        if len(anonymous) == 1:
            key = ".".join(parts[:-1]) + (".weight" if node.op_type == "Mul" else ".bias")
            state[key] = arrays[anonymous[0]].reshape(-1)
    return state


def load_unet(card_path):
    """(UNet in eval mode, card, source) for a models/<name>/card.json written by training/mnist.py: the
    recipe's PyTorch checkpoint mnist.pt next to the card when present, else the ONNX initializers."""
    card_path = Path(card_path)
    card = json.loads(card_path.read_text())
    state = onnx_state(card_path.parent / card["onnx"])
    channels = (state["conv_in.weight"].shape[0], state["down2.conv1.weight"].shape[0], state["mid1.conv1.weight"].shape[0])
    flow = card["process"]["name"] == "flow"
    model = UNet(channels, time_scale=TRAIN_STEPS if flow else 1.0)
    checkpoint = card_path.parent / "mnist.pt"
    if checkpoint.exists():
        model.load_state_dict(torch.load(checkpoint))
        model.eval()
        return model, card, "checkpoint"
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state and k != "time.freqs")
    if missing:
        raise ValueError(f"{card_path}: the ONNX file lacks weights for {', '.join(missing[:5])}")
    model.load_state_dict({k: torch.from_numpy(np.array(state[k])).reshape(own[k].shape) if k in state else own[k]
                           for k in own})
    model.eval()
    return model, card, "onnx initializers"
