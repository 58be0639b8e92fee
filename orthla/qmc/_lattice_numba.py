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
        if reverse:  # bits <= 31: reverse the low 32 bits in five swaps, keep the top `bits`
            r = k & 0xFFFFFFFF
            r = ((r >> 1) & 0x55555555) | ((r & 0x55555555) << 1)
            r = ((r >> 2) & 0x33333333) | ((r & 0x33333333) << 2)
            r = ((r >> 4) & 0x0F0F0F0F) | ((r & 0x0F0F0F0F) << 4)
            r = ((r >> 8) & 0x00FF00FF) | ((r & 0x00FF00FF) << 8)
            r = ((r >> 16) & 0x0000FFFF) | ((r & 0x0000FFFF) << 16)
            k = r >> (32 - bits)
        for j in range(d):
            y = ((k * g[j]) & mask) * scale + shift[j]
            out[i, j] = y - 1.0 if y >= 1.0 else y
