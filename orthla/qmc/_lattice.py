"""Rank-1 extensible base-2 lattices with random shifts."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np

from .._backend import capability, select_engine
from .._validate import check_choice, check_int
from ._cbc import M_MAX
from ._checks import integer_parameter
from ._engine import PointEngine
from ._transforms import _bit_reverse

__all__ = ["SHIPPED_LATTICE_VECTORS", "Lattice"]

#: Shipped generating vectors: name -> (data file, m_max).  "kuo-9125" and "kuo-3600" are F. Y. Kuo's
#: published lattice-33002-1024-1048576.9125 (order-3 weights) and lattice-32001-1024-1048576.3600
#: (order-2 weights); "orthla-3600" was built with
#: ``cbc_lattice(2**20, 3600, weights=1/j**2, alpha=1, extensible=True)`` (about 3 minutes).
SHIPPED_LATTICE_VECTORS = {
    "kuo-9125": ("lattice_kuo_33002_1024_1048576_9125.txt", 20),
    "kuo-3600": ("lattice_kuo_32001_1024_1048576_3600.txt", 20),
    "orthla-3600": ("lattice_cbc_ext_m20_d3600.txt", 20),
}

# Below this many bits, phi_2(i) * g is exact in float64 (2 * 26 <= 53): no integer products needed.
_FLOAT_EXACT_BITS = 26


@functools.cache
def _shipped_vector(name: str) -> np.ndarray:
    fname, _ = SHIPPED_LATTICE_VECTORS[name]
    text = resources.files("orthla.qmc").joinpath("data", fname).read_text()
    return np.loadtxt(text.splitlines(), dtype=np.int64, comments="#")


@capability("qmc", numba=True)
class Lattice(PointEngine):
    """Rank-1 extensible lattice in base 2, optionally randomly shifted.

    Parameters
    ----------
    d : int
        Dimension.
    generating_vector : str or array_like of int, default "kuo-9125"
        ``"kuo-9125"``: Kuo's extensible vector ``lattice-33002-1024-1048576.9125``
        for up to 2^20 points in up to 9125 dimensions (order-3 weights) [2]_.
        ``"kuo-3600"``: Kuo's ``lattice-32001-1024-1048576.3600``, up to 2^20
        points in up to 3600 dimensions (order-2 weights) [2]_.
        ``"orthla-3600"``: a vector for up to 2^20 points in up to 3600 dimensions
        built with :func:`cbc_lattice` (see Notes).  Or any 1-D integer array of
        length at least ``d`` (odd entries give full projections).
    order : {"natural", "linear", "gray"}, default "natural"
        Point order, see Notes.
    randomize : {"shift", False}, default "shift"
        Add a uniform random shift modulo 1 (one per replication).
    m_max : int, optional
        At most ``2^m_max`` points may be drawn; default 20 for the shipped
        vector, and for a user vector 20 (at most 31).
    replications : int, optional
        Number of independent shifts; points then have shape ``(R, n, d)``.
    engine : {"auto", "numba", "xp"}, default "auto"
        ``"numba"``: one fused pass per point (NumPy).  ``"xp"``: vectorized
        array-API expressions (any backend, the GPU path).
    rng : numpy.random.Generator or int, optional
        Source of the shifts (SPEC 7).
    xp : namespace, optional
        Array library to create points in (default NumPy).
    device : optional
        Device of the points (e.g. a CuPy device); generation runs there.
    dtype : float64 or float32 of ``xp``, optional
        Default float64.
    optimization : {None, "random-cd", "lloyd"}, optional
        SciPy's post-processing of each draw (see ``scipy.stats.qmc.QMCEngine``): random
        coordinate swaps lowering the centered discrepancy, or Lloyd-Max iterations.  It
        moves points off the lattice (no longer a QMC point set in the strict sense) and
        runs on NumPy points only; its random stream is spawned from ``rng``, so the
        randomization is the same with or without it.

    Attributes
    ----------
    generating_vector : numpy.ndarray of int64, shape (d,)
        The vector in use, reduced modulo ``2^m_max``.
    shift : numpy.ndarray, shape (R, d)
        The random shifts (zeros without randomization).
    m_max : int
        Capacity exponent.
    num_generated : int
        Points drawn so far.

    Raises
    ------
    ValueError
        Unknown ``order``/``randomize``/``optimization``/vector name, ``d`` negative or beyond the vector,
        a vector that is not 1-D, ``m_max`` out of range, drawing beyond
        ``2^m_max`` points, and in linear order a draw that is not a whole
        lattice from the start.
    TypeError
        Bad ``dtype`` or ``rng``, ``xp`` not an array namespace, a generating
        vector that is not of integers (floats, booleans, strings, masked
        arrays), integer arguments given as booleans.

    Notes
    -----
    With ``phi_2(i)`` the radical inverse of ``i`` in base 2 and generating
    vector ``g``, natural order gives ``x_i = frac(phi_2(i) g + Delta)``: every
    leading block of ``2^m`` points is the lattice ``{frac(k g / 2^m)}``, so the
    sequence is extensible.  Gray order uses ``phi_2(i XOR (i >> 1))``, the same
    sets after each power of two.  Linear order ``x_i = frac(i g / n)`` needs the
    whole ``n = 2^m`` lattice in one draw.  Points are computed as exact dyadic
    fractions (``phi_2(i) g`` has at most 2 ``m_max`` bits), then shifted:
    cost ``O(n d)`` element operations, fully vectorized on the device.

    The default vector is Kuo's widely used ``lattice-33002-1024-1048576.9125``
    (the same numbers QMCPy ships), made for order-3 weights; ``"kuo-3600"`` is
    his ``lattice-32001-1024-1048576.3600`` for order-2 weights.  Both are extensible from 2^10 to 2^20 points
    (``m_max = 20``) and their first ``d`` entries serve any ``d`` up to 9125
    or 3600.  The third shipped vector, ``"orthla-3600"``,
    was built by :func:`cbc_lattice` with product weights
    ``gamma_j = j^-2``, smoothness ``alpha = 1``, ``n = 2^20`` and the embedded
    (extensible) criterion over all ``2^k``, ``3 <= k <= 20``.

    A shifted lattice is still a lattice: differences of points modulo 1 are
    points of the unshifted lattice.

    References
    ----------
    .. [1] F. J. Hickernell, H. S. Hong, P. L'Ecuyer, C. Lemieux, "Extensible
       lattice sequences for quasi-Monte Carlo quadrature", SIAM J. Sci.
       Comput. 22 (2000).
    .. [2] F. Y. Kuo, "Lattice rule generating vectors",
       https://web.maths.unsw.edu.au/~fkuo/lattice/ (files
       ``lattice-33002-1024-1048576.9125`` and ``lattice-32001-1024-1048576.3600``); J. A. Nichols, F. Y. Kuo, "Fast CBC
       construction of randomly shifted lattice rules achieving O(n^{-1+delta})
       convergence for unbounded integrands over R^s in weighted spaces with POD
       weights", J. Complexity 30 (2014).

    Examples
    --------
    >>> from orthla.qmc import Lattice
    >>> eng = Lattice(2, generating_vector=[1, 3], randomize=False)
    >>> eng.random(4)
    array([[0.  , 0.  ],
           [0.5 , 0.5 ],
           [0.25, 0.75],
           [0.75, 0.25]])
    >>> x = Lattice(3, rng=7).random_base2(10)
    >>> x.shape, bool(abs(x.mean() - 0.5) < 1e-3)
    ((1024, 3), True)
    """

    _orders = ("natural", "linear", "gray")

    def __init__(self, d: int, *, generating_vector: Any = "kuo-9125", order: str = "natural",
                 randomize: str | bool = "shift", m_max: int | None = None,
                 replications: int | None = None, engine: str = "auto", rng: Any = None,
                 xp: Any = None, device: Any = None, dtype: Any = None,
                 optimization: str | None = None) -> None:
        if isinstance(generating_vector, str):
            check_choice(generating_vector, "generating_vector", tuple(SHIPPED_LATTICE_VECTORS))
            g = _shipped_vector(generating_vector)
            hint = (f" in generating vector {generating_vector!r}; pass a longer integer array as "
                    "`generating_vector` (for example cbc_lattice(2**20, d, extensible=True).generating_vector)")
            default_m = SHIPPED_LATTICE_VECTORS[generating_vector][1]
        else:
            try:
                g = integer_parameter(generating_vector, "generating_vector")
            except TypeError as exc:
                raise TypeError(f"{exc} `generating_vector` must be a shipped name "
                                f"{tuple(SHIPPED_LATTICE_VECTORS)} or a 1-D integer array.") from None
            if g.ndim != 1:
                raise ValueError("`generating_vector` must be a shipped name "
                                 f"{tuple(SHIPPED_LATTICE_VECTORS)} or a 1-D integer array; "
                                 f"got shape {g.shape}.")
            hint = " in `generating_vector`"
            default_m = 20
        super().__init__(d, order=order, replications=replications, rng=rng, xp=xp,
                         device=device, dtype=dtype, d_max=g.shape[0], d_max_hint=hint,
                         optimization=optimization)
        self.m_max = default_m if m_max is None else check_int(m_max, "m_max", low=1, high=M_MAX)
        self.generating_vector = np.asarray(g[: self.d], dtype=np.int64) % (2**self.m_max)
        self.randomize = check_choice(randomize, "randomize", ("shift", False))
        self.engine = select_engine(engine, self.xp)
        self._max_points = 2**self.m_max
        self._capacity_hint = "raise m_max or use a vector built for more points"
        if randomize == "shift":
            self.shift = self.rng.random((self._R, self.d))
        else:
            self.shift = np.zeros((self._R, self.d))

    def _generate(self, start: int, n: int) -> Any:
        xp = self.xp
        if self.order == "linear":
            if start != 0 or n & (n - 1):
                raise ValueError(
                    "order='linear' gives a whole lattice of n = 2^m points in one draw from the "
                    f"start; got n = {n} after {start} points. Use order='natural' for extensible draws."
                )
        if self.engine == "numba":
            return self._generate_numba(start, n)
        if self.order == "linear":
            bits = n.bit_length() - 1
            k = self._indices(0, n)
        else:
            bits = self.m_max
            i = self._indices(start, n)
            if self.order == "gray":
                i = i ^ (i >> 1)
            k = _bit_reverse(i, bits, xp)
        g = self._to_device(self.generating_vector % (2**bits))
        if bits <= _FLOAT_EXACT_BITS:
            # phi * g has at most 2 * bits <= 52 significant bits: the product and its
            # fractional part are exact in float64.
            y = xp.astype(k, xp.float64)[:, None] * (xp.astype(g, xp.float64) * 2.0**-bits)[None, :]
            y = y - xp.floor(y)
        else:
            y = xp.astype((k[:, None] * g[None, :]) & (2**bits - 1), xp.float64) * 2.0**-bits
        if self.randomize:
            y = y[None, ...] + self._to_device(self.shift)[:, None, :]
            y = xp.where(y >= 1, y - 1, y)
        else:
            y = xp.stack([y] * self._R)
        return self._finish(y)

    def _generate_numba(self, start: int, n: int) -> np.ndarray:
        from ._lattice_numba import lattice_points

        linear = self.order == "linear"
        bits = n.bit_length() - 1 if linear else self.m_max
        g = self.generating_vector % (2**bits)
        out = np.empty((self._R, n, self.d))
        for r in range(self._R):
            lattice_points(g, self.shift[r], start, bits, not linear, self.order == "gray", out[r])
        return self._finish(out)
