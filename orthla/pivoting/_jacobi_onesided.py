"""One-sided (Hestenes) Jacobi driver and a Cholesky factor that names its failing pivot."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import is_numpy, to_numpy
from .._validate import is_complex
from ._jacobi_common import (
    JacobiInfo,
    round_robin,
    row_cyclic_pairs,
    row_cyclic_rounds,
    sweep_rounds,
    underflow_floor,
)


def cholesky_factor(a: Any, xp: Any, use: str) -> Any:
    """Lower Cholesky factor of Hermitian ``a``; ``LinAlgError`` naming the first non-positive pivot."""
    if is_numpy(xp):
        from scipy.linalg import get_lapack_funcs

        a_np = np.asarray(a)
        (potrf,) = get_lapack_funcs(("potrf",), (a_np,))
        low, info = potrf(a_np, lower=1, clean=1, overwrite_a=0)
        if info > 0:
            _raise_not_pd(info - 1)
        return low
    try:
        low = xp.linalg.cholesky(a)
        ok = bool(xp.all(xp.isfinite(low)))
    except Exception:  # each library signals failure its own way; locate the pivot below
        ok = False
    if not ok:
        _raise_not_pd(_first_bad_pivot(a, xp))
    return low


def _raise_not_pd(j: int):
    raise np.linalg.LinAlgError(
        f"`a` is not positive definite: Cholesky pivot {j} (0-based) is not positive, i.e. the "
        f"leading {j + 1}x{j + 1} block is not positive definite.")


def _first_bad_pivot(a: Any, xp: Any) -> int:
    # Error path only: a plain left-looking Cholesky with a host check per column.
    n = a.shape[0]
    cplx = is_complex(a, xp)
    low = xp.zeros_like(a)
    for j in range(n):
        row = low[j, :j]
        d = xp.real(a[j, j]) - xp.sum(xp.real(xp.conj(row) * row) if cplx else row * row)
        if not bool(d > 0):
            return j
        col = a[j:, j] - low[j:, :j] @ (xp.conj(row) if cplx else row)
        low[j:, j] = col / xp.astype(xp.sqrt(d), a.dtype)
    return n - 1


def one_sided_jacobi(g: Any, tol: float, max_sweeps: int, pivoting: str, rng: np.random.Generator,
                     want_v: bool, use: str, xp: Any):
    """Rotate the columns of ``g`` (m x n) until pairwise cosines are <= tol.

    ``g`` is expected scaled by a power of two (largest entry in [0.5, 1), see
    :func:`~._jacobi_common.pow2_exponent`).  Returns ``(g J, J or None, JacobiInfo)`` with
    columns in the original order; columns of negligible norm (squared norm at most
    :func:`~._jacobi_common.underflow_floor`) are never rotated and come back as exact zeros.
    Convergence is a full pass over all pairs that rotates nothing: the sweep
    itself for cyclic orders, an extra checking pass for random pairs; the pairs rotated
    are those whose cosine exceeds ``tol``, so ``converged == (off_norm <= tol)``.
    """
    n = g.shape[1]
    floor = underflow_floor(g.dtype, xp)
    if use == "numba":
        run, finish = _numba_runner(g, want_v, floor)
    else:
        run, finish = _xp_runner(g, want_v, floor, xp)
    rotations, sweeps, worst, converged = 0, 0, 0.0, n < 2
    while not converged and sweeps < max_sweeps:
        # cyclic on NumPy: row by row (fewer rotations than the tiled round-robin), which the
        # Numba runner walks pair by pair (None) and the xp runner by anti-diagonals, so the
        # engines apply the same rotations.  Other libraries (GPUs) keep the round-robin:
        # n - 1 batches of n/2 pairs per sweep instead of 2n - 3 smaller ones.
        if pivoting == "cyclic" and use == "numba":
            rounds = None
        elif pivoting == "cyclic" and is_numpy(xp):
            rounds = row_cyclic_rounds(n)
        else:
            rounds = sweep_rounds(n, pivoting, rng)
        count, worst = run(rounds, tol, True)
        rotations += count
        sweeps += 1
        if pivoting == "random":
            count, worst = run(round_robin(n), tol, False)
        converged = count == 0
    gj, j = finish()
    return gj, j, JacobiInfo(converged, sweeps, rotations, float(worst), tol)


def _numba_runner(g, want_v, floor):
    from ._jacobi_numba import one_sided_pairs, zero_negligible_columns

    w = np.array(to_numpy(g, name="a"), order="F", copy=True)
    n = w.shape[1]
    v = np.eye(n, dtype=w.dtype, order="F") if want_v else np.zeros((0, 0), dtype=w.dtype)

    def run(rounds, tol, apply):
        if rounds is None:  # the cyclic order in column blocks, so that columns stay in cache
            ps, qs = row_cyclic_pairs(n)
        else:
            ps = np.concatenate([r[0] for r in rounds]).astype(np.int64)
            qs = np.concatenate([r[1] for r in rounds]).astype(np.int64)
        count, worst = one_sided_pairs(w, v, ps, qs, tol, floor, want_v, apply)
        return int(count), float(worst)

    def finish():
        # the Numba engine only runs on NumPy input: no conversion needed
        zero_negligible_columns(w, floor)
        return w, (v if want_v else None)

    return run, finish


def _xp_runner(g, want_v, floor, xp):
    from ._jacobi_xp import Layout, one_sided_round, squared_norms

    n = g.shape[1]
    cplx = is_complex(g, xp)
    state = {"g": xp.asarray(g, copy=True),
             "v": xp.eye(n, dtype=g.dtype, device=g.device) if want_v else None}
    layout = Layout(n, xp, g.device)

    def run(rounds, tol, apply):
        count = xp.zeros((), dtype=xp.int64, device=g.device)
        worst = xp.zeros((), dtype=xp.real(state["g"][:0, :0]).dtype, device=g.device)
        for k, rel in layout.sweep(rounds):  # the sweep's index arrays reach the device in one copy
            state["g"] = xp.take(state["g"], rel, axis=1)
            if state["v"] is not None:
                state["v"] = xp.take(state["v"], rel, axis=1)
            c, w = one_sided_round(state["g"], state["v"], k, tol, floor, cplx, xp, apply=apply)
            count, worst = count + c, xp.maximum(worst, w)
        return int(count), float(worst)

    def finish():
        back = layout.restore()
        gj = xp.take(state["g"], back, axis=1)
        dead = squared_norms(gj, cplx, xp) <= floor
        gj = xp.where(dead[None, :], xp.zeros_like(gj), gj)
        j = xp.take(state["v"], back, axis=1) if want_v else None
        return gj, j

    return run, finish
