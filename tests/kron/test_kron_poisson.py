import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from _kron_helpers import one_blas_thread  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import poisson_solve


def _laplacian(dims, hs):
    """Sparse -Δ_h with homogeneous Dirichlet boundaries, row-major ordering."""
    ops = []
    for n, h in zip(dims, hs, strict=True):
        ops.append(scipy.sparse.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]) / h**2)
    total = 0
    for k, t in enumerate(ops):
        parts = [scipy.sparse.identity(n) for n in dims]
        parts[k] = t
        term = parts[0]
        for p in parts[1:]:
            term = scipy.sparse.kron(term, p)
        total = total + term
    return scipy.sparse.csc_matrix(total)


@pytest.mark.parametrize("dims", [(30,), (12, 9), (7, 6, 5)])
def test_agrees_with_spsolve(xp, dims):
    rng = np.random.default_rng(40)
    hs = [1.0 / (n + 1) for n in dims]
    f = rng.standard_normal(dims)
    ref = scipy.sparse.linalg.spsolve(_laplacian(dims, hs), f.reshape(-1)).reshape(dims)
    u = poisson_solve(xp.asarray(f), hs)
    assert_close(u, ref, xp=xp, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_manufactured_solution_second_order(xp):
    # u = sin(pi x) sin(2 pi y) x (1 - x) ... on the unit square; the error must fall like h^2.
    errs = []
    for n in (15, 31, 63):
        h = 1.0 / (n + 1)
        x = np.arange(1, n + 1) * h
        gx, gy = np.meshgrid(x, x, indexing="ij")
        u = np.sin(np.pi * gx) * np.sin(2 * np.pi * gy)
        f = 5 * np.pi**2 * u
        uh = to_host(poisson_solve(xp.asarray(f), h))
        errs.append(np.abs(uh - u).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 2) < 0.1), rates


def test_anisotropic_spacing_and_float32(xp):
    rng = np.random.default_rng(41)
    f = rng.standard_normal((8, 11))
    hs = (0.1, 0.03)
    ref = scipy.sparse.linalg.spsolve(_laplacian(f.shape, hs), f.reshape(-1)).reshape(f.shape)
    assert_close(poisson_solve(xp.asarray(f), hs), ref, xp=xp, rtol=0, atol=1e-12 * np.abs(ref).max())
    u32 = poisson_solve(xp.asarray(f.astype(np.float32)), hs)
    assert u32.dtype == xp.float32
    np.testing.assert_allclose(to_host(u32), ref, rtol=0, atol=1e-4 * np.abs(ref).max())


def test_errors(xp):
    with pytest.raises(ValueError, match="`h` must be a scalar or have one spacing per axis \\(2\\); got 3"):
        poisson_solve(xp.ones((3, 3)), (0.1, 0.1, 0.1))
    with pytest.raises(ValueError, match="`h` must be a finite real number > 0; got -0.1"):
        poisson_solve(xp.ones((3,)), -0.1)
    with pytest.raises(ValueError, match="`bc` must be one of \\('dirichlet',\\); got 'neumann'"):
        poisson_solve(xp.ones((3,)), bc="neumann")
    with pytest.raises(ValueError, match="`f` must be a non-empty array with at least one axis"):
        poisson_solve(xp.asarray(1.0))


def test_input_not_modified(xp):
    f = np.random.default_rng(42).standard_normal((5, 4))
    f0 = f.copy()
    poisson_solve(xp.asarray(f), 0.2)
    np.testing.assert_array_equal(f, f0)
