"""Measures, the inverse normal CDF and the periodizing transforms of orthla.qmc.integrate."""

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special

from orthla._testing import assert_close, to_host
from orthla.qmc import BrownianMotion, Gaussian, Lattice, Lebesgue, Sobol, Uniform, ndtri, periodize


def _probabilities():
    rng = np.random.default_rng(3)
    return np.concatenate([rng.random(20000), np.logspace(-300, -1, 400), 1 - np.logspace(-16, -1, 200),
                           [0.5, 0.5 + 1e-12, 0.075, 0.925, 0.0, 1.0]])


@pytest.mark.parametrize("engine", ["auto", "xp"])
def test_ndtri_matches_scipy(xp, engine):
    p = _probabilities()
    got = ndtri(xp.asarray(p), engine=engine)
    want = scipy.special.ndtri(p)
    h = to_host(got)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(h[~finite], want[~finite])
    # AS241: relative accuracy ~1e-16; allow a few ulps plus absolute eps near p = 1/2.
    err = np.abs(h[finite] - want[finite])
    assert np.all(err <= 4e-15 * np.abs(want[finite]) + 1e-16), err.max()
    assert_close(got[:10], want[:10], xp=xp, rtol=1e-14)


def test_ndtri_float32(xp):
    p = np.random.default_rng(1).random(1000).astype(np.float32)
    got = ndtri(xp.asarray(p), engine="xp")
    assert got.dtype == xp.float32
    np.testing.assert_allclose(to_host(got), scipy.special.ndtri(p.astype(np.float64)), rtol=2e-5, atol=2e-6)


def test_ndtri_errors(xp):
    with pytest.raises(ValueError, match="`p`"):
        ndtri(xp.asarray([0.5, 1.5]))
    with pytest.raises(ValueError, match="`p`"):
        ndtri(xp.asarray([0.5, float("nan")]))
    with pytest.raises(ValueError, match="`engine`"):
        ndtri(xp.asarray([0.5]), engine="fast")
    if "numpy" not in xp.__name__:
        with pytest.raises(ValueError, match="`engine`"):
            ndtri(xp.asarray([0.5]), engine="scipy")


@pytest.mark.parametrize("decomp", ["pca", "cholesky"])
def test_gaussian_factor_and_moments(xp, decomp):
    rng = np.random.default_rng(5)
    b = rng.standard_normal((4, 4))
    cov = b @ b.T + 0.1 * np.eye(4)
    mean = rng.standard_normal(4)
    g = Gaussian(mean, cov, decomp=decomp)
    np.testing.assert_allclose(g.factor @ g.factor.T, cov, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.covariance, cov, rtol=1e-12, atol=1e-12)
    u = Sobol(4, rng=2, xp=xp).random(2**14)
    x = g.transform(u)
    assert x.shape == (2**14, 4) and x.dtype == xp.float64
    h = to_host(x)
    np.testing.assert_allclose(h.mean(axis=0), mean, atol=2e-3 * np.sqrt(np.diag(cov)).max())
    np.testing.assert_allclose(np.cov(h.T), cov, atol=2e-2 * np.abs(cov).max())
    if decomp == "pca":  # eigenvalues in decreasing order: the leading column carries the most variance
        norms = np.linalg.norm(g.factor, axis=0)
        assert np.all(np.diff(norms) <= 1e-12)


def test_gaussian_scalar_and_diagonal():
    g = Gaussian(0.0, 0.5, d=3)
    np.testing.assert_allclose(g.factor, np.sqrt(0.5) * np.eye(3))
    g2 = Gaussian([1.0, 2.0], [4.0, 9.0], decomp="cholesky")
    np.testing.assert_allclose(g2.factor, np.diag([2.0, 3.0]))
    assert g2.transform(np.array([[0.5, 0.5]])).tolist() == [[1.0, 2.0]]


def test_gaussian_semidefinite_pca():
    cov = np.array([[1.0, 1.0], [1.0, 1.0]])
    g = Gaussian([0.0, 0.0], cov)
    np.testing.assert_allclose(g.covariance, cov, atol=1e-15)
    with pytest.raises(ValueError, match="`covariance`"):
        Gaussian([0.0, 0.0], cov, decomp="cholesky")


def test_gaussian_errors():
    with pytest.raises(ValueError, match="`covariance`"):
        Gaussian([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])  # indefinite
    with pytest.raises(ValueError, match="`covariance`"):
        Gaussian([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]])  # not symmetric
    with pytest.raises(ValueError, match="`covariance`"):
        Gaussian([0.0, 0.0], np.eye(3))
    with pytest.raises(ValueError, match="`mean`"):
        Gaussian([0.0, np.nan], 1.0)
    with pytest.raises(TypeError, match="`mean`"):
        Gaussian(["a"], 1.0)
    with pytest.raises(ValueError, match="`decomp`"):
        Gaussian(0.0, 1.0, decomp="svd")
    with pytest.raises(ValueError, match="`u`"):
        Gaussian(0.0, 1.0, d=2).transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="`u`"):
        Gaussian(0.0, 1.0, d=2).transform(np.full((3, 2), 1.5))


@pytest.mark.parametrize("decomp", ["pca", "bridge", "standard"])
def test_brownian_motion_covariance(xp, decomp):
    t = np.array([0.1, 0.3, 0.35, 0.7, 0.9, 1.0, 1.7])
    bm = BrownianMotion(t, drift=0.3, decomp=decomp)
    np.testing.assert_allclose(bm.covariance, np.minimum.outer(t, t), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(bm.mean, 0.3 * t)
    u = Lattice(7, rng=4, xp=xp).random(2**13)
    h = to_host(bm.transform(u))
    np.testing.assert_allclose(h.mean(axis=0), 0.3 * t, atol=1e-2)
    np.testing.assert_allclose(np.cov(h.T), np.minimum.outer(t, t), atol=3e-2)


def test_brownian_bridge_order():
    bm = BrownianMotion(8, decomp="bridge")
    # the first normal fixes the final value; the second the midpoint (index 3)
    assert bm.factor[-1, 0] == pytest.approx(1.0)
    assert np.count_nonzero(bm.factor[-1]) == 1
    assert bm.factor[3, 1] > 0 and np.all(bm.factor[3, 2:] == 0)
    np.testing.assert_allclose(bm.times, np.arange(1, 9) / 8)


def test_brownian_motion_errors():
    with pytest.raises(ValueError, match="`times`"):
        BrownianMotion([0.5, 0.2])
    with pytest.raises(ValueError, match="`times`"):
        BrownianMotion([0.0, 0.2])
    with pytest.raises(ValueError, match="`times`"):
        BrownianMotion(0)
    with pytest.raises(ValueError, match="`drift`"):
        BrownianMotion(3, drift=[1.0, 2.0])
    with pytest.raises(ValueError, match="`decomp`"):
        BrownianMotion(3, decomp="cholesky")


def test_uniform(xp):
    m = Uniform([0.0, -1.0, 2.0], [2.0, 1.0, 3.0])
    u = xp.asarray([[0.5, 0.25, 0.0], [1.0, 1.0, 1.0]])
    assert_close(m.transform(u), np.array([[1.0, -0.5, 2.0], [2.0, 1.0, 3.0]]), xp=xp)
    assert_close(m.jacobian(u), np.ones(2), xp=xp)
    u32 = xp.asarray([[0.5, 0.5, 0.5]], dtype=xp.float32)
    assert m.transform(u32).dtype == xp.float32
    assert Uniform(d=4).d == 4
    with pytest.raises(ValueError, match="`upper`"):
        Uniform([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="`lower`"):
        Uniform([0.0, np.inf], [1.0, 1.0])


def test_lebesgue(xp):
    m = Lebesgue([0.0, -2.0], [2.0, 1.0])
    u = xp.asarray([[0.5, 0.5]])
    assert_close(m.transform(u), np.array([[1.0, -0.5]]), xp=xp)
    assert_close(m.jacobian(u), np.array([6.0]), xp=xp)
    line = Lebesgue([-np.inf, 0.0], [np.inf, 1.0])
    z = 0.3
    uu = xp.asarray([[scipy.special.ndtr(z), 0.25]])
    assert_close(line.transform(uu), np.array([[z, 0.25]]), xp=xp, rtol=1e-13)
    assert_close(line.jacobian(uu), np.array([math.sqrt(2 * math.pi) * math.exp(z * z / 2)]), xp=xp, rtol=1e-13)
    with pytest.raises(ValueError, match="`lower`"):
        Lebesgue([0.0], [np.inf])
    with pytest.raises(ValueError, match="`upper`"):
        Lebesgue([1.0], [0.0])


KINDS = ["none", "baker", "c1", "c1sin", "c2sin", "sidi"]


@pytest.mark.parametrize("kind", KINDS)
def test_periodize_keeps_integral(kind):
    g = lambda v: np.exp(v) * np.cos(3 * v) + v**5  # noqa: E731
    want = scipy.integrate.quad(g, 0, 1)[0]

    def integrand(t):
        v, w = periodize(np.array([[t]]), kind)
        return float(g(v[0, 0]) * w[0])

    got = scipy.integrate.quad(integrand, 0, 1, points=[0.5], epsabs=1e-13, epsrel=1e-13)[0]
    assert got == pytest.approx(want, rel=1e-11, abs=1e-12)


@pytest.mark.parametrize("kind", KINDS[2:])
def test_periodize_derivative_and_range(xp, kind):
    u = np.linspace(0.01, 0.99, 99)[:, None] * np.ones((1, 2))
    v, w = periodize(xp.asarray(u), kind)
    vh, wh = to_host(v), to_host(w)
    assert np.all((vh >= 0) & (vh <= 1)) and np.all(np.diff(vh[:, 0]) > 0)
    h = 1e-6
    vp, _ = periodize(u + h, kind)
    vm, _ = periodize(u - h, kind)
    deriv = (vp - vm) / (2 * h)
    np.testing.assert_allclose(wh, np.prod(deriv, axis=1), rtol=1e-6, atol=1e-8)
    v0, w0 = periodize(xp.asarray([[0.0, 1.0]]), kind)
    np.testing.assert_allclose(to_host(v0), [[0.0, 1.0]], atol=1e-15)
    np.testing.assert_allclose(to_host(w0), [0.0], atol=1e-15)


def test_periodize_closed_forms():
    u = np.array([[0.3, 0.8]])
    v, w = periodize(u, "c2sin")
    pu = np.pi * u
    np.testing.assert_allclose(v, (8 - 9 * np.cos(pu) + np.cos(3 * pu)) / 16, rtol=1e-14)
    np.testing.assert_allclose(w, np.prod((9 * np.pi * np.sin(pu) - 3 * np.pi * np.sin(3 * pu)) / 16, axis=1),
                               rtol=1e-14)
    v, w = periodize(u, "c1sin")
    np.testing.assert_allclose(v, u - np.sin(2 * np.pi * u) / (2 * np.pi), rtol=1e-14)
    v, _ = periodize(u, "baker")
    np.testing.assert_allclose(v, [[0.6, 0.4]], rtol=1e-14)
    v2, _ = periodize(u, "sidi", order=2)
    np.testing.assert_allclose(v2, u - np.sin(2 * np.pi * u) / (2 * np.pi), rtol=1e-13)


def test_periodize_errors():
    with pytest.raises(ValueError, match="`kind`"):
        periodize(np.zeros((2, 2)), "tent")
    with pytest.raises(ValueError, match="`u`"):
        periodize(np.zeros(3), "c1")
    with pytest.raises(ValueError, match="`order`"):
        periodize(np.zeros((2, 2)), "sidi", order=-1)


def test_numba_kernels_match_xp_engine():
    pytest.importorskip("numba")
    import array_api_compat.numpy as npx

    from orthla.qmc._measures import _ndtri_xp

    p = _probabilities()[:20400].reshape(-1, 4)
    np.testing.assert_allclose(ndtri(p), _ndtri_xp(p, npx), rtol=1e-15, atol=1e-300)
    g = Gaussian([1.0, -2.0], [0.5, 3.0], decomp="cholesky")  # diagonal factor: the fused kernel
    u = np.random.default_rng(2).random((1000, 2))
    u[0] = [0.0, 1.0]
    want = g.mean + _ndtri_xp(np.clip(u, np.finfo(float).tiny, 1 - np.finfo(float).eps / 2), npx) * np.sqrt(
        [0.5, 3.0])
    np.testing.assert_allclose(g.transform(u), want, rtol=1e-15, atol=1e-15)
    assert np.all(np.isfinite(g.transform(u)))


@pytest.mark.parametrize("standard", [False, True], ids=["affine", "standard"])
@pytest.mark.parametrize("baker", [False, True])
@pytest.mark.parametrize(("n", "d"), [(0, 3), (1, 1), (7, 5), (300, 3), (1000, 70)])
def test_normal_map_kernel_matches_xp(n, d, baker, standard):
    # the fused Numba map (blocks of 128 rows, central part vectorized, tails gathered) against the
    # array-API AS241 after the baker's map and the clip; the blocks' edges and a partial last block
    pytest.importorskip("numba")
    import array_api_compat.numpy as npx

    from orthla.qmc._measures import _ndtri_xp
    from orthla.qmc._measures_numba import normal_map

    rng = np.random.default_rng(n + d)
    p = _probabilities()
    u = rng.choice(p, size=(n, d))
    mean, scale = rng.standard_normal(d), rng.random(d) + 0.5
    if standard:  # the kernel's variants without the affine pass
        mean, scale = np.zeros(d), np.ones(d)
    lo, hi = np.finfo(float).smallest_normal, 1 - np.finfo(float).eps / 2
    v = 1 - np.abs(2 * u - 1) if baker else u
    want = mean + scale * _ndtri_xp(np.clip(v, lo, hi), npx)
    out = np.full_like(u, np.nan)
    keep = u.copy()
    normal_map(u, baker, lo, hi, mean, scale, out)
    # rounding of mean + scale z: a few ulps of its terms (the kernel's log is not libm's)
    z = _ndtri_xp(np.clip(v, lo, hi), npx)
    assert np.all(np.abs(out - want) <= 2e-15 * (np.abs(mean) + scale * np.abs(z)))
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(u, keep)
    # without the clip, 0 and 1 map to -inf and +inf, as ndtri does
    edge = np.array([[0.0, 1.0, 0.5]])
    z = np.empty_like(edge)
    normal_map(edge, False, 0.0, 1.0, np.zeros(3), np.ones(3), z)
    assert z.tolist() == [[-math.inf, math.inf, 0.0]]


@pytest.mark.parametrize("decomp", ["pca", "bridge"])
def test_linear_gaussian_numba_map_matches_xp(decomp):
    # the NumPy engine's map (fused kernel, then the factor's product) against the array-API path
    pytest.importorskip("numba")
    import array_api_compat.numpy as npx

    from orthla.qmc._measures import _ndtri_xp

    bm = BrownianMotion(np.linspace(0.1, 2.0, 9), drift=0.3, decomp=decomp)
    u = np.random.default_rng(5).random((777, 9))
    u[0] = 0.0
    lo, hi = np.finfo(float).smallest_normal, 1 - np.finfo(float).eps / 2
    want = bm.mean + _ndtri_xp(np.clip(u, lo, hi), npx) @ bm.factor.T
    np.testing.assert_allclose(bm.transform(u), want, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(bm._map_numba(u, True), bm.mean + _ndtri_xp(
        np.clip(1 - np.abs(2 * u - 1), lo, hi), npx) @ bm.factor.T, rtol=1e-14, atol=1e-14)
