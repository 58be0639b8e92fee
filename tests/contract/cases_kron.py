"""Contract cases for orthla.kron (see ``_case.Case``).

Every public callable of the family, each checked against a dense formula built with
``numpy.kron`` (or SciPy) from the arrays actually passed.  The factors are small (2-4
factors of order 2-4) with entries chosen so that rounding them to integers (the sweep's
``int`` variant) keeps every property the call needs: symmetric positive definite stays
so, nonsingular and full-rank factors stay nonsingular and full rank.  Keys name the
arguments as the messages do: ``f0`` is ``factors[0]``, ``k0`` is ``kernels[0]``...
"""

import numpy as np
import scipy.linalg

from orthla import kron

from ._case import Case, host

_rng = np.random.default_rng(20261212)

# Symmetric positive definite (diagonally dominant, also after rounding).
S2 = np.array([[3.4, 0.8], [0.8, 2.6]])
S3 = np.array([[4.2, 1.1, 0.3], [1.1, 5.3, -0.9], [0.3, -0.9, 3.7]])
S4 = np.array([[5.1, 1.2, 0.4, -0.7], [1.2, 4.3, 0.9, 0.2], [0.4, 0.9, 3.8, 1.1], [-0.7, 0.2, 1.1, 4.6]])
# Nonsymmetric, eigenvalues in the right half plane (also after rounding).
G2 = np.array([[3.3, -1.2], [0.7, 2.6]])
G3 = np.array([[4.2, 1.3, -0.6], [0.4, 3.7, 1.2], [-1.1, 0.8, 5.4]])
# Full column rank (also after rounding), and a general wide matrix.
T42 = np.array([[2.1, 0.3], [0.6, 1.8], [-1.2, 0.4], [0.3, -2.2]])
T32 = np.array([[1.7, -0.6], [0.4, 2.3], [1.2, 0.9]])
W23 = np.array([[1.3, -0.4, 2.2], [0.6, 1.9, -1.1]])
EPS = np.finfo(np.float64).eps
TOL = 1e-11


def _f(x):
    """The host array as float64 (or complex128): the reference's working precision."""
    if not isinstance(x, np.ndarray | np.generic | list | float | int):
        x = host(x)
    x = np.asarray(x)
    return np.asarray(x, dtype=np.result_type(x.dtype, np.float64))


def _kron(*mats):
    out = np.ones((1, 1))
    for m in mats:
        out = np.kron(out, np.eye(m) if isinstance(m, int) else _f(m))
    return out


def _kron_sum(*mats):
    dims = [m.shape[0] for m in mats]
    total = 0
    for k, m in enumerate(mats):
        parts = [np.eye(n) for n in dims]
        parts[k] = _f(m)
        total = total + _kron(*parts)
    return total


def _norm(x):
    """Frobenius norm without over/underflow at 2**+-500."""
    x = _f(x)
    s = np.max(np.abs(x)) if x.size else 0.0
    return float(s * np.linalg.norm(x / s)) if s > 0 else 0.0


def _close(got, want, what, tol=TOL):
    got, want = _f(got), _f(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = _norm(got - want)
    assert err <= tol * max(_norm(want), np.finfo(float).tiny), f"{what}: relative error {err / _norm(want):.3g}"


def _residual_ok(mat, x, b, what, tol=TOL):
    """Backward error of ``mat x = b``: ||mat x - b|| <= tol (||mat|| ||x|| + ||b||)."""
    mat, x, b = _f(mat), _f(x), _f(b)
    r = _norm(mat @ x - b)
    scale = _norm(mat) * _norm(x) + _norm(b)
    assert r <= tol * scale, f"{what}: relative residual {r / scale:.3g}"


# ---------------------------------------------------------------- KronOperator

B6 = _rng.standard_normal((6, 2))
B12 = _rng.standard_normal(12)
X342 = _rng.standard_normal((3, 4, 2))


def _check_dense(res, a):
    _close(res, _kron(a["f0"], 2, a["f1"]), "to_dense")


def _check_matvec(res, a):
    _close(res, _kron(a["f0"], 2, a["f1"]) @ _f(a["b"]), "A @ b")


def _check_solve(res, a):
    _residual_ok(_kron(a["f0"], a["f1"]), res, a["b"], "solve")


def _check_lstsq(res, a):
    dense = _kron(a["f0"], a["f1"])
    ref = np.linalg.lstsq(dense, _f(a["b"]), rcond=None)[0]
    # Normal equations of the computed solution: dense^T (dense x - b) = 0 up to rounding.
    _close(res, ref, "lstsq", tol=1e-9)


def _check_inv(res, a):
    dense = _kron(a["f0"], 2, a["f1"])
    _residual_ok(dense, res, np.eye(dense.shape[0]), "inv")


def _check_logdet(res, a):
    sign, ld = np.linalg.slogdet(_kron(a["f0"], a["f1"]))
    assert sign > 0
    assert abs(float(_f(res)) - ld) <= 1e-12 * max(abs(ld), 1.0), (float(_f(res)), ld)


def _check_eigh(res, a):
    want = np.linalg.eigvalsh(_kron(a["f0"], a["f1"]))
    _close(np.sort(_f(res)), want, "eigh eigenvalues", tol=1e-12)


def _check_svd(res, a):
    s, rec = res
    dense = _kron(a["f0"], a["f1"])
    _close(rec, dense, "U diag(s) Vh")
    _close(np.sort(_f(s))[::-1], np.linalg.svd(dense, compute_uv=False), "singular values", tol=1e-12)


def _probe(n, k=None):
    """Deterministic operand of the operator's size (which a size-0 factor changes)."""
    v = np.cos(np.arange(n * (k or 1)) + 0.5)
    return v if k is None else v.reshape(n, k)


def _check_linop(res, a):
    y, z = res
    dense = _kron(a["f0"], a["f1"])
    _close(y, dense @ _probe(dense.shape[1], 2), "LinearOperator @ X")
    _close(z, dense.T @ _probe(dense.shape[0]), "LinearOperator.rmatvec")


def _svd_call(xp, f0, f1):
    r = kron.KronOperator([f0, f1]).svd()
    u, vh = r.U.to_dense(), r.Vh.to_dense()
    return r.s, u @ (r.s[:, None] * vh)


def _linop_call(xp, f0, f1):
    lo = kron.KronOperator([f0, f1]).as_linear_operator()
    m, n = lo.shape
    return lo @ _probe(n, 2), lo.rmatvec(_probe(m))


_F = {"f0": "factors[0]", "f1": "factors[1]", "f2": "factors[2]"}
_FI = {"f0": "factors[0]", "f1": "factors[2]"}  # [f0, 2, f1]: an identity in between

OPERATOR = [
    Case("KronOperator", lambda xp, f0, f1: kron.KronOperator([f0, 2, f1]).to_dense(),
         {"f0": T32, "f1": W23}, names=_FI, homogeneous=True, check=_check_dense),
    Case("KronOperator.to_dense", lambda xp, f0, f1: kron.KronOperator([f0, 2, f1]).to_dense(),
         {"f0": G2, "f1": T42}, names=_FI, homogeneous=True, check=_check_dense),
    Case("KronOperator.matvec", lambda xp, f0, f1, b: kron.KronOperator([f0, 2, f1]).matvec(b),
         {"f0": T32, "f1": W23, "b": _rng.standard_normal((12, 3))}, names=_FI, homogeneous=True,
         check=_check_matvec),
    Case("KronOperator.solve", lambda xp, f0, f1, b: kron.KronOperator([f0, f1]).solve(b),
         {"f0": G3, "f1": G2, "b": B6}, names=_F, homogeneous=True, check=_check_solve),
    Case("KronOperator.solve", lambda xp, f0, f1, b: kron.KronOperator([f0, f1]).solve(b),
         {"f0": S3, "f1": G2, "b": B6[:, 0]}, id="vector", names=_F, homogeneous=True,
         check=_check_solve),
    Case("KronOperator.lstsq", lambda xp, f0, f1, b: kron.KronOperator([f0, f1]).lstsq(b),
         {"f0": T42, "f1": T32, "b": _rng.standard_normal((12, 2))}, names=_F, homogeneous=True,
         check=_check_lstsq),
    Case("KronOperator.inv", lambda xp, f0, f1: kron.KronOperator([f0, 2, f1]).inv().to_dense(),
         {"f0": G3, "f1": G2}, names=_FI, homogeneous=True, check=_check_inv),
    Case("KronOperator.logdet", lambda xp, f0, f1: kron.KronOperator([f0, f1]).logdet(),
         {"f0": G3, "f1": S2}, names=_F, homogeneous=True, check=_check_logdet),
    Case("KronOperator.eigh", lambda xp, f0, f1: kron.KronOperator([f0, f1]).eigh().eigenvalues,
         {"f0": S3, "f1": S2}, names=_F, homogeneous=True, check=_check_eigh),
    Case("KronOperator.svd", _svd_call, {"f0": T42, "f1": G2}, names=_F, homogeneous=True,
         check=_check_svd),
    Case("KronOperator.as_linear_operator", _linop_call, {"f0": T32, "f1": W23}, names=_F,
         homogeneous=True, check=_check_linop, backends=("numpy",)),
]

# ---------------------------------------------------------------- KronEigh

D3 = np.array([1.3, 2.2, 1.7])
D2 = np.array([2.4, 1.4])


def _noise_dense(a):
    dense = _kron(a["f0"], a["f1"])
    d = np.kron(_f(a["d0"]), _f(a["d1"]))
    return dense, d


def _check_kroneigh(res, a):
    dense, d = _noise_dense(a)
    s = 1 / np.sqrt(d)
    want = np.linalg.eigvalsh((s[:, None] * dense) * s[None, :])
    _close(np.sort(_f(res)), want, "eigenvalues of D^-1/2 K D^-1/2", tol=1e-12)


def _check_ke_solve(res, a):
    _residual_ok(_kron(a["f0"], a["f1"]), res, a["y"], "KronEigh.solve")


def _check_ke_solve_noise(res, a):
    dense, d = _noise_dense(a)
    _residual_ok(dense + 0.3 * np.diag(d), res, a["y"], "KronEigh.solve with noise")


def _check_ke_logdet(res, a):
    sign, ld = np.linalg.slogdet(_kron(a["f0"], a["f1"]))
    assert sign > 0
    assert abs(float(_f(res)) - ld) <= 1e-12 * max(abs(ld), 1.0), (float(_f(res)), ld)


def _check_solve_diag(res, a):
    dense = _kron(a["f0"], a["f1"]) + np.diag(_f(a["diag"]))
    _residual_ok(dense, res, a["y"], "solve_diag", tol=1e-9)


EIGH = [
    Case("KronEigh", lambda xp, f0, f1, d0, d1: kron.KronEigh([f0, f1], noise=[d0, d1]).eigenvalues,
         {"f0": S3, "f1": S2, "d0": D3, "d1": D2},
         names={**_F, "d0": "noise[0]", "d1": "noise[1]"}, homogeneous=True, check=_check_kroneigh),
    Case("KronEigh.solve", lambda xp, f0, f1, y: kron.KronEigh([f0, f1]).solve(y),
         {"f0": S3, "f1": S4, "y": _rng.standard_normal((12, 2))}, names=_F, homogeneous=True,
         check=_check_ke_solve),
    Case("KronEigh.solve", lambda xp, f0, f1, d0, d1, y: kron.KronEigh([f0, f1], noise=[d0, d1]).solve(y, 0.3),
         {"f0": S3, "f1": S2, "d0": D3, "d1": D2, "y": B6[:, 1]}, id="noise",
         names={**_F, "d0": "noise[0]", "d1": "noise[1]"}, check=_check_ke_solve_noise),
    Case("KronEigh.logdet", lambda xp, f0, f1: kron.KronEigh([f0, f1]).logdet(),
         {"f0": S3, "f1": S2}, names=_F, homogeneous=True, check=_check_ke_logdet),
    Case("KronEigh.solve_diag",
         lambda xp, f0, f1, y, diag: kron.KronEigh([f0, f1]).solve_diag(y, diag, tol=1e-12).x,
         {"f0": S3, "f1": S2, "y": B6, "diag": np.array([1.2, 0.7, 2.3, 1.6, 0.9, 1.1])},
         names=_F, check=_check_solve_diag),
]

# ---------------------------------------------------------------- GridGP

NOISE = 0.5
C0 = np.array([[0.9, 0.4, 0.1], [0.3, 0.8, 0.5], [0.1, 0.2, 0.9], [0.6, 0.6, 0.2]])
C1 = np.array([[0.7, 0.2], [0.4, 0.6]])
YG = _rng.standard_normal(6)
MASK = np.array([True, True, False, True, True, True])
_K = {"k0": "kernels[0]", "k1": "kernels[1]", "c0": "cross[0]", "c1": "cross[1]",
      "t0": "test_diag[0]", "t1": "test_diag[1]"}


def _check_gp_alpha(res, a):
    dense = _kron(a["k0"], a["k1"]) + NOISE * np.eye(6)
    _residual_ok(dense, res, a["y"], "GridGP.alpha")


def _check_gp_masked(res, a):
    m = np.asarray(a["mask"], dtype=bool)
    dense = _kron(S3, S2)[np.ix_(m, m)] + NOISE * np.eye(int(m.sum()))
    want = np.zeros(6)
    want[m] = np.linalg.solve(dense, YG[m])
    _close(res, want, "masked GridGP.alpha", tol=1e-9)


def _check_predict(res, a):
    mean, var = res
    kk = _kron(a["k0"], a["k1"]) + NOISE * np.eye(6)
    ks = _kron(a["c0"], a["c1"])
    alpha = np.linalg.solve(kk, _f(a["y"]))
    _close(mean, ks @ alpha, "predictive mean", tol=1e-10)
    red = np.einsum("ij,ji->i", ks, np.linalg.solve(kk, ks.T))
    want = np.kron(_f(a["t0"]), _f(a["t1"])) - red
    err = np.max(np.abs(_f(var) - want))
    assert err <= 1e-10 * (np.max(np.abs(red)) + np.max(np.abs(want))), err


def _check_lml(res, a):
    kk = _kron(a["k0"], a["k1"]) + NOISE * np.eye(6)
    y = _f(a["y"])
    want = -0.5 * y @ np.linalg.solve(kk, y) - 0.5 * np.linalg.slogdet(kk)[1] - 3 * np.log(2 * np.pi)
    assert abs(float(_f(res)) - want) <= 1e-10 * max(abs(want), 1.0), (float(_f(res)), want)


GRIDGP = [
    Case("GridGP", lambda xp, k0, k1, y: kron.GridGP([k0, k1], NOISE, y).alpha,
         {"k0": S3, "k1": S2, "y": YG}, names=_K, check=_check_gp_alpha),
    Case("GridGP", lambda xp, mask: kron.GridGP([xp.asarray(S3), xp.asarray(S2)], NOISE,
                                                xp.asarray(YG), mask=mask).alpha,
         {"mask": MASK}, id="masked", accepts=frozenset({"bool"}), check=_check_gp_masked),
    Case("GridGP.predict",
         lambda xp, k0, k1, y, c0, c1, t0, t1: tuple(
             kron.GridGP([k0, k1], NOISE, y).predict([c0, c1], test_diag=[t0, t1])),
         {"k0": S3, "k1": S2, "y": YG, "c0": C0, "c1": C1, "t0": np.ones(4), "t1": np.ones(2)},
         names=_K, check=_check_predict),
    Case("GridGP.log_marginal_likelihood",
         lambda xp, k0, k1, y: kron.GridGP([k0, k1], NOISE, y).log_marginal_likelihood(),
         {"k0": S3, "k1": S2, "y": YG}, names=_K, check=_check_lml),
]

# ---------------------------------------------------------------- functions


def _check_kron_sum(res, a):
    mats = [a[k] for k in ("f0", "f1", "f2") if k in a]
    _residual_ok(_kron_sum(*mats) + 0.2 * np.eye(np.prod([m.shape[0] for m in mats])), res, a["b"],
                 "kron_sum_solve")


def _check_sum_kron(res, a):
    dense = _kron(a["a0"], a["a1"]) + _kron(a["m0"], a["m1"])
    _residual_ok(dense, res, a["y"], "sum_kron_solve")


def _check_sylvester(res, a):
    A, B, C = _f(a["a"]), _f(a["b"]), _f(a["c"])
    X = _f(res)
    r = _norm(A @ X + X @ B - C)
    assert r <= TOL * ((_norm(A) + _norm(B)) * _norm(X) + _norm(C)), r
    if A.size and B.size:
        _close(X, scipy.linalg.solve_sylvester(A, B, C), "against scipy.linalg.solve_sylvester", tol=1e-10)


def _check_lyapunov(res, a):
    A, Q = _f(a["a"]), _f(a["q"])
    X = _f(res)
    r = _norm(A @ X + X @ A.conj().T - Q)
    assert r <= TOL * (2 * _norm(A) * _norm(X) + _norm(Q)), r
    _close(X, scipy.linalg.solve_continuous_lyapunov(A, Q), "against SciPy", tol=1e-10)


def _check_mode(res, a):
    _close(res, np.einsum("jk,ikl->ijl", _f(a["a"]), _f(a["x"])), "mode_product")


def _check_multi(res, a):
    x = _f(a["x"])
    want = np.einsum("ai,bj,ijk->abk", _f(a["f0"]), _f(a["f1"]), x)
    _close(res, want, "multi_mode_product")


def _check_multi_axes(res, a):
    want = np.einsum("ck,aj,ijk->iac", _f(a["f0"]), _f(a["f1"]), _f(a["x"]))
    _close(res, want, "multi_mode_product(axes=(2, 1))")


def _check_nearest(res, a):
    A = _f(a["a"])
    rearr = A.reshape(2, 3, 3, 2).transpose(0, 2, 1, 3).reshape(6, 6)
    s = np.linalg.svd(rearr, compute_uv=False)
    _close(res.s, s[:2], "Kronecker singular values", tol=1e-12)
    approx = sum(np.kron(_f(res.B)[i], _f(res.C)[i]) for i in range(2))
    err = _norm(A - approx) / _norm(A)
    want = np.sqrt(np.sum((s[2:] / s[0]) ** 2) / np.sum((s / s[0]) ** 2))
    got = _f(res.error)  # a 0-d array of the input's namespace
    assert got.shape == () and abs(err - want) <= 1e-10 and abs(got - want) <= 1e-10, (err, got, want)


def _laplacian(shape, h):
    mats = []
    for n in shape:
        mats.append((2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)) / h**2)
    return _kron_sum(*mats)


def _check_poisson(res, a):
    f = _f(a["f"])
    _residual_ok(_laplacian(f.shape, 0.25), _f(res).reshape(-1), f.reshape(-1), "poisson_solve")


FUNCTIONS = [
    Case("kron_sum_solve", lambda xp, f0, f1, b: kron.kron_sum_solve([f0, f1], b, shift=0.2),
         {"f0": S3, "f1": S4, "b": _rng.standard_normal((12, 2))}, names=_F, homogeneous=True,
         check=_check_kron_sum),
    Case("kron_sum_solve", lambda xp, f0, f1, f2, b: kron.kron_sum_solve([f0, f1, f2], b, shift=0.2),
         {"f0": S2, "f1": S3, "f2": S2, "b": B12}, id="three", names=_F, homogeneous=True,
         check=_check_kron_sum),
    Case("kron_sum_solve", lambda xp, f0, f1, b: kron.kron_sum_solve([f0, f1], b, shift=0.2),
         {"f0": G3, "f1": G2, "b": B6}, id="sylvester", names=_F, homogeneous=True,
         check=_check_kron_sum, backends=("numpy",)),
    Case("kron_sum_solve", lambda xp, f0, f1, f2, b: kron.kron_sum_solve([f0, f1, f2], b, shift=0.2),
         {"f0": G2, "f1": G3, "f2": G2, "b": B12}, id="eig", names=_F, homogeneous=True,
         check=_check_kron_sum, backends=("numpy",)),
    Case("sum_kron_solve", lambda xp, a0, a1, m0, m1, y: kron.sum_kron_solve([a0, a1], [m0, m1], y),
         {"a0": S3, "a1": S2, "m0": S3[::-1, ::-1].copy(), "m1": np.diag([1.6, 2.7]), "y": B6},
         names={"a0": "first[0]", "a1": "first[1]", "m0": "second[0]", "m1": "second[1]"},
         homogeneous=True, check=_check_sum_kron),
    Case("solve_sylvester", lambda xp, a, b, c: kron.solve_sylvester(a, b, c),
         {"a": S3, "b": S2, "c": _rng.standard_normal((3, 2))}, homogeneous=True, check=_check_sylvester),
    Case("solve_sylvester", lambda xp, a, b, c: kron.solve_sylvester(a, b, c),
         {"a": G3, "b": G2, "c": _rng.standard_normal((3, 2))}, id="schur", homogeneous=True,
         check=_check_sylvester, backends=("numpy",)),
    Case("solve_lyapunov", lambda xp, a, q: kron.solve_lyapunov(a, q),
         {"a": -S3, "q": _rng.standard_normal((3, 3))}, homogeneous=True, check=_check_lyapunov),
    Case("solve_lyapunov", lambda xp, a, q: kron.solve_lyapunov(a, q),
         {"a": -G3, "q": _rng.standard_normal((3, 3))}, id="schur", homogeneous=True,
         check=_check_lyapunov, backends=("numpy",)),
    Case("mode_product", lambda xp, x, a: kron.mode_product(x, a, 1),
         {"x": X342, "a": _rng.standard_normal((5, 4))}, homogeneous=True, check=_check_mode),
    Case("multi_mode_product", lambda xp, x, f0, f1: kron.multi_mode_product(x, [f0, f1]),
         {"x": X342, "f0": W23, "f1": _rng.standard_normal((3, 4))}, names=_F, homogeneous=True,
         check=_check_multi),
    Case("multi_mode_product", lambda xp, x, f0, f1: kron.multi_mode_product(x, [f0, f1], axes=(2, 1)),
         {"x": X342, "f0": _rng.standard_normal((3, 2)), "f1": T42.T.copy()}, id="axes", names=_F,
         homogeneous=True, check=_check_multi_axes),
    Case("nearest_kron", lambda xp, a: kron.nearest_kron(a, (2, 3), (3, 2), rank=2),
         {"a": np.kron(W23, T32) + 0.1 * _rng.standard_normal((6, 6))}, homogeneous=True,
         check=_check_nearest),
    Case("poisson_solve", lambda xp, f: kron.poisson_solve(f, 0.25),
         {"f": _rng.standard_normal((3, 4))}, homogeneous=True, check=_check_poisson),
]

CASES = OPERATOR + EIGH + GRIDGP + FUNCTIONS
