"""Comparison cases for ``python -m orthla bench svdupdate`` and ``benchmarks/bench_svdupdate.py``.

A stream of row batches is appended to a matrix whose initial rank-k SVD is known
(computed in the setup, not timed).  orthla updates its state batch by batch; the
anchors are what a user would do instead: recompute with ``scipy.sparse.linalg.svds``
(or ``numpy.linalg.svd``) after every batch, or a plain textbook Zha-Simon update.
IncSVD (Deng et al.'s package) is an anchor for the sparse cases when it is installed.
The error is the largest relative error of the k leading singular values of the
final matrix, against an SVD of that matrix computed once in the setup.
"""

from __future__ import annotations

import numpy as np

from .._bench import BenchCase
from ._truncated import TruncatedSVD


def _stream(m0, m, n, density, k, batch, *, sparse, method="exact"):
    def setup(xp, rng):
        import scipy.sparse as sp

        if sparse:
            # Zipf-weighted columns (term-frequency-like): a decaying spectrum, so that
            # a rank-k SVD means something (a uniform random sparse matrix has a flat one).
            S = sp.random(m, n, density=density, format="csr", random_state=rng, dtype=np.float64)
            A = (S @ sp.diags(1.0 / np.arange(1, n + 1) ** 0.7)).tocsr()
        else:
            A = rng.standard_normal((m, n)) * np.logspace(0, -3, n)
        state = TruncatedSVD.fit(A[:m0], k, rng=0)
        batches = [A[lo:lo + batch] for lo in range(m0, m, batch)]
        prefixes = [A[:lo + batch] for lo in range(m0, m, batch)]
        if sparse and m * n > 4_000_000:
            from scipy.sparse.linalg import svds

            s_ref = np.sort(svds(A, k=k, tol=0, rng=0, return_singular_vectors=False))[::-1]
        else:
            s_ref = np.linalg.svd(A.toarray() if sparse else A, compute_uv=False)[:k]
        inputs = {"state": state, "batches": batches, "prefixes": prefixes, "k": k,
                  "s_ref": s_ref, "method": method, "sparse": sparse}
        if sparse and _incsvd_installed():
            inputs["incsvd"] = _incsvd_state(A[:m0], state.n_tracked)
        return inputs

    return setup


def _run_orthla(inputs):
    st = inputs["state"].copy()
    for E in inputs["batches"]:
        st.add_rows(E, method=inputs["method"], l=10)
    return st.s


def _recompute_svds(inputs):
    from scipy.sparse.linalg import svds

    k = inputs["k"]
    for A in inputs["prefixes"]:
        s = svds(A, k=k, tol=0, rng=0, return_singular_vectors="vh")[1]
    return np.sort(s)[::-1]


def _recompute_numpy(inputs):
    for A in inputs["prefixes"]:
        s = np.linalg.svd(A, compute_uv=False)
    return s[:inputs["k"]]


def _naive_zha_simon(inputs):
    """Textbook Zha-Simon on dense blocks (numpy QR + SVD), same tracked rank as orthla."""
    st = inputs["state"]
    U, s, V = st._U, st._s, st._V
    r = s.shape[0]
    for E in inputs["batches"]:
        E = E.toarray() if inputs["sparse"] else E
        C = E @ V
        Q, R = np.linalg.qr(E.T - V @ C.T)
        p = E.shape[0]
        K = np.block([[np.diag(s), np.zeros((r, p))], [C, R.T]])
        F, s, Gt = np.linalg.svd(K, full_matrices=False)
        U = np.vstack([U @ F[:r, :r], F[r:, :r]])
        V = np.hstack([V, Q]) @ Gt[:r].T
        s = s[:r]
    return s[:inputs["k"]]


def _incsvd_installed():
    import importlib.util

    return importlib.util.find_spec("IncSVD") is not None


def _incsvd_state(A0, r):
    """IncSVD (Deng et al.'s reference code) started from ``svds`` at the same tracked rank."""
    import contextlib
    import io

    from IncSVD.EvolvingMatrix import EvolvingMatrix

    with contextlib.redirect_stdout(io.StringIO()):  # it prints its shapes
        return EvolvingMatrix(A0, r, sparse=True, method="ZhaSimon")


def _incsvd(inputs):
    """IncSVD's sparse Zha-Simon update; NaN singular values if it raises (recorded as '-')."""
    import copy

    em = copy.deepcopy(inputs["incsvd"])
    try:
        for E in inputs["batches"]:
            em.add_row(E)
    except Exception:
        return np.full(inputs["k"], np.nan)
    return np.sort(np.asarray(em.Sigmak))[::-1][:inputs["k"]]


def _sv_error(inputs, s):
    s_ref = inputs["s_ref"]
    return float(np.max(np.abs(np.asarray(s) - s_ref)) / s_ref[0])


def cases():
    out = []
    specs = [
        # (m0, m, n, density, k, batch, sparse, method, quick)
        (2000, 4000, 1000, 5e-3, 16, 200, True, "exact", True),
        (2000, 2200, 1000, 5e-3, 16, 10, True, "exact", True),
        (2000, 2500, 1000, 5e-3, 16, 50, True, "gkl", True),
        (8000, 8020, 500, 1e-2, 16, 1, True, "exact", True),
        (600, 1000, 300, None, 10, 40, False, "exact", True),
        (10000, 20000, 5000, 1e-3, 64, 1000, True, "exact", False),
        (10000, 11000, 5000, 1e-3, 64, 100, True, "exact", False),
        (10000, 10020, 5000, 1e-3, 64, 1, True, "exact", False),
    ]
    for m0, m, n, density, k, batch, sparse, method, quick in specs:
        kind = f"sparse {m}x{n} d={density:g}" if sparse else f"dense {m}x{n}"
        nb = len(range(m0, m, batch))
        anchors = {"svds per batch": _recompute_svds} if sparse else {"numpy.linalg.svd per batch": _recompute_numpy}
        anchors["naive Zha-Simon"] = _naive_zha_simon
        if sparse and _incsvd_installed():
            anchors["IncSVD (Deng et al.)"] = _incsvd
        out.append(BenchCase(
            name=f"add_rows[{method}] {kind} k={k}, {nb}x{batch} rows",
            setup=_stream(m0, m, n, density, k, batch, sparse=sparse, method=method),
            run_orthla=_run_orthla, anchors=anchors, error=_sv_error,
            error_name="max |s - s_ref| / s_1 (top k, final matrix)", quick=quick))
    return out
