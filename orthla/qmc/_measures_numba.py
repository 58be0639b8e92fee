"""Numba kernels for the normal maps of the measures (imported lazily by ``_measures``):
Wichura's AS241 inverse normal CDF, fused with the diagonal affine map."""

import math

from numba import njit

from ._measures import _A, _B, _C, _D, _E, _F

A0, A1, A2, A3, A4, A5, A6, A7 = _A
B1, B2, B3, B4, B5, B6, B7 = _B[1:]
C0, C1, C2, C3, C4, C5, C6, C7 = _C
D1, D2, D3, D4, D5, D6, D7 = _D[1:]
E0, E1, E2, E3, E4, E5, E6, E7 = _E
F1, F2, F3, F4, F5, F6, F7 = _F[1:]


@njit(cache=True, inline="always")
def _as241(p):
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((A7 * r + A6) * r + A5) * r + A4) * r + A3) * r + A2) * r + A1) * r + A0)
        den = (((((((B7 * r + B6) * r + B5) * r + B4) * r + B3) * r + B2) * r + B1) * r + 1.0)
        return q * num / den
    t = p if q < 0 else 1.0 - p
    if t <= 0.0:
        return -math.inf if q < 0 else math.inf
    s = math.sqrt(-math.log(t))
    if s <= 5.0:
        s -= 1.6
        v = ((((((((C7 * s + C6) * s + C5) * s + C4) * s + C3) * s + C2) * s + C1) * s + C0)
             / (((((((D7 * s + D6) * s + D5) * s + D4) * s + D3) * s + D2) * s + D1) * s + 1.0))
    else:
        s -= 5.0
        v = ((((((((E7 * s + E6) * s + E5) * s + E4) * s + E3) * s + E2) * s + E1) * s + E0)
             / (((((((F7 * s + F6) * s + F5) * s + F4) * s + F3) * s + F2) * s + F1) * s + 1.0))
    return -v if q < 0 else v


@njit(cache=True)
def ndtri_2d(p, out):
    """``out[i, j] = Phi^{-1}(p[i, j])`` for C-contiguous (n, d) float64 arrays."""
    n, d = p.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = _as241(p[i, j])


@njit(cache=True)
def diagonal_normal(u, lo, hi, mean, scale, out):
    """``out[i, j] = mean[j] + scale[j] Phi^{-1}(clip(u[i, j], lo, hi))``."""
    n, d = u.shape
    for i in range(n):
        for j in range(d):
            v = min(max(u[i, j], lo), hi)
            out[i, j] = mean[j] + scale[j] * _as241(v)
