"""Update strategies: sparse path, dense Zha-Simon path, recompute, and the automatic choice."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from orthla._testing import to_host
from orthla.svdupdate import TruncatedSVD, _dispatch
from orthla.svdupdate._kept import KeptMatrix

EPS = np.finfo(np.float64).eps


def _sparse_factors(rng, m, n, rank, density=0.15):
    """Sparse ``L`` (m x rank) and ``R`` (n x rank) with no empty column: ``L R^T`` is sparse."""
    L = sp.random(m, rank, density=density, random_state=rng, format="csr") + sp.eye(m, rank)
    R = sp.random(n, rank, density=density, random_state=rng, format="csr") + sp.eye(n, rank)
    return L.tocsr(), R.tocsr()


def _stream(seed=50):
    """A sparse matrix of rank 12 at most, grown so that every step brings new directions.

    ``full = L diag(w) R^T`` with 11 components: the first 120 rows use components 0-5,
    the appended rows add 6-9, the appended columns add 10 (rows 120+ only), and the
    sparse rank-1 term is the 12th: 12 tracked components keep every step exact.
    """
    rng = np.random.default_rng(seed)
    L, R = _sparse_factors(rng, 163, 130, 11)
    L, R = L.toarray(), R.toarray()
    L[:120, 6:] = 0.0
    L[120:, 6:10] = 4.0 * rng.standard_normal((43, 4))  # new rows: mostly outside range(V)
    L[:120, 10] = 0.0
    R[:90, 10] = 0.0
    L[120:, 10] += 1.0
    full = sp.csr_matrix(L @ np.diag(np.linspace(5.0, 1.0, 11)) @ R.T)
    A0 = full[:120, :90]
    rows_small, rows_big = full[120:121, :90], full[121:163, :90]
    cols = full[:163, 90:130]                         # 40 sparse columns
    D = sp.random(163, 1, density=0.2, random_state=rng, format="csr")
    E = sp.random(130, 1, density=0.2, random_state=rng, format="csr")
    final = full + D @ E.T
    return A0, [("add_rows", (rows_small,)), ("add_rows", (rows_big,)), ("add_columns", (cols,)),
                ("update", (D, E))], final.toarray()


@pytest.mark.parametrize("strategy", ["auto", "sparse", "dense", "recompute"])
def test_every_strategy_gives_the_same_singular_values(strategy):
    A0, steps, final = _stream()
    s_ref = np.linalg.svd(final, compute_uv=False)
    st = TruncatedSVD.fit(A0, 8, oversample=4, keep_matrix=True, rng=0)
    for kind, blocks in steps:
        getattr(st, kind)(*blocks, strategy=strategy)
    paths = [rec.path for rec in st.history[1:]]
    if strategy == "auto":
        assert all(p in ("sparse", "dense", "recompute") for p in paths)
        assert all(isinstance(rec.predicted, _dispatch.Prediction) for rec in st.history[1:])
    else:
        assert paths == [strategy] * 4  # every batch here can be certified for the sparse path
        assert all(rec.predicted is None for rec in st.history[1:])
    if strategy == "sparse":
        # Row and column batches take the extended basis; each brings a direction that
        # displaces a zero component, so cond(K_v) is too large and the new V is formed
        # explicitly (no K_v held).  ``update`` takes the Gram path.
        assert [r.method for r in st.history[1:]] == ["exact-extended"] * 3 + ["exact-gram"]
        assert st._Kv is None
    np.testing.assert_allclose(to_host(st.s), s_ref[:8], rtol=1e-10)
    U, Vt = to_host(st.U), to_host(st.Vt)
    np.testing.assert_allclose((U * to_host(st.s)) @ Vt, _rank_k(final, 8), atol=1e-10 * s_ref[0])
    assert np.linalg.norm(U.T @ U - np.eye(8)) < 1e-12 and np.linalg.norm(Vt @ Vt.T - np.eye(8)) < 1e-12


def _rank_k(A, k):
    u, s, vt = np.linalg.svd(A, full_matrices=False)
    return (u[:, :k] * s[:k]) @ vt[:k]


def test_auto_recomputes_large_batches_and_keeps_the_state_consistent():
    rng = np.random.default_rng(51)
    A = sp.random(900, 120, density=0.02, random_state=rng, format="csr")
    A = (A @ sp.diags(1.0 / np.arange(1, 121))).tocsr()   # decaying spectrum
    st = TruncatedSVD.fit(A[:100], 6, keep_matrix=True, decay=0.9, rng=1)  # tracks 6 + 2
    st.add_rows(A[100:102])                           # small batch: an update
    assert st.history[-1].path in ("sparse", "dense")
    pred = st.history[-1].predicted
    assert pred.recompute > min(x for x in (pred.sparse, pred.dense) if not math.isnan(x))
    st.add_rows(A[102:900])                           # 798 rows against 102: recompute
    rec = st.history[-1]
    assert rec.path == "recompute" and rec.method == "svds" and rec.kind == "add_rows"
    assert rec.predicted.recompute < rec.predicted.dense
    # the recompute is the rank-8 SVD of the true decayed matrix, oversampling kept
    true = np.vstack([0.81 * A[:100].toarray(), 0.9 * A[100:102].toarray(), A[102:900].toarray()])
    assert st.n_tracked == 8 and st.shape == (900, 120) and st.n_updates == 2
    np.testing.assert_allclose(st.s, np.linalg.svd(true, compute_uv=False)[:6], rtol=1e-10)
    assert math.isfinite(rec.ortho_u) and rec.ortho_u < 1e-13 and rec.ortho_v < 1e-13
    # and updating goes on from the recomputed state (explicit factors, no stale extension)
    st.add_rows(A[:3], strategy="dense")
    true = np.vstack([0.9 * true, A[:3].toarray()])
    np.testing.assert_allclose(st.s[:3], np.linalg.svd(true, compute_uv=False)[:3], rtol=1e-6)


def test_without_kept_matrix_auto_never_recomputes():
    rng = np.random.default_rng(52)
    A = sp.random(400, 60, density=0.05, random_state=rng, format="csr")
    st = TruncatedSVD.fit(A[:50], 5, rng=0).add_rows(A[50:])
    assert st.history[-1].path != "recompute" and math.isnan(st.history[-1].predicted.recompute)
    assert st._kept is None


def test_recompute_after_columns_updates_and_removals_matches_lapack(xp):
    rng = np.random.default_rng(53)
    A = rng.standard_normal((30, 20)) * np.logspace(0, -2, 20)
    A_user = xp.asarray(A, copy=True)
    st = TruncatedSVD.fit(A_user, 4, keep_matrix=True, decay=0.5)
    A_user[0, 0] = 1e3  # the caller's array changes after fit: the kept copy must not
    B = rng.standard_normal((30, 3))
    D, E = rng.standard_normal((30, 2)), rng.standard_normal((23, 2))
    A0 = A
    st.add_columns(xp.asarray(B))
    st.update(xp.asarray(D), xp.asarray(E))
    st.remove_rows([3, 7])
    st.remove_columns([0])
    row = rng.standard_normal((1, 22))
    st.add_rows(xp.asarray(row), strategy="recompute")
    true = np.hstack([0.5 * A0, B])
    true = 0.5 * true + D @ E.T
    true = np.delete(np.delete(true, [3, 7], axis=0), [0], axis=1)
    true = np.vstack([0.5 * true, row])
    kept = np.asarray(to_host(st._kept.matrix()))
    np.testing.assert_allclose(kept, true, rtol=1e-13, atol=1e-13)
    assert st.history[-1].path == "recompute" and st.history[-1].method == "lapack"
    assert [r.path for r in st.history[3:5]] == ["downdate", "downdate"]
    np.testing.assert_allclose(to_host(st.s), np.linalg.svd(true, compute_uv=False)[:4], rtol=1e-12)


def test_strategy_errors_leave_the_state_unchanged():
    rng = np.random.default_rng(54)
    A = sp.random(50, 30, density=0.1, random_state=rng, format="csr")
    st = TruncatedSVD.fit(A, 3, rng=0)
    with pytest.raises(ValueError, match="`strategy` must be one of"):
        st.add_rows(A[:2], strategy="fast")
    with pytest.raises(ValueError, match=r"`strategy='recompute'` needs the matrix itself.*keep_matrix=True"):
        st.add_rows(A[:2], strategy="recompute")
    with pytest.raises(ValueError, match="`strategy='sparse'` needs a SciPy sparse update block.*ndarray"):
        st.add_rows(A[:2].toarray(), strategy="sparse")
    # GKL/RPI run on the sparse path for appends only (not for a low-rank term)
    D, E = (sp.random(m, 6, density=0.3, random_state=rng, format="csr") for m in (50, 30))
    with pytest.raises(ValueError, match="`strategy='sparse'` runs `method='gkl'`/`'rpi'` only for"):
        st.update(D, E, method="gkl", l=2, strategy="sparse")
    with pytest.raises(TypeError, match="`keep_matrix` must be True or False; got 1"):
        TruncatedSVD.fit(A, 3, keep_matrix=1)
    kept = TruncatedSVD.fit(A, 3, keep_matrix=True, rng=0)
    bad = A[:2].copy()
    bad.data[0] = np.inf
    with pytest.raises(ValueError, match="`E` must contain only finite values"):
        kept.add_rows(bad, strategy="recompute")
    assert st.n_updates == kept.n_updates == 0 and kept._kept.shape == (50, 30)


def test_failed_recompute_keeps_previous_matrix_and_svd(monkeypatch):
    import orthla.svdupdate._truncated as mod

    rng = np.random.default_rng(55)
    A = sp.random(80, 40, density=0.1, random_state=rng, format="csr")
    st = TruncatedSVD.fit(A, 4, keep_matrix=True, rng=0)
    s0 = st.s

    def boom(*args, **kwargs):
        raise RuntimeError("ARPACK failed")

    monkeypatch.setattr(mod, "_svds", boom)
    with pytest.raises(RuntimeError, match="ARPACK"):
        st.add_rows(A[:5], strategy="recompute")
    monkeypatch.undo()
    assert st._kept.shape == (80, 40) and st.shape == (80, 40) and st.n_updates == 0
    np.testing.assert_array_equal(st.s, s0)


def test_kept_matrix_folds_a_vanishing_scale_and_copies_independently():
    A = sp.csr_array(np.arange(12.0).reshape(4, 3))
    k = KeptMatrix.of(A, None)
    for _ in range(40):
        k = k.with_rows(sp.csr_array(np.ones((1, 3))), 1e-5)
    assert k.scale >= 1e-150 and k.shape == (44, 3)
    M = k.matrix().toarray()
    assert M[-1, 0] == 1.0 and M[-2, 0] == pytest.approx(1e-5, rel=1e-13)
    assert M[0, 1] == pytest.approx(1e-200, rel=1e-12)  # 40 decays of 1e-5, scale folded in
    c = k.copy()
    c2 = c.with_rows(sp.csr_array(np.ones((2, 3))), 1.0)
    assert k.shape == (44, 3) and c.shape == (44, 3) and c2.shape == (46, 3)


def test_cost_model_orders_paths_as_measured():
    # Issue-sized stream (20000 x 5000, nnz 1e-3, r = 80): 1000-row batches are cheaper
    # to recompute, 100-row batches and single rows are not (measured crossover).
    n, r = 5000, 80
    nnz_A = 20_000 * n // 1000
    for p, recompute_wins in ((1000, True), (100, False), (1, False)):
        nnz = p * n // 1000
        update = min(_dispatch.append_dense(n, p, r, nnz), _dispatch.append_gram(n, p, r, nnz))
        assert (_dispatch.recompute(20_000, n, r, nnz_A) < update) is recompute_wins
    assert _dispatch.append_extended(5, 1, r, 5) < _dispatch.append_dense(n, 1, r, 5)
    pick = _dispatch.choose("auto", _dispatch.Prediction(math.nan, 2.0, 1.0))
    assert pick == "recompute"
    assert _dispatch.choose("auto", _dispatch.Prediction(0.5, 2.0, 1.0)) == "sparse"
    assert _dispatch.choose("auto", _dispatch.Prediction(math.nan, 2.0, math.nan)) == "dense"
    assert _dispatch.choose("dense", _dispatch.Prediction(0.5, 2.0, 1.0)) == "dense"


@pytest.mark.parametrize("sparse", [True, False])
def test_kept_matrix_replays_row_and_column_appends_in_order(sparse):
    import array_api_compat.numpy as xp

    rng = np.random.default_rng(56)
    A = rng.standard_normal((4, 3))
    blocks = [(0, rng.standard_normal((2, 3))), (0, rng.standard_normal((1, 3))),
              (1, rng.standard_normal((7, 2))), (0, rng.standard_normal((1, 5))),
              (1, rng.standard_normal((8, 1)))]
    wrap = (lambda X: sp.csc_array(X) if X.shape[1] == 1 else sp.csr_array(X)) if sparse else (
        lambda X: X)
    k = KeptMatrix.of(wrap(A), xp)
    true = A
    for axis, B in blocks:
        k = (k.with_rows if axis == 0 else k.with_columns)(wrap(B), 0.5)
        true = np.vstack([0.5 * true, B]) if axis == 0 else np.hstack([0.5 * true, B])
        assert k.shape == true.shape
    assert k.nnz == (true.size if sparse else None)
    before = k.copy()
    M = k.matrix()
    np.testing.assert_allclose(M.toarray() if sparse else M, true, rtol=1e-15)
    np.testing.assert_allclose(before.matrix().toarray() if sparse else before.matrix(), true,
                               rtol=1e-15)


def test_recompute_starts_arpack_inside_the_current_subspace(monkeypatch):
    # The warm start is the current factor on the smaller side, weighted by s, with
    # zeros on the new rows/columns; the result is the same truncated SVD.
    import orthla.svdupdate._truncated as mod

    rng = np.random.default_rng(56)
    A = sp.random(300, 120, density=0.05, random_state=rng, format="csr")
    seen = []
    svds = mod._svds

    def spy(xp, M, r, gen, v0=None):
        seen.append(v0)
        return svds(xp, M, r, gen, v0=v0)

    for extra, kind in ((A[:10], "add_rows"), (sp.random(300, 200, density=0.05, random_state=rng,
                                                          format="csc"), "add_columns")):
        st = TruncatedSVD.fit(A, 6, keep_matrix=True, rng=0)
        monkeypatch.setattr(mod, "_svds", spy)
        getattr(st, kind)(extra, strategy="recompute")
        monkeypatch.undo()
        m, n = st.shape
        v0 = seen[-1]
        before = TruncatedSVD.fit(A, 6, rng=0)
        if kind == "add_rows":  # 310 x 120: ARPACK works on the 120 columns, V's side
            np.testing.assert_allclose(v0, before._V @ before._s)
        else:  # 300 x 320: the 300 rows, U's side (no new rows)
            np.testing.assert_allclose(v0, before._U @ before._s)
        assert v0.shape == (min(m, n),)
        full = st._kept.matrix().toarray()
        np.testing.assert_allclose(st._s, np.linalg.svd(full, compute_uv=False)[:st.n_tracked],
                                   rtol=1e-10)


@pytest.mark.parametrize("shape", [(600, 200), (200, 600)], ids=["tall", "wide"])
@pytest.mark.parametrize("decay", [0.0, 1.5], ids=["flat", "spread"])
def test_svds_rayleigh_ritz_gives_orthonormal_exact_factors(shape, decay):
    # ARPACK on the smaller side, the other factor by Rayleigh-Ritz (with a Cholesky-QR
    # pass when the spread s_1 / s_r exceeds sqrt(10)): against LAPACK on the dense matrix.
    import orthla.svdupdate._truncated as mod

    rng = np.random.default_rng(57)
    S = sp.random(*shape, density=0.05, random_state=rng, format="csr")
    A = (S @ sp.diags(1.0 / np.arange(1, shape[1] + 1) ** decay)).tocsr()
    U, s, V = mod._svds(np, A, 12, np.random.default_rng(0))
    uu, ss, _ = np.linalg.svd(A.toarray(), full_matrices=False)
    assert (ss[0] / ss[11] > 10**0.5) == (decay > 0)
    np.testing.assert_allclose(s, ss[:12], rtol=1e-12)
    eye = np.eye(12)
    assert np.linalg.norm(U.T @ U - eye, 2) < 1e-14 and np.linalg.norm(V.T @ V - eye, 2) < 1e-14
    np.testing.assert_allclose(A @ V, U * s, rtol=0, atol=1e-13 * ss[0])
    np.testing.assert_allclose(np.abs(U.T @ uu[:, :12]), eye, atol=1e-8)
