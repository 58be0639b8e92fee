"""Pieces shared by the Jacobi solvers: pivot orders, rotation angles, result types.

Both engines consume the same pivot schedule, a list of *rounds*, each a set of
disjoint index pairs.  Rotations on disjoint pairs commute, so the Numba engine
applying a round's pairs one after the other and the array-API engine applying
them all at once compute the same thing in exact arithmetic.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import numpy as np

from .._scaling import max_abs_exponent, scale_pow2, unscale_checked
from .._validate import as_rng, check_int, check_real, eps

__all__ = [
    "PIVOTINGS",
    "JacobiConvergenceWarning",
    "JacobiInfo",
    "checked_rng",
    "pow2_exponent",
    "rotation_xp",
    "scale_pow2",
    "sweep_rounds",
    "underflow_floor",
    "unscale",
]

PIVOTINGS = ("cyclic", "random", "random-sweep")


class JacobiConvergenceWarning(RuntimeWarning):
    """A Jacobi iteration stopped at ``max_sweeps`` before meeting its tolerance."""


class JacobiInfo(NamedTuple):
    """Convergence record of a Jacobi solver.

    Attributes
    ----------
    converged : bool
        Whether the relative stopping rule was met within ``max_sweeps``.
    sweeps : int
        Sweeps performed (a sweep is n(n-1)/2 pivot steps, for every pivoting).
    rotations : int
        Rotations actually applied (pairs already below the tolerance are skipped).
    off_norm : float
        Final relative off-diagonal measure: ``max |a_ij| / sqrt(|a_ii a_jj|)``
        for two-sided Jacobi, ``max |g_i^H g_j| / (||g_i|| ||g_j||)`` over the
        columns for one-sided Jacobi, on the input scaled by a power of two
        (see :func:`underflow_floor` for the guard against zero diagonals and
        negligible columns).  Converged means ``off_norm <= tol``; the pairs
        rotated are exactly those whose measure exceeds ``tol``.
    tol : float
        The tolerance used.
    """

    converged: bool
    sweeps: int
    rotations: int
    off_norm: float
    tol: float


def round_robin(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The n-1 (n even) or n (n odd) rounds of a round-robin tournament on n indices.

    Every pair appears once per sweep, each round holds disjoint pairs, so a
    round can run as one batched operation (the parallel ordering of Brent-Luk).
    """
    m = n + (n % 2)  # a dummy player n sits out a round when n is odd
    players = np.arange(m)
    rounds = []
    for r in range(m - 1):
        arr = np.concatenate(([0], np.roll(players[1:], r)))
        p, q = arr[: m // 2], arr[::-1][: m // 2]
        keep = (p < n) & (q < n)
        p, q = p[keep], q[keep]
        rounds.append((np.minimum(p, q), np.maximum(p, q)))
    return rounds


# Width of the column tiles of the cyclic order.  Two tiles of a Fortran-ordered n x n
# matrix (and of V) stay in L2 while their 32^2 pairs are rotated; 32 was the fastest of
# 16/32/64 at n = 500 and 2000 on the 2-core benchmark VM (docs/bench_pivoting.md).
TILE = 32


class TiledSweep(NamedTuple):
    """One cyclic sweep in column tiles (see :func:`tiled_sweep`); arrays are read-only.

    ``rounds`` are the rounds of disjoint pairs (array-API engine).  The Numba kernels
    take the same pairs task by task: task t rotates ``ps[pair_ptr[t]:pair_ptr[t+1]]``
    against ``qs[...]``, all among its columns ``cols[col_ptr[t]:col_ptr[t+1]]``.
    """

    rounds: list
    ps: np.ndarray
    qs: np.ndarray
    pair_ptr: np.ndarray
    cols: np.ndarray
    col_ptr: np.ndarray


def tiled_sweep(n: int, tile: int | None = None) -> TiledSweep:
    """Cyclic sweep in column tiles: every pair once, grouped so that work stays in cache.

    Phase 0 rotates the pairs inside each tile (round-robin, one task per tile); then
    comes one phase per round of the round-robin over tiles, with a task per tile pair
    (I, J) holding its cross pairs in ``tile`` sub-rounds ``(I[k], J[(k + r) % tile])``.
    Tasks of a phase touch disjoint columns, so running them task by task (Numba: the
    columns of two tiles stay in cache) or sub-round by sub-round across tasks
    (array-API: about n/2 pairs per batch) applies the same rotations.  With one tile
    this is :func:`round_robin`.  ``tile=None`` reads the module's ``TILE`` (tests shrink
    it to run small matrices through several tiles).  Cached per ``(n, tile)``.
    """
    return _tiled_sweep(n, TILE if tile is None else tile)


@functools.lru_cache(maxsize=8)
def _tiled_sweep(n: int, tile: int) -> TiledSweep:
    starts = np.arange(0, n, tile)
    full = starts[starts + tile <= n]
    blocks = [np.arange(s, min(s + tile, n)) for s in starts]
    rounds, tasks = [], []  # tasks: (cols, [(p, q) per sub-round])
    # phase 0: pairs inside each tile, the full tiles batched, a short last tile apart
    inner = round_robin(tile)
    short = blocks[-1] if len(blocks[-1]) < tile else None
    short_rr = round_robin(len(short)) if short is not None and len(short) > 1 else []
    for r in range(max(len(inner) if len(full) else 0, len(short_rr))):
        p, q = [], []
        if len(full) and r < len(inner):
            p.append((full[:, None] + inner[r][0][None, :]).ravel())
            q.append((full[:, None] + inner[r][1][None, :]).ravel())
        if r < len(short_rr):
            p.append(short[short_rr[r][0]])
            q.append(short[short_rr[r][1]])
        rounds.append((np.concatenate(p), np.concatenate(q)))
    for s in full:
        tasks.append((s + np.arange(tile), [(s + pr, s + qr) for pr, qr in inner]))
    if len(short_rr):
        tasks.append((short, [(short[pr], short[qr]) for pr, qr in short_rr]))
    # one phase per round of the tournament of tiles
    k = np.arange(tile)
    shift = (k[None, :] + k[:, None]) % tile  # [r, k]
    for bi, bj in round_robin(len(blocks)):
        if len(bi) == 0:
            continue
        pp = np.broadcast_to(starts[bi][:, None, None] + k[None, None, :], (len(bi), tile, tile))
        qq = starts[bj][:, None, None] + shift[None, :, :]
        ok = (pp < n) & (qq < n)
        for r in range(tile):
            sel = ok[:, r, :]
            if sel.any():
                rounds.append((pp[:, r, :][sel], qq[:, r, :][sel]))
        for t in range(len(bi)):
            sel = ok[t]
            tasks.append((np.concatenate([blocks[bi[t]], blocks[bj[t]]]), [(pp[t][sel], qq[t][sel])]))
    ps = np.concatenate([np.zeros(0, np.int64)] + [p for _, subs in tasks for p, _ in subs])
    qs = np.concatenate([np.zeros(0, np.int64)] + [q for _, subs in tasks for _, q in subs])
    pair_ptr = np.cumsum([0] + [sum(len(p) for p, _ in subs) for _, subs in tasks])
    cols = np.concatenate([np.zeros(0, np.int64)] + [c for c, _ in tasks])
    col_ptr = np.cumsum([0] + [len(c) for c, _ in tasks])
    out = [ps, qs, pair_ptr, cols, col_ptr]
    for i, x in enumerate(out):
        out[i] = x.astype(np.int64)
        out[i].flags.writeable = False
    for p, q in rounds:
        p.flags.writeable = q.flags.writeable = False
    return TiledSweep(rounds, *out)


def row_cyclic_pairs(n: int, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cyclic-by-rows sweep (all pairs (p, q), p < q, in row-major order), in column blocks.

    Rows are taken block by block: the pairs inside a block of ``block`` columns, then
    that block against each later block, row by row.  Every index meets its pairs in the
    same order as in the plain row-cyclic sweep, so both apply the same rotations; the
    blocks keep the columns in cache at n = 2000 (the plain order streams the whole
    matrix for every row).  For one-sided Jacobi this order needed 16% fewer rotations
    than the tiled round-robin of :func:`tiled_sweep` on the benchmark inputs
    (docs/bench_pivoting.md).  ``block=None`` is ``2 * TILE`` (64, fastest of 32/64/128
    at n = 2000; tests shrink ``TILE``).  Read-only arrays, cached per ``(n, block)``.
    """
    return _row_cyclic_pairs(n, 2 * TILE if block is None else block)


@functools.lru_cache(maxsize=4)
def _row_cyclic_pairs(n: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    ps, qs = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        i, j = np.triu_indices(len(rows), 1)
        ps.append(rows[i])
        qs.append(rows[j])
        for later in range(start + block, n, block):
            cols = np.arange(later, min(later + block, n))
            ps.append(np.repeat(rows, len(cols)))
            qs.append(np.tile(cols, len(rows)))
    out = np.concatenate(ps).astype(np.int64), np.concatenate(qs).astype(np.int64)
    for x in out:
        x.flags.writeable = False
    return out


def row_cyclic_tasks(n: int, block: int | None = None) -> TiledSweep:
    """:func:`row_cyclic_pairs` cut into tasks for the two-sided task kernel.

    Task per block of ``block`` columns (its inner pairs), then per block pair (I, J), J
    after I (the pairs I x J, row by row); ``ps``/``qs`` are exactly
    ``row_cyclic_pairs(n, block)``.  Tasks run one after the other (the kernel mirrors a
    task's rows before the next starts), so they may share columns.  ``rounds`` is empty:
    the array-API engine replays this order with :func:`row_cyclic_rounds`.
    ``block=None`` is ``TILE // 2`` (16: a task's columns of a and V, 2 x 32 x n, stay in
    L2; 8% faster than 32 at n = 500, equal at n = 1000, docs/bench_pivoting.md).
    Read-only arrays, cached per ``(n, block)``.
    """
    return _row_cyclic_tasks(n, max(TILE // 2, 2) if block is None else block)


@functools.lru_cache(maxsize=4)
def _row_cyclic_tasks(n: int, block: int) -> TiledSweep:
    ps, qs = _row_cyclic_pairs(n, block)
    sizes, cols = [0], [np.zeros(0, np.int64)]
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        sizes.append(len(rows) * (len(rows) - 1) // 2)
        cols.append(rows)
        for later in range(start + block, n, block):
            other = np.arange(later, min(later + block, n))
            sizes.append(len(rows) * len(other))
            cols.append(np.concatenate([rows, other]))
    pair_ptr = np.cumsum(sizes).astype(np.int64)
    col_ptr = np.cumsum([0] + [len(c) for c in cols[1:]]).astype(np.int64)
    cols = np.concatenate(cols).astype(np.int64)
    for x in (pair_ptr, col_ptr, cols):
        x.flags.writeable = False
    return TiledSweep([], ps, qs, pair_ptr, cols, col_ptr)


@functools.lru_cache(maxsize=4)
def row_cyclic_rounds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The row-cyclic sweep as rounds of disjoint pairs, for the batched array-API engine.

    In the row-cyclic order the pair (p, q) waits for (p, q-1) and (p-1, q) only, so it can
    run at step p + q: the anti-diagonals p + q = 1 .. 2n-3 are rounds of disjoint pairs
    that apply exactly the rotations of :func:`row_cyclic_pairs` (about 2n rounds, against
    n for a round-robin).
    """
    p, q = np.triu_indices(n, 1)
    key = p + q
    order = np.argsort(key, kind="stable")
    p, q = p[order].astype(np.int64), q[order].astype(np.int64)
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    rounds = list(zip(np.split(p, cuts), np.split(q, cuts), strict=True)) if n > 1 else []
    for a, b in rounds:
        a.flags.writeable = b.flags.writeable = False
    return rounds


def _split_disjoint(p: np.ndarray, q: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut a pair sequence into maximal runs of disjoint consecutive pairs (order kept)."""
    rounds, start, used = [], 0, set()
    for i in range(len(p)):
        if p[i] in used or q[i] in used:
            rounds.append((p[start:i], q[start:i]))
            start, used = i, set()
        used.update((int(p[i]), int(q[i])))
    rounds.append((p[start:], q[start:]))
    return rounds


def sweep_rounds(n: int, pivoting: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pivot pairs (p < q) of one sweep of n(n-1)/2 steps, as rounds of disjoint pairs.

    ``"cyclic"`` is the tiled round-robin of :func:`tiled_sweep`.
    """
    if pivoting == "cyclic":
        return list(tiled_sweep(n).rounds)
    if pivoting == "random-sweep":
        # every pair once, in a random order: relabel the tournament and shuffle its rounds
        perm = rng.permutation(n)
        rounds = [(perm[p], perm[q]) for p, q in round_robin(n)]
        rounds = [rounds[i] for i in rng.permutation(len(rounds))]
        return [(np.minimum(p, q), np.maximum(p, q)) for p, q in rounds]
    # "random": n(n-1)/2 independent uniformly random pairs
    steps = n * (n - 1) // 2
    p = rng.integers(0, n, size=steps)
    q = rng.integers(0, n - 1, size=steps)
    q = q + (q >= p)
    return _split_disjoint(np.minimum(p, q), np.maximum(p, q))


def rotation_xp(app: Any, aqq: Any, apq: Any, rot: Any, xp: Any):
    """Jacobi rotation annihilating ``apq`` in the Hermitian 2x2 [[app, apq], [conj(apq), aqq]].

    Vectorised over pairs; ``rot`` (boolean) marks the pairs to rotate, chosen by the caller's
    relative test, the others get ``J = I``.  Returns ``(c, s, e, t, absb)`` with
    ``J = [[c, s e], [-s conj(e), c]]`` so that ``J^H B J = diag(app - t|apq|, aqq + t|apq|)``.
    The tangent t = sign(tau) / (|tau| + sqrt(1 + tau^2)) is the smaller angle
    (|t| <= 1), computed without overflow for huge |tau|.
    """
    absb = xp.abs(apq)
    one = xp.ones_like(absb)
    safe = xp.where(rot, absb, one)
    tau = xp.where(rot, (aqq - app) / (2 * safe), xp.zeros_like(absb))
    big = xp.abs(tau) > 1
    inv = xp.where(big, 1 / xp.where(big, tau, one), tau)
    # where() evaluates both branches: square only the |tau| <= 1 ones (tau^2 overflows float32
    # from |tau| = 2e19 on, which a rank-deficient single-precision input reaches)
    root = xp.sqrt(1 + inv * inv) * xp.where(big, xp.abs(tau), one)
    sign = xp.where(tau >= 0, one, -one)
    t = xp.where(rot, sign / (xp.abs(tau) + root), xp.zeros_like(absb))
    c = 1 / xp.sqrt(1 + t * t)
    s = t * c
    e = xp.where(rot, apq / xp.astype(safe, apq.dtype), xp.astype(one, apq.dtype))
    return c, s, e, t, absb


def default_tolerance(tol: Any, n: int, dtype: Any, xp: Any) -> float:
    """``tol`` checked positive and finite; ``None`` gives ``sqrt(n) * eps`` of ``dtype``."""
    if tol is None:
        return float(np.sqrt(max(n, 1))) * eps(dtype, xp)
    return check_real(tol, "tol", low=0, low_open=True)


def checked_rng(rng: Any) -> np.random.Generator:
    """:func:`as_rng`, refusing a boolean seed (``rng=True`` is a bug, not the seed 1)."""
    if isinstance(rng, numbers.Integral | np.integer):
        check_int(rng, "rng", low=0)
    return as_rng(rng)


# ---------------------------------------------------------------- scaling
# Jacobi and Gram-Schmidt are homogeneous: the input is scaled by a power of two (exact) so
# that its largest entry lies in [0.5, 1), the results are scaled back.  Squared norms and
# diagonals then neither overflow nor underflow except for columns negligible next to the
# largest entry, which :func:`underflow_floor` treats as zero.


# The scaling itself is shared with every homogeneous algorithm (orthla/_scaling.py).
pow2_exponent = max_abs_exponent


def unscale(x: Any, e: int, xp: Any, what: str) -> Any:
    """``x * 2^e`` back to the input's scale; ``ValueError`` naming ``a`` beyond the dtype's range."""
    return unscale_checked(x, e, xp, name="a", what=what)


def underflow_floor(dtype: Any, xp: Any) -> float:
    """``smallest_normal / eps`` of ``dtype`` (1e-292 for float64, 1e-31 for float32).

    On data scaled by :func:`pow2_exponent` (largest entry in [0.5, 1)), one-sided Jacobi treats
    a column whose squared norm is at or below this floor as zero (it is not rotated and is
    zeroed at the end: its norm is below ``sqrt(floor)``, far below ``eps`` times the largest
    entry), as LAPACK ``*gesvj`` skips columns of negligible norm.  Two-sided Jacobi measures
    ``|a_pq| / sqrt(max(|a_pp|, floor) max(|a_qq|, floor))``.  Above the floor, squares are normal
    numbers and every rotation angle is finite: the rounding noise of a column that shrinks
    towards zero in a rank-deficient matrix can no longer underflow into NaN.
    """
    fi = xp.finfo(dtype)
    return float(fi.smallest_normal) / float(fi.eps)
