"""Comparison cases for ``python -m orthla bench pivoting`` and ``benchmarks/bench_pivoting.py``."""

import numpy as np

from .._backend import is_numpy
from .._bench import BenchCase
from ._mgs import mgs_qr


def _setup(m, n):
    def setup(xp, rng):
        a = rng.standard_normal((m, n))
        return {"xp": xp, "a": xp.asarray(a), "a_host": a}

    return setup


def _qr_error(inputs, out):
    """max(||a - QR||_F / ||a||_F, ||Q^T Q - I||_F), measured on the host in float64."""
    from .._testing import to_host

    q, r = (to_host(x) for x in out)
    a = inputs["a_host"]
    backward = np.linalg.norm(q @ r - a) / np.linalg.norm(a)
    ortho = np.linalg.norm(q.T @ q - np.eye(q.shape[1]))
    return max(backward, ortho)


def _numpy_qr(inputs):
    xp = inputs["xp"]
    if is_numpy(xp):
        return np.linalg.qr(inputs["a"], mode="reduced")
    return xp.linalg.qr(inputs["a"])  # the backend's own LAPACK/cuSOLVER QR


def _scipy_qr(inputs):
    import scipy.linalg

    if not is_numpy(inputs["xp"]):
        return _numpy_qr(inputs)  # scipy is CPU-only; on GPUs the backend's QR is the anchor
    return scipy.linalg.qr(inputs["a"], mode="economic", check_finite=False)


def cases():
    out = []
    for m, n, quick in ((500, 50, True), (2000, 200, False), (4000, 400, False)):
        out.append(BenchCase(
            name=f"mgs_qr {m}x{n}", setup=_setup(m, n), run_orthla=lambda i: mgs_qr(i["a"]),
            anchors={"numpy.linalg.qr": _numpy_qr, "scipy.linalg.qr": _scipy_qr},
            error=_qr_error, error_name="max(backward err, ||Q^TQ-I||_F)", quick=quick,
            backends=("numpy", "cupy", "torch")))
    return out
