"""MSPM for general (non-symmetric) order-3 tensors: two flattenings sharing one mode.

With no symmetric block, one flattening cannot give both the power-method side and
the other factor.  For ``T = sum_i w_i a_i (x) b_i (x) c_i`` (a the shared mode):
flattening 1, ``(a b) x c``, gives ``span{a_i (x) b_i}`` where the block power
iteration finds ``(a_i, b_i)``; flattening 2, ``(a c) x b``, then gives ``c_i`` as
the maximizer of ``||V_2^T (a_i (x) z)||`` over unit z (a top singular vector).
Both factored flattenings are deflated with the component, as in :func:`spm`.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from .._validate import check_rank
from ._mspm import _canonical_signs, _extract_one
from ._mspm_general import _GFlattening
from ._spm import _choose_rank, _component_stats, _deflate, numerical_rank, rounding_floor
from ._threads import single_thread_blas


def limit3(dims):
    """Generic identifiable rank of the two-flattening scheme for dims (d_a, d_b, d_c)."""
    da, db, dc = dims
    return max(min(dc, db, da * db - da - db + 1, da * dc - da - dc + 1), 1)


class _Flattening(_GFlattening):
    """The order-3 flattening with modes ``order`` = (left, left, right), vectors given in that order."""

    def __init__(self, T, order, xp):
        super().__init__(T, tuple(order[:2]), xp)

    def alpha_beta(self, x_left, y_left, z_right):
        cols = [x_left[:, None], y_left[:, None], z_right[:, None]]
        return (self.V.mT @ self.left.coords(cols)[:, 0], self.W.mT @ self.right.coords(cols)[:, 0])


def mspm_order3(T, *, rank, rank_tol, opts, n_tries, max_restarts, gen, use, xp):
    """Decomposition of a general order-3 tensor; returns the fields of an MSPMResult."""
    timings = {"extraction": 0.0, "power": 0.0, "deflation": 0.0}
    dims = tuple(T.shape)
    # The shared mode a is the smallest: the rank limit is min(d_b, d_c).
    a = int(np.argmin(dims))
    b, c = (k for k in range(3) if k != a)
    t0 = time.perf_counter()
    f1 = _Flattening(T, (a, b, c), xp)
    f2 = _Flattening(T, (a, c, b), xp)
    timings["extraction"] = time.perf_counter() - t0
    if f1.spectrum[0] == 0.0:
        raise ValueError("`T` must be nonzero; got the zero tensor.")
    size_limit = min(min(f1.M.shape), min(f2.M.shape))
    numerical = min(numerical_rank(f.spectrum, size_limit, T.dtype, xp) for f in (f1, f2))
    if rank is None:
        R = min(_choose_rank(f1.spectrum, rank_tol, tuple(f1.M.shape), symmetric=False,
                             floor=rounding_floor(f1.spectrum, T.dtype, xp)), size_limit)
    else:
        R = check_rank(rank, "rank", size_limit, "the flattenings' size")
        if R > numerical:
            raise ValueError(f"`rank` must be at most the numerical rank of the flattenings of `T`, "
                             f"{numerical}; got {R}.")
    f1.truncate(R, xp)
    f2.truncate(R, xp)
    pdims = [dims[a], dims[b], dims[c]]
    found = [[], [], []]
    weights = []
    stats = _component_stats(R)
    duplicates = 0
    with single_thread_blas() if use == "numba" else contextlib.nullcontext():
        for k in range(R):
            t0 = time.perf_counter()
            xs, rec = _extract_one(f1.V, f1.left, pdims, gen, n_tries, max_restarts, found, opts, xp, use)
            xa, xb = xs[0], xs[1]
            # c maximizes ||V_2^T (x_a (x) z)||: contract V_2 (rows (a, c)) with x_a.
            B = xp.reshape(f2.V, (pdims[0], pdims[2], f2.V.shape[1]))
            B = xp.sum(B * xa[:, None, None], axis=0)
            zc = xp.linalg.svd(B, full_matrices=False)[0][:, 0]
            timings["power"] += time.perf_counter() - t0
            for key in stats:
                stats[key][k] = rec[key]
            duplicates += rec["duplicate"]

            t0 = time.perf_counter()
            alpha1, beta1 = f1.alpha_beta(xa, xb, zc)
            lam = 1.0 / float(xp.sum(beta1 * (f1.C @ alpha1)))
            (xa, xb, zc), lam = _canonical_signs([xa, xb, zc], lam, (1, 1, 1), xp)
            for j, x in enumerate((xa, xb, zc)):
                found[j].append(x)
            weights.append(lam)
            if k + 1 < R:
                alpha1, beta1 = f1.alpha_beta(xa, xb, zc)
                f1.V, f1.W, f1.C = _deflate(f1.V, f1.W, f1.C, alpha1, beta1, xp)
                alpha2, beta2 = f2.alpha_beta(xa, zc, xb)
                f2.V, f2.W, f2.C = _deflate(f2.V, f2.W, f2.C, alpha2, beta2, xp)
            timings["deflation"] += time.perf_counter() - t0

    mats = [xp.stack(f, axis=1) for f in found]
    lam = xp.asarray(np.asarray(weights), dtype=T.dtype, device=T.device)
    SL = f1.left.coords(mats)
    SR = f1.right.coords(mats)
    residual = float(xp.linalg.matrix_norm(f1.M - (SL * lam[None, :]) @ SR.mT)
                     / xp.linalg.matrix_norm(f1.M))
    # Back to the modes of T.
    factors = [None, None, None]
    for mode, mat in zip((a, b, c), mats, strict=True):
        factors[mode] = mat
    return {"weights": lam, "factors": factors, "rank": R, "residual": residual,
            "spectrum": f1.spectrum, "limit": limit3(pdims), "timings": timings,
            "duplicates": duplicates, "stats": stats, "shape": tuple(f1.M.shape), "split": (1, 1, 0)}


