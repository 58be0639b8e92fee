"""Orthonormal bases of the part of an update that the current SVD basis misses.

For an orthonormal ``V`` (n x r) and an update block ``M`` (n x p, dense or sparse)
each method returns ``M ~= V C + Q B`` with ``C = V^T M``, ``Q`` (n x q) orthonormal and
orthogonal to ``V``, and ``B = Q^T M``:

* ``"exact"`` (Zha-Simon): ``Q`` spans the whole residual ``(I - V V^T) M`` up to a
  relative rank threshold: Gram-Schmidt against ``V`` (a second pass when the measured
  leftover asks for it), a Householder QR, and the singular values of its triangular
  factor for the threshold.
* ``"gkl"`` (Vecharynski-Saad): ``Q`` spans ``l`` Golub-Kahan-Lanczos vectors of the
  residual operator, applied implicitly (the residual is never formed).
* ``"rpi"`` (Yamazaki et al.): ``Q`` is a randomized range finder with ``t`` power
  passes over the same implicit operator.

When ``l >= p`` the Krylov/random methods cannot be cheaper than the exact residual, so
the exact path is used; the record then says ``"exact"``.  Sparse batches first try the
certified Gram-matrix path of :mod:`._gram` (recorded as ``"exact-gram"``).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .._backend import is_numpy
from ._gram import sparse_gram_basis
from ._operand import dense, is_sparse, matmul, rmatmul

METHODS = ("exact", "gkl", "rpi")
#: Sparse batches of at least this many rows/columns try the certified Gram path first.
GRAM_MIN_BATCH = 32


class ResidualBasis(NamedTuple):
    """``M ~= V @ C + Q @ B`` (see the module docstring)."""

    C: Any
    Q: Any
    B: Any
    method: str
    #: Smallest kept residual singular value over the threshold scale (nan if not measured).
    sigma_min: float


def _project_out(V: Any, Y: Any, passes: int = 2) -> Any:
    # Classical Gram-Schmidt twice: one pass leaves O(eps ||Y|| / ||residual||) of V behind.
    for _ in range(passes):
        Y = Y - V @ (V.mT @ Y)
    return Y


def _empty(xp: ModuleType, n: int, like: Any) -> Any:
    return xp.zeros((n, 0), dtype=like.dtype, device=like.device)


def _nothing_kept(xp, Y, H):
    """The split of ``Y`` (n x p) when no residual direction is kept: ``(Q, B, H, nan)``."""
    n, p = Y.shape
    return _empty(xp, n, Y), xp.zeros((0, p), dtype=Y.dtype, device=Y.device), H, float("nan")


#: Largest ``cond(T) / p`` of the residual's triangular factor for which ``W = V^T Q`` is
#: taken from the measured leftover ``G = V^T Y`` (``W = G T^-1``, accurate to ``cond(T) eps``)
#: rather than measured from ``Q`` (``n r p`` flops).
W_FROM_G_MAX_COND = 4.0


def robust_svd(xp: ModuleType, A: Any, full_matrices: bool = True) -> tuple[Any, Any, Any]:
    """``xp.linalg.svd(A)``; on NumPy, LAPACK's QR-iteration driver (``gesvd``) where the
    divide-and-conquer one (``gesdd``) reports no convergence, which it does on rare finite
    matrices (a 60 x 60 residual factor of rank about 45 of a graded stream raised
    ``LinAlgError`` there; ``gesvd`` factors it)."""
    try:
        return xp.linalg.svd(A, full_matrices=full_matrices)
    except np.linalg.LinAlgError:
        if not is_numpy(xp):
            raise
        import scipy.linalg

        return scipy.linalg.svd(A, full_matrices=full_matrices, lapack_driver="gesvd", check_finite=False)


def _leading_directions(xp, Qh, T, tol):
    """Keep the directions of ``Qh T`` above ``tol``, from the SVD ``T = X S Z^T``.

    Returns ``(Q, B, sig, Zt, q)`` with ``Q = Qh X_q`` and ``B = S_q Z_q^T`` for the
    ``q`` singular values above ``tol``, or ``None`` when there are none.
    """
    X, sig, Zt = robust_svd(xp, T)
    q = int(xp.sum(xp.astype(sig > tol, xp.int64)))
    if q == 0:
        return None
    return Qh @ X[:, :q], sig[:q, None] * Zt[:q, :], sig, Zt, q


def orthonormal_complement(xp: ModuleType, V: Any, Y: Any, tol: float) -> tuple[Any, Any, Any, float]:
    """Split ``Y`` as ``V @ H + Q @ B`` with ``Q`` orthonormal and orthogonal to ``V``.

    Directions of the residual with singular value at most ``tol`` are dropped.
    Returns ``(Q, B, H, sigma_min)`` (``sigma_min`` is ``nan`` when nothing is kept).
    """
    H = V.mT @ Y
    return _complement_after_one_pass(xp, V, Y - V @ H, H, tol)


def _complement_after_one_pass(xp, V, Y, H, tol):
    """:func:`orthonormal_complement` for ``Y`` already projected once (``Y_orig = V H + Y``).

    Common case (little cancellation): one Householder QR ``Y = Q T``, the singular
    values of ``T`` for the rank threshold (an SVD of ``T`` only when some fall below
    it), and the measured leftover ``G = V^T Y`` decide whether ``Q`` is orthogonal to
    ``V`` already (``W = V^T Q`` tiny, obtained from ``G`` without touching ``Q``) or
    needs the cheap correction ``Q - V W``.  Under heavy cancellation a second
    Gram-Schmidt pass and a second QR are used.
    """
    n, p = Y.shape
    if p == 0:
        return _nothing_kept(xp, Y, H)
    e = float(xp.finfo(Y.dtype).eps)
    G = V.mT @ Y
    if p == 1:  # a single new row/column: the "QR" is a normalization
        rho = _safe_norm(xp, Y)
        T = xp.reshape(rho, (1, 1))
        Qh = Y / xp.where(rho > 0, rho, xp.ones_like(rho))
    else:
        Qh, T = xp.linalg.qr(Y)
    if n >= p:
        # sigma_min(T) <= min |T_jj|: a small diagonal entry proves rank deficiency cheaply.
        diag_min = float(xp.min(xp.abs(xp.linalg.diagonal(T))))
        deficient = diag_min <= tol
        if p == 1:  # 1 x 1: the singular value is |rho|, the solve a division (no LAPACK calls)
            sig = xp.reshape(xp.abs(T), (1,))
        else:
            sig = None if deficient else xp.linalg.svdvals(T)
        q = p if not deficient and float(sig[-1]) > tol else -1
        if q == p:
            Q, B = Qh, T
            W = G / T[0, 0] if p == 1 else xp.linalg.solve(T.mT, G.mT).mT  # V^T Qh
        else:
            # Rank-deficient batch (e.g. empty sparse rows): keep the leading directions of
            # T = X S Z^T.  Qh X_q = Y Z_q / s_q exactly, so V^T (Qh X_q) = G Z_q / s_q.
            kept = _leading_directions(xp, Qh, T, tol)
            if kept is None:
                return _nothing_kept(xp, Y, H)
            Q, B, sig, Zt, q = kept
            W = (G @ Zt[:q, :].mT) / sig[None, :q]
        if float(sig[0]) > W_FROM_G_MAX_COND * p * float(sig[q - 1]):
            # W from G is V^T Q only to within cond(T) eps, and Q - V W must be orthogonal
            # to rounding (1000 eps were lost at cond(T) = 5e3): measured instead
            W = V.mT @ Q
        w2 = float(xp.sum(W * W))
        if w2 <= (10 * e) ** 2:
            return Q, B, H, float(sig[q - 1])
        if w2 <= e:
            # Q - V W has Gram matrix I - W^T W: orthonormal to eps without a new QR.
            return Q - V @ W, B, H + W @ B, float(sig[q - 1])
    # Second pass ("twice is enough"), then keep only directions above tol.
    Y = Y - V @ G
    H = H + G
    Qh, T = xp.linalg.qr(Y)
    kept = _leading_directions(xp, Qh, T, tol)
    if kept is None:
        return _nothing_kept(xp, Y, H)
    Q, B, sig, Zt, q = kept
    # A direction just above tol still holds O(eps ||Y|| / sigma) of V: move it into H
    # (exact algebra: Y = V H + (Q' + V W) B) and re-orthonormalize Q' if needed.
    W = V.mT @ Q
    Q = Q - V @ W
    H = H + W @ B
    if float(xp.sum(W * W)) > e:
        Q, Tq = xp.linalg.qr(Q)
        B = Tq @ B
    return Q, B, H, float(sig[q - 1])


def _safe_norm(xp, y):
    """``||y||_2`` (0-d array) that neither under- nor overflows where the result does not.

    The plain 2-norm squares the entries: at ``max |y|`` below ``sqrt(tiny) / eps``
    (float64 ~7e-139, float32 ~9e-13) the squares lose digits and then vanish (a new
    direction read as zero and dropped), and above ``sqrt(max / len(y))`` they overflow.
    There ``y`` is divided by its largest magnitude first; in between (the common case)
    the plain norm is used, bit for bit.
    """
    amax = xp.max(xp.abs(y))
    a = float(amax)
    fi = xp.finfo(y.dtype)
    lo = math.sqrt(float(fi.smallest_normal)) / float(fi.eps)
    hi = math.sqrt(float(fi.max) / max(math.prod(y.shape), 1))
    if a == 0.0 or lo <= a <= hi:
        return xp.linalg.vector_norm(y)
    return amax * xp.linalg.vector_norm(y / amax)


def _exact(xp, V, M, tol):
    H = rmatmul(M, V).mT  # sparse-aware: nnz(M) r flops for a sparse block
    Q, B, C, smin = _complement_after_one_pass(xp, V, dense(M, xp) - V @ H, H, tol)
    return Q, C, B, smin


def _residual_ops(V, M, C):
    # (I - V V^T) M applied without forming it: the Deng et al./Vecharynski-Saad operator.
    def apply(y):
        return matmul(M, y) - V @ (C @ y)

    def apply_t(z):
        return rmatmul(M, z) - C.mT @ (V.mT @ z)

    return apply, apply_t


def _gkl(xp, V, M, C, tol, l, rng):
    """Golub-Kahan-Lanczos with full reorthogonalization and restarts on breakdown.

    The recurrence coefficients are not kept: the caller recomputes the exact
    coefficients ``Q^T M``, so only the span matters and a restart is harmless.
    """
    n, p = M.shape
    apply, apply_t = _residual_ops(V, M, C)
    dev, dt = V.device, V.dtype

    def random_vector():
        return xp.asarray(rng.standard_normal((p, 1)), dtype=dt, device=dev)

    P = xp.zeros((n, l), dtype=dt, device=dev)
    Z = xp.zeros((p, min(p, 2 * l + 1)), dtype=dt, device=dev)  # bounds the restarts
    z, j, nz = random_vector(), 0, 0
    while j < l and nz < Z.shape[1]:
        before = float(_safe_norm(xp, z))
        z = _project_out(Z[:, :nz], z) if nz else z
        znorm = float(_safe_norm(xp, z))
        if znorm <= 1e-12 * before:
            # Right breakdown (R^T p lies in the span already): restart at random.
            z = random_vector()
            before = float(_safe_norm(xp, z))
            z = _project_out(Z[:, :nz], z) if nz else z
            znorm = float(_safe_norm(xp, z))
            if znorm <= 1e-8 * before:
                break  # the whole p-space is exhausted
        z = z / znorm
        Z[:, nz:nz + 1] = z
        nz += 1
        w = _project_out(V, apply(z))
        w = _project_out(P[:, :j], w) if j else w
        alpha = float(_safe_norm(xp, w))
        if alpha <= tol:
            # Left breakdown: R z adds nothing above the rank threshold; restart.
            z = random_vector()
            continue
        P[:, j:j + 1] = w / alpha
        j += 1
        z = apply_t(P[:, j - 1:j])
    if j == 0:
        return _empty(xp, n, V)
    Q, _ = xp.linalg.qr(_project_out(V, P[:, :j], passes=1))
    return Q


def _rpi(xp, V, M, C, tol, l, t, rng):
    """Randomized range finder with ``t`` power passes, re-orthonormalized every pass."""
    p = M.shape[1]
    apply, apply_t = _residual_ops(V, M, C)
    omega = xp.asarray(rng.standard_normal((p, l)), dtype=V.dtype, device=V.device)
    Q = orthonormal_complement(xp, V, apply(omega), tol)[0]
    for _ in range(t):
        if Q.shape[1] == 0:
            break
        Zt, _ = xp.linalg.qr(apply_t(Q))
        Q = orthonormal_complement(xp, V, apply(Zt), tol)[0]
    return Q


def gram_applies(xp: ModuleType, M: Any) -> bool:
    """Whether the Gram-matrix path may be tried for ``M`` at all (SciPy sparse on NumPy)."""
    return is_sparse(M) and is_numpy(xp)


def is_exact(method: str, l: int, n: int, p: int, r: int) -> bool:
    """Whether a ``method``/``l`` update captures the whole residual (exact path)."""
    return method == "exact" or l >= min(p, n - r)


def residual_basis(xp: ModuleType, V: Any, M: Any, *, method: str, l: int, t: int,
                   rtol: float, scale: float, rng: np.random.Generator,
                   gram: bool | None = None) -> ResidualBasis:
    """Split ``M`` into its part in range(V) and an orthonormal basis of the rest.

    Residual directions with singular value at most ``rtol * scale`` are dropped.
    ``gram`` forces (``True``) or forbids (``False``) the Gram-matrix path for a sparse
    ``M``; ``None`` tries it for batches of at least ``GRAM_MIN_BATCH`` columns.
    """
    n, p = M.shape
    tol = rtol * scale
    if is_exact(method, l, n, p, V.shape[1]):
        try_gram = p >= GRAM_MIN_BATCH if gram is None else gram
        if try_gram and gram_applies(xp, M):
            got = sparse_gram_basis(V, M, tol)
            if got is not None:
                Q, C, B = got
                return ResidualBasis(C, Q, B, "exact-gram", float("nan"))
        Q, C, B, smin = _exact(xp, V, M, tol)
        return ResidualBasis(C, Q, B, "exact", smin / scale if scale > 0 else float("nan"))
    C = rmatmul(M, V).mT
    Q = _gkl(xp, V, M, C, tol, l, rng) if method == "gkl" else _rpi(xp, V, M, C, tol, l, t, rng)
    # Exact coefficients of the residual on Q: Q^T (M - V C).
    B = rmatmul(M, Q).mT - (Q.mT @ V) @ C
    return ResidualBasis(C, Q, B, method, float("nan"))
