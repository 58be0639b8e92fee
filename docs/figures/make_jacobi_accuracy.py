"""Jacobi vs LAPACK relative accuracy: run ``python docs/figures/make_jacobi_accuracy.py`` from the
repository root (needs mpmath and matplotlib; about a minute).

Writes docs/_static/jacobi_accuracy.png: the worst relative eigenvalue error of ``jacobi_eigh`` and
of LAPACK's ``numpy.linalg.eigh`` on graded SPD matrices ``H = D A D`` (``kappa(A) = 1e3``, ``D``
spanning 0 to 30 orders of magnitude, symmetrically permuted), and the same for singular values of
column-graded matrices (``jacobi_svd`` vs ``numpy.linalg.svd``), against mpmath references.  The
Demmel-Veselic bound says Jacobi's relative error is ``O(eps kappa(A))`` whatever the grading;
LAPACK's is ``O(eps kappa(H))`` relative to the largest eigenvalue.
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mpmath
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from orthla import jacobi_eigh, jacobi_svd

OUT = os.path.join(os.path.dirname(__file__), "..", "_static")
N, SPANS, SEEDS = 20, (0, 3, 6, 10, 15, 20, 25, 30), 3


def graded_spd(n, span, rng):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.logspace(0, -3, n)) @ q.T
    d = np.logspace(0, -span, n)
    h = d[:, None] * ((a + a.T) / 2) * d[None, :]
    p = rng.permutation(n)
    return h[np.ix_(p, p)]


def col_graded(m, n, span, rng):
    return rng.standard_normal((m, n)) * np.logspace(0, -span, n)[rng.permutation(n)]


def rel_err(x, ref):
    return float(np.max(np.abs(np.sort(x) - np.sort(ref)) / np.abs(np.sort(ref))))


def main():
    rng = np.random.default_rng(0)
    rows = {"jacobi_eigh": [], "numpy.linalg.eigh": [], "jacobi_svd": [], "numpy.linalg.svd": []}
    for span in SPANS:
        e = {k: [] for k in rows}
        for _ in range(SEEDS):
            h = graded_spd(N, span, rng)
            with mpmath.workdps(2 * span + 40):
                ref = np.array([float(x) for x in mpmath.eigsy(mpmath.matrix(h.tolist()), eigvals_only=True)])
            e["jacobi_eigh"].append(rel_err(jacobi_eigh(h, eigvals_only=True).eigenvalues, ref))
            e["numpy.linalg.eigh"].append(rel_err(np.linalg.eigvalsh(h), ref))
            a = col_graded(2 * N, N, span, rng)
            with mpmath.workdps(span + 40):
                ref = np.array([float(x) for x in mpmath.svd_r(mpmath.matrix(a.tolist()), compute_uv=False)])
            e["jacobi_svd"].append(rel_err(jacobi_svd(a, compute_uv=False).S, ref))
            e["numpy.linalg.svd"].append(rel_err(np.linalg.svd(a, compute_uv=False), ref))
        for k in rows:
            rows[k].append(max(max(e[k]), 1e-17))
        print(span, {k: f"{v[-1]:.1e}" for k, v in rows.items()})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, (a, b), title in ((ax1, ("jacobi_eigh", "numpy.linalg.eigh"), f"eigenvalues, graded SPD {N}x{N}"),
                              (ax2, ("jacobi_svd", "numpy.linalg.svd"), f"singular values, column-graded {2 * N}x{N}")):
        ax.semilogy(SPANS, rows[a], "o-", label=f"orthla.{a}")
        ax.semilogy(SPANS, rows[b], "x--", label=f"{b} (LAPACK)")
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_xlabel("orders of magnitude spanned by the grading D")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    ax1.set_ylabel("max relative error (vs mpmath)")
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "jacobi_accuracy.png"), dpi=110)


if __name__ == "__main__":
    main()
