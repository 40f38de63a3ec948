"""One tick of spike delivery: active sources -> packets -> dendrite sums, with the counts they cost."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network


@dataclass
class Delivery:
    wgtsum: np.ndarray  # [lanes, neurons] exact integer sums, as float64
    sops: np.ndarray  # [lanes, cores] synaptic operations at each destination core
    packets_in: np.ndarray  # [lanes, cores]
    packets_out: np.ndarray  # [lanes, cores] packets sent by each core (the controller's are not a core's)
    pair_counts: np.ndarray  # [lanes, route pairs]
    max_hops: np.ndarray  # [lanes]


def _expand(ptr: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packet ids of the given sources, and for each packet the position of its source in `sources`."""
    counts = ptr[sources + 1] - ptr[sources]
    total = int(counts.sum())
    owner = np.repeat(np.arange(sources.size), counts)
    first = np.repeat(ptr[sources] - (np.cumsum(counts) - counts), counts)
    return first + np.arange(total), owner


def _per_core(lane, core, lanes: int, n_cores: int, weights=None) -> np.ndarray:
    counts = np.bincount(lane * n_cores + core, weights=weights, minlength=lanes * n_cores)
    return counts.reshape(lanes, n_cores).astype(np.int64)


def deliver(net: Network, lanes: int, lane_of: np.ndarray, source_of: np.ndarray) -> Delivery:
    """Deliver the spikes of (lane, source) pairs; sums are exact (see Network._choose_precision)."""
    n_cores = len(net.image.cores)
    p = net.packets
    packet, owner = _expand(p.ptr, source_of)
    lane = lane_of[owner]
    dest = p.core[packet]
    from_core = p.from_core[packet]
    sent = from_core >= 0
    max_hops = np.zeros(lanes, dtype=np.int64)
    np.maximum.at(max_hops, lane, p.hops[packet])
    n_pairs = len(net._pairs)
    pair_counts = np.bincount(lane * n_pairs + p.pair[packet], minlength=lanes * n_pairs).reshape(lanes, n_pairs)

    wgtsum = np.zeros((lanes, net.n_neurons), dtype=np.float64)
    group = p.group[packet]
    order = np.argsort(group, kind="stable")
    present, starts = np.unique(group[order], return_index=True)
    for g, lo, hi in zip(present, starts, np.append(starts[1:], order.size)):
        sel = order[lo:hi]
        _deliver_group(net.groups[int(g)], lanes, lane[sel], p.row[packet[sel]], p.carried[packet[sel]], wgtsum)
    return Delivery(
        wgtsum=wgtsum,
        sops=_per_core(lane, dest, lanes, n_cores, weights=p.sops[packet]),
        packets_in=_per_core(lane, dest, lanes, n_cores),
        packets_out=_per_core(lane[sent], from_core[sent], lanes, n_cores),
        pair_counts=pair_counts,
        max_hops=max_hops,
    )


def _deliver_group(grp, lanes: int, lane: np.ndarray, row: np.ndarray, carried: np.ndarray, wgtsum: np.ndarray) -> None:
    """(distinct lane/index) x rows spike counts @ the group's weight matrix, scattered to neurons."""
    n_rows, taps = grp.weights.shape
    key = lane * grp.span + carried if grp.relative else lane
    keys, inverse = np.unique(key, return_inverse=True)
    spikes = np.bincount(inverse * n_rows + row, minlength=keys.size * n_rows).reshape(keys.size, n_rows)
    partial = spikes.astype(grp.weights.dtype) @ grp.weights  # [keys, taps]
    if grp.relative:
        key_lane, key_index = np.divmod(keys, grp.span)
        targets = key_index[:, None] + grp.offsets[None, :]
    else:
        key_lane = keys
        targets = np.broadcast_to(grp.offsets[None, :], (keys.size, taps))
    flat = (key_lane[:, None] * grp.n_neurons + targets).ravel()
    sums = np.bincount(flat, weights=partial.ravel().astype(np.float64), minlength=lanes * grp.n_neurons)
    wgtsum[:, grp.base:grp.base + grp.n_neurons] += sums.reshape(lanes, grp.n_neurons)
