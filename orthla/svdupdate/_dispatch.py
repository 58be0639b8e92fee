"""Which path an update takes: the sparse path, the dense Zha-Simon path or a recompute.

The sparse paths (Deng et al.'s Gram-matrix residual, the extended right basis) only
apply to SciPy sparse batches on NumPy; their eligibility rules were measured per path
and live next to them (``GRAM_MIN_BATCH`` in :mod:`._basis`, ``V_EXTENDED_*`` in
:mod:`._truncated`).  Whether updating at all beats recomputing the truncated SVD of
the whole (kept) matrix is decided here, by comparing predicted seconds.

The model counts the work of each path in a few kinds of operations and prices each
kind by a rate measured on the development machine (2-core shared CPU VM, BLAS pinned
to one thread; ``docs/bench_svdupdate.md``).  Only the ratio of two predictions matters,
so a machine that is uniformly faster or slower picks the same paths; the rates are
module constants that can be re-measured.
"""

from __future__ import annotations

from typing import NamedTuple

STRATEGIES = ("auto", "sparse", "dense", "recompute")

#: Seconds per flop of a dense matrix product (about 50 GFlop/s on one core).
GEMM = 2.0e-11
#: Seconds per flop of a Householder QR, Cholesky or triangular solve (about 9 GFlop/s).
FACTOR = 1.1e-10
#: Seconds per ``N^3`` of a dense SVD (``gesdd``) or symmetric eigensolver of order ``N``.
SMALL_SVD = 6.0e-10
#: Seconds per ``ncv * (nnz + ncv * min(m, n))`` of ``scipy.sparse.linalg.svds``
#: (ARPACK, ``ncv = max(2 r + 1, 20)``): Lanczos steps times the sparse products and
#: the reorthogonalization of each step.  Measured 5-47 ns on 500-5000 columns under
#: varying load; the number of restarts depends on the spectrum, so this is the
#: least certain rate (the dispatcher's crossover moves by up to ~2x in batch size).
SVDS = 7.0e-9
#: Seconds per ``m n min(m, n)`` of a dense LAPACK SVD of the whole matrix.
DENSE_SVD = 1.5e-10
#: Seconds per non-zero and product column of a SciPy sparse product.
SPARSE = 2.0e-9
#: Seconds per float64 element of a memory-bound pass over an n x r factor (copies,
#: matrix-vector products).
MEMORY = 1.0e-9
#: Fixed cost of one update call (validation, bookkeeping, monitoring) and of one svds call.
CALL = 3.0e-4
SVDS_CALL = 1.0e-2


class Prediction(NamedTuple):
    """Predicted seconds of each path for one update (``nan`` where it does not apply)."""

    sparse: float
    dense: float
    recompute: float


def _core(r: int, p: int) -> float:
    # SVD of the (r + p) x (r + p) core and the rotation of the n-row factor is priced
    # by the callers, which know n.
    return SMALL_SVD * (r + p) ** 3


def append_dense(n: int, p: int, r: int, nnz: int | None) -> float:
    """Zha-Simon on the dense residual of ``p`` new rows with ``n`` columns.

    ``C = E V`` (sparse or dense), the residual ``E^T - V C^T`` and one measured
    leftover ``V^T Y`` (two n p r products), the Householder QR of the n x p
    residual, the core SVD and ``V_new = [V, Q] G`` (n (r + p) r).
    """
    project = SPARSE * nnz * r if nnz is not None else GEMM * 2 * n * p * r
    return (CALL + project + GEMM * 4 * n * p * r + FACTOR * 2 * n * p * p
            + _core(r, p) + GEMM * 2 * n * (r + p) * r)


def append_gram(n: int, p: int, r: int, nnz: int) -> float:
    """Deng et al.'s Gram-matrix residual (Cholesky-QR2) for a sparse batch.

    Sparse ``C`` and ``E E^T``, the p x p eigensolver, ``Q1 = R Gamma`` (n p r),
    the Cholesky-QR pass (Gram n p^2 and a triangular solve n p^2), the check
    ``V^T Q`` and the coefficients ``Q^T R``, then the same core and rotation.
    """
    return (CALL + SPARSE * nnz * (r + 2 * p) + SMALL_SVD * p**3 + GEMM * 4 * n * p * r
            + GEMM * n * p * p + FACTOR * n * p * p + _core(r, p) + GEMM * 2 * n * (r + p) * r)


def append_extended(u: int, p: int, r: int, nnz: int) -> float:
    """Extended right basis ``V = V' K_v``: only the ``u`` touched rows of ``V'`` change.

    The batch's Gram matrix and coordinates on its ``u`` columns, the p x p eigensolver,
    the touched rows and a few r x r products (weak directions, which add ``O(n r q_w)``,
    are not known in advance and not priced).
    """
    return (2 * CALL + SPARSE * nnz * r + GEMM * (4 * u * r * r + 2 * p * p * u + 4 * p * u * r)
            + _core(r, p) + SMALL_SVD * (p**3 + 3 * r**3))


def rotate(rows: int, r: int) -> float:
    """An explicit factor ``X @ F`` (rows x r times r x r) and its copy into place."""
    return GEMM * 2 * rows * r * r + MEMORY * 3 * rows * r


def probe(m: int, n: int, r: int) -> float:
    """The orthogonality probe: two passes over each factor."""
    return MEMORY * 4 * (m + n) * r


def recompute(m: int, n: int, r: int, nnz: int | None) -> float:
    """Rank-``r`` SVD of the whole m x n matrix: ``svds`` (sparse) or LAPACK (dense)."""
    if nnz is None:
        return DENSE_SVD * m * n * min(m, n)
    ncv = min(max(2 * r + 1, 20), min(m, n))
    return SVDS_CALL + SVDS * ncv * (nnz + ncv * min(m, n))


def choose(strategy: str, pred: Prediction) -> str:
    """The path to take: the requested one, or under ``"auto"`` the cheapest predicted.

    ``nan`` marks a path that does not apply (no sparse batch, no kept matrix).  The
    sparse path is preferred over the dense one whenever it applies (its eligibility
    rules were measured), so ``"auto"`` only weighs the cheaper update against a recompute.
    """
    if strategy != "auto":
        return strategy
    update, cost = ("sparse", pred.sparse) if pred.sparse == pred.sparse else ("dense", pred.dense)
    if pred.recompute == pred.recompute and pred.recompute < cost:
        return "recompute"
    return update
