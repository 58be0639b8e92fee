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

from .._bench import BenchCase, has_tool
from ._truncated import TruncatedSVD


def _stream(m0, m, n, density, k, batch, *, sparse, method="exact", columns=False, uniform=False):
    """Row batches of ``A`` onto ``A[:m0]``; ``columns=True``: the transposed stream
    (``A[:m0]^T`` grown by the columns ``A[lo:lo + batch]^T``, same singular values).
    ``uniform=True``: the plain uniform random sparse matrix of the issue (flat spectrum)."""
    def setup(xp, rng):
        import scipy.sparse as sp

        if sparse:
            # Zipf-weighted columns (term-frequency-like): a decaying spectrum, so that
            # a rank-k SVD means something (a uniform random sparse matrix has a flat one).
            S = sp.random(m, n, density=density, format="csr", random_state=rng, dtype=np.float64)
            A = S if uniform else (S @ sp.diags(1.0 / np.arange(1, n + 1) ** 0.7)).tocsr()
        else:
            A = rng.standard_normal((m, n)) * np.logspace(0, -3, n)
        orient = (lambda X: X.T) if columns else (lambda X: X)
        # "auto": the matrix is kept, so the dispatcher may recompute instead of updating
        state = TruncatedSVD.fit(orient(A[:m0]), k, keep_matrix=method == "auto", rng=0)
        batches = [orient(A[lo:lo + batch]) for lo in range(m0, m, batch)]
        prefixes = [orient(A[:lo + batch]) for lo in range(m0, m, batch)]
        if sparse and m * n > 4_000_000:
            from scipy.sparse.linalg import svds

            s_ref = np.sort(svds(A, k=k, tol=0, rng=0, return_singular_vectors=False))[::-1]
        else:
            s_ref = np.linalg.svd(A.toarray() if sparse else A, compute_uv=False)[:k]
        inputs = {"state": state, "batches": batches, "prefixes": prefixes, "k": k,
                  "s_ref": s_ref, "method": method, "sparse": sparse, "columns": columns}
        if sparse and not columns and _incsvd_installed():
            inputs["incsvd"] = _incsvd_state(A[:m0], state.n_tracked)
        return inputs

    return setup


def _run_orthla(inputs):
    st = inputs["state"].copy()
    append = st.add_columns if inputs["columns"] else st.add_rows
    for E in inputs["batches"]:
        append(E, method="exact" if inputs["method"] == "auto" else inputs["method"], l=10)
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
    """Textbook Zha-Simon on dense blocks (numpy QR + SVD), same tracked rank as orthla.

    Column streams run as row appends to the transposed SVD (U and V exchanged).
    """
    st = inputs["state"]
    U, s, V = (st._V, st._s, st._U) if inputs["columns"] else (st._U, st._s, st._V)
    r = s.shape[0]
    for E in inputs["batches"]:
        E = E.toarray() if inputs["sparse"] else E
        E = E.T if inputs["columns"] else E
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

    return has_tool("IncSVD", "svdupdate anchors from IncSVD (Deng et al.)")


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


#: The issue's own stream (m0, m, n, density, k, batch): uniform, not Zipf-weighted.
_ISSUE_STREAM = (10000, 20000, 5000, 1e-3, 64, 100)


def cases():
    out = []
    specs = [
        # (m0, m, n, density, k, batch, sparse, method, quick)
        (2000, 4000, 1000, 5e-3, 16, 200, True, "exact", True),
        (2000, 2200, 1000, 5e-3, 16, 10, True, "exact", True),
        (2000, 2500, 1000, 5e-3, 16, 50, True, "gkl", True),
        (8000, 8020, 500, 1e-2, 16, 1, True, "exact", True),
        (600, 1000, 300, None, 10, 40, False, "exact", True),
        (1000, 3000, 1200, 5e-3, 16, 1000, True, "auto", True),
        (10000, 20000, 5000, 1e-3, 64, 1000, True, "auto", False),
        (10000, 20000, 5000, 1e-3, 64, 1000, True, "exact", False),
        (10000, 11000, 5000, 1e-3, 64, 100, True, "exact", False),
        # the issue's stream: uniform sparse 20000 x 5000 from 10000 rows, 100 x 100 rows
        # (about 100 s of svds per round)
        (10000, 20000, 5000, 1e-3, 64, 100, True, "exact", False),
        (10000, 10020, 5000, 1e-3, 64, 1, True, "exact", False),
    ]
    for m0, m, n, density, k, batch, sparse, method, quick in specs:
        uniform = (m0, m, n, density, k, batch) == _ISSUE_STREAM
        kind = f"sparse {m}x{n} d={density:g}" if sparse else f"dense {m}x{n}"
        kind = f"uniform {kind}" if uniform else kind
        nb = len(range(m0, m, batch))
        anchors = {"svds per batch": _recompute_svds} if sparse else {"numpy.linalg.svd per batch": _recompute_numpy}
        anchors["naive Zha-Simon"] = _naive_zha_simon
        if sparse and _incsvd_installed() and batch < 1000:  # minutes for 1000-row batches
            anchors["IncSVD (Deng et al.)"] = _incsvd
        out.append(BenchCase(
            name=f"add_rows[{method}] {kind} k={k}, {nb}x{batch} rows",
            setup=_stream(m0, m, n, density, k, batch, sparse=sparse, method=method, uniform=uniform),
            run_orthla=_run_orthla, anchors=anchors, error=_sv_error,
            error_name="max |s - s_ref| / s_1 (top k, final matrix)", quick=quick))
    # The transposed single-row streams: single sparse columns onto A[:m0]^T.
    for m0, m, n, density, k, quick in [(8000, 8020, 500, 1e-2, 16, True),
                                        (10000, 10020, 5000, 1e-3, 64, False)]:
        out.append(BenchCase(
            name=f"add_columns[exact] sparse {n}x{m} d={density:g} k={k}, {m - m0}x1 columns",
            setup=_stream(m0, m, n, density, k, 1, sparse=True, columns=True),
            run_orthla=_run_orthla,
            anchors={"svds per batch": _recompute_svds, "naive Zha-Simon": _naive_zha_simon},
            error=_sv_error, error_name="max |s - s_ref| / s_1 (top k, final matrix)", quick=quick))
    return out + _stream_cases() + speed_cases()


# ---------------------------------------------------------------- realistic streams
# Barabasi-Albert graph grown node by node and a tf-idf LSI stream.  The run functions
# return (U, s, Vt) so that stream_quality() can measure more than singular values.

def _ba_graph(n_nodes, edges_per_node, seed):
    """Symmetric adjacency (CSR) of a Barabasi-Albert graph, nodes in arrival order."""
    import networkx as nx

    g = nx.barabasi_albert_graph(n_nodes, edges_per_node, seed=seed)
    return nx.to_scipy_sparse_array(g, nodelist=range(n_nodes), format="csr", dtype=np.float64)


def _graph_stream(n_nodes, n_new, k, edges_per_node=5):
    def setup(xp, rng):
        A = _ba_graph(n_nodes, edges_per_node, seed=int(rng.integers(2**31)))
        j0 = n_nodes - n_new
        steps = []
        for j in range(j0, n_nodes):
            steps.append(("rows", A[[j], :j]))                # node j's edges to earlier nodes
            steps.append(("columns", A[:j + 1, [j]].tocsc()))  # and the symmetric column
        prefixes = [A[:j + 1, :j + 1] for j in range(j0, n_nodes)]
        return _stream_inputs(A[:j0, :j0], A, steps, prefixes, k)

    return setup


_MODULES = (
    "numpy", "numpy.linalg", "numpy.fft", "numpy.random", "numpy.polynomial", "numpy.ma",
    "scipy.linalg", "scipy.sparse", "scipy.sparse.linalg", "scipy.sparse.csgraph", "scipy.stats",
    "scipy.optimize", "scipy.signal", "scipy.special", "scipy.integrate", "scipy.interpolate",
    "scipy.ndimage", "scipy.spatial", "scipy.fft", "scipy.io", "scipy.cluster.hierarchy",
    "os", "collections", "itertools", "functools", "re", "json", "math", "statistics", "string",
    "textwrap", "pathlib", "inspect", "subprocess", "shutil", "datetime", "decimal", "fractions",
    "random", "argparse", "logging", "unittest", "email", "http.client", "urllib.parse", "csv",
    "sqlite3", "threading", "asyncio", "socket", "tarfile", "zipfile", "heapq", "bisect", "enum",
    "dataclasses", "contextlib")


def docstring_corpus():
    """Docstrings (their prose before any Examples section, over 200 characters,
    deduplicated, sorted) of the public functions and classes of NumPy, SciPy and
    standard-library modules and of their classes' members: a corpus that ships with
    the installed packages (no download)."""
    import importlib
    import inspect
    import warnings

    docs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated aliases warn on attribute access
        # import every module first: importing one can add attributes to another
        modules = [importlib.import_module(modname) for modname in _MODULES]
        for mod in modules:
            for name in sorted(dir(mod)):
                if name.startswith("_"):
                    continue
                try:
                    obj = getattr(mod, name)
                except Exception:  # lazy submodules that fail to load
                    continue
                if inspect.ismodule(obj):  # which submodules are attributes depends on imports
                    continue
                members = [obj]
                if inspect.isclass(obj):
                    members += [getattr(obj, a, None) for a in sorted(vars(obj)) if not a.startswith("_")]
                for o in members:
                    doc = inspect.getdoc(o) if o is not None else None
                    # prose only: example sections may print random numbers
                    doc = doc.split("\nExamples\n--------")[0] if doc else None
                    if doc and len(doc) > 200:
                        docs.setdefault(doc, None)
    # Sorted: the encounter order depends on what was imported before.
    return sorted(docs)


def tfidf(docs, min_df=2):
    """Row-normalized tf-idf matrix (CSR, documents x terms), SciPy only.

    Terms are lower-case words of at least three letters appearing in ``min_df``
    documents or more; idf is ``log((1 + N) / (1 + df)) + 1`` (scikit-learn's smooth idf).
    """
    import re

    import scipy.sparse as sp

    word = re.compile(r"[a-z]{3,}")
    tokens = [word.findall(d.lower()) for d in docs]
    vocab = {}
    rows, cols = [], []
    for i, toks in enumerate(tokens):
        for tok in toks:
            rows.append(i)
            cols.append(vocab.setdefault(tok, len(vocab)))
    counts = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(docs), len(vocab)))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=len(vocab))
    keep = np.flatnonzero(df >= min_df)
    counts = counts[:, keep].tocsr()
    idf = np.log((1 + len(docs)) / (1 + df[keep])) + 1.0
    X = (counts @ sp.diags_array(idf)).tocsr()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return (sp.diags_array(1.0 / np.where(norms > 0, norms, 1.0)) @ X).tocsr()


def _lsi_stream(n_docs, n_start, batch, k):
    def setup(xp, rng):
        docs = docstring_corpus()
        order = rng.permutation(len(docs))[:n_docs]  # documents arrive in random order
        X = tfidf([docs[i] for i in order])
        steps = [("rows", X[lo:lo + batch]) for lo in range(n_start, n_docs, batch)]
        prefixes = [X[:lo + batch] for lo in range(n_start, n_docs, batch)]
        inputs = _stream_inputs(X[:n_start], X, steps, prefixes, k)
        if _incsvd_installed():
            import scipy.sparse as sp

            inputs["incsvd"] = _incsvd_state(sp.csr_matrix(X[:n_start]), inputs["state"].n_tracked)
        return inputs

    return setup


def _stream_inputs(A0, A, steps, prefixes, k):
    from scipy.sparse.linalg import svds

    state = TruncatedSVD.fit(A0, k, keep_matrix=True, rng=0)  # strategy="auto" may recompute
    s = svds(A, k=k, tol=0, rng=0, return_singular_vectors=False)
    order = np.argsort(s)[::-1]
    return {"state": state, "steps": steps, "prefixes": prefixes, "k": k, "A": A,
            "s_ref": s[order], "U0": state._U, "s0": state._s, "V0": state._V}


def _stream_orthla(inputs):
    st = inputs["state"].copy()
    for kind, E in inputs["steps"]:
        st.add_rows(E) if kind == "rows" else st.add_columns(E)
    return st.U, st.s, st.Vt


def _stream_svds(inputs):
    from scipy.sparse.linalg import svds

    for A in inputs["prefixes"]:
        u, s, vt = svds(A, k=inputs["k"], tol=0, rng=0)
    order = np.argsort(s)[::-1]
    return u[:, order], s[order], vt[order]


def _stream_randomized_svd(inputs):
    from sklearn.utils.extmath import randomized_svd

    for A in inputs["prefixes"]:
        out = randomized_svd(A, inputs["k"], random_state=0)
    return out


def _stream_incsvd(inputs):
    """IncSVD's sparse Zha-Simon on a row stream; NaN if it raises (recorded as such)."""
    import copy

    import scipy.sparse as sp

    em = copy.deepcopy(inputs["incsvd"])
    k = inputs["k"]
    try:
        for _, E in inputs["steps"]:
            em.add_row(sp.csr_matrix(E))  # it accepts csr_matrix only
    except Exception:
        n = inputs["A"].shape[1]
        return np.full((inputs["A"].shape[0], k), np.nan), np.full(k, np.nan), np.full((k, n), np.nan)
    s = np.asarray(em.Sigmak).ravel()
    order = np.argsort(s)[::-1][:k]
    return np.asarray(em.Uk)[:, order], s[order], np.asarray(em.Vk)[:, order].T


def _stream_naive(inputs):
    """Textbook Zha-Simon (dense residual, NumPy QR + SVD) at orthla's tracked rank."""
    U, s, V = inputs["U0"], inputs["s0"], inputs["V0"]
    for kind, E in inputs["steps"]:
        if kind == "rows":
            U, s, V = _naive_rows(U, s, V, E.toarray())
        else:
            V, s, U = _naive_rows(V, s, U, E.toarray().T)
    k = inputs["k"]
    return U[:, :k], s[:k], V[:, :k].T


def _naive_rows(U, s, V, E):
    r, p = s.shape[0], E.shape[0]
    C = E @ V
    Q, R = np.linalg.qr(E.T - V @ C.T)
    K = np.block([[np.diag(s), np.zeros((r, p))], [C, R.T]])
    F, s, Gt = np.linalg.svd(K, full_matrices=False)
    return np.vstack([U @ F[:r, :r], F[r:, :r]]), s[:r], np.hstack([V, Q]) @ Gt[:r].T


def _stream_sv_error(inputs, out):
    s_ref = inputs["s_ref"]
    return float(np.max(np.abs(np.asarray(out[1])[:s_ref.shape[0]] - s_ref) / s_ref))


def stream_quality(inputs, out):
    """The four measures of the issue for a final ``(U, s, Vt)`` of a stream.

    Returns a dict: ``sv_rel_err`` (max over the top k of ``|s_i - s_i(svds)| / s_i(svds)``),
    ``recon_ratio`` (``||A - U S V^T||_F`` over the optimal rank-k error
    ``sqrt(||A||_F^2 - sum s_i(svds)^2)``) and ``ortho_u``, ``ortho_v``
    (``||U^T U - I||_2``, ``||V^T V - I||_2``).  ``A`` is sparse; nothing dense of its size
    is formed.
    """
    A, k = inputs["A"], inputs["k"]
    U, s, Vt = (np.asarray(x) for x in out)
    U, s, Vt = U[:, :k], s[:k], Vt[:k]
    fro2 = float((A.data ** 2).sum())
    cross = float(np.sum((U.T @ (A @ Vt.T)).diagonal() * s))
    model2 = float(np.sum((U.T @ U) * (s[:, None] * (Vt @ Vt.T) * s[None, :])))
    err = np.sqrt(max(fro2 - 2 * cross + model2, 0.0))
    best = np.sqrt(max(fro2 - float(np.sum(inputs["s_ref"] ** 2)), 0.0))
    eye = np.eye(k)
    return {"sv_rel_err": _stream_sv_error(inputs, out), "recon_ratio": err / best,
            "ortho_u": float(np.linalg.norm(U.T @ U - eye, 2)),
            "ortho_v": float(np.linalg.norm(Vt @ Vt.T - eye, 2))}


def _installed(name):

    return has_tool(name, f"svdupdate stream cases and anchors that need {name}")


def _stream_cases():
    out = []
    specs = []
    if _installed("networkx"):
        specs += [("BA graph", _graph_stream, (2000, 10, 16), "10 nodes", True),
                  ("BA graph", _graph_stream, (20000, 20, 64), "20 nodes", False)]
    specs += [("LSI docstrings", _lsi_stream, (1200, 1000, 50, 16), "4x50 docs", True),
              ("LSI docstrings", _lsi_stream, (2800, 1800, 100, 64), "10x100 docs", False)]
    for label, maker, args, what, quick in specs:
        anchors = {"svds per batch": _stream_svds, "naive Zha-Simon": _stream_naive}
        if _installed("sklearn"):
            anchors["sklearn randomized_svd per batch"] = _stream_randomized_svd
        if maker is _lsi_stream and _incsvd_installed():  # rows only: no column appends there
            anchors["IncSVD (Deng et al.)"] = _stream_incsvd
        size = f"{args[0]} nodes" if maker is _graph_stream else f"{args[0]} docs"
        out.append(BenchCase(
            name=f"{label} {size} k={args[-1]}, +{what}", setup=maker(*args),
            run_orthla=_stream_orthla, anchors=anchors, error=_stream_sv_error,
            error_name="max_i |s_i - s_i(svds)| / s_i(svds) (top k, final matrix)", quick=quick))
    return out


# ---------------------------------------------------------------- speed round (issue 17)
# IncSVD's own kind of streams: 100 batches, k = 64, every method at the same tracked rank
# (oversample 0), IncSVD's sparse Zha-Simon, GKL and RPI side by side with orthla's.

#: (l, t) of the Krylov/randomized methods on these streams (IncSVD's and orthla's alike).
SPEED_L, SPEED_T = 10, 2


def _speed_lsi(n_batches=100, batch=20, k=64):
    """tf-idf docstring stream: the last ``n_batches * batch`` documents in batches."""
    def setup(xp, rng):
        docs = docstring_corpus()
        order = np.random.default_rng(0).permutation(len(docs))
        X = tfidf([docs[i] for i in order]).tocsr()
        n0 = X.shape[0] - n_batches * batch
        steps = [("rows", X[lo:lo + batch]) for lo in range(n0, X.shape[0], batch)]
        return _speed_inputs(X[:n0], X, steps, k)

    return setup


def _speed_graph(n_nodes=10000, n_batches=100, batch=20, k=64):
    """Barabasi-Albert graph grown by blocks of ``batch`` nodes (their rows, then columns)."""
    def setup(xp, rng):
        A = _ba_graph(n_nodes, 5, seed=0)
        j0 = n_nodes - n_batches * batch
        steps = []
        for j in range(j0, n_nodes, batch):
            steps.append(("rows", A[j:j + batch, :j]))
            steps.append(("columns", A[:j + batch, j:j + batch].tocsc()))
        return _speed_inputs(A[:j0, :j0], A, steps, k)

    return setup


def _speed_inputs(A0, A, steps, k):
    import contextlib
    import io

    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    state = TruncatedSVD.fit(A0, k, oversample=0, rng=0)  # IncSVD's tracked rank
    s = svds(A, k=k, tol=0, rng=0, return_singular_vectors=False)
    inputs = {"state": state, "steps": steps, "k": k, "A": A, "s_ref": np.sort(s)[::-1],
              "U0": state._U, "s0": state._s, "V0": state._V}
    if _incsvd_installed():
        from IncSVD.EvolvingMatrix import EvolvingMatrix

        ems = {}
        for method in ("ZhaSimon", "GKL", "RPI"):
            np.random.seed(0)  # noqa: NPY002  (IncSVD draws from NumPy's global generator)
            with contextlib.redirect_stdout(io.StringIO()):  # it prints its shapes
                ems[method] = EvolvingMatrix(sp.csr_matrix(A0), k, sparse=True, method=method)
        inputs["incsvd_states"] = ems
    return inputs


def _speed_orthla(method):
    def run(inputs):
        st = inputs["state"].copy()
        kw = {} if method == "exact" else {"l": SPEED_L, "t": SPEED_T}
        for kind, E in inputs["steps"]:
            (st.add_rows if kind == "rows" else st.add_columns)(E, method=method, **kw)
        return st.U, st.s, st.Vt

    return run


def _speed_incsvd(method):
    def run(inputs):
        import copy

        import scipy.sparse as sp

        em = copy.deepcopy(inputs["incsvd_states"][method])
        kw = ({} if method == "ZhaSimon" else {"l": SPEED_L} if method == "GKL"
              else {"l": SPEED_L, "t": SPEED_T})
        np.random.seed(0)  # noqa: NPY002
        for kind, E in inputs["steps"]:
            if kind == "rows":
                em.add_row(sp.csr_matrix(E), **kw)
            else:
                em.add_column(sp.csc_matrix(E), **kw)
        s = np.asarray(em.Sigmak).ravel()
        order = np.argsort(s)[::-1]
        return np.asarray(em.Uk)[:, order], s[order], np.asarray(em.Vk)[:, order].T

    return run


def _speed_naive(inputs):
    return _stream_naive(inputs)


def _small_rows(n, k, m0, rows, batch, columns=False):
    """Dense rows with a graded spectrum, ``rows`` of them in batches of ``batch``
    (``columns=True``: the transposed stream, columns onto ``A[:m0]^T``)."""
    def setup(xp, rng):
        A = rng.standard_normal((m0 + rows, n)) * np.logspace(0, -3, n)
        orient = (lambda X: X.T) if columns else (lambda X: X)
        state = TruncatedSVD.fit(orient(A[:m0]), k, oversample=0, rng=0)
        batches = [orient(A[lo:lo + batch]) for lo in range(m0, m0 + rows, batch)]
        s_ref = np.linalg.svd(A, compute_uv=False)[:k]
        return {"state": state, "batches": batches, "prefixes": [], "k": k, "s_ref": s_ref,
                "method": "exact", "sparse": False, "columns": columns}

    return setup


def _small_orthla(inputs):
    st = inputs["state"].copy()
    append = st.add_columns if inputs["columns"] else st.add_rows
    for E in inputs["batches"]:
        append(E)
    return st.s


def speed_cases():
    """The speed-round comparisons: IncSVD's streams and small dense problems."""
    out = []
    streams = [("LSI docstrings, last 2000 docs in 100x20", _speed_lsi())]
    if _installed("networkx"):
        streams.append(("BA graph 10000 nodes, last 2000 in 100 blocks of 20 (rows+columns)",
                        _speed_graph()))
    for label, setup in streams:
        for method, inc in (("exact", "ZhaSimon"), ("gkl", "GKL"), ("rpi", "RPI")):
            anchors = {"naive Zha-Simon": _speed_naive} if method == "exact" else {}
            if _incsvd_installed():
                anchors[f"IncSVD sparse {inc}"] = _speed_incsvd(inc)
            shown = "auto" if method == "exact" else method
            out.append(BenchCase(
                name=f"speed: {label} k=64 [{shown}, l={SPEED_L}]" if method != "exact"
                else f"speed: {label} k=64 [auto]",
                setup=setup, run_orthla=_speed_orthla(method), anchors=anchors,
                error=_stream_sv_error,
                error_name="max_i |s_i - s_i(svds)| / s_i(svds) (top k, final matrix)", quick=False))
    for n, k, m0, rows, batch, quick, columns in [(1000, 16, 500, 200, 1, True, False),
                                                  (300, 10, 300, 400, 5, True, False),
                                                  (1000, 20, 1000, 100, 10, True, False),
                                                  (1000, 16, 500, 200, 1, True, True),
                                                  (300, 10, 300, 400, 5, True, True),
                                                  (50, 14, 100, 10000, 1, False, False),
                                                  (50, 14, 100, 100000, 1, False, False)]:
        what = "columns" if columns else "rows"
        out.append(BenchCase(
            name=f"speed: small dense n={n} rank {k}, {rows // batch}x{batch} {what} onto {m0}",
            setup=_small_rows(n, k, m0, rows, batch, columns), run_orthla=_small_orthla,
            anchors={"naive Zha-Simon": _naive_zha_simon}, error=_sv_error,
            error_name="max |s - s_ref| / s_1 (top k, final matrix)", quick=quick))
    return out
