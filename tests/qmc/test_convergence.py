"""Randomized QMC on Genz test integrands converges faster than Monte Carlo, for every randomization."""

import math

import numpy as np
import pytest

from orthla.qmc import Halton, Lattice, Sobol

D = 4
A = np.array([2.0, 1.5, 1.0, 0.5])  # difficulty
U = np.array([0.3, 0.6, 0.45, 0.7])  # peak location


def _gaussian(x):
    return np.exp(-np.sum(A**2 * (x - U) ** 2, axis=-1))


def _gaussian_exact():
    return math.prod(math.sqrt(math.pi) / (2 * a) * (math.erf(a * (1 - u)) + math.erf(a * u))
                     for a, u in zip(A, U, strict=True))


def _product_peak(x):
    return np.prod(1.0 / (A**-2 + (x - U) ** 2), axis=-1)


def _product_peak_exact():
    return math.prod(a * (math.atan(a * (1 - u)) + math.atan(a * u)) for a, u in zip(A, U, strict=True))


GENZ = {"gaussian": (_gaussian, _gaussian_exact), "product peak": (_product_peak, _product_peak_exact)}

# (engine factory, least RMSE decay rate between n = 2^8 and 2^14).  Monte Carlo decays like
# n^-1/2; these smooth non-periodic integrands give about n^-1 for shifted lattices, digitally shifted
# nets and Halton, and n^-3/2 for Owen-type scrambles of nets (LMS+DS, NUS).
ENGINES = {
    "lattice shift": (lambda r: Lattice(D, rng=r, replications=24), 0.8),
    "sobol lms-ds": (lambda r: Sobol(D, rng=r, replications=24), 1.2),
    "sobol ds": (lambda r: Sobol(D, randomize="ds", rng=r, replications=24), 0.8),
    "sobol lms": (lambda r: Sobol(D, randomize="lms", rng=r, replications=24), 0.8),
    "sobol nus": (lambda r: Sobol(D, randomize="nus", rng=r, replications=24), 1.2),
    "halton lms-dp": (lambda r: Halton(D, rng=r, replications=24), 0.75),
    "halton dp": (lambda r: Halton(D, randomize="dp", rng=r, replications=24), 0.75),
    "halton lms": (lambda r: Halton(D, randomize="lms", rng=r, replications=24), 0.75),
    "halton nus": (lambda r: Halton(D, randomize="nus", rng=r, replications=24), 0.75),
}


@pytest.mark.parametrize("name", list(ENGINES))
def test_rmse_decays_faster_than_monte_carlo(name):
    make, least_rate = ENGINES[name]
    points = {m: make(7 + m).random(2**m) for m in (8, 14)}
    for family, (f, exact) in GENZ.items():
        rmse = {m: math.sqrt(np.mean((f(x).mean(axis=1) - exact()) ** 2)) for m, x in points.items()}
        rate = math.log(rmse[8] / rmse[14]) / math.log(2.0**6)
        assert rate > least_rate, (family, rate, rmse)
        # and at n = 2^14 the error is far below Monte Carlo's sd(f) / sqrt(n)
        mc_sd = f(np.random.default_rng(0).random((100_000, D))).std()
        assert rmse[14] < mc_sd / 2**7 / 20, (family, rmse)
