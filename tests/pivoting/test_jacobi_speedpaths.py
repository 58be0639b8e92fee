"""Speed paths of the Jacobi solvers (issue 17, item 3).

``jacobi_eigh(precondition="eigh")`` starts two-sided Jacobi from LAPACK's eigenvectors and
``"auto"`` takes that start only for NumPy input of size >= 64 that is not graded (graded input
gets the plain sweeps bit for bit, so the mpmath-checked relative accuracy of
test_jacobi_eigh.py is kept); ``jacobi_svd``'s dgejsv route calls LAPACK's QR routines
directly and applies ``Q1`` without forming it.
"""

import numpy as np
import pytest
from test_jacobi_eigh import check_decomposition, graded_spd, hermitian

import orthla.pivoting._jacobi_eigh as eigh_mod
from orthla._testing import assert_close
from orthla.pivoting import jacobi_eigh, jacobi_svd

N = eigh_mod.AUTO_MIN_N  # smallest size at which "auto" takes the LAPACK start


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_eigh_start_agrees_with_lapack(xp, dtype):
    rng = np.random.default_rng(17)
    a_np = hermitian(rng, 70, dtype)
    w, v, info = jacobi_eigh(xp.asarray(a_np), precondition="eigh")
    eps = np.finfo(dtype).eps
    wide = a_np.astype(np.complex128 if np.iscomplexobj(a_np) else np.float64)
    ref = np.linalg.eigvalsh(wide)
    assert info.converged and info.off_norm <= info.tol
    # the start is nearly diagonal: one sweep of few rotations, then the check
    assert info.sweeps <= 2 and info.rotations < 70 * 69 // 2
    assert w.dtype == xp.real(xp.asarray(a_np)).dtype and v.dtype == xp.asarray(a_np).dtype
    assert_close(w, ref.astype(np.finfo(dtype).dtype), xp=xp, rtol=0,
                 atol=float(5 * 70 * eps * np.abs(ref).max()), like=xp.asarray(a_np))
    check_decomposition(wide, w, v, eps, tol_factor=20)


def test_eigh_start_eigvals_only_and_engines_agree(needs_numba):
    a = hermitian(np.random.default_rng(3), 80, np.complex128)
    rn = jacobi_eigh(a, precondition="eigh", engine="numba")
    rx = jacobi_eigh(a, precondition="eigh", engine="xp")
    assert abs(rn.info.rotations - rx.info.rotations) <= 2
    np.testing.assert_allclose(rn.eigenvalues, rx.eigenvalues, rtol=0, atol=1e-13 * np.abs(rx.eigenvalues).max())
    np.testing.assert_allclose(np.abs(rn.eigenvectors), np.abs(rx.eigenvectors), rtol=0, atol=1e-11)
    only = jacobi_eigh(a, precondition="eigh", eigvals_only=True)
    assert only.eigenvectors is None
    np.testing.assert_allclose(only.eigenvalues, rn.eigenvalues, rtol=0, atol=1e-13 * np.abs(rx.eigenvalues).max())


def _spy(monkeypatch):
    calls = []
    orig = eigh_mod._eigh_start
    monkeypatch.setattr(eigh_mod, "_eigh_start", lambda a, xp: calls.append(a.shape) or orig(a, xp))
    return calls


def test_auto_takes_the_start_on_plain_numpy_input(monkeypatch):
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(5)
    a = hermitian(rng, N, np.float64)  # indefinite, row norms within a factor 10
    w, v, info = jacobi_eigh(a)
    assert calls == [(N, N)] and info.converged and info.sweeps <= 2
    check_decomposition(a, w, v, np.finfo(float).eps, tol_factor=20)
    g = rng.standard_normal((N, N))
    spd = g @ g.T + N * np.eye(N)  # positive diagonal within a factor 10
    jacobi_eigh(spd)
    assert len(calls) == 2


def test_auto_keeps_the_plain_sweeps_elsewhere(monkeypatch):
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(6)
    small = hermitian(rng, N - 1, np.float64)
    jacobi_eigh(small)  # below AUTO_MIN_N
    a = hermitian(rng, N, np.float64)
    jacobi_eigh(a, precondition=None)
    g = rng.standard_normal((N, N))
    jacobi_eigh(g @ g.T + N * np.eye(N), method="cholesky-one-sided")
    assert calls == []


def test_auto_on_graded_input_is_the_plain_sweeps_bit_for_bit(monkeypatch):
    calls = _spy(monkeypatch)
    # positive definite, diagonal over 20 decades: the relative-accuracy case
    h = graded_spd(N, seed=3)
    auto, plain = jacobi_eigh(h), jacobi_eigh(h, precondition=None)
    np.testing.assert_array_equal(auto.eigenvalues, plain.eigenvalues)
    np.testing.assert_array_equal(auto.eigenvectors, plain.eigenvectors)
    assert auto.info == plain.info
    # indefinite, rows graded over 8 decades (scaled diagonally dominant)
    rng = np.random.default_rng(4)
    d = np.logspace(0, -8, N)[rng.permutation(N)]
    s = np.diag(rng.choice([-1.0, 1.0], N)) + 0.3 * hermitian(rng, N, np.float64) / np.sqrt(N)
    ind = d[:, None] * s * d[None, :]
    auto, plain = jacobi_eigh(ind), jacobi_eigh(ind, precondition=None)
    np.testing.assert_array_equal(auto.eigenvalues, plain.eigenvalues)
    assert calls == []


def test_is_graded():
    assert not eigh_mod._is_graded(np.diag([1.0, 5.0, 9.9]))
    assert eigh_mod._is_graded(np.diag([1.0, 5.0, 10.5]))
    # a non-positive diagonal entry: the row norms decide
    a = np.array([[0.0, 1.0], [1.0, 0.5]])
    assert not eigh_mod._is_graded(a)
    assert eigh_mod._is_graded(np.array([[-1.0, 0.0], [0.0, 1e-3]]))
    assert eigh_mod._is_graded(np.array([[1.0, 0.0], [0.0, 0.0]]))  # a zero row next to a nonzero one
    assert not eigh_mod._is_graded(np.zeros((2, 2)))


def test_precondition_errors(xp):
    a = xp.asarray(np.eye(3))
    with pytest.raises(ValueError, match="`precondition`"):
        jacobi_eigh(a, precondition="qrcp")
    with pytest.raises(ValueError, match="`precondition`.*two-sided"):
        jacobi_eigh(a, method="cholesky-one-sided", precondition="eigh")
    w, _v, info = jacobi_eigh(xp.asarray(np.array([[2.0]])), precondition="eigh")
    assert info.converged and float(w[0]) == 2.0


def test_eigh_start_input_not_modified_and_scale_exact():
    a = hermitian(np.random.default_rng(8), 70, np.float64)
    keep = a.copy()
    w, v, _ = jacobi_eigh(a)
    np.testing.assert_array_equal(a, keep)
    w2, v2, _ = jacobi_eigh(a * 2.0**300)
    np.testing.assert_array_equal(w2, w * 2.0**300)
    np.testing.assert_array_equal(v2, v)


# --- jacobi_svd: LAPACK's QR routines called directly -----------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32, np.complex64])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd_direct_lapack_route(dtype, full_matrices, monkeypatch):
    import scipy.linalg

    def refuse(*args, **kwargs):  # the route applies Q1 by *ormqr: scipy.linalg.qr is not called
        raise AssertionError("scipy.linalg.qr called")

    monkeypatch.setattr(scipy.linalg, "qr", refuse)
    rng = np.random.default_rng(9)
    m, n = 90, 60
    a = rng.standard_normal((m, n))
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal((m, n))
    a = a.astype(dtype)
    u, s, vh, info = jacobi_svd(a, full_matrices=full_matrices)
    eps = np.finfo(dtype).eps
    assert info.converged
    assert u.shape == ((m, m) if full_matrices else (m, n)) and vh.shape == (n, n)
    assert u.dtype == a.dtype and vh.dtype == a.dtype
    wide = a.astype(np.complex128)
    ref = np.linalg.svd(wide, compute_uv=False)
    np.testing.assert_allclose(s, ref, rtol=0, atol=20 * n * eps * ref[0])
    back = np.linalg.norm((u[:, :n] * s) @ vh - wide) / np.linalg.norm(wide)
    assert back <= 20 * n * eps
    uh = u.astype(np.complex128)
    assert np.linalg.norm(uh.conj().T @ uh - np.eye(u.shape[1])) <= 20 * n * eps
    vv = vh.astype(np.complex128)
    assert np.linalg.norm(vv @ vv.conj().T - np.eye(n)) <= 20 * n * eps
    wide_t = jacobi_svd(a.T.copy()).S  # m < n: the same route on a^H
    np.testing.assert_allclose(wide_t, s, rtol=0, atol=20 * n * eps * ref[0])


# --- jacobi_eigh(method="cholesky-one-sided"): jacobi_svd's route on L^H ----------------

def test_cholesky_route_runs_the_svd_route_and_falls_back(monkeypatch):
    import orthla.pivoting._jacobi_svd as svd_mod
    from orthla.pivoting._jacobi_common import JacobiInfo

    h = graded_spd(40, seed=2, span=10)
    calls = []
    orig = svd_mod._two_qr_svd
    monkeypatch.setattr(svd_mod, "_two_qr_svd", lambda *args: calls.append(args[0].shape) or orig(*args))
    w, v, info = jacobi_eigh(h, method="cholesky-one-sided")
    assert calls == [(40, 40)] and info.converged and np.all(w > 0)
    check_decomposition(h, w, v, np.finfo(float).eps, tol_factor=20)
    only = jacobi_eigh(h, method="cholesky-one-sided", eigvals_only=True)
    assert only.eigenvectors is None
    np.testing.assert_allclose(only.eigenvalues, w, rtol=1e-13)
    # the triangular solve refused: the unpreconditioned sweeps on L, their work added
    monkeypatch.setattr(svd_mod, "_two_qr_svd", lambda *args: JacobiInfo(True, 3, 100, 0.0, 1e-15))
    w2, v2, info2 = jacobi_eigh(h, method="cholesky-one-sided")
    assert info2.converged and info2.sweeps > 3 and info2.rotations > 100
    np.testing.assert_allclose(w2, w, rtol=1e-12)
    check_decomposition(h, w2, v2, np.finfo(float).eps, tol_factor=20)


@pytest.mark.parametrize("dtype", [np.complex128, np.float32])
def test_cholesky_route_dtypes(dtype):
    rng = np.random.default_rng(12)
    g = hermitian(rng, 30, dtype)
    a = (g @ g.conj().T + 30 * np.eye(30)).astype(dtype)
    w, v, info = jacobi_eigh(a, method="cholesky-one-sided")
    assert info.converged and w.dtype == np.real(a).dtype and v.dtype == a.dtype
    wide = a.astype(np.complex128)
    ref = np.linalg.eigvalsh(wide)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(w, ref, rtol=50 * 30 * eps)
    check_decomposition(wide, w, v, eps, tol_factor=20)
