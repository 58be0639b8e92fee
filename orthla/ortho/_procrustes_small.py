"""Batched "signed" SVD of many tiny matrices (n <= 4) by vectorized one-sided Jacobi.

LAPACK's batched SVD pays a per-matrix call overhead (a few microseconds) that dominates for
3 x 3 problems.  Here every matrix entry of the whole batch is one contiguous vector and the
algorithm runs as a fixed pattern of elementwise operations on those vectors:

1. one-sided Jacobi (Hestenes) on the columns of ``M``: rotations ``V`` (det +1) until the
   columns of ``B = M V`` are orthogonal to working precision (quadratic convergence; one
   host synchronisation per sweep);
2. the columns sorted by decreasing norm with *signed* swaps (``(b_p, b_q) -> (b_q, -b_p)``,
   which keeps ``det V = +1``);
3. Givens QR of ``B = U T`` (``det U = +1``); ``T`` is diagonal to working precision because
   the columns of ``B`` are orthogonal, with ``T_jj >= 0`` except possibly the last.

So ``M = U diag(s) V^T`` with ``U, V`` rotations and ``s`` sorted by magnitude, only ``s[-1]``
possibly negative -- exactly what the Kabsch/Umeyama correction needs: the best rotation is
``U V^T``, the best orthogonal matrix ``U diag(1, ..., 1, sign s[-1]) V^T``.  No column is ever
normalized, so rank-deficient ``M`` needs no special case.
"""

from __future__ import annotations

from typing import Any

from .._backend import device, is_numpy, numba_available
from .._validate import eps
from ._qr_common import pow2, pow2_exponent

__all__ = ["CHUNK", "MAX_N", "MAX_SWEEPS", "signed_svd_small"]

#: Largest matrix order handled here (beyond it LAPACK's per-matrix overhead no longer dominates).
MAX_N = 4

#: Cyclic sweeps before giving up (quadratic convergence needs about 5 from a random start).
MAX_SWEEPS = 12


#: Batch entries per chunk on NumPy: the working set (a few dozen vectors) stays in cache.
CHUNK = 8192


def signed_svd_small(m: Any, xp: Any) -> tuple[Any, Any, Any] | None:
    """``(U, s, V)`` with ``m = U diag(s) V^T``, ``U, V`` rotations, or None if not converged.

    ``m`` has shape ``(..., n, n)``, real, ``n <= MAX_N``, finite and scaled to moderate size
    (the caller scales by powers of two).  ``s`` is sorted by decreasing ``|s|``; only the last
    entry can be negative.  One host synchronisation per sweep (per chunk on NumPy).
    """
    n = m.shape[-1]
    nd = m.ndim
    batch = tuple(m.shape[:-2])
    if is_numpy(xp) and numba_available():
        return _numba(m, xp)
    # Each matrix scaled by a power of two (exact, undone on s): the squared column norms of a
    # tiny M would underflow (every pair would look converged) and of a huge one overflow.
    amax = xp.max(xp.abs(m), axis=(-2, -1), keepdims=True)
    e = pow2_exponent(amax, xp) + 1.0
    m = m * pow2(-e, xp, m)
    # front[j, i, k] = m[k, i, j]: column j of every matrix, entries contiguous along the batch.
    front = xp.permute_dims(m, (nd - 1, nd - 2, *range(nd - 2)))
    front = xp.reshape(front, (n, n, -1))
    total = front.shape[-1]
    if is_numpy(xp):
        import numpy as np

        front = np.ascontiguousarray(front)
        chunks = [front[:, :, k:k + CHUNK] for k in range(0, total, CHUNK)]
    else:
        chunks = [front]
    outs = []
    for chunk in chunks:
        out = _signed_svd_columns(chunk, n, xp, eps(m.dtype, xp))
        if out is None:
            return None
        outs.append(out)
    u, s, v = (xp.concat([o[i] for o in outs], axis=0) if len(outs) > 1 else outs[0][i]
               for i in range(3))
    return (xp.reshape(u, (*batch, n, n)), xp.reshape(s, (*batch, n)) * pow2(e[..., 0], xp, m),
            xp.reshape(v, (*batch, n, n)))


def _numba(m: Any, xp: Any) -> tuple[Any, Any, Any] | None:
    """The Numba kernel (float64 inside; float32 input is cast back)."""
    import numpy as np

    from ._procrustes_small_numba import signed_svd_batch

    n = m.shape[-1]
    batch = tuple(m.shape[:-2])
    flat = np.ascontiguousarray(np.reshape(m, (-1, n, n)), dtype=np.float64)
    u, s, v, ok = signed_svd_batch(flat, n * float(np.finfo(np.float64).eps), MAX_SWEEPS)
    if not bool(np.all(ok)):
        return None
    dt = m.dtype
    return (u.reshape((*batch, n, n)).astype(dt, copy=False), s.reshape((*batch, n)).astype(dt, copy=False),
            v.reshape((*batch, n, n)).astype(dt, copy=False))


def _signed_svd_columns(front: Any, n: int, xp: Any, unit: float) -> tuple[Any, Any, Any] | None:
    """The algorithm on ``front`` of shape (n, n, N): ``front[j]`` is column j of all N matrices.

    Returns ``U`` (N, n, n), ``s`` (N, n), ``V`` (N, n, n), or None if Jacobi did not converge.
    """
    b = [front[j, ...] for j in range(n)]                    # columns, each (n, N)
    nb = b[0].shape[-1]
    zero = xp.zeros((nb,), dtype=front.dtype, device=device(front))
    one = xp.ones_like(zero)
    v = [xp.stack([one if i == j else zero for i in range(n)], axis=0) for j in range(n)]
    tol = n * unit
    pairs = [(p, q) for p in range(n - 1) for q in range(p + 1, n)]

    def dot(x, y):
        return xp.sum(x * y, axis=0)

    # Columns below tol * ||M||_F are rounding noise: their (relative) angles never settle and
    # do not matter (an absolute error of tol ||M||_F is backward stable), so they count as done.
    noise = (tol * tol) * xp.sum(front * front, axis=(0, 1))
    converged = not pairs
    for _ in range(MAX_SWEEPS if pairs else 0):
        done = None
        for p, q in pairs:
            alpha, beta, gamma = dot(b[p], b[p]), dot(b[q], b[q]), dot(b[p], b[q])
            small = xp.logical_or(xp.abs(gamma) <= tol * xp.sqrt(alpha * beta),
                                  xp.minimum(alpha, beta) <= noise)
            done = small if done is None else xp.logical_and(done, small)
            # The inner rotation: tan(2 theta) = -2 gamma / (alpha - beta), |2 theta| <= pi/2,
            # from cos(2 theta) = |d| / r and sin(2 theta) = -2 gamma sign(d) / r (no overflow).
            d = alpha - beta
            g = xp.where(d >= 0, -2.0 * gamma, 2.0 * gamma)
            r = xp.hypot(d, g)
            pos = r > 0
            rs = xp.where(pos, r, one)
            cos2 = xp.where(pos, xp.abs(d) / rs, one)
            c = xp.sqrt(0.5 * (1.0 + cos2))
            s = g / (2.0 * rs * c)
            b[p], b[q] = c * b[p] - s * b[q], s * b[p] + c * b[q]
            v[p], v[q] = c * v[p] - s * v[q], s * v[p] + c * v[q]
        if bool(xp.all(done)):
            converged = True
            break
    if not converged:
        return None

    # Sort columns by decreasing norm (bubble network of signed swaps, det V stays +1).
    norms = [dot(col, col) for col in b]
    for last in range(n - 1, 0, -1):
        for p in range(last):
            q = p + 1
            swap = norms[p] < norms[q]
            b[p], b[q] = xp.where(swap, b[q], b[p]), xp.where(swap, -b[p], b[q])
            v[p], v[q] = xp.where(swap, v[q], v[p]), xp.where(swap, -v[p], v[q])
            norms[p], norms[q] = xp.where(swap, norms[q], norms[p]), xp.where(swap, norms[p], norms[q])

    # Givens QR of B by rows; qt accumulates the rotations (U = qt^T).
    bm = xp.stack(b, axis=1)                                  # (row i, column j, N)
    t = [bm[i, ...] for i in range(n)]                        # rows, each (n, N)
    qt = [xp.stack([one if i == j else zero for j in range(n)], axis=0) for i in range(n)]
    for j in range(n - 1):
        for i in range(j + 1, n):
            x, y = t[j][j, ...], t[i][j, ...]
            r = xp.hypot(x, y)
            pos = r > 0
            rs = xp.where(pos, r, one)
            c = xp.where(pos, x / rs, one)
            s = xp.where(pos, y / rs, zero)
            t[j], t[i] = c * t[j] + s * t[i], c * t[i] - s * t[j]
            qt[j], qt[i] = c * qt[j] + s * qt[i], c * qt[i] - s * qt[j]
    s_diag = xp.stack([t[j][j, ...] for j in range(n)], axis=-1)           # (N, n)
    u = xp.permute_dims(xp.stack(qt, axis=0), (2, 1, 0))     # U[k, i, j] = qt[j][i, k]
    vm = xp.permute_dims(xp.stack(v, axis=0), (2, 1, 0))     # V[k, i, j] = v[j][i, k]
    return u, s_diag, vm
