"""64-bit words for the base-2 bit arithmetic of digital nets, on every backend.

Digital nets and Walsh kernels work on ``t``-bit integers (``t <= 63``) and, for
Owen scrambling, on full 64-bit hash words.  NumPy, CuPy and array_api_strict
hold them as ``uint64``.  torch implements no shifts or comparisons for
``uint64`` ("rshift_cpu" not implemented for 'UInt64'), so there the same 64 bits
are held as ``int64`` (two's complement):

- ``t``-bit values with ``t <= 63`` are below ``2^63``, hence non-negative, and
  XOR, AND, OR, left shifts within 63 bits, right shifts and comparisons give
  the same values as in ``uint64``;
- full 64-bit words (hashes) keep their bit pattern: XOR/AND/OR and wrapping
  multiplication act on the bits alike; only the right shift differs (it is
  arithmetic on ``int64``), so :func:`shr` masks the copied sign bits.

Host arrays are always ``numpy.uint64``; :func:`to_device` reinterprets them
(no arithmetic) for a backend that uses ``int64``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import device, is_torch

__all__ = ["bits_dtype", "shr", "to_device", "word"]


def bits_dtype(xp: Any) -> Any:
    """Integer dtype holding 64-bit words in ``xp``: ``uint64``, or ``int64`` on torch."""
    return xp.int64 if is_torch(xp) else xp.uint64


def to_device(a: np.ndarray, xp: Any, dev: Any) -> Any:
    """Host ``uint64`` words as an array of :func:`bits_dtype` on ``device`` (same bits)."""
    a = np.ascontiguousarray(a, dtype=np.uint64)
    if bits_dtype(xp) == xp.int64:
        a = a.view(np.int64)
    return xp.asarray(a, device=dev)


def word(value: int, like: Any, xp: Any) -> Any:
    """0-d array of the 64-bit word ``value`` (``0 <= value < 2^64``) in the dtype and on the device of ``like``."""
    if like.dtype == xp.int64 and value >= 2**63:
        value -= 2**64
    return xp.asarray(value, dtype=like.dtype, device=device(like))


def shr(z: Any, s: int, xp: Any) -> Any:
    """Logical right shift of 64-bit words by ``0 < s < 64`` (masks the sign bits of ``int64``)."""
    if z.dtype == xp.int64:
        return (z >> s) & ((1 << (64 - s)) - 1)
    return z >> s
