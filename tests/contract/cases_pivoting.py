"""Contract cases for orthla.pivoting (see ``_case.Case``)."""

import numpy as np

import orthla

from ._case import Case, host

_rng = np.random.default_rng(20261207)
A64 = _rng.standard_normal((7, 4))


def _check_qr(res, a):
    q, r = host(res.Q), host(res.R)
    A = a["a"].astype(np.result_type(a["a"].dtype, np.float64))
    scale = max(np.linalg.norm(A), np.finfo(float).tiny)
    assert np.linalg.norm(q @ r - A) <= 1e-13 * scale
    assert np.linalg.norm(q.T @ q - np.eye(q.shape[1])) <= 1e-13


CASES = [
    Case("mgs_qr", lambda xp, a: orthla.mgs_qr(a), {"a": A64}, homogeneous=True, check=_check_qr),
]
