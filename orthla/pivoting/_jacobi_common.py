"""Pieces shared by the Jacobi solvers: pivot orders, rotation angles, result types.

Both engines consume the same pivot schedule, a list of *rounds*, each a set of
disjoint index pairs.  Rotations on disjoint pairs commute, so the Numba engine
applying a round's pairs one after the other and the array-API engine applying
them all at once compute the same thing in exact arithmetic.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import eps

__all__ = [
    "PIVOTINGS",
    "JacobiConvergenceWarning",
    "JacobiInfo",
    "rotation_xp",
    "sweep_rounds",
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
        columns for one-sided Jacobi.  Converged means ``off_norm <= tol``.
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


class Task(NamedTuple):
    """Pairs touching only the columns ``cols``, as ``sub_rounds`` of disjoint pairs."""

    cols: np.ndarray
    sub_rounds: list[tuple[np.ndarray, np.ndarray]]


def tiled_phases(n: int, tile: int | None = None) -> list[list[Task]]:
    """Cyclic sweep in column tiles: every pair once, grouped so that work stays in cache.

    Phase 0 holds one task per tile (the pairs inside it, round-robin); then one phase
    per round of the round-robin over tiles, a task per tile pair (I, J) holding its
    ``|I| |J|`` cross pairs in ``tile`` sub-rounds ``(I[k], J[(k + r) % tile])``.  Tasks
    of a phase touch disjoint columns, so running them task by task (Numba: columns of
    two tiles stay in cache) or sub-round by sub-round across tasks (array-API: ~n/2
    pairs per batch) applies the same rotations.  With one tile this is ``round_robin``.
    ``tile=None`` reads the module's ``TILE`` (tests shrink it to exercise the tiling).
    """
    tile = TILE if tile is None else tile
    starts = list(range(0, n, tile))
    blocks = [np.arange(s, min(s + tile, n)) for s in starts]
    phases = [[Task(b, [(b[p], b[q]) for p, q in round_robin(len(b))]) for b in blocks if len(b) > 1]]
    k = np.arange(tile)
    for bp, bq in round_robin(len(blocks)):
        tasks = []
        for i, j in zip(bp, bq):
            bi, bj = blocks[i], blocks[j]
            subs = []
            for r in range(tile):
                kj = (k + r) % tile
                keep = (k < len(bi)) & (kj < len(bj))
                if keep.any():
                    subs.append((bi[k[keep]], bj[kj[keep]]))
            tasks.append(Task(np.concatenate([bi, bj]), subs))
        phases.append(tasks)
    return [ph for ph in phases if ph]


def phase_rounds(phases: list[list[Task]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rounds of disjoint pairs: the r-th sub-rounds of a phase's tasks, joined."""
    rounds = []
    for tasks in phases:
        for r in range(max(len(t.sub_rounds) for t in tasks)):
            subs = [t.sub_rounds[r] for t in tasks if r < len(t.sub_rounds)]
            p = np.concatenate([s[0] for s in subs])
            q = np.concatenate([s[1] for s in subs])
            rounds.append((np.minimum(p, q), np.maximum(p, q)))
    return rounds


def phase_tasks(phases: list[list[Task]]):
    """Flat arrays for the Numba kernels, task by task.

    Returns ``(ps, qs, pair_ptr, cols, col_ptr)``: task t owns the pairs
    ``ps[pair_ptr[t]:pair_ptr[t + 1]]`` (same for qs) and the columns
    ``cols[col_ptr[t]:col_ptr[t + 1]]``.
    """
    tasks = [t for tasks in phases for t in tasks]
    ps = [np.concatenate([s[0] for s in t.sub_rounds]) for t in tasks]
    qs = [np.concatenate([s[1] for s in t.sub_rounds]) for t in tasks]
    pair_ptr = np.cumsum([0] + [len(p) for p in ps])
    col_ptr = np.cumsum([0] + [len(t.cols) for t in tasks])
    empty = [np.zeros(0, dtype=np.int64)]
    as_int = [np.concatenate(x + empty).astype(np.int64) for x in (ps, qs)]
    cols = np.concatenate([t.cols for t in tasks] + empty).astype(np.int64)
    return as_int[0], as_int[1], pair_ptr.astype(np.int64), cols, col_ptr.astype(np.int64)


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

    ``"cyclic"`` is the tiled round-robin of :func:`tiled_phases`.
    """
    if pivoting == "cyclic":
        return phase_rounds(tiled_phases(n))
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


def rotation_xp(app: Any, aqq: Any, apq: Any, tol: float, xp: Any):
    """Jacobi rotation annihilating ``apq`` in the Hermitian 2x2 [[app, apq], [conj(apq), aqq]].

    Vectorised over pairs.  Returns ``(rot, c, s, e, t, absb)`` with
    ``J = [[c, s e], [-s conj(e), c]]`` so that ``J^H B J = diag(app - t|apq|, aqq + t|apq|)``;
    pairs with ``|apq| <= tol sqrt(|app|) sqrt(|aqq|)`` get ``J = I`` (``rot`` False).
    The tangent t = sign(tau) / (|tau| + sqrt(1 + tau^2)) is the smaller angle
    (|t| <= 1), computed without overflow for huge |tau|.
    """
    absb = xp.abs(apq)
    rot = absb > tol * xp.sqrt(xp.abs(app)) * xp.sqrt(xp.abs(aqq))
    one = xp.ones_like(absb)
    safe = xp.where(rot, absb, one)
    tau = (aqq - app) / (2 * safe)
    big = xp.abs(tau) > 1
    inv = xp.where(big, 1 / xp.where(big, tau, one), tau)
    root = xp.where(big, xp.abs(tau) * xp.sqrt(1 + inv * inv), xp.sqrt(1 + tau * tau))
    sign = xp.where(tau >= 0, one, -one)
    t = xp.where(rot, sign / (xp.abs(tau) + root), xp.zeros_like(absb))
    c = 1 / xp.sqrt(1 + t * t)
    s = t * c
    e = xp.where(rot, apq / xp.astype(safe, apq.dtype), xp.astype(one, apq.dtype))
    return rot, c, s, e, t, absb


def default_tolerance(tol: Any, n: int, dtype: Any, xp: Any) -> float:
    """``tol`` checked positive and finite; ``None`` gives ``sqrt(n) * eps`` of ``dtype``."""
    if tol is None:
        return float(np.sqrt(max(n, 1))) * eps(dtype, xp)
    tol = float(tol)
    if not (tol > 0 and np.isfinite(tol)):
        raise ValueError(f"`tol` must be a positive finite number; got {tol!r}.")
    return tol
