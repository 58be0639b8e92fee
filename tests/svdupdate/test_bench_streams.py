"""The measuring helpers of the svdupdate benchmark streams (tf-idf, quality measures)."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from orthla.svdupdate._bench_cases import stream_quality, tfidf


def test_tfidf_rows_are_unit_and_match_the_formula():
    docs = ["the cat sat on the mat", "the dog sat", "a cat and a dog", "nothing shared here"]
    X = tfidf(docs, min_df=2)  # terms: the, cat, sat, dog (and, a are too short / single)
    assert X.shape == (4, 4)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms[:3], 1.0, rtol=1e-14)
    assert norms[3] == 0.0  # no kept term: an empty row, not NaN
    idf_the = np.log(5 / 3) + 1.0  # "the" in 2 of 4 documents
    idf_cat = np.log(5 / 3) + 1.0
    row0 = X[[0]].toarray().ravel()
    # document 0: "the" twice, "cat" and "sat" once
    np.testing.assert_allclose(sorted(row0[row0 > 0]),
                               sorted(np.array([2 * idf_the, idf_cat, idf_cat]) / np.sqrt(
                                   (2 * idf_the) ** 2 + 2 * idf_cat ** 2)), rtol=1e-14)


def test_stream_quality_of_optimal_and_perturbed_factors():
    A = sp.random(60, 40, density=0.2, random_state=7, format="csr")
    k = 5
    u, s, vt = svds(A, k=k, tol=0, rng=0)
    order = np.argsort(s)[::-1]
    u, s, vt = u[:, order], s[order], vt[order]
    inputs = {"A": A, "k": k, "s_ref": s}
    q = stream_quality(inputs, (u, s, vt))
    assert q["sv_rel_err"] == 0.0 and q["recon_ratio"] == pytest.approx(1.0, abs=1e-10)
    assert q["ortho_u"] < 1e-14 and q["ortho_v"] < 1e-14
    # a rotated-away subspace reconstructs worse and loses singular value accuracy
    rng = np.random.default_rng(0)
    u2 = np.linalg.qr(u + 0.1 * rng.standard_normal(u.shape))[0]
    q2 = stream_quality(inputs, (u2, s * 1.01, vt))
    assert q2["recon_ratio"] > 1.001 and q2["sv_rel_err"] == pytest.approx(0.01, rel=1e-10)
    q3 = stream_quality(inputs, (2 * u, s, vt))
    assert q3["ortho_u"] == pytest.approx(3.0, rel=1e-12)
