"""Numba kernel for rank-1 lattice points (imported lazily by ``_lattice``)."""

from numba import njit


@njit(cache=True)
def lattice_points(g, shift, start, bits, reverse, gray, out):
    """Fill ``out`` (n, d) with ``frac(k_i g / 2^bits + shift)``.

    ``k_i`` is ``start + i``, Gray-coded if ``gray``, bit-reversed over ``bits``
    bits if ``reverse`` (natural order).  ``g`` (int64, reduced mod 2^bits) and
    ``k_i`` are below 2^31, so ``k_i g`` is exact in int64.
    """
    n, d = out.shape
    mask = (1 << bits) - 1
    scale = 1.0 / (1 << bits)
    for i in range(n):
        k = start + i
        if gray:
            k = k ^ (k >> 1)
        if reverse:
            r = 0
            for _ in range(bits):
                r = (r << 1) | (k & 1)
                k >>= 1
            k = r
        for j in range(d):
            y = ((k * g[j]) & mask) * scale + shift[j]
            out[i, j] = y - 1.0 if y >= 1.0 else y
