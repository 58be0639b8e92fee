"""Contract cases for orthla.kron's spectral-mixture kernel and GP collocation PDE solver.

Each result is checked against the dense formulas on the arrays actually passed: the kernel
in closed form, the differentiation matrices ``K^(m,0) (K + jitter)^{-1}``, and the square
collocation system (identity rows on the boundary nodes) solved by LAPACK.  Keys name the
arguments as the messages do: ``x0`` is ``grids[0]``, ``t0`` is ``points[0]``.
"""

import numpy as np
from array_api_compat import array_namespace

from orthla import kron

from ._case import Case, host

MU = np.array([0.0, 1.5])
SC = np.array([1.0, 0.7])
LW = np.array([0.0, -0.5])
X = np.linspace(0.0, 1.0, 9)
F = np.cos(3 * X)
G = np.sin(2 * X) + 1.0
T = np.array([0.05, 0.5, 0.93])
TM = (X[1:] + X[:-1]) / 2
FM = np.cos(3 * TM)
JIT = 1e-6
OPTS = {"advection": 0.5, "reaction": 1.0, "jitter": JIT}
_N = {"x0": "grids[0]", "t0": "points[0]"}


def _f(a):
    a = np.asarray(host(a) if not isinstance(a, np.ndarray | list) else a)
    return np.asarray(a, dtype=np.float64)


def _sm(t, mu, s, lw, m=0):
    """m-th derivative of the kernel in t = x - z (m <= 2), in closed form."""
    t = t[..., None]
    a, b = 2 * np.pi**2 * s**2, 2 * np.pi * mu
    e = np.exp(lw - a * t * t)
    if m == 0:
        v = e * np.cos(b * t)
    elif m == 1:
        v = e * (-2 * a * t * np.cos(b * t) - b * np.sin(b * t))
    else:
        al = -2 * a * t
        v = e * ((al * al - b * b - 2 * a) * np.cos(b * t) - 2 * al * b * np.sin(b * t))
    return v.sum(axis=-1)


def _tol(res):
    return 1e-3 if host(res).dtype == np.float32 else 1e-8


def _close(got, want, what, tol):
    got = _f(got)
    scale = max(np.max(np.abs(want)), 1e-300)
    err = np.max(np.abs(got - want)) / scale
    assert err <= tol, f"{what}: relative error {err:.3g} > {tol:.3g}"


def _dense(x, f, g):
    t = x[:, None] - x[None, :]
    kk = _sm(t, MU, SC, LW)
    kj = kk + JIT * np.max(np.abs(kk)) * np.eye(len(x))
    d1 = np.linalg.solve(kj, _sm(t, MU, SC, LW, 1).T).T
    d2 = np.linalg.solve(kj, _sm(t, MU, SC, LW, 2).T).T
    a = -d2 + OPTS["advection"] * d1 + OPTS["reaction"] * np.eye(len(x))
    sysm = a.copy()
    sysm[[0, -1]] = np.eye(len(x))[[0, -1]]
    b = f.copy()
    b[[0, -1]] = g[[0, -1]]
    u = np.linalg.solve(sysm, b)
    coef = np.linalg.solve(kj, u)
    return {"a": a, "values": u, "coef": coef, "u": kk @ coef}


def _check_kernel(res, a):
    t = _f(a.get("x", X))[:, None] - X[None, :]
    want = _sm(t, _f(a.get("freqs", MU)), _f(a.get("scales", SC)), _f(a.get("log_weights", LW)))
    _close(res, want, "SpectralMixture", _tol(res))


def _check_factor(res, a):
    x = _f(a["x0"])
    _close(res, _dense(x, F, G)["a"] - OPTS["reaction"] * np.eye(len(x)), "GridPDESolver.factors", _tol(res))


def _check_solve(res, a):
    ref = _dense(X, _f(a["f"]), _f(a["boundary"]))
    for name in ("u", "coef", "values"):
        tol = 0.1 if host(getattr(res, name)).dtype == np.float32 else 1e-6  # cond(K + jitter) ~ 1e6
        _close(getattr(res, name), ref[name], f"GridPDESolver.solve().{name}", tol)


def _check_apply(res, a):
    _close(res, _dense(X, F, G)["a"] @ _f(a["u"]), "GridPDESolver.apply", _tol(res))


def _check_interp(res, a):
    t = _f(a["t0"])
    want = _sm(t[:, None] - X[None, :], MU, SC, LW) @ _f(a["coef"])
    _close(res, want, "GridPDESolver.interpolate", _tol(res))


def _check_apply_at(res, a):
    t = _f(a["t0"])
    d = t[:, None] - X[None, :]
    op = -_sm(d, MU, SC, LW, 2) + OPTS["advection"] * _sm(d, MU, SC, LW, 1) + OPTS["reaction"] * _sm(d, MU, SC, LW)
    _close(res, op @ _f(a["coef"]), "GridPDESolver.apply_at", _tol(res))


def _check_fit(res, a):
    # the returned objective is the residual of the returned solution, and no worse than the start's
    t, fp = _f(a["t0"]), _f(a["f_points"])
    ref = _dense(X, F, G)
    d = t[:, None] - X[None, :]
    op = -_sm(d, MU, SC, LW, 2) + OPTS["advection"] * _sm(d, MU, SC, LW, 1) + OPTS["reaction"] * _sm(d, MU, SC, LW)
    j0 = np.sum((op @ ref["coef"] - fp) ** 2) / np.sum(fp**2)
    assert res.objective <= j0 * (1 + 1e-6), (res.objective, j0)
    ns = array_namespace(res.solver.grids[0])
    got = _f(res.solver.apply_at(res.solution.coef, [ns.asarray(t, dtype=res.solver.grids[0].dtype)]))
    j = np.sum((got - fp) ** 2) / np.sum(fp**2)
    assert abs(j - res.objective) <= 1e-6 * max(j, 1e-30) + 1e-12, (j, res.objective)


def _nl(v):
    return 0.5 * array_namespace(v).sin(v)  # Lipschitz 1/2, finite for any finite v (no overflow at 2**500)


def _dnl(v):
    return 0.5 * array_namespace(v).cos(v)


def _check_semilinear(res, a):
    # the fixed point: u solves the linear problem with f - N(u), to the Picard tolerance
    u = _f(res.u)
    ref = _dense(X, _f(a["f"]) - _nl(u), _f(a["boundary"]))["u"]
    tol = 0.1 if host(res.u).dtype == np.float32 else 1e-4
    _close(u, ref, "GridPDESolver.solve_semilinear().u", tol)


PER = 1.2


def _dense_periodic(x, f):
    """Dense collocation with the periodized kernel (60 images, more than enough) and no boundary rows."""
    def kp(m):
        return sum(_sm(x[:, None] - x[None, :] - j * PER, MU, SC, LW, m) for j in range(-30, 31))

    kk = kp(0)
    kj = kk + JIT * np.max(np.abs(kk)) * np.eye(len(x))
    a = -np.linalg.solve(kj, kp(2).T).T + OPTS["advection"] * np.linalg.solve(kj, kp(1).T).T
    u = np.linalg.solve(a + OPTS["reaction"] * np.eye(len(x)), f)
    return u


def _check_periodic(res, a):
    tol = 0.1 if host(res.values).dtype == np.float32 else 1e-6
    _close(res.values, _dense_periodic(X, _f(a["f"])), "GridPDESolver(period=...).solve().values", tol)


def _dense_with(x, f, g, kern):
    """The dense collocation solution with any kernel (NumPy), as ``_dense``."""
    kk = _f(kern(x))
    kj = kk + JIT * np.max(np.abs(kk)) * np.eye(len(x))
    d1 = np.linalg.solve(kj, _f(kern(x, x, dz=1))).T
    d2 = np.linalg.solve(kj, _f(kern(x, x, dz=2))).T
    a = -d2 + OPTS["advection"] * d1 + OPTS["reaction"] * np.eye(len(x))
    a[[0, -1]] = np.eye(len(x))[[0, -1]]
    b = f.copy()
    b[[0, -1]] = g[[0, -1]]
    return kk @ np.linalg.solve(kj, np.linalg.solve(a, b))


def _check_spectrum_fit(res, a):
    # the returned solution is the collocation solution of the returned (learned) kernel
    x = _f(res.solver.grids[0])
    want = _dense_with(x, _f(a["f"]), _f(a["boundary"]), res.kernels[0])
    tol = 0.1 if host(res.solution.u).dtype == np.float32 else 1e-6
    _close(res.solution.u, want, "fit_grid_pde_spectrum().solution.u", tol)
    assert all(np.all(np.isfinite(fr)) for fr in res.freqs)


def _fit_spectrum(xp, f, boundary):
    import warnings

    with warnings.catch_warnings():  # 2 rounds need not settle; the contract is about the inputs
        warnings.simplefilter("ignore", kron.KronConvergenceWarning)
        return kron.fit_grid_pde_spectrum([xp.asarray(X)], f, boundary, maxiter=5, rounds=2, **OPTS)


def _st(t, mu, s, lw, dof=5):
    """Student-t spectrum (dof 5): Matérn-5/2 times the cosine, closed form."""
    t = t[..., None]
    y = 2 * np.pi * np.sqrt(dof) * s * np.abs(t)
    return np.sum(np.exp(lw - y) * (1 + y + y * y / 3) * np.cos(2 * np.pi * mu * t), axis=-1)


def _check_student(res, a):
    t = X[:, None] - X[None, :]
    want = _st(t, _f(a.get("freqs", MU)), _f(a.get("scales", SC)), _f(a.get("log_weights", LW)))
    _close(res, want, "SpectralMixture(spectrum='student_t')", _tol(res))


def _kernel(xp):
    return kron.SpectralMixture(xp.asarray(MU), xp.asarray(SC), log_weights=xp.asarray(LW))


def _solver(xp):
    return kron.GridPDESolver([xp.asarray(X)], _kernel(xp), **OPTS)


CASES = [
    Case("SpectralMixture",
         lambda xp, freqs, scales, log_weights: kron.SpectralMixture(freqs, scales, log_weights=log_weights)(
             xp.asarray(X)),
         {"freqs": MU, "scales": SC, "log_weights": LW}, check=_check_kernel),
    Case("SpectralMixture", lambda xp, x: _kernel(xp)(x, xp.asarray(X)), {"x": X}, id="points",
         check=_check_kernel),
    Case("GridPDESolver", lambda xp, x0: kron.GridPDESolver([x0], _kernel(xp), **OPTS).factors[0],
         {"x0": X}, names=_N, check=_check_factor,
         skip={"big": "2**500 spacing: the jittered Gram matrix is the identity, the check's closed "
                      "form underflows differently", "small": "2**-500 spacing: a numerically constant kernel"}),
    Case("GridPDESolver.solve", lambda xp, f, boundary: _solver(xp).solve(f, boundary),
         {"f": F, "boundary": G}, check=_check_solve),
    Case("GridPDESolver.solve_semilinear", lambda xp, f, boundary: _solver(xp).solve_semilinear(f, boundary, _nl),
         {"f": F, "boundary": G}, check=_check_semilinear),
    Case("GridPDESolver.solve",
         lambda xp, f, boundary: kron.GridPDESolver([xp.asarray(X)], _kernel(xp), period=PER, **OPTS).solve(
             f, boundary), {"f": F, "boundary": G}, id="periodic", check=_check_periodic),
    Case("GridPDESolver.solve_semilinear",
         lambda xp, f, boundary: _solver(xp).solve_semilinear(f, boundary, _nl, derivative=_dnl),
         {"f": F, "boundary": G}, id="newton", check=_check_semilinear),
    Case("SpectralMixture",
         lambda xp, freqs, scales, log_weights: kron.SpectralMixture(
             freqs, scales, log_weights=log_weights, spectrum="student_t", dof=5)(xp.asarray(X)),
         {"freqs": MU, "scales": SC, "log_weights": LW}, id="student_t", check=_check_student),
    Case("fit_grid_pde_spectrum", _fit_spectrum, {"f": F, "boundary": G}, check=_check_spectrum_fit,
         backends=("numpy", "array_api_strict", "torch")),
    Case("GridPDESolver.apply", lambda xp, u: _solver(xp).apply(u), {"u": G}, check=_check_apply),
    Case("GridPDESolver.apply_at", lambda xp, coef, t0: _solver(xp).apply_at(coef, [t0]),
         {"coef": G, "t0": T}, names=_N, check=_check_apply_at),
    Case("fit_grid_pde",
         lambda xp, f, boundary, t0, f_points: kron.fit_grid_pde(
             [xp.asarray(X)], _kernel(xp), f, boundary, [t0], f_points, fit=("freqs",), maxiter=2, **OPTS),
         {"f": F, "boundary": G, "t0": TM, "f_points": FM}, names=_N, check=_check_fit,
         backends=("numpy", "array_api_strict", "torch"),
         skip={"float32": "float32 data with the float64 grid: the fit runs in float64 (checked elsewhere)"}),
    Case("GridPDESolver.interpolate", lambda xp, coef, t0: _solver(xp).interpolate(coef, [t0]),
         {"coef": G, "t0": T}, names=_N, check=_check_interp),
]
