import numpy as np
import pytest
import scipy.stats.qmc as sqmc

from orthla._testing import assert_close, to_host
from orthla.qmc import Halton
from orthla.qmc._digital import _mix64_int
from orthla.qmc._halton import first_primes
from orthla.qmc._halton_nus import TABLE_ENTRIES


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


@pytest.mark.parametrize("randomize", [False, "dp", "lms", "lms-dp", "nus"])
def test_stratification_in_each_base_is_kept(randomize):
    # n = b^k consecutive points put exactly one point in each interval [a/b^k, (a+1)/b^k).
    eng = Halton(3, randomize=randomize, rng=2)
    x = eng.random(125)
    for j, (b, k) in enumerate(((2, 6), (3, 4), (5, 3))):
        cells = np.floor(x[: b**k, j] * b**k + 1e-9).astype(int)  # unscrambled points sit on cell edges
        np.testing.assert_array_equal(np.sort(cells), np.arange(b**k))


@pytest.mark.parametrize("randomize", [False, "dp", "lms", "lms-dp", "nus"])
def test_numba_engine_matches_xp_engine(needs_numba, randomize):
    a = Halton(12, randomize=randomize, rng=4, replications=2, engine="numba")
    b = Halton(12, randomize=randomize, rng=4, replications=2, engine="xp")
    np.testing.assert_array_equal(a.random(600), b.random(600))  # kernels work in blocks of 256 points
    a.fast_forward(5000)
    b.fast_forward(5000)
    np.testing.assert_array_equal(a.random(77), b.random(77))


def test_nus_numba_engine_matches_xp_engine_beyond_the_tables(needs_numba):
    # Bases above TABLE_ENTRIES (dimension 565 on) have hashed levels only.
    kw = dict(randomize="nus", rng=30, replications=2)
    a, b = Halton(580, engine="numba", **kw), Halton(580, engine="xp", **kw)
    a.fast_forward(10**6)
    b.fast_forward(10**6)
    np.testing.assert_array_equal(a.random(30), b.random(30))


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
    with pytest.raises(ValueError, match=r"`randomize` must be one of \('lms-dp', 'dp', 'lms', 'nus', False\); got 'ds'"):
        Halton(2, randomize="ds")
    with pytest.raises(ValueError, match="`d` must be an integer at least 0; got -1"):
        Halton(-1)  # d = 0 is allowed, as in SciPy (points without coordinates)
    with pytest.raises(ValueError, match="`engine` must be one of"):
        Halton(2, engine="cuda")


# --- nested uniform scrambling (NUS) -------------------------------------------------------


def _nus_reference(eng, r, j, i):
    """Owen-scrambled coordinate j of point i (replication r) from the definition in _halton_nus."""
    b, K, L = int(eng.bases[j]), int(eng._ndigits[j]), int(eng.nus.levels[j])
    table, keys = eng.nus.tables[j][r], eng.nus.keys[r, j]
    x, w, w_last, p, off = 0.0, 1.0 / b, None, 0, 0
    for k, a in enumerate(_digits(i, b, K)):
        if k < L:
            y = int(table[off + p * b + a])
            off += b ** (k + 1)
        else:
            h = _mix64_int(int(keys[k]) ^ p)
            u = 1 + (((h >> 32) * (b - 1)) >> 32)
            v = ((h & 0xFFFFFFFF) * b) >> 32
            y = (u * a + v) % b
        x += float(y) * w
        w_last, w = w, w / b
        p += a * b**k
    h = _mix64_int(int(keys[K]) ^ p)
    return x + float(h >> 11) * 2.0**-53 * w_last


def _leading_digits(x, b, k):
    """Index of the b-adic interval of length b^-k holding x (the k leading digits)."""
    return np.floor(x * float(b) ** k).astype(np.int64)


def test_nus_is_the_nested_digit_transformation(xp):
    # d = 600 reaches bases above TABLE_ENTRIES (only hashed levels) as well as tabled ones.
    eng = Halton(600, randomize="nus", rng=21, replications=2, xp=xp)
    assert int(eng.bases[-1]) > TABLE_ENTRIES and eng.nus.levels[-1] == 0
    assert eng.nus.levels[0] == 12 and eng.nus.levels[1] == 7  # b^(k+1) <= 4096 for k < L
    eng.fast_forward(1000)
    x = to_host(eng.random(40))
    for r in (0, 1):
        for j in (0, 1, 2, 17, 599):
            for i in (1000, 1001, 1013, 1039):
                assert x[r, i - 1000, j] == _nus_reference(eng, r, j, i)


def test_nus_tables_are_uniform_permutations_per_node():
    eng = Halton(3, randomize="nus", rng=3, replications=2)
    for j, b in enumerate(eng.bases.tolist()):
        table, L = eng.nus.tables[j], int(eng.nus.levels[j])
        assert table.shape == (2, sum(b ** (k + 1) for k in range(L)))
        np.testing.assert_array_equal(np.sort(table.reshape(2, -1, b), axis=-1),
                                      np.broadcast_to(np.arange(b), (2, table.size // (2 * b), b)))


@pytest.mark.parametrize("engine", ["xp", "numba"])
def test_nus_is_nested_and_keeps_distinct_digits_distinct(engine, request):
    if engine == "numba":
        request.getfixturevalue("needs_numba")
    # Over the first 3000 points, the k leading scrambled digits are a function of the k
    # leading original digits (i mod b^k) and that function is one-to-one, for every k.
    n = 3000
    eng = Halton(6, randomize="nus", rng=8, engine=engine)
    x = eng.random(n)
    i = np.arange(n)
    for j, b in enumerate(eng.bases.tolist()):
        for k in range(1, 6):
            prefix, cell = i % b**k, _leading_digits(x[:, j], b, k)
            pairs = np.unique(np.stack([prefix, cell]), axis=1)
            assert pairs.shape[1] == np.unique(prefix).size == np.unique(cell).size


def test_nus_permutation_depends_on_the_leading_digits():
    # Base 2: the flip of digit k at prefix 0 and at another prefix agree in about half of the
    # replications for NUS (independent nodes); digit permutations ("dp") always agree.
    # Level 1 is tabled, level 15 hashed (beyond 2^12 table entries).
    R = 400
    for randomize, lo, hi in (("nus", 0.35, 0.65), ("dp", 1.0, 1.0)):
        x = Halton(1, randomize=randomize, rng=5, replications=R).random(8)[:, :, 0]
        for k, (i0, i1) in ((1, (0, 1)), (15, (5, 6))):
            flip0 = _leading_digits(x[:, i0], 2, k + 1) % 2  # original digit k is 0 for both points
            flip1 = _leading_digits(x[:, i1], 2, k + 1) % 2
            assert lo <= np.mean(flip0 == flip1) <= hi


@pytest.mark.parametrize("randomize", [False, "dp", "lms", "lms-dp", "nus"])
def test_two_dimensional_elementary_boxes_keep_one_point(randomize):
    # Any 2^3 * 3^2 = 72 consecutive indices have distinct (i mod 8, i mod 9) (Chinese remainder
    # theorem): one point per box [a/8, (a+1)/8) x [c/9, (c+1)/9) of the first two coordinates;
    # with 5^2 as well, 1800 points fill each box of [../8) x [../9) x [../25) once.
    eng = Halton(3, randomize=randomize, rng=6).fast_forward(77)
    x = eng.random(1800)
    for n, bk in ((72, ((2, 3), (3, 2))), (1800, ((2, 3), (3, 2), (5, 2)))):
        for s in range(0, 1800, n):
            cells = [_leading_digits(x[s : s + n, j] + 1e-12 * (randomize is False), b, k)
                     for j, (b, k) in enumerate(bk)]
            assert np.unique(np.stack(cells), axis=1).shape[1] == n


def test_nus_draws_are_reproducible_and_consistent(xp):
    a = Halton(7, randomize="nus", rng=12, replications=2, xp=xp)
    x = to_host(a.random(300))
    np.testing.assert_array_equal(np.concatenate([to_host(Halton(7, randomize="nus", rng=12, replications=2,
                                                                 xp=xp).random(n)) for n in (0, 1)][1:]),
                                  x[:, :1])
    b = Halton(7, randomize="nus", rng=12, replications=2, xp=xp)
    np.testing.assert_array_equal(np.concatenate([to_host(b.random(150)), to_host(b.random(150))], axis=1), x)
    np.testing.assert_array_equal(to_host(a.reset().random(300)), x)
    c = Halton(7, randomize="nus", rng=12, replications=2, xp=xp).fast_forward(123)
    np.testing.assert_array_equal(to_host(c.random(177)), x[:, 123:])
    assert not np.array_equal(x, to_host(Halton(7, randomize="nus", rng=13, replications=2, xp=xp).random(300)))
    assert np.all((x >= 0) & (x < 1))


def test_nus_points_are_uniform():
    # Each scrambled point is uniform on [0, 1)^d: over 2000 replications, point 37's coordinates
    # fall in each tenth of [0, 1) with chi-square statistic typical of 9 degrees of freedom.
    x = Halton(4, randomize="nus", rng=1, replications=2000).random(38)[:, 37, :]
    for j in range(4):
        counts = np.bincount(np.floor(x[:, j] * 10).astype(int), minlength=10)
        assert np.sum((counts - 200.0) ** 2 / 200.0) < 27.9  # chi2(9) 0.999 quantile


def test_nus_estimates_are_unbiased_and_beat_monte_carlo():
    # f(x) = exp(c . x) on [0,1)^5 (smooth): the mean of 32 NUS replications is within 4 standard
    # errors of the exact value, and the RMSE is far below Monte Carlo's sd(f) / sqrt(n), by a
    # factor that grows with n (RQMC error decays faster than n^-1/2; seen: about n^-0.9).
    c = np.array([1.0, 0.7, 0.5, 0.3, 0.2])
    exact = float(np.prod(np.expm1(c) / c))
    mc_sd = np.exp(np.random.default_rng(0).random((20000, 5)) @ c).std()
    ratios = []
    for n in (2**9, 2**13):
        est = np.exp(Halton(5, randomize="nus", rng=n, replications=32).random(n) @ c).mean(axis=1)
        assert abs(est.mean() - exact) < 4 * est.std(ddof=1) / np.sqrt(32)
        rmse = np.sqrt(np.mean((est - exact) ** 2))
        ratios.append(mc_sd / np.sqrt(n) / rmse)
    assert ratios[0] > 5 and ratios[1] > 2 * ratios[0]  # MC: a constant ratio


def test_nus_hashed_levels_send_distinct_digits_to_uniform_distinct_pairs():
    # Base 5, level 5 is beyond the tables (5^6 > 4096).  Points 7 and 7 + 5^5 share the node of
    # level 5 (same 5 leading digits) and have digits 0 and 1 there: over 2000 replications their
    # scrambled digits are never equal and spread uniformly over the 20 ordered pairs of distinct
    # digits (chi-square below the 0.999 quantile of 19 degrees of freedom, 43.8).
    eng = Halton(3, randomize="nus", rng=17, replications=2000)
    assert eng.nus.levels[2] == 5
    x1 = eng.fast_forward(7).random(1)[:, 0, 2]
    x2 = eng.fast_forward(5**5 - 1).random(1)[:, 0, 2]
    d1, d2 = _leading_digits(x1, 5, 6) % 5, _leading_digits(x2, 5, 6) % 5
    np.testing.assert_array_equal(_leading_digits(x1, 5, 5), _leading_digits(x2, 5, 5))
    assert np.all(d1 != d2)
    counts = np.bincount(d1 * 5 + d2, minlength=25)[(np.arange(25) // 5) != (np.arange(25) % 5)]
    assert np.sum((counts - 100.0) ** 2 / 100.0) < 43.8


def _nus_engine_at_the_top(engine, xp=None):
    """A base-2 NUS engine whose point 0 has every scrambled digit 1 and a tail U >= 2^52:
    the exact sum 1 - 2^-53 + U 2^-106 rounds to 1.0 unless the engine clamps."""
    eng = Halton(1, randomize="nus", rng=0, engine=engine, xp=xp)
    nus = eng.nus
    L = int(nus.levels[0])
    K = int(eng._ndigits[0])
    assert (L, K) == (12, 53)
    for k in range(L):  # level k's block starts at 2^(k+1) - 2; node 0 sends digit 0 to 1
        off = 2 ** (k + 1) - 2
        nus.tables[0][:, off], nus.tables[0][:, off + 1] = 1, 0
    # a key whose hash of prefix 0 has bit 31 set (affine map 0 -> 1 in base 2) and bit 63 set
    # (the 53-bit tail U = h >> 11 is at least 2^52)
    key = next(k for k in range(1, 10**6) if (_mix64_int(k) >> 31) & 1 and _mix64_int(k) >> 63)
    nus.keys[:, 0, L:] = np.uint64(key)
    return eng


@pytest.mark.parametrize("engine", ["xp", "numba"])
def test_nus_never_returns_one(engine, xp):
    if engine == "numba":
        pytest.importorskip("numba")
        if xp.__name__ != "array_api_compat.numpy":
            pytest.skip("the Numba engine is NumPy-only")
    eng = _nus_engine_at_the_top(engine, xp)
    below_one = 1.0 - 2.0**-53
    x = to_host(eng.random(2))
    assert x[0, 0] == below_one  # the array-API path returned exactly 1.0 before the clamp
    assert np.all((x >= 0) & (x < 1))
    eng32 = _nus_engine_at_the_top(engine, xp)
    eng32.dtype = xp.float32
    x32 = to_host(eng32.random(1))
    assert x32.dtype == np.float32 and x32[0, 0] < 1


def test_unrandomized_halton_stores_no_tables_in_high_dimension():
    # randomize=False used to build identity permutation and LMS tables of O(d^2 log d)
    # integers (114 MiB at d = 1000, MemoryError at 10^4); now nothing is stored.
    import time
    import tracemalloc

    tracemalloc.start()
    t0 = time.perf_counter()
    eng = Halton(10_000, randomize=False)
    x = eng.random(4)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert eng.table_entries == 0
    assert peak < 16 * 2**20, peak  # the primes and four points: well under 16 MiB
    assert elapsed < 30
    np.testing.assert_array_equal(x, sqmc.Halton(10_000, scramble=False).random(4))
    # the tables still read as identities, made on access
    assert eng.permutations[9_999].shape == (1, int(eng._ndigits[-1]), 104_729)
    np.testing.assert_array_equal(eng.lms_matrices[0][0], np.eye(53, dtype=np.int64))


@pytest.mark.parametrize("randomize", ["lms", "nus"])
def test_randomizations_store_only_what_they_use(randomize):
    eng = Halton(1000, randomize=randomize, rng=1)
    K, b = eng._ndigits, eng.bases
    lms_entries = int(np.sum(K * K))
    if randomize == "lms":
        assert eng.table_entries == lms_entries  # no identity permutation tables (sum K_j b_j)
    else:
        assert eng.table_entries < int(np.sum(K * b)) // 10  # level-0 tables of bases <= 4093
    x = eng.random(50)
    assert np.all((x >= 0) & (x < 1))


def test_same_randomness_as_before_for_every_mode():
    # Skipping the identity tables must not change the random stream: LMS then DP per dimension.
    rng = np.random.default_rng(3)
    eng = Halton(3, randomize="lms-dp", rng=3)
    for j, (b, K) in enumerate(zip(eng.bases.tolist(), eng._ndigits.tolist(), strict=True)):
        mat = rng.integers(0, b, size=(1, K, K)) * np.tril(np.ones((K, K), dtype=np.int64), -1)
        mat[:, np.arange(K), np.arange(K)] = rng.integers(1, b, size=(1, K))
        np.testing.assert_array_equal(eng.lms_matrices[j], mat)
        perm = rng.permuted(np.broadcast_to(np.arange(b), (1, K, b)), axis=2)
        np.testing.assert_array_equal(eng.permutations[j], perm)


def test_capacity_beyond_exact_digit_split_raises():
    # The Numba digit split is exact below 2^53 only (at 2^60 it returned 20.9); randomized
    # points keep K_b index digits, so they would repeat after b^K_b points.
    for randomize in (False, "lms-dp", "nus"):
        eng = Halton(2, randomize=randomize, rng=1).fast_forward(2**53 - 2)
        assert eng.random(2).shape == (2, 2)
        with pytest.raises(ValueError, match=r"cannot draw 1 points after 9007199254740992"):
            eng.random(1)
    eng = Halton(30_000, randomize="lms", rng=1)  # bases above 2^18 keep K = 2 digits
    cap = min(int(b) ** int(K) for b, K in zip(eng.bases, eng._ndigits, strict=True))
    assert eng._max_points == cap < 2**37
    with pytest.raises(ValueError, match=f"at most {cap} points .*keep K_b digits"):
        eng.fast_forward(cap).random(1)


def test_xp_namespace_must_be_a_namespace():
    for bad in ("numpy", 3, object()):
        with pytest.raises(TypeError, match="`xp` must be an array-API namespace"):
            Halton(2, xp=bad)
