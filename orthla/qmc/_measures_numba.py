"""Numba kernels for the normal maps of the measures (imported lazily by ``_measures``):
Wichura's AS241 inverse normal CDF, fused with the open-cube clip, the baker's map and the
diagonal affine map.  ``fastmath={"contract"}`` allows FMAs only (no reassociation, and NaN/inf
keep their IEEE meaning)."""

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from ._measures import _A, _B, _C, _D, _E, _F

A0, A1, A2, A3, A4, A5, A6, A7 = _A
B1, B2, B3, B4, B5, B6, B7 = _B[1:]
C0, C1, C2, C3, C4, C5, C6, C7 = _C
D1, D2, D3, D4, D5, D6, D7 = _D[1:]
E0, E1, E2, E3, E4, E5, E6, E7 = _E
F1, F2, F3, F4, F5, F6, F7 = _F[1:]


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _central(q):
    """AS241 on ``|q| <= 0.425`` (``q = p - 1/2``): branch-free, so loops over it vectorize."""
    r = 0.180625 - q * q
    num = (((((((A7 * r + A6) * r + A5) * r + A4) * r + A3) * r + A2) * r + A1) * r + A0)
    den = (((((((B7 * r + B6) * r + B5) * r + B4) * r + B3) * r + B2) * r + B1) * r + 1.0)
    return q * num / den


def _bitcast(name, src, dst, doc):
    """An intrinsic reinterpreting the bits of a ``src`` scalar as a ``dst`` scalar (a bit cast:
    vectorizes, unlike a buffer view)."""
    def cast(typingctx, x):
        if x != src:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(dst))

        return dst(src), codegen

    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = doc
    return intrinsic(cast)


_bits = _bitcast("_bits", types.float64, types.int64, "The IEEE bits of a float64 as an int64.")
_float = _bitcast("_float", types.int64, types.float64, "The float64 with the IEEE bits of an int64.")


# log(m) = 2 atanh(f), f = (m - 1) / (m + 1), m in [sqrt(1/2), sqrt(2)): the series
# 2 f (1 + f^2/3 + f^4/5 + ...) truncated after f^18/19 (next term < 2.4e-17 relative).
_ATANH = tuple(2.0 / (2 * k + 1) for k in range(1, 10))
G1, G2, G3, G4, G5, G6, G7, G8, G9 = _ATANH
#: ln 2 split so that ``e * LN2_HI`` is exact for |e| < 2^11 (42 significant bits).
LN2_HI = float.fromhex("0x1.62e42fefa3800p-1")
LN2_LO = 5.497923018708371e-14
_MANT = (1 << 52) - 1
_ONE = 1023 << 52
#: ``_float(_MAGIC | k) - 2^52 == k`` for 0 <= k < 2^52: int to float without a conversion
#: instruction (AVX2 has none for int64).
_MAGIC = 0x4330000000000000
_TWO52 = 4503599627370496.0


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _log(t):
    """Natural log of a positive normal float64, branch-free (vectorizes): exponent and mantissa
    from the bits, the atanh series of the mantissa.  Within one ulp for ``t <= 0.075`` (the
    tail pass's range); up to 2 ulps near 1, where ``(m - 1) / (m + 1)`` rounds a small result.
    (Subnormals and 0 give a finite value below -708, never more than log(2^-1022).)"""
    b = _bits(t)
    k = b >> 52  # biased exponent (t > 0: no sign bit)
    m = _float((b & _MANT) | _ONE)  # [1, 2)
    big = m > 1.4142135623730951
    m = 0.5 * m if big else m
    k = k + 1 if big else k
    e = (_float(_MAGIC | k) - _TWO52) - 1023.0
    f = (m - 1.0) / (m + 1.0)
    f2 = f * f
    poly = ((((((((G9 * f2 + G8) * f2 + G7) * f2 + G6) * f2 + G5) * f2 + G4) * f2 + G3) * f2 + G2) * f2
            + G1)
    return e * LN2_HI + (e * LN2_LO + (2.0 * f + f * (f2 * poly)))


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _tail_near(p):
    """AS241 on ``|p - 1/2| > 0.425`` for ``s = sqrt(-log(min(p, 1 - p))) <= 5``, branch-free;
    also returns ``s``.  Where ``s > 5`` (subnormal or zero ``t`` included: their ``s`` exceeds
    26) :func:`_tail_far` gives the value."""
    q = p - 0.5
    t = p if q < 0 else 1.0 - p
    s = math.sqrt(-_log(t))
    r = s - 1.6
    v = ((((((((C7 * r + C6) * r + C5) * r + C4) * r + C3) * r + C2) * r + C1) * r + C0)
         / (((((((D7 * r + D6) * r + D5) * r + D4) * r + D3) * r + D2) * r + D1) * r + 1.0))
    return (-v if q < 0 else v), s


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _tail_far(p):
    """AS241 where ``min(p, 1 - p) < exp(-25)`` (rare: libm's log, as the reference code)."""
    q = p - 0.5
    t = p if q < 0 else 1.0 - p
    if t <= 0.0:
        return -math.inf if q < 0 else math.inf
    s = math.sqrt(-math.log(t))
    if s <= 5.0:  # the fast log's s was just above 5; AS241 decides on this one
        r = s - 1.6
        v = ((((((((C7 * r + C6) * r + C5) * r + C4) * r + C3) * r + C2) * r + C1) * r + C0)
             / (((((((D7 * r + D6) * r + D5) * r + D4) * r + D3) * r + D2) * r + D1) * r + 1.0))
    else:
        s -= 5.0
        v = ((((((((E7 * s + E6) * s + E5) * s + E4) * s + E3) * s + E2) * s + E1) * s + E0)
             / (((((((F7 * s + F6) * s + F5) * s + F4) * s + F3) * s + F2) * s + F1) * s + 1.0))
    return -v if q < 0 else v


@njit(cache=True, inline="always")
def _open(v, baker, lo, hi):
    if baker:
        v = 1.0 - abs(2.0 * v - 1.0)
    return min(max(v, lo), hi)


#: Rows per block of the fused map: its tiled mean/scale and tail buffers stay in cache.
_ROWS = 128


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _central_body(a, o, flag, mt, st, lo, hi, m, baker, affine):
    for k in range(m):
        v = _open(a[k], baker, lo, hi)
        z = _central(v - 0.5)
        o[k] = mt[k] + st[k] * z if affine else z
        flag[k] = abs(v - 0.5) > 0.425


# The passes over a block are separate (not inlined) functions: LLVM vectorizes each loop on its
# own; inlined into one body it vectorized the central loop worse (1.6x slower here).  The flags
# are constants of each variant, so that the loops carry no branch on them.
@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _central_pass(a, o, flag, mt, st, lo, hi, m):
    """Clip, central AS241 and affine map of every element (SIMD); ``flag`` marks the tails."""
    _central_body(a, o, flag, mt, st, lo, hi, m, False, True)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _central_pass_baker(a, o, flag, mt, st, lo, hi, m):
    """:func:`_central_pass` after the baker's map."""
    _central_body(a, o, flag, mt, st, lo, hi, m, True, True)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _central_pass_std(a, o, flag, mt, st, lo, hi, m):
    """:func:`_central_pass` without the affine map (mean 0, scale 1)."""
    _central_body(a, o, flag, mt, st, lo, hi, m, False, False)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _central_pass_std_baker(a, o, flag, mt, st, lo, hi, m):
    """:func:`_central_pass_baker` without the affine map."""
    _central_body(a, o, flag, mt, st, lo, hi, m, True, False)


@njit(cache=True, error_model="numpy")
def _gather_tails(a, flag, m, where, tp, baker, lo, hi):
    """Indices of the tail elements (one store per element, no branch), then their clipped
    values (a loop over the tails only)."""
    count = 0
    for k in range(m):
        where[count] = k
        count += flag[k]
    for c in range(count):
        tp[c] = _open(a[where[c]], baker, lo, hi)
    return count


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _tail_pass(tp, count, tv):
    """AS241's tail branch over the gathered values (SIMD, with the vectorizable log); returns
    how many need :func:`_tail_far`."""
    far = 0
    for c in range(count):
        v, s = _tail_near(tp[c])
        tv[c] = v
        far += not s <= 5.0
    return far


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _fix_far(tp, count, tv):
    """The values of the rare far tails (after :func:`_tail_pass` counted some)."""
    for c in range(count):
        s = _tail_near(tp[c])[1]
        if not s <= 5.0:
            tv[c] = _tail_far(tp[c])


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _scatter_tails(o, where, count, tv, mt, st, affine):
    """The tail values, affine-mapped, back to their places."""
    for c in range(count):
        k = where[c]
        o[k] = mt[k] + st[k] * tv[c] if affine else tv[c]


@njit(cache=True)
def _tiled(v, rows):
    """``v`` (d,) repeated ``rows`` times, flat: the per-column constants of a block of rows
    taken as one flat loop (no modulo: these few microseconds count for small blocks)."""
    d = v.shape[0]
    out = np.empty(rows * d)
    for i in range(rows):
        for j in range(d):
            out[i * d + j] = v[j]
    return out


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def normal_map(u, baker, lo, hi, mean, scale, out):
    """``out[i, j] = mean[j] + scale[j] Phi^{-1}(clip(psi(u[i, j]), lo, hi))`` for C-contiguous
    (n, d) float64 arrays, ``psi`` the baker's map ``1 - |2 u - 1|`` when ``baker``, else the identity.

    AS241 (the array-API path's values to a few ulps), about 2.6 ns per value here: per block
    of rows, the central rational function runs over every element in a branch-free loop
    (SIMD), the tail elements (about 15%) are gathered without branches into a buffer, the
    tail branch runs over that buffer in SIMD too (a log of its own: libm's is a scalar call),
    and the results are scattered back.  FMA contraction is allowed: within AS241's accuracy
    (5 ulps against 50 digits), not bit for bit the array-API path.
    """
    n, d = u.shape
    if n == 0 or d == 0:
        return
    a = u.reshape(n * d)
    o = out.reshape(n * d)
    total = n * d
    affine = False
    for j in range(d):
        affine |= mean[j] != 0.0 or scale[j] != 1.0
    rows = min(_ROWS, n)
    width = d * rows
    mt = _tiled(mean, rows)
    st = _tiled(scale, rows)
    flag = np.empty(width, dtype=np.uint8)
    where = np.empty(width, dtype=np.int64)
    tp = np.empty(width)
    tv = np.empty(width)
    for b in range(0, total, width):
        m = min(width, total - b)
        ab = a[b : b + m]
        ob = o[b : b + m]
        if affine:
            if baker:
                _central_pass_baker(ab, ob, flag, mt, st, lo, hi, m)
            else:
                _central_pass(ab, ob, flag, mt, st, lo, hi, m)
        elif baker:
            _central_pass_std_baker(ab, ob, flag, mt, st, lo, hi, m)
        else:
            _central_pass_std(ab, ob, flag, mt, st, lo, hi, m)
        count = _gather_tails(ab, flag, m, where, tp, baker, lo, hi)
        if _tail_pass(tp, count, tv):
            _fix_far(tp, count, tv)
        _scatter_tails(ob, where, count, tv, mt, st, affine)


# exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2] (Cody-Waite, ln 2 in
# two parts: k LN2_HI is exact for |k| < 2^11); exp(r) by its Taylor polynomial to r^13/13!
# (the next term is below 5e-18 relative).  Horner, not Estrin: Estrin's sums lose up to 2 ulps.
_EXP_C = tuple(1.0 / math.factorial(k) for k in range(2, 14))
X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13 = _EXP_C
INV_LN2 = 1.4426950408889634
#: 1.5 * 2^52: ``x + _SHIFTER`` rounds x (|x| < 2^51) to the nearest integer, held in the low bits.
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = 0x4338000000000000
#: The arguments whose exp is a finite normal number (k + 1023 stays in [2, 2046]).
EXP_LO, EXP_HI = -708.0, 709.0


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _exp(x):
    """exp of ``EXP_LO <= x <= EXP_HI``, branch-free (vectorizes, unlike libm's scalar call):
    within one ulp of a correctly rounded exp."""
    kf = x * INV_LN2 + _SHIFTER
    k = _bits(kf) - _SHIFTER_BITS
    kf = kf - _SHIFTER
    r = x - kf * LN2_HI
    r = r - kf * LN2_LO
    p = ((((((((((((X13 * r + X12) * r + X11) * r + X10) * r + X9) * r + X8) * r + X7) * r + X6) * r + X5)
                * r + X4) * r + X3) * r + X2) * r + 1.0) * r + 1.0
    return p * _float((k + 1023) << 52)


#: Rows per block of :func:`scaled_exp`: the range check and the exp read the block from cache.
_EXP_ROWS = 64


# Flat passes over a block, each its own function (as the normal map's): LLVM vectorizes a long
# flat loop with the tiled shifts better than the (rows, d) double loop (1.5 vs 2.4 ns per value).
@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exp_block_inside(a, ct, m):
    """Whether every exponent ``a[k] + ct[k]`` (k < m) is within [EXP_LO, EXP_HI] (NaN is not)."""
    inside = True
    for k in range(m):
        x = a[k] + ct[k]
        inside &= (x >= EXP_LO) & (x <= EXP_HI)
    return inside


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exp_block(a, ct, s0, m):
    for k in range(m):
        a[k] = s0 * _exp(a[k] + ct[k])


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def scaled_exp(w, c, s0):
    """``w[i, j] = s0 exp(w[i, j] + c[j])`` in place, for C-contiguous (n, d) float64 ``w``.

    Block by block of rows: a branch-free check that every exponent is within
    ``[EXP_LO, EXP_HI]``, then the vectorized :func:`_exp`; a block with an exponent outside
    (overflow, underflow to subnormals, NaN) takes libm's exp for all its entries instead.
    """
    n, d = w.shape
    total = n * d
    if total == 0:
        return
    a = w.reshape(total)
    rows = min(_EXP_ROWS, n)
    width = rows * d
    ct = _tiled(c, rows)
    for b in range(0, total, width):
        m = min(width, total - b)
        ab = a[b : b + m]
        if _exp_block_inside(ab, ct, m):
            _exp_block(ab, ct, s0, m)
        else:
            for k in range(m):
                ab[k] = s0 * math.exp(ab[k] + ct[k])
