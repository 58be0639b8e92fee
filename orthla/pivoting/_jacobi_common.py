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
    """Pivot pairs (p < q) of one sweep of n(n-1)/2 steps, as rounds of disjoint pairs."""
    if pivoting == "cyclic":
        return round_robin(n)
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
