"""Numba kernels for the guaranteed cubatures (imported lazily by ``_integrate``): the doubling
of the coefficients and the wavenumber map, in place and in one pass."""

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _swap_blocks(kr, flip, count, nl):
    """Swap kr[a + j] and kr[a + nl + j] for the listed j in every block a, block by block."""
    for a in range(0, kr.shape[0], 2 * nl):
        for c in range(count):
            i = a + flip[c]
            t = kr[i]
            kr[i] = kr[i + nl]
            kr[i + nl] = t


@njit(cache=True, inline="always")
def _levels(kr, mr, flip, mfrom, mto):
    for level in range(mfrom, mto, -1):
        nl = 1 << level
        count = 0
        for j in range(1, nl):
            flip[count] = j
            count += mr[kr[nl + j]] > mr[kr[j]]
        if count:
            _swap_blocks(kr, flip, count, nl)


@njit(cache=True)
def update_kappa(kappa, mag, mfrom, mto):
    """For each row and level l = mfrom .. mto + 1: where |y~[kappa[nl + j]]| > |y~[kappa[j]]|
    (0 < j < nl, first block), swap kappa[a + j] and kappa[a + nl + j] in every block a.

    The comparisons (random gathers from ``mag``) are made first and the flipped ``j`` listed
    without branches; the swaps then run block by block, so the writes are sequential.
    """
    p = kappa.shape[0]
    if mfrom <= mto:
        return
    flip = np.empty(1 << mfrom, dtype=np.int64)
    for row in range(p):
        _levels(kappa[row], mag[row], flip, mfrom, mto)


@njit(cache=True)
def update_kappa_doubled(kappa, mag, top, mfrom, mto):
    """:func:`update_kappa` right after a doubling, ``kappa = [k, k + h]`` with ``h = 2^mfrom``:
    the first level's comparisons ``|y~[k[j] + h]| > |y~[k[j]]|`` are read from
    ``top[a] = |y~[a + h]| > |y~[a]|`` (made in natural order, one byte per entry) instead of
    two random gathers from ``mag``."""
    p = kappa.shape[0]
    if mfrom <= mto:
        return
    nl = 1 << mfrom
    flip = np.empty(nl, dtype=np.int64)
    for row in range(p):
        kr = kappa[row]
        tr = top[row]
        count = 0
        for j in range(1, nl):
            flip[count] = j
            count += tr[kr[j]]
        if count:
            _swap_blocks(kr, flip, count, nl)
        _levels(kr, mag[row], flip, mfrom - 1, mto)


@njit(cache=True)
def double_coefficients(yt, ytn, w, twiddle, kappa, out, kappa_out):
    """One doubling of the guaranteed cubatures: with ``b = ytn w`` (``w`` only when
    ``twiddle``), ``out = [(yt + b) / 2, (yt - b) / 2]`` and ``kappa_out = [kappa, kappa + n]``;
    rows of (p, n) inputs, (p, 2n) outputs.  (The magnitudes are left to NumPy, whose SIMD
    ``abs`` of complex numbers is ten times faster than a scalar ``hypot`` here.)"""
    p, n = yt.shape
    for r in range(p):
        for k in range(n):
            b = ytn[r, k] * w[k] if twiddle else ytn[r, k]
            a = yt[r, k]
            out[r, k] = (a + b) * 0.5  # halving is exact: the same values as (a + b) / 2
            out[r, n + k] = (a - b) * 0.5
            kappa_out[r, k] = kappa[r, k]
            kappa_out[r, n + k] = kappa[r, k] + n


@njit(cache=True)
def baker_clip(u, lo, hi, out):
    """``out = clip(1 - |2 u - 1|, lo, hi)`` in one pass (the baker's map, then the open cube)."""
    n, d = u.shape
    for i in range(n):
        for j in range(d):
            v = 1.0 - abs(2.0 * u[i, j] - 1.0)
            out[i, j] = min(max(v, lo), hi)
