"""The backend as named steps (sdannc/backend/build.py): tile, place, wire, io, schedule, each shown
to the compile's observe hook; the one link table the steps after tiling read; `--dump-ir` of the
backend steps; and the image meta, assembled in the backend."""

from __future__ import annotations

import re

import numpy as np
import pytest

import models
from cli_checks import assert_ok, new_runner
from sdannc.backend import BACKEND_STEP_NAMES, build_image, io, links, neuron_addresses, schedule, tiling, wiring
from sdannc.backend.addresses import INPUT
from sdannc.backend.meta import image_meta
from sdannc.cli import main
from sdannc.compiler import compile_in_memory, lower
from sdannc.errors import SdanncError
from sdannc.image import ImageBuilder, Schedule, read_image
from sdannc.passes import STEP_NAMES
from sdannc.ir.depths import depths
from sdannc.config import parse_config
from sdannc.sparsify import Plan
from sdannc.target import load_target


@pytest.fixture(scope="module")
def target():
    return load_target("darwin3")


@pytest.fixture(scope="module")
def cnn_graph(target):
    return lower(models.quantized("cnn_pool"), target)


@pytest.fixture(scope="module")
def residual(target):
    """A network whose layers read two inputs (the residual Add), built into tiles."""
    graph = lower(models.quantized("residual"), target)
    return graph, tiling.tile(graph, target)


def test_build_image_runs_its_steps_in_order_and_shows_each_to_observe(cnn_graph, target):
    seen = []
    build_image(cnn_graph, target, observe=lambda step, state: seen.append((step, list(state.done))))
    assert BACKEND_STEP_NAMES == ["tile", "chips", "place", "wire", "io", "schedule"]
    assert [step for step, _ in seen] == BACKEND_STEP_NAMES
    assert [done for _, done in seen] == [BACKEND_STEP_NAMES[:i + 1] for i in range(len(BACKEND_STEP_NAMES))]


def test_compile_observes_the_passes_then_the_backend_steps(target):
    seen = []
    compile_in_memory(models.quantized("cnn_pool"), target, observe=lambda step, _: seen.append(step))
    assert seen == STEP_NAMES + BACKEND_STEP_NAMES


def test_the_link_table_is_every_tiles_links_in_order(residual):
    """Layer by layer, tile by tile, input by input: each link's receiving core is its tile's, and its
    source (core, neuron) is where the neuron addresses put that element of its input tensor."""
    graph, tiles = residual
    addresses = neuron_addresses(graph, tiles.layers)
    table, at = tiles.links, 0
    assert any(len(layer.node.inputs) > 1 for layer in tiles.layers.values())
    for layer in tiles.layers.values():
        flat = layer.links
        for t, core in enumerate(layer.cores):
            a, b = int(flat.tile_start[t]), int(flat.tile_start[t + 1])
            assert np.all(np.diff(flat.input[a:b]) >= 0)  # a tile's links input by input
            assert np.all(table.dest[at + a:at + b] == core)
            for i, source in enumerate(layer.node.inputs):
                mine = np.flatnonzero(flat.input[a:b] == i) + a
                core_of, index_of = addresses[source]
                np.testing.assert_array_equal(table.src_core[at + mine], core_of[flat.element[mine]])
                np.testing.assert_array_equal(table.src_index[at + mine], index_of[flat.element[mine]])
        np.testing.assert_array_equal(table.dendrite[at:at + flat.dendrite.size], flat.dendrite)
        np.testing.assert_array_equal(table.carried[at:at + flat.carried.size], flat.carried)
        at += flat.dendrite.size
    assert at == len(table)


def test_routes_are_the_distinct_core_pairs_of_the_neurons_links(residual):
    _, tiles = residual
    table = tiles.links
    axons = table.src_core != INPUT
    expected = np.unique(np.stack([table.src_core[axons], table.dest[axons]], axis=1), axis=0)
    np.testing.assert_array_equal(links.routes(table), expected)
    assert links.routes(table.select(~axons)).shape == (0, 2)


def test_group_by_core_keeps_core_order_then_first_appearance_and_table_order():
    # elements 7 and 3 on core 1, 9 on core 0, 2 an input element (no group)
    core_of = np.asarray([0, 0, INPUT, 1, 0, 0, 0, 1, 0, 0])
    order, bounds, senders, first = wiring.group_by_core(np.asarray([7, 3, 2, 7, 9, 3, 7]), core_of)
    assert senders.tolist() == [9, 7, 3] and bounds.tolist() == [0, 1, 4, 6]
    assert order.tolist() == [4, 0, 3, 6, 1, 5]
    assert first[[7, 3, 2, 9, 0]].tolist() == [0, 1, 2, 4, -1]
    order, bounds, senders, _ = wiring.group_by_core(np.zeros(0, dtype=np.int32), core_of)
    assert order.size == 0 and bounds.tolist() == [0] and senders.size == 0


def _table(**columns) -> links.LinkTable:
    n = len(next(iter(columns.values())))
    full = {name: np.asarray(columns.get(name, np.zeros(n)), dtype=np.int64)
            for name in ("source", "src_core", "src_index", "dest", "dendrite", "carried")}
    return links.LinkTable.from_columns(**full)


def test_wire_refuses_the_first_route_beyond_the_hop_limit(target):
    builder = ImageBuilder(target)
    for x in (0, 20, 1):
        builder.add_core(x, 0, [], 1)
    table = _table(source=[5, 6, 7], src_core=[2, 0, 0], dest=[0, 1, 2])  # 1 -> 0 is fine, 0 -> 1 is not
    with pytest.raises(SdanncError, match=r"layer b -> layer c: route from core \(0, 0\) to \(20, 0\) needs 20 \+ 0"):
        wiring.wire(builder, table, ["b", "c", "a"], target)


def test_map_inputs_gives_each_input_element_its_links_in_table_order(target):
    builder = ImageBuilder(target)
    builder.add_core(0, 0, [], 4)
    builder.map_output(0, 0, 0)
    table = _table(source=[1, 3, 0, 1], src_core=[INPUT, 0, INPUT, INPUT], src_index=[1, 0, 0, 1], dest=[0, 0, 0, 0],
                   dendrite=[4, 9, 5, 6], carried=[0, 0, 1, 2])
    io.map_inputs(builder, table)
    image_io = builder.build((3,), {}, (1,), {}, Schedule(8, 8, 15)).io
    assert image_io.input_ptr.tolist() == [0, 1, 3, 3]
    assert image_io.input_dendrite.tolist() == [5, 4, 6] and image_io.input_index.tolist() == [1, 0, 2]


def test_an_output_that_is_the_input_is_refused(target):
    with pytest.raises(SdanncError, match="the model's output is its input unchanged"):
        io.map_outputs(ImageBuilder(target), np.asarray([INPUT]), np.asarray([0]))


def test_the_schedule_reads_the_output_in_the_last_window(cnn_graph, target):
    tiles = tiling.tile(cnn_graph, target)
    schedule.stage_cores(cnn_graph, tiles.layers)
    depth = depths(cnn_graph)
    for layer in tiles.layers.values():
        assert {(c.stage, c.layer) for c in layer.builders} == {(depth[layer.node.output], layer.node.name)}
    s = schedule.schedule(cnn_graph)
    assert (s.bits, s.sample_interval, s.output_offset) == (8, 8, 8 * 5 - 1)  # five layers deep


def test_the_image_meta_is_assembled_in_the_backend(target):
    plan = parse_config({"sparsify": {"default": {"rot": 2}}}, "config <dict>")
    graph = lower(models.quantized("cnn_pool"), target, plan=plan)
    image, layers = build_image(graph, target, model="cnn.onnx")
    names = [layer.node.name for layer in layers.values()]
    assert list(image.meta) == ["model", "layers", "sparsify", "sparsify_registers"]
    assert image.meta["model"] == "cnn.onnx" and image.meta["layers"] == names
    sparsified = [n for n in graph.nodes if n.attrs.get("sparsify")]
    assert sparsified and image.meta["sparsify"] == {n.name: n.attrs["sparsify"] for n in sparsified}
    assert set(image.meta["sparsify_registers"]) == {n.name for n in graph.nodes if "sparsify" in n.attrs}
    assert image_meta("m", graph, layers) == {**image.meta, "model": "m"}
    plain = lower(models.quantized("cnn_pool"), target, plan=Plan())
    assert build_image(plain, target)[0].meta["sparsify"] == {}


def _section(stdout: str, step: str) -> str:
    parts = re.split(r"^== IR after (\S+) ==$", stdout, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))[step]


def test_dump_ir_of_tile_and_place_lists_every_layers_tiles_and_cores(tmp_path):
    """cnn_pool on cores of 64 neurons: conv1's 4 x 8 x 8 outputs take four tiles of 2 rows."""
    small = tmp_path / "small.yaml"
    small.write_text("extends: darwin3\nname: small\ncore:\n  neurons: 64\n")
    out = tmp_path / "out"
    result = new_runner().invoke(main, ["compile", str(models.quantized("cnn_pool")), "-t", str(small), "-o",
                                        str(out), "--dump-ir", "place", "--dump-ir", "tile", "-q"])
    assert_ok(result)
    assert re.findall(r"^== IR after (\S+) ==$", result.stdout, flags=re.M) == ["tile", "place"]
    image = read_image(out)
    tiled, placed = _section(result.stdout, "tile"), _section(result.stdout, "place")
    for text, where in ((tiled, False), (placed, True)):
        layers = re.findall(r"^  layer (\S+) .*: (\d+) tiles?$", text, flags=re.M)
        assert [name for name, _ in layers] == image.meta["layers"]
        cores = [int(c) for c in re.findall(r"^    tile \d+: core (\d+),", text, flags=re.M)]
        assert cores == list(range(len(image.cores))) and sum(int(n) for _, n in layers) == len(image.cores)
        at = re.findall(r"; at \((\d+), (\d+)\), (big|little) core$", text, flags=re.M)
        assert len(at) == (len(image.cores) if where else 0)
    conv1 = re.search(r"^  layer conv1 .*\n((?:    tile .*\n)+)", placed, flags=re.M).group(1).splitlines()
    assert len(conv1) == 4 and all(", 64 neurons," in line for line in conv1)
    assert [re.search(r"rows (\S+),", line).group(1) for line in conv1] == ["0..1", "2..3", "4..5", "6..7"]
    for c, (x, y, _) in enumerate(re.findall(r"; at \((\d+), (\d+)\), (big|little) core$", placed, flags=re.M)):
        assert (image.cores[c].x, image.cores[c].y) == (int(x), int(y))
    assert "placement: " in placed and "placement: " not in tiled
