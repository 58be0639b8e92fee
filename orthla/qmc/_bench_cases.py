"""Comparison cases for ``python -m orthla bench qmc`` and ``benchmarks/bench_qmc.py``.

Generators are compared with scipy.stats.qmc (Sobol', Halton) and, when it is
installed, QMCPy (lattice, digital net, Halton), on the same sizes.  The error
column is the relative error of one randomized estimate of
``int exp(sum_j x_j / j^2) dx`` over [0, 1)^d (exact: ``prod_j j^2 (e^(1/j^2) - 1)``),
a sanity check that every side produced a valid point set; exactness against the
published definitions is covered by the tests.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._bench import BenchCase, has_tool
from ._cbc import cbc_lattice
from ._digital import Sobol
from ._dsi import DigitalShiftInvariantKernel
from ._fastgram import FastGram
from ._halton import Halton
from ._kernels import ShiftInvariantKernel
from ._lattice import Lattice

_SEED = 20261123


def _has(mod: str) -> bool:
    return has_tool(mod, f"qmc anchors from {mod}")


def _setup(m, d):
    def setup(xp, rng):
        c = 1.0 / np.arange(1, d + 1) ** 2
        return {"xp": xp, "m": m, "d": d, "c": c, "exact": float(np.prod(np.expm1(c) / c))}

    return setup


def _integration_error(inputs, out):
    from .._testing import to_host

    x = to_host(out)
    est = float(np.mean(np.exp(x @ inputs["c"])))
    return abs(est - inputs["exact"]) / inputs["exact"]


def _quiet(fn):
    def run(inputs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(inputs)

    return run


def _scipy_sobol(scramble):
    def run(i):
        import scipy.stats.qmc as q

        return q.Sobol(i["d"], scramble=scramble, rng=_SEED).random_base2(i["m"])

    return _quiet(run)


def _scipy_halton(i):
    import scipy.stats.qmc as q

    return q.Halton(i["d"], scramble=True, rng=_SEED).random(2 ** i["m"])


def _qmcpy(kind, randomize):
    def run(i):
        import qmcpy

        cls = {"lattice": qmcpy.Lattice, "net": qmcpy.DigitalNetB2, "halton": qmcpy.Halton}[kind]
        return cls(i["d"], randomize=randomize, seed=_SEED).gen_samples(2 ** i["m"])

    return _quiet(run)


def _anchors(*pairs):
    return {name: fn for name, fn, needs in pairs if _has(needs)}


def _cbc_error(inputs, out):
    # worst-case error of the last dimension relative to the 1-D one: shows the size reached
    return float(out.worst_case_error[-1])


def _gram_setup(m, d, dense, kind):
    def setup(xp, rng):
        if kind == "lattice":
            x = Lattice(d, rng=_SEED, xp=xp).random(2**m)
            kern = ShiftInvariantKernel(d, alpha=2, weights=1.0 / np.arange(1, d + 1) ** 2)
        else:
            x = Sobol(d, rng=_SEED, xp=xp).random(2**m)
            kern = DigitalShiftInvariantKernel(d, alpha=2, weights=1.0 / np.arange(1, d + 1) ** 2)
        y = xp.asarray(rng.standard_normal(2**m))
        inputs = {"xp": xp, "x": x, "kernel": kern, "y": y, "noise": 1e-8}
        # ||A||_2 = largest eigenvalue, from the fast transform (exact up to rounding)
        inputs["norm_A"] = float(np.max(_host(FastGram(x, kern, noise=1e-8).eigenvalues))) + 1e-8
        if dense:
            inputs["A"] = _host(kern(x)) + 1e-8 * np.eye(2**m)
        return inputs

    return setup


def _host(a):
    from .._testing import to_host

    return to_host(a)


def _fastgram_solve(i):
    return FastGram(i["x"], i["kernel"], noise=i["noise"]).solve(i["y"])


def _dense_solve(i):
    import scipy.linalg

    a = _host(i["kernel"](i["x"])) + i["noise"] * np.eye(i["x"].shape[0])
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(a, check_finite=False), _host(i["y"]),
                                  check_finite=False)


def _backward_error(inputs, out):
    """Normwise backward error ||A z - y|| / (||A||_2 ||z|| + ||y||), A applied densely or by transform."""
    z, y = _host(out), _host(inputs["y"])
    if "A" in inputs:
        az = inputs["A"] @ z
    else:
        az = _host(FastGram(inputs["x"], inputs["kernel"], noise=inputs["noise"]).matvec(out))
    return float(np.linalg.norm(az - y) / (inputs["norm_A"] * np.linalg.norm(z) + np.linalg.norm(y)))


def cases():
    out = []
    sizes = ((14, 100, True), (20, 100, False))
    for m, d, quick in sizes:
        tag = f"2^{m} x {d}"
        out.append(BenchCase(
            name=f"Lattice shift {tag}", setup=_setup(m, d),
            run_orthla=lambda i: Lattice(i["d"], rng=_SEED, xp=i["xp"]).random_base2(i["m"]),
            anchors=_anchors(("qmcpy.Lattice(shift)", _qmcpy("lattice", "SHIFT"), "qmcpy"),
                             ("scipy Sobol(scramble)", _scipy_sobol(True), "scipy")),
            error=_integration_error, error_name="rel. integration error", quick=quick,
            backends=("numpy", "cupy", "torch")))
        out.append(BenchCase(
            name=f"Sobol LMS+DS {tag}", setup=_setup(m, d),
            run_orthla=lambda i: Sobol(i["d"], rng=_SEED, xp=i["xp"]).random_base2(i["m"]),
            anchors=_anchors(("scipy Sobol(scramble)", _scipy_sobol(True), "scipy"),
                             ("qmcpy.DigitalNetB2(LMS DS)", _qmcpy("net", "LMS DS"), "qmcpy")),
            error=_integration_error, error_name="rel. integration error", quick=quick,
            backends=("numpy", "cupy", "torch")))
        out.append(BenchCase(
            name=f"Sobol unrandomized gray {tag}", setup=_setup(m, d),
            run_orthla=lambda i: Sobol(i["d"], randomize=False, order="gray",
                                       xp=i["xp"]).random_base2(i["m"]),
            anchors=_anchors(("scipy Sobol(scramble=False)", _scipy_sobol(False), "scipy")),
            error=_integration_error, error_name="rel. integration error", quick=quick,
            backends=("numpy", "cupy", "torch")))
    # QMCPy's Halton NUS needs about 18 s for 2^8 x 100 points, so it is timed on 2^8 x 10 only.
    halton = [(m, d, quick, rz, qrz) for m, d, quick in ((12, 100, True), (16, 100, False))
              for rz, qrz in (("dp", "DP"), ("lms-dp", "LMS DP"), ("nus", None))]
    for m, d, quick, rz, qrz in [*halton, (8, 10, True, "nus", "NUS")]:
        out.append(BenchCase(
            name=f"Halton {rz} 2^{m} x {d}", setup=_setup(m, d),
            run_orthla=lambda i, rz=rz: Halton(i["d"], randomize=rz, rng=_SEED,
                                               xp=i["xp"]).random(2 ** i["m"]),
            anchors=_anchors(("scipy Halton(scramble)", _scipy_halton, "scipy"),
                             *([(f"qmcpy.Halton({qrz})", _qmcpy("halton", qrz), "qmcpy")] if qrz else [])),
            error=_integration_error, error_name="rel. integration error", quick=quick,
            backends=("numpy", "cupy", "torch")))
    for m, d, quick in ((16, 50, True), (20, 200, False)):
        out.append(BenchCase(
            name=f"cbc_lattice 2^{m}, d={d}", setup=_setup(m, d),
            run_orthla=lambda i: cbc_lattice(2 ** i["m"], i["d"], weights=1.0 / np.arange(1, i["d"] + 1) ** 2),
            anchors={}, error=_cbc_error, error_name="worst-case error (CBC)", quick=quick))
    for kind, label in (("lattice", "FastGram(SI, lattice)"), ("net", "FastGram(DSI, Sobol')")):
        for m, quick, dense in ((10, True, True), (12, False, True), (20, False, False)):
            out.append(BenchCase(
                name=f"{label} solve n=2^{m}, d=5", setup=_gram_setup(m, 5, dense, kind),
                run_orthla=_fastgram_solve,
                anchors={"dense: form K + scipy cho_solve": _dense_solve} if dense else {},
                error=_backward_error, error_name="backward err ||Az-y||/(||A|| ||z||+||y||)",
                quick=quick, backends=("numpy", "cupy", "torch") if kind == "lattice" else ("numpy", "cupy")))
    return out
