"""Regression tests for the hardening of the randomized-pivoting functions (issue 12).

Each test reproduces a reported defect and checks against an independent reference: a dense
eigen-decomposition, the dense kernel formula from coordinate differences, or the unscaled call.
"""

import numpy as np
import pytest

from orthla._testing import to_host
from orthla.pivoting import (
    KernelMatrix,
    NystromApproximation,
    pivot_potential,
    random_pivot_factorize,
    rp_cholesky,
    rp_qr,
)

METHODS = ("accelerated", "simple", "block", "greedy")
EPS = np.finfo(np.float64).eps


def G(*s):
    return np.random.default_rng(0).standard_normal(s)


def dense_kernel(p, kernel="gaussian", bandwidth=1.0, nu=1.5):
    """Textbook kernel matrix from coordinate differences (no |x|^2 + |y|^2 - 2 x.y)."""
    r = np.sqrt(np.sum((p[:, None, :] - p[None, :, :]) ** 2, axis=-1)) / bandwidth
    if kernel == "gaussian":
        return np.exp(-(r**2) / 2)
    if kernel == "laplace" or nu == 0.5:
        return np.exp(-r)
    if nu == 1.5:
        return (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r)
    return (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)


def diag_gap(a, f):
    """``diag(A) - rowsum(|F|^2)``: never below rounding level for a Nystrom factor."""
    return np.real(np.diag(a)) - np.sum(np.abs(f) ** 2, axis=1)


# ----------------------------------------------------------------------------- defect 1

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("block_size", ["auto", 2, 5])
def test_complex_hermitian_blocks_keep_the_residual_psd(xp, method, block_size):
    # issue 12 #1: the candidate block's residual was A_cc - conj(F_c F_c^H); with genuinely
    # complex data the block pivots were wrong (min eig of A - FF^H -1231, 11 pivots at rank 10)
    rng = np.random.default_rng(0)
    g = rng.standard_normal((30, 10)) + 1j * rng.standard_normal((30, 10))
    a = g @ g.conj().T
    res = rp_cholesky(xp.asarray(a), 20, method=method, block_size=block_size, rng=0)
    f, tr = to_host(res.F), to_host(res.trace)
    scale = np.trace(a).real
    assert res.stopped_early and f.shape == (30, 10)
    resid = a - f @ f.conj().T
    assert np.linalg.eigvalsh(resid).min() >= -1e-13 * scale
    assert np.abs(resid).max() <= 1e-12 * scale
    assert abs(tr[-1] - np.trace(resid).real) <= 1e-13 * scale
    assert diag_gap(a, f).min() >= -100 * EPS * np.abs(a).max()


# ----------------------------------------------------------------------------- defect 2

@pytest.mark.parametrize("method", METHODS)
def test_factor_never_exceeds_the_diagonal_past_the_numerical_rank(method):
    # issue 12 #2: the block method accepted candidates whose residual had collapsed within the
    # block to rounding noise; F F^T then exceeded diag(A) (by 7e-5 here, and the relative trace
    # error went negative) when the requested rank was above the numerical rank (68)
    x = G(400, 2)
    k = KernelMatrix(x, bandwidth=3.0)
    a = dense_kernel(x, bandwidth=3.0)
    for rank in (68, 136, 272):
        for seed in range(3):
            res = rp_cholesky(k, rank, method=method, rng=seed)
            f = to_host(res.F)
            gap = diag_gap(a, f)
            assert gap.min() >= -100 * EPS, (rank, seed, gap.min())
            assert np.trace(a - f @ f.T) >= -100 * EPS * 400
            assert to_host(res.trace)[-1] >= 0


def test_block_method_stays_accurate_and_psd_on_a_dense_rank_deficient_matrix(xp):
    # the same with a dense matrix whose negative eigenvalues are rounding noise: no error raised
    x = G(150, 2)
    a = dense_kernel(x, bandwidth=2.0)
    assert np.linalg.eigvalsh(a).min() < 0  # PSD only up to rounding
    for method in METHODS:
        res = rp_cholesky(xp.asarray(a), 120, method=method, block_size=40, rng=1)
        f = to_host(res.F)
        assert res.stopped_early
        assert diag_gap(a, f).min() >= -100 * EPS
        assert np.abs(a - f @ f.T).max() <= 1e-9


# ----------------------------------------------------------------------------- defect 3

@pytest.mark.parametrize("offset", [0.0, 1e8, 1e9])
@pytest.mark.parametrize(("kernel", "nu"), [("gaussian", 1.5), ("laplace", 1.5), ("matern", 0.5),
                                            ("matern", 1.5), ("matern", 2.5)])
def test_kernel_entries_far_from_the_origin(xp, offset, kernel, nu):
    # issue 12 #3: |x|^2 + |y|^2 - 2 x.y cancelled at offset 1e8 (entries off by 0.84, a
    # diagonal entry 0 at 1e9)
    p = offset + G(6, 2)
    km = KernelMatrix(xp.asarray(p), kernel, bandwidth=0.7, nu=nu)
    want = dense_kernel(p, kernel, 0.7, nu)
    got = to_host(km.columns(xp.arange(6)))
    np.testing.assert_allclose(got, want, rtol=0, atol=20 * EPS)
    np.testing.assert_allclose(np.diag(got), 1.0, rtol=0, atol=4 * EPS)
    np.testing.assert_allclose(to_host(km.rows(xp.asarray([2, 5]))), want[[2, 5]], rtol=0, atol=20 * EPS)
    np.testing.assert_allclose(to_host(km.block(xp.asarray([1]), xp.asarray([0, 4]))), want[[1]][:, [0, 4]],
                               rtol=0, atol=20 * EPS)


def test_kernel_far_apart_clusters_and_rp_cholesky_at_an_offset():
    # two tight clusters far apart relative to their spread: even centered, the Gram form would
    # cancel; the kernel takes differences directly there
    rng = np.random.default_rng(3)
    p = np.concatenate([1e6 + rng.standard_normal((5, 3)), -1e6 + rng.standard_normal((5, 3))])
    km = KernelMatrix(p, bandwidth=2.0)
    np.testing.assert_allclose(km.columns(np.arange(10)), dense_kernel(p, bandwidth=2.0), rtol=0, atol=20 * EPS)
    # rp_cholesky stopped after one pivot on points at offset 1e8 (every entry looked like 1)
    x = 1e8 + G(50, 2)
    res = rp_cholesky(KernelMatrix(x), 20, rng=0)
    a = dense_kernel(x)
    f = to_host(res.F)
    assert f.shape == (50, 20) and not res.stopped_early
    piv = to_host(res.pivots)
    ny = a[:, piv] @ np.linalg.solve(a[np.ix_(piv, piv)], a[piv, :])
    assert np.abs(f @ f.T - ny).max() <= 1e-10


@pytest.mark.parametrize("kernel", ["gaussian", "laplace", "matern"])
def test_extreme_bandwidths(kernel):
    # ZeroDivisionError from 1 / (2 h^2) at h = 1e-300; no over/underflow warnings either way
    p = G(5, 2)
    np.testing.assert_array_equal(KernelMatrix(p, kernel, bandwidth=1e-300).columns(np.arange(5)), np.eye(5))
    np.testing.assert_allclose(KernelMatrix(p, kernel, bandwidth=1e300).columns(np.arange(5)), np.ones((5, 5)),
                               rtol=0, atol=1e-290)
    p32 = p.astype(np.float32)  # 1e-300 and 1e300 are outside float32: computed in float64
    for h, want in ((1e-300, np.eye(5)), (1e300, np.ones((5, 5)))):
        got = KernelMatrix(p32, kernel, bandwidth=h).columns(np.arange(5))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"`bandwidth` must be a finite real number > 0"):
            KernelMatrix(p, kernel, bandwidth=bad)
    with pytest.raises(TypeError, match="`bandwidth` must be a real number"):
        KernelMatrix(p, kernel, bandwidth=True)


# ----------------------------------------------------------------------------- defects 7, 8

@pytest.mark.parametrize("scale", [1e-200, 1e-170, 1e-150, 1e150, 1e200])
def test_rp_qr_is_scale_homogeneous(xp, scale):
    # issue 12 #7: rp_qr(G(8,6) * 1e-170, 3) claimed rank 0 (squared norms underflowed)
    a = G(8, 6)
    ref = rp_qr(a, 3, rng=0)
    res = rp_qr(xp.asarray(a * scale), 3, rng=0)
    assert not res.stopped_early
    np.testing.assert_array_equal(to_host(res.pivots), ref.pivots)
    np.testing.assert_allclose(to_host(res.Q), ref.Q, rtol=0, atol=1e-14)
    np.testing.assert_allclose(to_host(res.R) / scale, ref.R, rtol=0, atol=1e-14 * np.abs(ref.R).max())
    sq = scale * scale  # a Python float: inf past 1e308
    if 1e-290 < sq * ref.residual[-1] and sq * ref.residual[0] < 1e308:
        np.testing.assert_allclose(to_host(res.residual) / sq, ref.residual, rtol=1e-13)
    elif scale > 1:
        assert np.all(np.isinf(to_host(res.residual)))  # ||a||_F^2 is past the largest float


@pytest.mark.parametrize("scale", [1e-200, 1e-150, 1e150, 1e200])
def test_rp_cholesky_random_pivot_and_potential_are_scale_homogeneous(scale):
    b = G(8, 8)
    a = b @ b.T + 0.5 * np.eye(8)  # distinct eigenvalues: eigenvectors are determined
    ref = rp_cholesky(a, 4, rng=0)
    res = rp_cholesky(a * scale, 4, rng=0)
    np.testing.assert_array_equal(res.pivots, ref.pivots)
    np.testing.assert_allclose(res.F / np.sqrt(scale), ref.F, rtol=0, atol=1e-13)
    assert pivot_potential(a * scale) == pytest.approx(float(pivot_potential(a)), rel=1e-12)
    tall = G(9, 5)
    for kind, m in (("eigh", a), ("cholesky", a), ("svd", tall), ("qr", tall)):
        want = random_pivot_factorize(m, kind, rng=0).factors
        got = random_pivot_factorize(m * scale, kind, rng=0).factors
        root = np.sqrt(scale) if kind == "cholesky" else scale
        scaled = {"eigh": (root, 1), "cholesky": (root,), "svd": (1, root, 1), "qr": (1, root)}[kind]
        for g_, w_, s_ in zip(got, want, scaled, strict=True):
            np.testing.assert_allclose(g_ / s_, w_, rtol=0, atol=1e-12 * np.abs(w_).max())


@pytest.mark.parametrize("method", METHODS)
def test_indefinite_matrix_is_refused(xp, method):
    # issue 12 #8: [[1, 2], [2, 1]] was accepted with residual trace 0 (true -3)
    with pytest.raises(ValueError, match=r"`a` must be positive semidefinite; the residual diagonal .* is -3"):
        rp_cholesky(xp.asarray([[1.0, 2.0], [2.0, 1.0]]), 2, method=method, rng=0)
    bad = np.diag([3.0, 2.0, 1.0, -1e-3])
    q, _ = np.linalg.qr(G(4, 4))
    with pytest.raises(ValueError, match="`a` must be positive semidefinite"):
        rp_cholesky(xp.asarray(q @ bad @ q.T), 4, method=method, block_size=2, rng=0)


# ----------------------------------------------------------------------------- crashes, messages

def test_nystrom_refuses_non_finite_input_instead_of_hanging():
    f = G(20, 3)
    f_inf = f.copy()
    f_inf[4, 1] = np.inf
    with pytest.raises(ValueError, match="`factor` must contain only finite values"):
        NystromApproximation(f_inf)  # solve() and eigh() looped forever in LAPACK's SVD
    nys = NystromApproximation(f)
    y = G(20)
    for bad in (np.nan, np.inf):
        y_bad = y.copy()
        y_bad[3] = bad
        with pytest.raises(ValueError, match="`y` must contain only finite values"):
            nys.solve(y_bad, 1.0)
        with pytest.raises(ValueError, match="`x` must contain only finite values"):
            nys.matvec(y_bad)
        with pytest.raises(ValueError, match=r"`shift` must be a finite real number > 0"):
            nys.solve(y, bad)
    with pytest.raises(ValueError, match=r"`y` must have shape \(N,\) or \(N, p\) with N = 20"):
        nys.solve(G(19), 1.0)
    with pytest.raises(TypeError, match="`y` must have a real or complex floating"):
        nys.solve(y > 0, 1.0)
    with pytest.raises(TypeError, match="`shift` must be a real number"):
        nys.solve(y, "1")


def test_nystrom_accepts_lists_and_copies_its_factor():
    f = G(6, 2)
    nys = NystromApproximation(f.tolist())
    ref = f @ (f.T @ np.arange(6.0))
    np.testing.assert_allclose(nys.matvec(list(range(6))), ref, rtol=1e-14)
    np.testing.assert_allclose(nys.solve(np.arange(6.0).tolist(), 0.5),
                               np.linalg.solve(f @ f.T + 0.5 * np.eye(6), np.arange(6.0)), rtol=1e-12)
    g = f.copy()
    nys = NystromApproximation(g)
    w0 = nys.eigh()[0]
    g[:] = 0  # the caller's array changes; the approximation does not
    np.testing.assert_allclose(nys.matvec(np.ones(6)), f @ (f.T @ np.ones(6)), rtol=1e-14)
    np.testing.assert_array_equal(nys.eigh()[0], w0)
    with pytest.raises(TypeError, match="`factor` must be an array"):
        NystromApproximation("F")


def test_kernel_index_arrays_are_validated(xp):
    km = KernelMatrix(xp.asarray(G(6, 2)))
    with pytest.raises(TypeError, match="`idx` must hold integer indices; got a boolean array"):
        km.columns(xp.asarray([True, False, True, False, False, True]))
    with pytest.raises(ValueError, match=r"`idx` must hold indices of `points` in \[0, N - 1\] = \[0, 5\]; got 6"):
        km.columns(xp.asarray([0, 6]))
    with pytest.raises(ValueError, match=r"\[0, 5\]; got -1"):
        km.rows(xp.asarray([-1, 2]))
    with pytest.raises(ValueError, match="`cols` must be a 1-D array of integer indices; got ndim=2"):
        km.block(xp.asarray([0]), xp.asarray([[0, 1]]))
    with pytest.raises(TypeError, match="`rows` must have an integer dtype"):
        km.block(xp.asarray([0.0]), xp.asarray([1]))
    np.testing.assert_allclose(to_host(km.columns([1, 2])), to_host(km.columns(xp.asarray([1, 2]))))
    assert tuple(km.columns(xp.asarray([], dtype=xp.int64)).shape) == (6, 0)


def test_kernel_index_from_another_library():
    import array_api_strict as xs

    km = KernelMatrix(xs.asarray(G(4, 2)))
    with pytest.raises(TypeError, match="`idx` is an array of array_api_compat.numpy, but the other arguments come from array_api_strict"):
        km.columns(np.array([0, 1]))


def test_rp_cholesky_argument_errors(xp):
    a = xp.asarray(np.eye(4))
    with pytest.raises(TypeError, match="`a` must be an array"):
        rp_cholesky("matrix", 2)
    with pytest.raises(TypeError, match="`a` has dtype float16"):
        rp_cholesky(np.eye(3, dtype=np.float16), 2)
    with pytest.raises(TypeError, match="`rank` must be an integer; got the boolean True"):
        rp_cholesky(a, True)
    with pytest.raises(TypeError, match="`block_size` must be an integer; got the boolean True"):
        rp_cholesky(a, 2, block_size=True)
    with pytest.raises(ValueError, match="`tol` must be a finite real number >= 0; got nan"):
        rp_cholesky(a, 2, tol=float("nan"))
    with pytest.raises(TypeError, match="`a` must have a real or complex floating"):
        rp_cholesky(np.eye(3, dtype=bool), 2)
    with pytest.raises(TypeError, match="`a` has dtype float16"):
        rp_qr(np.eye(3, dtype=np.float16), 2)
    with pytest.raises(TypeError, match="`rank` must be an integer; got the boolean True"):
        rp_qr(a, True)
    with pytest.raises(TypeError, match="`a` must be an array"):
        rp_qr("matrix", 1)


def test_huge_block_size_is_clamped_to_the_rank():
    # block_size=10**9 raised MemoryError (a 10**9-candidate sample and block)
    x = G(300, 2)
    k = KernelMatrix(x)
    for method in ("accelerated", "block"):
        res = rp_cholesky(k, 12, method=method, block_size=10**9, rng=0)
        ref = rp_cholesky(k, 12, method=method, block_size=12, rng=0)
        np.testing.assert_array_equal(res.pivots, ref.pivots)
    res = rp_qr(x.T @ G(300, 40), 2, block_size=10**9, rng=0)
    assert res.Q.shape == (2, 2)


def test_pivot_potential_singular_names_b(xp):
    with pytest.raises(np.linalg.LinAlgError, match="`b` must be invertible"):
        pivot_potential(xp.asarray(np.ones((3, 3))))
    with pytest.raises(TypeError, match="`b` must be an array"):
        pivot_potential("b")


# ----------------------------------------------------------------------------- review follow-ups

def _modulated_kernel(n=150, seed=7):
    """Genuinely complex Hermitian PSD matrix of low numerical rank (86 of 150): a Gaussian
    kernel times a mix of two plane-wave phases (a Schur product of PSD matrices)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    a = dense_kernel(x, bandwidth=1.5)
    p1, p2 = np.exp(1j * (x @ rng.standard_normal(2))), np.exp(1j * (x @ rng.standard_normal(2)))
    a = a * (0.5 * np.outer(p1, p1.conj()) + 0.5 * np.outer(p2, p2.conj()))
    return (a + a.conj().T) / 2


@pytest.mark.parametrize("method", METHODS)
def test_complex_kernel_past_its_numerical_rank(method):
    # issues 1 and 2 together, on data whose imaginary parts are of the size of the real ones
    # (the reproducer (1 + 1j) G was real up to a factor): before, the accelerated and
    # block methods gave diag(A) - rowsum|F|^2 of -1e17 eps with 15-36 pivots
    a = _modulated_kernel()
    assert np.abs(a.imag).max() > 0.4
    tr = np.trace(a).real
    for rank in (86, 172, 258):  # 1x, 2x, 3x the numerical rank
        for seed in range(2):
            res = rp_cholesky(a, rank, method=method, rng=seed)
            f = res.F
            resid = a - f @ f.conj().T
            # measured worst over these runs: -33 eps and -2.7 eps tr(A) (accelerated)
            assert diag_gap(a, f).min() >= -200 * EPS, (rank, seed)
            assert np.linalg.eigvalsh(resid).min() >= -20 * EPS * tr, (rank, seed)
            assert abs(res.trace[-1] - np.trace(resid).real) <= 1e-12 * tr
            assert res.stopped_early == (rank > 86) and f.shape[1] >= 86
            if res.stopped_early:  # stops at the numerical rank: residual trace at rounding level
                assert np.trace(resid).real <= 1e-12 * tr


@pytest.mark.parametrize("method", METHODS)
def test_small_negative_eigenvalue_is_refused_once_reached(method):
    # a negative eigenvalue of -1e-6 max diag(A) (orders of magnitude above rounding) is caught
    # as soon as the factorization reaches the positive part's rank; before, it was accepted
    n = 50
    for seed in range(3):
        rng = np.random.default_rng(seed)
        q = np.linalg.qr(rng.standard_normal((n, n)))[0]
        ev = np.r_[np.linspace(1.0, 0.1, 10), np.zeros(n - 10)]
        ev[-1] = -1e-6 * 0.6  # max diag(A) is below 0.6 here
        a = (q * ev) @ q.T
        a = (a + a.T) / 2
        assert -ev[-1] >= 1e-6 * np.diag(a).max()
        with pytest.raises(ValueError, match="`a` must be positive semidefinite"):
            rp_cholesky(a, 10, method=method, rng=seed)


def test_kernel_distances_delegate_to_cdist_on_numpy(monkeypatch):
    # Laplace/Matern (and wide Gaussian) blocks summed r^2 coordinate by coordinate: rp_cholesky
    # on a Laplace kernel (N = 5000, d = 10, rank 100) took twice as long as before the hardening;
    # float64 NumPy points now use SciPy's cdist on the same exact differences
    import scipy.spatial.distance

    calls = []
    real = scipy.spatial.distance.cdist

    def counting(*args, **kwargs):
        calls.append(args[2] if len(args) > 2 else kwargs.get("metric"))
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.spatial.distance, "cdist", counting)
    p = 1e8 + G(30, 3)
    for kernel, nu in (("laplace", 1.5), ("matern", 2.5)):
        got = KernelMatrix(p, kernel, bandwidth=0.7, nu=nu).columns(np.arange(30))
        np.testing.assert_allclose(got, dense_kernel(p, kernel, 0.7, nu), rtol=0, atol=20 * EPS)
    assert calls == ["sqeuclidean", "sqeuclidean"]
    # float32 points and differences that need clipping keep the loop (cdist computes in float64)
    got = KernelMatrix(G(6, 2).astype(np.float32), "laplace").columns(np.arange(6))
    assert got.dtype == np.float32
    far = np.array([[0.0], [1.0], [1e6]])
    np.testing.assert_array_equal(KernelMatrix(far, "laplace", bandwidth=1e-3).columns(np.arange(3)), np.eye(3))
    assert len(calls) == 2


def test_rp_qr_rank_deficient_at_huge_scale(xp):
    # the residual history of exactly rank-deficient data reaches 0 while its first entries
    # overflow; scaling it back computed sign(0) * inf (NaN, "invalid value" RuntimeWarning)
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((30, 4)) + 1j * rng.standard_normal((30, 4))) @ (
        rng.standard_normal((4, 12)) + 1j * rng.standard_normal((4, 12)))
    for scale in (2.0**565, 2.0**1000):  # 1e170, 1e301: ||a||_F^2 is past the largest float
        for method in ("accelerated", "simple"):
            res = rp_qr(xp.asarray(a * scale), 8, method=method, rng=1)
            q, r, resid = to_host(res.Q), to_host(res.R), to_host(res.residual)
            assert res.stopped_early and q.shape == (30, 4)
            assert np.abs(q.conj().T @ q - np.eye(4)).max() <= 10 * EPS
            assert np.abs(q @ (r / scale) - a).max() <= 100 * EPS * np.abs(a).max()
            # inf where the true value is past 1.8e308 (the rounding-level last entry of the
            # accelerated run, 1e-12 ||a||^2, is too), never NaN; an exact 0 stays 0
            assert not np.isnan(resid).any() and np.all(resid >= 0) and np.all(resid[1:] <= resid[:-1])
            assert np.isinf(resid[0]) and np.isinf(resid[1])
        assert resid[-1] == 0  # the simple method's history ends at an exact 0 here
