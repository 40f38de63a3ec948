"""Mutations shared by every input kind: damaged bytes, edited YAML/JSON trees, malformed arrays.

Each strategy draws a *plan* (plain tuples, so that hypothesis prints a failing case readably) and an
`apply` function carries it out on the seed. Indices in a plan are taken modulo the size of what they
index, so that one plan fits any seed.
"""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import yaml
from hypothesis import strategies as st

from fuzz_seeds import npy_bytes

BIG = 2 ** 31  # offsets and indices are drawn up to this, then taken modulo the real size

# ---- bytes --------------------------------------------------------------------------------------


def byte_damage():
    """Truncation at a random offset, random byte flips, random bytes, inserted bytes."""
    return st.one_of(
        st.tuples(st.just("truncate"), st.integers(0, BIG)),
        st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, BIG), st.integers(1, 255)),
                                            min_size=1, max_size=8)),
        st.tuples(st.just("random"), st.binary(max_size=300)),
        st.tuples(st.just("insert"), st.integers(0, BIG), st.binary(min_size=1, max_size=16)),
    )


def damage_bytes(data: bytes, plan) -> bytes:
    kind = plan[0]
    if kind == "random":
        return plan[1]
    if not data:
        return data
    if kind == "truncate":
        return data[:plan[1] % len(data)]
    if kind == "insert":
        at = plan[1] % (len(data) + 1)
        return data[:at] + plan[2] + data[at:]
    damaged = bytearray(data)
    for offset, xor in plan[1]:
        damaged[offset % len(damaged)] ^= xor
    return bytes(damaged)


# ---- YAML and JSON trees ------------------------------------------------------------------------

ODD_NUMBERS = (0, -1, 1, 2, 3, 255, 256, 2 ** 31, -(2 ** 31), 2 ** 63, 10 ** 30, -(10 ** 30))


def odd_value():
    """Values of every YAML kind, with the numbers that break arithmetic: zero, negative, huge."""
    return st.one_of(
        st.none(), st.booleans(), st.sampled_from(ODD_NUMBERS), st.integers(-(2 ** 70), 2 ** 70),
        st.floats(), st.text(max_size=8),
        st.lists(st.integers(-3, 30), max_size=3),
        st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=2),
    )


def tree_edit():
    """One edit of a parsed document: set, delete or add a key anywhere, put an odd number where a
    number is (the kind a schema check lets through), or replace the whole root."""
    return st.one_of(
        st.tuples(st.just("set"), st.integers(0, BIG), odd_value()),
        st.tuples(st.just("number"), st.integers(0, BIG), st.one_of(st.sampled_from(ODD_NUMBERS), st.floats())),
        st.tuples(st.just("delete"), st.integers(0, BIG)),
        st.tuples(st.just("add"), st.integers(0, BIG), st.text(min_size=1, max_size=8), odd_value()),
        st.tuples(st.just("root"), odd_value()),
    )


def _nodes(tree, path=()):
    """(path, value) of every node below the root, depth first in document order."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        yield path + (key,), value
        yield from _nodes(value, path + (key,))


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def edit_tree(tree, plan):
    """The tree after one edit (the input is not changed)."""
    tree = copy.deepcopy(tree)
    kind = plan[0]
    if kind == "root":
        return plan[-1]
    nodes = list(_nodes(tree))
    if kind == "add":
        mappings = [path for path in [()] + [p for p, _ in nodes] if isinstance(_at(tree, path), dict)]
        if mappings:
            _at(tree, mappings[plan[1] % len(mappings)])[plan[2]] = plan[3]
        return tree
    if kind == "number":
        nodes = [(p, v) for p, v in nodes if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not nodes:
        return tree
    path = nodes[plan[1] % len(nodes)][0]
    parent = _at(tree, path[:-1])
    if kind in ("set", "number"):
        parent[path[-1]] = plan[2]
    else:
        del parent[path[-1]]
    return tree


TREE_EDITS = ("set", "number", "delete", "add", "root")

# Text no YAML parser reads as the document it was meant to be.
BAD_YAML = (
    "key: [1, 2\n", "\tkey: 1\n", "a: b: c\n", "- x\ny: 1\n", "%YAML 9.9\n---\na: 1\n", "&a [*a, *b]\n",
    "!!python/object/apply:os.system ['true']\n", "{{{{\n", "key: 'unterminated\n", ": :\n",
    "sparsify:\n  default: {rot: 1\n", "? [a, b]\n: 1\n", "a: 1\na: 2\n", "---\n- 1\n---\n- 2\n",
)


def yaml_damage(extra=()):
    """A whole YAML file gone wrong: 1-3 tree edits, damaged text, or text that is not YAML."""
    return st.one_of(
        st.tuples(st.just("edits"), st.lists(st.one_of(tree_edit(), *extra), min_size=1, max_size=3)),
        st.tuples(st.just("bytes"), byte_damage()),
        st.tuples(st.just("text"), st.sampled_from(BAD_YAML)),
    )


def dump_yaml(tree) -> bytes:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode()


def damage_yaml(tree, plan, apply_extra=None) -> bytes:
    kind, detail = plan
    if kind == "text":
        return detail.encode()
    if kind == "bytes":
        return damage_bytes(dump_yaml(tree), detail)
    for edit in detail:
        tree = edit_tree(tree, edit) if edit[0] in TREE_EDITS else apply_extra(tree, edit)
    return dump_yaml(tree)


# ---- arrays -------------------------------------------------------------------------------------

DTYPES = ("float32", "float64", "float16", "longdouble", "int8", "uint8", "int16", "int32", "int64", "uint64",
          "bool", "complex64", "complex128", "<U3", "|S3", "datetime64[s]", "timedelta64[s]", "structured")


def _dtype(name: str) -> np.dtype:
    return np.dtype([("a", "<f4"), ("b", "<i2")]) if name == "structured" else np.dtype(name)


def _fill(dtype: np.dtype, shape: tuple, seed: int) -> np.ndarray:
    """Finite values of the dtype (NaN, inf and empty batches are the business of other checks)."""
    rng = np.random.default_rng(seed)
    size = math.prod(shape)
    if dtype.kind == "f":
        values = rng.uniform(-2.0, 2.0, size) * 10.0 ** rng.integers(-3, 4, size)
    elif dtype.kind == "c":
        values = rng.uniform(-2, 2, size) + 1j * rng.uniform(-2, 2, size)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size, dtype=dtype, endpoint=True)
    elif dtype.kind == "b":
        values = rng.integers(0, 2, size).astype(bool)
    elif dtype.kind in "US":
        values = np.array(["ab", "1", "x y"] * size)[:size].astype(dtype)
    elif dtype.kind in "mM":
        values = rng.integers(0, 10 ** 6, size).astype(dtype)
    else:
        values = np.zeros(size, dtype)
    return np.asarray(values).astype(dtype).reshape(shape)


def shape_for(good: tuple[int, ...]):
    """Shapes near the right one and far from it; never an empty batch or an empty array."""
    batch = st.integers(1, 4)
    return st.one_of(
        batch.map(lambda n: (n, *good[1:])),  # the right shape
        st.tuples(batch, st.integers(0, max(len(good) - 2, 0)), st.integers(1, 70)).map(  # one axis wrong
            lambda t: tuple([t[0], *good[1:]][:t[1] + 1] + [t[2]] + list(good[t[1] + 2:]))),
        st.lists(st.integers(1, 9), max_size=5).map(tuple),  # any rank, scalars included
        batch.map(lambda n: (n, *good[1:], 1)),  # one axis too many
    )


def array_damage(good: tuple[int, ...]):
    """An input file: an array of any dtype and shape, pickled objects, an .npz, damaged .npy bytes."""
    return st.one_of(
        st.tuples(st.just("array"), st.sampled_from(DTYPES), shape_for(good), st.integers(0, 2 ** 16)),
        st.tuples(st.just("pickled"), st.sampled_from(("objects", "list", "dict"))),
        st.tuples(st.just("npz"), st.sampled_from(("one", "two", "empty"))),
        st.tuples(st.just("bytes"), byte_damage()),
        st.tuples(st.just("text"), st.sampled_from(("1,2,3\n4,5,6\n", "", "\x93NUMPY", "[[0.5]]"))),
        st.tuples(st.just("not_a_number"), st.sampled_from(("nan", "inf", "-inf")), st.integers(0, 2 ** 16)),
        st.tuples(st.just("empty"), st.booleans()),  # no sample, or one value instead of a batch
    )


def damage_array(good: np.ndarray, plan) -> bytes:
    kind = plan[0]
    if kind == "array":
        _, dtype, shape, seed = plan
        return npy_bytes(_fill(_dtype(dtype), shape, seed))
    if kind == "pickled":
        value = {"objects": np.array([object(), 1], dtype=object), "list": np.array([[1, 2], [3]], dtype=object),
                 "dict": np.array({"x": good}, dtype=object)}[plan[1]]
        return npy_bytes(value, allow_pickle=True)
    if kind == "npz":
        buffer = io.BytesIO()
        np.savez(buffer, **{"one": {"x": good}, "two": {"x": good, "y": good}, "empty": {}}[plan[1]])
        return buffer.getvalue()
    if kind == "bytes":
        return damage_bytes(npy_bytes(good), plan[1])
    if kind == "not_a_number":  # NaN or an infinity at one place of the good batch
        x = good.astype(np.float32)
        x.reshape(-1)[plan[2] % x.size] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[plan[1]]
        return npy_bytes(x)
    if kind == "empty":
        return npy_bytes(good[:0] if plan[1] else good.reshape(-1)[0])
    return plan[1].encode()
