"""Numba kernel for the wavenumber map of the guaranteed cubatures (imported lazily by
``_integrate``): in-place swaps instead of gathers and stacks."""

from numba import njit


@njit(cache=True)
def update_kappa(kappa, mag, mfrom, mto):
    """For each row and level l = mfrom .. mto + 1: where |y~[kappa[nl + j]]| > |y~[kappa[j]]|
    (0 < j < nl, first block), swap kappa[a + j] and kappa[a + nl + j] in every block a."""
    p, n = kappa.shape
    for row in range(p):
        for level in range(mfrom, mto, -1):
            nl = 1 << level
            for j in range(1, nl):
                if mag[row, kappa[row, nl + j]] > mag[row, kappa[row, j]]:
                    for a in range(0, n, 2 * nl):
                        t = kappa[row, a + j]
                        kappa[row, a + j] = kappa[row, a + nl + j]
                        kappa[row, a + nl + j] = t


@njit(cache=True)
def baker_clip(u, lo, hi, out):
    """``out = clip(1 - |2 u - 1|, lo, hi)`` in one pass (the baker's map, then the open cube)."""
    n, d = u.shape
    for i in range(n):
        for j in range(d):
            v = 1.0 - abs(2.0 * u[i, j] - 1.0)
            out[i, j] = min(max(v, lo), hi)
