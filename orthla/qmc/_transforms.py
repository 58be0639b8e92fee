"""Fast transforms for Gram matrices of point sets in natural (radical-inverse) order."""

from __future__ import annotations

import math
from typing import Any

from .._backend import array_namespace, as_array, capability, select_engine
from .._validate import as_floating, check_finite, check_int

__all__ = ["bit_reversal_indices", "fftbr", "fwht", "ifftbr"]


def _bit_reverse(i: Any, bits: int, xp: Any) -> Any:
    """The integers ``i`` (below ``2^bits``) with their ``bits`` binary digits reversed."""
    out = xp.zeros_like(i)
    for b in range(bits):
        out = out | (((i >> b) & 1) << (bits - 1 - b))
    return out


def bit_reversal_indices(n: int, xp: Any, device: Any = None) -> Any:
    """``idx[i]`` = ``i`` with its ``log2 n`` bits reversed (an involution)."""
    return _bit_reverse(xp.arange(n, dtype=xp.int64, device=device), n.bit_length() - 1, xp)


def _check_axis(y: Any, axis: int, name: str) -> tuple[Any, Any, int, int]:
    if isinstance(y, str | bytes):
        raise TypeError(f"`{name}` must be an array; got the string {y!r}.")
    xp = array_namespace(y)
    y = as_array(y, xp)
    if y.ndim == 0:
        raise ValueError(f"`{name}` must have at least one dimension; got a 0-D array.")
    axis = check_int(axis, "axis", low=-y.ndim, high=y.ndim - 1) % y.ndim
    n = y.shape[axis]
    if n < 1 or n & (n - 1):
        raise ValueError(f"`{name}` must have a power-of-two length along axis {axis}; got {n}.")
    return xp, y, axis, n


def _finite_floating(y: Any, name: str, xp: Any, *, allow_complex: bool) -> Any:
    """``y`` promoted from integers to float64; booleans, float16, objects (and complex
    without ``allow_complex``) raise ``TypeError``, NaN/inf ``ValueError``, all naming ``name``."""
    y = as_floating(y, name, xp, allow_complex=allow_complex)
    check_finite(y, name, xp)
    return y


def _prepare(y: Any, axis: int, name: str) -> tuple[Any, Any, int, int]:
    xp, y, axis, n = _check_axis(y, axis, name)
    y = _finite_floating(y, name, xp, allow_complex=True)
    if xp.isdtype(y.dtype, "real floating"):
        y = xp.astype(y, xp.complex64 if y.dtype == xp.float32 else xp.complex128)
    return xp, y, axis, n


@capability("qmc", numba=False)
def fftbr(y: Any, *, axis: int = -1) -> Any:
    """Orthonormal DFT of data given in natural (bit-reversed) order.

    Parameters
    ----------
    y : array, length ``n = 2^m`` along ``axis``
        Values at the points of a base-2 lattice in natural order, ``y[i]`` for
        the point ``frac(phi_2(i) g)``.  Real input is promoted to complex.
    axis : int, default -1
        Axis to transform.

    Returns
    -------
    array (complex)
        ``fft(y[bitrev], norm="ortho")``: the DFT over the linear order
        ``k = 0..n-1`` of the points ``frac(k g / n)``.

    Raises
    ------
    ValueError
        If the length is not a power of two, the axis is out of range, or ``y``
        holds NaN or infinity.
    TypeError
        If ``y`` is not numeric (booleans, objects and float16 included) or
        ``axis`` is not an integer.

    Notes
    -----
    The first ``n`` points of a lattice in natural order are its points in linear
    order permuted by bit reversal, so a shift-invariant Gram matrix is
    ``K = P C P^T`` with ``C`` circulant: ``K y = ifftbr(lambda * fftbr(y))``.
    Cost: one gather and one FFT, ``O(n log n)``.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import fftbr, ifftbr
    >>> y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> fftbr(y).round(6).tolist()
    [(5+0j), (-0.5+0.5j), (-2+0j), (-0.5-0.5j)]
    """
    xp, y, axis, _ = _prepare(y, axis, "y")
    return _fftbr(y, axis, xp)


@capability("qmc", numba=False)
def ifftbr(y: Any, *, axis: int = -1) -> Any:
    """Inverse of :func:`fftbr`: orthonormal inverse DFT, result in natural order.

    Parameters
    ----------
    y : array, length ``n = 2^m`` along ``axis``
        Coefficients in Fourier (linear) order.
    axis : int, default -1
        Axis to transform.

    Returns
    -------
    array (complex)
        ``ifft(y, norm="ortho")[bitrev]``.

    Raises
    ------
    ValueError
        If the length is not a power of two, the axis is out of range, or ``y``
        holds NaN or infinity.
    TypeError
        If ``y`` is not numeric (booleans, objects and float16 included) or
        ``axis`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import fftbr, ifftbr
    >>> y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> bool(np.allclose(ifftbr(fftbr(y)), y))
    True
    """
    xp, y, axis, _ = _prepare(y, axis, "y")
    return _ifftbr(y, axis, xp)


@capability("qmc", numba=True)
def fwht(y: Any, *, axis: int = -1, engine: str = "auto") -> Any:
    """Orthonormal fast Walsh-Hadamard transform.

    Parameters
    ----------
    y : array, length ``n = 2^m`` along ``axis``
        Real data (integers are promoted to float64).  Not modified.
    axis : int, default -1
        Axis to transform.
    engine : {"auto", "numba", "xp"}, default "auto"
        ``"numba"``: in-place butterflies on a contiguous copy, two stages per
        pass (NumPy; the same values as radix-2 stages, bit for bit).
        ``"xp"``: ``m`` vectorized butterfly stages (any backend).

    Returns
    -------
    array
        ``H_n y / sqrt(n)`` with ``H_n`` the Sylvester-ordered Hadamard matrix
        (``H_n[k, i] = (-1)^popcount(k & i)``); the transform is its own inverse.

    Raises
    ------
    ValueError
        If the length is not a power of two, the axis is out of range, ``y``
        holds NaN or infinity, or the engine cannot be honoured.
    TypeError
        If ``y`` is complex or not numeric (booleans, objects and float16
        included) or ``axis`` is not an integer.

    Notes
    -----
    ``H_n = H_2 (x) ... (x) H_2``: ``m`` stages of ``n/2`` butterflies
    ``(a, b) -> (a + b, a - b)``, ``O(n log n)`` operations, exact in
    integer-valued floating arithmetic up to the final scaling.  In the natural
    order of a base-2 digital net, Gram matrices of digitally shift-invariant
    kernels are diagonalized by this transform.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import fwht
    >>> fwht(np.array([1.0, 0.0, 1.0, 0.0])).tolist()
    [1.0, 1.0, 0.0, 0.0]
    >>> y = np.arange(8.0)
    >>> bool(np.allclose(fwht(fwht(y)), y))
    True
    """
    xp, y, axis, _ = _check_axis(y, axis, "y")
    if xp.isdtype(y.dtype, "complex floating"):
        raise TypeError(f"`y` must be real (floating or integer); got {y.dtype}.")
    y = _finite_floating(y, "y", xp, allow_complex=False)
    return _fwht(y, axis, select_engine(engine, xp), xp)


def _fftbr(y: Any, axis: int, xp: Any) -> Any:
    """:func:`fftbr` of a checked complex array (no input checks)."""
    if math.prod(y.shape) == 0:  # nothing to transform (torch's FFT fails on empty batches)
        return xp.zeros(y.shape, dtype=y.dtype, device=y.device)
    idx = bit_reversal_indices(y.shape[axis], xp, y.device)
    return xp.fft.fft(xp.take(y, idx, axis=axis), axis=axis, norm="ortho")


def _ifftbr(y: Any, axis: int, xp: Any) -> Any:
    """:func:`ifftbr` of a checked complex array (no input checks)."""
    if math.prod(y.shape) == 0:
        return xp.zeros(y.shape, dtype=y.dtype, device=y.device)
    idx = bit_reversal_indices(y.shape[axis], xp, y.device)
    return xp.take(xp.fft.ifft(y, axis=axis, norm="ortho"), idx, axis=axis)


def _fwht(y: Any, axis: int, use: str, xp: Any) -> Any:
    """:func:`fwht` of a checked real floating array along ``axis`` (non-negative); ``use`` is
    the engine ("numba" or "xp")."""
    n = y.shape[axis]
    moved = xp.moveaxis(y, axis, -1)
    lead = moved.shape[:-1]
    flat = xp.reshape(moved, (-1, n))
    if use == "numba":
        import numpy as np

        from ._fwht_numba import fwht_rows_inplace

        out = np.array(flat, copy=True, order="C")
        fwht_rows_inplace(out)
    else:
        out = flat
        h = 1
        rows = flat.shape[0]
        while h < n:
            blocks = xp.reshape(out, (rows, n // (2 * h), 2, h))
            a, b = blocks[:, :, 0, :], blocks[:, :, 1, :]
            out = xp.reshape(xp.stack([a + b, a - b], axis=2), (rows, n))
            h *= 2
        out = out * (1.0 / n**0.5)
    return xp.moveaxis(xp.reshape(out, (*lead, n)), -1, axis)
