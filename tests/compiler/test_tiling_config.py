"""The compile config's `tiling:` key (sdannc/config.py, backend/tiling.py): the most neurons one
tile (core) of a layer holds. Checked when read and against the graph's layers; smaller tiles take
more cores and compute the same codes; and the does-not-fit error for a shortage of big cores names
the layer, the need against the limit, and a `tiling:` setting that, applied, compiles."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import models
import sdannc
from sdannc.config import load_config, parse_config
from sdannc.errors import SdanncError

X = models.digits_data()[2][:6]


def _few_big_cores(tmp_path: Path, little: int) -> Path:
    """A 4 x 2 mesh (7 cores besides the controller) with one big core, (0, 1), and little cores of
    `little` words of dendrite memory."""
    path = tmp_path / "fewbig.yaml"
    path.write_text("extends: darwin3\nname: fewbig\nmesh:\n  width: 4\n  height: 2\ncore:\n"
                    "  big_core_rule: {column_modulus: 4, below: 1}\n"
                    f"  dendrite_memory_words:\n    big: 16384\n    little: {little}\n")
    return path


@pytest.mark.parametrize("section, fragment", [
    ("tiling: [fc1]\n", "'tiling' must be a mapping"),
    ("tiling: {fc1: 8}\n", "tiling.fc1 must be {neurons: N}"),
    ("tiling: {fc1: {neurons: 0}}\n", "positive integer"),
    ("tiling: {fc1: {neurons: true}}\n", "positive integer"),
    ("tiling: {fc1: {neurons: 8, rows: 2}}\n", "tiling.fc1 must be {neurons: N}"),
])
def test_bad_tiling_sections_are_refused(tmp_path, section, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(section)
    with pytest.raises(SdanncError) as info:
        load_config(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_tiling_is_read_with_sparsify():
    plan = parse_config({"sparsify": {"fc1": {"rot": 1}}, "tiling": {"fc1": {"neurons": 8}}}, "config <dict>")
    assert plan.tiling == {"fc1": 8} and "fc1" in plan.layers


def test_smaller_tiles_take_more_cores_and_compute_the_same():
    model = models.quantized("mlp_gemm")  # fc1 has 32 neurons: one tile of its own
    plain = sdannc.compile(model, "darwin3")
    tiled = sdannc.compile(model, "darwin3", config={"tiling": {"fc1": {"neurons": 8}}})
    assert len(tiled.image.cores) == len(plain.image.cores) + 3
    expected = sdannc.run_golden(model, X, "darwin3")
    np.testing.assert_array_equal(sdannc.simulate(tiled, X).outputs, expected)


@pytest.mark.parametrize("tiling, fragment", [
    ({"fc9": {"neurons": 8}}, "tiling.fc9: no neuron layer of that name; the layers are fc1, fc2, fc3"),
])
def test_tiling_of_an_unknown_layer_is_refused(tiling, fragment):
    with pytest.raises(SdanncError) as info:
        sdannc.compile(models.quantized("mlp_gemm"), "darwin3", config={"tiling": tiling})
    assert fragment in str(info.value)


def test_a_tile_smaller_than_a_row_is_refused():
    with pytest.raises(SdanncError) as info:  # conv1 of cnn_pool: [4, 8, 8], rows of 8
        sdannc.compile(models.quantized("cnn_pool"), "darwin3", config={"tiling": {"conv1": {"neurons": 5}}})
    assert "tiling.conv1: 5 neurons is less than one output row of the layer (8 neurons)" in str(info.value)


def test_big_core_shortage_names_the_layer_and_a_tiling_that_fits(tmp_path):
    """mlp_gemm's fc1 (459 words) and fc2 (134 words) both need a big core when little cores hold
    120 words; the chip has one. fc1 cannot shrink below 122 words (64 inputs' headers and ids), fc2
    can: the error says so, and the setting it gives compiles, and computes the same codes."""
    model, target = models.quantized("mlp_gemm"), _few_big_cores(tmp_path, 120)
    with pytest.raises(SdanncError) as info:
        sdannc.compile(model, str(target))
    message = str(info.value)
    assert message.startswith("layer fc2: 1 of its 1 tiles need a big core (dendrite tables of up to 134 words, "
                              "a little core holds 120); the network needs 2 big cores, the chip (fewbig) has 1")
    found = re.search(r"`tiling: \{(\w+): \{neurons: (\d+)\}\}`", message)
    assert found and found.group(1) == "fc2"
    compiled = sdannc.compile(model, str(target), config={"tiling": {"fc2": {"neurons": int(found.group(2))}}})
    np.testing.assert_array_equal(sdannc.simulate(compiled, X).outputs, sdannc.run_golden(model, X, str(target)))


def test_big_core_shortage_where_no_tile_size_helps(tmp_path):
    """Little cores of 30 words: no layer's one-row tile fits (fc3's, with the fewest inputs, needs more than 30)."""
    model = models.quantized("mlp_gemm")
    with pytest.raises(SdanncError) as info:
        sdannc.compile(model, str(_few_big_cores(tmp_path, 30)))
    message = str(info.value)
    assert "the network needs 3 big cores, the chip (fewbig) has 1" in message
    assert "so no tile size helps; use fewer inputs to the layer or a target with more big cores" in message


def test_the_capacity_estimate_counts_the_tiling(tmp_path):
    """fc1's 32 neurons at most 1 a tile need 32 cores: with a 7-core chip the estimate refuses it
    before any table is built, saying the tiling is why."""
    target = _few_big_cores(tmp_path, 16384)
    with pytest.raises(SdanncError) as info:
        sdannc.compile(models.quantized("mlp_gemm"), str(target), config={"tiling": {"fc1": {"neurons": 1}}})
    message = str(info.value)
    assert "needs at least 34 cores, the chip (fewbig) has 7" in message
    assert "layer fc1 alone needs 32 cores for 32 neurons at most 1 a tile (the config's tiling: for it" in message
