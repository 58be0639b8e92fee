"""The Cayley parametrization ``Q = (I - S)(I + S)^{-1}`` of orthogonal matrices by skew ``S``.

Convention (one for every path of this module): ``Q = (I - S)(I + S)^{-1} = (I + S)^{-1}(I - S)
= 2 (I + S)^{-1} - I``; its inverse map is ``S = (I - Q)(I + Q)^{-1}`` (the same formula).  The
truncated Neumann series replaces ``(I + S)^{-1}`` by ``sum_{k<K} (-S)^k``, which gives exactly
``Q_K = (I - (-S)^K) Q``.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, NamedTuple

from .._backend import device
from .._validate import check_choice, check_int, check_real, eps
from ._param_base import OrthogonalParametrization
from ._qr_common import host_float
from ._skew import (
    SkewGenerated,
    check_orthogonal,
    check_skew,
    norm_bounds,
    params_to_skew,
    random_params,
    skew_stats,
)

__all__ = ["Cayley", "CayleyResult", "cayley"]

METHODS = ("exact", "neumann")
#: Default and largest number of Neumann terms.
DEFAULT_TERMS = 5
MAX_TERMS = 16


class CayleyResult(NamedTuple):
    """Result of :func:`cayley`.

    Attributes
    ----------
    Q : array
        The orthogonal matrices, shape ``S.shape``.
    method : str
        The method that computed ``Q``: ``"exact"`` or ``"neumann"``.  It is ``"exact"`` after a
        fallback (Neumann was asked for but its bound exceeded ``tol`` or could not be shown < 1).
    terms : int or None
        Neumann terms used (``None`` for ``"exact"``).
    norm_bound : float
        Upper bound ``s >= ||S||_2`` (largest over the batch) used in the bounds.
    error_bound : float
        Bound on ``max ||Q - Q_exact||_2`` over the batch: ``s**K`` from the series truncation
        (rigorous) plus the rounding allowance ``(K + 1) d eps``; for ``"exact"`` the first-order
        rounding estimate ``2 d eps sqrt(1 + s^2)``.
    orth_bound : float
        Bound on ``max ||Q^T Q - I||_2`` over the batch: the truncation bound (``s**(2K)`` for odd
        ``K``, ``2 s**K + s**(2K)`` for even ``K``, rigorous) plus a rounding allowance
        ``(K + 1) d eps``; for ``"exact"`` twice the estimate of ``error_bound``.
    """

    Q: Any
    method: str
    terms: int | None
    norm_bound: float
    error_bound: float
    orth_bound: float


def _check_options(method: Any, terms: Any, tol: Any) -> tuple[str, int | None, float | None]:
    method = check_choice(method, "method", METHODS)
    if method == "exact":
        if terms is not None:
            raise ValueError(f"`terms` applies to method='neumann' only; got terms={terms!r} with method='exact'.")
        k = None
    else:
        k = DEFAULT_TERMS if terms is None else check_int(terms, "terms", low=1, high=MAX_TERMS)
    if tol is not None:
        tol = check_real(tol, "tol", low=0.0, low_open=True)
    return method, k, tol


def neumann_bounds(s: float, terms: int, d: int, unit: float) -> tuple[float, float]:
    """``(error_bound, orth_bound)`` of the ``terms``-term series for ``||S||_2 <= s < 1``.

    ``Q_K = (I - (-S)^K) Q`` with ``Q`` orthogonal and commuting with ``S``, so
    ``||Q_K - Q||_2 = ||S^K||_2 <= s^K`` and ``Q_K^T Q_K - I = E(S)`` with eigenvalues
    ``|1 - (-i theta)^K|^2 - 1``: ``theta^(2K)`` for odd ``K`` and at most ``2 theta^K + theta^(2K)``
    for even ``K``.  The rounding allowance ``(K + 1) d eps`` is added to the latter.
    """
    err = s**terms
    trunc = s ** (2 * terms) if terms % 2 else 2.0 * err + s ** (2 * terms)
    rounding = (terms + 1) * d * unit
    return err + rounding, trunc + rounding


def _exact(S: Any, xp: ModuleType) -> Any:
    eye = xp.eye(S.shape[-1], dtype=S.dtype, device=device(S))
    return xp.linalg.solve(eye + S, eye - S)


def _fro(P: Any, xp: ModuleType) -> Any:
    return xp.sqrt(xp.sum(P * P, axis=(-2, -1)))


def _neumann(S: Any, terms: int, upper: Any, xp: ModuleType) -> tuple[Any, Any]:
    """``Q_K = I + 2 sum_{1<=k<K} (-S)^k + (-S)^K`` and the refined bound on ``||S||_2`` per matrix.

    The even powers computed on the way tighten the bound: ``-S^2 = S^T S`` is symmetric positive
    semidefinite, so ``||S||_2 <= ||S^(2m)||_F^(1/(2m))`` (rounding slack ``1 + 4 d eps`` added).
    """
    d = S.shape[-1]
    unit = eps(S.dtype, xp)
    tiny = float(xp.finfo(S.dtype).smallest_normal) / unit
    A = -S
    acc = xp.eye(d, dtype=S.dtype, device=device(S)) + (2.0 if terms > 1 else 1.0) * A
    P = A
    s = upper
    for k in range(2, terms + 1):
        P = P @ A
        acc = acc + (2.0 * P if k < terms else P)
        if k % 2 == 0:
            f = _fro(P, xp)
            refined = (xp.where(f > tiny, f, xp.ones_like(f)) ** (1.0 / k)) * (1.0 + 4 * d * unit)
            s = xp.where(f > tiny, xp.minimum(s, refined), s)
    return acc, s


def cayley(S: Any, *, method: str = "exact", terms: int | None = None, tol: float | None = None) -> CayleyResult:
    """Cayley transform ``Q = (I - S)(I + S)^{-1}`` of skew-symmetric ``S``, batched.

    Parameters
    ----------
    S : array, shape (..., d, d)
        Skew-symmetric matrices (``S^T = -S`` to ``100 d eps`` relative; the exact skew part
        ``(S - S^T)/2`` is used).  Leading dimensions are a batch.
    method : {"exact", "neumann"}
        ``"exact"``: one batched LU solve ``Q = solve(I + S, I - S)``.  ``"neumann"``: the truncated
        Neumann series ``(I + S)^{-1} ~ sum_{k<terms} (-S)^k`` (matrix products only).
    terms : int, optional
        Number of Neumann terms ``K`` (1 to 16, default 5; odd ``K`` are much more orthogonal, see
        Notes).  Only with ``method="neumann"``.
    tol : float, optional
        Largest acceptable ``orth_bound`` for the Neumann series.  When the bound exceeds ``tol``
        -- or when ``||S||_2 < 1`` cannot be shown, in which case the series has no useful bound
        whatever ``tol`` is -- ``cayley`` **falls back** to ``"exact"`` for the whole batch and
        reports ``method="exact"`` in the result.

    Returns
    -------
    CayleyResult
        ``(Q, method, terms, norm_bound, error_bound, orth_bound)``.

    Raises
    ------
    ValueError
        If ``S`` is not skew-symmetric (the message gives ``max|S + S^T| / max|S|``), not square,
        empty or not finite, or an option is out of range; or if ``||S||_2 >= ||S||_F / sqrt(d)``
        exceeds ``1/sqrt(eps)``: ``I + S`` then has condition number ``~||S||_2`` and ``Q`` would be
        orthogonal only to about ``||S||_2 eps`` (the same limit as :meth:`Cayley.from_matrix`).
    TypeError
        If ``S`` is not a real floating (or integer) array.

    Notes
    -----
    Convention: ``Q = (I - S)(I + S)^{-1}`` (every path of orthla follows it; ``(I + S)^{-1}(I - S)``
    is the same matrix, the factors commute).  ``I + S`` is never singular for skew ``S`` (its
    eigenvalues are ``1 + i theta``) and ``||(I + S)^{-1}||_2 <= 1``.

    The ``K``-term series gives exactly ``Q_K = (I - S) sum_{k<K} (-S)^k = (I - (-S)^K) Q``, hence,
    with ``s >= ||S||_2``:

    * ``||Q_K - Q||_2 = ||S^K||_2 <= s^K``;
    * ``||Q_K^T Q_K - I||_2 = max_j | |1 - (-i theta_j)^K|^2 - 1 |`` which is ``<= s^(2K)`` for odd
      ``K`` (the error is purely imaginary on each eigenvalue, only its square remains) and
      ``<= 2 s^K + s^(2K)`` for even ``K``.

    ``s`` is rigorous and cheap: ``min(||S||_1, ||S||_F / sqrt(2), ||S^(2m)||_F^(1/(2m)))`` over the
    even powers the series computes anyway (``||S^(2m)||_F^(1/(2m))`` overestimates ``||S||_2``
    by at most ``d^(1/(4m))``).  Cost: ``K - 1`` matrix products for ``"neumann"``, one LU and a
    solve with ``d`` right-hand sides (about ``8/3 d^3`` flops) for ``"exact"``.  Host syncs: four
    (finiteness, skew check, the lower bound on ||S||_2 that guards the series and the
    too-large refusal, the final bound); the elementwise checks and bounds cost about ten passes
    over ``S`` (measured 20-35% over a bare series at b = 256, up to 3x at b = 32).

    References
    ----------
    .. [1] A. Cayley, "Sur quelques propriétés des déterminants gauches", J. reine angew. Math. 32
       (1846).
    .. [2] Z. Qiu et al., "Orthogonal finetuning made scalable", arXiv:2506.19847 (2025) (the
       Cayley-Neumann parametrization of OFTv2).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import cayley
    >>> S = np.array([[0.0, -0.1], [0.1, 0.0]])
    >>> res = cayley(S)
    >>> bool(np.allclose(res.Q.T @ res.Q, np.eye(2)))
    True
    >>> approx = cayley(S, method="neumann", terms=3)
    >>> approx.method, approx.terms
    ('neumann', 3)
    >>> bool(np.linalg.norm(approx.Q - res.Q, 2) <= approx.error_bound)
    True
    >>> cayley(10 * S, method="neumann", terms=3, tol=1e-6).method   # bound too large: exact
    'exact'
    """
    method, K, tol = _check_options(method, terms, tol)
    S, xp, lower, upper = skew_stats(S, "S", copy=False)
    return _cayley(S, xp, method, K, tol, "S", (lower, upper))


def _check_size(lower: Any, S: Any, xp: ModuleType, name: str) -> float:
    unit = eps(S.dtype, xp)
    lo = host_float(xp.max(lower))
    if lo > 1.0 / math.sqrt(unit):
        raise ValueError(f"`{name}` is too large for the Cayley map in {S.dtype}: ||S||_2 >= {lo:.3g} > 1/sqrt(eps) = "
                         f"{1 / math.sqrt(unit):.3g}; I + S has condition number ~||S||_2 and Q would be "
                         "orthogonal only to about ||S||_2 eps.")
    return lo


def _cayley(S: Any, xp: ModuleType, method: str, K: int | None, tol: float | None, name: str,
            bounds: tuple[Any, Any] | None = None) -> CayleyResult:
    d = S.shape[-1]
    unit = eps(S.dtype, xp)
    lower, upper = norm_bounds(S, xp) if bounds is None else bounds
    lo = _check_size(lower, S, xp, name)
    if method == "neumann" and K is not None and lo < 1.0:
        Q, s = _neumann(S, K, upper, xp)
        s_max = host_float(xp.max(s))
        if s_max < 1.0:
            err, orth = neumann_bounds(s_max, K, d, unit)
            if tol is None or orth <= tol:
                return CayleyResult(Q, "neumann", K, s_max, err, orth)
    s_max = host_float(xp.max(upper))
    est = 2.0 * d * unit * math.hypot(1.0, s_max)
    return CayleyResult(_exact(S, xp), "exact", None, s_max, est, 2.0 * est)


class Cayley(SkewGenerated, OrthogonalParametrization):
    """Orthogonal ``Q = (I - S)(I + S)^{-1}`` from skew ``S`` (batched), applied by solves or GEMMs.

    Parameters
    ----------
    S : array, shape (..., d, d)
        Skew-symmetric generators (the skew part ``(S - S^T)/2`` is kept, a copy).
    method, terms, tol
        As in :func:`cayley`: how :meth:`matrix` is formed (``"exact"`` LU solve or a Neumann series
        with the documented fallback).

    Notes
    -----
    ``apply(x)`` without a formed matrix and with few columns (``k <= d/4``, method ``"exact"``)
    solves ``Q x = 2 (I + S)^{-1} x - x`` (``Q^T x = 2 (I - S)^{-1} x - x``): one LU per call,
    ``2/3 d^3 + 2 d^2 k`` flops, less than forming ``Q``.  Otherwise ``Q`` is formed once (see
    :func:`cayley`), cached, and applied by one GEMM, ``2 d^2 k`` flops.  On torch, build a new
    ``Cayley`` per forward pass (as for anything computed from parameters): the cached ``Q``
    belongs to one autograd graph.  The cached matrix is returned by :meth:`matrix` without a copy;
    do not modify it in place.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import Cayley
    >>> C = Cayley.random(4, rng=0, scale=0.3)
    >>> x = np.arange(8.0).reshape(4, 2)
    >>> bool(np.allclose(C.apply(x), C.matrix() @ x))
    True
    >>> bool(np.allclose(C.T.apply(C.apply(x)), x))
    True
    >>> bool(np.allclose(Cayley.from_matrix(C.matrix()).skew, C.skew))
    True
    """

    def __init__(self, S: Any, *, method: str = "exact", terms: int | None = None,
                 tol: float | None = None) -> None:
        self._method, self._terms, self._tol = _check_options(method, terms, tol)
        S, xp = check_skew(S, "S")
        self._init(S, xp)

    def _init(self, S: Any, xp: ModuleType, name: str = "S") -> None:
        self._set_generator(S, xp, name)
        self._result: CayleyResult | None = None
        _check_size(norm_bounds(S, xp)[0], S, xp, name)  # the solve path of apply needs it too

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_params(cls, p: Any, d: int, *, method: str = "exact", terms: int | None = None,
                    tol: float | None = None) -> Cayley:
        """From the ``d(d-1)/2`` strictly-lower-triangular entries ``p`` (shape ``(..., d(d-1)/2)``).

        ``S = L - L^T`` with ``L[i, j] = p[...,  k]`` for ``(i, j)`` the ``k``-th pair of
        ``numpy.tril_indices(d, -1)`` (row-major: ``(1,0), (2,0), (2,1), (3,0), ...``); built with
        ``take`` (differentiable on torch).

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import Cayley
        >>> Cayley.from_params(np.array([0.5]), 2).skew
        array([[ 0. , -0.5],
               [ 0.5,  0. ]])
        """
        opts = _check_options(method, terms, tol)
        S, xp = params_to_skew(p, d, "p")
        out = cls.__new__(cls)
        out._method, out._terms, out._tol = opts
        out._init(S, xp, "p")
        return out

    @classmethod
    def from_matrix(cls, Q: Any) -> Cayley:
        """The inverse map ``S = (I - Q)(I + Q)^{-1}`` for orthogonal ``Q`` without eigenvalue ``-1``.

        Raises
        ------
        ValueError
            If ``Q`` is not orthogonal (``max|Q^T Q - I| > sqrt(eps)``), or ``I + Q`` is singular to
            working precision: ``-1`` is an eigenvalue (always so when ``det Q = -1``) or nearly, so
            that ``||S||_2`` would exceed ``1/sqrt(eps)`` (``S`` would carry less than half the
            digits).  The message gives the bound found.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import Cayley
        >>> c, s = np.cos(0.4), np.sin(0.4)
        >>> float(Cayley.from_matrix(np.array([[c, -s], [s, c]])).skew[1, 0])   # -tan(0.2)
        -0.2027100355086725
        """
        Q, xp = check_orthogonal(Q, "Q")
        d = Q.shape[-1]
        eye = xp.eye(d, dtype=Q.dtype, device=device(Q))
        unit = eps(Q.dtype, xp)
        try:
            M = xp.linalg.solve(eye + Q, eye - Q)
        except (ValueError, RuntimeError, ArithmeticError) as exc:
            raise ValueError("`Q` has the eigenvalue -1 (I + Q is singular), which the Cayley map cannot "
                             "reach; det(Q) = -1 always has it.") from exc
        if not bool(xp.all(xp.isfinite(M))):
            raise ValueError("`Q` has the eigenvalue -1 (I + Q is singular), which the Cayley map cannot reach.")
        S = (M - xp.matrix_transpose(M)) * 0.5
        s = host_float(xp.max(norm_bounds(S, xp)[1]))
        if s > 1.0 / math.sqrt(unit):
            raise ValueError(f"`Q` has an eigenvalue -1 to working precision: ||S||_2 <= {s:.3g} exceeds "
                             f"1/sqrt(eps) = {1 / math.sqrt(unit):.3g} (I + Q is singular to working precision).")
        out = cls.__new__(cls)
        out._method, out._terms, out._tol = "exact", None, None
        out._init(S, xp, "Q")
        return out

    @classmethod
    def random(cls, d: int, *, batch_shape: tuple[int, ...] = (), scale: float = 1.0, rng: Any = None,
               dtype: Any = None, xp: Any = None, method: str = "exact", terms: int | None = None,
               tol: float | None = None) -> Cayley:
        """Seeded random generator: the ``d(d-1)/2`` parameters i.i.d. ``N(0, scale^2)``.

        ``dtype`` (default float64) and ``xp`` (default NumPy) choose the array library.

        Examples
        --------
        >>> from orthla.ortho import Cayley
        >>> Cayley.random(3, batch_shape=(2,), rng=1).shape
        (2, 3, 3)
        """
        d, p, xp = random_params(d, batch_shape, scale, rng, dtype, xp)
        return cls.from_params(p, d, method=method, terms=terms, tol=tol)

    # ------------------------------------------------------------------ accessors

    @property
    def result(self) -> CayleyResult:
        """The :class:`CayleyResult` of forming ``Q`` (method used, bounds); forms ``Q`` if needed."""
        if self._result is None:
            self._result = _cayley(self._S, self._xp, self._method, self._terms, self._tol, self._name)
        return self._result

    def matrix(self) -> Any:
        """The dense ``Q``, shape ``batch_shape + (d, d)`` (formed once and cached)."""
        return self.result.Q

    def _apply(self, x: Any, transpose: bool) -> Any:
        xp = self._xp
        if self._result is None and self._method == "exact" and 4 * x.shape[-1] <= self._d:
            eye = xp.eye(self._d, dtype=self._dtype, device=self._device)
            M = eye - self._S if transpose else eye + self._S
            M = M if M.dtype == x.dtype else xp.astype(M, x.dtype)  # x may be promoted past the dtype
            shape = (*_broadcast(M.shape[:-2], x.shape[:-2]), self._d)
            y = xp.linalg.solve(xp.broadcast_to(M, (*shape, self._d)),
                                xp.broadcast_to(x, (*shape, x.shape[-1])))
            return 2.0 * y - x
        Q = self.matrix()
        Q = Q if Q.dtype == x.dtype else xp.astype(Q, x.dtype)  # x may be promoted past the dtype
        return (xp.matrix_transpose(Q) if transpose else Q) @ x


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for i, j in zip(a, b, strict=True):
        out.append(max(i, j) if 0 not in (i, j) else 0)
    return tuple(out)
