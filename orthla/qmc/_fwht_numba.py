"""Numba kernel for the fast Walsh-Hadamard transform (imported lazily by ``_transforms``)."""

import numpy as np
from numba import njit


@njit(cache=True)
def fwht_rows_inplace(y):
    """Orthonormal Walsh-Hadamard transform of every row of C-contiguous ``y`` (r, n), in place.

    Stages are taken two at a time (radix 4: half the passes over the row, and contiguous inner
    loops that vectorize from ``h = 4`` on); each output is the same sum, in the same order, as
    with radix-2 stages, so the values are those of the radix-2 transform bit for bit.
    """
    r, n = y.shape
    scale = 1.0 / np.sqrt(n)
    for row in range(r):
        v = y[row]
        h = 1
        if n >= 4:  # stages h = 1, 2: 4-point transforms of consecutive entries
            for s in range(0, n, 4):
                a, b, c, d = v[s], v[s + 1], v[s + 2], v[s + 3]
                p, q, u, w = a + b, a - b, c + d, c - d
                v[s], v[s + 1], v[s + 2], v[s + 3] = p + u, q + w, p - u, q - w
            h = 4
        while 4 * h <= n:  # stages h and 2h
            for s in range(0, n, 4 * h):
                for i in range(s, s + h):
                    a, b, c, d = v[i], v[i + h], v[i + 2 * h], v[i + 3 * h]
                    p, q, u, w = a + b, a - b, c + d, c - d
                    v[i], v[i + h], v[i + 2 * h], v[i + 3 * h] = p + u, q + w, p - u, q - w
            h *= 4
        if h < n:  # an odd number of stages: the last one alone
            for i in range(h):
                a, b = v[i], v[i + h]
                v[i], v[i + h] = a + b, a - b
        for i in range(n):
            v[i] *= scale
