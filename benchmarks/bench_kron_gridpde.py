"""GridPDESolver (GP collocation, spectral-mixture kernel) against finite differences.

Problems (the high-frequency Poisson cases of GP-HM): 1-D ``-u'' = f`` with ``u = sin(100 x)``
and 2-D ``-Δu = f`` with ``u = sin(50 x) sin(50 y)`` on the unit box, Dirichlet data from
``u``.  Each case times set-up plus solve and records the relative L2 error at the nodes
(``extra_info["rel_err"]``):

* ``gp``: :class:`orthla.kron.GridPDESolver` with one mixture component at the true
  frequency (``mu = omega / (2 pi)``, ``s = 2`` in 1-D, ``s = 1`` in 2-D) on ``n`` nodes per axis.
* ``fd``: the second-order finite-difference solve :func:`orthla.kron.poisson_solve` (fast sine
  transform, ``O(N log N)``) with the boundary data moved to the right-hand side, on ``n``
  nodes per axis: the tool a user would pick instead.

``test_objective`` times one evaluation of :func:`orthla.kron.fit_grid_pde`'s objective on the
2-D case (set-up, solve, ``L u`` at the ``(n-1)^2`` cell midpoints), up to ``n = 1000`` (slow).

Reading the table: accuracy at equal time is the ``rel_err`` of the two tools at rows of
similar median time.  BLAS is pinned to one thread by ``conftest.py``.  Run with
``/work/venv/bin/python -m pytest benchmarks/bench_kron_gridpde.py -m "slow or not slow"``.
"""

import numpy as np
import pytest

from orthla.kron import GridPDESolver, SpectralMixture, poisson_solve

W1, W2 = 100.0, 50.0
CASES = [("1d", "gp", n) for n in (100, 200, 400)] + [("1d", "fd", n) for n in (1000, 10_000, 100_000, 1_000_000)]
CASES += [("2d", "gp", n) for n in (50, 100, 200, 400)] + [("2d", "fd", n) for n in (100, 300, 1000, 3000)]


def _exact(dim, x):
    if dim == "1d":
        return np.sin(W1 * x), W1**2 * np.sin(W1 * x)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    u = np.sin(W2 * xx) * np.sin(W2 * yy)
    return u, 2 * W2**2 * u


def _gp(dim, n):
    x = np.linspace(0.0, 1.0, n)
    u, f = _exact(dim, x)
    if dim == "1d":
        solver = GridPDESolver([x], SpectralMixture([W1 / (2 * np.pi)], [2.0]), jitter=1e-10)
    else:
        solver = GridPDESolver([x, x], SpectralMixture([W2 / (2 * np.pi)], [1.0]), jitter=1e-6)
    return solver.solve(f, u).u, u


def _fd(dim, n):
    x = np.linspace(0.0, 1.0, n)
    h = x[1] - x[0]
    u, f = _exact(dim, x)
    g = u.copy()
    inner = f[(slice(1, -1),) * f.ndim].copy()
    if dim == "1d":
        inner[0] += g[0] / h**2
        inner[-1] += g[-1] / h**2
    else:
        inner[0, :] += g[0, 1:-1] / h**2
        inner[-1, :] += g[-1, 1:-1] / h**2
        inner[:, 0] += g[1:-1, 0] / h**2
        inner[:, -1] += g[1:-1, -1] / h**2
    out = g.copy()
    out[(slice(1, -1),) * f.ndim] = poisson_solve(inner, h)
    return out, u


@pytest.mark.parametrize(("dim", "tool", "n"), [
    pytest.param(*c, id=f"{c[0]}|{c[1]}|n={c[2]}",
                 marks=(pytest.mark.slow,) if (c[0] == "2d" and c[2] >= 1000) or c[2] >= 1_000_000 else ())
    for c in CASES])
def test_solve(benchmark, dim, tool, n):
    run = _gp if tool == "gp" else _fd
    got, want = run(dim, n)  # warm-up
    benchmark.extra_info["rel_err"] = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    benchmark.extra_info["nodes"] = int(got.size)
    benchmark.pedantic(run, args=(dim, n), rounds=3, iterations=1)


def _objective(n):
    """One evaluation of fit_grid_pde's objective on the 2-D case: set-up, solve, L u at the midpoints."""
    x = np.linspace(0.0, 1.0, n)
    t = (x[1:] + x[:-1]) / 2
    u, f = _exact("2d", x)
    _, ft = _exact("2d", t)
    solver = GridPDESolver([x, x], SpectralMixture([W2 / (2 * np.pi)], [1.0]), jitter=1e-6)
    res = solver.solve(f, u)
    r = solver.apply_at(res.coef, [t, t]) - ft
    return float(np.sum(r**2) / np.sum(ft**2))


@pytest.mark.parametrize("n", [pytest.param(n, id=f"2d|n={n}", marks=(pytest.mark.slow,) if n >= 1000 else ())
                               for n in (100, 200, 400, 1000)])
def test_objective(benchmark, n):
    benchmark.extra_info["objective"] = _objective(n)  # warm-up
    benchmark.extra_info["nodes"] = n * n
    benchmark.pedantic(_objective, args=(n,), rounds=1 if n >= 1000 else 3, iterations=1)
