"""Numba kernels for digital nets in base 2 (imported lazily by ``_digital``)."""

import numpy as np
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


@njit(cache=True, inline="always")
def _mix64(z):
    # splitmix64 finalizer: a bijective avalanche on 64 bits (wrapping arithmetic)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def owen_scramble(x, depth_keys, t):
    """Nested uniform (Owen) scrambling of t-bit integers ``x`` (n, d), in place.

    Digit ``r`` (from the most significant) of coordinate ``j`` is flipped by the top
    bit of ``mix(depth_keys[j, r] ^ prefix_r)``, ``prefix_r`` the original leading
    ``r`` digits: a random binary tree of flips, defined lazily by a hash.
    """
    n, d = x.shape
    for j in range(d):
        for i in range(n):
            v = x[i, j]
            out = v
            for r in range(t):
                prefix = v >> np.uint64(t - r) if r > 0 else np.uint64(0)
                h = _mix64(depth_keys[j, r] ^ prefix)
                out ^= (h >> np.uint64(63)) << np.uint64(t - 1 - r)
            x[i, j] = out


@njit(cache=True)
def lms_columns(cols, lcols, t, out):
    """Linear matrix scrambling: ``out[r, j, c]`` is the XOR of ``lcols[r, j, b]`` over the set
    digits ``b`` (from the most significant of t) of ``cols[j, c]``; branch-free (the digits are
    random-looking, a branch would mispredict)."""
    reps, d, m = out.shape
    one = np.uint64(1)
    for r in range(reps):
        for j in range(d):
            for c in range(m):
                x = cols[j, c]
                acc = np.uint64(0)
                for b in range(t):
                    bit = (x >> np.uint64(t - 1 - b)) & one
                    acc ^= lcols[r, j, b] & (np.uint64(0) - bit)
                out[r, j, c] = acc
