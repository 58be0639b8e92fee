"""Contract cases for orthla.svdupdate (see ``_case.Case``).

Every case builds its :class:`~orthla.svdupdate.TruncatedSVD` inside ``call`` from the swept
arrays (``TruncatedSVD.fit(A, 3)``, or the constructor from ``U, s, V``), so the constructor
and ``fit`` meet every mutation too.  The matrices are integer-valued and of rank 3 (12 x 8,
four tracked components): rounding them (the ``int`` mutation) changes nothing, and each
update adds at most one direction, so every update is exact and is checked against
``numpy.linalg.svd`` of the updated dense matrix: the singular values, the reconstruction
and the left and right singular subspaces.
"""

import numpy as np

from orthla.svdupdate import TruncatedSVD

from ._case import Case, host

_rng = np.random.default_rng(20261212)
_G1 = _rng.integers(-3, 4, (12, 3)).astype(float)
_G2 = _rng.integers(-3, 4, (3, 8)).astype(float)
A = _G1 @ _G2  # 12 x 8, rank 3, integer entries
# Two rows: one in the row space of A, one with a new direction (rank 4 = tracked).
E_ROWS = np.vstack([np.array([[1.0, -2.0, 1.0]]) @ _G2, _rng.integers(-3, 4, (1, 8))])
# Two columns: one in the column space, one new.
E_COLS = np.hstack([_G1 @ np.array([[2.0], [0.0], [-1.0]]), _rng.integers(-3, 4, (12, 1))])
# A + D E^T: D's second column and E's second column add one direction each; the columns
# of D E^T stay in span(G1, d) and its rows in span(G2^T, e), so the rank is at most 4.
D_UPD = np.hstack([_G1 @ np.array([[1.0], [1.0], [0.0]]), _rng.integers(-2, 3, (12, 1))])
E_UPD = np.hstack([_G2.T @ np.array([[0.0], [1.0], [-1.0]]), _rng.integers(-2, 3, (8, 1))])
X_ROWS = _rng.integers(-3, 4, (2, 8)).astype(float)
IDX = np.array([1, 5])
_u, _s, _vt = np.linalg.svd(A, full_matrices=False)
U4, S4, V4 = _u[:, :4].copy(), _s[:4].copy(), _vt[:4].T.copy()
K = 3

assert np.linalg.matrix_rank(A) == 3 and np.linalg.matrix_rank(np.vstack([A, E_ROWS])) == 4


# ---------------------------------------------------------------- the reference checks

def _pow2(amax):
    return np.ldexp(1.0, int(np.frexp(amax)[1])) if amax > 0 else 1.0


def _contained(Q, Qref, tol):
    """The columns of ``Qref`` lie in the span of the orthonormal ``Q``."""
    miss = Qref - Q @ (Q.T @ Qref)
    assert np.linalg.norm(miss, 2) <= tol, f"subspace missed by {np.linalg.norm(miss, 2):.3g} > {tol:.3g}"


def _check_svd(res, M, k=K):
    """``res = (U_k, s_k, Vt_k)`` is the rank-k truncated SVD of ``M`` (numpy.linalg.svd)."""
    U, s, Vt = (np.asarray(host(x), dtype=np.float64) for x in res)
    M = np.asarray(M, dtype=np.float64)
    c = _pow2(float(np.max(np.abs(M))) if M.size else 0.0)  # exact: 2**+-500 inputs stay finite
    M, s = M / c, s / c
    u_ref, s_ref, vt_ref = np.linalg.svd(M, full_matrices=False)
    kk = min(k, len(s_ref))
    assert s.shape == (kk,) and U.shape == (M.shape[0], kk) and Vt.shape == (kk, M.shape[1])
    top = s_ref[0] if s_ref.size else 0.0
    tol = 1e-10
    np.testing.assert_allclose(s, s_ref[:kk], rtol=0, atol=tol * top)
    assert np.all(np.diff(s) <= 0) and np.all(s >= 0)
    assert np.linalg.norm(U.T @ U - np.eye(kk)) <= tol
    assert np.linalg.norm(Vt @ Vt.T - np.eye(kk)) <= tol
    tail = np.sqrt(np.sum(s_ref[kk:] ** 2))
    assert np.linalg.norm(M - (U * s) @ Vt) <= tail + tol * top
    # Subspaces: the reference directions that stand clear of the truncation (singular value
    # well above the first discarded one) lie in the computed spans, to eps ||M|| / gap.
    nxt = s_ref[kk] if kk < len(s_ref) else 0.0
    q = int(np.sum(s_ref[:kk] - nxt > 1e-6 * top))
    if q:
        gap = s_ref[q - 1] - nxt
        _contained(U, u_ref[:, :q], tol * top / gap)
        _contained(Vt.T, vt_ref[:q].T, tol * top / gap)


def _factors(st):
    return st.U, st.s, st.Vt


def _check_ctor(res, a):
    _check_svd(res, (a["U"] * a["s"]) @ a["V"].T)


def _check_fit(res, a):
    _check_svd(res, a["A"])


def _check_rows(res, a):
    _check_svd(res, np.vstack([a["A"], a["E"]]))


def _check_columns(res, a):
    _check_svd(res, np.hstack([a["A"], a["E"]]))


def _check_update(res, a):
    _check_svd(res, a["A"] + a["D"] @ a["E"].T)


def _check_copy(res, a):
    original, updated = res
    _check_svd(original, a["A"])  # the copy's update left the original alone
    _check_svd(updated, np.vstack([a["A"], a["E"]]))


def _check_remove(axis):
    def check(res, a):
        _check_svd(res, np.delete(a["A"], np.asarray(a["idx"]), axis=axis))
    return check


def _row_projector(A):
    _, s, vt = np.linalg.svd(A, full_matrices=False)
    q = int(np.sum(s > 1e-10 * s[0])) if s.size else 0
    return vt[:q].T @ vt[:q], q


def _check_transform(res, a):
    # X V_k for any orthonormal basis V_k of the row space: (X V_k)(X V_k)^T = X P X^T.
    T = np.asarray(host(res), dtype=np.float64)
    X = np.asarray(a["X"], dtype=np.float64)
    P, q = _row_projector(np.asarray(a["A"], dtype=np.float64))
    assert q == K and T.shape == (X.shape[0], K)
    c = _pow2(float(np.max(np.abs(X))) if X.size else 0.0)
    T, X = T / c, X / c
    ref = X @ P @ X.T
    np.testing.assert_allclose(T @ T.T, ref, rtol=0, atol=1e-10 * max(np.max(np.abs(X @ X.T), initial=0.0), 1e-300))


def _check_project(res, a):
    Y = np.asarray(host(res), dtype=np.float64)
    X = np.asarray(a["X"], dtype=np.float64)
    P, q = _row_projector(np.asarray(a["A"], dtype=np.float64))
    assert q == K and Y.shape == X.shape
    c = _pow2(float(np.max(np.abs(X))) if X.size else 0.0)
    np.testing.assert_allclose(Y / c, (X / c) @ P, rtol=0, atol=1e-10 * max(np.max(np.abs(X / c), initial=0.0), 1e-300))


# ---------------------------------------------------------------- the calls

def _fit(A):
    return TruncatedSVD.fit(A, K, rng=0)


def _copy(xp, A, E):
    st = _fit(A)
    other = st.copy().add_rows(E)
    return _factors(st), _factors(other)


CASES = [
    Case("TruncatedSVD", lambda xp, U, s, V: _factors(TruncatedSVD(U, s, V, K, rng=0)),
         {"U": U4, "s": S4, "V": V4}, check=_check_ctor),
    Case("TruncatedSVD.fit", lambda xp, A: _factors(_fit(A)), {"A": A}, homogeneous=True,
         check=_check_fit),
    Case("TruncatedSVD.copy", _copy, {"A": A, "E": E_ROWS}, homogeneous=True, check=_check_copy),
    Case("TruncatedSVD.transform", lambda xp, A, X: _fit(A).transform(X), {"A": A, "X": X_ROWS},
         homogeneous=True, check=_check_transform),
    Case("TruncatedSVD.project", lambda xp, A, X: _fit(A).project(X), {"A": A, "X": X_ROWS},
         homogeneous=True, check=_check_project),
    Case("TruncatedSVD.add_rows", lambda xp, A, E: _factors(_fit(A).add_rows(E)),
         {"A": A, "E": E_ROWS}, homogeneous=True, check=_check_rows),
    Case("TruncatedSVD.add_columns", lambda xp, A, E: _factors(_fit(A).add_columns(E)),
         {"A": A, "E": E_COLS}, homogeneous=True, check=_check_columns),
    Case("TruncatedSVD.update", lambda xp, A, D, E: _factors(_fit(A).update(D, E)),
         {"A": A, "D": D_UPD, "E": E_UPD}, homogeneous=True, check=_check_update),
    Case("TruncatedSVD.remove_rows", lambda xp, A, idx: _factors(_fit(A).remove_rows(idx)),
         {"A": A, "idx": IDX}, homogeneous=True, check=_check_remove(0)),
    Case("TruncatedSVD.remove_columns", lambda xp, A, idx: _factors(_fit(A).remove_columns(idx)),
         {"A": A, "idx": IDX}, homogeneous=True, check=_check_remove(1)),
    Case("TruncatedSVD.downdate_rows", lambda xp, A, idx: _factors(_fit(A).downdate_rows(idx)),
         {"A": A, "idx": IDX}, homogeneous=True, check=_check_remove(0)),
]
