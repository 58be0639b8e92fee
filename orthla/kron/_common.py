"""Shared helpers of the kron family: factor checks and the mode-cycling kernel."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import array_namespace, is_numpy, is_torch
from .._validate import as_floating, check_finite, check_ndim, eps
from .._validate import real_dtype as real_dtype  # shared; re-exported for the family

__all__ = ["KronConvergenceWarning", "as_factor_list", "check_overflow", "copy_array", "cycle_modes",
           "exactly_symmetric", "fro_norm", "is_symmetric", "kron_vectors", "matmul", "rmatmul_t", "scalar",
           "size"]


class KronConvergenceWarning(RuntimeWarning):
    """An iterative solve of ``orthla.kron`` stopped before reaching its tolerance."""


def size(a: Any) -> int:
    """Number of entries of an array (``a.size`` is a method on torch)."""
    return math.prod(int(n) for n in a.shape)


def copy_array(a: Any, xp: ModuleType) -> Any:
    """A private copy of ``a`` (torch: ``clone``, which keeps the autograd graph)."""
    if is_torch(xp):
        return a.clone()
    return xp.asarray(a, copy=True)


def as_factor_list(factors: Any, name: str = "factors", *, allow_identity: bool = True,
                   square: bool = False, allow_none: bool = False,
                   copy: bool = False) -> tuple[list, ModuleType]:
    """Validate a sequence of factors: 2-D arrays, or integers ``n`` meaning the identity I_n.

    With ``allow_none``, ``None`` (an identity of size fixed later) is kept as ``None``.
    Returns the list (arrays promoted to floating; private copies with ``copy``) and the
    common namespace.  Messages name each factor as ``{name}[k]``.
    """
    if not isinstance(factors, Sequence) or isinstance(factors, str) or len(factors) == 0:
        raise TypeError(f"`{name}` must be a non-empty list of 2-D arrays; got {type(factors).__name__}.")
    for k, f in enumerate(factors):
        if isinstance(f, bool | np.bool_):
            raise TypeError(f"`{name}[{k}]` must be a 2-D array or an integer identity order; "
                            f"got the boolean {f!r}.")
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
        b = as_floating(a, label, xp)
        check_finite(b, label, xp)
        if square and b.shape[0] != b.shape[1]:
            raise ValueError(f"`{label}` must be a square matrix; got shape {tuple(b.shape)}.")
        if copy and b is f:  # lists and integer arrays were converted into new arrays already
            b = copy_array(b, xp)
        out.append(b)
    return out, xp


def _is_identity_spec(f: Any) -> bool:
    return f is None or (isinstance(f, numbers.Integral | np.integer) and not isinstance(f, bool))


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
    dims_out: list[int] = []
    for k in range(d):
        # Explicit sizes (no -1): a reshape cannot infer an axis of a zero-size array.
        rest = math.prod(dims_in[k + 1:]) * nbatch * math.prod(dims_out)
        y2 = xp.reshape(y, (int(dims_in[k]), rest))
        f = funcs[k]
        y = y2.mT if f is None else f(y2)
        dims_out.append(int(y.shape[1]))
    total = math.prod(dims_out)
    y = xp.reshape(y, (nbatch, total))
    if batch:
        y = y.mT
    return xp.reshape(y, (*dims_out, *batch))


def conj_t(a: Any, xp: ModuleType) -> Any:
    """``a^H`` (``a^T`` for real ``a``)."""
    return xp.conj(a.mT) if xp.isdtype(a.dtype, "complex floating") else a.mT


def is_symmetric(a: Any, xp: ModuleType, rtol: float | None = None) -> tuple[bool, float]:
    """(symmetric within ``rtol``, measured relative asymmetry max|a - a^H| / max|a|)."""
    n = a.shape[0]
    if n == 0:
        return True, 0.0
    if rtol is None:
        rtol = 100 * max(n, 1) * eps(a.dtype, xp)
    scale = scalar(xp.max(xp.abs(a)))
    if scale == 0.0:
        return True, 0.0
    rel = scalar(xp.max(xp.abs(a - conj_t(a, xp)))) / scale
    return rel <= rtol, rel


def exactly_symmetric(a: Any, xp: ModuleType) -> bool:
    """``a == a^H`` entry by entry (no tolerance)."""
    return a.shape[0] == 0 or bool(xp.all(a == conj_t(a, xp)))


def symmetrized(a: Any, xp: ModuleType) -> Any:
    """``(a + a^H) / 2``, or ``a`` itself when it is exactly symmetric already."""
    return a if exactly_symmetric(a, xp) else (a + conj_t(a, xp)) / 2


def fro_norm(a: Any, xp: ModuleType) -> float:
    """Frobenius norm as a float, scaled by ``max|a|`` first (no overflow at 2**+-500).

    NumPy: one BLAS pass without copies first; the scaled computation only when that
    overflows or is so small that underflowed squares could matter (a quarter of the cost
    for the small factors of the Kronecker-sum and Sylvester checks).
    """
    if size(a) == 0:
        return 0.0
    if is_numpy(xp):
        fi = np.finfo(a.dtype)
        with np.errstate(over="ignore", under="ignore"):  # checked below
            n = float(np.linalg.norm(a))
        if math.isfinite(n) and n >= 16 * math.sqrt(size(a) * float(fi.tiny) / float(fi.eps)):
            return n
    m = scalar(xp.max(xp.abs(a)))
    if m == 0.0:
        return 0.0
    return m * scalar(xp.linalg.vector_norm(a / m))


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


def check_overflow(x: Any, what: str, xp: ModuleType) -> None:
    """``ValueError`` if ``x``, computed from finite input, has a non-finite entry (overflow)."""
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{what} overflows {x.dtype}: the input is finite but the solution is not "
                         "representable (a nearly singular factor, or huge right-hand sides).")


def operand(b: Any, xp: ModuleType, name: str, n: int, dims: Sequence[int],
            factors: str = "factors", *, finite: bool = True) -> Any:
    """Check a right-hand side of shape ``(n,)`` or ``(n, *batch)``: floating and finite.

    A length mismatch names the operand and every factor (``{factors}[k]``), since either
    may be the wrong one.  ``finite=False`` skips the NaN/Inf pass (and its host sync) for
    vectors orthla made itself, such as the iterates of PCG.
    """
    b = xp.asarray(b) if not hasattr(b, "shape") else b
    if b.ndim == 0 or b.shape[0] != n:
        shape = tuple(b.shape)
        labels = ", ".join(f"{factors}[{k}]" for k in range(len(dims)))
        raise ValueError(
            f"`{name}` must have shape ({n},) or ({n}, k) to match the factor sizes "
            f"{' x '.join(map(str, dims))} = {n} (of {labels}); got shape {shape}.")
    b = as_floating(b, name, xp)
    if finite:
        check_finite(b, name, xp)
    return b
