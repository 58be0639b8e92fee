import numpy as np
import pytest
import scipy.stats.qmc as sqmc

from orthla._testing import assert_close, to_host
from orthla.qmc import Halton
from orthla.qmc._halton import first_primes


def _digits(i, b, K):
    out = []
    for _ in range(K):
        i, r = divmod(i, b)
        out.append(r)
    return out


def test_primes_match_scipy():
    np.testing.assert_array_equal(first_primes(200), sqmc.Halton(200, scramble=False).base)
    assert first_primes(1).tolist() == [2]


@pytest.mark.parametrize("d", [1, 5, 60])
def test_unrandomized_equals_scipy_bit_for_bit(xp, d):
    ref = sqmc.Halton(d, scramble=False)
    eng = Halton(d, randomize=False, xp=xp)
    assert_close(eng.random(300), ref.random(300), xp=xp, rtol=0, atol=0)
    assert_close(eng.random(211), ref.random(211), xp=xp, rtol=0, atol=0)


def test_digit_permutation_equals_scipy_scramble_with_its_permutations(xp):
    ref = sqmc.Halton(8, rng=5)
    eng = Halton(8, randomize="dp", xp=xp)
    eng.permutations = [p[None] for p in ref._permutations]  # same randomness, fixed
    ref.fast_forward(40)
    eng.fast_forward(40)
    assert_close(eng.random(400), ref.random(400), xp=xp, rtol=0, atol=0)


@pytest.mark.parametrize("randomize", ["lms", "lms-dp"])
def test_lms_is_the_digit_transformation(randomize):
    eng = Halton(4, randomize=randomize, rng=9)
    x = eng.random(300)
    for j, b in enumerate(eng.bases.tolist()):
        L, P = eng.lms_matrices[j][0], eng.permutations[j][0]
        K = L.shape[0]
        assert np.all(np.triu(L, 1) == 0) and np.all((np.diag(L) >= 1) & (np.diag(L) < b))
        for i in (0, 1, 7, 123, 299):
            s = L @ np.array(_digits(i, b, K)) % b
            ref = sum(float(P[r, s[r]]) * b ** -(r + 1.0) for r in range(K))
            assert abs(x[i, j] - ref) <= 4 * np.finfo(float).eps


@pytest.mark.parametrize("randomize", [False, "dp", "lms", "lms-dp"])
def test_stratification_in_each_base_is_kept(randomize):
    # n = b^k consecutive points put exactly one point in each interval [a/b^k, (a+1)/b^k).
    eng = Halton(3, randomize=randomize, rng=2)
    x = eng.random(125)
    for j, (b, k) in enumerate(((2, 6), (3, 4), (5, 3))):
        cells = np.floor(x[: b**k, j] * b**k + 1e-9).astype(int)  # unscrambled points sit on cell edges
        np.testing.assert_array_equal(np.sort(cells), np.arange(b**k))


@pytest.mark.parametrize("randomize", [False, "dp", "lms", "lms-dp"])
def test_numba_engine_matches_xp_engine(needs_numba, randomize):
    a = Halton(12, randomize=randomize, rng=4, replications=2, engine="numba")
    b = Halton(12, randomize=randomize, rng=4, replications=2, engine="xp")
    np.testing.assert_array_equal(a.random(200), b.random(200))
    a.fast_forward(5000)
    b.fast_forward(5000)
    np.testing.assert_array_equal(a.random(77), b.random(77))


def test_randomized_estimates_are_unbiased_and_beat_monte_carlo():
    c = np.array([1.0, 0.7, 0.5, 0.3, 0.2])
    exact = float(np.prod(np.expm1(c) / c))
    x = Halton(5, rng=11, replications=16).random(2048)
    est = np.exp(x @ c).mean(axis=1)
    se = est.std(ddof=1) / np.sqrt(16)
    assert abs(est.mean() - exact) < 4 * se
    mc_sd = np.exp(np.random.default_rng(0).random((20000, 5)) @ c).std() / np.sqrt(2048)
    assert est.std(ddof=1) < mc_sd / 10


def test_float32_and_namespace(xp):
    x = Halton(3, rng=1, xp=xp, dtype=xp.float32).random(50)
    assert x.dtype == xp.float32
    xh = to_host(x)
    assert np.all((xh >= 0) & (xh < 1))


def test_errors():
    with pytest.raises(ValueError, match=r"`randomize` must be one of \('lms-dp', 'dp', 'lms', False\); got 'ds'"):
        Halton(2, randomize="ds")
    with pytest.raises(ValueError, match="`d` must be an integer at least 1; got 0"):
        Halton(0)
    with pytest.raises(ValueError, match="`engine` must be one of"):
        Halton(2, engine="cuda")
