"""Numba kernel for the arithmetic of a small dense row batch on the lean path (imported lazily).

:func:`._truncated._append_lean` makes some 25 NumPy and LAPACK calls on tiny arrays per
batch of ``p >= 2`` rows; for ``p`` and ``r`` in the tens their per-call costs are a third of
an update.  This kernel does the same steps in one call (BLAS through NumPy's ``dot``, LAPACK's
``geqrf``, ``orgqr``, ``trtri`` and ``gesdd`` through SciPy's Cython LAPACK, passed as
first-class functions so that the kernel stays cacheable) and declines where the Python path
declines, which then hands the batch to the general path.
"""

import math

import numpy as np
from numba import njit

from ._lapack_numba import CHAR as _C
from ._lapack_numba import DOUBLE as _D
from ._lapack_numba import INT as _I
from ._lapack_numba import lapack_function as _lapack

#: (m, n, a, lda, tau, work, lwork, info)
DGEQRF = _lapack("dgeqrf", _I, _I, _D, _I, _D, _D, _I, _I)
#: (m, n, k, a, lda, tau, work, lwork, info)
DORGQR = _lapack("dorgqr", _I, _I, _I, _D, _I, _D, _D, _I, _I)
#: (uplo, diag, n, a, lda, info)
DTRTRI = _lapack("dtrtri", _C, _C, _I, _D, _I, _I)
#: (jobz, m, n, a, lda, s, u, ldu, vt, ldvt, work, lwork, iwork, info)
DGESDD = _lapack("dgesdd", _C, _I, _I, _D, _I, _D, _D, _I, _D, _I, _D, _I, _I, _I)

#: Return codes of :func:`lean_rows` other than 0 (done): the Python path's reasons to decline.
DECLINE_LAPACK, DECLINE_RANK, DECLINE_CANCELLATION = 1, 2, 3


@njit(cache=True)
def _query(work):
    """The optimal workspace a LAPACK query wrote into ``work[0]``, as an int (at least 1)."""
    return max(1, int(work[0]))


#: Largest workspace a query may ask for (a failed query leaves no usable size).
_MAX_WORK = 1 << 30


@njit(cache=True)
def lean_rows(geqrf, orgqr, trtri, gesdd, E, V, s, tol, e, kk, implicit_cond, F, theta, V_new):
    """Zha-Simon for the rows ``E`` (p x n, p >= 2, C-contiguous) onto ``U diag(s) V^T``
    (``V`` n x r, C-contiguous): the steps of the lean path's batch branch, from the
    Gram-Schmidt pass to ``V_new`` (n x kk, written), ``F`` ((r + p) x kk) and ``theta`` (kk).

    Returns ``(code, smin)``: code 0, or a ``DECLINE_*`` code (nothing usable written).
    """
    p, n = E.shape
    r = s.shape[0]
    N = r + p
    C = np.dot(E, V)                       # p x r
    Yt = E - np.dot(C, V.T)                # p x n: Y^T, C order = Y in Fortran order
    Gt = np.dot(Yt, V)                     # p x r: (V^T Y)^T
    ints = np.empty(8, dtype=np.int32)     # m, n, k, lda, lwork, info, ldu, ldvt
    chars = np.empty(3, dtype=np.uint8)    # uplo, diag, jobz
    # Householder QR of Y (a copy: Y itself is kept for Q = Y T^-1)
    qr = Yt.copy()
    tau = np.empty(p)
    wq = np.zeros(1)
    ints[0] = n
    ints[1] = p
    ints[3] = n
    ints[4] = -1
    geqrf(ints[0:].ctypes, ints[1:].ctypes, qr.ctypes, ints[3:].ctypes, tau.ctypes, wq.ctypes,
          ints[4:].ctypes, ints[5:].ctypes)
    if ints[5] != 0 or not wq[0] < _MAX_WORK:
        return DECLINE_LAPACK, 0.0
    work = np.empty(_query(wq))
    ints[4] = work.shape[0]
    geqrf(ints[0:].ctypes, ints[1:].ctypes, qr.ctypes, ints[3:].ctypes, tau.ctypes, work.ctypes,
          ints[4:].ctypes, ints[5:].ctypes)
    if ints[5] != 0:
        return DECLINE_LAPACK, 0.0
    # T (upper, p x p) and T^-1, both Fortran-ordered as p x p row-major transposes
    T = np.zeros((p, p))                   # T[j, i] = T_ij (C order of T^T = Fortran of T)
    tt = 0.0
    for j in range(p):
        for i in range(j + 1):
            v = qr[j, i]
            T[j, i] = v
            tt += v * v
    Tinv = T.copy()
    chars[0] = 85                          # 'U'
    chars[1] = 78                          # 'N'
    ints[1] = p
    ints[3] = p
    trtri(chars[0:].ctypes, chars[1:].ctypes, ints[1:].ctypes, Tinv.ctypes, ints[3:].ctypes,
          ints[5:].ctypes)
    if ints[5] != 0:
        return DECLINE_LAPACK, 0.0
    ti = 0.0
    for j in range(p):
        for i in range(j + 1):
            ti += Tinv[j, i] * Tinv[j, i]
    tinv_f = math.sqrt(ti)
    smin = 1.0 / tinv_f
    if not smin > tol:
        return DECLINE_RANK, smin
    implicit = math.sqrt(tt) * tinv_f <= implicit_cond * p
    if not implicit:                       # Q formed by orgqr from the reflectors
        ints[0] = n
        ints[1] = p
        ints[2] = p
        ints[3] = n
        ints[4] = -1
        orgqr(ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes, qr.ctypes, ints[3:].ctypes,
              tau.ctypes, wq.ctypes, ints[4:].ctypes, ints[5:].ctypes)
        if ints[5] != 0 or not wq[0] < _MAX_WORK:
            return DECLINE_LAPACK, smin
        work = np.empty(_query(wq))
        ints[4] = work.shape[0]
        orgqr(ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes, qr.ctypes, ints[3:].ctypes,
              tau.ctypes, work.ctypes, ints[4:].ctypes, ints[5:].ctypes)
        if ints[5] != 0:
            return DECLINE_LAPACK, smin
    # W = V^T Q (r x p): G T^-1 where Q = Y T^-1 (Tinv holds (T^-1)^T in C order), measured
    # from the formed Q otherwise (G T^-1 is V^T Q only to within cond(T) eps)
    Wm = np.dot(Gt.T, Tinv.T) if implicit else np.dot(V.T, qr.T)
    w2 = 0.0
    for a in range(r):
        for b in range(p):
            w2 += Wm[a, b] * Wm[a, b]
    correct = w2 > (10 * e) ** 2
    if correct:
        if w2 > e:
            return DECLINE_CANCELLATION, smin
        C += Gt                            # Q - V W has Gram matrix I - W^T W
    # K = [[diag(s), 0], [C, T^T]], Fortran order: Kf[col, row]
    Kf = np.zeros((N, N))
    for i in range(r):
        Kf[i, i] = s[i]
    for j in range(p):
        for i in range(r):
            Kf[i, r + j] = C[j, i]
        for i in range(j + 1):             # K[r + j, r + i] = T_ij
            Kf[r + i, r + j] = T[j, i]
    S = np.empty(N)
    Uf = np.empty((N, N))                  # Fortran N x N: Uf[col, row]
    VTf = np.empty((N, N))                 # Fortran: VTf[col, row] = VT[row, col]
    iwork = np.empty(8 * N, dtype=np.int32)
    chars[2] = 83                          # 'S'
    ints[0] = N
    ints[1] = N
    ints[3] = N
    ints[6] = N
    ints[7] = N
    ints[4] = -1
    gesdd(chars[2:].ctypes, ints[0:].ctypes, ints[1:].ctypes, Kf.ctypes, ints[3:].ctypes, S.ctypes,
          Uf.ctypes, ints[6:].ctypes, VTf.ctypes, ints[7:].ctypes, wq.ctypes, ints[4:].ctypes,
          iwork.ctypes, ints[5:].ctypes)
    if ints[5] != 0 or not wq[0] < _MAX_WORK:
        return DECLINE_LAPACK, smin
    work = np.empty(_query(wq))
    ints[4] = work.shape[0]
    gesdd(chars[2:].ctypes, ints[0:].ctypes, ints[1:].ctypes, Kf.ctypes, ints[3:].ctypes, S.ctypes,
          Uf.ctypes, ints[6:].ctypes, VTf.ctypes, ints[7:].ctypes, work.ctypes, ints[4:].ctypes,
          iwork.ctypes, ints[5:].ctypes)
    if ints[5] != 0:
        return DECLINE_LAPACK, smin
    # V_new = V (G_1 - W G_2) + Q G_2 with G = VT[:kk]^T: G_1 = VT[:kk, :r]^T, G_2 = VT[:kk, r:]^T
    G1 = np.empty((r, kk))
    G2 = np.empty((p, kk))
    for c in range(kk):
        for i in range(r):
            G1[i, c] = VTf[i, c]
        for i in range(p):
            G2[i, c] = VTf[r + i, c]
    if correct:
        G1 -= np.dot(Wm, G2)
    if implicit:                           # Q G_2 = Y (T^-1 G_2)
        B = np.dot(Tinv.T, G2)
        Q_rows = Yt
    else:                                  # Q from orgqr: qr holds Q^T in C order
        B = G2
        Q_rows = qr
    V_new[:, :] = np.dot(V, G1) + np.dot(Q_rows.T, B)
    for c in range(kk):
        theta[c] = S[c]
        for i in range(N):
            F[i, c] = Uf[c, i]
    return 0, smin
