"""One tick of spike delivery: active sources -> packets -> dendrite sums, with the counts they cost."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .network import Network


@dataclass
class Delivery:
    wgtsum: np.ndarray  # [lanes, neurons] exact integer sums, as float64
    sops: np.ndarray  # [lanes, cores] synaptic operations at each destination core
    packets_in: np.ndarray  # [lanes, cores]
    packets_out: np.ndarray  # [lanes, cores] packets sent by each core (the controller's are not a core's)
    link_flits: np.ndarray  # [lanes, links]
    max_hops: np.ndarray  # [lanes]


def _expand(ptr: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packet ids of the given sources, and for each packet the position of its source in `sources`."""
    counts = ptr[sources + 1] - ptr[sources]
    total = int(counts.sum())
    owner = np.repeat(np.arange(sources.size), counts)
    first = np.repeat(ptr[sources] - (np.cumsum(counts) - counts), counts)
    return first + np.arange(total), owner


def _costs(net: Network, lanes: int, lane_of: np.ndarray, source_of: np.ndarray) -> dict:
    """Synaptic operations, packets and routes of a tick: active sources times per-source totals."""
    n_cores = len(net.image.cores)
    active = scipy.sparse.csr_matrix((np.ones(source_of.size, dtype=np.int64), (lane_of, source_of)),
                                     shape=(lanes, net.source_sops.shape[0]))
    sender = net.source_core[source_of]
    sent = sender >= 0
    packets_out = np.bincount(lane_of[sent] * n_cores + sender[sent], weights=net.source_packets[source_of][sent],
                              minlength=lanes * n_cores).reshape(lanes, n_cores).astype(np.int64)
    max_hops = np.zeros(lanes, dtype=np.int64)
    if source_of.size:
        starts = np.flatnonzero(np.diff(lane_of, prepend=-1))  # lane_of is sorted: np.nonzero is row-major
        max_hops[lane_of[starts]] = np.maximum.reduceat(net.source_hops[source_of], starts)
    return {
        "sops": (active @ net.source_sops).toarray(),
        "packets_in": (active @ net.source_packets_in).toarray(),
        "packets_out": packets_out,
        "link_flits": (active @ net.source_link_flits).toarray(),
        "max_hops": max_hops,
    }


def deliver(net: Network, lanes: int, lane_of: np.ndarray, source_of: np.ndarray) -> Delivery:
    """Deliver the spikes of (lane, source) pairs; sums are exact (see Network._choose_precision)."""
    p = net.packets
    packet, owner = _expand(p.ptr, source_of)
    lane = lane_of[owner]
    wgtsum = np.zeros((lanes, net.n_neurons), dtype=np.float64)
    relative = p.relative[packet]
    absolute = ~relative
    _deliver_absolute(net, lanes, lane[absolute], packet[absolute], wgtsum)
    _deliver_relative(net, lanes, lane[relative], packet[relative], wgtsum)
    return Delivery(wgtsum=wgtsum, **_costs(net, lanes, lane_of, source_of))


def _spike_counts(net: Network, slots: np.ndarray, size: int) -> np.ndarray:
    """How many spikes land in each (row, key) slot, in the floating type the products use.

    Where no two sources can share a slot (the usual case) marking is cheaper than counting.
    """
    if net.most_hits == 1:
        counts = np.zeros(size, dtype=net.product_dtype)
        counts[slots] = 1
        return counts
    return np.bincount(slots, minlength=size).astype(net.product_dtype)


def _deliver_absolute(net: Network, lanes: int, lane, packet, wgtsum: np.ndarray) -> None:
    """Absolute dendrites: spike counts per (lane, row) for all groups at once, then one product per group."""
    if not packet.size:
        return
    p = net.packets
    counts = _spike_counts(net, lane * net.n_rows + p.global_row[packet], lanes * net.n_rows).reshape(lanes, net.n_rows)
    for g in np.flatnonzero(np.bincount(p.group[packet], minlength=len(net.groups))):
        grp = net.groups[int(g)]
        rows = slice(grp.row_base, grp.row_base + grp.weights.shape[0])
        partial = counts[:, rows].astype(grp.weights.dtype, copy=False) @ grp.weights  # [lanes, taps]
        if grp.dense_targets:
            wgtsum[:, grp.base:grp.base + grp.offsets.size] += partial
        else:
            np.add.at(wgtsum, (slice(None), grp.base + grp.offsets), partial)


def _deliver_relative(net: Network, lanes: int, lane, packet, wgtsum: np.ndarray) -> None:
    """Relative dendrites: per group, (occupied lane/index) x rows spike counts @ weights, scattered.

    Each lane's (group, carried index) space is small and dense, so occupancy is marked in an array
    rather than found by sorting the packets.
    """
    if not packet.size:
        return
    p = net.packets
    position = lane * net.total_span + p.key[packet]
    occupied = np.zeros(lanes * net.total_span, dtype=bool)
    occupied[position] = True
    keys = np.flatnonzero(occupied)  # ordered by lane, then group, then index
    rank = np.cumsum(occupied) - 1
    key_group = np.searchsorted(net.span_base, keys % net.total_span, side="right") - 1
    key_rows = net.group_rows[key_group]
    row_start = np.cumsum(key_rows) - key_rows
    spikes_all = _spike_counts(net, row_start[rank[position]] + p.row[packet], int(key_rows.sum()))
    # Key ranges [lane, group]: one slice per lane of each group.
    bounds = np.searchsorted(keys, (np.arange(lanes)[:, None] * net.total_span + net.span_base[None, :]).ravel())
    bounds = bounds.reshape(lanes, -1)
    for g in np.flatnonzero((bounds[:, 1:] > bounds[:, :-1]).any(axis=0)):
        grp = net.groups[int(g)]
        rows = grp.weights.shape[0]
        chosen = np.concatenate([np.arange(bounds[lane, g], bounds[lane, g + 1]) for lane in range(lanes)]) if lanes > 1 \
            else np.arange(bounds[0, g], bounds[0, g + 1])
        if lanes == 1:  # the keys' rows are one contiguous slice
            k0 = int(bounds[0, g])
            spikes = spikes_all[row_start[k0]: row_start[k0] + chosen.size * rows].reshape(chosen.size, rows)
        else:
            spikes = spikes_all[row_start[chosen][:, None] + np.arange(rows)[None, :]]
        partial = spikes.astype(grp.weights.dtype, copy=False) @ grp.weights  # [keys, taps]
        key_lane, key_index = np.divmod(keys[chosen], net.total_span)
        key_index -= net.span_base[g]
        flat = (key_lane[:, None] * grp.n_neurons + key_index[:, None] + grp.offsets[None, :]).ravel()
        sums = np.bincount(flat, weights=partial.ravel().astype(np.float64), minlength=lanes * grp.n_neurons)
        wgtsum[:, grp.base:grp.base + grp.n_neurons] += sums.reshape(lanes, grp.n_neurons)
