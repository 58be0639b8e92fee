"""Coverage of orthla.qmc.integrate's error bounds over independent randomizations.

The guarantee of "lattice-fourier"/"net-walsh" holds for integrands in a cone (steadily decaying
Fourier/Walsh coefficients): over >= 100 randomizations the true error must be within the bound in
>= 99% of runs for smooth integrands (Keister, Genz oscillatory and product peak).  "replications"
states a 99% Student-t interval: >= 95% of runs.  A fast subset runs by default; the full sweep is
marked slow (about five minutes on one core).  Bayesian cubature states a credible interval at
``confidence=0.99``: >= 95% of 100 runs.
"""

import warnings

import numpy as np
import pytest
from _qmc_integrands import genz_oscillatory, genz_product_peak, keister, keister_exact

from orthla.qmc import Gaussian, IntegrationWarning, integrate

OSC = genz_oscillatory([1.0, 2.0, 0.5, 1.5], 0.3)
PEAK = genz_product_peak([2.0, 3.0, 1.0, 2.0], [0.3, 0.5, 0.7, 0.2])
PROBLEMS = {
    "keister3": (keister, Gaussian(0.0, 0.5, d=3), keister_exact(3), 1e-3),
    "genz-oscillatory4": (OSC[0], 4, OSC[1], 1e-5),
    "genz-product-peak4": (PEAK[0], 4, PEAK[1], 1e-3),
}
REQUIRED = {"lattice-fourier": 0.99, "net-walsh": 0.99, "replications": 0.95, "bayes-lattice": 0.95,
            "bayes-net": 0.95}


def _coverage(problem, method, runs, seed0=1000):
    f, measure, exact, tol = PROBLEMS[problem]
    hits = 0
    for s in range(runs):
        res = integrate(f, measure, abs_tol=tol, method=method, rng=seed0 + s)
        assert res.converged
        hits += abs(res.estimate - exact) <= res.error_bound
    return hits / runs


@pytest.mark.parametrize("method", [m for m in REQUIRED if m != "bayes-net"])
def test_coverage_fast_subset(method):
    assert _coverage("keister3", method, 12) >= 11 / 12


@pytest.mark.slow
@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("method", list(REQUIRED))
def test_coverage_full(problem, method):
    # measured (seeds 1000..1199): 100% for every smooth problem and method except
    # replications on the product peak (98-99%); Bayesian cubature 100% over 100 runs.
    if method == "bayes-net" and problem == "genz-oscillatory4":
        pytest.skip("2^17 points per run: 4 minutes for 100 runs (measured 30/30 covered)")
    runs = 100 if method.startswith("bayes") else 200
    assert _coverage(problem, method, runs) >= REQUIRED[method]


def _indicator(x):
    return (np.sum(x, axis=1) <= 1.2).astype(float)


INDICATOR_EXACT = (1.2**3 - 3 * 0.2**3) / 6  # P(U1 + U2 + U3 <= 1.2)


@pytest.mark.slow
def test_discontinuous_indicator_replications_honest():
    # Outside every cone: the Fourier/Walsh rules are not guaranteed (measured 74% and 56% coverage
    # at abs_tol 1e-3, documented); the replicated Student-t interval stays honest.
    hits = 0
    runs = 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        for s in range(runs):
            res = integrate(_indicator, 3, abs_tol=1e-3, method="replications", rng=s, n_max=2**16)
            hits += abs(res.estimate - INDICATOR_EXACT) <= res.error_bound
    assert hits / runs >= 0.95
