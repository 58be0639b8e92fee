"""Numba kernel for modified Gram-Schmidt (imported lazily by ``_mgs``)."""

import numpy as np
from numba import njit


@njit(cache=True)
def mgs_inplace(q, r):
    """Right-looking MGS on Fortran-ordered ``q`` (m x n), overwritten by Q.

    Fills ``r`` (min(m, n) x n).  Columns whose residual is exactly zero stay
    zero with ``r[j, j] = 0``.
    """
    m, n = q.shape
    k = min(m, n)
    zero = q.dtype.type(0)
    for j in range(k):
        s = 0.0
        for i in range(m):
            v = q[i, j]
            s += v.real * v.real + v.imag * v.imag
        nrm = np.sqrt(s)
        r[j, j] = nrm
        if nrm > 0.0:
            inv = 1.0 / nrm
            for i in range(m):
                q[i, j] *= inv
        for col in range(j + 1, n):
            dot = zero
            for i in range(m):
                dot += np.conj(q[i, j]) * q[i, col]
            r[j, col] = dot
            for i in range(m):
                q[i, col] -= dot * q[i, j]
