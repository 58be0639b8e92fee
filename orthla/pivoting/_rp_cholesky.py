"""Randomly pivoted Cholesky: simple, accelerated (rejection sampling), block and greedy."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from .._backend import capability, no_grad
from .._validate import (
    as_floating,
    as_rng,
    check_choice,
    check_finite,
    check_int,
    check_ndim,
    check_real,
    check_symmetric,
    eps,
    is_complex,
)
from ._kernel import KernelMatrix, NystromApproximation
from ._rp_common import binary_exponent, host_array, namespace_of, scale_pow2, scale_pow2_saturating

__all__ = ["RPCholeskyResult", "rp_cholesky"]

METHODS = ("accelerated", "simple", "block", "greedy")
#: The block method keeps a candidate only while its residual is at least this fraction of its
#: residual at the start of the block.  A pivot whose residual fell by a factor c within the
#: block multiplies the rounding errors of the new rows of F by up to sqrt(1 / c) (measured:
#: FF^T exceeded diag(A) by 5.6e-9 on a kernel matrix of numerical rank 68 asked for rank 272);
#: at 1e-2 they stay below about 20 eps (1e-4 still gave 600 eps).  Such a candidate is not lost: its residual stays in
#: the diagonal and later rounds may sample it again, with a freshly computed residual.
COLLAPSE = 1e-2


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
    """Uniform access to a PSD matrix: dense array, KernelMatrix, or any diag()/columns() object.

    Everything it returns is ``A * 4**-j`` for a power of two chosen so that the largest diagonal
    entry is near 1 (``j = 0`` unless it is outside ``[2**-60, 2**60]``): the factor is then
    ``F * 2**j`` and the traces ``* 4**j``, exactly, with no over/underflow at 1e+-300.
    """

    def __init__(self, a: Any):
        if hasattr(a, "diag") and hasattr(a, "columns") and not array_api_compat.is_array_api_obj(a):
            self.obj = a
            diag0 = a.diag()
            self.xp = namespace_of(diag0, "a.diag()")
            check_ndim(diag0, "a.diag()", 1)
            diag0 = as_floating(diag0, "a.diag()", self.xp)
            check_finite(diag0, "a.diag()", self.xp)
            self.n = diag0.shape[0]
            self.dtype = getattr(a, "dtype", diag0.dtype)
            self.dense = None
            # indices drawn here are valid by construction: skip KernelMatrix's per-call bounds
            # check (two host syncs per evaluation)
            self.trusted = a._block if isinstance(a, KernelMatrix) else None
        else:
            xp = namespace_of(a, "a")
            a = xp.asarray(a) if not hasattr(a, "shape") else a
            check_ndim(a, "a", 2)
            a = as_floating(a, "a", xp)
            check_finite(a, "a", xp)
            check_symmetric(a, "a", xp)
            self.obj, self.dense, self.xp, self.trusted = None, a, xp, None
            self.n, self.dtype = a.shape[0], a.dtype
            diag0 = xp.linalg.diagonal(a)
        xp = self.xp
        diag0 = xp.real(diag0)
        top = float(xp.max(diag0)) if self.n else 0.0
        e = binary_exponent(top)
        self.j = e // 2 if abs(e) > 60 else 0
        self.diag0 = self._scaled(diag0)

    def _scaled(self, x):
        return scale_pow2(x, -2 * self.j) if self.j else x

    def columns(self, idx):
        if self.trusted is not None:
            return self._scaled(self.trusted(self.obj._all(), idx))
        if self.dense is not None:
            return self._scaled(self.xp.take(self.dense, idx, axis=1))
        return self._scaled(self.obj.columns(idx))

    def rows_t(self, idx):
        """``A[:, idx]^T`` (t x N): conj(A[idx, :]) for a Hermitian dense array."""
        xp = self.xp
        if self.dense is not None:
            rows = xp.take(self.dense, idx, axis=0)
            return self._scaled(xp.conj(rows) if is_complex(rows, xp) else rows)
        if hasattr(self.obj, "rows"):
            rows = self.trusted(idx, self.obj._all()) if self.trusted is not None else self.obj.rows(idx)
            return self._scaled(xp.conj(rows) if is_complex(rows, xp) else rows)
        return self._scaled(self.obj.columns(idx).mT)

    def block(self, rows, cols):
        if self.dense is not None:
            return self._scaled(self.xp.take(self.xp.take(self.dense, rows, axis=0), cols, axis=1))
        if self.trusted is not None:
            return self._scaled(self.trusted(rows, cols))
        if hasattr(self.obj, "block"):
            return self._scaled(self.obj.block(rows, cols))
        return self._scaled(self.xp.take(self.obj.columns(cols), rows, axis=0))


@capability("pivoting", numba=False)
def rp_cholesky(a: Any, rank: int, *, method: str = "accelerated", block_size: Any = "auto",
                tol: float | None = None, rng: Any = None) -> RPCholeskyResult:
    """Low-rank approximation ``A ~ F F^H`` of a PSD matrix by randomly pivoted Cholesky.

    Parameters
    ----------
    a : array, KernelMatrix, or object with ``diag()`` and ``columns(idx)``
        Positive semidefinite N x N matrix (real symmetric or complex Hermitian; a nested list
        is read as NumPy).  A :class:`KernelMatrix` (or any object
        with ``diag()`` returning the diagonal and ``columns(idx)`` returning
        ``A[:, idx]``; optionally ``block(rows, cols)`` and ``rows(idx)``) is only ever
        evaluated on the columns the algorithm picks and on small candidate blocks, never in full.
    rank : int
        Number of pivots k wanted (at least 1).  Larger than N or than the numerical
        rank stops early (``stopped_early`` in the result).
    method : {"accelerated", "simple", "block", "greedy"}, default "accelerated"
        ``"simple"``: one pivot at a time, sampled with probability proportional to
        the residual diagonal.  ``"accelerated"``: the same distribution, drawn in
        blocks of candidates and thinned by rejection sampling so that each block's
        columns are evaluated and applied with matrix-matrix products [2]_.
        ``"block"``: blocks of candidates (duplicates removed) factored by pivoted Cholesky of
        their residual block, which keeps every candidate whose residual is above rounding
        level; faster but not the RPCholesky distribution.  ``"greedy"``: largest
        residual diagonal (pivoted Cholesky).
    block_size : int or "auto", default "auto"
        Candidates per block for "accelerated"/"block"; "auto" is ``ceil(rank / 10)``
        clipped to [1, 100].  Values above ``min(rank, N)`` are reduced to it.
    tol : float, optional
        Stop once the residual trace is at most ``tol * tr(A)`` (``tol >= 0``).
    rng : numpy.random.Generator, int or None
        The one source of randomness (SPEC 7).

    Returns
    -------
    RPCholeskyResult
        ``(F, pivots, trace, nystrom, stopped_early)`` in the namespace and on the
        device of ``a``.  ``nystrom`` shares ``F`` (no copy): do not modify ``F`` in place.

    Raises
    ------
    ValueError
        If a dense ``a`` is not square/Hermitian or has NaN/Inf, ``a`` is not positive
        semidefinite (a negative diagonal entry, or a residual diagonal entry of
        ``A - F F^H`` below ``-sqrt(eps) A_jj``: a negative eigenvalue beyond rounding),
        or an option is invalid.  Only what the factorization meets is checked: a negative
        eigenvalue is caught once the pivots reach its direction and it is above about
        ``1e-8 max diag(A)`` in size (``-1e-10 max diag(A)`` usually passes).
    TypeError
        If ``a`` is neither an array nor an operator, has a non-numeric, boolean or float16
        dtype, or an option has the wrong type (``rank=True`` included).

    Notes
    -----
    Not differentiable: on torch the factor and traces are returned detached
    (``requires_grad=False``), as the residual is downdated in place.

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

    A candidate whose residual diagonal is at most ``100 eps A_jj`` is never accepted (it is
    rounding noise; its ``d`` is set to 0).  The block method orders each block by largest
    residual (pivoted Cholesky), so that a small pivot never amplifies the rounding errors of
    the larger ones after it: with candidates taken in sampling order, a nearly dependent
    candidate accepted early made later residuals noise of size ``sqrt(eps)``, and ``F F^H``
    exceeded ``A`` on the diagonal.  The invariant ``0 <= diag(A) - rowsum(|F|^2)`` holds up to
    rounding for every method; a residual diagonal below ``-sqrt(eps) A_jj`` means ``a`` is not
    positive semidefinite and raises.

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
    rank = check_int(rank, "rank", low=1)
    check_choice(method, "method", METHODS)
    op = _Operator(a)
    xp = op.xp
    kmax = min(rank, op.n)
    block_size = min(_block_size(block_size, rank, 10), max(kmax, 1))
    rng = as_rng(rng)
    floor = 100 * eps(op.dtype, xp)
    if tol is not None:
        floor = max(floor, check_real(tol, "tol", low=0))
    if op.n and bool(xp.any(op.diag0 < 0)):
        raise ValueError(f"`a` must be positive semidefinite; its diagonal has a negative entry "
                         f"(min {float(xp.min(op.diag0)) * 4.0 ** op.j:.3g}).")
    f, piv, traces = _run(op, kmax, method, block_size, floor, rng, xp)
    f, traces = no_grad(f), no_grad(traces)  # downdated in place: not differentiable (see Notes)
    if op.j:
        f, traces = scale_pow2(f, op.j), scale_pow2_saturating(traces, 2 * op.j, xp)
    return RPCholeskyResult(f, piv, traces, NystromApproximation._shared(f), f.shape[1] < rank)


def _block_size(block_size, rank, rounds):
    """``"auto"``: about ``rank / rounds`` pivots a block (1 to 100); otherwise a positive int."""
    if isinstance(block_size, str) and block_size == "auto":
        return min(100, max(1, math.ceil(rank / rounds)))
    return check_int(block_size, "block_size", low=1)


def _h(z, xp):
    return xp.conj(z.mT) if is_complex(z, xp) else z.mT


def _sample(d, count, rng, xp):
    """``count`` i.i.d. indices with probability proportional to ``d`` (host int64 array)."""
    return _sample_both(d, count, rng, xp)[0]


def _sample_both(d, count, rng, xp):
    """``count`` i.i.d. indices with probability proportional to ``d``, drawn on the device.

    Inverse CDF: the uniforms are drawn on the host (one block from ``rng``, one copy to the
    device) and searched in the cumulative sum of ``d`` there.  Returns the indices on the
    device and on the host (one copy back).
    """
    cdf = xp.cumulative_sum(d)
    u = xp.asarray(1.0 - rng.random(count), dtype=d.dtype, device=d.device)  # in (0, 1]
    idx = xp.clip(xp.searchsorted(cdf, u * cdf[-1]), max=d.shape[0] - 1)
    return np.asarray(host_array(idx), dtype=np.int64), idx


def _sqnorm(x, axis, xp):
    return xp.sum(xp.real(xp.conj(x) * x) if is_complex(x, xp) else x * x, axis=axis)


def _not_psd(i, value, aii, k, j):
    scale = 4.0 ** j if abs(j) < 500 else float("inf")
    raise ValueError(
        f"`a` must be positive semidefinite; the residual diagonal of A - F F^H is "
        f"{value * scale:.3g} at index {i} (A_ii = {aii * scale:.3g}) after {k} pivots, below "
        "-sqrt(eps) A_ii: `a` has a negative eigenvalue beyond rounding.")


def _run(op, kmax, method, block_size, floor, rng, xp):
    """The pivot loop.  Host round trips: a fixed number per round (6), none per pivot.

    The N-sized work (sampling, kernel columns, the downdate of F and of the residual diagonal)
    stays on the device; the small t x t candidate block, the candidates' diagonal entries and
    the per-round statistics travel to the host in one copy each, where the accept/reject
    decisions and the block's Cholesky factor are computed (with NumPy, the same operations as
    the array-API code on NumPy), and the factor returns to the device in one copy.  Per round:
    to the device the uniforms, the accepted pivots and their factor; to the host the candidate
    indices, the block with the candidates' diagonals, and the trace statistics.
    """
    n = op.n
    dev = op.diag0.device
    d = xp.asarray(op.diag0, copy=True)
    diag0 = op.diag0
    e = eps(op.dtype, xp)
    unit = 100 * e  # a residual below unit * A_ss is rounding noise
    neg = math.sqrt(e)  # one below -neg * A_ss is no rounding error: A is not PSD
    trace0 = float(xp.sum(d)) if n else 0.0
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
        cand, cand_x = _candidates(method, d, block_size, kmax - k, rng, xp)
        fc = xp.take(ft[:k, :], cand_x, axis=1)  # F[cand]^T
        # residual on the candidates only: A[c, c] - F[c] F[c]^H = A[c, c] - fc^T conj(fc)
        h = op.block(cand_x, cand_x) - fc.mT @ (xp.conj(fc) if is_complex(fc, xp) else fc)
        d_a = xp.stack([xp.take(d, cand_x), xp.take(diag0, cand_x)])
        if is_complex(h, xp):
            h, d_a = host_array(h), host_array(d_a)
        else:  # one copy for the block and the candidates' d and A_jj
            both = host_array(xp.concat([h, d_a], axis=0))
            h, d_a = both[:-2, :], both[-2:, :]
        a_cand = d_a[1, :].tolist()
        if method == "block":
            accepted, low, exhausted = _block_pivots(h, cand, a_cand, kmax - k, unit, neg, k, op.j)
        else:
            accepted, low, exhausted = _sequential_pivots(h, cand, a_cand, d_a[0, :].tolist(), kmax - k,
                                                          unit, neg, k, op.j,
                                                          rng if method == "accelerated" else None)
        zero = list(exhausted)
        if accepted:
            t = len(accepted)
            piv_host = cand[accepted]
            piv = xp.asarray(piv_host, device=dev)
            low = xp.asarray(low, device=dev)
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
            bad = xp.any(d < -neg * diag0)
            d_kept = d
            d = xp.where(d < 0, xp.zeros_like(d), d)
            zero = [*piv_host.tolist(), *exhausted]
        if zero:
            # the exhausted candidates after the downdate, which must not see their zeros as
            # negative residuals
            d = _zero_at(d, piv if not exhausted else np.array(zero, dtype=np.int64), xp)
        # one copy back per round: the trace removed by each new pivot, the PSD flag, sum(d)
        if accepted:
            stats = host_array(xp.concat([xp.cumulative_sum(_sqnorm(newt, 1, xp)),
                                          xp.stack([xp.astype(bad, d.dtype), xp.sum(d)])]))
            if stats[-2]:
                i = int(xp.argmin(d_kept + neg * diag0))
                _not_psd(i, float(d_kept[i]), float(diag0[i]), len(pivots), op.j)
            before = traces[-1]
            traces.extend(max(before - float(c), 0.0) for c in stats[:-2].tolist())
            residual = float(stats[-1])
            traces[-1] = residual  # the downdated diagonal is the accurate record
        else:
            residual = float(xp.sum(d))
    k = len(pivots)
    f = ft[:k, :].mT
    return (f, xp.asarray(np.array(pivots, dtype=np.int64), device=dev),
            xp.asarray(np.array(traces), dtype=d.dtype, device=dev))


def _hh(z):
    return np.conj(z.T) if np.iscomplexobj(z) else z.T


def _sequential_pivots(h, cand, a_cand, d_cand, left, unit, neg, k, j, rng):
    """Candidates in sampling order; with ``rng``, candidate j is kept with probability r_j / d_j.

    ``h`` is the candidates' residual block on the host; returns ``(accepted positions, L,
    exhausted indices)`` with ``L`` the block's Cholesky factor on the accepted positions.
    """
    uniforms = rng.random(len(cand)) if rng is not None else None
    accepted, exhausted, lcols = [], [], []
    for i in range(len(cand)):
        if len(accepted) >= left:
            break
        r = float(np.real(h[i, i]))
        if r < -neg * a_cand[i]:
            _not_psd(int(cand[i]), r, a_cand[i], k + len(accepted), j)
        if not r > unit * a_cand[i]:
            exhausted.append(int(cand[i]))
            continue
        if uniforms is not None and not uniforms[i] * d_cand[i] < r:
            continue  # rejection: accept with probability (current residual) / d
        col = h[:, i] / math.sqrt(r)
        lcols.append(col)
        h = h - col[:, None] * _hh(col[:, None])  # Schur complement on the block
        accepted.append(i)
    low = np.stack(lcols, axis=1)[accepted, :] if accepted else None
    return accepted, low, exhausted


def _block_pivots(h, cand, a_cand, left, unit, neg, k, j):
    """Pivoted Cholesky of the candidate block (on the host): largest residual first, down to
    rounding level."""
    t = h.shape[0]
    h0 = np.real(np.diagonal(h)).copy()  # the candidates' residuals at the start of the block
    thresh = np.asarray(np.array(a_cand) * unit, dtype=h0.dtype)
    open_ = np.ones(t, dtype=bool)
    accepted, lcols = [], []
    while len(accepted) < left:
        hd = np.real(np.diagonal(h))
        ok = open_ & (hd > thresh)
        if not ok.any():
            break
        # truncate where the block's residual collapses: a candidate mostly explained by the
        # pivots before it in this block stays for a later round (see COLLAPSE)
        ok = ok & (hd >= COLLAPSE * h0)
        if not ok.any():
            return accepted, np.stack(lcols, axis=1)[accepted, :] if accepted else None, []
        i = int(np.argmax(np.where(ok, hd, np.full_like(hd, -math.inf))))
        col = h[:, i] / math.sqrt(float(hd[i]))
        lcols.append(col)
        h = h - col[:, None] * _hh(col[:, None])
        accepted.append(i)
        open_ = open_ & (np.arange(t) != i)
    exhausted = []
    if len(accepted) < left:  # the rest are at rounding level (or below: then A is not PSD)
        hd = np.real(np.diagonal(h)).tolist()
        for i in sorted(set(range(t)) - set(accepted)):
            if hd[i] < -neg * a_cand[i]:
                _not_psd(int(cand[i]), hd[i], a_cand[i], k + len(accepted), j)
            exhausted.append(int(cand[i]))
    return accepted, np.stack(lcols, axis=1)[accepted, :] if accepted else None, exhausted


def _candidates(method, d, block_size, left, rng, xp):
    """Candidate indices on the host (int64) and on the device."""
    if method == "greedy":
        i = xp.reshape(xp.argmax(d), (1,))
        return np.asarray(host_array(i), dtype=np.int64), i
    if method == "simple":
        return _sample_both(d, 1, rng, xp)
    if method == "accelerated":
        return _sample_both(d, block_size, rng, xp)
    cand, cand_x = _sample_both(d, min(block_size, left), rng, xp)
    _, first = np.unique(cand, return_index=True)  # drop repeats, keep the sampling order
    if len(first) == len(cand):
        return cand, cand_x
    cand = cand[np.sort(first)]
    return cand, xp.asarray(cand, device=d.device)


def _zero_at(d, idx, xp):
    hit = xp.any(xp.arange(d.shape[0], device=d.device)[:, None] == xp.asarray(idx, device=d.device)[None, :], axis=1)
    return xp.where(hit, xp.zeros_like(d), d)
