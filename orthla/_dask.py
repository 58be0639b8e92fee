"""Shared helpers for the Dask paths (imported lazily: dask is an optional dependency).

orthla accepts Dask arrays only where a function documents it (``qmc.to_dask``, ``KronOperator``
``@``/``solve`` and ``KronEigh.solve`` on right-hand sides chunked along the batch axis,
``KernelMatrix`` on Dask points); everywhere else :func:`orthla._backend.array_namespace` refuses
them with a ``TypeError`` naming Dask.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat

__all__ = ["DASK_HINT", "dask_array_module", "is_dask"]

DASK_HINT = 'install it with `pip install "orthla[dask]"`'


def is_dask(x: Any) -> bool:
    """True for a ``dask.array.Array`` (checked without importing dask)."""
    return array_api_compat.is_dask_array(x)


def dask_array_module() -> ModuleType:
    """``dask.array``, or an ``ImportError`` with the install hint."""
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is installed wherever this is reached
        raise ImportError(f"this function needs dask[array], which is not installed; {DASK_HINT}.") from exc
    return da


def numpy_chunks(x: Any, name: str) -> None:
    """Refuse a Dask array whose chunks are not NumPy arrays (CuPy/sparse chunks are not supported)."""
    import numpy as np

    meta = getattr(x, "_meta", None)
    if meta is not None and not isinstance(meta, np.ndarray):
        raise TypeError(f"`{name}` must be a Dask array of NumPy chunks; got chunks of "
                        f"{type(meta).__module__}.{type(meta).__name__}.")
