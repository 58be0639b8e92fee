"""Engines in SciPy's hands: ``scipy.integrate.qmc_quad`` (which remakes engines with ``seed=`` and
``_init_quad``), SciPy's former keyword ``seed``, pickling and deep copies."""

import copy
import math
import pickle

import numpy as np
import pytest
from scipy.integrate import qmc_quad

from orthla._testing import to_host
from orthla.qmc import DigitalNet, Halton, Lattice, Sobol

ENGINES = [
    lambda **kw: Sobol(3, **kw),
    lambda **kw: DigitalNet(3, randomize="nus", **kw),
    lambda **kw: Halton(3, **kw),
    lambda **kw: Lattice(3, **kw),
]
IDS = ["sobol", "digitalnet-nus", "halton", "lattice"]


@pytest.mark.parametrize("make", ENGINES, ids=IDS)
def test_qmc_quad_takes_every_engine(make):
    # prod_j (1 + cos(2 pi x_j) / 2 + x_j) over [0, 1]^3 is 1.5^3: qmc_quad's 8 estimates come
    # from 8 engines of the same kind it makes itself, independently randomized
    def f(x):  # x: (d, n), as qmc_quad passes it
        return np.prod(1 + np.cos(2 * np.pi * x) / 2 + x, axis=0)

    res = qmc_quad(f, np.zeros(3), np.ones(3), n_points=2**10, qrng=make(rng=3))
    assert 0 < res.standard_error < 1e-2
    assert abs(res.integral - 1.5**3) <= 6 * res.standard_error
    again = qmc_quad(f, np.zeros(3), np.ones(3), n_points=2**10, qrng=make(rng=3))
    assert again.integral == res.integral  # reproducible from the engine's generator


def test_init_quad_holds_the_constructor_arguments():
    e = Sobol(4, order="gray", randomize="lms", rng=1)
    assert e._init_quad == {"d": 4, "order": "gray", "randomize": "lms"}
    assert Lattice(2, rng=2, m_max=12)._init_quad == {"d": 2, "m_max": 12}
    # a remade engine is of the same kind, with its own randomization
    other = type(e)(seed=np.random.default_rng(9), **e._init_quad)
    assert other.order == "gray" and other.randomize == "lms" and other.d == 4
    assert not np.array_equal(other.random(4), Sobol(4, order="gray", randomize="lms", rng=1).random(4))


def test_seed_is_the_former_name_of_rng():
    np.testing.assert_array_equal(Halton(2, seed=7).random(16), Halton(2, rng=7).random(16))
    with pytest.raises(TypeError, match=r"`rng`.*`seed`\), not both"):
        Sobol(2, seed=1, rng=2)


@pytest.mark.parametrize("make", [*ENGINES, lambda **kw: Sobol(2, optimization="random-cd", **kw),
                                  lambda **kw: Halton(2, replications=3, **kw)],
                         ids=[*IDS, "optimized", "replications"])
def test_pickle_and_deepcopy_continue_the_sequence(xp, make):
    try:
        e = make(rng=5, xp=xp)
    except ValueError:  # optimization is NumPy-only
        pytest.skip("a NumPy-only variant")
    first = to_host(e.random(8))
    assert first.shape[-2] == 8
    for twin in (pickle.loads(pickle.dumps(e)), copy.deepcopy(e)):
        assert twin.xp is e.xp and twin.num_generated == 8
        np.testing.assert_array_equal(to_host(twin.random(8)), to_host(copy.deepcopy(e).random(8)))
    np.testing.assert_array_equal(to_host(pickle.loads(pickle.dumps(e)).random(4)), to_host(e.random(4)))
    assert math.isfinite(float(first.sum()))


@pytest.mark.parametrize("make", [lambda: Sobol(3, replications=2, rng=3), lambda: Sobol(3, return_binary=True, rng=3)],
                         ids=["replications", "return_binary"])
def test_qmc_quad_refuses_engines_that_are_not_one_point_set(make):
    # qmc_quad would sum the R replications (R times the integral) or the raw 63-bit integers
    with pytest.raises(ValueError, match="without `replications`.*return_binary=False"):
        qmc_quad(lambda x: x.sum(axis=0), np.zeros(3), np.ones(3), n_points=64, qrng=make())


def test_init_quad_of_users_subclasses():
    class Legacy(Sobol):  # a seed parameter of its own: not rewritten to rng
        def __init__(self, d, seed=None):
            super().__init__(d, rng=seed)

    np.testing.assert_array_equal(Legacy(2, seed=5).random(4), Sobol(2, rng=5).random(4))

    class Logged(Sobol):  # everything through **kwargs: flattened
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    assert Logged(d=2, order="gray", rng=1)._init_quad == {"d": 2, "order": "gray"}
    with pytest.raises(TypeError, match="keyword arguments only"):
        _ = Logged(2, rng=1)._init_quad

    class OnXp(Sobol):  # a module among the positional arguments: copied by name
        def __init__(self, d, xp, **kw):
            super().__init__(d, xp=xp, **kw)

    e = OnXp(2, np, rng=1)
    assert copy.deepcopy(e)._init_quad["xp"] is np


def test_init_quad_keeps_the_arrays_as_given():
    # the caller's array changed afterwards: the engines qmc_quad remakes use the original
    gm = np.array([[1 << 62, 1 << 61], [1 << 62, (1 << 62) | (1 << 61)]], dtype=np.uint64)
    e = DigitalNet(2, generating_matrices=gm, rng=1)
    gm[:] = 0
    np.testing.assert_array_equal(e._init_quad["generating_matrices"][:, 0], [1 << 62, 1 << 62])


def test_rng_seed_is_the_generator_before_the_randomization():
    from scipy.stats import qmc

    for e in (Sobol(2, rng=11), Sobol(2, rng=11, optimization="random-cd")):
        before = np.random.default_rng(11).random(3)
        np.testing.assert_array_equal(e.rng_seed.random(3), before)  # not the optimizer's stream
        e.rng.random(5)
        qmc.QMCEngine.reset(e)  # SciPy's reset, unbound: rng back to its state before the draws
        np.testing.assert_array_equal(e.rng.random(3), before)
