"""Thin QR of tall matrices: Cholesky-QR2, shifted Cholesky-QR3, randomized Cholesky-QR,
Householder, and an ``auto`` choice among them."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .._backend import array_namespace, capability, device, is_numpy
from .._validate import as_rng, check_choice, eps
from ._qr_common import (
    as_matrix_stack,
    chol_upper,
    gram,
    host_float,
    max_abs,
    pow2,
    pow2_exponent,
    real_dtype,
    safe_exponent,
    solve_upper_right,
)

__all__ = ["METHODS", "QRResult", "qr"]

METHODS = ("auto", "householder", "cholqr2", "shifted-cholqr3", "rand-cholqr")

#: A pass of Cholesky-QR on ``X`` with ``||X^H X - I||_F <= CERTIFY`` returns ``Q`` with
#: ``kappa(X)^2 <= (1 + CERTIFY) / (1 - CERTIFY) = 3``, i.e. orthogonal to working precision.
CERTIFY = 0.5

#: ``auto`` leaves plain Cholesky-QR2 for the shifted first pass when the diagonal of the first
#: Cholesky factor already spreads over more than this times ``u**-1/2`` (a lower bound on
#: ``cond(a)``, free once the factor exists).
_DIAG_SPREAD = 0.1

#: ``auto`` on NumPy takes Householder below this many ``m n^2`` (summed over a batch): the
#: Cholesky route's fixed cost (two factorizations, three host syncs) is not yet paid back.
_SMALL_FLOPS = 1 << 20

_RANGES = {
    "cholqr2": "cond(a) up to about u**-1/2 (1e7 in float64, 3e3 in float32)",
    "shifted-cholqr3": "cond(a) up to about u**-1 / sqrt(11 (m n + n (n + 1))), 1e12 for m n = 1e5 "
                       "in float64",
    "rand-cholqr": "cond(a) up to about 1e15 in float64 (0.01 / u, 1e6 in float32)",
}


class QRResult(NamedTuple):
    """Result of :func:`qr`: ``a = Q @ R``.

    Attributes
    ----------
    Q : array, shape (..., m, n)
        Orthonormal columns: ``Q^H Q = I`` to working precision.
    R : array, shape (..., n, n)
        Upper triangular with a real non-negative diagonal.
    """

    Q: Any
    R: Any


@capability("ortho", numba=False)
def qr(a: Any, *, method: str = "auto", rng: Any = None) -> QRResult:
    """Thin QR factorization of a tall matrix (or a stack of them).

    Parameters
    ----------
    a : array_like, shape (..., m, n) with m >= n
        Real or complex matrix of any array-API library (NumPy, CuPy, torch,
        array_api_strict); leading axes are a batch.  Integer input is promoted to
        float64 (as ``numpy.linalg.qr`` does).  It is never modified.
    method : {"auto", "householder", "cholqr2", "shifted-cholqr3", "rand-cholqr"}
        ``"householder"``: the backend's LAPACK/cuSOLVER QR, always safe.
        ``"cholqr2"``: two passes of Cholesky-QR (Gram matrix, Cholesky, triangular
        solve), for ``cond(a)`` up to about ``u**-1/2``.
        ``"shifted-cholqr3"``: a first pass on the shifted Gram matrix
        ``a^H a + s I`` followed by Cholesky-QR2, up to about
        ``u**-1 / sqrt(11 (m n + n (n + 1)))`` (``1e12`` for ``m n = 1e5``,
        ``1e13`` for ``m n = 6e3``).
        ``"rand-cholqr"``: a Gaussian sketch ``S a`` with ``2n`` rows, QR of the sketch,
        the preconditioned ``a R_s^{-1}`` and Cholesky-QR2 on it, up to about ``1e15``.
        ``"auto"``: Cholesky-QR2, switching to the shifted first pass when the Gram
        matrix's Cholesky factorization breaks down or its diagonal spreads over more
        than ``0.1 u**-1/2``, adding passes while the measured orthogonality requires
        it (at most four), and Householder when nothing else certifies (and, on NumPy,
        for small problems, ``m n^2 <= 2**20`` summed over a batch, where LAPACK is faster
        than the certified passes).
    rng : None, int or numpy.random.Generator
        Source of the sketch of ``"rand-cholqr"`` (SPEC 7); unused by other methods.

    Returns
    -------
    QRResult
        Named tuple ``(Q, R)`` with ``Q`` of shape (..., m, n) and ``R`` of shape
        (..., n, n), in the namespace, dtype and device of ``a`` (float64 for
        integer input).  ``R`` has a real non-negative diagonal (positive for
        full-rank ``a``), so ``Q`` and ``R`` are unique for full-rank input and equal
        ``numpy.linalg.qr``'s up to the signs of its columns/rows.

    Raises
    ------
    TypeError
        ``a`` has a boolean, object or float16 dtype, or ``rng`` is not a seed or
        Generator.
    ValueError
        ``a`` has fewer than two axes, fewer rows than columns (wide input: factor
        its transpose, or use ``numpy.linalg.qr``), NaN or infinite entries, or
        entries so large that ``R`` (whose diagonal holds column norms up to
        ``sqrt(m) max|a|``) overflows the dtype; ``method`` is unknown; or an
        explicit Cholesky method is used outside its
        range of condition numbers (the Cholesky factorization breaks down or the
        orthogonality certificate fails).  ``"auto"`` never raises for finite
        input, and no method returns a ``Q`` that is not orthonormal.

    Notes
    -----
    Let ``u`` be the unit roundoff of the dtype.  One Cholesky-QR pass on ``X`` costs
    ``2 m n^2`` flops in two BLAS-3 calls (the Gram matrix ``X^H X`` by SYRK and
    ``X R^{-1}`` by TRSM) and gives ``||Q^H Q - I|| = O(u cond(X)^2)``.  A second
    pass on that ``Q`` therefore reaches ``O(u)`` as long as ``cond(a) < u**-1/2``
    [1]_.  Every method here *measures* the Gram matrix ``G`` of its last pass's
    input (it is needed anyway) and returns only when ``||G - I||_F <= 1/2``, which
    bounds ``cond`` of that input by ``sqrt(3)`` and makes the last pass's ``Q``
    orthonormal to ``O(n u)`` (no extra pass over ``a``).  Columns are scaled by
    powers of two in the Gram matrix (free, exact), so the ranges refer to the
    condition number of ``a`` with equilibrated columns, and each matrix is scaled
    by a power of two on entry (``2**±500``-scaled input behaves like unscaled).

    ===================  ==============================  ==================================
    method               range of ``cond(a)`` (float64)  cost
    ===================  ==============================  ==================================
    ``cholqr2``          up to ~1e7 (``u**-1/2``)        ``4 m n^2``, all BLAS-3
    ``shifted-cholqr3``  up to ~1e12 (m n = 1e5)         ``6 m n^2``, all BLAS-3
    ``rand-cholqr``      up to ~1e15                     ``4 k m n + 6 m n^2``, k = 2n
    ``householder``      any (rank-deficient included)   ``4 m n^2`` (LAPACK geqrf+orgqr)
    ``auto``             any                             cholqr2's when it certifies
    ===================  ==============================  ==================================

    The shift of ``shifted-cholqr3`` is ``s = 11 (m n + n (n + 1)) u ||a||_F^2``
    (Fukaya et al. [2]_ use ``||a||_2^2``; the Frobenius norm is the cheap upper bound,
    which keeps the first factorization positive definite).  The shift caps the first
    pass's output at ``cond(Q1) ~ sqrt(s) / sigma_min(a)``, and Cholesky-QR2 takes it from
    there only while that is below ``~u**-1/2``: hence a range that shrinks like
    ``1 / sqrt(m n)``, measured at ``1e12`` for 2000 x 50 and ``1e14`` for 300 x 20.  The
    randomized method and ``auto`` (which adds passes) have no such size dependence.  The sketch of
    ``rand-cholqr`` is a dense Gaussian matrix with ``k = min(2n, m)`` rows scaled by
    ``1/sqrt(k)``, drawn from ``rng`` with NumPy in blocks of rows and moved to the
    device of ``a`` (``xp.asarray(..., device=...)``) [3]_, [4]_; one sketch serves a
    whole batch.

    ``m < n`` raises rather than returning numpy's trapezoidal ``R``: the Cholesky
    methods need a tall matrix, and a silent switch of shape convention would hide it.

    References
    ----------
    .. [1] Y. Yamamoto, Y. Nakatsukasa, Y. Yanagisawa, T. Fukaya, "Roundoff error
       analysis of the CholeskyQR2 algorithm", Electron. Trans. Numer. Anal. 44 (2015).
    .. [2] T. Fukaya, R. Kannan, Y. Nakatsukasa, Y. Yamamoto, Y. Yanagisawa, "Shifted
       Cholesky QR for computing the QR factorization of ill-conditioned matrices",
       SIAM J. Sci. Comput. 42 (2020), A477-A503.
    .. [3] Y. Fan, Y. Guo, T. Lin, "A novel randomized XR-based preconditioned
       CholeskyQR algorithm", arXiv:2111.11148 (2021).
    .. [4] O. Balabanov, "Randomized Cholesky QR factorizations", arXiv:2210.09953 (2022).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import qr
    >>> a = np.random.default_rng(0).standard_normal((1000, 20))
    >>> q, r = qr(a, method="cholqr2")
    >>> bool(np.linalg.norm(q.T @ q - np.eye(20)) < 1e-14)
    True
    >>> bool(np.allclose(q @ r, a)), bool(np.all(np.diag(r) > 0))
    (True, True)
    """
    xp = array_namespace(a)
    check_choice(method, "method", METHODS)
    a = as_matrix_stack(a, "a", xp, finite=False)
    gen = as_rng(rng) if method == "rand-cholqr" else None
    m, n = a.shape[-2], a.shape[-1]
    if m < n:
        raise ValueError(
            f"`a` must be tall (m >= n) for a thin QR; got shape {tuple(a.shape)} (m={m} < n={n}). "
            "Factor the transpose, or use numpy.linalg.qr(a, mode='reduced') for wide matrices."
        )
    batch = tuple(a.shape[:-2])
    dev = device(a)
    if n == 0 or math.prod(batch) == 0:
        return QRResult(xp.zeros((*batch, m, n), dtype=a.dtype, device=dev),
                        xp.zeros((*batch, n, n), dtype=a.dtype, device=dev))

    # Scale each matrix by a power of two (exact): Gram matrices neither overflow nor underflow.
    # Skipped when no entry needs it: power-of-two scaling commutes exactly with every operation
    # here, so the result is the same bit for bit and a full pass over `a` is saved.
    e = pow2_exponent(max_abs(a, xp), xp)
    if host_float(xp.max(xp.abs(e))) > safe_exponent(a.dtype, xp):
        a_s = a * xp.astype(pow2(-e, xp, a), a.dtype)
        back = xp.astype(pow2(e, xp, a), a.dtype)
    else:
        a_s, back = a, None

    if method == "householder":
        q, r = _householder(a_s, xp)
    else:
        out = {"cholqr2": _cholqr2, "shifted-cholqr3": _shifted_cholqr3,
               "rand-cholqr": _rand_cholqr, "auto": _auto}[method](a_s, xp, gen)
        if isinstance(out, str):
            raise ValueError(
                f"`a` is outside the range of method={method!r} ({_RANGES[method]}): {out}. "
                "Use method='auto' (never fails for finite input) or 'householder'."
            )
        q, r = out
    if back is None:
        return QRResult(q, r)
    # |R| reaches ||a[:, j]||_2 <= sqrt(m) max|a|: it can exceed the dtype where `a` does not.
    # 2**er <= max|R_scaled| < 2**(er + 1); multiplying by 2**e is exact unless er + e >= top.
    top = math.frexp(float(xp.finfo(real_dtype(r.dtype, xp)).max))[1]
    er = pow2_exponent(max_abs(r, xp, "R"), xp)
    if host_float(xp.max(er + e)) >= top:
        raise ValueError(
            f"`a` is too large for a QR factorization in {a.dtype}: the norms of its columns "
            f"(the diagonal of R) overflow; got max|a| = 2**{host_float(xp.max(e)):.0f}. "
            "Scale `a` down (R scales with it, Q does not)."
        )
    return QRResult(q, r * back)


# ---------------------------------------------------------------- building blocks

def _eye(n: int, x: Any, xp: Any) -> Any:
    return xp.eye(n, dtype=x.dtype, device=device(x))


def _defect(g: Any, xp: Any) -> float:
    """max over the stack of ``||g - I||_F`` (one host synchronisation; NaN counts as inf)."""
    d = g - _eye(g.shape[-1], g, xp)
    d = xp.abs(d)
    val = host_float(xp.max(xp.sqrt(xp.sum(d * d, axis=(-2, -1)))))
    return val if val == val else math.inf


def _diag(x: Any, xp: Any) -> Any:
    d = xp.linalg.diagonal(x)
    return xp.real(d) if xp.isdtype(x.dtype, "complex floating") else d


def _col_scale(g: Any, xp: Any) -> tuple[Any, Any]:
    """Powers of two ``c`` with ``c_j^2 g_jj`` in [1, 4): returns ``(C g C, c)`` (exact)."""
    d = _diag(g, xp)
    f = pow2_exponent(xp.sqrt(d), xp)
    c = xp.astype(pow2(-f, xp, g), g.dtype)
    return g * c[..., :, None] * c[..., None, :], c


def _shift(g: Any, m: int, xp: Any) -> Any:
    """``g + s I`` with ``s = 11 (m n + n (n + 1)) u trace(g)`` (Fukaya et al., Frobenius bound)."""
    n = g.shape[-1]
    u = eps(g.dtype, xp) / 2
    tr = xp.sum(_diag(g, xp), axis=-1)
    s = 11.0 * (m * n + n * (n + 1)) * u * tr
    return g + xp.astype(s, g.dtype)[..., None, None] * _eye(n, g, xp)


def _solve(x: Any, r: Any, xp: Any) -> Any | None:
    try:
        out = solve_upper_right(x, r, xp)
    except Exception:  # an exactly singular triangle (LAPACK trtrs reports it)
        return None
    return out


def _step(x: Any, g: Any, xp: Any) -> tuple[Any, Any] | None:
    """One Cholesky-QR pass given the Gram matrix ``g`` of ``x``: ``(x R^-1, R)`` or None."""
    r = chol_upper(g, xp)
    if r is None:
        return None
    q = _solve(x, r, xp)
    return None if q is None else (q, r)


def _first_pass(a: Any, xp: Any, *, shifted: bool,
                spread: bool = False) -> tuple[Any, Any, float] | str:
    """First pass on column-equilibrated ``a``: ``(Q1, R1, spread)`` or a reason for failure
    (``spread``, the largest ratio of diagonal entries of R1, only when asked: a host sync)."""
    g, c = _col_scale(gram(a, xp), xp)
    r = chol_upper(_shift(g, a.shape[-2], xp) if shifted else g, xp)
    if r is None:
        return "the Cholesky factorization of the " + ("shifted " if shifted else "") + \
            "Gram matrix broke down"
    ratio = 0.0
    if spread:
        d = _diag(r, xp)
        ratio = host_float(xp.max(xp.max(d, axis=-1) / xp.min(d, axis=-1)))
    r = r / c[..., None, :]
    q = _solve(a, r, xp)
    if q is None:
        return "the triangular solve met a singular factor"
    return q, r, ratio


def _finish(q: Any, r: Any, xp: Any, passes: int) -> tuple[Any, Any] | str:
    """``passes`` more Cholesky-QR passes on ``q``; the last one must be certified."""
    for k in range(passes):
        g = gram(q, xp)
        if k == passes - 1:
            delta = _defect(g, xp)
            if not delta <= CERTIFY:
                return (f"the input of the last pass has ||Q^H Q - I||_F = {delta:.2g} > "
                        f"{CERTIFY}, so its output cannot be certified orthonormal")
        step = _step(q, g, xp)
        if step is None:
            return "the Cholesky factorization of an intermediate Gram matrix broke down"
        q, rk = step
        r = rk @ r
    return q, r


# ---------------------------------------------------------------- methods

def _householder(a: Any, xp: Any) -> tuple[Any, Any]:
    q, r = xp.linalg.qr(a)
    d = xp.linalg.diagonal(r)
    if xp.isdtype(d.dtype, "complex floating"):
        mag = xp.abs(d)
        one = xp.ones_like(d)
        ph = xp.where(mag > 0, d / xp.astype(xp.where(mag > 0, mag, xp.ones_like(mag)), d.dtype), one)
        return q * ph[..., None, :], r * xp.conj(ph)[..., :, None]
    sgn = xp.where(d < 0, -xp.ones_like(d), xp.ones_like(d))
    return q * sgn[..., None, :], r * sgn[..., :, None]


def _cholqr2(a: Any, xp: Any, gen: Any) -> tuple[Any, Any] | str:
    first = _first_pass(a, xp, shifted=False)
    if isinstance(first, str):
        return first
    q, r, _ = first
    return _finish(q, r, xp, 1)


def _shifted_cholqr3(a: Any, xp: Any, gen: Any) -> tuple[Any, Any] | str:
    first = _first_pass(a, xp, shifted=True)
    if isinstance(first, str):
        return first
    q, r, _ = first
    return _finish(q, r, xp, 2)


def _sketch(a: Any, xp: Any, gen: Any) -> Any:
    """``S a`` for a Gaussian ``S`` with ``k = min(2n, m)`` rows (drawn on the host in blocks)."""
    import numpy as np

    m, n = a.shape[-2], a.shape[-1]
    k = min(2 * n, m)
    rdt = real_dtype(a.dtype, xp)
    npdt = np.float32 if rdt == xp.float32 else np.float64
    block = max(1, (1 << 22) // k)
    y = None
    for start in range(0, m, block):
        stop = min(m, start + block)
        s = gen.standard_normal((k, stop - start)).astype(npdt) / math.sqrt(k)
        s = xp.astype(xp.asarray(s, device=device(a)), a.dtype)
        part = s @ a[..., start:stop, :]
        y = part if y is None else y + part
    return y


def _rand_cholqr(a: Any, xp: Any, gen: Any) -> tuple[Any, Any] | str:
    _, rs = _householder(_sketch(a, xp, gen), xp)
    if not bool(xp.all(_diag(rs, xp) > 0)):
        return "the sketch is rank deficient"
    q = _solve(a, rs, xp)
    if q is None:
        return "the triangular solve met a singular factor"
    return _finish(q, rs, xp, 2)


def _auto(a: Any, xp: Any, gen: Any) -> tuple[Any, Any]:
    n = a.shape[-1]
    if is_numpy(xp) and math.prod(a.shape[:-1]) * n * n <= _SMALL_FLOPS:
        return _householder(a, xp)  # LAPACK beats the fixed cost of the certified passes here
    u = eps(a.dtype, xp) / 2
    first = _first_pass(a, xp, shifted=False, spread=True)
    if isinstance(first, str) or first[2] > _DIAG_SPREAD / math.sqrt(u):
        first = _first_pass(a, xp, shifted=True)
    if isinstance(first, str):
        return _householder(a, xp)
    q, r, _ = first
    for _ in range(3):
        g = gram(q, xp)
        certified = _defect(g, xp) <= CERTIFY
        step = _step(q, g, xp)
        if step is None and not certified:
            step = _step(q, _shift(g, q.shape[-2], xp), xp)
        if step is None:
            break
        q, rk = step
        r = rk @ r
        if certified:
            return q, r
    return _householder(a, xp)
