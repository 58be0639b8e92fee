"""Reference data for the kron tests (NumPy, fixed seeds)."""

import numpy as np
import pytest


def kron_all(mats):
    out = np.ones((1, 1))
    for m in mats:
        out = np.kron(out, np.eye(m) if isinstance(m, int) else m)
    return out


def spd(rng, n, cond=10.0):
    """Random symmetric positive definite matrix with eigenvalues in [1/cond, 1]."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = np.logspace(0, -np.log10(cond), n)
    a = (q * w) @ q.T
    return (a + a.T) / 2


def exp_kernel(x, ell):
    """Matérn-1/2 kernel on a 1-D grid: well conditioned for any noise."""
    return np.exp(-np.abs(x[:, None] - x[None, :]) / ell)


def rbf(x, z, ell):
    return np.exp(-0.5 * (x[:, None] - z[None, :]) ** 2 / ell**2)


def kron_sum_dense(mats):
    dims = [m.shape[0] for m in mats]
    total = 0
    for k, m in enumerate(mats):
        parts = [np.eye(n) for n in dims]
        parts[k] = m
        total = total + kron_all(parts)
    return total


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Run each test with one BLAS thread.

    On the shared 2-core machines a 2-thread OpenBLAS is many times slower than one
    thread for mid-size LAPACK calls (a 1000 x 1000 Cholesky took seconds); imported
    into every kron test module so that it applies there.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl is optional; tests stay correct without it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


TWO_PI = 2 * np.pi


def rel_error(a, b):
    """Relative 2-norm error of a result of any backend against a NumPy reference."""
    from orthla._testing import to_host

    a, b = np.asarray(to_host(a)), np.asarray(b)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def allen_cahn_2d(n, w=20.0):
    """``(solver, u, f)`` of the manufactured 2-D Allen-Cahn problem ``-lap u - u + u^3 = f``,
    ``u = sin(w x) sin(w y)`` on an ``n x n`` grid of the unit square."""
    from orthla.kron import GridPDESolver, SpectralMixture

    x = np.linspace(0, 1, n)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    u = np.sin(w * xx) * np.sin(w * yy)
    f = 2 * w**2 * u - u + u**3
    solver = GridPDESolver([x, x], SpectralMixture([w / TWO_PI], [1.0]), reaction=-1.0, jitter=1e-6)
    return solver, u, f
