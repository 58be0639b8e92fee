"""Contract cases for the scikit-learn estimator orthla.svdupdate.IncrementalSVD.

The estimator is public only where scikit-learn is installed, so are its cases.  It follows
scikit-learn's input conventions: NumPy, lists and SciPy sparse only (``backends=("numpy",)``;
scikit-learn converts other libraries itself), and boolean and numeric object arrays are
valid input converted to float64 (``accepts``; scikit-learn's ``check_dtype_object`` requires
object arrays to work).  Every method's argument is called ``X``, which the messages name.
The matrices are integer-valued and of rank 3 (12 x 8), so the exact SVD, the exact update and
the rounding of the ``int`` mutation leave the reference unchanged.
"""

import importlib.util

import numpy as np

from ._case import Case, host

_rng = np.random.default_rng(20261207)
_G1 = _rng.integers(-3, 4, (12, 3)).astype(float)
_G2 = _rng.integers(-3, 4, (3, 8)).astype(float)
A = _G1 @ _G2  # 12 x 8, rank 3
E_ROWS = np.array([[1.0, -2.0, 1.0], [2.0, 0.0, -1.0]]) @ _G2  # new rows inside A's row space
X_ROWS = _rng.integers(-3, 4, (2, 8)).astype(float)
K = 3
ACCEPTS = frozenset({"bool", "object"})
assert np.linalg.matrix_rank(A) == K


def _pow2(amax):
    return np.ldexp(1.0, int(np.frexp(amax)[1])) if amax > 0 else 1.0


def _row_projector(M):
    M = np.asarray(M, dtype=np.float64)
    M = M / _pow2(float(np.max(np.abs(M))) if M.size else 0.0)
    _, s, vt = np.linalg.svd(M, full_matrices=False)
    return vt[:K].T @ vt[:K], s


def _check_model(components, singular_values, M):
    """``components`` (k x n, orthonormal rows) and ``singular_values`` are those of ``M``."""
    C, s = (np.asarray(host(x), dtype=np.float64) for x in (components, singular_values))
    M = np.asarray(M, dtype=np.float64)
    c = _pow2(float(np.max(np.abs(M))))
    P, s_ref = _row_projector(M)
    assert C.shape == (K, M.shape[1]) and s.shape == (K,)
    tol = 1e-10
    np.testing.assert_allclose(s / c, s_ref[:K], rtol=0, atol=tol * s_ref[0])
    np.testing.assert_allclose(C @ C.T, np.eye(K), rtol=0, atol=tol)
    np.testing.assert_allclose(C.T @ C, P, rtol=0, atol=tol)  # the same row space (gap: s_4 = 0)


def _check_fit(res, a):
    components, s, ratio = res
    _check_model(components, s, a["A"])
    assert np.all(np.isfinite(host(ratio))) and np.all(host(ratio) >= 0)


def _check_stream(res, a):
    _check_model(*res, np.vstack([np.asarray(a["A"], float), np.asarray(a["E"], float)]))


def _check_transform(res, a):
    # Coordinates in the fitted basis: (X C^T) C = X P.
    T, C = (np.asarray(host(x), dtype=np.float64) for x in res)
    X = np.asarray(a["X"], dtype=np.float64)
    P, _ = _row_projector(a["A"])
    c = _pow2(float(np.max(np.abs(X))) if X.size else 0.0)
    np.testing.assert_allclose((T / c) @ C, (X / c) @ P, rtol=0, atol=1e-10 * 8)


def _check_fit_transform(res, a):
    T, C = (np.asarray(host(x), dtype=np.float64) for x in res)
    M = np.asarray(a["A"], dtype=np.float64)
    c = _pow2(float(np.max(np.abs(M))))
    np.testing.assert_allclose((T / c) @ C, M / c, rtol=0, atol=1e-10 * np.max(np.abs(M / c)))


def _check_inverse(res, a):
    Y, C = (np.asarray(host(x), dtype=np.float64) for x in res)
    Z = np.asarray(a["Z"], dtype=np.float64)
    c = _pow2(float(np.max(np.abs(Z))) if Z.size else 0.0)
    np.testing.assert_allclose(Y / c, (Z / c) @ C, rtol=0, atol=1e-12 * 8)


def _cases():
    from orthla.svdupdate import IncrementalSVD

    def est():
        return IncrementalSVD(n_components=K, random_state=0)

    def fitted(e):
        return e.components_, e.singular_values_, e.explained_variance_ratio_

    opts = dict(backends=("numpy",), accepts=ACCEPTS)
    names = {"A": "X", "E": "X", "Z": "X"}
    Z = _rng.integers(-3, 4, (4, K)).astype(float)
    return [
        Case("IncrementalSVD", lambda xp, A: fitted(IncrementalSVD(K, oversample=1).fit(A)),
             {"A": A}, names=names, homogeneous=True, check=_check_fit, **opts),
        Case("IncrementalSVD.fit", lambda xp, A: fitted(est().fit(A)), {"A": A}, names=names,
             homogeneous=True, check=_check_fit, **opts),
        Case("IncrementalSVD.partial_fit",
             lambda xp, A, E: fitted(est().partial_fit(A).partial_fit(E))[:2],
             {"A": A, "E": E_ROWS}, names=names, homogeneous=True, check=_check_stream, **opts),
        Case("IncrementalSVD.transform",
             lambda xp, A, X: (lambda e: (e.transform(X), e.components_))(est().fit(A)),
             {"A": A, "X": X_ROWS}, names=names, homogeneous=True, check=_check_transform,
             **opts),
        Case("IncrementalSVD.fit_transform",
             lambda xp, A: (lambda e: (e.fit_transform(A), e.components_))(est()),
             {"A": A}, names=names, homogeneous=True, check=_check_fit_transform, **opts),
        Case("IncrementalSVD.inverse_transform",
             lambda xp, A, Z: (lambda e: (e.inverse_transform(Z), e.components_))(est().fit(A)),
             {"A": A, "Z": Z}, names=names, homogeneous=True, check=_check_inverse, **opts),
    ]


CASES = _cases() if importlib.util.find_spec("sklearn") is not None else []
