"""Contract cases for orthla.ortho's Householder parametrization and random_orthogonal."""

import numpy as np

from orthla import ortho

from ._case import Case, host

_rng = np.random.default_rng(20261214)
V = _rng.standard_normal((6, 3))
VB = _rng.standard_normal((2, 6, 3))
X = _rng.standard_normal((6, 4))
Q = np.linalg.qr(_rng.standard_normal((5, 5)))[0]


def dense_product(v):
    """H_1 ... H_r from explicit reflectors in float64 (columns rescaled first: only directions count)."""
    v = np.asarray(v, dtype=np.float64)
    v = v / np.max(np.abs(v), axis=-2, keepdims=True)
    d, r = v.shape[-2:]
    out = np.empty((*v.shape[:-2], d, d))
    for idx in np.ndindex(*v.shape[:-2]):
        q = np.eye(d)
        for j in range(r):
            w = v[idx][:, j]
            q = q @ (np.eye(d) - 2.0 * np.outer(w, w) / (w @ w))
        out[idx] = q
    return out


def _tol(res, d):
    return 100 * d * np.finfo(host(res).dtype).eps


def _check_matrix(res, arrays):
    want = dense_product(arrays["V"])
    got = host(res)
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= _tol(res, want.shape[-1])


def _check_apply(side="left", transpose=False, inverse=False):
    def check(res, arrays):
        q = dense_product(arrays["V"])
        if transpose != inverse:
            q = np.swapaxes(q, -1, -2)
        x = np.asarray(arrays["x"], dtype=np.float64)
        want = q @ x if side == "left" else x @ q
        got = host(res)
        assert got.shape == want.shape
        scale = max(np.max(np.abs(x)), np.finfo(float).tiny)
        assert np.max(np.abs(got - want)) <= _tol(res, q.shape[-1]) * scale
    return check


def _check_from_matrix(res, arrays):
    q = np.asarray(arrays["Q"], dtype=np.float64)
    assert np.max(np.abs(host(res) - q)) <= _tol(res, q.shape[-1])


def _check_orthogonal(res, arrays):
    q = host(res).astype(np.float64)
    eye = np.eye(q.shape[-1])
    assert np.max(np.abs(np.swapaxes(q, -1, -2) @ q - eye)) <= _tol(res, q.shape[-1])


CASES = [
    Case("Householder", lambda xp, V: ortho.Householder(V).matrix(), {"V": V}, homogeneous=True,
         check=_check_matrix),
    Case("Householder", lambda xp, V: ortho.Householder(V).matrix(), {"V": VB}, id="batched",
         homogeneous=True, check=_check_matrix),
    Case("Householder.apply", lambda xp, V, x: ortho.Householder(V).apply(x), {"V": V, "x": X},
         homogeneous=True, check=_check_apply()),
    Case("Householder.apply",
         lambda xp, V, x: ortho.Householder(V).apply(x, side="right", transpose=True),
         {"V": VB, "x": X.T.copy()}, id="right-transposed-batched", homogeneous=True,
         check=_check_apply(side="right", transpose=True)),
    Case("Householder.matrix", lambda xp, V: ortho.Householder(V).matrix(), {"V": V}, homogeneous=True,
         check=_check_matrix),
    Case("Householder.inverse", lambda xp, V, x: ortho.Householder(V).inverse().apply(x),
         {"V": V, "x": X}, homogeneous=True, check=_check_apply(inverse=True)),
    Case("Householder.from_params", lambda xp, V, x: ortho.Householder.from_params(V).apply(x),
         {"V": V, "x": X}, homogeneous=True, check=_check_apply()),
    Case("Householder.from_matrix", lambda xp, Q: ortho.Householder.from_matrix(Q).matrix(), {"Q": Q},
         check=_check_from_matrix),
    Case("Householder.random",
         lambda xp: ortho.Householder.random(6, 2, batch_shape=(2,), rng=0, xp=xp).matrix(), {},
         check=_check_orthogonal),
    Case("random_orthogonal", lambda xp: ortho.random_orthogonal(5, batch_shape=(3,), rng=0, xp=xp), {},
         check=_check_orthogonal),
]
