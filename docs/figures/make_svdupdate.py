"""Figure for docs/svdupdate.md: accuracy of a tracked truncated SVD along a row stream.

Run from the repository root: ``python docs/figures/make_svdupdate.py``; writes
``docs/_static/svdupdate_stream.png``.  Deterministic (fixed seeds), about 10 s.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

from orthla.svdupdate import TruncatedSVD

OUT = Path(__file__).resolve().parents[1] / "_static" / "svdupdate_stream.png"


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


if __name__ == "__main__":
    main()
