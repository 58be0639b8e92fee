"""Exact power-of-two scaling, so that homogeneous algorithms run on data of unit size.

Every algorithm of :mod:`orthla.tensor` is homogeneous in ``T`` (the decomposition of
``c T`` is that of ``T`` with weights times ``c``), so it works on ``T / 2**e`` with
``max|T| / 2**e`` in ``[0.5, 1)``: squares and products of entries then neither over- nor
underflow, and dividing by a power of two is exact, so weights scale back exactly.
"""

from __future__ import annotations

import math
from typing import Any

from .._scaling import binary_exponent, scale_pow2

__all__ = ["binary_exponent", "ldexp", "max_abs", "max_exponent", "scale_pow2"]


def max_abs(x: Any, xp) -> float:
    """``max |x|`` as a Python float (0 for an empty array)."""
    if math.prod(x.shape) == 0:
        return 0.0
    return float(xp.max(xp.abs(x)))


def max_exponent(dtype: Any, xp) -> int:
    """``e`` with ``finfo(dtype).max < 2**e`` (1024 for float64, 128 for float32)."""
    return math.frexp(float(xp.finfo(dtype).max))[1]


def ldexp(value: float, k: int) -> float:
    """``value * 2**k`` for a Python float (``inf`` on overflow, no exception)."""
    try:
        return math.ldexp(value, k)
    except OverflowError:
        return math.copysign(math.inf, value)
