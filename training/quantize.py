"""Post-training int8 quantisation of an ONNX denoiser, PTQ4DM-style (Shang et al., CVPR 2023).

Two steps around Diffuse's `calibrate` command (which runs the model, so the calibration data are the
full-precision model's own denoising trajectory at times drawn by NDTC, the paper's Sec. 4.2):

    /usr/bin/python3 training/quantize.py augment --model models/mnist/mnist.onnx --out .tmp/quant/mnist-aug.onnx
    npx diffuse calibrate --model onnx:models/mnist/card.json --augmented .tmp/quant/mnist-aug.onnx --n 64 --out .tmp/quant/calib-ndtc.json
    /usr/bin/python3 training/quantize.py build --model models/mnist/card.json --calib .tmp/quant/calib-ndtc.json --range mse --out models/mnist-int8

`augment` writes a copy of the graph that also outputs every tensor to be quantised: the activation
inputs of Conv / Gemm / MatMul nodes and their outputs (except the network's own output). `build`
writes a QDQ graph (QuantizeLinear -> DequantizeLinear pairs), which ONNX Runtime fuses into integer
kernels (QLinearConv, ...):
  - activations: uint8, asymmetric, one scale and zero point per tensor, the range taken from the
    calibration statistics (--range minmax | percentile | mse) and widened to contain 0 so that zero
    padding is exact;
  - weights: int8, symmetric (zero point 0), one scale per output channel, range max |w| (PTQ4DM's
    channel-wise weight quantiser), levels -127..127;
  - biases: int32 with scale s_x * s_w[c] (what integer kernels accumulate in);
  - the network output stays float (PTQ4DM keeps the output unquantised).
Needs Debian's python3-onnx and numpy only (there is no onnxruntime for python here: the result is
checked in ONNX Runtime Node by bench/quant-results.ts).
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QUANTISED_OPS = ("Conv", "Gemm", "MatMul")
CALIBRATION_FORMAT = "diffuse-calibration/v1"


def weight_inputs(node):
    """Indices of a node's inputs that are weights (quantised per channel) or biases."""
    if node.op_type in ("Conv", "Gemm"):
        return {1: "weight", 2: "bias"}
    return {}


def quantised(node, keep_float=()):
    """Whether a node is quantised: a Conv / Gemm / MatMul not named (by op type or node name) in keep_float."""
    return node.op_type in QUANTISED_OPS and node.op_type not in keep_float and node.name not in keep_float


def activation_tensors(graph, keep_float=()):
    """(inputs, outputs): names of the float activations around every quantised node, in graph order."""
    initializers = {i.name for i in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    inputs, outputs = [], []
    for node in graph.node:
        if not quantised(node, keep_float):
            continue
        roles = weight_inputs(node)
        for k, name in enumerate(node.input):
            if name and k not in roles and name not in initializers and name not in inputs:
                inputs.append(name)
        for name in node.output:
            if name not in graph_outputs and name not in outputs:
                outputs.append(name)
    return inputs, outputs


def augment(args):
    model = onnx.load(args.model)
    inputs, outputs = activation_tensors(model.graph)
    names = inputs + [o for o in outputs if o not in inputs]
    existing = {o.name for o in model.graph.output}
    for name in names:
        if name not in existing:
            # Rank unknown (shape inference loses it after the graph's Reshapes); ONNX Runtime accepts that.
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.out)
    print(json.dumps({"augmented": args.out, "tensors": len(names), "conv_gemm_inputs": len(inputs), "outputs": len(outputs)}))


def activation_params(stats, name, method):
    """uint8 scale and zero point for a tensor's calibrated range [lo, hi], widened to contain 0."""
    if name not in stats:
        sys.exit(f"the calibration file has no statistics for tensor {name!r}: was it made from this model's augmented graph?")
    s = stats[name]
    lo, hi = (s["min"], s["max"]) if method == "minmax" else (s[method]["lo"], s[method]["hi"])
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zero_point = int(np.clip(np.round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zero_point)


def quantise_weight(w):
    """Symmetric int8 per output channel (axis 0): q = round(w / s_c), s_c = max|w_c| / 127."""
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.where(flat > 0, flat / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.round(w / scale.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, scale


def topological_order(nodes, available):
    """Nodes ordered so that each comes after the producers of its inputs (Kahn's algorithm, stable)."""
    available = set(available)
    pending, ordered = list(nodes), []
    while pending:
        ready = [n for n in pending if all(not i or i in available for i in n.input)]
        if not ready:
            sys.exit(f"the graph has a cycle or an input no node produces (near {pending[0].name})")
        for n in ready:
            ordered.append(n)
            available.update(n.output)
        pending = [n for n in pending if n not in ready]
    return ordered


def build(args):
    card_path = Path(args.model)
    card = json.loads(card_path.read_text())
    model = onnx.load(card_path.parent / card["onnx"])
    calib = json.loads(Path(args.calib).read_text())
    if calib.get("format") != CALIBRATION_FORMAT:
        sys.exit(f"{args.calib}: not a calibration file (format must be {CALIBRATION_FORMAT!r}; made by `diffuse calibrate`)")
    stats = calib["tensors"]
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    keep_float = tuple(k for k in args.keep_float.split(",") if k)
    act_inputs, act_outputs = activation_tensors(g, keep_float)
    tensors = act_inputs + [o for o in act_outputs if o not in act_inputs]
    params = {name: activation_params(stats, name, args.range) for name in tensors}

    new_inits, new_nodes = [], []
    dq_name = {}

    def add_qdq(name):
        scale, zp = params[name]
        s, z, q, dq = f"{name}_scale", f"{name}_zero_point", f"{name}_quantized", f"{name}_dequantized"
        new_inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), s))
        new_inits.append(numpy_helper.from_array(np.array(zp, dtype=np.uint8), z))
        new_nodes.append(helper.make_node("QuantizeLinear", [name, s, z], [q], name=f"{name}_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [q, s, z], [dq], name=f"{name}_DequantizeLinear"))
        dq_name[name] = dq

    for name in tensors:
        add_qdq(name)

    replaced = set()
    for node in g.node:
        if not quantised(node, keep_float):
            continue
        if node.op_type == "Gemm":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("transB", 0) != 1 or attrs.get("transA", 0) != 0:
                sys.exit(f"Gemm {node.name}: only transB=1, transA=0 (weights [out, in]) is handled")
        x_scale = params[node.input[0]][0]
        w_name = node.input[1]
        if w_name not in inits:
            sys.exit(f"{node.op_type} {node.name}: its weight {w_name!r} is not an initializer")
        q, w_scale = quantise_weight(numpy_helper.to_array(inits[w_name]).astype(np.float32))
        new_inits += [
            numpy_helper.from_array(q, f"{w_name}_quantized"),
            numpy_helper.from_array(w_scale, f"{w_name}_scale"),
            numpy_helper.from_array(np.zeros(len(w_scale), dtype=np.int8), f"{w_name}_zero_point"),
        ]
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{w_name}_quantized", f"{w_name}_scale", f"{w_name}_zero_point"],
                                          [f"{w_name}_dequantized"], name=f"{w_name}_DequantizeLinear", axis=0))
        replaced.add(w_name)
        node.input[1] = f"{w_name}_dequantized"
        if len(node.input) > 2 and node.input[2]:
            b_name = node.input[2]
            bias = numpy_helper.to_array(inits[b_name]).astype(np.float64)
            b_scale = (np.float64(x_scale) * w_scale.astype(np.float64)).astype(np.float32)
            qb = np.clip(np.round(bias / b_scale), -2**31, 2**31 - 1).astype(np.int32)
            new_inits += [
                numpy_helper.from_array(qb, f"{b_name}_quantized"),
                numpy_helper.from_array(b_scale, f"{b_name}_scale"),
                numpy_helper.from_array(np.zeros(len(b_scale), dtype=np.int32), f"{b_name}_zero_point"),
            ]
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{b_name}_quantized", f"{b_name}_scale", f"{b_name}_zero_point"],
                                              [f"{b_name}_dequantized"], name=f"{b_name}_DequantizeLinear", axis=0))
            replaced.add(b_name)
            node.input[2] = f"{b_name}_dequantized"

    # Every consumer of a quantised tensor reads its dequantised copy (the tensor lives as uint8).
    for node in g.node:
        for k, name in enumerate(node.input):
            if name in dq_name:
                node.input[k] = dq_name[name]
    ordered = topological_order(list(g.node) + new_nodes, {i.name for i in g.input} | {i.name for i in g.initializer} | {i.name for i in new_inits})
    del g.node[:]
    g.node.extend(ordered)
    kept = [i for i in g.initializer if i.name not in replaced]
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    onnx.checker.check_model(model)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_name = f"{out.name}.onnx"
    onnx.save(model, out / onnx_name)
    times = calib.get("times", {})
    new_card = dict(card)
    new_card["onnx"] = onnx_name
    new_card["description"] = (
        f"int8 QDQ post-training quantisation of {card_path.parent.name} (PTQ4DM-style: weights int8 per channel, "
        f"activations uint8 per tensor, {args.range} ranges from {calib.get('n')} calibration samples at "
        f"{times.get('method')} times); recipe training/quantize.py"
    )
    (out / "card.json").write_text(json.dumps(new_card, indent=2) + "\n")
    print(json.dumps({"onnx": str(out / onnx_name), "bytes": (out / onnx_name).stat().st_size, "activations": len(tensors),
                      "weights": len(replaced), "range": args.range}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("augment", help="copy of the graph that also outputs the tensors to quantise")
    a.add_argument("--model", required=True, help="the float ONNX file")
    a.add_argument("--out", required=True, help="augmented ONNX file to write")
    b = sub.add_parser("build", help="QDQ int8 model and its card from calibration statistics")
    b.add_argument("--model", required=True, help="the float model's card.json")
    b.add_argument("--calib", required=True, help="statistics written by `diffuse calibrate`")
    b.add_argument("--range", choices=("minmax", "percentile", "mse"), default="mse", help="which calibrated range to use")
    b.add_argument("--keep-float", default="", help="comma-separated op types or node names to leave in float, e.g. Gemm")
    b.add_argument("--out", required=True, help="directory for <dir-name>.onnx and card.json")
    args = p.parse_args()
    augment(args) if args.command == "augment" else build(args)


if __name__ == "__main__":
    main()
