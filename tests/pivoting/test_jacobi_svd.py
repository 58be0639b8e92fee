import mpmath
import numpy as np
import pytest

from orthla._testing import assert_close, to_host
from orthla.pivoting import JacobiConvergenceWarning, jacobi_svd

PIVOTINGS = ("cyclic", "random", "random-sweep")
PRECOND = ("qrcp", None)


def matrix(rng, m, n, dtype):
    a = rng.standard_normal((m, n))
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal((m, n))
    return a.astype(dtype)


def column_graded(seed, m=18, n=12, span=20.0):
    """a = B D, columns scaled from 1 to 10**-span in a random order."""
    rng = np.random.default_rng(seed)
    d = np.logspace(0, -span, n)[rng.permutation(n)]
    return rng.standard_normal((m, n)) * d


def mp_singular_values(a, dps):
    mpmath.mp.dps = dps
    try:
        s = mpmath.svd_r(mpmath.matrix(a.tolist()), compute_uv=False)
    finally:
        mpmath.mp.dps = 15
    return np.array(sorted((float(x) for x in s), reverse=True))


def check_svd(a_np, u, s, vh, eps, factor, full=False):
    m, n = a_np.shape
    k = min(m, n)
    uh, sh, vhh = to_host(u), to_host(s), to_host(vh)
    assert uh.shape == ((m, m) if full else (m, k)) and vhh.shape == ((n, n) if full else (k, n))
    assert np.all(np.diff(sh) <= 0) and np.all(sh >= 0)
    norm = max(np.linalg.norm(a_np), np.finfo(float).tiny)
    assert np.linalg.norm((uh[:, :k] * sh) @ vhh[:k] - a_np) <= factor * max(m, n) * eps * norm
    assert np.linalg.norm(uh.conj().T @ uh - np.eye(uh.shape[1])) <= factor * max(m, n) * eps
    assert np.linalg.norm(vhh @ vhh.conj().T - np.eye(vhh.shape[0])) <= factor * max(m, n) * eps


@pytest.mark.parametrize("shape", [(25, 10), (10, 25), (14, 14)])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
@pytest.mark.parametrize("precondition", PRECOND)
def test_agrees_with_lapack(xp, shape, dtype, precondition):
    rng = np.random.default_rng(17)
    a_np = matrix(rng, *shape, dtype)
    a = xp.asarray(a_np)
    u, s, vh, info = jacobi_svd(a, precondition=precondition)
    eps = np.finfo(dtype).eps
    assert info.converged
    assert u.dtype == a.dtype and vh.dtype == a.dtype and s.dtype == xp.real(a).dtype
    ref = np.linalg.svd(a_np.astype(np.complex128), compute_uv=False)
    # Weyl: singular values move by at most the backward error, O(n eps ||a||)
    assert_close(s, ref.astype(np.finfo(dtype).dtype), xp=xp, rtol=0,
                 atol=float(10 * max(shape) * eps * ref[0]), like=a)
    check_svd(a_np.astype(np.complex128), u, s, vh, eps, factor=10)


@pytest.mark.parametrize("pivoting", PIVOTINGS)
def test_pivotings_and_full_matrices(xp, pivoting):
    rng = np.random.default_rng(3)
    for shape in ((12, 7), (7, 12)):
        a_np = matrix(rng, *shape, np.float64)
        u, s, vh, info = jacobi_svd(xp.asarray(a_np), pivoting=pivoting, full_matrices=True, rng=2)
        assert info.converged
        check_svd(a_np, u, s, vh, np.finfo(float).eps, factor=10, full=True)


@pytest.mark.parametrize("precondition", PRECOND)
@pytest.mark.parametrize("pivoting", PIVOTINGS)
def test_column_graded_relative_accuracy_against_mpmath(precondition, pivoting):
    # columns over 20 orders of magnitude, in random order: gesdd loses the small ones
    a = column_graded(seed=0)
    ref = mp_singular_values(a, dps=60)
    assert np.max(np.abs(np.linalg.svd(a, compute_uv=False) - ref) / ref) > 1e-6  # hard for gesdd
    u, s, vh, _info = jacobi_svd(a, precondition=precondition, pivoting=pivoting, rng=1)
    # Demmel-Veselic: O(n eps kappa(B)), kappa(B) ~ 6 here
    assert np.max(np.abs(s - ref) / ref) <= 1e-12
    check_svd(a, u, s, vh, np.finfo(float).eps, factor=10)


def test_column_graded_relative_accuracy_any_backend(xp):
    a = column_graded(seed=1, m=10, n=7, span=15)
    ref = mp_singular_values(a, dps=50)
    for precondition in PRECOND:
        s = jacobi_svd(xp.asarray(a), precondition=precondition, compute_uv=False, engine="xp").S
        assert np.max(np.abs(to_host(s) - ref) / ref) <= 1e-12, precondition


@pytest.mark.parametrize("precondition", PRECOND)
def test_exact_zero_singular_values_get_orthonormal_vectors(xp, precondition):
    a_np = np.zeros((6, 4))
    a_np[:, 1] = np.arange(6.0)
    a_np[:, 3] = 1.0
    for full in (False, True):
        u, s, vh, _ = jacobi_svd(xp.asarray(a_np), precondition=precondition, full_matrices=full)
        assert np.count_nonzero(to_host(s)) == 2
        check_svd(a_np, u, s, vh, np.finfo(float).eps, factor=10, full=full)
    u, s, vh, _ = jacobi_svd(xp.zeros((3, 2)), precondition=precondition)
    assert_close(s, np.zeros(2), xp=xp, rtol=0)
    check_svd(np.zeros((3, 2)), u, s, vh, np.finfo(float).eps, factor=10)


@pytest.mark.parametrize("shape", [(0, 0), (3, 0), (0, 4)])
def test_empty_input(xp, shape):
    for full in (False, True):
        u, s, vh, info = jacobi_svd(xp.zeros(shape), full_matrices=full)
        ref_u, ref_s, ref_vh = np.linalg.svd(np.zeros(shape), full_matrices=full)
        assert u.shape == ref_u.shape and s.shape == ref_s.shape and vh.shape == ref_vh.shape
        assert info.converged


def test_compute_uv_false(xp):
    a_np = matrix(np.random.default_rng(8), 9, 6, np.float64)
    u, s, vh, _ = jacobi_svd(xp.asarray(a_np), compute_uv=False)
    assert u is None and vh is None
    assert_close(s, np.linalg.svd(a_np, compute_uv=False), xp=xp, rtol=1e-13)


@pytest.mark.parametrize("precondition", PRECOND)
@pytest.mark.parametrize("pivoting", PIVOTINGS)
def test_engines_agree(needs_numba, precondition, pivoting):
    rng = np.random.default_rng(31)
    for dtype in (np.float64, np.complex128):
        a = matrix(rng, 14, 9, dtype)
        rn = jacobi_svd(a, precondition=precondition, pivoting=pivoting, rng=5, engine="numba")
        rx = jacobi_svd(a, precondition=precondition, pivoting=pivoting, rng=5, engine="xp")
        assert abs(rn.info.rotations - rx.info.rotations) <= 2
        np.testing.assert_allclose(rn.S, rx.S, rtol=1e-13)
        np.testing.assert_allclose(rn.U, rx.U, rtol=0, atol=1e-11)
        np.testing.assert_allclose(rn.Vh, rx.Vh, rtol=0, atol=1e-11)


def test_auto_engine_uses_numba_kernel(needs_numba, monkeypatch):
    import orthla.pivoting._jacobi_numba as kern

    calls = []
    orig = kern.one_sided_pairs
    monkeypatch.setattr(kern, "one_sided_pairs", lambda *args: calls.append(1) or orig(*args))
    jacobi_svd(np.array([[2.0, 1.0], [1.0, 2.0]]))
    assert calls


def test_seeded_reproducibility():
    a = matrix(np.random.default_rng(0), 15, 10, np.float64)
    for pivoting in ("random", "random-sweep"):
        r1 = jacobi_svd(a, pivoting=pivoting, rng=7)
        r2 = jacobi_svd(a, pivoting=pivoting, rng=np.random.default_rng(7))
        np.testing.assert_array_equal(r1.U, r2.U)
        assert r1.info == r2.info


def test_non_convergence_is_reported(xp):
    a = xp.asarray(matrix(np.random.default_rng(4), 12, 10, np.float64))
    with pytest.warns(JacobiConvergenceWarning, match=r"jacobi_svd did not converge in max_sweeps=1"):
        _, _, _, info = jacobi_svd(a, max_sweeps=1, precondition=None)
    assert not info.converged and info.sweeps == 1 and info.off_norm > info.tol


def test_input_not_modified(xp):
    a_np = matrix(np.random.default_rng(9), 8, 5, np.float64)
    a = xp.asarray(a_np.copy())
    for precondition in PRECOND:
        for engine in ("auto", "xp"):
            jacobi_svd(a, precondition=precondition, engine=engine)
            jacobi_svd(a.mT, precondition=precondition, engine=engine)
    np.testing.assert_array_equal(to_host(a), a_np)


def test_readonly_numpy_input():
    a = matrix(np.random.default_rng(9), 8, 5, np.float64)
    a.setflags(write=False)
    before = a.copy()
    for precondition in PRECOND:
        for engine in ("auto", "xp"):
            s = jacobi_svd(a, precondition=precondition, engine=engine).S
            np.testing.assert_allclose(s, np.linalg.svd(before, compute_uv=False), rtol=1e-13)
            jacobi_svd(a.T, precondition=precondition, engine=engine)
    np.testing.assert_array_equal(a, before)


def test_list_input():
    _u, s, _vh, _ = jacobi_svd([[3, 0], [4, 5]])
    assert isinstance(s, np.ndarray) and s.dtype == np.float64
    np.testing.assert_allclose(s, [np.sqrt(45), np.sqrt(5)], rtol=1e-15)


def test_errors(xp):
    with pytest.raises(ValueError, match=r"`a` must be a 2-D array; got ndim=1"):
        jacobi_svd(xp.ones(3))
    bad = np.ones((3, 2))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="`a` must contain only finite values; found 1 NaN/Inf"):
        jacobi_svd(xp.asarray(bad))
    with pytest.raises(ValueError, match=r"`precondition` must be one of \('qrcp', None\); got 'qr'"):
        jacobi_svd(xp.ones((3, 2)), precondition="qr")
    with pytest.raises(ValueError, match="`pivoting` must be one of"):
        jacobi_svd(xp.ones((3, 2)), pivoting="max")
    with pytest.raises(ValueError, match="`tol` must be a finite real number > 0; got nan"):
        jacobi_svd(xp.ones((3, 2)), tol=float("nan"))
    with pytest.raises(ValueError, match="`max_sweeps` must be an integer at least 1; got -2"):
        jacobi_svd(xp.ones((3, 2)), max_sweeps=-2)
    with pytest.raises(TypeError, match="`a` must have a real or complex floating"):
        jacobi_svd(xp.asarray(np.ones((3, 2), dtype=bool)))
