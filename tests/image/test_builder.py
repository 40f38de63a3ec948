"""CoreBuilder: adding dendrites in bulk stores the same tables as adding them one by one."""

import numpy as np

from sdannc.image.builder import CoreBuilder


def test_add_dendrites_matches_add_dendrite_row_by_row():
    rng = np.random.default_rng(0)
    ids = np.array([0, 3, 5, 9])
    weights = rng.integers(-4, 4, (6, ids.size))
    weights[4] = weights[1]  # identical weight lists are stored once either way
    one_by_one, bulk = CoreBuilder(0, 0, [0], 16, 8), CoreBuilder(0, 0, [0], 16, 8)
    singles = [one_by_one.add_dendrite(ids, row, relative=True) for row in weights]
    assert bulk.add_dendrites(ids, weights, relative=True).tolist() == singles
    a, b = one_by_one.build(), bulk.build()
    for name in ("dendrites", "ids", "weights"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert b.weights.size == 5 * ids.size


def test_identical_axon_lists_are_stored_once_from_tuples_or_arrays():
    core = CoreBuilder(0, 0, [0], 4, 8)
    targets = [(1, -2, 3, 0), (0, 5, 1, 7)]
    core.set_axons(0, targets)
    core.set_axon_array(2, np.asarray(targets, dtype=np.int64))
    core.set_axon_array(3, np.asarray(targets[:1], dtype=np.int64))
    built = core.build()
    assert built.axon_targets.tolist() == [list(t) for t in targets] + [list(targets[0])]
    assert built.axon_ptr.tolist() == [[0, 2], [0, 0], [0, 2], [2, 1]]
