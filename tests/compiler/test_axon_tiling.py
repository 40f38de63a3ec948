"""Neurons per core chosen for the axon memory from the consumers' links, before a layer's tables are built."""

import numpy as np
import pytest

from sdannc.backend import build_image, tiling
from sdannc.backend.partition import local_index, tiles
from sdannc.errors import SdanncError
from sdannc.golden import run_codes
from sdannc.image.memory import axon_memory_words
from sdannc.passes import run_pipeline
from sdannc.sim import Simulator
from sdannc.target import load_target

from irgraphs import GraphMaker


def test_axon_cap_is_the_largest_halving_whose_tiles_fit():
    target = load_target("darwin3")
    shape = (64, 8, 8)
    per_neuron = 30  # entries; with its pointer, 31 words a neuron: 528 neurons fit 16384 words
    cap = tiling.axon_cap(shape, np.full(64 * 8 * 8, per_neuron), target)
    assert cap == 512
    for tile in tiles(shape, cap):
        assert local_index(tile, shape)[0].size * (per_neuron + 1) <= target.core["axon_memory_words"]


def test_a_layer_feeding_many_cores_is_built_once_and_fits_its_axon_memory(tmp_path, monkeypatch):
    """8 neurons and 20 axon words per core: every fc1 neuron feeds each of fc2's 8 cores, 9 words a
    neuron, so fc1 must hold 2 neurons per core; that is known from fc2's links before fc1 is built."""
    path = tmp_path / "small.yaml"
    path.write_text("extends: darwin3\nname: small\ncore:\n  neurons: 8\n  axon_memory_words: 20\n")
    target = load_target(str(path))
    g = GraphMaker("mlp", (16,), seed=5)
    g.dense(g.dense("x", 64), 64, relu=False)
    graph = run_pipeline(g.graph, target)
    built = []
    original = tiling.build_layer
    monkeypatch.setattr(tiling, "build_layer", lambda node, *args: built.append(node.name) or original(node, *args))
    image, layers = build_image(graph, target)
    assert sorted(built) == sorted(layer.node.name for layer in layers.values())  # no layer rebuilt
    fc1 = next(iter(layers.values()))
    assert len(fc1.cores) == 32
    assert all(axon_memory_words(core, target) <= 20 for core in image.cores)
    x = np.random.default_rng(0).integers(0, 256, size=(3, 16)).astype(np.uint8)
    np.testing.assert_array_equal(Simulator(image).run(x).outputs, run_codes(graph, x.astype(np.int64), target.arith))


def test_a_row_whose_axon_lists_overflow_a_core_is_a_one_line_error(tmp_path):
    """Every neuron of the 4-wide convolution feeds each of the dense layer's 8 cores (9 words a
    neuron); 20 words hold 2 neurons, but a core holds at least a row of 4."""
    path = tmp_path / "small.yaml"
    path.write_text("extends: darwin3\nname: small\ncore:\n  neurons: 8\n  axon_memory_words: 20\n")
    target = load_target(str(path))
    g = GraphMaker("cnn", (1, 4, 4), seed=6)
    h = g.conv("x", 2)
    g.dense(g.reshape(h, (2 * 4 * 4,)), 64, relu=False)
    graph = run_pipeline(g.graph, target)
    with pytest.raises(SdanncError) as error:
        build_image(graph, target)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"layer {graph.nodes[0].name}:") and "row of 4" in message
    assert "36 words" in message and "has 20" in message and "fewer channels" in message
