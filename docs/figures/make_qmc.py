"""Figures for docs/qmc.md: point sets and integration convergence.

Run from the repository root:  python docs/figures/make_qmc.py
Writes docs/_static/qmc_points.png and docs/_static/qmc_convergence.png.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from orthla.qmc import Halton, Lattice, Sobol

OUT = os.path.join(os.path.dirname(__file__), "..", "_static")


def points():
    engines = {
        "Monte Carlo": None,
        "Lattice (random shift)": Lattice(2, rng=1),
        "Sobol' (LMS + DS)": Sobol(2, rng=1),
        "Halton (LMS + DP)": Halton(2, rng=1),
    }
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
    for ax, (name, eng) in zip(axes, engines.items(), strict=True):
        x = np.random.default_rng(1).random((256, 2)) if eng is None else eng.random(256)
        ax.scatter(x[:64, 0], x[:64, 1], s=9, c="C3", label="first 64")
        ax.scatter(x[64:, 0], x[64:, 1], s=5, c="C0", label="next 192")
        ax.set(title=name, xlim=(0, 1), ylim=(0, 1), aspect="equal", xticks=[0, 0.5, 1], yticks=[0, 0.5, 1])
    axes[0].legend(loc="lower left", fontsize=7, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "qmc_points.png"), dpi=110)


def convergence():
    d, reps = 6, 16
    c = 1.0 / np.arange(1, d + 1) ** 1.5
    exact = float(np.prod(np.expm1(c) / c))
    f = lambda x: np.exp(x @ c)  # noqa: E731
    ms = np.arange(4, 17)
    rmse = {}
    rng = np.random.default_rng(0)
    rmse["Monte Carlo"] = [np.sqrt(np.mean((f(rng.random((reps, 2**m, d))).mean(1) - exact) ** 2)) for m in ms]
    for name, make in (("Lattice (shift)", lambda: Lattice(d, rng=2, replications=reps)),
                       ("Sobol' (LMS + DS)", lambda: Sobol(d, rng=2, replications=reps)),
                       ("Halton (LMS + DP)", lambda: Halton(d, rng=2, replications=reps)),
                       ("Halton (NUS)", lambda: Halton(d, randomize="nus", rng=2, replications=reps))):
        rmse[name] = [np.sqrt(np.mean((f(make().random(2**m)).mean(1) - exact) ** 2)) for m in ms]
    n = 2.0**ms
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, e in rmse.items():
        ax.loglog(n, e, "o-", ms=3, label=name)
    ax.loglog(n, rmse["Monte Carlo"][0] * (n / n[0]) ** -0.5, "k:", lw=1, label=r"$n^{-1/2}$")
    ax.loglog(n, rmse["Sobol' (LMS + DS)"][0] * (n / n[0]) ** -1.0, "k--", lw=1, label=r"$n^{-1}$")
    ax.set(xlabel="n (points)", ylabel=f"RMSE over {reps} randomizations",
           title=r"$\int_{[0,1)^6} \exp(\sum_j x_j / j^{3/2})\,dx$")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "qmc_convergence.png"), dpi=110)


if __name__ == "__main__":
    points()
    convergence()
