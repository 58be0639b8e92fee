"""MSPM for general (non-symmetric) tensors of order m >= 4: one power flattening plus one per right mode.

For ``T = sum_i w_i a_i^(1) (x) ... (x) a_i^(m)`` the modes are split into a left set S
(``|S| >= 2``) and its complement.  Flattening ``S x S^c`` gives ``span{(x)_{j in S} a_i^(j)}``,
where the block power iteration of :func:`mspm` (every block of size 1) finds the
``a_i^(j)``, ``j in S``.  Each right mode q is read off a second flattening whose left
side is ``(S minus s_q) + q``: contracting its left basis ``V_q`` with the known vectors of
``S minus s_q`` leaves a ``d_q x R`` matrix whose top left singular vector is ``a_i^(q)``
(the order-3 scheme of ``_mspm3``, generalised).  Every flattening is factored once and
deflated with each component, as in :func:`spm`; T is never re-formed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time

import numpy as np

from .._validate import check_rank
from ._cp import host_copy
from ._mspm import _canonical_signs, _extract_one, _flatten, _Side
from ._spm import _choose_rank, _component_stats, _deflate, numerical_rank, rounding_floor
from ._threads import single_thread_blas


def _secondary(S, q, dims):
    """Mode of S to swap out for right mode q: the one leaving the most balanced flattening."""
    best = None
    total = math.prod(dims)
    for s in S:
        rows = math.prod(dims[j] for j in S if j != s) * dims[q]
        key = min(rows, total // rows)
        if best is None or key > best[0]:
            best = (key, s)
    return best[1]


def plan_general(dims):
    """Left set S, per-right-mode swaps and the generic identifiable rank for a general tensor.

    The limit is the smallest of: the power flattening's rank ``min(P_S, P_Sc)`` and its
    rank-one variety bound ``P_S - sum_{j in S} (d_j - 1) - 1`` (as in :func:`mspm`), and for
    each right mode q the secondary flattening's rank and ``rows_q - d_q + 1`` (the
    contraction must meet the span only at the component).  Among the splits reaching the
    largest limit, the smallest power side wins (cheapest iteration).
    """
    m = len(dims)
    total = math.prod(dims)
    best = None
    for size in range(2, m):
        for S in itertools.combinations(range(m), size):
            rest = [j for j in range(m) if j not in S]
            PS = math.prod(dims[j] for j in S)
            limit = min(PS, total // PS, PS - sum(dims[j] - 1 for j in S) - 1)
            swaps = {}
            for q in rest:
                s = _secondary(S, q, dims)
                swaps[q] = s
                rows = PS // dims[s] * dims[q]
                limit = min(limit, rows, total // rows, rows - dims[q] + 1)
            limit = max(limit, 1)
            key = (limit, -PS)
            if best is None or key > best[0]:
                best = (key, S, swaps, limit)
    return best[1], best[2], best[3]


class _GFlattening:
    """Factored flattening ``V diag(1/C) W^T`` of T with left modes ``left_modes`` (in order)."""

    def __init__(self, T, left_modes, xp):
        m = T.ndim
        self.order = (*left_modes, *(j for j in range(m) if j not in left_modes))
        Tp = xp.permute_dims(T, self.order)
        dims = list(Tp.shape)
        nl = len(left_modes)
        self.left = _Side((1,) * nl + (0,) * (m - nl), dims, xp, T.dtype, T.device)
        self.right = _Side((0,) * nl + (1,) * (m - nl), dims, xp, T.dtype, T.device)
        self.M = _flatten(Tp, (1,) * m, dims, self.left, self.right, xp)
        U, S, Wt = xp.linalg.svd(self.M, full_matrices=False)
        self.U, self.S, self.Wt = U, S, Wt
        self.spectrum = host_copy(S, xp).astype(np.float64)
        self.dims = dims

    def truncate(self, R, xp):
        self.V, self.W = self.U[:, :R], self.Wt[:R, :].mT
        self.C = xp.eye(R, dtype=self.S.dtype, device=self.S.device) * (1.0 / self.S[:R])[None, :]

    def cols(self, xs):
        """Per-mode column vectors (modes of T) in this flattening's order."""
        return [xs[j][:, None] for j in self.order]

    def alpha_beta(self, xs):
        cols = self.cols(xs)
        return self.V.mT @ self.left.coords(cols)[:, 0], self.W.mT @ self.right.coords(cols)[:, 0]

    def deflate(self, xs, xp):
        alpha, beta = self.alpha_beta(xs)
        self.V, self.W, self.C = _deflate(self.V, self.W, self.C, alpha, beta, xp)


def mspm_general(T, *, rank, rank_tol, opts, n_tries, max_restarts, gen, use, xp):
    """Decomposition of a general tensor of order >= 4; returns the fields of an MSPMResult."""
    timings = {"extraction": 0.0, "power": 0.0, "deflation": 0.0}
    dims = tuple(T.shape)
    m = len(dims)
    S, swaps, limit = plan_general(dims)
    t0 = time.perf_counter()
    main = _GFlattening(T, S, xp)
    second = {q: _GFlattening(T, (*(j for j in S if j != s), q), xp) for q, s in swaps.items()}
    flats = [main, *second.values()]
    timings["extraction"] = time.perf_counter() - t0
    if main.spectrum[0] == 0.0:
        raise ValueError("`T` must be nonzero; got the zero tensor.")
    size_limit = min(min(f.M.shape) for f in flats)
    numerical = min(numerical_rank(f.spectrum, size_limit, T.dtype, xp) for f in flats)
    if rank is None:
        R = min(_choose_rank(main.spectrum, rank_tol, tuple(main.M.shape), symmetric=False,
                             floor=rounding_floor(main.spectrum, T.dtype, xp)), size_limit)
    else:
        R = check_rank(rank, "rank", size_limit, "the flattenings' size")
        if R > numerical:
            raise ValueError(f"`rank` must be at most the numerical rank of the flattenings of `T`, "
                             f"{numerical}; got {R}.")
    for f in flats:
        f.truncate(R, xp)
    pdims = [dims[j] for j in main.order]
    found_p = [[] for _ in range(m)]  # in the main flattening's order (what _extract_one sees)
    found = [[] for _ in range(m)]    # in the modes of T
    weights = []
    stats = _component_stats(R)
    duplicates = 0
    with single_thread_blas() if use == "numba" else contextlib.nullcontext():
        for k in range(R):
            t0 = time.perf_counter()
            xsp, rec = _extract_one(main.V, main.left, pdims, gen, n_tries, max_restarts, found_p, opts,
                                    xp, use)
            xs = [None] * m
            for pos, j in enumerate(main.order[:len(S)]):
                xs[j] = xsp[pos]
            for q, f in second.items():
                # a^(q) maximizes ||V_q^T (x_known (x) z)||: contract V_q with the known modes.
                known = f.order[:len(S) - 1]
                B = f.V
                for j in known:
                    B = xp.reshape(B, (dims[j], -1, B.shape[-1]))
                    B = xp.sum(B * xs[j][:, None, None], axis=0)
                xs[q] = xp.linalg.svd(B, full_matrices=False)[0][:, 0]
            timings["power"] += time.perf_counter() - t0
            for key in stats:
                stats[key][k] = rec[key]
            duplicates += rec["duplicate"]

            t0 = time.perf_counter()
            alpha, beta = main.alpha_beta(xs)
            lam = 1.0 / float(xp.sum(beta * (main.C @ alpha)))
            xs, lam = _canonical_signs(xs, lam, (1,) * m, xp)
            for j, x in enumerate(xs):
                found[j].append(x)
            for pos, j in enumerate(main.order):
                found_p[pos].append(xs[j])
            weights.append(lam)
            if k + 1 < R:
                for f in flats:
                    f.deflate(xs, xp)
            timings["deflation"] += time.perf_counter() - t0

    factors = [xp.stack(f, axis=1) for f in found]
    lam = xp.asarray(np.asarray(weights), dtype=T.dtype, device=T.device)
    mats = [factors[j] for j in main.order]
    SL = main.left.coords(mats)
    SR = main.right.coords(mats)
    residual = float(xp.linalg.matrix_norm(main.M - (SL * lam[None, :]) @ SR.mT)
                     / xp.linalg.matrix_norm(main.M))
    split = tuple(int(j in S) for j in range(m))
    return {"weights": lam, "factors": factors, "rank": R, "residual": residual,
            "spectrum": main.spectrum, "limit": limit, "timings": timings,
            "duplicates": duplicates, "stats": stats, "shape": tuple(main.M.shape), "split": split}
