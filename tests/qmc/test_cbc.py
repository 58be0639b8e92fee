import math

import numpy as np
import pytest

from orthla.qmc import cbc_lattice
from orthla.qmc._bernoulli import korobov_omega


def _sq_error_dense(z, n, gamma, alpha):
    """e^2 = -1 + (1/n^2) sum_{i,k} K(x_i, x_k) with the product Korobov kernel (double sum)."""
    x = (np.arange(n)[:, None] * np.asarray(z)[None, :] % n) / n
    diff = (x[:, None, :] - x[None, :, :]) % 1.0
    k = np.prod(1.0 + np.asarray(gamma) * korobov_omega(diff, alpha), axis=-1)
    return k.mean() - 1.0


@pytest.mark.parametrize("alpha", [1, 2, 3, 4, 5])
def test_omega_is_the_fourier_series(alpha):
    # omega_alpha(x) = sum_{h != 0} exp(2 pi i h x) / |h|^(2 alpha) = 2 sum_{h>=1} cos(2 pi h x) / h^(2 alpha)
    x = np.linspace(0, 1, 7)
    h = np.arange(1, 200001)[:, None]
    series = 2 * np.sum(np.cos(2 * np.pi * h * x) / h ** (2.0 * alpha), axis=0)
    tail = 2 * 200000.0 ** (1 - 2 * alpha) / (2 * alpha - 1)  # bound on the truncated tail
    np.testing.assert_allclose(korobov_omega(x, alpha), series, rtol=0, atol=tail + 1e-11)  # plus rounding of 2e5 terms


@pytest.mark.parametrize(("n", "alpha"), [(8, 1), (64, 1), (256, 2), (512, 3), (1024, 1)])
def test_each_component_is_the_brute_force_minimum(n, alpha):
    d = 5
    gamma = 0.9 ** np.arange(1, d + 1)
    res = cbc_lattice(n, d, weights=gamma, alpha=alpha)
    z = res.generating_vector
    assert z.dtype == np.int64 and z[0] == 1 and np.all(z % 2 == 1) and np.all((z > 0) & (z < n))
    k = np.arange(n)
    p = 1.0 + gamma[0] * korobov_omega(k / n, alpha)
    for j in range(1, d):
        cand = np.arange(1, n, 2)
        errs = [np.mean(p * (1 + gamma[j] * korobov_omega((k * c % n) / n, alpha))) - 1 for c in cand]
        chosen = np.mean(p * (1 + gamma[j] * korobov_omega((k * z[j] % n) / n, alpha))) - 1
        assert chosen <= min(errs) * (1 + 1e-12)
        np.testing.assert_allclose(res.worst_case_error[j] ** 2, chosen, rtol=1e-12)
        p *= 1 + gamma[j] * korobov_omega((k * z[j] % n) / n, alpha)


def test_worst_case_error_matches_double_sum():
    res = cbc_lattice(128, 4, weights=[1.0, 0.5, 0.3, 0.2], alpha=2)
    for j in range(4):
        ref = _sq_error_dense(res.generating_vector[: j + 1], 128, [1.0, 0.5, 0.3, 0.2][: j + 1], 2)
        # e^2 = mean(K) - 1 cancels against 1: compare absolutely at a few eps.
        np.testing.assert_allclose(res.worst_case_error[j] ** 2, ref, rtol=0, atol=50 * np.finfo(float).eps)


def test_error_decays_like_n_to_minus_alpha():
    # With summable weights the CBC error is O(n^(-alpha + delta)) [Dick-Kuo-Sloan]; it cannot beat
    # n^-alpha.  Pre-asymptotically (log factors) the observed rate is lower, but far above MC's 1/2.
    errs = [cbc_lattice(2**m, 4, weights=0.5**np.arange(4), alpha=1).worst_case_error[-1]
            for m in (8, 12, 16)]
    rates = [math.log(errs[i] / errs[i + 1]) / math.log(2**4) for i in range(2)]
    assert 0.7 < rates[0] < rates[1] < 1.0


def test_extensible_keeps_every_power_of_two_good():
    n, d = 2**12, 6
    gamma = 1.0 / np.arange(1, d + 1) ** 2
    ext = cbc_lattice(n, d, weights=gamma, extensible=True).generating_vector
    fixed = cbc_lattice(n, d, weights=gamma).generating_vector
    for m in range(3, 13):
        best_m = cbc_lattice(2**m, d, weights=gamma).worst_case_error[-1]
        e_ext = math.sqrt(_sq_error_fast(ext % 2**m, 2**m, gamma))
        assert e_ext <= 2.0 * best_m  # within a factor 2 of the best rule for that n alone
    # the full-size rule is not worse than the best fixed-n rule by much either
    assert _sq_error_fast(ext, n, gamma) <= 1.5**2 * _sq_error_fast(fixed, n, gamma)


def _sq_error_fast(z, n, gamma):
    k = np.arange(n)
    p = np.ones(n)
    for zj, g in zip(z, gamma, strict=True):
        p *= 1 + g * korobov_omega((k * zj % n) / n, 1)
    return p.mean() - 1


def test_shipped_vector_is_reproducible():
    from orthla.qmc._lattice import _shipped_vector

    g = _shipped_vector("orthla-3600")
    assert g.shape == (3600,) and np.all(g % 2 == 1) and g.max() < 2**20
    d = 6
    res = cbc_lattice(2**20, d, weights=1.0 / np.arange(1, d + 1) ** 2, extensible=True)
    np.testing.assert_array_equal(res.generating_vector, g[:d])


def test_errors():
    with pytest.raises(ValueError, match=r"`n` must be a power of two \(2\^m points\); got 100"):
        cbc_lattice(100, 2)
    with pytest.raises(ValueError, match="`d` must be an integer at least 1; got 0"):
        cbc_lattice(64, 0)
    with pytest.raises(ValueError, match="`alpha` must be an integer at least 1 and at most 5; got 6"):
        cbc_lattice(64, 2, alpha=6)
    with pytest.raises(ValueError, match="`weights` must be positive"):
        cbc_lattice(64, 2, weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="length at least d = 3"):
        cbc_lattice(64, 3, weights=[1.0, 1.0])
    with pytest.raises(TypeError, match="`n` must be an integer"):
        cbc_lattice(64.0, 2)
