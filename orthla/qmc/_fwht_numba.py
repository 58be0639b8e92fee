"""Numba kernel for the fast Walsh-Hadamard transform (imported lazily by ``_transforms``)."""

import numpy as np
from numba import njit


@njit(cache=True)
def fwht_rows_inplace(y):
    """Orthonormal Walsh-Hadamard transform of every row of C-contiguous ``y`` (r, n), in place."""
    r, n = y.shape
    scale = 1.0 / np.sqrt(n)
    for row in range(r):
        v = y[row]
        h = 1
        while h < n:
            for start in range(0, n, 2 * h):
                for i in range(start, start + h):
                    a = v[i]
                    b = v[i + h]
                    v[i] = a + b
                    v[i + h] = a - b
            h *= 2
        for i in range(n):
            v[i] *= scale
