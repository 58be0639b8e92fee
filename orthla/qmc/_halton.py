"""Halton sequence with digit permutations, linear matrix scrambling and nested uniform scrambling."""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import capability, select_engine
from .._validate import check_choice
from ._engine import PointEngine
from ._halton_nus import draw_nus, nus_points_xp

__all__ = ["Halton", "first_primes"]


class _Tables(Sequence):
    """Per-dimension tables: the stored ones, or identities made on access (nothing stored)."""

    def __init__(self, stored: list | None, identity: Any, n: int) -> None:
        self._stored, self._identity, self._n = stored, identity, n

    def __len__(self) -> int:
        return len(self._stored) if self._stored is not None else self._n

    def __getitem__(self, j: Any) -> Any:
        if isinstance(j, slice):
            return [self[i] for i in range(*j.indices(len(self)))]
        if self._stored is not None:
            return self._stored[j]
        j = operator.index(j)
        if j < 0:
            j += len(self)
        if not 0 <= j < len(self):
            raise IndexError(j)
        return self._identity(j)

_RANDOMIZE = ("lms-dp", "dp", "lms", "nus", False)


def _offsets(sizes: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive blocks of the given sizes, and the total at the end (int64)."""
    out = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def _run_split(fill: Any, R: int, d: int, workers: int) -> None:
    """``fill(r, j0, j1)`` over replications and blocks of dimensions, on ``workers`` threads.

    The Numba kernels release the GIL (``nogil``) and write disjoint rows of the output, so
    the blocks run concurrently; each dimension's points do not depend on the split.
    """
    if workers <= 1 or d < 2:
        for r in range(R):
            fill(r, 0, d)
        return
    from concurrent.futures import ThreadPoolExecutor

    edges = np.linspace(0, d, min(workers, d) + 1).astype(int).tolist()
    tasks = [(r, j0, j1) for r in range(R) for j0, j1 in itertools.pairwise(edges) if j1 > j0]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for f in [pool.submit(fill, *t) for t in tasks]:
            f.result()


def _flatten(tables: list, R: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, flat (R, total) int64) of per-dimension tables ``(R, ...)``."""
    sizes = np.array([int(np.prod(t.shape[1:])) for t in tables], dtype=np.int64)
    off = _offsets(sizes)
    flat = np.empty((R, int(off[-1])), dtype=np.int64)
    for j, t in enumerate(tables):
        flat[:, off[j] : off[j + 1]] = np.reshape(t, (R, -1))
    return off[:-1], flat


def first_primes(d: int) -> np.ndarray:
    """The first ``d`` primes (sieve of Eratosthenes)."""
    if d < 1:
        return np.zeros(0, dtype=np.int64)
    # p_d < d (ln d + ln ln d) for d >= 6
    limit = max(15, int(d * (math.log(d) + math.log(math.log(max(d, 3))))) + 1)
    sieve = np.ones(limit + 1, dtype=bool)
    sieve[:2] = False
    for p in range(2, int(limit**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    return np.flatnonzero(sieve)[:d].astype(np.int64)


@functools.cache
def _strict_lower(K: int) -> np.ndarray:
    return np.tril(np.ones((K, K), dtype=np.int64), -1)


def _digits_needed(b: int) -> int:
    # As SciPy: one permutation per digit k with b^-k > 2^-54, so deeper digits are below float resolution.
    return math.ceil(54 / math.log2(b)) - 1


@capability("qmc", numba=True)
class Halton(PointEngine):
    """Halton sequence, optionally scrambled by digit permutations, LMS or NUS.

    Parameters
    ----------
    d : int
        Dimension; coordinate ``j`` uses the ``j``-th prime as base.
    randomize : {"lms-dp", "dp", "lms", "nus", False}, default "lms-dp"
        ``"dp"``: an independent uniform random permutation of the digits
        ``0..b-1`` for every digit position and dimension (Owen's random
        Halton [1]_; identical to SciPy's ``scramble=True`` for the same
        permutations).  ``"lms"``: digit vector multiplied by a random unit
        lower-triangular matrix over Z_b (diagonal in 1..b-1) [2]_.
        ``"lms-dp"``: LMS followed by permutations.  LMS alone maps the zero
        digit vector to itself, so point 0 stays at the origin: ``"lms"``
        points are not uniformly distributed (biased estimates); the
        permutations of ``"dp"``/``"lms-dp"`` and NUS randomize every point.  ``"nus"``: Owen's nested
        uniform scrambling [3]_, digit ``k`` permuted by a random permutation
        that depends on the dimension, ``k`` and the ``k`` leading digits.
    engine : {"auto", "numba", "xp"}, default "auto"
        ``"numba"``: compiled kernels (NumPy): a digit-counter walk without
        divisions for LMS, blocks of points digit by digit otherwise.  ``"xp"``:
        digit passes vectorized over points (any backend).
    replications, rng, xp, device, dtype, optimization
        As for :class:`Lattice`.

    Attributes
    ----------
    bases : numpy.ndarray of int64, shape (d,)
        The first ``d`` primes.
    permutations : sequence of numpy.ndarray
        ``permutations[j]`` has shape ``(R, K_j, b_j)``: per replication, digit
        position and digit.  Only "dp" draws and stores them; otherwise each
        entry is an identity made on access (nothing is stored).
    lms_matrices : sequence of numpy.ndarray
        ``lms_matrices[j]`` has shape ``(R, K_j, K_j)``; stored with "lms", an
        identity made on access otherwise.
    table_entries : int
        Number of integers stored for the randomization: ``R sum_j K_j b_j``
        with "dp" (1.5e7 per replication at ``d = 1000``, 1.5e9 at ``d = 10^4``:
        about ``d^2``), ``R sum_j K_j^2`` with "lms", at most about ``8192 R`` per
        dimension with "nus" (explicit tables of the shallow levels for bases
        below 4096, hash keys beyond), 0 without randomization.
    nus : NusTree or None
        With "nus": ``nus.levels[j]`` leading levels of dimension ``j`` with
        explicit permutation tables ``nus.tables[j]`` (shape ``(R, T_j)``) and the
        hash keys ``nus.keys`` (shape ``(R, d, max K_j + 1)``) of the deeper levels.

    Raises
    ------
    ValueError
        Unknown ``randomize``/``optimization``, ``d < 0``, drawing past the capacity (see Notes).
    TypeError
        Bad ``dtype`` or ``rng``, ``xp`` not an array namespace, ``d`` not an
        integer (booleans included).

    Notes
    -----
    Coordinate ``j`` of point ``i = sum_k a_k b^k`` is ``sum_k a_k b^-(k+1)``.
    Unrandomized points follow SciPy's floating-point recurrence and equal
    ``scipy.stats.qmc.Halton(d, scramble=False)`` bit for bit.  Randomized
    points use the ``K_b = ceil(54 / log2 b) - 1`` leading digits, those of
    weight ``b^-k > 2^-54``: cost ``O(n sum_j K_j)`` digit operations, plus
    ``O(n sum_j K_j^2)`` with LMS.  The deeper digits are not all below double
    precision: they would move a point by less than ``b^-K_b``, which lies
    between ``2^-54`` and ``b 2^-54``: ``2^-53`` in base 2, but ``2^-49.8`` for
    ``b = 23``, ``2^-43.2`` for ``b = 1783`` (the worst of the first 1000 primes)
    and ``2^-36`` for ``b = 262147``.  So with "dp" and "lms"
    the points lie on the grid ``b^-K_b`` and up to ``log2 b`` of their last
    bits are not random ("nus" fills them with a uniform tail).  Both randomizations
    keep every digit position a bijection of ``0..b-1``, so stratification in
    each base is kept.  Capacity: ``2^53`` points (indices are split into digits
    exactly below ``2^53``), and with randomization at most ``min_j b_j^K_j``
    (more than ``2^54 / b_j``; ``2^49.8`` at ``d = 10``, ``2^43.2`` at
    ``d = 1000``), past which the kept digits of the index would repeat;
    drawing further raises ``ValueError``.  Memory: the tables of the
    randomization in use only (see ``table_entries``); "dp" stores
    ``K_b b`` entries per dimension, quadratic in ``d``, so prefer "lms" or
    "nus" in thousands of dimensions.

    NUS maps digit ``a_k`` of point ``i = sum_k a_k b^k`` to ``pi_{j,k,p}(a_k)``,
    ``p = i mod b^k`` the ``k`` original leading digits: points sharing ``k``
    leading digits still share them, distinct digits stay distinct, and every
    scrambled point is uniform on [0, 1)^d.  The permutations are explicit
    uniform random tables for the shallow levels whose ``b^k`` nodes times ``b``
    digits fit in 4096 entries (levels 0..11 for ``b = 2``, level 0 up to
    ``b = 4093``); deeper levels use random affine permutations
    ``a -> (u a + v) mod b`` (``u != 0``) read from a 64-bit hash of a per-level
    key and ``p``, so the tree is defined lazily and every draw, ``fast_forward``
    and replay agree.  Affine maps are all permutations for ``b <= 3`` and
    otherwise (``b`` prime) map two distinct digits to a uniform pair of distinct digits,
    which is all Owen's variance formula uses, so the variance is that of NUS.
    The digits beyond the ``K_b`` kept ones are i.i.d. uniform in NUS (the prefix
    then identifies the point); they are added as one hashed uniform ``U b^-K_b``.
    Cost ``O(n sum_j K_j)`` digit operations, one hash per deep level.

    References
    ----------
    .. [1] A. B. Owen, "A randomized Halton algorithm in R", arXiv:1706.02808 (2017).
    .. [2] J. Matousek, "On the L2-discrepancy for anchored boxes",
       J. Complexity 14 (1998).
    .. [3] A. B. Owen, "Randomly permuted (t, m, s)-nets and (t, s)-sequences",
       in Monte Carlo and Quasi-Monte Carlo Methods in Scientific Computing
       (1995); A. B. Owen, "Monte Carlo variance of scrambled net quadrature",
       SIAM J. Numer. Anal. 34 (1997).

    Examples
    --------
    >>> from orthla.qmc import Halton
    >>> Halton(2, randomize=False).random(4)
    array([[0.        , 0.        ],
           [0.5       , 0.33333333],
           [0.25      , 0.66666667],
           [0.75      , 0.11111111]])
    >>> x = Halton(3, rng=0, replications=4).random(1000)
    >>> x.shape
    (4, 1000, 3)
    >>> eng = Halton(2, randomize="nus", rng=1)
    >>> a = eng.random(8)
    >>> bool((eng.reset().random(16)[:8] == a).all())
    True
    """

    def __init__(self, d: int, *, randomize: str | bool = "lms-dp", engine: str = "auto",
                 replications: int | None = None, rng: Any = None, xp: Any = None,
                 device: Any = None, dtype: Any = None, optimization: str | None = None) -> None:
        super().__init__(d, order="natural", replications=replications, rng=rng, xp=xp,
                         device=device, dtype=dtype, optimization=optimization)
        self.randomize = check_choice(randomize, "randomize", _RANDOMIZE)
        self.engine = select_engine(engine, self.xp)
        self.bases = first_primes(self.d)
        self._ndigits = np.array([_digits_needed(int(b)) for b in self.bases], dtype=np.int64)
        R = self._R
        # Only the randomness in use is drawn and stored (same draws, in the same order, as one
        # LMS matrix then one permutation table per dimension); identities are made on access.
        lms = self.randomize in ("lms-dp", "lms")
        dp = self.randomize in ("lms-dp", "dp")
        K_all, b_all = self._ndigits, self.bases
        # Each table lives in one flat array per replication (the kernels read it as is, no
        # per-call concatenation); the per-dimension tables are views into it.
        lms_off, perm_off = _offsets(K_all * K_all), _offsets(K_all * b_all)
        lms_flat = np.empty((R, int(lms_off[-1]) if lms else 0), dtype=np.int64)
        perm_flat = np.empty((R, int(perm_off[-1]) if dp else 0), dtype=np.int64)
        mats: list[np.ndarray] = []
        perms: list[np.ndarray] = []
        if lms or dp:
            for j, (b, K) in enumerate(zip(b_all.tolist(), K_all.tolist(), strict=True)):
                if lms:
                    # unit lower-triangular over Z_b: random below, random nonzero diagonal
                    mat = lms_flat[:, lms_off[j] : lms_off[j + 1]].reshape(R, K, K)
                    mat[...] = self.rng.integers(0, b, size=(R, K, K))
                    mat *= _strict_lower(K)
                    diag = np.arange(K)
                    mat[:, diag, diag] = self.rng.integers(1, b, size=(R, K))
                    mats.append(mat)
                if dp:
                    perm = perm_flat[:, perm_off[j] : perm_off[j + 1]].reshape(R, K, b)
                    self.rng.permuted(np.broadcast_to(np.arange(b, dtype=np.int64), (R, K, b)), axis=2,
                                      out=perm)
                    perms.append(perm)
        self._lms: list[np.ndarray] | None = mats if lms else None
        self._perms: list[np.ndarray] | None = perms if dp else None
        self._flat: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if lms:
            self._flat["lms"] = (lms_off[:-1], lms_flat)
        if dp:
            self._flat["perm"] = (perm_off[:-1], perm_flat)
        self._device_tables: dict[Any, Any] = {}

        self.nus = draw_nus(self.bases, self._ndigits, R, self.rng) if self.randomize == "nus" else None
        # Numba's digit split divides through a float reciprocal (exact below 2^53); randomized
        # points keep K_b digits of the index, so they would repeat after b^K_b points.
        cap = 2**53
        if self._scrambled and self.d:
            cap = min(cap, min(int(b) ** int(K) for b, K in zip(self.bases, self._ndigits, strict=True)))
        self._max_points = cap
        self._capacity_hint = ("indices are split into digits exactly below 2^53" if cap == 2**53 else
                               "randomized points keep K_b digits of the index in each base b")

    @property
    def permutations(self) -> _Tables:
        """Digit permutations per dimension, ``permutations[j]`` of shape ``(R, K_j, b_j)``."""
        R = self._R
        return _Tables(self._perms, lambda j: np.broadcast_to(
            np.arange(int(self.bases[j]), dtype=np.int64), (R, int(self._ndigits[j]), int(self.bases[j]))), self.d)

    @permutations.setter
    def permutations(self, tables: Any) -> None:
        self._perms = list(tables)
        self._flat.pop("perm", None)
        self._device_tables.clear()

    @property
    def lms_matrices(self) -> _Tables:
        """LMS matrices per dimension, ``lms_matrices[j]`` of shape ``(R, K_j, K_j)``."""
        R = self._R
        return _Tables(self._lms, lambda j: np.broadcast_to(
            np.eye(int(self._ndigits[j]), dtype=np.int64), (R, int(self._ndigits[j]), int(self._ndigits[j]))), self.d)

    @lms_matrices.setter
    def lms_matrices(self, tables: Any) -> None:
        self._lms = list(tables)
        self._flat.pop("lms", None)
        self._device_tables.clear()

    @property
    def table_entries(self) -> int:
        """Number of stored integers of the digit randomization (permutations, LMS, NUS tables)."""
        total = sum(t.size for t in self._perms or ()) + sum(t.size for t in self._lms or ())
        if self.nus is not None:
            total += sum(t.size for t in self.nus.tables) + self.nus.keys.size
        return int(total)

    @property
    def _scrambled(self) -> bool:
        return self.randomize is not False

    def _generate(self, start: int, n: int) -> Any:
        if self.randomize == "nus":
            if self.engine == "numba":
                return self._finish(self._generate_nus_numba(start, n))
            return self._finish(nus_points_xp(self.nus, self.bases, self._ndigits, self._indices(start, n),
                                              self.xp, self.device))
        if self.engine == "numba":
            return self._finish(self._generate_numba(start, n))
        xp = self.xp
        out = self._generate_xp(start, n)
        if self._scrambled:  # a sum of K scrambled digits may round up to 1.0; keep [0, 1)
            below_one = xp.asarray(1.0 - 2.0**-53, dtype=xp.float64, device=self.device)
            out = xp.where(out >= 1, below_one, out)
        return self._finish(out)

    def _table(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(offsets (d,), flat (R, total)) of the "perm" or "lms" tables, flattened once and cached."""
        if kind not in self._flat:
            tables = self._perms if kind == "perm" else self._lms
            self._flat[kind] = _flatten(tables, self._R)
        return self._flat[kind]

    def _generate_numba(self, start: int, n: int) -> np.ndarray:
        from ._halton_numba import halton_dp_points, halton_points

        K = self._ndigits
        out = np.empty((self._R, self.d, n))  # dimension-major: each kernel row is contiguous
        empty = np.zeros((self._R, 0), dtype=np.int64)
        zeros = np.zeros(self.d, dtype=np.int64)
        perm_off, perm = self._table("perm") if self._perms is not None else (zeros, empty)
        lms_off, lms = self._table("lms") if self._lms is not None else (zeros, empty)
        def fill(r: int, j0: int, j1: int) -> None:
            dims = slice(j0, j1)
            if self._perms is not None and self._lms is None:
                # no LMS: the blocked kernel is faster than the counter walk
                halton_dp_points(self.bases[dims], K[dims], perm_off[dims], perm[r], start, out[r, dims])
            else:
                halton_points(self.bases[dims], K[dims], perm_off[dims], perm[r], self._perms is not None,
                              lms_off[dims], lms[r], self._lms is not None, self._scrambled, start,
                              out[r, dims])

        _run_split(fill, self._R, self.d, self._workers)
        return np.swapaxes(out, 1, 2)  # a view, as SciPy returns

    def _generate_nus_numba(self, start: int, n: int) -> np.ndarray:
        from ._halton_numba import halton_nus_points

        nus = self.nus
        if "nus" not in self._flat:
            self._flat["nus"] = _flatten(nus.tables, self._R)
        tab_off, tables = self._flat["nus"]
        out = np.empty((self._R, self.d, n))

        def fill(r: int, j0: int, j1: int) -> None:
            dims = slice(j0, j1)
            halton_nus_points(self.bases[dims], self._ndigits[dims], nus.levels[dims], tab_off[dims],
                              tables[r], np.ascontiguousarray(nus.keys[r, dims]), start, out[r, dims])

        _run_split(fill, self._R, self.d, self._workers)
        return np.swapaxes(out, 1, 2)

    def _generate_xp(self, start: int, n: int) -> Any:
        xp = self.xp
        i = self._indices(start, n)
        cols = []
        for j, b in enumerate(self.bases.tolist()):
            w = 1.0 / b
            if not self._scrambled:
                x = xp.zeros((self._R, n), dtype=xp.float64, device=self.device)
                q = i
                for _ in range(self._max_digits(start + n - 1, b)):
                    x = x + xp.astype(q % b, xp.float64)[None, :] * w
                    q = q // b
                    w /= b
                cols.append(x)
                continue
            K = int(self._ndigits[j])
            q = i
            digits = []
            for _ in range(K):
                digits.append(q % b)
                q = q // b
            a = xp.stack(digits, axis=1)  # (n, K), least significant digit first
            if self._lms is not None:
                lt = self._device_table("lms", j)
                # (R, n, K): new digit r = sum_k L[r, k] a_k mod b.  A float64 product (BLAS) is
                # exact: K b^2 < 2^53 for every base in reach, and integer matmul has no BLAS.
                s = xp.astype(a, xp.float64)[None, :, :] @ lt
                a = xp.astype(s, xp.int64) % b
            else:
                a = xp.broadcast_to(a[None, :, :], (self._R, n, K))
            perm = None if self._perms is None else self._device_table("perm", j)  # (R, K, b)
            x = xp.zeros((self._R, n), dtype=xp.float64, device=self.device)
            for k in range(K):
                if perm is None:
                    vals = a[:, :, k]
                else:
                    pk = perm[:, k, :]
                    vals = xp.stack([xp.take(pk[r, :], a[r, :, k]) for r in range(self._R)])
                x = x + xp.astype(vals, xp.float64) * w
                w /= b
            cols.append(x)
        return xp.stack(cols, axis=-1)

    def _device_table(self, kind: str, j: int) -> Any:
        """Table ``j`` on the engine's device, moved once: LMS transposed as float64, or the permutations."""
        key = (kind, j)
        if key not in self._device_tables:
            if kind == "lms":
                host = np.ascontiguousarray(np.swapaxes(self._lms[j], 1, 2), dtype=np.float64)
            else:
                host = self._perms[j]
            self._device_tables[key] = self._to_device(host)
        return self._device_tables[key]

    @staticmethod
    def _max_digits(top: int, b: int) -> int:
        k = 0
        while top > 0:
            top //= b
            k += 1
        return k
