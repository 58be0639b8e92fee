"""Digitally shift-invariant product kernels in base 2 (Walsh spaces)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import array_namespace, as_array, capability
from .._validate import check_int
from ._bits import bits_dtype
from ._checks import check_bool, check_namespace, integer_parameter
from ._kernels import (
    _check_kernel_range,
    _kernel_points,
    _per_dimension,
    check_unit_cube,
    scale_factor,
    scale_param,
    weight,
    weights_param,
)

__all__ = ["DSI_ALPHA_MAX", "DigitalShiftInvariantKernel", "walsh_kernel_1d"]

#: Closed forms are known for smoothness 1..4.
DSI_ALPHA_MAX = 4
#: Float points are read with this many leading binary digits (floor(x * 2^53), exact in float64).
FLOAT_BITS = 53


def _bit_length(v: Any, xp: Any) -> Any:
    """Number of binary digits of integers ``0 < v < 2^63`` (float64 log2, then corrected exactly).

    The corrections shift ``v`` right rather than 1 left, so no value reaches bit 63
    (the sign bit of the int64 words used on torch).
    """
    b = xp.astype(xp.floor(xp.log2(xp.astype(v, xp.float64))), xp.int64)  # 0 <= b <= 63
    b = xp.where((v >> xp.astype(b, v.dtype)) == 0, b - 1, b)  # v < 2^b
    b = xp.where((v >> xp.astype(b + 1, v.dtype)) != 0, b + 1, b)  # v >= 2^(b+1)
    return b + 1


def walsh_kernel_1d(v: Any, t: int, alpha: int, xp: Any) -> Any:
    """``Kt_alpha(x)`` for ``x = v 2^-t``, ``v`` the XOR of two t-bit integers (``t <= 63``).

    ``Kt_1(x) = sum_{k>=1} 2^(1 - 2 mu_1(k)) wal_k(x) = 1 - 3 * 2^floor(log2 x)``;
    ``Kt_a(x) = sum_{k>=1} 2^(-mu_a(k)) wal_k(x)`` for a = 2, 3, 4 with Dick's weight
    function ``mu_a(k)`` (sum of the ``a`` largest positions of 1-bits of ``k``).
    """
    zero = v == 0
    vpos = xp.where(zero, xp.ones_like(v), v)
    x = xp.astype(vpos, xp.float64) * 2.0**-t
    beta = xp.astype(t - _bit_length(vpos, xp) + 1, xp.float64)  # x in [2^-beta, 2^(1-beta))
    p1 = 2.0**-beta
    if alpha == 1:
        val, at0 = 1.0 - 3.0 * p1, 1.0
    elif alpha == 2:
        val, at0 = -beta * x + 2.5 * (1 - p1), 2.5
    elif alpha == 3:
        val = beta * x**2 - 5 * (1 - p1) * x + 43 / 18 * (1 - p1**2)
        at0 = 43 / 18
    else:
        s = xp.zeros_like(x)
        for a in range(min(t, 19)):  # 2^(-3a) below double precision after 19 digits
            digit = xp.astype((v >> (t - 1 - a)) & 1, xp.float64)
            s = s + (1.0 - 2.0 * digit) * 2.0 ** (-3 * a)
        val = (-2 / 3 * beta * x**3 + 5 * (1 - p1) * x**2 - 43 / 9 * (1 - p1**2) * x
               + 701 / 294 * (1 - p1**3) + beta * (s / 48 - 1 / 42))
        at0 = 701 / 294
        val = val - 1.0
        return xp.where(zero, xp.asarray(at0 - 1.0, dtype=xp.float64), val)
    if alpha >= 2:  # the closed forms include the k = 0 term, 1
        val, at0 = val - 1.0, at0 - 1.0
    return xp.where(zero, xp.asarray(at0, dtype=xp.float64), val)


@capability("qmc", numba=False, notes="integer points are read as int64 on torch, uint64 elsewhere")
class DigitalShiftInvariantKernel:
    """Product digitally shift-invariant kernel of a weighted Walsh space (base 2).

    ``K(x, z) = scale * prod_j (1 + gamma_j * Kt_{alpha_j}(x_j XOR z_j))``.

    Parameters
    ----------
    d : int
        Dimension.
    alpha : int or array_like of int, default 2
        Smoothness per dimension, each in 1..4.
    weights : float or array_like, optional
        Positive weights ``gamma_j`` (default 1).
    scale : float, default 1.0
        Positive overall factor.
    t : int, default 63
        Digits of integer (``return_binary``) points.  Float points are read
        with their leading 53 binary digits.

    Attributes
    ----------
    d, alpha, weights, scale, t

    Raises
    ------
    ValueError
        Out-of-range ``alpha`` or ``t``, non-positive or non-finite
        ``weights``/``scale``, or a kernel maximum above ``2^960`` (as for
        :class:`ShiftInvariantKernel`).
    TypeError
        ``d``, ``alpha`` or ``t`` not integers (booleans included),
        ``weights``/``scale`` not real numbers.

    Notes
    -----
    With ``mu_a(k)`` the sum of the ``a`` largest positions of 1-bits of ``k``
    (Dick's weight function), ``Kt_a(x) = sum_{k>=1} 2^(-mu_a(k)) wal_k(x)`` for
    ``a = 2, 3, 4`` and ``Kt_1(x) = sum_{k>=1} 2^(1-2 mu_1(k)) wal_k(x)``.  Their
    closed forms in ``x`` and ``beta = -floor(log2 x)`` [1]_ [2]_ are polynomials
    (plus a digit sum for ``a = 4``); all Walsh coefficients are positive, so the
    kernel is positive definite, has mean ``scale``, and ``K(x XOR s, z XOR s) =
    K(x, z)``: Gram matrices of digital nets in natural or Gray order are
    diagonalized by the Walsh-Hadamard transform (:class:`FastGram`).

    References
    ----------
    .. [1] J. Dick, "Walsh spaces containing smooth functions and quasi-Monte
       Carlo rules of arbitrary high order", SIAM J. Numer. Anal. 46 (2008).
    .. [2] R. Jagadeeswaran, F. J. Hickernell, "Fast automatic Bayesian cubature
       using Sobol' sampling", in Advances in Modeling and Simulation (2022).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import DigitalShiftInvariantKernel
    >>> k = DigitalShiftInvariantKernel(1, alpha=1)
    >>> np.round(k(np.array([[0.0], [0.3], [0.75]])), 4)
    array([[2.  , 1.25, 0.5 ],
           [1.25, 2.  , 0.5 ],
           [0.5 , 0.5 , 2.  ]])
    """

    def __init__(self, d: int, *, alpha: Any = 2, weights: Any = None, scale: float = 1.0,
                 t: int = 63) -> None:
        self.d = check_int(d, "d", low=1)
        a = integer_parameter(alpha, "alpha")
        if a.ndim == 0:
            a = np.full(self.d, a[()])
        if a.ndim != 1 or a.shape[0] != self.d or np.any((a < 1) | (a > DSI_ALPHA_MAX)):
            raise ValueError(f"`alpha` must hold integers in 1..{DSI_ALPHA_MAX} (one or d = {self.d}); "
                             f"got {np.asarray(alpha).tolist()}.")
        self.alpha = a.astype(np.int64)
        self.weights = _per_dimension(1.0 if weights is None else weights, self.d, "weights", integer=False)
        self._weights_param = weights_param(weights)
        self.scale, self._scale_param = scale_param(scale)
        zero = np.zeros(1, dtype=np.uint64)
        at_zero = np.array([float(walsh_kernel_1d(zero, 53, int(a), np)[0]) for a in self.alpha])
        _check_kernel_range(self.weights, at_zero, self.scale)
        self.t = check_int(t, "t", low=1, high=63)

    def __repr__(self) -> str:
        return (f"DigitalShiftInvariantKernel(d={self.d}, alpha={self.alpha.tolist()}, "
                f"weights={self.weights.tolist()}, scale={self.scale}, t={self.t})")

    def to_integers(self, x: Any, name: str = "x", xp: Any = None) -> tuple[Any, int]:
        """(t-bit integers, t) of points given as floats in [0, 1) or as integers.

        Parameters
        ----------
        x : array
            Points: real floats in [0, 1) (read with their leading 53 binary
            digits, ``t = 53``) or non-negative integers below ``2^t``.
        name : str, default "x"
            Name of the argument in error messages.
        xp : namespace, optional
            Array namespace of ``x`` (inferred when omitted).

        Returns
        -------
        (array, int)
            The integers, of the dtype of :func:`._bits.bits_dtype` (``uint64``, or
            ``int64`` on torch: the same values, all below ``2^63``), and their
            number of digits.

        Raises
        ------
        TypeError
            Booleans, complex, float16, objects or strings; an array of another
            namespace than ``xp``.
        ValueError
            NaN/inf or floats outside [0, 1); negative integers or integers of more
            than ``t`` bits.
        """
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a string; got {name!r}.")
        if xp is not None:
            check_namespace(xp, "xp")
        if isinstance(x, str | bytes):
            raise TypeError(f"`{name}` must be an array of points; got the string {x!r}.")
        if xp is None:
            xp = array_namespace(x)
        x = as_array(x, xp)
        if xp.isdtype(x.dtype, "integral"):
            return self._check_bits(x, name, self.t, xp), self.t
        if not xp.isdtype(x.dtype, "real floating") or xp.finfo(x.dtype).bits < 32:
            raise TypeError(f"`{name}` must hold real floats (float32 or float64) in [0, 1) or t-bit "
                            f"integers; got {x.dtype}.")
        check_unit_cube(x, name, xp)
        x64 = xp.astype(x, xp.float64)
        return xp.astype(xp.floor(x64 * 2.0**FLOAT_BITS), bits_dtype(xp)), FLOAT_BITS

    @staticmethod
    def _check_bits(x: Any, name: str, t: int, xp: Any) -> Any:
        """Integer array ``x`` as :func:`bits_dtype` words, checked to be in ``[0, 2^t)``."""
        signed = xp.isdtype(x.dtype, "signed integer")
        if signed and not bool(xp.all(x >= 0)):
            raise ValueError(f"`{name}` as integers must be non-negative t-bit values.")
        xu = xp.astype(x, bits_dtype(xp))
        # xu < 2^t, by a shift: 2^63 has no int64, and uint64 values >= 2^63 read as
        # int64 (torch) are negative, which the arithmetic shift keeps nonzero
        if not bool(xp.all((xu >> t) == 0)):
            raise ValueError(f"`{name}` holds integers of more than t = {t} bits.")
        return xu

    def xor_function(self, v: Any, t: int, xp: Any = None) -> Any:
        """``K`` as a function of ``v = x XOR z``.

        Parameters
        ----------
        v : array of integers, shape (..., d)
            XORs of ``t``-bit integer points (non-negative, below ``2^t``).
        t : int
            Number of binary digits, ``1 <= t <= 63`` (53 for points read from floats).
        xp : namespace, optional
            Array namespace of ``v`` (inferred when omitted).

        Returns
        -------
        array of float64, shape (...)

        Raises
        ------
        TypeError
            ``v`` not an integer array of ``xp`` (floats, booleans, strings), ``t`` not an
            integer.
        ValueError
            ``v`` negative or of more than ``t`` bits, ``t`` out of range, last dimension not ``d``.
        """
        t = check_int(t, "t", low=1, high=63)
        if xp is not None:
            check_namespace(xp, "xp")
        if isinstance(v, str | bytes):
            raise TypeError(f"`v` must be an integer array; got the string {v!r}.")
        if xp is None:
            xp = array_namespace(v)
        v = as_array(v, xp)
        if not xp.isdtype(v.dtype, "integral"):
            raise TypeError(f"`v` must hold t-bit integers (XORs of integer points); got dtype {v.dtype}.")
        if v.ndim < 1 or v.shape[-1] != self.d:
            raise ValueError(f"`v` must have last dimension d = {self.d}; got shape {tuple(v.shape)}.")
        return self._xor_values(self._check_bits(v, "v", t, xp), t, xp)

    def _xor_values(self, v: Any, t: int, xp: Any) -> Any:
        """:meth:`xor_function` without the input checks (``v`` of :func:`bits_dtype`)."""
        out = None
        for j in range(self.d):
            kt = walsh_kernel_1d(v[..., j], t, int(self.alpha[j]), xp)
            f = 1.0 + weight(self, j, kt, xp) * kt
            out = f if out is None else out * f
        return scale_factor(self, out, xp) * out

    def __call__(self, x: Any, z: Any = None, *, pairwise: bool = True) -> Any:
        """Evaluate the kernel (see :meth:`ShiftInvariantKernel.__call__`).

        Points are floats in [0, 1) or t-bit integers (``return_binary=True``).
        """
        pairwise = check_bool(pairwise, "pairwise")
        xp, x, z = _kernel_points(x, z, self.d, pairwise)
        xi, tx = self.to_integers(x, "x", xp)
        zi, tz = (xi, tx) if z is x else self.to_integers(z, "z", xp)
        if tx != tz:
            raise ValueError("`x` and `z` must both be floats or both be t-bit integers.")
        out = None
        for j in range(self.d):
            v = (xi[:, None, j] ^ zi[None, :, j]) if pairwise else (xi[..., j] ^ zi[..., j])
            kt = walsh_kernel_1d(v, tx, int(self.alpha[j]), xp)
            f = 1.0 + weight(self, j, kt, xp) * kt
            out = f if out is None else out * f
        return scale_factor(self, out, xp) * out
