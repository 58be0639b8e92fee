"""Figures for docs/svdupdate.md: accuracy along a row stream, and the update dispatcher.

Run from the repository root: ``python docs/figures/make_svdupdate.py``; writes
``docs/_static/svdupdate_stream.png`` (deterministic, about 10 s) and
``docs/_static/svdupdate_dispatch.png`` (measured times: about 30 s, BLAS pinned to
one thread; they move with the machine's load).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

from orthla.svdupdate import TruncatedSVD

OUT = Path(__file__).resolve().parents[1] / "_static" / "svdupdate_stream.png"
OUT_DISPATCH = OUT.with_name("svdupdate_dispatch.png")


def stream(m=3000, n=800, density=5e-3, seed=0):
    rng = np.random.default_rng(seed)
    S = sp.random(m, n, density=density, format="csr", random_state=rng)
    return (S @ sp.diags(1.0 / np.arange(1, n + 1) ** 0.7)).tocsr()


def main():
    A = stream()
    k, m0, batch = 16, 1000, 50
    runs = {
        "exact, oversample 0": dict(oversample=0, method="exact"),
        "exact, oversample k/4 (default)": dict(oversample=None, method="exact"),
        "exact, oversample k": dict(oversample=k, method="exact"),
        "gkl l=10, oversample k/4": dict(oversample=None, method="gkl"),
    }
    steps = list(range(m0 + batch, A.shape[0] + 1, batch))
    s_ref = [np.linalg.svd(A[:hi].toarray(), compute_uv=False)[:k] for hi in steps]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, opts in runs.items():
        st = TruncatedSVD.fit(A[:m0], k, oversample=opts["oversample"], rng=0)
        err, ortho = [], []
        for hi, ref in zip(steps, s_ref, strict=True):
            st.add_rows(A[hi - batch:hi], method=opts["method"], l=10)
            err.append(np.max(np.abs(st.s - ref)) / ref[0])
            U, V = st.U, st.Vt.T
            ortho.append(max(np.linalg.norm(U.T @ U - np.eye(k), 2), np.linalg.norm(V.T @ V - np.eye(k), 2)))
        x = np.arange(1, len(steps) + 1)
        ax1.semilogy(x, err, label=label)
        ax2.semilogy(x, ortho, label=label)
    ax1.set(xlabel="batches of 50 rows added", ylabel="max |s_i - s_i(ref)| / s_1  (top 16)",
            title="singular values vs LAPACK on the current matrix")
    ax2.set(xlabel="batches of 50 rows added", ylabel="max(||U^T U - I||, ||V^T V - I||)",
            title="orthogonality of the exposed factors")
    ax2.axhline(np.finfo(float).eps, color="gray", lw=0.8, ls=":")
    ax1.legend(fontsize=8)
    fig.suptitle("3000 x 800 sparse (Zipf-weighted columns), k = 16, grown from 1000 rows", fontsize=10)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


def dispatch(m0=10000, n=2000, density=1e-3, k=32, sizes=(1, 4, 16, 64, 200, 500, 1000, 2000)):
    """Measured seconds of one batch on each path against the dispatcher's predictions."""
    import time

    from threadpoolctl import threadpool_limits

    A = stream(m0 + max(sizes), n, density, seed=1)
    base = TruncatedSVD.fit(A[:m0], k, keep_matrix=True, rng=0)
    paths = ("sparse", "dense", "recompute")
    measured = {p: [] for p in paths}
    predicted = {p: [] for p in paths}
    chosen = []
    with threadpool_limits(1):
        for p in sizes:
            E = A[m0:m0 + p]
            pred = base.copy().add_rows(E).history[-1]
            chosen.append(pred.path)
            for path in paths:
                predicted[path].append(getattr(pred.predicted, path))
                best = np.inf
                for _ in range(3):
                    st = base.copy()
                    t0 = time.perf_counter()
                    st.add_rows(E, strategy=path)
                    best = min(best, time.perf_counter() - t0)
                ran = st.history[-1].path
                measured[path].append(best if ran == path else np.nan)  # sparse not certified
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    colors = {"sparse": "C0", "dense": "C1", "recompute": "C2"}
    for path in paths:
        ax.loglog(sizes, measured[path], "o-", color=colors[path], label=f"{path}: measured")
        ax.loglog(sizes, predicted[path], "--", color=colors[path], label=f"{path}: predicted")
    fastest = np.nanmin(np.array([measured[q] for q in paths]), axis=0)
    for p, path, t in zip(sizes, chosen, fastest, strict=True):
        ax.annotate(path[0].upper(), (p, t), textcoords="offset points", xytext=(0, -14),
                    ha="center", fontsize=8)
    ax.set(xlabel="rows in the batch", ylabel="seconds for one batch",
           title=f"{m0} x {n} sparse, k = {k} (tracked {base.n_tracked}): letters = auto's choice")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(OUT_DISPATCH, dpi=110)
    print(f"wrote {OUT_DISPATCH}")


if __name__ == "__main__":
    import sys

    if "--dispatch-only" not in sys.argv:
        main()
    dispatch()
