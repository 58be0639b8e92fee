"""Contract cases for orthla.ortho's bases half: qr, procrustes, generalized_procrustes."""

import numpy as np
import scipy.linalg

from orthla import ortho

from ._case import Case
from ._case import host as _host

_rng = np.random.default_rng(20261213)
A = _rng.standard_normal((12, 4))
B = A @ scipy.linalg.qr(_rng.standard_normal((4, 4)))[0] + 0.1 * _rng.standard_normal((12, 4))
BATCH_A = _rng.standard_normal((5, 6, 3))
BATCH_B = _rng.standard_normal((5, 6, 3))
STACK_A = _rng.standard_normal((40, 4, 3))   # >= SMALL_BATCH: the compiled / vectorized Jacobi path
STACK_B = _rng.standard_normal((40, 4, 3))
SHAPES = np.stack([A @ scipy.linalg.qr(_rng.standard_normal((4, 4)))[0] * s + t
                   for s, t in zip((1.0, 2.0, 0.5), (0.0, 1.0, -2.0), strict=True)])
SHAPES = SHAPES + 0.05 * _rng.standard_normal(SHAPES.shape)


def host(x):
    """NumPy copy of a result field (NumPy returns 0-d results as NumPy scalars)."""
    return np.asarray(x) if isinstance(x, np.generic | float) else _host(x)


def _check_qr(res, arrays):
    """Against LAPACK: orthonormal Q, A = QR, and R equal to numpy's up to the signs."""
    q, r = host(res.Q), host(res.R)
    a = np.asarray(arrays["a"], dtype=np.result_type(arrays["a"].dtype, np.float64))
    tol = 1e3 * np.finfo(q.dtype).eps
    scale = max(np.linalg.norm(a), np.finfo(float).tiny)
    assert np.linalg.norm(q.conj().T @ q - np.eye(q.shape[-1])) <= tol
    assert np.linalg.norm(q @ r - a) <= tol * scale
    r_ref = np.linalg.qr(a)[1]
    d = np.diagonal(r_ref)
    ph = np.where(d == 0, 1.0, d / np.where(d == 0, 1.0, np.abs(d)))
    assert np.linalg.norm(r - r_ref * ph.conj()[:, None]) <= 1e3 * tol * scale


def _check_procrustes(kwargs):
    def check(res, arrays):
        a, b = (np.asarray(arrays[k], dtype=np.float64) for k in ("a", "b"))
        r = host(res.R)
        if not kwargs:
            r_ref, _ = scipy.linalg.orthogonal_procrustes(a, b)
            np.testing.assert_allclose(r, r_ref, atol=1e-10)
        n = r.shape[-1]
        np.testing.assert_allclose(np.swapaxes(r, -1, -2) @ r, np.broadcast_to(np.eye(n), r.shape),
                                   atol=1e-13)
        if kwargs.get("rotation"):
            assert np.all(np.linalg.det(r) > 0)
        # The residual reported is the one of the transform reported, and no sign-flip
        # candidate (Kabsch) beats it.
        s = np.asarray(host(res.scale))[..., None, None]
        t = np.asarray(host(res.translation))[..., None, :]
        fit = np.linalg.norm(s * (a @ r) + t - b, axis=(-2, -1))
        np.testing.assert_allclose(host(res.residual), fit, rtol=1e-8,
                                   atol=1e-12 * np.linalg.norm(b))
    return check


def _check_gpa(res, arrays):
    x = np.asarray(arrays["shapes"], dtype=np.float64)
    r, s, t, al = (np.asarray(host(v)) for v in (res.R, res.scale, res.translation, res.aligned))
    size = max(np.abs(x).max(), np.finfo(float).tiny)
    for i in range(x.shape[0]):
        np.testing.assert_allclose(r[i].T @ r[i], np.eye(r.shape[-1]), atol=1e-12)
        assert np.linalg.det(r[i]) > 0
        fit = s[i] * x[i] @ r[i] + t[i]
        np.testing.assert_allclose(fit, al[i], atol=1e-10 * size * max(1.0, s[i]))
    assert res.converged


CASES = [
    *[Case("qr", lambda xp, a, m=m: ortho.qr(a, method=m, rng=0), {"a": A}, id=m, homogeneous=True,
           check=_check_qr)
      for m in ("auto", "householder", "cholqr2", "shifted-cholqr3", "rand-cholqr")],
    Case("procrustes", lambda xp, a, b: ortho.procrustes(a, b), {"a": A, "b": B}, id="plain",
         homogeneous=True, check=_check_procrustes({})),
    Case("procrustes", lambda xp, a, b: ortho.procrustes(a, b, rotation=True), {"a": A, "b": B},
         id="rotation", homogeneous=True, check=_check_procrustes({"rotation": True})),
    Case("procrustes",
         lambda xp, a, b: ortho.procrustes(a, b, rotation=True, scale=True, center=True),
         {"a": A, "b": B}, id="similarity", homogeneous=True,
         check=_check_procrustes({"rotation": True, "scale": True})),
    Case("procrustes", lambda xp, a, b: ortho.procrustes(a, b, rotation=True),
         {"a": BATCH_A, "b": BATCH_B}, id="batched", homogeneous=True,
         check=_check_procrustes({"rotation": True})),
    Case("procrustes",
         lambda xp, a, b: ortho.procrustes(a, b, rotation=True, scale=True, center=True),
         {"a": STACK_A, "b": STACK_B}, id="stack-of-small", homogeneous=True,
         check=_check_procrustes({"rotation": True, "scale": True})),
    Case("generalized_procrustes",
         lambda xp, shapes: ortho.generalized_procrustes(shapes, rotation=True, scale=True),
         {"shapes": SHAPES}, homogeneous=True, check=_check_gpa),
]
