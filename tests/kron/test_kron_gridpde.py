"""GP collocation PDE solver on a tensor grid (GP-HM style) and spectral-mixture kernels."""

import numpy as np
import pytest
from _kron_helpers import TWO_PI, allen_cahn_2d, kron_all, one_blas_thread  # noqa: F401  (autouse fixture)
from _kron_helpers import rel_error as _rel

from orthla._testing import assert_close, to_host
from orthla.kron import (
    GridPDEFit,
    GridPDESolution,
    GridPDESolver,
    KronConvergenceWarning,
    SpectralMixture,
    fit_grid_pde,
)

# ---------------------------------------------------------------- kernel


def _sm_numpy(t, mu, s, lw):
    return np.sum(np.exp(lw) * np.exp(-2 * np.pi**2 * s**2 * t[..., None] ** 2)
                  * np.cos(TWO_PI * mu * t[..., None]), axis=-1)


def test_kernel_values_and_finite_differences(xp):
    mu, s, lw = np.array([0.3, 2.0, 5.0]), np.array([0.5, 0.2, 1.0]), np.array([0.0, -0.5, 0.3])
    x, z = np.linspace(0, 1, 6), np.linspace(-0.3, 0.8, 5)
    k = SpectralMixture(xp.asarray(mu), xp.asarray(s), log_weights=xp.asarray(lw))
    k0 = k(xp.asarray(x), xp.asarray(z))
    assert_close(k0, _sm_numpy(x[:, None] - z[None, :], mu, s, lw), xp=xp, rtol=1e-13, atol=1e-13)
    # fourth-order central differences in x and z
    h = 1e-3

    def fd(dx, dz):
        if dx == 0 and dz == 0:
            return _sm_numpy(x[:, None] - z[None, :], mu, s, lw)
        if dx > 0:
            f = lambda e: fd_at(dx - 1, dz, e, 0)  # noqa: E731
        else:
            f = lambda e: fd_at(dx, dz - 1, 0, e)  # noqa: E731
        return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)

    def fd_at(dx, dz, ex, ez):
        return to_host(k(xp.asarray(x + ex), xp.asarray(z + ez), dx=dx, dz=dz))

    for dx, dz in [(1, 0), (0, 1), (2, 0), (1, 1), (0, 2), (2, 1), (2, 2), (4, 0), (1, 3)]:
        got = to_host(k(xp.asarray(x), xp.asarray(z), dx=dx, dz=dz))
        ref = fd(dx, dz)
        scale = np.abs(ref).max()
        assert np.abs(got - ref).max() <= 1e-6 * scale, (dx, dz)


def test_kernel_derivatives_against_autograd():
    torch = pytest.importorskip("torch")
    dt = torch.float64
    k = SpectralMixture(torch.tensor([0.3, 2.0], dtype=dt), torch.tensor([0.5, 0.2], dtype=dt),
                        log_weights=torch.tensor([0.0, -0.5], dtype=dt))
    x, z = torch.linspace(0, 1, 4, dtype=dt), torch.linspace(-0.2, 0.9, 3, dtype=dt)
    for dx in range(3):
        for dz in range(3):
            got = k(x, z, dx=dx, dz=dz)
            ref = torch.zeros_like(got)
            for i in range(4):
                for j in range(3):
                    xi, zj = x[i].clone().requires_grad_(), z[j].clone().requires_grad_()
                    v = k(xi.reshape(1), zj.reshape(1))[0, 0]
                    for _ in range(dx):
                        (v,) = torch.autograd.grad(v, xi, create_graph=True)
                    for _ in range(dz):
                        (v,) = torch.autograd.grad(v, zj, create_graph=True)
                    ref[i, j] = v.detach()
            assert float((got - ref).abs().max()) <= 1e-13 * float(ref.abs().max()), (dx, dz)


def test_kernel_float32_and_weights(xp):
    x = np.linspace(0, 1, 5)
    k = SpectralMixture([1.0, 3.0], [0.5, 0.5], log_weights=[0.0, np.log(2.0)])
    got = k(xp.asarray(x, dtype=xp.float32), dx=1, dz=1)
    assert got.dtype == xp.float32
    ref = to_host(k(xp.asarray(x), dx=1, dz=1))
    assert np.abs(to_host(got) - ref).max() <= 1e-4 * np.abs(ref).max()
    assert np.allclose(k.weights, [1.0, 2.0])
    assert np.allclose(np.diag(to_host(k(xp.asarray(x)))), 3.0)


def test_kernel_bad_input():
    with pytest.raises(ValueError, match="`scales`"):
        SpectralMixture([1.0], [0.0])
    with pytest.raises(ValueError, match="`log_weights`"):
        SpectralMixture([1.0, 2.0], [1.0, 1.0], log_weights=[0.0])
    with pytest.raises(ValueError, match="`freqs`"):
        SpectralMixture([np.nan], [1.0])
    k = SpectralMixture([1.0], [1.0])
    with pytest.raises(ValueError, match="`dx` \\+ `dz`"):
        k(np.zeros(3), dx=3, dz=2)
    with pytest.raises(ValueError, match="`x`"):
        k(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="`z`"):
        k(np.zeros(3), np.array([0.0, np.inf]))


# ---------------------------------------------------------------- solver: accuracy

def _poisson_1d(n, w_list, ue, fe, scales, jitter):
    x = np.linspace(0, 1, n)
    k = SpectralMixture([w / TWO_PI for w in w_list], scales)
    solver = GridPDESolver([x], k, jitter=jitter)
    res = solver.solve(fe(x), ue(x))
    t = np.linspace(0, 1, 997)
    return _rel(res.u, ue(x)), _rel(solver.interpolate(res.coef, [t]), ue(t))


def test_poisson_1d_sin100():
    # u = sin(100 x): one mixture component at the true frequency, 100 nodes (6 per period)
    err, err_off = _poisson_1d(100, [100.0], lambda x: np.sin(100 * x), lambda x: 1e4 * np.sin(100 * x),
                               [2.0], 1e-10)
    assert err <= 2e-5 and err_off <= 2e-5  # measured 6.1e-6, 6.1e-6


def test_poisson_1d_multiscale():
    def ue(x):
        return np.sin(x) + 0.1 * np.sin(20 * x) + 0.05 * np.cos(100 * x)

    def fe(x):
        return np.sin(x) + 40 * np.sin(20 * x) + 500 * np.cos(100 * x)

    err, err_off = _poisson_1d(100, [0.0, 20.0, 100.0], ue, fe, [1.0, 1.0, 1.0], 1e-10)
    assert err <= 2e-5 and err_off <= 2e-5  # measured 3.7e-6


def test_poisson_1d_sin500_with_quadratic():
    # GP-HM's u = sin(500 x) - 2 (x - 0.5)^2: a low (mu = 0) and a high component, 300 nodes
    err, err_off = _poisson_1d(300, [0.0, 500.0], lambda x: np.sin(500 * x) - 2 * (x - 0.5) ** 2,
                               lambda x: 500.0**2 * np.sin(500 * x) + 4, [1.0, 3.0], 1e-10)
    assert err <= 1e-4 and err_off <= 1e-4  # measured 1.4e-5 at the nodes


def test_poisson_2d_multiscale():
    x = np.linspace(0, 1, 50)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    lo, hi = np.sin(5 * xx) * np.sin(5 * yy), np.sin(40 * xx) * np.sin(40 * yy)
    u, f = lo + 0.1 * hi, 50 * lo + 0.1 * 3200 * hi
    solver = GridPDESolver([x, x], SpectralMixture([5 / TWO_PI, 40 / TWO_PI], [1.0, 1.0]), jitter=1e-8)
    assert _rel(solver.solve(f, u).u, u) <= 2e-4  # measured 3.2e-5


@pytest.mark.parametrize(("w", "jitter", "bound"), [(20.0, 1e-8, 1e-4), (50.0, 1e-6, 2e-4)])
def test_poisson_2d(w, jitter, bound):
    x = np.linspace(0, 1, 50)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    ue = np.sin(w * xx) * np.sin(w * yy)
    solver = GridPDESolver([x, x], SpectralMixture([w / TWO_PI], [1.0]), jitter=jitter)
    res = solver.solve(2 * w**2 * ue, ue)
    assert isinstance(res, GridPDESolution)
    assert _rel(res.u, ue) <= bound  # measured 1.9e-5 (w = 20), 5.2e-5 (w = 50)


def test_helmholtz_and_advection_diffusion_1d():
    x = np.linspace(0, 1, 60)
    w, kap, nu, a = 15.0, 7.0, 0.5, 3.0
    u = np.sin(w * x) + x**2
    k = SpectralMixture([0.0, w / TWO_PI], [1.0, 1.0])
    helm = GridPDESolver([x], k, reaction=-kap**2)
    f = w**2 * np.sin(w * x) - 2 - kap**2 * u
    assert _rel(helm.solve(f, u).u, u) <= 1e-5  # measured below 1e-5
    ad = GridPDESolver([x], k, diffusion=nu, advection=a)
    f = nu * (w**2 * np.sin(w * x) - 2) + a * (w * np.cos(w * x) + 2 * x)
    assert _rel(ad.solve(f, u).u, u) <= 2e-4  # measured 7.4e-5


def test_allen_cahn_2d():
    solver, u, f = allen_cahn_2d(40)
    res = solver.solve_semilinear(f, u, lambda v: v**3)
    assert _rel(res.u, u) <= 3e-4  # measured 3.7e-5


def test_semilinear_warns_and_checks():
    x = np.linspace(0, 1, 30)
    solver = GridPDESolver([x], SpectralMixture([1.0], [1.0]), reaction=-1.0)
    f, g = 50 * np.sin(7 * x), np.zeros(30)
    with pytest.warns(KronConvergenceWarning, match="2 Picard steps"):
        solver.solve_semilinear(f, g, lambda v: v**3, maxiter=2)
    with pytest.raises(ValueError, match="`nonlinearity` must return an array of the grid's shape"):
        solver.solve_semilinear(f, g, lambda v: v[:-1])
    with pytest.raises(TypeError, match="`nonlinearity` must be callable"):
        solver.solve_semilinear(f, g, 3.0)
    with pytest.raises(ValueError, match="`tol`"):
        solver.solve_semilinear(f, g, np.sin, tol=0.0)


# ---------------------------------------------------------------- solver: against the dense GP

def _dense_collocation(grids, kernels, nu, adv, c, jitter):
    raw, jit, d1, d2 = [], [], [], []
    for g, k in zip(grids, kernels, strict=True):
        kk = k(g, g)
        raw.append(kk)
        jit.append(kk + jitter * np.abs(kk).max() * np.eye(len(g)))
        d1.append(k(g, g, dx=1))
        d2.append(k(g, g, dx=2))
    big_k = kron_all(jit)
    lk = c * big_k
    for j in range(len(grids)):
        parts2 = [jit[i] if i != j else d2[j] for i in range(len(grids))]
        parts1 = [jit[i] if i != j else d1[j] for i in range(len(grids))]
        lk = lk - nu[j] * kron_all(parts2) + adv[j] * kron_all(parts1)
    return lk @ np.linalg.inv(big_k), kron_all(raw), big_k


@pytest.mark.parametrize("dims", [(9,), (8, 7), (6, 5, 4)])
def test_kron_path_equals_dense_gp(dims):
    rng = np.random.default_rng(190)
    grids = [np.linspace(0, 1, n) + 0.01 * rng.uniform(-1, 1, n) for n in dims]
    kernels = [SpectralMixture([0.2 + 0.3 * j, 1.5], [0.8, 0.6], log_weights=[0.0, -1.0]) for j in range(len(dims))]
    nu, adv, c, jitter = [1.0, 0.7, 1.3][:len(dims)], [0.5, -1.0, 0.2][:len(dims)], 2.0, 1e-4
    solver = GridPDESolver(grids, kernels, diffusion=nu, advection=adv, reaction=c, jitter=jitter)
    f = rng.standard_normal(dims)
    g = rng.standard_normal(dims)
    res = solver.solve(f, g)
    lh, kraw, kjit = _dense_collocation(grids, kernels, nu, adv, c, jitter)
    n = lh.shape[0]
    inner = np.zeros(dims, dtype=bool)
    inner[(slice(1, -1),) * len(dims)] = True
    inner = inner.reshape(-1)
    a = np.where(inner[:, None], lh, np.eye(n))
    b = np.where(inner, f.reshape(-1), g.reshape(-1))
    big_u = np.linalg.solve(a, b)
    coef = np.linalg.solve(kjit, big_u)
    assert np.linalg.cond(a) < 1e4  # a well-conditioned case, so 1e-10 is a fair target
    tol = 1e-10
    assert _rel(res.values.reshape(-1), big_u) <= tol
    assert _rel(res.coef.reshape(-1), coef) <= tol
    assert _rel(res.u.reshape(-1), kraw @ coef) <= tol
    assert _rel(solver.apply(res.values).reshape(-1), lh @ big_u) <= tol
    # interpolation at the nodes reproduces the mean
    assert _rel(solver.interpolate(res.coef, grids), res.u) <= tol
    # a second solve reuses the cached factorization (Schur forms in 2-D)
    f2 = rng.standard_normal(dims)
    b2 = np.where(inner, f2.reshape(-1), g.reshape(-1))
    assert _rel(solver.solve(f2, g).values.reshape(-1), np.linalg.solve(a, b2)) <= tol


def test_backends_1d(xp):
    # a well-conditioned Gram (jitter 1e-6), so the backends agree to eps * cond
    x = np.linspace(0, 1, 20)
    k = SpectralMixture([0.0, 1.5], [1.0, 0.7])
    f, g = np.cos(3 * x), np.sin(2 * x)
    opts = {"advection": 0.5, "reaction": 1.0, "jitter": 1e-6}
    ref = GridPDESolver([x], k, **opts).solve(f, g)
    solver = GridPDESolver([xp.asarray(x)], k, **opts)
    res = solver.solve(xp.asarray(f), xp.asarray(g))
    scale = np.abs(ref.u).max()
    assert_close(res.u, ref.u, xp=xp, rtol=0, atol=1e-9 * scale)
    assert_close(res.values, ref.values, xp=xp, rtol=0, atol=1e-9 * np.abs(ref.values).max())
    t = xp.asarray(np.linspace(0, 1, 7))
    assert_close(solver.interpolate(res.coef, [t]), GridPDESolver([x], k, **opts)
                 .interpolate(ref.coef, [np.linspace(0, 1, 7)]), xp=xp, rtol=1e-8, atol=1e-9 * scale)


def test_float32_jitter_floor(xp):
    # float32: the nugget is raised to 1000 eps (1.2e-4); with 1e-10 the solve is garbage
    w = 20.0
    x = np.linspace(0, 1, 40)
    u = np.sin(w * x)
    solver = GridPDESolver([xp.asarray(x, dtype=xp.float32)], SpectralMixture([w / TWO_PI], [1.0]))
    res = solver.solve(xp.asarray(w**2 * u, dtype=xp.float32), xp.asarray(u, dtype=xp.float32))
    assert res.u.dtype == xp.float32
    assert _rel(res.u, u) <= 3e-2  # measured 6e-3


def _assert_grad_matches_central_difference(torch, loss, mu, h=1e-5):
    """Autograd's d loss / d mu[0] against a central difference (to 1e-4 relative)."""
    (grad,) = torch.autograd.grad(loss(mu), mu)
    with torch.no_grad():
        fd = (loss(mu + h) - loss(mu - h)) / (2 * h)
    assert abs(float(grad[0]) - float(fd)) <= 1e-4 * abs(float(fd))


def test_torch_gradient_in_kernel_frequency():
    torch = pytest.importorskip("torch")
    dt = torch.float64
    # small and well conditioned (jitter 1e-4), so central differences are accurate
    x = torch.linspace(0, 1, 15, dtype=dt)
    w = 5.0
    ue = torch.sin(w * x)

    def loss(mu):
        solver = GridPDESolver([x], SpectralMixture(mu, torch.tensor([1.0], dtype=dt)), jitter=1e-4)
        res = solver.solve(w**2 * ue, ue)
        return torch.sum((res.u - ue) ** 2)

    mu = torch.tensor([2.0], dtype=dt, requires_grad=True)
    _assert_grad_matches_central_difference(torch, loss, mu)


# ---------------------------------------------------------------- bad input

def test_bad_input():
    x, y = np.linspace(0, 1, 6), np.linspace(0, 1, 5)
    k = SpectralMixture([1.0], [1.0])
    solver = GridPDESolver([x, y], k)
    good = np.zeros((6, 5))
    with pytest.raises(ValueError, match="`f` must have the grid's shape \\(6, 5\\).*\\(5, 6\\)"):
        solver.solve(np.zeros((5, 6)), good)
    with pytest.raises(ValueError, match="`boundary`.*\\(6, 5\\).*\\(30,\\)"):
        solver.solve(good, np.zeros(30))
    bad = good.copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="`f`"):
        solver.solve(bad, good)
    with pytest.raises(ValueError, match="`boundary`"):
        solver.solve(good, np.where(bad == bad, 0.0, np.inf))
    with pytest.raises(ValueError, match="`kernels`.*2.*got 3"):
        GridPDESolver([x, y], [k, k, k])
    with pytest.raises(TypeError, match="`kernels\\[1\\]`"):
        GridPDESolver([x, y], [k, "rbf"])
    with pytest.raises(ValueError, match="`diffusion`.*2.*got 3"):
        GridPDESolver([x, y], k, diffusion=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="`grids\\[1\\]` must be strictly increasing"):
        GridPDESolver([x, y[::-1]], k)
    with pytest.raises(ValueError, match="`grids\\[0\\]` must have at least 3"):
        GridPDESolver([x[:2]], k)
    with pytest.raises(ValueError, match="`points`.*2.*got 1"):
        solver.interpolate(good, [x])
    with pytest.raises(ValueError, match="`reaction`"):
        GridPDESolver([x], k, reaction=np.inf)
    with pytest.raises(ValueError, match="`jitter`"):
        GridPDESolver([x], k, jitter=-1.0)
    f0, g0 = good.copy(), good.copy()
    solver.solve(f0, g0)
    assert not f0.any() and not g0.any()  # inputs not modified
    # the solver keeps its own copy of the grids (its factors depend on them)
    xs = np.linspace(0, 1, 6)
    s1 = GridPDESolver([xs], k)
    coef = s1.solve(np.ones(6), np.zeros(6)).coef
    before = s1.interpolate(coef, [np.array([0.3])])
    xs[:] = 5.0
    assert np.array_equal(s1.interpolate(coef, [np.array([0.3])]), before)


def test_two_axes_need_numpy_or_torch():
    import array_api_strict as xs

    x = xs.asarray(np.linspace(0, 1, 5))
    with pytest.raises(TypeError, match="`grids` with 2 axes need NumPy or torch"):
        GridPDESolver([x, x], SpectralMixture([1.0], [1.0]))


def test_torch_two_axes_eig_route():
    torch = pytest.importorskip("torch")
    # against the NumPy (Bartels-Stewart) path on a well-conditioned small case
    rng = np.random.default_rng(192)
    grids = [np.linspace(0, 1, 8), np.linspace(0, 1, 7)]
    k = SpectralMixture([0.2, 1.5], [0.8, 0.6])
    opts = {"diffusion": [1.0, 0.7], "advection": [0.5, -1.0], "reaction": 2.0, "jitter": 1e-4}
    f, g = rng.standard_normal((8, 7)), rng.standard_normal((8, 7))
    ref = GridPDESolver(grids, k, **opts).solve(f, g)
    got = GridPDESolver([torch.tensor(x) for x in grids], k, **opts).solve(torch.tensor(f), torch.tensor(g))
    for name in ("u", "coef", "values"):
        assert _rel(getattr(got, name), getattr(ref, name)) <= 1e-10, name
    # accuracy on sin(20 x) sin(20 y), 50^2 nodes
    w = 20.0
    x = np.linspace(0, 1, 50)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    u = np.sin(w * xx) * np.sin(w * yy)
    xt = torch.tensor(x)
    res = GridPDESolver([xt, xt], SpectralMixture([w / TWO_PI], [1.0]), jitter=1e-6).solve(
        torch.tensor(2 * w**2 * u), torch.tensor(u))
    assert _rel(res.u, u) <= 1e-4  # measured 2.6e-5 (NumPy: 2.6e-5)


def test_torch_two_axes_gradient():
    torch = pytest.importorskip("torch")
    dt = torch.float64
    x, y = torch.linspace(0, 1, 10, dtype=dt), torch.linspace(0, 1, 9, dtype=dt)
    xx, yy = torch.meshgrid(x, y, indexing="ij")
    u = torch.sin(3 * xx) * torch.sin(2 * yy)

    def loss(mu):
        solver = GridPDESolver([x, y], SpectralMixture(mu, torch.tensor([1.0], dtype=dt)), jitter=1e-4)
        return torch.sum((solver.solve(13 * u, u).u - u) ** 2)

    mu = torch.tensor([0.4], dtype=dt, requires_grad=True)
    _assert_grad_matches_central_difference(torch, loss, mu)


# ---------------------------------------------------------------- L u off the nodes, and the fit

def test_apply_at_against_dense():
    rng = np.random.default_rng(191)
    grids = [np.linspace(0, 1, 7), np.linspace(0, 2, 6)]
    kernels = [SpectralMixture([0.3, 1.0], [0.8, 0.5]), SpectralMixture([0.5], [0.6])]
    solver = GridPDESolver(grids, kernels, diffusion=[1.0, 0.5], advection=[0.3, -0.7], reaction=1.5)
    coef = rng.standard_normal((7, 6))
    pts = [rng.uniform(0, 1, 4), rng.uniform(0, 2, 3)]
    got = solver.apply_at(coef, pts)
    c = [k(t, g) for k, t, g in zip(kernels, pts, grids, strict=True)]
    c1 = [k(t, g, dx=1) for k, t, g in zip(kernels, pts, grids, strict=True)]
    c2 = [k(t, g, dx=2) for k, t, g in zip(kernels, pts, grids, strict=True)]
    dense = (-np.kron(c2[0], c[1]) - 0.5 * np.kron(c[0], c2[1]) + 0.3 * np.kron(c1[0], c[1])
             - 0.7 * np.kron(c[0], c1[1]) + 1.5 * np.kron(c[0], c[1]))
    assert _rel(got.reshape(-1), dense @ coef.reshape(-1)) <= 1e-13
    assert _rel(solver.interpolate(coef, pts).reshape(-1), np.kron(c[0], c[1]) @ coef.reshape(-1)) <= 1e-13


def _fit_problem(lib):
    w = 100.0
    x = np.linspace(0, 1, 60)
    t = (x[1:] + x[:-1]) / 2
    conv = lib.asarray if lib is not np else np.asarray
    return w, [conv(x)], [conv(t)], conv(w**2 * np.sin(w * x)), conv(np.sin(w * x)), conv(w**2 * np.sin(w * t))


def _objective(solver, res, pts, fp):
    r = np.asarray(to_host(solver.apply_at(res.coef, pts))) - np.asarray(to_host(fp))
    return np.sum(r**2) / np.sum(np.asarray(to_host(fp)) ** 2)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_fit_lowers_the_residual(lib):
    mod = np if lib == "numpy" else pytest.importorskip("torch")
    w, grids, pts, f, g, fp = _fit_problem(mod)
    start = SpectralMixture(mod.asarray([13.0]), mod.asarray([0.5]))
    solver = GridPDESolver(grids, start, jitter=1e-6)
    j0 = _objective(solver, solver.solve(f, g), pts, fp)
    if lib == "torch":  # small tensors: one thread avoids contention on shared machines
        threads = mod.get_num_threads()
        mod.set_num_threads(1)
    try:
        res = fit_grid_pde(grids, start, f, g, pts, fp, fit=("freqs", "scales"), jitter=1e-6, maxiter=4)
    finally:
        if lib == "torch":
            mod.set_num_threads(threads)
    assert isinstance(res, GridPDEFit)
    assert res.objective <= j0  # measured 9.07e-9 -> 8.95e-9 (NumPy), 3.9e-9 (torch)
    assert abs(res.objective - _objective(res.solver, res.solution, pts, fp)) <= 1e-6 * res.objective
    assert float(res.kernels[0].freqs[0]) == pytest.approx(float(to_host(res.solver.kernels[0].freqs)[0]))
    u = np.sin(w * np.linspace(0, 1, 60))
    assert _rel(res.solution.u, u) <= 1e-3


def test_fit_bad_input():
    _, grids, pts, f, g, fp = _fit_problem(np)
    k = SpectralMixture([13.0], [0.5])
    with pytest.raises(ValueError, match="`fit`"):
        fit_grid_pde(grids, k, f, g, pts, fp, fit=("mu",))
    with pytest.raises(ValueError, match="`f_points`.*\\(59,\\).*\\(60,\\)"):
        fit_grid_pde(grids, k, f, g, pts, f)
    with pytest.raises(ValueError, match="`f_points`"):
        fit_grid_pde(grids, k, f, g, pts, np.where(np.arange(59) == 3, np.nan, fp))
    with pytest.raises(ValueError, match="`maxiter`"):
        fit_grid_pde(grids, k, f, g, pts, fp, maxiter=0)
    with pytest.raises(ValueError, match="`boundary`"):
        fit_grid_pde(grids, k, f, g[:-1], pts, fp)
