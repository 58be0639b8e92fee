"""Figure for docs/ortho.md: orthogonality of the truncated Cayley-Neumann series against ||S||_2.

Run from the repository root:  python docs/figures/make_neumann_figure.py
Writes docs/_static/neumann_error.png and prints the measured errors and bounds as a table.

For each number of terms K, skew blocks S of order 64 (8 per norm, float64) are scaled to
||S||_2 = s exactly; the measured error is max ||Q_K^T Q_K - I||_2 over the batch and the bound
is the ``orth_bound`` that ``cayley(S, method="neumann", terms=K)`` reports (its estimate of
||S||_2 from the Frobenius norm of the even powers, plus the rounding allowance).  The dotted
line is the truncation bound evaluated at the true ||S||_2: s^(2K) for odd K, 2 s^K + s^(2K) for
even K.  Where the estimate of ||S||_2 could not be shown below 1 the call fell back to "exact"
(no bound marker; the measured line continues with the series itself).
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from orthla.ortho import cayley
from orthla.ortho._cayley import _neumann
from orthla.ortho._skew import norm_bounds

OUT = os.path.join(os.path.dirname(__file__), "..", "_static", "neumann_error.png")
D, BATCH = 64, 8
TERMS = (2, 3, 4, 5, 6)


def blocks(s, seed):
    g = np.random.default_rng(seed).standard_normal((BATCH, D, D))
    a = g - np.swapaxes(g, -1, -2)
    return a * (s / np.linalg.norm(a, 2, axis=(-2, -1)))[:, None, None]


def main():
    norms = np.geomspace(0.01, 0.95, 30)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(TERMS)))
    print("| K | ||S||_2 | measured ||Q^T Q - I||_2 | reported bound | norm bound s |")
    print("| --- | --- | --- | --- | --- |")
    for k, color in zip(TERMS, colors, strict=True):
        meas, bound, trunc = [], [], []
        for i, s in enumerate(norms):
            S = blocks(s, i)
            res = cayley(S, method="neumann", terms=k)
            q = _neumann(S, k, norm_bounds(S, np)[1], np)[0]  # the series itself, also past the fallback
            err = np.max(np.linalg.norm(np.swapaxes(q, -1, -2) @ q - np.eye(D), 2, axis=(-2, -1)))
            meas.append(err)
            bound.append(res.orth_bound if res.method == "neumann" else np.nan)
            trunc.append(s ** (2 * k) if k % 2 else 2 * s**k + s ** (2 * k))
            if i % 6 == 0 or i == len(norms) - 1:
                print(f"| {k} | {s:.3g} | {err:.2e} | {bound[-1]:.2e} | {res.norm_bound:.3g} |")
        ax.loglog(norms, meas, "-", color=color, lw=2, label=f"K={k}: measured")
        ax.loglog(norms, bound, "o", color=color, ms=4, mfc="none", label=f"K={k}: reported bound")
        ax.loglog(norms, trunc, ":", color=color, lw=1)
    eps = np.finfo(float).eps
    ax.axhline(eps, color="gray", lw=0.8)
    ax.text(0.011, eps * 1.6, "float64 eps", color="gray", fontsize=8)
    ax.set_xlabel(r"$\|S\|_2$")
    ax.set_ylabel(r"$\|Q_K^T Q_K - I\|_2$")
    ax.set_title(r"Cayley-Neumann series $Q_K = (I - S)\sum_{k<K}(-S)^k$, blocks of order 64")
    ax.set_ylim(1e-18, 3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    fig.savefig(OUT, dpi=120)
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
