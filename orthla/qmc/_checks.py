"""Input checks shared by the qmc family (every message names the argument)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from .._backend import _refuse_ndarray_subclass, array_namespace, as_array, is_cupy, is_torch
from .._validate import as_floating, check_bool, check_finite, check_namespace

__all__ = ["check_bool", "check_namespace", "host_parameter", "integer_parameter", "points_array", "real_parameter"]


def host_parameter(value: Any, name: str) -> np.ndarray:
    """A small host-side parameter (weights, generating vector) as a NumPy array.

    Arrays of another library are copied to the host explicitly (they describe the
    point set, not data to compute with); strings, masked arrays and ``np.matrix``
    raise ``TypeError`` naming ``name``.
    """
    if isinstance(value, str | bytes):
        raise TypeError(f"`{name}` must be numeric; got the string {value!r}.")
    try:
        _refuse_ndarray_subclass(value)
    except TypeError as exc:
        raise TypeError(f"`{name}`: {exc}") from None
    if array_api_compat.is_array_api_obj(value) and not isinstance(value, np.ndarray | np.generic):
        ns = array_namespace(value)
        if is_cupy(ns):
            return value.get()
        if is_torch(ns):
            return value.detach().cpu().numpy()
        return np.asarray(np.from_dlpack(value))
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be numeric; got {value!r} ({exc}).") from None


def real_parameter(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 host array; integers and floats only (booleans, complex, objects
    and strings raise ``TypeError``), every entry finite (else ``ValueError``)."""
    a = host_parameter(value, name)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must hold real numbers; got dtype {a.dtype}.")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{name}` must be finite; got {a.tolist()}.")
    return a


def integer_parameter(value: Any, name: str) -> np.ndarray:
    """``value`` as an int64 host array; integer dtypes only (``TypeError`` otherwise, booleans
    included)."""
    a = host_parameter(value, name)
    if a.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must hold integers; got dtype {a.dtype}.")
    if a.dtype == np.uint64 and a.size and int(a.max()) >= 2**63:
        raise ValueError(f"`{name}` holds integers of 2^63 or more.")
    return a.astype(np.int64)


def points_array(x: Any, name: str, xp: ModuleType | None = None, *, finite: bool = True) -> tuple[ModuleType, Any]:
    """``(xp, x)``: ``x`` as a real floating (or integer, promoted) array of ``xp``.

    Lists become arrays; masked arrays, ``np.matrix`` and arrays of another library than
    ``xp`` raise ``TypeError``; booleans, complex, objects and float16 raise ``TypeError``
    naming ``name``; NaN/inf raise ``ValueError`` (with ``finite``).
    """
    if isinstance(x, str | bytes):
        raise TypeError(f"`{name}` must be an array; got the string {x!r}.")
    if xp is None:
        xp = array_namespace(x)
    x = as_array(x, xp)
    x = as_floating(x, name, xp, allow_complex=False)
    if finite:
        check_finite(x, name, xp)
    return xp, x
