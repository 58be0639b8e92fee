"""Numba kernels for digital nets in base 2 (imported lazily by ``_digital``)."""

from numba import njit


@njit(cache=True)
def _trailing_zeros(i):
    c = 0
    while (i & 1) == 0:
        i >>= 1
        c += 1
    return c


@njit(cache=True)
def walk_points(steps, x0, start, out, shift, scale):
    """Fill ``out`` (n, d) with successive points by one XOR per coordinate.

    ``steps[j, c]`` is what the t-bit integer of coordinate j changes by when the
    index goes from ``i`` to ``i + 1`` with ``c = ctz(i + 1)``: column ``c`` of the
    generating matrix in Gray order, the XOR of columns ``0..c`` in natural order.
    ``x0`` holds the integers of point ``start``.  Floats are ``(x >> shift) * scale``.
    """
    n, d = out.shape
    x = x0.copy()
    for i in range(n):
        if i > 0:
            c = _trailing_zeros(start + i)
            for j in range(d):
                x[j] ^= steps[j, c]
        for j in range(d):
            out[i, j] = (x[j] >> shift) * scale


@njit(cache=True)
def walk_binary(steps, x0, start, out):
    """As :func:`walk_points`, writing the t-bit integers themselves (uint64)."""
    n, d = out.shape
    x = x0.copy()
    for i in range(n):
        if i > 0:
            c = _trailing_zeros(start + i)
            for j in range(d):
                x[j] ^= steps[j, c]
        for j in range(d):
            out[i, j] = x[j]
