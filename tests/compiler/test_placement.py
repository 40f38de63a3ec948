"""Placement along the curve: every core once, neighbours adjacent, big cores honoured, routes short."""

import numpy as np

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
