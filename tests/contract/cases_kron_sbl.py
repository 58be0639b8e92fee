"""Contract cases for orthla.kron's sparse Bayesian learning (``kron_sbl``, ``sbl``) and the
``rank="elbow"`` option of ``nearest_kron``.

Each call runs a fixed number of EM iterations (``tol`` tiny, the non-convergence warning
silenced: it is the documented report, not an error) and is checked against the same
iterations done densely in the parameter domain, ``Sigma = (Gamma^{-1} + A^H A / s2)^{-1}``,
on the arrays actually passed (scaled to unit size by powers of two first, which EM commutes
with).  Keys name the arguments as the messages do: ``f0`` is ``factors[0]``.
"""

import warnings

import numpy as np

from orthla import kron

from ._case import Case, host

_rng = np.random.default_rng(20261219)
ITERS = 3
_F = {"f0": "factors[0]", "f1": "factors[1]"}
# Full-rank factors (also after rounding to integers).
F0 = np.array([[2.1, 0.3, -1.4, 0.8], [0.6, 1.8, 0.5, -1.3], [-1.2, 0.4, 1.9, 1.1]])
F1 = np.array([[1.7, -0.6, 1.2], [0.4, 2.3, -0.9]])
Y6 = np.array([1.3, -0.7, 2.2, 0.4, -1.6, 0.9])
A68 = _rng.standard_normal((6, 8)) + 2 * np.eye(6, 8)


def _f(x):
    x = np.asarray(host(x) if not isinstance(x, np.ndarray | list) else x)
    return np.asarray(x, dtype=np.result_type(x.dtype, np.float64))


def _unit(a):
    """``a / 2**e`` with ``max|a|`` in ``[0.5, 1)`` and the factor ``2**e``."""
    m = np.max(np.abs(a))
    e = np.frexp(m)[1] if m > 0 else 0
    return a * 2.0**-e, 2.0**e


def _dense_em(y, big, iters, method, n1=None):
    """Dense EM; ``am`` with the documented over-relaxation (``g * (g_em / g)**eta``, the noise
    likewise, ``eta`` growing by 1.1 per step kept; kept when the dense cost is no higher)."""
    m, n = big.shape
    g = np.full(n, np.sum(np.abs(y) ** 2) / np.sum(np.abs(big) ** 2))
    s2 = 0.1 * np.sum(np.abs(y) ** 2) / m

    def post(g, s2):
        sigma = np.linalg.inv(np.diag(1 / g) + big.conj().T @ big / s2)
        return sigma @ big.conj().T @ y / s2, sigma

    def cost(g, s2):
        c = s2 * np.eye(m) + (big * g) @ big.conj().T
        return np.linalg.slogdet(c)[1] + np.real(y.conj() @ np.linalg.solve(c, y))

    eta = 1.0
    for _ in range(iters):
        mu, sigma = post(g, s2)
        d = np.real(np.diag(sigma)) + np.abs(mu) ** 2
        if method == "am":
            dd = d.reshape(n1, -1)
            g2 = g.reshape(n1, -1)[0]
            g1 = (dd / g2[None, :]).mean(axis=1)
            g2 = (dd / g1[:, None]).mean(axis=0)
            g_em = np.kron(g1, g2)
        else:
            g_em = d
        r = y - big @ mu
        s2_em = (np.sum(np.abs(r) ** 2) + np.real(np.trace(big @ sigma @ big.conj().T))) / m
        if method == "am":
            e = 1.1 * eta
            cand, s2_c = g * (g_em / g) ** e, s2 * (s2_em / s2) ** e
            if cost(cand, s2_c) <= cost(g, s2):
                g, s2, eta = cand, s2_c, e
                continue
            eta = 1.0
        g, s2 = g_em, s2_em
    return post(g, s2)[0], g, s2


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kron.KronConvergenceWarning)
        return func(*args, **kwargs, max_iter=ITERS, tol=1e-300)


def _tol(res):
    return 1e-4 if host(res.x).dtype in (np.float32, np.complex64) else 1e-8


def _rel(got, want):
    c = np.max(np.abs(want))
    return np.linalg.norm(np.ravel(got) / c - np.ravel(want) / c) / np.linalg.norm(np.ravel(want) / c)


def _check_kron(res, a):
    (f0, c0), (f1, c1), (y, cy) = _unit(_f(a["f0"])), _unit(_f(a["f1"])), _unit(_f(a["y"]))
    mu, g, s2 = _dense_em(y.reshape(-1), np.kron(f0, f1), res.n_iter, "am", n1=f0.shape[1])
    tol = _tol(res)
    assert res.n_iter == ITERS and not res.converged
    assert _rel(_f(res.x) * c0 * c1 / cy, mu) <= tol, "x"
    gk = np.kron(_f(res.gamma[0]), _f(res.gamma[1])) * (c0 * c1 / cy) ** 2
    assert _rel(gk, g) <= tol, "gamma"
    assert abs(res.noise / cy**2 - s2) <= tol * s2, "noise"
    assert np.array_equal(host(res.support).reshape(-1), gk > 1e-2 * gk.max()) or tol > 1e-8


def _check_plain(res, a):
    (big, ca), (y, cy) = _unit(_f(a["A"])), _unit(_f(a["y"]))
    mu, g, s2 = _dense_em(y, big, res.n_iter, "full")
    tol = _tol(res)
    assert _rel(_f(res.x) * ca / cy, mu) <= tol, "x"
    assert _rel(_f(res.gamma[0]) * (ca / cy) ** 2, g) <= tol, "gamma"
    assert abs(res.noise / cy**2 - s2) <= tol * s2, "noise"


def _check_svd(res, a):
    f0, f1 = _f(a["f0"]), _f(a["f1"])
    assert host(res.x).shape == (f0.shape[1], f1.shape[1]) == host(res.support).shape
    assert res.noise == 0.25 and len(res.history) == ITERS + 1


def _check_elbow(res, a):
    """The documented elbow criterion on NumPy's Kronecker singular values."""
    r = _f(a["a"]).reshape(2, 3, 3, 2).transpose(0, 2, 1, 3).reshape(6, 6)
    sv = np.linalg.svd(r, compute_uv=False)
    if sv[0] == 0 or sv[-1] >= sv[0] * (1 - 600 * np.finfo(float).eps):
        assert res.rank == 6
        return
    v = np.log10(np.maximum(sv / sv[0], np.finfo(float).eps))
    y = (v - v[-1]) / (v[0] - v[-1])
    crit = np.append(((1 - np.arange(6) / 5 - y) / np.sqrt(2))[1:], 0.0)
    want = int(np.argmax(crit)) + 1 if crit.max() > 0 else 6
    assert res.rank == want == host(res.B).shape[0], (res.rank, want)
    assert np.max(np.abs(_f(res.criterion) - crit)) <= 1e-6


# a Kronecker rank-2 matrix plus a small perturbation: the elbow is at 2
ELBOW_A = np.kron(np.array([[1.3, -0.4, 2.2], [0.6, 1.9, -1.1]]), np.array([[1.7, -0.6], [0.4, 2.3], [1.2, 0.9]])) \
    + np.kron(np.array([[1.0, -2.0, 0.5], [0.3, 1.1, -0.7]]), np.array([[0.4, 1.2], [-0.9, 0.2], [1.5, 0.6]])) \
    + 1e-6 * _rng.standard_normal((6, 6))

CASES = [
    Case("nearest_kron", lambda xp, a: kron.nearest_kron(a, (2, 3), (3, 2), rank="elbow"),
         {"a": ELBOW_A}, id="elbow", homogeneous=True, check=_check_elbow),
    Case("kron_sbl", lambda xp, y, f0, f1: _quiet(kron.kron_sbl, y, [f0, f1]),
         {"y": Y6, "f0": F0, "f1": F1}, names=_F, homogeneous=True, check=_check_kron),
    Case("kron_sbl", lambda xp, y, f0, f1: _quiet(kron.kron_sbl, y, [f0, f1], method="svd", noise=0.25),
         {"y": Y6.reshape(3, 2), "f0": F0, "f1": F1}, id="svd", names=_F, check=_check_svd),
    Case("sbl", lambda xp, y, A: _quiet(kron.sbl, y, A), {"y": Y6, "A": A68}, homogeneous=True,
         check=_check_plain),
]
