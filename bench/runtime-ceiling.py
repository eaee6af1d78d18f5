"""Graph rewrites of models/mnist that bound what ONNX Runtime's CPU kernels can give (issue 17, part 2);
bench/runtime-ceiling.ts times them. Writes to .tmp/runtime-ceiling/:

  no-norm.onnx   every GroupNorm removed (its affine kept): the most any faster normalisation could save;
  gap-norm.onnx  GroupNorm rewritten as GlobalAveragePool of x and x², a 1x1 convolution averaging each
                 group's channels, and a per-channel scale and shift (exact: equals the float model);
  all-int.onnx   gap-norm with every float activation wrapped in QuantizeLinear/DequantizeLinear and the
                 Conv/Gemm weights int8, so that ONNX Runtime runs an all-integer graph (QLinearConv,
                 QLinearGlobalAveragePool, QLinearMul/Add/Sigmoid). Placeholder scales: for timing only,
                 its outputs mean nothing.

    /usr/bin/python3 bench/runtime-ceiling.py   (Debian's python3-onnx and numpy)
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))
from quantize import quantise_weight, topological_order  # noqa: E402

OUT = ROOT / ".tmp" / "runtime-ceiling"


def group_norms(g):
    """(x, G, eps, gamma name, beta name, nodes, output) of each PyTorch GroupNorm export:
    Reshape -> InstanceNormalization -> Reshape -> Mul(gamma) -> Add(beta)."""
    by_out = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    const = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in g.node if n.op_type == "Constant"}
    found = []
    for n in g.node:
        if n.op_type != "InstanceNormalization":
            continue
        r0 = by_out[n.input[0]]
        r1 = users[n.output[0]][0]
        mul = users[r1.output[0]][0]
        add = users[mul.output[0]][0]
        if (r0.op_type, r1.op_type, mul.op_type, add.op_type) != ("Reshape", "Reshape", "Mul", "Add"):
            sys.exit(f"{n.name}: not the GroupNorm export this rewrite knows")
        eps = next(a.f for a in n.attribute if a.name == "epsilon")
        found.append((r0.input[0], int(const[r0.input[1]][1]), eps, mul.input[1], add.input[1], {r0.name, n.name, r1.name, mul.name, add.name}, add.output[0]))
    return found


def rewrite(kind):
    m = onnx.load(ROOT / "models" / "mnist" / "mnist.onnx")
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    drop, nodes, new_inits = set(), [], []
    for x, groups, eps, gamma, beta, names, out in group_norms(g):
        drop |= names
        p = out.replace("/", "_")
        if kind == "no-norm":
            nodes += [helper.make_node("Mul", [x, gamma], [p + "_m"]), helper.make_node("Add", [p + "_m", beta], [out])]
            continue
        c = inits[gamma].shape[0]
        k = c // groups
        w = np.zeros((c, c, 1, 1), np.float32)
        for ch in range(c):
            w[ch, (ch // k) * k:(ch // k + 1) * k, 0, 0] = 1.0 / k
        new_inits += [numpy_helper.from_array(w, p + "_avg"), numpy_helper.from_array(np.array(eps, np.float32), p + "_eps"),
                      numpy_helper.from_array(inits[gamma].reshape(1, c, 1, 1), p + "_g"),
                      numpy_helper.from_array(inits[beta].reshape(1, c, 1, 1), p + "_b")]
        # mean and E[x²] per group, var = E[x²] - mean², y = x·s + (β - mean·s) with s = γ / √(var + ε)
        nodes += [
            helper.make_node("GlobalAveragePool", [x], [p + "_mc"]),
            helper.make_node("Mul", [x, x], [p + "_xx"]),
            helper.make_node("GlobalAveragePool", [p + "_xx"], [p + "_qc"]),
            helper.make_node("Conv", [p + "_mc", p + "_avg"], [p + "_mean"]),
            helper.make_node("Conv", [p + "_qc", p + "_avg"], [p + "_sq"]),
            helper.make_node("Mul", [p + "_mean", p + "_mean"], [p + "_m2"]),
            helper.make_node("Sub", [p + "_sq", p + "_m2"], [p + "_var"]),
            helper.make_node("Add", [p + "_var", p + "_eps"], [p + "_ve"]),
            helper.make_node("Sqrt", [p + "_ve"], [p + "_sd"]),
            helper.make_node("Div", [p + "_g", p + "_sd"], [p + "_s"]),
            helper.make_node("Mul", [p + "_mean", p + "_s"], [p + "_ms"]),
            helper.make_node("Sub", [p + "_b", p + "_ms"], [p + "_t"]),
            helper.make_node("Mul", [x, p + "_s"], [p + "_xs"]),
            helper.make_node("Add", [p + "_xs", p + "_t"], [out]),
        ]
    kept = [n for n in g.node if n.name not in drop]
    order = topological_order(kept + nodes, {i.name for i in g.input} | set(inits) | {i.name for i in new_inits})
    del g.node[:]
    g.node.extend(order)
    g.initializer.extend(new_inits)
    onnx.checker.check_model(m)
    return m


def all_integer(m):
    """Q/DQ around every float activation (placeholder scale 0.05, zero point 128); Conv/Gemm weights int8."""
    m = shape_inference.infer_shapes(m)
    g = m.graph
    elem = {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.input) + list(g.output)}
    inits = {i.name: i for i in g.initializer}
    outputs = {o.name for o in g.output}
    new_inits, nodes, dq = [], [], {}

    def wrap(name):
        s, z = name + "_s", name + "_z"
        new_inits.extend([numpy_helper.from_array(np.array(0.05, np.float32), s), numpy_helper.from_array(np.array(128, np.uint8), z)])
        nodes.append(helper.make_node("QuantizeLinear", [name, s, z], [name + "_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [name + "_q", s, z], [name + "_dq"]))
        dq[name] = name + "_dq"

    wrap("sample")
    for n in g.node:
        if n.op_type in ("Shape", "Gather", "Cast", "Constant", "Unsqueeze", "Sin", "Cos", "Reshape"):
            continue
        for o in n.output:
            if o not in outputs and elem.get(o, TensorProto.FLOAT) == TensorProto.FLOAT:
                wrap(o)
    scales = {}
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm") or n.input[1] not in inits:
            continue
        w_name = n.input[1]
        if w_name not in scales:
            q, scales[w_name] = quantise_weight(numpy_helper.to_array(inits[w_name]).astype(np.float32), 7, "maxabs")
            scale = scales[w_name]
            new_inits.extend([numpy_helper.from_array(q, w_name + "_wq"), numpy_helper.from_array(scale, w_name + "_ws"),
                              numpy_helper.from_array(np.zeros(len(scale), np.int8), w_name + "_wz")])
            nodes.append(helper.make_node("DequantizeLinear", [w_name + "_wq", w_name + "_ws", w_name + "_wz"], [w_name + "_wdq"], axis=0))
        n.input[1] = w_name + "_wdq"
        if len(n.input) > 2 and n.input[2] in inits:  # int32 bias at s_x·s_w, as integer kernels accumulate
            b_name = n.input[2]
            b_scale = (0.05 * scales[w_name].astype(np.float64)).astype(np.float32)
            b = numpy_helper.to_array(inits[b_name]).astype(np.float64)
            new_inits.extend([numpy_helper.from_array(np.round(b / b_scale).astype(np.int32), b_name + "_bq"),
                              numpy_helper.from_array(b_scale, b_name + "_bs"), numpy_helper.from_array(np.zeros(len(b_scale), np.int32), b_name + "_bz")])
            nodes.append(helper.make_node("DequantizeLinear", [b_name + "_bq", b_name + "_bs", b_name + "_bz"], [b_name + "_bdq"], axis=0))
            n.input[2] = b_name + "_bdq"
    for n in g.node:
        for k, name in enumerate(n.input):
            if name in dq:
                n.input[k] = dq[name]
    order = topological_order(list(g.node) + nodes, {i.name for i in g.input} | set(inits) | {i.name for i in new_inits})
    del g.node[:]
    g.node.extend(order)
    g.initializer.extend(new_inits)
    del g.value_info[:]
    return m


OUT.mkdir(parents=True, exist_ok=True)
onnx.save(rewrite("no-norm"), OUT / "no-norm.onnx")
gap = rewrite("gap-norm")
onnx.save(gap, OUT / "gap-norm.onnx")
onnx.save(all_integer(gap), OUT / "all-int.onnx")
print(f"wrote {OUT}/no-norm.onnx, gap-norm.onnx, all-int.onnx")
