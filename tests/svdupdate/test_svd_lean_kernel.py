"""The Numba kernel of the lean path's row batches (issue 17): against LAPACK's SVD of the
updated matrix, the three declines (a LAPACK failure, a rank-deficient residual, heavy
cancellation) with states bit-identical to the Python calls' after the general path, and
inputs that would compile other specializations (read-only, strided).  Also the general
path's SVD where LAPACK's divide and conquer does not converge."""

import numpy as np
import pytest

import orthla.svdupdate._truncated as mod
from orthla.svdupdate import TruncatedSVD

pytest.importorskip("numba")

EPS = np.finfo(np.float64).eps


def _spy_kernel(monkeypatch):
    """Record the kernel's return code per call (the kernel itself runs)."""
    real = mod._lean_kernel()
    codes = []

    def lean(*args):
        out = real(*args)
        codes.append(int(out[0]))
        return out

    monkeypatch.setattr(mod, "_lean_kernel", lambda: lean)
    return codes


def _kernel(E, V, s, kk, tol=0.0):
    r, p, n = s.shape[0], E.shape[0], E.shape[1]
    F = np.full((r + p, kk), np.nan)
    theta = np.full(kk, np.nan)
    V_new = np.full((n, kk), np.nan)
    code, smin = mod._lean_kernel()(E, V, s, tol, EPS, kk, mod._IMPLICIT_Q_COND, F, theta, V_new)
    return code, smin, F, theta, V_new


@pytest.mark.parametrize(("r", "p", "n", "kk"), [(8, 5, 60, 4), (8, 5, 60, 13), (10, 30, 40, 40),
                                                 (3, 2, 5, 5), (20, 40, 300, 20)])
def test_kernel_against_lapack(r, p, n, kk):
    """``[diag(s) V^T; E] ~ F diag(theta) V_new^T`` with LAPACK's top ``kk`` singular values,
    orthonormal factors (kk < r, kk = r + p and n = r + p included)."""
    rng = np.random.default_rng(r * 100 + p)
    V = np.linalg.qr(rng.standard_normal((n, r)))[0]
    s = np.sort(rng.uniform(0.5, 5.0, r))[::-1] * np.logspace(0, -1, r)
    E = rng.standard_normal((p, n)) * np.logspace(0, -2, n)
    code, smin, F, theta, V_new = _kernel(E, V, s, kk)
    assert code == 0 and smin > 0
    M = np.vstack([s[:, None] * V.T, E])
    ref = np.linalg.svd(M, compute_uv=False)
    tol = 20 * (r + p) * EPS * ref[0]
    np.testing.assert_allclose(theta, ref[:kk], rtol=0, atol=tol)
    for X in (F, V_new):
        assert np.linalg.norm(X.T @ X - np.eye(kk), 2) < 20 * (r + p) * EPS
    if kk == r + p:  # nothing truncated: the factorization is the matrix
        np.testing.assert_allclose((F * theta) @ V_new.T, M, rtol=0, atol=tol)


def _decline_batch(kind, st, rng):
    E = rng.standard_normal((4, 60)) * np.logspace(0, -3, 60)
    if kind == "zero row":       # T has a zero diagonal: trtri fails (code 1)
        E[2] = 0.0
    elif kind == "repeated row":  # a rank-deficient residual: below the rank threshold (code 2)
        E[3] = E[1]
    else:                        # rows nearly in the row space: V^T Q is not small (code 3)
        E = rng.standard_normal((4, st.n_tracked)) @ st._V.T + 1e-9 * rng.standard_normal((4, 60))
    return E


@pytest.mark.parametrize(("kind", "code"), [("zero row", 1), ("repeated row", 2), ("near span", 3)])
def test_declines_leave_the_python_paths_state(monkeypatch, kind, code):
    rng = np.random.default_rng(6)
    base = TruncatedSVD.fit(rng.standard_normal((80, 60)) * np.logspace(0, -3, 60), 8, rng=0)
    E = _decline_batch(kind, base, rng)
    codes = _spy_kernel(monkeypatch)
    fast = base.copy().add_rows(E)
    monkeypatch.setattr(mod, "_lean_kernel", lambda: None)
    slow = base.copy().add_rows(E)
    assert codes == [code]
    for a, b in ((fast.s, slow.s), (fast._U, slow._U), (fast._V, slow._V)):
        np.testing.assert_array_equal(a, b)
    assert repr(fast.history) == repr(slow.history)


def test_stream_runs_the_kernel_and_its_orgqr_branch(monkeypatch):
    """Graded batches take the implicit branch; a batch whose rows are six orders apart
    (cond(T) > 4 p) the orgqr one, still orthonormal to rounding."""
    codes = _spy_kernel(monkeypatch)
    rng = np.random.default_rng(8)
    grade = np.logspace(0, -3, 60)
    st = TruncatedSVD.fit(rng.standard_normal((80, 60)) * grade, 8, rng=0)
    for _ in range(3):
        st.add_rows(rng.standard_normal((6, 60)) * grade)
    E = rng.standard_normal((6, 60)) * grade
    E[3:] *= 1e-6
    Y = (E - (E @ st._V) @ st._V.T).T
    T = np.linalg.qr(Y, mode="r")
    assert np.linalg.norm(T) * np.linalg.norm(np.linalg.inv(T)) > mod._IMPLICIT_Q_COND * 6
    st.add_rows(E)
    assert codes == [0, 0, 0, 0]
    r = st.n_tracked
    for X in (st._U, st._V):
        assert np.linalg.norm(X.T @ X - np.eye(r), 2) < 1e-13


def test_read_only_and_strided_batches(monkeypatch):
    rng = np.random.default_rng(9)
    grade = np.logspace(0, -3, 60)
    base = TruncatedSVD.fit(rng.standard_normal((80, 60)) * grade, 8, rng=0)
    E = rng.standard_normal((5, 60)) * grade
    ro = E.copy()
    ro.flags.writeable = False
    strided = np.asfortranarray(E)
    codes = _spy_kernel(monkeypatch)
    outs = [base.copy().add_rows(X) for X in (E, ro, strided)]
    assert codes == [0, 0, 0]
    for st in outs[1:]:
        np.testing.assert_array_equal(st.s, outs[0].s)
        np.testing.assert_array_equal(st._V, outs[0]._V)
    from orthla.svdupdate._lean_numba import lean_rows

    assert all(sig[4].mutable and sig[4].layout == "C" for sig in lean_rows.signatures)


def test_general_path_svd_where_gesdd_does_not_converge():
    """The review's case: 60 graded rows onto a state tracking 75 directions of 120 columns;
    the residual factor (60 x 60, rank about 45) makes LAPACK's gesdd fail; gesvd factors it."""
    rng = np.random.default_rng(0)
    for p, n in [(5, 300), (40, 300), (200, 2000), (500, 3000)]:  # the review script's draws
        rng.standard_normal((100, n))
        rng.standard_normal((p, n))
    n = 120
    A = rng.standard_normal((100, n)) * np.logspace(0, -3, n)
    st = TruncatedSVD.fit(A, 60, rng=0)
    E = rng.standard_normal((60, n)) * np.logspace(0, -3, n)
    st.add_rows(E, strategy="dense")
    ref = np.linalg.svd(np.vstack([A, E]), compute_uv=False)[:10]
    # 75 of 120 directions tracked: the leading values are those of the whole matrix
    np.testing.assert_allclose(st.s[:10], ref, rtol=1e-6)


@pytest.mark.parametrize("path", ["kernel", "python", "general"])
def test_ill_conditioned_residual_keeps_orthogonality(monkeypatch, path):
    """30 rows onto rank 10 of 40 columns, the residual's cond(T) about 5e3, the monitor never
    acting: V^T Q measured from Q (G T^-1 is V^T Q only to cond(T) eps: 1070 eps were lost)."""
    rng = np.random.default_rng(1030)
    n, r, p = 40, 10, 30
    V = np.linalg.qr(rng.standard_normal((n, r)))[0]
    s = np.sort(rng.uniform(0.5, 5.0, r))[::-1] * np.logspace(0, -1, r)
    E = rng.standard_normal((p, n)) * np.logspace(0, -2, n)
    U0 = np.linalg.qr(rng.standard_normal((50, r)))[0]
    st = TruncatedSVD(U0, s, V, r, rng=0, ortho_tol=1.0)
    st._r_target = r + p
    if path == "python":
        monkeypatch.setattr(mod, "_lean_kernel", lambda: None)
    elif path == "general":
        monkeypatch.setattr(mod, "_append_lean", lambda *a, **k: None)
    st.add_rows(E)
    assert st.n_tracked == r + p and not st.history[-1].reorthogonalized
    for X in (st._U, st._V):
        assert np.linalg.norm(X.T @ X - np.eye(r + p), 2) < 100 * EPS
