"""Tiny ONNX masked language models with closed-form logits, and their Diffuse MLM cards.

The network is the Markov chain `sticky3` of src/discrete/oracle/markov.ts (V = 3, order 1, initial pi,
transition P) read through its immediate neighbours: at position i, for token v,
    logit = log(pi_v if i = 0, P[x_{i-1}, v] if x_{i-1} is unmasked, else 1) + log(P[v, x_{i+1}] if unmasked, else 1).
Where both neighbours of a masked position are unmasked (or a neighbour is the sequence's edge) this is the
chain's exact conditional p(x_i | every unmasked token), so the test compares the adapter with the oracle.

The network's vocabulary is larger than the chain's, as a real masked LM's is: ids 0 (unused, logit +5),
1..3 (tokens 0..2), 4 (mask, logit +5), 5 (unused, logit +5); the card maps tokens to ids 1..3, so the
extra logits must be ignored. Inputs: input_ids int64 [B, L], attention_mask int64 [B, L] (read, not used).

Writes to test/fixtures/mlm/ (deterministic; run from the repository root with Debian's python3-onnx):
    /usr/bin/python3 training/make_test_mlm.py
    mlm.onnx / card.json        time-independent, L = 6
    mlm_time.onnx / time.json   the same plus t * BIAS_v on the logits, time input "t" float32 [B]
    bad_dtype.onnx / bad_dtype.json   input_ids of type float32, to test the adapter's error
"""
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "mlm"
OPSET = 17
LENGTH = 6
INITIAL = np.array([0.5, 0.3, 0.2])
TRANSITION = np.array([[0.7, 0.2, 0.1], [0.15, 0.7, 0.15], [0.1, 0.3, 0.6]])
TOKEN_IDS = [1, 2, 3]
MASK_ID = 4
EDGE_ID = 6  # an id the graph uses for "outside the sequence"
NET_VOCAB = 6
EXTRA_LOGIT = 5.0
BIAS = np.array([1.0, -0.5, 0.25])


def tables():
    """Rows indexed by network id (0..6) of log left / right factors over the chain's V tokens."""
    V = len(INITIAL)
    left = np.zeros((EDGE_ID + 1, V))
    right = np.zeros((EDGE_ID + 1, V))
    for a, net in enumerate(TOKEN_IDS):
        left[net] = np.log(TRANSITION[a])
        right[net] = np.log(TRANSITION[:, a])
    left[EDGE_ID] = np.log(INITIAL)
    return left.astype(np.float32), right.astype(np.float32)


def scatter():
    """[V, NET_VOCAB] 0/1 matrix placing token v's logit at its network id, and the extra ids' constant logits."""
    s = np.zeros((len(INITIAL), NET_VOCAB), dtype=np.float32)
    for v, net in enumerate(TOKEN_IDS):
        s[v, net] = 1
    extra = np.full(NET_VOCAB, EXTRA_LOGIT, dtype=np.float32)
    extra[TOKEN_IDS] = 0
    return s, extra


def const(inits, name, value):
    inits.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def model(with_time):
    left, right = tables()
    s, extra = scatter()
    inits = []
    const(inits, "left_table", left)
    const(inits, "right_table", right)
    const(inits, "scatter", s)
    const(inits, "extra", extra)
    const(inits, "edge", np.array(EDGE_ID, dtype=np.int64))
    const(inits, "zero", np.array(0, dtype=np.int64))
    const(inits, "zero_f", np.array(0, dtype=np.float32))
    for name, v in [("s0", [0]), ("s1", [1]), ("sm1", [-1]), ("axis1", [1]), ("big", [1 << 30]), ("axes2", [2])]:
        const(inits, name, np.array(v, dtype=np.int64))
    n = helper.make_node
    nodes = [
        # an edge column [B, 1] = ids[:, :1] * 0 + EDGE_ID
        n("Slice", ["input_ids", "s0", "s1", "axis1"], ["first"]),
        n("Mul", ["first", "zero"], ["zcol"]),
        n("Add", ["zcol", "edge"], ["edge_col"]),
        n("Slice", ["input_ids", "s0", "sm1", "axis1"], ["head"]),
        n("Slice", ["input_ids", "s1", "big", "axis1"], ["tail"]),
        n("Concat", ["edge_col", "head"], ["prev"], axis=1),
        n("Concat", ["tail", "edge_col"], ["next"], axis=1),
        n("Gather", ["left_table", "prev"], ["lf"], axis=0),
        n("Gather", ["right_table", "next"], ["rf"], axis=0),
        n("Add", ["lf", "rf"], ["chain_logits"]),
        n("MatMul", ["chain_logits", "scatter"], ["placed"]),
        n("Add", ["placed", "extra"], ["with_extra"]),
        n("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["mask_f", "axes2"], ["mask_3d"]),
        n("Mul", ["mask_3d", "zero_f"], ["mask_zero"]),
    ]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", LENGTH]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", LENGTH])]
    if with_time:
        const(inits, "axes12", np.array([1, 2], dtype=np.int64))
        const(inits, "bias", np.concatenate([[0], BIAS, [0, 0]]).astype(np.float32))
        nodes += [n("Unsqueeze", ["t", "axes12"], ["t3"]), n("Mul", ["t3", "bias"], ["tb"]),
                  n("Add", ["with_extra", "tb"], ["timed"]), n("Add", ["timed", "mask_zero"], ["logits"])]
        inputs.append(helper.make_tensor_value_info("t", TensorProto.FLOAT, ["batch"]))
    else:
        nodes.append(n("Add", ["with_extra", "mask_zero"], ["logits"]))
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", LENGTH, NET_VOCAB])
    graph = helper.make_graph(nodes, "markov_mlm", inputs, [out], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def bad_dtype_model():
    inp = helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, ["batch", LENGTH])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", LENGTH, 1])
    axes = numpy_helper.from_array(np.array([2], dtype=np.int64), "axes")
    graph = helper.make_graph([helper.make_node("Unsqueeze", ["input_ids", "axes"], ["logits"])], "bad", [inp], [out], [axes])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def card(onnx_file, time_input=None):
    c = {
        "format": "diffuse-mlm-card/v1", "onnx": onnx_file, "length": LENGTH, "vocab_size": len(INITIAL), "mask_id": MASK_ID,
        "token_ids": TOKEN_IDS, "inputs": {"ids": "input_ids", "attention_mask": "attention_mask"}, "output": "logits",
        "tokenizer": {"type": "char", "tokens": ["a", "b", "c"]},
        "description": "sticky3 Markov chain read through immediate neighbours (training/make_test_mlm.py)",
    }
    if time_input:
        c["time"] = {"input": time_input}
    return c


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(model(False), OUT / "mlm.onnx")
    onnx.save(model(True), OUT / "mlm_time.onnx")
    onnx.save(bad_dtype_model(), OUT / "bad_dtype.onnx")
    files = {"card.json": card("mlm.onnx"), "time.json": card("mlm_time.onnx", "t"),
             "bad_dtype.json": {**card("bad_dtype.onnx"), "inputs": {"ids": "input_ids"}}}
    for name, c in files.items():
        (OUT / name).write_text(json.dumps(c, indent=1) + "\n")
    print(f"wrote {', '.join(sorted(p.name for p in OUT.iterdir()))} to {OUT}")


if __name__ == "__main__":
    main()
