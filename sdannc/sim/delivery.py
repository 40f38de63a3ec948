"""Spike delivery over a window of ticks: dendrite sums, and the counts the spikes cost.

Columns are "pseudo-lanes": one per (tick of the window, lane), so that a window's deliveries to a
group of dendrites are three products whatever its length: spread (sparse, sources -> spike counts
per dendrite and carried index), weights (dense, BLAS), scatter (sparse, taps -> neurons).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .network import Network


@dataclass
class Costs:
    """Per pseudo-lane (tick x lane) counts of a window's deliveries."""

    sops: np.ndarray  # [columns, cores] synaptic operations at each destination core
    packets_in: np.ndarray  # [columns, cores]
    packets_out: np.ndarray  # [columns, cores] packets sent by each core (the controller's are not a core's)
    link_flits: np.ndarray  # [columns, links]
    max_hops: np.ndarray  # [columns]


def deliver(net: Network, spikes_by_level: dict[int, np.ndarray], wgtsum: np.ndarray) -> np.ndarray:
    """Exact dendrite sums into wgtsum [columns, neurons] (float64, overwritten) from each level's
    source spikes [sources, columns].

    Products run in each group's precision (Network._choose_precision); the scatter and the sums
    are float64, exact below 2^53. The caller keeps wgtsum from step to step: a fresh array of this
    size costs more in page faults than the products.
    """
    columns = wgtsum.shape[0]
    wgtsum.fill(0)
    for level, spikes in spikes_by_level.items():
        if not spikes.any():
            continue
        as_type: dict[np.dtype, np.ndarray] = {}

        def typed(dtype) -> np.ndarray:
            if dtype not in as_type:
                as_type[dtype] = spikes.astype(dtype, order="C")
            return as_type[dtype]

        for g in net.level_groups[level]:
            grp = net.groups[g]
            if grp.direct is not None:
                sums = grp.direct @ typed(np.float64)
            else:
                sums = _factored_sums(grp, typed(grp.weights.dtype), columns)
            wgtsum[:, grp.base:grp.base + grp.n_neurons] += sums.T  # a core at a time: stays in cache
    return wgtsum


def _factored_sums(grp, spikes: np.ndarray, columns: int) -> np.ndarray:
    """[neurons of the core, columns] sums one group adds: spread, weights, scatter.

    Empty (carried index, column) pairs are multiplied too: skipping them costs as much as it saves.
    """
    rows, taps = grp.weights.shape
    counts = (grp.spread @ spikes).reshape(rows, grp.span * columns)
    partial = grp.weights.T @ counts  # [taps, span x columns]
    return grp.scatter @ partial.reshape(taps * grp.span, columns).astype(np.float64)


def costs(net: Network, active: np.ndarray) -> Costs:
    """Synaptic operations, packets and routes: active sources [columns, sources] times per-source totals."""
    spikes = _sparse_rows(active)
    n_cores = len(net.image.cores)
    per_core = (spikes @ net.source_core_costs).toarray()  # [columns, 3 x cores]
    hops = spikes.copy()
    hops.data = net.source_hops[hops.indices].astype(np.int64)
    return Costs(
        sops=per_core[:, :n_cores],
        packets_in=per_core[:, n_cores:2 * n_cores],
        packets_out=per_core[:, 2 * n_cores:],
        link_flits=((spikes @ net.source_routes) @ net.route_link_flits).toarray(),
        max_hops=hops.max(axis=1).toarray().ravel().astype(np.int64),
    )


def _sparse_rows(active: np.ndarray) -> scipy.sparse.csr_matrix:
    """A dense 0/1 matrix as CSR, built from its nonzeros (already in row order)."""
    rows, cols = np.nonzero(active)
    ptr = np.searchsorted(rows, np.arange(active.shape[0] + 1))
    return scipy.sparse.csr_matrix((np.ones(cols.size, dtype=np.int64), cols, ptr), shape=active.shape)
