"""Shift-invariant product kernels on the unit cube (Korobov spaces)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._backend import array_namespace, capability, no_grad
from .._validate import as_floating, check_int, check_real
from ._bernoulli import ALPHA_MAX, korobov_omega
from ._checks import check_bool, check_namespace, integer_parameter, points_array, real_parameter

__all__ = ["ShiftInvariantKernel"]


def _per_dimension(value: Any, d: int, name: str, *, integer: bool) -> np.ndarray:
    if integer:
        a = integer_parameter(value, name)
    else:
        a = real_parameter(value, name)
    if a.ndim == 0:
        a = np.full(d, a[()])
    if a.ndim != 1 or a.shape[0] != d:
        raise ValueError(f"`{name}` must be a scalar or have length d = {d}; got shape {a.shape}.")
    if integer:
        if np.any((a < 1) | (a > ALPHA_MAX)):
            raise ValueError(f"`{name}` must hold integers in 1..{ALPHA_MAX}; got {a.tolist()}.")
        return a
    if np.any(a <= 0):
        raise ValueError(f"`{name}` must be positive and finite; got {a.tolist()}.")
    return a


def weights_param(weights: Any) -> Any:
    """The array behind ``weights`` when it belongs to a library other than NumPy, else None.

    Kernels keep it beside their float64 host copy so that kernel values computed on that
    library use it, and a torch tensor that requires grad gets its gradient (GP hyperparameters).
    """
    import array_api_compat

    if array_api_compat.is_array_api_obj(weights) and not isinstance(weights, np.ndarray | np.generic):
        return weights
    return None


def weight(kernel: Any, j: int, like: Any, xp: Any) -> Any:
    """``gamma_j`` for kernel values shaped like ``like``: a 0-d array of ``xp`` when the weights
    were given in that library (differentiable), otherwise a Python float."""
    w = kernel._weights_param
    if w is not None and array_namespace(w) is xp:
        wj = w[j] if w.ndim else w
        return xp.astype(wj, like.dtype) if wj.dtype != like.dtype else wj
    return float(kernel.weights[j])


def scale_factor(kernel: Any, like: Any, xp: Any) -> Any:
    """The kernel's ``scale`` for values shaped like ``like``: a 0-d array of ``xp`` when it was
    given in that library (differentiable), otherwise a Python float."""
    s = kernel._scale_param
    if s is not None and array_namespace(s) is xp:
        s = xp.reshape(s, ())
        return xp.astype(s, like.dtype) if s.dtype != like.dtype else s
    return kernel.scale


def scale_param(scale: Any) -> tuple[float, Any]:
    """``(float scale, the array behind it or None)``: a tensor scale is checked on a detached copy
    and kept, like tensor weights, so kernel values differentiate in it."""
    param = weights_param(scale)
    value = no_grad(param) if param is not None else scale
    if param is not None and getattr(param, "ndim", 0) != 0:
        raise ValueError(f"`scale` must be a scalar; got an array of shape {tuple(param.shape)}.")
    return _positive_scale(value), param


def _positive_scale(scale: Any) -> float:
    """``scale`` as a float, checked to be positive and finite (strings and booleans refused)."""
    return check_real(scale, "scale", low=0.0, low_open=True)


#: Largest log2 of a kernel's maximum K(x, x): Gram sums over up to 2^32 points stay finite.
LOG2_KERNEL_MAX = 960.0


def _check_kernel_range(weights: np.ndarray, at_zero: np.ndarray, scale: float) -> None:
    """Refuse ``weights``/``scale`` whose kernel maximum ``scale prod_j (1 + gamma_j Kt_j(0))``
    (the value at ``x = z``, all Fourier/Walsh coefficients being positive) would overflow."""
    bits = math.log2(scale) + float(np.sum(np.logaddexp2(0.0, np.log2(weights) + np.log2(at_zero))))
    if bits > LOG2_KERNEL_MAX:
        raise ValueError(f"`weights` and `scale` give a kernel maximum K(x, x) = 2^{bits:.1f}, beyond "
                         f"2^{LOG2_KERNEL_MAX:g} (Gram matrices would overflow); scale them down.")


def _kernel_points(x: Any, z: Any, d: int, pairwise: bool) -> tuple[Any, Any, Any]:
    """``(xp, x, z)`` for a kernel call: arrays with last dimension ``d`` (2-D when pairwise).

    ``z`` defaults to ``x`` (the very same object, so callers can test ``z is x``).
    """
    xp = array_namespace(x, z)
    x = xp.asarray(x) if not hasattr(x, "shape") else x
    z = x if z is None else (xp.asarray(z) if not hasattr(z, "shape") else z)
    for name, a in (("x", x), ("z", z)):
        if a.ndim < 1 or a.shape[-1] != d:
            raise ValueError(f"`{name}` must have last dimension d = {d}; got shape {tuple(a.shape)}.")
        if pairwise and a.ndim != 2:
            raise ValueError(f"`{name}` must be 2-D (n, d) for pairwise evaluation; got shape {tuple(a.shape)}.")
    return xp, x, z


def check_unit_cube(x: Any, name: str, xp: Any) -> None:
    """Raise ``ValueError`` unless every entry of ``x`` is finite and in [0, 1)."""
    ok = xp.isfinite(x) & (x >= 0) & (x < 1)
    if not bool(xp.all(ok)):
        bad = int(xp.sum(xp.astype(~ok, xp.int64)))
        raise ValueError(f"`{name}` must hold finite points in [0, 1); found {bad} entries outside.")


@capability("qmc", numba=False)
class ShiftInvariantKernel:
    """Product shift-invariant kernel of a weighted Korobov space.

    ``K(x, z) = scale * prod_j (1 + gamma_j * Kt_{alpha_j}((x_j - z_j) mod 1))`` with
    ``Kt_a(t) = (-1)^(a+1) (2 pi)^(2a) / (2a)! * B_{2a}(t)``.

    Parameters
    ----------
    d : int
        Dimension.
    alpha : int or array_like of int, default 2
        Smoothness per dimension, each in 1..5.
    weights : float or array_like, optional
        Positive weights ``gamma_j`` (default 1).
    scale : float, default 1.0
        Positive overall factor.

    Attributes
    ----------
    d : int
    alpha : numpy.ndarray of int64, shape (d,)
    weights : numpy.ndarray, shape (d,)
    scale : float

    Raises
    ------
    ValueError
        Out-of-range ``alpha``, non-positive or non-finite ``weights`` or
        ``scale``, wrong lengths, or a kernel maximum
        ``scale prod_j (1 + gamma_j Kt_{alpha_j}(0))`` above ``2^960``.
    TypeError
        ``d``/``alpha`` not integers (booleans included), ``weights``/``scale``
        not real numbers (strings, booleans, complex).

    Notes
    -----
    ``Kt_a(t) = sum_{h != 0} e^{2 pi i h t} / |h|^(2a)``, so the kernel is symmetric,
    positive definite, has mean ``scale`` over the cube, and its Fourier
    coefficients are ``scale * prod_j r_j(h_j)`` with ``r(0) = 1``,
    ``r(h) = gamma |h|^(-2 alpha)``.  The squared worst-case error of the
    equal-weight rule over points ``x_0..x_{n-1}`` is
    ``mean_{i,k} K(x_i, x_k) - scale``.  Evaluating ``K`` at ``N`` pairs costs
    ``O(N sum_j alpha_j)`` (Horner on the Bernoulli polynomials).

    References
    ----------
    .. [1] J. Dick, F. Y. Kuo, I. H. Sloan, "High-dimensional integration: the
       quasi-Monte Carlo way", Acta Numerica 22 (2013).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import ShiftInvariantKernel
    >>> k = ShiftInvariantKernel(2, alpha=1, weights=[1.0, 0.5])
    >>> x = np.array([[0.1, 0.2], [0.6, 0.9]])
    >>> np.round(k(x), 4)
    array([[11.3464, -0.3691],
           [-0.3691, 11.3464]])
    """

    def __init__(self, d: int, *, alpha: Any = 2, weights: Any = None, scale: float = 1.0) -> None:
        self.d = check_int(d, "d", low=1)
        self.alpha = _per_dimension(alpha, self.d, "alpha", integer=True)
        self.weights = _per_dimension(1.0 if weights is None else weights, self.d, "weights", integer=False)
        self._weights_param = weights_param(weights)
        self.scale, self._scale_param = scale_param(scale)
        at_zero = np.array([float(korobov_omega(0.0, int(a))) for a in self.alpha])
        _check_kernel_range(self.weights, at_zero, self.scale)

    def __repr__(self) -> str:
        return (f"ShiftInvariantKernel(d={self.d}, alpha={self.alpha.tolist()}, "
                f"weights={self.weights.tolist()}, scale={self.scale})")

    def shift_function(self, t: Any, xp: Any = None) -> Any:
        """``K`` as a function of the difference ``t = (x - z) mod 1``.

        Parameters
        ----------
        t : array, shape (..., d)
            Differences in [0, 1] (the kernel is 1-periodic: 0 and 1 agree).
        xp : namespace, optional
            Array namespace of ``t`` (inferred when omitted).

        Returns
        -------
        array, shape (...)
            ``scale * prod_j (1 + gamma_j Kt_{alpha_j}(t_j))``, in the namespace and
            on the device of ``t``.

        Raises
        ------
        TypeError
            ``t`` not a real array of ``xp`` (strings, booleans, complex, float16),
            ``xp`` not a namespace.
        ValueError
            ``t`` with NaN/inf or entries outside [0, 1], or last dimension not ``d``.
        """
        if xp is not None:
            check_namespace(xp, "xp")
        xp, t = points_array(t, "t", xp)
        if t.ndim < 1 or t.shape[-1] != self.d:
            raise ValueError(f"`t` must have last dimension d = {self.d}; got shape {tuple(t.shape)}.")
        if not bool(xp.all((t >= 0) & (t <= 1))):
            raise ValueError("`t` must hold differences (x - z) mod 1 in [0, 1]; found entries outside.")
        return self._shift_values(t, xp)

    def _shift_values(self, t: Any, xp: Any) -> Any:
        """:meth:`shift_function` without the input checks (for checked, internal arrays)."""
        out = None
        for j in range(self.d):
            kt = korobov_omega(t[..., j], int(self.alpha[j]), xp)
            f = 1.0 + weight(self, j, kt, xp) * kt
            out = f if out is None else out * f
        return scale_factor(self, out, xp) * out

    def __call__(self, x: Any, z: Any = None, *, pairwise: bool = True) -> Any:
        """Evaluate the kernel.

        Parameters
        ----------
        x : array, shape (n, d) (pairwise) or (..., d)
            Points in [0, 1)^d.
        z : array, optional
            Second point set (default ``x``), shape (m, d) or broadcastable to ``x``.
        pairwise : bool, default True
            True: the (n, m) matrix ``K(x_i, z_k)``.  False: ``K(x, z)`` elementwise
            over the broadcast leading dimensions.

        Returns
        -------
        array
            In the namespace and on the device of ``x``.

        Raises
        ------
        ValueError
            Points outside [0, 1), non-finite, or with the wrong last dimension.
        """
        pairwise = check_bool(pairwise, "pairwise")
        xp, x, z = _kernel_points(x, z, self.d, pairwise)
        x = as_floating(x, "x", xp, allow_complex=False)
        z = as_floating(z, "z", xp, allow_complex=False)
        check_unit_cube(x, "x", xp)
        if z is not x:
            check_unit_cube(z, "z", xp)
        # One dimension at a time: O(n m) memory for the pairwise matrix, not O(n m d).
        out = None
        for j in range(self.d):
            t = (x[:, None, j] - z[None, :, j]) if pairwise else (x[..., j] - z[..., j])
            t = t - xp.floor(t)  # (x - z) mod 1 in [0, 1]; Kt is 1-periodic, so t = 1 is harmless
            kt = korobov_omega(t, int(self.alpha[j]), xp)
            f = 1.0 + weight(self, j, kt, xp) * kt
            out = f if out is None else out * f
        return scale_factor(self, out, xp) * out
