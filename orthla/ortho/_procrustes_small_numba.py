"""Numba kernel: the signed SVD of many tiny matrices (see ``_procrustes_small``), one matrix
at a time in registers-sized scratch, each stopping as soon as its own Jacobi sweep is clean."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["signed_svd_batch"]


@njit(cache=True)
def _signed_svd(b, w, qt, norms, tol, max_sweeps):  # pragma: no cover  (compiled)
    """In place: ``b`` (n, n) holds M on entry and T on exit (diagonal = signed singular
    values), ``w`` = V, ``qt`` = U^T, both rotations.  Returns False if Jacobi did not converge."""
    n = b.shape[0]
    # Scale M by a power of two (exact; undone on T at the end): squares of tiny entries would
    # underflow (then r = 0 below: a division by zero) and of huge ones overflow.
    amax = 0.0
    for i in range(n):
        for j in range(n):
            amax = max(amax, abs(b[i, j]))
    e = math.frexp(amax)[1] if amax > 0.0 else 0
    fro2 = 0.0
    for i in range(n):
        for j in range(n):
            w[i, j] = 1.0 if i == j else 0.0
            qt[i, j] = 1.0 if i == j else 0.0
            b[i, j] = math.ldexp(b[i, j], -e)
            fro2 += b[i, j] * b[i, j]
    noise = tol * tol * fro2
    converged = n < 2
    for _sweep in range(max_sweeps):
        if converged:
            break
        done = True
        for p in range(n - 1):
            for q in range(p + 1, n):
                alpha = 0.0
                beta = 0.0
                gamma = 0.0
                for i in range(n):
                    alpha += b[i, p] * b[i, p]
                    beta += b[i, q] * b[i, q]
                    gamma += b[i, p] * b[i, q]
                if abs(gamma) <= tol * math.sqrt(alpha * beta) or min(alpha, beta) <= noise:
                    continue
                done = False
                d = alpha - beta
                g = -2.0 * gamma if d >= 0 else 2.0 * gamma
                r = math.sqrt(d * d + g * g)
                if r == 0.0:  # pragma: no cover  (impossible after the scaling; never divide)
                    continue
                c = math.sqrt(0.5 * (1.0 + abs(d) / r))
                sn = g / (2.0 * r * c)
                for i in range(n):
                    x, y = b[i, p], b[i, q]
                    b[i, p] = c * x - sn * y
                    b[i, q] = sn * x + c * y
                    x, y = w[i, p], w[i, q]
                    w[i, p] = c * x - sn * y
                    w[i, q] = sn * x + c * y
        converged = done
    if not converged:
        return False
    # Sort columns by decreasing norm with signed swaps (det V stays +1).
    for j in range(n):
        acc = 0.0
        for i in range(n):
            acc += b[i, j] * b[i, j]
        norms[j] = acc
    for last in range(n - 1, 0, -1):
        for p in range(last):
            q = p + 1
            if norms[p] < norms[q]:
                norms[p], norms[q] = norms[q], norms[p]
                for i in range(n):
                    x, y = b[i, p], b[i, q]
                    b[i, p], b[i, q] = y, -x
                    x, y = w[i, p], w[i, q]
                    w[i, p], w[i, q] = y, -x
    # Givens QR of B by rows; qt accumulates the rotations (U = qt^T).
    for j in range(n - 1):
        for i in range(j + 1, n):
            x, y = b[j, j], b[i, j]
            r = math.sqrt(x * x + y * y)
            if r == 0.0:
                continue
            c, sn = x / r, y / r
            for col in range(n):
                x, y = b[j, col], b[i, col]
                b[j, col] = c * x + sn * y
                b[i, col] = c * y - sn * x
                x, y = qt[j, col], qt[i, col]
                qt[j, col] = c * x + sn * y
                qt[i, col] = c * y - sn * x
    for i in range(n):
        for j in range(n):
            b[i, j] = math.ldexp(b[i, j], e)
    return True


@njit(cache=True)
def signed_svd_batch(m, tol, max_sweeps):  # pragma: no cover  (compiled)
    """``m`` (N, n, n) float64 -> ``(u, s, v, ok)``; ``ok`` False where Jacobi did not converge
    within ``max_sweeps`` (the caller falls back for the whole batch)."""
    nb, n = m.shape[0], m.shape[1]
    u = np.empty((nb, n, n))
    s = np.empty((nb, n))
    v = np.empty((nb, n, n))
    ok = np.ones(nb, dtype=np.bool_)
    b = np.empty((n, n))
    w = np.empty((n, n))
    qt = np.empty((n, n))
    norms = np.empty(n)
    for k in range(nb):
        for i in range(n):
            for j in range(n):
                b[i, j] = m[k, i, j]
        if not _signed_svd(b, w, qt, norms, tol, max_sweeps):
            ok[k] = False
            continue
        for i in range(n):
            s[k, i] = b[i, i]
            for j in range(n):
                u[k, i, j] = qt[j, i]
                v[k, i, j] = w[i, j]
    return u, s, v, ok


@njit(cache=True)
def _exponent(x):  # pragma: no cover  (compiled)
    """e with 2**e <= max|x| < 2**(e+1) (0 for zero); NaN/inf give a huge sentinel."""
    amax = 0.0
    for v in x.flat:
        if not math.isfinite(v):
            return 1 << 20
        amax = max(amax, abs(v))
    if amax == 0.0:
        return 0
    return math.frexp(amax)[1] - 1


@njit(cache=True)
def procrustes_batch(a, b, rotation, scale, center, tol, max_sweeps):  # pragma: no cover
    """Whole Procrustes problems, one at a time: ``a``, ``b`` (N, m, n) float64.

    Returns ``(R, c, t, res, status)`` with status 0 (ok), 1 (non-finite input), 2 (Jacobi did
    not converge), 3 (the scale, translation or residual overflows float64).  Each problem is scaled by powers of two on entry (exact), as in the array-API
    path, so extreme magnitudes behave like moderate ones.
    """
    nb, m, n = a.shape
    R = np.empty((nb, n, n))
    cs = np.empty(nb)
    ts = np.zeros((nb, n))
    res = np.empty(nb)
    status = 0
    ak = np.empty((m, n))
    bk = np.empty((m, n))
    mm = np.empty((n, n))
    w = np.empty((n, n))
    qt = np.empty((n, n))
    norms = np.empty(n)
    mu_a = np.zeros(n)
    mu_b = np.zeros(n)
    dv = np.ones(n)
    for k in range(nb):
        ea = _exponent(a[k])
        eb = _exponent(b[k])
        if ea == (1 << 20) or eb == (1 << 20):
            return R, cs, ts, res, 1
        for i in range(m):
            for j in range(n):
                ak[i, j] = math.ldexp(a[k, i, j], -ea)
                bk[i, j] = math.ldexp(b[k, i, j], -eb)
        if center:
            for j in range(n):
                sa = 0.0
                sb = 0.0
                for i in range(m):
                    sa += ak[i, j]
                    sb += bk[i, j]
                mu_a[j] = sa / m
                mu_b[j] = sb / m
            for i in range(m):
                for j in range(n):
                    ak[i, j] -= mu_a[j]
                    bk[i, j] -= mu_b[j]
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for p in range(m):
                    acc += ak[p, i] * bk[p, j]
                mm[i, j] = acc
        if not _signed_svd(mm, w, qt, norms, tol, max_sweeps):
            return R, cs, ts, res, 2
        last = mm[n - 1, n - 1]
        dv[n - 1] = 1.0 if (rotation or last >= 0.0) else -1.0
        tr = 0.0
        for j in range(n):
            tr += mm[j, j] * dv[j]
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for p in range(n):
                    acc += qt[p, i] * dv[p] * w[j, p]
                R[k, i, j] = acc
        na2 = 0.0
        for i in range(m):
            for j in range(n):
                na2 += ak[i, j] * ak[i, j]
        if scale:
            cp = tr / na2 if na2 > 0.0 else 0.0
            cp = max(cp, 0.0)
            cs[k] = math.ldexp(cp, eb - ea)
            alpha, beta, e_res = cp, 1.0, eb
            ca = cp
        else:
            cs[k] = 1.0
            e_res = max(ea, eb)
            alpha, beta = math.ldexp(1.0, ea - e_res), math.ldexp(1.0, eb - e_res)
            ca = 1.0
        r2 = 0.0
        for i in range(m):
            for j in range(n):
                acc = 0.0
                for p in range(n):
                    acc += ak[i, p] * R[k, p, j]
                diff = alpha * acc - beta * bk[i, j]
                r2 += diff * diff
        res[k] = math.ldexp(math.sqrt(r2), e_res)
        if center:
            for j in range(n):
                acc = 0.0
                for p in range(n):
                    acc += mu_a[p] * R[k, p, j]
                if scale:
                    ts[k, j] = math.ldexp(mu_b[j] - ca * acc, eb)
                else:  # no factor 2**(ea - eb): it overflows for a finite translation
                    ts[k, j] = math.ldexp(mu_b[j], eb) - math.ldexp(acc, ea)
                if not math.isfinite(ts[k, j]):
                    return R, cs, ts, res, 3
        if not (math.isfinite(cs[k]) and math.isfinite(res[k])):
            return R, cs, ts, res, 3
    return R, cs, ts, res, status
