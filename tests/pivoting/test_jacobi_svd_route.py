"""The dgejsv-style route of jacobi_svd on NumPy: no accumulated rotations, V by a triangular solve."""

import array_api_compat.numpy as npx
import numpy as np
import pytest
from test_jacobi_svd import check_svd, matrix

from orthla.pivoting import jacobi_svd
from orthla.pivoting._jacobi_common import JacobiInfo, tiled_sweep
from orthla.pivoting._jacobi_svd import _two_qr_svd

# the kernels' negligible-column / zero-diagonal floor for float64 (_jacobi_common.underflow_floor)
FLOOR = np.finfo(float).tiny / np.finfo(float).eps


def kahan(n, theta=1.2):
    """Kahan's matrix, with the usual tiny column perturbation so that QRCP does not pivot."""
    s, c = np.sin(theta), np.cos(theta)
    k = np.triu(np.full((n, n), -c), 1) + np.eye(n)
    return (s ** np.arange(n))[:, None] * k * (1 - 100 * np.finfo(float).eps * np.arange(n))


def attempt(a, engine="numba"):
    tol = np.sqrt(a.shape[0]) * np.finfo(a.dtype).eps
    return _two_qr_svd(a, "cyclic", False, True, tol, 50, np.random.default_rng(0), engine, npx)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("shape", [(40, 30), (30, 30)])
@pytest.mark.parametrize("engine", ["auto", "xp"])
def test_ordinary_input_takes_the_triangular_solve(dtype, shape, engine):
    if engine == "auto":
        pytest.importorskip("numba")
    a = matrix(np.random.default_rng(11), *shape, dtype)
    out = attempt(a, "numba" if engine == "auto" else "xp")
    assert not isinstance(out, JacobiInfo)  # the fast route was taken, not the fallback
    u, s, vh, info = jacobi_svd(a, engine=engine)
    assert info.converged and info.sweeps == out[3].sweeps
    eps = np.finfo(dtype).eps
    check_svd(a, u, s, vh, eps, 2)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=50 * shape[1] * eps)


def test_kahan_falls_back_to_accumulated_rotations():
    # R1 = R of Kahan's matrix is ill-conditioned even after scaling its rows (cond 2e10 at
    # n = 60): the triangular solve cannot give orthogonal V, so the rotations are accumulated.
    a = kahan(60)
    first = attempt(a, "xp")
    assert isinstance(first, JacobiInfo) and first.converged
    u, s, vh, info = jacobi_svd(a, engine="xp")
    assert info.converged and info.sweeps > first.sweeps and info.rotations > first.rotations
    eps = np.finfo(float).eps
    check_svd(a, u, s, vh, eps, 20)  # 17 sweeps of accumulated rotations: ||U^T U - I|| ~ 9 n eps
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=0, atol=100 * eps * s[0])


def test_numerically_rank_deficient_input():
    # R1 has rows of size 1e-15; the solve does not mind row scaling, so the fast route
    # stands whenever its V passes the orthogonality check; either way the SVD is right
    rng = np.random.default_rng(3)
    a = rng.standard_normal((12, 5)) @ rng.standard_normal((5, 8))  # rank 5 < 8
    u, s, vh, _ = jacobi_svd(a)
    check_svd(a, u, s, vh, np.finfo(float).eps, 4)
    assert np.all(s[5:] <= 1e-14 * s[0])


def test_exactly_singular_r_falls_back():
    a = matrix(np.random.default_rng(4), 10, 6, np.float64)
    a[:, 2] = 0.0  # QRCP ends with an exact zero on the diagonal of R1
    assert isinstance(attempt(a, "xp"), JacobiInfo)
    u, s, vh, _ = jacobi_svd(a)
    check_svd(a, u, s, vh, np.finfo(float).eps, 4)
    assert s[-1] == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("m", [70, 40])  # m == n fuses the V update into the column loop
def test_one_sided_kernel_with_and_without_v(needs_numba, dtype, m):
    from orthla.pivoting._jacobi_numba import one_sided_pairs

    n = 40
    a = np.asfortranarray(matrix(np.random.default_rng(2), m, n, dtype))
    sweep = tiled_sweep(n, 8)
    tol = np.sqrt(m) * np.finfo(float).eps
    g1, v = a.copy(order="F"), np.eye(n, dtype=dtype, order="F")
    g2 = a.copy(order="F")
    c1, w1 = one_sided_pairs(g1, v, sweep.ps, sweep.qs, tol, FLOOR, True, True)
    c2, w2 = one_sided_pairs(g2, np.zeros((0, 0), dtype=dtype), sweep.ps, sweep.qs, tol, FLOOR, False, True)
    assert c1 == c2 == n * (n - 1) // 2 and w1 == w2
    np.testing.assert_allclose(g2, g1, rtol=0, atol=1e-13 * np.linalg.norm(a))
    np.testing.assert_allclose(a @ v, g1, rtol=0, atol=1e-13 * np.linalg.norm(a))
    np.testing.assert_allclose(v.conj().T @ v, np.eye(n), rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_orthogonality_gap_matches_dense_formula(dtype):
    from orthla.pivoting._jacobi_svd import _orthogonality_gap

    z = np.linalg.qr(matrix(np.random.default_rng(6), 9, 7, dtype))[0] + 1e-3 * matrix(np.random.default_rng(7), 9, 7, dtype)
    ref = np.linalg.norm(z.conj().T @ z - np.eye(7))
    assert _orthogonality_gap(z) == pytest.approx(ref, rel=1e3 * float(np.finfo(dtype).eps))
