"""The golden model's integer products (float64 BLAS where exact, int64 beyond) against plain int64
arithmetic, for dense and grouped, strided, padded convolutions, and for bit planes in one call."""

from __future__ import annotations

import numpy as np
import pytest

from sdannc.ir import connections

CONV = {"kind": "conv", "kernel": (3, 3), "strides": (2, 1), "pads": (1, 0, 1, 2), "dilations": (1, 2), "group": 2}


def _conv_reference(x, w, conn):
    """Direct loops over the windows, in int64."""
    win = connections.conv_windows(x, conn)  # [b, Cin, kh, kw, Ho, Wo]
    group = conn["group"]
    cin_g, cout_g = x.shape[1] // group, w.shape[0] // group
    out = np.zeros((x.shape[0], w.shape[0]) + win.shape[-2:], dtype=np.int64)
    for o in range(w.shape[0]):
        g = o // cout_g
        part = win[:, g * cin_g:(g + 1) * cin_g].astype(np.int64)
        part = part.reshape(part.shape[:2] + (-1,) + part.shape[-2:])  # [b, cin_g, taps, Ho, Wo]
        out[:, o] = np.einsum("bckyx,ck->byx", part, w[o].reshape(cin_g, -1).astype(np.int64))
    return out


@pytest.mark.parametrize("big", [False, True])
def test_conv_matches_int64_reference(big):
    rng = np.random.default_rng(1)
    top = 2 ** 47 if big else 255  # big: beyond float64's exact range, the int64 path
    x = rng.integers(0, top, size=(3, 4, 7, 9))
    w = rng.integers(-128, 128, size=(6, 2, 3, 3))
    h, wd = connections.conv_output_hw((7, 9), CONV)
    assert not big or not connections._exact_in_float(x, w, 18)
    np.testing.assert_array_equal(connections.apply(CONV, w, x, (6, h, wd)), _conv_reference(x, w, CONV))


@pytest.mark.parametrize("big", [False, True])
def test_dense_matches_int64_reference(big):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2 ** 45 if big else 256, size=(5, 30))
    w = rng.integers(-128, 128, size=(11, 30))
    np.testing.assert_array_equal(connections.apply({"kind": "dense"}, w, x, (11,)), x @ w.T)


def test_bit_planes_in_one_call_equal_one_call_per_plane():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, size=(2, 4, 7, 9))
    w = rng.integers(-128, 128, size=(6, 2, 3, 3))
    out_shape = (6,) + connections.conv_output_hw((7, 9), CONV)
    together = connections.apply_bit_planes(CONV, w, codes, out_shape, 8)
    for b in range(8):
        plane = (codes >> (7 - b)) & 1
        np.testing.assert_array_equal(together[b], connections.apply(CONV, w, plane, out_shape))


@pytest.mark.parametrize("conn, w_shape, in_shape, out_shape", [
    (CONV, (6, 2, 3, 3), (4, 7, 9), (6,) + connections.conv_output_hw((7, 9), CONV)),
    ({"kind": "dense"}, (11, 30), (30,), (11,)),
    ({"kind": "dense"}, (11, 30), (5, 6), (11,)),
    ({"kind": "dense"}, (45, 50_000), (50_000,), (45,)),  # rows summed 20 at a time: 3 blocks
    ({"kind": "elementwise"}, (3, 1, 1), (3, 4, 5), (3, 4, 5)),
], ids=["conv", "dense", "dense-from-2d", "dense-in-blocks", "elementwise"])
def test_weight_sums_are_apply_to_all_ones(conn, w_shape, in_shape, out_shape):
    """weight_sums (scaled integration's worst case, lower-linear's zero-point fold) without windows."""
    w = np.random.default_rng(4).integers(-128, 128, size=w_shape)
    ones = np.ones((1,) + in_shape, dtype=np.int64)
    for absolute in (False, True):
        expected = connections.apply(conn, np.abs(w) if absolute else w, ones, out_shape)[0]
        got = connections.weight_sums(conn, w, in_shape, out_shape, absolute=absolute)
        assert got.shape == tuple(out_shape) and got.dtype == np.int64
        np.testing.assert_array_equal(got, expected)
        assert len(np.unique(got)) > 1  # padded borders and weights make the sums differ
