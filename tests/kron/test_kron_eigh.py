import numpy as np
import pytest
import scipy.linalg
from _kron_helpers import exp_kernel, kron_all, one_blas_thread, rbf, spd  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import KronConvergenceWarning, KronEigh, KronOperator

EPS = np.finfo(float).eps


def _to(xp, mats):
    return [m if isinstance(m, int) else xp.asarray(m) for m in mats]


@pytest.mark.parametrize("n", [10, pytest.param(16, marks=pytest.mark.slow)])
def test_grid_cube_solve_and_logdet_against_dense(n):
    # The acceptance case is n = 16 (4096 points, marked slow): relative agreement 1e-10
    # with a dense Cholesky for every noise level.
    x = np.linspace(0, 1, n)
    mats = [exp_kernel(x, 0.3), exp_kernel(x, 0.5), exp_kernel(x, 0.2)]
    rng = np.random.default_rng(20)
    y = rng.standard_normal((n**3, 2))
    ke = KronEigh(mats)
    kdense = kron_all(mats)
    for s2 in (1e-2, 1e-4, 1e-6):
        dense = kdense + s2 * np.eye(n**3)
        c = scipy.linalg.cho_factor(dense, overwrite_a=True)
        ref = scipy.linalg.cho_solve(c, y)
        ref_ld = 2 * np.sum(np.log(np.diag(c[0])))
        sol = ke.solve(y, shift=s2)
        assert np.linalg.norm(sol - ref) <= 1e-10 * np.linalg.norm(ref), s2
        assert abs(float(ke.logdet(shift=s2)) - ref_ld) <= 1e-10 * abs(ref_ld), s2


@pytest.mark.parametrize("nrhs", [None, 3])
def test_solve_logdet_small(xp, nrhs):
    rng = np.random.default_rng(21)
    mats = [spd(rng, 3), 2, spd(rng, 4, cond=100)]
    dense = kron_all(mats) + 0.05 * np.eye(24)
    y = rng.standard_normal((24,) if nrhs is None else (24, nrhs))
    ke = KronEigh(_to(xp, mats))
    ref = np.linalg.solve(dense, y)
    tol = 20 * np.linalg.cond(dense) * EPS * np.abs(ref).max()
    assert_close(ke.solve(xp.asarray(y), shift=0.05), ref, xp=xp, rtol=0, atol=tol)
    assert_close(ke.logdet(shift=0.05), np.asarray(np.linalg.slogdet(dense)[1]), xp=xp, rtol=1e-12)
    assert_close(ke @ xp.asarray(y), kron_all(mats) @ y, xp=xp, rtol=1e-12)
    np.testing.assert_allclose(np.sort(to_host(ke.eigenvalues)), np.linalg.eigvalsh(kron_all(mats)), rtol=1e-12)


def test_complex_hermitian_factors(xp):
    rng = np.random.default_rng(22)
    g = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    h = g @ g.conj().T + np.eye(3)
    mats = [h, spd(rng, 2)]
    dense = kron_all(mats) + 0.1 * np.eye(6)
    y = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    ke = KronEigh(_to(xp, mats))
    assert_close(ke.solve(xp.asarray(y), shift=0.1), np.linalg.solve(dense, y), xp=xp, rtol=1e-12)
    assert_close(ke.logdet(shift=0.1), np.asarray(np.linalg.slogdet(dense)[1]), xp=xp, rtol=1e-12)


def test_kronecker_diagonal_noise(xp):
    rng = np.random.default_rng(23)
    mats = [spd(rng, 4), spd(rng, 3), spd(rng, 2)]
    noise = [rng.uniform(0.5, 2.0, n) for n in (4, 3, 2)]
    dvec = kron_all([d[None, :] for d in noise])[0]
    for shift in (1e-3, 0.7):
        dense = kron_all(mats) + shift * np.diag(dvec)
        y = rng.standard_normal((24, 2))
        ke = KronEigh(_to(xp, mats), noise=_to(xp, noise))
        ref = np.linalg.solve(dense, y)
        tol = 20 * np.linalg.cond(dense) * EPS * np.abs(ref).max()
        assert_close(ke.solve(xp.asarray(y), shift=shift), ref, xp=xp, rtol=0, atol=tol)
        assert_close(ke.logdet(shift=shift), np.asarray(np.linalg.slogdet(dense)[1]), xp=xp, rtol=1e-12)


def test_general_diagonal_pcg(xp):
    rng = np.random.default_rng(24)
    x = np.linspace(0, 1, 8)
    mats = [rbf(x, x, 0.3), exp_kernel(x, 0.4), rbf(x[:5], x[:5], 0.5)]
    v = rng.uniform(0.01, 0.1, 320)
    dense = kron_all(mats) + np.diag(v)
    y = rng.standard_normal((320, 2))
    ref = np.linalg.solve(dense, y)
    ke = KronEigh(_to(xp, mats))
    res = ke.solve_diag(xp.asarray(y), xp.asarray(v), tol=1e-12)
    assert res.converged and 0 < res.iterations < 100 and res.residual <= 1e-11
    tol = 1e-11 * np.linalg.cond(dense) * np.abs(ref).max()
    assert_close(res.x, ref, xp=xp, rtol=0, atol=tol)
    # the residual: a 0-d array of the input's namespace (no host read of its own), from x
    xh = to_host(res.x)
    true = np.max(np.linalg.norm(y - dense @ xh, axis=0) / np.linalg.norm(y, axis=0))
    assert_close(res.residual, np.asarray(true), xp=xp, rtol=0, atol=1e-13)  # ~ 6e-13, rounding ~ 2e-15
    # A constant diagonal is exactly the preconditioner: one iteration (read after each one).
    res = ke.solve_diag(xp.asarray(y[:, 0]), xp.asarray(np.full(320, 0.05)), tol=1e-10, check_every=1)
    assert res.converged and res.iterations == 1


def test_pcg_nonconvergence_is_reported(xp):
    rng = np.random.default_rng(25)
    x = np.linspace(0, 1, 10)
    mats = [rbf(x, x, 0.2), rbf(x, x, 0.2)]
    v = np.exp(rng.uniform(np.log(1e-6), 0.0, 100))  # six decades of noise
    ke = KronEigh(_to(xp, mats))
    with pytest.warns(KronConvergenceWarning, match=r"PCG stopped after 2 iterations with relative residual"):
        res = ke.solve_diag(xp.asarray(rng.standard_normal(100)), xp.asarray(v), tol=1e-12, maxiter=2)
    assert not res.converged and res.iterations == 2 and res.residual > 1e-12


def test_errors(xp):
    a = np.array([[2.0, 1.0], [0.5, 2.0]])
    with pytest.raises(ValueError, match=r"`factors\[1\]` must be symmetric \(Hermitian\); max\|K - K\^H\| / max\|K\| = 0.25"):
        KronEigh([xp.asarray(np.eye(3)), xp.asarray(a)])
    with pytest.raises(ValueError, match=r"`factors\[0\]` must be a square matrix; got shape \(2, 3\)"):
        KronEigh([xp.ones((2, 3))])
    ke = KronEigh([xp.asarray(np.diag([1.0, -2.0])), 2])
    with pytest.raises(ValueError, match="must be positive definite; its smallest eigenvalue .* is -1.5 with shift = 0.5"):
        ke.solve(xp.ones((4,)), shift=0.5)
    with pytest.raises(ValueError, match="must be positive definite; its smallest eigenvalue .* is 0 with shift = 2"):
        ke.logdet(shift=2.0)
    ke = KronEigh([xp.asarray(np.eye(2)), 3])
    with pytest.raises(ValueError, match=r"`y` must have shape \(6,\) or \(6, k\) to match the factor sizes 2 x 3 = 6 \(of factors\[0\], factors\[1\]\); got shape \(5,\)"):
        ke.solve(xp.ones((5,)), shift=1.0)
    with pytest.raises(ValueError, match=r"`noise\[1\]` must have length 3 \(the order of factor 1, `factors\[1\]`\); got 2"):
        KronEigh([xp.asarray(np.eye(2)), 3], noise=[xp.ones((2,)), xp.ones((2,))])
    with pytest.raises(ValueError, match=r"`noise\[0\]` must be positive; its smallest entry is -1"):
        KronEigh([xp.asarray(np.eye(2))], noise=[xp.asarray(np.array([1.0, -1.0]))])
    with pytest.raises(ValueError, match="`diag` must be positive; its smallest entry is 0"):
        ke.solve_diag(xp.ones((6,)), xp.zeros((6,)))
    with pytest.raises(ValueError, match="`diag` must have length N = 6; got 5"):
        ke.solve_diag(xp.ones((6,)), xp.ones((5,)))
    with pytest.raises(ValueError, match="`shift` must be a finite real number; got nan"):
        ke.solve(xp.ones((6,)), shift=float("nan"))


def test_inputs_not_modified(xp):
    rng = np.random.default_rng(26)
    mats = [spd(rng, 3), spd(rng, 2)]
    noise = [np.ones(3) * 2, np.ones(2)]
    y = rng.standard_normal(6)
    copies = [m.copy() for m in mats + noise] + [y.copy()]
    ke = KronEigh(_to(xp, mats), noise=_to(xp, noise))
    ke.solve(xp.asarray(y), shift=0.1)
    ke.solve_diag(xp.asarray(y), xp.asarray(np.full(6, 0.3)))
    for m, c in zip([*mats, *noise, y], copies, strict=True):
        np.testing.assert_array_equal(m, c)


def test_kronoperator_eigh_agrees(xp):
    rng = np.random.default_rng(27)
    mats = [spd(rng, 3), spd(rng, 5)]
    y = rng.standard_normal(15)
    a = KronOperator(_to(xp, mats)).eigh().solve(xp.asarray(y), shift=0.0)
    b = KronOperator(_to(xp, mats)).solve(xp.asarray(y))
    assert_close(a, to_host(b), xp=xp, rtol=1e-12)


def test_pcg_warm_start(xp):
    rng = np.random.default_rng(28)
    mats = [spd(rng, 4), spd(rng, 5)]
    v = rng.uniform(0.1, 1.0, 20)
    y = rng.standard_normal(20)
    ref = np.linalg.solve(kron_all(mats) + np.diag(v), y)
    ke = KronEigh(_to(xp, mats))
    res = ke.solve_diag(xp.asarray(y), xp.asarray(v), x0=xp.asarray(ref), tol=1e-10)
    assert res.converged and res.iterations == 0
    cold = ke.solve_diag(xp.asarray(y), xp.asarray(v), tol=1e-12)
    warm = ke.solve_diag(xp.asarray(y), xp.asarray(v), x0=xp.asarray(ref + 1e-3), tol=1e-12)
    assert warm.converged and cold.converged
    assert_close(warm.x, ref, xp=xp, rtol=1e-9)
