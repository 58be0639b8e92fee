"""Regression tests for the kron defects of issue 12 (each fails on the code before the fix)."""

import functools

import numpy as np
import pytest
import scipy.linalg
from _kron_helpers import kron_all, kron_sum_dense, one_blas_thread, spd  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import (
    GridGP,
    KronEigh,
    KronOperator,
    kron_sum_solve,
    mode_product,
    multi_mode_product,
    nearest_kron,
    poisson_solve,
    solve_lyapunov,
    solve_sylvester,
    sum_kron_solve,
)

EPS = np.finfo(float).eps


def _is(xp, name):
    return name in xp.__name__


# ---------------------------------------------------------------- defect 6: copies and caches

def _scale_in_place(xp, a):
    a *= 2  # in place on every backend (the array API's in-place operators)


def test_operator_copies_factors_solve_and_matmul_agree(xp):
    # Issue: `K.solve(b); A *= 2` left solve on the old factorization (residual 2.0) while `@`
    # followed the change.  Now both are the matrix at construction.
    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal((2, 2)) + 3 * np.eye(2)
    a = xp.asarray(a0.copy())
    rhs = rng.standard_normal(6)
    op = KronOperator([a, xp.asarray(b0)])
    x = op.solve(xp.asarray(rhs))
    _scale_in_place(xp, a)
    assert_close(a, 2 * a0, xp=xp, rtol=0)  # the caller's array did change
    dense = np.kron(a0, b0)
    ref = np.linalg.solve(dense, rhs)
    assert_close(op @ x, rhs, xp=xp, rtol=0, atol=20 * EPS * np.abs(rhs).max() * np.linalg.cond(dense))
    assert_close(op.solve(xp.asarray(rhs)), ref, xp=xp, rtol=1e-12)
    assert_close(op.lstsq(xp.asarray(rhs)), ref, xp=xp, rtol=1e-12)
    assert_close(op.to_dense(), dense, xp=xp, rtol=0)


def test_kroneigh_copies_factors(xp):
    rng = np.random.default_rng(1)
    k0, k1 = spd(rng, 3), spd(rng, 2)
    a = xp.asarray(k0.copy())
    ke = KronEigh([a, xp.asarray(k1)])
    _scale_in_place(xp, a)
    y = rng.standard_normal(6)
    dense = np.kron(k0, k1)
    assert_close(ke @ xp.asarray(y), dense @ y, xp=xp, rtol=1e-13)
    assert_close(ke.solve(xp.asarray(y), shift=0.1), np.linalg.solve(dense + 0.1 * np.eye(6), y), xp=xp,
                 rtol=1e-11)


def test_gridgp_copies_targets(xp):
    # GridGP kept the caller's `y` while `alpha` was cached: after `y *= 2` the log marginal
    # likelihood paired the new y with the old alpha (-45.0 instead of -32.9 here).
    x = np.linspace(0, 1, 5)
    k = np.exp(-np.abs(x[:, None] - x[None, :]) / 0.3)
    y0 = np.random.default_rng(13).standard_normal(25)
    y = xp.asarray(y0.copy())
    gp = GridGP([xp.asarray(k), xp.asarray(k)], 0.1, y)
    _scale_in_place(xp, y)
    dense = np.kron(k, k) + 0.1 * np.eye(25)
    alpha = np.linalg.solve(dense, y0)
    lml = -0.5 * y0 @ alpha - 0.5 * np.linalg.slogdet(dense)[1] - 12.5 * np.log(2 * np.pi)
    assert abs(float(gp.log_marginal_likelihood()) - lml) <= 1e-12 * abs(lml)
    assert_close(gp.y, y0, xp=xp, rtol=0)
    assert_close(gp.alpha, alpha, xp=xp, rtol=1e-12)


def test_solve_factorizes_once_on_every_backend(xp, monkeypatch):
    # Off NumPy, every solve used to call xp.linalg.solve on each factor (a new LU per call).
    rng = np.random.default_rng(2)
    mats = [rng.standard_normal((3, 3)) + 3 * np.eye(3), 2, rng.standard_normal((4, 4)) + 4 * np.eye(4)]
    calls = []
    if _is(xp, "torch"):
        import torch

        target, attr = torch.linalg, "lu_factor_ex"
    elif _is(xp, "numpy"):
        target, attr = scipy.linalg, "lu_factor"
    else:
        target, attr = xp.linalg, "inv"
    orig = getattr(target, attr)

    def counted(*args, **kwargs):
        calls.append(1)
        return orig(*args, **kwargs)

    monkeypatch.setattr(target, attr, counted)
    op = KronOperator([m if isinstance(m, int) else xp.asarray(m) for m in mats])
    dense = kron_all(mats)
    for seed in range(3):
        b = np.random.default_rng(seed).standard_normal((24, 2))
        assert_close(op.solve(xp.asarray(b)), np.linalg.solve(dense, b), xp=xp, rtol=1e-12)
    assert len(calls) == 2  # one factorization per non-identity factor, for all three solves


# ---------------------------------------------------------------- defect 11: NaN/inf, options

def _with(a, value):
    b = np.array(a, dtype=float, copy=True)
    b.flat[b.size // 2] = value
    return b


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_operands_refused_by_name(xp, bad):
    s3, s2 = spd(np.random.default_rng(3), 3), spd(np.random.default_rng(4), 2)
    ones6 = np.ones(6)
    op = KronOperator([xp.asarray(s3), xp.asarray(s2)])
    ke = KronEigh([xp.asarray(s3), xp.asarray(s2)])
    gp = GridGP([xp.asarray(s3), xp.asarray(s2)], 0.1, xp.asarray(ones6))
    calls = {
        "b": [lambda v: op @ v, op.matvec, op.solve, op.lstsq,
              lambda v: kron_sum_solve([xp.asarray(s3), xp.asarray(s2)], v)],
        "y": [ke.solve, lambda v: ke.solve_diag(v, xp.asarray(ones6)),
              lambda v: sum_kron_solve([xp.asarray(s3), xp.asarray(s2)], [xp.asarray(s3), xp.asarray(s2)], v),
              lambda v: GridGP([xp.asarray(s3), xp.asarray(s2)], 0.1, v)],
        "diag": [lambda v: ke.solve_diag(xp.asarray(ones6), v)],
        "x0": [lambda v: ke.solve_diag(xp.asarray(ones6), xp.asarray(ones6), x0=v)],
    }
    for name, fns in calls.items():
        for fn in fns:
            with pytest.raises(ValueError, match=rf"`{name}` must contain only finite values"):
                fn(xp.asarray(_with(ones6, bad)))
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="`x` must contain only finite values"):
        mode_product(xp.asarray(_with(x, bad)), xp.asarray(s2), 1)
    with pytest.raises(ValueError, match="`x` must contain only finite values"):
        multi_mode_product(xp.asarray(_with(x, bad)), [xp.asarray(s3)])
    with pytest.raises(ValueError, match=r"`cross\[1\]` must contain only finite values"):
        gp.predict([xp.asarray(s3), xp.asarray(_with(s2, bad))])
    with pytest.raises(ValueError, match=r"`test_diag\[0\]` must contain only finite values"):
        gp.predict([xp.asarray(s3), xp.asarray(s2)], test_diag=[xp.asarray(_with(np.ones(3), bad)),
                                                                xp.asarray(np.ones(2))])
    with pytest.raises(ValueError, match=r"`noise\[1\]` must contain only finite values"):
        KronEigh([xp.asarray(s3), xp.asarray(s2)], noise=[xp.asarray(np.ones(3)), xp.asarray(_with(np.ones(2), bad))])


@pytest.mark.parametrize("value,exc,msg", [
    (float("nan"), ValueError, "`{}` must be a finite real number"),
    (float("inf"), ValueError, "`{}` must be a finite real number"),
    (True, TypeError, "`{}` must be a real number; got True"),
    ("0.1", TypeError, "`{}` must be a real number; got '0.1'"),
])
def test_float_options_checked(xp, value, exc, msg):
    s3 = xp.asarray(spd(np.random.default_rng(5), 3))
    ke = KronEigh([s3])
    y = xp.ones((3,))
    cases = {
        "rtol": lambda: KronEigh([s3], rtol=value),
        "shift": lambda: ke.solve(y, shift=value),
        "tol": lambda: ke.solve_diag(y, y, tol=value),
        "precond_shift": lambda: ke.solve_diag(y, y, precond_shift=value),
        "noise": lambda: GridGP([s3], value, y),
        "h": lambda: poisson_solve(y, value),
        "energy": lambda: nearest_kron(xp.asarray(np.eye(4)), (2, 2), (2, 2), energy=value),
    }
    cases["kron_sum_solve shift"] = lambda: kron_sum_solve([s3], y, shift=value)
    for name, call in cases.items():
        with pytest.raises(exc, match=msg.format(name.split()[-1]).replace("(", r"\(")):
            call()
    with pytest.raises(ValueError, match="`rtol` must be a finite real number >= 0; got -1.0"):
        KronEigh([s3], rtol=-1.0)


def test_booleans_refused_as_integers(xp):
    x = xp.ones((2, 3))
    with pytest.raises(TypeError, match="`axis` must be an integer; got the boolean True"):
        mode_product(x, xp.ones((4, 3)), True)
    with pytest.raises(TypeError, match="`axes` must be an integer; got the boolean True"):
        multi_mode_product(x, [xp.ones((4, 3))], axes=[True])
    with pytest.raises(TypeError, match="`rank` must be an integer; got the boolean True"):
        nearest_kron(xp.asarray(np.eye(4)), (2, 2), (2, 2), rank=True)
    with pytest.raises(TypeError, match=r"`shape_b\[0\]` must be an integer; got the boolean True"):
        nearest_kron(xp.asarray(np.eye(4)), (True, 4), (4, 1))
    with pytest.raises(TypeError, match=r"`factors\[1\]` must be a 2-D array or an integer identity "
                                        r"order; got the boolean True"):
        KronOperator([xp.ones((2, 2)), True])  # not the identity I_1
    with pytest.raises(TypeError, match="`maxiter` must be an integer; got the boolean True"):
        KronEigh([xp.asarray(np.eye(2))]).solve_diag(xp.ones((2,)), xp.ones((2,)), maxiter=True)


def test_float16_named_and_lists_accepted():
    a16 = np.eye(2, dtype=np.float16)
    for call, name in ((lambda: KronOperator([a16]), r"factors\[0\]"),
                       (lambda: KronOperator([np.eye(2)]) @ np.ones(2, np.float16), "b"),
                       (lambda: KronEigh([np.eye(2)]).solve(np.ones(2, np.float16)), "y"),
                       (lambda: solve_sylvester(a16, np.eye(2), np.ones((2, 2))), "a"),
                       (lambda: mode_product(np.ones((2, 2), np.float16), np.eye(2), 0), "x"),
                       (lambda: poisson_solve(np.ones(3, np.float16)), "f"),
                       (lambda: GridGP([a16], 0.1, np.ones(2)), r"kernels\[0\]")):
        with pytest.raises(TypeError, match=rf"`{name}` has dtype float16"):
            call()
    a, b = [[3.0, 1.0], [1.0, 2.0]], [[2.0, 0.0], [0.0, 1.0]]
    dense = np.kron(a, b)
    rhs = [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_allclose(KronOperator([a, b]) @ rhs, dense @ rhs, rtol=1e-14)
    np.testing.assert_allclose(KronOperator([a, b]).solve(rhs), np.linalg.solve(dense, rhs), rtol=1e-13)
    np.testing.assert_allclose(KronEigh([a, b]).solve(rhs, shift=0.5),
                               np.linalg.solve(dense + 0.5 * np.eye(4), rhs), rtol=1e-13)
    np.testing.assert_allclose(solve_sylvester(a, b, [[1.0, 2.0], [3.0, 4.0]]),
                               scipy.linalg.solve_sylvester(np.array(a), np.array(b), np.array([[1.0, 2.0], [3.0, 4.0]])),
                               rtol=1e-13)
    np.testing.assert_allclose(mode_product([[1.0, 2.0], [3.0, 4.0]], a, 0), np.array(a) @ [[1.0, 2.0], [3.0, 4.0]])


def test_gridgp_names_kernels(xp):
    with pytest.raises(ValueError, match=r"`kernels\[1\]` must be a square matrix"):
        GridGP([xp.asarray(np.eye(2)), xp.ones((2, 3))], 0.1, xp.ones((4,)))
    with pytest.raises(ValueError, match=r"`kernels\[0\]` must be symmetric"):
        GridGP([xp.asarray(np.array([[1.0, 2.0], [0.0, 1.0]]))], 0.1, xp.ones((2,)))
    with pytest.raises(ValueError, match=r"`kernels\[0\]` must contain only finite values"):
        GridGP([xp.asarray(_with(np.eye(3), np.nan))], 0.1, xp.ones((3,)))
    with pytest.raises(ValueError, match=r"K \+ noise\*D must be positive definite.*with noise = 0.5 "
                                         r"\(K: the Kronecker product of `kernels`\)"):
        GridGP([xp.asarray(-np.eye(2))], 0.5, xp.ones((2,)))


# ---------------------------------------------------------------- size 0

def test_size_zero_gives_empty_results(xp):
    e00, e2 = xp.zeros((0, 0)), xp.asarray(np.eye(2))
    x = solve_sylvester(e00, e2, xp.zeros((0, 2)))
    assert x.shape == (0, 2)
    assert scipy.linalg.solve_sylvester(np.empty((0, 0)), np.eye(2), np.empty((0, 2))).shape == (0, 2)
    assert solve_sylvester(e2, e00, xp.zeros((2, 0))).shape == (2, 0)
    assert solve_lyapunov(e00, e00).shape == (0, 0)
    assert kron_sum_solve([e00, e2], xp.zeros((0,))).shape == (0,)
    assert kron_sum_solve([e00, e2], xp.zeros((0, 3))).shape == (0, 3)
    ke = KronEigh([e00, e2], noise=[xp.zeros((0,)), xp.ones((2,))])
    assert ke.solve(xp.zeros((0,))).shape == (0,)
    assert float(ke.logdet(shift=1.0)) == 0.0  # det of the 0 x 0 matrix is 1
    op = KronOperator([e00, e2])
    assert op.shape == (0, 0) and op.solve(xp.zeros((0,))).shape == (0,)
    assert float(op.logdet()) == 0.0
    assert op.to_dense().shape == (0, 0) and (op @ xp.zeros((0, 2))).shape == (0, 2)
    assert KronOperator([xp.zeros((0, 2)), e2]).lstsq(xp.zeros((0,))).shape == (4,)
    assert sum_kron_solve([e00], [e00], xp.zeros((0,))).shape == (0,)
    # A 0-row factor in a chain of mode products (ZeroDivisionError in the contraction order).
    y = multi_mode_product(xp.ones((3, 4)), [xp.zeros((0, 3)), xp.ones((2, 4))])
    assert y.shape == (0, 2)
    y = multi_mode_product(xp.ones((3, 4, 2)), [xp.ones((5, 3)), xp.zeros((0, 4))], axes=[0, 1])
    assert y.shape == (5, 0, 2)
    assert mode_product(xp.ones((3, 0)), xp.ones((2, 3)), 0).shape == (2, 0)


def test_size_zero_mismatch_names_the_factor(xp):
    with pytest.raises(ValueError, match=r"`b` must have shape \(0,\).*\(of factors\[0\], factors\[1\]\)"):
        KronOperator([xp.zeros((0, 0)), xp.asarray(np.eye(2))]) @ xp.ones((4,))
    with pytest.raises(ValueError, match=r"`y` must have shape \(0,\).*\(of kernels\[0\], kernels\[1\]\)"):
        GridGP([xp.zeros((0, 0)), xp.asarray(np.eye(2))], 0.1, xp.ones((4,)))


# ---------------------------------------------------------------- ZeroDivisionError, scaling

def test_poisson_extreme_spacings(xp):
    f = np.random.default_rng(6).standard_normal((3, 4))
    u1 = to_host(poisson_solve(xp.asarray(f), 1.0))
    for h in (1e-150, 1e150, 2.0**-500):
        assert_close(poisson_solve(xp.asarray(f), h), (u1 * h) * h, xp=xp, rtol=1e-13)
    # 1e-200: 1 / h^2 used to raise ZeroDivisionError; the solution (about 1e-400) underflows to 0.
    assert np.all(to_host(poisson_solve(xp.asarray(f), 1e-200)) == 0)
    # Mixed spacings: only the ratios enter the eigenvalues.
    dense = kron_sum_dense([(2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)) / h**2
                            for n, h in ((3, 1e-100), (4, 2e-100))])
    ref = np.linalg.solve(dense * 1e-200, f.reshape(-1)) * 1e-200
    assert_close(poisson_solve(xp.asarray(f), (1e-100, 2e-100)), ref.reshape(3, 4), xp=xp, rtol=1e-12)
    with pytest.raises(ValueError, match=r"the solution overflows .*float64: .* with `h` = 1e\+200"):
        poisson_solve(xp.asarray(f), 1e200)
    with pytest.raises(ValueError, match=r"`h\[1\]` must be a finite real number > 0; got 0.0"):
        poisson_solve(xp.asarray(f), (1.0, 0.0))


@pytest.mark.parametrize("scale", [2.0**500, 2.0**-500])
def test_extreme_scales_give_the_scaled_answer(scale):
    rng = np.random.default_rng(7)
    # Non-symmetric three-factor Kronecker sum: SciPy's eig returned wrong eigenvalues at 2**500.
    mats = [rng.standard_normal((n, n)) + n * np.eye(n) for n in (2, 3, 2)]
    b = rng.standard_normal(12)
    x = kron_sum_solve([scale * m for m in mats], b, shift=0.0)
    ref = np.linalg.solve(kron_sum_dense(mats), b) / scale
    np.testing.assert_allclose(x, ref, rtol=1e-10)
    # nearest_kron: ||A||^2 overflowed (OverflowError) at 2**500; the relative error is scale-free.
    a = np.kron(rng.standard_normal((2, 3)), rng.standard_normal((3, 2))) + 0.1 * rng.standard_normal((6, 6))
    r1, rs = nearest_kron(a, (2, 3), (3, 2)), nearest_kron(a * scale, (2, 3), (3, 2))
    assert abs(rs.error - r1.error) <= 1e-12 and 0 < r1.error < 1
    np.testing.assert_allclose(rs.s, r1.s * scale, rtol=1e-12)
    re = nearest_kron(a * scale, (2, 3), (3, 2), energy=0.99)
    assert re.B.shape[0] == nearest_kron(a, (2, 3), (3, 2), energy=0.99).B.shape[0]
    # solve_diag: the inner products of PCG overflowed/underflowed with y at 2**+-500.
    ke = KronEigh([spd(rng, 3), spd(rng, 2)])
    v = rng.uniform(0.5, 1.5, 6)
    y = rng.standard_normal(6)
    res = ke.solve_diag(y * scale, v, tol=1e-12)
    ref = np.linalg.solve(kron_all([to_host(f) for f in ke.factors]) + np.diag(v), y)
    assert res.converged
    np.testing.assert_allclose(res.x / scale, ref, rtol=1e-10)


# ---------------------------------------------------------------- solve_sylvester routes

@functools.cache
def _n300(seed):
    rng = np.random.default_rng(seed)
    n = 300
    a = np.cov(rng.standard_normal((n, 2 * n)))
    b = np.cov(rng.standard_normal((n, 2 * n)))
    a, b = (a + a.T) / 2, (b + b.T) / 2  # exactly symmetric
    return a, b, rng.standard_normal((n, n))


def _rel_residual(a, b, c, x):
    return np.linalg.norm(a @ x + x @ b - c) / ((np.linalg.norm(a) + np.linalg.norm(b)) * np.linalg.norm(x))


def test_sylvester_n300_residual_matches_scipy():
    # Issue: input within 100 n eps of symmetric took the eigh route and reached a residual
    # ~2000x SciPy's (2.9e-10 vs 1.5e-13).  Now: exact symmetry -> eigh, anything else -> Schur.
    a, b, c = _n300(8)
    n = a.shape[0]
    ref = _rel_residual(a, b, c, scipy.linalg.solve_sylvester(a, b, c))
    assert ref < 10 * EPS
    x = solve_sylvester(a, b, c)  # exactly symmetric: the eigh route
    assert _rel_residual(a, b, c, x) <= 4 * ref
    # Nearly symmetric (asymmetry up to 50 n eps, inside the 100 n eps tolerance): the Schur route.
    rng = np.random.default_rng(9)
    an = a + 50 * n * EPS * np.abs(a).max() * np.triu(rng.uniform(-1, 1, (n, n)), 1)
    refn = _rel_residual(an, b, c, scipy.linalg.solve_sylvester(an, b, c))
    assert _rel_residual(an, b, c, solve_sylvester(an, b, c)) <= 4 * refn
    # method="eigh" symmetrizes: its backward error then includes the asymmetry, as documented.
    xe = solve_sylvester(an, b, c, method="eigh")
    asym = np.linalg.norm(an - an.T) / 2
    assert np.linalg.norm(an @ xe + xe @ b - c) <= 4 * ref * (np.linalg.norm(an) + np.linalg.norm(b)) * \
        np.linalg.norm(xe) + 2 * asym * np.linalg.norm(xe)


@pytest.mark.parametrize("method", ["eigh", "schur", "auto"])
def test_sylvester_condition_1e10_solved_on_both_routes(method):
    # Issue: the eigh route refused condition 1e10 (its threshold was m n eps max|a_i + b_j|)
    # while the Schur route refused nothing.  Both now refuse only min|a_i + b_j| <= eps (||A|| + ||B||).
    rng = np.random.default_rng(10)
    n = 60
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.linspace(1.0, 2.0, n)) @ q.T
    a = (a + a.T) / 2
    b = -a + 1e-10 * np.eye(n)  # a_i + b_j = a_i - a_j + 1e-10: condition ~ 1e10
    c = rng.standard_normal((n, n))
    ref = scipy.linalg.solve_sylvester(a, b, c)
    x = solve_sylvester(a, b, c, method=method)
    assert _rel_residual(a, b, c, x) <= 10 * EPS
    assert np.linalg.norm(x - ref) <= 1e10 * 100 * EPS * np.linalg.norm(ref)
    # Numerically singular (condition ~ 1e17): refused by the same test on either route.
    bs = -a
    with pytest.raises(np.linalg.LinAlgError, match=r"the Sylvester operator is singular to working precision: "
                                                     r"min\|eigenvalue sum\| = .* <= eps \* \(\|\|A\|\|_F \+ \|\|B\|\|_F\)"):
        solve_sylvester(a, bs, c, method=method)


def _lyap_ok(a, x, q):
    r = np.linalg.norm(a @ x + x @ a.T - q)
    assert r <= 100 * EPS * (2 * np.linalg.norm(a) * np.linalg.norm(x) + np.linalg.norm(q)), r


def test_lyapunov_and_kron_sum_share_the_singularity_test():
    with pytest.raises(np.linalg.LinAlgError, match="the Lyapunov operator is singular") as exc:
        solve_lyapunov(np.diag([1.0, -1.0]), np.eye(2))
    assert "condition estimate" in str(exc.value)
    a = np.diag([1.0, -1.0 + 1e-9])  # eigenvalue sums 2, 1e-9, -2 + 2e-9: condition ~ 2e9
    _lyap_ok(a, solve_lyapunov(a, np.eye(2)), np.eye(2))
    g = np.array([[1.0, 0.5], [0.0, -1.0 + 1e-9]])  # the Schur route, same threshold
    _lyap_ok(g, solve_lyapunov(g, np.eye(2)), np.eye(2))
    b = np.ones(4)
    # min|a_i + b_j| = 2e-9: solved by the eigenvalue route (symmetric) and Bartels-Stewart.
    for mats in ([a, np.diag([0.0, 1.0 - 3e-9])], [g, np.array([[0.0, 1.0], [0.0, 1.0 - 3e-9]])]):
        dense = kron_sum_dense(mats)
        x = kron_sum_solve(mats, b)
        assert np.linalg.norm(dense @ x - b) <= 100 * EPS * np.linalg.norm(dense) * np.linalg.norm(x)
    for mats in ([np.diag([1.0, -1.0]), np.diag([1.0, 3.0])],
                 [np.array([[1.0, 0.5], [0.0, -1.0]]), np.array([[1.0, 2.0], [0.0, 3.0]])]):
        with pytest.raises(np.linalg.LinAlgError, match="the Kronecker sum is singular to working precision"):
            kron_sum_solve(mats, b)


def test_schur_route_real_matrices_complex_right_hand_side():
    # scipy.linalg.solve_sylvester hands the real quasi-triangular Schur form of a real `a` to
    # ztrsyl when `c` is complex, which reads it as triangular: residual 0.6 here.  The old
    # orthla delegated to it (also in kron_sum_solve); the Schur forms are now complex then.
    rng = np.random.default_rng(11)
    a = rng.standard_normal((5, 5))  # complex-conjugate eigenvalue pairs: 2 x 2 Schur blocks
    b = rng.standard_normal((3, 3)) + 4 * np.eye(3)
    c = rng.standard_normal((5, 3)) + 1j * rng.standard_normal((5, 3))
    x = solve_sylvester(a, b, c)
    assert np.linalg.norm(a @ x + x @ b - c) <= 100 * EPS * (np.linalg.norm(a) + np.linalg.norm(b)) * np.linalg.norm(x)
    ref = np.linalg.solve(np.kron(a, np.eye(3)) + np.kron(np.eye(5), b.T), c.reshape(-1)).reshape(5, 3)
    np.testing.assert_allclose(x, ref, rtol=1e-11)
    q = rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5))
    xl = solve_lyapunov(a - 3 * np.eye(5), q)
    np.testing.assert_allclose((a - 3 * np.eye(5)) @ xl + xl @ (a - 3 * np.eye(5)).T, q, atol=1e-12 * np.abs(q).max())
    bb = rng.standard_normal(15) + 1j * rng.standard_normal(15)
    xs = kron_sum_solve([a, b], bb, shift=0.5)
    np.testing.assert_allclose(kron_sum_dense([a, b]) @ xs + 0.5 * xs, bb, atol=1e-12 * np.abs(bb).max() * 10)


def test_nearly_symmetric_routes_off_numpy(xp):
    # Backends without a Schur form symmetrize input within 100 n eps (documented) and refuse
    # anything less symmetric; NumPy sends the same input to Bartels-Stewart.
    rng = np.random.default_rng(12)
    n = 20
    a, b = spd(rng, n), spd(rng, n)
    pert = 10 * n * EPS * np.triu(rng.uniform(-1, 1, (n, n)), 1)
    an = a + pert
    c = rng.standard_normal((n, n))
    x = to_host(solve_sylvester(xp.asarray(an), xp.asarray(b), xp.asarray(c)))
    bound = 100 * EPS * (np.linalg.norm(an) + np.linalg.norm(b)) * np.linalg.norm(x) + \
        2 * np.linalg.norm(an - an.T) * np.linalg.norm(x)
    assert np.linalg.norm(an @ x + x @ b - c) <= bound
    if not _is(xp, "numpy"):
        with pytest.raises(TypeError, match="non-symmetric Sylvester equations use Bartels-Stewart"):
            solve_sylvester(xp.asarray(a + 1e-3 * np.triu(np.ones((n, n)), 1)), xp.asarray(b), xp.asarray(c))
    # KronEigh symmetrizes a factor within rtol, so `@`, solve and the eigenvalues describe one matrix.
    ke = KronEigh([xp.asarray(an), xp.asarray(spd(rng, 2))])
    f0 = to_host(ke.factors[0])
    np.testing.assert_array_equal(f0, f0.T)
    np.testing.assert_allclose(f0, (an + an.T) / 2, rtol=0, atol=0)
    y = rng.standard_normal(2 * n)
    xk = ke.solve(xp.asarray(y), shift=0.1)
    assert_close(ke @ xk + 0.1 * xk, y, xp=xp, rtol=0, atol=1e-12 * np.abs(y).max() * 100)


# ---------------------------------------------------------------- nearest_kron, svds route

def _nk_matrix():
    rng = np.random.default_rng(14)
    return np.kron(rng.standard_normal((40, 40)), rng.standard_normal((20, 20))) + 1e-3 * rng.standard_normal((800, 800))


@pytest.mark.parametrize("scale", [2.0**520, 1e300, 1e-200, 2.0**-520])
def test_nearest_kron_svds_extreme_scales(scale):
    # svds works on R^H R (entries ~ ||A||^2): ArpackError at 2**510 and 1e-200 before.
    a = _nk_matrix()
    ref = nearest_kron(a, (40, 40), (20, 20), rank=2, method="svd")
    res = nearest_kron(a * scale, (40, 40), (20, 20), rank=2, method="svds", rng=0)
    np.testing.assert_allclose(res.s / scale, ref.s, rtol=1e-10)
    assert abs(res.error - ref.error) <= 1e-6 * ref.error  # error^2 ~ 1e-6: eps / 1e-6 relative
    np.testing.assert_allclose(np.kron(res.B[0], res.C[0]) / scale, np.kron(ref.B[0], ref.C[0]),
                               rtol=0, atol=1e-12 * np.abs(a).max())


@pytest.mark.parametrize("scale", [1.0, 1e15, 1e25, 1e-20])
def test_nearest_kron_svds_float32_error_estimate(scale):
    # The float32 error estimate 1 - sum (s / ||A||)^2 used a float32 ||A|| (off by ~sqrt(N) eps)
    # and came out 0.0 for a true relative error of 1e-3; 1e25 raised ArpackError.
    a = _nk_matrix()
    true = nearest_kron(a, (40, 40), (20, 20), rank=2, method="svd").error
    res = nearest_kron((a * scale).astype(np.float32), (40, 40), (20, 20), rank=2, method="svds", rng=0)
    eps32 = float(np.finfo(np.float32).eps)
    assert res.s.dtype == np.float32
    assert abs(res.error**2 - true**2) <= 4 * eps32  # sum s_i^2 accurate to a few eps ||A||^2
    np.testing.assert_allclose(res.s / np.float32(scale), nearest_kron(a, (40, 40), (20, 20), rank=2).s,
                               rtol=1e-4)


def test_nearest_kron_svds_no_extra_copy_and_zero_matrix():
    # ||A||_F in one pass: the scaled norm made two more N-sized arrays (peak 2.0x A, now 1.03x).
    import tracemalloc

    a = _nk_matrix()
    nearest_kron(a, (40, 40), (20, 20), rank=2, method="svds", rng=0)
    tracemalloc.start()
    try:
        nearest_kron(a, (40, 40), (20, 20), rank=2, method="svds", rng=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 1.5 * a.nbytes
    z = nearest_kron(np.zeros((800, 800)), (40, 40), (20, 20), rank=2, method="svds", rng=0)
    assert z.error == 0.0 and not np.any(z.s) and not np.any(z.B) and not np.any(z.C)


# ---------------------------------------------------------------- Sylvester/Lyapunov scaling

@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("scale", [1e-300, 1e300, 2.0**-1000])
def test_sylvester_lyapunov_power_of_two_scaling(scale, symmetric):
    # ?TRSYL perturbs eigenvalue sums below its safe minimum (~1e-291): A, B at 1e-300 were
    # refused as "singular" (LinAlgError) although the equation is homogeneous; the eigh route
    # divided by tiny eigenvalue sums.  Both now solve the equation scaled by a power of two.
    rng = np.random.default_rng(15)
    a, b, c = rng.standard_normal((6, 6)), rng.standard_normal((4, 4)), rng.standard_normal((6, 4))
    if symmetric:
        a, b = a + a.T, b + b.T
    ref = np.linalg.solve(np.kron(a, np.eye(4)) + np.kron(np.eye(6), b.T), c.reshape(-1)).reshape(6, 4)
    cond = np.linalg.cond(np.kron(a, np.eye(4)) + np.kron(np.eye(6), b.T))
    x = solve_sylvester(a * scale, b * scale, c)
    np.testing.assert_allclose(x * scale, ref, rtol=0, atol=100 * EPS * cond * np.abs(ref).max())
    x = solve_sylvester(a * scale, b * scale, c * scale)
    np.testing.assert_allclose(x, ref, rtol=0, atol=100 * EPS * cond * np.abs(ref).max())
    al = a - 12 * np.eye(6)
    q = c @ c.T
    refl = np.linalg.solve(np.kron(al, np.eye(6)) + np.kron(np.eye(6), al), q.reshape(-1)).reshape(6, 6)
    xl = solve_lyapunov(al * scale, q)
    np.testing.assert_allclose(xl * scale, refl, rtol=0, atol=1e-12 * np.abs(refl).max())


def test_sylvester_overflowing_solution_refused():
    # The true solution 1e320 is beyond float64: a ValueError naming the overflow, not inf
    # with a RuntimeWarning (eigh route) or "singular" (Schur route).
    with pytest.raises(ValueError, match="the solution of the Sylvester operator overflows float64"):
        solve_sylvester(np.array([[1e-320]]), np.array([[0.0]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="the solution of the Sylvester operator overflows float64"):
        solve_sylvester(np.array([[1e-310, 1e-311], [0.0, 2e-310]]), np.zeros((1, 1)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="the solution of the Lyapunov operator overflows float64"):
        solve_lyapunov(np.array([[-1e-310, 1e-311], [0.0, -2e-310]]), np.ones((2, 2)))


@pytest.mark.parametrize("scale", [1e-300, 2.0**-1000, 1e300])
def test_kron_sum_power_of_two_scaling(scale):
    # Two non-symmetric factors at 1e-300 went to ?TRSYL, which refused them as singular; a
    # 1e320 solution came back inf with a RuntimeWarning.  Now scaled like solve_sylvester.
    rng = np.random.default_rng(16)
    mats = [rng.standard_normal((5, 5)), rng.standard_normal((4, 4))]
    b = rng.standard_normal((20, 2))
    dense = kron_sum_dense(mats) + 0.3 * np.eye(20)
    ref = np.linalg.solve(dense, b)
    x = kron_sum_solve([m * scale for m in mats], b, shift=0.3 * scale)
    np.testing.assert_allclose(x * scale, ref, rtol=0, atol=100 * EPS * np.linalg.cond(dense) * np.abs(ref).max())
    with pytest.raises(ValueError, match="the solution of the Kronecker sum overflows float64"):
        kron_sum_solve([np.array([[1e-320]])], np.ones(1))


def test_solves_report_overflow(xp):
    # Finite input, solution beyond float64: KronOperator.solve returned inf silently and
    # KronEigh.solve inf/NaN with RuntimeWarnings (overflow in the division, inf * 0 in the GEMM).
    tiny, e2 = xp.asarray(np.array([[1e-300]])), xp.asarray(np.eye(2))
    big = xp.asarray(np.full(2, 1e10))
    with pytest.raises(ValueError, match=r"the solution of A x = b overflows .*float64"):
        KronOperator([tiny, e2]).solve(big)
    with pytest.raises(ValueError, match=r"the solution of \(K \+ shift D\) x = y overflows .*float64"):
        KronEigh([tiny, e2]).solve(big)
    # Representable solutions are unaffected: 1e-300 x = 1e-10 gives 1e290.
    x = KronOperator([tiny, e2]).solve(xp.asarray(np.full(2, 1e-10)))
    assert_close(x, np.full(2, 1e290), xp=xp, rtol=1e-15)
    assert_close(KronEigh([tiny, e2]).solve(xp.asarray(np.full(2, 1e-10))), np.full(2, 1e290), xp=xp, rtol=1e-15)


def test_fro_norm_one_pass_on_numpy():
    # The scale of every Sylvester/Kronecker-sum singularity test: max|a| and a / max|a| made
    # two copies of each factor (+10% on kron_sum_solve 2 x 50); now one BLAS pass unless the
    # squares over- or underflow, which still take the scaled route.
    import tracemalloc

    from orthla.kron._common import fro_norm

    a = np.random.default_rng(17).standard_normal((300, 300))
    ref = np.linalg.norm(a)
    fro_norm(a, np)
    tracemalloc.start()
    try:
        assert abs(fro_norm(a, np) - ref) <= 1e-14 * ref
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < a.nbytes / 10
    for s in (2.0**600, 2.0**-600, 1e-300):
        assert abs(fro_norm(a * s, np) / s - ref) <= 1e-14 * ref
    assert abs(fro_norm(a.astype(np.float32) * np.float32(1e30), np) / 1e30 - ref) <= 1e-6 * ref
