"""Numba kernel for (scrambled) Halton points (imported lazily by ``_halton``)."""

import numpy as np
from numba import njit

from ._digital_numba import _mix64


@njit(cache=True, inline="always")
def _divmod(q, b, inv_b):
    # q // b through a float reciprocal (q < 2^53), corrected by at most one: far cheaper
    # than an integer division by a run-time divisor.
    t = np.int64(q * inv_b)
    r = q - t * b
    if r < 0:
        t -= 1
        r += b
    elif r >= b:
        t += 1
        r -= b
    return t, r


@njit(cache=True, nogil=True)
def halton_points(bases, ndigits, perm_off, perm, permute, lms_off, lms, use_lms, scrambled, start, out):
    """Fill ``out`` (d, n), one contiguous row per dimension, with radical inverses of ``start + i`` in ``bases[j]``.

    Unscrambled: SciPy's loop, digit by digit while the quotient is positive,
    with the weight ``1/b`` divided by ``b`` after each digit (so the floats
    agree bit for bit).  Scrambled: the ``ndigits[j]`` digits ``a`` of the index
    are mapped to ``s = L a mod b`` (``L`` unit lower triangular, the identity
    without LMS) and then by one permutation per digit position (the identity
    without ``permute``: no table is read).  Tables are flattened per dimension at
    the given offsets; ``perm``/``lms`` may be empty when unused.  ``s`` is updated as the index
    counts up: a carry through digits ``0..c`` adds columns ``0..c`` of ``L``
    (a wrap from ``b - 1`` to 0 is ``+1 mod b``), amortized ``O(K)`` additions
    per point and no divisions.  Points go in runs along which only digit 0 changes,
    digit position by digit position, so the inner loops carry no carry logic.
    """
    d, n = out.shape
    below_one = 1.0 - 2.0**-53
    kmax = ndigits.max() if d else 0
    a = np.zeros(kmax, dtype=np.int64)
    s = np.zeros(kmax, dtype=np.int64)
    w = np.zeros(kmax)
    B = 256
    xs = np.empty(B)
    for j in range(d):
        b = bases[j]
        inv_b = 1.0 / b
        K = ndigits[j]
        if not scrambled:
            for i in range(n):
                q = start + i
                wk = 1.0 / b
                x = 0.0
                while q > 0:
                    q, r = _divmod(q, b, inv_b)
                    x += r * wk
                    wk /= b
                out[j, i] = x
            continue
        if use_lms:
            L = lms[lms_off[j] : lms_off[j] + K * K].reshape((K, K))
        else:
            L = np.eye(K, dtype=np.int64)
        Lt = np.ascontiguousarray(L.T)  # column c of L contiguous for the carry updates
        wk = 1.0 / b
        q = start
        for k in range(K):
            w[k] = wk
            wk /= b
            q, a[k] = _divmod(q, b, inv_b)
        # digit value times weight, rounded once exactly as in SciPy's `x += perm * w`; read
        # from the table in place (a K x b table of products would cost more than n points)
        P = perm[perm_off[j] : perm_off[j] + (K * b if permute else 0)]
        for r in range(K):
            acc = 0
            for k in range(r + 1):
                acc += L[r, k] * a[k]
            s[r] = acc % b
        # Runs of points sharing every digit but the first: along a run, digit 0 counts up, so
        # s moves by column 0 of L per point; digit position by digit position over the run
        # (the same products added in the same order as point by point, so bit for bit equal).
        col0 = Lt[0]
        i = 0
        while i < n:
            m = min(b - a[0], n - i, B)
            for t in range(m):
                xs[t] = 0.0
            for r in range(K):
                v, inc, wr = s[r], col0[r], w[r]
                if permute:
                    Pr = P[r * b : (r + 1) * b]
                    for t in range(m):
                        xs[t] += Pr[v] * wr
                        v += inc
                        v = v - b if v >= b else v
                else:
                    for t in range(m):
                        xs[t] += v * wr
                        v += inc
                        v = v - b if v >= b else v
                s[r] = v
            for t in range(m):
                # a sum of K scrambled digits may round up to 1.0; keep [0, 1)
                out[j, i + t] = xs[t] if xs[t] < 1.0 else below_one
            i += m
            a[0] += m
            if a[0] == b:  # digit 0 wrapped (s already holds its +1): carry into digits 1, 2, ...
                a[0] = 0
                c = 1
                while c < K:
                    col = Lt[c]
                    for r in range(c, K):
                        v = s[r] + col[r]
                        s[r] = v - b if v >= b else v
                    a[c] += 1
                    if a[c] < b:
                        break
                    a[c] = 0
                    c += 1


@njit(cache=True, nogil=True)
def halton_nus_points(bases, ndigits, levels, tab_off, tables, keys, start, out):
    """Fill ``out`` (d, n) with Owen-scrambled (NUS) radical inverses of ``start + i``.

    Same definition and operation order as ``_halton_nus.nus_points_xp``: level
    ``k < levels[j]`` reads the permutation of node ``p = i mod b^k`` from the flat
    table of dimension ``j`` (starting at ``tab_off[j]``); deeper levels apply the
    affine permutation ``(u a + v) mod b`` hashed from ``keys[j, k] ^ p``; the tail
    beyond the ``K`` digits is ``U b^-K`` with ``U`` hashed from ``keys[j, K] ^ p_K``.
    Points go in blocks, level by level, so the hash loops have no branches and
    vectorize (about 3x faster than point by point).
    """
    d, n = out.shape
    below_one = 1.0 - 2.0**-53
    mask32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    kmax = ndigits.max() if d else 0
    w = np.zeros(kmax)
    B = 256
    q = np.empty(B, dtype=np.int64)  # index still to be split into digits
    p = np.empty(B, dtype=np.int64)  # prefix i mod b^k
    a = np.empty(B, dtype=np.int64)  # digit k
    x = np.empty(B)
    for j in range(d):
        b = bases[j]
        ub, ub1 = np.uint64(b), np.uint64(b - 1)
        inv_b = 1.0 / b
        K = ndigits[j]
        L = levels[j]
        wk = 1.0 / b
        for k in range(K):
            w[k] = wk
            wk /= b
        for i0 in range(0, n, B):
            m = min(B, n - i0)
            for t in range(m):
                q[t] = start + i0 + t
                p[t] = 0
                x[t] = 0.0
            b_pow = 1
            off = tab_off[j]
            for k in range(K):
                for t in range(m):
                    q[t], a[t] = _divmod(q[t], b, inv_b)
                if k < L:
                    for t in range(m):
                        x[t] += tables[off + p[t] * b + a[t]] * w[k]
                    off += b_pow * b
                else:
                    key, wk = keys[j, k], w[k]
                    for t in range(m):
                        h = _mix64(key ^ np.uint64(p[t]))
                        # Lemire's multiply-shift: 32 random bits to 0..b-1 and 1..b-1
                        v = np.int64(((h & mask32) * ub) >> s32)
                        u = np.int64(((h >> s32) * ub1) >> s32) + 1
                        y = u * a[t] + v  # < b^2: reduce mod b by a float reciprocal, without branches
                        y -= np.int64(y * inv_b) * b
                        y = y + b if y < 0 else y
                        y = y - b if y >= b else y
                        x[t] += y * wk
                for t in range(m):
                    p[t] += a[t] * b_pow
                b_pow *= b
            key, w_last = keys[j, K], w[K - 1]
            for t in range(m):
                h = _mix64(key ^ np.uint64(p[t]))
                xt = x[t] + np.float64(h >> np.uint64(11)) * 2.0**-53 * w_last
                # a sum of scrambled digits may round up to 1.0; keep [0, 1)
                out[j, i0 + t] = xt if xt < 1.0 else below_one


@njit(cache=True, nogil=True)
def halton_dp_points(bases, ndigits, perm_off, perm, start, out):
    """As :func:`halton_points` with digit permutations only (no LMS), in blocks of points.

    Digit ``r`` of every point of a block is split off in one loop, then
    ``x += P[r, a_r] b^-(r+1)`` is added in the same order as the point-by-point
    kernel, so the floats agree bit for bit; the branch-free loops vectorize
    (2-3x faster than the digit-counter walk, which pays off with LMS).
    """
    d, n = out.shape
    below_one = 1.0 - 2.0**-53
    kmax = ndigits.max() if d else 0
    B = 256
    q = np.empty(B, dtype=np.int64)
    a = np.empty(B, dtype=np.int64)
    x = np.empty(B)
    w = np.empty(kmax)
    # one scratch table for the largest K b tabulated
    size = 0
    for j in range(d):
        if n >= bases[j]:
            size = max(size, ndigits[j] * bases[j])
    PW = np.empty(size)
    for j in range(d):
        b = bases[j]
        inv_b = 1.0 / b
        K = ndigits[j]
        P = perm[perm_off[j] : perm_off[j] + K * b].reshape((K, b))
        wk = 1.0 / b
        for r in range(K):
            w[r] = wk
            wk /= b
        # digit value times weight, rounded once as in SciPy's `x += perm * w`: tabulated when
        # the points outnumber the digits (K b products), multiplied in place otherwise
        tabulate = n >= b
        if tabulate:
            for r in range(K):
                for v in range(b):
                    PW[r * b + v] = P[r, v] * w[r]
        for i0 in range(0, n, B):
            m = min(B, n - i0)
            for t in range(m):
                q[t] = start + i0 + t
                x[t] = 0.0
            for r in range(K):
                for t in range(m):
                    q[t], a[t] = _divmod(q[t], b, inv_b)
                if tabulate:
                    PWr = PW[r * b : (r + 1) * b]
                    for t in range(m):
                        x[t] += PWr[a[t]]
                else:
                    wr = w[r]
                    for t in range(m):
                        x[t] += P[r, a[t]] * wr
            for t in range(m):
                # a sum of K scrambled digits may round up to 1.0; keep [0, 1)
                out[j, i0 + t] = x[t] if x[t] < 1.0 else below_one
