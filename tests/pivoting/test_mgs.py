import numpy as np
import pytest
import scipy.linalg

import orthla
from orthla import mgs_qr
from orthla._testing import assert_close, to_host


def _matrix(rng, m, n, dtype):
    a = rng.standard_normal((m, n))
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal((m, n))
    return a.astype(dtype)


def _graded(rng, m, n, cond):
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (u * np.logspace(0, -np.log10(cond), n)) @ v.T


@pytest.mark.parametrize("shape", [(60, 25), (30, 30), (12, 40), (1, 1), (7, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_reconstruction_and_orthogonality(xp, shape, dtype):
    rng = np.random.default_rng(1234)
    a_np = _matrix(rng, *shape, dtype)
    a = xp.asarray(a_np)
    q, r = mgs_qr(a)
    m, n = shape
    k = min(m, n)
    eps = np.finfo(dtype).eps
    assert q.shape == (m, k) and r.shape == (k, n)
    assert q.dtype == a.dtype and r.dtype == a.dtype
    qh, rh = to_host(q), to_host(r)
    # Backward error and orthogonality are O(k eps) for well-conditioned input.
    assert np.linalg.norm(qh @ rh - a_np) <= 10 * k * eps * np.linalg.norm(a_np)
    assert np.linalg.norm(qh.conj().T @ qh - np.eye(k)) <= 10 * k * eps
    assert np.all(np.tril(rh[:, :k], -1) == 0)
    assert np.all(np.real(np.diag(rh)) > 0) and np.all(np.imag(np.diag(rh)) == 0)
    assert_close(q @ r, a_np, xp=xp, rtol=0, atol=float(10 * k * eps * np.abs(a_np).max() * np.sqrt(k)), like=a)


def test_matches_lapack_up_to_signs(xp):
    rng = np.random.default_rng(7)
    a_np = rng.standard_normal((45, 20))
    q, r = mgs_qr(xp.asarray(a_np))
    q_ref, r_ref = scipy.linalg.qr(a_np, mode="economic")
    signs = np.sign(np.diag(r_ref))
    assert_close(r, signs[:, None] * r_ref, xp=xp, rtol=0, atol=1e-13 * np.abs(r_ref).max())
    assert_close(q, q_ref * signs, xp=xp, rtol=0, atol=1e-13)


def test_reorthogonalization_is_what_keeps_q_orthogonal(xp):
    # For cond(a) = 1e10 one MGS pass loses about eps*cond of orthogonality; twice restores eps.
    rng = np.random.default_rng(99)
    a_np = _graded(rng, 80, 30, 1e10)
    q1, _ = mgs_qr(xp.asarray(a_np), reorthogonalize=False)
    q2, r2 = mgs_qr(xp.asarray(a_np))
    loss1 = np.linalg.norm(to_host(q1).T @ to_host(q1) - np.eye(30))
    loss2 = np.linalg.norm(to_host(q2).T @ to_host(q2) - np.eye(30))
    assert loss1 > 1e-9
    assert loss2 < 30 * np.finfo(float).eps
    assert np.linalg.norm(to_host(q2) @ to_host(r2) - a_np) < 1e-14 * np.linalg.norm(a_np) * 30


def test_engines_agree(needs_numba):
    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.float32, np.complex128, np.complex64):
        a = _matrix(rng, 33, 17, dtype)
        qn, rn = mgs_qr(a, engine="numba")
        qx, rx = mgs_qr(a, engine="xp")
        tol = 50 * np.finfo(dtype).eps
        assert qn.dtype == qx.dtype == a.dtype
        np.testing.assert_allclose(qn, qx, rtol=0, atol=tol)
        np.testing.assert_allclose(rn, rx, rtol=0, atol=tol * np.abs(rx).max())


def test_auto_engine_uses_numba_on_numpy(needs_numba, monkeypatch):
    import orthla.pivoting._mgs as mod

    called = []
    orig = mod._mgs_numba
    monkeypatch.setattr(mod, "_mgs_numba", lambda a: called.append(1) or orig(a))
    mgs_qr(np.eye(3))
    assert called


def test_input_not_modified(xp):
    a_np = np.random.default_rng(3).standard_normal((10, 4))
    a = xp.asarray(a_np.copy())
    for engine in ("auto", "xp"):
        mgs_qr(a, engine=engine)
    np.testing.assert_array_equal(to_host(a), a_np)


def test_readonly_numpy_input():
    a = np.random.default_rng(3).standard_normal((10, 4))
    a.setflags(write=False)
    before = a.copy()
    for engine in ("auto", "xp"):
        q, r = mgs_qr(a, engine=engine)
        np.testing.assert_allclose(q @ r, before, atol=1e-14)
    np.testing.assert_array_equal(a, before)


def test_integer_input_promoted_to_float64(xp):
    a = xp.asarray(np.array([[3, 0], [4, 5], [0, 0]]))
    q, r = mgs_qr(a)
    assert q.dtype == xp.float64
    assert_close(r, np.array([[5.0, 4.0], [0.0, 3.0]]), xp=xp, rtol=1e-14)


def test_list_input_gives_numpy():
    q, r = mgs_qr([[1.0, 0.0], [0.0, 2.0]])
    assert isinstance(q, np.ndarray)
    np.testing.assert_allclose(r, np.diag([1.0, 2.0]))


def test_zero_column_gives_zero_diagonal(xp):
    a_np = np.random.default_rng(0).standard_normal((6, 3))
    a_np[:, 1] = 0.0
    q, r = mgs_qr(xp.asarray(a_np))
    rh = to_host(r)
    assert rh[1, 1] == 0.0
    np.testing.assert_allclose(to_host(q) @ rh, a_np, atol=1e-14)


def test_errors(xp):
    with pytest.raises(ValueError, match=r"`a` must be a 2-D array; got ndim=1 \(shape \(3,\)\)"):
        mgs_qr(xp.ones((3,)))
    bad = np.ones((3, 2))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="`a` must contain only finite values; found 1 NaN/Inf"):
        mgs_qr(xp.asarray(bad))
    with pytest.raises(TypeError, match="`a` must have a real or complex floating"):
        mgs_qr(xp.asarray(np.ones((3, 2), dtype=bool)))
    with pytest.raises(ValueError, match="`engine` must be one of"):
        mgs_qr(xp.ones((3, 2)), engine="fortran")


def test_numba_engine_refuses_other_backends():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="engine='numba' needs NumPy input"):
        mgs_qr(strict.ones((3, 2)), engine="numba")


def test_numba_engine_without_numba(monkeypatch):
    import orthla._backend as backend

    monkeypatch.setattr(backend, "numba_available", lambda: False)
    with pytest.raises(ImportError, match=r'pip install "orthla\[numba\]"'):
        mgs_qr(np.eye(2), engine="numba")
    q, _ = mgs_qr(np.eye(2))  # auto falls back to the array-API engine by design
    np.testing.assert_array_equal(q, np.eye(2))


def test_top_level_export():
    assert orthla.mgs_qr is mgs_qr
    assert "mgs_qr" in orthla.__all__
