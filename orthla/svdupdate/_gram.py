"""Residual basis of a sparse batch from its Gram matrix (Deng et al.'s inner product).

The residual ``R = M - V C`` (``C = V^T M``) of a sparse block ``M`` (n x p) is
orthonormalized without a Householder QR of the dense ``R``: its Gram matrix is
``M^T M - C^T C`` (a sparse product and a small dense one); after a Jacobi scaling an
eigendecomposition of that p x p matrix gives ``Q1 = R Gamma``, formed from the exact
``R`` by one sparse and one dense product.  A second, explicit Cholesky-QR pass on
``Q1`` (BLAS-3) removes the rounding of the first (Cholesky-QR2), the leftover
component along ``V`` is measured and removed, and the coefficients ``B = Q^T R`` are
computed explicitly (not from the Gram matrix), so the result is as accurate as the QR
path.  The Gram matrix squares the condition number: kept directions must have a
scaled condition number at most ``MAX_COND`` and every dropped direction is measured
explicitly against the rank threshold; a batch that cannot be certified returns
``None`` and the caller uses the QR path.  NumPy + SciPy sparse only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Largest scaled condition number of the kept residual directions (first-pass
#: orthogonality loss ~ eps * MAX_COND**2 stays far below 1, so Cholesky-QR2 is stable).
MAX_COND = 1e4


def sparse_gram_basis(V: np.ndarray, M: Any, tol: float):
    """``(Q, C, B)`` with ``M ~= V C + Q B`` (as the QR path), or ``None`` if not certified.

    Cost: ``nnz(M) (r + q) + p^2 r + p^3 + n q (r + q)`` flops, all BLAS-3 or sparse,
    against ``O(n p^2)`` Householder work on the dense residual for the QR path.
    """
    import scipy.linalg

    C = np.asarray(M.T @ V).T                       # r x p, nnz(M) r flops
    Gm = (M.T @ M).toarray()                        # p x p, sparse
    d = np.sqrt(np.clip(np.diag(Gm), 0.0, None))    # column norms of M
    dd = np.where(d > 0, d, 1.0)
    lam, Y = np.linalg.eigh((Gm - C.T @ C) / dd[:, None] / dd[None, :])  # ascending
    lmax = lam[-1]
    if not lmax > 0:
        return None
    keep = lam >= lmax / MAX_COND**2
    Gamma = Y / dd[:, None]                         # R @ Gamma = (R D^-1) @ Y
    if not keep.all():
        # The Gram matrix cannot resolve these: measure R on them.  Since Gamma^-1 = Y^T D,
        # the part of R outside span(R Gamma_keep) is at most ||R Gamma_drop|| max(d).
        Gd = Gamma[:, ~keep]
        if np.linalg.norm(np.asarray(M @ Gd) - V @ (C @ Gd)) * d.max() > tol:
            return None
    Gk = Gamma[:, keep] / np.sqrt(lam[keep])[None, :]
    Q = np.asarray(M @ Gk) - V @ (C @ Gk)           # n x q, orthonormal up to ~eps cond^2
    S = Q.T @ Q
    if np.linalg.norm(S - np.eye(S.shape[0])) > 0.1:
        return None
    L = np.linalg.cholesky(S)                       # second pass: Cholesky-QR
    Q = scipy.linalg.solve_triangular(L, Q.T, lower=True, check_finite=False).T
    W = V.T @ Q
    w2 = float(np.sum(W * W))
    e = np.finfo(Q.dtype).eps
    if w2 > e:
        return None
    if w2 > (10 * e) ** 2:
        Q = Q - V @ W  # Gram matrix I - W^T W: orthonormal to eps
        W = V.T @ Q
    B = np.asarray(M.T @ Q).T - W.T @ C             # exact coefficients Q^T R (W = V^T Q)
    return Q, C, B
