"""delivery_kernel.gather_active against its definition (numpy): each source's list of the columns
in which it spiked, in column order, neurons' spikes from the ring and inputs' from the inputs."""

import numpy as np
import pytest

from sdannc.sim import delivery_kernel as kernel


def _expected(ring, slots, inputs, n_neurons, sources) -> list[list[int]]:
    lanes = ring.shape[1]
    lists = []
    for src in sources.tolist():
        spikes = ring[slots, :, src] if src < n_neurons else inputs[:, :, src - n_neurons]  # [k, lane]
        lists.append([k * lanes + lane for k in range(slots.size) for lane in range(lanes) if spikes[k, lane]])
    return lists


@pytest.mark.parametrize("lanes, density", [(1, 0.3), (3, 0.3), (2, 0.0), (2, 1.0)])
def test_each_source_s_columns_in_column_order(lanes, density):
    rng = np.random.default_rng(4)
    n_neurons, n_inputs, ticks = 40, 6, 9
    ring = rng.random((ticks, lanes, n_neurons)) < density
    slots = np.asarray([7, 2, 2, 0, 5], dtype=np.int64)  # any ring slots, one twice
    inputs = rng.random((slots.size, lanes, n_inputs)) < density
    sources = np.asarray([0, 3, 4, 17, 39, 40, 43, 45], dtype=np.int64)  # neurons, then inputs, sorted
    size = sources.size * slots.size * lanes + 1
    ptr = np.full(sources.size + 1, -5, dtype=np.int64)  # the kernel writes every entry
    columns, spiked_sources = (np.full(size, -5, dtype=np.int32) for _ in range(2))
    kernel.gather_active(ring, slots, inputs, n_neurons, sources, ptr, columns, spiked_sources)
    expected = _expected(ring, slots, inputs, n_neurons, sources)
    assert ptr[0] == 0
    assert [columns[ptr[s]:ptr[s + 1]].tolist() for s in range(sources.size)] == expected
    assert ptr[-1] == sum(map(len, expected))
