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

``test_evidence`` times one evaluation (value and gradient) of the GP evidence that
:func:`orthla.kron.fit_grid_pde_spectrum` maximizes, ``-log N(vec U | 0, K_1 ⊗ K_2 + s2 I)``, on the
2-D case with ``Q`` components per axis (``Q = n/2``: the frequency search; ``Q = 1``: a
refinement round), against the dense evaluation a user would write (``N x N`` Cholesky; the value
only, no gradient) where ``N = n^2`` fits in memory.

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


def _evidence_params(n, q):
    mu = np.linspace(0.0, (n - 1) / 2, q) if q > 1 else np.array([W2 / (2 * np.pi)])
    return [(mu, np.zeros(q), np.zeros(q))] * 2


def _evidence_kron(n, q):
    from orthla.kron._gridpde_evidence import neg_log_evidence

    x = np.linspace(0.0, 1.0, n)
    u, _ = _exact("2d", x)
    val, _, _ = neg_log_evidence(u, [x, x], _evidence_params(n, q), np.log(1e-6), np)
    return float(val)


def _evidence_dense(n, q):
    import scipy.linalg

    x = np.linspace(0.0, 1.0, n)
    u, _ = _exact("2d", x)
    mu, ls, lw = _evidence_params(n, q)[0]
    k1 = SpectralMixture(mu, np.exp(ls), log_weights=lw)(x)
    big = np.kron(k1, k1) + 1e-6 * np.eye(n * n)
    c = scipy.linalg.cho_factor(big)
    return float(0.5 * u.ravel() @ scipy.linalg.cho_solve(c, u.ravel()) + np.sum(np.log(np.diag(c[0]))))


@pytest.mark.parametrize(("tool", "n", "q"), [
    pytest.param(tool, n, q, id=f"{tool}|n={n}|Q={q}", marks=(pytest.mark.slow,) if n >= 400 else ())
    for tool, n, q in [("kron", 30, 15), ("dense", 30, 15), ("kron", 50, 25), ("dense", 50, 25),
                       ("kron", 100, 50), ("kron", 100, 1), ("kron", 200, 100), ("kron", 200, 1),
                       ("kron", 400, 1)]])
def test_evidence(benchmark, tool, n, q):
    run = _evidence_kron if tool == "kron" else _evidence_dense
    val = run(n, q)  # warm-up
    if tool == "kron" and n <= 50:
        ref = _evidence_dense(n, q)
        benchmark.extra_info["rel_diff_dense"] = abs(val - ref) / abs(ref)
    benchmark.extra_info["nodes"] = n * n
    benchmark.pedantic(run, args=(n, q), rounds=3, iterations=1)
