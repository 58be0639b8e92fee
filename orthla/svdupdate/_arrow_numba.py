"""Numba kernel for the core SVD of a one-row (one-column) update (imported lazily).

The core of a single row appended to ``U diag(s) V^T`` is ``K = [[diag(s), 0], [c^T, rho]]``.
With its last row and column moved first it is the upper arrowhead ``M = [z; 0 D]`` with
``z = (rho, c)`` and ``D = diag(0, s)``, whose SVD LAPACK's divide and conquer computes in its
merge step (``?lasd2``/``?lasd3``): the singular values are the roots of the secular equation
``1 + sum_j z_j^2 / (d_j^2 - sigma^2) = 0`` (``dlasd4``, to high relative accuracy), and the
vectors follow in closed form from a ``z`` recomputed from those roots (Gu and Eisenstat), so
they are orthogonal to working precision.  ``O(r^2)`` work against ``gesdd``'s ``O(r^3)``.

The deflation of ``?lasd2`` (a negligible ``z_j``, two nearly equal ``d_j``) is not done here:
such a core is reported back and factored by ``gesdd``.
"""

import math

import numpy as np
from numba import njit

from ._lapack_numba import DOUBLE, INT, lapack_function

#: LAPACK's ``dlasd4``: (n, i, d, z, delta, rho, sigma, work, info).
DLASD4 = lapack_function("dlasd4", INT, INT, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, INT)

#: Deflation threshold, in units of eps times the core's largest entry: a ``|z_j|`` or a gap
#: ``d_{j+1} - d_j`` below it sends the core to ``gesdd`` (``?lasd2`` deflates below 64 eps).
DEFLATION_TOL = 512.0


@njit(cache=True)
def arrow_core_svd(lasd4, s, c, rho, kk, F, theta, Gt):
    """Top ``kk`` singular triplets of ``K = [[diag(s), 0], [c^T, rho]]`` into ``F`` ((r + 1) x kk),
    ``theta`` (kk, non-increasing) and ``Gt`` (kk x (r + 1)), ``K ~ F diag(theta) Gt``.

    ``s`` positive and non-increasing, ``rho > 0``.  Returns 0, or 1 when the core needs
    deflation (nothing usable written), or ``2 + info`` when ``dlasd4`` failed.
    """
    r = s.shape[0]
    n = r + 1
    # M's order: index 0 is the new row/column (d = 0, z = rho), index j >= 1 is s[r - j]
    # (d ascending, as dlasd4 requires); scaled so that its largest entry is about 1.
    scale = max(s[0], rho)  # the largest entry (the sums below are of scaled values)
    for j in range(r):
        scale = max(scale, abs(c[j]))
    d = np.empty(n)
    z = np.empty(n)
    d[0] = 0.0
    z[0] = rho / scale
    zz = z[0] * z[0]
    for j in range(1, n):
        d[j] = s[r - j] / scale
        z[j] = c[r - j] / scale
        zz += z[j] * z[j]
    znorm = math.sqrt(zz)
    tol = DEFLATION_TOL * np.finfo(np.float64).eps
    for j in range(n):
        if abs(z[j]) <= tol:
            return 1
    for j in range(1, n):
        if d[j] - d[j - 1] <= tol:
            return 1
    zhat = np.empty(n)  # z / ||z||: dlasd4 takes rho ||z||^2 and a unit z
    for j in range(n):
        zhat[j] = z[j] / znorm
    # All n roots: the recomputed z needs every one (dlasd4 numbers them from 1, ascending).
    delta = np.empty((n, n))  # delta[i, j] = d_j - sigma_i
    plus = np.empty((n, n))   # plus[i, j] = d_j + sigma_i
    sigma = np.empty(n)
    ints = np.empty(3, dtype=np.int32)  # n, i, info
    arg = np.empty(2)                   # rho, sigma
    ints[0] = n
    arg[0] = znorm * znorm
    for i in range(n):
        ints[1] = i + 1
        lasd4(ints[0:].ctypes, ints[1:].ctypes, d.ctypes, zhat.ctypes, delta[i].ctypes, arg[0:].ctypes,
              arg[1:].ctypes, plus[i].ctypes, ints[2:].ctypes)
        if ints[2] != 0:
            return 2 + ints[2]
        sigma[i] = arg[1]
    # Gu-Eisenstat: the z for which these roots are exact (Loewner), signs of the given z.
    zg = np.empty(n)
    for j in range(n):
        t = delta[n - 1, j] * plus[n - 1, j]
        for i in range(j):
            t *= delta[i, j] * plus[i, j] / ((d[j] - d[i]) * (d[j] + d[i]))
        for i in range(j, n - 1):
            t *= delta[i, j] * plus[i, j] / ((d[j] - d[i + 1]) * (d[j] + d[i + 1]))
        if not t < 0.0:  # every factor but the first is positive when the roots interlace
            return 1
        zg[j] = math.copysign(math.sqrt(-t), z[j])
    # Vectors of M for the kk largest roots: v_j = zg_j / (d_j^2 - sigma^2), u = (-1, d_j v_j);
    # back in K's order (M index 0 is K's last, M index j >= 1 is K's r - j).
    for col in range(kk):
        i = n - 1 - col
        vv = 0.0
        uu = 1.0
        for j in range(n):
            v = zg[j] / (delta[i, j] * plus[i, j])
            vv += v * v
            uu += (d[j] * v) ** 2
        vs = 1.0 / math.sqrt(vv)
        us = 1.0 / math.sqrt(uu)
        v0 = zg[0] / (delta[i, 0] * plus[i, 0])
        Gt[col, r] = v0 * vs
        F[r, col] = -us
        for j in range(1, n):
            v = zg[j] / (delta[i, j] * plus[i, j])
            Gt[col, r - j] = v * vs
            F[r - j, col] = d[j] * v * us
        theta[col] = sigma[i] * scale
    return 0
