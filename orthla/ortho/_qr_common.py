"""Helpers shared by ``qr`` and ``procrustes``: scaling by powers of two, Gram matrices,
triangular solves (native where the backend has one), input checks."""

from __future__ import annotations

import math
from typing import Any

from .._backend import device, is_numpy, is_torch
from .._validate import as_floating, check_finite
from .._validate import real_dtype as real_dtype  # shared; re-exported for the family

__all__ = [
    "as_matrix_stack",
    "chol_upper",
    "gram",
    "herm",
    "host_float",
    "max_abs",
    "pow2",
    "pow2_exponent",
    "real_dtype",
    "safe_exponent",
    "solve_upper_right",
]


def herm(x: Any, xp: Any) -> Any:
    """Conjugate transpose over the last two axes."""
    xt = xp.matrix_transpose(x)
    return xp.conj(xt) if xp.isdtype(x.dtype, "complex floating") else xt



def as_matrix_stack(a: Any, name: str, xp: Any, *, allow_complex: bool = True,
                    finite: bool = True) -> Any:
    """Validate ``a`` as a (stack of) matrices ``(..., m, n)`` of finite floating values.

    Integers are promoted to float64 (as ``numpy.linalg`` does); bool, object and float16 raise
    ``TypeError``; fewer than two axes or NaN/inf raise ``ValueError``; all messages name ``name``.
    With ``finite=False`` the NaN/inf check is left to the caller (see :func:`max_abs`).
    """
    a = as_floating(xp.asarray(a) if not hasattr(a, "dtype") else a, name, xp,
                    allow_complex=allow_complex)
    if a.ndim < 2:
        raise ValueError(
            f"`{name}` must be a matrix or a stack of matrices with shape (..., m, n); "
            f"got ndim={a.ndim} (shape {tuple(a.shape)})."
        )
    if finite:
        check_finite(a, name, xp)
    return a


def max_abs(a: Any, xp: Any, name: str = "a") -> Any:
    """``max |a|`` per matrix, shape ``(..., 1, 1)``, real; raises (naming ``name``) on NaN/inf.

    The finiteness check rides on the maximum (NaN and inf propagate into it), so it costs no
    extra pass over ``a``; real input needs no ``|a|`` temporary.  One host synchronisation.
    """
    if xp.isdtype(a.dtype, "complex floating"):
        amax = xp.max(xp.abs(a), axis=(-2, -1), keepdims=True)
    else:
        amax = xp.maximum(xp.max(a, axis=(-2, -1), keepdims=True),
                          -xp.min(a, axis=(-2, -1), keepdims=True))
    if not bool(xp.all(xp.isfinite(amax))):
        check_finite(a, name, xp)
        raise ValueError(f"`{name}` must contain only finite values.")  # pragma: no cover
    return amax


def host_float(x: Any) -> float:
    """``float(x)`` for a 0-d array, detached from autograd first (one host synchronisation)."""
    return float(x.detach() if hasattr(x, "detach") else x)


def pow2_exponent(amax: Any, xp: Any) -> Any:
    """Integer-valued exponents ``e`` (same dtype as ``amax``) with ``2**e <= amax < 2**(e+1)``.

    Zero entries get ``e = 0``.  No host synchronisation.  The exponent is clamped to the
    normal range of the dtype so that ``2**-e`` is representable.
    """
    pos = amax > 0
    safe = xp.where(pos, amax, xp.ones_like(amax))
    e = xp.floor(xp.log2(safe))
    fi = xp.finfo(amax.dtype)
    lim = float(round(-_log2(fi.smallest_normal)) - 1)
    e = xp.clip(e, -lim, lim)
    return xp.where(pos, e, xp.zeros_like(e))


def safe_exponent(dtype: Any, xp: Any) -> int:
    """Largest ``|e|`` with ``2**e <= max|a| < 2**(e+1)`` used without rescaling: an eighth of the
    dtype's exponent range (64 in float64, 16 in float32), so that fourth powers of the entries
    (``||a^H b||_F^2``, Gram matrices of Gram-sized entries) times ``m^2`` neither overflow nor
    underflow."""
    top = math.frexp(float(xp.finfo(real_dtype(dtype, xp)).max))[1]
    return min(64, top // 8)


def _log2(x: float) -> float:
    import math

    return math.log2(x)


def pow2(e: Any, xp: Any, like: Any) -> Any:
    """``2**e`` for integer-valued ``e`` (exact: a power of two), on the device of ``like``."""
    two = xp.asarray(2.0, dtype=e.dtype, device=device(like))
    return xp.pow(two, e)


def gram(x: Any, xp: Any) -> Any:
    """``x^H x`` (NumPy turns ``x.T @ x`` of a 2-D array into one SYRK call)."""
    return herm(x, xp) @ x


def chol_upper(g: Any, xp: Any) -> Any | None:
    """Upper Cholesky factor ``R`` with ``R^H R = g``, or ``None`` on breakdown.

    Breakdown (a non-positive pivot, reported by LAPACK as an error or by some backends as NaN
    entries) is reported for the whole stack; one host synchronisation.
    """
    try:
        r = xp.linalg.cholesky(g, upper=True)
    except Exception:  # numpy.linalg.LinAlgError, torch.linalg.LinAlgError, ...
        return None
    d = xp.real(xp.linalg.diagonal(r)) if xp.isdtype(r.dtype, "complex floating") \
        else xp.linalg.diagonal(r)
    if not bool(xp.logical_and(xp.all(xp.isfinite(r)), xp.all(d > 0))):
        return None
    return r


def solve_upper_right(x: Any, r: Any, xp: Any) -> Any:
    """``x @ inv(r)`` for upper triangular ``r`` (batched); LAPACK/BLAS TRSM where available."""
    if is_numpy(xp):
        import numpy as np
        import scipy.linalg

        # X R = A  <=>  R^T X^T = A^T; A^T of a C-ordered A is Fortran-ordered: no copy.
        xt = np.swapaxes(x, -1, -2)
        if x.ndim == 2 and r.ndim == 2 and x.dtype == r.dtype and xt.flags.f_contiguous:
            # One BLAS TRSM call (solve_triangular's checks cost more than the solve for small
            # matrices); the diagonal of r is positive, checked by the caller.
            trsm = scipy.linalg.get_blas_funcs("trsm", (r, xt))
            if np.iscomplexobj(r):  # X^H = R^-H A^H
                return np.conj(trsm(1.0, r, np.conj(xt), side=0, lower=0, trans_a=2)).T
            return trsm(1.0, r, xt, side=0, lower=0, trans_a=1).T
        if np.iscomplexobj(x) or np.iscomplexobj(r):
            out = scipy.linalg.solve_triangular(r, np.conj(xt), trans="C", lower=False,
                                                check_finite=False)
            return np.ascontiguousarray(np.conj(np.swapaxes(out, -1, -2)))
        out = scipy.linalg.solve_triangular(r, xt, trans="T", lower=False, check_finite=False)
        return np.ascontiguousarray(np.swapaxes(out, -1, -2))
    if is_torch(xp):
        import torch

        return torch.linalg.solve_triangular(r, x, upper=True, left=False)
    # Generic array API: solve r^H y = x^H, then x inv(r) = y^H (LU on the small side).
    return herm(xp.linalg.solve(herm(r, xp), herm(x, xp)), xp)
