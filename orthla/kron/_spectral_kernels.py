"""Spectral-mixture kernels in one dimension, with closed-form derivatives in each argument."""

from __future__ import annotations

import math
from typing import Any

from .._backend import array_namespace, capability
from .._validate import as_floating, check_finite, check_int, check_ndim
from ._common import scalar

__all__ = ["SpectralMixture"]

_MAX_ORDER = 4
# Matérn (nu = dof / 2) polynomial factors P_p(y), coefficients of y^0, y^1, ...
_MATERN = {3: (1.0, 1.0), 5: (1.0, 1.0, 1.0 / 3), 7: (1.0, 1.0, 2.0 / 5, 1.0 / 15)}


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
    spectrum : {"gaussian", "student_t"}, default "gaussian"
        Shape of each spectral component.  ``"student_t"``: a Student-t density with
        ``dof`` degrees of freedom, location ``mu_q`` and scale ``s_q``; its Fourier
        transform is a Matérn kernel, so each component is
        ``w_q M_nu(x - z; l_q) cos(2 pi mu_q (x - z))`` with ``nu = dof / 2`` and
        ``l_q = 1 / (2 pi s_q)`` (heavier spectral tails than the Gaussian: rougher
        functions, algebraically decaying spectra).
    dof : {3, 5, 7}, optional
        Degrees of freedom of the Student-t spectrum (Matérn 3/2, 5/2, 7/2; default 5).
        Only with ``spectrum="student_t"``.  The kernel has ``dof - 1`` continuous
        derivatives in ``x - z`` (at most 4 are offered): ``dof = 3`` allows ``dx + dz <= 2``,
        enough for second-order PDEs.

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
        scale that is not positive; an unknown ``spectrum``; ``dof`` not in {3, 5, 7} or
        given with the Gaussian spectrum.
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

    Student-t spectrum: with ``dof = 2p + 1``, ``lam = 2 pi s sqrt(dof)`` and
    ``y = lam |t|``, the Matérn factor is ``M(t) = P_p(y) exp(-y)`` (``P_1 = 1 + y``,
    ``P_2 = 1 + y + y^2/3``, ``P_3 = 1 + y + 2y^2/5 + y^3/15``), the Fourier transform of
    the Student-t density ``∝ (1 + xi^2 / (dof s^2))^{-(dof + 1)/2}`` normalized to
    ``M(0) = 1`` [3]_.  Its m-th derivative is
    ``sign(t)^m lam^m exp(-y) sum_j C(m, j) (-1)^(m-j) P_p^{(j)}(y)``, and the product with
    the cosine follows by Leibniz's rule.

    References
    ----------
    .. [1] A. G. Wilson, R. P. Adams, "Gaussian process kernels for pattern discovery and
       extrapolation", ICML (2013).
    .. [2] S. Fang, M. Cooley, D. Long, S. Li, R. Kirby, S. Zhe, "Solving high frequency
       and multi-scale PDEs with Gaussian processes", ICLR (2024).
    .. [3] C. E. Rasmussen, C. K. I. Williams, "Gaussian processes for machine learning",
       MIT Press (2006), section 4.2.1.

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
    >>> kt = SpectralMixture([2.0], [0.5], spectrum="student_t", dof=5)  # Matérn-5/2 x cosine
    >>> float(kt(np.array([0.0]))[0, 0])
    1.0
    """

    def __init__(self, freqs: Any, scales: Any, *, log_weights: Any = None, spectrum: str = "gaussian",
                 dof: int | None = None):
        import numpy as np

        if spectrum not in ("gaussian", "student_t"):
            raise ValueError(f"`spectrum` must be 'gaussian' or 'student_t'; got {spectrum!r}.")
        if spectrum == "gaussian" and dof is not None:
            raise ValueError(f"`dof` is only for spectrum='student_t'; got dof={dof!r} with the Gaussian spectrum.")
        if spectrum == "student_t":
            dof = 5 if dof is None else check_int(dof, "dof")
            if dof not in _MATERN:
                raise ValueError(f"`dof` must be one of {sorted(_MATERN)} (closed-form Matérn kernels); got {dof}.")
        self.spectrum = spectrum
        self.dof = dof

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
        extra = "" if self.spectrum == "gaussian" else f", spectrum='student_t', dof={self.dof}"
        return f"SpectralMixture(n_components={self.n_components}{extra})"

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
            Derivative orders in the first and second argument, ``dx + dz <= 4``
            (``<= dof - 1`` for a Student-t spectrum).

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
        dof = self.dof if self.dof is not None else 0
        top = _MAX_ORDER if self.spectrum == "gaussian" else min(_MAX_ORDER, dof - 1)
        if dx + dz > top:
            raise ValueError(f"`dx` + `dz` must be at most {top}" + ("" if self.spectrum == "gaussian" else
                             f" (the Student-t kernel with dof={dof} has {dof - 1} derivatives)")
                             + f"; got {dx} + {dz}.")
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
        if self.spectrum == "student_t":
            return _st_derivative(x, z, mu, s, lw, dx + dz, (-1.0) ** dz, dof, xp)
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


def _matern_poly(dof: int, m: int) -> list:
    """Coefficients of ``Q_m(y) = sum_j C(m, j) (-1)^(m-j) P^{(j)}(y)``: ``d^m/dr^m [P(lam r) e^{-lam r}]
    = lam^m e^{-y} Q_m(y)``."""
    p = list(_MATERN[dof])
    out = [0.0] * len(p)
    deriv = p
    for j in range(m + 1):
        c = math.comb(m, j) * (-1.0) ** (m - j)
        for i, a in enumerate(deriv):
            out[i] += c * a
        deriv = [i * a for i, a in enumerate(deriv)][1:]
    return out


def _st_derivative(x, z, mu, s, lw, m, sign, dof, xp):
    """Student-t spectrum: ``sign * sum_q w_q (M_q cos(b_q t))^{(m)}(x_i - z_j)`` by Leibniz's rule."""
    t = x[:, None, None] - z[None, :, None]
    lam = (2 * math.pi * math.sqrt(dof)) * s
    b = (2 * math.pi) * mu
    y = lam * xp.abs(t)
    env = xp.exp(lw - y)
    sg = xp.sign(t)
    c, sn = xp.cos(b * t), xp.sin(b * t)
    trig = (c, -sn, -c, sn)  # cos(theta + k pi / 2)
    val = None
    for j in range(m + 1):
        coefs = _matern_poly(dof, j)
        poly = coefs[-1] + 0 * y
        for a in coefs[-2::-1]:
            poly = poly * y + a
        mj = env * poly * lam**j
        if j % 2:
            mj = mj * sg
        term = math.comb(m, j) * mj * b ** (m - j) * trig[(m - j) % 4]
        val = term if val is None else val + term
    out = xp.sum(val, axis=2)
    return out if sign == 1.0 else -out
