"""Randomly pivoted QR: column subset selection by residual column norms."""

from __future__ import annotations

import math
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
    eps,
    is_complex,
)
from ._rp_cholesky import _block_size, _sample, _sqnorm, _zero_at
from ._rp_common import (
    binary_exponent,
    host_array,
    host_list,
    namespace_of,
    scale_pow2,
    scale_pow2_saturating,
)

__all__ = ["RPQRResult", "rp_qr"]

METHODS = ("accelerated", "simple")


class RPQRResult(NamedTuple):
    """Result of :func:`rp_qr`: ``a ~ Q @ R`` with ``R[:, pivots]`` upper triangular.

    Attributes
    ----------
    Q : array, shape (m, k)
        Orthonormal basis of the selected columns ``a[:, pivots]``.
    R : array, shape (k, n)
        ``Q^H a``; ``R[:, pivots]`` is upper triangular with a positive diagonal.
    pivots : array of int, shape (k,)
        Selected columns, in the order chosen.
    residual : array, shape (k + 1,)
        ``||a - Q_i Q_i^H a||_F^2`` before the first and after each pivot (``inf`` where that
        square exceeds the largest float, as for ``a`` of size 1e+160).
    stopped_early : bool
        True when fewer than ``rank`` columns were selected because the residual
        vanished (numerical rank reached) or ``rank > min(m, n)``.
    """

    Q: Any
    R: Any
    pivots: Any
    residual: Any
    stopped_early: bool


@capability("pivoting", numba=False)
def rp_qr(a: Any, rank: int, *, method: str = "accelerated", block_size: Any = "auto",
          rng: Any = None) -> RPQRResult:
    """Column subset selection and partial QR by randomly pivoted QR.

    Parameters
    ----------
    a : array_like, shape (m, n)
        Real or complex matrix of any array-API library (a nested list is read as NumPy);
        never modified.  Any scale: the work is done on ``a`` times a power of two.
    rank : int
        Number of columns k to select (at least 1).
    method : {"accelerated", "simple"}, default "accelerated"
        ``"simple"``: one column at a time with probability proportional to its
        squared residual norm, orthogonalized by Gram-Schmidt (rank-1 updates).
        ``"accelerated"``: the same distribution, drawn in blocks of candidates and
        thinned by rejection sampling on their small Gram matrix, then applied with
        matrix-matrix products.
    block_size : int or "auto", default "auto"
        Candidates per block for "accelerated"; "auto" is ``ceil(rank / 4)`` clipped
        to [1, 100].  Values above ``min(rank, m, n)`` are reduced to it.
    rng : numpy.random.Generator, int or None
        The one source of randomness (SPEC 7).

    Returns
    -------
    RPQRResult
        ``(Q, R, pivots, residual, stopped_early)`` in the namespace and on the device of ``a``.

    Raises
    ------
    ValueError
        If ``a`` is not 2-D or has NaN/Inf, or an option is invalid.
    TypeError
        If ``a`` is not an array, has a non-numeric, boolean or float16 dtype, or an option has
        the wrong type (``rank=True`` included).

    Notes
    -----
    This is randomly pivoted Cholesky [1]_ applied to the Gram matrix ``a^H a``
    without forming it: the residual diagonal is the vector of squared residual
    column norms.  The residual matrix is kept explicitly and each block of
    accepted columns is orthonormalized (Householder QR, then one
    re-orthogonalization against the earlier basis) and projected out with one
    matrix-matrix product, ``O(m n k)`` flops in all versus ``O(m n min(m, n))``
    for a full QR with column pivoting.  The projection error
    ``||a - Q Q^H a||_F^2`` is within ``(1 + eps)`` of the best rank-r error in
    expectation for ``k`` of order ``r / eps`` (as for RPCholesky); greedy column
    pivoting (LAPACK ``*geqp3``) has no such guarantee but is often close.  The input is
    scaled by a power of two with ``max|a|`` near 1 on entry (exact), and ``R`` and the residual
    history are scaled back on exit, so 1e-170 and 1e+170 behave like 1 (the squared column
    norms of 1e-170 would underflow to 0).

    References
    ----------
    .. [1] Y. Chen, E. N. Epperly, J. A. Tropp, R. J. Webber, "Randomly pivoted
       Cholesky: practical approximation of a kernel matrix with few entry
       evaluations", Comm. Pure Appl. Math. (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import rp_qr
    >>> rng = np.random.default_rng(0)
    >>> a = rng.standard_normal((200, 8)) @ rng.standard_normal((8, 50))
    >>> q, r, piv, res, early = rp_qr(a, 20, rng=1)
    >>> q.shape, early
    ((200, 8), True)
    >>> bool(np.allclose(q @ r, a))
    True
    """
    xp = namespace_of(a, "a")
    a = xp.asarray(a) if not hasattr(a, "shape") else a
    check_ndim(a, "a", 2)
    a = as_floating(a, "a", xp)
    check_finite(a, "a", xp)
    rank = check_int(rank, "rank", low=1)
    check_choice(method, "method", METHODS)
    m, n = a.shape
    kmax = min(rank, m, n)
    block_size = min(_block_size(block_size, rank, 4), max(kmax, 1))
    if method == "simple":
        block_size = 1
    rng = as_rng(rng)
    # homogeneous: work on a * 2**-e with max|a| near 1 (squared norms of 1e-170 underflowed)
    e = binary_exponent(float(xp.max(xp.abs(a)))) if m * n else 0
    e = e if abs(e) > 60 else 0
    if e:
        a = scale_pow2(a, -e)
    cplx = is_complex(a, xp)
    hh = (lambda z: xp.conj(z.mT)) if cplx else (lambda z: z.mT)
    dev = a.device
    d0 = _sqnorm(a, 0, xp)
    d = xp.asarray(d0, copy=True)  # squared residual column norms, downdated
    unit = 100 * eps(a.dtype, xp)
    total0 = float(xp.sum(d))
    residual = [total0]
    qs: list[Any] = []
    projs: list[Any] = []
    pivots: list[int] = []
    rounds = 0
    while len(pivots) < kmax and residual[-1] > unit * total0 and rounds < 100 * kmax + 1000:
        rounds += 1
        cand = _sample(d, block_size, rng, xp)
        cand_x = xp.asarray(cand, device=dev)
        cols = xp.take(a, cand_x, axis=1)
        if qs:  # residual columns on demand: the residual matrix is never stored
            qprev = xp.concat(qs, axis=1)
            cols = cols - qprev @ (hh(qprev) @ cols)
        # residual Gram matrix on the candidates, decided on the host: one copy a round
        h = host_array(hh(cols) @ cols)
        d_cand = [float(x) for x in host_list(xp.take(d, cand_x))]
        thresh = [unit * float(x) for x in host_list(xp.take(d0, cand_x))]
        uniforms = rng.random(len(cand)) if method == "accelerated" else np.zeros(len(cand))
        accepted: list[int] = []
        exhausted: list[int] = []
        for j in range(len(cand)):
            if len(pivots) + len(accepted) >= kmax:
                break
            r = float(np.real(h[j, j]))
            if not r > thresh[j]:
                exhausted.append(cand[j])
                continue
            if not uniforms[j] * d_cand[j] < r:
                continue  # rejection: accept with probability (current residual) / d
            col = h[:, j] / math.sqrt(r)
            h = h - col[:, None] * (np.conj(col[None, :]) if cplx else col[None, :])
            accepted.append(j)
        if exhausted:
            d = _zero_at(d, np.array(exhausted, dtype=np.int64), xp)
        if not accepted:
            continue
        piv_host = cand[accepted]
        qb = xp.linalg.qr(xp.take(cols, xp.asarray(np.array(accepted), device=dev), axis=1))[0]
        if qs:  # re-orthogonalize against the earlier basis ("twice is enough")
            qb = xp.linalg.qr(qb - qprev @ (hh(qprev) @ qb))[0]
        proj = hh(qb) @ a  # rows of R for this block (qb is orthogonal to the earlier basis)
        qs.append(qb)
        projs.append(proj)
        pivots.extend(int(p) for p in piv_host)
        # Householder QR keeps the column order, so row i of proj is what pivot i removes
        before = residual[-1]
        removed = host_list(xp.cumulative_sum(_sqnorm(proj, 1, xp)))
        residual.extend(max(before - float(c), 0.0) for c in removed)
        d = d - _sqnorm(proj, 0, xp)
        d = _zero_at(xp.where(d < 0, xp.zeros_like(d), d), piv_host, xp)
    q = xp.concat(qs, axis=1) if qs else xp.zeros((m, 0), dtype=a.dtype, device=dev)
    r = xp.concat(projs, axis=0) if projs else xp.zeros((0, n), dtype=a.dtype, device=dev)
    # make diag(R[:, pivots]) real positive, like Householder QR with column pivoting
    piv_x = xp.asarray(np.array(pivots, dtype=np.int64), device=dev)
    if pivots:
        diag = xp.linalg.diagonal(xp.take(r, piv_x, axis=1))
        absd = xp.abs(diag)
        phase = xp.where(absd > 0, diag / xp.astype(xp.where(absd > 0, absd, xp.ones_like(absd)), diag.dtype),
                         xp.ones_like(diag))
        q = q * phase[None, :]
        r = r * (xp.conj(phase) if cplx else phase)[:, None]
    res = xp.asarray(np.array(residual), dtype=d.dtype, device=dev)
    if e:
        r, res = scale_pow2(r, e), scale_pow2_saturating(res, 2 * e, xp)  # inf past 1e+154
    return RPQRResult(q, r, piv_x, res, len(pivots) < rank)
