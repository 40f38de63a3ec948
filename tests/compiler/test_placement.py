"""Placement along the curve: every core once, neighbours adjacent, big cores honoured, routes short."""

import numpy as np
import pytest

from sdannc.backend.placement import curve, place, worst_hops
from sdannc.target import load_target

TARGET = load_target("darwin3")


def test_curve_visits_every_neuron_core_once_in_unit_steps():
    points = curve(TARGET)
    assert len(points) == len(set(points)) == TARGET.core_count()
    assert TARGET.controller not in points
    steps = [abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(points, points[1:])]
    assert max(steps) <= 2  # 1 everywhere but where the controller's node is skipped


def test_tiles_that_need_big_cores_get_them():
    needs_big = [i % 3 == 0 for i in range(40)]
    positions = place(TARGET, needs_big, ["layer"] * 40)
    assert len(set(positions)) == 40
    assert all(TARGET.is_big_core(x) for (x, _), big in zip(positions, needs_big) if big)


def test_with_routes_the_worst_route_is_no_longer_than_without():
    rng = np.random.default_rng(0)
    n = 200
    routes = np.unique(np.stack([rng.integers(0, n - 60, 400), rng.integers(0, n, 400)], axis=1), axis=0)
    routes = routes[np.abs(routes[:, 0] - routes[:, 1]) < 60]  # mostly between neighbouring layers
    plain = place(TARGET, [False] * n, ["l"] * n)
    chosen = place(TARGET, [False] * n, ["l"] * n, routes)
    assert worst_hops(chosen, routes) <= worst_hops(plain, routes)
    assert worst_hops(plain, np.array([[0, 1]])) == 1


def _all_to_all(first: list[int], second: list[int]) -> np.ndarray:
    return np.asarray([(a, b) for a in first for b in second], dtype=np.int64)


def _chain(core_counts: list[int]) -> tuple[list[bool], list[str], np.ndarray]:
    """Layers of the given core counts, all on big cores, each feeding every core of the next."""
    layers, start = [], 0
    for count in core_counts:
        layers.append(list(range(start, start + count)))
        start += count
    routes = np.concatenate([_all_to_all(a, b) for a, b in zip(layers, layers[1:])])
    owners = [f"layer{i}" for i, layer in enumerate(layers) for _ in layer]
    return [True] * start, owners, routes


def _check(positions, needs_big, routes):
    assert len(set(positions)) == len(positions)
    assert all(TARGET.is_core(x, y) for x, y in positions)
    assert all(TARGET.is_big_core(x) for (x, _), big in zip(positions, needs_big) if big)
    assert worst_hops(positions, routes) <= TARGET.mesh["max_hops_per_axis"]


def test_large_layers_connected_all_to_all_fit_within_the_hop_limit():
    # like VGG-11's 256->512 and 512->512 convolutions at 4 x 4: 128 big cores that must all lie within
    # the limit of each other, which the curve alone does not achieve
    needs_big, owners, routes = _chain([16, 32, 16, 16, 64, 64, 4])
    needs_big[-4:] = [False] * 4
    curve_only = place(TARGET, needs_big, owners)
    assert worst_hops(curve_only, routes) > TARGET.mesh["max_hops_per_axis"]
    _check(place(TARGET, needs_big, owners, routes), needs_big, routes)


def test_placement_is_deterministic():
    needs_big, owners, routes = _chain([8, 24, 24, 8])
    assert place(TARGET, needs_big, owners, routes) == place(TARGET, needs_big, owners, routes)


def test_refined_placement_keeps_every_route_within_the_limit_and_big_cores_for_big_tiles():
    rng = np.random.default_rng(1)
    n = 300
    needs_big = (rng.uniform(size=n) < 0.5).tolist()
    routes = np.unique(np.stack([rng.integers(0, n, 3000), rng.integers(0, n, 3000)], axis=1), axis=0)
    routes = routes[np.abs(routes[:, 0] - routes[:, 1]) < 40]
    _check(place(TARGET, needs_big, ["l"] * n, routes), needs_big, routes)


def test_refinement_shortens_the_routes_in_all():
    needs_big, owners, routes = _chain([8, 24, 24, 8])
    plain, refined = place(TARGET, needs_big, owners), place(TARGET, needs_big, owners, routes)

    def total(positions):
        xy = np.asarray(positions)
        return int(np.abs(xy[routes[:, 0]] - xy[routes[:, 1]]).sum())

    assert total(refined) < total(plain)


@pytest.mark.parametrize("weights", ["none", "integer", "fractional"])
def test_compiled_sweeps_make_the_reference_moves(weights):
    # placement_kernel.py against _Search._best_move: pass for pass the same tile positions (with
    # integer weights every sum is exact; the fractional ones are summed in the reference's order)
    from sdannc.backend.placement import _assign, _orientations, _Search

    rng = np.random.default_rng(3)
    n = 240
    needs_big = (rng.uniform(size=n) < 0.3).tolist()
    routes = np.unique(np.stack([rng.integers(0, n, 2500), rng.integers(0, n, 2500)], axis=1), axis=0)
    routes = routes[np.abs(routes[:, 0] - routes[:, 1]) < 50]
    w = {"none": None, "integer": rng.integers(1, 9, len(routes)) * 4.0,
         "fractional": rng.uniform(0, 5, len(routes))}[weights]
    start = _assign(TARGET, _orientations(TARGET)[1], needs_big, ["l"] * n)
    compiled, reference = _Search(TARGET, start, needs_big, routes, w), _Search(TARGET, start, needs_big, routes, w)
    moved = []
    for _ in range(4):
        moved.append(compiled.sweep())
        assert reference.sweep(compiled=False) == moved[-1]
        assert compiled.positions() == reference.positions()
    assert moved[0] > 0 and compiled.positions() != start
