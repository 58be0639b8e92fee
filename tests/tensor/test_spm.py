import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from orthla._testing import to_host
from orthla.tensor import (
    SPMResult,
    TensorWarning,
    cp_to_tensor,
    match_components,
    random_low_rank,
    spm,
    symmetrize,
)
from orthla.tensor._spm import identifiable_limit


def _check_exact(res, w, A, m, *, angle_deg=1e-5, weight_tol=1e-9):
    """The issue's exact-recovery criteria: components, signed weights, reconstruction."""
    assert isinstance(res, SPMResult)
    assert res.success and res.message == ""
    assert res.rank == A.shape[1]
    F = to_host(res.factors)
    lam = to_host(res.weights)
    np.testing.assert_allclose(np.linalg.norm(F, axis=0), 1.0, rtol=1e-14)
    match = match_components(A, F)
    assert sorted(match.index.tolist()) == list(range(A.shape[1]))  # no duplicates, none lost
    assert match.angle_deg.max() < angle_deg
    # lambda a^(x m) is invariant under (a, lambda) -> (-a, (-1)^m lambda).
    np.testing.assert_allclose(lam[match.index] * match.sign**m, w, rtol=0, atol=weight_tol * np.abs(w).max())
    T = cp_to_tensor(w, A, order=m)
    rec = cp_to_tensor(lam, F, order=m)
    assert np.linalg.norm(rec - T) <= 1e-12 * np.linalg.norm(T)
    assert res.residual <= 1e-12


@pytest.mark.parametrize(("m", "d", "R"), [(3, 10, 8), (4, 10, 30), (5, 6, 18), (6, 5, 25)])
def test_exact_recovery_orders_3_to_6(m, d, R):
    T, w, A = random_low_rank(d, R, order=m, rng=100 + m)
    res = spm(T, rank=R, rng=0)
    _check_exact(res, w, A, m)
    if m % 2:
        assert np.all(res.weights > 0)  # odd order: the sign lives in the factor
    else:
        assert np.any(res.weights < 0) and np.any(res.weights > 0)  # signed weights kept
    assert res.objective.min() > 1 - 1e-12
    assert set(res.timings) == {"extraction", "power", "deflation", "refit"}


def test_exact_recovery_on_every_backend(xp):
    T, w, A = random_low_rank(6, 8, order=4, rng=5)
    Tx = xp.asarray(T)
    res = spm(Tx, rng=1, engine="xp")
    assert type(res.factors) is type(Tx) and res.factors.device == Tx.device
    assert res.factors.dtype == Tx.dtype and res.weights.dtype == Tx.dtype
    _check_exact(res, w, A, 4)
    res3 = spm(xp.asarray(random_low_rank(5, 4, order=3, rng=6).tensor), rng=1, engine="xp")
    assert res3.success and res3.rank == 4 and res3.residual < 1e-12


def test_unknown_rank_found_exactly():
    for m, d, R in ((4, 12, 40), (3, 9, 9), (5, 5, 12)):
        T, w, A = random_low_rank(d, R, order=m, rng=11)
        res = spm(T, rng=2)
        assert res.rank == R
        _check_exact(res, w, A, m)


def test_rank_threshold_and_gap():
    # A weight below rank_tol * the largest eigenvalue is cut by the threshold; what is cut
    # is not a noise floor (a value above rounding level next to rounding errors), so the
    # residual counts against the fit and success is False ...
    T, w, A = random_low_rank(8, 5, order=4, rng=3)
    w = np.array([1.0, -0.8, 0.5, 0.3, 1e-7])
    T = cp_to_tensor(w, A, order=4)
    with pytest.warns(TensorWarning, match="not a noise floor .* smaller `rank_tol`"):
        res = spm(T, rng=0)
    assert res.rank == 4 and not res.success
    # ... and a smaller threshold recovers it.
    res = spm(T, rng=0, rank_tol=1e-9)
    assert res.rank == 5 and res.success


def test_noise_robustness():
    sigma = 1e-2
    T, w, A = random_low_rank(15, 30, order=4, noise=sigma, rng=22)  # smallest |weight| 0.08, above the noise
    clean = cp_to_tensor(w, A, order=4)
    res = spm(T, rng=0)
    assert res.rank == 30 and res.success
    rec = cp_to_tensor(res.weights, res.factors, order=4)
    assert np.linalg.norm(rec - clean) <= sigma * np.linalg.norm(clean)
    match = match_components(A, res.factors)
    assert match.angle_deg.max() <= 5.0
    # Residual against the noisy input is about the noise level.
    assert 0.1 * sigma < res.residual < 2 * sigma


def test_rank_beyond_identifiable_limit_is_reported():
    d = 6
    assert identifiable_limit(4, d) == d * (d - 1) // 2
    T, _, _ = random_low_rank(d, 17, order=4, rng=4)
    with pytest.warns(TensorWarning, match="exceeds SPM's generic identifiability limit 15"):
        res = spm(T, rng=0, max_iter=300)
    assert res.rank == 17
    assert not res.success and "identifiability" in res.message


def test_nonconvergence_is_reported():
    T, _, _ = random_low_rank(8, 10, order=4, rng=8)
    with pytest.warns(TensorWarning, match=r"did not converge within max_iter=2"):
        res = spm(T, rng=0, max_iter=2, max_restarts=0)
    assert not res.success and not res.converged.all()


def test_fixed_shift_recovers_and_needs_more_steps():
    T, w, A = random_low_rank(7, 12, order=4, rng=9)
    fixed = spm(T, rng=0, shift="fixed")
    adaptive = spm(T, rng=0)
    _check_exact(fixed, w, A, 4)
    assert fixed.iterations.sum() > adaptive.iterations.sum()


def test_seeded_reproducibility_and_blas_threads():
    T, _, _ = random_low_rank(10, 20, order=4, rng=12)
    with threadpool_limits(limits=1):
        r1 = spm(T, rng=5)
    with threadpool_limits(limits=2):
        r2 = spm(T, rng=np.random.default_rng(5))
    np.testing.assert_allclose(r1.factors, r2.factors, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r1.weights, r2.weights, rtol=1e-12)
    np.testing.assert_array_equal(r1.restarts, r2.restarts)


def test_engines_agree(needs_numba):
    T, _, _ = random_low_rank(7, 12, order=4, rng=13)
    rn = spm(T, rng=3, engine="numba")
    rx = spm(T, rng=3, engine="xp")
    np.testing.assert_allclose(rn.factors, rx.factors, rtol=0, atol=1e-11)
    np.testing.assert_allclose(rn.weights, rx.weights, rtol=1e-11)
    # Rounding differs between the kernels, so stopping can differ by a few steps.
    assert np.abs(rn.iterations - rx.iterations).max() <= 0.1 * rx.iterations.max() + 3


def test_numba_kernel_matches_xp_power_loop(needs_numba):
    import array_api_compat.numpy as npx

    from orthla.tensor._spm import _power_numba, _power_xp
    from orthla.tensor._symmetric import sym_indices

    rng = np.random.default_rng(0)
    d, n, R = 6, 2, 9
    idx, w = sym_indices(d, n)
    V, _ = np.linalg.qr(rng.standard_normal((idx.shape[0], R)))
    X0 = rng.standard_normal((d, 4))
    X0 /= np.linalg.norm(X0, axis=0)
    E = np.zeros((d, n * idx.shape[0]))
    for p in range(n):
        E[idx[:, p], p * idx.shape[0] + np.arange(idx.shape[0])] = 1.0
    for adaptive in (True, False):
        opts = {"max_iter": 40, "tol": 1e-13, "adaptive": adaptive, "stall_limit": 50}
        out_n = _power_numba(V, idx, w, X0, **opts)
        out_x = _power_xp(npx.asarray(V), [idx[:, p].copy() for p in range(n)], w, E, X0, **opts)
        np.testing.assert_allclose(out_n[0], out_x[0], rtol=0, atol=1e-12)  # points
        np.testing.assert_allclose(out_n[1], out_x[1], rtol=1e-13)  # objectives
        np.testing.assert_array_equal(out_n[2], out_x[2])  # iteration counts
        np.testing.assert_array_equal(out_n[3], out_x[3])  # convergence flags


@pytest.mark.parametrize(("m", "d", "R"), [(4, 10, 30), (6, 5, 25), (3, 10, 8)])
@pytest.mark.parametrize("engine", ["numba", "xp"])
def test_newton_steps_keep_the_result_and_save_steps(monkeypatch, m, d, R, engine, needs_numba):
    import orthla.tensor._spm as spm_module

    T, w, A = random_low_rank(d, R, order=m, rng=40 + m)
    res = spm(T, rank=R, rng=0, engine=engine)
    monkeypatch.setattr(spm_module, "NEWTON_GATE", -1.0)  # never try Newton: plain power steps
    plain = spm(T, rank=R, rng=0, engine=engine)
    _check_exact(res, w, A, m)
    _check_exact(plain, w, A, m)
    # Quadratic instead of linear convergence near each component (the median: a start
    # nearly orthogonal to the last component can take long to leave it, either way).
    assert np.median(res.iterations) < 0.6 * np.median(plain.iterations)


@pytest.mark.parametrize("n", [2, 3])
def test_slice_starts_engines_agree_and_find_a_last_component(needs_numba, n):
    import array_api_compat.numpy as npx

    from orthla.tensor._spm import _NumbaBasis, _slice_starts, sym_coords
    from orthla.tensor._symmetric import sym_indices

    d = 7
    idx, w = sym_indices(d, n)
    N = idx.shape[0]
    rng = np.random.default_rng(3)
    V, _ = np.linalg.qr(rng.standard_normal((N, 12)))
    E = np.zeros((d, n * N))
    for p in range(n):
        E[idx[:, p], p * N + np.arange(N)] = 1.0
    X_numba = _slice_starts(_NumbaBasis(V, n), idx, w, None, np.random.default_rng(5), d, 3, "numba", npx)
    X_xp = _slice_starts(V, idx, w, E, np.random.default_rng(5), d, 3, "xp", npx)
    np.testing.assert_allclose(X_numba, X_xp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(X_numba, axis=0), 1.0, rtol=1e-14)
    # One component left: the slice is a multiple of a a^T, its top eigenvector is +-a.
    a = rng.standard_normal(d)
    a /= np.linalg.norm(a)
    s = sym_coords(a[:, None], [idx[:, p].copy() for p in range(n)], w, npx)
    for engine, basis in (("numba", _NumbaBasis(s, n)), ("xp", s)):
        X0 = _slice_starts(basis, idx, w, E, np.random.default_rng(6), d, 2, engine, npx)
        np.testing.assert_allclose(np.abs(a @ X0), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3])
def test_fused_single_start_matches_the_kernel_sequence(needs_numba, n):
    # spm_one_start (slice start + power iteration + normalization + duplicate test in one
    # call) against the separate kernels and NumPy steps of _start_batch: same draws, same
    # point (to rounding), same record; and a found column equal to the point is a duplicate.
    import array_api_compat.numpy as npx

    from orthla.tensor._spm import _NumbaBasis, _one_start_numba, _start_batch
    from orthla.tensor._symmetric import sym_indices

    d = 7
    idx, w = sym_indices(d, n)
    rng = np.random.default_rng(8)
    A = rng.standard_normal((d, 6))
    A /= np.linalg.norm(A, axis=0)
    S = np.stack([np.prod(A[idx, k], axis=1) * w for k in range(6)], axis=1)
    V, _ = np.linalg.qr(S)
    basis = _NumbaBasis(V, n)
    opts = {"max_iter": 200, "tol": 1e-13, "adaptive": True, "stall_limit": 50}
    found = A[:, :2].copy()
    x1, rec1 = _one_start_numba(basis, idx, w, np.random.default_rng(4), d, found, 0, opts)
    x2, rec2 = _start_batch(basis, None, None, None, idx, w, np.random.default_rng(4), d, 1, found, 0,
                            "numba", opts, npx)
    # equal up to the summation order of the final norm (a few ulp)
    np.testing.assert_allclose(x1, x2, rtol=0, atol=4 * d * np.finfo(float).eps)
    assert rec1 == rec2 and rec1["converged"]
    assert np.max(np.abs(A.T @ x1)) > 1 - 1e-10  # a component
    _, rec3 = _one_start_numba(basis, idx, w, np.random.default_rng(4), d, x1[:, None].copy(), 0, opts)
    _, rec4 = _one_start_numba(basis, idx, w, np.random.default_rng(4), d, [], 0, opts)
    assert rec3["duplicate"] and not rec4["duplicate"]


def test_input_not_modified(xp):
    T, _, _ = random_low_rank(5, 3, order=4, rng=1)
    Tx = xp.asarray(T.copy())
    for engine in ("auto", "xp"):
        spm(Tx, rng=0, engine=engine)
    np.testing.assert_array_equal(to_host(Tx), T)


def test_readonly_numpy_input():
    T, _, A = random_low_rank(5, 3, order=4, rng=1)
    T.setflags(write=False)
    for engine in ("auto", "xp"):
        res = spm(T, rng=0, engine=engine)
        assert res.success and match_components(A, res.factors).angle_deg.max() < 1e-6


def test_float32_input():
    T, _w, A = random_low_rank(6, 5, order=4, rng=2)
    res = spm(T.astype(np.float32), rng=0)
    assert res.factors.dtype == np.float32 and res.rank == 5 and res.success
    assert match_components(A, res.factors).angle_deg.max() < 0.05


def test_errors(xp):
    with pytest.raises(ValueError, match=r"`T` must be a tensor of order at least 3; got ndim=2"):
        spm(xp.asarray(np.eye(3)))
    with pytest.raises(ValueError, match=r"`T` must be cubical .* got shape \(2, 2, 3\)"):
        spm(xp.ones((2, 2, 3)))
    T = np.random.default_rng(0).standard_normal((3, 3, 3))
    S = symmetrize(T)
    asym = np.max(np.abs(T - np.transpose(T, (1, 0, 2)))) / np.abs(T).max()
    with pytest.raises(ValueError, match=rf"measured asymmetry .* = {asym:.3g} exceeds sym_rtol"):
        spm(xp.asarray(T))
    bad = S.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="`T` must contain only finite values; found 1 NaN/Inf"):
        spm(xp.asarray(bad))
    with pytest.raises(ValueError, match=r"`rank` must be an integer at least 1 and at most the flattening size min\(C\(d\+1, 2\), C\(d\+0, 1\)\) = 3; got 4"):
        spm(xp.asarray(S), rank=4)
    S4 = symmetrize(np.random.default_rng(1).standard_normal((2, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"at most the flattening size C\(d\+1, 2\) = 3; got 5"):
        spm(xp.asarray(S4), rank=5)
    low = cp_to_tensor(np.array([1.0, 2.0]), np.eye(3)[:, :2], order=4)
    with pytest.raises(ValueError, match=r"`rank` must be at most the numerical rank of the flattening of `T`, 2; got 3"):
        spm(xp.asarray(low), rank=3)
    with pytest.raises(ValueError, match="`T` must be nonzero"):
        spm(xp.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="`shift` must be one of"):
        spm(xp.asarray(S), shift="big")
    with pytest.raises(ValueError, match="`engine` must be one of"):
        spm(xp.asarray(S), engine="cuda")
    with pytest.raises(ValueError, match=r"`rank_tol` must be a finite real number > 0 and < 1; got 2.0"):
        spm(xp.asarray(S), rank_tol=2.0)
    with pytest.raises(TypeError, match="`T` must be real"):
        spm(np.ones((2, 2, 2), dtype=complex))


def test_assume_symmetric_skips_the_check():
    T, _w, A = random_low_rank(5, 4, order=4, rng=3)
    T2 = T.copy()
    T2[0, 1, 2, 3] += 1e-6
    with pytest.raises(ValueError, match="measured asymmetry"):
        spm(T2)
    # The perturbed entry lies on a sorted multi-index, so it is used: the tensor SPM
    # sees is symmetric but no longer of rank 4, and the poor fit is reported.
    with pytest.warns(TensorWarning, match="poor fit: relative residual"):
        res = spm(T2, assume_symmetric=True, rank=4, rng=0)
    assert match_components(A, res.factors).angle_deg.max() < 1e-2
    assert not res.success and 1e-8 < res.residual < 1e-5
    with pytest.warns(TensorWarning, match="poor fit"):
        res = spm(T2, sym_rtol=1e-5, rank=4, rng=0)
    assert res.rank == 4


def test_numba_engine_refuses_other_backends():
    strict = pytest.importorskip("array_api_strict")
    T = random_low_rank(3, 2, order=3, rng=0, xp=strict).tensor
    with pytest.raises(ValueError, match="engine='numba' needs NumPy input"):
        spm(T, engine="numba")


def test_rank_rule_on_synthetic_spectra():
    from orthla.tensor._spm import _choose_rank

    def choose(s, tol, shape, symmetric=False):
        return _choose_rank(np.asarray(s), tol, shape, symmetric=symmetric, floor=1e-13 * s[0])

    signal = np.array([5.0, 3.0, 2.0, 1.5, 1.0])
    # Values below the threshold are zero: nothing else to go on in a short spectrum.
    assert choose(np.r_[signal, 1e-9, 1e-10], 1e-4, (100, 7)) == 5
    assert choose(np.r_[signal, 1e-3, 1e-9], 1e-4, (100, 7)) == 6  # 1e-3 is above 1e-4 * 5
    assert choose(np.r_[signal, 1e-3, 1e-9], 1e-3, (100, 7)) == 5
    # Rounding errors after the signal are a floor of any length.
    assert choose(np.r_[signal, np.full(30, 1e-15)], 1e-4, (35, 35), True) == 5
    # A noise floor after a gap, flat within the Marchenko-Pastur band of a tall block ...
    floor = np.array([0.05, 0.048, 0.046, 0.045, 0.044])
    assert choose(np.r_[signal, floor], 1e-4, (1000, 10)) == 5
    # ... but signal-like decay (no lower edge) means the flattening has full rank.
    assert choose(np.r_[signal, 0.3, 0.1, 0.03], 1e-4, (1000, 8)) == 8
    # Symmetric noise: a semicircle bulk whose magnitudes reach zero.  The ratio between
    # two near-zero values (here 1e-3 / 1e-7) is not a gap; the edge of the bulk is.
    rng = np.random.default_rng(0)
    bulk = np.sort(np.abs(np.linalg.eigvalsh(_wigner(rng, 60))))[::-1] * 0.02
    bulk[-1] = 1e-7
    s = np.r_[signal, bulk]
    assert choose(s, 1e-4, (65, 65), True) == 5
    assert choose(s, 1e-1, (65, 65), True) == 5  # the threshold only caps the rank


def _wigner(rng, n):
    g = rng.standard_normal((n, n))
    return (g + g.T) / np.sqrt(2 * n)


def test_flattening_input(xp):
    T, w, A = random_low_rank(5, 4, order=5, rng=6)
    flat = xp.asarray(T.reshape(5**3, 5**2))
    res = spm(flat, order=5, rng=0)
    _check_exact(res, w, A, 5)
    with pytest.raises(ValueError, match=r"`T` must have shape \(d\*\*3, d\*\*2\) for a flattening of order 5; got shape \(25, 125\)"):
        spm(xp.asarray(T.reshape(25, 125)), order=5)
    with pytest.raises(ValueError, match="`order` must be an integer at least 3; got 2"):
        spm(flat, order=2)


def test_duplicate_guard_redraws_and_reports():
    import array_api_compat.numpy as npx

    from orthla.tensor._spm import _extract_one, sym_coords
    from orthla.tensor._symmetric import sym_indices

    d, n = 5, 2
    idx, w = sym_indices(d, n)
    a = np.random.default_rng(0).standard_normal(d)
    a /= np.linalg.norm(a)
    cols = [idx[:, p].copy() for p in range(n)]
    s = sym_coords(a[:, None], cols, w, npx)
    V = s / np.linalg.norm(s)  # the subspace holds a^(x 2) only: every start converges to +-a
    E = np.zeros((d, n * idx.shape[0]))
    for p in range(n):
        E[idx[:, p], p * idx.shape[0] + np.arange(idx.shape[0])] = 1.0
    opts = {"max_iter": 500, "tol": 1e-13, "adaptive": True, "stall_limit": 50}
    gen = np.random.default_rng(1)
    x, rec = _extract_one(V, cols, w, E, idx, w, gen, d, 2, 2, [], "xp", opts, npx)
    assert rec["converged"] and not rec["duplicate"] and rec["restarts"] == 0
    assert abs(abs(x @ a) - 1) < 1e-12
    # With a already accepted, every batch is a duplicate: fresh batches are drawn, then it is reported.
    x, rec = _extract_one(V, cols, w, E, idx, w, gen, d, 2, 2, [a], "xp", opts, npx)
    assert rec["duplicate"] and rec["restarts"] == 2


def _count_starts(monkeypatch):
    """Record the batch size of every power-iteration call (both engines)."""
    import orthla.tensor._spm as spm_module

    sizes = []
    for name in ("_power_numba", "_power_xp"):
        orig = getattr(spm_module, name)

        def wrapped(*args, _orig=orig, **kw):
            sizes.append(int(args[-1].shape[1]))  # X0 is the last positional argument
            return _orig(*args, **kw)

        monkeypatch.setattr(spm_module, name, wrapped)
    orig_one = spm_module._one_start_numba

    def one_start(*args, **kw):  # the fused single start of the Numba engine
        sizes.append(1)
        return orig_one(*args, **kw)

    monkeypatch.setattr(spm_module, "_one_start_numba", one_start)
    return sizes


@pytest.mark.parametrize("engine", ["auto", "xp"])
def test_auto_tries_run_one_start_per_exact_component(monkeypatch, engine):
    T, w, A = random_low_rank(10, 20, order=4, rng=31)
    sizes = _count_starts(monkeypatch)
    res = spm(T, rank=20, rng=0, engine=engine)
    _check_exact(res, w, A, 4)
    assert sizes == [1] * 20  # one start each: every first start reached F = 1
    sizes.clear()
    res3 = spm(T, rank=20, rng=0, n_tries=3, engine=engine)
    assert sizes == [3] * 20 and res3.success  # an explicit batch is honoured


def test_auto_tries_add_starts_when_the_first_is_not_exact(monkeypatch):
    T, _, _ = random_low_rank(12, 10, order=4, noise=1e-2, rng=32)
    sizes = _count_starts(monkeypatch)
    res = spm(T, rank=10, rng=0)
    assert res.success
    # Noise keeps F below 1: each component gets the single start plus two more.
    assert sizes[:2] == [1, 2] and set(sizes) <= {1, 2, 3}
    assert sum(sizes) >= 3 * 10


def test_auto_tries_residual_at_rounding_level():
    # The stopping rule stops at the rounding floor of the gradient, so exact tensors are
    # fitted to a few eps (the authors' code reaches about 2e-14 here).
    T, _, _ = random_low_rank(20, 50, order=4, rng=33)
    res = spm(T, rank=50, rng=1)
    assert res.success and res.residual < 1e-13


def test_tridiagonal_route_matches_eigh():
    pytest.importorskip("scipy")
    from orthla.tensor._eig_top import MIN_SIZE, tridiagonal_or_none

    rng = np.random.default_rng(7)
    N, R = MIN_SIZE + 20, 60
    Q, _ = np.linalg.qr(rng.standard_normal((N, R)))
    lam = rng.standard_normal(R) * np.logspace(0, -3, R)  # signed, over three decades
    M = (Q * lam) @ Q.T + 1e-10 * symmetrize(rng.standard_normal((N, N)))
    vals, vecs = np.linalg.eigh(M)
    order = np.argsort(-np.abs(vals))
    tri = tridiagonal_or_none(M)
    assert tri is not None
    np.testing.assert_allclose(np.sort(tri.values), np.sort(vals), rtol=0, atol=1e-13)
    top_vals, V = tri.top(R)
    np.testing.assert_allclose(top_vals, vals[order[:R]], rtol=0, atol=1e-13)
    assert np.abs(V.T @ V - np.eye(R)).max() < 1e-14 * N
    ref = vecs[:, order[:R]]
    assert np.linalg.norm(V @ V.T - ref @ ref.T) < 1e-9  # same subspace (gap 1e-3 / noise 1e-10)
    assert np.abs(V.T @ M @ V - np.diag(top_vals)).max() < 1e-14 * N
    assert tri.top(N // 2) is None  # too many vectors: eigh's all-vector path
    assert tridiagonal_or_none(M, rank=N // 2) is None
    assert tridiagonal_or_none(M[:100, :100]) is None and tridiagonal_or_none(M.astype(np.float32)) is None


def test_exact_recovery_through_the_tridiagonal_route(monkeypatch):
    pytest.importorskip("scipy")
    from orthla.tensor._eig_top import Tridiagonal

    calls = []
    orig = Tridiagonal.top
    monkeypatch.setattr(Tridiagonal, "top", lambda self, R: calls.append(R) or orig(self, R))
    # N = C(33, 2) = 528 >= MIN_SIZE and R <= max_vectors(N): spm takes the tridiagonal route.
    T, w, A = random_low_rank(32, 60, order=4, rng=50)
    res = spm(T, rank=60, rng=0)
    _check_exact(res, w, A, 4)
    assert spm(T, rng=0).rank == 60  # the rank chosen from the tridiagonal's eigenvalues
    assert calls == [60, 60]
