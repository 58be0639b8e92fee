"""Numba kernel for modified Gram-Schmidt (imported lazily by ``_mgs``)."""

import numpy as np
from numba import njit

# below this sum of squares (float64 smallest_normal / eps) the sum may have lost digits to
# underflow: the norm is recomputed on the column divided by its largest entry
_SMALL = np.finfo(np.float64).tiny / np.finfo(np.float64).eps


@njit(cache=True)
def _column_norm(q, j, tiny):
    """``||q[:, j]||`` without underflow: squares in float64, rescaled when tiny.

    0 when no entry reaches ``tiny`` (the dtype's smallest normal number): such a residual
    counts as zero, as in the array-API engine.
    """
    m = q.shape[0]
    s = 0.0
    for i in range(m):
        v = q[i, j]
        re = np.float64(v.real)
        im = np.float64(v.imag)
        s += re * re + im * im
    if s >= _SMALL:
        return np.sqrt(s)
    big = 0.0
    for i in range(m):
        big = max(big, abs(np.float64(q[i, j].real)), abs(np.float64(q[i, j].imag)))
    if big < tiny:
        return 0.0
    s = 0.0
    for i in range(m):
        v = q[i, j]
        re = np.float64(v.real) / big
        im = np.float64(v.imag) / big
        s += re * re + im * im
    return big * np.sqrt(s)


@njit(cache=True)
def mgs_inplace(q, r, tiny):
    """Right-looking MGS on Fortran-ordered ``q`` (m x n), overwritten by Q.

    Fills ``r`` (min(m, n) x n).  A residual column without an entry of at least
    ``tiny`` (the dtype's smallest normal number) is set to zero, with ``r[j, j] = 0``.
    The input is expected scaled to a largest entry near 1 (``_mgs.mgs_qr`` does it),
    so sums of squares cannot overflow.
    """
    m, n = q.shape
    k = min(m, n)
    zero = q.dtype.type(0)
    for j in range(k):
        nrm = _column_norm(q, j, tiny)
        r[j, j] = nrm
        if nrm > 0.0:
            for i in range(m):
                q[i, j] /= nrm
        else:
            for i in range(m):
                q[i, j] = zero
        for col in range(j + 1, n):
            dot = zero
            for i in range(m):
                dot += np.conj(q[i, j]) * q[i, col]
            r[j, col] = dot
            for i in range(m):
                q[i, col] -= dot * q[i, j]
