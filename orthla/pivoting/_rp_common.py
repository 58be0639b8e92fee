"""Argument handling shared by the randomized-pivoting functions (rp_cholesky, rp_qr, kernels)."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np

from .._backend import array_namespace
from .._scaling import binary_exponent, scale_pow2

__all__ = ["as_arg", "binary_exponent", "host_array", "host_list", "namespace_of", "scale_pow2"]


def namespace_of(x: Any, name: str) -> Any:
    """Array namespace of argument ``name``; a ``TypeError`` naming it for anything not an array.

    Lists and tuples count as NumPy arrays.  Masked arrays and ``np.matrix`` are refused by
    :func:`orthla._backend.array_namespace` (their message is kept, prefixed by the name).
    """
    try:
        return array_namespace(x)
    except TypeError as exc:
        if "one array library" in str(exc):
            raise TypeError(
                f"`{name}` must be an array (NumPy, CuPy, torch or another array-API library) or a "
                f"nested list of numbers; got {type(x).__module__}.{type(x).__name__}."
            ) from None
        raise TypeError(f"`{name}`: {exc}") from None


def as_arg(x: Any, name: str, xp: Any, like: Any) -> Any:
    """Argument ``name`` as an array of ``xp`` on the device of ``like``.

    Lists, tuples and Python scalars are converted (as NumPy would); an array of another
    library raises ``TypeError`` naming the argument (orthla never copies between libraries).
    """
    if isinstance(x, list | tuple | int | float | complex):  # bool too: refused by dtype later
        return xp.asarray(x, device=like.device)
    other = namespace_of(x, name)
    if other is not xp and not _same_library(other, xp):
        raise TypeError(
            f"`{name}` is an array of {other.__name__}, but the other arguments come from "
            f"{xp.__name__}; convert it explicitly (orthla never copies between libraries)."
        )
    return x


def _same_library(a: Any, b: Any) -> bool:
    for test in (array_api_compat.is_numpy_namespace, array_api_compat.is_torch_namespace,
                 array_api_compat.is_cupy_namespace):
        if test(a) and test(b):
            return True
    return False


def scale_pow2_saturating(x: Any, e: int, xp: Any) -> Any:
    """``x * 2**e`` for a real array, with ``+-inf`` (and no overflow warning) where it overflows.

    For squared quantities scaled back on exit (residual norms of 1e+200 data are 1e+400).
    """
    if e <= 0:
        return scale_pow2(x, e)
    cap = math.ldexp(float(xp.finfo(x.dtype).max), -e)
    big = xp.abs(x) > cap
    if not bool(xp.any(big)):
        return scale_pow2(x, e)
    y = scale_pow2(xp.where(big, xp.zeros_like(x), x), e)
    # +-inf by selection: sign(x) * inf is NaN (and warns) at the zeros of x, which a residual
    # history reaching an exact 0 has next to entries that overflow
    inf = xp.full_like(x, math.inf)
    return xp.where(big, xp.where(x > 0, inf, -inf), y)


def host_array(x: Any) -> np.ndarray:
    """A small array (per-round pivot data, never N-sized) as NumPy, in one device-to-host copy.

    NumPy arrays are returned as they are; CuPy copies with ``get()``, torch with
    ``cpu().numpy()``, and other array-API arrays through DLPack (one export, then a copy).
    """
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_numpy_array(x):
        return np.asarray(x)
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().resolve_conj().cpu().numpy()
    return np.array(np.from_dlpack(x), copy=True)


def host_list(x: Any) -> list:
    """The entries of a small 1-D array as Python numbers, in one device-to-host copy.

    Used for per-round candidate data (a few to a hundred entries), never for N-sized arrays.
    """
    return host_array(x).tolist()
