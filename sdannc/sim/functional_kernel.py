"""Compiled helper of the functional engine (functional.py, numba): a group's products into its neurons."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def scatter_rows(sums, products, targets):
    """sums[targets[j]] += products[j], row by row (exact integers held in floats): a group's
    products into its neurons (targets repeat: a convolution's taps overlap)."""
    for j in range(targets.size):
        row = sums[targets[j]]
        values = products[j]
        for col in range(row.size):
            row[col] += np.int64(values[col])
