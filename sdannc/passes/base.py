"""The pass contract: a named function from IR to IR, given the target and the compile options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..ir.codes import CODE_MAX
from ..ir.graph import Graph, Node, Tensor
from ..ir.ops import STEM
from ..sparsify import Plan
from ..target import Target


@dataclass
class Options:
    """What the user asked for that passes read (compile config and command line)."""

    calib: np.ndarray | None = None  # calibration inputs (--calib): scaled integration from measured sums
    model: str = "<model>"  # what errors call the model
    sparsify: Plan = field(default_factory=Plan)  # the config's `sparsify:` section
    integration: str | None = None  # the config's `integration:`: None chooses per layer, "horner" forces the paper's
    coding: str = "stem"  # --coding / the config's `coding:`: how codes travel as spikes (passes/coding.py)


@dataclass(frozen=True)
class Pass:
    name: str  # what --dump-ir and --stop-after call it
    run: Callable[[Graph, Target, Options], Graph]
    doc: str = ""


def fresh_name(graph: Graph, base: str) -> str:
    name, i = base, 1
    while name in graph.tensors:
        name, i = f"{base}_{i}", i + 1
    return name


def stem_node(name: str, inputs, out: Tensor, connections, weights, bias, real_multiplier, clamp=(0, CODE_MAX)) -> Node:
    """A STEM layer before scaled integration and requantization: per-neuron bias and real multiplier."""
    params = {f"weight{i}": np.asarray(w, dtype=np.int64) for i, w in enumerate(weights)}
    params["bias"] = np.broadcast_to(bias, out.shape).astype(np.int64).copy()
    params["real_multiplier"] = np.broadcast_to(real_multiplier, out.shape).astype(np.float64).copy()
    return Node(name=name, op=STEM, inputs=list(inputs), output=out.name,
                attrs={"connections": list(connections), "zero_point": out.zero_point, "clamp": tuple(clamp)},
                params=params)


def identity_stem(graph: Graph, source: str, name: str, out: Tensor, clamp=(0, CODE_MAX)) -> Node:
    """A STEM node that re-emits `source` requantized to `out`'s scale and zero point (a relay)."""
    src = graph.tensors[source]
    return stem_node(name, [source], out, [{"kind": "elementwise"}], [np.ones((1,) * len(src.shape))],
                     -src.zero_point, src.scale / out.scale, clamp)
