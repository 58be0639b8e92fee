import mpmath
import numpy as np
import pytest

from orthla._testing import assert_close, to_host
from orthla.pivoting import JacobiConvergenceWarning, jacobi_eigh

PIVOTINGS = ("cyclic", "random", "random-sweep")
METHODS = ("two-sided", "cholesky-one-sided")


def hermitian(rng, n, dtype):
    a = rng.standard_normal((n, n))
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal((n, n))
    return ((a + a.conj().T) / 2).astype(dtype)


def spd(rng, n, dtype):
    a = hermitian(rng, n, dtype)
    return (a @ a.conj().T + n * np.eye(n)).astype(dtype)


def graded_spd(n, seed, span=20.0, cond=1e3):
    """H = D A D permuted: kappa(A) = cond, D from 1 down to 10**-span."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.logspace(0, -np.log10(cond), n)) @ q.T
    a = (a + a.T) / 2
    d = np.logspace(0, -span, n)
    h = d[:, None] * a * d[None, :]
    p = rng.permutation(n)
    return h[np.ix_(p, p)]


def mp_eigvalsh(h, dps):
    mpmath.mp.dps = dps
    try:
        e = mpmath.eigsy(mpmath.matrix(h.tolist()), eigvals_only=True)
    finally:
        mpmath.mp.dps = 15
    return np.array(sorted(float(x) for x in e))


def check_decomposition(a_np, w, v, eps, tol_factor):
    n = a_np.shape[0]
    wh, vh = to_host(w), to_host(v)
    norm = max(np.linalg.norm(a_np, 2), np.finfo(float).tiny)
    assert np.all(np.diff(wh) >= 0)
    assert np.linalg.norm(a_np @ vh - vh * wh) <= tol_factor * n * eps * norm
    assert np.linalg.norm(vh.conj().T @ vh - np.eye(n)) <= tol_factor * n * eps


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
@pytest.mark.parametrize("pivoting", PIVOTINGS)
def test_agrees_with_lapack(xp, dtype, pivoting):
    rng = np.random.default_rng(11)
    n = 9 if pivoting == "random" else 20  # random pairs run in small batches on the xp path
    a_np = hermitian(rng, n, dtype)
    a = xp.asarray(a_np)
    w, v, info = jacobi_eigh(a, pivoting=pivoting, rng=4)
    eps = np.finfo(dtype).eps
    ref = np.linalg.eigvalsh(a_np.astype(np.complex128 if np.iscomplexobj(a_np) else np.float64))
    norm = np.abs(ref).max()
    assert info.converged and info.off_norm <= info.tol
    assert w.dtype == xp.real(a).dtype and v.dtype == a.dtype
    # Weyl: |lambda_i - lambda_i~| <= ||E||, the backward error being O(n eps ||a||) per sweep set
    assert_close(w, ref.astype(np.finfo(dtype).dtype), xp=xp, rtol=0, atol=float(5 * n * eps * norm), like=a)
    check_decomposition(a_np.astype(np.complex128 if np.iscomplexobj(a_np) else np.float64),
                        w, v, eps, tol_factor=20)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pivoting", PIVOTINGS)
def test_graded_spd_relative_accuracy_against_mpmath(method, pivoting):
    # Eigenvalues spanning 40+ orders of magnitude; LAPACK's eigh loses every small one.
    n = 16
    h = graded_spd(n, seed=3)
    ref = mp_eigvalsh(h, dps=80)  # more digits than the dynamic range
    assert np.max(np.abs(np.linalg.eigvalsh(h) - ref) / ref) > 1.0  # the case is hard
    w, v, info = jacobi_eigh(h, method=method, pivoting=pivoting, rng=0)
    assert info.converged
    assert np.all(w > 0)
    # Demmel-Veselic: relative error O(n eps kappa(A)) = 16 * 2.2e-16 * 1e3 ~ 4e-12
    assert np.max(np.abs(w - ref) / ref) <= 1e-12
    # eigenvectors: small residual relative to each eigenvalue's own scale is too much to ask
    # in general, but the normwise residual and orthogonality hold
    check_decomposition(h, w, v, np.finfo(float).eps, tol_factor=20)


def test_graded_spd_relative_accuracy_any_backend(xp):
    h = graded_spd(12, seed=8, span=12)
    ref = mp_eigvalsh(h, dps=60)
    for method in METHODS:
        w = jacobi_eigh(xp.asarray(h), method=method, eigvals_only=True, engine="xp").eigenvalues
        assert np.max(np.abs(to_host(w) - ref) / ref) <= 1e-12, method


@pytest.mark.parametrize("method", METHODS)
def test_spd_both_methods_agree_with_lapack(xp, method):
    rng = np.random.default_rng(2)
    for dtype in (np.float64, np.complex128):
        a_np = spd(rng, 17, dtype)
        w, v, info = jacobi_eigh(xp.asarray(a_np), method=method)
        ref = np.linalg.eigvalsh(a_np)
        assert info.converged
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(to_host(w), ref, rtol=50 * 17 * eps)
        check_decomposition(a_np, w, v, eps, tol_factor=20)


def test_indefinite_with_zero_diagonal(xp):
    a = xp.asarray(np.array([[0.0, 2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, -1.0]]))
    w, v, _ = jacobi_eigh(a)
    assert_close(w, np.array([-2.0, -1.0, 2.0]), xp=xp, rtol=1e-15, atol=1e-15)
    assert_close(xp.abs(v[:, 2]), np.array([1, 1, 0]) / np.sqrt(2), xp=xp, rtol=0, atol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_tiny_and_odd_sizes(xp, n):
    a_np = hermitian(np.random.default_rng(n), n, np.float64)
    for pivoting in PIVOTINGS:
        w, v, info = jacobi_eigh(xp.asarray(a_np), pivoting=pivoting, rng=1)
        assert info.converged
        np.testing.assert_allclose(to_host(w), np.linalg.eigvalsh(a_np), rtol=0, atol=1e-14 * max(1, np.abs(a_np).max()))
        check_decomposition(a_np, w, v, np.finfo(float).eps, tol_factor=20)


def test_diagonal_input_needs_no_rotation(xp):
    w, v, info = jacobi_eigh(xp.asarray(np.diag([3.0, -1.0, 2.0])))
    assert info.sweeps == 0 and info.rotations == 0 and info.converged
    assert_close(w, np.array([-1.0, 2.0, 3.0]), xp=xp, rtol=0)
    assert_close(v, np.eye(3)[:, [1, 2, 0]], xp=xp, rtol=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pivoting", PIVOTINGS)
def test_engines_agree(needs_numba, method, pivoting):
    rng = np.random.default_rng(21)
    for dtype in (np.float64, np.complex128):
        a = spd(rng, 15, dtype) if method != "two-sided" else hermitian(rng, 15, dtype)
        rn = jacobi_eigh(a, method=method, pivoting=pivoting, rng=3, engine="numba")
        rx = jacobi_eigh(a, method=method, pivoting=pivoting, rng=3, engine="xp")
        # same pivot sequence: same rotations, results equal up to rounding
        assert abs(rn.info.rotations - rx.info.rotations) <= 2
        scale = np.abs(rx.eigenvalues).max()
        np.testing.assert_allclose(rn.eigenvalues, rx.eigenvalues, rtol=0, atol=1e-13 * scale)
        np.testing.assert_allclose(rn.eigenvectors, rx.eigenvectors, rtol=0, atol=1e-11)


def test_auto_engine_uses_numba_kernel(needs_numba, monkeypatch):
    import orthla.pivoting._jacobi_numba as kern

    calls = []
    for name in ("two_sided_pairs", "two_sided_tasks"):
        orig = getattr(kern, name)
        monkeypatch.setattr(kern, name, lambda *args, name=name, orig=orig: calls.append(name) or orig(*args))
    a = np.array([[2.0, 1.0], [1.0, 2.0]])
    jacobi_eigh(a)  # cyclic: the task kernel (row-cyclic blocks)
    assert calls == ["two_sided_tasks"]
    jacobi_eigh(a, pivoting="random", rng=0)
    assert calls[1:] and set(calls[1:]) == {"two_sided_pairs"}


def test_seeded_reproducibility():
    a = hermitian(np.random.default_rng(0), 20, np.float64)
    for pivoting in ("random", "random-sweep"):
        r1 = jacobi_eigh(a, pivoting=pivoting, rng=7)
        r2 = jacobi_eigh(a, pivoting=pivoting, rng=np.random.default_rng(7))
        np.testing.assert_array_equal(r1.eigenvectors, r2.eigenvectors)
        assert r1.info == r2.info


def test_random_pairs_need_more_rotations_than_cyclic():
    # The measurement: random-pair pivoting needs about twice the rotations.
    a = hermitian(np.random.default_rng(1), 40, np.float64)
    cyc = jacobi_eigh(a, eigvals_only=True).info.rotations
    rnd = [jacobi_eigh(a, pivoting="random", eigvals_only=True, rng=s).info.rotations for s in range(3)]
    assert 1.3 < np.mean(rnd) / cyc < 3.0


def test_eigvals_only(xp):
    a_np = hermitian(np.random.default_rng(5), 9, np.float64)
    full = jacobi_eigh(xp.asarray(a_np))
    only = jacobi_eigh(xp.asarray(a_np), eigvals_only=True)
    assert only.eigenvectors is None
    assert_close(only.eigenvalues, to_host(full.eigenvalues), xp=xp, rtol=0, atol=1e-14 * 9)


def test_non_convergence_is_reported(xp):
    a = xp.asarray(hermitian(np.random.default_rng(4), 12, np.float64))
    with pytest.warns(JacobiConvergenceWarning, match=r"did not converge in max_sweeps=1 sweeps"):
        _w, _v, info = jacobi_eigh(a, max_sweeps=1)
    assert not info.converged and info.sweeps == 1 and info.off_norm > info.tol
    with pytest.warns(JacobiConvergenceWarning):
        _, _, info = jacobi_eigh(xp.asarray(spd(np.random.default_rng(4), 12, np.float64)),
                                 method="cholesky-one-sided", max_sweeps=1)
    assert not info.converged


def test_input_not_modified(xp):
    a_np = hermitian(np.random.default_rng(9), 8, np.float64)
    a_np = a_np @ a_np + np.eye(8)
    a = xp.asarray(a_np.copy())
    for method in METHODS:
        for engine in ("auto", "xp"):
            jacobi_eigh(a, method=method, engine=engine)
    np.testing.assert_array_equal(to_host(a), a_np)


def test_readonly_numpy_input():
    a = hermitian(np.random.default_rng(9), 8, np.float64)
    a = a @ a + np.eye(8)
    a.setflags(write=False)
    before = a.copy()
    for method in METHODS:
        for engine in ("auto", "xp"):
            w, _v, _ = jacobi_eigh(a, method=method, engine=engine)
            np.testing.assert_allclose(w, np.linalg.eigvalsh(before), rtol=1e-13)
    np.testing.assert_array_equal(a, before)


def test_integer_and_list_input():
    w, _v, _ = jacobi_eigh([[2, 1], [1, 2]])
    assert isinstance(w, np.ndarray) and w.dtype == np.float64
    np.testing.assert_allclose(w, [1.0, 3.0], rtol=1e-15)


def test_errors(xp):
    with pytest.raises(ValueError, match=r"`a` must be a square matrix; got shape \(3, 2\)"):
        jacobi_eigh(xp.ones((3, 2)))
    with pytest.raises(ValueError, match=r"`a` must be symmetric; max\|a - a\^H\| / max\|a\| = 0\.5"):
        jacobi_eigh(xp.asarray(np.array([[1.0, 2.0], [1.0, 1.0]])))
    bad = np.eye(3)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="`a` must contain only finite values; found 1 NaN/Inf"):
        jacobi_eigh(xp.asarray(bad))
    with pytest.raises(ValueError, match=r"`pivoting` must be one of \('cyclic', 'random', 'random-sweep'\); got 'greedy'"):
        jacobi_eigh(xp.eye(2), pivoting="greedy")
    with pytest.raises(ValueError, match="`method` must be one of"):
        jacobi_eigh(xp.eye(2), method="qr")
    with pytest.raises(ValueError, match=r"`tol` must be a finite real number > 0; got -1\.0"):
        jacobi_eigh(xp.eye(2), tol=-1)
    with pytest.raises(ValueError, match="`max_sweeps` must be an integer at least 1; got 0"):
        jacobi_eigh(xp.eye(2), max_sweeps=0)
    with pytest.raises(TypeError, match="`rng` must be"):
        jacobi_eigh(xp.eye(2), rng="seed")
    with pytest.raises(ValueError, match="`engine` must be one of"):
        jacobi_eigh(xp.eye(2), engine="cuda")


@pytest.mark.parametrize("engine", ["auto", "xp"])
def test_not_positive_definite_names_the_pivot(xp, engine):
    a = np.diag([4.0, 1.0, -1.0, 2.0])
    a[0, 1] = a[1, 0] = 1.0
    with pytest.raises(np.linalg.LinAlgError, match=r"Cholesky pivot 2 \(0-based\) is not positive"):
        jacobi_eigh(xp.asarray(a), method="cholesky-one-sided", engine=engine)
    # the same matrix is fine for the two-sided method (indefinite allowed)
    w, _, _ = jacobi_eigh(xp.asarray(a), engine=engine)
    assert float(xp.min(w)) < 0
