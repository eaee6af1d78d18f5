"""Tiny ONNX test models whose outputs are known in closed form, with their model cards.

Each network is an exact oracle for Gaussian data x0 ~ N(mu, s^2 I) under x_t = alpha x0 + sigma eps:
    C = alpha^2 s^2 + sigma^2,  eps_hat = sigma (x - alpha mu) / C,  x0_hat = mu + alpha s^2 (x - alpha mu) / C,
written with plain ONNX ops (no training, no torch), so the TypeScript adapter can be checked against
the same formulas and against Diffuse's GMM oracle with K = 1.

Regenerate test/fixtures/onnx/ (deterministic; run from the repository root with Debian's python3-onnx):
    /usr/bin/python3 training/make_test_models.py
"""
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "onnx"
OPSET = 17
SHAPE = [1, 4, 4]
VARIANCE = 0.25
NUM_CLASSES = 3
TRAIN_STEPS = 1000
BETA_START, BETA_END = 0.0001, 0.02
VP_DISCRETE = {"name": "vp-discrete", "numTrainTimesteps": TRAIN_STEPS, "betaStart": BETA_START,
               "betaEnd": BETA_END, "betaSchedule": "linear"}
MEAN = np.linspace(-1.0, 1.0, int(np.prod(SHAPE))).reshape(SHAPE)
# Class c has mean MEAN + (c + 1)/2; the null class (id NUM_CLASSES) has mean 0.
CLASS_MEANS = np.stack([MEAN + 0.5 * (c + 1) for c in range(NUM_CLASSES)] + [np.zeros(SHAPE)])


def sigma_ve_table():
    """sigma/alpha = sqrt((1 - abar)/abar) at t = -1, 0, ..., N-1, from float32 DDPM betas (diffusers)."""
    betas = np.linspace(BETA_START, BETA_END, TRAIN_STEPS, dtype=np.float32)
    abar = np.cumprod((1 - betas).astype(np.float64)).astype(np.float32).astype(np.float64)
    return np.concatenate([[0.0], np.sqrt((1 - abar) / abar)])


class Graph:
    """A growing list of nodes with constants and unique value names."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self):
        self.count += 1
        return f"v{self.count}"

    def const(self, value, dtype=np.float32):
        n = self.name()
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), n))
        return n

    def op(self, op_type, *inputs, **attrs):
        out = self.name()
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def per_sample(self, v):
        """[N] or scalar -> [N, 1, 1, 1] so it broadcasts over a batch of samples."""
        return self.op("Reshape", v, self.const([-1, 1, 1, 1], np.int64))

    def finish(self, name, out, output, inputs, output_type, batch="batch"):
        self.nodes.append(helper.make_node("Identity", [out], [output]))
        out_info = helper.make_tensor_value_info(output, output_type, [batch, *SHAPE])
        graph = helper.make_graph(self.nodes, name, inputs, [out_info], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="diffuse")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def discrete_alpha_sigma(g, t):
    """alpha(t), sigma(t) of vp-discrete for float t: sigma_VE linear between integer timesteps."""
    table = g.const(sigma_ve_table())
    u = g.op("Add", t, g.const(1.0))
    i = g.op("Clip", g.op("Floor", u), g.const(0.0), g.const(TRAIN_STEPS - 1.0))
    w = g.op("Sub", u, i)
    idx = g.op("Cast", i, to=TensorProto.INT64)
    s0 = g.op("Gather", table, idx)
    s1 = g.op("Gather", table, g.op("Add", idx, g.const(1, np.int64)))
    s = g.op("Add", s0, g.op("Mul", w, g.op("Sub", s1, s0)))
    return alpha_sigma_from_ve(g, s)


def alpha_sigma_from_ve(g, s):
    alpha = g.op("Div", g.const(1.0), g.op("Sqrt", g.op("Add", g.const(1.0), g.op("Mul", s, s))))
    return alpha, g.op("Mul", s, alpha)


def gaussian(g, x, mean, alpha, sigma):
    """(eps_hat, x0_hat) of N(mean, VARIANCE I) at x = alpha x0 + sigma eps; alpha, sigma are [N,1,1,1]."""
    e = g.op("Sub", x, g.op("Mul", alpha, mean))
    c = g.op("Add", g.op("Mul", g.op("Mul", alpha, alpha), g.const(VARIANCE)), g.op("Mul", sigma, sigma))
    eps = g.op("Div", g.op("Mul", sigma, e), c)
    x0 = g.op("Add", mean, g.op("Div", g.op("Mul", g.op("Mul", alpha, g.const(VARIANCE)), e), c))
    return eps, x0


def tensor(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def eps_discrete(sample_name="sample", batch="batch"):
    """epsilon prediction, float32, float timestep of shape [batch] (a symbolic or a fixed batch size)."""
    g = Graph()
    alpha, sigma = (g.per_sample(v) for v in discrete_alpha_sigma(g, "timestep"))
    eps, _ = gaussian(g, sample_name, g.const(MEAN), alpha, sigma)
    inputs = [tensor(sample_name, TensorProto.FLOAT, [batch, *SHAPE]), tensor("timestep", TensorProto.FLOAT, [batch])]
    return g.finish("gauss_eps", eps, "out_sample", inputs, TensorProto.FLOAT, batch)


def eps_float16():
    """epsilon prediction with float16 sample and output, scalar float32 timestep."""
    g = Graph()
    alpha, sigma = (g.per_sample(v) for v in discrete_alpha_sigma(g, "timestep"))
    x = g.op("Cast", "sample", to=TensorProto.FLOAT)
    eps, _ = gaussian(g, x, g.const(MEAN), alpha, sigma)
    out = g.op("Cast", eps, to=TensorProto.FLOAT16)
    inputs = [tensor("sample", TensorProto.FLOAT16, ["batch", *SHAPE]), tensor("timestep", TensorProto.FLOAT, [])]
    return g.finish("gauss_eps_fp16", out, "out_sample", inputs, TensorProto.FLOAT16)


def eps_class_conditional():
    """epsilon prediction for class means CLASS_MEANS[label]; int64 timestep and labels of shape [batch]."""
    g = Graph()
    s = g.op("Gather", g.const(sigma_ve_table()), g.op("Add", "timestep", g.const(1, np.int64)))
    alpha, sigma = (g.per_sample(v) for v in alpha_sigma_from_ve(g, s))
    mean = g.op("Gather", g.const(CLASS_MEANS), "class_labels")
    eps, _ = gaussian(g, "sample", mean, alpha, sigma)
    inputs = [tensor("sample", TensorProto.FLOAT, ["batch", *SHAPE]), tensor("timestep", TensorProto.INT64, ["batch"]),
              tensor("class_labels", TensorProto.INT64, ["batch"])]
    return g.finish("gauss_eps_cond", eps, "out_sample", inputs, TensorProto.FLOAT)


def eps_image_conditioned():
    """epsilon prediction for x0 ~ N(condition, VARIANCE I): the mean is the condition image itself (a
    restoration model's input), float32 timestep and condition of the sample's shape."""
    g = Graph()
    alpha, sigma = (g.per_sample(v) for v in discrete_alpha_sigma(g, "timestep"))
    eps, _ = gaussian(g, "sample", "condition", alpha, sigma)
    inputs = [tensor("sample", TensorProto.FLOAT, ["batch", *SHAPE]), tensor("timestep", TensorProto.FLOAT, ["batch"]),
              tensor("condition", TensorProto.FLOAT, ["batch", *SHAPE])]
    return g.finish("gauss_eps_image_cond", eps, "out_sample", inputs, TensorProto.FLOAT)


def velocity_flow():
    """Flow-matching velocity u = x0' + eps' = eps_hat - x0_hat (alpha = 1 - t, sigma = t); time of shape [1]."""
    g = Graph()
    t = g.per_sample("t")
    eps, x0 = gaussian(g, "x", g.const(MEAN), g.op("Sub", g.const(1.0), t), t)
    inputs = [tensor("x", TensorProto.FLOAT, ["batch", *SHAPE]), tensor("t", TensorProto.FLOAT, [1])]
    return g.finish("gauss_flow", g.op("Sub", eps, x0), "velocity", inputs, TensorProto.FLOAT)


def edm_preconditioned(sigma_data=0.5):
    """EDM's raw network F with D = c_skip x + c_out F(c_in x; c_noise) = x0_hat (Karras et al. 2022, Table 1)."""
    g = Graph()
    sigma = g.per_sample(g.op("Exp", g.op("Mul", g.const(4.0), "c_noise")))
    sd2 = g.const(sigma_data * sigma_data)
    root = g.op("Sqrt", g.op("Add", g.op("Mul", sigma, sigma), sd2))
    x = g.op("Mul", "sample", root)
    _, x0 = gaussian(g, x, g.const(MEAN), g.const(1.0), sigma)
    skip = g.op("Mul", g.op("Div", sd2, g.op("Mul", root, root)), x)
    c_out = g.op("Div", g.op("Mul", sigma, g.const(sigma_data)), root)
    inputs = [tensor("sample", TensorProto.FLOAT, ["batch", *SHAPE]), tensor("c_noise", TensorProto.FLOAT, ["batch"])]
    return g.finish("gauss_edm", g.op("Div", g.op("Sub", x0, skip), c_out), "out_sample", inputs, TensorProto.FLOAT)


def eps_sigma():
    """epsilon prediction for x = x0 + sigma eps, reading sigma itself (k-diffusion's convention)."""
    g = Graph()
    eps, _ = gaussian(g, "sample", g.const(MEAN), g.const(1.0), g.per_sample("sigma"))
    inputs = [tensor("sample", TensorProto.FLOAT, ["batch", *SHAPE]), tensor("sigma", TensorProto.FLOAT, ["batch"])]
    return g.finish("gauss_eps_sigma", eps, "out_sample", inputs, TensorProto.FLOAT)


def float64_input():
    """A model whose sample input is float64, which the adapter rejects."""
    g = Graph()
    inputs = [tensor("sample", TensorProto.DOUBLE, ["batch", *SHAPE]), tensor("timestep", TensorProto.FLOAT, ["batch"])]
    return g.finish("float64_input", "sample", "out_sample", inputs, TensorProto.DOUBLE)


def card(onnx_file, prediction, process, time, **extra):
    return {"format": "diffuse-model-card/v1", "onnx": onnx_file, "prediction": prediction, "process": process,
            "time": time, "sample_shape": SHAPE, **extra}


MODELS = {
    "gauss_eps": (eps_discrete(), card("gauss_eps.onnx", "epsilon", VP_DISCRETE,
                                       {"input": "timestep", "kind": "discrete", "dtype": "float32"}, max_batch=16)),
    "gauss_eps_static": (eps_discrete(batch=4), card("gauss_eps_static.onnx", "epsilon", VP_DISCRETE,
                                                     {"input": "timestep", "kind": "discrete", "dtype": "float32"})),
    "gauss_eps_fp16": (eps_float16(), card("gauss_eps_fp16.onnx", "epsilon", VP_DISCRETE,
                                           {"input": "timestep", "kind": "discrete", "dtype": "float32"})),
    "gauss_eps_cond": (eps_class_conditional(), card(
        "gauss_eps_cond.onnx", "epsilon", VP_DISCRETE, {"input": "timestep", "kind": "discrete", "dtype": "int64"},
        inputs={"sample": "sample", "class_labels": "class_labels"}, num_classes=NUM_CLASSES, null_class=NUM_CLASSES)),
    "gauss_eps_image_cond": (eps_image_conditioned(), card(
        "gauss_eps_image_cond.onnx", "epsilon", VP_DISCRETE, {"input": "timestep", "kind": "discrete", "dtype": "float32"},
        inputs={"sample": "sample", "condition": "condition"}, condition_shape=SHAPE)),
    "gauss_flow": (velocity_flow(), card("gauss_flow.onnx", "velocity", {"name": "flow"},
                                         {"input": "t", "kind": "continuous", "dtype": "float32"},
                                         inputs={"sample": "x"}, output="velocity")),
    "gauss_eps_sigma": (eps_sigma(), card("gauss_eps_sigma.onnx", "epsilon", {"name": "edm"},
                                         {"input": "sigma", "kind": "sigma", "dtype": "float32"})),
    "gauss_edm": (edm_preconditioned(), card("gauss_edm.onnx", "sample", {"name": "edm", "sigmaData": 0.5},
                                             {"input": "c_noise", "kind": "edm_c_noise", "dtype": "float32"})),
    "wrong_input_name": (eps_discrete("x"), card("wrong_input_name.onnx", "epsilon", VP_DISCRETE,
                                                 {"input": "timestep", "kind": "discrete", "dtype": "float32"})),
    "float64_input": (float64_input(), card("float64_input.onnx", "sample", VP_DISCRETE,
                                            {"input": "timestep", "kind": "discrete", "dtype": "float32"})),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (model, model_card) in MODELS.items():
        onnx.save(model, OUT / f"{name}.onnx")
        (OUT / f"{name}.json").write_text(json.dumps(model_card, indent=2) + "\n")
    oracle = {"sample_shape": SHAPE, "variance": VARIANCE, "mean": MEAN.ravel().tolist(),
              "class_means": CLASS_MEANS.reshape(len(CLASS_MEANS), -1).tolist()}
    (OUT / "oracles.json").write_text(json.dumps(oracle, indent=2) + "\n")


if __name__ == "__main__":
    main()
