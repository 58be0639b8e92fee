import numpy as np
import pytest

from orthla._testing import assert_close, to_host
from orthla.qmc import Lattice
from orthla.qmc._bernoulli import korobov_omega
from orthla.qmc._lattice import _shipped_vector

G = np.array([1, 433461, 315689, 441789, 501101])  # any odd integers below 2^20


def _radical_inverse_exact(i, bits):
    return int(format(i, f"0{bits}b")[::-1], 2)


def _natural_reference(g, n, m_max=20, start=0, gray=False):
    """x_i = frac(phi_2(i) g) with Python integers (exact), then one rounding to float64."""
    rows = []
    for i in range(start, start + n):
        j = i ^ (i >> 1) if gray else i
        k = _radical_inverse_exact(j, m_max)
        rows.append([((k * int(gj)) % 2**m_max) / 2**m_max for gj in g])
    return np.array(rows)


def test_natural_order_is_exact(xp):
    eng = Lattice(5, generating_vector=G, randomize=False, xp=xp)
    x = eng.random(100)
    assert_close(x, _natural_reference(G, 100), xp=xp, rtol=0, atol=0)
    assert x.dtype == xp.float64 and eng.num_generated == 100
    assert_close(eng.random(28), _natural_reference(G, 28, start=100), xp=xp, rtol=0, atol=0)


def test_large_m_max_uses_exact_integer_path(xp):
    g = np.array([1, 2**30 + 12345, 987654321])
    x = Lattice(3, generating_vector=g, randomize=False, m_max=31, xp=xp).random(50)
    assert_close(x, _natural_reference(g, 50, m_max=31), xp=xp, rtol=0, atol=0)


@pytest.mark.parametrize("order", ["natural", "gray", "linear"])
def test_every_power_of_two_is_the_lattice(order):
    n = 256
    x = Lattice(5, generating_vector=G, order=order, randomize=False).random(n)
    ref = (np.arange(n)[:, None] * (G % n)[None, :] % n) / n
    np.testing.assert_array_equal(np.unique(x, axis=0), np.unique(ref, axis=0))
    if order == "linear":
        np.testing.assert_array_equal(x, ref)


def test_gray_order_matches_definition():
    x = Lattice(5, generating_vector=G, order="gray", randomize=False).random(64)
    np.testing.assert_array_equal(x, _natural_reference(G, 64, gray=True))


def test_shift_is_a_translation_mod_1_and_keeps_the_lattice(xp):
    n = 128
    eng = Lattice(4, rng=11, replications=3, xp=xp)
    x = to_host(eng.random(n))
    assert x.shape == (3, n, 4)
    base = to_host(Lattice(4, randomize=False, xp=xp).random(n))
    lattice = {tuple(r) for r in np.round(base * n).astype(int) % n}
    for r in range(3):
        np.testing.assert_allclose((x[r] - base) % 1.0, np.broadcast_to(eng.shift[r], base.shape),
                                   rtol=0, atol=1e-15)
        # differences of shifted points mod 1 are points of the unshifted lattice
        diff = (x[r][:, None, :] - x[r][None, ::17, :]) % 1.0
        k = np.round(diff * n)
        np.testing.assert_allclose(diff * n, k, rtol=0, atol=1e-9)
        assert {tuple(v) for v in k.reshape(-1, 4).astype(int) % n} <= lattice
    assert np.all((x >= 0) & (x < 1))
    assert not np.allclose(x[0], x[1])


def test_seeds_reproduce_and_reset_replays(xp):
    a = Lattice(3, rng=5, xp=xp)
    x1 = to_host(a.random(10))
    a.reset()
    np.testing.assert_array_equal(to_host(a.random(10)), x1)
    np.testing.assert_array_equal(to_host(Lattice(3, rng=5, xp=xp).random(10)), x1)
    b = Lattice(3, rng=5, xp=xp).fast_forward(4)
    np.testing.assert_array_equal(to_host(b.random(6)), x1[4:])


def test_float32_stays_in_unit_cube(xp):
    x = Lattice(6, rng=3, xp=xp, dtype=xp.float32).random_base2(12)
    assert x.dtype == xp.float32
    xh = to_host(x)
    assert np.all((xh >= 0) & (xh < 1))


def test_integration_converges_like_n_to_minus_one():
    # f = prod_j (1 + gamma_j omega_1(x_j)) has integral 1 and is smooth and periodic:
    # shifted-lattice errors fall like n^-1 (up to logs), Monte Carlo like n^-1/2.
    gamma = 1.0 / np.arange(1, 5) ** 2
    f = lambda x: np.prod(1 + gamma * korobov_omega(x, 1), axis=-1)  # noqa: E731
    rmse = []
    for m in (8, 14):
        x = Lattice(4, rng=2024, replications=16).random_base2(m)
        rmse.append(np.sqrt(np.mean((f(x).mean(axis=1) - 1.0) ** 2)))
    rate = np.log(rmse[0] / rmse[1]) / np.log(2.0**6)
    assert rate > 0.8


def test_matches_qmcpy_natural_order():
    qp = pytest.importorskip("qmcpy")
    g = _shipped_vector("orthla-3600")[:4]
    ref = qp.Lattice(4, generating_vector=g.astype(np.uint64), randomize=False, order="radical inverse", m_max=20)
    ours = Lattice(4, generating_vector="orthla-3600", randomize=False).random(64)
    np.testing.assert_array_equal(ours, ref.gen_samples(64, warn=False))


def test_kuo_9125_is_the_published_vector():
    g = _shipped_vector("kuo-9125")
    assert g.shape == (9125,) and g.dtype == np.int64
    # Leading and trailing entries of lattice-33002-1024-1048576.9125 as published by F. Y. Kuo.
    np.testing.assert_array_equal(g[:10], [1, 182667, 213731, 255351, 96013, 116671, 479315, 424089, 271103, 464421])
    assert np.all(g % 2 == 1) and g.max() < 2**20
    np.testing.assert_array_equal(Lattice(9125, randomize=False).generating_vector, g)


def test_kuo_9125_matches_qmcpy_default():
    qp = pytest.importorskip("qmcpy")
    ref = qp.Lattice(6, randomize=False, order="radical inverse")
    np.testing.assert_array_equal(Lattice(6, randomize=False).random(128), ref.gen_samples(128, warn=False))


def test_kuo_3600_is_the_published_vector():
    g = _shipped_vector("kuo-3600")
    assert g.shape == (3600,) and g.dtype == np.int64
    # Leading and trailing entries of lattice-32001-1024-1048576.3600 as published by F. Y. Kuo.
    np.testing.assert_array_equal(g[:4], [1, 182667, 469891, 498753])
    assert g[-1] == 148009
    assert np.all(g % 2 == 1) and g.max() < 2**20
    eng = Lattice(3600, generating_vector="kuo-3600", randomize=False)
    np.testing.assert_array_equal(eng.generating_vector, g)
    assert eng.m_max == 20


@pytest.mark.parametrize("d", [5, 3600])
def test_kuo_3600_matches_qmcpy_with_that_vector(d):
    qp = pytest.importorskip("qmcpy")
    g = _shipped_vector("kuo-3600")
    ref = qp.Lattice(d, generating_vector=g.astype(np.uint64), randomize=False, order="radical inverse", m_max=20)
    n = 1024 if d < 100 else 64
    ours = Lattice(d, generating_vector="kuo-3600", randomize=False).random(n)
    np.testing.assert_array_equal(ours, ref.gen_samples(n, warn=False))


def test_errors():
    with pytest.raises(ValueError, match=r"`d` = 3601 exceeds the 3600 dimensions available in generating vector 'orthla-3600'; pass a longer"):
        Lattice(3601, generating_vector="orthla-3600")
    with pytest.raises(ValueError, match=r"`d` = 9126 exceeds the 9125 dimensions available in generating vector 'kuo-9125'"):
        Lattice(9126)
    with pytest.raises(ValueError, match=r"`d` = 3601 exceeds the 3600 dimensions available in generating vector 'kuo-3600'; pass a longer"):
        Lattice(3601, generating_vector="kuo-3600")
    with pytest.raises(ValueError, match=r"`order` must be one of \('natural', 'linear', 'gray'\); got 'random'"):
        Lattice(2, order="random")
    with pytest.raises(ValueError, match=r"`randomize` must be one of \('shift', False\); got 'lms'"):
        Lattice(2, randomize="lms")
    with pytest.raises(ValueError, match=r"`generating_vector` must be one of \('kuo-9125', 'kuo-3600', 'orthla-3600'\); got 'kuo-1'"):
        Lattice(2, generating_vector="kuo-1")
    with pytest.raises(TypeError, match="`generating_vector` must hold integers; got dtype float64"):
        Lattice(2, generating_vector=[0.5, 0.25])
    with pytest.raises(ValueError, match="1-D integer array; got shape"):
        Lattice(2, generating_vector=[[1, 3]])
    with pytest.raises(TypeError, match="`generating_vector` must hold integers; got dtype bool"):
        Lattice(2, generating_vector=[True, True])
    with pytest.raises(TypeError, match="`generating_vector`: orthla does not accept numpy.ma.MaskedArray"):
        Lattice(2, generating_vector=np.ma.masked_array([1, 3], mask=[0, 1]))
    with pytest.raises(ValueError, match=r"exceeds the 1 dimensions available in `generating_vector`"):
        Lattice(2, generating_vector=[1])
    for bad in ("numpy", np.zeros(2)):
        with pytest.raises(TypeError, match="`xp` must be an array-API namespace"):
            Lattice(2, xp=bad)
    with pytest.raises(TypeError, match="`m_max` must be an integer; got the boolean True"):
        Lattice(2, m_max=True)
    with pytest.raises(ValueError, match="`m_max` must be an integer at least 1 and at most 31; got 40"):
        Lattice(2, m_max=40)
    eng = Lattice(2, m_max=4)
    with pytest.raises(ValueError, match=r"cannot draw 17 points after 0: this engine holds at most 2\^4 = 16 points"):
        eng.random(17)
    eng.random(3)
    with pytest.raises(ValueError, match=r"3 \+ 2\^2 = 7 is not"):
        eng.random_base2(2)
    with pytest.raises(ValueError, match="order='linear' gives a whole lattice of n = 2\\^m points"):
        Lattice(2, order="linear").random(12)
    with pytest.raises(TypeError, match="`dtype` must be float64 or float32"):
        Lattice(2, dtype=np.int64)
    with pytest.raises(TypeError, match="`rng` must be"):
        Lattice(2, rng="seed")


@pytest.mark.parametrize("order", ["natural", "gray", "linear"])
@pytest.mark.parametrize("randomize", ["shift", False])
def test_numba_engine_matches_xp_engine(needs_numba, order, randomize):
    kw = dict(order=order, randomize=randomize, rng=3, replications=2)
    a, b = Lattice(7, engine="numba", **kw), Lattice(7, engine="xp", **kw)
    np.testing.assert_array_equal(a.random(256), b.random(256))
    if order != "linear":
        np.testing.assert_array_equal(a.random(100), b.random(100))
    g = [1, 2**30 + 3, 2**29 + 5]  # integer path of the xp engine
    a = Lattice(3, generating_vector=g, m_max=31, engine="numba", **kw)
    b = Lattice(3, generating_vector=g, m_max=31, engine="xp", **kw)
    np.testing.assert_array_equal(a.random(128), b.random(128))


def test_numba_engine_refuses_other_backends():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="engine='numba' needs NumPy input"):
        Lattice(2, engine="numba", xp=strict)


def test_random_base2_checks_the_capacity_before_forming_two_to_the_m():
    # random_base2(10**30) computed 2**(10**30) and never returned
    from orthla.qmc import Halton, Sobol

    for eng in (Lattice(2, m_max=4), Sobol(2), Halton(2)):
        with pytest.raises(ValueError, match=r"cannot draw 2\^1000000000000000000000000000000 points"):
            eng.random_base2(10**30)
        with pytest.raises(ValueError, match="cannot draw"):
            eng.random_base2(eng._max_points.bit_length())
    assert Lattice(2, m_max=4).random_base2(4).shape == (16, 2)
