"""Geometric Brownian motion as a true measure: lognormal paths ``S0 exp((mu - sigma^2/2) t + sigma W(t))``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import capability, is_numpy, numba_available
from .._validate import check_real
from ._measures import BrownianMotion, Measure, _LinearGaussian, _ndtri, _open_cube

__all__ = ["GeometricBrownianMotion"]


class _Exponent(_LinearGaussian):
    """The Gaussian exponent ``A z`` of a lognormal measure (mean 0: the exponent's mean is
    added inside the exp), with the factor given."""

    def __init__(self, factor: np.ndarray) -> None:
        self.d = factor.shape[0]
        self.factor = factor
        self.mean = np.zeros(self.d)


def _log_expm1(x: np.ndarray) -> np.ndarray:
    """``log(exp(x) - 1)`` for ``x >= 0`` without overflow (``-inf`` at 0): the covariance's
    factor in log space, so that only a covariance beyond float64 is refused."""
    with np.errstate(divide="ignore"):
        small = np.log(np.expm1(np.minimum(x, 1.0)))
    return np.where(x < 1.0, small, x + np.log1p(-np.exp(-np.maximum(x, 1.0))))


@capability("qmc", numba=False)
class GeometricBrownianMotion(Measure):
    """Geometric Brownian motion observed at given times: the lognormal paths
    ``S(t_j) = S0 exp((mu - sigma^2 / 2) t_j + sigma W(t_j))``.

    The measure of asset prices in the Black-Scholes model (QMCPy's
    ``GeometricBrownianMotion``, with ``diffusion = volatility**2``): an integrand of
    the path is a payoff, ``f(S)``, and its integral an expected payoff.

    Parameters
    ----------
    times : array_like, shape (d,)
        Strictly increasing positive observation times; an integer ``d`` means
        ``times = (1, ..., d) / d``.
    initial_value : float, default 1
        ``S0 > 0``, the value at time 0.
    drift : float, default 0
        The growth rate ``mu``: ``E[S(t)] = S0 exp(mu t)`` (the interest rate for
        risk-neutral prices).
    volatility : float, default 1
        ``sigma >= 0``.
    decomp : {"pca", "bridge", "standard"}, default "pca"
        Construction of ``W`` from independent normals, as in :class:`BrownianMotion`.

    Attributes
    ----------
    times, mean : numpy.ndarray, shape (d,)
        The times and ``E[S(t_j)] = S0 exp(mu t_j)``.
    covariance : numpy.ndarray, shape (d, d)
        ``S0^2 exp(mu (t_i + t_j)) (exp(sigma^2 min(t_i, t_j)) - 1)``.
    initial_value, drift, volatility : float
    decomp : str

    Raises
    ------
    TypeError
        A parameter that is not a real number (a string, a complex number, an array of
        several values).
    ValueError
        Times not strictly increasing and positive; ``initial_value <= 0``;
        ``volatility < 0``; non-finite parameters; an unknown ``decomp``;
        a mean or covariance beyond float64 (``log S0 + mu t`` or
        ``2 log S0 + 2 mu t + log(exp(sigma^2 t) - 1)`` above about 709).

    Notes
    -----
    On NumPy float64 points with Numba the map runs fused: the normal inverse CDF
    (:func:`ndtri`'s kernel), the path product, then ``S0 exp(.)`` in a vectorized
    kernel of its own (within one ulp of libm's exp; NumPy's ``exp`` is a scalar libm
    call without AVX-512).  Exponents outside ``[-708, 709]`` (overflow, subnormal
    results) take libm's exp.  The other libraries run ``xp.exp`` on their device.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import GeometricBrownianMotion, integrate
    >>> gbm = GeometricBrownianMotion(4, initial_value=30.0, drift=0.05, volatility=0.5)
    >>> res = integrate(lambda s: s[:, -1], gbm, abs_tol=1e-2, rng=7)
    >>> bool(abs(res.estimate - 30.0 * np.exp(0.05)) <= res.error_bound)
    True
    """

    def __init__(self, times: Any, initial_value: Any = 1.0, drift: Any = 0.0, volatility: Any = 1.0, *,
                 decomp: str = "pca") -> None:
        bm = BrownianMotion(times, decomp=decomp)  # checks times and decomp
        self.initial_value = check_real(initial_value, "initial_value", low=0.0, low_open=True)
        self.drift = check_real(drift, "drift")
        self.volatility = check_real(volatility, "volatility", low=0.0)
        self.decomp = bm.decomp
        self.times = t = bm.times
        self.d = bm.d
        sigma, mu, s0 = self.volatility, self.drift, self.initial_value
        self._log_drift = (mu - sigma * sigma / 2) * t  # the exponent's mean
        self._exponent = _Exponent(sigma * bm.factor)
        with np.errstate(over="ignore"):
            self.mean = s0 * np.exp(mu * t)
            self.covariance = np.exp(2 * np.log(s0) + mu * np.add.outer(t, t)
                                     + _log_expm1(sigma * sigma * np.minimum.outer(t, t)))
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.covariance))):
            raise ValueError(f"The prices' mean or covariance overflows float64 for `times` up to {t[-1]:.6g}, "
                             f"`drift` = {mu}, `volatility` = {sigma} and `initial_value` = {s0}.")

    def _transform(self, u: Any, xp: Any) -> Any:
        if is_numpy(xp) and u.dtype == np.float64 and numba_available():
            return self._map_numba(u, False)
        z = _ndtri(_open_cube(u, xp), xp)
        e = self._param(self._log_drift, u, xp) + z @ self._param(self._exponent.factor, u, xp).T
        return self.initial_value * xp.exp(e)

    def _map_numba(self, u: np.ndarray, baker: bool, out: np.ndarray | None = None) -> np.ndarray:
        """The map on NumPy float64 points in Numba passes (the exponent as
        :meth:`_LinearGaussian._map_numba`, then :func:`scaled_exp` in place)."""
        return self._numba_mapper(baker)(u, out)

    def _numba_mapper(self, baker: bool) -> Any:
        """``map(u, out=None)``: :meth:`_map_numba` with its parameters prepared once."""
        from ._measures_numba import scaled_exp

        exponent = self._exponent._numba_mapper(baker)
        c, s0 = self._log_drift.copy(), self.initial_value

        def run(u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
            w = exponent(u, out)
            scaled_exp(w, c, s0)
            return w

        return run
