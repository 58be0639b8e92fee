"""Checks shared by the qmc tests."""

import math

import numpy as np

from orthla._backend import array_namespace, is_torch
from orthla._testing import assert_close, to_host


def check_fastgram_against_dense(g, K, noise, xp):
    """Eigenvalues, matvec, solve and logdet of ``g`` against the dense ``K + noise I``.

    Returns the right-hand sides ``y`` (n x 2) and the solution of ``g`` (on the host).
    """
    n = K.shape[0]
    lam_ref = np.linalg.eigvalsh(K)
    np.testing.assert_allclose(np.sort(to_host(g.eigenvalues)), lam_ref, rtol=1e-9, atol=1e-9 * lam_ref.max())
    y = np.random.default_rng(2).standard_normal((n, 2))
    A = K + noise * np.eye(n)
    assert_close(g.matvec(xp.asarray(y)), A @ y, xp=xp, rtol=1e-10, atol=1e-10 * np.abs(A @ y).max())
    sol_ref = np.linalg.solve(A, y)
    sol = to_host(g.solve(xp.asarray(y)))
    assert np.linalg.norm(sol - sol_ref) <= 1e-8 * np.linalg.norm(sol_ref)
    ld = g.logdet()  # a 0-d array of the points' namespace (a NumPy scalar on NumPy), real
    assert ld.shape == () and ld.dtype == g.eigenvalues.dtype
    assert array_namespace(ld) is array_namespace(g.eigenvalues)
    assert math.isclose(float(to_host(ld)), np.linalg.slogdet(A)[1], rel_tol=1e-10)
    return y, sol


def host_bits(x, xp):
    """t-bit integer points (``return_binary``) on the host as uint64, after checking their dtype.

    They are uint64, or int64 on torch (no uint64 shifts or comparisons there), always >= 0.
    """
    assert x.dtype == (xp.int64 if is_torch(xp) else xp.uint64), x.dtype
    h = to_host(x)
    assert np.all(h >= 0)
    return h.astype(np.uint64)
