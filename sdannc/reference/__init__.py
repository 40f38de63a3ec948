"""onnxruntime as the reference, created in one place and in its exact integer mode.

On x86 CPUs without AVX-512 VNNI or AVX-VNNI (most AMD, older Intel), onnxruntime's default U8S8
kernels add pairs of u8 x s8 products in 16 bits with saturation, so a quantized layer's sums can be
wrong by many steps (docs/exactness.md). The session option `session.x64quantprecision = "1"` makes
them exact on every CPU. Exact mode has no kernel for int8 activations in QOperator models; those run
as their uint8 twin (sdannc/reference/twin.py), which computes the same numbers. Only a model
that neither loads nor has a twin gets onnxruntime's default session, and says so (`Reference.note`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import onnx
from onnx import helper

from ..errors import SdanncError
from .twin import uint8_twin, unshift

EXACT_OPTION = ("session.x64quantprecision", "1")

EXACT, TWIN, DEFAULT = "exact", "exact (uint8 twin)", "default"


def _options(exact: bool, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # onnxruntime's warnings are not the user's
    if exact:
        options.add_session_config_entry(*EXACT_OPTION)
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return options


def _session(model: onnx.ModelProto, exact: bool, threads: int = 0):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), _options(exact, threads), providers=["CPUExecutionProvider"])


@dataclass
class Reference:
    """An onnxruntime session of a model, with the mode it runs in and how to read its tensors."""

    session: object
    mode: str  # EXACT, TWIN or DEFAULT
    note: str = ""  # why the mode is not EXACT, for every figure that reports against it
    shifted: frozenset = field(default_factory=frozenset)  # tensors the twin holds as value + 128

    @property
    def exact(self) -> bool:
        return self.mode != DEFAULT

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs()]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the session on the batch x, by name, in the original model's types.

        A model whose batch axis is fixed to 1 is run one sample at a time."""
        inp = self.session.get_inputs()[0]
        if inp.shape and inp.shape[0] == 1 and len(x) != 1:
            runs = [self.session.run(None, {inp.name: x[i:i + 1]}) for i in range(len(x))]
            values = [np.concatenate(parts) for parts in zip(*runs)]
        else:
            values = self.session.run(None, {inp.name: x})
        return {name: unshift(v) if name in self.shifted else v for name, v in zip(self.output_names, values)}

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """The model's first output on x."""
        return next(iter(self.run(x).values()))


def _load(model_or_path) -> tuple[onnx.ModelProto, str]:
    if isinstance(model_or_path, onnx.ModelProto):
        return model_or_path, model_or_path.graph.name or "model"
    try:
        return onnx.load(os.fspath(model_or_path)), str(model_or_path)
    except Exception as exc:  # onnx raises protobuf's DecodeError, OSError and others
        raise SdanncError(f"model {model_or_path}: onnxruntime cannot read it ({type(exc).__name__})") from None


def with_outputs(model: onnx.ModelProto, tensors: Sequence[str]) -> onnx.ModelProto:
    """A copy of the model that also outputs the given intermediate tensors (types left to onnxruntime).

    Not for reading a quantized model's layers: onnxruntime does not fuse a QDQ group whose
    QuantizeLinear output is a graph output, so the copy may compute other numbers (verify cuts the
    model at each tensor instead, sdannc/verification/onnx_tensors.py). Tests use it on models without
    QDQ groups."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    present = {o.name for o in out.graph.output}
    for name in tensors:
        if name not in present:
            out.graph.output.append(helper.make_empty_tensor_value_info(name))
            present.add(name)
    return out


def reference(model_or_path, threads: int = 0) -> Reference:
    """The project's onnxruntime reference for a model (a path or a ModelProto): exact where onnxruntime
    can be, the default session otherwise, flagged. `threads` > 0 fixes onnxruntime's thread count
    (the benchmark's)."""
    model, name = _load(model_or_path)
    try:
        return Reference(_session(model, True, threads), EXACT)
    except Exception as exact_failure:  # onnxruntime raises its own Fail / NotImplemented types
        reason = " ".join(str(exact_failure).split())[:200]
    twin = uint8_twin(model)
    if twin is not None:
        try:
            return Reference(_session(twin[0], True, threads), TWIN, shifted=twin[1])
        except Exception:
            pass
    try:
        session = _session(model, False, threads)
    except Exception as exc:
        raise SdanncError(f"model {name}: onnxruntime cannot load it: {' '.join(str(exc).split())[:300]}") from None
    return Reference(session, DEFAULT, note=(f"onnxruntime's exact mode cannot load {os.path.basename(name)} ({reason}); "
                                             "compared against its default kernels, which may saturate on this CPU"))



def default_session(model_or_path, threads: int = 0):
    """onnxruntime's default session, for what it is good for: its speed, and telling whether this CPU's
    default kernels saturate. Never the reference."""
    return _session(_load(model_or_path)[0], False, threads)


def default_session_disagreement(model_or_path, x: np.ndarray, exact_outputs: np.ndarray) -> str | None:
    """One line when onnxruntime's default session on this CPU gives other outputs than the exact one
    on x (its U8S8 kernels saturate without VNNI), else None."""
    default = Reference(default_session(model_or_path), DEFAULT).outputs(x)
    differ = float(np.mean(default != exact_outputs)) if default.size else 0.0
    if differ == 0.0:
        return None
    return f"onnxruntime's default kernels on this CPU saturate: {differ:.2%} of outputs differ from its exact mode"
