"""Periodic boundary conditions of the GP collocation PDE solver (periodized spectral-mixture kernels)."""

import numpy as np
import pytest
import scipy.stats
from _kron_helpers import TWO_PI, kron_all, one_blas_thread  # noqa: F401  (autouse fixture)
from _kron_helpers import rel_error as _rel

from orthla._testing import to_host
from orthla.kron import GridPDESolver, SpectralMixture


def _fourier_series(t, period, mu, s, lw, order=0, dof=None):
    """``sum_m k^(order)(t + m P) = (1/P) sum_j S(j/P) (2 pi i j / P)^order e^{2 pi i j t / P}`` (Poisson summation)."""
    j = np.arange(-4000, 4001)
    xi = j / period
    dens = np.zeros(xi.shape)
    for m, sc, w in zip(mu, s, lw, strict=True):
        if dof is None:
            pdf = scipy.stats.norm.pdf
            dens += np.exp(w) / 2 * (pdf(xi, m, sc) + pdf(xi, -m, sc))
        else:
            dens += np.exp(w) / 2 * (scipy.stats.t.pdf(xi, dof, m, sc) + scipy.stats.t.pdf(xi, dof, -m, sc))
    phase = np.exp(2j * np.pi * np.multiply.outer(t, xi))
    return np.real(phase @ (dens * (2j * np.pi * xi) ** order)) / period


@pytest.mark.parametrize("dof", [None, 5])
def test_periodic_kernel_is_the_sampled_spectrum(dof):
    mu, s, lw = [0.0, 3.2], [0.8, 0.5], [0.0, -0.7]
    period = 1.3
    x = np.linspace(0, 1.2, 9)
    spec = {} if dof is None else {"spectrum": "student_t", "dof": dof}
    solver = GridPDESolver([x], SpectralMixture(mu, s, log_weights=lw, **spec), period=period)
    t = x[:, None] - x[None, :]
    for dz in (0, 1, 2):
        ref = _fourier_series(t, period, mu, s, lw, order=dz, dof=dof) * (-1) ** dz
        got = to_host(solver._kern[0](x, x, dz=dz))
        tol = 1e-12 if dof is None else 1e-6  # the t spectrum decays like |xi|^-6: the series' tail
        assert np.max(np.abs(got - ref)) <= tol * np.max(np.abs(ref)), dz


def test_poisson_helmholtz_1d_periodic(xp):
    # -u'' + u = f on [0, 1), u = sin(2 pi 16 x) + cos(2 pi 3 x) / 2, 64 nodes (4 per period)
    n = 64
    x = np.arange(n) / n
    u = np.sin(TWO_PI * 16 * x) + 0.5 * np.cos(TWO_PI * 3 * x)
    f = (TWO_PI * 16) ** 2 * np.sin(TWO_PI * 16 * x) + 0.5 * (TWO_PI * 3) ** 2 * np.cos(TWO_PI * 3 * x) + u
    solver = GridPDESolver([xp.asarray(x)], SpectralMixture([3.0, 16.0], [0.5, 0.5]), reaction=1.0, period=1.0)
    res = solver.solve(xp.asarray(f), xp.asarray(np.zeros(n)))  # boundary values are not used
    assert _rel(res.u, u) <= 1e-5  # measured 7.8e-7
    t = np.linspace(-0.3, 1.7, 501)  # off the grid and outside [0, 1): the periodic extension
    ut = np.sin(TWO_PI * 16 * t) + 0.5 * np.cos(TWO_PI * 3 * t)
    assert _rel(solver.interpolate(res.coef, [xp.asarray(t)]), ut) <= 1e-5


def test_mixed_periodic_dirichlet_2d():
    nx = 48
    x, y = np.arange(nx) / nx, np.linspace(0, 1, 40)
    xx, yy = np.meshgrid(x, y, indexing="ij")
    a, b = np.sin(TWO_PI * 5 * xx) * np.sin(20 * yy), np.cos(TWO_PI * 2 * xx) * np.sin(np.pi * yy)
    u = a + b
    f = ((TWO_PI * 5) ** 2 + 400) * a + ((TWO_PI * 2) ** 2 + np.pi**2) * b
    kernels = [SpectralMixture([2.0, 5.0], [1.0, 1.0]), SpectralMixture([0.0, 20 / TWO_PI], [1.0, 1.0])]
    solver = GridPDESolver([x, y], kernels, period=[1.0, None], jitter=1e-8)
    res = solver.solve(f, u)
    assert _rel(res.u, u) <= 1e-4  # measured 2.1e-5
    assert np.allclose(res.values[:, [0, -1]], u[:, [0, -1]])  # Dirichlet data on the y ends only


@pytest.mark.parametrize(("dims", "period"), [((9,), [1.0]), ((8, 7), [None, 1.1]), ((6, 5, 4), [1.0, None, 1.2])])
def test_kron_path_equals_dense_gp(dims, period):
    rng = np.random.default_rng(194)
    grids = [np.sort(rng.uniform(0, 1, n)) for n in dims]
    kernels = [SpectralMixture([0.2 + 0.3 * j, 1.5], [0.8, 0.6], log_weights=[0.0, -1.0]) for j in range(len(dims))]
    nu, adv, c, jitter = [1.0, 0.7, 1.3][:len(dims)], [0.5, -1.0, 0.2][:len(dims)], 2.0, 1e-4
    solver = GridPDESolver(grids, kernels, diffusion=nu, advection=adv, reaction=c, jitter=jitter, period=period)
    ops = []
    for g, k in zip(grids, solver._kern, strict=True):  # the periodic Gram is checked above
        kk = to_host(k(g, g))
        jit = kk + jitter * np.abs(kk).max() * np.eye(len(g))
        # D^(m) = K^(m,0) (K + jitter)^{-1}, densely per axis
        ops.append([np.linalg.solve(jit, to_host(k(g, g, dz=m))).T for m in (1, 2)])
    lh = c * np.eye(int(np.prod(dims)))
    for j in range(len(dims)):
        lh = lh + kron_all([len(grids[i]) if i != j else -nu[j] * ops[j][1] + adv[j] * ops[j][0]
                            for i in range(len(dims))])
    f, g = rng.standard_normal(dims), rng.standard_normal(dims)
    on_boundary = np.zeros(dims, dtype=bool)
    for k, p in enumerate(period):
        if p is None:
            idx = [slice(None)] * len(dims)
            idx[k] = [0, -1]
            on_boundary[tuple(idx)] = True
    rows = on_boundary.ravel()
    sysm = lh.copy()
    sysm[rows] = np.eye(lh.shape[0])[rows]
    rhs = np.where(rows, g.ravel(), f.ravel())
    ref = np.linalg.solve(sysm, rhs).reshape(dims)
    res = solver.solve(f, g)
    assert np.max(np.abs(res.values - ref)) <= 1e-10 * np.max(np.abs(ref))


def test_newton_periodic_allen_cahn():
    # -u'' - u + u^3 = f on [0, 1), periodic (the Allen-Cahn family)
    n = 64
    x = np.arange(n) / n
    u = np.sin(TWO_PI * 8 * x)
    f = (TWO_PI * 8) ** 2 * u - u + u**3
    solver = GridPDESolver([x], SpectralMixture([8.0], [0.5]), reaction=-1.0, period=1.0)
    res = solver.solve_semilinear(f, np.zeros(n), lambda v: v**3, derivative=lambda v: 3 * v**2)
    assert res.converged and res.nit <= 8 and _rel(res.u, u) <= 1e-5  # measured 5 steps, 3.7e-6


def test_bad_input():
    x = np.arange(10) / 10
    k = SpectralMixture([1.0], [1.0])
    with pytest.raises(ValueError, match="`period\\[0\\]` must exceed the extent"):
        GridPDESolver([x], k, period=0.9)
    with pytest.raises(ValueError, match="`period\\[1\\]` must exceed"):
        GridPDESolver([x, x], k, period=[None, 0.5])
    with pytest.raises(ValueError, match="`period` must be None, a scalar or have one entry per axis"):
        GridPDESolver([x], k, period=[1.0, 1.0])
    with pytest.raises(ValueError, match="`period`"):
        GridPDESolver([x], k, period=-1.0)
    with pytest.raises(ValueError, match="`period`"):
        GridPDESolver([x], k, period=float("nan"))
    with pytest.raises(ValueError, match="too narrow in frequency"):
        GridPDESolver([x], SpectralMixture([1.0], [1e-4]), period=1.0)
