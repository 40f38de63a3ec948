"""The functional engine: the same outputs and counters as the cycle engine, layer after layer.

The cycle engine (stepper.py) delivers every spike packet by packet, each level of cores a window
ahead of the next. This engine takes one window of ticks at a time through the whole network, level
after level (a level hears only from lower ones, network.py): a level's dendrite sums for every
tick of the window are integer products of its sources' spikes (each tick's bit plane) with its
dendrite groups' weight matrices, on BLAS in float32 where every partial sum is provably below 2^24
(float64 below 2^53, int64 beyond), and then the level's own programs (the image's, on the
executor the cycle engine uses) run the window's ticks. A group is a core's dendrites that share
one neuron-id list (network.DendriteGroup): a packet adds its weight row at the neurons its carried
index shifts the list to, so per tick the group's sums are M @ W, with M[i, r] the spikes of the
sources whose packets reach row r with carried index i, scattered back to neuron i + offset.

What the packets cost (SOPs, packets in and out, flits per route, the longest route) is one product
per sending core of its sources' spikes with its packets and SOPs per receiving core (SenderCounts,
from the same tables the delivery counts with); levels whose programs are the exact shift-and-add
take one product a code instead of one a tick (linear.py); levels of integration exact and of the
max run no program at all: their codes are functions of their inputs' codes, spiked bit by bit
(exact_levels.py), the codes' products on onnxruntime's integer kernels where the weights are int8
(integer_products.py); the columns of the pipeline's fill and drain (sources carrying the codes a
run of no sample sees) take that run's results and counts without products (idle.py). The window's
accounting is the stepper's
own (Stepper._close_window): the outputs, every counter and the report are equal to the cycle
engine's, pipeline fill and drain included, for any lanes and any window (docs/simulator.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import SdanncError
from .. import arith
from . import functional_kernel as fk
from ..isa import load_isa
from .layout import Layout, RunnerBlock
from .exact_levels import exact_level, exact_program, max_level, max_program
from .idle import IdleObserver
from .integer_products import integer_group, level_session
from .linear import emit_only_ticks, linear_neurons
from .network import Network
from .simulator import Simulator
from .stepper import Counters, Stepper
from .windows import SampleWindows

_FLOAT32_EXACT = 1 << 24  # integers below it, and every sum of them below it, are exact in float32
_FLOAT64_EXACT = 1 << 53
_CODE_MAX = 255  # a code's largest value: the products of codes are bounded by 255 x the weights'
_NIBBLE = 16  # a code is 16 x its high nibble + its low one, each at most 15
_NIBBLE_MAX = 15


@dataclass
class GroupProduct:
    """One dense dendrite group's sums as one product: W.T [taps, rows] @ M [rows, |carried| x columns],
    M[r, i] the spikes of the sources whose packets reach row r with the i-th carried index."""

    source: np.ndarray  # [packets] each packet's level source (no two packets share an M entry)
    row: np.ndarray  # [packets]
    rank: np.ndarray  # [packets] the rank of its carried index
    n_carried: int
    weights_t: np.ndarray  # [taps, rows] float32 or float64
    targets: np.ndarray  # [taps, |carried|] level-local neuron of each product row
    code_weights_t: np.ndarray  # the same, exact for codes (0..255) rather than spikes (float64 or int64)
    gather: np.ndarray = None  # [rows x |carried|] the level source of each M entry, -1 where none (zero)
    nibbles: bool = False  # codes go in as their two nibbles, one float32 product (code_weights_t is weights_t)
    integer: bool = False  # codes' products on onnxruntime's integer kernels (integer_products.py)


@dataclass
class LevelProducts:
    """A level's dendrite sums: dense groups as products, the rest as one sparse matrix."""

    neurons: np.ndarray  # [level neurons] their global ids, core after core (the local order)
    ranges: list  # (global first, count, local first) per core
    dense: list  # GroupProduct
    sparse: sp.csr_matrix | None  # [level neurons, level sources] summed weights
    sparse_exact: bool  # float products of the sparse part are exact
    code_sparse: sp.csr_matrix | None  # the same, exact for codes
    code_sparse_exact: bool
    weight_sums: np.ndarray  # [level neurons] the sum of the absolute weights each neuron hears
    linear: bool = False  # its sums may come as one product a code (linear.py); FunctionalSimulator sets it
    cores: np.ndarray = None  # [its cores] image core indices, in the local order
    session: object = False  # the integer groups' LevelSession, made on the first code product (False: not yet)


def _integer_session(lp: LevelProducts):
    """The level's LevelSession over its integer groups (integer_products.py), made on its first code
    product; None where it has none."""
    if lp.session is False:
        lp.session = level_session(lp.dense)
    return lp.session


# A group whose M is at least this full is a product on BLAS; sparser ones (a pool's dendrites,
# border classes with few positions) join the level's sparse matrix.
_DENSE_FILL = 1 / 8


def _exact_dtype(bound: int):
    if bound < _FLOAT32_EXACT:
        return np.float32
    if bound < _FLOAT64_EXACT:
        return np.float64
    return None


def level_products(net: Network, level: int, cores=None, all_sparse: bool = False) -> LevelProducts:
    """The products of one level's dendrite groups, from the delivery's tables (network.level_packets);
    with `cores` (image core indices), of those cores' only; with all_sparse, every group in the
    sparse matrix."""
    lp = net.level_packets[level]
    n_sources = net.level_sources[level].size
    first, counts = net.level_cores[level]
    ids = np.flatnonzero(net.core_level == level)  # the order of level_cores
    keep = np.ones(ids.size, dtype=bool) if cores is None else np.isin(ids, np.asarray(cores, dtype=np.int64))
    first, counts, ids = first[keep], counts[keep], ids[keep]
    mine = set(ids.tolist())
    ranges, local_first = [], 0
    for f, c in zip(first.tolist(), counts.tolist()):
        ranges.append((f, c, local_first))
        local_first += c
    neurons = np.concatenate([np.arange(f, f + c) for f, c, _ in ranges]) if ranges else np.zeros(0, dtype=np.int64)
    local = np.full(net.n_neurons, -1, dtype=np.int64)
    local[neurons] = np.arange(neurons.size)
    dense, rows_sp, cols_sp, vals_sp = [], [], [], []
    weight_sums = np.zeros(neurons.size, dtype=np.int64)
    for gi, g in enumerate(lp.groups.tolist()):
        lo, hi = lp.run_ptr[lp.group_run_ptr[gi]], lp.run_ptr[lp.group_run_ptr[gi + 1]]
        source, row, carried = lp.source[lo:hi], lp.row[lo:hi], lp.carried[lo:hi]
        group = net.groups[g]
        if group.core not in mine:
            continue
        rows, taps = group.weights.shape
        ranks, rank = np.unique(carried, return_inverse=True)
        rank = rank.reshape(-1)
        entry = rank * rows + row
        unique = np.unique(entry).size == entry.size
        column_sums = np.abs(group.weights).sum(axis=0)
        bound = int(column_sums.max(initial=0))
        dtype = _exact_dtype(bound)
        if not all_sparse and unique and dtype is not None and entry.size >= _DENSE_FILL * ranks.size * rows:
            targets = local[group.base + ranks[None, :] + group.offsets[:, None]]
            np.add.at(weight_sums, targets, column_sums[:, None])
            code_dtype = _exact_dtype(bound * _CODE_MAX) or np.int64
            gather = np.full(rows * ranks.size, -1, dtype=np.int64)
            gather[row * ranks.size + rank] = source
            weights_t = np.ascontiguousarray(group.weights.T, dtype=dtype)
            # where a code's product would leave float32 but a nibble's does not: two nibbles in float32
            # (as many multiply-adds as float64 at twice its rate, and no second copy of the weights)
            nibbles = code_dtype is not np.float32 and dtype is np.float32 and bound * _NIBBLE_MAX < _FLOAT32_EXACT
            code_weights_t = weights_t if nibbles or code_dtype is dtype else \
                np.ascontiguousarray(group.weights.T, dtype=code_dtype)
            dense.append(GroupProduct(source, row, rank, int(ranks.size), weights_t, targets.astype(np.int64),
                                      code_weights_t, gather, nibbles, integer_group(group.weights)))
            continue
        # every packet's weight row at the neurons its carried index shifts the list to
        rows_sp.append(local[group.base + carried[:, None] + group.offsets[None, :]].reshape(-1))
        cols_sp.append(np.repeat(source, taps))
        vals_sp.append(group.weights[row].reshape(-1))
    sparse, exact, code_sparse, code_exact = None, True, None, True
    if rows_sp:
        values = np.concatenate(vals_sp).astype(np.int64)
        sparse = sp.csr_matrix((values, (np.concatenate(rows_sp), np.concatenate(cols_sp))),
                               shape=(neurons.size, n_sources))
        sparse.sum_duplicates()
        sums = np.asarray(abs(sparse).sum(axis=1)).reshape(-1).astype(np.int64)
        weight_sums += sums
        bound = int(sums.max(initial=0))
        dtype, code_dtype = _exact_dtype(bound), _exact_dtype(bound * _CODE_MAX)
        exact, code_exact = dtype is not None, code_dtype is not None
        sparse, code_sparse = sparse.astype(dtype if exact else np.int64), sparse.astype(code_dtype or np.int64)
    return LevelProducts(neurons, ranges, dense, sparse, exact, code_sparse, code_exact, weight_sums, cores=ids)


@dataclass
class SenderCounts:
    """What one sender's spikes cost, per receiving core b it reaches: [its sources, 2 x cores b]
    packets then SOPs, as one product (a sender's packets to a core share one route)."""

    sources: np.ndarray  # global source ids (neurons, or n_neurons + input element)
    sender: int  # image core, -1 for the controller
    dests: np.ndarray  # receiving cores
    routes: np.ndarray  # the route of each
    hops: np.ndarray  # its length
    matrix: np.ndarray  # [sources, 2 x dests] float32 or float64


def sender_counts(net: Network) -> list[SenderCounts]:
    p = net.packets
    source = np.repeat(np.arange(p.ptr.size - 1), np.diff(p.ptr))
    taps = net.g_taps[p.group] if p.group.size else np.zeros(0, dtype=np.int64)
    out = []
    for sender in np.unique(p.from_core).tolist():
        mine = np.flatnonzero(p.from_core == sender)
        sources, s_rank = np.unique(source[mine], return_inverse=True)
        dests, d_rank = np.unique(p.core[mine], return_inverse=True)
        matrix = np.zeros((sources.size, 2 * dests.size), dtype=np.int64)
        np.add.at(matrix, (s_rank.reshape(-1), d_rank.reshape(-1)), 1)
        np.add.at(matrix, (s_rank.reshape(-1), dests.size + d_rank.reshape(-1)), taps[mine])
        first = np.zeros(dests.size, dtype=np.int64)
        first[d_rank.reshape(-1)[::-1]] = mine[::-1]  # a packet of each receiving core
        bound = int(matrix.sum(axis=0).max(initial=0))
        dtype = _exact_dtype(bound) or np.int64
        out.append(SenderCounts(sources, int(sender), dests, p.pair[first], p.hops[first], matrix.astype(dtype)))
    return out


@dataclass
class SenderTables:
    """Every sender's counts side by side: column j of the senders' products (each sender's packets
    columns then its SOPs columns, sender after sender) and where it goes, as 0/1 maps."""

    senders: list  # SenderCounts
    first: np.ndarray  # [senders + 1] each sender's first column
    packets: np.ndarray  # [packet columns] the columns that count packets
    sops: np.ndarray  # [SOP columns] those that count SOPs, in the same (sender, receiving core) order
    to_route: sp.csr_matrix  # [packet columns, routes]
    to_core: sp.csr_matrix  # [packet columns, cores] the receiving core (packets in, and SOPs)
    from_core: sp.csr_matrix  # [packet columns, cores] the sending core (packets out; none for the controller)
    hops: np.ndarray  # [packet columns] the route's length
    starts: np.ndarray = None  # the first global source of each neuron sender whose sources are a range, sorted
    starts_sender: np.ndarray = None  # which sender each is


def _range_senders(senders: list) -> tuple[np.ndarray, np.ndarray]:
    """(first source, sender index) of the neuron senders whose sources are one range, by first
    source: each one's sources are then a segment of a reduceat (any neurons between two senders'
    ranges join the earlier one's: a sender then looks busy more often, never less)."""
    ranged = [(int(s.sources[0]), j) for j, s in enumerate(senders)
              if s.sender >= 0 and int(s.sources[-1]) + 1 - int(s.sources[0]) == s.sources.size]
    ranged.sort()
    return (np.asarray([a for a, _ in ranged], dtype=np.int64).reshape(-1),
            np.asarray([j for _, j in ranged], dtype=np.int64).reshape(-1))


def sender_tables(net: Network, senders: list[SenderCounts]) -> SenderTables:
    sizes = np.asarray([2 * s.dests.size for s in senders], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    packets = np.concatenate([f + np.arange(s.dests.size) for f, s in zip(first.tolist(), senders)] or [[]])
    sops = np.concatenate([f + s.dests.size + np.arange(s.dests.size) for f, s in zip(first.tolist(), senders)]
                          or [[]])
    n_cores, n = len(net.image.cores), packets.size
    routes = np.concatenate([s.routes for s in senders] or [[]]).astype(np.int64)
    dests = np.concatenate([s.dests for s in senders] or [[]]).astype(np.int64)
    sender = np.concatenate([np.full(s.dests.size, s.sender) for s in senders] or [[]]).astype(np.int64)
    hops = np.concatenate([s.hops for s in senders] or [[]]).astype(np.int64)

    def one_hot(columns: np.ndarray, width: int, keep=None) -> sp.csr_matrix:
        keep = np.ones(n, dtype=bool) if keep is None else keep
        rows = np.flatnonzero(keep)
        return sp.csr_matrix((np.ones(rows.size, dtype=np.int64), (rows, columns[keep])), shape=(n, width))

    return SenderTables(senders, first, packets.astype(np.int64), sops.astype(np.int64),
                        one_hot(routes, net.n_routes), one_hot(dests, n_cores), one_hot(sender, n_cores, sender >= 0),
                        hops, *_range_senders(senders))


def known_counts(tables: SenderTables, net: Network, spikes: np.ndarray) -> np.ndarray:
    """[rows, columns] every sender's products (SenderTables' columns) of spikes [rows, global sources]."""
    counts = np.empty((spikes.shape[0], int(tables.first[-1])), dtype=np.int64)
    for s, a, b in zip(tables.senders, tables.first[:-1].tolist(), tables.first[1:].tolist()):
        counts[:, a:b] = spikes[:, s.sources].astype(s.matrix.dtype) @ s.matrix
    return counts


class _CostRings:
    """The delivery's count rings (delivery.Delivery's), filled from the spikes by products."""

    def __init__(self, net: Network, tables: SenderTables, ring_ticks: int, lanes: int) -> None:
        self.net, self.tables = net, tables
        n_cores = len(net.image.cores)
        self.sops, self.packets_in, self.packets_out = (np.zeros((ring_ticks, lanes, n_cores), dtype=np.int64)
                                                        for _ in range(3))
        self.route_packets = np.zeros((ring_ticks, lanes, net.n_routes), dtype=np.int64)
        self.hops = np.zeros((ring_ticks, lanes), dtype=np.int64)
        self.known = self.known_counts = None

    def set_known(self, spikes: np.ndarray, counts: np.ndarray) -> None:
        """spikes [bits, global sources] what the ticks of each phase count when no sample is in
        flight (the neurons' spikes of the tick before, and the inputs'), and counts [bits, columns]
        the senders' products of them (known_counts)."""
        self.known, self.known_counts = spikes, counts

    def _busy(self, fired, injected, phases, lanes) -> np.ndarray:
        """[rows, senders] whether a sender's spikes in a row (tick x lane) differ from the known
        ones of its tick's phase."""
        t, n_neurons = self.tables, self.net.n_neurons
        rows = fired.shape[0]
        known = self.known[phases]  # [ticks, sources]
        busy = np.ones((rows, len(t.senders)), dtype=bool)  # senders of scattered sources: always
        if t.starts.size:
            differ = (fired.reshape(phases.size, lanes, -1) != known[:, None, :n_neurons]).reshape(rows, -1)
            busy[:, t.starts_sender] = np.logical_or.reduceat(differ, t.starts, axis=1)
        for j, s in enumerate(t.senders):
            if s.sender < 0:
                inputs = s.sources - n_neurons
                differ = injected[:, inputs].reshape(phases.size, lanes, -1) != known[:, None, s.sources]
                busy[:, j] = differ.reshape(rows, -1).any(axis=1)
        return busy

    def count(self, ring, slots, inputs, tick_slots, phases=None) -> None:
        """The counts of ticks tick_slots (columns tick x lane) of the spikes in ring[slots] and inputs:
        each sender's product into its columns, then every column to its route and cores at once.
        With known spikes (set_known) and the ticks' phases, a sender's rows whose spikes are those
        of the idle tick of the same phase take that tick's counts without a product."""
        net, t = self.net, self.tables
        n, lanes = slots.size, ring.shape[1]
        fired = ring[slots].reshape(n * lanes, -1)
        injected = inputs.reshape(n * lanes, -1)
        busy = None if self.known is None or phases is None else self._busy(fired, injected, phases, lanes)
        if busy is None:
            counts = np.empty((n * lanes, int(t.first[-1])), dtype=np.int64)
        else:
            counts = self.known_counts[np.repeat(phases, lanes)]
        for j, (s, a, b) in enumerate(zip(t.senders, t.first[:-1].tolist(), t.first[1:].tolist())):
            rows = None
            if busy is not None:
                rows = np.flatnonzero(busy[:, j])
                if not rows.size:
                    continue
                if rows.size == busy.shape[0]:
                    rows = None
            lo, hi = int(s.sources[0]), int(s.sources[-1]) + 1
            contiguous = hi - lo == s.sources.size  # a core's neurons, or the whole input
            if s.sender >= 0:
                spikes = fired[:, lo:hi] if contiguous else fired[:, s.sources]
            else:
                lo, hi = lo - net.n_neurons, hi - net.n_neurons
                spikes = injected[:, lo:hi] if contiguous else injected[:, s.sources - net.n_neurons]
            if rows is None:
                counts[:, a:b] = spikes.astype(s.matrix.dtype) @ s.matrix
            else:
                counts[rows, a:b] = spikes[rows].astype(s.matrix.dtype) @ s.matrix
        packets, shape = counts[:, t.packets], (n, lanes, -1)
        self.route_packets[tick_slots] += np.asarray(packets @ t.to_route).reshape(shape)
        self.packets_in[tick_slots] += np.asarray(packets @ t.to_core).reshape(shape)
        self.sops[tick_slots] += np.asarray(counts[:, t.sops] @ t.to_core).reshape(shape)
        self.packets_out[tick_slots] += np.asarray(packets @ t.from_core).reshape(shape)
        longest = np.where(packets > 0, t.hops, 0).max(axis=1, initial=0).reshape(n, lanes)
        self.hops[tick_slots] = np.maximum(self.hops[tick_slots], longest)

    def take_costs(self, tick_slots: np.ndarray):
        from .delivery import Costs

        def take(ring: np.ndarray) -> np.ndarray:
            values = ring[tick_slots].reshape((-1,) + ring.shape[2:])
            ring[tick_slots] = 0
            return values

        routes = take(self.route_packets)
        return Costs(take(self.sops), take(self.packets_in), take(self.packets_out),
                     (self.net.route_link_flits.T @ routes.T).T, take(self.hops))


class FunctionalStepper(Stepper):
    """A run window by window, every level in one step (Stepper's levels a window apart become one
    window, level after level), the sums as products; the accounting is Stepper's."""

    def __init__(self, layout: Layout, blocks: list[RunnerBlock], codes_in: np.ndarray, ticks: int,
                 window: int, products: list[LevelProducts], senders: SenderTables, record_codes: bool = False,
                 exact: list | None = None, idle: list | IdleObserver | None = None,
                 known_spikes: tuple | None = None) -> None:
        self.layout, self.net, self.blocks = layout, layout.network, blocks
        # per level its IdleLevel (idle.py), or None; or, in the run that learns them, the observer
        self._observer = idle if isinstance(idle, IdleObserver) else None
        self._idle = idle if isinstance(idle, list) else [None] * self.net.n_levels
        self._window_codes = None  # (level, the window's source codes): the exact part and the relays share them
        self.lanes, per_lane, _ = codes_in.shape
        self.ticks, self.window = ticks, window
        self.windows = -(-ticks // window)
        self.top = 0  # every level at once: a window closes at its own step
        self.ring_ticks = 2 * window  # this window and the previous one's last tick
        self.ring = np.zeros((self.ring_ticks, self.lanes, layout.n_neurons), dtype=bool)
        self.codes_in = codes_in
        self._accounting(layout, per_lane, record_codes)
        self.threads, self._pool = 1, None  # one thread: its products are BLAS calls
        self._sums = np.zeros((window * self.lanes, layout.n_neurons), dtype=np.int64)
        self._sum_range = arith.signed_range(layout.target.arith["dendrite_sum_bits"])
        self.delivery = _CostRings(self.net, senders, self.ring_ticks, self.lanes)  # senders: SenderTables
        if known_spikes is not None:
            self.delivery.set_known(*known_spikes)
        self._products = products
        self._source_runs = [_runs(sources, self.net.n_neurons) for sources in self.net.level_sources]
        self._no_inputs = np.zeros((0, 0, 0), dtype=bool)
        # per level: (block, runner view over the level's members, their image cores) to run
        self._level_views = [[] for _ in range(self.net.n_levels)]
        isa = load_isa(layout.image.target.isa_name)
        bits = layout.image.schedule.bits
        aligned = window % bits == 0
        self._exact = [e if aligned and e is not None else None for e in (exact or [None] * self.net.n_levels)]
        exact_cores = {int(c) for e in self._exact if e is not None for c in e.products.cores}
        self._products = products = [lp if e is None else e.rest for lp, e in zip(products, self._exact)]
        for block in blocks:
            for level in np.unique(block.levels).tolist():
                first, last = np.searchsorted(block.levels, [level, level + 1])
                lo, hi = int(block.bounds[first]), int(block.bounds[last])
                members = block.members[first:last]
                if exact_cores & set(members.tolist()):
                    continue  # its cores' ticks computed (a block's cores share a program: all or none)
                view = block.runner.view(lo, hi)
                emit = None
                if products[level].linear:
                    core = layout.image.cores[int(members[0])]
                    emit = emit_only_ticks(isa.decode_program(core.program), isa)
                    if emit is not None:
                        sizes = np.asarray([layout.image.cores[int(c)].n_neurons for c in members], dtype=np.int64)
                        emit = (*emit[:5], sizes * int(view.costs[emit[5]].sum()), len(emit[5]))
                self._level_views[level].append((block.lo + lo, block.lo + hi, view, members, emit))
        # levels whose every view may skip the ticks before a code's last (linear.emit_only_ticks)
        self._emit_only = [bool(views) and all(v[4] is not None for v in views) for views in self._level_views]
        # levels of integration exact's program: codes from each code's exact sum, no program run
        # (exact_levels.py); windows then start on a code's first tick. The code carried across windows.
        self._carried = [None if e is None else np.full((self.lanes, e.products.neurons.size), -1, dtype=np.int64)
                         for e in self._exact]

    def _step(self, step: int) -> None:
        w, lanes, net = self.window, self.lanes, self.net
        start = step * w
        self._start = start
        n = min(w, self.ticks - start)
        slots = (start - 1 + np.arange(n)) % self.ring_ticks  # neurons' spikes arrive a tick later
        ticks = (start + np.arange(n)) % self.ring_ticks
        inputs = self._input_spikes(start, n)
        columns = n * lanes
        sums = self._sums[:columns]
        bits = self.layout.image.schedule.bits
        for level in range(net.n_levels):
            if self._exact[level] is not None:
                self._exact_window(level, slots, ticks, inputs, n)
                if not self._products[level].neurons.size:
                    continue
            coded = self._level_sums(level, sums, slots, inputs, n, self._emit_only[level])
            if coded and self._emit_only[level]:
                # a code's ticks before its last computed (linear.emit_only_ticks), its last one run;
                # the level's views are apart (a level hears only from lower ones), so view by view
                for lo, hi, view, members, emit in self._level_views[level]:
                    for c in range(n // bits):
                        self._emit_ticks(view, emit, ticks[c * bits:(c + 1) * bits - 1], lo, members)
                        k = (c + 1) * bits - 1
                        self._run_tick(view, sums[k * lanes:(k + 1) * lanes, lo:hi], ticks[k], lo, hi, members)
                continue
            for k in range(n):
                rows = sums[k * lanes:(k + 1) * lanes]
                for lo, hi, view, members, emit in self._level_views[level]:
                    self._run_tick(view, rows[:, lo:hi], ticks[k], lo, hi, members)
        phases = (start + np.arange(n)) % bits
        if self._observer is not None:
            self._observer.saw_spikes(phases, self.ring[slots], inputs)
        self.delivery.count(self.ring, slots, inputs, ticks, phases)

    def _run_tick(self, view, rows: np.ndarray, slot: int, lo: int, hi: int, members: np.ndarray) -> None:
        """One tick of the view's programs (the image's, on the executor), its spikes and cycles kept."""
        fired, cycles, executed = view.run_tick(rows)
        self.counters.instructions += executed
        self.soma[slot, :, members] = cycles.T
        self.ring[slot, :, lo:hi] = fired

    def _emit_ticks(self, view, emit, slots: np.ndarray, lo: int, members: np.ndarray) -> None:
        """Ticks before a code's last on a level that takes one product a code (linear.emit_only_ticks):
        what its program does, without running it (functional_kernel.emit_ticks): acc doubles (its sum
        is 0 until the code's last tick), the residue's top bit is sent and the residue shifts, the
        phase counts on; every neuron runs the same instructions, so the cycles are constants."""
        acc_field, phase_field, last_register, residue_field, threshold_field, cycles, steps = emit
        low, high = arith.signed_range(view.register_bits)
        state = view.state
        fk.emit_ticks(state[acc_field], state[phase_field], state[residue_field], state[threshold_field],
                      np.ascontiguousarray(view.config[last_register]), low, high, self.ring, slots, lo)
        self.soma[slots[:, None], :, members[None, :]] = cycles[None, :, None]
        self.counters.instructions += steps * state.shape[1] * state.shape[2] * slots.size

    def _exact_window(self, level: int, slots: np.ndarray, ticks: np.ndarray, inputs: np.ndarray, n: int) -> None:
        """A window of a level of integration exact or of the max (exact_levels.py): each complete
        code's exact sum as one product and its code by the search's rounds, or the largest of its
        inputs' codes (the idle code where the sources carry theirs: idle.py); its bits spiked at
        their ticks; every neuron's cycles and instructions those of its tick's phase."""
        e, lanes = self._exact[level], self.lanes
        lp = e.products
        bits = self.layout.image.schedule.bits
        n_codes = n // bits
        source_codes = self._level_codes(level, slots[:n_codes * bits], inputs) \
            if n_codes and self.net.level_sources[level].size else None
        idle = self._idle[level]
        if source_codes is None or idle is None or idle.codes is None:
            codes = self._exact_codes(e, source_codes, n_codes * lanes)
        else:
            which = idle.match(source_codes)
            known = which >= 0
            codes = np.empty((lp.neurons.size, n_codes * lanes), dtype=np.int64)
            codes[:, known] = idle.codes[:, which[known]]
            if not known.all():
                codes[:, ~known] = self._exact_codes(e, source_codes[~known], int((~known).sum()))
        if self._observer is not None and source_codes is not None:
            self._observer.saw_sources(level, self._start, source_codes)
            self._observer.saw_codes(level, codes)
        fk.exact_spikes(codes, self._carried[level], e.pre, e.ranges, self.ring, ticks[:n], bits)
        members = lp.cores
        last = (self._start + np.arange(n)) % bits == bits - 1
        cycles = np.where(last[:, None], e.last_cycles[None, :], e.other_cycles[None, :])  # [ticks, cores]
        self.soma[ticks[:n, None], :, members[None, :]] = cycles[:, :, None]
        per_tick = lanes * lp.neurons.size
        self.counters.instructions += per_tick * (e.last_steps * int(last.sum()) + e.other_steps * int((~last).sum()))

    def _exact_codes(self, e, source_codes: np.ndarray | None, columns: int) -> np.ndarray:
        """[exact neurons, columns] the codes of an exact level (ExactLevel e) for the columns of
        source_codes [columns, level sources] (None: no sources, every sum zero)."""
        lp = e.products
        sums = np.zeros((lp.neurons.size, columns), dtype=np.int64)
        if source_codes is not None and e.kind == "exact":
            self._add_code_products(lp, source_codes, sums)
        codes = np.empty(sums.shape, dtype=np.int64)
        if e.kind == "max":
            if source_codes is not None:
                fk.max_codes(source_codes, *e.inputs, e.candidates, codes)
        else:
            fk.exact_search(sums, e.bias, e.thresholds, e.table_of, self.layout.image.schedule.bits, codes)
        return codes

    def _level_codes(self, level: int, slots: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """The level's sources' codes over the window's ticks `slots` (_source_codes), packed once a
        window for both parts of a level (its exact cores and its relays)."""
        if self._window_codes is not None and self._window_codes[0] == (level, self._start, slots.size):
            return self._window_codes[1]
        codes = self._source_codes(level, slots, inputs)
        self._window_codes = ((level, self._start, slots.size), codes)
        return codes

    def _code_sums(self, level: int, lp: LevelProducts, codes: np.ndarray, local: np.ndarray) -> None:
        """local [level neurons, columns] += the level's code products of codes [columns, sources]
        (_add_code_products), the idle sums where the sources carry their idle codes (idle.py)."""
        idle = self._idle[level]
        if self._observer is not None:
            self._observer.saw_sources(level, self._start, codes)
        if idle is None or idle.sums is None:
            self._add_code_products(lp, codes, local)
        else:
            which = idle.match(codes)
            known = which >= 0
            local[:, known] += idle.sums[:, which[known]]
            if not known.all():
                part = np.zeros((local.shape[0], int((~known).sum())), dtype=np.int64)
                self._add_code_products(lp, codes[~known], part)
                local[:, ~known] += part
        if self._observer is not None:
            self._observer.saw_sums(level, local)

    def _source_codes(self, level: int, slots: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """[codes x lanes, level sources] uint8: the codes of the level's sources over the ticks `slots`
        (whole codes of 8 bits), straight from the spike ring (and the input spikes)."""
        net, lanes = self.net, self.lanes
        n_codes = slots.size // 8
        sources = net.level_sources[level]
        codes = np.zeros((n_codes * lanes, sources.size), dtype=np.uint8)
        here = np.arange(slots.size)
        for lo, hi, at in self._source_runs[level]:
            if lo < net.n_neurons:
                fk.pack_codes(self.ring, slots, lo, hi, at, codes)
            else:
                fk.pack_codes(inputs, here, lo - net.n_neurons, hi - net.n_neurons, at, codes)
        return codes

    def _level_sums(self, level: int, sums: np.ndarray, slots: np.ndarray, inputs: np.ndarray, n: int,
                    last_only: bool = False) -> bool:
        """The level's saturated dendrite sums of the window's ticks into sums [ticks x lanes, neurons];
        whether they came as one product a code (on each code's last tick, zero before; with last_only,
        the rows of the other ticks are left as they are: the emit-only ticks read no sums)."""
        net, lanes = self.net, self.lanes
        lp = self._products[level]
        columns = n * lanes
        sources = net.level_sources[level]
        coded = False
        local = None
        if sources.size:
            bits = self.layout.image.schedule.bits
            coded = lp.linear and n % bits == 0 and (slots[0] + 1) % bits == 0 and self._start % bits == 0
            if not (coded and last_only):
                local = np.zeros((lp.neurons.size, columns), dtype=np.int64)
            if coded:
                # one product a code: its value on the code's last tick, zeros on the others (linear.py)
                last = np.zeros((lp.neurons.size, n // bits * lanes), dtype=np.int64)
                if bits == 8:
                    self._code_sums(level, lp, self._level_codes(level, slots, inputs), last)
                else:
                    codes = np.empty((sources.size, n // bits * lanes), dtype=np.float32)  # [sources, codes x lanes]
                    here = np.arange(n)
                    for lo, hi, at in self._source_runs[level]:
                        if lo < net.n_neurons:
                            fk.codes_of_spikes(self.ring, slots, lo, hi, at, bits, codes)
                        else:
                            fk.codes_of_spikes(inputs, here, lo - net.n_neurons, hi - net.n_neurons, at, bits, codes)
                    self._add_products(lp, codes, last, codes=True)
                if last_only:
                    np.clip(last, *self._sum_range, out=last)
                    at_last = sums[:columns].reshape(n // bits, bits, lanes, -1)[:, bits - 1]
                    for f, c, at in lp.ranges:
                        at_last[:, :, f:f + c] = last[at:at + c].reshape(c, n // bits, lanes).transpose(1, 2, 0)
                    return True
                local.reshape(lp.neurons.size, n // bits, bits, lanes)[:, :, bits - 1, :] = \
                    last.reshape(lp.neurons.size, n // bits, lanes)
            else:
                spikes = np.empty((sources.size, columns), dtype=np.float32)  # [level sources, ticks x lanes]
                for lo, hi, at in self._source_runs[level]:  # runs of consecutive sources: slices, not gathers
                    if lo < net.n_neurons:
                        part = self.ring[slots, :, lo:hi]
                    else:
                        part = inputs[:, :, lo - net.n_neurons:hi - net.n_neurons]
                    spikes[at:at + hi - lo] = part.reshape(columns, -1).T
                self._add_products(lp, spikes, local)
        if local is None:
            local = np.zeros((lp.neurons.size, columns), dtype=np.int64)
        low, high = self._sum_range
        np.clip(local, low, high, out=local)
        for f, c, at in lp.ranges:
            sums[:, f:f + c] = local[at:at + c].T
        return coded

    @classmethod
    def _add_code_products(cls, lp: LevelProducts, codes: np.ndarray, local: np.ndarray) -> None:
        """local [level neurons, columns] += the level's sums for codes [columns, level sources] uint8:
        the integer groups on onnxruntime's kernels (integer_products.py), the rest as floats."""
        session = _integer_session(lp)
        if session is not None:
            session.add(codes, local)
        if session is None or session.count < len(lp.dense) or lp.sparse is not None:
            cls._add_products(lp, np.ascontiguousarray(codes.T, dtype=np.float32), local, codes=True, integer=False)

    @classmethod
    def _add_products(cls, lp: LevelProducts, spikes: np.ndarray, local: np.ndarray, codes: bool = False,
                      integer: bool = True) -> None:
        """local [level neurons, columns] += the level's sums for spikes [level sources, columns] (0 or 1,
        or with codes=True, codes 0..255: the products then use the weights exact for codes); columns
        without a spike add nothing and are left out."""
        active = spikes.any(axis=0)
        if not active.all():
            if active.any():
                part = np.zeros((local.shape[0], int(active.sum())), dtype=np.int64)
                cls._add_products(lp, np.ascontiguousarray(spikes[:, active]), part, codes, integer)
                local[:, active] += part
            return
        columns = spikes.shape[1]
        as_type = {np.dtype(np.float32): spikes}
        padded = {}  # the spikes in a dtype with a zero row after them: M is one take of rows
        if codes and integer:
            session = _integer_session(lp)
            if session is not None:
                session.add(np.ascontiguousarray(spikes.T, dtype=np.uint8), local)
        for g in lp.dense:
            if codes and g.integer and lp.session:
                continue
            weights = g.code_weights_t if codes else g.weights_t
            if codes and g.nibbles:
                x = padded.get("nibbles")
                if x is None:  # [sources + 1, high nibbles' columns then low nibbles'], exact in float32
                    x = padded["nibbles"] = np.zeros((spikes.shape[0] + 1, 2 * columns), dtype=np.float32)
                    np.floor_divide(spikes, _NIBBLE, out=x[:-1, :columns])
                    np.subtract(spikes, x[:-1, :columns] * _NIBBLE, out=x[:-1, columns:])
                m = np.take(x, g.gather, axis=0)
                halves = (weights @ m.reshape(weights.shape[1], -1)).reshape(-1, 2, columns)
                products = halves[:, 0].astype(np.int64) * _NIBBLE + halves[:, 1].astype(np.int64)
                fk.scatter_rows(local, products, g.targets.reshape(-1))
                continue
            x = padded.get(weights.dtype)
            if x is None:
                x = padded[weights.dtype] = np.zeros((spikes.shape[0] + 1, columns), dtype=weights.dtype)
                x[:-1] = spikes
                as_type.setdefault(weights.dtype, x[:-1])
            m = np.take(x, g.gather, axis=0)  # [rows x carried, columns]; -1 takes the zero row
            products = weights @ m.reshape(weights.shape[1], -1)  # [taps, carried x columns]
            fk.scatter_rows(local, products.reshape(-1, columns), g.targets.reshape(-1))
        sparse, exact = (lp.code_sparse, lp.code_sparse_exact) if codes else (lp.sparse, lp.sparse_exact)
        if sparse is not None:
            x = as_type.get(sparse.dtype)
            if x is None:
                x = spikes.astype(sparse.dtype)
            product = sparse @ x
            local += product.astype(np.int64) if exact else product


def _runs(ids: np.ndarray, split: int) -> list[tuple[int, int, int]]:
    """(first, end, position) of each run of consecutive ids (sorted), none crossing `split`."""
    if not ids.size:
        return []
    breaks = np.flatnonzero((np.diff(ids) != 1) | (ids[1:] == split)) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [ids.size]])
    return [(int(ids[a]), int(ids[b - 1]) + 1, int(a)) for a, b in zip(starts.tolist(), ends.tolist())]


def check_functional(sim) -> None:
    """The functional engine runs level after level: an image whose cores hear from themselves
    (no levels) is the cycle engine's."""
    if not sim.pipelined:
        raise SdanncError(f"image {sim.where}: its cores' connections have a cycle, so they have no levels: "
                          f"use --engine cycle")


# A window's sums hold about this many values (ticks x lanes x neurons).
_WINDOW_ELEMENTS = 1 << 23
_MAX_WINDOW = 64


class FunctionalSimulator(Simulator):
    """Simulator's interface (run, codes_at, the report), the functional engine underneath."""

    engine = "functional"

    def __init__(self, image, where: str = "<image>", executor: str | None = None) -> None:
        super().__init__(image, where, executor)
        check_functional(self)
        self._products = [level_products(self.network, level) for level in range(self.network.n_levels)]
        self._exact = self._mark_exact()
        # the cores of exact and max levels: with windows of whole codes they run no program
        self._exact_cores = {int(c) for e in self._exact if e is not None for c in e.products.cores}
        self._mark_linear()
        self._senders = sender_tables(self.network, sender_counts(self.network))
        self._idle = False  # per level its IdleLevel (idle.py), learned at the first run; None: not learnable
        self._known_spikes = None  # (spikes [bits, sources], the senders' counts of them) of an idle code

    def _mark_exact(self) -> list:
        """Per level its ExactLevel where its cores of integration exact's program, or else of the
        max's, may run without it (exact_levels.py), their products apart, and the products of the
        level's other cores (relays on a shorter branch): a run whose windows cut codes takes the
        level's whole products instead."""
        image, isa, bits = self.image, load_isa(self.image.target.isa_name), self.image.schedule.bits
        cycles = image.target.instruction_cycles(isa)
        out = []
        for level, lp in enumerate(self._products):
            found = None
            for recognise, kind in ((exact_program, "exact"), (max_program, "max")):
                cores = [c for c in lp.cores.tolist() if recognise(image.cores[c], isa)]
                if not cores:
                    continue
                if kind == "exact":
                    part = lp if len(cores) == lp.cores.size else level_products(self.network, level, cores)
                else:  # the max takes its inputs one by one: every group in the sparse matrix
                    part = level_products(self.network, level, cores, all_sparse=True)
                costs = np.asarray([cycles[i.mnemonic] for i in isa.decode_program(image.cores[cores[0]].program)],
                                   dtype=np.int64)
                if kind == "exact":
                    found = exact_level(image, cores, part.weight_sums, isa, costs, bits)
                elif part.code_sparse is not None:
                    found = max_level(image, cores, part.code_sparse, isa, costs, bits)
                if found is not None:
                    rest = [c for c in lp.cores.tolist() if c not in set(cores)]
                    found.products, found.rest = part, level_products(self.network, level, rest)
                    found.ranges = np.asarray(part.ranges, dtype=np.int64).reshape(-1, 3)
                    break
            out.append(found)
        return out

    def _mark_linear(self) -> None:
        """Levels whose every core's sums may come as one product a code (linear.py); also the other
        cores of a level of integration exact (exact_levels.py), run apart from those."""
        for lp in self._products:
            lp.linear = self._linear(lp)
        for e in self._exact:
            if e is not None:
                e.rest.linear = self._linear(e.rest)

    def _linear(self, lp: LevelProducts) -> bool:
        image, isa, bits = self.image, load_isa(self.image.target.isa_name), self.image.schedule.bits
        if image.schedule.sample_interval != bits or not lp.cores.size:
            return False
        for c in lp.cores.tolist():
            core = image.cores[c]
            at = next(at for f, _, at in lp.ranges if f == self.core_base[c])
            if not (core.stage > 0 and linear_neurons(core, isa.decode_program(core.program), isa, image.target,
                                                      lp.weight_sums[at:at + core.n_neurons], bits)):
                return False
        return True

    def window_for(self, lanes: int, ticks: int, wanted: int | None = None) -> int:
        if wanted is None:  # whole codes in a window (a short run's too): the code paths take them
            bits = self.image.schedule.bits
            wanted = min(_MAX_WINDOW, _WINDOW_ELEMENTS // max(1, lanes * self.n_neurons))
            return max(bits, min(wanted // bits * bits, -(-ticks // bits) * bits))
        return max(1, min(wanted, ticks))

    def _runs_programs(self, members: list[int], window: int) -> bool:
        return window % self.image.schedule.bits != 0 or not set(members) <= self._exact_cores

    def _stepper(self, layout, runners, codes_in, ticks, window, record_codes, threads) -> Stepper:
        # one thread whatever `threads` asks: the products are BLAS calls, the rest is the stepper's
        return FunctionalStepper(layout, runners, codes_in, ticks, window, self._products, self._senders,
                                 record_codes, self._exact, self._idle_levels(layout, window),
                                 self._known_spikes if window % self.image.schedule.bits == 0 else None)

    def _idle_levels(self, layout: Layout, window: int) -> list | None:
        """Per level its IdleLevel (idle.py), learned once by a run without samples: the codes every
        level computes on the zeros before and after a stream (None where the run takes no code
        paths: windows that cut codes, or images whose codes are not 8 ticks a sample)."""
        if window % self.image.schedule.bits:
            return None
        if self._idle is False:
            sched = self.image.schedule
            self._idle = None
            if sched.sample_interval == sched.bits == 8:
                self._idle = self._learn_idle(layout)
        return self._idle

    def _learn_idle(self, layout: Layout) -> list:
        """A run of no sample, one lane, windows of two codes, long enough that the state before the
        first code has left every level (a level's code c hears its sources' code c - 1); each
        level's last two codes then compared (IdleObserver)."""
        bits = self.image.schedule.bits
        window = 2 * bits
        ticks = -(-(self.network.n_levels + 3) * bits // window) * window
        observer = IdleObserver(self.network.n_levels)
        no_samples = np.zeros((1, 0, self.image.io.n_inputs), dtype=np.int64)
        FunctionalStepper(layout, self._runners(1, window), no_samples, ticks, window, self._products, self._senders,
                          exact=self._exact, idle=observer).run(None)
        spikes = observer.known_spikes(bits)
        if spikes is not None:
            self._known_spikes = (spikes, known_counts(self._senders, self.network, spikes))
        return observer.levels()
