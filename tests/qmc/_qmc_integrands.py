"""Test integrands with closed-form integrals (Keister, Genz oscillatory / product peak, geometric
Asian call) for the orthla.qmc.integrate tests and benchmarks; written with array-API operations."""

import math

import numpy as np
import scipy.integrate
import scipy.special
from array_api_compat import array_namespace


def keister(x):
    """pi^(d/2) cos(|x|): under N(0, I/2) its mean is int cos(|x|) exp(-|x|^2) dx."""
    xp = array_namespace(x)
    d = x.shape[1]
    return math.pi ** (d / 2) * xp.cos(xp.sqrt(xp.sum(x * x, axis=1)))


def keister_exact(d):
    """int_{R^d} cos(|x|) exp(-|x|^2) dx by the radial integral (quad, ~1e-14)."""
    radial = scipy.integrate.quad(lambda r: math.cos(r) * math.exp(-r * r) * r ** (d - 1), 0, 12.0,
                                  epsabs=1e-15, epsrel=1e-13, limit=200)[0]
    return 2 * math.pi ** (d / 2) / math.gamma(d / 2) * radial


def genz_oscillatory(c, w):
    """cos(2 pi w + c . x) on [0,1]^d and its integral."""
    c = np.asarray(c, dtype=float)

    def f(x):
        xp = array_namespace(x)
        return xp.cos(2 * math.pi * w + x @ xp.asarray(c, device=x.device))

    z = np.exp(2j * math.pi * w) * np.prod((np.exp(1j * c) - 1) / (1j * c))
    return f, float(z.real)


def genz_product_peak(c, w):
    """prod_j 1 / (c_j^-2 + (x_j - w_j)^2) on [0,1]^d and its integral."""
    c, w = np.asarray(c, dtype=float), np.asarray(w, dtype=float)

    def f(x):
        xp = array_namespace(x)
        cc = xp.asarray(c, device=x.device)
        ww = xp.asarray(w, device=x.device)
        return xp.prod(1.0 / (cc**-2 + (x - ww) ** 2), axis=1)

    return f, float(np.prod(c * (np.arctan(c * (1 - w)) + np.arctan(c * w))))


def geometric_asian(d, s0=100.0, strike=100.0, r=0.05, sigma=0.5, T=1.0):
    """Discounted geometric-mean Asian call on d equally spaced dates, and its Black-Scholes price."""
    t = np.arange(1, d + 1) * T / d
    mu = math.log(s0) + (r - sigma**2 / 2) * t.mean()
    var = sigma**2 * np.minimum.outer(t, t).sum() / d**2
    sd = math.sqrt(var)
    d1 = (mu - math.log(strike) + var) / sd
    price = math.exp(-r * T) * (math.exp(mu + var / 2) * scipy.special.ndtr(d1)
                                - strike * scipy.special.ndtr(d1 - sd))

    def f(w):  # w: Brownian paths at t, shape (n, d)
        xp = array_namespace(w)
        tt = xp.asarray(t, device=w.device)
        logs = math.log(s0) + (r - sigma**2 / 2) * tt + sigma * w
        g = xp.exp(xp.mean(logs, axis=1))
        return math.exp(-r * T) * xp.clip(g - strike, 0.0, None)

    return f, t, float(price)


def arithmetic_asian(d, s0=100.0, strike=100.0, r=0.05, sigma=0.5, T=1.0):
    """Discounted arithmetic-mean Asian call (QMCPy's AsianOption example, mean of d dates)."""
    t = np.arange(1, d + 1) * T / d

    def f(w):
        xp = array_namespace(w)
        tt = xp.asarray(t, device=w.device)
        s = s0 * xp.exp((r - sigma**2 / 2) * tt + sigma * w)
        return math.exp(-r * T) * xp.clip(xp.mean(s, axis=1) - strike, 0.0, None)

    return f, t
