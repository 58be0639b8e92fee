"""Owen's nested uniform scrambling (NUS) of Halton points, digit by digit in base ``b``.

The random tree of permutations is defined level by level (level ``k`` = digit
``k`` of the radical inverse, weight ``b^-(k+1)``); the node of point ``i`` at level
``k`` is its prefix ``p_k = i mod b^k`` (the ``k`` original leading digits).

- Shallow levels, while the level's table of ``b^k`` nodes times ``b`` digits has
  at most :data:`TABLE_ENTRIES` entries: an explicit uniform random permutation per
  node, drawn from ``rng``.
- Deeper levels (``b^k`` nodes cannot be stored): the node's permutation is the
  affine map ``a -> (u a + v) mod b`` with ``u`` in ``1..b-1`` and ``v`` in ``0..b-1``
  read from a 64-bit hash (splitmix64) of a per-level random key XOR ``p_k``, so it
  is defined lazily and identically in every draw.  For ``b <= 3`` these maps are
  all of the permutations; for larger ``b`` they keep what Owen's variance and
  net-property arguments use: each digit uniform, two distinct digits mapped to a
  uniform pair of distinct digits (``u (a - a')`` runs over the nonzero residues as
  ``b`` is prime), independent nodes.  The multiply-shift maps of 32 hash bits
  to ``u`` and ``v`` are uniform up to ``2^-32``.
- The digits beyond the ``K`` kept ones (deeper than double precision) are i.i.d.
  uniform in NUS once the prefix identifies the point (``p_K = i`` for every index
  below ``b^K``): they are replaced by one uniform ``U b^-K``, ``U`` a 53-bit hash of
  ``p_K`` under the key of level ``K``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._bits import bits_dtype, shr, to_device, word
from ._digital import _mix64_xp

__all__ = ["TABLE_ENTRIES", "NusTree", "draw_nus", "nus_points_xp"]

#: Largest table (nodes x digits) stored for one level of one dimension.
TABLE_ENTRIES = 4096
_MASK32 = 2**32 - 1


class NusTree:
    """The randomness of NUS for ``R`` replications of a Halton sequence.

    Attributes
    ----------
    levels : numpy.ndarray of int64, shape (d,)
        ``levels[j]``: number of leading levels of dimension ``j`` with explicit tables.
    tables : list of numpy.ndarray of int64
        ``tables[j]`` has shape ``(R, T_j)``: level ``k < levels[j]`` occupies
        ``b^(k+1)`` entries starting at ``sum_{l<k} b^(l+1)``; entry
        ``p b + a`` of that block is the image of digit ``a`` at node ``p``.
    keys : numpy.ndarray of uint64, shape (R, d, max(K) + 1)
        Hash keys of the deeper levels and of the tail (level ``K_j``).
    """

    def __init__(self, levels: np.ndarray, tables: list, keys: np.ndarray) -> None:
        self.levels, self.tables, self.keys = levels, tables, keys


def table_levels(b: int, K: int) -> int:
    """Number of levels ``k < K`` whose permutation table (``b^(k+1)`` entries) fits."""
    L = 0
    while L < K and b ** (L + 1) <= TABLE_ENTRIES:
        L += 1
    return L


def draw_nus(bases: np.ndarray, ndigits: np.ndarray, R: int, rng: np.random.Generator) -> NusTree:
    """Draw the tables and keys of NUS for every dimension and replication."""
    levels = np.array([table_levels(int(b), int(K)) for b, K in zip(bases, ndigits, strict=True)],
                      dtype=np.int64)
    tables = []
    for b, L in zip(bases.tolist(), levels.tolist(), strict=True):
        # every node of every tabled level in one draw: level k's b^k nodes follow level k-1's
        nodes = (b**L - 1) // (b - 1)
        tables.append(rng.permuted(np.broadcast_to(np.arange(b, dtype=np.int64), (R, nodes, b)), axis=2)
                      .reshape(R, nodes * b))
    kmax = int(ndigits.max()) if ndigits.size else 0
    keys = rng.integers(0, 2**64, size=(R, bases.shape[0], kmax + 1), dtype=np.uint64)
    return NusTree(levels, tables, keys)


def nus_points_xp(tree: NusTree, bases: np.ndarray, ndigits: np.ndarray, i: Any, xp: Any,
                  device: Any) -> Any:
    """NUS-scrambled Halton points of the indices ``i`` (n,), shape (R, n, d), float64.

    The same operations in the same order as the Numba kernel ``halton_nus_points``,
    so both engines agree bit for bit.
    """
    R, n = tree.keys.shape[0], i.shape[0]
    keys = to_device(tree.keys, xp, device)
    below_one = xp.asarray(1.0 - 2.0**-53, dtype=xp.float64, device=device)
    bdt = bits_dtype(xp)
    cols = []
    for j, (b, K, L) in enumerate(zip(bases.tolist(), ndigits.tolist(), tree.levels.tolist(), strict=True)):
        table = xp.asarray(tree.tables[j], device=device)
        x = xp.zeros((R, n), dtype=xp.float64, device=device)
        q, p = i, xp.zeros_like(i)
        w = w_last = 1.0 / b
        b_pow, off = 1, 0
        for k in range(K):
            a = q % b
            q = q // b
            if k < L:
                idx = off + p * b + a
                y = xp.stack([xp.take(table[r, :], idx) for r in range(R)])
                off += b_pow * b
            else:
                h = _mix64_xp(keys[:, j, k][:, None] ^ xp.astype(p, bdt)[None, :], xp)
                # Lemire's multiply-shift maps 32 random bits to 0..b-1 (or 1..b-1) without division.
                v = shr((h & word(_MASK32, h, xp)) * b, 32, xp)
                u = shr(shr(h, 32, xp) * (b - 1), 32, xp) + 1
                y = (xp.astype(u, xp.int64) * a[None, :] + xp.astype(v, xp.int64)) % b
            x = x + xp.astype(y, xp.float64) * w
            w_last = w
            w /= b
            p = p + a * b_pow
            b_pow *= b
        h = _mix64_xp(keys[:, j, K][:, None] ^ xp.astype(p, bdt)[None, :], xp)
        x = x + xp.astype(shr(h, 11, xp), xp.float64) * 2.0**-53 * w_last
        # a sum of scrambled digits may round up to 1.0; keep [0, 1) (as the Numba kernel does)
        cols.append(xp.where(x < 1.0, x, below_one))
    return xp.stack(cols, axis=-1)
