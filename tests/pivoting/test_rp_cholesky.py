import numpy as np
import pytest
import scipy.linalg
import scipy.linalg.lapack
import scipy.stats
from threadpoolctl import threadpool_limits

from orthla._testing import assert_close, to_host
from orthla.pivoting import KernelMatrix, NystromApproximation, rp_cholesky, rp_qr

METHODS = ("accelerated", "simple", "block", "greedy")
SMALL = np.array([[4.0, 1.0, 0.5, 0.0], [1.0, 3.0, 1.0, 0.2], [0.5, 1.0, 2.0, 0.3], [0.0, 0.2, 0.3, 1.0]])
# columns 0 and 1 nearly parallel: after one of them the other is almost never chosen
_B = np.array([[1.0, 0.99, 0.0, 0.1], [0.0, 0.14, 0.0, 0.0], [0.0, 0.0, 0.7, 0.3], [0.0, 0.0, 0.3, 0.6]])
CORRELATED = _B.T @ _B


def first_two_pivot_law(a):
    """Exact RPCholesky law of (s1, s2): P(s1=i) = a_ii / tr a, then the same on the Schur complement."""
    n = a.shape[0]
    p = np.zeros((n, n))
    for i in range(n):
        res = a - np.outer(a[:, i], a[i, :]) / a[i, i]
        d = np.clip(np.diag(res), 0, None)
        p[i] = a[i, i] / np.trace(a) * d / d.sum()
    return p


def pivot_counts(draw, n, trials):
    counts = np.zeros((n, n))
    for _ in range(trials):
        s1, s2 = draw()
        counts[s1, s2] += 1
    return counts


def chi2_pvalue(counts, law):
    mask = law > 0
    assert counts[~mask].sum() == 0  # impossible pairs (s2 == s1) never occur
    return scipy.stats.chisquare(counts[mask], law[mask] * counts.sum()).pvalue


@pytest.mark.parametrize("method", ["simple", "accelerated"])
@pytest.mark.parametrize("matrix", ["small", "correlated"])
def test_first_two_pivots_follow_rpcholesky_law(method, matrix):
    a = SMALL if matrix == "small" else CORRELATED
    rng = np.random.default_rng(2024)

    def draw():
        return to_host(rp_cholesky(a, 2, method=method, block_size=3, rng=rng).pivots)

    assert chi2_pvalue(pivot_counts(draw, 4, 1200), first_two_pivot_law(a)) > 1e-3


def test_chi_square_test_has_power():
    # the block method (candidates kept, repeats dropped) does not follow the law
    rng = np.random.default_rng(7)

    def draw():
        return to_host(rp_cholesky(CORRELATED, 2, method="block", block_size=2, rng=rng).pivots)

    assert chi2_pvalue(pivot_counts(draw, 4, 1200), first_two_pivot_law(CORRELATED)) < 1e-6


@pytest.mark.parametrize("method", ["simple", "accelerated"])
def test_rp_qr_first_two_pivots_follow_the_law_of_the_gram_matrix(method):
    rng = np.random.default_rng(11)
    a = np.linalg.cholesky(SMALL).T  # a^T a = SMALL

    def draw():
        return to_host(rp_qr(a, 2, method=method, block_size=3, rng=rng).pivots)

    assert chi2_pvalue(pivot_counts(draw, 4, 1200), first_two_pivot_law(SMALL)) > 1e-3


def kernel_points(rng, n=400, dim=3):
    return rng.standard_normal((n, dim))


@pytest.mark.parametrize("method", METHODS)
def test_factor_and_trace_history(xp, method):
    x = kernel_points(np.random.default_rng(0))
    k = KernelMatrix(xp.asarray(x), bandwidth=1.5)
    dense = to_host(k.columns(xp.arange(400)))
    res = rp_cholesky(k, 40, method=method, rng=1)
    f, piv, trace = to_host(res.F), to_host(res.pivots), to_host(res.trace)
    assert f.shape == (400, 40) and len(set(piv.tolist())) == 40 and not res.stopped_early
    resid = dense - f @ f.T
    assert trace.shape == (41,) and abs(trace[0] - 400.0) < 1e-9
    assert abs(trace[-1] - np.trace(resid)) <= 1e-10 * 400
    assert np.all(np.diff(trace) <= 1e-12)
    # F[pivots] is lower triangular and the residual vanishes on the pivot rows/columns
    assert np.abs(np.triu(f[piv], 1)).max() <= 1e-12
    assert np.abs(resid[piv]).max() <= 1e-10
    assert np.linalg.eigvalsh(resid).min() >= -1e-10  # A - F F^T stays PSD
    # the Nystrom invariant 0 <= diag(A) - rowsum(F^2), up to rounding
    assert (np.diag(dense) - np.sum(f * f, axis=1)).min() >= -100 * np.finfo(float).eps


def test_greedy_matches_lapack_pivoted_cholesky():
    x = kernel_points(np.random.default_rng(3), n=120)
    a = to_host(KernelMatrix(x, bandwidth=2.0).columns(np.arange(120)))
    piv_ref = scipy.linalg.lapack.dpstrf(a, lower=1)[1] - 1
    res = rp_cholesky(a, 15, method="greedy")
    np.testing.assert_array_equal(res.pivots, piv_ref[:15])


def test_random_methods_beat_uniform_sampling_on_clusters():
    # a few tight clusters of very different sizes: uniform column sampling misses small ones
    rng = np.random.default_rng(5)
    sizes = [500, 30, 10, 5, 3]
    centres = rng.standard_normal((5, 2)) * 20
    x = np.concatenate([c + 0.05 * rng.standard_normal((s, 2)) for c, s in zip(centres, sizes, strict=True)])
    k = KernelMatrix(x, bandwidth=1.0)
    dense = to_host(k.columns(np.arange(len(x))))
    err_rp, err_uniform = [], []
    for seed in range(3):
        f = to_host(rp_cholesky(k, 10, rng=seed).F)
        err_rp.append(np.trace(dense - f @ f.T) / np.trace(dense))
        uniform = np.random.default_rng(seed).choice(len(x), 10, replace=False)
        c = dense[:, uniform]
        err_uniform.append(np.trace(dense - c @ np.linalg.pinv(dense[np.ix_(uniform, uniform)]) @ c.T) / np.trace(dense))
    assert 20 * max(err_rp) < min(err_uniform)


def test_block_method_does_not_depend_on_point_order():
    # data sorted by cluster: keeping the lowest-index samples (np.unique) would skew the pivots
    rng = np.random.default_rng(9)
    centres = rng.standard_normal((20, 2)) * 10
    x = np.repeat(centres, 50, axis=0) + 0.3 * rng.standard_normal((1000, 2))
    perm = rng.permutation(1000)
    errs = {}
    for name, pts in (("sorted", x), ("shuffled", x[perm])):
        k = KernelMatrix(pts, bandwidth=1.0)
        for method in ("block", "accelerated"):
            e = [float(to_host(rp_cholesky(k, 60, method=method, block_size=30, rng=s).trace)[-1]) for s in range(4)]
            errs[name, method] = np.mean(e) / 1000
    assert errs["sorted", "block"] < 2 * errs["shuffled", "block"] < 4 * errs["sorted", "block"]
    assert errs["sorted", "block"] < 2.5 * errs["shuffled", "accelerated"]


def test_numerical_rank_stops_early(xp):
    b = np.random.default_rng(4).standard_normal((30, 4))
    a = b @ b.T
    for method in METHODS:
        res = rp_cholesky(xp.asarray(a), 10, method=method, rng=2)
        assert res.stopped_early and res.F.shape == (30, 4)
        assert_close(res.F @ res.F.mT, a, xp=xp, rtol=0, atol=1e-12 * np.abs(a).max())
    rng = np.random.default_rng(5)
    bc = rng.standard_normal((30, 4)) + 1j * rng.standard_normal((30, 4))
    ac = bc @ bc.conj().T  # complex Hermitian PSD of rank 4
    for method in METHODS:
        res = rp_cholesky(xp.asarray(ac), 10, method=method, rng=2)
        assert res.stopped_early and res.F.shape == (30, 4) and res.F.dtype == xp.complex128
        assert_close(res.F @ xp.conj(res.F.mT), ac, xp=xp, rtol=0, atol=1e-12 * np.abs(ac).max())
    res = rp_cholesky(xp.asarray(np.eye(3)), 5, rng=0)  # rank larger than the matrix
    assert res.stopped_early and res.F.shape == (3, 3)


def test_only_needed_columns_are_evaluated():
    x = kernel_points(np.random.default_rng(6), n=300)

    class Counting:
        def __init__(self):
            self.k = KernelMatrix(x, bandwidth=1.0)
            self.cols = 0

        def diag(self):
            return self.k.diag()

        def columns(self, idx):
            self.cols += len(idx)
            return self.k.columns(idx)

        def block(self, rows, cols):
            return self.k.block(rows, cols)

    for method in ("accelerated", "simple"):
        op = Counting()
        res = rp_cholesky(op, 25, method=method, block_size=10, rng=3)
        assert op.cols == 25 == res.F.shape[1]  # rejected candidates cost only their small block


def test_dense_and_kernel_inputs_agree_and_seeds_reproduce():
    x = kernel_points(np.random.default_rng(8), n=200)
    k = KernelMatrix(x, kernel="matern", bandwidth=1.0, nu=2.5)
    dense = to_host(k.columns(np.arange(200)))
    r1 = rp_cholesky(k, 20, rng=np.random.default_rng(4))
    r2 = rp_cholesky(dense, 20, rng=4)
    np.testing.assert_array_equal(r1.pivots, r2.pivots)
    np.testing.assert_allclose(r1.F, r2.F, atol=1e-12)


def test_kernel_matrix_formulas(xp):
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    r = 5.0
    expect = {("gaussian", 1.5): np.exp(-(r**2) / (2 * 2.0**2)), ("laplace", 1.5): np.exp(-r / 2.0),
              ("matern", 0.5): np.exp(-r / 2.0),
              ("matern", 1.5): (1 + np.sqrt(3) * r / 2) * np.exp(-np.sqrt(3) * r / 2),
              ("matern", 2.5): (1 + np.sqrt(5) * r / 2 + 5 * r**2 / 12) * np.exp(-np.sqrt(5) * r / 2)}
    for (kernel, nu), val in expect.items():
        km = KernelMatrix(xp.asarray(x), kernel, bandwidth=2.0, nu=nu)
        assert km.shape == (2, 2)
        assert_close(km.columns(xp.asarray([1])), np.array([[val], [1.0]]), xp=xp, rtol=1e-14)
        assert_close(km.rows(xp.asarray([1])), np.array([[val, 1.0]]), xp=xp, rtol=1e-14)
        assert_close(km.block(xp.asarray([0, 1]), xp.asarray([1])), np.array([[val], [1.0]]), xp=xp, rtol=1e-14)
        assert_close(km.diag(), np.ones(2), xp=xp, rtol=0)


def test_nystrom_approximation(xp):
    rng = np.random.default_rng(12)
    f_np = rng.standard_normal((50, 6)) * np.logspace(0, -6, 6)
    nys = NystromApproximation(xp.asarray(f_np))
    a = f_np @ f_np.T
    y = rng.standard_normal((50, 3))
    assert nys.rank == 6 and nys.shape == (50, 50)
    assert_close(nys.matvec(xp.asarray(y)), a @ y, xp=xp, rtol=1e-13)
    for shift in (1e-3, 1.0):
        ref = np.linalg.solve(a + shift * np.eye(50), y)
        assert_close(nys.solve(xp.asarray(y), shift), ref, xp=xp, rtol=1e-9)
        assert_close(nys.solve(xp.asarray(y[:, 0]), shift), ref[:, 0], xp=xp, rtol=1e-9)
    w, v = nys.eigh()
    # Contiguous copy: torch cannot wrap the negative-stride view that [::-1] makes.
    assert_close(w, np.ascontiguousarray(np.sort(np.linalg.eigvalsh(a))[::-1][:6]), xp=xp, rtol=1e-9, atol=1e-13)
    vh = to_host(v)
    assert np.linalg.norm(a @ vh - vh * to_host(w)) <= 1e-12 * np.linalg.norm(a)
    with pytest.raises(ValueError, match=r"`shift` must be a finite real number > 0; got 0.0"):
        nys.solve(xp.asarray(y), 0.0)


def test_rp_qr_against_qrcp():
    with threadpool_limits(1):  # multithreaded BLAS on a busy 2-core machine stalls for seconds
        _rp_qr_against_qrcp()


def _rp_qr_against_qrcp():
    rng = np.random.default_rng(1)
    m, n, k = 600, 120, 30
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (u * np.logspace(0, -6, n)) @ v.T
    qr_ref, _, _perm = scipy.linalg.qr(a, mode="economic", pivoting=True)
    err_ref = np.linalg.norm(a - qr_ref[:, :k] @ (qr_ref[:, :k].T @ a))
    for method in ("accelerated", "simple"):
        q, r, piv, resid, early = rp_qr(a, k, method=method, rng=2)
        assert q.shape == (m, k) and r.shape == (k, n) and not early
        err = np.linalg.norm(a - q @ (q.T @ a))
        assert err <= 2 * err_ref
        assert np.linalg.norm(q.T @ q - np.eye(k)) <= 50 * k * np.finfo(float).eps
        rp = r[:, piv]
        assert np.abs(np.tril(rp, -1)).max() <= 1e-14 and np.all(np.diag(rp) > 0)
        np.testing.assert_allclose(r, q.T @ a, atol=1e-14)
        np.testing.assert_allclose(resid[-1], err**2, rtol=1e-8)
        assert resid[0] == pytest.approx(np.linalg.norm(a) ** 2) and np.all(np.diff(resid) <= 1e-12)
        # pivot order matches Gram-Schmidt on the selected columns
        q_ref, _r_ref = np.linalg.qr(a[:, piv])
        np.testing.assert_allclose(np.abs(q), np.abs(q_ref), atol=1e-8)


def test_rp_qr_any_backend_complex_and_rank_deficient(xp):
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((40, 5)) + 1j * rng.standard_normal((40, 5))) @ rng.standard_normal((5, 12))
    q, r, _piv, _resid, early = rp_qr(xp.asarray(a), 8, rng=4)
    assert early and q.shape == (40, 5)
    assert_close(q @ r, a, xp=xp, rtol=0, atol=1e-12 * np.abs(a).max())
    qh = to_host(q)
    assert np.linalg.norm(qh.conj().T @ qh - np.eye(5)) <= 1e-13


def test_inputs_not_modified():
    a = SMALL.copy()
    a.setflags(write=False)
    x = kernel_points(np.random.default_rng(0), n=50)
    x.setflags(write=False)
    for method in METHODS:
        rp_cholesky(a, 3, method=method, rng=0)
        rp_cholesky(KernelMatrix(x), 5, method=method, rng=0)
    rp_qr(a, 2, rng=0)
    np.testing.assert_array_equal(a, SMALL)


def test_errors(xp):
    a = xp.asarray(SMALL)
    with pytest.raises(ValueError, match="`rank` must be an integer at least 1; got 0"):
        rp_cholesky(a, 0)
    with pytest.raises(ValueError, match=r"`method` must be one of \('accelerated', 'simple', 'block', 'greedy'\)"):
        rp_cholesky(a, 2, method="uniform")
    with pytest.raises(ValueError, match="`block_size` must be an integer at least 1; got 0"):
        rp_cholesky(a, 2, block_size=0)
    with pytest.raises(ValueError, match=r"`tol` must be a finite real number >= 0; got -1.0"):
        rp_cholesky(a, 2, tol=-1.0)
    with pytest.raises(ValueError, match="`a` must be symmetric"):
        rp_cholesky(xp.asarray(np.triu(SMALL)), 2)
    with pytest.raises(ValueError, match=r"`a` must be positive semidefinite; its diagonal has a negative entry \(min -1"):
        rp_cholesky(xp.asarray(np.diag([1.0, -1.0])), 1)
    with pytest.raises(ValueError, match="`a` must contain only finite values"):
        rp_cholesky(xp.asarray(np.diag([1.0, np.nan])), 1)
    with pytest.raises(ValueError, match=r"`kernel` must be one of \('gaussian', 'laplace', 'matern'\); got 'rbf'"):
        KernelMatrix(xp.ones((3, 2)), "rbf")
    with pytest.raises(ValueError, match=r"`bandwidth` must be a finite real number > 0; got -1.0"):
        KernelMatrix(xp.ones((3, 2)), bandwidth=-1)
    with pytest.raises(ValueError, match=r"`nu` must be one of \(0.5, 1.5, 2.5\); got 3.0"):
        KernelMatrix(xp.ones((3, 2)), "matern", nu=3)
    with pytest.raises(ValueError, match="`points` must be a 2-D array"):
        KernelMatrix(xp.ones(3))
    with pytest.raises(ValueError, match="`rank` must be an integer at least 1"):
        rp_qr(a, -1)
    with pytest.raises(ValueError, match=r"`method` must be one of \('accelerated', 'simple'\)"):
        rp_qr(a, 2, method="greedy")
    with pytest.raises(ValueError, match="`a` must be a 2-D array"):
        rp_qr(xp.ones(3), 1)
