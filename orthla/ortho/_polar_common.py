"""Helpers shared by ``msign`` and ``polar``: conjugate transposes, scaling, input checks."""

from __future__ import annotations

from typing import Any

from .._backend import device
from ._qr_common import herm as herm  # shared with qr/procrustes
from ._qr_common import real_dtype as real_dtype


def check_matrix(a: Any, name: str) -> None:
    """``a`` must have at least two axes: ``(..., m, n)``."""
    if a.ndim < 2:
        raise ValueError(
            f"`{name}` must be a matrix or a stack of matrices with shape (..., m, n); "
            f"got ndim={a.ndim} (shape {tuple(a.shape)})."
        )


def pow2_scale(a: Any, xp: Any) -> tuple[Any, Any]:
    """Return ``(a / s, s)`` with ``s`` a power of two per matrix near ``max |a|``.

    ``s`` has shape ``(..., 1, 1)`` and the working real dtype; division by a power of two is
    exact (barring subnormals), so ``a / s`` has entries in ``[0.5, 1]`` in magnitude at its
    largest and Gram matrices neither overflow nor underflow.  All-zero matrices get ``s = 1``.
    No host synchronisation.
    """
    amax = xp.max(xp.abs(a), axis=(-2, -1), keepdims=True)
    rdt = amax.dtype
    pos = amax > 0
    safe = xp.where(pos, amax, xp.ones_like(amax))
    e = xp.floor(xp.log2(safe))
    two = xp.asarray(2.0, dtype=rdt, device=device(a))
    s = xp.where(pos, xp.pow(two, e), xp.ones_like(amax))
    return a / (xp.astype(s, a.dtype) if a.dtype != rdt else s), s


