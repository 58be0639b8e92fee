"""Contract cases for orthla.pivoting (see ``_case.Case``).

The checks compare with LAPACK through NumPy (``svd``, ``eigvalsh``) on the arrays actually
passed, in double precision, with tolerances from the passed dtype's ``eps``; they work on the
input divided by a power of two near its largest entry, so that the 2**+-500-scaled variants of
these homogeneous algorithms are checked by the same bounds.
"""

import numpy as np

import orthla

from ._case import Case, host

_rng = np.random.default_rng(20261207)
A64 = _rng.standard_normal((7, 4))
C64 = (_rng.standard_normal((5, 3)) + 1j * _rng.standard_normal((5, 3)))
W64 = _rng.standard_normal((3, 6))
_g = _rng.standard_normal((5, 5))
SYM = _g + _g.T
_h = _rng.standard_normal((4, 4)) + 1j * _rng.standard_normal((4, 4))
HERM = _h + _h.conj().T
# diagonally dominant: positive definite, and still so after the sweep's rounding to integers
SPD = _g @ _g.T + 10 * np.eye(5)
# rank 2 (a repeated column, a zero column): the rank-deficient path of issue 12
RANKDEF = _rng.standard_normal((6, 4))
RANKDEF[:, 2] = RANKDEF[:, 0]
RANKDEF[:, 3] = 0.0


def _prepare(a):
    """The passed array in double precision, divided by ``c = 2^e`` near its largest entry."""
    a = np.asarray(a)
    A = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
    eps = np.finfo(a.dtype).eps if np.issubdtype(a.dtype, np.inexact) else np.finfo(float).eps
    amax = float(np.max(np.abs(A))) if A.size else 0.0
    c = float(np.ldexp(1.0, int(np.frexp(amax)[1]))) if amax > 0 else 1.0
    return A / c, c, eps


def _orthonormal_columns(q, tol):
    k = q.shape[1]
    assert np.linalg.norm(q.conj().T @ q - np.eye(k)) <= tol, "columns not orthonormal"


def _check_qr(res, arrays):
    A, c, eps = _prepare(arrays["a"])
    q, r = host(res.Q), host(res.R) / c
    m, n = A.shape
    k = min(m, n)
    assert q.shape == (m, k) and r.shape == (k, n)
    tol = 30 * max(m, n) * eps
    assert np.linalg.norm(q @ r - A) <= tol * max(np.linalg.norm(A), np.finfo(float).tiny)
    _orthonormal_columns(q, tol)
    assert np.all(np.tril(r, -1) == 0) and np.all(np.real(np.diagonal(r)) >= 0)
    assert np.all(np.imag(np.diagonal(r)) == 0)


# float32 times 2**+-500 is not a float32 number (the sweep's own multiplication overflows),
# and a list of Python floats is float64 input, whose result differs from the float32 example's
_F32_SCALES = {k: "2**+-500 is outside float32's range; float64 cases cover the scaling"
               for k in ("big", "small")}
_F32_SCALES["list"] = "a list of Python floats is float64 input (float64 cases cover lists)"


def _check_info(info):
    assert info.converged and info.converged == (info.off_norm <= info.tol), info


def _check_svd(res, arrays):
    A, c, eps = _prepare(arrays["a"])
    u, s, vh = host(res.U), host(res.S) / c, host(res.Vh)
    m, n = A.shape
    k = min(m, n)
    assert u.shape == (m, k) and s.shape == (k,) and vh.shape == (k, n)
    tol = 30 * max(m, n) * eps
    ref = np.linalg.svd(A, compute_uv=False)  # LAPACK gesdd
    np.testing.assert_allclose(s, ref, rtol=0, atol=tol * max(ref[0], np.finfo(float).tiny))
    _orthonormal_columns(u, tol)
    _orthonormal_columns(vh.conj().T, tol)
    assert np.linalg.norm((u * s) @ vh - A) <= tol * max(np.linalg.norm(A), np.finfo(float).tiny)
    _check_info(res.info)


def _check_eigh(res, arrays):
    A, c, eps = _prepare(arrays["a"])
    w, v = host(res.eigenvalues) / c, host(res.eigenvectors)
    n = A.shape[0]
    assert w.shape == (n,) and v.shape == (n, n)
    tol = 30 * max(n, 1) * eps
    ref = np.linalg.eigvalsh(A)  # LAPACK syevd/heevd
    top = max(float(np.max(np.abs(ref))) if n else 0.0, np.finfo(float).tiny)
    np.testing.assert_allclose(w, ref, rtol=0, atol=tol * top)
    _orthonormal_columns(v, tol)
    assert np.linalg.norm(A @ v - v * w) <= tol * top * max(n, 1)
    _check_info(res.info)


CASES = [
    Case("mgs_qr", lambda xp, a: orthla.mgs_qr(a), {"a": A64}, homogeneous=True, check=_check_qr),
    Case("mgs_qr", lambda xp, a: orthla.mgs_qr(a), {"a": C64}, id="complex", homogeneous=True,
         check=_check_qr),
    Case("mgs_qr", lambda xp, a: orthla.mgs_qr(a), {"a": W64.astype(np.float32)}, id="wide-float32",
         homogeneous=True, check=_check_qr, skip=_F32_SCALES),
    Case("jacobi_svd", lambda xp, a: orthla.jacobi_svd(a), {"a": A64}, homogeneous=True,
         check=_check_svd),
    Case("jacobi_svd", lambda xp, a: orthla.jacobi_svd(a), {"a": C64.T.copy()}, id="complex-wide",
         homogeneous=True, check=_check_svd),
    Case("jacobi_svd", lambda xp, a: orthla.jacobi_svd(a, precondition=None), {"a": RANKDEF},
         id="rank-deficient-no-precondition", homogeneous=True, check=_check_svd),
    Case("jacobi_svd", lambda xp, a: orthla.jacobi_svd(a), {"a": RANKDEF.astype(np.float32)},
         id="rank-deficient-float32", homogeneous=True, check=_check_svd, skip=_F32_SCALES),
    Case("jacobi_eigh", lambda xp, a: orthla.jacobi_eigh(a), {"a": SYM}, homogeneous=True,
         check=_check_eigh),
    Case("jacobi_eigh", lambda xp, a: orthla.jacobi_eigh(a), {"a": HERM}, id="hermitian",
         homogeneous=True, check=_check_eigh),
    Case("jacobi_eigh", lambda xp, a: orthla.jacobi_eigh(a, method="cholesky-one-sided"),
         {"a": SPD}, id="cholesky-one-sided", homogeneous=True, check=_check_eigh),
]
