"""The capacity estimate (sdannc/backend/capacity.py): lower bounds that never refuse a network that
fits (checked against real builds of every model family), that are tight where they can be counted
by hand, and that refuse a network far too large for the chip in one line, before any table is built."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import models
from sdannc.backend import build_image, tiling
from sdannc.backend.capacity import chip_dendrite_words, estimate
from sdannc.backend.report import compile_report
from sdannc.compiler import lower
from sdannc.target import load_target
from test_does_not_fit import assert_does_not_fit, gemm_net, int_weights, user_target, with_int_weights


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _built(model, target):
    """The lowered graph, the compile report, and each layer's dendrites as built (in report order)."""
    graph = lower(model, target)
    image, layers = build_image(graph, target)
    dendrites = [sum(image.cores[c].n_dendrites for c in layer.cores) for layer in layers.values()]
    return graph, compile_report(graph, image, layers, target, str(model)), dendrites


def _exact_dendrites(graph, layer: str) -> bool:
    """Layers whose dendrites the bound counts exactly when they take one core: dense and elementwise
    inputs, and windows of one tap (no border classes)."""
    node = next(n for n in graph.nodes if n.name == layer)
    return all(c["kind"] != "conv" or tuple(c["kernel"]) == (1, 1) for c in node.attrs["connections"])


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
@pytest.mark.parametrize("name", sorted(models.FLOAT_MODELS))
def test_the_estimate_never_exceeds_the_build(name, target_name):
    """Per layer and in all: neurons exactly, cores and dendrite words at most what the image uses;
    and never below what a core's neurons alone require (an estimate of 0 cannot pass)."""
    target = load_target(target_name)
    graph, report, dendrites = _built(models.quantized(name), target)
    needs = estimate(graph, target)
    assert [n.layer for n in needs] == [r["layer"] for r in report["layers"]]
    for need, row, built in zip(needs, report["layers"], dendrites):
        assert need.neurons == row["neurons"], need
        assert _ceil(need.neurons, target.core["neurons"]) <= need.cores <= row["cores"], (need, row)
        assert 0 < need.dendrites <= built, (need, built)
        if row["cores"] == 1 and _exact_dendrites(graph, need.layer):
            assert need.dendrites == built, (need, built)
        assert need.dendrites < need.dendrite_words <= row["dendrite_words"], (need, row)
    assert sum(n.cores for n in needs) <= report["cores_used"]
    assert sum(n.neurons for n in needs) == report["neurons"]


def test_dense_dendrite_words_by_hand():
    """One neuron of a dense 20 -> 1 layer: the build stores 20 headers, the id list [0] and the two
    distinct weight lists [127] and [-127], one word each: 23 words (test_does_not_fit). The bound
    counts the headers and one list of each kind: 22."""
    target = load_target("darwin3")
    graph, report, _ = _built(gemm_net((20, 1)), target)
    (need,) = estimate(graph, target)
    assert need.dendrite_words == 22  # the bound: headers + one id list + one weight list
    assert report["layers"][0]["dendrite_words"] == 23


def test_dense_tiles_for_dendrite_memory(tmp_path):
    """A dense 100 -> 16 layer with random int8 weights (every column distinct) on cores of 202 words:
    a run of c outputs needs 100 headers + ceil(16c / 48) id words + 100 x ceil(8c / 48) weight words,
    which fits for c <= 6 (202 words) and not for 7 (303): at least 3 runs (6 + 6 + 4). The backend
    halves 16 outputs a tile to 8 (too large) and to 4: 4 tiles."""
    rng = np.random.default_rng(5)
    model = gemm_net((100, 16))
    weights = rng.integers(-127, 128, size=int_weights(model, "fc1").shape)
    for c0 in range(16 - 6):  # over any 7 outputs, the 100 columns differ: 7 outputs do not fit
        assert np.unique(weights[c0:c0 + 7], axis=1).shape[1] == 100
    model = with_int_weights(model, tmp_path / "random.onnx", {"fc1": weights})
    target = load_target(str(user_target(tmp_path, "dend202", "core:\n  dendrite_memory_words:\n    big: 202\n"
                                                              "    little: 202\n")))
    graph, report, _ = _built(model, target)
    (need,) = estimate(graph, target)
    assert (need.cores, need.limit) == (3, "dendrite tables")
    assert report["layers"][0]["cores"] == 4
    assert estimate(graph, target, dense_runs=False)[0].cores == 1  # without the runs: neurons only


def test_identical_weight_lists_count_once(tmp_path):
    """All weights 127: the 100 columns of a dense 100 -> 16 layer are one list, stored once. On cores
    of 202 words one tile holds it all (100 headers + 6 id words + one list of 3 words); counting the
    100 lists apart (300 words) would make the estimate exceed the build."""
    model = gemm_net((100, 16), "ones")
    assert (int_weights(model, "fc1") == 127).all()
    target = load_target(str(user_target(tmp_path, "dend202", "core:\n  dendrite_memory_words:\n    big: 202\n"
                                                              "    little: 202\n")))
    graph, report, _ = _built(model, target)
    assert report["layers"][0]["cores"] == estimate(graph, target)[0].cores == 1
    assert report["layers"][0]["dendrite_words"] == 109


def _wide_conv_model() -> onnx.ModelProto:
    """The VGG-16-at-224 problem with almost no weights: two 3x3 convolutions (3 -> 16 -> 64 channels)
    on a 3 x 224 x 224 input make 16 x 224 x 224 + 64 x 224 x 224 = 4,014,080 neurons, 980 cores'
    worth on darwin3 (4,096 neurons a core) before the pooling layers; the chip has 575."""
    b = models._Builder(models.SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 3, 16, pads=[1, 1, 1, 1])], "relu1")
    h = b.node("Relu", [b.conv(h, "conv2", 16, 64, pads=[1, 1, 1, 1])], "relu2")
    h = b.node("GlobalAveragePool", [h], "gap")
    h = b.node("Flatten", [h], "flatten", axis=1)
    return b.model("wide224", ["N", 3, 224, 224], b.gemm(h, "fc", 64, 10), ["N", 10])


@pytest.fixture(scope="module")
def wide_model():
    calib = np.random.default_rng(9).uniform(0, 1, (2, 3, 224, 224)).astype(np.float32)
    return models.quantize(_wide_conv_model(), calib)


def test_a_network_far_too_large_is_refused_before_any_table(runner, tmp_path, wide_model, monkeypatch):
    def no_tables(*args, **kwargs):
        raise AssertionError("a table was built for a network the estimate refuses")

    monkeypatch.setattr(tiling, "build_layer", no_tables)
    cores = _ceil(16 * 224 * 224, 4096) + _ceil(64 * 224 * 224, 4096) + 1 + 1  # conv1, conv2, gap, fc
    message = assert_does_not_fit(runner, tmp_path, wide_model, "darwin3", f"model {wide_model}",
                                  f"needs at least {cores:,} cores", "the chip (darwin3) has 575",
                                  f"{16 * 224 * 224 + 64 * 224 * 224 + 64 + 10:,} neurons",
                                  f"layer conv2 alone needs {_ceil(64 * 224 * 224, 4096):,} cores",
                                  "use a smaller input or fewer channels")
    assert message.count("layer ") == 1


def test_more_dendrite_memory_than_the_chip_has(runner, tmp_path):
    """A dense 150 -> 1 layer: 150 headers plus an id and a weight list, at least 152 words; on a
    4 x 1 mesh (cores x = 1, 2, 3: one big core of 100 words, two little of 10) two cores would do
    by count, but the chip's 120 words cannot hold the tables."""
    target = user_target(tmp_path, "mem120", "mesh:\n  width: 4\n  height: 1\ncore:\n  dendrite_memory_words:\n"
                                             "    big: 100\n    little: 10\n")
    assert chip_dendrite_words(load_target(str(target))) == 120
    assert_does_not_fit(runner, tmp_path, gemm_net((150, 1)), target, "needs at least 152 words of dendrite memory",
                        "has 120 in all its cores", "layer fc1 alone needs 152", "fewer channels")


def test_a_row_longer_than_a_core_is_refused(runner, tmp_path):
    """A core holds whole rows of a layer's output: rows of 10 neurons on cores of 8 cannot be placed."""
    b = models._Builder(models.SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 2, pads=[1, 1, 1, 1])], "relu1")
    h = b.node("Flatten", [h], "flatten", axis=1)
    float_model = b.model("long_rows", ["N", 1, 2, 10], b.gemm(h, "fc", 40, 4), ["N", 4])
    model = models.quantize(float_model, np.random.default_rng(2).uniform(0, 1, (8, 1, 2, 10)).astype(np.float32))
    target = user_target(tmp_path, "n8", "core:\n  neurons: 8\n")
    assert_does_not_fit(runner, tmp_path, model, target, "layer conv1", "[2, 2, 10]", "rows of 10 neurons",
                        "a core holds 8", "smaller input")


def test_the_estimate_passes_and_placement_still_refuses(runner, tmp_path):
    """On cores of 48 neurons, cnn_pool's estimate is 6 + 2 + 3 + 1 + 1 = 13 cores (neurons / 48), but
    a tile holds whole rows: conv1 (4 x 8 x 8) takes 8 tiles of one row of 4 x 8, maxpool 2, conv2 4,
    avgpool and fc 1 each: 16. A 5 x 3 mesh (14 cores) passes the estimate; placement refuses it."""
    model = models.quantized("cnn_pool")
    target = user_target(tmp_path, "n48", "mesh:\n  width: 5\n  height: 3\ncore:\n  neurons: 48\n")
    graph = lower(model, load_target(str(target)))
    assert [n.cores for n in estimate(graph, load_target(str(target)))] == [6, 2, 3, 1, 1]
    assert_does_not_fit(runner, tmp_path, model, target, "needs 16 cores", "has 14", late=True)


def test_rows_no_input_reaches_have_no_dendrites(tmp_path):
    """A 1x1 convolution padded by 1 on an 8 x 8 input: its 10 x 10 output's first and last rows hear
    only padding. On cores of 10 neurons (a row each) those two tiles get no dendrite, the other 8 one
    each: the bound counts the 8 rows the window reaches, as the build does."""
    b = models._Builder(models.SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 1, k=1, pads=[1, 1, 1, 1])], "relu1")
    h = b.node("Flatten", [h], "flatten", axis=1)
    float_model = b.model("border_rows", ["N", 1, 8, 8], b.gemm(h, "fc", 100, 4), ["N", 4])
    model = models.quantize(float_model, models.as_images(models.digits_data()[0][:16]))
    target = load_target(str(user_target(tmp_path, "n10", "core:\n  neurons: 10\n")))
    graph, report, dendrites = _built(model, target)
    conv = estimate(graph, target)[0]
    assert (conv.layer, report["layers"][0]["cores"]) == ("conv1", 10)
    assert conv.dendrites == dendrites[0] == 8
