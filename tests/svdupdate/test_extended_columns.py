"""Column appends on the extended bases (``V = V' K_v`` grown, touched rows of ``U'``)."""

import numpy as np
import pytest
import scipy.sparse as sp
from _svd_helpers import fail_after_staging

import orthla.svdupdate._truncated as mod
from orthla._testing import to_host
from orthla.svdupdate import TruncatedSVD


def _ortho_loss(st):
    U, Vt = to_host(st.U), to_host(st.Vt)
    k = U.shape[1]
    return max(np.linalg.norm(U.T @ U - np.eye(k), 2), np.linalg.norm(Vt @ Vt.T - np.eye(k), 2))


def _zipf_columns(seed, m=200, n=1100):
    # Zipf-weighted rows: U lives mostly in the heavy rows, so many columns keep little
    # energy outside range(U) (the transposed weak-row stream of the row tests).
    rng = np.random.default_rng(seed)
    weights = sp.diags(1.0 / np.arange(1, m + 1) ** 0.7)
    return (weights @ sp.random(m, n, density=0.03, random_state=rng, format="csc")).tocsc()


def test_column_stream_on_extended_bases_matches_explicit_path(monkeypatch):
    monkeypatch.setattr(mod, "PROBE_MAX_SKIP", 0)  # the last update's record is its probe
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)  # small m: allow U = U' K_u
    A = _zipf_columns(43)
    cols = [A[:, j:j + 1] for j in range(100, 1100)]
    st = TruncatedSVD.fit(A[:, :100], 10, rng=0)
    st._Kv = np.eye(st.n_tracked)  # small n: start the growing V = V' K_v explicitly
    ref = TruncatedSVD.fit(A[:, :100], 10, rng=0)
    for E in cols:
        st.add_columns(E)
    # U' K_u with touched rows throughout; V' K_v grown until a new direction displaced
    # an old one (then folded: at n r^2 < 1e6 it is not entered again, as for rows)
    assert st._Ku is not None and sum(r.cond_k > 1.0 for r in st.history) >= 50
    assert st.shape == (200, 1100) and st._append_kind == "add_rows"
    # the record is in the user's orientation: shape, and ortho_u/ortho_v probe U/V
    w, last = st._probe, st.history[-1]
    U = st._Ub @ st._Ku
    V = st._Vb if st._Kv is None else st._Vb @ st._Kv
    assert last.kind == "add_columns" and last.shape == (200, 1100)
    for X, seen in ((U, last.ortho_u), (V, last.ortho_v)):
        assert abs(seen - np.linalg.norm(X.T @ (X @ w) - w, axis=0).max()) < 3e-15
    monkeypatch.setattr(mod, "V_EXTENDED_MAX_BATCH", 0)  # the general (explicit) path
    ref.max_cond_k = 0.0  # and the growing factor formed explicitly every time
    for E in cols:
        ref.add_columns(E)
    used = [r.method for r in st.history[1:]]
    assert used.count("exact-extended") > 900
    assert "exact-extended" not in {r.method for r in ref.history} and ref._Kv is None
    assert _ortho_loss(st) < 1e-12
    np.testing.assert_allclose(st.s, ref.s, rtol=0, atol=1e-10 * ref.s[0])


def test_exactly_low_rank_columns_tracked_on_extended_right_basis(xp):
    rng = np.random.default_rng(51)
    u, _ = np.linalg.qr(rng.standard_normal((40, 5)))
    v, _ = np.linalg.qr(rng.standard_normal((90, 5)))
    A = (u * np.linspace(10.0, 1.0, 5)) @ v.T
    st = TruncatedSVD.fit(xp.asarray(A[:, :20]), 4, oversample=2)
    st._Kv = xp.eye(st.n_tracked, dtype=xp.float64)  # small n: force V = V' K_v
    st.max_cond_k = 1e2  # and keep it while the sixth (zero) component is displaced
    for j in range(20, 90):
        st.add_columns(xp.asarray(A[:, j:j + 1]))
    assert st._Kv is not None and st.shape == (40, 90)
    uu, ss, vt = np.linalg.svd(A, full_matrices=False)
    U, s, Vt = (to_host(x) for x in (st.U, st.s, st.Vt))
    np.testing.assert_allclose(s, ss[:4], rtol=0, atol=2e-14 * ss[0])
    np.testing.assert_allclose((U * s) @ Vt, (uu[:, :4] * ss[:4]) @ vt[:4], rtol=0, atol=2e-14 * ss[0])
    assert _ortho_loss(st) < 2e-14  # about 90 eps: rounding (torch reached 1.06e-14)


def test_failed_extended_column_append_changes_nothing(monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    A = _zipf_columns(44, n=300)
    st = TruncatedSVD.fit(A[:, :200], 10, rng=0)
    for j in range(200, 210):  # a column run: U = U' K_u with touched rows updated in place
        st.add_columns(A[:, j:j + 1])
    assert st._Ku is not None and st.history[-1].method == "exact-extended"
    ref = st.copy()
    Ub_before = st._Ub.copy()
    staged = fail_after_staging(monkeypatch, st)
    with pytest.raises(RuntimeError, match="injected"):
        st.add_columns(A[:, 210:211])
    monkeypatch.undo()
    assert staged == [True]
    # the factors are back in their slots and untouched
    assert st.shape == (200, 210) and st._append_kind == "add_rows" and st.n_updates == ref.n_updates
    np.testing.assert_array_equal(st._Ub, Ub_before)
    np.testing.assert_array_equal(st._Ku, ref._Ku)
    for j in range(210, 230):
        st.add_columns(A[:, j:j + 1])
        ref.add_columns(A[:, j:j + 1])
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-13)
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt, atol=1e-12 * ref.s[0])


def test_row_then_column_runs_keep_the_extended_forms(monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    A = _zipf_columns(45, m=400, n=400).tocsr()
    st = TruncatedSVD.fit(A[:300, :300], 8, rng=0)
    ref = TruncatedSVD.fit(A[:300, :300], 8, rng=0)
    for i in range(300, 320):
        st.add_rows(A[i:i + 1, :300])
        ref.add_rows(A[i:i + 1, :300], strategy="dense")
    assert st._Kv is not None
    for j in range(300, 330):
        st.add_columns(A[:320, j:j + 1])
        ref.add_columns(A[:320, j:j + 1], strategy="dense")
    methods = [r.method for r in st.history]
    # the switch to columns keeps both forms: U' (grown by the rows) is now the touched
    # factor and V' (touched by the rows) grows
    assert methods[21:].count("exact-extended") >= 25
    assert st._Ku is not None
    np.testing.assert_allclose(st.s, ref.s, rtol=0, atol=1e-11 * ref.s[0])
    assert _ortho_loss(st) < 1e-12
    # any other step folds the column run's forms and keeps the values
    D, E = np.ones((320, 1)), np.ones((330, 1))
    for X in (st, ref):
        X.remove_columns([0, 5])
        X.update(D, E[:328])
    assert st._Ku is None and st._Kv is None and st._Vbuf is None
    np.testing.assert_allclose(st.s, ref.s, rtol=0, atol=1e-11 * ref.s[0])
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt, atol=1e-11 * ref.s[0])
