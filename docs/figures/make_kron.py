"""Figure for docs/kron.md: Poisson convergence and Kronecker singular values.

Run from the repository root: ``python docs/figures/make_kron.py``; writes
``docs/_static/kron_convergence.png``.  Deterministic, a few seconds.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from orthla.kron import nearest_kron, poisson_solve

OUT = os.path.join(os.path.dirname(__file__), "..", "_static", "kron_convergence.png")


def poisson_errors():
    ns, errs = [], []
    for n in (7, 15, 31, 63, 127, 255, 511):
        h = 1.0 / (n + 1)
        x = np.arange(1, n + 1) * h
        gx, gy = np.meshgrid(x, x, indexing="ij")
        u = np.sin(np.pi * gx) * np.sin(2 * np.pi * gy) * np.exp(gx)
        # f = -Δu for this u, computed analytically.
        f = (5 * np.pi**2 - 1) * u - 2 * np.pi * np.cos(np.pi * gx) * np.sin(2 * np.pi * gy) * np.exp(gx)
        errs.append(np.abs(poisson_solve(f, h) - u).max())
        ns.append(n)
    return np.array(ns), np.array(errs)


def kron_spectrum():
    # The isotropic Matérn-1/2 kernel exp(-|x - x'| / ell) on a 32 x 32 grid is not separable;
    # its Kronecker singular values say how many Kronecker terms approximate it.
    g = (np.arange(32) + 0.5) / 32
    gx, gy = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    out = {}
    for ell in (1.0, 0.3, 0.1):
        res = nearest_kron(np.exp(-dist / ell), (32, 32), (32, 32), rank=40, method="svd")
        out[ell] = res.s / res.s[0]
    return out


def main():
    ns, errs = poisson_errors()
    spectra = kron_spectrum()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    h = 1.0 / (ns + 1)
    ax1.loglog(h, errs, "o-", label="poisson_solve, max error")
    ax1.loglog(h, errs[0] * (h / h[0]) ** 2, "k--", label=r"$O(h^2)$")
    ax1.set_xlabel("grid spacing h")
    ax1.set_ylabel("max |u_h - u|")
    ax1.set_title("2-D Poisson, manufactured solution")
    ax1.legend()
    for ell, s in spectra.items():
        ax2.semilogy(np.arange(1, 41), s[:40], ".-", label=f"Matérn-1/2, length scale {ell}")
    ax2.set_xlabel("Kronecker rank r")
    ax2.set_ylabel("s_r / s_1")
    ax2.set_title("Kronecker singular values, 32x32 grid")
    ax2.legend()
    fig.savefig(OUT, dpi=120)
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
