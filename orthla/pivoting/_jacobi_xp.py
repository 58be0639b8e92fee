"""Array-API engines for Jacobi: each round of disjoint pairs is one batched update.

The working matrix is kept in a permuted layout where the round's pairs sit at
positions (0, 1), (2, 3), ...; moving from one round's layout to the next is
one ``take`` per axis, and a rotation of all pairs is a reshape plus
broadcasting.  No host synchronisation happens inside a sweep (the GPU path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .._backend import is_numpy
from ._jacobi_common import rotation_xp


def _conj(x, cplx, xp):
    return xp.conj(x) if cplx else x


def _layout(ps: np.ndarray, qs: np.ndarray, n: int) -> np.ndarray:
    """Order putting pair i at positions (2i, 2i+1), unpaired indices after them."""
    order = np.empty(n, dtype=np.int64)
    k = len(ps)
    order[0 : 2 * k : 2] = ps
    order[1 : 2 * k : 2] = qs
    rest = np.ones(n, dtype=bool)
    rest[ps] = False
    rest[qs] = False
    order[2 * k :] = np.flatnonzero(rest)
    return order


#: Index entries copied to the device at once by :meth:`Layout.sweep` (int32: 16 MiB); a sweep
#: with more (n above about 2900) is copied in several chunks.
CHUNK_ENTRIES = 1 << 22
#: Sweeps whose index arrays are kept on the device for reuse (the cyclic order repeats: from the
#: second sweep on, each sweep starts from the layout the previous one ended in).
CACHED_SWEEPS = 2


class Layout:
    """Tracks the permutation ``cur`` of the working arrays: ``work[i] = original[cur[i]]``.

    :meth:`sweep` computes a whole sweep's index arrays on the host and copies them to the
    device in one transfer (cached: a repeating schedule is copied at most twice per call), so
    no round of the sweep waits for the host.
    """

    def __init__(self, n: int, xp: Any, dev: Any):
        self.cur = np.arange(n)
        self.inv = np.arange(n)
        self.xp, self.dev, self.n = xp, dev, n
        self._cache: dict[bytes, tuple[list, np.ndarray, np.ndarray]] = {}

    def _advance(self, ps: np.ndarray, qs: np.ndarray) -> np.ndarray:
        order = _layout(ps, qs, self.n)
        rel = self.inv[order]
        self.cur = order
        self.inv = np.empty_like(order)
        self.inv[order] = np.arange(self.n)
        return rel

    def move(self, ps: np.ndarray, qs: np.ndarray):
        """Index array taking the current layout to the one of pairs (ps, qs) (one copy)."""
        return self.xp.asarray(self._advance(ps, qs), device=self.dev)

    def sweep(self, rounds) -> Iterator[tuple[int, Any]]:
        """``(pairs, index array)`` for each non-empty round of a sweep, on the device.

        The index arrays are stacked on the host and copied to the device in one transfer per
        ``CHUNK_ENTRIES`` entries (one for n up to about 2900); a sweep already seen from the
        same starting layout reuses its copy.  On NumPy (no transfer to save) each round's
        array is made when it is reached.
        """
        rounds = [(np.asarray(ps), np.asarray(qs)) for ps, qs in rounds if len(ps)]
        if is_numpy(self.xp):
            for ps, qs in rounds:
                yield len(ps), self._advance(ps, qs)
            return
        key = b"".join([self.cur.tobytes(), *(p.tobytes() + b"|" + q.tobytes() + b";" for p, q in rounds)])
        hit = self._cache.get(key)
        if hit is not None:
            self.cur, self.inv = hit[1].copy(), hit[2].copy()
            yield from zip([len(ps) for ps, _ in rounds], hit[0], strict=True)
            return
        keep = len(rounds) * self.n <= CHUNK_ENTRIES
        step = max(1, CHUNK_ENTRIES // max(self.n, 1))
        dt = np.int32 if self.n < 2**31 else np.int64
        kept = []
        for i in range(0, len(rounds), step):
            block = rounds[i : i + step]
            rels = self.xp.asarray(np.stack([self._advance(ps, qs) for ps, qs in block]).astype(dt),
                                   device=self.dev)
            for j, (ps, _) in enumerate(block):
                row = rels[j, :]
                if keep:
                    kept.append(row)
                yield len(ps), row
        if keep:
            if len(self._cache) >= CACHED_SWEEPS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (kept, self.cur.copy(), self.inv.copy())

    def restore(self):
        """Index array taking the current layout back to the original order."""
        return self.xp.asarray(self.inv, device=self.dev)


def _rotate_columns(x: Any, k: int, c, se, sce, xp):
    """Columns (2i, 2i+1) of x, i < k, become x J_i (batched)."""
    m = x.shape[0]
    pairs = xp.reshape(x[:, : 2 * k], (m, k, 2))
    xp_, xq = pairs[:, :, 0], pairs[:, :, 1]
    new = xp.stack([c * xp_ - sce * xq, se * xp_ + c * xq], axis=2)
    x[:, : 2 * k] = xp.reshape(new, (m, 2 * k))
    return x


def two_sided_round(a: Any, v: Any | None, k: int, tol: float, floor: float, cplx: bool, xp: Any):
    """One round on pairs (2i, 2i+1), i < k, of Hermitian ``a`` in place; returns #rotations (array).

    A pair is rotated when ``|a_pq| > tol sqrt(max(|a_pp|, floor)) sqrt(max(|a_qq|, floor))``
    (``floor``: :func:`~._jacobi_common.underflow_floor`), the test of ``relative_offdiag``.
    """
    n = a.shape[0]
    # copies: NumPy's diagonal is a view of `a`, which is updated in place below
    d = xp.asarray(xp.real(xp.linalg.diagonal(a)), copy=True)
    app, aqq = d[0 : 2 * k : 2], d[1 : 2 * k : 2]
    apq = xp.asarray(xp.linalg.diagonal(a[0 : 2 * k : 2, 1 : 2 * k : 2]), copy=True)
    rot = xp.abs(apq) > tol * (xp.sqrt(xp.clip(xp.abs(app), min=floor))
                               * xp.sqrt(xp.clip(xp.abs(aqq), min=floor)))
    c, s, e, t, absb = rotation_xp(app, aqq, apq, rot, xp)
    c = xp.astype(c, a.dtype)
    se, sce = xp.astype(s, a.dtype) * e, xp.astype(s, a.dtype) * _conj(e, cplx, xp)
    a = _rotate_columns(a, k, c, se, sce, xp)
    rows = xp.reshape(a[: 2 * k, :], (k, 2, n))
    rp, rq = rows[:, 0, :], rows[:, 1, :]
    c1, se1, sce1 = c[:, None], se[:, None], sce[:, None]
    # rows of J^H (a J): row p gets c, -s e; row q gets s conj(e), c
    new = xp.stack([c1 * rp - se1 * rq, sce1 * rp + c1 * rq], axis=1)
    a[: 2 * k, :] = xp.reshape(new, (2 * k, n))
    # the 2x2 pivot blocks take their exact values (diagonal, or untouched when skipped)
    zero = xp.zeros_like(apq)
    off = xp.where(rot, zero, apq)
    dp = xp.astype(app - t * absb, a.dtype)
    dq = xp.astype(aqq + t * absb, a.dtype)
    blocks = xp.stack([xp.stack([dp, off], axis=1), xp.stack([_conj(off, cplx, xp), dq], axis=1)], axis=1)
    eye = xp.eye(k, dtype=a.dtype, device=a.device)
    vals = xp.reshape(eye[:, None, :, None] * blocks[:, :, None, :], (2 * k, 2 * k))
    idx = xp.arange(2 * k, device=a.device) // 2
    mask = idx[:, None] == idx[None, :]
    a[: 2 * k, : 2 * k] = xp.where(mask, vals, a[: 2 * k, : 2 * k])
    if v is not None:
        _rotate_columns(v, k, c, se, sce, xp)
    return xp.sum(xp.astype(rot, xp.int64))


def squared_norms(g: Any, cplx: bool, xp: Any) -> Any:
    """Squared column norms of ``g`` (real)."""
    return xp.sum(xp.real(_conj(g, cplx, xp) * g), axis=0)


def one_sided_round(g: Any, v: Any | None, k: int, tol: float, floor: float, cplx: bool, xp: Any, *,
                    apply: bool = True):
    """One round of one-sided Jacobi on column pairs (2i, 2i+1) of ``g`` in place.

    Returns ``(rotations, max_cos)`` as 0-d arrays (no host sync); with
    ``apply=False`` only measures (rotations that would be applied).  A pair is rotated
    exactly when its cosine ``|x^H y| / (||x|| ||y||)`` exceeds ``tol``; a pair with a
    column of squared norm at most ``floor`` (negligible, see
    :func:`~._jacobi_common.underflow_floor`) has cosine 0 and is left alone.
    """
    m = g.shape[0]
    pairs = xp.reshape(g[:, : 2 * k], (m, k, 2))
    x, y = pairs[:, :, 0], pairs[:, :, 1]
    alpha = squared_norms(x, cplx, xp)
    beta = squared_norms(y, cplx, xp)
    gamma = xp.sum(_conj(x, cplx, xp) * y, axis=0)
    live = (alpha > floor) & (beta > floor)
    one = xp.ones_like(alpha)
    scale = xp.sqrt(xp.where(live, alpha, one)) * xp.sqrt(xp.where(live, beta, one))
    cos = xp.where(live, xp.abs(gamma) / scale, xp.zeros_like(alpha))
    rot = cos > tol
    if apply:
        c, s, e, _, _ = rotation_xp(alpha, beta, gamma, rot, xp)
        c = xp.astype(c, g.dtype)
        se, sce = xp.astype(s, g.dtype) * e, xp.astype(s, g.dtype) * _conj(e, cplx, xp)
        _rotate_columns(g, k, c, se, sce, xp)
        if v is not None:
            _rotate_columns(v, k, c, se, sce, xp)
    return xp.sum(xp.astype(rot, xp.int64)), xp.max(cos)
