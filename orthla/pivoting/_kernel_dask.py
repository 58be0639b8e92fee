"""KernelMatrix on a Dask array of points (issue #16): kernel columns evaluated by Dask.

The points stay distributed (chunked along the point axis).  The centering and the choice of
formula (Gram form, SciPy's cdist, clipped differences) are made once from global reductions
(min, max, finiteness, then the largest centered norm), exactly as in memory.  Each request
``K[rows][:, cols]``:

* with ``rows`` all ``N`` points (``columns``, :func:`rp_cholesky`'s ``N x block`` column blocks)
  or ``cols`` all points (``rows``): the few other points are gathered (a ``t x d`` array), sent
  to every chunk, and each chunk evaluates its ``c x t`` (or ``t x c``) piece with the in-memory
  formulas; the result is gathered as one NumPy array;
* with both index sets small (``block``, the candidates' ``t x t`` block): the points are gathered
  and the block is evaluated locally.

Every entry goes through the same floating-point operations as in memory (centering and scaling
are elementwise, the squared norms are per point), so the results, and hence ``rp_cholesky``'s
factor for a given ``rng``, equal the in-memory ones.  The factor ``F`` (``N x k``), the residual
diagonal and the pivot decisions stay on the client in NumPy.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .._dask import dask_array_module, numpy_chunks
from .._validate import as_floating, check_choice, check_real

__all__ = ["block", "setup"]


def setup(km: Any, points: Any, kernel: str, bandwidth: float, nu: float) -> None:
    """``KernelMatrix.__init__`` for Dask points (two passes of global reductions)."""
    import array_api_compat.numpy as np_xp

    from ._kernel import CLIP, GRAM_LIMIT, KERNELS

    da = dask_array_module()
    numpy_chunks(points, "points")
    if points.ndim != 2:
        raise ValueError(f"`points` must be a 2-D array; got ndim={points.ndim} (shape {tuple(points.shape)}).")
    if any(np.isnan(s) for s in points.shape):
        raise ValueError("`points` must have a known shape; got unknown chunk sizes (call "
                         "`points.compute_chunk_sizes()` first).")
    points = as_floating(points, "points", np_xp, allow_complex=False)
    check_choice(kernel, "kernel", KERNELS)
    bandwidth = check_real(bandwidth, "bandwidth", low=0, low_open=True)
    nu = check_real(nu, "nu")
    if kernel == "matern":
        check_choice(nu, "nu", (0.5, 1.5, 2.5))
    if len(points.chunks[1]) > 1:
        points = points.rechunk({1: -1})  # each chunk holds whole points
    n, dim = points.shape
    km.points, km.kernel, km.bandwidth, km.nu = points, kernel, bandwidth, nu
    km._arange = np.arange(n)
    km._gram = km._cdist = False
    km._center = None
    km._wide = np.finfo(points.dtype).bits < 64 and not (2.0**-100 <= bandwidth <= 2.0**100)
    if n == 0 or dim == 0:
        (finite,) = da.compute(da.isfinite(points).all())
        _check_finite(finite)
        return
    finite, lo, hi = da.compute(da.isfinite(points).all(), points.min(axis=0), points.max(axis=0))
    _check_finite(finite)
    if km._wide:
        return
    center = lo / 2 + hi / 2  # as in memory: no overflow
    half = float(np.max(hi / 2 - lo / 2))
    km._cdist = (points.dtype == np.float64 and 1e-100 <= bandwidth <= 1e100
                 and 2 * half <= CLIP * bandwidth)
    if kernel == "gaussian" and half <= 16 * bandwidth:
        z = (points - center[None, :]) / bandwidth
        top = float(da.max(da.sum(z * z, axis=1)).compute())
        if (dim + 2) * top <= GRAM_LIMIT:
            km._gram, km._center = True, center


def _check_finite(finite: Any) -> None:
    if not bool(finite):
        raise ValueError("`points` must be finite; got NaN or inf (found by a Dask reduction).")


def _evaluator(km: Any) -> Any:
    """A small in-memory KernelMatrix with the flags of ``km`` and no points (picklable)."""
    ev = copy.copy(km)
    ev.__dict__.update(_dask=False, points=np.empty((0, km.points.shape[1]), dtype=km.points.dtype),
                       _arange=None)
    return ev


def _eval(ev: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``K`` between the points ``x`` (rows) and ``y`` (columns), as ``KernelMatrix._block``."""
    if ev._gram:
        h, c = ev.bandwidth, ev._center
        z, w = (x - c[None, :]) / h, (y - c[None, :]) / h
        return ev._gram_eval(z, w, np.sum(z * z, axis=1) / 2, np.sum(w * w, axis=1) / 2)
    return ev._direct_eval(x, y)


def _chunk_cols(chunk: np.ndarray, *, ev: Any, other: np.ndarray) -> np.ndarray:
    return _eval(ev, chunk, other)


def _chunk_rows_t(chunk: np.ndarray, *, ev: Any, other: np.ndarray) -> np.ndarray:
    return _eval(ev, other, chunk).T  # (c, t): stacked along the chunks, transposed back below


def _is_all(km: Any, idx: np.ndarray) -> bool:
    n = km.points.shape[0]
    return idx is km._arange or (idx.shape[0] == n and bool(np.array_equal(idx, km._arange)))


def block(km: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``K[rows][:, cols]`` for Dask points (validated NumPy index arrays)."""
    import dask

    ev = _evaluator(km)
    dtype = km.points.dtype
    all_rows, all_cols = _is_all(km, rows), _is_all(km, cols)
    if all_rows and all_cols:  # the whole matrix (small problems only, as in memory)
        all_cols = False
    if all_rows or all_cols:
        small = cols if all_rows else rows
        (other,) = dask.compute(km.points[small])
        func = _chunk_cols if all_rows else _chunk_rows_t
        meta = np.empty((0, 0), dtype=dtype)
        lazy = km.points.map_blocks(func, ev=ev, other=other, chunks=(km.points.chunks[0], (small.shape[0],)),
                                    dtype=dtype, meta=meta)
        (out,) = dask.compute(lazy)
        return out if all_rows else np.ascontiguousarray(out.T)
    x, y = dask.compute(km.points[rows], km.points[cols])
    return _eval(ev, x, y)
