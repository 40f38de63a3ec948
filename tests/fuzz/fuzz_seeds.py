"""The valid material every fuzz case mutates, built once per test process.

Quantized models from tests/models.py (each compiles), the float model they come from (for
`sdannc quantize`), a compiled chip image with its report.json (sparsified by the compile config, so
that `sdannc report` also runs its unsparsified comparison), a compile config that names real layers, the darwin3 target, and an input batch with labels that every entry point accepts.
"""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

import models
from sdannc.compiler import compile_model
from sdannc.resources import data_dir

# (model, format) of tests/models.py: dense layers, convolutions and pools, a residual Add, and
# Concat / Reshape / Transpose, in both onnxruntime formats
MODEL_SEEDS = (("mlp_gemm", "qdq"), ("mlp_gemm", "qop"), ("cnn_pool", "qdq"), ("residual", "qop"), ("concat", "qdq"))
IMAGE_SEED = ("mlp_gemm", "qdq")  # the model the seed image and the input arrays are made for
SAMPLES = 3

# layer names of mlp_gemm (qdq), as the compile summary prints them
CONFIG = {"sparsify": {"default": {"rot": 1}, "fc1": {"drlo": 2}, "fc2": "none"}}


class Seeds(NamedTuple):
    models: dict[str, bytes]  # "mlp_gemm-qdq" -> the quantized .onnx
    model: bytes  # the quantized model of IMAGE_SEED
    float_model: bytes  # its float form, for `sdannc quantize`
    image: dict[str, bytes]  # the compiled image of IMAGE_SEED: relative path -> bytes (report.json included)
    config: dict
    target: dict  # targets/darwin3.yaml as parsed
    target_text: bytes
    x: np.ndarray  # float32 [SAMPLES, 64]: an input batch for the model and the image
    labels: np.ndarray  # int64 [SAMPLES]

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing case; the bytes would be 150 kB
        return "Seeds(...)"


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _folder_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@functools.lru_cache(maxsize=1)
def seeds() -> Seeds:
    quantized = {f"{name}-{fmt}": models.quantized(name, fmt) for name, fmt in MODEL_SEEDS}
    image_model = quantized["-".join(IMAGE_SEED)]
    with tempfile.TemporaryDirectory(prefix="sdannc-fuzz-seed-") as tmp:
        config = Path(tmp) / "sdannc.yaml"
        config.write_text(yaml.safe_dump(CONFIG))
        compile_model(image_model, "darwin3", Path(tmp) / "image", config_path=config)  # sparsified: meta says so
        image = _folder_files(Path(tmp) / "image")
    target_text = (data_dir("targets") / "darwin3.yaml").read_bytes()
    x = models.eval_set(models.float_model(IMAGE_SEED[0]), SAMPLES).astype(np.float32)
    return Seeds(
        models={k: p.read_bytes() for k, p in quantized.items()},
        model=image_model.read_bytes(),
        float_model=models.float_model(IMAGE_SEED[0]).SerializeToString(),
        image=image,
        config=CONFIG,
        target=yaml.safe_load(target_text),
        target_text=target_text,
        x=x,
        labels=models.digits_data()[3][:SAMPLES].astype(np.int64),
    )
