"""A level's code products on onnxruntime's integer kernels (MatMulInteger, uint8 x int8), exact on
every CPU.

The functional engine's code products (a code 0..255 per source and code, functional.py) are
integer matrix products. onnxruntime's MatMulInteger runs them on int8 instructions, several times
faster than float32 BLAS on a CPU with VNNI; but on CPUs without VNNI its default u8 x s8 kernels
add pairs of products in 16 bits with saturation (docs/exactness.md), and its exact mode
(`session.x64quantprecision`) gives up most of the speed. So the codes go in as their two nibbles
(code = 16 high + low, each 0..15): a pair of products is then at most 2 x 15 x 128 = 3840 < 2^15,
and a sum of R of them at most 15 x 128 x R < 2^31, so no kernel of any CPU can saturate or wrap,
and the two products (one call, the nibbles stacked) give 16 high + low exactly. Only groups whose
weights are int8 take this path. Sessions come from the project's one place (sdannc/reference:
`default_session`), one per level, a MatMulInteger per dense group.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from . import functional_kernel as fk

_NIBBLE_MAX = 15
_INT8 = (-128, 127)
_INT32_HIGH = (1 << 31) - 1
_PAIR_HIGH = (1 << 15) - 1


def integer_group(weights: np.ndarray) -> bool:
    """Whether a group's weights [rows, taps] may take the integer path: int8, and a column's sum of
    nibble products within int32 (each pair of products is within 2^15 whatever the weights)."""
    if not weights.size or weights.min() < _INT8[0] or weights.max() > _INT8[1]:
        return False
    assert 2 * _NIBBLE_MAX * -_INT8[0] <= _PAIR_HIGH  # the bound the module docstring proves
    return _NIBBLE_MAX * int(np.abs(weights).sum(axis=0).max()) <= _INT32_HIGH


class LevelSession:
    """One onnxruntime session for a level's integer groups: input A_g [2 x codes x carried, rows]
    uint8 (the high nibbles' rows, then the low ones'), output Y_g = A_g @ W_g int32."""

    def __init__(self, groups: list, threads: int = 1) -> None:
        from ..reference import default_session

        self.groups, self.count = groups, len(groups)
        nodes, inputs, outputs, weights = [], [], [], []
        for k, g in enumerate(groups):
            rows = g.weights_t.shape[1]
            nodes.append(helper.make_node("MatMulInteger", [f"a{k}", f"w{k}"], [f"y{k}"]))
            inputs.append(helper.make_tensor_value_info(f"a{k}", TensorProto.UINT8, ["n", rows]))
            outputs.append(helper.make_tensor_value_info(f"y{k}", TensorProto.INT32, ["n", g.weights_t.shape[0]]))
            weights.append(numpy_helper.from_array(np.ascontiguousarray(g.weights_t.T).astype(np.int8), f"w{k}"))
        graph = helper.make_graph(nodes, "level_products", inputs, outputs, weights)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        self.session = default_session(model, threads)
        self.names = [f"y{k}" for k in range(len(groups))]
        # each group's M, transposed and by carried index within a code: column (carried, row)
        self.gathers = [np.ascontiguousarray(g.gather.reshape(g.weights_t.shape[1], g.n_carried).T.reshape(-1))
                        for g in groups]

    def add(self, codes: np.ndarray, local: np.ndarray) -> None:
        """local [level neurons, columns] += every group's products of codes [columns, level sources]
        (uint8)."""
        columns, sources = codes.shape
        x = np.zeros((2 * columns, sources + 1), dtype=np.uint8)  # a zero column last: gather -1
        np.right_shift(codes, 4, out=x[:columns, :sources])
        np.bitwise_and(codes, _NIBBLE_MAX, out=x[columns:, :sources])
        feeds = {}
        for k, (g, gather) in enumerate(zip(self.groups, self.gathers)):
            feeds[f"a{k}"] = np.take(x, gather, axis=1).reshape(2 * columns * g.n_carried, -1)
        for g, y in zip(self.groups, self.session.run(self.names, feeds)):
            fk.scatter_nibbles(local, y, g.targets, columns)


def level_session(groups: list) -> LevelSession | None:
    """The level's session over its integer groups, or None where it has none."""
    mine = [g for g in groups if g.integer]
    return LevelSession(mine) if mine else None

