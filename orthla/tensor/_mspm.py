"""Multi-subspace power method (MSPM) for partially symmetric CP decompositions."""

from __future__ import annotations

import contextlib
import itertools
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import array_namespace, capability, is_numpy, select_engine
from .._validate import as_floating, as_rng, check_choice, check_finite, check_int, check_real, eps
from ._cp import host_copy
from ._scale import binary_exponent, ldexp, max_abs, scale_pow2
from ._spm import (
    DUPLICATE_COS,
    MAX_TRIES,
    SAFEGUARD_TOL,
    SYNC_EVERY,
    TIE_TOL,
    TensorWarning,
    _best_start,
    _component_stats,
    _deflate,
    _fit_problems,
    _run_problems,
    _select_rank,
    scale_spectrum,
    sym_coords,
)
from ._symmetric import check_nonempty, sym_indices
from ._threads import single_thread_blas

__all__ = ["MSPMResult", "mspm"]


@dataclass(frozen=True)
class MSPMResult:
    """Result of :func:`mspm`: weights and one factor matrix per symmetry block.

    ``T ~= sum_i w_i a_i^(1)(x k_1) (x) ... (x) a_i^(p)(x k_p)``.

    Attributes
    ----------
    weights : array, shape (rank,)
        Signed weights, in the namespace and on the device of ``T``.  When some
        block has odd size the sign is moved into that block's factor, so
        weights are positive.
    factors : list of arrays
        One (d_j x rank) matrix with unit columns per symmetry block.
    rank : int
        Number of components extracted.
    split : tuple of int
        Modes of each block placed on the power-method side of the flattening.
    success, message, residual, iterations, restarts, objective, grad_norm, converged, spectrum, identifiable_limit, timings
        As in :class:`SPMResult` (``iterations`` counts sweeps over the blocks).
    """

    weights: Any
    factors: list
    rank: int
    split: tuple
    success: bool
    message: str
    residual: float
    iterations: np.ndarray
    restarts: np.ndarray
    objective: np.ndarray
    grad_norm: np.ndarray
    converged: np.ndarray
    spectrum: np.ndarray
    identifiable_limit: int
    timings: dict = field(default_factory=dict)


class _Side:
    """Isometric coordinates of one side of the flattening: a Kronecker product over blocks."""

    def __init__(self, counts, dims, xp, dtype, dev):
        self.blocks = [j for j, c in enumerate(counts) if c > 0]
        self.counts = [counts[j] for j in self.blocks]
        self.dims = [dims[j] for j in self.blocks]
        self.tables = [sym_indices(dims[j], counts[j]) for j in self.blocks]
        self.sizes = [t[0].shape[0] for t in self.tables]
        # The cached tables are read-only; hand the backend fresh copies (torch refuses to share them).
        self.cols = [[xp.asarray(np.array(idx[:, q]), device=dev) for q in range(idx.shape[1])]
                     for idx, _ in self.tables]
        self.w = [xp.asarray(np.array(w), dtype=dtype, device=dev) for _, w in self.tables]
        # One-hot scatter matrices (d_j x N_j) per block and position, so gradients are GEMMs.
        self.onehots = [[_onehot(idx[:, q], dims[j], dtype, dev, xp) for q in range(idx.shape[1])]
                        for j, (idx, _) in zip(self.blocks, self.tables, strict=True)]
        self.xp = xp

    @property
    def stacked(self):
        if not hasattr(self, "_stacked"):
            self._stacked = _stacked_tables(self)
        return self._stacked

    @property
    def size(self):
        return math.prod(self.sizes)

    def block_coords(self, X):
        """Per-block coordinate matrices (N_j x t) for the block points ``X[j]`` (d_j x t)."""
        return [sym_coords(X[j], c, w, self.xp) for j, c, w in zip(self.blocks, self.cols, self.w, strict=True)]

    def coords(self, X):
        """Khatri-Rao product of the block coordinates (prod N_j x t), row-major."""
        xp = self.xp
        S = None
        for s in self.block_coords(X):
            S = s if S is None else xp.reshape(S[:, None, :] * s[None, :, :], (-1, s.shape[1]))
        return S


def _choose_split(symmetry, dims):
    """Left counts l_j in [1, k_j] (right nonempty) maximizing the identifiable rank."""
    best = None
    for left in itertools.product(*(range(1, k + 1) for k in symmetry)):
        right = [k - l for k, l in zip(symmetry, left, strict=True)]
        if sum(right) == 0:
            continue
        n_left = math.prod(math.comb(d + l - 1, l) for d, l in zip(dims, left, strict=True))
        n_right = math.prod(math.comb(d + r - 1, r) for d, r in zip(dims, right, strict=True))
        variety = sum(d - 1 for d in dims) + 1
        limit = max(min(n_right, n_left - variety), 1)
        key = (limit, n_left)
        if best is None or key > best[0]:
            best = (key, tuple(left), tuple(right), limit)
    return best[1], best[2], best[3]


def _block_gradients(Z, left, SL_blocks, X, which, xp):
    """Half-gradient ``grad_(x_j) F / (2 l_j)`` for block positions ``which`` at one point."""
    t = Z.shape[1]
    Zt = xp.reshape(Z, (*left.sizes, t))
    out = {}
    for b in which:
        Y = Zt
        # Contract every other block's coordinates, from the last axis down so indices stay valid.
        for q in range(len(left.sizes) - 1, -1, -1):
            if q == b:
                continue
            shape = [1] * (Y.ndim - 1) + [t]
            shape[q] = left.sizes[q]
            Y = xp.sum(Y * xp.reshape(SL_blocks[q], tuple(shape)), axis=q)
        j = left.blocks[b]
        n = left.counts[b]
        Y = Y * left.w[b][:, None]
        Xs = [xp.take(X[j], c, axis=0) for c in left.cols[b]]
        G = None
        for p in range(n):
            loo = Y
            for q in range(n):
                if q != p:
                    loo = loo * Xs[q]
            term = left.onehots[b][p] @ loo
            G = term if G is None else G + term
        out[b] = G / n
    return out


def _onehot(col, d, dtype, dev, xp):
    E = np.zeros((d, col.shape[0]))
    E[col, np.arange(col.shape[0])] = 1.0
    return xp.asarray(E, dtype=dtype, device=dev)


def _power_blocks(V, left, X0, *, max_iter, tol, adaptive, stall_limit, exact_tol=TIE_TOL):
    """Block Gauss-Seidel shifted power iteration on F = ||V^T (x_1^(x l_1) (x) ...)||^2.

    Each block step is the SPM step for that block with the others fixed (shift
    ``l_j - 1`` keeps it an ascent step; the adaptive shift falls back to it).
    All random starts (columns) are iterated together.
    """
    xp = array_namespace(V)
    X = list(X0)
    t = X[0].shape[1]
    dev = V.device
    nb = len(left.blocks)

    def objective(X):
        A = V.mT @ left.coords(X)
        return A, xp.sum(A * A, axis=0)

    def normalize(Y):
        return Y / xp.linalg.vector_norm(Y, axis=0)[None, :]

    A, F = objective(X)
    on_host = is_numpy(xp)
    check_every = 1 if on_host else SYNC_EVERY
    done = xp.zeros(t, dtype=xp.bool, device=dev)
    iters = xp.zeros(t, dtype=xp.int64, device=dev)
    best = xp.full(t, math.inf, dtype=V.dtype, device=dev)
    stall = xp.zeros(t, dtype=xp.int64, device=dev)
    gnorm = xp.full(t, math.inf, dtype=V.dtype, device=dev)
    for it in range(max_iter + 1):
        SLb = left.block_coords(X)
        G = _block_gradients(V @ A, left, SLb, X, range(nb), xp)
        gn = xp.sqrt(sum(xp.sum((G[b] - X[left.blocks[b]] * F[None, :]) ** 2, axis=0) for b in range(nb)))
        improved = gn < 0.999 * best
        best = xp.where(improved, gn, best)
        stall = xp.where(improved, xp.zeros_like(stall), stall + 1)
        conv = (gn <= tol) | ((stall >= stall_limit) & (best <= 1e3 * tol))
        gnorm = xp.where(done, gnorm, gn)
        done = done | conv
        # Stop early once a start is an exact component (F <= 1: none can do better).
        # Off NumPy the flags are read every few sweeps only: each read is a host sync.
        if it == max_iter or (it % check_every == 0
                              and bool(xp.all(done) | xp.any(done & (F >= 1.0 - exact_tol)))):
            break
        active = ~done
        for b in range(nb):
            j = left.blocks[b]
            if b > 0:
                SLb = left.block_coords(X)
                G = _block_gradients(V @ A, left, SLb, X, [b], xp)
            fixed = float(left.counts[b] - 1)
            gamma = fixed * xp.sqrt(xp.clip(1.0 - F, 0.0, None)) if adaptive else fixed
            Xn = list(X)
            Xn[j] = normalize(G[b] + gamma * X[j])
            An, Fn = objective(Xn)
            if adaptive and fixed > 0:
                worse = Fn < F - SAFEGUARD_TOL
                if not on_host or bool(xp.any(worse & active)):
                    Xf = list(X)
                    Xf[j] = normalize(G[b] + fixed * X[j])
                    Af, Ff = objective(Xf)
                    Xn[j] = xp.where(worse[None, :], Xf[j], Xn[j])
                    An = xp.where(worse[None, :], Af, An)
                    Fn = xp.where(worse, Ff, Fn)
            X[j] = xp.where(active[None, :], Xn[j], X[j])
            A = xp.where(active[None, :], An, A)
            F = xp.where(active, Fn, F)
        iters = iters + xp.astype(active, xp.int64)
    return X, F, iters, done, gnorm


def _stacked_tables(left):
    """Multi-index table of the left coordinates over the stacked block variables.

    Entry I of the Kronecker product (row-major over blocks) is the monomial
    ``w_I prod_q x_stacked[idx[I, q]]``; returns ``idx`` (N x sum l_b), ``w``,
    the block row offsets ``starts`` and the counts ``l_b``.
    """
    starts = np.zeros(len(left.blocks) + 1, dtype=np.int64)
    idx, w = np.zeros((1, 0), dtype=np.int64), np.ones(1)
    for b, (tb, wb) in enumerate(left.tables):
        starts[b + 1] = starts[b] + left.dims[b]
        n_prev, n_b = idx.shape[0], tb.shape[0]
        idx = np.concatenate([np.repeat(idx, n_b, axis=0), np.tile(tb + starts[b], (n_prev, 1))], axis=1)
        w = (w[:, None] * wb[None, :]).reshape(-1)
    return np.ascontiguousarray(idx), w, starts, np.asarray(left.counts, dtype=np.int64)


def _power_blocks_numba(V, left, X0, **opts):
    from ._mspm_numba import mspm_power_tries

    idx, w, starts, counts = left.stacked
    V64 = np.ascontiguousarray(V, dtype=np.float64)
    Xs = np.concatenate([np.asarray(X0[j], dtype=np.float64) for j in left.blocks], axis=0)
    X, F, iters, done, gnorm = mspm_power_tries(
        V64, np.ascontiguousarray(V64.T), idx, w, starts, counts, Xs, opts["max_iter"], opts["tol"],
        opts["adaptive"], opts["stall_limit"], opts.get("exact_tol", TIE_TOL))
    out = list(X0)
    for b, j in enumerate(left.blocks):
        out[j] = X[starts[b]:starts[b + 1]].astype(V.dtype, copy=False)
    return out, F, iters, done, gnorm


def _check_partial_symmetry(T, symmetry, xp, rtol):
    offsets = np.cumsum((0, *symmetry))
    if rtol is None:
        rtol = 100 * T.ndim * eps(T.dtype, xp)
    for j, k in enumerate(symmetry):
        if k < 2:
            continue
        modes = list(range(offsets[j], offsets[j] + k))
        # Move the block to the front, then measure its asymmetry on a (d_j,)*k x rest view.
        rest = [a for a in range(T.ndim) if a not in modes]
        Tb = xp.permute_dims(T, (*modes, *rest))
        Tb = xp.reshape(Tb, (*Tb.shape[:k], -1))
        Tb = xp.permute_dims(Tb, (Tb.ndim - 1, *range(k)))  # block modes last, batch first
        asym = _batched_asymmetry(Tb, k, xp)
        if asym > rtol:
            raise ValueError(
                f"`T` must be symmetric within block {j} (modes {modes[0]}..{modes[-1]}) of "
                f"symmetry={tuple(symmetry)}; measured asymmetry {asym:.3g} exceeds sym_rtol = {rtol:.3g}. "
                f"Use symmetrize(T, symmetry={tuple(symmetry)}) (the nearest tensor with this "
                "symmetry, e.g. for measured data), a larger sym_rtol, or assume_symmetric=True."
            )


def _batched_asymmetry(Tb, k, xp):
    # Swap and cycle of the last k axes generate the symmetric group of the block.
    scale = float(xp.max(xp.abs(Tb)))
    if scale == 0.0:
        return 0.0
    base = (0,)
    swap = (*base, 2, 1, *range(3, k + 1))
    cycle = (*base, *range(2, k + 1), 1)
    return max(float(xp.max(xp.abs(Tb - xp.permute_dims(Tb, p)))) for p in (swap, cycle)) / scale


@capability("tensor", numba=True, notes="block power iteration in a Numba kernel on NumPy input")
def mspm(T: Any, *, symmetry: tuple, rank: int | None = None, rank_tol: float = 1e-4,
         shift: str = "adaptive", max_iter: int = 5000, n_tries: int = 3, max_restarts: int = 3,
         grad_tol: float = 1e-14, assume_symmetric: bool = False, sym_rtol: float | None = None,
         rng: Any = None, engine: str = "auto") -> MSPMResult:
    """Partially symmetric CP decomposition by a multi-subspace power method.

    Finds ``T ~= sum_i w_i a_i^(1)(x k_1) (x) ... (x) a_i^(p)(x k_p)`` for a tensor
    whose modes form p consecutive blocks of sizes ``symmetry = (k_1, ..., k_p)``,
    symmetric within each block; for example ``symmetry=(2, 1)`` for
    ``T = sum_i w_i a_i (x) a_i (x) b_i``.

    Parameters
    ----------
    T : array
        Dense real tensor; block j spans ``k_j`` consecutive modes of equal size d_j.
        Never modified.
    symmetry : tuple of int
        Block sizes, summing to ``T.ndim``; at least one must be 2 or more,
        or all ones of length m >= 3 for a general order-m tensor (see Notes).
    rank, rank_tol, shift, max_iter, n_tries, max_restarts, grad_tol, rng
        As in :func:`spm` (the rank rule of its Notes on the singular values of
        the flattening); ``max_iter`` counts sweeps over the blocks.
    assume_symmetric : bool, default False
        Skip the within-block symmetry check.
    sym_rtol : float, optional
        Allowed relative asymmetry within a block (finite, >= 0; default
        ``100 m eps``).  For measured data that is symmetric only up to noise,
        pass ``symmetrize(T, symmetry=symmetry)`` instead: the nearest tensor
        with the block symmetry.
    engine : {"auto", "numba", "xp"}, default "auto"
        Block power iteration in a Numba kernel (NumPy input) or through the
        array-API path (any backend; starts batched as matrix products).

    Returns
    -------
    MSPMResult
        Weights, one factor matrix per block, rank, split, success flag and
        per-component statistics.  For a general tensor of order >= 4, ``split``
        has one entry per mode: 1 for the modes on the power-method side.

    Raises
    ------
    ValueError
        If ``symmetry`` does not match ``T`` or is ``(1,)`` or ``(1, 1)``, a
        block is not cubical or not symmetric (with the measured asymmetry),
        ``T`` has NaN/Inf or is empty or zero, ``rank`` exceeds the flattening's
        (or, for a general tensor, the smallest flattening's) size or numerical
        rank, or an option is out of range (NaN and infinite tolerances
        included; ``n_tries`` above 1000).  The asymmetry message names
        ``symmetrize(T, symmetry=...)``.
    TypeError
        If ``T`` is complex, float16 or non-numeric, or an option has the wrong
        type (booleans are not integers).
    ImportError
        If ``engine="numba"`` and numba is not installed.

    Warns
    -----
    TensorWarning
        When ``success`` is False (non-convergence, duplicates, rank above
        the identifiable limit, or a residual not explained by the noise floor
        of the flattening, as in :class:`SPMResult`).

    Notes
    -----
    The flattening is chosen automatically: block j contributes ``l_j >= 1``
    modes (in isometric symmetric coordinates) to the left side and
    ``k_j - l_j`` to the right, picking the split that maximizes the generic
    identifiable rank ``min(N_right, N_left - sum_j (d_j - 1) - 1)``.  Its SVD
    gives a basis V of ``span{a_i^(1)(x l_1) (x) ... (x) a_i^(p)(x l_p)}``; the
    components are the maxima (value 1) of
    ``F = ||V^T (x_1^(x l_1) (x) ... (x) x_p^(x l_p))||^2`` over products of
    spheres, found by a block Gauss-Seidel shifted power iteration in which
    each block step is the SPM step of :func:`spm` (so each step ascends with
    the fixed shift ``l_j - 1``) [1]_, [2]_.  Weights and two-reflector
    Householder deflation are as in :func:`spm`.  Every block must appear on
    the left and the right side must be nonempty, which needs a block of size
    2 or more.  A general order-3 tensor ``sum_i w_i a_i (x) b_i (x) c_i``
    (``symmetry=(1, 1, 1)``) uses two flattenings sharing the smallest mode a:
    ``(a b) x c`` for the power iteration on ``(a_i, b_i)``, and ``(a c) x b``,
    where ``c_i`` is the top left singular vector of ``V_2`` contracted with
    ``a_i``; both are deflated with each component, and ranks up to
    ``min(d_b, d_c)`` are identifiable.  A general tensor of order m >= 4
    (``symmetry=(1,) * m``) is flattened as ``S x S^c`` with ``|S| >= 2``; the block
    power iteration on ``span{(x)_{j in S} a_i^(j)}`` gives the factors of the
    modes in S, and each mode q outside S is read off a second flattening whose
    left side is S with one mode swapped for q: its left basis contracted with
    the known factors leaves a ``d_q x R`` matrix whose top left singular vector
    is ``a_i^(q)``.  All ``1 + |S^c|`` flattenings are factored once and
    deflated with each component.  S is the set that maximizes the generic
    identifiable rank ``min(P_S, P_Sc, P_S - sum_{j in S} (d_j - 1) - 1)``
    (``P`` the product of the mode sizes), further bounded by the secondary
    flattenings' sizes (``identifiable_limit`` reports it).  For order 4 with
    all sizes d this is the square flattening (12|34) and ranks up to
    ``d^2 - 2d + 1`` (above d) are recovered; for 4 x 5 x 6 x 7, up to 24.
    ``T`` is scaled by a power of two to ``max|T|`` in ``[0.5, 1)`` first (exact);
    the weights and ``spectrum`` are scaled back.

    References
    ----------
    .. [1] J. Kileel, J. M. Pereira, "Subspace power method for symmetric tensor
       decomposition", Numerical Algorithms (2025), arXiv:1912.04007.
    .. [2] J. Wang, J. M. Pereira, J. Kileel, A. Seigal, "Multi-subspace power
       method for decomposing all tensors", arXiv:2510.18627.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.tensor import cp_to_tensor, match_components, mspm
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((6, 5)); A /= np.linalg.norm(A, axis=0)
    >>> B = rng.standard_normal((4, 5)); B /= np.linalg.norm(B, axis=0)
    >>> T = cp_to_tensor(rng.standard_normal(5), [A, A, B])
    >>> res = mspm(T, symmetry=(2, 1), rng=0)
    >>> res.rank, res.split, res.success, bool(res.residual < 1e-12)
    (5, (1, 1), True, True)
    >>> bool(match_components(A, res.factors[0]).angle_deg.max() < 1e-6)
    True
    """
    xp = array_namespace(T)
    T = xp.asarray(T) if not hasattr(T, "shape") else T
    if isinstance(symmetry, int | np.integer) or not hasattr(symmetry, "__iter__"):
        raise TypeError(f"`symmetry` must be a tuple of block sizes, e.g. (2, 1); got {symmetry!r}.")
    symmetry = tuple(check_int(k, "symmetry", low=1) for k in symmetry)
    if sum(symmetry) != T.ndim:
        raise ValueError(f"`symmetry` must sum to T.ndim = {T.ndim}; got {symmetry}.")
    general = max(symmetry) == 1
    if general and len(symmetry) < 3:
        raise ValueError(
            f"`symmetry` must have a block of size at least 2, or be all ones of length at least 3 "
            f"(a general tensor of order >= 3); got {symmetry} (a general matrix has no unique "
            "rank decomposition)."
        )
    offsets = np.cumsum((0, *symmetry))
    dims = []
    for j, k in enumerate(symmetry):
        shape = T.shape[offsets[j]:offsets[j] + k]
        if len(set(shape)) != 1:
            raise ValueError(f"block {j} of `symmetry`={symmetry} must have equal dimensions; "
                             f"got {tuple(shape)} in T.shape = {tuple(T.shape)}.")
        dims.append(shape[0])
    check_nonempty(T, "T")
    T = as_floating(T, "T", xp, allow_complex=False)
    check_finite(T, "T", xp)
    check_choice(shift, "shift", ("adaptive", "fixed"))
    max_iter = check_int(max_iter, "max_iter", low=1)
    n_tries = check_int(n_tries, "n_tries", low=1, high=MAX_TRIES)
    max_restarts = check_int(max_restarts, "max_restarts", low=0)
    rank_tol = check_real(rank_tol, "rank_tol", low=0.0, high=1.0, low_open=True, high_open=True)
    grad_tol = check_real(grad_tol, "grad_tol", low=0.0, low_open=True)
    if sym_rtol is not None:
        sym_rtol = check_real(sym_rtol, "sym_rtol", low=0.0)
    use = select_engine(engine, xp)
    gen = as_rng(rng)
    # Homogeneous: work on T / 2**e with max|T| / 2**e in [0.5, 1) (exact), scale weights back.
    exponent = binary_exponent(max_abs(T, xp))
    T = scale_pow2(T, -exponent, xp)
    if not assume_symmetric:
        _check_partial_symmetry(T, symmetry, xp, sym_rtol)

    dev, dtype = T.device, T.dtype
    if symmetry == (1, 1, 1):
        from ._mspm3 import mspm_order3

        tol = max(float(grad_tol), 8 * math.sqrt(math.prod(sorted(dims)[:2])) * eps(dtype, xp))
        opts = {"max_iter": max_iter, "tol": tol, "adaptive": shift == "adaptive", "stall_limit": 50}
        out = mspm_order3(T, rank=rank, rank_tol=float(rank_tol), opts=opts, n_tries=n_tries,
                          max_restarts=max_restarts, gen=gen, use=use, xp=xp)
        return _result(out["weights"], out["factors"], out["rank"], out["split"], out["residual"],
                       out["spectrum"], out["limit"], out["timings"], out["stats"], out["duplicates"],
                       symmetry=symmetry, dims=dims, max_iter=max_iter, max_restarts=max_restarts,
                       dtype=dtype, xp=xp, exponent=exponent, shape=out["shape"], chosen=rank is None)
    if general:
        from ._mspm_general import mspm_general, plan_general

        S = plan_general(dims)[0]
        tol = max(float(grad_tol), 8 * math.sqrt(math.prod(dims[j] for j in S)) * eps(dtype, xp))
        opts = {"max_iter": max_iter, "tol": tol, "adaptive": shift == "adaptive", "stall_limit": 50}
        out = mspm_general(T, rank=rank, rank_tol=float(rank_tol), opts=opts, n_tries=n_tries,
                           max_restarts=max_restarts, gen=gen, use=use, xp=xp)
        return _result(out["weights"], out["factors"], out["rank"], out["split"], out["residual"],
                       out["spectrum"], out["limit"], out["timings"], out["stats"], out["duplicates"],
                       symmetry=symmetry, dims=dims, max_iter=max_iter, max_restarts=max_restarts,
                       dtype=dtype, xp=xp, exponent=exponent, shape=out["shape"], chosen=rank is None)
    timings = {"extraction": 0.0, "power": 0.0, "deflation": 0.0}
    t0 = time.perf_counter()
    lcounts, rcounts, limit = _choose_split(symmetry, dims)
    left = _Side(lcounts, dims, xp, dtype, dev)
    right = _Side(rcounts, dims, xp, dtype, dev)
    M = _flatten(T, symmetry, dims, left, right, xp)
    U, S, Wt = xp.linalg.svd(M, full_matrices=False)
    spectrum = host_copy(S, xp).astype(np.float64)
    timings["extraction"] = time.perf_counter() - t0
    if spectrum[0] == 0.0:
        raise ValueError("`T` must be nonzero; got the zero tensor.")
    R = _select_rank(spectrum, rank, rank_tol, M.shape, "the flattening size", dtype, xp)
    V, W = U[:, :R], Wt[:R, :].mT
    C = xp.eye(R, dtype=dtype, device=dev) * (1.0 / S[:R])[None, :]

    tol = max(float(grad_tol), 8 * max(symmetry) * math.sqrt(left.size) * eps(dtype, xp))
    opts = {"max_iter": max_iter, "tol": tol, "adaptive": shift == "adaptive", "stall_limit": 50}
    found = [[] for _ in dims]
    weights = []
    stats = _component_stats(R)
    duplicates = 0
    # The Numba loops make small GEMMs: single-threaded BLAS (see _threads.py).
    with single_thread_blas() if use == "numba" else contextlib.nullcontext():
        for k in range(R):
            t0 = time.perf_counter()
            xs, rec = _extract_one(V, left, dims, gen, n_tries, max_restarts, found, opts, xp, use)
            timings["power"] += time.perf_counter() - t0
            for key in stats:
                stats[key][k] = rec[key]
            duplicates += rec["duplicate"]

            t0 = time.perf_counter()
            cols = [x[:, None] for x in xs]
            alpha = V.mT @ left.coords(cols)[:, 0]
            beta = W.mT @ right.coords(cols)[:, 0]
            lam = 1.0 / float(xp.sum(beta * (C @ alpha)))
            xs, lam = _canonical_signs(xs, lam, symmetry, xp)
            for j, x in enumerate(xs):
                found[j].append(x)
            weights.append(lam)
            if k + 1 < R:
                cols = [x[:, None] for x in xs]
                alpha = V.mT @ left.coords(cols)[:, 0]
                beta = W.mT @ right.coords(cols)[:, 0]
                V, W, C = _deflate(V, W, C, alpha, beta, xp)
            timings["deflation"] += time.perf_counter() - t0

    factors = [xp.stack(f, axis=1) for f in found]
    lam = xp.asarray(np.asarray(weights), dtype=dtype, device=dev)
    SL = left.coords(factors)
    SR = right.coords(factors)
    residual = float(xp.linalg.matrix_norm(M - (SL * lam[None, :]) @ SR.mT) / xp.linalg.matrix_norm(M))

    return _result(lam, factors, R, lcounts, residual, spectrum, limit, timings, stats, duplicates,
                   symmetry=symmetry, dims=dims, max_iter=max_iter, max_restarts=max_restarts,
                   dtype=dtype, xp=xp, exponent=exponent, shape=M.shape, chosen=rank is None)


def _result(lam, factors, R, split, residual, spectrum, limit, timings, stats, duplicates, *,
            symmetry, dims, max_iter, max_restarts, dtype, xp, exponent, shape, chosen):
    """Collect what went wrong (if anything), warn, and build the MSPMResult.

    ``lam`` holds the weights of ``T / 2**exponent``; they are scaled back here.
    """
    problems = _run_problems(stats, duplicates, R, max_iter, max_restarts)
    if R > limit:
        problems.append(f"rank {R} exceeds the generic identifiability limit {limit} of the flattening "
                        f"for symmetry={symmetry}, dims={tuple(dims)}")
    problems += _fit_problems(residual, spectrum, R, dtype, xp, shape=shape, symmetric=False,
                              chosen=chosen)
    if exponent:
        host = host_copy(lam, xp).astype(np.float64)
        lam = xp.asarray(np.asarray([ldexp(float(v), exponent) for v in host]), dtype=lam.dtype,
                         device=lam.device)
        spectrum = scale_spectrum(spectrum, exponent)
    message = "; ".join(problems)
    if message:
        warnings.warn(f"mspm: {message}.", TensorWarning, stacklevel=3)
    return MSPMResult(weights=lam, factors=factors, rank=R, split=split, success=not problems,
                      message=message, residual=residual, spectrum=spectrum, identifiable_limit=limit,
                      timings=timings, **stats)


def _flatten(T, symmetry, dims, left, right, xp):
    """Flattening in isometric coordinates: left counts of every block x right counts."""
    strides = np.array([math.prod(T.shape[a + 1:]) for a in range(T.ndim)], dtype=np.int64)
    offsets = np.cumsum((0, *symmetry))
    lcounts = [0] * len(dims)
    for b, j in enumerate(left.blocks):
        lcounts[j] = left.counts[b]

    def positions(side, first):
        pos, wts = np.zeros(1, dtype=np.int64), np.ones(1)
        for b, j in enumerate(side.blocks):
            idx, w = side.tables[b]
            start = offsets[j] + (0 if first else lcounts[j])
            p = idx @ strides[start:start + idx.shape[1]]
            pos = (pos[:, None] + p[None, :]).reshape(-1)
            wts = (wts[:, None] * w[None, :]).reshape(-1)
        return pos, wts

    pl, wl = positions(left, True)
    pr, wr = positions(right, False)
    flat = xp.reshape(T, (-1,))
    dev = T.device
    M = xp.reshape(xp.take(flat, xp.asarray((pl[:, None] + pr[None, :]).reshape(-1), device=dev)),
                   (pl.size, pr.size))
    return M * xp.asarray(np.outer(wl, wr), dtype=T.dtype, device=dev)


def _extract_one(V, left, dims, gen, n_tries, max_restarts, found, opts, xp, use):
    dev, dtype = V.device, V.dtype
    best = None
    for restart in range(max_restarts + 1):
        X0 = []
        for d in dims:
            x = gen.standard_normal((d, n_tries))
            X0.append(xp.asarray(x / np.linalg.norm(x, axis=0), dtype=dtype, device=dev))
        if use == "numba":
            X, F, iters, done, gnorm = _power_blocks_numba(V, left, X0, **opts)
        else:
            X, F, iters, done, gnorm = _power_blocks(V, left, X0, **opts)
            F, iters, done, gnorm = (host_copy(a, xp) for a in (F, iters, done, gnorm))
        j, rec = _best_start(F, iters, done, gnorm, restart)
        xs = [Xb[:, j] / xp.linalg.vector_norm(Xb[:, j]) for Xb in X]
        dup = False
        if found[0]:
            cos = None
            for b in left.blocks:  # only the blocks the power method determines
                c = xp.abs(xp.stack(found[b], axis=1).mT @ xs[b])
                cos = c if cos is None else xp.minimum(cos, c)
            dup = float(xp.max(cos)) > DUPLICATE_COS
        rec["duplicate"] = dup
        if best is None or (rec["converged"] and not dup):
            best = (xs, rec)
        if rec["converged"] and not dup:
            break
    best[1]["restarts"] = restart  # extra batches drawn, whichever batch was kept
    return best


def _canonical_signs(xs, lam, symmetry, xp):
    """Largest entry of every factor positive; then, if a block is odd, make the weight positive."""
    xs = list(xs)
    for j, x in enumerate(xs):
        i = int(xp.argmax(xp.abs(x)))
        if float(x[i]) < 0:
            xs[j] = -x
            lam = lam * (-1) ** symmetry[j]
    odd = [j for j, k in enumerate(symmetry) if k % 2]
    if odd and lam < 0:
        xs[odd[0]] = -xs[odd[0]]
        lam = -lam
    return xs, lam
