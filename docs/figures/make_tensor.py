"""Figure for docs/tensor.md: SPM recovery against the rank, and against noise.

Run from the repository root:  python docs/figures/make_tensor.py
Writes docs/_static/tensor_recovery.png (about 20 s on one core).
"""

import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

from orthla.tensor import TensorWarning, cp_to_tensor, match_components, random_low_rank, spm

OUT = os.path.join(os.path.dirname(__file__), "..", "_static", "tensor_recovery.png")


def rank_sweep(d=10, m=4):
    ranks = np.arange(5, 56, 5)
    angles, errors, ok = [], [], []
    for R in ranks:
        T, _w, A = random_low_rank(d, R, order=m, rng=int(R))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TensorWarning)
            res = spm(T, rank=R, rng=0)
        angles.append(float(match_components(A, res.factors).angle_deg.max()))
        errors.append(res.residual)
        ok.append(res.success)
    return ranks, np.array(angles), np.array(errors), np.array(ok)


def noise_sweep(d=15, R=30, m=4):
    sigmas = np.logspace(-6, -1.5, 8)
    errs = []
    for s in sigmas:
        T, w, A = random_low_rank(d, R, order=m, noise=s, rng=22)
        res = spm(T, rank=R, rng=0)
        clean = cp_to_tensor(w, A, order=m)
        errs.append(np.linalg.norm(cp_to_tensor(res.weights, res.factors, order=m) - clean)
                    / np.linalg.norm(clean))
    return sigmas, np.array(errs)


def main():
    with threadpool_limits(limits=1):
        ranks, angles, errors, ok = rank_sweep()
        sigmas, errs = noise_sweep()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    floor = 1e-16
    ax1.semilogy(ranks, np.maximum(errors, floor), "o-", label="relative residual")
    ax1.semilogy(ranks, np.maximum(angles, floor), "s--", label="max angle error (deg)")
    ax1.semilogy(ranks[~ok], np.maximum(errors[~ok], floor), "rx", ms=10, label="success=False")
    ax1.axvline(45, color="gray", lw=1)
    ax1.text(45.5, 1e-3, "limit d(d-1)/2", fontsize=8, color="gray")
    ax1.set(xlabel="rank R (order 4, d = 10)", title="exact recovery up to the limit")
    ax1.legend(fontsize=8)
    ax2.loglog(sigmas, errs, "o-", label="error vs clean tensor")
    ax2.loglog(sigmas, sigmas, "k:", label="noise level sigma")
    ax2.set(xlabel="relative noise sigma (order 4, d = 15, R = 30)", title="error stays below the noise")
    ax2.legend(fontsize=8)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
