"""Build the bundled example: a digits MLP (64-32-10), trained, exported to ONNX, quantized.

Writes examples/digits_mlp.onnx (float), examples/digits_mlp_q.onnx (QDQ, onnxruntime's static
quantizer), examples/digits_input.npy (held-out digits, float32 [n, 64]) and digits_labels.npy.
Deterministic: the same files every run. Needs scikit-learn (a dev dependency); the demo itself
only reads the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sdannc.quantization import quantize_model

HERE = Path(__file__).resolve().parent


def digits():
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    return train_test_split(x, data.target, test_size=0.3, random_state=0, stratify=data.target)


def export(clf: MLPClassifier) -> onnx.ModelProto:
    (w1, w2), (b1, b2) = clf.coefs_, clf.intercepts_
    inits = [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.astype(np.float32).ravel())
             for n, a in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))]
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
        helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"], name="fc2"),
    ]
    graph = helper.make_graph(nodes, "digits_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> int:
    x_train, x_test, y_train, y_test = digits()
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(x_train, y_train)
    print(f"float accuracy on held-out digits: {clf.score(x_test, y_test):.4f}")
    onnx.save(export(clf), HERE / "digits_mlp.onnx")
    np.save(HERE / "digits_calib.npy", x_train[:200])
    np.save(HERE / "digits_input.npy", x_test)
    np.save(HERE / "digits_labels.npy", y_test.astype(np.int64))
    quantize_model(HERE / "digits_mlp.onnx", HERE / "digits_calib.npy", HERE / "digits_mlp_q.onnx")
    print(f"wrote {HERE / 'digits_mlp_q.onnx'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
