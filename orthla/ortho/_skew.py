"""Skew-symmetric generators shared by the Cayley and exponential parametrizations.

A skew matrix ``S`` (``S^T = -S``) of order ``d`` has ``d(d-1)/2`` free entries; orthla stores them
as the strictly lower triangle in row-major order, ``S[1,0], S[2,0], S[2,1], S[3,0], ...`` (the order
of ``numpy.tril_indices(d, -1)``), and builds ``S = L - L^T``.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import array_namespace, as_array, device
from .._validate import (
    as_floating,
    as_rng,
    check_finite,
    check_int,
    check_namespace,
    check_real,
    eps,
)
from ._param_base import as_params
from ._qr_common import host_float

__all__ = ["SkewGenerated", "check_orthogonal", "check_skew", "norm_bounds", "params_to_skew", "random_params",
           "skew_to_params"]

#: Relative asymmetry ``max|S + S^T| / max|S|`` accepted, in units of ``d * eps``.
SKEW_RTOL = 100.0


def check_skew(S: Any, name: str = "S", xp: ModuleType | None = None) -> tuple[Any, ModuleType]:
    """Validate a (batch of) skew matrices and return a copy of its exact skew part ``(S - S^T) / 2``.

    Refuses NaN/inf, non-square or empty input, and asymmetry ``max|S + S^T| > 100 d eps max|S|``
    (per matrix of the batch), with the measured ratio in the message.
    """
    S, xp, _, _ = skew_stats(S, name, xp)
    return S, xp


def skew_stats(S: Any, name: str = "S", xp: ModuleType | None = None, *,
               copy: bool = True) -> tuple[Any, ModuleType, Any, Any]:
    """:func:`check_skew` with the bounds of :func:`norm_bounds`, in one host sync and few passes.

    Returns ``(S, xp, lower, upper)``.  With ``copy=False`` an exactly skew ``S`` is returned
    itself (no projection, no copy).  The finiteness check reads ``max|S|``, which the skew
    check needs anyway (no pass of its own).
    """
    if xp is None:
        xp = array_namespace(S)
    S = as_floating(as_array(S, xp), name, xp, allow_complex=False)
    if S.ndim < 2:
        raise ValueError(f"`{name}` must have at least 2 dimensions (..., d, d); got shape {tuple(S.shape)}.")
    d = S.shape[-1]
    if S.shape[-2] != d:
        raise ValueError(f"`{name}` must be square in its last two dimensions (..., d, d); "
                         f"got shape {tuple(S.shape)}.")
    if d < 1 or math.prod(S.shape) == 0:
        raise ValueError(f"`{name}` must be a non-empty (..., d, d) array with d >= 1; "
                         f"got shape {tuple(S.shape)}.")
    a = xp.abs(S)
    m = xp.max(a, axis=(-2, -1))
    if not math.isfinite(host_float(xp.max(m))):  # max|S| is NaN or inf exactly when S is not finite
        check_finite(S, name, xp)  # raises with the count of NaN/inf entries
    sym = S + xp.matrix_transpose(S)
    asym = xp.max(xp.abs(sym), axis=(-2, -1))
    rtol = SKEW_RTOL * d * eps(S.dtype, xp)
    worst = host_float(xp.max(asym / xp.where(m > 0, m, xp.ones_like(m))))
    if worst > rtol:
        raise ValueError(f"`{name}` must be skew-symmetric (S^T = -S); max|S + S^T| / max|S| = "
                         f"{worst:.3g} exceeds {rtol:.3g} (= {SKEW_RTOL:g} d eps).")
    if copy or worst > 0:
        S = S - 0.5 * sym
        a = xp.abs(S)
    lower, upper = _bounds(S, a, m, xp)
    return S, xp, lower, upper


def _tril_index(d: int) -> np.ndarray:
    """Index into ``concat([0], p)`` giving the strictly lower triangle of a ``d x d`` matrix."""
    idx = np.zeros((d, d), dtype=np.int64)
    r, c = np.tril_indices(d, -1)
    idx[r, c] = np.arange(1, r.size + 1)
    return idx.reshape(-1)


def params_to_skew(p: Any, d: Any, name: str = "p") -> tuple[Any, ModuleType]:
    """``S = L - L^T`` with ``L``'s strictly lower triangle ``p`` (shape ``(..., d(d-1)/2)``).

    Built with ``take`` and a subtraction (no in-place writes), so it differentiates on torch.
    """
    d = check_int(d, "d", low=1)
    p, xp = as_params(p, name, min_ndim=1)
    n = d * (d - 1) // 2
    if p.shape[-1] != n:
        raise ValueError(f"`{name}` must have d(d-1)/2 = {n} entries along its last axis for d = {d}; "
                         f"got shape {tuple(p.shape)}.")
    zero = xp.zeros((*p.shape[:-1], 1), dtype=p.dtype, device=device(p))
    ext = xp.concat([zero, p], axis=-1)
    idx = xp.asarray(_tril_index(d), device=device(p))
    L = xp.reshape(xp.take(ext, idx, axis=ext.ndim - 1), (*p.shape[:-1], d, d))
    return L - xp.matrix_transpose(L), xp


def skew_to_params(S: Any, xp: ModuleType) -> Any:
    """The strictly lower triangle of ``S`` (``(..., d, d)`` -> ``(..., d(d-1)/2)``)."""
    d = S.shape[-1]
    r, c = np.tril_indices(d, -1)
    flat = xp.reshape(S, (*S.shape[:-2], d * d))
    idx = xp.asarray(r * d + c, device=device(S))
    return xp.take(flat, idx, axis=flat.ndim - 1)


def random_params(d: Any, batch_shape: Any, scale: Any, rng: Any, dtype: Any, xp: Any) -> tuple[int, Any, Any]:
    """Seeded Gaussian parameters ``N(0, scale^2)`` of shape ``batch_shape + (d(d-1)/2,)``."""
    import array_api_compat

    d = check_int(d, "d", low=1)
    scale = check_real(scale, "scale", low=0.0)
    try:
        batch_shape = tuple(check_int(b, "batch_shape", low=0) for b in batch_shape)
    except TypeError:
        raise TypeError(f"`batch_shape` must be a tuple of non-negative integers; got {batch_shape!r}.") from None
    gen = as_rng(rng)
    p = scale * gen.standard_normal((*batch_shape, d * (d - 1) // 2))
    if xp is None:
        xp = array_api_compat.numpy
    check_namespace(xp)
    xp = array_namespace(xp.asarray(0.0))
    if dtype is None:
        dtype = xp.float64
    if dtype not in (xp.float32, xp.float64):
        raise TypeError(f"`dtype` must be float32 or float64 of the namespace; got {dtype!r}.")
    return d, xp.asarray(np.ascontiguousarray(p), dtype=dtype), xp


def norm_bounds(S: Any, xp: ModuleType) -> tuple[Any, Any]:
    """Cheap bounds on ``||S||_2`` for skew ``S``, per matrix: ``(lower, upper)``.

    ``upper = min(||S||_1, ||S||_F / sqrt(2))`` (eigenvalues come in pairs ``+-i theta``, so
    ``||S||_F^2 >= 2 ||S||_2^2``) and ``lower = ||S||_F / sqrt(d)``.  The Frobenius norm is taken
    of ``S / max|S|``, so neither squares overflow nor underflow.
    """
    a = xp.abs(S)
    return _bounds(S, a, xp.max(a, axis=(-2, -1)), xp)


def _bounds(S: Any, a: Any, m: Any, xp: ModuleType) -> tuple[Any, Any]:
    d = S.shape[-1]
    m1 = xp.where(m > 0, m, xp.ones_like(m))
    fro = xp.sqrt(xp.sum((a / m1[..., None, None]) ** 2, axis=(-2, -1))) * m
    one = xp.max(xp.sum(a, axis=-2), axis=-1)
    return fro / math.sqrt(d), xp.minimum(one, fro / math.sqrt(2.0))


def check_orthogonal(Q: Any, name: str = "Q") -> tuple[Any, ModuleType]:
    """Validate a (batch of) real orthogonal ``d x d`` matrices: ``||Q^T Q - I||_max <= sqrt(eps)``."""
    Q, xp = as_params(as_array(Q), name, min_ndim=2)
    d = Q.shape[-1]
    if Q.shape[-2] != d or d < 1 or math.prod(Q.shape) == 0:
        raise ValueError(f"`{name}` must be a non-empty (..., d, d) array; got shape {tuple(Q.shape)}.")
    tol = math.sqrt(eps(Q.dtype, xp))
    big = host_float(xp.max(xp.abs(Q)))
    if big > 1.0 + tol:  # entries of an orthogonal matrix are at most 1 (and Q^T Q could overflow)
        raise ValueError(f"`{name}` must be orthogonal; it has an entry of size {big:.3g} > 1.")
    eye = xp.eye(d, dtype=Q.dtype, device=device(Q))
    err = host_float(xp.max(xp.abs(xp.matrix_transpose(Q) @ Q - eye)))
    if not err <= tol:
        raise ValueError(f"`{name}` must be orthogonal; max|Q^T Q - I| = {err:.3g} exceeds sqrt(eps) = {tol:.3g}.")
    return Q, xp


class SkewGenerated:
    """Accessors shared by the parametrizations generated by a skew matrix ``S`` (Cayley, exp).

    Mixed in before :class:`OrthogonalParametrization`; the class sets ``_S``, ``_xp`` and ``_d``.
    """

    _S: Any
    _xp: ModuleType
    _d: int

    def _set_generator(self, S: Any, xp: ModuleType, name: str) -> None:
        """Hold the checked skew ``S`` and the sizes the base class reads from it."""
        self._name = name  # the argument the generator came from, for error messages
        self._S = S
        self._xp = xp
        self._d = S.shape[-1]
        self._batch_shape = tuple(S.shape[:-2])
        self._dtype = S.dtype
        self._device = device(S)

    @property
    def skew(self) -> Any:
        """The skew generators ``S``, shape ``batch_shape + (d, d)``."""
        return self._S

    @property
    def params(self) -> Any:
        """The strictly lower triangle of ``S``, shape ``batch_shape + (d(d-1)/2,)``."""
        return skew_to_params(self._S, self._xp)

    @property
    def n_params(self) -> int:
        """``d(d-1)/2``, the free entries of a skew matrix."""
        return self._d * (self._d - 1) // 2
