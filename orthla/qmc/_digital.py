"""Digital nets in base 2 (Sobol') with digital shifts and linear matrix scrambling."""

from __future__ import annotations

import functools
import gzip
import hashlib
import warnings
from importlib import resources
from typing import Any

import numpy as np

from .._backend import capability, select_engine
from .._validate import check_choice, check_int
from ._bits import bits_dtype, shr, to_device, word
from ._checks import check_bool, integer_parameter
from ._engine import PointEngine

__all__ = ["DigitalNet", "Sobol"]

#: Index bits kept for a digital sequence: up to 2^32 points.
_M_CAP = 32
_RANDOMIZE = ("lms-ds", "ds", "lms", "nus", False)
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_MASK64 = 2**64 - 1


#: Joe and Kuo's direction numbers, shipped as package data (see ``_joe_kuo_table``).
JOE_KUO_FILE = "new-joe-kuo-6.21201.gz"
#: SHA-256 of the decompressed text, as written by ``tools/make_sobol_direction_numbers.py``.
_JOE_KUO_SHA256 = "24cf46df801956b04d7ac49ed5d687eabf76646b9698b26909a0498093dba6dc"
#: Dimensions of the Joe-Kuo direction numbers (the first dimension has no polynomial).
JOE_KUO_MAXDIM = 21201


@functools.cache
def _joe_kuo_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, a, m)`` of dimensions 2..21201: polynomial degrees, coefficients, initial m_k.

    Read from ``orthla/qmc/data/new-joe-kuo-6.21201.gz``: S. Joe and F. Y. Kuo's
    ``new-joe-kuo-6.21201`` (https://web.maths.unsw.edu.au/~fkuo/sobol/, BSD-style licence,
    Copyright (c) 2008 F. Y. Kuo and S. Joe), one line ``d s a m_1 ... m_s`` per dimension;
    the file's header records its provenance and ``tools/make_sobol_direction_numbers.py``
    how it was made.  The text is checked against its SHA-256 before use.
    """
    raw = gzip.decompress(resources.files("orthla.qmc").joinpath("data", JOE_KUO_FILE).read_bytes())
    if hashlib.sha256(raw).hexdigest() != _JOE_KUO_SHA256:
        raise RuntimeError(f"orthla/qmc/data/{JOE_KUO_FILE} is damaged (SHA-256 mismatch); reinstall orthla.")
    head = b"\nd s a m_i\n"
    # rows "d s a m_1 ... m_s" back to back after the header line
    tok = np.fromstring(raw[raw.index(head) + len(head) :].decode("ascii"), dtype=np.int64, sep=" ")
    n_rows = JOE_KUO_MAXDIM - 1
    starts = np.empty(n_rows, dtype=np.int64)
    pos = 0
    for i in range(n_rows):  # a row holds 3 + s integers
        starts[i] = pos
        pos += 3 + int(tok[pos + 1])
    if pos != tok.size or not np.array_equal(tok[starts], np.arange(2, JOE_KUO_MAXDIM + 1)):
        raise RuntimeError(f"orthla/qmc/data/{JOE_KUO_FILE} is not in the layout 'd s a m_1 ... m_s'.")
    s, a = tok[starts + 1], tok[starts + 2]
    k = np.arange(int(s.max()))
    m = np.where(k[None, :] < s[:, None], tok[np.minimum(starts[:, None] + 3 + k[None, :], tok.size - 1)], 0)
    m = m.astype(np.uint64)
    return s, a, m


@functools.cache
def _joe_kuo(d: int, t: int) -> np.ndarray:
    """Joe-Kuo (new-joe-kuo-6.21201) generating matrices, columns as t-bit integers (MSB first).

    Column k of the matrix of dimension j is ``m_{j,k} 2^(t-1-k)``, with the direction
    integers ``m_{j,k}`` (odd, ``< 2^(k+1)``) continued past the ``s_j`` initial ones by
    Bratley and Fox's recurrence ``m_k = 2 a_1 m_(k-1) ^ 4 a_2 m_(k-2) ^ ... ^ 2^(s-1) a_(s-1)
    m_(k-s+1) ^ 2^s m_(k-s) ^ m_(k-s)``; the first dimension has ``m_k = 1`` (the van der
    Corput sequence).  Vectorized over dimensions; exact in uint64 (``m_k < 2^(k+1) <= 2^63``).
    """
    v = np.zeros((d, t), dtype=np.uint64)
    v[:1, :] = 1
    if d > 1:
        s_all, a_all, m_all = _joe_kuo_table()
        s, a = s_all[: d - 1], a_all[: d - 1]
        for deg in np.unique(s).tolist():  # one vectorized recurrence per polynomial degree
            rows = np.flatnonzero(s == deg) + 1
            m = np.zeros((rows.size, t), dtype=np.uint64)
            k0 = min(t, deg)
            m[:, :k0] = m_all[rows - 1, :k0]
            # bit k of the mask picks a_(k+1) (the coefficient of x^(deg-1-k)), as a 0/1 factor
            coef = [((a[rows - 1] >> (deg - 2 - k)) & 1).astype(np.uint64) for k in range(deg - 1)]
            for j in range(deg, t):
                newv = m[:, j - deg] ^ (m[:, j - deg] << np.uint64(deg))
                for k in range(deg - 1):
                    newv ^= coef[k] * (m[:, j - k - 1] << np.uint64(k + 1))
                m[:, j] = newv
            v[rows] = m
    v <<= (np.uint64(t - 1) - np.arange(t, dtype=np.uint64))[None, :]
    return v


def _bit_length(a: np.ndarray) -> int:
    mx = int(a.max()) if a.size else 0
    return mx.bit_length()


def _lms(cols: np.ndarray, t: int, rng: np.random.Generator, reps: int, engine: str = "xp") -> np.ndarray:
    """Left-multiply every generating matrix by a random unit lower-triangular t x t matrix.

    ``cols`` (d, m) holds t-bit columns, digit 1 in bit t-1.  Row r of the new
    column is the XOR of ``L[r, b] * digit_b`` over b <= r, so the new column is the
    XOR of L's columns ``b`` over the set digits ``b`` of the old one.  ``engine="numba"``:
    the same XORs in one Numba pass (10x; this runs once per engine, e.g. per ``integrate``).
    """
    d, m = cols.shape
    # L's column b: 1 on the diagonal (bit t-1-b), random bits below it (later digits).
    below = (np.uint64(1) << np.arange(t - 1, -1, -1, dtype=np.uint64)) - np.uint64(1)
    diag = np.uint64(1) << np.arange(t - 1, -1, -1, dtype=np.uint64)
    lcols = (rng.integers(0, 2**63, size=(reps, d, t), dtype=np.uint64, endpoint=False) << np.uint64(1)
             | rng.integers(0, 2, size=(reps, d, t), dtype=np.uint64)) & below | diag
    if engine == "numba":
        from ._digital_numba import lms_columns

        out = np.empty((reps, d, m), dtype=np.uint64)
        lms_columns(np.ascontiguousarray(cols, dtype=np.uint64), lcols, t, out)
        return out
    out = np.zeros((reps, d, m), dtype=np.uint64)
    for b in range(t):
        digit = (cols >> np.uint64(t - 1 - b)) & np.uint64(1)  # (d, m)
        out ^= digit[None, :, :] * lcols[:, :, b : b + 1]
    return out


def _interlace(cols: np.ndarray, t: int, alpha: int) -> tuple[np.ndarray, int]:
    """Digit interlacing of alpha consecutive matrices (Dick's higher-order nets).

    Digit ``r`` (0-based) of output dimension ``j`` is digit ``r // alpha`` of input
    dimension ``j alpha + r mod alpha``; the leading ``t // alpha`` digits of each input
    are used, giving ``alpha (t // alpha)`` output digits.
    """
    if alpha == 1:
        return cols, t
    t_in = t // alpha
    t_out = alpha * t_in
    d = cols.shape[0] // alpha
    out = np.zeros((d, cols.shape[1]), dtype=np.uint64)
    for r in range(t_out):
        q, k = r % alpha, r // alpha
        digit = (cols[q : d * alpha : alpha] >> np.uint64(t - 1 - k)) & np.uint64(1)
        out |= digit << np.uint64(t_out - 1 - r)
    return out, t_out


def _mix64_xp(z: Any, xp: Any) -> Any:
    """splitmix64 finalizer on 64-bit words (:mod:`._bits`; wrapping multiplication)."""
    z = (z ^ shr(z, 30, xp)) * word(_MIX1, z, xp)
    z = (z ^ shr(z, 27, xp)) * word(_MIX2, z, xp)
    return z ^ shr(z, 31, xp)


def _mix64_int(z: int) -> int:
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def _gray(i: Any) -> Any:
    return i ^ (i >> 1)


_BITS_NOTE = "integers (return_binary) are int64 on torch, uint64 elsewhere"


@capability("qmc", numba=True, notes=_BITS_NOTE)
class DigitalNet(PointEngine):
    """Digital sequence in base 2 with digital shift and linear matrix scrambling.

    Parameters
    ----------
    d : int
        Dimension.
    generating_matrices : "joe-kuo-21201" or array_like of uint64, shape (d_max, m)
        ``"joe-kuo-21201"``: Sobol' matrices from Joe and Kuo's
        ``new-joe-kuo-6.21201`` direction numbers (shipped with orthla in
        ``orthla/qmc/data``), up to 21201
        dimensions.  An integer array: ``[j, k]`` is column ``k`` of the matrix of
        dimension ``j`` as a ``t``-bit integer whose most significant bit is the
        first digit; ``2^m`` points may then be drawn.
    order : {"natural", "gray"}, default "natural"
        Natural: point ``i`` uses the binary digits of ``i``.  Gray: those of
        ``i XOR (i >> 1)`` (SciPy's order); the sets of the first ``2^m`` points agree.
    randomize : {"lms-ds", "ds", "lms", "nus", False}, default "lms-ds"
        Linear matrix scrambling (LMS) and/or a digital shift (DS), or Owen's
        nested uniform scrambling (NUS), drawn independently per replication.
        LMS alone keeps the net property but not uniformity (point 0 stays at
        the origin): see Notes.
    t : int, default 63
        Digits (bits) per coordinate of the generating matrices, ``1 <= t <= 63``.
        LMS fills all output digits; floats keep the leading 53.
    alpha : int, default 1
        Interlacing factor: ``alpha > 1`` builds a higher-order (order ``alpha``)
        net by interlacing the digits of ``alpha`` consecutive base dimensions
        [3]_, with ``alpha (t // alpha)`` output digits (62 for ``t = 63,
        alpha = 2``).
    return_binary : bool, default False
        Return the ``t``-bit integers instead of floats: ``uint64``, or
        ``int64`` (the same non-negative values, ``t <= 63``) on torch, which
        has no shifts or comparisons for ``uint64``.
    engine : {"auto", "numba", "xp"}, default "auto"
        ``"numba"``: Gray-code walk, one XOR per coordinate and point (NumPy).
        ``"xp"``: vectorized XOR of the matrix columns selected by the index bits
        (any backend, the GPU path).
    replications, rng, xp, device, dtype, optimization
        As for :class:`Lattice` (``optimization`` needs ``return_binary=False``).

    Attributes
    ----------
    generating_matrices : numpy.ndarray of uint64, shape (R, d, m)
        The (scrambled) matrices in use, one set per replication.
    digital_shift : numpy.ndarray of uint64, shape (R, d)
        The digital shifts (zeros without DS).
    t : int
        Output digits (``alpha (t // alpha)`` of the requested ``t``).
    alpha : int
        Interlacing factor.
    MAXDIM : int
        21201, the dimensions of the default (Joe-Kuo) matrices (class attribute, as
        ``scipy.stats.qmc.Sobol.MAXDIM``).

    Raises
    ------
    ValueError
        Unknown ``order``/``randomize``/``optimization``/matrix name, ``d`` negative or beyond the matrices
        (``d alpha`` base dimensions are needed), ``t`` out of range or too small
        for the matrices, ``alpha`` not in ``1..t``, too many points.
    TypeError
        Bad ``dtype``, ``rng`` or ``generating_matrices`` dtype.

    Notes
    -----
    Point ``i = sum_k i_k 2^k`` has coordinate ``j`` equal to ``C_j (i_0, i_1, ...)^T``
    over GF(2), read as the binary fraction ``0.y_1 y_2 ... y_t``; this is an XOR of the
    integer columns of ``C_j`` selected by the bits of ``i``.  Consecutive points differ
    by one column (Gray order) or by a prefix XOR of columns (natural order), so the
    Numba engine spends ``O(1)`` per coordinate; the array-API engine does ``O(log2 n)``
    vectorized XORs per coordinate.  LMS replaces ``C_j`` by ``L_j C_j`` with ``L_j``
    unit lower-triangular and uniformly random below the diagonal, and DS XORs a
    uniform ``t``-bit shift [1]_; both keep the ``(t, m, s)``-net property of every
    block of ``2^m`` points.  Only the digital shift (or NUS) makes each point
    uniformly distributed on [0, 1)^d, and so the replicated estimates unbiased:
    LMS alone is a linear map, which keeps point 0 at the origin in every
    replication and leaves the other points non-uniform (``randomize="lms"``
    estimates are biased; use the default ``"lms-ds"``, or ``"ds"``, for error
    bars).
    NUS [4]_ flips digit ``r`` of a coordinate by a random bit that depends on the
    point's leading ``r - 1`` digits (a random binary tree of flips); the tree is
    defined lazily by a 64-bit hash (splitmix64) of a per-digit random key and the
    digit prefix, so the sequence stays consistent across draws at ``O(t)`` work
    per coordinate.  NUS keeps the net property but not the linear structure, so
    :class:`FastGram` refuses NUS points.
    Unrandomized Gray-order points equal ``scipy.stats.qmc.Sobol(d, scramble=False)``
    bit for bit.  As SciPy's Sobol', a first draw whose size is not a power of two
    warns (``UserWarning``): the balance (net) properties hold for blocks of ``2^m`` points.

    References
    ----------
    .. [1] J. Matousek, "On the L2-discrepancy for anchored boxes", J. Complexity
       14 (1998).
    .. [2] S. Joe, F. Y. Kuo, "Constructing Sobol sequences with better
       two-dimensional projections", SIAM J. Sci. Comput. 30 (2008).
    .. [3] J. Dick, "Explicit constructions of quasi-Monte Carlo rules for the
       numerical integration of high-dimensional periodic functions", SIAM J.
       Numer. Anal. 45 (2007).
    .. [4] A. B. Owen, "Randomly permuted (t, m, s)-nets and (t, s)-sequences",
       in Monte Carlo and Quasi-Monte Carlo Methods in Scientific Computing (1995).

    Examples
    --------
    >>> from orthla.qmc import DigitalNet
    >>> DigitalNet(2, randomize=False).random(4)
    array([[0.  , 0.  ],
           [0.5 , 0.5 ],
           [0.25, 0.75],
           [0.75, 0.25]])
    >>> x = DigitalNet(5, rng=1, replications=2).random_base2(8)
    >>> x.shape
    (2, 256, 5)
    """

    _orders = ("natural", "gray")

    def __init__(self, d: int, *, generating_matrices: Any = "joe-kuo-21201", order: str = "natural",
                 randomize: str | bool = "lms-ds", t: int = 63, alpha: int = 1,
                 return_binary: bool = False, engine: str = "auto", replications: int | None = None,
                 rng: Any = None, xp: Any = None, device: Any = None, dtype: Any = None,
                 optimization: str | None = None) -> None:
        t = check_int(t, "t", low=1, high=63)
        alpha = check_int(alpha, "alpha", low=1, high=t, high_expr="t")
        self.alpha = alpha
        if isinstance(generating_matrices, str):
            check_choice(generating_matrices, "generating_matrices", ("joe-kuo-21201",))
            d_max, hint = 21201, " in the Joe-Kuo direction numbers; pass your own `generating_matrices` for more"
            mats = None
        else:
            try:
                mats = integer_parameter(generating_matrices, "generating_matrices")
            except TypeError as exc:
                raise TypeError(f"{exc} `generating_matrices` must be 'joe-kuo-21201' or a 2-D integer "
                                "array (d_max, m).") from None
            if mats.ndim != 2:
                raise ValueError("`generating_matrices` must be 'joe-kuo-21201' or a 2-D integer array "
                                 f"(d_max, m); got shape {mats.shape}.")
            if np.any(mats < 0):
                raise ValueError("`generating_matrices` must hold non-negative t-bit integers.")
            d_max, hint = mats.shape[0], " in `generating_matrices`"
        if alpha > 1:
            hint += f" (interlacing alpha = {alpha} uses {alpha} of them per dimension)"
        self.return_binary = check_bool(return_binary, "return_binary")
        if self.return_binary and optimization is not None:
            raise ValueError("`optimization` moves points off the net; it needs return_binary=False.")
        super().__init__(d, order=order, replications=replications, rng=rng, xp=xp,
                         device=device, dtype=dtype, d_max=d_max // alpha, d_max_hint=hint,
                         optimization=optimization)
        self.randomize = check_choice(randomize, "randomize", _RANDOMIZE)
        self.engine = select_engine(engine, self.xp)
        if mats is None:
            cols = _joe_kuo(self.d * alpha, t)[:, : min(t, _M_CAP)]
        else:
            cols = mats[: self.d * alpha].astype(np.uint64)
            width = _bit_length(cols)
            if width > t:
                raise ValueError(f"`t` = {t} is too small for the generating matrices, whose columns "
                                 f"have up to {width} bits; pass t >= {width}.")
        cols, t = _interlace(cols, t, alpha)
        self.t = t
        m = cols.shape[1]
        self._max_points = 2**m
        self._capacity_hint = f"the generating matrices have {m} columns"
        R = self._R
        if self.randomize in ("lms-ds", "lms"):
            self.generating_matrices = _lms(cols, t, self.rng, R, self.engine)
        else:
            self.generating_matrices = np.broadcast_to(cols, (R, *cols.shape)).copy()
        if self.randomize in ("lms-ds", "ds"):
            self.digital_shift = self.rng.integers(0, 2**t, size=(R, self.d), dtype=np.uint64)
        else:
            self.digital_shift = np.zeros((R, self.d), dtype=np.uint64)
        if self.randomize == "nus":
            # One 64-bit key per (replication, dimension, digit): the hash of key XOR prefix
            # decides each node of Owen's random tree of digit flips.
            seeds = self.rng.integers(0, 2**63, size=(R, self.d), dtype=np.uint64)
            self._nus_keys = np.array([[[_mix64_int(int(s) ^ ((r + 1) * 0x9E3779B97F4A7C15 & _MASK64))
                                         for r in range(t)] for s in row] for row in seeds],
                                      dtype=np.uint64)
        self._device_cache = None
        self._steps_cache: np.ndarray | None = None

    #: Dimensions of the default (Joe-Kuo) matrices, as ``scipy.stats.qmc.Sobol.MAXDIM``.
    MAXDIM = JOE_KUO_MAXDIM

    # ------------------------------------------------------------------
    def _check_draw(self, start: int, n: int) -> None:
        if start == 0 and n & (n - 1):
            warnings.warn(f"The balance properties of Sobol' points require n to be a power of 2 "
                          f"(this holds for every digital net); the first draw has n = {n}. Use "
                          "random_base2(m) or a power of two.", UserWarning, stacklevel=3)

    def _point_dtype(self) -> Any:
        return bits_dtype(self.xp) if self.return_binary else self.dtype

    def _unit(self, x: Any) -> Any:
        return self._finish(self._bits_to_float(x)) if self.return_binary else x

    def _bits_to_float(self, x: Any) -> Any:
        xp = self.xp
        if self.t > 53:  # keep the leading 53 digits: exact, and never rounds up to 1
            x = x >> (self.t - 53)
            return xp.astype(x, xp.float64) * 2.0**-53
        return xp.astype(x, xp.float64) * 2.0**-self.t

    def _point_integers(self, index: int) -> np.ndarray:
        """t-bit integers of point ``index`` for every replication (host, exact)."""
        k = _gray(index) if self.order == "gray" else index
        x = self.digital_shift.copy()
        b = 0
        while k:
            if k & 1:
                x ^= self.generating_matrices[:, :, b]
            k >>= 1
            b += 1
        return x

    def _generate(self, start: int, n: int) -> Any:
        if n == 0:
            shape = (self._R, 0, self.d)
            dt = bits_dtype(self.xp) if self.return_binary else self.dtype
            return self.xp.zeros(shape, dtype=dt, device=self.device)
        if self.engine == "numba":
            return self._generate_numba(start, n)
        return self._generate_xp(start, n)

    def _generate_numba(self, start: int, n: int) -> np.ndarray:
        from ._digital_numba import owen_scramble, walk_binary, walk_points

        mats = self.generating_matrices
        if self.order == "gray":
            steps = mats
        else:  # prefix XORs of the columns, made once (draws in blocks call this often)
            if self._steps_cache is None:
                self._steps_cache = np.ascontiguousarray(np.bitwise_xor.accumulate(mats, axis=2))
            steps = self._steps_cache
        x0 = self._point_integers(start)
        if self.return_binary or self.randomize == "nus":
            out = np.empty((self._R, n, self.d), dtype=np.uint64)
            for r in range(self._R):
                walk_binary(np.ascontiguousarray(steps[r]), x0[r], start, out[r])
                if self.randomize == "nus":
                    owen_scramble(out[r], self._nus_keys[r], self.t)
            return out if self.return_binary else self._finish(self._bits_to_float(out))
        shift = max(self.t - 53, 0)
        out = np.empty((self._R, n, self.d), dtype=np.float64)
        for r in range(self._R):
            walk_points(np.ascontiguousarray(steps[r]), x0[r], start, out[r],
                        np.uint64(shift), 2.0 ** -(self.t - shift))
        return self._finish(out)

    def _generate_xp(self, start: int, n: int) -> Any:
        xp = self.xp
        if self._device_cache is None:
            keys = to_device(self._nus_keys, xp, self.device) if self.randomize == "nus" else None
            self._device_cache = (to_device(self.generating_matrices, xp, self.device),
                                  to_device(self.digital_shift, xp, self.device), keys)
        mats, shift, keys = self._device_cache
        i = self._indices(start, n)
        if self.order == "gray":
            i = _gray(i)
        x = xp.broadcast_to(shift[:, None, :], (self._R, n, self.d))
        zero = xp.zeros((), dtype=mats.dtype, device=self.device)
        for b in range((start + n - 1).bit_length()):
            on = ((i >> b) & 1) == 1
            x = x ^ xp.where(on[None, :, None], mats[:, None, :, b], zero)
        if self.randomize == "nus":
            x = self._owen_xp(x, keys)
        if self.return_binary:
            return xp.asarray(x, copy=True)
        return self._finish(self._bits_to_float(x))

    def _owen_xp(self, x: Any, keys: Any) -> Any:
        """Owen's digit flips of the t-bit points ``x`` (R, n, d); ``keys`` (R, d, t) on the device."""
        xp, t = self.xp, self.t
        out = x
        for r in range(t):
            prefix = (x >> (t - r)) if r > 0 else xp.zeros_like(x)  # x < 2^63: no sign bits
            h = _mix64_xp(keys[:, None, :, r] ^ prefix, xp)
            out = out ^ (shr(h, 63, xp) << (t - 1 - r))
        return out


@capability("qmc", numba=True, notes=_BITS_NOTE)
class Sobol(DigitalNet):
    """Sobol' sequence: :class:`DigitalNet` with the Joe-Kuo 21201-dimension matrices.

    Takes the keywords of :class:`DigitalNet` except ``generating_matrices``.

    Examples
    --------
    >>> from orthla.qmc import Sobol
    >>> Sobol(3, randomize=False, order="gray").random(4)
    array([[0.  , 0.  , 0.  ],
           [0.5 , 0.5 , 0.5 ],
           [0.75, 0.25, 0.25],
           [0.25, 0.75, 0.75]])
    """

    def __init__(self, d: int, *, order: str = "natural", randomize: str | bool = "lms-ds",
                 t: int = 63, alpha: int = 1, return_binary: bool = False, engine: str = "auto",
                 replications: int | None = None, rng: Any = None, xp: Any = None,
                 device: Any = None, dtype: Any = None, optimization: str | None = None) -> None:
        # The same parameters as DigitalNet but `generating_matrices` (always Joe-Kuo here),
        # spelled out so that signatures, help() and type checkers show them.
        super().__init__(d, order=order, randomize=randomize, t=t, alpha=alpha,
                         return_binary=return_binary, engine=engine, replications=replications,
                         rng=rng, xp=xp, device=device, dtype=dtype, optimization=optimization)
