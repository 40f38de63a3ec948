"""ONNX protobuf surgery: edits of a valid quantized model that a user's exporter, a hand edit or a
bad merge could produce. Each edit is a plan (a tuple); `edit_model` carries it out on a ModelProto.
"""

from __future__ import annotations

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from fuzz_mutations import BIG

INDEX = st.integers(0, BIG)
OP_TYPES = ("LSTM", "NoSuchOp", "Relu", "QLinearConv", "Conv", "DequantizeLinear", "QuantizeLinear", "Softmax",
            "If", "Gemm", "Add", "MaxPool", "Identity", "Constant", "")
DOMAINS = ("com.example", "ai.onnx.ml", "com.microsoft", "ai.onnx", "")
VALUE_FILLS = ("zero", "negative", "nan", "inf", "huge", "tiny", "max", "min", "random")
ATTRIBUTE_NAMES = ("axis", "transA", "transB", "alpha", "kernel_shape", "pads", "strides", "group", "ceil_mode",
                   "auto_pad", "dilations", "perm", "nosuch")
ODD_INTS = (-(10 ** 6), -2, -1, 0, 1, 2, 3, 7, 10 ** 6, 2 ** 40)


def onnx_edit():
    return st.one_of(
        st.tuples(st.just("elem_type"), st.sampled_from(("input", "output", "initializer", "value_info")), INDEX,
                  st.integers(0, 30)),
        st.tuples(st.just("init_dims"), INDEX, st.lists(st.integers(-2, 70), max_size=4)),
        st.tuples(st.just("remove_init"), INDEX),
        st.tuples(st.just("init_values"), INDEX, st.sampled_from(VALUE_FILLS), st.integers(0, 2 ** 16)),
        st.tuples(st.just("raw_truncate"), INDEX, INDEX),
        st.tuples(st.just("input_dims"), st.lists(st.one_of(st.integers(-2, 100), st.sampled_from(("N", "h"))),
                                                  max_size=5)),
        st.tuples(st.just("input_shape_clear")),
        st.tuples(st.just("op_type"), INDEX, st.sampled_from(OP_TYPES)),
        st.tuples(st.just("domain"), INDEX, st.sampled_from(DOMAINS)),
        st.tuples(st.just("cycle"), INDEX, INDEX),
        st.tuples(st.just("dangling"), INDEX, INDEX),
        st.tuples(st.just("empty_graph")),
        st.tuples(st.just("duplicate_node"), INDEX),
        st.tuples(st.just("duplicate_init"), INDEX),
        st.tuples(st.just("same_name"), INDEX, INDEX),
        st.tuples(st.just("opset"), st.sampled_from((1, 12, 13, 17, 21, 22, 99, 10 ** 6))),
        st.tuples(st.just("ir_version"), st.integers(0, 20)),
        st.tuples(st.just("attribute"), INDEX, INDEX, st.sampled_from(ODD_INTS), st.floats()),
        st.tuples(st.just("drop_attribute"), INDEX, INDEX),
        st.tuples(st.just("add_attribute"), INDEX, st.sampled_from(ATTRIBUTE_NAMES), st.sampled_from(ODD_INTS)),
        st.tuples(st.just("drop_node"), INDEX),
        st.tuples(st.just("node_inputs"), INDEX, st.sampled_from(("reverse", "drop_last", "drop_first", "repeat"))),
        st.tuples(st.just("graph_output"), st.sampled_from(("nowhere", "input", "first_node"))),
        st.tuples(st.just("extra_input")),
        st.tuples(st.just("extra_output")),
        st.tuples(st.just("rename_output"), INDEX),
    )


def model_damage():
    """1 to 3 edits of one seed model."""
    return st.lists(onnx_edit(), min_size=1, max_size=3)


def _pick(items, index):
    return items[index % len(items)] if len(items) else None


def _values(array: np.ndarray, fill: str, seed: int) -> np.ndarray:
    """An array of the same dtype and shape holding the odd values `fill` names."""
    if array.dtype.kind == "f":
        value = {"zero": 0.0, "negative": -1.0, "nan": np.nan, "inf": np.inf, "huge": 1e30, "tiny": 1e-30,
                 "max": np.finfo(array.dtype).max, "min": np.finfo(array.dtype).min}.get(fill)
    elif array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        value = {"zero": 0, "negative": max(info.min, -1), "max": info.max, "min": info.min}.get(fill, info.max)
    else:
        return array
    if fill == "random" or value is None:
        rng = np.random.default_rng(seed)
        if array.dtype.kind == "f":
            return (rng.standard_normal(array.shape) * 10.0 ** rng.integers(-4, 4)).astype(array.dtype)
        info = np.iinfo(array.dtype)
        return rng.integers(info.min, info.max, array.shape, endpoint=True).astype(array.dtype)
    return np.full(array.shape, value, array.dtype)


def _set_attribute(attr, integer: int, real: float) -> None:
    if attr.type == onnx.AttributeProto.INT:
        attr.i = integer
    elif attr.type == onnx.AttributeProto.INTS:
        attr.ints[:] = [integer] * (abs(integer) % 5)
    elif attr.type == onnx.AttributeProto.FLOAT:
        attr.f = real
    elif attr.type == onnx.AttributeProto.STRING:
        attr.s = b"NOSUCH"
    else:
        attr.type = onnx.AttributeProto.INT  # a tensor attribute that is suddenly of another type
        attr.i = integer


def edit_model(model: onnx.ModelProto, plan) -> None:
    g = model.graph
    kind, args = plan[0], plan[1:]
    nodes, inits = g.node, g.initializer
    if kind == "elem_type":
        where, index, elem = args
        if where == "initializer" and inits:
            _pick(inits, index).data_type = elem
        else:
            infos = {"input": g.input, "output": g.output, "value_info": g.value_info}.get(where, g.input)
            if infos:
                _pick(infos, index).type.tensor_type.elem_type = elem
    elif kind == "init_dims" and inits:
        _pick(inits, args[0]).dims[:] = args[1]
    elif kind == "remove_init" and inits:
        inits.remove(_pick(inits, args[0]))
    elif kind == "init_values" and inits:
        tensor = _pick(inits, args[0])
        try:
            values = numpy_helper.to_array(tensor)
        except Exception:  # noqa: BLE001 - an earlier edit broke this tensor already
            return
        tensor.CopyFrom(numpy_helper.from_array(_values(values, *args[1:]), tensor.name))
    elif kind == "raw_truncate" and inits:
        tensor = _pick(inits, args[0])
        if tensor.raw_data:
            tensor.raw_data = tensor.raw_data[:args[1] % len(tensor.raw_data)]
    elif kind == "input_dims" and g.input:
        shape = g.input[0].type.tensor_type.shape
        shape.ClearField("dim")
        for d in args[0]:
            dim = shape.dim.add()
            if isinstance(d, str):
                dim.dim_param = d
            else:
                dim.dim_value = d
    elif kind == "input_shape_clear" and g.input:
        g.input[0].type.tensor_type.ClearField("shape")
    elif kind == "op_type" and nodes:
        _pick(nodes, args[0]).op_type = args[1]
    elif kind == "domain" and nodes:
        _pick(nodes, args[0]).domain = args[1]
    elif kind == "cycle" and nodes:
        i, j = sorted((args[0] % len(nodes), args[1] % len(nodes)))
        if nodes[i].input and nodes[j].output:
            nodes[i].input[0] = nodes[j].output[0]  # node i now reads what a later node (or itself) makes
    elif kind == "dangling" and nodes:
        node = _pick(nodes, args[0])
        if node.input:
            node.input[args[1] % len(node.input)] = "nowhere"
    elif kind == "empty_graph":
        g.ClearField("node")
    elif kind == "duplicate_node" and nodes:
        nodes.add().CopyFrom(_pick(nodes, args[0]))
    elif kind == "duplicate_init" and inits:
        inits.add().CopyFrom(_pick(inits, args[0]))
    elif kind == "same_name" and nodes:
        _pick(nodes, args[0]).name = _pick(nodes, args[1]).name
    elif kind == "opset":
        for opset in model.opset_import:
            if opset.domain in ("", "ai.onnx"):
                opset.version = args[0]
    elif kind == "ir_version":
        model.ir_version = args[0]
    elif kind == "attribute" and nodes:
        node = _pick(nodes, args[0])
        if node.attribute:
            _set_attribute(_pick(node.attribute, args[1]), *args[2:])
    elif kind == "drop_attribute" and nodes:
        node = _pick(nodes, args[0])
        if node.attribute:
            node.attribute.remove(_pick(node.attribute, args[1]))
    elif kind == "add_attribute" and nodes:
        node = _pick(nodes, args[0])
        if args[1] not in {a.name for a in node.attribute}:
            node.attribute.append(helper.make_attribute(args[1], args[2]))
    elif kind == "drop_node" and nodes:
        nodes.remove(_pick(nodes, args[0]))
    elif kind == "node_inputs" and nodes:
        node = _pick(nodes, args[0])
        names = list(node.input)
        names = {"reverse": names[::-1], "drop_last": names[:-1], "drop_first": names[1:],
                 "repeat": names + names[-1:]}[args[1]]
        node.ClearField("input")
        node.input.extend(names)
    elif kind == "graph_output" and g.output:
        name = {"nowhere": "nowhere", "input": g.input[0].name if g.input else "input",
                "first_node": nodes[0].output[0] if nodes and nodes[0].output else "x"}[args[0]]
        g.output[0].name = name
    elif kind == "extra_input":
        g.input.append(helper.make_tensor_value_info("extra_in", onnx.TensorProto.FLOAT, [1, 3]))
    elif kind == "extra_output" and nodes and nodes[0].output:
        g.output.append(helper.make_tensor_value_info(nodes[0].output[0], onnx.TensorProto.FLOAT, None))
    elif kind == "rename_output" and nodes:
        node = _pick(nodes, args[0])
        if node.output:
            node.output[0] = node.output[0] + "_renamed"  # its readers now read a tensor nobody makes


def damaged_model(seed: bytes, plans) -> bytes:
    model = onnx.ModelProto()
    model.ParseFromString(seed)
    for plan in plans:
        edit_model(model, plan)
    return model.SerializeToString()
