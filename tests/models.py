"""Shared model builders for the compiler tests: small float ONNX models, quantized with onnxruntime.

Everything here is offline and deterministic (fixed seeds). The float builders make models with
He-ish random weights so that activations are not all zero; `quantize` turns any of them into an
onnxruntime-quantized model through `sdannc.quantization.quantize_model`, and `ort_run` runs a model on
onnxruntime's CPU provider, the reference every compiler stage is compared against.

Input shapes: the MLPs take [N, 64], the CNNs [N, 1, 8, 8] (the 8x8 digits); `N` is symbolic except
in `strided_depthwise_model`, whose batch dimension is fixed to 1.
"""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8  # what opset 13 needs; any onnxruntime reads it
SEED = 20240601

FORMATS = ("qdq", "qop")
PER_CHANNEL = (False, True)
ACT_TYPES = ("uint8", "int8")


# ---------------------------------------------------------------------------------------- data


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return tuple(train_test_split(x, y, test_size=0.25, random_state=0, stratify=y))


def digits_data():
    """(x_train, y_train, x_test, y_test): sklearn's 8x8 digits in [0, 1], x as float32 [n, 64]."""
    x_train, x_test, y_train, y_test = _digits()
    return x_train.copy(), y_train.copy(), x_test.copy(), y_test.copy()


def as_images(x: np.ndarray) -> np.ndarray:
    """[n, 64] digits as [n, 1, 8, 8] images for the CNNs."""
    return np.ascontiguousarray(x.reshape(-1, 1, 8, 8))


def calib_set(model: onnx.ModelProto, n: int = 32) -> np.ndarray:
    """n training digits shaped for the model's input (flat or as images)."""
    x = digits_data()[0][:n]
    return as_images(x) if len(model.graph.input[0].type.tensor_type.shape.dim) == 4 else x


def eval_set(model: onnx.ModelProto, n: int = 20) -> np.ndarray:
    """n test digits shaped for the model's input."""
    x = digits_data()[2][:n]
    return as_images(x) if len(model.graph.input[0].type.tensor_type.shape.dim) == 4 else x


# ------------------------------------------------------------------------------ model plumbing


class _Builder:
    """Collects nodes and initializers; names every node so errors and reports can call it."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def he(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def bias(self, n: int) -> np.ndarray:
        return (self.rng.standard_normal(n) * 0.1).astype(np.float32)

    def conv(self, x: str, name: str, cin: int, cout: int, k: int = 3, group: int = 1, **attrs) -> str:
        w = self.const(f"{name}_W", self.he((cout, cin // group, k, k), cin // group * k * k))
        b = self.const(f"{name}_B", self.bias(cout))
        return self.node("Conv", [x, w, b], name, kernel_shape=[k, k], group=group, **attrs)

    def gemm(self, x: str, name: str, nin: int, nout: int, trans_b: bool = True) -> str:
        w = self.he((nout, nin), nin)
        w = self.const(f"{name}_W", w if trans_b else w.T.copy())
        b = self.const(f"{name}_B", self.bias(nout))
        return self.node("Gemm", [x, w, b], name, transB=int(trans_b))

    def matmul_add(self, x: str, name: str, nin: int, nout: int) -> str:
        w = self.const(f"{name}_W", self.he((nin, nout), nin))
        b = self.const(f"{name}_B", self.bias(nout))
        return self.node("Add", [self.node("MatMul", [x, w], name), b], f"{name}_bias")

    def model(self, name: str, in_shape: list, out: str, out_shape: list, opset: int = OPSET) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="sdannc-tests")
        model.ir_version = IR_VERSION if opset == OPSET else 9
        onnx.checker.check_model(model, full_check=True)
        return model


# -------------------------------------------------------------------------------- float models


def train_digits_mlp() -> onnx.ModelProto:
    """An MLP 64-32-10 (Gemm+Relu, Gemm) trained on the digits with sklearn; > 90 % test accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, y_train, _, _ = digits_data()
    clf = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=150, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    b = _Builder(0)
    w1 = b.const("fc1_W", clf.coefs_[0].T.astype(np.float32).copy())  # [32, 64]: transB=1
    b1 = b.const("fc1_B", clf.intercepts_[0].astype(np.float32))
    h = b.node("Gemm", ["input", w1, b1], "fc1", transB=1)
    h = b.node("Relu", [h], "relu1")
    w2 = b.const("fc2_W", clf.coefs_[1].astype(np.float32))  # [32, 10]: transB=0
    b2 = b.const("fc2_B", clf.intercepts_[1].astype(np.float32))
    out = b.node("Gemm", [h, w2, b2], "fc2", transB=0)
    return b.model("digits_mlp", ["N", 64], out, ["N", 10])


def train_digits_cnn() -> onnx.ModelProto:
    """Conv3x3(1->8)+Relu -> MaxPool 2x2 -> Conv3x3(8->16)+Relu -> Flatten -> Gemm(256->32)+Relu
    -> Gemm(32->10). The convolutions keep their random (He) weights, a fixed feature extractor; the
    two dense layers are trained with sklearn on its features of the training digits (> 90 % test
    accuracy). The sparsification tests and docs/sparsification.md use it."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    b = _Builder(SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 8, pads=[1, 1, 1, 1])], "relu1")
    h = b.node("MaxPool", [h], "maxpool", kernel_shape=[2, 2], strides=[2, 2])
    h = b.node("Relu", [b.conv(h, "conv2", 8, 16, pads=[1, 1, 1, 1])], "relu2")
    features = b.node("Flatten", [h], "flatten", axis=1)
    x_train, y_train, _, _ = digits_data()
    extractor = b.model("digits_cnn_features", ["N", 1, 8, 8], features, ["N", 256])
    clf = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(ort_run(extractor, as_images(x_train)), y_train)
    w1 = b.const("fc1_W", clf.coefs_[0].T.astype(np.float32).copy())
    b1 = b.const("fc1_B", clf.intercepts_[0].astype(np.float32))
    h = b.node("Relu", [b.node("Gemm", [features, w1, b1], "fc1", transB=1)], "relu3")
    w2 = b.const("fc2_W", clf.coefs_[1].T.astype(np.float32).copy())
    b2 = b.const("fc2_B", clf.intercepts_[1].astype(np.float32))
    out = b.node("Gemm", [h, w2, b2], "fc2", transB=1)
    return b.model("digits_cnn", ["N", 1, 8, 8], out, ["N", 10])


def mlp_model(matmul: bool = False, seed: int = SEED) -> onnx.ModelProto:
    """64-32-16-10 with Relus: Gemm layers (the middle one transB=0), or MatMul + Add(bias)."""
    b = _Builder(seed)
    h = "input"
    sizes = [64, 32, 16, 10]
    for i, (nin, nout) in enumerate(zip(sizes, sizes[1:])):
        name = f"fc{i + 1}"
        h = b.matmul_add(h, name, nin, nout) if matmul else b.gemm(h, name, nin, nout, trans_b=i != 1)
        if i < len(sizes) - 2:
            h = b.node("Relu", [h], f"relu{i + 1}")
    return b.model("mlp_matmul" if matmul else "mlp_gemm", ["N", 64], h, ["N", 10])


def cnn_pool_model(seed: int = SEED) -> onnx.ModelProto:
    """Conv3x3(pad 1)+Relu -> MaxPool 2x2 -> Conv3x3(pad 1)+Relu -> AveragePool 2x2 -> Flatten -> Gemm."""
    b = _Builder(seed)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 4, pads=[1, 1, 1, 1])], "relu1")
    h = b.node("MaxPool", [h], "maxpool", kernel_shape=[2, 2], strides=[2, 2])
    h = b.node("Relu", [b.conv(h, "conv2", 4, 8, pads=[1, 1, 1, 1])], "relu2")
    h = b.node("AveragePool", [h], "avgpool", kernel_shape=[2, 2], strides=[2, 2])
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 8 * 2 * 2, 10)
    return b.model("cnn_pool", ["N", 1, 8, 8], out, ["N", 10])


def strided_depthwise_model(seed: int = SEED) -> onnx.ModelProto:
    """Conv3x3 stride 2 pad 1 -> Relu -> depthwise Conv3x3 (SAME_UPPER) -> Relu -> Conv1x1 -> Relu
    -> Flatten -> Gemm; the batch dimension is fixed to 1."""
    b = _Builder(seed)
    h = b.node("Relu", [b.conv("input", "conv_s2", 1, 6, strides=[2, 2], pads=[1, 1, 1, 1])], "relu1")
    h = b.node("Relu", [b.conv(h, "conv_dw", 6, 6, group=6, auto_pad="SAME_UPPER")], "relu2")
    h = b.node("Relu", [b.conv(h, "conv_pw", 6, 8, k=1)], "relu3")
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 8 * 4 * 4, 10)
    return b.model("strided_depthwise", [1, 1, 8, 8], out, [1, 10])


def residual_model(seed: int = SEED) -> onnx.ModelProto:
    """Conv -> Relu -> (Conv -> Relu -> Conv) + skip -> Relu -> GlobalAveragePool -> Flatten -> Gemm."""
    b = _Builder(seed)
    skip = b.node("Relu", [b.conv("input", "conv1", 1, 8, pads=[1, 1, 1, 1])], "relu1")
    h = b.node("Relu", [b.conv(skip, "conv2", 8, 8, pads=[1, 1, 1, 1])], "relu2")
    h = b.conv(h, "conv3", 8, 8, pads=[1, 1, 1, 1])
    h = b.node("Relu", [b.node("Add", [h, skip], "add")], "relu_add")
    h = b.node("GlobalAveragePool", [h], "gap")
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 8, 10)
    return b.model("residual", ["N", 1, 8, 8], out, ["N", 10])


def concat_model(seed: int = SEED) -> onnx.ModelProto:
    """Two conv branches concatenated on channels, then Reshape -> Transpose -> Reshape (data moves
    only) -> Gemm. The stem Conv has no Relu of its own and feeds both a Relu and a Conv, so
    onnxruntime cannot fold that Relu away: it stays an explicit node."""
    b = _Builder(seed)
    stem = b.conv("input", "stem", 1, 4, pads=[1, 1, 1, 1], strides=[2, 2])  # [4, 4, 4]
    left = b.node("Relu", [stem], "relu_stem")
    left = b.node("Relu", [b.conv(left, "conv_a", 4, 4, pads=[1, 1, 1, 1])], "relu_a")
    right = b.node("Relu", [b.conv(stem, "conv_b", 4, 2, k=1)], "relu_b")
    h = b.node("Concat", [left, right], "concat", axis=1)  # [6, 4, 4]
    h = b.node("Reshape", [h, b.const("shape1", np.array([-1, 6, 16], np.int64))], "reshape1")
    h = b.node("Transpose", [h], "transpose", perm=[0, 2, 1])  # [16, 6]
    h = b.node("Reshape", [h, b.const("shape2", np.array([0, -1], np.int64))], "reshape2")
    out = b.gemm(h, "fc", 96, 10)
    return b.model("concat", ["N", 1, 8, 8], out, ["N", 10])


def trained_head(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its last Gemm trained on the training digits (multinomial logistic regression
    on the features the rest of the network computes, kept random: the way train_digits_cnn trains):
    a digits classifier of any architecture of this file, for accuracy figures."""
    from sklearn.linear_model import LogisticRegression

    gemm = model.graph.node[-1]
    assert gemm.op_type == "Gemm", "the last node must be the classifier Gemm"
    features = onnx.ModelProto()
    features.CopyFrom(model)
    del features.graph.node[-1]
    del features.graph.output[:]
    features.graph.output.append(helper.make_tensor_value_info(gemm.input[0], TensorProto.FLOAT, None))
    x_train, y_train, _, _ = digits_data()
    f = ort_run(features, calib_set(model, len(x_train)))  # (the reference runs a fixed batch a sample a call)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(max_iter=2000, C=10.0).fit(f.reshape(len(f), -1), y_train)
    trained = onnx.ModelProto()
    trained.CopyFrom(model)
    weights = {i.name: i for i in trained.graph.initializer}
    weights[gemm.input[1]].CopyFrom(numpy_helper.from_array(clf.coef_.astype(np.float32), gemm.input[1]))
    weights[gemm.input[2]].CopyFrom(numpy_helper.from_array(clf.intercept_.astype(np.float32), gemm.input[2]))
    trained.graph.name = f"{model.graph.name}_trained"
    return trained


# quantize_model options per model: quant_pre_process would fuse MatMul + Add into Gemm
QUANTIZE_OPTIONS = {"mlp_matmul": {"preprocess": False}}

FLOAT_MODELS = {
    "digits_mlp": train_digits_mlp,
    "digits_cnn": train_digits_cnn,
    "mlp_gemm": mlp_model,
    "mlp_matmul": functools.partial(mlp_model, matmul=True),
    "cnn_pool": cnn_pool_model,
    "strided_depthwise": strided_depthwise_model,
    "residual": residual_model,
    "concat": concat_model,
}
# The same architectures as digits classifiers (their last Gemm trained), for accuracy figures; not
# among the families every test iterates over (FLOAT_MODELS), float_model() builds them too.
TRAINED_MODELS = {
    "cnn_pool_trained": lambda: trained_head(cnn_pool_model()),
    "strided_depthwise_trained": lambda: trained_head(strided_depthwise_model()),
    "residual_trained": lambda: trained_head(residual_model()),
    "concat_trained": lambda: trained_head(concat_model()),
}


# -------------------------------------------------------------------------- quantize and run


def variants(formats=FORMATS, per_channel=PER_CHANNEL, act_types=ACT_TYPES) -> list[tuple[str, bool, str]]:
    """Every (fmt, per_channel, act_type) combination, for pytest.mark.parametrize."""
    return [(f, pc, a) for f in formats for pc in per_channel for a in act_types]


def variant_id(variant: tuple[str, bool, str]) -> str:
    fmt, per_channel, act = variant
    return f"{fmt}-{'perchannel' if per_channel else 'pertensor'}-{act}"


_TMP: list[tempfile.TemporaryDirectory] = []


def _tmpdir() -> Path:
    if not _TMP:
        _TMP.append(tempfile.TemporaryDirectory(prefix="sdannc-models-"))
    return Path(_TMP[0].name)


def quantize(model: onnx.ModelProto, calib_x: np.ndarray | None = None, fmt: str = "qdq",
             per_channel: bool = False, act_type: str = "uint8", out_dir: str | Path | None = None,
             preprocess: bool = True) -> Path:
    """Quantize a float model with sdannc.quantization (onnxruntime's quantize_static); returns the path
    of the quantized .onnx (in out_dir, or a temporary folder that lives as long as the process)."""
    from sdannc.quantization import quantize_model

    out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(dir=_tmpdir()))
    out_dir.mkdir(parents=True, exist_ok=True)
    calib_x = calib_set(model) if calib_x is None else calib_x
    name = f"{model.graph.name or 'model'}-{variant_id((fmt, per_channel, act_type))}"
    src, calib, out = out_dir / f"{name}-float.onnx", out_dir / f"{name}-calib.npy", out_dir / f"{name}.onnx"
    onnx.save(model, src)
    np.save(calib, calib_x.astype(np.float32))
    quantize_model(src, calib, out, fmt=fmt, per_channel=per_channel, activation_type=act_type,
                   preprocess=preprocess)
    return out


@functools.lru_cache(maxsize=None)
def float_model(name: str) -> onnx.ModelProto:
    """A float model of FLOAT_MODELS or TRAINED_MODELS by name, built once per process (do not mutate it)."""
    return {**FLOAT_MODELS, **TRAINED_MODELS}[name]()


@functools.lru_cache(maxsize=None)
def quantized(name: str, fmt: str = "qdq", per_channel: bool = False, act_type: str = "uint8") -> Path:
    """The quantized form of a FLOAT_MODELS model, quantized once per process; returns its path."""
    return quantize(float_model(name), None, fmt, per_channel, act_type, **QUANTIZE_OPTIONS.get(name, {}))


def ort_run(model_or_path, x: np.ndarray) -> np.ndarray:
    """The model's first output on a batch x from the project's onnxruntime reference (exact integer
    mode on every CPU: sdannc/reference), batch first."""
    from sdannc.reference import reference

    return reference(model_or_path).outputs(x)
