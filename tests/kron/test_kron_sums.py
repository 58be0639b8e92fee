import functools

import numpy as np
import pytest
import scipy.linalg
from _kron_helpers import kron_all, kron_sum_dense, one_blas_thread, spd  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import kron_sum_solve, solve_lyapunov, solve_sylvester, sum_kron_solve

EPS = np.finfo(float).eps


@functools.cache
def _n50_case():
    rng = np.random.default_rng(30)
    n = 50
    t = np.diag(2 * np.ones(n)) - np.diag(np.ones(n - 1), 1) - np.diag(np.ones(n - 1), -1)
    mats = [t, spd(rng, n, cond=100)]
    dense = kron_sum_dense(mats) + 0.3 * np.eye(n * n)
    b = rng.standard_normal((n * n, 2))
    ref = scipy.linalg.solve(dense, b, assume_a="pos")
    w = [np.linalg.eigvalsh(m) for m in mats]
    cond = (w[0].max() + w[1].max() + 0.3) / (w[0].min() + w[1].min() + 0.3)
    return mats, b, ref, 20 * cond * EPS * np.abs(ref).max()


def test_kron_sum_n50_against_dense(xp):
    # Two symmetric factors of order 50: the dense 2500 x 2500 system is the reference.
    mats, b, ref, tol = _n50_case()
    x = kron_sum_solve([xp.asarray(m) for m in mats], xp.asarray(b), shift=0.3)
    assert_close(x, ref, xp=xp, rtol=0, atol=tol)


def test_kron_sum_three_factors(xp):
    rng = np.random.default_rng(31)
    mats = [spd(rng, 3), spd(rng, 4), spd(rng, 5)]
    dense = kron_sum_dense(mats) - 0.1 * np.eye(60)  # indefinite shift is fine if nonsingular
    b = rng.standard_normal(60)
    ref = np.linalg.solve(dense, b)
    x = kron_sum_solve([xp.asarray(m) for m in mats], xp.asarray(b), shift=-0.1)
    assert_close(x, ref, xp=xp, rtol=0, atol=20 * np.linalg.cond(dense) * EPS * np.abs(ref).max())


@pytest.mark.parametrize("d", [2, 3])
def test_kron_sum_nonsymmetric_numpy(d):
    rng = np.random.default_rng(32)
    mats = [rng.standard_normal((n, n)) + n * np.eye(n) for n in (4, 5, 3)[:d]]
    dense = kron_sum_dense(mats) + 0.5 * np.eye(int(np.prod([m.shape[0] for m in mats])))
    b = rng.standard_normal((dense.shape[0], 2))
    ref = np.linalg.solve(dense, b)
    x = kron_sum_solve(mats, b, shift=0.5)
    assert x.dtype == np.float64
    np.testing.assert_allclose(x, ref, rtol=0, atol=1e-10 * np.abs(ref).max())


def test_kron_sum_errors(xp):
    with pytest.raises(np.linalg.LinAlgError, match="the Kronecker sum is singular to working precision"):
        kron_sum_solve([xp.asarray(np.diag([1.0, 2.0])), xp.asarray(np.diag([-1.0, 3.0]))], xp.ones((4,)))
    with pytest.raises(ValueError, match=r"`b` must have shape \(6,\) or \(6, k\)"):
        kron_sum_solve([xp.asarray(np.eye(2)), xp.asarray(np.eye(3))], xp.ones((5,)))
    with pytest.raises(ValueError, match=r"`factors\[0\]` must be a square matrix"):
        kron_sum_solve([xp.ones((2, 3))], xp.ones((3,)))
    jordan = np.array([[1.0, 1.0], [0.0, 1.0 + 1e-12]])
    with pytest.raises(np.linalg.LinAlgError, match=r"factor 0 \(`factors\[0\]`\) is too far from normal"):
        kron_sum_solve([jordan, np.eye(2), np.eye(2)], np.ones(8))


def test_kron_sum_nonsymmetric_needs_numpy():
    strict = pytest.importorskip("array_api_strict")
    a = strict.asarray(np.array([[2.0, 1.0], [0.0, 3.0]]))
    with pytest.raises(TypeError, match=r"factor 0 \(`factors\[0\]`\) is not symmetric; non-symmetric Kronecker sums need NumPy"):
        kron_sum_solve([a, a], strict.ones((4,)))


@pytest.mark.parametrize("m,n", [(6, 6), (8, 5)])
def test_sylvester_symmetric_against_scipy(xp, m, n):
    rng = np.random.default_rng(33)
    a, b = spd(rng, m), spd(rng, n)
    b = b - 0.05 * np.eye(n)  # indefinite b; eigenvalue sums stay >= 0.05
    c = rng.standard_normal((m, n))
    ref = scipy.linalg.solve_sylvester(a, b, c)
    x = solve_sylvester(xp.asarray(a), xp.asarray(b), xp.asarray(c))
    xh = to_host(x)
    assert np.linalg.norm(a @ xh + xh @ b - c) <= 50 * EPS * (np.linalg.norm(a) + np.linalg.norm(b)) * np.linalg.norm(xh)
    assert_close(x, ref, xp=xp, rtol=0, atol=1e-11 * np.abs(ref).max())
    same = xp.asarray(a)
    x = solve_sylvester(same, same, xp.asarray(c[:, :m] if n >= m else rng.standard_normal((m, m))))
    assert x.shape == (m, m)


def test_sylvester_general_numpy_and_method_choice():
    rng = np.random.default_rng(34)
    a, b = rng.standard_normal((7, 7)), rng.standard_normal((4, 4)) + 5 * np.eye(4)
    c = rng.standard_normal((7, 4))
    x = solve_sylvester(a, b, c)
    np.testing.assert_allclose(x, scipy.linalg.solve_sylvester(a, b, c), rtol=1e-12, atol=1e-13)
    s = spd(rng, 7)
    x1 = solve_sylvester(s, s, np.eye(7), method="schur")
    x2 = solve_sylvester(s, s, np.eye(7), method="eigh")
    np.testing.assert_allclose(x1, x2, rtol=1e-10)


def test_sylvester_complex_hermitian(xp):
    rng = np.random.default_rng(35)
    g = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    a = g @ g.conj().T + np.eye(4)
    b = spd(rng, 3).astype(complex)
    c = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    x = solve_sylvester(xp.asarray(a), xp.asarray(b), xp.asarray(c))
    assert_close(x, scipy.linalg.solve_sylvester(a, b, c), xp=xp, rtol=1e-11)


def test_lyapunov(xp):
    rng = np.random.default_rng(36)
    a = -spd(rng, 6)
    q = -np.eye(6)
    x = solve_lyapunov(xp.asarray(a), xp.asarray(q))
    ref = scipy.linalg.solve_continuous_lyapunov(a, q)
    assert_close(x, ref, xp=xp, rtol=1e-11)
    xh = to_host(x)
    assert np.linalg.norm(a @ xh + xh @ a.T - q) <= 50 * EPS * np.linalg.norm(a) * np.linalg.norm(xh)


def test_lyapunov_general_numpy():
    rng = np.random.default_rng(37)
    a = rng.standard_normal((6, 6)) - 4 * np.eye(6)
    q = rng.standard_normal((6, 6))
    x = solve_lyapunov(a, q)
    np.testing.assert_allclose(a @ x + x @ a.T, q, atol=1e-12)


def test_sylvester_lyapunov_errors(xp):
    a = np.array([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"method='eigh' needs symmetric `a` and `b`; `a` has max\|M - M\^H\| / max\|M\| = 1"):
        solve_sylvester(xp.asarray(a), xp.asarray(np.eye(2)), xp.ones((2, 2)), method="eigh")
    with pytest.raises(ValueError, match=r"`c` must have shape \(m, n\) = \(2, 3\)"):
        solve_sylvester(xp.asarray(np.eye(2)), xp.asarray(np.eye(3)), xp.ones((3, 2)))
    with pytest.raises(ValueError, match="`method` must be one of"):
        solve_sylvester(xp.asarray(np.eye(2)), xp.asarray(np.eye(2)), xp.ones((2, 2)), method="lu")
    with pytest.raises(np.linalg.LinAlgError, match="the Sylvester operator is singular"):
        solve_sylvester(xp.asarray(np.diag([1.0, 2.0])), xp.asarray(np.diag([-2.0, 5.0])), xp.ones((2, 2)))
    with pytest.raises(ValueError, match=r"`q` must have the shape of `a`, \(2, 2\); got \(3, 3\)"):
        solve_lyapunov(xp.asarray(np.eye(2)), xp.ones((3, 3)))
    with pytest.raises(ValueError, match="method='eigh' needs symmetric `a`"):
        solve_lyapunov(xp.asarray(a), xp.ones((2, 2)), method="eigh")


def test_general_sylvester_needs_numpy():
    strict = pytest.importorskip("array_api_strict")
    a = strict.asarray(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="non-symmetric Sylvester equations use Bartels-Stewart from SciPy"):
        solve_sylvester(a, strict.eye(2), strict.ones((2, 2)))
    with pytest.raises(TypeError, match="non-symmetric Lyapunov equations"):
        solve_lyapunov(a, strict.ones((2, 2)))


@pytest.mark.parametrize("d", [2, 3])
def test_sum_kron_solve_against_dense(xp, d):
    rng = np.random.default_rng(38)
    dims = (4, 3, 5)[:d]
    amats = [spd(rng, n) - 0.3 * np.eye(n) for n in dims]  # symmetric, indefinite
    mmats = [spd(rng, n, cond=50) for n in dims]
    dense = kron_all(amats) + kron_all(mmats)
    y = rng.standard_normal((dense.shape[0], 2))
    ref = np.linalg.solve(dense, y)
    x = sum_kron_solve([xp.asarray(a) for a in amats], [xp.asarray(m) for m in mmats], xp.asarray(y))
    cond = np.linalg.cond(dense) * max(np.linalg.cond(m) for m in mmats)
    assert_close(x, ref, xp=xp, rtol=0, atol=20 * cond * EPS * np.abs(ref).max())
    x1 = sum_kron_solve([xp.asarray(a) for a in amats], [xp.asarray(m) for m in mmats], xp.asarray(y[:, 0]))
    assert_close(x1, ref[:, 0], xp=xp, rtol=0, atol=20 * cond * EPS * np.abs(ref).max())


def test_sum_kron_solve_errors(xp):
    eye2 = xp.asarray(np.eye(2))
    with pytest.raises(ValueError, match=r"`second\[0\]` must be symmetric positive definite"):
        sum_kron_solve([eye2], [xp.asarray(-np.eye(2))], xp.ones((2,)))
    with pytest.raises(ValueError, match=r"`first\[0\]` must be symmetric \(Hermitian\)"):
        sum_kron_solve([xp.asarray(np.array([[1.0, 2.0], [0.0, 1.0]]))], [eye2], xp.ones((2,)))
    with pytest.raises(ValueError, match="must have the same number of factors; got 2 and 1"):
        sum_kron_solve([eye2, eye2], [eye2], xp.ones((4,)))
    with pytest.raises(ValueError, match=r"`second\[0\]` must have the order of `first\[0\]` \(2\)"):
        sum_kron_solve([eye2], [xp.asarray(np.eye(3))], xp.ones((2,)))
    with pytest.raises(np.linalg.LinAlgError, match="the two-term Kronecker sum is singular"):
        sum_kron_solve([xp.asarray(-np.eye(2))], [eye2], xp.ones((2,)))
