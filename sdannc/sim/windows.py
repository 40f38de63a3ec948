"""Which sample a core's spikes and synaptic operations belong to, tick by tick.

A compiled image gives every core its pipeline stage d (the depth of its layer, 1 for the first).
With the schedule's `bits` ticks per layer (a window: 8 for stem, 256 for ttfs, 255 for rate), stage d sends sample s's bit b at tick
s * sample_interval + d * bits - 1 + b, and receives the bits of its inputs one tick after they are
sent: from s * sample_interval + (d - 1) * bits. Activity outside every window of a real sample is
the pipeline filling and draining (layers computing on the zeros before and after the stream): it
costs energy, and is counted in the totals, but belongs to no sample. Cores of stage 0 (hand-built
images that give no stage) belong to no window.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..image.model import ChipImage


class SampleWindows:
    def __init__(self, image: ChipImage, samples_per_lane: int) -> None:
        s = image.schedule
        self.bits, self.interval, self.samples = s.bits, s.sample_interval, samples_per_lane
        self.stage = np.asarray([c.stage for c in image.cores], dtype=np.int64)
        self.known = self.stage > 0
        self.n_neurons = np.asarray([c.n_neurons for c in image.cores], dtype=np.int64)

    def _window(self, start: np.ndarray, tick: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per core: is the tick inside a real sample's window that starts at `start`, which sample, which bit."""
        sample, bit = np.divmod(tick - start, self.interval)
        inside = self.known & (sample >= 0) & (sample < self.samples) & (bit < self.bits)
        return inside, sample, bit

    def sending(self, ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per tick and core [ticks, cores]: the sample whose bit the core sends, and the bit (-1
        where it sends no real sample's)."""
        send_start = self.stage * self.bits - 1
        sample = np.full((len(ticks), self.stage.size), -1, dtype=np.int64)
        bit = sample.copy()
        for k, tick in enumerate(ticks):
            inside, s, b = self._window(send_start, int(tick))
            sample[k, inside], bit[k, inside] = s[inside], b[inside]
        return sample, bit

    def count_spikes(self, fired: np.ndarray, ticks: np.ndarray, core_first: np.ndarray,
                     spikes_by_bit: np.ndarray) -> None:
        """Add the spikes fired [ticks, lanes, neurons] that send real samples' bits into
        spikes_by_bit [bits, neurons]."""
        count_sample_spikes(fired, self.sending(ticks)[1], core_first, self.n_neurons, spikes_by_bit)

    def record_codes(self, fired: np.ndarray, ticks: np.ndarray, core_first: np.ndarray, codes: np.ndarray,
                     tick_values: np.ndarray) -> None:
        """Add, in codes [lanes, samples, neurons], the values the spikes fired [ticks, lanes, neurons]
        carry (tick_values [bits], ir/codec.tick_values: 2^(7 - bit) for stem): a neuron's spikes of
        one sample are the code it emits for it."""
        sample_of_core, bit_of_core = self.sending(ticks)
        record_sample_codes(fired, sample_of_core, bit_of_core, core_first, self.n_neurons, tick_values, codes)

    def receiving(self, tick: int) -> np.ndarray:
        """Per core: are the spikes it receives at this tick a real sample's."""
        return self._window((self.stage - 1) * self.bits, tick)[0]


@nb.njit(cache=True, nogil=True)
def count_sample_spikes(fired, bit_of_core, core_first, core_neurons, spikes_by_bit):
    """spikes_by_bit[bit, neuron] += the spikes fired [ticks, lanes, neurons] of the cores that send
    a real sample's bit at each tick (bit_of_core [ticks, cores], -1 where they do not)."""
    for k in range(bit_of_core.shape[0]):
        for core in range(bit_of_core.shape[1]):
            bit = bit_of_core[k, core]
            if bit < 0:
                continue
            first, last = core_first[core], core_first[core] + core_neurons[core]
            counts = spikes_by_bit[bit, first:last]
            for lane in range(fired.shape[1]):
                spiked = fired[k, lane, first:last]
                for n in range(counts.size):  # a core's neurons are consecutive: this vectorizes
                    counts[n] += spiked[n]


@nb.njit(cache=True, nogil=True)
def record_sample_codes(fired, sample_of_core, bit_of_core, core_first, core_neurons, tick_values, codes):
    """codes[lane, sample, neuron] += spike x tick_values[bit] for the cores that send a real
    sample's bit at each tick (sample_of_core, bit_of_core [ticks, cores], -1 where they do not)."""
    for k in range(bit_of_core.shape[0]):
        for core in range(bit_of_core.shape[1]):
            bit = bit_of_core[k, core]
            if bit < 0:
                continue
            sample, weight = sample_of_core[k, core], tick_values[bit]
            first, last = core_first[core], core_first[core] + core_neurons[core]
            for lane in range(fired.shape[1]):
                spiked = fired[k, lane, first:last]
                row = codes[lane, sample, first:last]
                for n in range(row.size):
                    if spiked[n]:
                        row[n] += weight
