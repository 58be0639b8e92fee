"""Dense-or-sparse update blocks: validation and the few products the updates need.

An operand is either an array of the state's namespace or a SciPy sparse matrix/array
(NumPy state only; CSR, CSC or COO).  Only the products ``M @ X`` and ``M^T @ X`` with
dense ``X`` and a dense copy are ever needed, so the update code never branches on
sparsity itself.
"""

from __future__ import annotations

import math
import numbers
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import as_array, is_numpy
from .._scaling import binary_exponent as binary_exponent  # re-exported for the family
from .._validate import as_floating, check_finite, check_ndim

SPARSE_FORMATS = ("csr", "csc", "coo")


def is_sparse(x: Any) -> bool:
    """True for SciPy (or CuPy) sparse matrices and arrays, without importing SciPy."""
    mod = type(x).__module__
    return mod.startswith("scipy.sparse") or mod.startswith("cupyx.scipy.sparse")


def _sparse_namespace(x: Any) -> ModuleType:
    if type(x).__module__.startswith("cupyx"):
        import array_api_compat.cupy as xp

        return xp
    import array_api_compat.numpy as xp

    return xp


def check_sparse(x: Any, name: str) -> Any:
    """Validate a sparse operand; return it as CSR/CSC with a real floating dtype."""
    fmt = getattr(x, "format", None)
    if fmt not in SPARSE_FORMATS:
        raise TypeError(
            f"`{name}` is a sparse matrix in format {fmt!r}, which cannot be used; "
            f"accepted sparse formats: {', '.join(SPARSE_FORMATS)} (convert with .tocsr())."
        )
    if x.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D array; got ndim={x.ndim} (shape {tuple(x.shape)}).")
    if fmt == "coo":
        x = x.tocsr()
    kind = x.dtype.kind
    if kind in "iu":
        x = x.astype("float64")
    elif kind != "f":
        raise TypeError(f"`{name}` must have a real floating (or integer) dtype; got {x.dtype}.")
    data = x.data
    if type(data) is np.ndarray and np.count_nonzero(np.isfinite(data)) == data.size:
        # (count_nonzero costs half of .all() on the few entries of a streamed row; a sum
        # would be cheaper still but warns when finite entries overflow it)
        return x
    finite = _sparse_namespace(x).isfinite(data)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise ValueError(f"`{name}` must contain only finite values; found {bad} NaN/Inf entries.")
    return x


def namespace_of(x: Any) -> ModuleType | None:
    """Namespace a sparse operand's dense products live in (``None`` for dense input)."""
    return _sparse_namespace(x) if is_sparse(x) else None


def check_arraylike(x: Any, name: str) -> None:
    """``TypeError`` naming ``name`` unless ``x`` is an array, a list/tuple or a number
    (``None``, strings, bytes, dicts, ... are not read as 0-d object arrays)."""
    if isinstance(x, list | tuple | numbers.Number) or is_sparse(x):
        return
    if isinstance(x, str | bytes) or not (hasattr(x, "__array_namespace__")
                                          or hasattr(x, "__array__") or hasattr(x, "shape")):
        raise TypeError(f"`{name}` must be an array (or a list of numbers); got "
                        f"{type(x).__module__}.{type(x).__name__}.")


def as_dense(x: Any, name: str, xp: ModuleType, dev: Any = None) -> Any:
    """``x`` as an array of ``xp``: lists and tuples are converted (as NumPy converts them,
    onto ``dev``); masked arrays, ``numpy.matrix`` and arrays of another library are refused
    (``TypeError``)."""
    check_arraylike(x, name)
    if isinstance(x, list | tuple):
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"`{name}` could not be converted to an array: {exc}") from None
        return arr if is_numpy(xp) else xp.asarray(arr, device=dev)
    try:
        return as_array(x, xp)
    except TypeError as exc:
        raise TypeError(f"`{name}`: {exc}") from None


def as_operand(x: Any, name: str, xp: ModuleType, dtype: Any, dev: Any = None) -> Any:
    """Validate ``x`` (dense of ``xp``, a list, or sparse) and cast it to the state's ``dtype``
    (``None``: keep a floating dtype, promote integers to float64)."""
    if is_sparse(x):
        # SciPy sparse on a NumPy state (every streamed sparse batch) always matches: the
        # namespace lookup only for the other pairs
        if not (is_numpy(xp) and type(x).__module__.startswith("scipy")) and (
                (sxp := _sparse_namespace(x)).__name__ != xp.__name__
                and not (is_numpy(xp) and is_numpy(sxp))):
            raise TypeError(
                f"`{name}` is a {type(x).__module__} sparse matrix but the SVD state lives in "
                f"{xp.__name__}; convert it explicitly."
            )
        x = check_sparse(x, name)
        if x.dtype == dtype:
            return x
        _check_range(float(abs(x.data).max()) if x.nnz else 0.0, x.dtype, dtype, name, np)
        return x.astype(dtype)
    x = as_dense(x, name, xp, dev)
    check_ndim(x, name, 2)
    x = as_floating(x, name, xp, allow_complex=False)
    if is_numpy(xp) and x.dtype not in (np.float32, np.float64):
        # long double: LAPACK (numpy.linalg) has no routine for it
        raise TypeError(f"`{name}` has dtype {x.dtype}; TruncatedSVD computes in float32 or "
                        "float64 (convert it first).")
    check_finite(x, name, xp)
    if dtype is None or x.dtype == dtype:
        return x
    if math.prod(x.shape):
        _check_range(float(xp.max(xp.abs(x))), x.dtype, dtype, name, xp)
    return xp.astype(x, dtype)


def _check_range(amax: float, src: Any, dtype: Any, name: str, xp: ModuleType) -> None:
    """Refuse (``ValueError``) entries that the cast to the state's ``dtype`` would turn into
    Inf (float64 blocks for a float32 state): they would reach the update as Inf."""
    top = float(xp.finfo(dtype).max)
    if float(xp.finfo(src).max) > top and amax > top:
        raise ValueError(f"`{name}` has entries of magnitude up to {amax:.3g}, beyond the range of "
                         f"the state's dtype {dtype} (largest finite {top:.3g}); scale it down or "
                         "work in float64.")


def transpose(m: Any) -> Any:
    """``m^T`` for either kind (a view or a cheap format switch, never a dense copy)."""
    return m.T if is_sparse(m) else m.mT


def matmul(m: Any, x: Any) -> Any:
    """Dense ``m @ x``."""
    return m @ x


def rmatmul(m: Any, x: Any) -> Any:
    """Dense ``m^T @ x``."""
    return transpose(m) @ x


def dense(m: Any, xp: ModuleType) -> Any:
    """Dense copy of a sparse operand (dense input is returned as is)."""
    return xp.asarray(m.toarray()) if is_sparse(m) else m


def fro_norm(m: Any, xp: ModuleType) -> float:
    """Frobenius norm as a Python float, scaled so that squaring neither over- nor underflows."""
    if is_sparse(m):
        d = m.data
        amax = float(abs(d).max()) if d.size else 0.0
        return amax * math.sqrt(float(((d / amax) ** 2).sum())) if amax > 0 else 0.0
    amax = float(xp.max(xp.abs(m))) if math.prod(m.shape) else 0.0
    return amax * float(xp.linalg.vector_norm(m / amax)) if amax > 0 else 0.0
