"""The mesh's route incidence: pair_link_matrix, built for every pair at once, is the matrix that
`route` pair by pair (x then y) gives, array for array (so the loads summed through it are the same
floats), for a chip and for a board."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from sdannc.image.mesh import Mesh
from sdannc.target import load_target


@pytest.mark.parametrize("name", ["darwin3", "darwin3-4x4"])
def test_pair_link_matrix_is_the_routes_matrix(name):
    mesh = Mesh(load_target(name))
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, mesh.width * mesh.height, (400, 2))
    pairs[:3, 1] = pairs[:3, 0]  # a route to itself crosses no link
    pairs[3] = (0, mesh.width * mesh.height - 1)  # corner to corner
    routes = [mesh.route(src, dst) for src, dst in pairs.tolist()]
    rows = [p for p, route in enumerate(routes) for _ in route]  # (lists, as pair_link_matrix once took them)
    cols = [link for route in routes for link in route]
    expected = scipy.sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=(len(pairs), mesh.n_links))
    matrix = mesh.pair_link_matrix(pairs)
    for name in ("indptr", "indices", "data"):
        got, want = getattr(matrix, name), getattr(expected, name)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    load = rng.random(len(pairs))
    assert (matrix.T @ load).tobytes() == (expected.T @ load).tobytes()
    assert mesh.pair_link_matrix(np.zeros((0, 2), dtype=np.int64)).shape == (0, mesh.n_links)
