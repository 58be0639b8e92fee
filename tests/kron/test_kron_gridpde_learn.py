"""Learning the spectral mixture of the GP collocation PDE solver (GP-HM frequency search, Jeffreys pruning)."""

import warnings

import numpy as np
import pytest
from _kron_helpers import TWO_PI, kron_all, one_blas_thread  # noqa: F401  (autouse fixture)
from _kron_helpers import rel_error as _rel

from orthla._testing import to_host
from orthla.kron import (
    GridPDESpectrumFit,
    KronConvergenceWarning,
    SpectralMixture,
    fit_grid_pde_spectrum,
)
from orthla.kron._gridpde_evidence import neg_log_evidence

# ---------------------------------------------------------------- the evidence and its gradient

def _params(rng, d):
    return [(rng.uniform(0.0, 3.0, 3), np.log(rng.uniform(0.3, 1.5, 3)), rng.normal(size=3)) for _ in range(d)]


def _dense_nll(u, grids, params, log_noise, shape=None):
    shape = shape or {}
    grams = [to_host(SpectralMixture(mu, np.exp(ls), log_weights=lw, **shape)(g))
             for g, (mu, ls, lw) in zip(grids, params, strict=True)]
    big = kron_all(grams) + np.exp(log_noise) * np.eye(u.size)
    return 0.5 * u.ravel() @ np.linalg.solve(big, u.ravel()) + 0.5 * np.linalg.slogdet(big)[1]


@pytest.mark.parametrize("uniform", [False, True], ids=["scattered", "uniform"])  # uniform: the lag route
@pytest.mark.parametrize("shape", [{}, {"spectrum": "student_t", "dof": 5}], ids=["gaussian", "student_t"])
@pytest.mark.parametrize("dims", [(9,), (7, 6), (5, 4, 3)])
def test_evidence_against_dense_and_finite_differences(xp, dims, shape, uniform):
    rng = np.random.default_rng(191)
    grids = [np.sort(rng.uniform(0, 1, n)) for n in dims]
    if uniform:
        grids = [np.linspace(0, 0.5 + k, n) for k, n in enumerate(dims)]
    u = rng.standard_normal(dims)
    params = _params(rng, len(dims))
    ln = np.log(0.05)

    def run(pp, lnoise, grad=True):
        arr = [[xp.asarray(v) for v in p] for p in pp]
        return neg_log_evidence(xp.asarray(u), [xp.asarray(g) for g in grids], arr, lnoise, xp, grad=grad, **shape)

    val, grads, dn = run(params, ln)
    ref = _dense_nll(u, grids, params, ln, shape)
    assert abs(float(val) - ref) <= 1e-10 * abs(ref)
    h = 1e-3  # fourth-order central differences: truncation ~h^4, rounding ~1e-16 |nll| / h

    def fd4(fun):
        return (-fun(2 * h) + 8 * fun(h) - 8 * fun(-h) + fun(-2 * h)) / (12 * h)

    for k in range(len(dims)):
        for i in range(3):
            for q in range(3):
                def moved(e, k=k, i=i, q=q):
                    pp = [[v.copy() for v in p] for p in params]
                    pp[k][i][q] += e
                    return _dense_nll(u, grids, pp, ln, shape)

                fd, got = fd4(moved), float(grads[k][i][q])
                assert abs(got - fd) <= 1e-7 * max(1.0, abs(fd)), (k, i, q, got, fd)
    fd = fd4(lambda e: _dense_nll(u, grids, params, ln + e, shape))
    assert abs(float(dn) - fd) <= 1e-7 * max(1.0, abs(fd))
    assert run(params, ln, grad=False)[1] is None


def test_evidence_gradient_against_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(192)
    grids = [torch.linspace(0, 1, 8, dtype=torch.float64), torch.linspace(0, 2, 5, dtype=torch.float64)]
    u = torch.tensor(rng.standard_normal((8, 5)))
    params = [[torch.tensor(v, requires_grad=True) for v in p] for p in _params(rng, 2)]
    val, grads, _ = neg_log_evidence(u, grids, params, -3.0, torch)
    auto = torch.autograd.grad(val, [v for p in params for v in p])
    ours = [g.detach() for gk in grads for g in gk]
    for a, b in zip(auto, ours, strict=True):
        assert float((a - b).abs().max()) <= 1e-9 * max(1.0, float(a.abs().max()))


# ---------------------------------------------------------------- learning the frequencies

def test_learns_sin100_1d():
    x = np.linspace(0, 1, 100)
    u = np.sin(100 * x)
    res = fit_grid_pde_spectrum([x], 1e4 * u, u)
    assert isinstance(res, GridPDESpectrumFit) and res.converged
    assert res.freqs[0].shape == (1,)  # the Jeffreys prior pruned every other start frequency (50)
    assert abs(TWO_PI * res.freqs[0][0] - 100) <= 0.01 * 100  # measured 99.985
    assert _rel(res.solution.u, u) <= 1e-3  # measured 3.9e-6
    t = np.linspace(0, 1, 777)
    assert _rel(res.solver.interpolate(res.solution.coef, [t]), np.sin(100 * t)) <= 1e-3


def test_learns_multiscale_1d():
    # u = sin x + 0.1 sin 20x + 0.05 cos 100x: three scales, the small fast part found through f
    x = np.linspace(0, 1, 100)
    u = np.sin(x) + 0.1 * np.sin(20 * x) + 0.05 * np.cos(100 * x)
    f = np.sin(x) + 40 * np.sin(20 * x) + 500 * np.cos(100 * x)
    res = fit_grid_pde_spectrum([x], f, u)
    omega = np.sort(TWO_PI * res.freqs[0])
    assert omega.shape == (3,), omega
    assert omega[0] <= 1.0  # the sin x trend: below one cycle on [0, 1], a component at mu = 0
    assert abs(omega[1] - 20) <= 0.02 * 20 and abs(omega[2] - 100) <= 0.02 * 100  # measured 19.91, 100.09
    assert _rel(res.solution.u, u) <= 1e-3  # measured 3.1e-6
    assert res.weights[0][0] == 1.0 and np.all(res.weights[0] <= 1.0)


def test_learns_2d_small():
    # the 2-D analogue of sin(100x) sin(100y) at a lower frequency, 40^2 nodes
    x = np.linspace(0, 1, 40)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    u = np.sin(30 * xx) * np.sin(30 * yy)
    res = fit_grid_pde_spectrum([x, x], 2 * 900 * u, u, jitter=1e-6)
    for fr in res.freqs:
        assert abs(TWO_PI * fr[0] - 30) <= 0.02 * 30, TWO_PI * fr  # measured 29.86
    assert _rel(res.solution.u, u) <= 1e-3  # measured 7.2e-5


def test_learns_with_student_t_spectrum():
    x = np.linspace(0, 1, 100)
    u = np.sin(x) + 0.1 * np.sin(20 * x) + 0.05 * np.cos(100 * x)
    f = np.sin(x) + 40 * np.sin(20 * x) + 500 * np.cos(100 * x)
    res = fit_grid_pde_spectrum([x], f, u, spectrum="student_t", dof=7)
    assert res.kernels[0].spectrum == "student_t" and res.kernels[0].dof == 7
    omega = np.sort(TWO_PI * res.freqs[0])
    assert omega.shape == (3,) and abs(omega[1] - 20) <= 0.02 * 20 and abs(omega[2] - 100) <= 0.01 * 100  # 19.82, 100.00
    assert _rel(res.solution.u, u) <= 1e-3  # measured 3.7e-4 (sin(100x) alone: 100.00, 3.0e-4)


@pytest.mark.slow
def test_learns_sin500_with_quadratic():
    # GP-HM's u = sin(500 x) - 2 (x - 0.5)^2 on 300 nodes (150 start frequencies)
    x = np.linspace(0, 1, 300)
    u = np.sin(500 * x) - 2 * (x - 0.5) ** 2
    res = fit_grid_pde_spectrum([x], 500.0**2 * np.sin(500 * x) + 4, u)
    omega = TWO_PI * res.freqs[0]
    assert np.min(omega) <= 1.0  # the quadratic: a component at mu = 0
    high = omega[omega > 1.0]
    assert high.size >= 1 and np.all(np.abs(high - 500) <= 0.01 * 500)  # measured 500.01, 499.99
    assert _rel(res.solution.u, u) <= 1e-3  # measured 5.3e-5


def test_learns_sin100_2d():
    x = np.linspace(0, 1, 100)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    u = np.sin(100 * xx) * np.sin(100 * yy)
    res = fit_grid_pde_spectrum([x, x], 2e4 * u, u, jitter=1e-6)
    for fr in res.freqs:
        assert fr.shape == (1,) and abs(TWO_PI * fr[0] - 100) <= 0.01 * 100  # measured 99.95
    assert _rel(res.solution.u, u) <= 1e-3  # measured 3.0e-5


def test_backends_1d(xp):
    x = np.linspace(0, 1, 40)
    u = np.sin(20 * x)
    res = fit_grid_pde_spectrum([xp.asarray(x)], xp.asarray(400 * u), xp.asarray(u), maxiter=100)
    assert abs(TWO_PI * res.freqs[0][0] - 20) <= 0.02 * 20
    assert _rel(res.solution.u, u) <= 1e-3


def test_not_converged_warns():
    x = np.linspace(0, 1, 40)
    u = np.sin(20 * x)
    with pytest.warns(KronConvergenceWarning, match="1 rounds"):
        res = fit_grid_pde_spectrum([x], 400 * u, u, rounds=1, tol=1e-14)
    assert not res.converged and res.rounds == 1


def test_bad_input():
    x = np.linspace(0, 1, 20)
    u = np.sin(3 * x)
    for kw, msg in [({"jeffreys": -1.0}, "`jeffreys`"), ({"prune": 0.0}, "`prune`"), ({"prune": 1.0}, "`prune`"),
                    ({"tol": 0.0}, "`tol`"), ({"rounds": 0}, "`rounds`"), ({"maxiter": 0}, "`maxiter`")]:
        with pytest.raises(ValueError, match=msg):
            fit_grid_pde_spectrum([x], u, u, **kw)
    with pytest.raises(ValueError, match="`f`"):
        fit_grid_pde_spectrum([x], u[:-1], u)
    with pytest.raises(ValueError, match="`boundary`"):
        fit_grid_pde_spectrum([x], u, np.full(20, np.nan))
    with pytest.raises(ValueError, match="`grids\\[0\\]`"):
        fit_grid_pde_spectrum([x[::-1]], u, u)
    with pytest.raises(ValueError, match="zero"):
        fit_grid_pde_spectrum([x], np.zeros(20), np.zeros(20))
    f0, g0 = u.copy(), u.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KronConvergenceWarning)
        fit_grid_pde_spectrum([x], f0, g0, maxiter=5, rounds=1)
    assert np.array_equal(f0, u) and np.array_equal(g0, u)  # inputs not modified


def test_learns_on_a_periodic_axis():
    # -u'' + u = f on [0, 1), periodic: frequencies in cycles per unit length are 8 and 3
    n = 32
    x = np.arange(n) / n
    u = np.sin(TWO_PI * 8 * x) + 0.5 * np.cos(TWO_PI * 3 * x)
    f = (TWO_PI * 8) ** 2 * np.sin(TWO_PI * 8 * x) + 0.5 * (TWO_PI * 3) ** 2 * np.cos(TWO_PI * 3 * x) + u
    res = fit_grid_pde_spectrum([x], f, np.zeros(n), reaction=1.0, period=1.0)
    assert res.solver.period == [1.0]
    assert np.allclose(np.sort(res.freqs[0]), [3.0, 8.0], rtol=1e-2)  # measured 3.011, 7.995
    assert _rel(res.solution.u, u) <= 1e-4  # measured 6.3e-7


def test_learns_multiscale_2d():
    # sin 5x sin 5y + 0.1 sin 40x sin 40y on 50^2 nodes: sin 5x is under one period on [0, 1]
    # (a component at mu = 0 carries it), the fast part is found at 40
    x = np.linspace(0, 1, 50)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    lo, hi = np.sin(5 * xx) * np.sin(5 * yy), np.sin(40 * xx) * np.sin(40 * yy)
    u = lo + 0.1 * hi
    res = fit_grid_pde_spectrum([x, x], 50 * lo + 320 * hi, u, jitter=1e-8)
    for fr in res.freqs:
        omega = np.sort(TWO_PI * fr)
        assert omega[0] <= 1.0 and abs(omega[-1] - 40) <= 0.02 * 40, omega  # measured 0, 39.88
    assert _rel(res.solution.u, u) <= 1e-3  # measured 3.8e-5


def test_learns_advection_dominated_1d():
    # -0.01 u'' + 20 u' = f, u = sin(100 x)
    x = np.linspace(0, 1, 100)
    u = np.sin(100 * x)
    f = 0.01 * 1e4 * u + 20 * 100 * np.cos(100 * x)
    res = fit_grid_pde_spectrum([x], f, u, diffusion=0.01, advection=20.0)
    assert abs(TWO_PI * res.freqs[0][0] - 100) <= 0.01 * 100  # measured 99.998
    assert _rel(res.solution.u, u) <= 1e-3  # measured 2.1e-6
