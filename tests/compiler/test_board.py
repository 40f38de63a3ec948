"""Boards of chips (docs/board.md): board targets, the partition across chips, board images, the
simulator over several chips (simulator == golden with ==), the link-load estimate against the
simulator's measure, and does-not-fit in chips.

The forced cases run on a board of small chips defined here (4 x 4 meshes of 32-neuron cores), so
that the backend tests' small IR graphs spread over two to four chips and each case takes a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sdannc.backend import build_image
from sdannc.backend import chips
from sdannc.backend import links as links_module
from sdannc.backend.addresses import INPUT
from sdannc.backend.board_report import board_report
from sdannc.backend.capacity import check_capacity
from sdannc.backend.links import LinkTable
from sdannc.compiler import element_spikes
from sdannc.errors import SdanncError
from sdannc.golden import run_codes
from sdannc.image import read_image, write_image
from sdannc.image.store import image_files, manifest_bytes
from sdannc.passes import run_pipeline
from sdannc.sim import Simulator
from sdannc.sim.report import build_report
from sdannc.target import load_target, target_from_dict
from sdannc.resources import data_dir

import test_backend_exact as graphs

LINKS = {"latency_cycles": 8, "flits_per_cycle": 0.5, "pj_per_flit": 16.0}


def small_board(folder: Path, mesh: int = 4, grid=(3, 2), links=None, name="small-board") -> Path:
    """A board of grid chips, each a mesh x mesh chip of 32-neuron cores (its own file, `extends: darwin3`)."""
    (folder / "small.yaml").write_text(yaml.safe_dump({
        "extends": "darwin3", "name": "small", "description": "a small chip for tests",
        "mesh": {"width": mesh, "height": mesh}, "core": {"neurons": 32}}))
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "description": "small chips", "chip": "small.yaml",
                                    "chips": {"width": grid[0], "height": grid[1]}, "chip_links": links or LINKS}))
    return path


@pytest.fixture
def board(tmp_path):
    return load_target(str(small_board(tmp_path)))


def compile_on(make, target, spikes=None):
    graph = run_pipeline(make(), target.chip_target())
    kept = []
    image, _ = build_image(graph, target, keep=kept.append, spikes=spikes)
    return graph, image, kept[0]


def inputs(graph, n=5, seed=0):
    shape = graph.tensors[graph.input].shape
    return np.random.default_rng(seed).integers(0, 256, size=(n,) + shape).astype(np.uint8)


# ---- targets -------------------------------------------------------------------------------------


BOARDS = ["darwin3-2x1", "darwin3-2x2", "darwin3-4x4", "darwin3-wafer"]


@pytest.mark.parametrize("name", BOARDS + [b.replace("darwin3-", "darwin3-wide-") for b in BOARDS])
def test_builtin_boards_are_their_chip_in_a_grid(name):
    board = load_target(name)
    chip = "darwin3-wide" if "wide" in name else "darwin3"
    assert board.is_board and board.name == name
    assert board.chip_target().raw == load_target(chip).raw  # the chip's keys, described once
    assert list(board.chip_target().raw) == list(load_target(chip).raw)  # in its order: same target.yaml
    side = {"2x1": (2, 1), "2x2": (2, 2), "4x4": (4, 4), "wafer": (8, 8)}[name.rsplit("-", 1)[1]]
    assert board.chip_grid == side and board.grid_size == (24 * side[0], 24 * side[1])
    assert board.chip_links == load_target("darwin3-2x1").chip_links  # the link figures written once
    assert target_from_dict(board.raw, "embedded").raw == board.raw  # an image's target.yaml reads back


def test_board_positions(tmp_path):
    board = load_target("darwin3-2x2")
    assert board.chip_of(25, 3) == (1, 0) and board.chip_of(3, 30) == (0, 1)
    assert board.is_board_core(1, 0) and not board.is_board_core(24, 24)  # chip (1, 1)'s controller
    assert not board.is_board_core(48, 0)
    assert board.is_big_core(24) and board.is_big_core(25) and not board.is_big_core(26)  # by the chip's column
    assert not load_target("darwin3").is_board and load_target("darwin3").chip_grid == (1, 1)


@pytest.mark.parametrize("change, key", [
    ({"arith": {"register_bits": 32}}, "arith"),  # the chip's keys belong in the chip's file
    ({"chip_links": {"latency_cycles": 8, "flits_per_cycle": 0.5}}, "chip_links.pj_per_flit"),
    ({"chip": "darwin3", "chips": {"width": 64, "height": 64}}, "chips"),  # an entry to another chip: 52 bits
    ({"chip_links": {**LINKS, "flits_per_cycle": 0}}, "chip_links.flits_per_cycle"),
])
def test_bad_boards_are_refused_naming_the_key(tmp_path, change, key):
    path = small_board(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw.update(change)
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SdanncError, match=f"key '{key}"):
        load_target(str(path))


def test_a_board_of_boards_is_refused(tmp_path):
    small_board(tmp_path)
    (tmp_path / "outer.yaml").write_text(yaml.safe_dump({"name": "outer", "description": "x",
                                                         "chip": "small-board.yaml", "chips": {"width": 2, "height": 1},
                                                         "chip_links": LINKS}))
    with pytest.raises(SdanncError, match="is a board, not a chip"):
        load_target(str(tmp_path / "outer.yaml"))


# ---- the partition across chips ------------------------------------------------------------------


def _table(src, dest) -> LinkTable:
    src, dest = np.asarray(src), np.asarray(dest)
    zeros = np.zeros(src.size, dtype=np.int64)
    return LinkTable.from_columns(np.arange(src.size), src, zeros, dest, zeros, zeros)


def test_cut_costs_count_every_link_across_each_cut():
    # links 0 -> 1, 0 -> 3, 2 -> 3, and the input (-1) -> 2
    links = _table([0, 0, 2, -1], [1, 3, 3, 2])
    packets = np.array([1.0, 10.0, 100.0, 1000.0])
    cut = chips.cut_costs(links, packets, 4)  # (one link per source element: spikes are its packets)
    assert cut.tolist() == [0.0, 1011.0, 1010.0, 110.0, 0.0]


@pytest.mark.parametrize("chunk", [3, 1 << 23])
def test_route_loads_and_cut_costs_are_the_sums_of_one_bincount_over_all_links(monkeypatch, chunk):
    """A chunk of links at a time, the floats added in the order one bincount over the whole table
    adds them: the same bits, with fractional (measured) spikes too."""
    monkeypatch.setattr(chips, "CHUNK", chunk)
    monkeypatch.setattr(links_module, "CHUNK", chunk)
    rng = np.random.default_rng(3)
    core_of = np.concatenate([np.full(4, INPUT), rng.integers(0, 6, 20)])  # 4 input elements, 20 neurons
    source = rng.integers(0, core_of.size, 200)
    table = LinkTable(source, rng.integers(0, 6, 200), np.zeros(200), np.zeros(200), core_of, np.zeros(24))
    spikes = rng.random(core_of.size) * 3
    src, dest, packets = core_of[source], table.dest, spikes[source]
    axons = src != INPUT
    pairs = np.unique(np.stack([src[axons], dest[axons]], axis=1), axis=0)
    np.testing.assert_array_equal(links_module.routes(table), pairs)
    at = [int(np.flatnonzero((pairs == (s, d)).all(axis=1))[0]) for s, d in zip(src[axons], dest[axons])]
    expected = np.bincount(at, weights=packets[axons], minlength=len(pairs))
    assert chips.route_packets(table, spikes, pairs).tobytes() == expected.tobytes()
    lo, hi = np.minimum(src, dest) + 1, np.maximum(src, dest) + 1
    cost = np.cumsum(np.bincount(lo, packets, minlength=8) - np.bincount(hi, packets, minlength=8))[:7]
    cost[0] = 0.0
    assert chips.cut_costs(table, spikes, 6).tobytes() == cost.tobytes()


def test_partition_cuts_where_least_crosses(tmp_path):
    chip = load_target(str(small_board(tmp_path, mesh=3))).chip_target()  # 8 cores a chip, 5 big (x = 0, 1)
    assert chip.core_count() == 8 and chips.big_cores(chip) == 5
    cut = np.array([0, 9, 9, 3, 9, 9, 9, 9, 9, 9, 0], dtype=np.float64)  # 10 tiles, the cut before tile 3 is cheap
    none = np.zeros(10, dtype=bool)
    assert chips.partition(cut, none, chip, 2) == [0, 3, 10]
    assert chips.partition(cut, none, chip, 1) is None  # 10 tiles, 8 cores
    big = np.zeros(10, dtype=bool)
    big[3:9] = True  # 6 big tiles after the cheap cut: the second chip has 5 big cores
    assert chips.partition(cut, big, chip, 2) == [0, 4, 10]
    assert chips.fewest_chips(none, chip) == 2 and chips.fewest_chips(np.ones(11, dtype=bool), chip) == 3
    # a cap on the tiles a chip holds (placement's retry when a chip's routes pass the hop limit)
    assert chips.partition(cut, none, chip, 2, cap=7) == [0, 3, 10]
    assert chips.partition(cut, none, chip, 2, cap=6) == [0, 4, 10]
    assert chips.partition(cut, none, chip, 2, cap=4) is None
    assert chips.partition(cut, none, chip, 3, cap=4) == [0, 3, 6, 10]


def test_snake_keeps_consecutive_chips_neighbours():
    order = chips.snake(6, (3, 2))
    assert order == [(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1)]
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(order, order[1:]))


# ---- compiling and simulating across chips -------------------------------------------------------


MODELS = [graphs.cnn_pools, graphs.strided_depthwise, graphs.residual_concat, graphs.gathers]


@pytest.mark.parametrize("make", MODELS)
def test_simulator_equals_golden_across_chips(make, board, tmp_path):
    graph, image, state = compile_on(make, board)
    assert len(state.chips) >= 2 and image.target.is_board
    used = {board.chip_of(c.x, c.y) for c in image.cores}
    assert used == set(state.chips)
    for k, chip in enumerate(state.chips):  # each chip holds its run of tiles, within its cores
        cores = image.cores[state.chip_bounds[k]:state.chip_bounds[k + 1]]
        assert {board.chip_of(c.x, c.y) for c in cores} == {chip}
        assert len(cores) <= board.core_count()
    crossing = within = 0
    for core in image.cores:  # entries to another chip have no hop limit; those within a chip do
        for dx, dy, _, _ in core.axon_targets.tolist():
            if board.chip_of(core.x + dx, core.y + dy) != board.chip_of(core.x, core.y):
                crossing += 1
            else:
                within += 1
                assert abs(dx) <= board.mesh["max_hops_per_axis"] and abs(dy) <= board.mesh["max_hops_per_axis"]
    assert crossing and within
    write_image(image, tmp_path / "img")
    assert json.loads((tmp_path / "img" / "manifest.json").read_text())["format_version"] == 3
    image = read_image(tmp_path / "img")
    x = inputs(graph)
    expected = run_codes(graph, x.astype(np.int64), board.arith)
    sim = Simulator(image)
    result = sim.run(x)
    assert len(np.unique(expected)) > 2
    np.testing.assert_array_equal(result.outputs, expected)
    report = build_report(sim, result)
    section = report["board"]
    assert {tuple(c["chip"]) for c in section["chips"]} == set(state.chips)
    assert section["chip_links"] and section["worst_chip_link"]["packets"] == max(e["packets"] for e in section["chip_links"])
    flits = sum(e["packets"] for e in section["chip_links"]) * board.noc["flits_per_packet"]
    assert section["chip_link_flits"] == flits
    assert report["energy"]["breakdown_pj"]["chip_link_pj"] == flits * board.chip_links["pj_per_flit"]


def test_one_chip_model_on_a_board_is_the_chips_image():
    graph = run_pipeline(graphs.cnn_pools(), load_target("darwin3"))
    alone, _ = build_image(graph, load_target("darwin3"))
    on_board, _ = build_image(graph, load_target("darwin3-2x2"))
    assert not on_board.target.is_board
    assert image_files(on_board) == image_files(alone)


def test_chip_link_latency_is_in_the_tick_cycles(tmp_path):
    slow = load_target(str(small_board(tmp_path, links={**LINKS, "latency_cycles": 1000}, name="slow")))
    graph, image, _ = compile_on(graphs.cnn_pools, slow)
    fast_raw = {**image.target.raw, "chip_links": {**LINKS, "latency_cycles": 0}}
    fast = type(image)(target_from_dict(fast_raw, "fast"), image.cores, image.io, image.schedule, image.meta)
    x = inputs(graph, n=2)
    slow_ticks = np.asarray(Simulator(image).run(x).counters.tick_cycles).max(axis=1)
    fast_ticks = np.asarray(Simulator(fast).run(x).counters.tick_cycles).max(axis=1)
    gap = slow_ticks - fast_ticks
    assert gap.max() == 1000  # a tick with a crossing waits for it once (its slowest route)
    assert set(gap.tolist()) <= {0, 1000}


def test_board_image_damage_is_refused(board, tmp_path):
    _, image, _ = compile_on(graphs.cnn_pools, board)
    root = tmp_path / "img"
    write_image(image, root)
    net = json.loads((root / "network.json").read_text())
    net["cores"][0]["chip"] = [1, 1]
    (root / "network.json").write_text(json.dumps(net))
    manifest = json.loads((root / "manifest.json").read_text())
    manifest.pop("manifest_sha256")
    import hashlib
    manifest["files"]["network.json"] = hashlib.sha256((root / "network.json").read_bytes()).hexdigest()
    (root / "manifest.json").write_bytes(manifest_bytes(manifest))
    with pytest.raises(SdanncError, match=r"network.json: core .* chip \[1, 1\] does not hold board position"):
        read_image(root)
    manifest["format_version"] = 2
    manifest.pop("manifest_sha256", None)
    (root / "manifest.json").write_bytes(manifest_bytes(manifest))
    with pytest.raises(SdanncError, match="format version 2 does not match target.yaml \\(a board\\)"):
        read_image(root)


# ---- link loads: the compiler's estimate against the simulator's measure -------------------------


@pytest.mark.parametrize("make", [graphs.cnn_pools, graphs.residual_concat, graphs.gathers])
def test_link_load_estimate_against_the_simulator(make, board):
    """With the spikes measured on the very inputs the simulator then runs, the compiler's estimate of
    every chip-to-chip edge and of the busiest on-chip link equals the simulator's count inside the
    samples' windows (both route x then y over the board, image/mesh.py): to float rounding. Without
    them, the fan-out estimate (half a code's bits a link) is a rough one: a tolerance of a factor of 4."""
    graph = run_pipeline(make(), board.chip_target())
    x = inputs(graph, n=8)
    _, image, state = compile_on(make, board, spikes=element_spikes(graph, x, board))
    estimate = board_report(state, image)
    sim = Simulator(image)
    measured = build_report(sim, sim.run(x))["board"]
    edges = {(tuple(e["from"]), tuple(e["to"])): e["packets_per_sample"] for e in measured["chip_links"]}
    assert estimate["estimate"] == "calibration" and len(estimate["chip_links"]) == len(edges) >= 1
    for edge in estimate["chip_links"]:
        assert edge["packets_per_sample"] == pytest.approx(edges[(tuple(edge["from"]), tuple(edge["to"]))], rel=1e-9)
    busiest = measured["busiest_on_chip_link"]
    assert estimate["busiest_link"]["link"] == busiest["link"]
    assert estimate["busiest_link"]["flits_per_sample"] == pytest.approx(busiest["flits_per_sample"], rel=1e-9)
    _, image, state = compile_on(make, board)
    rough = board_report(state, image)
    assert rough["estimate"] == "fan-out"
    assert busiest["flits_per_sample"] / 4 <= rough["busiest_link"]["flits_per_sample"] <= 4 * busiest["flits_per_sample"]


def test_weighted_placement_lowers_the_flit_hops(board):
    """Placement within a chip weighs each route by its packets: the flit-hops (the links' load in
    all) are no more than those of placing by hops alone."""
    from sdannc.backend import placement

    graph = run_pipeline(graphs.residual_concat(), board.chip_target())
    _, image, state = compile_on(graphs.residual_concat, board)
    lo, hi = state.chip_bounds[0], state.chip_bounds[1]
    routes = state.routes
    inside = (routes[:, 0] >= lo) & (routes[:, 0] < hi) & (routes[:, 1] >= lo) & (routes[:, 1] < hi)
    local, load = routes[inside] - lo, state.route_load[inside]
    load = load * np.linspace(1, 20, load.size)  # uneven loads, so that the weights matter
    needs = [False] * (hi - lo)
    owners = state.owners()[lo:hi]
    del graph, image

    def flit_hops(positions):
        xy = np.asarray(positions)
        return float((np.abs(xy[local[:, 0]] - xy[local[:, 1]]).sum(axis=1) * load).sum())

    weighted = placement.place(state.target, needs, owners, local, load)
    plain = placement.place(state.target, needs, owners, local)
    assert flit_hops(weighted) <= flit_hops(plain)


# ---- does not fit ---------------------------------------------------------------------------------


def test_board_for_names_the_smallest_board_with_the_chips():
    two = load_target("darwin3-2x1")
    assert chips.board_for(3, two) == "darwin3-2x2"
    assert chips.board_for(7, two) == "darwin3-4x4"
    assert chips.board_for(64, two) == "darwin3-wafer"
    assert chips.board_for(65, two) == ""
    assert chips.board_for(2, load_target("darwin3-wide")) == "darwin3-wide-2x1"


def test_does_not_fit_names_the_chips_and_the_board_tried(tmp_path):
    board = load_target(str(small_board(tmp_path, mesh=3, grid=(2, 1))))  # 8 cores a chip, 2 chips
    graph = run_pipeline(graphs.residual_concat(), board.chip_target())  # 58 tiles
    with pytest.raises(SdanncError, match=r"needs about \d+ chips; the largest board tried, small-board, has 2: "
                                          r"use a smaller input or fewer channels"):
        check_capacity(graph, board, "res.onnx")
        build_image(graph, board, model="res.onnx")


def test_does_not_fit_on_a_builtin_board_suggests_a_larger_one():
    two = load_target("darwin3-2x1")
    message = str(chips.does_not_fit("model m.onnx: at least 1,500 cores (575 a chip)", 3, two))
    assert message == ("model m.onnx: at least 1,500 cores (575 a chip): needs about 3 chips; the largest board "
                       "tried, darwin3-2x1, has 2: use darwin3-2x2")


def test_builtin_board_files_are_in_the_targets_folder():
    names = {p.stem for p in data_dir("targets").glob("*.yaml")}
    assert set(BOARDS) <= names


# ---- the commands on a board ----------------------------------------------------------------------


def test_compile_sim_and_report_on_a_board(tmp_path):
    """An onnxruntime-quantized model over three small chips, through the CLI: the compile summary
    names the chips and links, `sim` equals the golden model, `report` shows the board and plots it."""
    import models
    from cli_checks import assert_ok, invoke
    from sdannc.compiler import golden_outputs

    board = small_board(tmp_path)
    model = models.quantized("cnn_pool")
    x = models.eval_set(models.float_model("cnn_pool"), 4)
    np.save(tmp_path / "x.npy", x)
    result = invoke("compile", model, "-t", board, "-o", tmp_path / "img", "--calib", tmp_path / "x.npy")
    assert_ok(result)
    assert "board small-board: 2 of 6 chips used" in result.stdout
    assert "chip link (0, 0) -> (1, 0): about" in result.stdout
    compiled = json.loads((tmp_path / "img" / "report.json").read_text())
    assert compiled["board"]["chips_used"] == 2 and compiled["board"]["estimate"] == "calibration"
    assert sum(c["cores"] for c in compiled["board"]["chips"]) == compiled["cores_used"]
    assert_ok(invoke("sim", tmp_path / "img", "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy",
                     "--report", tmp_path / "sim.json"))
    expected = golden_outputs(model, x, load_target(str(board)), calib=x)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    assert json.loads((tmp_path / "sim.json").read_text())["board"]["chip_links"]
    assert_ok(invoke("report", tmp_path / "img", "-i", tmp_path / "x.npy", "-o", tmp_path / "rep"))
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Board: chips and chip-to-chip links" in page and 'id="fig-board"' in page
    assert (tmp_path / "rep" / "board.png").read_bytes()[:4] == b"\x89PNG"


def test_a_full_chip_keeps_its_big_cores_for_the_tiles_that_need_them(tmp_path):
    """The curve gives each tile the next core; on a chip that the tiles fill, the tiles that need no
    big core take little ones once no big core is spare, so the last tiles that need one find one
    (a full chip of the CIFAR ResNet-18 was refused before)."""
    from sdannc.backend import placement

    chip = load_target(str(small_board(tmp_path))).chip_target()  # 15 cores, 7 big (x = 0, 1)
    needs = [False] * 8 + [True] * 7
    positions = placement.place(chip, needs, ["a"] * 15)
    assert len(set(positions)) == 15
    assert all(chip.is_big_core(x) for (x, _), big in zip(positions, needs) if big)
    with pytest.raises(SdanncError, match="no big core left"):
        placement.place(chip, [False] * 7 + [True] * 8, ["a"] * 15)  # 8 need one, the chip has 7



@pytest.mark.parametrize("make,mesh", [(graphs.gathers, 4), (graphs.residual_concat, 5), (graphs.residual_concat, 6),
                                       (graphs.residual_concat, 4)])  # the last: too long a route in the end
def test_board_placement_rounds_keep_the_full_search_positions(make, mesh, tmp_path, monkeypatch):
    """Chips of a 1-hop limit: the routes pass it and the tiles are cut again. The rounds' shortcuts
    (a run placed once, the other chips of a failed round stopped early) end with the positions,
    chips and longest route (or the error naming the long route) of placing every chip in full."""
    from sdannc.backend import build, placement

    (tmp_path / "short.yaml").write_text(yaml.safe_dump({
        "extends": "darwin3", "name": "short", "description": "a small chip of short routes",
        "mesh": {"width": mesh, "height": mesh, "max_hops_per_axis": 1}, "core": {"neurons": 32}}))
    (tmp_path / "short-board.yaml").write_text(yaml.safe_dump({
        "name": "short-board", "description": "short chips", "chip": "short.yaml",
        "chips": {"width": 4, "height": 4}, "chip_links": LINKS}))
    board = load_target(str(tmp_path / "short-board.yaml"))

    refine = placement._refine

    def run():
        statuses: list[str] = []  # and a line per orientation of the curve searched from
        monkeypatch.setattr(placement, "_refine", lambda *args: statuses.append("search") or refine(*args))
        graph = run_pipeline(make(), board.chip_target())
        kept = []
        try:
            build_image(graph, board, status=statuses.append, keep=kept.append)
        except SdanncError as error:
            return str(error), statuses
        state = kept[0]
        return ([(c.x, c.y) for c in state.builder.cores], state.worst_hops, state.chip_bounds), statuses

    fast, fast_status = run()
    full_place = build._place_on_chips

    def in_full(state, full=False):
        state.placed_runs = {}
        return full_place(state, full=True)

    monkeypatch.setattr(build, "_place_on_chips", in_full)
    slow, slow_status = run()
    assert any("at most" in s for s in fast_status) and fast == slow
    rounds = [[s for s in status if s.startswith("routes of")] for status in (fast_status, slow_status)]
    assert rounds[0] == rounds[1]  # every round's longest route, chips and cap
    searched = [status.count("search") for status in (fast_status, slow_status)]
    assert searched[0] < searched[1]  # the shortcuts were taken
