"""Figure for docs/qmc_integrate.md: error bound and true error against n.

Run from the repository root:  python docs/figures/make_qmc_integrate.py
Writes docs/_static/qmc_integrate_convergence.png.
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "qmc"))
from _qmc_integrands import geometric_asian, keister, keister_exact

from orthla.qmc import BrownianMotion, Gaussian, integrate

OUT = os.path.join(os.path.dirname(__file__), "..", "_static")
TOLS = np.logspace(-1, -4, 7)


def sweep(f, measure, exact, method, seeds=range(3), tols=TOLS):
    rows = []
    for tol in tols:
        for s in seeds:
            r = integrate(f, measure, abs_tol=tol, method=method, rng=s)
            rows.append((r.n, r.error_bound, abs(r.estimate - exact)))
    return np.array(rows)


def main():
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    d = 5
    exact = keister_exact(d)
    ax = axes[0]
    for method, c in (("lattice-fourier", "C0"), ("net-walsh", "C1"), ("replications", "C2")):
        a = sweep(keister, Gaussian(0.0, 0.5, d=d), exact, method)
        ax.scatter(a[:, 0], a[:, 1], marker="_", s=120, c=c, label=f"{method}: bound")
        ax.scatter(a[:, 0], a[:, 2], marker=".", s=25, c=c, label=f"{method}: true error")
    n = np.logspace(3, 7.5, 10)
    ax.plot(n, 3e1 / n, "k:", lw=1, label="O(1/n)")
    ax.set(xscale="log", yscale="log", xlabel="n (function evaluations)", ylabel="error",
           title=f"Keister, d = {d}, tolerances 1e-1 .. 1e-4")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1]
    f, t, price = geometric_asian(32)
    for dec, c in (("pca", "C0"), ("bridge", "C1"), ("standard", "C3")):
        a = sweep(f, BrownianMotion(t, decomp=dec), price, "net-walsh", tols=np.logspace(-1, -3, 5))
        ax.scatter(a[:, 0], a[:, 1], marker="_", s=120, c=c, label=f"{dec}: bound")
        ax.scatter(a[:, 0], a[:, 2], marker=".", s=25, c=c, label=f"{dec}: true error")
    ax.set(xscale="log", yscale="log", xlabel="n (function evaluations)", ylabel="error",
           title="Geometric Asian call, d = 32, net-walsh")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "qmc_integrate_convergence.png"), dpi=110)


if __name__ == "__main__":
    main()
