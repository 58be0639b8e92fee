"""Property tests (hypothesis): each family's defining identities at random shapes and scales.

Derandomized (fixed seeds, reproducible in CI) and kept small; shapes, scales and seeds are drawn
by hypothesis, matrices from ``numpy.random.default_rng(seed)``.  The references are dense formulas
and LAPACK through NumPy/SciPy.
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import orthla  # noqa: E402

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None)
EPS = np.finfo(np.float64).eps
seeds = st.integers(0, 2**32 - 1)
# Powers of two keep the scaling exact, so every identity must hold at 1e-150 ... 1e150 as at 1.
scales = st.sampled_from([2.0**-500, 2.0**-60, 1.0, 2.0**60, 2.0**500])


def _matrix(seed, m, n, cond=None):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    if cond is not None:
        u, _, vt = np.linalg.svd(a, full_matrices=False)
        s = np.geomspace(1.0, 1.0 / cond, min(m, n))
        a = (u * s) @ vt
    return a


@SETTINGS
@given(seed=seeds, m=st.integers(1, 30), n=st.integers(1, 12), scale=scales)
def test_mgs_qr_reconstructs_with_orthonormal_q(seed, m, n, scale):
    n = min(m, n)
    a = _matrix(seed, m, n, cond=1e3) * scale
    q, r = orthla.mgs_qr(a)
    assert np.linalg.norm(q.T @ q - np.eye(n)) <= 50 * n * EPS
    assert np.linalg.norm(q @ r - a) <= 50 * n * EPS * np.linalg.norm(a)
    assert np.allclose(np.tril(r, -1), 0.0)


@SETTINGS
@given(seed=seeds, m=st.integers(1, 20), n=st.integers(1, 10), scale=scales)
def test_jacobi_svd_singular_values_match_lapack(seed, m, n, scale):
    n = min(m, n)
    a = _matrix(seed, m, n) * scale
    res = orthla.jacobi_svd(a)
    want = np.linalg.svd(a / scale, compute_uv=False) * scale
    np.testing.assert_allclose(res.S, want, rtol=100 * n * EPS, atol=100 * n * EPS * want[0])
    u, s, vh = res.U, res.S, res.Vh
    assert np.linalg.norm((u * s) @ vh - a) <= 100 * n * EPS * np.linalg.norm(a)


@SETTINGS
@given(seed=seeds, n=st.integers(1, 10), scale=scales)
def test_jacobi_eigh_matches_lapack(seed, n, scale):
    g = _matrix(seed, n, n)
    a = (g + g.T) * scale
    w = orthla.jacobi_eigh(a).eigenvalues
    want = np.linalg.eigvalsh(a / scale) * scale
    np.testing.assert_allclose(np.sort(w), want, rtol=0, atol=100 * n * EPS * np.max(np.abs(want)))


@SETTINGS
@given(seed=seeds, n=st.integers(2, 40), true_rank=st.integers(1, 8), extra=st.integers(0, 8),
       method=st.sampled_from(["accelerated", "block", "simple", "greedy"]))
def test_rp_cholesky_stays_below_the_matrix(seed, n, true_rank, extra, method):
    # 0 <= diag(A) - rowsum(F^2), and A - F F^T is positive semidefinite, whatever the rank asked.
    g = _matrix(seed, n, min(true_rank, n))
    a = g @ g.T
    rank = min(n, min(true_rank, n) + extra)
    res = orthla.rp_cholesky(a, rank, method=method, rng=seed)
    f = np.asarray(res.F)
    resid = np.diag(a) - np.sum(np.abs(f) ** 2, axis=1)
    tol = 100 * n * EPS * np.trace(a)
    assert np.all(resid >= -tol)
    assert np.linalg.eigvalsh(a - f @ f.T)[0] >= -tol


@SETTINGS
@given(seed=seeds, dims=st.lists(st.integers(1, 4), min_size=1, max_size=3), scale=scales)
def test_kron_operator_matvec_and_solve_match_dense(seed, dims, scale):
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((d, d)) + 3 * np.eye(d) for d in dims]
    dense = factors[0]
    for f in factors[1:]:
        dense = np.kron(dense, f)
    x = rng.standard_normal(dense.shape[0]) * scale
    op = orthla.KronOperator(factors)
    y = op @ x
    np.testing.assert_allclose(y, dense @ x, rtol=1e-12, atol=1e-12 * np.linalg.norm(dense) * np.abs(x).max())
    back = op.solve(y)
    assert np.linalg.norm(back - x) <= 1e-10 * np.linalg.cond(dense) * np.linalg.norm(x)


@SETTINGS
@given(seed=seeds, m=st.integers(0, 8))
def test_fwht_is_its_own_inverse_up_to_n(seed, m):
    n = 2**m
    y = np.random.default_rng(seed).standard_normal(n)
    h = np.array([[1.0]])
    for _ in range(m):
        h = np.block([[h, h], [h, -h]])
    z = orthla.fwht(y)
    # The transform agrees with the dense Hadamard matrix up to orthla's normalization c.
    dense = h @ y
    c = np.dot(z, dense) / max(np.dot(dense, dense), 1e-300)
    np.testing.assert_allclose(z, c * dense, rtol=1e-12, atol=1e-12 * np.abs(dense).max())
    np.testing.assert_allclose(orthla.fwht(z), c * c * n * y, rtol=1e-10, atol=1e-10 * np.abs(y).max() * n)


@SETTINGS
@given(seed=seeds, d=st.integers(1, 6), n=st.integers(1, 64),
       engine=st.sampled_from(["sobol", "halton", "lattice"]))
def test_qmc_points_lie_in_the_half_open_cube(seed, d, n, engine):
    make = {"sobol": orthla.Sobol, "halton": orthla.Halton, "lattice": orthla.Lattice}[engine]
    x = np.asarray(make(d, rng=seed).random(n))
    assert x.shape == (n, d)
    assert np.all((x >= 0.0) & (x < 1.0))


@SETTINGS
@given(seed=seeds, d=st.integers(2, 5), rank=st.integers(1, 4), order=st.integers(3, 4), scale=scales)
def test_symmetrize_is_an_idempotent_projection(seed, d, rank, order, scale):
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((d,) * order) * scale
    s = orthla.symmetrize(t)
    np.testing.assert_allclose(orthla.symmetrize(s), s, rtol=1e-13, atol=1e-13 * np.abs(s).max())
    np.testing.assert_allclose(s, np.swapaxes(s, 0, 1), rtol=0, atol=1e-13 * np.abs(s).max())
    # A CP tensor is already symmetric.
    lr = orthla.random_low_rank(d, rank, order=order, rng=seed)
    np.testing.assert_allclose(orthla.symmetrize(lr.tensor), lr.tensor, rtol=1e-12,
                               atol=1e-12 * np.abs(lr.tensor).max())


@SETTINGS
@given(seed=seeds, m=st.integers(4, 20), n=st.integers(3, 12), k=st.integers(1, 3),
       new=st.integers(1, 5), scale=scales)
def test_truncated_svd_add_rows_equals_svd_of_stacked_low_rank(seed, m, n, k, new, scale):
    # Exactly rank-k data: the tracked rank-k SVD after appending rows is the exact SVD.
    rng = np.random.default_rng(seed)
    k = min(k, m, n)
    basis = rng.standard_normal((k, n))
    a = rng.standard_normal((m, k)) @ basis * scale
    e = rng.standard_normal((new, k)) @ basis * scale
    svd = orthla.TruncatedSVD.fit(a, k).add_rows(e)
    want = np.linalg.svd(np.vstack([a, e]) / scale, compute_uv=False)[:k] * scale
    np.testing.assert_allclose(np.asarray(svd.s)[:k], want, rtol=1e-10 * max(m, n), atol=0)
