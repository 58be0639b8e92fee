"""Subspace power method (SPM) for the CP decomposition of symmetric tensors."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import array_namespace, capability, is_numpy, select_engine
from .._validate import (
    as_floating,
    as_rng,
    check_choice,
    check_finite,
    check_int,
    check_rank,
    check_real,
    eps,
)
from ._cp import host_copy
from ._scale import binary_exponent, ldexp, max_abs, scale_pow2
from ._symmetric import check_cubical, check_nonempty, check_symmetric_tensor, compressed_flattening
from ._threads import single_thread_blas

__all__ = ["SPMResult", "TensorWarning", "spm"]

#: Columns closer than this |cos| to an accepted factor count as duplicates (about 2.6 degrees).
DUPLICATE_COS = 0.999
#: Objective values this close to the best start count as ties.
TIE_TOL = 1e-9
#: Steps between convergence checks (host syncs) of the array-API engine off NumPy.
SYNC_EVERY = 8
#: A fit counts as good when residual <= FIT_FACTOR * noise floor + FIT_SLACK (see _fit_problems).
FIT_FACTOR, FIT_SLACK = 3.0, 1e-9
#: The largest value of a noise bulk may exceed the edge predicted from its RMS by this fraction.
BULK_SLACK = 0.25
#: Fewest values of a noise bulk whose lower edge is 0 (semicircle, square Marchenko-Pastur).
MIN_BULK = 10
#: A gap above a noise floor is clear when the value before it is this many times the bulk edge.
CLEAR_GAP = 1.5
#: Most random starts per component (they are iterated together: memory grows with them).
MAX_TRIES = 1000
#: A decrease of F smaller than this is rounding, not a failed ascent: no safeguard step (it
#: fired on about half the steps near convergence, each a second evaluation of F).
SAFEGUARD_TOL = 1e-13
#: Starts per round of ``n_tries="auto"`` once the first single start was not exact.
AUTO_TRIES = 3
#: With the adaptive shift, a start with 1 - F at most this tries a Riemannian Newton step
#: (kept when the tangent Hessian is negative definite and F does not decrease).
NEWTON_GATE = 0.1
#: Steps a start waits before trying Newton again after a rejected Newton step.
NEWTON_WAIT = 3
#: Most power steps (with S^2) towards the top eigenvector of a random slice (a start), and
#: the change below which they stop; the Numba kernel has its own copy.
SLICE_STEPS, SLICE_TOL = 30, 1e-3


class TensorWarning(UserWarning):
    """A decomposition of :mod:`orthla.tensor` did not fully succeed (see the result's ``message``)."""


@dataclass(frozen=True)
class SPMResult:
    """Result of :func:`spm`: ``T ~= sum_i weights[i] * factors[:, i]^(x m)``.

    Attributes
    ----------
    weights : array, shape (rank,)
        Signed weights lambda_i, in the namespace and on the device of ``T``.
        For odd order the sign is moved into the factor, so weights are positive.
    factors : array, shape (d, rank)
        Unit-norm components a_i, same namespace and device.
    rank : int
        Number of components extracted.
    success : bool
        True when every component converged, no duplicate was found, the
        rank is within SPM's generic identifiability limit, and the fit is
        good: ``residual <= 3 e + max(1e-9, 1000 eps)``, where ``e`` is the
        relative size of the noise floor left out: the part of the
        flattening's spectrum beyond rank R when that part is a noise floor
        (rounding errors, or a bulk of noise eigen/singular values, see
        :func:`spm` Notes), else only its rounding-level part.  So noise does
        not count as failure; components left out, by the rank choice or an
        explicit ``rank``, do (their size enters the residual, not ``e``).
        A tail of the spectrum too short to be told from noise (a
        flattening of full rank, as at the identifiable limit of odd
        orders) counts as noise for an explicit ``rank``, and as left-out
        components when ``rank=None`` left it out (values below ``rank_tol``
        that nothing shows to be noise): the message then says to lower
        ``rank_tol`` if they are components, or to give ``rank`` if noise.
    message : str
        What went wrong when ``success`` is False ("" otherwise).
    residual : float
        Relative reconstruction error ``||T - sum_i w_i a_i^(x m)||_F / ||T||_F``,
        measured on the compressed flattening (no d**m tensor is formed).
    iterations, restarts : numpy.ndarray of int, shape (rank,)
        Steps (power or Newton) of the accepted start, and extra batches of starts drawn
        (after non-convergence or a duplicate), per component.
    objective : numpy.ndarray, shape (rank,)
        Final F(a_i) = ||P_V a_i^(x n)||^2 (1 for an exact component).
    grad_norm : numpy.ndarray, shape (rank,)
        Final Riemannian gradient norm of the power iteration.
    converged : numpy.ndarray of bool, shape (rank,)
        Per-component convergence flag.
    spectrum : numpy.ndarray
        Magnitudes of the flattening's eigenvalues (even order) or singular
        values (odd order), descending, used for the rank choice (in the units
        of ``T``).
    identifiable_limit : int
        Largest rank SPM can identify generically for this (m, d).
    timings : dict of str to float
        Seconds spent in ``extraction`` (flattening + eigendecomposition),
        ``power``, ``deflation`` and ``refit`` (the least-squares weights and the
        residual).
    """

    weights: Any
    factors: Any
    rank: int
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


def identifiable_limit(m: int, d: int) -> int:
    """Generic rank limit of SPM: dim Sym^n - d, and for odd order also dim Sym^(m-n).

    Above ``C(d+n-1, n) - d`` the span of ``a_i^(x n)`` meets the Veronese variety
    in extra points, so components are no longer determined by the subspace.
    """
    n = (m + 1) // 2
    limit = math.comb(d + n - 1, n) - d
    if m % 2:
        limit = min(limit, math.comb(d + m - n - 1, m - n))
    return max(limit, 1)


def sym_coords(X, idx_cols, w, xp):
    """Isometric Sym^n coordinates of x^(x n) for each column x of ``X`` (N x t)."""
    S = xp.take(X, idx_cols[0], axis=0)
    for col in idx_cols[1:]:
        S = S * xp.take(X, col, axis=0)
    return S * w[:, None]


def _power_xp(V, idx_cols, w, E, X0, *, max_iter, tol, adaptive, stall_limit, exact_tol=TIE_TOL):
    """Batched shifted power iteration (array-API engine); the Numba kernel mirrors it per column.

    ``E`` (d x nN) scatters the n partial derivatives of each monomial back to
    the d coordinates, so the gradient is one GEMM and needs no scatter-add.
    With the adaptive shift, starts with ``1 - F <= NEWTON_GATE`` try a Riemannian
    Newton step first (see :func:`_newton_xp`).
    """
    xp = array_namespace(V)
    n = len(idx_cols)
    fixed = float(n - 1)
    t = X0.shape[1]

    def evaluate(X):
        A = V.mT @ sym_coords(X, idx_cols, w, xp)
        return A, xp.sum(A * A, axis=0)

    def leave_one_out(X, Y):
        Xs = [xp.take(X, col, axis=0) for col in idx_cols]
        parts = []
        for p in range(n):
            loo = Y
            for q in range(n):
                if q != p:
                    loo = loo * Xs[q]
            parts.append(loo)
        return parts

    def gradient(X, A):
        Y = V @ A
        return (E @ xp.concat(leave_one_out(X, Y * w[:, None]), axis=0)) / n, Y

    def normalize(X):
        return X / xp.linalg.vector_norm(X, axis=0)[None, :]

    X = X0
    A, F = evaluate(X)
    dev = X.device
    on_host = is_numpy(xp)
    check_every = 1 if on_host else SYNC_EVERY
    done = xp.zeros(t, dtype=xp.bool, device=dev)
    iters = xp.zeros(t, dtype=xp.int64, device=dev)
    best = xp.full(t, math.inf, dtype=X.dtype, device=dev)
    stall = xp.zeros(t, dtype=xp.int64, device=dev)
    gnorm = xp.full(t, math.inf, dtype=X.dtype, device=dev)
    wait = xp.zeros(t, dtype=xp.int64, device=dev)
    for it in range(max_iter + 1):
        G, Y = gradient(X, A)
        gn = xp.linalg.vector_norm(G - X * F[None, :], axis=0)
        improved = gn < 0.999 * best
        best = xp.where(improved, gn, best)
        stall = xp.where(improved, xp.zeros_like(stall), stall + 1)
        conv = (gn <= tol) | ((stall >= stall_limit) & (best <= 1e3 * tol))
        gnorm = xp.where(done, gnorm, gn)
        done = done | conv
        # Stop early once a start is an exact component (F <= 1: none can do better).
        # Off NumPy the flags are read every few steps only: each read is a host sync.
        if it == max_iter or (it % check_every == 0
                              and bool(xp.all(done) | xp.any(done & (F >= 1.0 - exact_tol)))):
            break
        active = ~done
        taken = xp.zeros(t, dtype=xp.bool, device=dev)
        if adaptive:
            tries = active & (wait == 0) & (1.0 - F <= NEWTON_GATE)
            if not on_host or bool(xp.any(tries)):
                Xt = _newton_xp(V, idx_cols, w, E, X, F, G, Y, leave_one_out, xp)
                ok = xp.all(xp.isfinite(Xt), axis=0)
                Xt = xp.where(ok[None, :], Xt, X)
                At, Ft = evaluate(Xt)
                taken = tries & ok & (Ft >= F - SAFEGUARD_TOL)
            wait = xp.where(tries & ~taken, xp.full_like(wait, NEWTON_WAIT),
                            xp.where(~tries & active & (wait > 0), wait - 1, wait))
        gamma = fixed * xp.sqrt(xp.clip(1.0 - F, 0.0, None)) if adaptive else fixed
        Xn = normalize(G + gamma * X)
        An, Fn = evaluate(Xn)
        if adaptive:
            # Safeguard: the fixed shift n - 1 makes every step an ascent step.
            worse = Fn < F - SAFEGUARD_TOL
            if not on_host or bool(xp.any(worse & active & ~taken)):
                Xf = normalize(G + fixed * X)
                Af, Ff = evaluate(Xf)
                Xn = xp.where(worse[None, :], Xf, Xn)
                An = xp.where(worse[None, :], Af, An)
                Fn = xp.where(worse, Ff, Fn)
            if not on_host or bool(xp.any(taken)):
                Xn = xp.where(taken[None, :], Xt, Xn)
                An = xp.where(taken[None, :], At, An)
                Fn = xp.where(taken, Ft, Fn)
        X = xp.where(active[None, :], Xn, X)
        A = xp.where(active[None, :], An, A)
        F = xp.where(active, Fn, F)
        iters = iters + xp.astype(active, xp.int64)
    return X, F, iters, done, gnorm


def _newton_xp(V, idx_cols, w, E, X, F, G, Y, leave_one_out, xp):
    """Riemannian Newton points for every column of ``X`` (NaN where the step is refused).

    With ``B = J^T V / n`` (``J`` the Jacobian of x -> x^(x n) in isometric coordinates)
    and ``K`` the contraction of ``sum_r a_r M_r`` with ``x^(n-2)`` times ``n - 1``, the
    Hessian of F / 2n on the tangent space is ``P (n B B^T + K - F I) P``; the step solves
    ``(-P H P + x x^T) eta = G - F x`` and is refused unless that matrix is positive
    definite (``-P H P`` on the tangent space: Newton then heads for a local maximum).
    The Numba kernel makes the same decisions (Cholesky pivots instead of eigenvalues).
    """
    n = len(idx_cols)
    N = V.shape[0]
    d, t = X.shape
    dtype, dev = X.dtype, X.device
    ones = xp.ones((N, t), dtype=dtype, device=dev)
    loo = leave_one_out(X, ones * w[:, None])  # n arrays (N, t): w_I prod_{q != p} x_(i_q)
    scaled = xp.concat([xp.permute_dims(c, (1, 0))[:, :, None] * V[None, :, :] for c in loo], axis=1)
    B = (E @ scaled) / n  # (t, d, R)
    H = n * (B @ xp.permute_dims(B, (0, 2, 1)))
    Xs = [xp.take(X, col, axis=0) for col in idx_cols]
    c = Y * w[:, None] / n
    for p in range(n):
        Ep = E[:, p * N:(p + 1) * N]
        for q in range(n):
            if q == p:
                continue
            coef = c
            for s in range(n):
                if s != p and s != q:
                    coef = coef * Xs[s]
            Eq = E[:, q * N:(q + 1) * N]
            H = H + Ep @ (xp.permute_dims(coef, (1, 0))[:, :, None] * Eq.mT[None, :, :])
    eye = xp.eye(d, dtype=dtype, device=dev)
    Xb = xp.permute_dims(X, (1, 0))[:, :, None]  # (t, d, 1)
    H = H - F[:, None, None] * eye
    h = H @ Xb
    xhx = xp.permute_dims(Xb, (0, 2, 1)) @ h
    xxT = Xb @ xp.permute_dims(Xb, (0, 2, 1))
    P_H_P = H - Xb @ xp.permute_dims(h, (0, 2, 1)) - h @ xp.permute_dims(Xb, (0, 2, 1)) + xhx * xxT
    M = -P_H_P + xxT
    M = (M + xp.permute_dims(M, (0, 2, 1))) / 2
    ok = xp.min(xp.linalg.eigvalsh(M), axis=1) > 0
    M = xp.where(ok[:, None, None], M, eye)
    g = xp.permute_dims(G - X * F[None, :], (1, 0))[:, :, None]
    eta = xp.linalg.solve(M, g)[:, :, 0]  # (t, d)
    eta = xp.permute_dims(eta, (1, 0))
    step = X + eta - X * xp.sum(X * eta, axis=0)[None, :]
    step = step / xp.linalg.vector_norm(step, axis=0)[None, :]
    return xp.where(ok[None, :], step, xp.full_like(step, math.nan))


class _NumbaBasis:
    """The basis V and the matrix C of the Numba engine, deflated in place (see ``_spm_numba``).

    ``buf`` holds V (N x R0) for n = 2 and V^T (R0 x N) otherwise, float64 and C order;
    its first ``k0`` columns of V, and rows and columns of ``C``, have been deflated away.
    One copy per ``spm`` call instead of new arrays for every component.
    """

    device = "cpu"

    def __init__(self, V, n, C=None):
        self.dtype = V.dtype  # of the results; the kernels run in float64
        V = np.asarray(V, dtype=np.float64)
        self.n = n
        self.buf = np.ascontiguousarray(V if n == 2 else V.T)
        R = self.buf.shape[1] if n == 2 else self.buf.shape[0]
        self.Cbuf = np.array(np.eye(R) if C is None else C, dtype=np.float64, order="C")
        self.k0 = 0

    @property
    def C(self):
        return self.Cbuf[self.k0:, self.k0:]

    @property
    def rank(self):
        return (self.buf.shape[1] if self.n == 2 else self.buf.shape[0]) - self.k0

    def alpha(self, x, idx, w):
        from ._spm_numba import spm_alpha

        alpha = spm_alpha(self.buf, self.k0, idx, w, np.asarray(x, dtype=np.float64))
        return alpha.astype(self.dtype, copy=False)

    def accept_even(self, x, idx, w, *, deflate):
        """``(x with its canonical sign, weight)``, deflating V and C when ``deflate``."""
        from ._spm_numba import spm_accept_even

        lam, sign = spm_accept_even(self.buf, self.Cbuf, self.k0, self.n, idx, w,
                                    np.asarray(x, dtype=np.float64), deflate)
        self.k0 += bool(deflate)
        return (-x if sign < 0 else x), float(lam)

    def deflate(self, vw, bw, vv, bv):
        """``C <- (H_W C H_V)[1:, 1:]`` and ``V <- (V H_V)[:, 1:]`` (``H = I - b v v^T``)."""
        from ._spm_numba import spm_deflate

        spm_deflate(self.buf, self.Cbuf, self.k0, self.n, np.asarray(vw, dtype=np.float64),
                    float(bw), np.asarray(vv, dtype=np.float64), float(bv))
        self.k0 += 1


def _set_column(A, k, x, xp):
    """``A`` with column ``k`` set to ``x`` (in place on NumPy; a new array elsewhere)."""
    if is_numpy(xp):
        A[:, k] = x
        return A
    mask = xp.arange(A.shape[1], device=A.device) == k
    return xp.where(mask[None, :], x[:, None], A)


def _power_numba(V, idx_np, w_np, X0, *, max_iter, tol, adaptive, stall_limit, exact_tol=TIE_TOL):
    from ._spm_numba import spm_power_tries

    basis = V if isinstance(V, _NumbaBasis) else _NumbaBasis(V, idx_np.shape[1])
    X, F, iters, done, gnorm = spm_power_tries(
        basis.buf, basis.k0, idx_np, np.asarray(w_np, dtype=np.float64),
        np.asarray(X0, dtype=np.float64), max_iter, tol, adaptive, stall_limit, exact_tol,
        NEWTON_GATE, NEWTON_WAIT)
    return X.astype(V.dtype, copy=False), F, iters, done, gnorm


def _householder(u, xp):
    """``(v, beta)`` with ``(I - beta v v^T) u = -sign(u_0) ||u|| e_1``."""
    alpha = xp.linalg.vector_norm(u)
    e1 = xp.asarray(np.eye(1, u.shape[0])[0], dtype=u.dtype, device=u.device)
    sign = 1.0 if float(u[0]) >= 0 else -1.0
    v = u + sign * alpha * e1
    return v, 2.0 / float(xp.sum(v * v))


def truncation_error(spectrum: np.ndarray, rank: int) -> float:
    """Relative Frobenius error of the best rank-``rank`` approximation of the flattening."""
    top = float(spectrum[0]) if spectrum.size else 0.0
    if top == 0.0:
        return 0.0
    s = spectrum / top  # unit scale: the squares neither over- nor underflow
    return math.sqrt(float(np.sum(s[rank:] ** 2)) / float(np.sum(s**2)))


def rounding_floor(spectrum: np.ndarray, dtype: Any, xp: Any) -> float:
    """Values at or below ``10 * size * eps * spectrum[0]`` are rounding errors of a zero."""
    return 10 * spectrum.size * eps(dtype, xp) * float(spectrum[0])


def _tail(spectrum: np.ndarray, k: int, shape: tuple, symmetric: bool, floor: float):
    """Classify ``spectrum[k:]`` and return ``(kind, edge)``.

    ``kind`` is ``"empty"``; ``"rounding"`` (every value at or below ``floor``); ``"noise"``
    (a noise bulk: no value at rounding level, and the largest within ``1 + BULK_SLACK`` of
    the bulk edge predicted from the values' RMS, see :func:`_choose_rank`); ``"short"``
    (too few values to tell, none at rounding level); or ``"structured"`` (anything else:
    isolated values above a floor, or values above rounding level next to rounding errors,
    which no noise bulk produces).  ``edge`` is the predicted bulk edge (0 for rounding).
    """
    t = spectrum[k:]
    q = t.size
    if q == 0:
        return "empty", 0.0
    at_floor = t <= floor
    if bool(np.all(at_floor)):
        return "rounding", 0.0
    if bool(np.any(at_floor)):
        return "structured", 0.0
    if symmetric:
        c, low = 2.0, 0.0
    else:
        r = math.sqrt(q / max(max(shape) - k, q))
        c, low = 1.0 + r, 1.0 - r
    scaled = t / t[0]
    rms = float(t[0]) * math.sqrt(float(np.mean(scaled * scaled)))
    edge = c * rms
    # A bulk must have enough values to tell it from isolated ones: more than
    # ((1 + BULK_SLACK) c)^2 (a single value above zeros has max / RMS = sqrt(q)), and,
    # where only its top edge is tested, at least MIN_BULK.
    if q < max(3 if low >= 0.3 else MIN_BULK, math.ceil(((1 + BULK_SLACK) * c) ** 2)):
        return "short", edge
    if t[0] > (1 + BULK_SLACK) * edge:
        return "structured", edge
    if low >= 0.3 and t[-1] < (1 - BULK_SLACK) * low * rms:
        return "structured", edge
    return "noise", edge


def _choose_rank(spectrum: np.ndarray, rank_tol: float, shape: tuple, *, symmetric: bool,
                 floor: float) -> int:
    """The rank read off a flattening's spectrum (descending magnitudes); see :func:`spm`.

    1. Values at or below ``rank_tol * spectrum[0]`` are zero: the rank is at most the
       number ``kept`` above it.
    2. A candidate rank k is one where ``spectrum[k:]`` is a noise floor: all at rounding
       level, or a bulk whose largest value is within 25% of the edge predicted from its
       RMS (twice the RMS for the eigenvalues of symmetric noise, the semicircle law;
       ``1 + sqrt(q/L)`` times it for the singular values of an L x q block, Marchenko-
       Pastur, whose smallest value must then also lie near the lower edge).  A bulk needs
       enough values to be told from isolated ones.
    3. Each candidate is scored by its gap relative to the noise level,
       ``spectrum[k-1] / edge_k``; the best wins if it is at least ``CLEAR_GAP``, else the
       smallest candidate (everything above the largest noise floor).  Near-zero values
       inside a bulk never compete: a ratio between two of them is not a gap above it.
    4. Without any candidate (a numerically full-rank flattening with no floor, or too
       small to show one), ``kept``.
    """
    kept = int(np.sum(spectrum > rank_tol * spectrum[0]))
    best, smallest = None, None
    for k in range(1, kept + 1):
        kind, edge = _tail(spectrum, k, shape, symmetric, floor)
        if kind not in ("rounding", "noise"):
            continue
        score = math.inf if edge == 0.0 else float(spectrum[k - 1]) / edge
        if smallest is None:
            smallest = k
        if best is None or score > best[0]:
            best = (score, k)
    if best is None:
        return kept
    return best[1] if best[0] >= CLEAR_GAP else smallest


def numerical_rank(spectrum: np.ndarray, size_limit: int, dtype: Any, xp: Any) -> int:
    """Singular values of a flattening above ``10 * size_limit * eps * spectrum[0]``."""
    return int(np.sum(spectrum > 10 * size_limit * eps(dtype, xp) * spectrum[0]))


def _select_rank(spectrum, rank, rank_tol, shape, what, dtype, xp, *, symmetric=False):
    """Rank from the spectrum when ``rank`` is None, else ``rank`` checked against the flattening."""
    if rank is None:
        return _choose_rank(spectrum, rank_tol, tuple(shape), symmetric=symmetric,
                            floor=rounding_floor(spectrum, dtype, xp))
    size_limit = min(shape)
    R = check_rank(rank, "rank", size_limit, what)
    numerical = numerical_rank(spectrum, size_limit, dtype, xp)
    if R > numerical:
        raise ValueError(
            f"`rank` must be at most the numerical rank of the flattening of `T`, "
            f"{numerical}; got {R}."
        )
    return R


def _component_stats(R):
    """Per-component statistics, filled in as the components are extracted."""
    return {k: np.zeros(R, dtype=t) for k, t in (("iterations", np.int64), ("restarts", np.int64),
                                                   ("objective", np.float64), ("grad_norm", np.float64),
                                                   ("converged", bool))}


def _run_problems(stats, duplicates, R, max_iter, max_restarts):
    """Messages for components that did not converge or duplicate an earlier one."""
    problems = []
    if not stats["converged"].all():
        bad = int(np.sum(~stats["converged"]))
        problems.append(f"{bad} of {R} components did not converge within max_iter={max_iter} "
                        f"and {max_restarts} restarts")
    if duplicates:
        problems.append(f"{duplicates} components duplicate an earlier one (|cos| > {DUPLICATE_COS})")
    return problems


def _fit_problems(residual, spectrum, R, dtype, xp, *, shape, symmetric, chosen):
    """A message when the residual is not explained by the noise floor of the flattening.

    The floor is the relative size of ``spectrum[R:]`` when that tail is a noise floor
    (rounding errors, a noise bulk, or, for an explicit rank, too few values to tell; see
    :func:`_tail`), and only of its rounding-level part when it holds structure (values
    above rounding level next to rounding errors, or isolated values above a bulk): those
    are components the rank choice left out, and their size counts against the fit.
    ``chosen`` (the rank came from the spectrum, ``rank=None``): a tail too short to be
    told from noise was then cut by ``rank_tol`` (or the size of another flattening), not
    recognised as a floor, so it counts as structure too.
    """
    floor_value = rounding_floor(spectrum, dtype, xp)
    kind, _ = _tail(spectrum, R, tuple(shape), symmetric, floor_value)
    if kind == "structured" or (chosen and kind == "short"):
        top = float(spectrum[0])
        s = spectrum / top
        tail = s[R:]
        noise = math.sqrt(float(np.sum(tail[tail * top <= floor_value] ** 2)) / float(np.sum(s**2)))
        above = int(np.sum(spectrum[R:] > floor_value))
        if kind == "short":
            why = (f"the flattening's spectrum beyond rank {R} is too few values to be told from "
                   f"noise ({above} above rounding level, the largest {float(s[R]):.2e} of the top "
                   "one) and was left out by the rank choice: if these are components, give a smaller "
                   f"`rank_tol`; if they are noise, give rank={R} explicitly")
        else:
            why = (f"the flattening's spectrum beyond rank {R} is not a noise floor ({above} values "
                   f"above rounding level, the largest {float(s[R]):.2e} of the top one): components "
                   "were left out; give a larger `rank` or a smaller `rank_tol`")
    else:
        noise = truncation_error(spectrum, R)
        why = (f"the rank-{R} truncation of the flattening leaves {noise:.2e}; components were "
               "missed or the rank exceeds what the flattening can show")
    if residual > FIT_FACTOR * noise + max(FIT_SLACK, 1e3 * eps(dtype, xp)):
        return [f"poor fit: relative residual {residual:.2e} while {why}"]
    return []


def _best_start(F, iters, done, gnorm, restart):
    """Index of the best of a batch of starts and its record (without ``duplicate``).

    Converged starts win over the others; values within rounding of the best are
    ties: take the first, so the choice does not depend on the engine or the BLAS
    thread count.
    """
    if len(F) == 1:  # one start (the usual case of n_tries="auto"): no search
        j = 0
    else:
        F = np.where(done, F, -np.inf) if done.any() else np.asarray(F, dtype=np.float64)
        j = int(np.argmax(F >= F.max() - TIE_TOL))
    rec = {"iterations": int(iters[j]), "restarts": restart, "objective": float(F[j]),
           "grad_norm": float(gnorm[j]), "converged": bool(done[j])}
    return j, rec


@capability("tensor", numba=True, notes="power iteration in a Numba kernel on NumPy input")
def spm(T: Any, *, rank: int | None = None, rank_tol: float = 1e-4, shift: str = "adaptive",
        max_iter: int = 5000, n_tries: int | str = "auto", max_restarts: int = 3,
        grad_tol: float = 1e-14, assume_symmetric: bool = False, sym_rtol: float | None = None, rng: Any = None,
        engine: str = "auto", order: int | None = None) -> SPMResult:
    """Symmetric CP decomposition by the subspace power method (SPM).

    Finds ``T ~= sum_i lambda_i a_i^(x m)`` with unit vectors ``a_i`` and signed
    weights, one component at a time, without knowing the rank.

    Parameters
    ----------
    T : array, shape (d,) * m, or (d**ceil(m/2), d**floor(m/2)) with ``order``
        Dense real symmetric tensor of order m >= 3 (odd or even) of any
        array-API library, or its row-major flattening (then give ``order``).
        Integer input is promoted to float64.  Never modified.
    rank : int, optional
        Number of components.  Default: chosen from the flattening's spectrum,
        as the largest gap above a noise floor (see Notes); at most the number
        of values above ``rank_tol`` times the largest.
    rank_tol : float, default 1e-4
        Eigenvalues (singular values for odd m) at or below ``rank_tol`` times
        the largest are treated as zero when choosing the rank; in (0, 1).
        Components whose weights fall below it are left out, and then
        reported (``success=False``), since the residual exceeds the noise floor.
    shift : {"adaptive", "fixed"}, default "adaptive"
        Shift gamma of the power step ``x <- (grad F(x)/2n + gamma x)/||.||``:
        ``"fixed"`` uses ``gamma = n - 1`` (every step ascends); ``"adaptive"``
        uses ``gamma = (n - 1) sqrt(1 - F(x))``, which vanishes at an exact
        component and converges much faster, falling back to the fixed shift on
        any step that would decrease F, and near a maximum (``1 - F <= 0.1``)
        tries a Riemannian Newton step first (see Notes).
    max_iter : int, default 5000
        Steps (power or Newton) per start.
    n_tries : int or "auto", default "auto"
        Random starts per component (each the top eigenvector of a random
        slice of the subspace, see Notes).  An int: that many starts iterated
        together (one GEMM per step; good on GPUs), the converged one with the
        largest F is kept, and the batch stops as soon as one start reaches an
        exact component (F = 1 to within 1e-9); at most 1000.  ``"auto"``: one
        start first, and two more only when it is not an exact component (noise,
        a stall, or a duplicate), the best of the three kept; restarts draw three.
        On low-rank tensors this runs one start per component.
    max_restarts : int, default 3
        Fresh batches of starts drawn when no start converged or the best one
        duplicates a component already found.
    grad_tol : float, default 1e-14
        Stop a start when the Riemannian gradient norm ``||g - F(x) x||`` is
        below ``max(grad_tol, n sqrt(N) eps / 2)`` (the rounding floor), or has
        stalled within a factor 1000 of it.
    assume_symmetric : bool, default False
        Skip the symmetry check (the upper "triangle" of ``T`` is then what is used).
    sym_rtol : float, optional
        Allowed relative asymmetry ``max|T - T^sigma| / max|T|`` (finite,
        >= 0); default ``100 m eps``.  For measured data, prefer
        :func:`symmetrize` (the nearest symmetric tensor).
    rng : numpy.random.Generator, int or None
        Random starts (SPEC 7); a seed gives reproducible results.
    order : int, optional
        Tensor order m when ``T`` is passed as its 2-D flattening.
    engine : {"auto", "numba", "xp"}, default "auto"
        Power iteration in a Numba kernel (NumPy input) or through the
        array-API path (any backend; starts batched as matrix products; off
        NumPy the convergence flags are read every 8 steps, not every step, to
        limit host synchronisations).

    Returns
    -------
    SPMResult
        Weights, factors, rank, success flag and per-component statistics.

    Raises
    ------
    ValueError
        If ``T`` has order < 3, is not cubical, not symmetric (the message gives
        the measured asymmetry), contains NaN/Inf, is empty or zero; if ``rank``
        exceeds the size or the numerical rank of the flattening; if an option
        is out of range (NaN and infinite tolerances included; ``n_tries`` above
        1000).
    TypeError
        If ``T`` is complex, float16 or non-numeric; if an integer option is not
        an integer (booleans included) or a float option not a real number; or
        if ``rng`` is invalid.
    ImportError
        If ``engine="numba"`` and numba is not installed.

    Warns
    -----
    TensorWarning
        When ``success`` is False: a component did not converge, a duplicate
        could not be avoided, the rank exceeds the identifiable limit, or the
        fit is poor (the residual is not explained by the noise floor).

    Notes
    -----
    Let ``n = ceil(m/2)``, ``N = C(d+n-1, n)``.  The flattening of ``T`` on
    ``Sym^n x Sym^(m-n)``, in isometric coordinates (distinct sorted
    multi-indices scaled by sqrt(multiplicity)), is ``M = A_n L A_(m-n)^T`` with
    ``A_k = [a_i^(x k)]``.  Its eigendecomposition (even m; SVD for odd m),
    truncated to the rank, gives a basis ``V`` of ``span{a_i^(x n)}`` and
    ``C = D^(-1)`` [1]_.  The components are the global maxima (F = 1) of
    ``F(x) = ||V^T x^(x n)||^2`` on the sphere, found by the shifted power
    method of Kolda and Mayo [2]_; with the fixed shift ``n - 1``,
    ``F + (n-1)||x||^(2n)`` is convex, so F increases monotonically.  With the
    adaptive shift, a start with ``1 - F <= 0.1`` first tries a Riemannian Newton
    step: with ``B = [M_r x^(n-1)]_r`` (``M_r`` the symmetric tensor of column r of
    V) and ``K = (n-1) sum_r a_r M_r x^(n-2)``, the Hessian of ``F / 2n`` on the
    tangent space is ``P (n B B^T + K - F I) P`` (``P = I - x x^T``); the step is kept
    when that is negative definite (Cholesky) and F does not drop, else the shifted
    step is taken and Newton waits three steps.  Near a component this turns the
    linear rate of the power step into a quadratic one (about a third of the steps
    on order 4).  Each start is the eigenvector of largest absolute eigenvalue of a
    random slice ``sum_r g_r M_r(u, ..., u, ., .)`` (Gaussian g and u), an element
    of the span of the remaining ``a_i a_i^T``: once few components remain it lies
    near one of them.  The weight is ``lambda = 1/(beta^T C alpha)`` with ``alpha = V^T a^(x n)``,
    ``beta = W^T a^(x (m-n))``.  Deflation removes the component from the
    factored flattening with Householder reflectors (one for even m, two for
    odd m) that send ``C alpha`` and ``C^T beta`` to ``e_1``: ``V <- (V H)[:, 1:]``,
    ``C <- (H C H)[1:, 1:]``.  T is never re-formed.
    Once all factors are found, the weights are refitted by least squares
    (``G lam = b`` with ``G_ij = (a_i^T a_j)^m``, ``b_i = a_i^(x n)^T M a_i^(x (m-n))``)
    and the refit kept when it lowers the residual: deflation's weights carry the
    rounding of every earlier step, most visibly when the weights span decades.

    Rank choice (``rank=None``), on the descending magnitudes ``s`` of the
    flattening's spectrum: a candidate rank k is one where ``s[k:]`` is a noise
    floor, that is all at rounding level (``<= 10 N eps s[0]``), or a bulk of
    noise values with none at rounding level and its largest value within 25%
    of the bulk edge predicted from its RMS: twice the RMS for the eigenvalues
    of symmetric noise (semicircle law; at least 10 values), ``1 + sqrt(q/L)``
    times it for the singular values of an L x q block (Marchenko-Pastur,
    whose smallest value must then lie near ``1 - sqrt(q/L)`` times it).  Each
    candidate is scored by its gap relative to the noise level,
    ``s[k-1] / edge_k``; the best wins if it is at least 1.5, else the smallest
    candidate.  Without a candidate, the number of values above ``rank_tol
    s[0]``.  A ratio between two near-zero eigenvalues inside a noise bulk is
    therefore never taken for a gap, and components whose eigenvalues sink
    into the bulk are not counted: on order 4, d = 15, R = 30 with 2-3%
    symmetric noise the rule picks 26-30 (never more than 30), and the fit
    against the clean tensor stays within the noise.

    Scale: ``T`` is divided by the power of two ``2^e`` that brings ``max|T|``
    to ``[0.5, 1)`` (exact), so no square over- or underflows at any scale;
    the weights and ``spectrum`` are multiplied back by ``2^e``.

    Cost: ``O(N^3)`` (even) or ``O(N N' ^2)`` (odd) for the decomposition,
    ``O(N R)`` per power step (one pass over V for n = 2, two otherwise), ``O(N R +
    d^2 R + d^3)`` per Newton step, ``O(N R)`` per deflation and ``O(N N' R + R^3)``
    for the refit and the residual.  For a noiseless
    tensor of rank ``R <= identifiable_limit`` with generic components the
    result is exact to rounding: components within ``O(kappa eps)`` where
    kappa grows with the conditioning of ``A_n``.

    References
    ----------
    .. [1] J. Kileel, J. M. Pereira, "Subspace power method for symmetric tensor
       decomposition", Numerical Algorithms (2025), arXiv:1912.04007.
    .. [2] T. G. Kolda, J. R. Mayo, "Shifted power method for computing tensor
       eigenpairs", SIAM J. Matrix Anal. Appl. 32 (2011) 1095-1124.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.tensor import spm, random_low_rank, match_components
    >>> T, w, A = random_low_rank(6, 4, order=4, rng=1)
    >>> res = spm(T, rng=0)
    >>> res.rank, res.success, bool(res.residual < 1e-12)
    (4, True, True)
    >>> match = match_components(A, res.factors)
    >>> bool(match.angle_deg.max() < 1e-6)
    True
    >>> bool(np.allclose(np.sort(res.weights), np.sort(w)))
    True
    """
    xp = array_namespace(T)
    T = xp.asarray(T) if not hasattr(T, "shape") else T
    if order is not None:
        T = _unflatten(T, check_int(order, "order", low=3), xp)
    check_cubical(T, "T", min_order=3)
    check_nonempty(T, "T")
    T = as_floating(T, "T", xp, allow_complex=False)
    check_finite(T, "T", xp)
    check_choice(shift, "shift", ("adaptive", "fixed"))
    max_iter = check_int(max_iter, "max_iter", low=1)
    if not (isinstance(n_tries, str) and n_tries == "auto"):
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
        check_symmetric_tensor(T, "T", xp, rtol=sym_rtol, engine=use)

    m, d = T.ndim, T.shape[0]
    n = (m + 1) // 2
    dev, dtype = T.device, T.dtype
    timings = {"extraction": 0.0, "power": 0.0, "deflation": 0.0, "refit": 0.0}

    t0 = time.perf_counter()
    M, (idx_n, w_n), (idx_r, w_r) = compressed_flattening(T, n, xp)
    tri = None
    if m % 2 == 0 and is_numpy(xp):
        from ._eig_top import tridiagonal_or_none

        # All eigenvalues now, only the R vectors needed later (skipped when an explicit
        # rank already asks for too many vectors).
        tri = tridiagonal_or_none(M, rank if isinstance(rank, int) else None)
    if tri is not None:
        spectrum = np.sort(np.abs(tri.values))[::-1].copy()
    elif m % 2 == 0:
        vals, vecs = _eigh_by_magnitude(M, xp)
        spectrum = np.abs(host_copy(vals, xp)).astype(np.float64)
    else:
        U, S, Wt = xp.linalg.svd(M, full_matrices=False)
        spectrum = host_copy(S, xp).astype(np.float64)
    timings["extraction"] = time.perf_counter() - t0
    if spectrum[0] == 0.0:
        raise ValueError("`T` must be nonzero; got the zero tensor.")
    size_expr = f"min(C(d+{n - 1}, {n}), C(d+{m - n - 1}, {m - n}))" if m % 2 else f"C(d+{n - 1}, {n})"
    R = _select_rank(spectrum, rank, rank_tol, M.shape, f"the flattening size {size_expr}", dtype, xp,
                     symmetric=m % 2 == 0)

    if m % 2 == 0:
        W = None
        top = None
        if tri is not None:
            t0 = time.perf_counter()
            top = tri.top(R)
            if top is None:  # too many vectors for the tridiagonal route, or LAPACK failed
                vals, vecs = _eigh_by_magnitude(M, xp)
            timings["extraction"] += time.perf_counter() - t0
        if top is None:
            V, lam_top = vecs[:, :R], vals[:R]
        else:
            lam_top, V = top
    else:
        V = U[:, :R]
        W = Wt[:R, :].mT
        lam_top = S[:R]
    C = _diag(1.0 / lam_top, xp)

    idx_cols = [xp.asarray(np.array(idx_n[:, p]), device=dev) for p in range(n)]
    w_dev = xp.asarray(np.array(w_n), dtype=dtype, device=dev)  # fresh copy: the cached table is read-only
    if m % 2:
        idx_cols_r = [xp.asarray(np.array(idx_r[:, p]), device=dev) for p in range(m - n)]
        w_dev_r = xp.asarray(np.array(w_r), dtype=dtype, device=dev)
    N = idx_n.shape[0]
    tol = max(grad_tol, 0.5 * n * math.sqrt(N) * eps(dtype, xp))
    opts = {"max_iter": max_iter, "tol": tol, "adaptive": shift == "adaptive", "stall_limit": 50}
    if use == "xp":
        E_np = np.zeros((d, n * N))
        for p in range(n):
            E_np[idx_n[:, p], p * N + np.arange(N)] = 1.0
        E = xp.asarray(E_np, dtype=dtype, device=dev)

    factors, weights = [], []
    stats = _component_stats(R)
    duplicates = 0
    # The Numba loops make small GEMMs: single-threaded BLAS (see _threads.py).
    found = xp.zeros((d, R), dtype=dtype, device=dev)
    if use == "numba":
        V = _NumbaBasis(V, n, C)
        C = V.C
    with single_thread_blas() if use == "numba" else contextlib.nullcontext():
        for k in range(R):
            t0 = time.perf_counter()
            x, rec = _extract_one(V, idx_cols, w_dev, E if use == "xp" else None, idx_n, w_n,
                                  gen, d, n_tries, max_restarts, found[:, :k], use, opts, xp)
            timings["power"] += time.perf_counter() - t0
            for key in stats:
                stats[key][k] = rec[key]
            duplicates += rec["duplicate"]

            t0 = time.perf_counter()
            xcol = x[:, None]
            if use == "numba" and W is None:  # even order: one Numba call
                x, lam = V.accept_even(x, idx_n, w_n, deflate=k + 1 < R)
                C = V.C
                factors.append(x)
                weights.append(lam)
                found = _set_column(found, k, x, xp)
                timings["deflation"] += time.perf_counter() - t0
                continue
            if use == "numba":
                alpha = V.alpha(x, idx_n, w_n)
            else:
                alpha = V.mT @ sym_coords(xcol, idx_cols, w_dev, xp)[:, 0]
            beta = alpha if W is None else W.mT @ sym_coords(xcol, idx_cols_r, w_dev_r, xp)[:, 0]
            lam = 1.0 / float(xp.sum(beta * (C @ alpha)))
            if m % 2 and lam < 0:
                x, lam, alpha, beta = -x, -lam, alpha * (-1) ** n, beta * (-1) ** (m - n)
            elif m % 2 == 0:
                # Canonical sign for even order: largest-magnitude entry positive.
                j = int(xp.argmax(xp.abs(x)))
                if float(x[j]) < 0:
                    x = -x
            factors.append(x)
            weights.append(lam)
            found = _set_column(found, k, x, xp)
            if k + 1 < R:
                V, W, C = _deflate(V, W, C, alpha, beta, xp)
            timings["deflation"] += time.perf_counter() - t0

    A = xp.stack(factors, axis=1)
    lam = xp.asarray(np.asarray(weights), dtype=dtype, device=dev)
    t0 = time.perf_counter()
    lam, residual = _refit_weights(M, A, lam, idx_n, w_n, idx_r, w_r, m, xp)
    timings["refit"] = time.perf_counter() - t0
    weights = host_copy(lam, xp).tolist()
    lam = xp.asarray(np.asarray([ldexp(v, exponent) for v in weights]), dtype=dtype, device=dev)

    limit = identifiable_limit(m, d)
    problems = _run_problems(stats, duplicates, R, max_iter, max_restarts)
    if R > limit:
        problems.append(f"rank {R} exceeds SPM's generic identifiability limit {limit} for "
                        f"order {m}, d = {d}; the components are not determined by T")
    problems += _fit_problems(residual, spectrum, R, dtype, xp, shape=M.shape, symmetric=m % 2 == 0,
                              chosen=rank is None)
    message = "; ".join(problems)
    if message:
        warnings.warn(f"spm: {message}.", TensorWarning, stacklevel=2)
    return SPMResult(weights=lam, factors=A, rank=R, success=not problems, message=message,
                     residual=residual, spectrum=scale_spectrum(spectrum, exponent),
                     identifiable_limit=limit,
                     timings=timings, **stats)


def _eigh_by_magnitude(M, xp):
    """Eigenvalues and eigenvectors of symmetric ``M`` by decreasing |eigenvalue|."""
    vals, vecs = xp.linalg.eigh(M)
    order = xp.argsort(-xp.abs(vals))
    return xp.take(vals, order), xp.take(vecs, order, axis=1)


def scale_spectrum(spectrum: np.ndarray, exponent: int) -> np.ndarray:
    """The spectrum of the unscaled flattening (``inf`` where it overflows, without a warning)."""
    with np.errstate(over="ignore"):
        return np.ldexp(spectrum, exponent)


def _unflatten(T, m, xp):
    """View a (d**ceil(m/2), d**floor(m/2)) flattening as the order-m tensor (no copy)."""
    n = (m + 1) // 2
    if T.ndim != 2:
        raise ValueError(f"`T` must be a 2-D flattening when `order` is given; got ndim={T.ndim}.")
    d = round(T.shape[1] ** (1.0 / (m - n))) if T.shape[1] else 0
    if d < 1 or T.shape != (d**n, d ** (m - n)):
        raise ValueError(
            f"`T` must have shape (d**{n}, d**{m - n}) for a flattening of order {m}; "
            f"got shape {tuple(T.shape)}."
        )
    return xp.reshape(T, (d,) * m)


def _diag(v, xp):
    n = v.shape[0]
    eye = xp.eye(n, dtype=v.dtype, device=v.device)
    return eye * v[None, :]


def _batches(n_tries, restart):
    """Sizes of the batches of starts drawn in round ``restart``.

    ``"auto"``: one start first; only when it is not an exact component (F < 1 - 1e-9, as with
    noise, or it stalled, or it duplicates a found component) are ``AUTO_TRIES - 1`` more drawn,
    and restarts use ``AUTO_TRIES``.  On a low-rank tensor nearly every first start lands on a
    component, so this costs one start where a fixed batch of three costs three.
    """
    if n_tries != "auto":
        return (n_tries,)
    return (1, AUTO_TRIES - 1) if restart == 0 else (AUTO_TRIES,)


def _better(rec, best_rec):
    """Whether start record ``rec`` beats ``best_rec``: a converged new component first, then a
    larger F (values within rounding of each other are ties, kept by the earlier start)."""
    def good(r):
        return r["converged"] and not r["duplicate"]

    if good(rec) != good(best_rec):
        return good(rec)
    return rec["objective"] > best_rec["objective"] + TIE_TOL


def _extract_one(V, idx_cols, w_dev, E, idx_np, w_np, gen, d, n_tries, max_restarts, found, use,
                 opts, xp):
    """Run batches of random starts until a converged, non-duplicate maximizer is found."""
    best = None
    for restart in range(max_restarts + 1):
        round_best = None
        for size in _batches(n_tries, restart):
            if size == 1 and use == "numba" and V.dtype == np.float64:
                x, rec = _one_start_numba(V, idx_np, w_np, gen, d, found, restart, opts)
            else:
                x, rec = _start_batch(V, idx_cols, w_dev, E, idx_np, w_np, gen, d, size, found,
                                      restart, use, opts, xp)
            dup = rec["duplicate"]
            if round_best is None or _better(rec, round_best[1]):
                round_best = (x, rec)
            if rec["converged"] and not dup and rec["objective"] >= 1.0 - TIE_TOL:
                break  # an exact component: no start can do better (F <= 1)
        x, rec = round_best
        if best is None or (rec["converged"] and not rec["duplicate"]):
            best = (x, rec)
        if rec["converged"] and not rec["duplicate"]:
            break
    best[1]["restarts"] = restart  # extra batches drawn, whichever batch was kept
    return best


def _start_batch(V, idx_cols, w_dev, E, idx_np, w_np, gen, d, size, found, restart, use, opts, xp):
    """The best of ``size`` slice starts after their power iteration: ``(x, record)``."""
    X0 = _slice_starts(V, idx_np, w_np, E, gen, d, size, use, xp)
    if use == "numba":
        X, F, iters, done, gnorm = _power_numba(V, idx_np, w_np, X0, **opts)
    else:
        X, F, iters, done, gnorm = _power_xp(V, idx_cols, w_dev, E, X0, **opts)
        F, iters, done, gnorm = (host_copy(a, xp) for a in (F, iters, done, gnorm))
    j, rec = _best_start(F, iters, done, gnorm, restart)
    x = X[:, j]
    x = x / xp.linalg.vector_norm(x)
    dup = False
    # ``found``: the accepted factors, a list or a d x k array (k = 0: none yet).
    prev = xp.stack(found, axis=1) if isinstance(found, list) and found else found
    if prev is not None and not isinstance(prev, list) and prev.shape[1]:
        dup = float(xp.max(xp.abs(prev.mT @ x))) > DUPLICATE_COS
    rec["duplicate"] = dup
    return x, rec


def _one_start_numba(V, idx_np, w_np, gen, d, found, restart, opts):
    """:func:`_start_batch` for one start of the Numba engine (float64) in one kernel call:
    the same draws, decisions and arithmetic, without the Python steps between kernels
    (about a third of the time per component at order 4, d = 20)."""
    from ._spm_numba import spm_one_start

    G = gen.standard_normal((V.rank, 1))
    U = gen.standard_normal((d, 1))
    if isinstance(found, list):
        found = np.stack(found, axis=1) if found else np.empty((d, 0))
    x, F, iters, done, gnorm, dup = spm_one_start(
        V.buf, V.k0, idx_np, w_np, G, U, found, opts["max_iter"], opts["tol"], opts["adaptive"],
        opts["stall_limit"], opts.get("exact_tol", TIE_TOL), NEWTON_GATE, NEWTON_WAIT, DUPLICATE_COS)
    rec = {"iterations": int(iters), "restarts": restart, "objective": float(F),
           "grad_norm": float(gnorm), "converged": bool(done), "duplicate": bool(dup)}
    return x, rec


def _slice_starts(V, idx_np, w_np, E, gen, d, size, use, xp):
    """``size`` starting points: the top eigenvectors of random slices of the subspace.

    A random element ``sum_r g_r M_r`` of the subspace (``M_r`` the symmetric tensor of V's
    column r), contracted with a random vector u in all modes but two, is a d x d matrix
    ``sum_i c_i (u^T a_i)^(n-2) a_i a_i^T`` of the span of the remaining components; its
    eigenvector of largest |eigenvalue| lies near one of them once few are left (exactly on
    the last one), and is no worse than a uniform random start before.  Saves about a third
    of the power steps on order 4 and removes the long escapes of starts nearly orthogonal
    to the last components (thousands of steps at order 6).  Returns (d, size): NumPy for
    the Numba engine, else in the namespace and on the device of V.
    """
    rank = V.rank if use == "numba" else V.shape[1]
    G = gen.standard_normal((rank, size))
    U = gen.standard_normal((d, size))
    if use == "numba":
        from ._spm_numba import spm_slice_starts

        return spm_slice_starts(V.buf, V.k0, idx_np, w_np, G, U)
    n = idx_np.shape[1]
    N = idx_np.shape[0]
    pairs = [(p, q) for p in range(n) for q in range(n) if p != q]
    dtype, dev = V.dtype, V.device
    Y = (V @ xp.asarray(G, dtype=dtype, device=dev)) * xp.asarray(np.array(w_np), dtype=dtype,
                                                                   device=dev)[:, None]
    Ux = xp.asarray(U, dtype=dtype, device=dev)
    cols = [xp.asarray(np.array(idx_np[:, p]), device=dev) for p in range(n)]
    Us = [xp.take(Ux, col, axis=0) for col in cols]  # (N, size) each
    mats = xp.zeros((size, d, d), dtype=dtype, device=dev)
    for p, q in pairs:
        coef = Y
        for t in range(n):
            if t != p and t != q:
                coef = coef * Us[t]
        Ep, Eq = E[:, p * N:(p + 1) * N], E[:, q * N:(q + 1) * N]
        mats = mats + Ep @ (xp.permute_dims(coef, (1, 0))[:, :, None] * Eq.mT[None, :, :])
    # Power iteration with S^2 from U, as the Numba kernel (fixed number of steps off
    # NumPy: each early-stop test would be a host sync).
    x = xp.permute_dims(Ux, (1, 0))[:, :, None]  # (size, d, 1)
    x = x / xp.linalg.vector_norm(x, axis=1, keepdims=True)
    stopped = xp.zeros((size, 1, 1), dtype=xp.bool, device=dev)
    for _ in range(SLICE_STEPS):
        z = mats @ (mats @ x)
        nz = xp.linalg.vector_norm(z, axis=1, keepdims=True)
        stopped = stopped | ~(nz > 0)
        z = z / xp.where(nz > 0, nz, xp.ones_like(nz))
        change = xp.linalg.vector_norm(z - x, axis=1, keepdims=True)
        x = xp.where(stopped, x, z)
        stopped = stopped | (change < SLICE_TOL)
        if is_numpy(xp) and bool(xp.all(stopped)):
            break
    return xp.permute_dims(x[:, :, 0], (1, 0))


def _deflate(V, W, C, alpha, beta, xp):
    """Remove one component from the factored flattening ``V C^{-1} W^T`` (see spm Notes)."""
    vw, bw = _householder(C @ alpha, xp)
    if W is None:
        vv, bv = vw, bw
    else:
        vv, bv = _householder(C.mT @ beta, xp)
    if isinstance(V, _NumbaBasis):
        V.deflate(vw, bw, vv, bv)  # V and C in place
        C = V.C
    else:
        # C <- H_W C H_V, then drop the first row and column.
        C = C - bw * vw[:, None] * (vw @ C)[None, :]
        C = C - bv * (C @ vv)[:, None] * vv[None, :]
        V = V - bv * (V @ vv)[:, None] * vv[None, :]
        V, C = V[:, 1:], C[1:, 1:]
    if W is not None:
        W = W - bw * (W @ vw)[:, None] * vw[None, :]
        W = W[:, 1:]
    return V, W, C


def _sym_factors(A, idx_n, w_n, idx_r, w_r, xp):
    """Isometric coordinates ``S_n(A)`` and ``S_(m-n)(A)`` of the components' powers."""
    dev, dtype = A.device, A.dtype

    def coords(idx, w):
        cols = [xp.asarray(np.array(idx[:, p]), device=dev) for p in range(idx.shape[1])]
        return sym_coords(A, cols, xp.asarray(np.array(w), dtype=dtype, device=dev), xp)

    Sn = coords(idx_n, w_n)
    return Sn, (Sn if idx_r.shape == idx_n.shape else coords(idx_r, w_r))


def _residual(M, A, lam, idx_n, w_n, idx_r, w_r, xp, *, S=None):
    """``||M - S_n(A) diag(lam) S_(m-n)(A)^T||_F / ||M||_F`` in isometric coordinates."""
    Sn, Sr = S if S is not None else _sym_factors(A, idx_n, w_n, idx_r, w_r, xp)
    diff = M - (Sn * lam[None, :]) @ Sr.mT
    return float(xp.linalg.matrix_norm(diff) / xp.linalg.matrix_norm(M))


def _refit_weights(M, A, lam, idx_n, w_n, idx_r, w_r, m, xp):
    """The weights refitted by least squares for the found factors, if that lowers the residual.

    The weights from deflation carry the rounding of every earlier deflation step (most for
    small weights when they span decades); given the factors, the best weights solve the
    R x R normal equations ``G lam = b`` with ``G_ij = (a_i^T a_j)^m`` (the isometric
    coordinates keep inner products) and ``b_i = S_n(a_i)^T M S_(m-n)(a_i)``.  Kept only when
    the residual, evaluated directly, is smaller.  Returns ``(lam, residual)``.
    """
    S = _sym_factors(A, idx_n, w_n, idx_r, w_r, xp)
    res0 = _residual(M, A, lam, idx_n, w_n, idx_r, w_r, xp, S=S)
    Sn, Sr = S
    G = (A.mT @ A) ** m
    b = xp.sum(Sn * (M @ Sr), axis=0)
    try:
        new = xp.linalg.solve(G, b)
    except Exception:  # singular Gram matrix (duplicate components): keep the deflation weights
        return lam, res0
    if m % 2 and bool(xp.any(new <= 0)):
        return lam, res0  # odd order keeps the sign in the factors: weights stay positive
    if not bool(xp.all(xp.isfinite(new))):
        return lam, res0
    res1 = _residual(M, A, new, idx_n, w_n, idx_r, w_r, xp, S=S)
    return (new, res1) if res1 < res0 else (lam, res0)
