"""Uniformly random k-subset pivoting: Jacobi, one-sided Jacobi, Cholesky and Gram-Schmidt as one loop."""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from .._backend import capability
from .._validate import (
    as_floating,
    as_rng,
    check_choice,
    check_finite,
    check_int,
    check_ndim,
    check_real,
    check_square,
    check_symmetric,
    eps,
    is_complex,
)
from ._jacobi_common import JacobiConvergenceWarning
from ._jacobi_onesided import cholesky_factor
from ._rp_common import binary_exponent, namespace_of, scale_pow2

__all__ = ["RandomPivotResult", "pivot_potential", "random_pivot_factorize"]

KINDS = ("eigh", "svd", "cholesky", "qr")


class RandomPivotResult(NamedTuple):
    """Result of :func:`random_pivot_factorize`.

    Attributes
    ----------
    factors : tuple of arrays
        ``kind="eigh"``: ``(eigenvalues, eigenvectors)``, ascending;
        ``"svd"``: ``(U, S, Vh)``, S descending, economy size;
        ``"cholesky"``: ``(L,)`` lower triangular with ``a = L L^H``;
        ``"qr"``: ``(Q, R)``, economy, ``R`` upper triangular with positive diagonal.
    potential : array or None
        ``pivot_potential`` of the working matrix (its Gram matrix for "svd"/"qr")
        before the first step and after each step; ``None`` unless
        ``record_potential=True``.
    steps : int
        Pivot steps taken.
    converged : bool
        Whether the stopping rule was met within ``max_steps``.
    """

    factors: tuple
    potential: Any
    steps: int
    converged: bool


@capability("pivoting", numba=False)
def pivot_potential(b: Any) -> Any:
    """The potential Gamma(B) = tr(B o B^-1) - n of an invertible matrix.

    Parameters
    ----------
    b : array_like, shape (n, n)
        Invertible matrix (the potential is meant for Hermitian positive definite
        ``b``, for example a Gram matrix ``a^H a``).  Never modified.

    Returns
    -------
    array, 0-d
        ``sum_i b_ii (b^-1)_ii - n`` (real part), in the namespace and on the device of ``b``.

    Raises
    ------
    ValueError
        If ``b`` is not square or has NaN/Inf.
    numpy.linalg.LinAlgError
        If ``b`` is singular to working precision (on every array library; a subclass of
        ``ValueError``, naming ``b``).
    TypeError
        If ``b`` is not an array or has a non-numeric, boolean or float16 dtype.

    Notes
    -----
    ``o`` is the Hadamard product, so only diagonals enter.  For positive definite
    ``b``, Gamma >= 0 with equality exactly when ``b`` is diagonal, and Gamma is
    invariant under diagonal scaling ``b -> D b D``; it bounds the scaled condition
    number that governs the relative accuracy of Jacobi's method [1]_.  Every
    uniformly random k-subset pivot step of :func:`random_pivot_factorize` lowers it
    in expectation by the exact factor ``1 - k(k-1)/(n(n-1))``.  Cost: one inverse,
    ``O(n^3)``.  The potential does not change when ``b`` is multiplied by a scalar, so ``b``
    is scaled by a power of two with ``max|b|`` near 1 before the inverse (1e+-200 behave like 1).

    References
    ----------
    .. [1] I. Detherage, R. Shah, "A unified perspective on orthogonalization and
       diagonalization", arXiv:2505.02023 (2025).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import pivot_potential
    >>> float(pivot_potential(np.diag([1.0, 5.0])))
    0.0
    >>> round(float(pivot_potential(np.array([[2.0, 1.0], [1.0, 2.0]]))), 6)
    0.666667
    """
    xp = namespace_of(b, "b")
    b = xp.asarray(b) if not hasattr(b, "shape") else b
    check_square(b, "b")
    b = as_floating(b, "b", xp)
    check_finite(b, "b", xp)
    if b.shape[0]:  # Gamma(c b) = Gamma(b): invert b * 2**-e, max|b| near 1 (no over/underflow)
        e = binary_exponent(float(xp.max(xp.abs(b))))
        if abs(e) > 60:
            b = scale_pow2(b, -e)
    return _potential(b, xp, "b")


def _potential(b, xp, name="b"):
    n = b.shape[0]
    try:
        inv = xp.linalg.inv(b)
        ok = n == 0 or bool(xp.all(xp.isfinite(inv)))
    except Exception:  # each library signals a singular matrix its own way
        ok = False
    if not ok:
        raise np.linalg.LinAlgError(f"`{name}` must be invertible for the potential; its inverse "
                                    "could not be computed (singular to working precision).")
    prod = xp.linalg.diagonal(b) * xp.linalg.diagonal(inv)
    return xp.asarray(xp.sum(xp.real(prod)) - n)  # a 0-d array (NumPy's sum gives a scalar)


@capability("pivoting", numba=False)
def random_pivot_factorize(a: Any, kind: str = "eigh", *, block: int = 2, tol: float | None = None,
                           max_steps: int | None = None, rng: Any = None,
                           record_potential: bool = False) -> RandomPivotResult:
    """Factor ``a`` by repeated steps on uniformly random pivot sets (the unified driver).

    Each step draws a set J of ``block`` indices uniformly at random and makes the
    J-block of the working matrix diagonal (two-sided kinds) or the J-columns
    mutually orthogonal (one-sided kinds), by an orthogonal transform (``"eigh"``,
    ``"svd"``) or a unit triangular one (``"cholesky"``, ``"qr"``).

    Parameters
    ----------
    a : array_like
        ``"eigh"``: Hermitian (n, n); ``"cholesky"``: Hermitian positive definite
        (n, n); ``"svd"``: any (m, n); ``"qr"``: (m, n) with m >= n and full column
        rank.  Any array-API library; never modified.
    kind : {"eigh", "svd", "cholesky", "qr"}, default "eigh"
        The factorization.
    block : int, default 2
        Size k of the pivot sets, 2 <= k <= n.
    tol : float, optional
        Stop when the relative off-diagonal measure (``max |b_ij| / sqrt(|b_ii b_jj|)``
        of the working matrix, or of its Gram matrix for one-sided kinds) is at most
        ``tol``; checked every ~n(n-1)/(k(k-1)) steps.  Default ``8 max(m, n) eps``
        (the Gram matrix of the one-sided kinds is only known to about that accuracy).
    max_steps : int, optional
        Step budget; default ``50 * ceil(n(n-1) / (k(k-1)))`` (50 sweep equivalents).
    rng : numpy.random.Generator, int or None
        Source of the pivot sets (SPEC 7).
    record_potential : bool, default False
        Record ``pivot_potential`` after every step (an extra ``O(n^3)`` per step).

    Returns
    -------
    RandomPivotResult
        ``(factors, potential, steps, converged)``; see :class:`RandomPivotResult`.

    Raises
    ------
    ValueError
        Bad shape (non-square for "eigh"/"cholesky", m < n for "qr"), non-Hermitian
        input for "eigh"/"cholesky", NaN/Inf, or an invalid option; for "qr", a
        column that becomes zero (rank deficiency).
    numpy.linalg.LinAlgError
        ``kind="cholesky"`` and ``a`` is not positive definite (names the failing pivot).

    Warns
    -----
    JacobiConvergenceWarning
        If the stopping rule is not met within ``max_steps``.

    Notes
    -----
    With the potential Gamma of :func:`pivot_potential`, every step satisfies
    ``E[Gamma'] = (1 - k(k-1)/(n(n-1))) Gamma`` exactly [1]_, so the expected
    potential decays geometrically for all four kinds alike.  The triangular kinds
    respect the index order, so their limits are the *unpivoted* factors: the
    Cholesky factor of ``a`` and the Q of Householder QR up to column signs.
    This driver is for analysis and teaching: every step costs ``O(n^2)`` array
    operations plus a k x k factorization, so it is far slower than LAPACK or than
    :func:`jacobi_eigh` / :func:`jacobi_svd`.

    References
    ----------
    .. [1] I. Detherage, R. Shah, "A unified perspective on orthogonalization and
       diagonalization", arXiv:2505.02023 (2025).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import random_pivot_factorize
    >>> a = np.array([[4.0, 2.0, 0.0], [2.0, 5.0, 1.0], [0.0, 1.0, 3.0]])
    >>> (low,), pot, steps, ok = random_pivot_factorize(a, "cholesky", rng=0, record_potential=True)
    >>> ok, bool(np.allclose(low, np.linalg.cholesky(a)))
    (True, True)
    >>> bool(pot[0] > 0.1) and bool(pot[-1] < 1e-20)
    True
    """
    xp = namespace_of(a, "a")
    a = xp.asarray(a) if not hasattr(a, "shape") else a
    check_choice(kind, "kind", KINDS)
    check_ndim(a, "a", 2)
    a = as_floating(a, "a", xp)
    check_finite(a, "a", xp)
    m, n = a.shape
    # homogeneous: factor a * 2**-e (e even for the two-sided kinds, whose factors scale by
    # 2**(e/2)) with max|a| near 1, and scale the factors back on exit
    e = binary_exponent(float(xp.max(xp.abs(a)))) if m * n else 0
    e = 0 if abs(e) <= 60 else (2 * (e // 2) if kind in ("eigh", "cholesky") else e)
    if e:
        res = _factorize(scale_pow2(a, -e), kind, block, tol, max_steps, rng, record_potential, xp)
        return res._replace(factors=_unscale(res.factors, kind, e))
    return _factorize(a, kind, block, tol, max_steps, rng, record_potential, xp)


def _unscale(factors, kind, e):
    if kind == "eigh":
        return (scale_pow2(factors[0], e), factors[1])
    if kind == "cholesky":
        return (scale_pow2(factors[0], e // 2),)
    if kind == "svd":
        return (factors[0], scale_pow2(factors[1], e), factors[2])
    return (factors[0], scale_pow2(factors[1], e))


def _factorize(a, kind, block, tol, max_steps, rng, record_potential, xp):
    m, n = a.shape
    if kind in ("eigh", "cholesky"):
        check_symmetric(a, "a", xp)
    if kind == "qr" and m < n:
        raise ValueError(f"`a` must have at least as many rows as columns for kind='qr'; got shape {(m, n)}.")
    if kind == "svd" and m < n:  # a^H = U S V^H  =>  a = V S U^H
        ah = xp.conj(a.mT) if is_complex(a, xp) else a.mT
        res = _factorize(ah, "svd", block, tol, max_steps, rng, record_potential, xp)
        u, s, vh = res.factors
        flip = (lambda x: xp.conj(x.mT)) if is_complex(a, xp) else (lambda x: x.mT)
        return res._replace(factors=(flip(vh), s, flip(u)))
    if kind == "cholesky":
        cholesky_factor(a, xp, "xp")  # LinAlgError naming the failing pivot, before any step
    k = check_int(block, "block", low=2, high=max(n, 2), high_expr="n")
    if n < 2:
        return _trivial(a, kind, xp, record_potential)
    if k > n:
        raise ValueError(f"`block` must be an integer at least 2 and at most n = {n}; got {k}.")
    if tol is None:
        tol = 8 * max(m, n) * eps(a.dtype, xp)
    else:
        tol = check_real(tol, "tol", low=0, low_open=True)
    per_sweep = math.ceil(n * (n - 1) / (k * (k - 1)))
    max_steps = 50 * per_sweep if max_steps is None else check_int(max_steps, "max_steps", low=1)
    rng = as_rng(rng)

    state = _State(a, kind, xp)
    potential = [state.potential()] if record_potential else None
    steps, converged = 0, state.offdiag() <= tol
    while not converged and steps < max_steps:
        state.step(np.sort(rng.choice(n, size=k, replace=False)))
        steps += 1
        if record_potential:
            potential.append(state.potential())
        if steps % per_sweep == 0 or steps == max_steps:
            converged = state.offdiag() <= tol
    if not converged:
        warnings.warn(f"random_pivot_factorize(kind={kind!r}) did not converge in max_steps={max_steps} "
                      f"steps: relative off-diagonal measure {state.offdiag():.3g} > tol={float(tol):.3g}.",
                      JacobiConvergenceWarning, stacklevel=3)
    pot = xp.stack(potential) if record_potential else None
    return RandomPivotResult(state.factors(), pot, steps, bool(converged))


def _trivial(a, kind, xp, record_potential):
    state = _State(a, kind, xp)
    pot = xp.stack([state.potential()]) if record_potential else None
    return RandomPivotResult(state.factors(), pot, 0, True)


class _State:
    """Working matrix ``w`` (two-sided: X^H a X; one-sided: a X) and accumulated transform X."""

    def __init__(self, a, kind, xp):
        self.xp, self.kind = xp, kind
        self.cplx = is_complex(a, xp)
        self.two_sided = kind in ("eigh", "cholesky")
        self.w = xp.asarray(a, copy=True)
        n = a.shape[1]
        self.x = xp.eye(n, dtype=a.dtype, device=a.device)

    def _h(self, z):
        return self.xp.conj(z.mT) if self.cplx else z.mT

    def gram(self):
        return self.w if self.two_sided else self._h(self.w) @ self.w

    def potential(self):
        return _potential(self.gram(), self.xp, "a")

    def offdiag(self) -> float:
        from ._jacobi_eigh import relative_offdiag

        return relative_offdiag(self.gram(), self.xp)

    def step(self, pivots: np.ndarray):
        """One pivot step on the sorted index set ``pivots``."""
        xp = self.xp
        idx = xp.asarray(pivots, device=self.w.device)
        wj = xp.take(self.w, idx, axis=1)
        t = self._transform(xp.take(wj, idx, axis=0) if self.two_sided else wj)
        # Column update w[:, J] <- w[:, J] T (and rows for two-sided), written back through
        # a one-hot selection matrix: the array API has no integer-array assignment.
        n = self.w.shape[1]
        sel = xp.astype(xp.arange(n, device=self.w.device)[:, None] == idx[None, :], self.w.dtype)
        delta = t - xp.eye(t.shape[0], dtype=t.dtype, device=t.device)
        self.w = self.w + (wj @ delta) @ self._h(sel)
        if self.two_sided:
            rows = self._h(sel) @ self.w
            self.w = self.w + sel @ (self._h(delta) @ rows)
            # the J-block is diagonal in exact arithmetic: drop its rounding-level off-diagonal
            wjj = self._h(sel) @ self.w @ sel
            keep = xp.eye(t.shape[0], dtype=xp.bool, device=t.device)
            self.w = self.w - sel @ xp.where(keep, xp.zeros_like(wjj), wjj) @ self._h(sel)
        xj = xp.take(self.x, idx, axis=1)
        self.x = self.x + (xj @ delta) @ self._h(sel)

    def _transform(self, part):
        """T for the J-block (two-sided) or the J-columns (one-sided) ``part``."""
        xp = self.xp
        if self.kind == "eigh":
            return xp.linalg.eigh(part)[1]
        if self.kind == "svd":  # right singular vectors of the columns, not the squared Gram
            return self._h(xp.linalg.svd(part, full_matrices=False)[2])
        if self.kind == "cholesky":
            # unit upper triangular T with T^H part T diagonal: part = L L^H, T = L^-H diag(L)
            low = xp.linalg.cholesky(part)
            return xp.linalg.inv(self._h(low)) * xp.linalg.diagonal(low)[None, :]
        # qr: part = Q R (Householder), T = R^-1 diag(R) makes part T = Q diag(R)
        r = xp.linalg.qr(part)[1]
        d = xp.linalg.diagonal(r)
        if not bool(xp.all(xp.abs(d) > 0)):
            raise ValueError("`a` must have full column rank for kind='qr'; a pivot column became zero.")
        return xp.linalg.inv(r) * d[None, :]

    def factors(self):
        xp = self.xp
        if self.kind == "eigh":
            lam = xp.real(xp.linalg.diagonal(self.w))
            order = xp.argsort(lam)
            return xp.take(lam, order), xp.take(self.x, order, axis=1)
        if self.kind == "cholesky":
            # x^H a x = D  =>  a = x^-H D x^-1 = L L^H with L = x^-H D^(1/2)
            d = xp.sqrt(xp.real(xp.linalg.diagonal(self.w)))
            return (self._h(xp.linalg.inv(self.x)) * xp.astype(d, self.w.dtype)[None, :],)
        norms = xp.linalg.vector_norm(self.w, axis=0)
        safe = xp.where(norms > 0, norms, xp.ones_like(norms))
        q = self.w / xp.astype(safe, self.w.dtype)[None, :]
        if self.kind == "qr":
            # a x = q diag(norms)  =>  R = diag(norms) x^-1
            return q, xp.astype(norms, self.w.dtype)[:, None] * xp.linalg.inv(self.x)
        order = xp.argsort(-norms, stable=True)
        return (xp.take(q, order, axis=1), xp.take(norms, order), self._h(xp.take(self.x, order, axis=1)))
