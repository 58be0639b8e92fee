"""Array-namespace dispatch, devices, NumPy hand-off for kernels and engine choice.

Every public orthla function starts with :func:`array_namespace` (or accepts
``xp=`` to skip inference), creates new arrays on the input's device, and picks
its implementation with :func:`select_engine`.  Nothing here imports an optional
dependency (numba, cupy, torch) at module import time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import array_api_compat
import array_api_compat.numpy  # the namespace returned when no argument is an array
import numpy as np

__all__ = [
    "CAPABILITIES",
    "ENGINES",
    "Capability",
    "array_namespace",
    "as_array",
    "capability",
    "device",
    "from_numpy",
    "is_cupy",
    "is_numpy",
    "is_torch",
    "no_grad",
    "numba_available",
    "select_engine",
    "to_numpy",
]

ENGINES = ("auto", "numba", "xp")
NUMBA_HINT = 'install it with `pip install "orthla[numba]"`'


def _convert_sequence(x: Any) -> Any:
    # Python scalars and nested lists/tuples become NumPy arrays, as in NumPy itself.
    if isinstance(x, list | tuple | int | float | complex):
        return np.asarray(x)
    _refuse_ndarray_subclass(x)
    return x


def _refuse_ndarray_subclass(x: Any) -> None:
    # Masked arrays and np.matrix compute with the data but mean something else (a mask,
    # matrix-product `*`): any answer would match neither reading, so refuse them.
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            "orthla does not accept numpy.ma.MaskedArray input (the mask would be ignored); "
            "pass `x.filled(...)` or `x.compressed()` explicitly."
        )
    if isinstance(x, np.matrix):
        raise TypeError("orthla does not accept numpy.matrix input; pass `np.asarray(x)`.")


def array_namespace(*arrays: Any) -> ModuleType:
    """Return the array-API namespace shared by ``arrays``.

    Lists, tuples and Python scalars count as NumPy arrays; ``None`` is ignored.

    Raises
    ------
    TypeError
        If the arrays come from different libraries (for example NumPy and
        CuPy): orthla never copies between libraries or devices silently.  Also
        for JAX and Dask arrays, which orthla's algorithms do not support (JAX
        arrays are immutable; Dask arrays are lazy and chunked): the message
        says so up front instead of failing deep inside an algorithm.
    """
    arrays = tuple(_convert_sequence(a) for a in arrays if a is not None)
    if not arrays:
        return array_api_compat.numpy
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        kinds = sorted({f"{type(a).__module__}.{type(a).__name__}" for a in arrays})
        raise TypeError(
            f"all array arguments must come from one array library; got {', '.join(kinds)}. "
            "Convert them explicitly (orthla never copies between libraries or devices)."
        ) from exc
    _refuse_unsupported_library(xp)
    return xp


_UNSUPPORTED = {
    "jax": "JAX arrays are immutable and orthla's algorithms update arrays in place",
    "dask": "Dask arrays are lazy and chunked and orthla's algorithms need concrete arrays",
}


def _refuse_unsupported_library(xp: ModuleType) -> None:
    for lib, why in _UNSUPPORTED.items():
        if getattr(array_api_compat, f"is_{lib}_namespace")(xp):
            raise TypeError(
                f"orthla does not support {lib} arrays ({why}); convert the input with "
                f"numpy.asarray(...) (or {'x.compute()' if lib == 'dask' else 'numpy.asarray(x)'}) "
                "and convert the result back."
            )


def as_array(x: Any, xp: ModuleType | None = None) -> Any:
    """Return ``x`` as an array of ``xp`` (lists and scalars become NumPy arrays)."""
    x = _convert_sequence(x)
    if xp is None:
        return x
    if array_api_compat.is_array_api_obj(x) and array_api_compat.array_namespace(x) is xp:
        return x  # already ours: no copy, and torch's autograd graph is kept (no asarray warning)
    if array_api_compat.is_array_api_obj(x) and array_api_compat.array_namespace(x) is not xp:
        _refuse_unsupported_library(array_api_compat.array_namespace(x))
        if not (is_numpy(xp) and isinstance(x, np.ndarray)):
            raise TypeError(
                f"array of type {type(x).__name__} does not belong to the namespace "
                f"{xp.__name__}; convert it explicitly."
            )
    return xp.asarray(x)


def no_grad(x: Any) -> Any:
    """``x`` cut from torch's autograd graph (other arrays unchanged).

    For algorithms that update arrays in place and so cannot be differentiated: their outputs then
    say ``requires_grad=False`` instead of claiming a gradient that ``backward()`` cannot compute.
    """
    return x.detach() if getattr(x, "requires_grad", False) else x


def device(x: Any) -> Any:
    """Device of array ``x`` (``"cpu"`` for NumPy)."""
    return array_api_compat.device(x)


def is_numpy(xp: ModuleType) -> bool:
    """True if ``xp`` is NumPy (or its array-api-compat wrapper)."""
    return array_api_compat.is_numpy_namespace(xp)


def is_cupy(xp: ModuleType) -> bool:
    """True if ``xp`` is CuPy (or its array-api-compat wrapper)."""
    return array_api_compat.is_cupy_namespace(xp)


def is_torch(xp: ModuleType) -> bool:
    """True if ``xp`` is PyTorch (or its array-api-compat wrapper)."""
    return array_api_compat.is_torch_namespace(xp)


def to_numpy(x: Any, *, name: str = "array") -> np.ndarray:
    """Hand a NumPy array to a CPU kernel, refusing anything else.

    Only NumPy arrays are accepted: a CuPy/torch-CUDA array would need a silent
    device-to-host copy, and other namespaces (array_api_strict, torch on CPU)
    are served by the array-API engine.
    """
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(
        f"`{name}` must be a numpy.ndarray for the Numba engine; got "
        f"{type(x).__module__}.{type(x).__name__}. Use engine='xp' or engine='auto'."
    )


def from_numpy(x: np.ndarray, xp: ModuleType, *, like: Any = None) -> Any:
    """Return kernel output ``x`` in namespace ``xp`` on the device of ``like``."""
    if is_numpy(xp):
        return x
    dev = None if like is None else device(like)
    return xp.asarray(x, device=dev)


def numba_available() -> bool:
    """True if numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def select_engine(engine: str, xp: ModuleType, *, has_numba_kernel: bool = True) -> str:
    """Resolve ``engine`` to ``"numba"`` or ``"xp"``.

    Parameters
    ----------
    engine : {"auto", "numba", "xp"}
        ``"auto"`` picks Numba for NumPy input when numba is importable and
        the function has a kernel, else the array-API path.  ``"numba"`` is
        honoured or raises; it never falls back.
    xp : namespace
        Namespace of the inputs.
    has_numba_kernel : bool
        Whether the calling function has a Numba kernel at all.

    Raises
    ------
    ValueError
        Unknown engine, or ``"numba"`` for non-NumPy input or a function
        without a kernel.
    ImportError
        ``"numba"`` requested but numba is not installed.
    """
    if engine not in ENGINES:
        raise ValueError(f"`engine` must be one of {ENGINES}; got {engine!r}.")
    if engine == "xp":
        return "xp"
    if engine == "auto":
        ok = has_numba_kernel and is_numpy(xp) and numba_available()
        return "numba" if ok else "xp"
    if not has_numba_kernel:
        raise ValueError("engine='numba' is not available for this function; use 'auto' or 'xp'.")
    if not is_numpy(xp):
        raise ValueError(
            f"engine='numba' needs NumPy input; got arrays from {xp.__name__}. "
            "Use engine='xp' (or 'auto') for other array libraries."
        )
    if not numba_available():
        raise ImportError(f"engine='numba' needs numba, which is not installed; {NUMBA_HINT}.")
    return "numba"


@dataclass(frozen=True)
class Capability:
    """Which backends and engines a public function supports."""

    name: str
    family: str
    numba: bool
    backends: tuple[str, ...] = ("numpy", "cupy", "torch", "array_api_strict")
    notes: str = ""


#: Capability table, filled by :func:`capability` as modules are imported.
CAPABILITIES: dict[str, Capability] = {}


_F = TypeVar("_F", bound=Callable[..., Any])


def capability(
    family: str,
    *,
    numba: bool,
    backends: tuple[str, ...] = ("numpy", "cupy", "torch", "array_api_strict"),
    notes: str = "",
) -> Callable[[_F], _F]:
    """Decorator recording a public function in :data:`CAPABILITIES`.

    Typed as the identity on the decorated callable, so type checkers keep its signature
    (``reveal_type(orthla.mgs_qr)`` shows the real parameters; ``tests/test_typing.py``
    checks that ``mypy --strict`` flags a misspelled keyword of every public callable).  A
    ``TypeVar`` bound to ``Callable`` rather than ``Callable[P, R]`` with a ``ParamSpec``:
    classes are decorated too (``TruncatedSVD``), and ``ParamSpec`` would turn them into plain
    callables for the type checker (no attributes, no ``isinstance``).
    """

    def register(func: _F) -> _F:
        CAPABILITIES[func.__name__] = Capability(func.__name__, family, numba, backends, notes)
        return func

    return register


def capability_table() -> list[Capability]:
    """All registered capabilities, after importing every available family."""
    import orthla  # noqa: F401  (imports the families, which register themselves)

    return sorted(CAPABILITIES.values(), key=lambda c: (c.family, c.name))
