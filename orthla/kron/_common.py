"""Shared helpers of the kron family: factor checks and the mode-cycling kernel."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import array_namespace
from .._validate import as_floating, check_finite, check_ndim, eps

__all__ = ["KronConvergenceWarning", "as_factor_list", "cycle_modes", "is_symmetric", "kron_vectors",
           "matmul", "rmatmul_t", "scalar"]


class KronConvergenceWarning(RuntimeWarning):
    """An iterative solve of ``orthla.kron`` stopped before reaching its tolerance."""


def as_factor_list(factors: Any, name: str = "factors", *, allow_identity: bool = True,
                   square: bool = False, allow_none: bool = False) -> tuple[list, ModuleType]:
    """Validate a sequence of factors: 2-D arrays, or integers ``n`` meaning the identity I_n.

    With ``allow_none``, ``None`` (an identity of size fixed later) is kept as ``None``.
    Returns the list (arrays promoted to floating) and the common namespace.
    """
    if not isinstance(factors, Sequence) or isinstance(factors, str) or len(factors) == 0:
        raise TypeError(f"`{name}` must be a non-empty list of 2-D arrays; got {type(factors).__name__}.")
    arrays = [f for f in factors if not _is_identity_spec(f)]
    xp = array_namespace(*arrays)
    out = []
    for k, f in enumerate(factors):
        label = f"{name}[{k}]"
        if _is_identity_spec(f):
            if not allow_identity:
                raise TypeError(f"`{label}` must be a 2-D array; got {f!r}.")
            if f is None and allow_none:
                out.append(None)
                continue
            if f is None:
                raise TypeError(
                    f"`{label}` is None; give the identity of order n as the integer n "
                    "(the operator needs every factor's size).")
            if int(f) < 1:
                raise ValueError(f"`{label}` is an identity order and must be at least 1; got {f}.")
            out.append(int(f))
            continue
        a = xp.asarray(f) if not hasattr(f, "shape") else f
        check_ndim(a, label, 2)
        a = as_floating(a, label, xp)
        check_finite(a, label, xp)
        if square and a.shape[0] != a.shape[1]:
            raise ValueError(f"`{label}` must be a square matrix; got shape {tuple(a.shape)}.")
        out.append(a)
    return out, xp


def _is_identity_spec(f: Any) -> bool:
    return f is None or (isinstance(f, numbers.Integral | np.integer) and not isinstance(f, bool))


def real_dtype(dtype: Any, xp: ModuleType) -> Any:
    """The real floating dtype matching ``dtype`` (float64 for complex128, ...)."""
    if xp.isdtype(dtype, "complex floating"):
        return xp.float32 if dtype == xp.complex64 else xp.float64
    return dtype


def rows(f: Any) -> int | None:
    return f if f is None or isinstance(f, int) else int(f.shape[0])


def cols(f: Any) -> int | None:
    return f if f is None or isinstance(f, int) else int(f.shape[1])


def scalar(x: Any, kind: type = float) -> Any:
    """A 0-d array as a Python ``float`` (or ``kind``), for checks and messages only.

    Detached first on torch, so a check never touches the autograd graph (torch warns
    about ``float()`` of a tensor that requires grad); gradients still flow through the
    computation itself.
    """
    detach = getattr(x, "detach", None)
    return kind(detach() if callable(detach) else x)


def promote(xp: ModuleType, *arrays: Any) -> list:
    """``arrays`` cast to their common ``xp.result_type`` (no copy for those already in it).

    NumPy promotes mixed operands of ``@`` by itself; torch refuses mixed real/complex
    (and mixed precision) matrix products, so every product in this family promotes
    explicitly first.  The promoted dtype is the one NumPy would use, so NumPy results
    are unchanged.
    """
    dt = xp.result_type(*arrays)
    return [a if a.dtype == dt else xp.astype(a, dt) for a in arrays]


def matmul(a: Any, b: Any, xp: ModuleType) -> Any:
    """``a @ b`` after promoting both operands to their common dtype."""
    if a.dtype != b.dtype:
        a, b = promote(xp, a, b)
    return a @ b


def rmatmul_t(y: Any, a: Any, xp: ModuleType) -> Any:
    """``y.mT @ a.mT`` (one :func:`cycle_modes` step) with promoted operands.

    The cast of ``y`` happens at most once per product: after the first complex (or
    wider) factor, ``y`` already has the common dtype, and only small factors are cast.
    """
    if y.dtype != a.dtype:
        y, a = promote(xp, y, a)
    return y.mT @ a.mT


def cycle_modes(x: Any, dims_in: Sequence[int], funcs: Sequence[Callable | None], xp: ModuleType) -> Any:
    """Apply one linear map per leading axis of ``x`` (shape ``(*dims_in, *batch)``).

    ``funcs[k]`` receives the unfolding ``y`` of shape ``(n_k, R)`` (mode k first, the
    other axes in cyclic order) and returns ``(y^T) @ A_k^T`` of shape ``(R, m_k)``;
    ``None`` is the identity.  After each step the contracted mode sits last, so
    ``d`` steps restore the natural axis order: every step is one GEMM on a
    contiguous array with a transposed operand and no explicit copy.  The batch
    axes end up in front and are moved back with one transpose at the end.
    """
    d = len(dims_in)
    batch = tuple(x.shape[d:])
    nbatch = math.prod(batch)
    y = x
    dims_out = []
    for k in range(d):
        y2 = xp.reshape(y, (dims_in[k], -1))
        f = funcs[k]
        y = y2.mT if f is None else f(y2)
        dims_out.append(int(y.shape[1]))
    total = math.prod(dims_out)
    y = xp.reshape(y, (nbatch, total))
    if batch:
        y = y.mT
    return xp.reshape(y, (*dims_out, *batch))


def is_symmetric(a: Any, xp: ModuleType, rtol: float | None = None) -> tuple[bool, float]:
    """(symmetric within ``rtol``, measured relative asymmetry max|a - a^H| / max|a|)."""
    n = a.shape[0]
    if rtol is None:
        rtol = 100 * max(n, 1) * eps(a.dtype, xp)
    cplx = xp.isdtype(a.dtype, "complex floating")
    at = xp.conj(a.mT) if cplx else a.mT
    scale = scalar(xp.max(xp.abs(a)))
    if scale == 0.0:
        return True, 0.0
    rel = scalar(xp.max(xp.abs(a - at))) / scale
    return rel <= rtol, rel


def kron_vectors(vectors: Sequence[Any], xp: ModuleType) -> Any:
    """Kronecker product of 1-D arrays (row-major), as one 1-D array."""
    out = vectors[0]
    for v in vectors[1:]:
        out = xp.reshape(out[:, None] * v[None, :], (-1,))
    return out


def kron_sum_vectors(vectors: Sequence[Any], xp: ModuleType) -> Any:
    """Kronecker sum of 1-D arrays: entry (i1, ..., id) is v1[i1] + ... + vd[id]."""
    out = vectors[0]
    for v in vectors[1:]:
        out = xp.reshape(out[:, None] + v[None, :], (-1,))
    return out


def operand(b: Any, xp: ModuleType, name: str, n: int, dims: Sequence[int]) -> Any:
    """Check a right-hand side of shape ``(n,)`` or ``(n, *batch)`` and return it floating."""
    b = xp.asarray(b) if not hasattr(b, "shape") else b
    if b.ndim == 0 or b.shape[0] != n:
        shape = tuple(b.shape)
        raise ValueError(
            f"`{name}` must have shape ({n},) or ({n}, k) to match the factor sizes "
            f"{' x '.join(map(str, dims))} = {n}; got shape {shape}.")
    return as_floating(b, name, xp)
