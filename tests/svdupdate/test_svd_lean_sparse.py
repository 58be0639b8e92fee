"""Small sparse batches on the dense path run the lean path, densified (issue 17).

The planner's dense path forms the ``n x p`` residual anyway; for a batch of at most
``LEAN_SPARSE_MAX_BATCH`` rows (columns) for which it would not try the Gram-matrix
residual, the batch is densified once and appended by the lean NumPy path.  Checked
against LAPACK on an exact model, against the general path on a truncated graph stream,
with the kept matrix (a recompute must still see every batch, as copied on entry) and
with the explicit ``strategy="sparse"``, which is never densified.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import orthla.svdupdate._truncated as mod
from orthla.svdupdate import TruncatedSVD


def _count_lean(monkeypatch):
    """Record each call of the lean path: (type of the batch, whether it appended)."""
    calls = []
    lean = mod._append_lean

    def spy(self, E, strategy, **kw):
        done = lean(self, E, strategy, **kw)
        calls.append((type(E), done is not None))
        return done

    monkeypatch.setattr(mod, "_append_lean", spy)
    return calls


def _exact_model_rows(rng, rows, empty=()):
    """``rows`` x 90 rows of rank 16 whose first 16 rows have rank 4 (rows ``empty`` zero)."""
    T = sp.random(16, 90, density=0.1, random_state=rng).toarray()
    coef = np.zeros((rows, 16))
    coef[12:16, :4] = rng.standard_normal((4, 4))
    coef[16:] = rng.standard_normal((rows - 16, 16))
    coef[list(empty)] = 0.0
    return coef @ T


def _loss(X):
    return np.linalg.norm(X.T @ X - np.eye(X.shape[1]), 2)


@pytest.mark.parametrize("p", [1, 3, 12])
def test_small_sparse_rows_match_lapack_on_an_exact_model(p, monkeypatch):
    # Rank 16 in all, rank 4 in the first 16 rows (tracked at k = 16, the rest zero): no
    # update truncates anything, so the state is the SVD of the stacked matrix.  Batches
    # in the span already (zero residual) go to the general path.
    A = sp.csr_array(_exact_model_rows(np.random.default_rng(71), 40))
    calls = _count_lean(monkeypatch)
    st = TruncatedSVD.fit(A[:16], 16, oversample=0)
    batches = [A[lo:lo + p] for lo in range(16, 40, p)]
    copies = [(b.data.copy(), b.indices.copy(), b.indptr.copy()) for b in batches]
    for b in batches:
        st.add_rows(b)
    assert len(calls) == len(batches) and all(t is np.ndarray for t, _ in calls)
    assert any(done for _, done in calls)
    assert all(h.path == "dense" and h.method == "exact" for h in st.history[1:])
    full = A.toarray()
    s_ref = np.linalg.svd(full, compute_uv=False)
    np.testing.assert_allclose(st.s, s_ref[:16], rtol=0, atol=1e-13 * s_ref[0])
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, full, rtol=0, atol=1e-13 * s_ref[0])
    assert max(_loss(st.U), _loss(st.Vt.T)) < 1e-13
    for b, (d, i, ptr) in zip(batches, copies, strict=True):  # inputs unchanged
        assert np.array_equal(b.data, d) and np.array_equal(b.indices, i)
        assert np.array_equal(b.indptr, ptr)


def _graph(n, rng):
    A = sp.random(n, n, density=0.03, random_state=rng, format="csr")
    A = ((A + A.T) > 0).astype(np.float64)
    return sp.csr_array(A)


def test_graph_grown_node_by_node_equals_the_general_path(monkeypatch):
    rng = np.random.default_rng(72)
    A = _graph(260, rng)
    j0 = 230

    def run():
        st = TruncatedSVD.fit(A[:j0, :j0], 12, keep_matrix=True, rng=0)
        for j in range(j0, A.shape[0]):
            st.add_rows(A[[j], :j])
            st.add_columns(A[:j + 1, [j]].tocsc())
        return st

    calls = _count_lean(monkeypatch)
    lean = run()
    assert len(calls) == 2 * (A.shape[0] - j0) and all(done for _, done in calls)
    monkeypatch.setattr(mod, "LEAN_SPARSE_MAX_BATCH", 0)
    calls.clear()
    general = run()
    assert not calls
    s1 = general.s[0]
    np.testing.assert_allclose(lean.s, general.s, rtol=0, atol=1e-12 * s1)
    np.testing.assert_allclose((lean.U * lean.s) @ lean.Vt, (general.U * general.s) @ general.Vt,
                               rtol=0, atol=1e-12 * s1)
    assert max(_loss(lean.U), _loss(lean.Vt.T)) < 1e-13
    assert [h.path for h in lean.history] == [h.path for h in general.history]
    assert lean.history[-1].shape == general.history[-1].shape == A.shape
    # the kept matrix saw every batch: a recompute gives LAPACK's top singular values
    np.testing.assert_array_equal(lean._kept.matrix().toarray(), A.toarray())
    lean.add_rows(np.zeros((1, A.shape[1])), strategy="recompute")
    s_ref = np.linalg.svd(np.vstack([A.toarray(), np.zeros((1, A.shape[1]))]), compute_uv=False)
    np.testing.assert_allclose(lean.s[:12], s_ref[:12], rtol=1e-10)


def test_kept_blocks_are_private_copies():
    rng = np.random.default_rng(73)
    A = sp.random(50, 40, density=0.2, random_state=rng, format="csr")
    st = TruncatedSVD.fit(A[:30], 5, keep_matrix=True, rng=0, decay=0.5)
    E, D = A[30:33].copy(), sp.csc_array(A[:33, :2])
    st.add_rows(E)
    st.add_columns(D)
    expected = np.hstack([np.vstack([0.5 * A[:30].toarray(), A[30:33].toarray()]) * 0.5,
                          A[:33, :2].toarray()])
    E.data[:] = np.nan  # the caller reuses their buffers
    D.data[:] = np.nan
    np.testing.assert_allclose(st._kept.matrix().toarray(), expected, rtol=1e-15, atol=0)


def test_explicit_sparse_strategy_is_never_densified(monkeypatch):
    rng = np.random.default_rng(74)
    A = sp.random(60, 50, density=0.2, random_state=rng, format="csr")
    calls = _count_lean(monkeypatch)
    st = TruncatedSVD.fit(A[:40], 5, rng=0)
    st.add_rows(A[40:43], strategy="sparse")
    assert not calls and st.history[-1].path == "sparse"
    st.add_rows(A[43:46], strategy="dense")  # the dense path asked for: densified
    assert calls == [(np.ndarray, True)] and st.history[-1].path == "dense"


def test_bad_sparse_batch_still_refused(monkeypatch):
    calls = _count_lean(monkeypatch)
    rng = np.random.default_rng(75)
    A = sp.random(40, 30, density=0.2, random_state=rng, format="csr")
    st = TruncatedSVD.fit(A[:30], 4, rng=0)
    ref = st.copy()
    bad = A[30:32].copy()
    bad.data[0] = np.inf
    with pytest.raises(ValueError, match="E"):
        st.add_rows(bad)
    with pytest.raises(ValueError, match="columns"):
        st.add_rows(A[30:32, :20])
    assert not calls
    np.testing.assert_array_equal(st.s, ref.s)
    assert len(st.history) == len(ref.history)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [1, 4])
def test_dense_rows_equal_toarray(transposed, fmt, dtype, p):
    # The batch's p rows (of X, or of X^T), built from raw arrays so that duplicates (to
    # be summed) and unsorted indices survive; one row is empty when p > 1.
    n = 9
    major = p if (fmt == "csr") != transposed else n  # length of the compressed axis
    entries = [(0, 5, 1.5), (0, 2, -2.0), (p - 1, 5, 3.0), (0, 5, 0.25), (p - 1, 0, 1e-300),
               (0, 7, 4.0)]
    if major == n:  # compressed along the n side: swap the coordinates
        entries = [(j, i, v) for i, j, v in entries]
    entries.sort(key=lambda e: e[0])  # grouped by major index, minor order as listed
    indptr = np.searchsorted([e[0] for e in entries], np.arange(major + 1))
    make = sp.csr_array if fmt == "csr" else sp.csc_array
    shape = (n, p) if transposed else (p, n)
    X = make((np.array([e[2] for e in entries], dtype=dtype),
              np.array([e[1] for e in entries]), indptr), shape=shape)
    assert not X.has_canonical_format
    got = mod._dense_rows(X, transposed)
    ref = X.toarray().T if transposed else X.toarray()
    assert got.shape == ref.shape == (p, n) and got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("columns", [False, True])
def test_empty_rows_become_zero_rows_of_the_factor(columns, monkeypatch):
    # Batches of 4 sparse rows (columns), some of them empty: the others take the lean
    # path, the empty ones become zero rows of U (V); an all-empty batch takes the
    # general path.  Exact model (rank 16 in all, 4 in the first 16 rows, k = 16).
    A = sp.csr_array(_exact_model_rows(np.random.default_rng(76), 44,
                                       empty=[17, 22, 23, 28, 29, 30, 31, 33]))
    A.eliminate_zeros()

    def run():
        if columns:
            st = TruncatedSVD.fit(A[:16].T, 16, oversample=0)
            for lo in range(16, 44, 4):
                st.add_columns(sp.csc_array(A[lo:lo + 4].T))
        else:
            st = TruncatedSVD.fit(A[:16], 16, oversample=0)
            for lo in range(16, 44, 4):
                st.add_rows(A[lo:lo + 4])
        return st

    calls = _count_lean(monkeypatch)
    st = run()
    # (the all-empty batch never reaches the lean path; batches in the span already do,
    # and hand over to the general path)
    assert [done for _, done in calls] == [True, True, True, True, False, False]
    assert [h.residual_rank for h in st.history[1:]] == [3, 2, 4, 0, 3, 0, 0]
    full = A.toarray().T if columns else A.toarray()
    s_ref = np.linalg.svd(full, compute_uv=False)
    np.testing.assert_allclose(st.s, s_ref[:16], rtol=0, atol=1e-13 * s_ref[0])
    np.testing.assert_allclose((st.U * st.s) @ st.Vt, full, rtol=0, atol=1e-13 * s_ref[0])
    assert max(_loss(st.U), _loss(st.Vt.T)) < 1e-13
    zero = st.Vt.T if columns else st.U
    assert not zero[[17, 22, 23, 28, 29, 30, 31, 33]].any()
    monkeypatch.setattr(mod, "LEAN_SPARSE_MAX_BATCH", 0)
    general = run()
    np.testing.assert_allclose(st.s, general.s, rtol=0, atol=1e-13 * s_ref[0])
    assert [h.residual_rank for h in general.history] == [h.residual_rank for h in st.history]
