"""Contract cases for orthla.ortho's Cayley, exponential and Givens parametrizations."""

import numpy as np
import scipy.linalg

from orthla import ortho
from orthla.ortho._givens import round_robin_pairs

from ._case import Case
from ._case import host as _host

_rng = np.random.default_rng(20261207)
D = 4
_G = _rng.standard_normal((D, D))
S = 0.1 * (_G - _G.T) / np.linalg.norm(_G - _G.T, 2)  # ||S||_2 = 0.1: the Neumann series is used
P = _rng.standard_normal(D * (D - 1) // 2) * 0.3
X = _rng.standard_normal((D, 2))
Q = scipy.linalg.expm(0.5 * (_G - _G.T) / np.linalg.norm(_G - _G.T, 2))  # rotation angles < 0.5
PAIRS = round_robin_pairs(D)
ANGLES = _rng.uniform(-np.pi, np.pi, PAIRS.shape[:2])


def host(x):
    return np.asarray(x) if isinstance(x, np.generic | float) else _host(x)


def f64(a):
    return np.asarray(a, dtype=np.float64)


def skew_part(s):
    s = f64(s)
    return (s - np.swapaxes(s, -1, -2)) / 2


def dense_cayley(s):
    s = skew_part(s)
    eye = np.eye(s.shape[-1])
    return (eye - s) @ np.linalg.inv(eye + s)


def dense_skew(p, d):
    out = np.zeros((*np.shape(p)[:-1], d, d))
    r, c = np.tril_indices(d, -1)
    out[..., r, c] = f64(p)
    return out - np.swapaxes(out, -1, -2)


def dense_givens(pairs, angles, d):
    q = np.eye(d)
    for layer, th in zip(np.asarray(pairs), f64(angles), strict=True):
        r = np.eye(d)
        for (i, j), t in zip(layer, th, strict=True):
            r[i, i] = r[j, j] = np.cos(t)
            r[i, j], r[j, i] = -np.sin(t), np.sin(t)
        q = r @ q
    return q


def _close(got, want, tol=1e-10):
    got = host(got)
    np.testing.assert_allclose(got, want, atol=tol * max(1.0, float(np.max(np.abs(want)))))


def _check_cayley(res, arrays):
    want = dense_cayley(arrays["S"])
    _close(res.Q, want, max(res.error_bound, 1e-12) * 2)


def _check_expm(res, arrays):
    _close(res, scipy.linalg.expm(skew_part(arrays["S"])), 1e-12)


def _orthogonal_reproduces(build):
    def check(res, arrays):
        _close(res, f64(arrays["Q"]), 1e-9)
    return check


def _gq(arrays):
    return dense_givens(arrays["pairs"], arrays["angles"], D)


CASES = [
    # -- cayley / Cayley
    Case("cayley", lambda xp, S: ortho.cayley(S), {"S": S}, id="exact", check=_check_cayley),
    Case("cayley", lambda xp, S: ortho.cayley(S, method="neumann", terms=5), {"S": S}, id="neumann",
         check=_check_cayley),
    Case("cayley", lambda xp, S: ortho.cayley(S, method="neumann", terms=3, tol=1e-30), {"S": S},
         id="fallback", check=_check_cayley),
    Case("Cayley", lambda xp, S: ortho.Cayley(S).matrix(), {"S": S},
         check=lambda r, a: _close(r, dense_cayley(a["S"]))),
    Case("Cayley.apply", lambda xp, S, x: ortho.Cayley(S).apply(x), {"S": S, "x": X},
         check=lambda r, a: _close(r, dense_cayley(a["S"]) @ f64(a["x"]))),
    Case("Cayley.apply", lambda xp, S, x: ortho.Cayley(S, method="neumann").apply(x, side="right", transpose=True),
         {"S": S, "x": X.T.copy()}, id="right-neumann",
         check=lambda r, a: _close(r, f64(a["x"]) @ dense_cayley(a["S"]).T, 1e-3)),
    Case("Cayley.matrix", lambda xp, S: ortho.Cayley(S).matrix(), {"S": S},
         check=lambda r, a: _close(r, dense_cayley(a["S"]))),
    Case("Cayley.inverse", lambda xp, S, x: ortho.Cayley(S).inverse().apply(x), {"S": S, "x": X},
         check=lambda r, a: _close(r, dense_cayley(a["S"]).T @ f64(a["x"]))),
    Case("Cayley.from_params", lambda xp, p: ortho.Cayley.from_params(p, D).matrix(), {"p": P},
         check=lambda r, a: _close(r, dense_cayley(dense_skew(a["p"], D)))),
    Case("Cayley.from_matrix", lambda xp, Q: ortho.Cayley.from_matrix(Q).matrix(), {"Q": Q},
         check=_orthogonal_reproduces("cayley")),
    Case("Cayley.random", lambda xp: ortho.Cayley.random(D, batch_shape=(2,), rng=0, xp=xp).matrix(), {}),
    # -- expm_skew / ExpSkew
    Case("expm_skew", lambda xp, S: ortho.expm_skew(S), {"S": S}, check=_check_expm),
    Case("ExpSkew", lambda xp, S: ortho.ExpSkew(S).matrix(), {"S": S}, check=_check_expm),
    Case("ExpSkew.apply", lambda xp, S, x: ortho.ExpSkew(S).apply(x), {"S": S, "x": X},
         check=lambda r, a: _close(r, scipy.linalg.expm(skew_part(a["S"])) @ f64(a["x"]))),
    Case("ExpSkew.matrix", lambda xp, S: ortho.ExpSkew(S).matrix(), {"S": S}, check=_check_expm),
    Case("ExpSkew.inverse", lambda xp, S, x: ortho.ExpSkew(S).inverse().apply(x), {"S": S, "x": X},
         check=lambda r, a: _close(r, scipy.linalg.expm(-skew_part(a["S"])) @ f64(a["x"]))),
    Case("ExpSkew.from_params", lambda xp, p: ortho.ExpSkew.from_params(p, D).matrix(), {"p": P},
         check=lambda r, a: _close(r, scipy.linalg.expm(dense_skew(a["p"], D)))),
    Case("ExpSkew.from_matrix", lambda xp, Q: ortho.ExpSkew.from_matrix(Q).matrix(), {"Q": Q},
         check=_orthogonal_reproduces("expm")),
    Case("ExpSkew.random", lambda xp: ortho.ExpSkew.random(D, rng=0, xp=xp).matrix(), {}),
    # -- Givens
    Case("Givens", lambda xp, pairs, angles: ortho.Givens(pairs, angles).matrix(),
         {"pairs": PAIRS, "angles": ANGLES}, check=lambda r, a: _close(r, _gq(a))),
    Case("Givens.apply", lambda xp, pairs, angles, x: ortho.Givens(pairs, angles).apply(x),
         {"pairs": PAIRS, "angles": ANGLES, "x": X}, check=lambda r, a: _close(r, _gq(a) @ f64(a["x"]))),
    Case("Givens.apply", lambda xp, pairs, angles, x: ortho.Givens(pairs, angles).apply(x, side="right"),
         {"pairs": PAIRS, "angles": ANGLES, "x": X.T.copy()}, id="right",
         check=lambda r, a: _close(r, f64(a["x"]) @ _gq(a))),
    Case("Givens.matrix", lambda xp, pairs, angles: ortho.Givens(pairs, angles).matrix(),
         {"pairs": PAIRS, "angles": ANGLES}, check=lambda r, a: _close(r, _gq(a))),
    Case("Givens.inverse", lambda xp, pairs, angles, x: ortho.Givens(pairs, angles).inverse().apply(x),
         {"pairs": PAIRS, "angles": ANGLES, "x": X}, check=lambda r, a: _close(r, _gq(a).T @ f64(a["x"]))),
    Case("Givens.round_robin", lambda xp, angles: ortho.Givens.round_robin(D, angles).matrix(),
         {"angles": ANGLES}, check=lambda r, a: _close(r, dense_givens(PAIRS, a["angles"], D))),
    Case("Givens.from_matrix", lambda xp, Q: ortho.Givens.from_matrix(Q).matrix(), {"Q": Q},
         check=_orthogonal_reproduces("givens")),
    Case("Givens.random", lambda xp: ortho.Givens.random(D, rng=0, xp=xp).matrix(), {}),
]
