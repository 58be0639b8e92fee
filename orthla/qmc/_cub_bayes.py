"""Fast Bayesian cubature on lattices (shift-invariant kernels) and digital nets (digitally
shift-invariant kernels): the "bayes-lattice"/"bayes-net" methods of :func:`integrate`.

Model: ``g ~ GP(m, s K_gamma)`` with ``K_gamma(x, t) = prod_j (1 + gamma Kt(x_j - t_j))`` (or
``x_j XOR t_j``), whose integral in ``t`` is 1.  On ``n = 2^m`` lattice (net) points the Gram
matrix is ``F^H diag(lambda) F`` with ``F`` the unitary FFT (Walsh-Hadamard transform) in natural
order, and ``lambda`` comes from the kernel's first column by one FFT (FWHT), ``O(n d + n log n)``, checked
once per ``n`` against :class:`FastGram`.  With ``y^ = F y``:

- the posterior mean of the integral, with ``m`` and ``s`` at their maximum-likelihood values,
  is the sample mean ``mean(y)`` (``K^-1 1`` is proportional to ``1``);
- ``s = (1/n) sum_{k>0} |y^_k|^2 / lambda_k`` and the profiled negative log-likelihood is
  ``log(sum_{k>0} |y^_k|^2 / lambda_k) + (1/n) sum_k log lambda_k`` (minimized over ``log gamma``);
- the posterior variance is ``s (1 - n / lambda_0)``, and the credible half-width at level
  ``confidence`` is ``z sqrt(s (1 - n / lambda_0))``.

Every likelihood evaluation costs one kernel column and one fast transform: ``O(n log n)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._backend import select_engine
from ._integrate import _host, _Integrand, _Rule, _Tally, _transform_ld
from ._transforms import _fwht

__all__ = ["bayes_loss_and_halfwidth"]

_LOG_GAMMA_BOUNDS = (-12.0, 6.0)


class _ShapeFamily:
    """Eigenvalues of ``K_gamma`` on fixed points for any shape ``gamma``, in ``O(n d + n log n)``.

    The one-dimensional kernel values ``Kt(x_i - x_0)`` (``Kt(x_i XOR x_0)``) are computed once;
    each ``gamma`` then costs one product over the dimensions and one fast transform.  The points'
    structure is verified once by :class:`FastGram` (at ``gamma = 1``), whose eigenvalues must agree.
    """

    def __init__(self, u: Any, net: bool, alpha: int, xp: Any) -> None:
        from ._bernoulli import korobov_omega
        from ._dsi import DigitalShiftInvariantKernel, walsh_kernel_1d
        from ._fastgram import FastGram
        from ._kernels import ShiftInvariantKernel
        from ._transforms import bit_reversal_indices

        n, d = u.shape
        self.net, self.xp, self.n = net, xp, n
        kernel: Any = (DigitalShiftInvariantKernel(d, alpha=alpha, weights=1.0) if net
                  else ShiftInvariantKernel(d, alpha=alpha, weights=1.0))
        reference = FastGram(u, kernel).eigenvalues
        if net:
            xi, t = kernel.to_integers(u, "u", xp)
            v = xi ^ xi[:1, :]
            self.w = xp.stack([walsh_kernel_1d(v[:, j], t, alpha, xp) for j in range(d)], axis=1)
            self._engine = select_engine("auto", xp)
        else:
            diff = u - u[:1, :]
            diff = diff - xp.floor(diff)
            diff = xp.take(diff, bit_reversal_indices(n, xp, u.device), axis=0)  # linear order
            self.w = xp.stack([korobov_omega(diff[:, j], alpha, xp) for j in range(d)], axis=1)
        got = self.eigenvalues(1.0)
        scale = float(xp.max(xp.abs(reference)))
        if float(xp.max(xp.abs(got - reference))) > 1e-8 * scale:
            raise RuntimeError("internal error: fast shape-family eigenvalues disagree with FastGram.")

    def eigenvalues(self, gamma: float) -> Any:
        xp = self.xp
        col = xp.prod(1.0 + gamma * self.w, axis=1)
        if self.net:
            return _fwht(col, 0, self._engine, xp) * math.sqrt(self.n)
        return xp.real(xp.fft.fft(xp.astype(col, xp.complex128)))


def bayes_loss_and_halfwidth(power: np.ndarray, lam: np.ndarray, n: int) -> tuple[float, float]:
    """(profiled negative log-likelihood, posterior variance) for coefficient powers ``|y^_k|^2``
    and eigenvalues ``lambda`` (host arrays of length n)."""
    lam = np.maximum(lam, np.finfo(float).eps * lam[0])
    ratio = float(np.sum(power[1:] / lam[1:]))
    ratio = max(ratio, np.finfo(float).tiny)
    loss = math.log(ratio) + float(np.mean(np.log(lam)))
    s = ratio / n
    var = s * max(0.0, 1.0 - n / float(lam[0]))
    return loss, var


def _posterior_variances(power: np.ndarray, u: Any, net: bool, n: int, alpha: int, xp: Any) -> np.ndarray:
    """Per output: maximize the profiled likelihood over log gamma, return the posterior variance."""
    from scipy.optimize import minimize_scalar

    family = _ShapeFamily(u, net, alpha, xp)
    cache: dict[float, np.ndarray] = {}

    def eig(log_gamma: float) -> np.ndarray:
        key = round(log_gamma, 12)
        if key not in cache:
            cache[key] = _host(family.eigenvalues(math.exp(log_gamma))).astype(np.float64)
        return cache[key]

    out = np.empty(power.shape[0])
    for j, pw in enumerate(power):
        opt = minimize_scalar(lambda t, pw=pw: bayes_loss_and_halfwidth(pw, eig(t), n)[0],
                              bounds=_LOG_GAMMA_BOUNDS, method="bounded", options={"xatol": 0.05})
        out[j] = bayes_loss_and_halfwidth(pw, eig(float(opt.x)), n)[1]
    return out


def _cub_bayes(g: _Integrand, pts: Any, net: bool, conf: float, rule: _Rule, m0: int, mmax: int,
               xp: Any, alpha: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + conf / 2))
    fft_engine = select_engine("auto", xp) if net else "xp"
    m = m0
    n = 2**m
    u = pts.random(n)
    y = g(u)
    tally = _Tally()
    while True:
        yhat = _transform_ld(y, net, fft_engine, xp) * math.sqrt(n)  # unitary transform
        power = _host(xp.abs(yhat) ** 2).astype(np.float64)  # (p, n)
        mu = _host(xp.mean(y, axis=0)).astype(np.float64)
        half = z * np.sqrt(_posterior_variances(power, u, net, n, alpha, xp))
        if tally.record(*rule(mu, half), n) or m >= mmax:
            return tally.result(n)
        unew = pts.random(n)
        y = xp.concat([y, g(unew)], axis=0)
        u = xp.concat([u, unew], axis=0)
        m += 1
        n *= 2
