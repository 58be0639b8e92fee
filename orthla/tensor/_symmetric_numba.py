"""Numba kernel for the symmetry check of ``_symmetric`` (imported lazily)."""

import numpy as np
from numba import njit

#: Rows of the (d^(m-1), d) view compared per block: the block stays in L1 while the
#: (d, d^(m-1)) view is read along its rows.
_BLOCK = 64


@njit(cache=True)
def max_asymmetry(flat, d):
    """``(max |T - T^swap|, max |T - T^cycle|, max |T|)`` of a cubical tensor, read in place.

    ``flat`` is the row-major tensor of side ``d``, raveled.  The swap of the first two
    modes compares the rows ``T[i, j, :]`` and ``T[j, i, :]``; the cyclic shift
    ``T^cycle[i0, rest] = T[rest, i0]`` compares the (d, K) view with the transpose of
    the (K, d) view, K = size / d, block by block.  One pass over ``T`` for each, no
    temporaries (NumPy needs a transposed copy and two more arrays per generator).
    NaN anywhere gives NaN.
    """
    size = flat.shape[0]
    K = size // d
    L = K // d
    swap = 0.0
    for i in range(d):
        for j in range(i + 1, d):
            a = flat[(i * d + j) * L:(i * d + j + 1) * L]
            b = flat[(j * d + i) * L:(j * d + i + 1) * L]
            for k in range(L):
                v = abs(a[k] - b[k])
                if v > swap or v != v:
                    swap = v
    X = flat.reshape((d, K))
    Y = flat.reshape((K, d))
    cycle = 0.0
    top = 0.0
    for b0 in range(0, K, _BLOCK):
        b1 = min(K, b0 + _BLOCK)
        for a in range(d):
            xa = X[a]
            for b in range(b0, b1):
                x = xa[b]
                v = abs(x - Y[b, a])
                if v > cycle or v != v:
                    cycle = v
                ax = abs(x)
                if ax > top or ax != ax:
                    top = ax
    if swap != swap or cycle != cycle or top != top:
        return np.nan, np.nan, np.nan
    return swap, cycle, top
