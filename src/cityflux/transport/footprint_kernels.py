"""Numba kernels on dense footprint buffers (no I/O; flags from :mod:`cityflux.jit`)."""

import numpy as np
from numba import prange

from cityflux.jit import parallel_jit


@parallel_jit
def compact(buffer, rows, back, cells, values):
    """Non-zero entries of a dense (n_rec, n_back, n_cells) buffer as triplets.

    Call with ``rows`` etc. of length 0 to get the number of non-zeros per receptor (the
    return value, shape (n_rec,)); then again with arrays of length ``counts.sum()``,
    which receive the entries in receptor, hour-back and cell order (as ``np.nonzero``),
    and the buffer is left all zero for reuse.
    """
    n_rec = buffer.shape[0]
    counts = np.zeros(n_rec, np.int64)
    for r in prange(n_rec):
        n = 0
        for k in range(buffer.shape[1]):
            for c in range(buffer.shape[2]):
                if buffer[r, k, c] != 0.0:
                    n += 1
        counts[r] = n
    if rows.shape[0] == 0:
        return counts
    offsets = np.zeros(n_rec, np.int64)
    for r in range(1, n_rec):
        offsets[r] = offsets[r - 1] + counts[r - 1]
    if rows.shape[0] != offsets[n_rec - 1] + counts[n_rec - 1]:
        raise ValueError("compact: output arrays must have the length of all non-zeros")
    for r in prange(n_rec):
        i = offsets[r]
        for k in range(buffer.shape[1]):
            for c in range(buffer.shape[2]):
                if buffer[r, k, c] != 0.0:
                    rows[i] = r
                    back[i] = k
                    cells[i] = c
                    values[i] = buffer[r, k, c]
                    buffer[r, k, c] = 0.0
                    i += 1
    return counts
