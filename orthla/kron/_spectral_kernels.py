"""Spectral-mixture kernels in one dimension, with closed-form derivatives in each argument."""

from __future__ import annotations

import math
from typing import Any

from .._backend import array_namespace, capability
from .._validate import as_floating, check_finite, check_int, check_ndim
from ._common import scalar

__all__ = ["SpectralMixture"]

_MAX_ORDER = 4


def _param(v: Any, name: str, xp: Any, like: Any) -> Any:
    """A 1-D floating parameter vector of ``xp`` (lists and floats converted), finite."""
    if not hasattr(v, "shape"):
        v = xp.asarray(v, dtype=like.dtype, device=like.device)
    if v.ndim == 0:
        v = xp.reshape(v, (1,))
    check_ndim(v, name, 1)
    v = as_floating(v, name, xp, allow_complex=False)
    check_finite(v, name, xp)
    return v


@capability("kron", numba=False)
class SpectralMixture:
    """Stationary spectral-mixture kernel on the real line (Gaussian spectral density).

    ``k(x, z) = sum_q w_q exp(-2 pi^2 s_q^2 (x - z)^2) cos(2 pi mu_q (x - z))``: the
    Fourier transform of a mixture of Gaussians ``N(mu_q, s_q^2)`` (and their mirror
    images ``N(-mu_q, s_q^2)``), each of mass ``w_q / 2`` [1]_.  A component is a band of
    frequencies ``mu_q +- s_q`` (cycles per unit length), so a solution with the
    oscillation ``sin(100 x)`` wants a component near ``mu = 100 / (2 pi)``.

    Parameters
    ----------
    freqs : array or sequence of float, shape (Q,)
        Mixture means ``mu_q`` (any real values; finite).
    scales : array or sequence of float, shape (Q,)
        Mixture standard deviations ``s_q > 0``.
    log_weights : array or sequence of float, shape (Q,), optional
        ``log w_q`` (the log-domain parametrization GP-HM learns, with a Jeffreys prior
        that drives unneeded weights to zero).  Default: all zero (``w_q = 1``).

    Attributes
    ----------
    freqs, scales, log_weights
        The parameters as given (lists and floats stay Python objects and are converted to
        the namespace of the points at each call; arrays are used as they are, so torch
        tensors with ``requires_grad`` give kernels differentiable in the parameters).

    Raises
    ------
    ValueError
        Parameter vectors of different lengths, empty or not 1-D, NaN/Inf entries, a
        scale that is not positive.
    TypeError
        Boolean, complex or non-numeric parameters.

    Notes
    -----
    With ``a = 2 pi^2 s^2``, ``b = 2 pi mu`` and ``p = -2 a t + i b``, each component is
    ``Re exp(-a t^2 + i b t)``, and its m-th derivative in ``t = x - z`` is
    ``Re(exp(-a t^2 + i b t) H_m)`` with ``H_0 = 1``, ``H_1 = p``, ``H_2 = p^2 - 2a``,
    ``H_3 = p^3 - 6 a p``, ``H_4 = p^4 - 12 a p^2 + 12 a^2`` (the recursion
    ``H_{m+1} = H_m' + p H_m``).  A derivative of order ``dx`` in ``x`` and ``dz`` in ``z``
    is ``(-1)^dz k^{(dx + dz)}(x - z)``, evaluated in real arithmetic.  ``O(n m Q)``
    flops and memory for an ``n x m`` matrix.

    References
    ----------
    .. [1] A. G. Wilson, R. P. Adams, "Gaussian process kernels for pattern discovery and
       extrapolation", ICML (2013).
    .. [2] S. Fang, M. Cooley, D. Long, S. Li, R. Kirby, S. Zhe, "Solving high frequency
       and multi-scale PDEs with Gaussian processes", ICLR (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import SpectralMixture
    >>> k = SpectralMixture([0.0, 2.0], [1.0, 0.1], log_weights=[0.0, np.log(0.5)])
    >>> x = np.linspace(0, 1, 3)
    >>> bool(np.allclose(np.diag(k(x, x)), 1.5))
    True
    >>> k(x, x, dx=1, dz=1).shape
    (3, 3)
    """

    def __init__(self, freqs: Any, scales: Any, *, log_weights: Any = None):
        import numpy as np

        vals = {}
        for name, v in (("freqs", freqs), ("scales", scales), ("log_weights", log_weights)):
            if v is None:
                continue
            probe = v if hasattr(v, "shape") else np.asarray(v, dtype=np.float64)
            xp = array_namespace(probe)
            probe = _param(probe, name, xp, probe)
            vals[name] = (probe, xp)
        nq = int(vals["freqs"][0].shape[0])
        for name, (v, _xp) in vals.items():
            if int(v.shape[0]) != nq:
                raise ValueError(f"`{name}` must have one entry per mixture component (len(`freqs`) = {nq}); "
                                 f"got shape {tuple(v.shape)}.")
            if nq == 0:
                raise ValueError(f"`{name}` must have at least one component; got an empty array.")
        s, xp = vals["scales"]
        smin = scalar(xp.min(s))
        if not smin > 0:
            raise ValueError(f"`scales` must be positive; got min(`scales`) = {smin:.3g}.")
        self.freqs = freqs
        self.scales = scales
        self.log_weights = log_weights
        self.n_components = nq

    def __repr__(self) -> str:
        return f"SpectralMixture(n_components={self.n_components})"

    def _params(self, xp: Any, like: Any) -> tuple[Any, Any, Any]:
        mu = _param(self.freqs, "freqs", xp, like)
        s = _param(self.scales, "scales", xp, like)
        if self.log_weights is None:
            lw = xp.zeros(mu.shape, dtype=mu.dtype, device=mu.device)
        else:
            lw = _param(self.log_weights, "log_weights", xp, like)
        return mu, s, lw

    @property
    def weights(self) -> Any:
        """``w_q = exp(log_weights_q)``, in the library of the parameters (NumPy for lists)."""
        import numpy as np

        arrays = [v for v in (self.freqs, self.scales, self.log_weights) if hasattr(v, "shape")]
        xp = array_namespace(*arrays) if arrays else array_namespace(np.zeros(1))
        like = arrays[0] if arrays else np.zeros(1)
        like = like if xp.isdtype(like.dtype, "real floating") else xp.asarray(np.zeros(1))
        return xp.exp(self._params(xp, like)[2])

    def __call__(self, x: Any, z: Any = None, *, dx: int = 0, dz: int = 0) -> Any:
        """Kernel matrix ``d^(dx+dz) k / dx^dx dz^dz`` at points ``x`` (rows) and ``z`` (columns).

        Parameters
        ----------
        x : array, shape (n,)
            Row points.
        z : array, shape (m,), optional
            Column points (default ``x``).
        dx, dz : int, default 0
            Derivative orders in the first and second argument, ``dx + dz <= 4``.

        Returns
        -------
        array, shape (n, m)
            In the namespace and (real floating) dtype of the points; differentiable on
            torch in the points and in parameters given as tensors.

        Raises
        ------
        ValueError
            Points that are not 1-D or hold NaN/Inf; orders negative or summing past 4.
        TypeError
            Points of two libraries, boolean/complex/non-numeric points or parameters.
        """
        dx = check_int(dx, "dx", low=0, high=_MAX_ORDER)
        dz = check_int(dz, "dz", low=0, high=_MAX_ORDER)
        if dx + dz > _MAX_ORDER:
            raise ValueError(f"`dx` + `dz` must be at most {_MAX_ORDER}; got {dx} + {dz}.")
        arrays = [x] if z is None else [x, z]
        arrays += [v for v in (self.freqs, self.scales, self.log_weights) if hasattr(v, "shape")]
        xp = array_namespace(*arrays)
        pts = []
        for name, v in (("x", x), ("z", x if z is None else z)):
            v = xp.asarray(v) if not hasattr(v, "shape") else v
            check_ndim(v, name, 1)
            v = as_floating(v, name, xp, allow_complex=False)
            check_finite(v, name, xp)
            pts.append(v)
        x, z = pts
        if x.dtype != z.dtype:
            dt = xp.result_type(x, z)
            x, z = xp.astype(x, dt), xp.astype(z, dt)
        mu, s, lw = self._params(xp, x)
        dt = xp.result_type(x, mu, s, lw)
        x, mu, s, lw = (v if v.dtype == dt else xp.astype(v, dt) for v in (x, mu, s, lw))
        z = z if z.dtype == dt else xp.astype(z, dt)
        return _sm_derivative(x, z, mu, s, lw, dx + dz, (-1.0) ** dz, xp)


def _sm_derivative(x, z, mu, s, lw, m, sign, xp):
    """``sign * sum_q w_q g_q^{(m)}(x_i - z_j)``; shapes (n,), (m,), (Q,) -> (n, m)."""
    t = x[:, None, None] - z[None, :, None]
    a = (2 * math.pi**2) * s * s
    b = (2 * math.pi) * mu
    env = xp.exp(lw - a * t * t)
    c, sn = xp.cos(b * t), xp.sin(b * t)
    if m == 0:
        val = env * c
    else:
        al = -2 * a * t
        be = b + 0 * t
        if m == 1:
            hr, hi = al, be
        elif m == 2:
            hr, hi = al * al - be * be - 2 * a, 2 * al * be
        elif m == 3:
            hr = al**3 - 3 * al * be * be - 6 * a * al
            hi = 3 * al * al * be - be**3 - 6 * a * be
        else:
            al2, be2 = al * al, be * be
            hr = al2 * al2 - 6 * al2 * be2 + be2 * be2 - 12 * a * (al2 - be2) + 12 * a * a
            hi = 4 * al * be * (al2 - be2) - 24 * a * al * be
        val = env * (c * hr - sn * hi)
    out = xp.sum(val, axis=2)
    return out if sign == 1.0 else -out
