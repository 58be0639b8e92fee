"""Sparse row batches on the extended right basis with weak residual directions.

Rows mostly inside ``range(V)``, repeated rows and empty rows give Gram eigenvalues far
below ``EXTENDED_MIN_RESIDUAL``: those directions are formed explicitly and the result
must still be the Zha-Simon SVD of the explicit path, with orthonormal factors.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import orthla.svdupdate._extended as ext
import orthla.svdupdate._truncated as mod
from orthla.svdupdate import TruncatedSVD


def _loss(X):
    return np.linalg.norm(X.T @ X - np.eye(X.shape[1]), 2)


def _count_weak_directions(monkeypatch):
    """A list that receives the number of weak directions kept by each extended append."""
    kept = []
    weak_basis = ext._weak_basis

    def spy(*args):
        out = weak_basis(*args)
        kept.append(out[0].shape[1])
        return out

    monkeypatch.setattr(ext, "_weak_basis", spy)
    return kept


def _pair(A0, k):
    return TruncatedSVD.fit(A0, k, rng=0), TruncatedSVD.fit(A0, k, rng=0)


def _weak_batch(st, rng, n, p):
    """Sparse rows: some random, one inside range(V) but for 1e-6 of its norm, one repeated, one empty."""
    E = sp.random(p, n, density=0.03, random_state=rng, format="lil")
    V = st._V
    inside = V[:, 0] * 3.0 + V[:, 1]
    inside[np.abs(inside) < 1e-2 * np.abs(inside).max()] = 0.0  # sparse, mostly in range(V)
    E[0] = inside + 1e-6 * sp.random(1, n, density=0.01, random_state=rng).toarray()[0]
    E[1] = E[2]
    E[3] = 0.0
    return E.tocsr()


@pytest.mark.parametrize("dense_max", [0, 10**9], ids=["sparse-block", "dense-block"])
@pytest.mark.parametrize("p", [8, 40])
def test_weak_directions_match_the_explicit_path(p, dense_max, monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)  # small n: allow V = V' K_v
    monkeypatch.setattr(ext, "DENSE_TOUCHED_MAX", dense_max)  # both forms of the batch
    rng = np.random.default_rng(61)
    n = 400
    A0 = sp.random(300, n, density=0.05, random_state=rng).toarray() * np.logspace(0, -2, n)
    st, ref = _pair(A0, 12)
    for _ in range(6):
        E = _weak_batch(st, rng, n, p)
        st.add_rows(E)
        ref.add_rows(E, strategy="dense")
    assert st.history[-1].method == "exact-extended" and st._Kv is not None
    assert [r.method for r in ref.history[1:]] == ["exact"] * 6
    # a repeated row adds no direction and an empty one none: at most p - 2 new ones
    assert max(r.residual_rank for r in st.history[1:]) <= p - 2
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-12)
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt,
                               atol=1e-12 * ref.s[0])
    assert max(_loss(st.U), _loss(st.Vt.T)) < 1e-13


def test_weak_directions_are_used_and_counted(monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    calls = _count_weak_directions(monkeypatch)
    rng = np.random.default_rng(62)
    A0 = sp.random(200, 300, density=0.05, random_state=rng).toarray()
    st = TruncatedSVD.fit(A0, 10, rng=0)
    st.add_rows(_weak_batch(st, rng, 300, 10))
    assert st.history[-1].method == "exact-extended"
    # row 0 is the only weak direction that survives (the repeat and the empty row are
    # dropped by the Gram split and by the rank threshold)
    assert calls and calls[-1] >= 1


def test_hundred_row_batches_stay_orthogonal_over_many_updates(monkeypatch):
    # Zipf-weighted columns: rows share heavy columns and many keep little energy
    # outside range(V), the case that needs the weak directions.
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(63)
    m0, n, p, steps = 400, 600, 100, 30
    S = sp.random(m0 + p * steps, n, density=0.02, random_state=rng, format="csr")
    A = (S @ sp.diags(1.0 / np.arange(1, n + 1) ** 0.7)).tocsr()
    st, ref = _pair(A[:m0], 16)
    for i in range(steps):
        E = A[m0 + p * i:m0 + p * (i + 1)]
        st.add_rows(E)
        ref.add_rows(E, strategy="dense")
    methods = [r.method for r in st.history[1:]]
    assert methods.count("exact-extended") >= steps - 2
    assert not any(r.reorthogonalized for r in st.history)
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-11)
    assert max(_loss(st.U), _loss(st.Vt.T)) < 1e-12


@pytest.mark.parametrize("dense_max", [0, 10**9], ids=["sparse-block", "dense-block"])
def test_duplicate_entries_of_a_csr_batch_are_summed(dense_max, monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    monkeypatch.setattr(ext, "DENSE_TOUCHED_MAX", dense_max)
    rng = np.random.default_rng(64)
    A0 = sp.random(100, 200, density=0.05, random_state=rng).toarray()
    st, ref = _pair(A0, 8)
    # a non-canonical CSR batch: (0, 5) twice, (1, 7) twice, unsorted indices
    data, cols, ptr = [1.0, 2.0, 0.5, 3.0, -1.0, 4.0], [5, 5, 9, 7, 7, 3], [0, 3, 6]
    E = sp.csr_array((data, cols, ptr), shape=(2, 200))
    assert not E.has_canonical_format
    st.add_rows(E)
    ref.add_rows(E.toarray(), strategy="dense")
    assert st.history[-1].method == "exact-extended"
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-13)
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt, atol=1e-13 * ref.s[0])


@pytest.mark.parametrize("weak", [False, True], ids=["cholesky", "eigen-split"])
def test_split_reconstructs_the_residual(weak):
    # R plays the residual of 12 rows (one empty); with ``weak`` one column is nearly
    # parallel to another, so the Cholesky certificate must refuse and the eigenvectors
    # split off the weak direction.
    rng = np.random.default_rng(65)
    R = rng.standard_normal((300, 12)) * np.logspace(0, 3, 12)
    R[:, 4] = 0.0
    if weak:
        R[:, 7] = R[:, 6] * (R[7, 7] / R[7, 6]) + 1e-9 * rng.standard_normal(300)
    d = np.linalg.norm(R, axis=0)
    live = np.flatnonzero(d > 0)
    dl = d[live]
    G = (R[:, live].T @ R[:, live]) / np.multiply.outer(dl, dl)
    Gamma_s, Bs, Ww, Zw = ext._split(G, dl, live, 12)
    Qs = R @ Gamma_s
    assert np.linalg.norm(Qs.T @ Qs - np.eye(Qs.shape[1]), 2) < 100 * np.finfo(float).eps
    assert (Ww is None) == (not weak)
    rebuilt = Qs @ Bs if Ww is None else Qs @ Bs + (R @ Ww) @ Zw
    np.testing.assert_allclose(rebuilt, R, rtol=0, atol=1e-12 * np.abs(R).max())
    if weak:
        assert Ww.shape[1] == 1 and Qs.shape[1] == 10


@pytest.mark.parametrize("zipf", [False, True], ids=["uniform", "zipf"])
def test_batch_stream_equals_textbook_zha_simon(zipf, monkeypatch):
    # The acceptance criterion at a test size: 100-row sparse batches, singular
    # values equal to a textbook Zha-Simon update (dense residual, NumPy QR and SVD) to
    # 1e-10 relative.
    from orthla.svdupdate._bench_cases import _naive_rows

    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(66)
    S = sp.random(3000, 1000, density=5e-3, random_state=rng, format="csr")
    A = (S @ sp.diags(1.0 / np.arange(1, 1001) ** 0.7)).tocsr() if zipf else S
    st = TruncatedSVD.fit(A[:2000], 16, rng=0)
    U, s, V = st._U.copy(), st._s.copy(), st._V.copy()
    for lo in range(2000, 3000, 100):
        st.add_rows(A[lo:lo + 100])
        U, s, V = _naive_rows(U, s, V, A[lo:lo + 100].toarray())
    assert [r.method for r in st.history[1:]].count("exact-extended") >= 9
    np.testing.assert_allclose(st._s, s, rtol=1e-10)
    Vt = st.Vt
    np.testing.assert_allclose(np.abs(Vt @ V[:, :16]), np.eye(16), atol=1e-8)
    assert max(_loss(st.U), _loss(Vt.T)) < 1e-13


def test_project_is_the_orthogonal_projection_onto_the_row_space(xp):
    from orthla._testing import to_host

    rng = np.random.default_rng(67)
    A = rng.standard_normal((40, 25))
    st = TruncatedSVD.fit(xp.asarray(A), 5)
    X = rng.standard_normal((3, 25))
    P = to_host(st.project(xp.asarray(X)))
    Vk = np.linalg.svd(A)[2][:5].T
    np.testing.assert_allclose(P, X @ Vk @ Vk.T, atol=1e-12)
    Ps = st.project(sp.csr_array(X)) if xp.__name__.endswith("numpy") else None
    if Ps is not None:
        np.testing.assert_allclose(Ps, P, atol=1e-14)
    with pytest.raises(ValueError, match="columns"):
        st.project(xp.asarray(X[:, :24]))


def test_alternating_graph_stream_with_weak_strong_and_failed_steps(monkeypatch):
    # A symmetric Zipf-weighted matrix grown node block by node block (rows, then the
    # matching columns), with a repeated row, a row inside the row space, a strong new
    # direction and an injected failure on the way: both factors stay in (and leave and
    # re-enter) extended form, and the end result is the explicit path's SVD.
    from _svd_helpers import fail_after_staging

    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(68)
    n = 500
    S = sp.random(n, n, density=0.02, random_state=rng, format="csr")
    w = sp.diags(1.0 / np.arange(1, n + 1) ** 0.5)
    A = (w @ (S + S.T) @ w).tocsr()
    j0 = 300
    st = TruncatedSVD.fit(A[:j0, :j0], 10, rng=0)
    ref = TruncatedSVD.fit(A[:j0, :j0], 10, rng=0)
    j, step = j0, 0
    sizes = [1, 3, 1, 2, 5, 1, 1, 4, 1, 2] * 4
    for b in sizes:
        R = A[j:j + b, :j].tolil()
        if step == 5:
            R[0] = st.project(R[[0]].tocsr())  # a row inside the current row space
        if step == 9:
            R[0, :] = 0.0
            R[0, j - 1] = 50.0  # a strong new direction: displaces the tail components
        R = R.tocsr()
        Ccol = sp.vstack([A[:j, j:j + b], A[j:j + b, j:j + b]], format="csc")
        if step == 9:
            Ccol = Ccol.tolil()
            Ccol[j - 1, 0] = 50.0
            Ccol = Ccol.tocsc()
        if step == 14:  # fail once after the touched rows were staged; nothing changes
            before = (st.s.copy(), st.U.copy(), st.Vt.copy())
            staged = fail_after_staging(monkeypatch, st)
            with pytest.raises(RuntimeError, match="injected"):
                st.add_columns(Ccol[:j].tocsc())  # the touched rows of U' were staged
            assert staged == [True]
            monkeypatch.undo()
            monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
            np.testing.assert_array_equal(st.s, before[0])
            np.testing.assert_array_equal(st.U, before[1])
            np.testing.assert_array_equal(st.Vt, before[2])
        for X, strategy in ((st, "auto"), (ref, "dense")):
            X.add_rows(R, strategy=strategy)
            X.add_columns(Ccol, strategy=strategy)
        j += b
        step += 1
    methods = [r.method for r in st.history[1:]]
    assert methods.count("exact-extended") >= 0.9 * len(methods)
    np.testing.assert_allclose(st.s, ref.s, rtol=0, atol=1e-11 * ref.s[0])
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt, atol=1e-11 * ref.s[0])
    assert max(_loss(st.U), _loss(st.Vt.T)) < 1e-12


def test_weak_row_between_column_runs_refreshes_the_row_buffer(monkeypatch):
    # V' grows in a row buffer over column appends; a row with a weak direction then
    # replaces V' by a new array (rank-q_w change of every row), so the next column
    # append must not grow the old buffer.
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    kept = _count_weak_directions(monkeypatch)
    rng = np.random.default_rng(69)
    A0 = sp.random(300, 200, density=0.05, random_state=rng, format="csr")
    st, ref = _pair(A0, 8)
    st._Kv = np.eye(st.n_tracked)  # small n: let V = V' K_v grow in its row buffer
    cols = [sp.random(300, 1, density=0.05, random_state=rng, format="csc") for _ in range(2)]
    x = sp.random(1, 202, density=0.05, random_state=rng, format="csr")
    for X, strategy in ((st, "auto"), (ref, "dense")):
        for c in cols:
            X.add_columns(c, strategy=strategy)
    assert st._Vbuf is not None
    row = sp.csr_array(st.project(x) + 1e-3 * x.toarray())  # 1e-6 of its energy is new
    more = [sp.random(301, 1, density=0.05, random_state=rng, format="csc") for _ in range(2)]
    for X, strategy in ((st, "auto"), (ref, "dense")):
        X.add_rows(row, strategy=strategy)
        for c in more:
            X.add_columns(c, strategy=strategy)
    assert kept and kept[-1] == 1  # the row's weak direction was kept (dense change of V')
    assert [r.method for r in st.history[1:]] == ["exact-extended"] * 5
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-12)
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, (ref.U * ref.s) @ ref.Vt, atol=1e-12 * ref.s[0])


def test_default_ortho_tol_follows_the_shape():
    eps = np.finfo(np.float64).eps
    small = TruncatedSVD.fit(np.random.default_rng(70).standard_normal((30, 20)), 3)
    assert small._ortho_threshold() == 100 * eps  # 10 sqrt(30) < 100
    big = TruncatedSVD(np.eye(40000, 3), np.ones(3), np.eye(50, 3), 3)
    assert big._ortho_threshold() == pytest.approx(10 * 200 * eps)
    big.add_rows(np.zeros((1, 50)))  # the shape it follows is the current one
    assert big._ortho_threshold() == pytest.approx(10 * np.sqrt(40001) * eps)
    fixed = TruncatedSVD(np.eye(40000, 3), np.ones(3), np.eye(50, 3), 3, ortho_tol=1e-13)
    assert fixed._ortho_threshold() == 1e-13


@pytest.mark.parametrize("kind", ["add_rows", "add_columns"])
def test_batches_of_stored_zeros_or_cancelling_entries(kind, monkeypatch):
    # Stored explicit zeros, or duplicates that cancel, touch columns but add nothing:
    # the update goes through (the explicit path takes it) and equals the dense one.
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    A0 = sp.random(120, 200, density=0.05, random_state=71, format="csr")
    for data, cols in (([0.0, 0.0], [5, 17]), ([1.0, -1.0], [9, 9])):
        E = sp.csr_array((data, cols, [0, 1, 2]), shape=(2, 200))
        for strategy in ("auto", "sparse"):
            st, ref = _pair(A0, 6)
            if kind == "add_rows":
                st.add_rows(E, strategy=strategy)
                ref.add_rows(E.toarray(), strategy="dense")
            else:
                st, ref = _pair(A0.T.tocsr(), 6)
                st.add_columns(E.T.tocsc(), strategy=strategy)
                ref.add_columns(E.toarray().T, strategy="dense")
            np.testing.assert_allclose(st.s, ref.s, rtol=1e-13)


def test_float32_state_keeps_its_dtype_on_the_extended_path(monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(72)
    A0 = sp.random(300, 500, density=0.03, random_state=rng, format="csr")
    st64 = TruncatedSVD.fit(A0, 10, rng=0)
    st32 = TruncatedSVD(st64._U.astype(np.float32), st64._s.astype(np.float32),
                        st64._V.astype(np.float32), 10, rng=0)
    for _ in range(5):
        E = sp.random(20, 500, density=0.03, random_state=rng, format="csr")
        st32.add_rows(E.astype(np.float32))
        st64.add_rows(E)
    assert st32.history[-1].method == "exact-extended"
    assert st32.s.dtype == st32.U.dtype == st32.Vt.dtype == np.float32
    assert st32._Kv.dtype == st32._Gv.dtype == np.float32
    np.testing.assert_allclose(st32.s, st64.s, rtol=1e-5)
    assert not any(r.reorthogonalized for r in st32.history)


@pytest.mark.parametrize("scale", [1e-160, 1e160])
def test_extended_path_is_scale_invariant(scale, monkeypatch):
    # The batch's Gram matrix squares its entries: the path works on the batch scaled by
    # a power of two, so tiny and huge matrices give the explicit path's SVD.
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(73)
    A0 = sp.random(200, 300, density=0.05, random_state=rng, format="csr") * scale
    st, ref = _pair(A0, 8)
    for _ in range(4):
        E = (sp.random(30, 300, density=0.05, random_state=rng, format="csr") * scale).tocsr()
        st.add_rows(E)
        ref.add_rows(E, strategy="dense")
    assert [r.method for r in st.history[1:]] == ["exact-extended"] * 4
    np.testing.assert_allclose(st.s, ref.s, rtol=1e-12)
    assert max(_loss(st.U), _loss(st.Vt.T)) < 1e-13
