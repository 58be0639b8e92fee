"""Exact power-of-two scaling, shared by every homogeneous algorithm.

A homogeneous algorithm (QR, SVD, eigen, polar, Cholesky, tensor decompositions, ...) runs on
``a / 2**e`` with ``max|a| / 2**e`` in ``[0.5, 1)`` and scales its results back: dividing by a
power of two is exact, squares and Gram matrices of the scaled data neither overflow nor
underflow, and inputs of 1e-300 or 1e+300 behave exactly like inputs of 1.
"""

from __future__ import annotations

import math
from typing import Any

from ._backend import no_grad

__all__ = ["binary_exponent", "max_abs_exponent", "scale_pow2", "unscale_checked"]


def binary_exponent(value: float) -> int:
    """``e`` with ``2**(e-1) <= value < 2**e`` for finite ``value > 0``; 0 otherwise."""
    if not (value > 0 and math.isfinite(value)):
        return 0
    return math.frexp(value)[1]


def max_abs_exponent(a: Any, xp: Any) -> int:
    """:func:`binary_exponent` of ``max(|Re a_ij|, |Im a_ij|)`` (0 for an empty or zero ``a``).

    One host sync.  Real and imaginary parts are taken apart so that ``|a_ij|`` is never formed
    on unscaled data (it overflows for parts near the largest float).
    """
    if math.prod(a.shape) == 0:
        return 0
    if xp.isdtype(a.dtype, "complex floating"):
        amax = xp.max(xp.maximum(xp.abs(xp.real(a)), xp.abs(xp.imag(a))))
    else:
        amax = xp.max(xp.abs(a))
    return binary_exponent(float(no_grad(amax)))  # an exponent: no gradient, no torch warning


def scale_pow2(x: Any, e: int, xp: Any = None) -> Any:
    """``x * 2**e``, exact barring over/underflow of the result itself.

    Applied in factors of at most ``2**64`` (each representable in float32, which cannot hold
    ``2.0**200`` in one go); the steps move monotonically from ``x`` to the result, so no
    intermediate over- or underflows when the result does not.  ``xp`` is accepted for
    call-site symmetry and not needed.
    """
    while e:
        step = max(-64, min(64, e))
        x = x * (2.0**step)
        e -= step
    return x


def unscale_checked(x: Any, e: int, xp: Any, *, name: str, what: str) -> Any:
    """``x * 2**e`` for results of the scaled problem, refusing results beyond the dtype's range.

    Raises ``ValueError`` naming ``name`` when a result would exceed the largest float of its
    dtype (for example the singular values of ``np.full((4, 4), 1e308)``) instead of returning
    inf; costs a host sync only when scaling up.
    """
    if e > 0 and math.prod(x.shape):
        top = float(xp.max(xp.abs(x)))
        limit = math.ldexp(float(xp.finfo(x.dtype).max), -e)
        if top >= limit:
            log10 = math.log10(top) + e * math.log10(2.0)
            size = f"{10 ** (log10 - math.floor(log10)):.3g}e+{math.floor(log10)}"
            raise ValueError(
                f"`{name}` is too large: its {what} reach about {size}, beyond the largest "
                f"{x.dtype} ({float(xp.finfo(x.dtype).max):.6g}); scale `{name}` down first.")
    return scale_pow2(x, e)
