"""Comparison cases for ``python -m orthla bench ortho``: msign/polar (``_polar_bench``), thin QR
of a tall matrix against LAPACK's Householder QR, and a batch of 3x3 rotations against SciPy's
``Rotation.align_vectors`` (looped, as users run it) and ``orthogonal_procrustes``.
"""

import numpy as np

from .._bench import BenchCase
from .._testing import to_host

# The tall-matrix setup, error and LAPACK anchor are those of mgs_qr's cases (one copy).
from ..pivoting._bench_cases import _numpy_qr as _lapack_qr
from ..pivoting._bench_cases import _qr_error
from ..pivoting._bench_cases import _setup as _tall_setup
from ._polar_bench import cases as _polar_cases
from ._procrustes import procrustes
from ._qr import qr


def _rot_setup(count, seed=0):
    def setup(xp, rng):
        from scipy.spatial.transform import Rotation

        pts = rng.standard_normal((count, 5, 3))
        rot = Rotation.random(count, random_state=seed).as_matrix()
        b = pts @ rot
        return {"xp": xp, "a": xp.asarray(pts), "b": xp.asarray(b), "a_host": pts, "b_host": b,
                "rot": rot}

    return setup


def _rot_error(inputs, out):
    r = to_host(out.R if hasattr(out, "R") else out)
    return float(np.max(np.abs(r - inputs["rot"])))


def _align_loop(inputs):
    from scipy.spatial.transform import Rotation

    a, b = inputs["a_host"], inputs["b_host"]
    # align_vectors(a, b) finds R with a ~ R b, i.e. the transpose of procrustes' R (a R ~ b).
    return np.stack([Rotation.align_vectors(b[i], a[i])[0].as_matrix().T for i in range(len(a))])


def cases():
    out = list(_polar_cases())
    for m, n, quick in ((20_000, 50, True), (100_000, 100, False)):
        out.append(BenchCase(
            name=f"qr auto {m}x{n}",
            setup=_tall_setup(m, n),
            run_orthla=lambda inp: qr(inp["a"]),
            anchors={"numpy.linalg.qr": _lapack_qr},
            error=_qr_error,
            error_name="max(backward, orthogonality)",
            quick=quick,
            backends=("numpy", "cupy", "torch"),
        ))
    out.append(BenchCase(
        name="procrustes rotation 2000 x (5x3)",
        setup=_rot_setup(2000),
        run_orthla=lambda inp: procrustes(inp["a"], inp["b"], rotation=True),
        anchors={"Rotation.align_vectors loop": _align_loop},
        error=_rot_error,
        error_name="max |R - R_true|",
        quick=True,
        backends=("numpy",),
    ))
    return out
