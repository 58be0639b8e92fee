"""Contract cases for orthla.qmc.integrate, its measures and transforms (see ``_case.Case``).

References are independent of the code under test: scipy.special.ndtri composed with the dense
square root of the covariance (``scipy.linalg.sqrtm`` up to an orthogonal factor is checked through
``factor @ factor.T``), the closed forms of the periodizing maps, and known integrals.
"""

import math

import numpy as np
import scipy.special

from orthla.qmc import (
    BrownianMotion,
    Gaussian,
    GeometricBrownianMotion,
    Lebesgue,
    Uniform,
    integrate,
    ndtri,
    periodize,
)

from ._case import Case, host

_rng = np.random.default_rng(20261218)
U = _rng.random((6, 2)) * 0.98 + 0.01
MEAN = np.array([0.5, -1.0])
COV = np.array([[2.0, 0.3], [0.3, 1.0]])
TIMES = np.array([0.25, 0.5, 1.0])
LO = np.array([0.0, -1.0])
HI = np.array([2.0, 1.0])


def _ref_gauss(u, mean, factor):
    z = scipy.special.ndtri(np.clip(u, np.finfo(float).tiny, 1 - np.finfo(float).eps / 2))
    return mean + z @ factor.T


def _check_cov(res, a):
    f = host(res)
    cov = np.asarray(a["covariance"], dtype=float)
    if cov.ndim < 2:
        cov = np.diag(np.broadcast_to(cov, (f.shape[0],)))
    np.testing.assert_allclose(f @ f.T, cov, rtol=1e-10, atol=1e-10 * np.abs(cov).max())


def _check_transform(measure):
    def check(res, a):
        u = np.asarray(a["u"], dtype=float)
        np.testing.assert_allclose(host(res), _ref_gauss(u, measure.mean, measure.factor), rtol=1e-6, atol=1e-6)

    return check


def _check_ones(res, a):
    np.testing.assert_allclose(host(res), np.ones(np.asarray(a["u"]).shape[0]))


def _check_uniform(res, a):
    u = np.asarray(a["u"], dtype=float)
    np.testing.assert_allclose(host(res), LO + (HI - LO) * u, rtol=1e-6, atol=1e-12)


def _check_uniform_params(res, a):
    lo, hi = np.asarray(a["lower"], float), np.asarray(a["upper"], float)
    np.testing.assert_allclose(host(res), lo + (hi - lo) * U, rtol=1e-12, atol=1e-300)


def _check_ndtri(res, a):
    p = np.asarray(a["p"], dtype=float)
    np.testing.assert_allclose(host(res), scipy.special.ndtri(p), rtol=1e-5, atol=1e-6)


def _check_periodize(res, a):
    u = np.asarray(a["u"], dtype=float)
    v, w = host(res[0]), host(res[1])
    np.testing.assert_allclose(v, u - np.sin(2 * np.pi * u) / (2 * np.pi), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(w, np.prod(1 - np.cos(2 * np.pi * u), axis=1), rtol=1e-6, atol=1e-7)


def _parts(res):
    """The result without its wall time (which differs between otherwise equal calls)."""
    return res.estimate, res.error_bound, res.n, res.converged


def _check_integral(res, a):
    est, err, _, converged = res
    mean = np.asarray(a["mean"], dtype=float)
    if converged:
        assert abs(est - mean[0]) <= err + 1e-12 * abs(mean[0])


def _mean_of_x0(xp, mean, covariance):
    return _parts(integrate(lambda x: x[:, 0], Gaussian(mean, covariance), abs_tol=1e-2, n_max=2**12, rng=1,
                            xp=xp))


HOST = {"mixed": "measure parameters are small host arrays: any library's are copied to the host"}


def _check_gbm_covariance(res, a):
    # the lognormal law: S0^2 e^{mu (t_i + t_j)} (e^{sigma^2 min(t_i, t_j)} - 1), S0 = 2, mu = 0.1, sigma = 0.3
    t = np.asarray(a["times"], dtype=float)
    want = 4.0 * np.exp(0.1 * np.add.outer(t, t)) * np.expm1(0.09 * np.minimum.outer(t, t))
    np.testing.assert_allclose(host(res), want, rtol=1e-12)


def _check_gbm_transform(res, a):
    u = np.clip(np.asarray(a["u"], dtype=float), np.finfo(float).tiny, 1 - np.finfo(float).eps / 2)
    w = scipy.special.ndtri(u) @ BrownianMotion(TIMES, decomp="bridge").factor.T
    np.testing.assert_allclose(host(res), 2.0 * np.exp((0.1 - 0.045) * TIMES + 0.3 * w), rtol=1e-6)


G = Gaussian(MEAN, COV)
BM = BrownianMotion(TIMES, decomp="bridge")
GBM = GeometricBrownianMotion(TIMES, 2.0, 0.1, 0.3, decomp="bridge")

CASES = [
    Case("integrate", _mean_of_x0, {"mean": MEAN, "covariance": COV}, check=_check_integral, skip=HOST),
    Case("integrate", lambda xp, lower, upper: _parts(integrate(
        lambda x: xp.cos(x[:, 0]) * xp.sin(x[:, 1]), Lebesgue(lower, upper), abs_tol=1e-6, method="net-walsh",
        n_max=2**12, rng=1, xp=xp)), {"lower": LO, "upper": HI}, id="lebesgue", skip=HOST),
    Case("integrate", lambda xp, mean, covariance: _parts(integrate(
        lambda x: x[:, 0], Gaussian(mean, covariance), abs_tol=1e-2, method="replications", n_init=2**6,
        n_max=2**8, rng=1, xp=xp)), {"mean": MEAN, "covariance": COV}, id="replications", check=_check_integral,
        skip=HOST),
    Case("integrate", lambda xp, mean, covariance: _parts(integrate(
        lambda x: x[:, 0], Gaussian(mean, covariance), abs_tol=1e-2, method="bayes-lattice", n_init=2**5,
        n_max=2**6, rng=1, xp=xp)), {"mean": MEAN, "covariance": COV}, id="bayes-lattice", check=_check_integral,
        skip=HOST),
    Case("ndtri", lambda xp, p: ndtri(p), {"p": U[:, 0]}, check=_check_ndtri, finite_result=False),
    Case("periodize", lambda xp, u: periodize(u, "c1sin"), {"u": U}, check=_check_periodize),
    Case("Gaussian", lambda xp, mean, covariance: Gaussian(mean, covariance).factor,
         {"mean": MEAN, "covariance": COV}, check=_check_cov, skip=HOST),
    Case("Gaussian.transform", lambda xp, u: G.transform(u), {"u": U}, check=_check_transform(G)),
    Case("Gaussian.jacobian", lambda xp, u: G.jacobian(u), {"u": U}, check=_check_ones),
    Case("BrownianMotion", lambda xp, times: BrownianMotion(times, decomp="pca").covariance, {"times": TIMES},
         skip=HOST,
         check=lambda res, a: np.testing.assert_allclose(
             host(res), np.minimum.outer(np.asarray(a["times"], float), np.asarray(a["times"], float)),
             rtol=1e-10, atol=1e-12)),
    Case("BrownianMotion.transform", lambda xp, u: BM.transform(u), {"u": np.hstack([U, U[:, :1]])},
         check=_check_transform(BM)),
    Case("BrownianMotion.jacobian", lambda xp, u: BM.jacobian(u), {"u": np.hstack([U, U[:, :1]])},
         check=_check_ones),
    Case("GeometricBrownianMotion", lambda xp, times: GeometricBrownianMotion(times, 2.0, 0.1, 0.3).covariance,
         {"times": TIMES}, skip=HOST, check=_check_gbm_covariance),
    Case("GeometricBrownianMotion.transform", lambda xp, u: GBM.transform(u), {"u": np.hstack([U, U[:, :1]])},
         check=_check_gbm_transform),
    Case("GeometricBrownianMotion.jacobian", lambda xp, u: GBM.jacobian(u), {"u": np.hstack([U, U[:, :1]])},
         check=_check_ones),
    Case("Uniform", lambda xp, lower, upper: Uniform(lower, upper).transform(xp.asarray(U)),
         {"lower": LO, "upper": HI}, check=_check_uniform_params, skip=HOST),
    Case("Uniform.transform", lambda xp, u: Uniform(LO, HI).transform(u), {"u": U}, check=_check_uniform),
    Case("Uniform.jacobian", lambda xp, u: Uniform(LO, HI).jacobian(u), {"u": U}, check=_check_ones),
    Case("Lebesgue", lambda xp, lower, upper: Lebesgue(lower, upper).jacobian(xp.asarray(U)),
         {"lower": LO, "upper": HI}, skip=HOST,
         check=lambda res, a: np.testing.assert_allclose(
             host(res), np.full(6, np.prod(np.asarray(a["upper"], float) - np.asarray(a["lower"], float))),
             rtol=1e-12)),
    Case("Lebesgue.transform", lambda xp, u: Lebesgue(LO, HI).transform(u), {"u": U}, check=_check_uniform),
    Case("Lebesgue.jacobian", lambda xp, u: Lebesgue([-math.inf, 0.0], [math.inf, 1.0]).jacobian(u), {"u": U},
         check=lambda res, a: np.testing.assert_allclose(
             host(res), math.sqrt(2 * math.pi) * np.exp(scipy.special.ndtri(
                 np.clip(np.asarray(a["u"], float)[:, 0], np.finfo(float).eps / 2, 1 - np.finfo(float).eps / 2))
                 ** 2 / 2), rtol=1e-6)),
]
