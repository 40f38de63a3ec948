"""The spike codings' encoding and decoding (ir/codec.spikes_at, tick_values): every code, sent
tick by tick through its window and read back as the sum of its spikes' values, is itself; ttfs
sends one spike per nonzero code, rate `code` spikes, stem its bits."""

import numpy as np
import pytest

from sdannc.ir.codec import spike_counts, spikes_at, spikes_by_tick, tick_values
from sdannc.ir.codes import CODINGS, WINDOW_TICKS

CODES = np.arange(256)


def _train(coding: str) -> np.ndarray:
    """[window, 256] the spikes of every code, tick by tick."""
    return np.stack([spikes_at(CODES, t, coding) for t in range(WINDOW_TICKS[coding])])


@pytest.mark.parametrize("coding", CODINGS)
def test_every_code_decodes_to_itself(coding):
    train = _train(coding)
    assert np.array_equal(tick_values(coding) @ train.astype(np.int64), CODES)


def test_spike_counts_and_times_per_coding():
    ttfs, rate, stem = _train("ttfs"), _train("rate"), _train("stem")
    assert WINDOW_TICKS == {"stem": 8, "ttfs": 256, "rate": 255}
    assert np.array_equal(ttfs.sum(axis=0), (CODES > 0).astype(int))  # one spike, none for 0
    assert np.array_equal(np.argmax(ttfs[:, 1:], axis=0), 256 - CODES[1:])  # code a at tick 256 - a
    assert not ttfs[0].any()  # tick 0 carries no code (256 would)
    assert np.array_equal(rate.sum(axis=0), CODES)  # a spikes ...
    assert all(rate[:a, a].all() and not rate[a:, a].any() for a in CODES)  # ... in the first a ticks
    assert np.array_equal(stem.sum(axis=0), [bin(a).count("1") for a in CODES])
    assert list(stem[:, 0b10010001]) == [True, False, False, True, False, False, False, True]  # MSB first


@pytest.mark.parametrize("coding", CODINGS)
def test_spike_counts_and_spikes_by_tick_are_the_trains(coding):
    codes = np.random.default_rng(1).integers(0, 256, (5, 7))
    train = np.stack([spikes_at(codes, t, coding) for t in range(WINDOW_TICKS[coding])])  # [window, 5, 7]
    assert np.array_equal(spike_counts(codes, coding), train.sum(axis=0))
    assert np.array_equal(spikes_by_tick(codes, coding), train.sum(axis=(1, 2)))
