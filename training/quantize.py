"""Post-training int8 quantisation of an ONNX denoiser, PTQ4DM-style (Shang et al., CVPR 2023).

Two steps around Diffuse's `calibrate` command (which runs the model, so the calibration data are the
full-precision model's own denoising trajectory at times drawn by NDTC, the paper's Sec. 4.2):

    /usr/bin/python3 training/quantize.py augment --model models/mnist/mnist.onnx --out .tmp/quant/mnist-aug.onnx
    npx diffuse calibrate --model onnx:models/mnist/card.json --augmented .tmp/quant/mnist-aug.onnx --n 64 --out .tmp/quant/calib-ndtc.json
    /usr/bin/python3 training/quantize.py build --model models/mnist/card.json --calib .tmp/quant/calib-ndtc.json --range mse --out .tmp/quant/first/mnist-int8
    npx diffuse calibrate --model onnx:models/mnist/card.json --quantized .tmp/quant/first/mnist-int8/card.json --n 64 --out .tmp/quant/bias-ndtc.json
    /usr/bin/python3 training/quantize.py build --model models/mnist/card.json --calib .tmp/quant/calib-ndtc.json --range mse --bias-correction .tmp/quant/bias-ndtc.json --out models/mnist-int8

`augment` writes a copy of the graph that also outputs every tensor to be quantised: the activation
inputs of Conv / Gemm / MatMul nodes and their outputs (except the network's own output). `build`
writes a QDQ graph (QuantizeLinear -> DequantizeLinear pairs), which ONNX Runtime fuses into integer
kernels (QLinearConv, ...):
  - activations: uint8, asymmetric, one scale and zero point per tensor, the range taken from the
    calibration statistics (--range minmax | percentile | mse) and widened to contain 0 so that zero
    padding is exact;
  - weights: int8, symmetric (zero point 0), one scale per output channel, range the clip of max |w| with
    the least squared error (--weight-range mse; max |w|, PTQ4DM's channel-wise quantiser, with maxabs),
    levels -63..63 by default (--weight-bits 7) so that CPUs without VNNI do not saturate (see
    --weight-bits), -127..127 with --weight-bits 8;
  - the first and last layers (the Conv / Gemm reading the network's input or writing its output) stay
    in float unless --quantise-ends;
  - biases: int32 with scale s_x * s_w[c] (what integer kernels accumulate in);
  - the network output stays float (PTQ4DM keeps the output unquantised);
  - with --bias-correction, empirical bias correction of the output (Nagel et al. 2019, Sec. 4.2;
    PTQD, He et al. 2023): the mean output error E[y_int8 - y_fp32] per output channel that
    `diffuse calibrate --quantized` measured on a first build with the same settings, on the same
    calibration inputs, is subtracted from the float bias of the layer that produces the output
    before that bias is quantised (nothing after that layer changes, nothing before it sees the bias,
    so the corrected build's mean error on those inputs, weighted alike, is 0). By default
    (--bias-mean sigma2) each input counts with weight sigma_t^2: a constant eps offset d moves the
    noise sigma_t eps that the denoiser removes from x_t by sigma_t d, so the sigma_t^2-weighted mean is
    the d that minimises the mean squared bias left in sigma_t eps (src/quant/bias.ts); at t ~ 0 the
    network's eps error is large noise that would drag the plain mean (--bias-mean plain, Nagel et
    al.'s) away from what the sampler sees.
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


def end_layers(graph):
    """Names of the Conv / Gemm nodes that read a graph input or write a graph output: the network's first and
    last layers, which --quantise-ends leaves to quantise and which otherwise stay in float."""
    ins, outs = {i.name for i in graph.input}, {o.name for o in graph.output}
    return tuple(n.name for n in graph.node
                 if n.op_type in QUANTISED_OPS and (n.input[0] in ins or any(o in outs for o in n.output)))


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


def quantise_weight(w, bits=7, method="maxabs"):
    """Symmetric int8 per output channel (axis 0): q = round(w / s_c), s_c = r_c / L, L = 2^(bits-1) - 1 (levels
    -L..L: 127 at 8 bits, 63 at 7). r_c = max|w_c| (maxabs), or (mse) the clip r_c in {0.50, 0.51, ..., 1.00} x max|w_c|
    that minimises the channel's squared rounding-plus-clipping error."""
    levels = 2 ** (bits - 1) - 1
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    peak = np.abs(flat).max(axis=1)
    ratios = np.linspace(0.5, 1.0, 51) if method == "mse" else np.array([1.0])
    best, scale = np.full(len(peak), np.inf), np.ones(len(peak))
    for r in ratios:
        s = np.where(peak > 0, r * peak / levels, 1.0)
        err = ((np.clip(np.round(flat / s[:, None]), -levels, levels) * s[:, None] - flat) ** 2).sum(axis=1)
        better = err < best
        best, scale = np.where(better, err, best), np.where(better, s, scale)
    scale = scale.astype(np.float32)
    q = np.clip(np.round(w / scale.reshape((-1,) + (1,) * (w.ndim - 1))), -levels, levels).astype(np.int8)
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


def output_bias_correction(path, card_path, card, which):
    """The per-channel mean output error E[y_int8 - y_fp32] that `diffuse calibrate --quantized` wrote: the plain
    mean over the calibration inputs, or (sigma2) each input weighted by sigma_t^2, the mean bias of sigma_t * eps."""
    calib = json.loads(Path(path).read_text())
    error = calib.get("outputError") if calib.get("format") == CALIBRATION_FORMAT else None
    if error is None:
        sys.exit(f"{path}: no outputError (write it with `diffuse calibrate --model onnx:CARD --quantized FIRST_BUILD/card.json`)")
    if Path(calib["model"]).resolve() != card_path.resolve():
        sys.exit(f"{path}: measured against {calib['model']}, not {card_path}")
    if error["output"] != card["output"]:
        sys.exit(f"{path}: measured on output {error['output']!r}; this card's output is {card['output']!r}")
    return np.array(error["sigmaWeightedMean" if which == "sigma2" else "mean"], dtype=np.float64)


def correct_output_bias(graph, inits, output, correction):
    """Subtract the mean output error from the bias of the Conv / Gemm producing `output` (Nagel et al. 2019,
    Sec. 4.2: b <- b - E[y~ - y]); a bias of zeros is added if the layer has none."""
    producer = next((n for n in graph.node if output in n.output), None)
    if producer is None or producer.op_type not in ("Conv", "Gemm"):
        sys.exit(f"bias correction needs a Conv or Gemm producing {output!r}; it is made by "
                 f"{producer.op_type if producer else 'no node'}")
    channels = numpy_helper.to_array(inits[producer.input[1]]).shape[0]  # Conv [out, in, ...]; Gemm transB=1 [out, in]
    if len(correction) != channels:
        sys.exit(f"the bias correction has {len(correction)} channels; {producer.name} has {channels} outputs")
    if len(producer.input) > 2 and producer.input[2]:
        name = producer.input[2]
        bias = numpy_helper.to_array(inits[name]).astype(np.float64)
    else:
        name = f"{producer.name or output}_corrected_bias"
        bias = np.zeros(channels)
        while len(producer.input) < 3:
            producer.input.append("")
        producer.input[2] = name
    new = numpy_helper.from_array((bias - correction).astype(np.float32), name)
    if name in inits:
        inits[name].CopyFrom(new)
    else:
        graph.initializer.append(new)
        inits[name] = graph.initializer[-1]
    return producer.name



def dequantize_initializer(name, q, scale, inits, nodes):
    """Store an integer initializer with its per-channel scale (zero point 0) and a DequantizeLinear to
    `name`_dequantized, which the float graph reads instead of `name`."""
    inits += [
        numpy_helper.from_array(q, f"{name}_quantized"),
        numpy_helper.from_array(scale, f"{name}_scale"),
        numpy_helper.from_array(np.zeros(len(scale), dtype=q.dtype), f"{name}_zero_point"),
    ]
    nodes.append(helper.make_node("DequantizeLinear", [f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"],
                                  [f"{name}_dequantized"], name=f"{name}_DequantizeLinear", axis=0))


def build(args):
    card_path = Path(args.model)
    card = json.loads(card_path.read_text())
    model = onnx.load(card_path.parent / card["onnx"])
    calib = json.loads(Path(args.calib).read_text())
    if calib.get("format") != CALIBRATION_FORMAT:
        sys.exit(f"{args.calib}: not a calibration file (format must be {CALIBRATION_FORMAT!r}; made by `diffuse calibrate`)")
    if "tensors" not in calib:
        sys.exit(f"{args.calib}: no activation statistics (write them with `diffuse calibrate --augmented AUGMENTED.onnx`)")
    stats = calib["tensors"]
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    correction = None
    if args.bias_correction:
        correction = output_bias_correction(args.bias_correction, card_path, card, args.bias_mean)
        corrected_layer = correct_output_bias(g, inits, card["output"], correction)
    keep_float = tuple(k for k in args.keep_float.split(",") if k) + (() if args.quantise_ends else end_layers(g))
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
        q, w_scale = quantise_weight(numpy_helper.to_array(inits[w_name]).astype(np.float32), args.weight_bits, args.weight_range)
        dequantize_initializer(w_name, q, w_scale, new_inits, new_nodes)
        replaced.add(w_name)
        node.input[1] = f"{w_name}_dequantized"
        if len(node.input) > 2 and node.input[2]:
            b_name = node.input[2]
            bias = numpy_helper.to_array(inits[b_name]).astype(np.float64)
            b_scale = (np.float64(x_scale) * w_scale.astype(np.float64)).astype(np.float32)
            qb = np.clip(np.round(bias / b_scale), -2**31, 2**31 - 1).astype(np.int32)
            dequantize_initializer(b_name, qb, b_scale, new_inits, new_nodes)
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
        f"int8 QDQ post-training quantisation of {card_path.parent.name} (PTQ4DM-style: weights {args.weight_bits}-bit in int8 per channel, "
        + ("" if args.quantise_ends else "first and last layers in float, ")
        + f"activations uint8 per tensor, {args.range} ranges from {calib.get('n')} calibration samples at "
        f"{times.get('method')} times"
        + (f"; output bias corrected by {', '.join(f'{c:.3g}' for c in -correction)} per channel" if correction is not None else "")
        + "); recipe training/quantize.py"
    )
    (out / "card.json").write_text(json.dumps(new_card, indent=2) + "\n")
    print(json.dumps({"onnx": str(out / onnx_name), "bytes": (out / onnx_name).stat().st_size, "activations": len(tensors),
                      "weights": len(replaced), "range": args.range,
                      **({"bias_correction": {"layer": corrected_layer, "subtracted": correction.tolist()}} if correction is not None else {})}))


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
    b.add_argument("--weight-bits", type=int, choices=(7, 8), default=7,
                   help="weight levels -63..63 (7, the default) or -127..127 (8). x86 CPUs without VNNI run uint8 x int8 "
                        "convolutions with VPMADDUBSW, which adds pairs of products in 16 bits with saturation: "
                        "2 * 255 * 127 overflows it, 2 * 255 * 63 does not (ONNX Runtime's reduce_range)")
    b.add_argument("--weight-range", choices=("maxabs", "mse"), default="mse",
                   help="each output channel's weight range: max |w| (PTQ4DM's), or the clip minimising squared error")
    b.add_argument("--quantise-ends", action="store_true",
                   help="quantise the first and last layers too (by default the Conv / Gemm reading the network's input "
                        "and the one writing its output stay in float: the input x_t in uint8 was the largest single "
                        "source of eps error, and the two layers cost little time)")
    b.add_argument("--keep-float", default="", help="comma-separated op types or node names to leave in float, e.g. Gemm")
    b.add_argument("--bias-correction", help="`diffuse calibrate --quantized` output: subtract its mean output error per channel "
                                             "from the output layer's bias (measure it on a first build with the same settings)")
    b.add_argument("--bias-mean", choices=("sigma2", "plain"), default="sigma2",
                   help="which measured mean --bias-correction subtracts: each calibration input weighted by sigma_t^2 "
                        "(the noise it removes from x_t; t = 0's noise-dominated errors count for nothing) or the plain mean")
    b.add_argument("--out", required=True, help="directory for <dir-name>.onnx and card.json")
    args = p.parse_args()
    augment(args) if args.command == "augment" else build(args)


if __name__ == "__main__":
    main()
