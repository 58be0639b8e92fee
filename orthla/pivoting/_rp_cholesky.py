"""Randomly pivoted Cholesky: simple, accelerated (rejection sampling), block and greedy."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability
from .._validate import (
    as_floating,
    as_rng,
    check_choice,
    check_finite,
    check_int,
    check_symmetric,
    eps,
    is_complex,
)
from ._kernel import NystromApproximation

__all__ = ["RPCholeskyResult", "rp_cholesky"]

METHODS = ("accelerated", "simple", "block", "greedy")


class RPCholeskyResult(NamedTuple):
    """Result of :func:`rp_cholesky`: ``A ~ F F^H``.

    Attributes
    ----------
    F : array, shape (N, k)
        Factor; ``F[pivots]`` is lower triangular in the pivot order.
    pivots : array of int, shape (k,)
        Selected indices, in the order chosen.
    trace : array, shape (k + 1,)
        Residual trace ``tr(A - F_i F_i^H)`` before the first and after each pivot.
    nystrom : NystromApproximation
        ``F F^H`` with ``matvec``, ``solve(y, shift)`` and ``eigh()``.
    stopped_early : bool
        True when fewer than ``rank`` pivots were taken because the residual trace fell
        to ``max(tol, 100 eps) * tr(A)`` (the numerical rank was reached) or ``rank > N``.
    """

    F: Any
    pivots: Any
    trace: Any
    nystrom: NystromApproximation
    stopped_early: bool


class _Operator:
    """Uniform access to a PSD matrix: dense array, KernelMatrix, or any diag()/columns() object."""

    def __init__(self, a: Any):
        if hasattr(a, "diag") and hasattr(a, "columns"):
            self.obj = a
            self.diag0 = a.diag()
            self.xp = array_namespace(self.diag0)
            self.n = self.diag0.shape[0]
            self.dtype = getattr(a, "dtype", self.diag0.dtype)
            self.dense = None
            return
        xp = array_namespace(a)
        a = xp.asarray(a) if not hasattr(a, "shape") else a
        a = as_floating(a, "a", xp)
        check_finite(a, "a", xp)
        check_symmetric(a, "a", xp)
        self.obj, self.dense, self.xp = None, a, xp
        self.n, self.dtype = a.shape[0], a.dtype
        self.diag0 = xp.linalg.diagonal(a)

    def columns(self, idx):
        if self.dense is not None:
            return self.xp.take(self.dense, idx, axis=1)
        return self.obj.columns(idx)

    def rows_t(self, idx):
        """``A[:, idx]^T`` (t x N): conj(A[idx, :]) for a Hermitian dense array."""
        xp = self.xp
        if self.dense is not None:
            rows = xp.take(self.dense, idx, axis=0)
            return xp.conj(rows) if is_complex(rows, xp) else rows
        if hasattr(self.obj, "rows"):
            return self.obj.rows(idx)
        return self.obj.columns(idx).mT

    def block(self, rows, cols):
        if self.dense is not None:
            return self.xp.take(self.xp.take(self.dense, rows, axis=0), cols, axis=1)
        if hasattr(self.obj, "block"):
            return self.obj.block(rows, cols)
        return self.xp.take(self.obj.columns(cols), rows, axis=0)


@capability("pivoting", numba=False)
def rp_cholesky(a: Any, rank: int, *, method: str = "accelerated", block_size: Any = "auto",
                tol: float | None = None, rng: Any = None) -> RPCholeskyResult:
    """Low-rank approximation ``A ~ F F^H`` of a PSD matrix by randomly pivoted Cholesky.

    Parameters
    ----------
    a : array, KernelMatrix, or object with ``diag()`` and ``columns(idx)``
        Positive semidefinite N x N matrix.  A :class:`KernelMatrix` (or any object
        with ``diag()`` returning the diagonal and ``columns(idx)`` returning
        ``A[:, idx]``; optionally ``block(rows, cols)``) is only ever evaluated on
        the columns the algorithm picks and on small candidate blocks, never in full.
    rank : int
        Number of pivots k wanted (at least 1).  Larger than N or than the numerical
        rank stops early (``stopped_early`` in the result).
    method : {"accelerated", "simple", "block", "greedy"}, default "accelerated"
        ``"simple"``: one pivot at a time, sampled with probability proportional to
        the residual diagonal.  ``"accelerated"``: the same distribution, drawn in
        blocks of candidates and thinned by rejection sampling so that each block's
        columns are evaluated and applied with matrix-matrix products [2]_.
        ``"block"``: blocks of candidates all kept (duplicates removed in sampling
        order), faster but not the RPCholesky distribution.  ``"greedy"``: largest
        residual diagonal (pivoted Cholesky).
    block_size : int or "auto", default "auto"
        Candidates per block for "accelerated"/"block"; "auto" is ``ceil(rank / 10)``
        clipped to [1, 100].
    tol : float, optional
        Stop once the residual trace is at most ``tol * tr(A)``.
    rng : numpy.random.Generator, int or None
        The one source of randomness (SPEC 7).

    Returns
    -------
    RPCholeskyResult
        ``(F, pivots, trace, nystrom, stopped_early)`` in the namespace and on the
        device of ``a``.

    Raises
    ------
    ValueError
        If a dense ``a`` is not square/symmetric or has NaN/Inf, the diagonal has a
        negative entry, or an option is invalid.

    Notes
    -----
    Step i draws pivot s with probability ``d_s / sum(d)``, where ``d`` is the
    diagonal of the residual ``A - F F^H``, sets ``F[:, i] = g / sqrt(g_s)`` with
    ``g`` the residual column s, and downdates ``d``.  Cost: k column evaluations
    and ``O(N k^2)`` flops.  The expected trace error satisfies
    ``E tr(A - F F^H) <= (1 + eps) tr(A - [[A]]_r)`` once
    ``k >= r/eps + r log(1/(eps eta))`` where ``eta`` is the relative error of the
    best rank-r approximation [1]_.  The accelerated method draws a block of
    candidates i.i.d. from the same ``d``, accepts candidate j with probability
    (current residual of j) / ``d_j`` (computed on the small candidate block), and
    thus reproduces the pivot law of the simple method exactly [2]_.

    References
    ----------
    .. [1] Y. Chen, E. N. Epperly, J. A. Tropp, R. J. Webber, "Randomly pivoted
       Cholesky: practical approximation of a kernel matrix with few entry
       evaluations", Comm. Pure Appl. Math. (2024).
    .. [2] E. N. Epperly, J. A. Tropp, R. J. Webber, "Embrace rejection: kernel
       matrix approximation by accelerated randomly pivoted Cholesky",
       arXiv:2410.03969 (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import KernelMatrix, rp_cholesky
    >>> x = np.random.default_rng(0).standard_normal((500, 2))
    >>> res = rp_cholesky(KernelMatrix(x, bandwidth=1.0), rank=60, rng=1)
    >>> res.F.shape
    (500, 60)
    >>> bool(res.trace[-1] < 1e-3 * res.trace[0])
    True
    """
    op = _Operator(a)
    xp = op.xp
    rank = check_int(rank, "rank", low=1)
    check_choice(method, "method", METHODS)
    block_size = _block_size(block_size, rank, 10)
    rng = as_rng(rng)
    floor = 100 * eps(op.dtype, xp)
    if tol is not None:
        tol = float(tol)
        if not (tol >= 0 and math.isfinite(tol)):
            raise ValueError(f"`tol` must be a non-negative finite number; got {tol!r}.")
        floor = max(floor, tol)
    diag0 = xp.real(op.diag0)
    if bool(xp.any(diag0 < 0)):
        raise ValueError(f"`a` must be positive semidefinite; its diagonal has a negative entry "
                         f"(min {float(xp.min(diag0)):.3g}).")
    kmax = min(rank, op.n)
    return _run(op, kmax, rank, method, block_size, floor, rng, xp)


def _block_size(block_size, rank, rounds):
    """``"auto"``: about ``rank / rounds`` pivots a block (1 to 100); otherwise a positive int."""
    if block_size == "auto":
        return min(100, max(1, math.ceil(rank / rounds)))
    return check_int(block_size, "block_size", low=1)


def _h(z, xp):
    return xp.conj(z.mT) if is_complex(z, xp) else z.mT


def _sample(d, count, rng, xp):
    """``count`` i.i.d. indices with probability proportional to ``d`` (searched on the device)."""
    cdf = xp.cumulative_sum(d)
    u = xp.asarray(1.0 - rng.random(count), dtype=d.dtype, device=d.device)  # in (0, 1]
    idx = xp.searchsorted(cdf, u * cdf[-1])
    idx = xp.minimum(idx, xp.asarray(d.shape[0] - 1, dtype=idx.dtype, device=d.device))
    return np.array([int(i) for i in idx], dtype=np.int64)


def _sqnorm(x, axis, xp):
    return xp.sum(xp.real(xp.conj(x) * x) if is_complex(x, xp) else x * x, axis=axis)


def _run(op, kmax, rank, method, block_size, floor, rng, xp):
    n = op.n
    dev = op.diag0.device
    d = xp.asarray(xp.real(op.diag0), copy=True)
    diag0 = xp.asarray(d, copy=True)
    unit = 100 * eps(op.dtype, xp)  # a residual below unit * A_ss is rounding noise
    trace0 = float(xp.sum(d))
    # F is stored transposed (k x N, row-major): rows of F^T are contiguous, so taking pivot
    # entries and appending new columns never copies the whole factor
    ft = xp.zeros((kmax, n), dtype=op.dtype, device=dev)
    pivots: list[int] = []
    traces = [trace0]
    residual = trace0
    rounds = 0
    while len(pivots) < kmax and residual > floor * trace0 and rounds < 100 * kmax + 1000:
        rounds += 1
        k = len(pivots)
        cand = _candidates(method, d, block_size, kmax - k, rng, xp)
        cand_x = xp.asarray(cand, device=dev)
        fc = xp.take(ft[:k, :], cand_x, axis=1)  # F[cand]^T
        h = op.block(cand_x, cand_x) - _h(fc, xp) @ fc  # residual on the candidates only
        d_cand = [float(x) for x in xp.take(d, cand_x)]
        thresh = [unit * float(x) for x in xp.take(diag0, cand_x)]
        uniforms = rng.random(len(cand)) if method == "accelerated" else None
        accepted, exhausted, lcols = [], [], []
        for j in range(len(cand)):
            if k + len(accepted) >= kmax:
                break
            r = float(xp.real(h[j, j]))
            if not r > thresh[j]:
                exhausted.append(cand[j])
                continue
            if uniforms is not None and not uniforms[j] * d_cand[j] < r:
                continue  # rejection: accept with probability (current residual) / d
            col = h[:, j] / math.sqrt(r)
            lcols.append(col)
            h = h - col[:, None] * _h(col[:, None], xp)  # Schur complement on the block
            accepted.append(j)
        if exhausted:
            d = _zero_at(d, np.array(exhausted, dtype=np.int64), xp)
        if accepted:
            t = len(accepted)
            piv_host = cand[accepted]
            piv = xp.asarray(piv_host, device=dev)
            low = xp.take(xp.stack(lcols, axis=1), xp.asarray(np.array(accepted), device=dev), axis=0)
            # Everything in the transposed (t x N, row-major) layout of ft:
            # G^T = A[:, piv]^T - conj(F[piv]) F^T, and the new rows of F^T are
            # (G L^-H)^T = conj(L^-1) G^T; L is t x t, so its inverse is cheap.
            fp = xp.take(ft[:k, :], piv, axis=1)
            gt = op.rows_t(piv) - (xp.conj(fp) if is_complex(fp, xp) else fp).mT @ ft[:k, :]
            linv = xp.linalg.inv(low)
            newt = (xp.conj(linv) if is_complex(linv, xp) else linv) @ gt
            ft[k : k + t, :] = newt
            pivots.extend(int(p) for p in piv_host)
            d = d - _sqnorm(newt, 0, xp)
            d = _zero_at(xp.where(d < 0, xp.zeros_like(d), d), piv_host, xp)
            before = traces[-1]
            traces.extend(max(before - float(c), 0.0) for c in xp.cumulative_sum(_sqnorm(newt, 1, xp)))
        residual = float(xp.sum(d))
        if accepted:
            traces[-1] = residual  # the downdated diagonal is the accurate record
    k = len(pivots)
    f = ft[:k, :].mT
    return RPCholeskyResult(f, xp.asarray(np.array(pivots, dtype=np.int64), device=dev),
                            xp.asarray(np.array(traces), dtype=d.dtype, device=dev),
                            NystromApproximation(f), k < rank)


def _candidates(method, d, block_size, left, rng, xp):
    if method == "greedy":
        return np.array([int(xp.argmax(d))], dtype=np.int64)
    if method == "simple":
        return _sample(d, 1, rng, xp)
    if method == "accelerated":
        return _sample(d, block_size, rng, xp)
    cand = _sample(d, min(block_size, left), rng, xp)
    _, first = np.unique(cand, return_index=True)  # drop repeats, keep the sampling order
    return cand[np.sort(first)]


def _zero_at(d, idx, xp):
    hit = xp.any(xp.arange(d.shape[0], device=d.device)[:, None] == xp.asarray(idx, device=d.device)[None, :], axis=1)
    return xp.where(hit, xp.zeros_like(d), d)
