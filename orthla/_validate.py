"""Shared input checks.  Every message names the argument and what was seen."""

from __future__ import annotations

import numbers
import operator
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "as_floating",
    "as_rng",
    "check_bool",
    "check_choice",
    "check_finite",
    "check_int",
    "check_namespace",
    "check_ndim",
    "check_rank",
    "check_real",
    "check_square",
    "check_symmetric",
    "eps",
    "is_complex",
    "real_dtype",
]


def _describe(a: Any) -> str:
    return f"shape {tuple(a.shape)}"


def check_ndim(a: Any, name: str, ndim: int = 2) -> None:
    """Raise ``ValueError`` unless ``a.ndim == ndim``."""
    if a.ndim != ndim:
        raise ValueError(
            f"`{name}` must be a {ndim}-D array; got ndim={a.ndim} ({_describe(a)})."
        )


def check_square(a: Any, name: str) -> None:
    """Raise ``ValueError`` unless ``a`` is a square matrix."""
    check_ndim(a, name, 2)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"`{name}` must be a square matrix; got {_describe(a)}.")


def is_complex(a: Any, xp: ModuleType) -> bool:
    """True if ``a`` has a complex floating dtype."""
    return xp.isdtype(a.dtype, "complex floating")


def as_floating(a: Any, name: str, xp: ModuleType, *, allow_complex: bool = True) -> Any:
    """Return ``a`` with a floating dtype.

    Integer input is promoted to float64 (as ``numpy.linalg`` does); booleans
    and other dtypes raise ``TypeError``.  No copy is made when ``a`` is
    already floating.
    """
    dt = a.dtype
    if xp.isdtype(dt, "real floating") or xp.isdtype(dt, "complex floating"):
        if xp.finfo(dt).bits < 32:
            raise TypeError(
                f"`{name}` has dtype {dt}, which orthla does not compute in (too few digits for "
                "its error bounds); convert it to float32 or float64 first."
            )
    if xp.isdtype(dt, "real floating"):
        return a
    if xp.isdtype(dt, "complex floating"):
        if allow_complex:
            return a
        raise TypeError(f"`{name}` must be real; got complex dtype {dt}.")
    if xp.isdtype(dt, "integral"):
        return xp.astype(a, xp.float64)
    kinds = "real or complex floating" if allow_complex else "real floating"
    raise TypeError(f"`{name}` must have a {kinds} (or integer) dtype; got {dt}.")


def eps(dtype: Any, xp: ModuleType) -> float:
    """Machine epsilon of a (real or complex) floating dtype."""
    return float(xp.finfo(dtype).eps)


def check_finite(a: Any, name: str, xp: ModuleType) -> None:
    """Raise ``ValueError`` if ``a`` contains NaN or infinity (one host sync)."""
    finite = xp.isfinite(a)
    if not bool(xp.all(finite)):
        bad = int(xp.sum(xp.astype(~finite, xp.int64)))
        raise ValueError(f"`{name}` must contain only finite values; found {bad} NaN/Inf entries.")


def check_symmetric(a: Any, name: str, xp: ModuleType, *, rtol: float | None = None) -> None:
    """Raise ``ValueError`` unless ``a`` equals its conjugate transpose within ``rtol``.

    The test is ``max|a - a^H| <= rtol * max|a|`` with ``rtol`` defaulting to
    ``100 * n * eps``; the message reports the measured relative asymmetry.
    """
    check_square(a, name)
    n = a.shape[0]
    if rtol is None:
        rtol = 100 * max(n, 1) * eps(a.dtype, xp)
    at = xp.conj(a.mT) if is_complex(a, xp) else a.mT
    scale = float(xp.max(xp.abs(a))) if n else 0.0
    asym = float(xp.max(xp.abs(a - at))) if n else 0.0
    if asym > rtol * scale:
        rel = asym / scale
        kind = "Hermitian" if is_complex(a, xp) else "symmetric"
        raise ValueError(
            f"`{name}` must be {kind}; max|a - a^H| / max|a| = {rel:.3g} exceeds rtol = {rtol:.3g}."
        )


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None,
              high_expr: str | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``.

    ``True``/``False`` are refused: a boolean passed as a rank or a size is a bug
    in the caller, not the integer 1 or 0.
    """
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be an integer; got the boolean {value!r}.")
    if not isinstance(value, numbers.Integral | np.integer):
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"`{name}` must be an integer; got {value!r}.") from None
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "" if low is None else f"at least {low}"
        hi = "" if high is None else f"at most {high_expr + ' = ' if high_expr else ''}{high}"
        rng = " and ".join(s for s in (lo, hi) if s)
        raise ValueError(f"`{name}` must be an integer {rng}; got {value}.")
    return value


def check_real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a Python ``float`` if it is a real number in the given range.

    NaN is always refused (it would switch every comparison off silently), as are
    booleans, strings, complex numbers and arrays of more than one element;
    infinities only with ``allow_inf``.  ``low_open``/``high_open`` make the bounds
    strict.  Example message: "`rtol` must be a real number > 0; got nan."
    """
    if isinstance(value, bool | np.bool_) or isinstance(value, str | bytes):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.")
    if isinstance(value, complex | np.complexfloating):
        raise TypeError(f"`{name}` must be a real number; got the complex {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.") from None
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    want = " and ".join(parts)
    want = f"a finite real number{' ' + want if want else ''}" if not allow_inf else \
        f"a real number{' ' + want if want else ''}"
    bad = out != out or (not allow_inf and out in (float("inf"), float("-inf")))
    if low is not None:
        bad = bad or out < low or (low_open and out == low)
    if high is not None:
        bad = bad or out > high or (high_open and out == high)
    if bad:
        raise ValueError(f"`{name}` must be {want}; got {out!r}.")
    return out


def check_rank(rank: Any, name: str, upper: int, upper_expr: str) -> int:
    """Check a target rank: a positive integer at most ``upper``.

    Example message: "`rank` must be an integer at least 1 and at most
    min(m, n) = 40; got 57."
    """
    return check_int(rank, name, low=1, high=upper, high_expr=upper_expr)


def check_choice(value: Any, name: str, choices: tuple) -> Any:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``.

    Booleans match only booleans (``0 == False`` would otherwise let ``randomize=0`` pass for
    ``False``), and arrays never match.
    """

    def same(c: Any) -> bool:
        if isinstance(value, bool | np.bool_) or isinstance(c, bool | np.bool_):
            return isinstance(value, bool | np.bool_) and isinstance(c, bool | np.bool_) \
                and bool(value) == bool(c)
        try:
            return bool(value == c)
        except (TypeError, ValueError):
            return False

    if not any(same(c) for c in choices):
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")
    return value


def as_rng(rng: Any) -> np.random.Generator:
    """SPEC 7: ``None``, an integer seed, a ``SeedSequence`` or a ``Generator``."""
    if isinstance(rng, bool | np.bool_):
        raise TypeError(f"`rng` must be None, an integer seed or a numpy.random.Generator; got {rng!r}.")
    if isinstance(rng, np.random.RandomState):
        raise TypeError("`rng` must be a numpy.random.Generator or a seed; got a legacy RandomState.")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`rng` must be None, an integer seed or a numpy.random.Generator; got {rng!r}.") from exc


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a ``bool``; anything but ``True``/``False`` raises ``TypeError`` naming ``name``
    (a string such as ``"no"`` is truthy, so it would silently mean ``True``)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be True or False; got {value!r}.")
    return bool(value)


def check_namespace(xp: Any, name: str = "xp") -> None:
    """Raise ``TypeError`` unless ``xp`` looks like an array-API namespace (a module, not a string)."""
    if isinstance(xp, str | bytes) or not (hasattr(xp, "asarray") and hasattr(xp, "float64")):
        raise TypeError(f"`{name}` must be an array-API namespace (for example numpy, cupy or "
                        f"array_api_strict, the module itself); got {xp!r}.")


def real_dtype(dtype: Any, xp: ModuleType) -> Any:
    """The real floating dtype of the same precision (float64 for complex128, float32 for complex64)."""
    if xp.isdtype(dtype, "complex floating"):
        return xp.float32 if dtype == xp.complex64 else xp.float64
    return dtype
