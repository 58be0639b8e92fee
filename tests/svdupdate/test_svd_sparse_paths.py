"""GKL and randomized power iteration updates that keep a sparse batch sparse.

``add_rows``/``add_columns`` with ``method="gkl"``/``"rpi"`` on a sparse batch find the
``l`` directions in the batch's row space from its residual Gram matrix (the residual
``E^T - V C`` is never formed) and update the extended bases ``V = V' K_v`` in the
touched rows only.  Checked against LAPACK on matrices where ``l`` directions capture
every residual (then the update is exact), against the dense-operator GKL/RPI path on
generic sparse streams, and for orthonormal factors throughout.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import orthla.svdupdate._extended as ext
import orthla.svdupdate._truncated as mod
from orthla.svdupdate import TruncatedSVD


def _loss(X):
    return np.linalg.norm(X.T @ X - np.eye(X.shape[1]), 2)


def _template_rows(rng, T, m):
    """``m`` rows, each a random combination of two of the template rows ``T``."""
    which = rng.integers(0, T.shape[0], size=(m, 2))
    coef = rng.standard_normal((m, 2))
    return coef[:, :1] * T[which[:, 0]] + coef[:, 1:] * T[which[:, 1]]


@pytest.mark.parametrize("method", ["gkl", "rpi"])
def test_low_rank_residuals_are_captured_exactly(method, monkeypatch):
    # Every batch of 24 rows adds at most 4 new template directions (the l = 6 directions
    # span the whole residual), so the updated SVD is the exact SVD of the final matrix.
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(3)
    n, k = 500, 24
    T = sp.random(24, n, density=0.05, random_state=rng).toarray()
    # block j combines templates 0 .. 8 + 4 j: at most 4 new directions per batch
    A = np.vstack([_template_rows(rng, T[:8 + 4 * j], 24 if j else 60) for j in range(5)])
    assert np.linalg.matrix_rank(A) <= 24
    st = TruncatedSVD.fit(sp.csr_array(A[:60]), k, oversample=4, rng=rng)
    for lo in range(60, A.shape[0], 24):
        st.add_rows(sp.csr_array(A[lo:lo + 24]), method=method, l=6, t=1)
        assert st.history[-1].method == f"{method}-extended"
        assert st.history[-1].path == "sparse"
    s_ref = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(st.s, s_ref[:k], rtol=1e-10, atol=1e-12 * s_ref[0])
    U, Vt = st.U, st.Vt
    assert _loss(U) < 1e-12 and _loss(Vt.T) < 1e-12
    np.testing.assert_allclose(U @ np.diag(st.s) @ Vt, A, atol=1e-10 * s_ref[0])


def _zipf_stream(seed, m0=400, m=700, n=800, density=0.01):
    rng = np.random.default_rng(seed)
    S = sp.random(m, n, density=density, format="csr", random_state=rng)
    return (S @ sp.diags_array(1.0 / np.arange(1, n + 1) ** 0.7)).tocsr(), m0


@pytest.mark.parametrize("method", ["gkl", "rpi"])
def test_sparse_and_dense_operators_agree_in_accuracy(method, monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    A, m0 = _zipf_stream(5)
    k = 16
    fast = TruncatedSVD.fit(A[:m0], k, rng=0)
    slow = fast.copy()
    for lo in range(m0, A.shape[0], 30):
        E = A[lo:lo + 30]
        fast.add_rows(E, method=method, l=8)
        slow.add_rows(E, method=method, l=8, strategy="dense")
        assert fast.history[-1].path == "sparse" and slow.history[-1].path == "dense"
        assert fast.history[-1].method == f"{method}-extended"
    s_ref = np.linalg.svd(A.toarray(), compute_uv=False)[:k]
    err_fast = np.max(np.abs(fast.s - s_ref) / s_ref)
    err_slow = np.max(np.abs(slow.s - s_ref) / s_ref)
    # different random draws: the same accuracy class, not the same digits
    assert err_fast <= 2.0 * err_slow + 1e-10
    Ad = A.toarray()
    rec_fast = np.linalg.norm(Ad - fast.U @ np.diag(fast.s) @ fast.Vt)
    rec_slow = np.linalg.norm(Ad - slow.U @ np.diag(slow.s) @ slow.Vt)
    assert rec_fast <= 1.05 * rec_slow
    assert _loss(fast.U) < 1e-12 and _loss(fast.Vt.T) < 1e-12


def test_rows_nearly_inside_the_row_space_are_formed_explicitly(monkeypatch):
    # Rows that lie in range(V) but for a small part give Ritz directions with little of
    # their energy outside range(V): the Gram matrix cannot resolve them, they go
    # through the explicit weak basis, and the factors stay orthonormal.
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    weak = []
    weak_basis = ext._weak_basis

    def spy(*args):
        out = weak_basis(*args)
        weak.append(out[0].shape[1])
        return out

    monkeypatch.setattr(ext, "_weak_basis", spy)
    rng = np.random.default_rng(8)
    n, k = 300, 10
    A0 = sp.random(200, n, density=0.05, random_state=rng, format="csr")
    st = TruncatedSVD.fit(A0, k, rng=0)
    rows = [A0.toarray()]
    for _ in range(4):
        V = st._V
        E = sp.random(12, n, density=0.02, random_state=rng).toarray()
        E[:6] = (rng.standard_normal((6, 3)) @ V[:, :3].T) + 1e-3 * E[:6]
        st.add_rows(sp.csr_array(E), method="gkl", l=11)
        rows.append(E)
        assert st.history[-1].method == "gkl-extended"
    assert sum(weak) > 0
    A = np.vstack(rows)
    assert _loss(st.U) < 1e-12 and _loss(st.Vt.T) < 1e-12
    # l = 11 of 12 rows: close to the exact update
    exact = TruncatedSVD.fit(A0, k, rng=0)
    for E in rows[1:]:
        exact.add_rows(sp.csr_array(E))
    s_ref = np.linalg.svd(A, compute_uv=False)[:k]
    assert np.max(np.abs(st.s - s_ref) / s_ref) <= 2 * np.max(np.abs(exact.s - s_ref) / s_ref) + 1e-3


@pytest.mark.parametrize("method", ["gkl", "rpi"])
def test_graph_growth_by_row_and_column_blocks(method, monkeypatch):
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    monkeypatch.setattr(mod, "U_EXTENDED_MIN_WORK", 0)
    rng = np.random.default_rng(11)
    N, j0, b = 420, 300, 20
    B = sp.random(N, N, density=0.02, random_state=rng, format="csr")
    A = (B + B.T).tocsr()
    st = TruncatedSVD.fit(A[:j0, :j0], 12, rng=0)
    for j in range(j0, N, b):
        st.add_rows(A[j:j + b, :j], method=method, l=8)
        st.add_columns(A[:j + b, j:j + b].tocsc(), method=method, l=8)
    assert {h.method for h in st.history[1:]} == {f"{method}-extended"}
    assert _loss(st.U) < 1e-12 and _loss(st.Vt.T) < 1e-12
    ref = TruncatedSVD.fit(A[:j0, :j0], 12, rng=0)
    for j in range(j0, N, b):
        ref.add_rows(A[j:j + b, :j], method=method, l=8, strategy="dense")
        ref.add_columns(A[:j + b, j:j + b].tocsc(), method=method, l=8, strategy="dense")
    s_ref = np.linalg.svd(A.toarray(), compute_uv=False)[:12]
    err = np.max(np.abs(st.s - s_ref) / s_ref)
    err_dense = np.max(np.abs(ref.s - s_ref) / s_ref)
    assert err <= 2.0 * err_dense + 1e-10


def test_forced_sparse_strategy_and_float32(monkeypatch):
    A, m0 = _zipf_stream(9, m0=300, m=400, n=500)
    st = TruncatedSVD.fit(A[:m0].toarray().astype(np.float32), 8, rng=0)  # a float32 state
    for lo in range(m0, A.shape[0], 25):
        st.add_rows(A[lo:lo + 25].astype(np.float32), method="rpi", l=6, t=2, strategy="sparse")
        assert st.history[-1].method == "rpi-extended"
    assert st.s.dtype == np.float32 and st.U.dtype == np.float32
    assert _loss(st.U.astype(np.float64)) < 1e-5 and _loss(st.Vt.T.astype(np.float64)) < 1e-5
    s_ref = np.linalg.svd(A.toarray(), compute_uv=False)[:8]
    assert np.max(np.abs(st.s - s_ref) / s_ref) < 0.1
