"""Figures and tables for docs/ortho.md: msign schedules and accuracy against GEMM count.

Run from the repository root:  python docs/figures/make_ortho.py
Writes docs/_static/ortho_schedules.png and docs/_static/ortho_accuracy.png and prints the
tables quoted in docs/ortho.md (bands; distance to the exact polar factor per GEMM count).
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from orthla.ortho import msign
from orthla.ortho._schedules import resolve_schedule

OUT = os.path.join(os.path.dirname(__file__), "..", "_static")
SCHEDULES = (("polar-express", 5), ("polar-express", 8), ("muon", 5), ("cubic", 8), ("cubic", 24))


def composed(name, steps, x):
    sched = resolve_schedule(name, steps)
    y = x / sched.divisor
    for a, b, c in sched.coefficients:
        y = a * y + b * y**3 + c * y**5
    return y, sched


def schedules():
    x = np.concatenate([np.geomspace(1e-5, 1e-3, 400, endpoint=False), np.linspace(1e-3, 1, 4000)])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    print("| schedule | steps | GEMMs | band for sigma/||a||_F in [1e-3, 1] |")
    print("| --- | --- | --- | --- |")
    for i, (name, steps) in enumerate(SCHEDULES):
        y, sched = composed(name, steps, x)
        lo, hi = sched.band(1e-3)
        print(f"| {name} | {steps} | {sched.gemms()} | [{lo:.6g}, {hi:.6g}] |")
        label = f"{name}, {steps} steps: band [{lo:.3g}, {hi:.3g}]"
        for ax in axes:
            ax.plot(x, y, color=f"C{i}", lw=1.3, label=label)
            ax.axhspan(lo, hi, color=f"C{i}", alpha=0.08)
    axes[0].set(xlim=(0, 1), ylim=(0, 1.3), xlabel="normalized singular value  sigma / ||a||_F",
                ylabel="output singular value", title="composed polynomial on [0, 1]")
    axes[1].set(xscale="log", xlim=(1e-5, 1), ylim=(0, 1.3), xlabel="sigma / ||a||_F (log)",
                title="small singular values (design end 1e-3 dotted)")
    axes[1].axvline(1e-3, color="k", ls=":", lw=0.8)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "ortho_schedules.png"), dpi=110)


def accuracy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 2048))
    w, _, vh = np.linalg.svd(a, full_matrices=False)
    p = w @ vh
    steps = np.arange(1, 11)
    errs = {}
    for name in ("polar-express", "muon", "cubic"):
        errs[name] = [np.linalg.norm(msign(a, schedule=name, steps=int(k)) - p) / np.linalg.norm(p) for k in steps]
    a32 = a.astype(np.float32)
    errs["polar-express (float32)"] = [np.linalg.norm(msign(a32, steps=int(k)) - p) / np.linalg.norm(p)
                                       for k in steps]
    print("\n| steps | GEMMs (quintic) | Polar Express | Muon | GEMMs (cubic) | cubic | Polar Express float32 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, k in enumerate(steps):
        print(f"| {k} | {3 * k} | {errs['polar-express'][i]:.2e} | {errs['muon'][i]:.2e} | {2 * k} | "
              f"{errs['cubic'][i]:.2e} | {errs['polar-express (float32)'][i]:.2e} |")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.semilogy(3 * steps, errs["polar-express"], "o-", label="Polar Express (float64)")
    ax.semilogy(3 * steps, errs["polar-express (float32)"], "o--", label="Polar Express (float32)")
    ax.semilogy(3 * steps, errs["muon"], "s-", label="Muon quintic")
    ax.semilogy(2 * steps, errs["cubic"], "^-", label="cubic Newton-Schulz")
    ax.set(xlabel="matrix products (GEMMs) per matrix", ylabel="||U - polar(a)||_F / ||polar(a)||_F",
           title="msign on a 512 x 2048 Gaussian matrix")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "ortho_accuracy.png"), dpi=110)


if __name__ == "__main__":
    schedules()
    accuracy()
