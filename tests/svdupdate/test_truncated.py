import numpy as np
import pytest
import scipy.sparse as sp
from _svd_helpers import fail_after_staging

from orthla._testing import assert_close, to_host
from orthla.svdupdate import TruncatedSVD, UpdateRecord

EPS = np.finfo(np.float64).eps


def _low_rank(rng, m, n, rank, spectrum=None):
    """Exactly rank-``rank`` matrix with known singular values."""
    u, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    v, _ = np.linalg.qr(rng.standard_normal((n, rank)))
    s = np.linspace(10.0, 1.0, rank) if spectrum is None else np.asarray(spectrum)
    return (u * s) @ v.T, s


def _top(A, k):
    u, s, vt = np.linalg.svd(A, full_matrices=False)
    return u[:, :k], s[:k], vt[:k]


def _check_against(st, A, k, rtol):
    """Singular values, rank-k reconstruction and orthogonality against LAPACK on ``A``."""
    u_ref, s_ref, vt_ref = _top(A, k)
    U, s, Vt = (to_host(x) for x in (st.U, st.s, st.Vt))
    assert U.shape == (A.shape[0], k) and Vt.shape == (k, A.shape[1])
    scale = s_ref[0]
    np.testing.assert_allclose(s, s_ref, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose((U * s) @ Vt, (u_ref * s_ref) @ vt_ref, rtol=0, atol=rtol * scale)
    assert np.linalg.norm(U.T @ U - np.eye(k)) < rtol
    assert np.linalg.norm(Vt @ Vt.T - np.eye(k)) < rtol


def test_fit_dense_matches_lapack(xp):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 25))
    st = TruncatedSVD.fit(xp.asarray(A), 5)
    assert st.n_tracked == 7 and st.k == 5 and st.shape == (40, 25) and st.n_updates == 0
    _check_against(st, A, 5, 1e-13)
    assert_close(st.s, _top(A, 5)[1], xp=xp, rtol=1e-13)


def test_fit_sparse_and_rpi_match_lapack():
    rng = np.random.default_rng(1)
    A = sp.random(300, 120, density=0.05, random_state=2, format="csr")
    Ad = A.toarray()
    _check_against(TruncatedSVD.fit(A, 6, rng=3), Ad, 6, 1e-10)
    _check_against(TruncatedSVD.fit(sp.coo_matrix(A), 6, rng=3), Ad, 6, 1e-10)
    L, _ = _low_rank(rng, 200, 90, 9)
    _check_against(TruncatedSVD.fit(L, 6, method="rpi", t=1, rng=4), L, 6, 1e-12)
    _check_against(TruncatedSVD.fit(sp.csc_matrix(L), 6, method="rpi", rng=4), L, 6, 1e-12)


def test_exact_rank_tracked_through_rows_columns_updates(xp):
    # A rank-8 matrix, 10 tracked components: every exact update is exact.
    rng = np.random.default_rng(2)
    A, _ = _low_rank(rng, 90, 70, 8)
    st = TruncatedSVD.fit(xp.asarray(A[:40, :50]), 6, oversample=4)
    st.add_rows(xp.asarray(A[40:70, :50]))
    _check_against(st, A[:70, :50], 6, 1e-13)
    st.add_columns(xp.asarray(A[:70, 50:]))
    _check_against(st, A[:70], 6, 1e-13)
    st.add_rows(xp.asarray(A[70:]))
    _check_against(st, A, 6, 1e-13)
    # weight update A + D E^T of rank 2 keeps the rank at most 10 = tracked
    D, E = rng.standard_normal((90, 2)), rng.standard_normal((70, 2))
    st.update(xp.asarray(D), xp.asarray(E))
    _check_against(st, A + D @ E.T, 6, 1e-13)
    assert st.n_updates == 4 and [r.kind for r in st.history] == [
        "fit", "add_rows", "add_columns", "add_rows", "update"]
    assert st.rank == 6


def test_sparse_exact_rank_tracked_to_machine_precision():
    # The exactness test: sparse exactly rank-k with known spectrum.
    rng = np.random.default_rng(3)
    rows = sp.random(8, 60, density=0.3, random_state=4).toarray()
    mix = rng.standard_normal((120, 8))
    A = mix @ rows  # rank 8, dense-ish; make the stream sparse by sparse row blocks
    st = TruncatedSVD.fit(sp.csr_matrix(A[:50]), 8, oversample=0)
    for lo in range(50, 120, 10):
        st.add_rows(sp.csr_matrix(A[lo:lo + 10]))
    _check_against(st, A, 8, 20 * EPS * 120)


def test_adversarial_direction_orthogonal_to_row_space(xp):
    # New rows orthogonal to the current row space and stronger than sigma_1
    # (IncSVD raises LinAlgError: Singular matrix here).
    rng = np.random.default_rng(4)
    n = 30
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    old = rng.standard_normal((20, 5)) @ basis[:, :5].T
    new = 100.0 * rng.standard_normal((3, 2)) @ basis[:, 5:7].T
    st = TruncatedSVD.fit(xp.asarray(old), 4, oversample=1)
    st.add_rows(xp.asarray(new))
    full = np.vstack([old, new])
    _check_against(st, full, 4, 1e-13)
    assert to_host(st.s)[0] > 5 * np.linalg.svd(old, compute_uv=False)[0]  # the new direction leads
    assert st.history[-1].residual_rank == 2


@pytest.mark.parametrize("method", ["gkl", "rpi"])
def test_krylov_methods_small_batches_and_breakdown(xp, method):
    rng = np.random.default_rng(5)
    A, _ = _low_rank(rng, 60, 40, 6)
    st = TruncatedSVD.fit(xp.asarray(A[:30]), 4, oversample=2)
    # batch of 2 rows < l = 10: handled exactly (no Lanczos size issue)
    st.add_rows(xp.asarray(A[30:32]), method=method, l=10)
    assert st.history[-1].method == "exact"
    # 28 rows whose residual has rank 0 (A is rank 6 = tracked): Lanczos breaks down at once
    st.add_rows(xp.asarray(A[32:]), method=method, l=5)
    assert st.history[-1].method == method
    _check_against(st, A, 4, 1e-12)
    # residual of rank 2 < l: Krylov/randomized subspace captures it exactly after breakdown
    extra = rng.standard_normal((25, 2)) @ rng.standard_normal((2, 40)) * 3.0
    st2 = TruncatedSVD.fit(xp.asarray(A[:30]), 6, oversample=2)
    st2.add_rows(xp.asarray(extra), method=method, l=5, t=1)
    _check_against(st2, np.vstack([A[:30], extra]), 6, 1e-12)
    # (a third direction may be kept at the rounding level of the implicit operator)
    assert st2.history[-1].residual_rank in (2, 3)


@pytest.mark.parametrize("method", ["gkl", "rpi"])
def test_krylov_methods_approximate_when_l_is_smaller_than_residual_rank(method):
    # Residual of rank 20 with a decaying spectrum, l = 8: the leading singular values
    # are close to exact but not equal (the test that shows l matters).
    rng = np.random.default_rng(6)
    A = rng.standard_normal((100, 60)) * np.logspace(0, -3, 60)
    st = TruncatedSVD.fit(A[:40], 5, oversample=3)
    exact = st.copy().add_rows(A[40:])
    approx = st.copy().add_rows(A[40:], method=method, l=8, t=2)
    s_ref = np.linalg.svd(A, compute_uv=False)[:5]
    err_exact = np.abs(exact.s - s_ref).max() / s_ref[0]
    err_approx = np.abs(approx.s - s_ref).max() / s_ref[0]
    assert approx.history[-1].residual_rank == 8
    assert err_approx < 0.05
    assert err_exact < err_approx


def test_add_columns_and_update_against_dense(xp):
    rng = np.random.default_rng(7)
    A, _ = _low_rank(rng, 30, 20, 10)
    st = TruncatedSVD.fit(xp.asarray(A), 10, oversample=8)  # final rank 17 <= 18 tracked: exact
    E = rng.standard_normal((30, 4))
    st.add_columns(xp.asarray(E))
    _check_against(st, np.hstack([A, E]), 10, 1e-13)
    D, F = rng.standard_normal((30, 3)), rng.standard_normal((24, 3))
    st.update(xp.asarray(D), xp.asarray(F))
    _check_against(st, np.hstack([A, E]) + D @ F.T, 10, 1e-13)
    assert st.history[-1].residual_rank == 6


def test_decay_forgets_old_rows(xp):
    rng = np.random.default_rng(8)
    A, E = rng.standard_normal((25, 12)), rng.standard_normal((5, 12))
    st = TruncatedSVD.fit(xp.asarray(A), 12, oversample=0, decay=0.5)
    st.add_rows(xp.asarray(E))
    _check_against(st, np.vstack([0.5 * A, E]), 12, 1e-13)


@pytest.mark.parametrize("idx", [[3], [0, 7, 19], 5])
def test_remove_rows_and_columns_match_recompute(xp, idx):
    rng = np.random.default_rng(9)
    A, _ = _low_rank(rng, 40, 30, 5)
    st = TruncatedSVD.fit(xp.asarray(A), 4, oversample=2)
    st.remove_rows(idx)
    keep = np.setdiff1d(np.arange(40), idx)
    _check_against(st, A[keep], 4, 1e-13)
    st.remove_columns([1, 2])
    _check_against(st, A[keep][:, np.setdiff1d(np.arange(30), [1, 2])], 4, 1e-13)
    assert st.history[-2].kind == "remove_rows" and TruncatedSVD.downdate_rows is TruncatedSVD.remove_rows


def test_remove_row_carrying_a_whole_component():
    # Row 0 alone holds the strongest direction: after removing it the rank drops.
    A = np.zeros((6, 4))
    A[0, 0] = 10.0
    A[1:, 1:] = np.random.default_rng(10).standard_normal((5, 3))
    st = TruncatedSVD.fit(A, 4, oversample=0)
    st.remove_rows([0])
    _check_against(st, A[1:], 4, 1e-13)
    assert st.rank == 3


def test_sparse_and_dense_paths_agree(monkeypatch):
    import orthla.svdupdate._basis as basis

    monkeypatch.setattr(basis, "GRAM_MIN_BATCH", 1)  # small batches take the Gram path too
    A = sp.random(200, 80, density=0.05, random_state=12, format="csr")
    B = sp.random(30, 80, density=0.05, random_state=13, format="csr")
    C = sp.random(230, 5, density=0.1, random_state=14, format="csc")
    D = sp.random(230, 2, density=0.2, random_state=15, format="csr")
    F = sp.random(85, 2, density=0.2, random_state=16, format="csr")
    for method in ("exact", "gkl", "rpi"):
        # same seed: the random start vectors of gkl/rpi are the same on both paths
        s1 = TruncatedSVD.fit(A.toarray(), 10, rng=1)
        s2 = TruncatedSVD.fit(A.toarray(), 10, rng=1)
        s1.add_rows(B, method=method, l=6).add_columns(C, method=method, l=3).update(D, F, method=method, l=1)
        s2.add_rows(B.toarray(), method=method, l=6).add_columns(C.toarray(), method=method, l=3)
        s2.update(D.toarray(), F.toarray(), method=method, l=1)
        assert s1.history[1].method == ("exact-gram" if method == "exact" else method)
        np.testing.assert_allclose(s1.s, s2.s, rtol=1e-12)
        np.testing.assert_allclose((s1.U * s1.s) @ s1.Vt, (s2.U * s2.s) @ s2.Vt, atol=1e-12)


def _ortho_loss(st):
    r = st.n_tracked
    return max(np.linalg.norm(st._U.T @ st._U - np.eye(r), 2), np.linalg.norm(st._V.T @ st._V - np.eye(r), 2))


def test_orthogonality_over_1000_updates():
    rng = np.random.default_rng(15)
    A = rng.standard_normal((80, 40))
    st = TruncatedSVD.fit(A, 8, rng=0)
    for _ in range(1000):
        st.update(rng.standard_normal((80, 1)) * 0.1, rng.standard_normal((40, 1)))
    assert _ortho_loss(st) < 1e-12
    assert st.n_updates == 1000 and len(st.history) == 1001


def _row_stream(ortho_tol):
    rng = np.random.default_rng(16)
    grade = np.logspace(0, -2, 40)
    st = TruncatedSVD.fit(rng.standard_normal((30, 40)) * grade, 8, rng=0, ortho_tol=ortho_tol)
    for _ in range(1000):
        st.add_rows(rng.standard_normal((1, 40)) * grade)
    return st


def test_reorthogonalization_triggered_by_monitor_over_1000_row_updates(monkeypatch):
    # gesdd cores: their rounding drifts enough over 1000 rows for the monitor to act (the
    # secular-equation cores of single rows drift about 10x less: test_svd_arrow_core)
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "_arrow_core", lambda *args: None)
    free = _row_stream(np.inf)  # monitor on, never acts
    tight = _row_stream(3e-15)
    default = _row_stream(None)
    assert not any(r.reorthogonalized for r in free.history)
    n_tight = sum(r.reorthogonalized for r in tight.history)
    assert 10 < n_tight < 1000
    # rounding makes the free run drift (a few 1e-14); the monitored one stays at its tolerance
    assert _ortho_loss(tight) < 1e-14 < _ortho_loss(free) < 1e-12
    assert _ortho_loss(default) < 1e-12
    # the recorded probe estimate tracks the true loss within a small factor
    assert free.history[-1].ortho_u <= 2 * _ortho_loss(free)
    np.testing.assert_allclose(tight.s, free.s, rtol=1e-12)


def test_reorthogonalization_restores_orthonormal_factors():
    rng = np.random.default_rng(16)
    A = rng.standard_normal((50, 30))
    st = TruncatedSVD.fit(A, 5, ortho_tol=1e-9)
    s_before = st.s
    # Spoil orthogonality on purpose (as thousands of updates would): tiny skew.
    st._U = st._U + 1e-8 * rng.standard_normal(st._U.shape)
    st.add_rows(rng.standard_normal((1, 30)) * 1e-12)
    rec = st.history[-1]
    assert rec.reorthogonalized and rec.ortho_u > 1e-9
    assert np.linalg.norm(st._U.T @ st._U - np.eye(st.n_tracked)) < 1e-14 * 100
    np.testing.assert_allclose(st.s, s_before, rtol=1e-7)


def _hidden_rank_one_loss(w, r, delta, rng):
    """``I + delta u u^T`` with ``u`` orthogonal to the probe vectors ``w`` (r x 2)."""
    u = rng.standard_normal(r)
    u -= w @ np.linalg.lstsq(w, u, rcond=None)[0]
    u /= np.linalg.norm(u)
    return np.eye(r) + delta * np.outer(u, u)


@pytest.mark.parametrize("extended", [False, True])
def test_monitor_detects_a_loss_hidden_from_the_probe(extended, monkeypatch):
    # A rank-one loss orthogonal to the probe pair of the last update: a fixed probe
    # would never see it; fresh probe vectors and the periodic exact check must.
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)  # small n: sparse rows keep V = V' K_v
    rng = np.random.default_rng(41)
    A = rng.standard_normal((40, 60)) * np.logspace(0, -2, 60)
    st = TruncatedSVD.fit(A, 6, rng=3)
    r = st.n_tracked

    def row():
        E = sp.random(1, 60, density=0.1, random_state=rng, format="csr")
        return E if extended else E.toarray()

    st.add_rows(row())  # draws a probe pair (and enters the extended form)
    assert (st._Kv is not None) == extended
    spoil = _hidden_rank_one_loss(st._probe, r, 1e-9, rng)
    if extended:
        st._Kv = st._Kv @ spoil
    else:
        st._V = st._V @ spoil
    V = st._Vb if st._Kv is None else st._Vb @ st._Kv
    assert abs(np.linalg.norm(V.T @ V - np.eye(r), 2) - 2e-9) < 1e-11
    for _ in range(min(mod.FULL_CHECK_EVERY, 64)):
        st.add_rows(row())
        if st.history[-1].reorthogonalized:
            break
    rec = st.history[-1]
    assert rec.reorthogonalized and rec.ortho_v > 1e-10
    assert (rec.method == "exact-extended") == extended
    assert _ortho_loss(st) < 1e-13


def test_monitor_full_check_is_the_exact_norm():
    from orthla.svdupdate._truncated import FULL_CHECK_EVERY

    rng = np.random.default_rng(42)
    st = TruncatedSVD.fit(rng.standard_normal((30, 20)), 4, rng=0, ortho_tol=np.inf)
    for _ in range(FULL_CHECK_EVERY - 1):
        st.add_rows(rng.standard_normal((1, 20)))
    r = st.n_tracked
    spoil = _hidden_rank_one_loss(rng.standard_normal((r, 2)), r, 1e-7, rng)
    st._U = st._U @ spoil
    st.add_rows(np.zeros((1, 20)))  # the exact check of update FULL_CHECK_EVERY
    U = st._U
    assert st.n_updates == FULL_CHECK_EVERY
    assert st.history[-1].ortho_u == pytest.approx(np.linalg.norm(U.T @ U - np.eye(r), 2), rel=1e-6)


def test_relative_threshold_keeps_tiny_scale_matrices_exact():
    # IncSVD drops residuals below an absolute 1e-5; a matrix of scale 1e-9 must still be exact.
    rng = np.random.default_rng(17)
    A = 1e-9 * rng.standard_normal((30, 12))
    st = TruncatedSVD.fit(A[:10], 10, oversample=0)
    st.add_rows(A[10:])
    _check_against(st, A, 10, 1e-13)
    assert st.history[-1].residual_rank == 2


def test_float32_state(xp):
    rng = np.random.default_rng(18)
    A = rng.standard_normal((40, 20)).astype(np.float32)
    st = TruncatedSVD.fit(xp.asarray(A), 20, oversample=0)
    E = rng.standard_normal((3, 20))
    st.add_rows(xp.asarray(E))  # float64 rows are cast to the state's dtype
    assert st.s.dtype == xp.float32 and st.U.dtype == xp.float32
    full = np.vstack([A, E.astype(np.float32)]).astype(np.float64)
    _check_against(st, full, 20, 200 * np.finfo(np.float32).eps)


def test_transform_and_properties(xp):
    rng = np.random.default_rng(19)
    A = rng.standard_normal((20, 10))
    st = TruncatedSVD.fit(xp.asarray(A), 3)
    X = rng.standard_normal((4, 10))
    Z = st.transform(xp.asarray(X))
    assert_close(Z, X @ to_host(st.Vt).T, xp=xp, rtol=1e-13)
    st_np = TruncatedSVD.fit(A, 3)
    np.testing.assert_allclose(st_np.transform(sp.csr_matrix(X)), st_np.transform(X), rtol=1e-13)
    with pytest.raises(ValueError, match=r"`X` must have 10 columns"):
        st.transform(xp.asarray(X[:, :4]))
    u = st.U
    u[0, 0] = 123.0  # properties are copies: the state is untouched
    assert float(st.U[0, 0]) != 123.0
    assert "TruncatedSVD(shape=(20, 10), k=3" in repr(st)
    assert isinstance(st.history[0], UpdateRecord)


def test_inputs_not_modified():
    rng = np.random.default_rng(20)
    A, E = rng.standard_normal((20, 10)), rng.standard_normal((3, 10))
    A.setflags(write=False)
    E.setflags(write=False)
    Es = sp.csr_matrix(E)
    before = Es.data.copy()
    st = TruncatedSVD.fit(A, 3)
    D = rng.standard_normal((26, 2))
    D.setflags(write=False)
    st.add_rows(E).add_rows(Es).add_columns(D).update(D, np.ones((12, 2)))
    np.testing.assert_array_equal(Es.data, before)
    assert st.shape == (26, 12)


def test_errors_and_all_or_nothing(xp):
    rng = np.random.default_rng(21)
    A = rng.standard_normal((20, 10))
    st = TruncatedSVD.fit(xp.asarray(A), 3)
    U0, s0 = to_host(st.U).copy(), to_host(st.s).copy()
    with pytest.raises(ValueError, match=r"`E` must have 10 columns to match the tracked 20 x 10 matrix; got shape \(2, 9\)"):
        st.add_rows(xp.asarray(rng.standard_normal((2, 9))))
    with pytest.raises(ValueError, match=r"`E` must have 20 rows .* got shape \(19, 2\)"):
        st.add_columns(xp.asarray(rng.standard_normal((19, 2))))
    with pytest.raises(ValueError, match=r"`D` and `E` must have the same number of columns p; got shapes \(20, 2\) and \(10, 3\)"):
        st.update(xp.asarray(rng.standard_normal((20, 2))), xp.asarray(rng.standard_normal((10, 3))))
    bad = rng.standard_normal((2, 10))
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="`E` must contain only finite values; found 1 NaN/Inf"):
        st.add_rows(xp.asarray(bad))
    with pytest.raises(ValueError, match="`method` must be one of"):
        st.add_rows(xp.asarray(A[:1]), method="lanczos")
    with pytest.raises(ValueError, match="`l` must be an integer at least 1; got 0"):
        st.add_rows(xp.asarray(A[:1]), method="gkl", l=0)
    with pytest.raises(ValueError, match="`E` is empty"):
        st.add_rows(xp.asarray(A[:0]))
    with pytest.raises(ValueError, match=r"`idx` must hold rows in \[0, 20\); got values in \[3, 20\]"):
        st.remove_rows([3, 20])
    with pytest.raises(ValueError, match="`idx` must not repeat"):
        st.remove_rows([3, 3])
    with pytest.raises(ValueError, match="would remove all 10 columns"):
        st.remove_columns(list(range(10)))
    assert st.n_updates == 0 and st.shape == (20, 10)
    np.testing.assert_array_equal(to_host(st.U), U0)
    np.testing.assert_array_equal(to_host(st.s), s0)
    with pytest.raises(ValueError, match=r"`k` must be an integer at least 1 and at most min\(m, n\) = 10; got 11"):
        TruncatedSVD.fit(xp.asarray(A), 11)
    with pytest.raises(ValueError, match="`method` must be one of"):
        TruncatedSVD.fit(xp.asarray(A), 2, method="gkl")
    with pytest.raises(ValueError, match=r"`decay` must be a finite real number > 0 and <= 1; got 1.5"):
        TruncatedSVD.fit(xp.asarray(A), 2, decay=1.5)
    with pytest.raises(ValueError, match="`A` must be a 2-D array"):
        TruncatedSVD.fit(xp.asarray(A[0]), 2)
    with pytest.raises(TypeError, match="`A` must have a real floating"):
        TruncatedSVD.fit(xp.asarray(A) > 0, 2)


def test_sparse_errors():
    rng = np.random.default_rng(22)
    A = rng.standard_normal((20, 10))
    st = TruncatedSVD.fit(A, 3)
    with pytest.raises(TypeError, match=r"format 'lil', which cannot be used; accepted sparse formats: csr, csc, coo"):
        st.add_rows(sp.lil_matrix(A[:2]))
    with pytest.raises(TypeError, match="accepted sparse formats"):
        TruncatedSVD.fit(sp.dok_array(A), 3)
    bad = sp.csr_matrix(A[:2])
    bad.data[0] = np.inf
    with pytest.raises(ValueError, match="`E` must contain only finite values; found 1 NaN/Inf"):
        st.add_rows(bad)
    with pytest.raises(ValueError, match=r"`E` must have 10 columns .* got shape \(2, 9\)"):
        st.add_rows(sp.csr_matrix(A[:2, :9]))
    assert st.n_updates == 0
    st.add_rows(sp.csr_matrix(np.ones((1, 10), dtype=np.int64)))  # integers promoted
    assert st.shape == (21, 10)


def test_mixed_libraries_refused():
    strict = pytest.importorskip("array_api_strict")
    st = TruncatedSVD.fit(np.eye(4), 2)
    with pytest.raises(TypeError, match="does not belong to the namespace"):
        st.add_rows(strict.ones((1, 4)))
    st2 = TruncatedSVD.fit(strict.asarray(np.eye(4)), 2)
    with pytest.raises(TypeError, match="sparse matrix but the SVD state lives in"):
        st2.add_rows(sp.csr_matrix(np.ones((1, 4))))


def test_constructor_from_existing_svd():
    rng = np.random.default_rng(23)
    A = rng.standard_normal((15, 8))
    u, s, vt = np.linalg.svd(A, full_matrices=False)
    st = TruncatedSVD(u, s, vt.T, 8)
    st.add_rows(A[:2])
    _check_against(st, np.vstack([A, A[:2]]), 8, 1e-13)
    with pytest.raises(ValueError, match="matching numbers of components"):
        TruncatedSVD(u, s[:3], vt.T, 2)
    assert [r.kind for r in st.history] == ["add_rows"]


def test_extended_left_basis_matches_explicit_products(monkeypatch):
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "PROBE_MAX_SKIP", 0)  # the last update's record is its probe
    # U = U' K_u (old rows untouched) must give the same SVD as forming U F1 every time.
    rng = np.random.default_rng(24)
    A = rng.standard_normal((200, 30)) * np.logspace(0, -2, 30)
    ext = TruncatedSVD.fit(A[:50], 6, rng=0)
    ext._Ku = np.eye(ext.n_tracked)  # small m: start in extended form explicitly
    explicit = TruncatedSVD.fit(A[:50], 6, rng=0)
    explicit.max_cond_k = 0.0  # always fold
    for lo in range(50, 200, 5):
        ext.add_rows(A[lo:lo + 5])
        explicit.add_rows(A[lo:lo + 5])
    assert any(r.cond_k > 1.0 for r in ext.history) and all(r.cond_k == 1.0 for r in explicit.history)
    assert ext._Ku is not None
    # the monitor reads U'^T U' (kept up to date), not the m rows: same probe, same value
    U, w = ext._Ub @ ext._Ku, ext._probe
    direct = np.linalg.norm(U.T @ (U @ w) - w, axis=0).max()
    assert abs(ext.history[-1].ortho_u - direct) < 1e-15
    np.testing.assert_allclose(ext.s, explicit.s, rtol=1e-13)
    np.testing.assert_allclose(ext.U * ext.s, explicit.U * explicit.s, atol=1e-12 * explicit.s[0])
    assert _ortho_loss(ext) < 1e-13
    # a copy never shares the row buffer: diverging streams stay independent
    twin, twin_ref = ext.copy(), explicit.copy()
    extra = rng.standard_normal((3, 30))
    ext.add_rows(extra[:1])
    explicit.add_rows(extra[:1])
    twin.add_rows(extra[1:])
    twin_ref.add_rows(extra[1:])
    np.testing.assert_allclose(ext.U * ext.s, explicit.U * explicit.s, atol=1e-12 * explicit.s[0])
    np.testing.assert_allclose(twin.U * twin.s, twin_ref.U * twin_ref.s, atol=1e-12 * twin_ref.s[0])
    # folding on demand (a column update needs U explicitly) keeps the values
    ext.add_columns(rng.standard_normal((201, 1)))
    assert ext._Ku is None


def test_residual_with_heavy_cancellation():
    # New rows almost in the current row space: the residual is 1e-9 of the rows, so
    # one Gram-Schmidt pass is not enough and the second pass must be taken.
    rng = np.random.default_rng(25)
    old, _ = _low_rank(rng, 20, 15, 5)
    basis, _ = np.linalg.qr(np.linalg.svd(old)[2][:5].T, mode="complete")
    new = rng.standard_normal((3, 20)) @ old + 1e-9 * np.outer(rng.standard_normal(3), basis[:, 7])
    st = TruncatedSVD.fit(old, 6, oversample=1)
    st.add_rows(new)
    full = np.vstack([old, new])
    _check_against(st, full, 6, 1e-13)
    assert st.history[-1].residual_rank == 1
    s_ref = np.linalg.svd(full, compute_uv=False)
    assert s_ref[5] > 1e-10  # the tiny new direction is the 6th component, and is tracked
    assert abs(st.s[5] - s_ref[5]) < 1e-14 * s_ref[0]


def test_rank_deficient_sparse_batch_with_empty_and_repeated_rows():
    A = sp.random(40, 60, density=0.1, random_state=27, format="csr").toarray()
    E = sp.random(6, 60, density=0.1, random_state=28, format="csr").toarray()
    E[2] = 0.0  # empty row
    E[4] = 2.0 * E[1]  # repeated direction
    st = TruncatedSVD.fit(A, 40, oversample=0)  # full row rank tracked: exact
    st.add_rows(sp.csr_matrix(E))
    _check_against(st, np.vstack([A, E]), 40, 1e-13)
    assert st.history[-1].residual_rank == 4


def _gram_case(kind, rng):
    A = sp.random(60, 80, density=0.08, random_state=29, format="csr").toarray()
    E = sp.random(12, 80, density=0.08, random_state=30, format="csr").toarray()
    if kind == "empty_and_repeated":
        E[3] = 0.0
        E[7] = -3.0 * E[5]
    elif kind == "cancellation":  # rows nearly inside the current row space
        E = rng.standard_normal((12, 60)) @ A
        E[:, :5] += 1e-7 * rng.standard_normal((12, 5))
    elif kind == "ill_conditioned":  # two new rows parallel up to a genuine 1e-6 direction
        E[1] = E[0] + 1e-6 * rng.standard_normal(80)
    return A, E


@pytest.mark.parametrize(("kind", "path"), [
    ("plain", "exact-gram"), ("empty_and_repeated", "exact-gram"),
    ("cancellation", "exact"), ("ill_conditioned", "exact")])
def test_sparse_gram_path_certifies_or_falls_back(kind, path, monkeypatch):
    import orthla.svdupdate._basis as basis

    monkeypatch.setattr(basis, "GRAM_MIN_BATCH", 1)
    A, E = _gram_case(kind, np.random.default_rng(31))
    full = np.vstack([A, E])
    st = TruncatedSVD.fit(A, 60, oversample=0)  # exact model: results must match LAPACK
    st.add_rows(sp.csr_matrix(E))
    assert st.history[-1].method == path
    _check_against(st, full, 60, 1e-12)
    # and the QR path gives the same SVD
    monkeypatch.setattr(basis, "GRAM_MIN_BATCH", 10**9)
    st_qr = TruncatedSVD.fit(A, 60, oversample=0).add_rows(sp.csr_matrix(E))
    assert st_qr.history[-1].method == "exact"
    np.testing.assert_allclose(st.s, st_qr.s, rtol=0, atol=1e-12 * st_qr.s[0])


def test_large_sparse_batches_take_the_gram_path_by_default():
    A = sp.random(300, 200, density=0.05, random_state=32, format="csr")
    E = sp.random(40, 200, density=0.05, random_state=33, format="csr")
    st = TruncatedSVD.fit(A, 10, rng=0).add_rows(E)
    assert st.history[-1].method == "exact-gram"
    st_dense = TruncatedSVD.fit(A, 10, rng=0).add_rows(E.toarray())
    assert st_dense.history[-1].method == "exact"
    np.testing.assert_allclose(st.s, st_dense.s, rtol=1e-12)


def test_single_rows_new_direction_in_span_and_zero(xp):
    rng = np.random.default_rng(34)
    A, _ = _low_rank(rng, 30, 20, 5)
    st = TruncatedSVD.fit(xp.asarray(A), 6, oversample=1)
    rows = [rng.standard_normal(20), rng.standard_normal(5) @ A[:5], np.zeros(20)]
    expected_rank = [1, 0, 0]
    for row, q in zip(rows, expected_rank, strict=True):
        A = np.vstack([A, row])
        st.add_rows(xp.asarray(row[None, :]))
        assert st.history[-1].residual_rank == q
        _check_against(st, A, 6, 1e-13)
    assert st.shape == (33, 20)


def _rank2_block(rng, p, n, density=0.05, fmt="csr"):
    """p sparse rows/columns spanning only 2 directions (so l = 3 < p is exact)."""
    base = sp.random(2, n, density=density, random_state=rng).toarray()
    mix = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])[:p]
    return sp.csr_matrix(mix @ base) if fmt == "csr" else sp.csc_matrix((mix @ base).T)


@pytest.mark.parametrize("method", ["exact", "gkl", "rpi"])
def test_sparse_known_spectrum_tracked_exactly_by_every_method(method):
    # Rank-8 sparse matrix with known singular values (distinct rows and columns).
    rng = np.random.default_rng(35)
    sigma = np.array([10.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.5, 1.0])
    rows, cols = rng.choice(200, 8, replace=False), rng.choice(150, 8, replace=False)
    A = sp.csr_matrix((sigma, (rows, cols)), shape=(200, 150))
    st = TruncatedSVD.fit(A, 8, oversample=8, rng=0)
    np.testing.assert_allclose(st.s, sigma, rtol=0, atol=20 * EPS * sigma[0])
    Ad = A.toarray()
    E = _rank2_block(rng, 4, 150)
    st.add_rows(E, method=method, l=3)
    Ad = np.vstack([Ad, E.toarray()])
    F = _rank2_block(rng, 4, 204, fmt="csc")
    st.add_columns(F, method=method, l=3)
    Ad = np.hstack([Ad, F.toarray()])
    D, G = _rank2_block(rng, 4, 204, fmt="csc"), _rank2_block(rng, 4, 154, fmt="csc")
    st.update(D, G, method=method, l=3)
    Ad = Ad + D.toarray() @ G.toarray().T
    assert [r.method for r in st.history[1:]] == ["exact" if method == "exact" else method] * 3
    _check_against(st, Ad, 8, 50 * EPS)  # ~1e-14


def test_tracked_rank_regrows_after_small_start_and_downdate(xp):
    rng = np.random.default_rng(36)
    A, _ = _low_rank(rng, 40, 12, 6)
    st = TruncatedSVD.fit(xp.asarray(A[:3]), 2, oversample=4)  # only 3 rows: tracks 3
    assert st.n_tracked == 3 and st.k == 2
    st.add_rows(xp.asarray(A[3:]))
    assert st.n_tracked == 6
    _check_against(st, A, 2, 1e-13)
    st.remove_rows(list(range(38)))  # 2 rows left: tracked and exposed shrink
    assert st.n_tracked == 2 and st.k == 2 and st.U.shape == (2, 2)
    st.add_rows(xp.asarray(A[:20]))
    assert st.n_tracked == 6
    _check_against(st, np.vstack([A[38:], A[:20]]), 2, 1e-13)


def test_extended_left_basis_on_every_backend(xp):
    rng = np.random.default_rng(37)
    A, _ = _low_rank(rng, 60, 20, 5)
    st = TruncatedSVD.fit(xp.asarray(A[:20]), 4, oversample=2)
    st._Ku = xp.eye(st.n_tracked, dtype=xp.float64)  # small m: force the extended form
    for lo in range(20, 60, 8):
        st.add_rows(xp.asarray(A[lo:lo + 8]))
    assert st._Ku is not None and st.history[-1].cond_k >= 1.0
    _check_against(st, A, 4, 1e-13)


def test_extended_right_basis_for_small_sparse_row_batches(monkeypatch):
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "PROBE_MAX_SKIP", 0)  # the last update's record is its probe
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)  # small n: force V = V' K_v
    A = sp.random(60, 300, density=0.05, random_state=39).toarray() * np.logspace(0, -1, 300)
    U0, s0, Vt0 = np.linalg.svd(A, full_matrices=False)
    V_user = Vt0[:15].T.copy()
    V_before = V_user.copy()
    # fixed probe seed: the probe-based comparison below is at rounding level (3% of
    # random seeds give 3e-15 to 5e-15)
    st = TruncatedSVD(U0[:, :15].copy(), s0[:15].copy(), V_user, 12, rng=0)
    ref = TruncatedSVD(U0[:, :15].copy(), s0[:15].copy(), Vt0[:15].T.copy(), 12, rng=0)
    new = sp.random(30, 300, density=0.02, random_state=40, format="csr")
    st.max_cond_k = 1e2  # strong new rows: keep V' K_v held to the end (the default folds)
    for i in range(0, 30, 3):
        st.add_rows(new[i:i + 3])
    used = [r.method for r in st.history]
    assert used.count("exact-extended") >= 5 and st._Kv is not None
    np.testing.assert_array_equal(V_user, V_before)  # the caller's V is never written
    # the same SVD as the general path (which forms V explicitly every time)
    monkeypatch.setattr(mod, "V_EXTENDED_MAX_BATCH", 0)
    for i in range(0, 30, 3):
        ref.add_rows(new[i:i + 3])
    assert "exact-extended" not in {r.method for r in ref.history}
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-12)
    np.testing.assert_allclose(st.U * st.s @ st.Vt, ref.U * ref.s @ ref.Vt, atol=1e-12 * ref.s[0])
    # monitor reads V'^T V' (kept up to date): same probe value as the explicit V
    V, w = st._Vb @ st._Kv, st._probe
    direct = np.linalg.norm(V.T @ (V @ w) - w, axis=0).max()
    assert abs(st.history[-1].ortho_v - direct) < 3e-15  # incremental Gram: rounding-level
    assert _ortho_loss(st) < 1e-13
    # any other operation folds the extended form and keeps the values
    s_before = st.s
    st.add_columns(np.zeros((90, 1)))
    assert st._Kv is None and st.shape == (90, 301)
    np.testing.assert_allclose(st.s, s_before, rtol=1e-13)


def test_failed_extended_update_leaves_no_staged_work(monkeypatch):
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    A = sp.random(60, 300, density=0.05, random_state=41).toarray()
    st = TruncatedSVD.fit(A, 10, rng=0)
    # a row stream: the next sparse row batch takes the extended right basis
    st.add_rows(sp.random(1, 300, density=0.05, random_state=43, format="csr"))
    ref = st.copy()
    new = sp.random(2, 300, density=0.02, random_state=42, format="csr")
    staged = fail_after_staging(monkeypatch, st)
    with pytest.raises(RuntimeError, match="injected"):
        st.add_rows(new)
    monkeypatch.undo()
    assert staged == [True]  # the V row delta was staged before the failure
    assert st.n_updates == 1 and st.shape == (61, 300)
    D, E = np.ones((61, 1)), np.ones((300, 1))
    st.update(D, E)  # must not apply the staged row delta
    ref.update(D, E)
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-13)
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt, atol=1e-12)


def test_alternating_rows_and_columns_keep_the_extended_forms(monkeypatch):
    # A graph grown node by node (a row, then a column): each factor grows in one kind
    # of append and has rows touched in the other, so both stay in extended form, and
    # the result is the SVD of the explicit path.
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    A = sp.random(10000, 60, density=0.05, random_state=44, format="csr")
    ref = TruncatedSVD.fit(A, 8, rng=0)
    st = ref.copy()
    rows = sp.random(3, 60, density=0.2, random_state=45, format="csr")
    for X, strategy in ((st, "auto"), (ref, "dense")):
        for i in range(3):
            X.add_rows(sp.hstack([rows[[i]], sp.csr_matrix((1, i))], format="csr"), strategy=strategy)
            X.add_columns(sp.random(10001 + i, 1, density=0.01, random_state=46 + i, format="csc"),
                          strategy=strategy)
    assert [r.method for r in st.history[1:]] == ["exact-extended"] * 6
    assert st._Ku is not None and st._Kv is not None
    assert "exact-extended" not in {r.method for r in ref.history}
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-12)
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt, atol=1e-11)
    assert _ortho_loss(st) < 1e-13


def test_condition_bounds_of_extended_factors_hold(monkeypatch):
    # cond(K_u) and cond(K_v) are followed through O(p r) bounds (exact SVDs only near
    # max_cond_k): the bounds must never be below the true condition numbers.
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    A = sp.random(5100, 400, density=0.02, random_state=47, format="csr")
    st = TruncatedSVD.fit(A[:5000], 12, rng=0)  # m r^2 >= 1e6: U = U' K_u too
    seen_u = seen_v = 0
    for i in range(5000, 5060):
        st.add_rows(A[[i]])
        if st._Kv is not None:
            assert np.linalg.cond(st._Kv) <= st._cond_kv * (1 + 1e-12)
            seen_v += 1
        if st._Ku is not None:
            assert np.linalg.cond(st._Ku) <= st._cond_ku * (1 + 1e-12)
            assert st.history[-1].cond_k == st._cond_ku
            seen_u += 1
    assert seen_u > 40 and seen_v > 40
    ref = TruncatedSVD.fit(A[:5000], 12, rng=0)
    for i in range(5000, 5060):
        ref.add_rows(A[[i]], strategy="dense")
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-12)


def test_extended_right_basis_over_1000_weak_sparse_rows(monkeypatch):
    # Zipf-weighted columns: V lives mostly in the heavy columns, so rows that hit them
    # keep little energy outside range(V) (down to 1/64 is taken by the extended path).
    import orthla.svdupdate._truncated as mod

    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(43)
    n = 200
    weights = sp.diags(1.0 / np.arange(1, n + 1) ** 0.7)
    A = (sp.random(1100, n, density=0.03, random_state=rng, format="csr") @ weights).tocsr()
    rows = [A[i:i + 1] for i in range(100, 1100)]
    st = TruncatedSVD.fit(A[:100], 10, rng=0)
    ref = st.copy()
    for E in rows:
        st.add_rows(E)
    monkeypatch.setattr(mod, "V_EXTENDED_MAX_BATCH", 0)  # the general (explicit) path
    for E in rows:
        ref.add_rows(E)
    used = [r.method for r in st.history[1:]]
    assert used.count("exact-extended") > 900 and "exact-extended" not in {r.method for r in ref.history}
    assert _ortho_loss(st) < 1e-12
    np.testing.assert_allclose(st.s, ref.s, rtol=0, atol=1e-10 * ref.s[0])


def test_copies_repeat_the_same_random_update():
    # a copy clones the random streams: how many copies came before must not matter
    rng = np.random.default_rng(11)
    a = rng.standard_normal((60, 30))
    e = rng.standard_normal((40, 30))  # more rows than l: the sketch is random
    st = TruncatedSVD.fit(a, 6, rng=1)
    first = st.copy().add_rows(e, method="rpi", l=4)
    second = st.copy().add_rows(e, method="rpi", l=4)
    np.testing.assert_array_equal(np.asarray(first.s), np.asarray(second.s))
    np.testing.assert_array_equal(np.asarray(st.add_rows(e, method="rpi", l=4).s), np.asarray(first.s))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [1, 3, 12, 70])
def test_lean_dense_rows_match_the_general_path(p, dtype):
    # NumPy arrays take the lean path (LAPACK called directly, Householder QR with T^-1);
    # the same rows as lists take the general path.  Same update, same records (the lean
    # path's residual_sigma_min is the certified bound 1/||T^-1||_F <= sigma_min(T)), the
    # rows unchanged (the lean path factors its own copies in place), F-ordered rows too.
    rng = np.random.default_rng(40 + p)
    n = 40 if p < 20 else p + 30  # the lean path needs p + r <= n
    A = (rng.standard_normal((60 + 6 * p, n)) * np.logspace(0, -2, n)).astype(dtype)
    lean = TruncatedSVD.fit(A[:60], 6, rng=0)
    general = lean.copy()
    for i, lo in enumerate(range(60, 60 + 6 * p, p)):
        E = A[lo:lo + p] if i % 2 else np.asfortranarray(A[lo:lo + p])
        kept = E.copy()
        lean.add_rows(E)
        general.add_rows(E.tolist())
        np.testing.assert_array_equal(E, kept)
    e = np.finfo(dtype).eps
    assert lean.s.dtype == dtype and lean.history[-1].path == general.history[-1].path == "dense"
    np.testing.assert_allclose(lean.s, general.s, rtol=0, atol=100 * e * general.s[0])
    np.testing.assert_allclose((lean.U * lean.s) @ lean.Vt, (general.U * general.s) @ general.Vt,
                               rtol=0, atol=100 * e * general.s[0])
    for X in (lean._U, lean._V):
        assert np.linalg.norm(X.T @ X - np.eye(X.shape[1]), 2) < 100 * e
    for a, b in zip(lean.history[1:], general.history[1:], strict=True):
        assert (a.kind, a.method, a.shape, a.residual_rank) == (b.kind, b.method, b.shape, b.residual_rank)
        if p == 1:
            assert a.residual_sigma_min == pytest.approx(b.residual_sigma_min, rel=1e-6)
        else:  # a lower bound within sqrt(p) of the measured value
            assert b.residual_sigma_min / np.sqrt(p) * (1 - 1e-4) <= a.residual_sigma_min
            assert a.residual_sigma_min <= b.residual_sigma_min * (1 + 1e-4)


def test_lean_path_hands_rank_deficient_batches_to_the_general_path():
    # Rows inside the current row space plus one new direction: the residual of the
    # 4-row batch has rank 1, below the lean path's certified threshold, so the general
    # path keeps the one direction (residual_rank 1, not 4).
    rng = np.random.default_rng(47)
    old, _ = _low_rank(rng, 30, 20, 4)
    st = TruncatedSVD.fit(old, 4, oversample=2)
    new = rng.standard_normal((4, 30)) @ old + np.outer(rng.standard_normal(4), rng.standard_normal(20))
    st.add_rows(new)
    assert st.history[-1].residual_rank == 1
    _check_against(st, np.vstack([old, new]), 4, 1e-12)


@pytest.mark.parametrize("bitgen", [np.random.PCG64, np.random.MT19937, np.random.Philox])
def test_copy_clones_the_random_streams_independently(bitgen):
    # copy() rebuilds the generators (cheaper than deepcopy): same draws, same spawned
    # children as a deep copy, and nothing drawn or spawned from the copy reaches the original.
    import copy

    gen = np.random.Generator(bitgen(np.random.SeedSequence(5, spawn_key=(2,))))
    gen.standard_normal(7)  # a state away from the seed
    st = TruncatedSVD.fit(np.random.default_rng(0).standard_normal((20, 10)), 3, rng=gen)
    for name in ("_rng", "_probe_rng"):
        orig = getattr(st, name)
        ref, untouched = copy.deepcopy(orig), copy.deepcopy(orig)
        clone = getattr(st.copy(), name)
        assert clone is not orig and clone.bit_generator.seed_seq is not orig.bit_generator.seed_seq
        np.testing.assert_array_equal(clone.standard_normal(5), ref.standard_normal(5))
        np.testing.assert_array_equal(clone.spawn(1)[0].random(3), ref.spawn(1)[0].random(3))
        np.testing.assert_array_equal(orig.standard_normal(5), untouched.standard_normal(5))
        spawned = orig.bit_generator.seed_seq.n_children_spawned
        assert spawned == untouched.bit_generator.seed_seq.n_children_spawned
        assert clone.bit_generator.seed_seq.n_children_spawned == spawned + 1
