import numpy as np
import pytest
import scipy.linalg
from _kron_helpers import kron_all, one_blas_thread, rbf  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import GridGP, KronConvergenceWarning


def _grid_problem(rng, sizes, tsizes, ells):
    xs = [np.sort(rng.uniform(0, 1, n)) for n in sizes]
    ts = [np.linspace(0, 1, t) for t in tsizes]
    ks = [rbf(x, x, ell) for x, ell in zip(xs, ells, strict=True)]
    cross = [rbf(t, x, ell) for t, x, ell in zip(ts, xs, ells, strict=True)]
    return ks, cross


@pytest.mark.parametrize("s2", [1e-2, 1e-4])
def test_full_grid_against_dense_gp(xp, s2):
    rng = np.random.default_rng(60)
    ks, cross = _grid_problem(rng, (6, 5, 4), (3, 4, 2), (0.3, 0.5, 0.4))
    kd, cd = kron_all(ks), kron_all(cross)
    n = kd.shape[0]
    y = rng.standard_normal(n)
    gp = GridGP([xp.asarray(k) for k in ks], s2, xp.asarray(y))
    chol = scipy.linalg.cho_factor(kd + s2 * np.eye(n))
    alpha = scipy.linalg.cho_solve(chol, y)
    lml = -0.5 * y @ alpha - np.sum(np.log(np.diag(chol[0]))) - 0.5 * n * np.log(2 * np.pi)
    mean_ref = cd @ alpha
    var_ref = np.ones(cd.shape[0]) - np.einsum("ij,ji->i", cd, scipy.linalg.cho_solve(chol, cd.T))
    cond = np.linalg.cond(kd + s2 * np.eye(n))
    tol = 1e-13 * cond
    assert_close(gp.alpha, alpha, xp=xp, rtol=0, atol=tol * np.abs(alpha).max())
    assert_close(gp.log_marginal_likelihood(), np.asarray(lml), xp=xp, rtol=tol)
    pred = gp.predict([xp.asarray(c) for c in cross], test_diag=[xp.ones((c.shape[0],)) for c in cross])
    assert_close(pred.mean, mean_ref, xp=xp, rtol=0, atol=tol * np.abs(mean_ref).max())
    assert_close(pred.var, var_ref, xp=xp, rtol=0, atol=tol)
    assert pred.var.shape == (24,)
    assert gp.predict([xp.asarray(c) for c in cross]).var is None


def test_several_targets(xp):
    rng = np.random.default_rng(61)
    ks, cross = _grid_problem(rng, (5, 4), (3, 3), (0.3, 0.3))
    y = rng.standard_normal((20, 3))
    gp = GridGP([xp.asarray(k) for k in ks], 1e-2, xp.asarray(y))
    single = [GridGP([xp.asarray(k) for k in ks], 1e-2, xp.asarray(y[:, j])) for j in range(3)]
    lml = sum(float(g.log_marginal_likelihood()) for g in single)
    assert abs(float(gp.log_marginal_likelihood()) - lml) <= 1e-10 * abs(lml)
    mean = gp.predict([xp.asarray(c) for c in cross]).mean
    assert_close(mean[:, 1], to_host(single[1].predict([xp.asarray(c) for c in cross]).mean), xp=xp, rtol=1e-12)


def test_masked_grid_pcg_against_dense(xp):
    rng = np.random.default_rng(62)
    ks, cross = _grid_problem(rng, (8, 7, 6), (3, 3, 3), (0.3, 0.4, 0.5))
    kd, cd = kron_all(ks), kron_all(cross)
    n = kd.shape[0]
    mask = rng.uniform(size=n) > 0.15
    y = rng.standard_normal(n)
    s2 = 1e-2
    obs = np.flatnonzero(mask)
    koo = kd[np.ix_(obs, obs)] + s2 * np.eye(obs.size)
    alpha_o = np.linalg.solve(koo, y[obs])
    mean_ref = cd[:, obs] @ alpha_o
    gp = GridGP([xp.asarray(k) for k in ks], s2, xp.asarray(y), mask=xp.asarray(mask), tol=1e-12)
    assert gp.pcg.converged and gp.pcg.residual <= 1e-11
    alpha = to_host(gp.alpha)
    assert np.all(alpha[~mask] == 0)
    assert np.linalg.norm(alpha[obs] - alpha_o) <= 1e-10 * np.linalg.norm(alpha_o)
    mean = to_host(gp.predict([xp.asarray(c) for c in cross]).mean)
    assert np.linalg.norm(mean - mean_ref) <= 1e-10 * np.linalg.norm(mean_ref)
    with pytest.raises(ValueError, match="log_marginal_likelihood is exact only on a full grid"):
        gp.log_marginal_likelihood()
    with pytest.raises(ValueError, match="the exact variance formula needs a full grid"):
        gp.predict([xp.asarray(c) for c in cross], test_diag=[xp.ones((3,))] * 3)


def test_masked_grid_nonconvergence_warns(xp):
    rng = np.random.default_rng(63)
    ks, _ = _grid_problem(rng, (8, 8), (2, 2), (0.3, 0.3))
    mask = rng.uniform(size=64) > 0.5
    with pytest.warns(KronConvergenceWarning, match="PCG stopped after 1 iterations"):
        gp = GridGP([xp.asarray(k) for k in ks], 1e-6, xp.asarray(rng.standard_normal(64)),
                    mask=xp.asarray(mask), maxiter=1)
    assert not gp.pcg.converged


def test_errors(xp):
    k = xp.asarray(rbf(np.linspace(0, 1, 4), np.linspace(0, 1, 4), 0.3))
    with pytest.raises(ValueError, match="`noise` must be a finite real number > 0; got 0.0"):
        GridGP([k], 0.0, xp.ones((4,)))
    with pytest.raises(ValueError, match=r"`y` must have shape \(16,\) or \(16, k\) for the grid 4 x 4 \(of kernels\[0\], kernels\[1\]\); got \(15,\)"):
        GridGP([k, k], 0.1, xp.ones((15,)))
    with pytest.raises(ValueError, match="`mask` must be a boolean array of length 16"):
        GridGP([k, k], 0.1, xp.ones((16,)), mask=xp.ones((16,)))
    gp = GridGP([k, k], 0.1, xp.ones((16,)))
    with pytest.raises(ValueError, match=r"`cross\[1\]` must have 4 columns"):
        gp.predict([xp.ones((2, 4)), xp.ones((2, 3))])
    with pytest.raises(ValueError, match=r"`cross` must have one matrix per axis \(2\); got 1"):
        gp.predict([xp.ones((2, 4))])
    with pytest.raises(ValueError, match="must be positive definite"):
        GridGP([xp.asarray(-np.eye(2))], 0.5, xp.ones((2,)))


def test_log_marginal_likelihood_gradient_torch(xp):
    # GP-HM style hyperparameter training: d(log p(y)) / d(lengthscales) by torch autograd
    # through KronEigh (eigh, mode products, log), checked by central differences.
    from orthla._backend import is_torch

    if not is_torch(xp):
        pytest.skip("autograd test: torch only")
    import torch

    rng = np.random.default_rng(64)
    xs = [torch.asarray(np.sort(rng.uniform(0, 1, n))) for n in (6, 5, 4)]
    y = torch.asarray(rng.standard_normal(6 * 5 * 4))
    s2 = 1e-2

    def lml(ells):
        # Matern-1/2 factors: distinct eigenvalues, so the eigh backward is well conditioned.
        ks = [torch.exp(-torch.abs(x[:, None] - x[None, :]) / ell) for x, ell in zip(xs, ells, strict=True)]
        return GridGP(ks, s2, y).log_marginal_likelihood()

    ell0 = np.array([0.3, 0.5, 0.4])
    ells = torch.tensor(ell0, requires_grad=True)
    out = lml(ells)
    assert out.requires_grad
    out.backward()
    grad = ells.grad.detach().numpy()
    fd = np.empty(3)
    for i in range(3):
        h = 1e-5 * ell0[i]
        with torch.no_grad():
            up, dn = ell0.copy(), ell0.copy()
            up[i] += h
            dn[i] -= h
            fd[i] = (float(lml(torch.asarray(up))) - float(lml(torch.asarray(dn)))) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
    # The same gradient through KronEigh.solve / logdet directly (several right-hand sides).
    ells.grad = None
    ks = [torch.exp(-torch.abs(x[:, None] - x[None, :]) / ell) for x, ell in zip(xs, ells, strict=True)]
    from orthla.kron import KronEigh

    ke = KronEigh(ks)
    direct = -0.5 * torch.sum(y * ke.solve(y, shift=s2)) - 0.5 * ke.logdet(shift=s2) - 0.5 * y.shape[0] * np.log(2 * np.pi)
    direct.backward()
    np.testing.assert_allclose(ells.grad.detach().numpy(), fd, rtol=1e-6)
