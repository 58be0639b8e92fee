"""Fast Bayesian cubature on lattices (shift-invariant kernels) and digital nets (digitally
shift-invariant kernels): the "bayes-lattice"/"bayes-net" methods of :func:`integrate`.

Model: ``g ~ GP(m, s K_gamma)`` with ``K_gamma(x, t) = prod_j (1 + gamma Kt(x_j - t_j))`` (or
``x_j XOR t_j``), whose integral in ``t`` is 1.  On ``n = 2^m`` lattice (net) points the Gram
matrix is ``F^H diag(lambda) F`` with ``F`` the unitary FFT (Walsh-Hadamard transform) in natural
order, and ``lambda`` comes from :class:`FastGram` in ``O(n d + n log n)``.  With ``y^ = F y``:

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

from ._integrate import _combine, _host, _Integrand, _transform_ld

__all__ = ["bayes_loss_and_halfwidth"]

_LOG_GAMMA_BOUNDS = (-12.0, 6.0)


def _eigenvalues(x: Any, net: bool, gamma: float, alpha: int) -> Any:
    from ._dsi import DigitalShiftInvariantKernel
    from ._fastgram import FastGram
    from ._kernels import ShiftInvariantKernel

    d = x.shape[1]
    kernel = (DigitalShiftInvariantKernel(d, alpha=alpha, weights=gamma) if net
              else ShiftInvariantKernel(d, alpha=alpha, weights=gamma))
    return FastGram(x, kernel).eigenvalues


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


def _posterior_variances(power: np.ndarray, u: Any, net: bool, n: int, alpha: int) -> np.ndarray:
    """Per output: maximize the profiled likelihood over log gamma, return the posterior variance."""
    from scipy.optimize import minimize_scalar

    cache: dict[float, np.ndarray] = {}

    def eig(log_gamma: float) -> np.ndarray:
        key = round(log_gamma, 12)
        if key not in cache:
            cache[key] = _host(_eigenvalues(u, net, math.exp(log_gamma), alpha)).astype(np.float64)
        return cache[key]

    out = np.empty(power.shape[0])
    for j, pw in enumerate(power):
        opt = minimize_scalar(lambda t, pw=pw: bayes_loss_and_halfwidth(pw, eig(t), n)[0],
                              bounds=_LOG_GAMMA_BOUNDS, method="bounded", options={"xatol": 0.05})
        out[j] = bayes_loss_and_halfwidth(pw, eig(float(opt.x)), n)[1]
    return out


def _cub_bayes(g: _Integrand, pts: Any, net: bool, conf: float, a: float, r: float, m0: int, mmax: int,
               xp: Any, alpha: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    from scipy.stats import norm

    from .._backend import select_engine

    z = float(norm.ppf(0.5 + conf / 2))
    fft_engine = select_engine("auto", xp) if net else "xp"
    m = m0
    n = 2**m
    u = pts.random(n)
    y = g(u)
    est = err = n_used = done = None
    while True:
        yhat = _transform_ld(y, net, fft_engine, xp) * math.sqrt(n)  # unitary transform
        power = _host(xp.abs(yhat) ** 2).astype(np.float64)  # (p, n)
        mu = _host(xp.mean(y, axis=0)).astype(np.float64)
        p = power.shape[0]
        half = z * np.sqrt(_posterior_variances(power, u, net, n, alpha))
        e, b, ok = _combine(mu, half, a, r)
        if est is None:
            est, err = np.full(p, np.nan), np.full(p, np.inf)
            n_used, done = np.zeros(p, dtype=np.int64), np.zeros(p, dtype=bool)
        live = ~done
        est[live], err[live], n_used[live] = e[live], b[live], n
        done |= ok
        if done.all() or m >= mmax:
            return est, err, n_used, done, n
        unew = pts.random(n)
        y = xp.concat([y, g(unew)], axis=0)
        u = xp.concat([u, unew], axis=0)
        m += 1
        n *= 2
