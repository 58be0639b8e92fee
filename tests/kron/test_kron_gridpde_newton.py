"""Newton's method for semilinear PDEs (Allen-Cahn) on the GP collocation solver."""

import numpy as np
import pytest
from _kron_helpers import TWO_PI, allen_cahn_2d, one_blas_thread  # noqa: F401  (autouse fixture)
from _kron_helpers import rel_error as _rel

from orthla._testing import to_host
from orthla.kron import GridPDESolver, KronConvergenceWarning, SemilinearSolution, SpectralMixture


def _cube(v):
    return v**3


def _dcube(v):
    return 3 * v**2


def test_newton_allen_cahn_1d_sin100():
    # -u'' - u + u^3 = f, u = sin(100 x): quadratic convergence to the discrete solution
    w = 100.0
    x = np.linspace(0, 1, 100)
    u = np.sin(w * x)
    f = w**2 * u - u + u**3
    solver = GridPDESolver([x], SpectralMixture([w / TWO_PI], [2.0]), reaction=-1.0)
    res = solver.solve_semilinear(f, u, _cube, derivative=_dcube, tol=1e-12)
    assert isinstance(res, SemilinearSolution) and res.converged
    assert res.nit <= 8  # measured 6
    assert res.residual <= 1e-12  # measured 3.7e-16
    assert _rel(res.u, u) <= 1e-4  # measured 4.6e-6
    # the same discrete solution as Picard's fixed point (whose steps stall near 1e-6 here)
    # (GP-HM's Allen-Cahn family by Picard steps on the linear solver: also within 1e-4)
    pic = solver.solve_semilinear(f, u, _cube, method="picard")
    assert _rel(pic.u, u) <= 1e-4  # measured 2.4e-6
    assert pic.converged and _rel(res.u, to_host(pic.u)) <= 2e-5  # U itself is ill-conditioned (cond ~1e5)


def test_newton_equals_dense_newton():
    # one Newton step from the same start equals the dense Jacobian solve (independent reference)
    x = np.linspace(0, 1, 12)
    kern = SpectralMixture([0.0, 1.0], [1.0, 0.5])
    solver = GridPDESolver([x], kern, reaction=0.5, advection=0.3, jitter=1e-6)
    rng = np.random.default_rng(193)
    f, g = rng.standard_normal(12), rng.standard_normal(12)
    res = solver.solve_semilinear(f, g, np.sin, derivative=np.cos, maxiter=50, tol=1e-13)
    # dense Newton on the full collocation system with the solver's operator matrix
    lh = np.stack([solver.apply(e) for e in np.eye(12)], axis=1)  # L_h e_j as columns
    v = g.copy()
    for _ in range(50):
        r = lh @ v + np.sin(v) - f
        jac = lh + np.diag(np.cos(v))
        jac[[0, -1]] = np.eye(12)[[0, -1]]
        r[[0, -1]] = v[[0, -1]] - g[[0, -1]]
        v = v - np.linalg.solve(jac, r)
    assert np.max(np.abs(res.values - v)) <= 1e-10 * np.max(np.abs(v))


def test_newton_2d_where_picard_diverges():
    # -eps Lap u - u + u^3 = f with eps = 0.05: Lip(N) ||L_h^{-1}|| > 1, Picard blows up
    w, eps = 20.0, 0.05
    x = np.linspace(0, 1, 40)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    u = np.sin(w * xx) * np.sin(w * yy)
    f = eps * 2 * w**2 * u - u + u**3
    solver = GridPDESolver([x, x], SpectralMixture([w / TWO_PI], [1.0]), diffusion=eps, reaction=-1.0,
                           jitter=1e-6)
    with pytest.raises(ValueError, match="diverged"), np.errstate(over="ignore", invalid="ignore"):
        solver.solve_semilinear(f, u, _cube, method="picard", maxiter=50)
    res = solver.solve_semilinear(f, u, _cube, derivative=_dcube, maxiter=50)
    assert res.converged and res.residual <= 1e-6  # measured 23 steps, 1.3e-8
    assert _rel(res.u, u) <= 3e-4  # measured 3.7e-5 (the linear solver's own error)


def test_newton_2d_matches_picard_when_both_converge():
    solver, u, f = allen_cahn_2d(30)
    newton = solver.solve_semilinear(f, u, _cube, derivative=_dcube, tol=1e-10)
    picard = solver.solve_semilinear(f, u, _cube, method="picard", tol=1e-7, maxiter=200)
    assert newton.converged and picard.converged
    assert newton.residual <= 1e-3 * picard.residual  # measured 7e-10 against 3e-7
    assert _rel(newton.u, picard.u) <= 1e-6


def test_backends_1d(xp):
    x = np.linspace(0, 1, 41)
    u = np.sin(np.pi * x) + 0.1 * np.sin(20 * x)
    f = np.pi**2 * np.sin(np.pi * x) + 40 * np.sin(20 * x) + u**3
    solver = GridPDESolver([xp.asarray(x)], SpectralMixture([0.0, 20 / TWO_PI], [1.0, 1.0]))
    res = solver.solve_semilinear(xp.asarray(f), xp.asarray(u), _cube, derivative=_dcube)
    assert res.converged and res.nit <= 6
    assert _rel(res.u, u) <= 1e-5


def test_reports_non_convergence():
    x = np.linspace(0, 1, 30)
    solver = GridPDESolver([x], SpectralMixture([1.0], [1.0]), reaction=-1.0)
    f, g = 50 * np.sin(7 * x), np.zeros(30)
    with pytest.warns(KronConvergenceWarning, match="1 Newton steps"):
        res = solver.solve_semilinear(f, g, _cube, derivative=_dcube, maxiter=1, tol=1e-14)
    assert not res.converged and res.nit == 1 and res.residual > 0


def test_bad_input():
    x = np.linspace(0, 1, 20)
    solver = GridPDESolver([x], SpectralMixture([1.0], [1.0]))
    f, g = np.sin(3 * x), np.zeros(20)
    f0 = f.copy()
    with pytest.raises(ValueError, match="`method` must be 'newton' or 'picard'"):
        solver.solve_semilinear(f, g, _cube, method="secant")
    with pytest.raises(ValueError, match="needs `derivative`"):
        solver.solve_semilinear(f, g, _cube, method="newton")
    with pytest.raises(TypeError, match="`derivative` must be callable"):
        solver.solve_semilinear(f, g, _cube, derivative=3.0)
    with pytest.raises(ValueError, match="`derivative` must return an array of the grid's shape"):
        solver.solve_semilinear(f, g, _cube, derivative=lambda v: v[:-1])
    with pytest.raises(ValueError, match="`derivative` returned NaN"):
        solver.solve_semilinear(f, g, _cube, derivative=lambda v: np.full(v.shape, np.inf))
    assert np.array_equal(f, f0)
