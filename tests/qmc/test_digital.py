import itertools

import numpy as np
import pytest
import scipy.stats.qmc as sqmc
from _qmc_helpers import host_bits

from orthla._testing import assert_close, to_host
from orthla.qmc import DigitalNet, Sobol


def _gf2_matvec_reference(C, bits_of_k, t):
    """Dense GF(2) product: digits of C @ digits(k), then the t-bit integer (MSB first)."""
    digits = np.zeros(t, dtype=np.int64)
    for b, col in enumerate(C):
        if bits_of_k[b]:
            digits ^= np.array([(int(col) >> (t - 1 - r)) & 1 for r in range(t)])
    return int("".join(map(str, digits)), 2)


@pytest.mark.parametrize("d", [1, 7, 40])
def test_gray_order_equals_scipy_bit_for_bit(xp, d):
    ref = sqmc.Sobol(d, scramble=False)
    eng = Sobol(d, order="gray", randomize=False, xp=xp)
    assert_close(eng.random(256), ref.random(256), xp=xp, rtol=0, atol=0)
    assert_close(eng.random(256), ref.random(256), xp=xp, rtol=0, atol=0)  # continuation


def test_natural_order_is_the_gf2_product():
    t = 63
    eng = DigitalNet(3, randomize=False, return_binary=True)
    C = eng.generating_matrices[0]
    x = eng.random(50)
    for k in (0, 1, 2, 3, 17, 49):
        bits = [(k >> b) & 1 for b in range(C.shape[1])]
        assert [int(v) for v in x[k]] == [_gf2_matvec_reference(C[j], bits, t) for j in range(3)]


def test_first_power_of_two_sets_agree_between_orders():
    nat = DigitalNet(4, randomize=False).random(256)
    gray = DigitalNet(4, randomize=False, order="gray").random(256)
    np.testing.assert_array_equal(np.unique(nat, axis=0), np.unique(gray, axis=0))


def test_lms_matches_dense_binary_matrix_product():
    from orthla.qmc._digital import _lms

    t, d, m = 12, 2, 6
    rng = np.random.default_rng(3)
    cols = rng.integers(0, 2**t, size=(d, m), dtype=np.uint64)
    out = _lms(cols, t, np.random.default_rng(9), 1)[0]
    # rebuild L from the scramble of the unit columns 2^(t-1-b) with the same seed
    units = np.tile((np.uint64(1) << np.arange(t - 1, -1, -1, dtype=np.uint64))[None, :], (d, 1))
    lcols = _lms(units, t, np.random.default_rng(9), 1)[0]  # lcols[j, b] = column b of L_j
    for j in range(d):
        L = np.array([[(int(lcols[j, b]) >> (t - 1 - r)) & 1 for b in range(t)] for r in range(t)])
        assert np.all(np.diag(L) == 1) and np.all(np.triu(L, 1) == 0)
        for k in range(m):
            digits = np.array([(int(cols[j, k]) >> (t - 1 - r)) & 1 for r in range(t)])
            new = L @ digits % 2
            assert int(out[j, k]) == int("".join(map(str, new)), 2)


def test_digital_shift_is_xor(xp):
    plain = host_bits(DigitalNet(5, randomize=False, return_binary=True, xp=xp).random(64), xp)
    eng = DigitalNet(5, randomize="ds", return_binary=True, rng=12, xp=xp)
    x = host_bits(eng.random(64), xp)
    np.testing.assert_array_equal(x ^ eng.digital_shift[0], plain)


def _t_value(xbin, m, t_bits):
    """Smallest t such that every elementary interval of volume 2^(t-m) holds 2^t points."""
    n, d = xbin.shape
    for tv in range(m + 1):
        ok = True
        for a in itertools.product(range(m - tv + 1), repeat=d):
            if sum(a) != m - tv:
                continue
            box = np.zeros(n, dtype=np.int64)
            for j in range(d):
                box = (box << a[j]) | (xbin[:, j] >> np.uint64(t_bits - a[j])).astype(np.int64)
            counts = np.bincount(box, minlength=2 ** (m - tv))
            if not np.all(counts == 2**tv):
                ok = False
                break
        if ok:
            return tv
    return m


@pytest.mark.parametrize("randomize", [False, "lms", "ds", "lms-ds", "nus"])
def test_randomized_nets_keep_their_t_value(randomize):
    m = 8
    x = DigitalNet(3, randomize=randomize, rng=1, return_binary=True, replications=2).random_base2(m)
    ref = _t_value(DigitalNet(3, randomize=False, return_binary=True).random_base2(m), m, 63)
    assert ref <= 1  # Sobol' in 3 dimensions: t = 1 (t = 0 in the first two)
    assert _t_value(DigitalNet(2, randomize=False, return_binary=True).random_base2(m), m, 63) == 0
    for r in range(2):
        assert _t_value(x[r], m, 63) == ref


@pytest.mark.parametrize("order", ["natural", "gray"])
@pytest.mark.parametrize("randomize", [False, "lms-ds", "nus"])
@pytest.mark.parametrize("binary", [False, True])
def test_numba_engine_matches_xp_engine(needs_numba, order, randomize, binary):
    kw = dict(order=order, randomize=randomize, return_binary=binary, replications=2)
    a = DigitalNet(6, engine="numba", rng=3, **kw)
    b = DigitalNet(6, engine="xp", rng=3, **kw)
    np.testing.assert_array_equal(a.random(37), b.random(37))
    np.testing.assert_array_equal(a.random(100), b.random(100))  # continues mid-sequence
    a.fast_forward(1000)
    b.fast_forward(1000)
    np.testing.assert_array_equal(a.random(5), b.random(5))


@pytest.mark.parametrize("order", ["natural", "gray"])
@pytest.mark.parametrize("randomize", [False, "lms-ds", "nus"])
@pytest.mark.parametrize(("t", "alpha"), [(63, 1), (20, 1), (63, 2)])
def test_every_backend_matches_numpy_bit_for_bit(xp, order, randomize, t, alpha):
    # The array-API path on any backend (int64 words on torch) gives the NumPy points exactly,
    # including the 64-bit splitmix hashes of NUS.
    kw = dict(order=order, randomize=randomize, t=t, alpha=alpha, replications=2, rng=11)
    ref = DigitalNet(4, engine="xp", return_binary=True, **kw)
    eng = DigitalNet(4, xp=xp, return_binary=True, **kw)
    np.testing.assert_array_equal(host_bits(eng.random(37), xp), ref.random(37))
    eng.fast_forward(1000)
    ref.fast_forward(1000)
    np.testing.assert_array_equal(host_bits(eng.random(60), xp), ref.random(60))
    ref_f = DigitalNet(4, engine="xp", **kw).random(100)
    assert_close(DigitalNet(4, xp=xp, **kw).random(100), ref_f, xp=xp, rtol=0, atol=0)
    assert host_bits(DigitalNet(4, xp=xp, return_binary=True, **kw).random(0), xp).shape == (2, 0, 4)


def test_t_below_53_and_float32(xp):
    x = to_host(DigitalNet(3, t=20, rng=0, xp=xp).random(128))
    assert np.all(x * 2**20 == np.floor(x * 2**20))  # exactly 20 digits
    y = DigitalNet(3, rng=0, xp=xp, dtype=xp.float32).random(64)
    assert y.dtype == xp.float32
    assert np.all((to_host(y) >= 0) & (to_host(y) < 1))


def test_scrambled_points_are_uniform_and_integrate_well():
    # E[estimate] = integral for LMS+DS; the RMSE for a smooth function decays faster than MC.
    c = np.array([1.0, 0.5, 0.25, 0.125])
    f = lambda x: np.exp(x @ c)  # noqa: E731
    exact = float(np.prod(np.expm1(c) / c))
    rmse = []
    for m in (6, 12):
        x = DigitalNet(4, rng=7, replications=16).random_base2(m)
        rmse.append(np.sqrt(np.mean((f(x).mean(axis=1) - exact) ** 2)))
    rate = np.log(rmse[0] / rmse[1]) / np.log(2.0**6)
    assert rate > 0.9  # Monte Carlo would give 0.5


def test_generic_matrices_and_errors():
    eye = (np.uint64(1) << np.arange(9, -1, -1, dtype=np.uint64))[None, :]  # van der Corput, t = 10
    x = DigitalNet(1, generating_matrices=eye, t=10, randomize=False).random(8)
    np.testing.assert_array_equal(x[:, 0], [0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875])
    with pytest.raises(ValueError, match="`t` = 5 is too small for the generating matrices, whose columns have up to 10 bits"):
        DigitalNet(1, generating_matrices=eye, t=5)
    with pytest.raises(ValueError, match=r"`d` = 2 exceeds the 1 dimensions available in `generating_matrices`"):
        DigitalNet(2, generating_matrices=eye, t=10)
    with pytest.raises(ValueError, match=r"cannot draw 1025 points after 0: this engine holds at most 2\^10"):
        DigitalNet(1, generating_matrices=eye, t=10).random(1025)
    with pytest.raises(ValueError, match=r"`d` = 21202 exceeds the 21201 dimensions"):
        Sobol(21202)
    with pytest.raises(ValueError, match=r"`randomize` must be one of \('lms-ds', 'ds', 'lms', 'nus', False\); got 'owen'"):
        Sobol(2, randomize="owen")
    with pytest.raises(ValueError, match=r"`order` must be one of \('natural', 'gray'\); got 'linear'"):
        Sobol(2, order="linear")
    with pytest.raises(ValueError, match="`t` must be an integer at least 1 and at most 63; got 64"):
        Sobol(2, t=64)
    with pytest.raises(TypeError, match="2-D integer array"):
        DigitalNet(1, generating_matrices=np.ones((1, 3)))
    with pytest.raises(TypeError, match="generating_matrices"):  # Joe-Kuo only; DigitalNet takes them
        Sobol(1, generating_matrices=eye)
    with pytest.raises(ValueError, match="engine='numba' needs NumPy input"):
        strict = pytest.importorskip("array_api_strict")
        Sobol(2, engine="numba", xp=strict)


def test_interlacing_follows_the_digit_definition():
    t, alpha, m = 12, 3, 5
    rng = np.random.default_rng(8)
    base = rng.integers(0, 2**t, size=(2 * alpha, m), dtype=np.uint64)
    eng = DigitalNet(2, generating_matrices=base, t=t, alpha=alpha, randomize=False)
    assert eng.t == 12 and eng.alpha == 3
    C = eng.generating_matrices[0]
    for j in range(2):
        for k in range(m):
            digits_in = [format(int(base[j * alpha + q, k]), f"0{t}b") for q in range(alpha)]
            expect = "".join(digits_in[r % alpha][r // alpha] for r in range(alpha * (t // alpha)))
            assert format(int(C[j, k]), f"0{eng.t}b") == expect


def test_higher_order_nets_converge_faster():
    c = np.array([2.0, 1.5])
    exact = float(np.prod(np.expm1(c) / c))
    rates = {}
    for alpha in (1, 2):
        rmse = []
        for m in (6, 14):
            x = Sobol(2, alpha=alpha, randomize="ds", rng=1, replications=16).random_base2(m)
            rmse.append(np.sqrt(np.mean((np.exp(x @ c).mean(axis=1) - exact) ** 2)))
        rates[alpha] = np.log2(rmse[0] / rmse[1]) / 8
    assert rates[1] < 1.3  # digital shift only: about n^-1
    assert rates[2] > 1.8  # order-2 net: close to n^-2 and beyond for this smooth integrand


def test_interlaced_engines_agree(needs_numba):
    a = Sobol(3, alpha=2, rng=2, engine="numba").random(100)
    b = Sobol(3, alpha=2, rng=2, engine="xp").random(100)
    np.testing.assert_array_equal(a, b)


def test_interlacing_errors():
    with pytest.raises(ValueError, match=r"`d` = 10601 exceeds the 10600 dimensions available .*interlacing alpha = 2"):
        Sobol(10601, alpha=2)
    with pytest.raises(ValueError, match="`alpha` must be an integer at least 1 and at most t = 8; got 9"):
        Sobol(2, t=8, alpha=9)


def test_nus_is_a_nested_digit_flip(xp):
    t = 63
    plain = host_bits(Sobol(3, randomize=False, return_binary=True, xp=xp).random(512), xp)
    y = host_bits(Sobol(3, randomize="nus", rng=5, return_binary=True, xp=xp).random(512), xp)
    flips = plain ^ y
    for r in (0, 1, 3, 6, 9, 20):
        # the flips of the leading r + 1 digits depend only on the leading r digits of the point
        prefix = plain >> np.uint64(t - r) if r else np.zeros_like(plain)
        head = flips >> np.uint64(t - r - 1)
        for j in range(3):
            seen = {}
            for p, h in zip(prefix[:, j].tolist(), head[:, j].tolist(), strict=True):
                assert seen.setdefault(p, h) == h
    # and they are not all equal (a real scramble, not a digital shift)
    assert len({int(v) for v in (flips[:, 0] >> np.uint64(t - 10))}) > 1


def test_nus_converges_faster_than_monte_carlo():
    c = np.array([1.0, 0.5, 0.25])
    exact = float(np.prod(np.expm1(c) / c))
    rmse = []
    for m in (6, 12):
        x = Sobol(3, randomize="nus", rng=9, replications=16).random_base2(m)
        rmse.append(np.sqrt(np.mean((np.exp(x @ c).mean(axis=1) - exact) ** 2)))
    assert np.log2(rmse[0] / rmse[1]) / 6 > 1.2  # Owen: n^-3/2 for smooth integrands; MC: n^-1/2


def test_lms_alone_is_not_uniform_but_a_digital_shift_is():
    # The docs called LMS-only points uniform: LMS is linear, so point 0 stays at the origin in
    # every replication and replicated means are biased; the digital shift makes each point uniform.
    R = 400
    lms = DigitalNet(3, randomize="lms", rng=5, replications=R).random(4)
    assert np.all(lms[:, 0, :] == 0)
    ds = DigitalNet(3, randomize="lms-ds", rng=5, replications=R).random(4)
    for pts, biased in ((lms, True), (ds, False)):
        est = pts.mean(axis=1)  # (R, d): the mean of each coordinate, exact value 1/2
        z = (est.mean(axis=0) - 0.5) / (est.std(axis=0, ddof=1) / np.sqrt(R))
        if biased:
            assert np.all(z < -4)  # the four points are 0 and three points in the upper quarters
        else:
            assert np.all(np.abs(z) < 4)


@pytest.mark.parametrize(("d", "t", "reps"), [(1, 1, 1), (5, 63, 3), (40, 30, 2)])
def test_lms_numba_kernel_matches_xp(d, t, reps):
    # the Numba linear matrix scrambling against the NumPy loop, on the same random draws
    pytest.importorskip("numba")
    from orthla.qmc._digital import _joe_kuo, _lms

    cols = _joe_kuo(d, t)[:, : min(t, 32)]
    want = _lms(cols, t, np.random.default_rng(d), reps)
    got = _lms(cols, t, np.random.default_rng(d), reps, "numba")
    assert got.dtype == np.uint64 and got.shape == (reps, d, cols.shape[1])
    np.testing.assert_array_equal(got, want)
    assert t == 1 or np.any(got != cols[None])  # scrambled (t = 1: L is the identity)
