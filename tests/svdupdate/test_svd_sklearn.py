"""orthla.svdupdate.IncrementalSVD: scikit-learn's estimator checks, and agreement with
scikit-learn's TruncatedSVD (ARPACK) and LAPACK, batch and streamed."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD as SkTruncatedSVD
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from orthla.svdupdate import IncrementalSVD, TruncatedSVD


def _noisy_low_rank(rng, m, n, rank, noise, dtype=np.float64):
    u, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    v, _ = np.linalg.qr(rng.standard_normal((n, rank)))
    X = (u * np.geomspace(100.0, 10.0, rank)) @ v.T + noise * rng.standard_normal((m, n))
    return X.astype(dtype)


def _projector(C):
    C = np.asarray(C, dtype=np.float64)
    return C.T @ np.linalg.solve(C @ C.T, C)


@parametrize_with_checks([IncrementalSVD(), IncrementalSVD(n_components=1, oversample=0,
                                                            update_method="gkl")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_sklearn_partial_fit_check():
    # scikit-learn runs this check for classifiers, regressors and clusterers only.
    from sklearn.utils.estimator_checks import check_estimators_partial_fit_n_features

    check_estimators_partial_fit_n_features("IncrementalSVD", IncrementalSVD())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
def test_fit_matches_sklearn_arpack_and_lapack(dtype, sparse):
    rng = np.random.default_rng(0)
    X = _noisy_low_rank(rng, 60, 25, 6, 0.1, dtype)
    Xin = sp.csr_array(X) if sparse else X
    k = 4
    est = IncrementalSVD(k, random_state=0).fit(Xin)
    ref = SkTruncatedSVD(k, algorithm="arpack", random_state=0).fit(Xin)
    _, s_ref, vt_ref = np.linalg.svd(X.astype(np.float64), full_matrices=False)
    eps = np.finfo(dtype).eps
    tol = 50 * max(X.shape) * eps  # backward-stable SVD: |ds| <= eps ||X||, gaps of order 10
    assert est.components_.dtype == dtype and est.singular_values_.dtype == dtype
    np.testing.assert_allclose(est.singular_values_, s_ref[:k], rtol=0, atol=tol * s_ref[0])
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_, rtol=0,
                               atol=tol * s_ref[0])
    # Subspaces: sin(theta) <= eps ||X|| / gap (gap s_4 - s_5 well above the noise).
    gap = s_ref[k - 1] - s_ref[k]
    P = _projector(est.components_)
    np.testing.assert_allclose(P, vt_ref[:k].T @ vt_ref[:k], rtol=0, atol=tol * s_ref[0] / gap)
    np.testing.assert_allclose(P, _projector(ref.components_), rtol=0,
                               atol=tol * s_ref[0] / gap)
    # Same sign convention as scikit-learn: coordinates agree, not only up to sign.
    np.testing.assert_allclose(est.components_, ref.components_, rtol=0,
                               atol=tol * s_ref[0] / gap)
    np.testing.assert_allclose(est.transform(Xin), ref.transform(Xin), rtol=0,
                               atol=tol * s_ref[0] ** 2 / gap)
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=100 * eps * s_ref[0] / gap)
    np.testing.assert_allclose(est.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=100 * eps * s_ref[0] / gap)
    Xt = IncrementalSVD(k, random_state=0).fit_transform(Xin)
    np.testing.assert_allclose(Xt, ref.transform(Xin), rtol=0, atol=tol * s_ref[0] ** 2 / gap)
    np.testing.assert_allclose(est.inverse_transform(Xt), Xt @ est.components_, rtol=0,
                               atol=tol * s_ref[0])


def test_stream_of_low_rank_rows_equals_batch_fit():
    # Rank 5 <= n_components + oversample: every exact update is exact (to rounding).
    rng = np.random.default_rng(1)
    X = _noisy_low_rank(rng, 200, 40, 5, 0.0)
    est = IncrementalSVD(5, random_state=0)
    for batch in np.array_split(X, 7):
        est.partial_fit(batch)
    batch_fit = IncrementalSVD(5).fit(X)
    s0 = batch_fit.singular_values_[0]
    tol = 1e3 * np.finfo(float).eps
    assert est.n_samples_seen_ == 200 and est.svd_.n_updates == 6
    np.testing.assert_allclose(est.singular_values_, batch_fit.singular_values_, rtol=0,
                               atol=tol * s0)
    np.testing.assert_allclose(est.components_, batch_fit.components_, rtol=0, atol=tol)
    np.testing.assert_allclose(est.explained_variance_, batch_fit.explained_variance_,
                               rtol=0, atol=tol * s0**2 / 200)
    np.testing.assert_allclose(est.explained_variance_ratio_,
                               batch_fit.explained_variance_ratio_, rtol=0, atol=tol * s0)


@pytest.mark.parametrize("method", ["exact", "gkl"])
def test_stream_of_noisy_rows_within_the_truncation_bound(method):
    # Full-rank data: each update discards at most the tail beyond the r tracked components,
    # so the streamed model is within n_updates * ||s_{r+1:}(X)||_2-ish of X; by Weyl, its
    # singular values are within that of the batch ones (a generous form of the documented
    # bound: root-sum-square of the discarded singular values, accumulated).
    rng = np.random.default_rng(2)
    X = _noisy_low_rank(rng, 240, 30, 6, 0.05)
    k, over = 6, 2
    est = IncrementalSVD(k, oversample=over, update_method=method, update_rank=8,
                         random_state=0)
    batches = np.array_split(X, 8)
    for batch in batches:
        est.partial_fit(batch)
    s_ref = np.linalg.svd(X, compute_uv=False)
    bound = len(batches) * np.sqrt(np.sum(s_ref[k + over:] ** 2))
    assert np.all(np.abs(est.singular_values_ - s_ref[:k]) <= bound)
    # Subspace: the top k directions stand clear of the noise (gap ~ 10 vs noise ~ 1).
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    gap = s_ref[k - 1] - s_ref[k]
    sin = np.linalg.norm(_projector(est.components_) - vt[:k].T @ vt[:k], 2)
    assert sin <= 2 * bound / gap
    ratio = est.explained_variance_ratio_
    assert np.all(ratio >= 0) and ratio.sum() <= 1 + 1e-12


def test_sparse_stream():
    rng = np.random.default_rng(3)
    X = sp.random_array((120, 50), density=0.1, rng=rng, format="csr")
    est = IncrementalSVD(4, oversample=46, random_state=0)  # tracks every direction: exact
    est.partial_fit(X[:60]).partial_fit(X[60:])
    s_ref = np.linalg.svd(X.toarray(), compute_uv=False)
    np.testing.assert_allclose(est.singular_values_, s_ref[:4], rtol=1e-10)
    assert isinstance(est.transform(X[:3]), np.ndarray)


def test_pickle_and_continue_the_stream():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 12))
    est = IncrementalSVD(3, random_state=0).partial_fit(X[:20])
    clone = pickle.loads(pickle.dumps(est))
    est.partial_fit(X[20:])
    clone.partial_fit(X[20:])
    np.testing.assert_array_equal(est.components_, clone.components_)
    np.testing.assert_array_equal(est.singular_values_, clone.singular_values_)


def test_random_state_kinds():
    X = np.random.default_rng(5).standard_normal((30, 10))
    a = IncrementalSVD(2, algorithm="rpi", random_state=np.random.RandomState(0)).fit(X)
    b = IncrementalSVD(2, algorithm="rpi", random_state=np.random.default_rng(0)).fit(X)
    s = np.linalg.svd(X, compute_uv=False)[:2]
    for est in (a, b):
        np.testing.assert_allclose(est.singular_values_, s, rtol=1e-2)
    with pytest.raises(TypeError, match="`random_state`"):
        IncrementalSVD(random_state="seed").fit(X)


def test_errors_name_the_argument():
    X = np.random.default_rng(6).standard_normal((5, 4))
    with pytest.raises(ValueError, match=r"`n_components` = 6 .*n_samples = 5, n_features = 4"):
        IncrementalSVD(6).fit(X)
    with pytest.raises(ValueError, match="`n_components` = 5 .*first partial_fit batch"):
        IncrementalSVD(5).partial_fit(X[:3, :])
    with pytest.raises(TypeError, match="`n_components`"):
        IncrementalSVD(2.5).fit(X)
    with pytest.raises(ValueError, match="`update_method`"):
        IncrementalSVD(update_method="svd").fit(X)
    with pytest.raises(ValueError, match="`algorithm`"):
        IncrementalSVD(algorithm="arpack").fit(X)
    with pytest.raises(ValueError, match="`X`.*dim 3"):
        IncrementalSVD().fit(X[None])
    with pytest.raises(ValueError, match="X contains NaN"):
        IncrementalSVD().fit(np.where(X > 1, np.nan, X))
    with pytest.raises(TypeError, match="MaskedArray"):
        IncrementalSVD().fit(np.ma.masked_less(X, 0))
    est = IncrementalSVD()
    with pytest.raises(NotFittedError):
        est.transform(X)
    est.fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        est.partial_fit(X[:, :3])
    with pytest.raises(ValueError, match="`X` must have n_components = 2 columns"):
        est.inverse_transform(X)
    before = est.components_.copy()
    with pytest.raises(ValueError, match="X contains infinity"):
        est.partial_fit(np.full((2, 4), np.inf))
    np.testing.assert_array_equal(est.components_, before)
    assert est.n_samples_seen_ == 5


def test_truncated_svd_fit_on_an_instance_points_to_the_classmethod():
    X = np.random.default_rng(7).standard_normal((10, 6))
    svd = TruncatedSVD.fit(X, 2)
    with pytest.raises(TypeError, match=r"classmethod.*TruncatedSVD\.fit\(A, k\).*IncrementalSVD"):
        svd.fit(X)
    with pytest.raises(TypeError, match="classmethod"):
        svd.fit(X, 2)  # would have returned a new state and silently dropped `svd`
    assert type(svd).fit(X, 2).k == 2  # the classmethod itself is unchanged


def test_import_orthla_does_not_import_sklearn():
    # `import orthla` leaves scikit-learn alone; without it, the estimator says how to get it.
    code = "\n".join([
        "import sys, orthla, orthla.svdupdate",
        "assert 'sklearn' not in sys.modules",
        "sys.modules['sklearn'] = None  # as if not installed",
        "try:",
        "    orthla.svdupdate.IncrementalSVD",
        "except ImportError as exc:",
        "    assert 'pip install \"orthla[sklearn]\"' in str(exc), exc",
        "else:",
        "    raise AssertionError('no ImportError')",
        "assert orthla.svdupdate.TruncatedSVD.fit([[1.0, 2.0], [3.0, 4.0]], 1).k == 1",
    ])
    subprocess.run([sys.executable, "-c", code], check=True)
