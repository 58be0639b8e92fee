"""GeometricBrownianMotion: the lognormal path measure, its fused NumPy map and its exp kernel."""

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats

from orthla._testing import to_host
from orthla.qmc import BrownianMotion, GeometricBrownianMotion, Lattice, integrate

EPS = np.finfo(float).eps
LO, HI = np.finfo(float).smallest_normal, 1 - EPS / 2


def _reference(g, u):
    """``S0 exp((mu - sigma^2/2) t + sigma W)``, W from SciPy's ndtri and BrownianMotion's factor."""
    w = scipy.special.ndtri(np.clip(u, LO, HI)) @ BrownianMotion(g.times, decomp=g.decomp).factor.T
    return g.initial_value * np.exp((g.drift - g.volatility**2 / 2) * g.times + g.volatility * w)


@pytest.mark.parametrize("decomp", ["pca", "bridge", "standard"])
def test_transform_is_the_lognormal_path(xp, decomp):
    t = np.array([0.1, 0.3, 0.35, 0.7, 0.9, 1.0, 1.7])
    g = GeometricBrownianMotion(t, initial_value=30.0, drift=0.05, volatility=0.4, decomp=decomp)
    u = np.random.default_rng(1).random((300, 7))
    u[0, :3] = [0.0, 1.0, 0.5]  # the cube's faces map to finite prices
    x = g.transform(xp.asarray(u))
    h = to_host(x)
    assert x.shape == (300, 7) and np.all(np.isfinite(h))
    # the exponent has an absolute error of a few ulps of its terms, which is the relative error of S
    want = _reference(g, u)
    np.testing.assert_allclose(h, want, rtol=64 * EPS, atol=0)


@pytest.mark.parametrize("decomp", ["pca", "bridge"])
def test_moments(xp, decomp):
    t = np.array([0.25, 0.5, 1.0, 2.0])
    g = GeometricBrownianMotion(t, initial_value=2.0, drift=0.1, volatility=0.3, decomp=decomp)
    np.testing.assert_allclose(g.mean, 2.0 * np.exp(0.1 * t), rtol=1e-15)
    # Cov[S_i, S_j] = S0^2 e^{mu (t_i + t_j)} (e^{sigma^2 min(t_i, t_j)} - 1), from the lognormal law
    i, j = 1, 3
    cov = 4.0 * math.exp(0.1 * (t[i] + t[j])) * math.expm1(0.09 * min(t[i], t[j]))
    assert g.covariance[i, j] == pytest.approx(cov, rel=1e-14)
    assert g.covariance.shape == (4, 4) and np.allclose(g.covariance, g.covariance.T)
    h = to_host(g.transform(Lattice(4, rng=4, xp=xp).random(2**14)))
    np.testing.assert_allclose(h.mean(axis=0), g.mean, rtol=2e-3)
    np.testing.assert_allclose(np.cov(h.T), g.covariance, rtol=2e-2, atol=1e-4)


def test_zero_volatility_is_the_deterministic_growth():
    g = GeometricBrownianMotion(5, initial_value=3.0, drift=-0.2, volatility=0.0)
    u = np.random.default_rng(2).random((40, 5))
    np.testing.assert_allclose(g.transform(u), np.broadcast_to(3.0 * np.exp(-0.2 * g.times), (40, 5)),
                               rtol=2 * EPS)


def test_european_call_matches_black_scholes():
    # an independent closed form: the discounted expected payoff max(S_T - K, 0) under the
    # risk-neutral GBM is the Black-Scholes price
    s0, k, r, sigma, T = 100.0, 105.0, 0.03, 0.25, 2.0
    g = GeometricBrownianMotion([T / 2, T], initial_value=s0, drift=r, volatility=sigma)
    res = integrate(lambda s: math.exp(-r * T) * np.maximum(s[:, -1] - k, 0.0), g, abs_tol=1e-3,
                    method="net-walsh", rng=11)
    d1 = (math.log(s0 / k) + (r + sigma**2 / 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    price = s0 * scipy.stats.norm.cdf(d1) - k * math.exp(-r * T) * scipy.stats.norm.cdf(d2)
    assert res.converged and abs(res.estimate - price) <= res.error_bound


@pytest.mark.parametrize("method", ["net-walsh", "lattice-fourier"])
def test_asian_call_as_the_brownian_path_with_the_users_exp(method):
    # the payoff under GBM and the same payoff with the prices computed in f from BrownianMotion:
    # the same points, so the same stopping step and the estimate to rounding
    t = np.arange(1, 17) / 16
    s0, k, sigma = 30.0, 35.0, 0.5

    def payoff(s):
        return np.maximum((s0 / 2 + s[:, :-1].sum(axis=1) + s[:, -1] / 2) / 16 - k, 0.0)

    for seed in (3, 4):
        a = integrate(payoff, GeometricBrownianMotion(t, s0, 0.0, sigma), abs_tol=2e-3, method=method,
                      rng=seed)
        b = integrate(lambda w: payoff(s0 * np.exp(-sigma**2 / 2 * t + sigma * w)), BrownianMotion(t),
                      abs_tol=2e-3, method=method, rng=seed)
        assert a.n == b.n
        assert a.estimate == pytest.approx(b.estimate, rel=1e-12)


@pytest.mark.parametrize("baker", [False, True])
@pytest.mark.parametrize(("n", "d"), [(0, 3), (1, 1), (65, 4), (300, 33)])
def test_numba_map_matches_xp(n, d, baker):
    # the fused NumPy map (normal map, product, exp kernel in blocks of 64 rows) against the
    # array-API path on the same points
    pytest.importorskip("numba")
    import array_api_strict

    g = GeometricBrownianMotion(d, initial_value=5.0, drift=0.3, volatility=0.7)
    u = np.random.default_rng(n + d).random((n, d))
    keep = u.copy()
    v = 1 - np.abs(2 * u - 1) if baker else u
    want = np.asarray(g.transform(array_api_strict.asarray(v)))
    got = g._map_numba(u, baker)
    np.testing.assert_array_equal(u, keep)
    assert got.shape == (n, d)
    np.testing.assert_allclose(got, want, rtol=8 * EPS, atol=0)


def _exp_kernel(x):
    from orthla.qmc._measures_numba import scaled_exp

    w = np.array(x, dtype=float).reshape(-1, 1)
    scaled_exp(w, np.zeros(1), 1.0)
    return w.ravel()


def test_exp_kernel_within_one_ulp():
    pytest.importorskip("numba")
    import mpmath

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-708, 709, 200000), rng.standard_normal(100000) * 3,
                        [0.0, -0.0, 1e-300, -1e-300, 0.5 * math.log(2), -0.5 * math.log(2), -708.0, 709.0]])
    got = _exp_kernel(x)
    # against libm's exp (math.exp: NumPy's own is a SIMD exp of its own on AVX-512 CPUs), within
    # half an ulp of the true value: one ulp between them at most
    libm = np.array([math.exp(v) for v in x])
    assert np.all(np.abs(got - libm) <= np.spacing(libm))
    # and against 40 digits: a relative error within 1.5 units of 2^-53 (1.12 measured)
    mpmath.mp.dps = 40
    sample = x[rng.choice(x.size, 400, replace=False)]
    ours = _exp_kernel(sample)
    rel = [abs((mpmath.mpf(float(v)) - mpmath.exp(mpmath.mpf(float(a)))) / mpmath.exp(mpmath.mpf(float(a))))
           for v, a in zip(ours, sample, strict=True)]
    assert max(rel) <= 1.5 * 2.0**-53


def test_exp_kernel_out_of_range_takes_libm():
    # a block (64 rows) with an exponent outside [-708, 709] is computed by libm's exp entirely:
    # overflow to inf, subnormal results and NaN as NumPy's exp
    pytest.importorskip("numba")
    from orthla.qmc._measures_numba import scaled_exp

    rng = np.random.default_rng(8)
    w = rng.standard_normal((200, 3))
    w[10, 1], w[70, 0], w[150, 2] = 800.0, -740.0, np.nan
    c = np.array([0.5, -0.25, 1.0])
    got = w.copy()
    scaled_exp(got, c, 2.0)

    def libm(v):
        try:
            return math.exp(v)
        except OverflowError:
            return math.inf

    want = 2.0 * np.array([[libm(v) for v in row] for row in w + c])
    np.testing.assert_array_equal(got[:192], want[:192])  # the three blocks with an outlier: libm bits
    assert math.isinf(got[10, 1]) and 0 < got[70, 0] < np.finfo(float).smallest_normal
    assert math.isnan(got[150, 2])
    assert np.all(np.abs(got[192:] - want[192:]) <= 2 * np.spacing(want[192:]))


def test_errors():
    with pytest.raises(ValueError, match="`times`"):
        GeometricBrownianMotion([0.5, 0.2])
    with pytest.raises(ValueError, match=r"`initial_value` must be a finite real number > 0"):
        GeometricBrownianMotion(3, initial_value=0.0)
    with pytest.raises(ValueError, match=r"`volatility` must be a finite real number >= 0"):
        GeometricBrownianMotion(3, volatility=-0.1)
    with pytest.raises(ValueError, match=r"`drift` must be a finite real number"):
        GeometricBrownianMotion(3, drift=math.inf)
    with pytest.raises(TypeError, match="`volatility` must be a real number"):
        GeometricBrownianMotion(3, volatility=[0.1, 0.2])
    with pytest.raises(ValueError, match="`decomp`"):
        GeometricBrownianMotion(3, decomp="cholesky")
    with pytest.raises(TypeError, match="`initial_value`"):
        GeometricBrownianMotion(3, initial_value="30")
    with pytest.raises(ValueError, match="`u`"):
        GeometricBrownianMotion(3).transform(np.zeros((4, 2)))


def test_moments_beyond_float64_are_refused():
    with pytest.raises(ValueError, match="covariance overflows float64 for `times` up to 2000"):
        GeometricBrownianMotion([1.0, 2000.0], volatility=1.0)
    with pytest.raises(ValueError, match="covariance overflows float64 for `times` up to 1"):
        GeometricBrownianMotion([1.0], drift=720.0, volatility=0.0)  # the mean e^720 itself
    # representable moments whose direct products would overflow on the way
    g = GeometricBrownianMotion([1.0, 600.0], volatility=1.0)
    assert g.covariance[1, 1] == pytest.approx(math.exp(600.0) * -math.expm1(-600.0), rel=1e-12)
    g = GeometricBrownianMotion([1.0], drift=354.0, volatility=0.0)
    assert g.covariance[0, 0] == 0.0 and g.mean[0] == pytest.approx(math.exp(354.0), rel=1e-15)
    g = GeometricBrownianMotion([1.0], drift=360.0, volatility=1e-10)
    assert g.covariance[0, 0] == pytest.approx(math.exp(720.0 - 720.0) * 1e-20 * math.exp(720.0 - 720.0)
                                               * math.exp(720.0 - 700.0) * math.exp(700.0), rel=1e-9)
