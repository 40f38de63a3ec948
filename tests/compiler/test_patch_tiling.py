"""Patches: a layer whose rows of all channels are more than a core holds is cut into patches of
rows x columns (partition.patches), so that an input pixel feeds the few patches its window reaches
instead of 3 rows x every channel group; the simulator equals the golden model on them."""

import numpy as np
import pytest

from sdannc.backend import build_image
from sdannc.backend.partition import Tile, local_index, patches, tiles, wants_patches
from sdannc.golden import run_codes
from sdannc.passes import run_pipeline
from sdannc.sim import Simulator
from sdannc.target import load_target

from irgraphs import GraphMaker


def test_patches_cover_the_layer_once_and_hold_all_channels():
    shape = (4, 20, 30)
    cut = patches(shape, 64)
    assert all(t.channels == 4 and t.x1 is not None and t.neurons(shape) <= 64 for t in cut)
    flat = np.concatenate([local_index(t, shape)[0] for t in cut])
    assert np.array_equal(np.sort(flat), np.arange(4 * 20 * 30))
    for t in cut:  # numbered channel-major, row by row within the patch
        f, local = local_index(t, shape)
        c, y, x = np.unravel_index(f, shape)
        width = t.x1 - t.x0
        assert np.array_equal(local, (c - t.c0) * t.rows * width + (y - t.r0) * width + (x - t.x0))


def test_patches_only_where_a_row_of_all_channels_is_more_than_a_core():
    assert not wants_patches((4, 16, 16), 64) and wants_patches((4, 16, 17), 64)
    assert not wants_patches((1000,), 64)
    assert tiles((4, 16, 16), 64) == tiles((4, 16, 16), 64, patch=False)
    assert all(t.x1 is None for t in tiles((4, 16, 16), 64))
    assert patches((64, 32, 32), 512) is None  # 8 pixels: less than LEAST_PATCH, a band instead
    assert tiles((64, 32, 32), 512, patch=True)[0] == Tile(0, 16, 0, 1)


def _small(tmp_path, neurons=64):
    path = tmp_path / "small.yaml"
    path.write_text(f"extends: darwin3\nname: small\ncore:\n  neurons: {neurons}\n")
    return load_target(str(path))


@pytest.mark.parametrize("stride", [1, 2])
def test_patch_tiles_simulate_as_the_golden_model(tmp_path, stride):
    """Convolutions, a max pool and an elementwise add over patch tiles (4 channels x 32 columns is
    more than a 64-neuron core): the simulator's outputs equal the golden model's."""
    target = _small(tmp_path)
    g = GraphMaker("patches", (3, 32 * stride, 32 * stride), seed=11)
    a = g.conv("x", 4, stride=stride)
    b = g.conv(a, 4, relu=False)
    g.maxpool(g.add(b, a, relu=True), k=2, stride=2)
    graph = run_pipeline(g.graph, target)
    image, layers = build_image(graph, target)
    cut = [all(t.x1 is not None for t in layer.tiles) for layer in layers.values()]
    assert cut[:2] == [True, True] and not cut[-1]  # the convolutions in patches; the pool's 16 columns in bands
    x = np.random.default_rng(3).integers(0, 256, size=(4, 3, 32 * stride, 32 * stride)).astype(np.uint8)
    expected = run_codes(graph, x.astype(np.int64), target.arith)
    assert len(np.unique(expected)) > 2
    np.testing.assert_array_equal(Simulator(image).run(x).outputs, expected)


def test_patches_feed_fewer_cores_than_bands(tmp_path, monkeypatch):
    """The same network cut in bands (patches turned off) makes more links: each pixel reaches 3
    rows x 2 channel groups of the next layer's bands, against a few of its 4 x 4 patches."""
    target = _small(tmp_path)
    g = GraphMaker("patches", (3, 32, 32), seed=12)
    g.conv(g.conv("x", 4), 4, relu=False)
    graph = run_pipeline(g.graph, target)
    _, with_patches = build_image(graph, target)
    from sdannc.backend import partition, tiling
    monkeypatch.setattr(tiling, "wants_patches", lambda shape, neurons: False)
    _, with_bands = build_image(graph, target)
    links = [sum(int(layer.links.source.size) for layer in layers.values()) for layers in (with_patches, with_bands)]
    assert links[0] * 2 < links[1]
    assert partition.wants_patches((4, 32, 32), 64)
