"""SciPy's QMC engine tests (scipy/stats/tests/test_qmc.py), ported to orthla's engines.

The applicable tests of ``QMCEngineTests``, ``TestSobol`` and ``TestHalton`` (and of
``QMCEngine.integers``) run on ``Sobol``, ``DigitalNet``, ``Halton`` and ``Lattice``, plus
SciPy's consumers of engines (``MultivariateNormalQMC``, ``MultinomialQMC``,
``NumericalInversePolynomial.qrvs``).  Deliberate differences (listed in docs/qmc.md):
``randomize=`` instead of ``scramble=``, and no ``seed=``; natural order by default (SciPy's
Sobol' order is ``order="gray"``); orthla's own randomizations, so SciPy's scrambled
reference values do not apply (their statistical properties are checked instead); ``t <= 63``
bits instead of ``bits <= 64``; orthla's error messages.
"""

from collections import Counter

import numpy as np
import pytest
import scipy.stats as stats
from numpy.testing import assert_allclose, assert_array_equal, assert_equal
from scipy.spatial import distance
from scipy.stats import qmc
from scipy.stats.sampling import NumericalInversePolynomial

from orthla.qmc import DigitalNet, Halton, Lattice, Sobol

SEED = 170382760648021597650530316304495310428
BALANCE = r"The balance properties of Sobol' points"

# SciPy's references: Sobol' (Joe-Kuo) in Gray order, Halton from van der Corput.
SOBOL_REF = np.array([[0.0, 0.0], [0.5, 0.5], [0.75, 0.25], [0.25, 0.75],
                      [0.375, 0.375], [0.875, 0.875], [0.625, 0.125], [0.125, 0.625]])
HALTON_REF = np.array([[0, 0], [1 / 2, 1 / 3], [1 / 4, 2 / 3], [3 / 4, 1 / 9],
                       [1 / 8, 4 / 9], [5 / 8, 7 / 9], [3 / 8, 2 / 9], [7 / 8, 5 / 9]])


def _sobol(d, scramble, rng=SEED, **kw):
    return Sobol(d, randomize="lms-ds" if scramble else False, order="gray", rng=rng, **kw)


def _net(d, scramble, rng=SEED, **kw):
    return DigitalNet(d, randomize="ds" if scramble else False, rng=rng, **kw)


def _halton(d, scramble, rng=SEED, **kw):
    return Halton(d, randomize="lms-dp" if scramble else False, rng=rng, **kw)


def _halton_dp(d, scramble, rng=SEED, **kw):
    return Halton(d, randomize="dp" if scramble else False, rng=rng, **kw)


def _lattice(d, scramble, rng=SEED, **kw):
    return Lattice(d, randomize="shift" if scramble else False, rng=rng, **kw)


ENGINES = {"Sobol": _sobol, "DigitalNet": _net, "Halton": _halton, "Halton-dp": _halton_dp,
           "Lattice": _lattice}
REFERENCE = {"Sobol": SOBOL_REF, "Halton": HALTON_REF, "Halton-dp": HALTON_REF}


@pytest.fixture(params=list(ENGINES))
def name(request):
    return request.param


@pytest.fixture(params=[True, False], ids=["Scrambled", "Unscrambled"])
def scramble(request):
    return request.param


def test_is_a_scipy_qmc_engine(name, scramble):
    eng = ENGINES[name](2, scramble)
    assert isinstance(eng, qmc.QMCEngine)


# ---------------------------------------------------------------- QMCEngineTests


def test_0dim(name, scramble):
    sample = ENGINES[name](0, scramble).random(4)
    assert_array_equal(np.empty((4, 0)), sample)


def test_0sample(name, scramble):
    sample = ENGINES[name](2, scramble).random(0)
    assert_array_equal(np.empty((0, 2)), sample)


def test_1sample(name, scramble):
    assert ENGINES[name](2, scramble).random(1).shape == (1, 2)


def test_bounds(name, scramble):
    sample = ENGINES[name](100, scramble).random(512)
    assert np.all(sample >= 0) and np.all(sample < 1)


def test_sample(name, scramble):
    eng = ENGINES[name](2, scramble)
    ref = REFERENCE.get(name)
    if ref is None or scramble:  # orthla's own randomizations: no published values
        sample = eng.random(8)
        assert sample.shape == (8, 2) and np.all((sample >= 0) & (sample < 1))
    else:
        sample = eng.random(n=len(ref))
        assert_allclose(sample, ref, rtol=0, atol=1e-15)
    assert eng.num_generated == 8


def test_continuing(name, scramble):
    ref = ENGINES[name](2, scramble).random(n=8)
    eng = ENGINES[name](2, scramble)
    eng.random(n=4)
    assert_array_equal(eng.random(n=4), ref[4:])  # SciPy: atol=1e-1; orthla replays exactly


@pytest.mark.parametrize("rng", [SEED, "generator", None])
def test_reset(name, scramble, rng):
    if rng == "generator":
        rng = np.random.default_rng(SEED)
    eng = ENGINES[name](2, scramble, rng=rng)
    ref = eng.random(n=8)
    eng.reset()
    assert eng.num_generated == 0
    assert_array_equal(eng.random(n=8), ref)


def test_fast_forward(name, scramble):
    ref = ENGINES[name](2, scramble).random(n=8)
    eng = ENGINES[name](2, scramble)
    eng.fast_forward(4)
    assert_array_equal(eng.random(n=4), ref[4:])
    # alternate fast forwarding with sampling
    eng.reset()
    even = []
    for i in range(8):
        if i % 2 == 0:
            even.append(eng.random())
        else:
            eng.fast_forward(1)
    assert_array_equal(ref[::2], np.concatenate(even))


def test_distribution(name):
    d = 50
    sample = ENGINES[name](d, True).random(1024)
    assert_allclose(np.mean(sample, axis=0), np.repeat(0.5, d), atol=1e-2)
    assert_allclose(np.percentile(sample, 25, axis=0), np.repeat(0.25, d), atol=1e-2)
    assert_allclose(np.percentile(sample, 75, axis=0), np.repeat(0.75, d), atol=1e-2)


def test_raises_optimizer(name):
    with pytest.raises(ValueError, match=r"'toto' is not a valid optimization method"):
        ENGINES[name](1, False, optimization="toto")


def _l1_norm(sample):
    return distance.pdist(sample, "cityblock").min()


@pytest.mark.parametrize("optimization,metric", [("random-CD", qmc.discrepancy),
                                                  ("lloyd", lambda s: -_l1_norm(s))])
@pytest.mark.parametrize("engine", ["Sobol", "Halton"])
def test_optimizers(engine, optimization, metric):
    ref = ENGINES[engine](2, False).random(n=64)
    opt = ENGINES[engine](2, False, optimization=optimization)
    sample = opt.random(n=64)
    assert metric(sample) < metric(ref)
    assert sample.shape == (64, 2) and opt.num_generated == 64


def test_optimization_keeps_the_randomization_stream(name):
    # the optimizer draws from its own Generator: the engine's randomization is unchanged
    plain = ENGINES[name](3, True, rng=5)
    opt = ENGINES[name](3, True, rng=5, optimization="random-cd")
    assert_array_equal(np.sort(opt.random(16), axis=0), np.sort(plain.random(16), axis=0))


def test_optimization_needs_numpy_points():
    import array_api_strict as xps

    with pytest.raises(ValueError, match="`optimization` runs SciPy's optimizers on NumPy"):
        Sobol(2, optimization="lloyd", xp=xps)
    with pytest.raises(TypeError, match="`optimization` must be None"):
        Halton(2, optimization=3)


def test_consume_prng_state(name):
    rng = np.random.default_rng(0xA29CABB11CFDF44FF6CAC8BEC254C2A0)
    sample = [ENGINES[name](2, True, rng=rng).random(4) for _ in range(3)]
    assert not np.array_equal(sample[0], sample[1])
    assert not np.array_equal(sample[0], sample[2])


# ---------------------------------------------------------------- integers


def test_integers_1d(name):
    eng = ENGINES[name](1, True, rng=231195739755290648063853336582377368684)
    sample = eng.integers(1, n=10)
    assert_equal(np.unique(sample), [0])
    assert sample.dtype == np.dtype("int64")
    sample = eng.integers(1, n=10, endpoint=True)
    assert_equal(np.unique(sample), [0, 1])

    low, high = -5, 7
    eng.reset()
    ref = np.floor(eng.random(20) * (high - low) + low).astype(np.int64)
    eng.reset()
    assert_equal(eng.integers(low, u_bounds=high, n=20, endpoint=False), ref)
    # up to the bounds, no less, no more
    sample = eng.integers(low, u_bounds=high, n=128, endpoint=False)
    assert_equal((sample.min(), sample.max()), (low, high - 1))
    sample = eng.integers(low, u_bounds=high, n=128, endpoint=True)
    assert_equal((sample.min(), sample.max()), (low, high))


def test_integers_nd(name):
    d = 10
    rng = np.random.default_rng(3716505122102428560615700415287450951)
    low = rng.integers(low=-5, high=-1, size=d)
    high = rng.integers(low=1, high=5, size=d, endpoint=True)
    eng = ENGINES[name](d, True, rng=rng)
    sample = eng.integers(low, u_bounds=high, n=128, endpoint=False)
    assert_equal(sample.min(axis=0), low)
    assert_equal(sample.max(axis=0), high - 1)
    sample = eng.integers(low, u_bounds=high, n=128, endpoint=True)
    assert_equal(sample.min(axis=0), low)
    assert_equal(sample.max(axis=0), high)


def test_integers_errors():
    eng = Sobol(2, rng=1)
    with pytest.raises(TypeError, match="`u_bounds` must hold integers"):
        eng.integers(2.5)
    with pytest.raises(TypeError, match="`l_bounds` must hold integers"):
        eng.integers([0.0, 1.0], u_bounds=4)
    with pytest.raises(ValueError, match=r"`l_bounds` must be below `u_bounds`"):
        eng.integers(3, u_bounds=[4, 3])
    with pytest.raises(ValueError, match=r"`u_bounds` must be an integer or have shape \(2,\)"):
        eng.integers([1, 2, 3])
    with pytest.raises(TypeError, match="`endpoint` must be True or False"):
        eng.integers(3, endpoint="yes")


def test_integers_replications_and_binary():
    eng = Sobol(3, rng=2, replications=4)
    assert eng.integers(5, n=8).shape == (4, 8, 3)
    a = Sobol(3, rng=2, return_binary=True).integers(5, n=8)
    b = Sobol(3, rng=2).integers(5, n=8)
    assert_array_equal(a, b)


# ---------------------------------------------------------------- TestHalton


def test_halton_workers():
    eng = _halton(2, True)
    ref = eng.random(n=8)
    eng.reset()
    assert_array_equal(eng.random(n=8, workers=8), ref)
    eng.reset()
    ref = eng.integers(10)
    eng.reset()
    assert_equal(eng.integers(10, workers=8), ref)


@pytest.mark.parametrize("randomize", ["lms-dp", "dp", "lms", "nus", False])
def test_halton_workers_split_dimensions_bit_for_bit(randomize):
    eng = Halton(37, randomize=randomize, rng=3, replications=2)
    ref = eng.random(300)
    assert_array_equal(eng.reset().random(300, workers=3), ref)
    assert_array_equal(eng.reset().random(300, workers=-1), ref)


@pytest.mark.parametrize("name", ["Sobol", "Lattice"])
def test_workers_accepted_by_every_engine(name):
    eng = ENGINES[name](3, True)
    ref = eng.random(8)
    assert_array_equal(eng.reset().random(8, workers=2), ref)


def test_workers_errors():
    with pytest.raises(ValueError, match="`workers` must be -1"):
        Halton(2).random(4, workers=0)
    with pytest.raises(TypeError, match="`workers` must be an integer"):
        Sobol(2).random(4, workers=1.5)


# ---------------------------------------------------------------- TestSobol


def test_sobol_warning():
    with pytest.warns(UserWarning, match=BALANCE):
        Sobol(1).random(10)
    with pytest.warns(UserWarning, match=BALANCE):
        DigitalNet(1).integers(3, n=6)


def test_sobol_no_warning_for_powers_of_two_and_later_draws():
    import warnings

    eng = Sobol(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eng.random(8)
        eng.random(3)  # only the first draw is checked, as in SciPy
        Halton(2).random(10)
        Lattice(2).random(10)


def test_sobol_random_base2():
    eng = _sobol(2, False)
    assert_array_equal(eng.random_base2(2), SOBOL_REF[:4])
    assert_array_equal(eng.random_base2(2), SOBOL_REF[4:8])
    with pytest.raises(ValueError, match=BALANCE):
        eng.random_base2(2)


def test_sobol_raise():
    with pytest.raises(ValueError, match=r"`d` = 21202 exceeds the 21201 dimensions"):
        Sobol(Sobol.MAXDIM + 1)
    with pytest.raises(ValueError, match=r"`t` must be an integer"):
        Sobol(1, t=64)  # orthla keeps t <= 63 digits (SciPy: bits <= 64)


def test_maxdim():
    assert Sobol.MAXDIM == DigitalNet.MAXDIM == qmc.Sobol.MAXDIM == 21201
    assert Sobol(Sobol.MAXDIM, randomize=False).random(2).shape == (2, 21201)


def test_sobol_high_dim():
    eng = _sobol(1111, False)
    assert_equal(Counter(eng.random().flatten().tolist()), Counter({0.0: 1111}))
    assert_equal(Counter(eng.random().flatten().tolist()), Counter({0.5: 1111}))


@pytest.mark.parametrize("bits", [2, 3])
def test_sobol_bits(bits):
    eng = _sobol(2, False, t=bits)
    ns = 2**bits
    assert_array_equal(eng.random(ns), SOBOL_REF[:ns])
    with pytest.raises(ValueError, match="cannot draw 1 points after"):
        eng.random()


def test_sobol_63bits():
    assert_array_equal(_sobol(2, False, t=63).random(8), SOBOL_REF)


# ---------------------------------------------------------------- SciPy's consumers of engines


@pytest.mark.parametrize("d", [0, 1, 2])
def test_multivariate_normal_qmc_accepts_orthla_engines(name, d):
    base = ENGINES[name](d, False)
    eng = qmc.MultivariateNormalQMC(mean=np.zeros(d), engine=base, inv_transform=True)
    assert eng.random().shape == (1, d)


def test_multivariate_normal_qmc_moments(name):
    mean, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 1.0]])
    eng = qmc.MultivariateNormalQMC(mean, cov, engine=ENGINES[name](2, True, rng=4))
    x = eng.random(1024)
    assert_allclose(x.mean(axis=0), mean, atol=0.05)
    assert_allclose(np.cov(x.T), cov, atol=0.1)


def test_multinomial_qmc_accepts_orthla_engines(name):
    rng = np.random.default_rng(283753519042773243071753037669078065412)
    p = np.array([0.12, 0.26, 0.05, 0.35, 0.22])
    n_trials = 100
    expected = np.atleast_2d(n_trials * p).astype(int)
    eng = qmc.MultinomialQMC(p, n_trials=n_trials, engine=ENGINES[name](1, True, rng=rng), rng=rng)
    assert_allclose(eng.random(1), expected, atol=1)


def test_numerical_inverse_polynomial_qrvs(name):
    rng = np.random.default_rng(7)
    gen = NumericalInversePolynomial(stats.norm(), random_state=rng)
    x = gen.qrvs(size=1024, qmc_engine=ENGINES[name](1, True, rng=8))
    assert x.shape == (1024,)
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
