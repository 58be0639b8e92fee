"""Figures of docs/pivoting.md: run ``python docs/figures/make_pivoting.py`` from the repository root.

Writes docs/_static/pivoting_potential.png (potential decay of the unified random-pivot
driver against the exact expected rate) and docs/_static/pivoting_smile.png (RPCholesky
pivots and trace error against uniform Nystrom on clustered "smile" data).
"""

import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from orthla.pivoting import (
    JacobiConvergenceWarning,
    KernelMatrix,
    random_pivot_factorize,
    rp_cholesky,
)
from orthla.pivoting._bench_cases import smile

OUT = os.path.join(os.path.dirname(__file__), "..", "_static")


def potential_figure():
    rng = np.random.default_rng(0)
    n, steps, runs = 8, 150, 40
    g = rng.standard_normal((n, n))
    spd = g @ g.T + 0.1 * np.eye(n)
    tall = rng.standard_normal((20, n)) * np.logspace(0, -2, n)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    rho = 1 - 2 / (n * (n - 1))
    for kind, a, style in (("eigh", spd, "-"), ("cholesky", spd, "--"), ("svd", tall, "-."), ("qr", tall, ":")):
        with warnings.catch_warnings():  # fixed-length runs: the stopping rule is switched off
            warnings.simplefilter("ignore", JacobiConvergenceWarning)
            pots = [random_pivot_factorize(a, kind, rng=s, record_potential=True, max_steps=steps,
                                           tol=1e-300).potential for s in range(runs)]
        mean = np.mean(pots, axis=0)
        ax1.semilogy(np.arange(steps + 1), mean / mean[0], style, label=f'kind="{kind}"')
        if kind == "eigh":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", JacobiConvergenceWarning)
                for s in range(6):
                    p = random_pivot_factorize(a, kind, rng=100 + s, record_potential=True, max_steps=600,
                                               tol=1e-300).potential
                    ax2.semilogy(np.arange(len(p)), np.maximum(p / p[0], 1e-17), lw=0.8)
    t = np.arange(steps + 1)
    ax1.semilogy(t, rho**t, "k", lw=0.8, label=r"$(1 - k(k-1)/(n(n-1)))^t$")
    ax1.set_xlabel("pivot steps t")
    ax1.set_ylabel(r"mean $\Gamma_t / \Gamma_0$ over 40 runs")
    ax1.set_title(f"Expected decay, pairs (k = 2), n = {n}")
    ax1.legend(fontsize=7, loc="lower left")
    t = np.arange(601)
    ax2.semilogy(t, rho**t, "k", lw=0.8, label="expected value")
    ax2.set_ylim(1e-17, 2)
    ax2.set_xlabel("pivot steps t")
    ax2.set_ylabel(r"$\Gamma_t / \Gamma_0$")
    ax2.set_title('Single runs, kind="eigh": quadratic finish')
    ax2.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "pivoting_potential.png"), dpi=120)
    plt.close(fig)


def smile_figure():
    rng = np.random.default_rng(0)
    x = smile(10000, rng)
    k = KernelMatrix(x, bandwidth=0.2)
    res = rp_cholesky(k, 100, rng=1)
    piv = np.asarray(res.pivots)
    uniform = np.random.default_rng(2).choice(len(x), 100, replace=False)
    ranks = np.arange(1, 101)
    trace_rp = np.asarray(res.trace)[1:] / len(x)
    trace_uni = []
    for r in ranks[::5]:
        cols = k.columns(uniform[:r])
        w = cols[uniform[:r]]
        evals, evecs = np.linalg.eigh(w)
        keep = evals > 1e-12 * evals.max()
        z = cols @ (evecs[:, keep] / np.sqrt(evals[keep]))
        trace_uni.append(1 - np.sum(z * z) / len(x))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
    ax1.scatter(x[:, 0], x[:, 1], s=0.3, c="0.7")
    ax1.scatter(x[uniform, 0], x[uniform, 1], s=12, marker="x", c="tab:orange", label="uniform")
    ax1.scatter(x[piv, 0], x[piv, 1], s=10, c="tab:blue", label="RPCholesky")
    ax1.set_aspect("equal")
    ax1.set_title("100 pivots on 10 000 points")
    ax1.legend(fontsize=7, loc="lower right")
    ax2.semilogy(ranks, trace_rp, label="rp_cholesky (accelerated)")
    ax2.semilogy(ranks[::5], trace_uni, "o-", ms=3, label="uniform Nystrom")
    ax2.set_xlabel("rank")
    ax2.set_ylabel("tr(K - FF$^T$) / tr(K)")
    ax2.set_title("Gaussian kernel, bandwidth 0.2")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "pivoting_smile.png"), dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    potential_figure()
    smile_figure()
