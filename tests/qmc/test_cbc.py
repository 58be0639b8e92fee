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
        # the reference mean(p) - 1 cancels against 1 (absolute error a few eps); orthla tracks p - 1
        np.testing.assert_allclose(res.worst_case_error[j] ** 2, chosen, rtol=1e-12, atol=8 * np.finfo(float).eps)
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


def _brute_force_scaled(n, d, gamma, alpha):
    """CBC by brute force over the odd candidates, with the running product renormalized to
    max 1 after every component (the argmin is scale-invariant); returns z and log2 e^2."""
    k = np.arange(n)
    p, log_scale = np.ones(n), 0.0
    z, log2_e2 = [1], []
    for j in range(d):
        if j > 0:
            cand = np.arange(1, n, 2)
            errs = [np.mean(p * (1 + gamma[j] * korobov_omega((k * c % n) / n, alpha))) for c in cand]
            z.append(int(cand[int(np.argmin(errs))]))
        p = p * (1 + gamma[j] * korobov_omega((k * z[j] % n) / n, alpha))
        m = np.max(np.abs(p))
        p, log_scale = p / m, log_scale + math.log2(m)
        lm = math.log2(np.mean(p)) + log_scale  # log2(e^2 + 1)
        log2_e2.append(math.log2(2.0**lm - 1.0) if lm < 60 else lm)  # the 1 is below rounding beyond
    return np.array(z), np.array(log2_e2)


@pytest.mark.parametrize(("d", "weights", "alpha"), [(600, 1.0, 1), (3, 1e150, 1), (25, 1e20, 2)])
def test_large_products_are_rescaled_not_overflowed(d, weights, alpha):
    # The running product overflowed (inf/nan errors, RuntimeWarnings, then z = 1 everywhere) for
    # unit weights beyond d = 490 and for weights near 1e150; it is now divided by powers of two.
    n = 32
    gamma = np.full(d, weights)
    res = cbc_lattice(n, d, weights=weights, alpha=alpha)
    assert np.all(np.isfinite(res.worst_case_error))
    z_ref, log2_e2 = _brute_force_scaled(n, d, gamma, alpha)
    # the candidates' errors may tie to rounding: compare the error each choice reaches
    k = np.arange(n)
    p, lp = np.ones(n), 0.0
    def log2_mean(zz, j):
        return math.log2(np.mean(p * (1 + gamma[j] * korobov_omega((k * zz % n) / n, alpha))))

    for j in range(d):
        mine, ref = log2_mean(res.generating_vector[j], j), log2_mean(z_ref[j], j)
        assert mine <= ref + 1e-12 * max(1.0, abs(ref))
        p = p * (1 + gamma[j] * korobov_omega((k * res.generating_vector[j] % n) / n, alpha))
        m = np.max(np.abs(p))
        p, lp = p / m, lp + math.log2(m)
    np.testing.assert_allclose(2 * np.log2(res.worst_case_error[-1]), lp + math.log2(np.mean(p)), rtol=1e-12)
    np.testing.assert_allclose(2 * np.log2(res.worst_case_error), log2_e2, rtol=1e-9)


def test_weights_whose_error_overflows_are_refused():
    with pytest.raises(ValueError, match=r"`weights` must be at most 2\^900 / omega\(0\) = 2.57e\+270.*got weights\[0\] = 1e\+300"):
        cbc_lattice(64, 3, weights=1e300)  # accepted before, with overflow and NaN errors
    with pytest.raises(ValueError, match=r"`weights` are too large for d = 1000: sum_j log2\(1 \+ gamma_j omega\(0\)\) = 2100.9 exceeds 2000"):
        cbc_lattice(64, 1000)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="`weights` must be finite"):
            cbc_lattice(64, 2, weights=[1.0, bad])
    for bad in ("1", True, [1.0, 1j], np.array([1, 0], dtype=bool)):
        with pytest.raises(TypeError, match="`weights` must"):
            cbc_lattice(64, 2, weights=bad)
    for name, kw in (("n", dict(n=True, d=2)), ("d", dict(n=64, d=True)), ("alpha", dict(n=64, d=2, alpha=True))):
        with pytest.raises(TypeError, match=f"`{name}` must be an integer; got the boolean True"):
            cbc_lattice(**kw)


def test_small_weights_give_relatively_accurate_errors():
    # e^2 = mean(p) - 1 cancelled against 1: weights 1e-300 gave errors 0 (relative error 1);
    # orthla tracks p - 1 instead.  Reference: the same sum in 400-digit arithmetic.
    mpmath = pytest.importorskip("mpmath")
    n, d = 64, 3
    for w in (1e-300, 1e-20, 1e-8, 0.3):
        res = cbc_lattice(n, d, weights=w)
        with mpmath.workdps(400):
            p = [mpmath.mpf(1)] * n
            for j in range(d):
                for k in range(n):
                    x = mpmath.mpf(k * int(res.generating_vector[j]) % n) / n
                    p[k] *= 1 + mpmath.mpf(w) * 2 * mpmath.pi**2 * (x * x - x + mpmath.mpf(1) / 6)
                q = [pk - 1 for pk in p]
                e2 = sum(q) / n
                # summing q_k of both signs: relative error up to ~ n eps sum|q_k| / |sum q_k|
                cond = float(sum(abs(qk) for qk in q) / abs(sum(q)))
                rtol = 4 * n * np.finfo(float).eps * cond
                np.testing.assert_allclose(res.worst_case_error[j], float(mpmath.sqrt(e2)), rtol=rtol)


@pytest.mark.parametrize("alpha", [1, 2])
@pytest.mark.parametrize("weight", [1e-8, 1e-17, 1e-300])
def test_tiny_weights_still_choose_the_best_candidate(weight, alpha):
    # With weights below about 1e-17 the running product p = 1 + q rounds to 1, the scores
    # sum_k p_k omega(k z / n) were the same for every z (a permutation of one sum), and the
    # rounding-tied argmin gave z = (1, 1, 1): every coordinate equal.  For small weights the
    # exact CBC choice of z_2 minimizes sum_k omega(k / n) omega(k z / n) (the gamma^2 term).
    n = 64
    k = np.arange(n)
    res = cbc_lattice(n, 3, weights=weight, alpha=alpha)
    second = {c: float(np.sum(korobov_omega(k / n, alpha) * korobov_omega((k * c % n) / n, alpha)))
              for c in range(1, n, 2)}
    best = min(second.values())
    z2 = int(res.generating_vector[1])
    assert z2 != 1
    # candidates tie in pairs to rounding (sum of 64 terms of size <= omega(0)^2 = 10.8)
    assert second[z2] <= best + 64 * 11 * np.finfo(float).eps
    assert second[1] > 2 * best  # z = 1 is far from optimal
