"""Products of Givens (plane) rotations grouped into layers of disjoint pairs."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import array_namespace, as_array, device
from .._validate import as_rng, check_int
from ._param_base import OrthogonalParametrization, as_params
from ._qr_common import host_float
from ._random_orthogonal import check_batch_shape, resolve_dtype, resolve_xp
from ._skew import check_orthogonal

__all__ = ["Givens", "qr_layout", "round_robin_pairs"]


def round_robin_pairs(d: int) -> np.ndarray:
    """The circle-method tournament on ``d`` rows: ``(d - 1, d/2, 2)`` for even ``d``; for odd ``d`` a
    dummy row ``d`` is added and its pairs dropped, ``(d, (d-1)/2, 2)``.  Every pair ``i < j`` once."""
    n = d + (d % 2)
    players = list(range(n))
    layers = []
    for _ in range(max(n - 1, 1)):
        layer = []
        for k in range(n // 2):
            a, b = players[k], players[n - 1 - k]
            if a < d and b < d:
                layer.append((min(a, b), max(a, b)))
        layers.append(sorted(layer))
        players = [players[0], players[-1], *players[1:-1]]
    return np.asarray(layers, dtype=np.int64).reshape(len(layers), d // 2, 2)


def qr_layout(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Parallel Givens QR with adjacent-row rotations (Sameh-Kuck): ``2d - 3`` layers.

    Stage ``t`` rotates rows ``(i-1, i)`` with ``i = d - 1 - t + 2c`` to zero entry ``(i, c)``, for
    each column ``c`` with ``c + 1 <= i <= d - 1``.  Returns ``pairs`` (``(2d-3, d//2, 2)``, idle rows
    paired up as fillers) and ``cols`` (the column each pair zeroes, ``-1`` for a filler).
    """
    n_stages = max(2 * d - 3, 0)
    pairs = np.zeros((n_stages, d // 2, 2), dtype=np.int64)
    cols = np.full((n_stages, d // 2), -1, dtype=np.int64)
    for t in range(n_stages):
        work = []
        for c in range(d - 1):
            i = d - 1 - t + 2 * c
            if c + 1 <= i <= d - 1:
                work.append((i - 1, i, c))
        used = {r for w in work for r in w[:2]}
        idle = [r for r in range(d) if r not in used]
        fill = [(idle[2 * k], idle[2 * k + 1], -1) for k in range(len(idle) // 2)]
        rows = (work + fill)[: d // 2]
        pairs[t] = [(a, b) for a, b, _ in rows]
        cols[t] = [c for _, _, c in rows]
    return pairs, cols


def _layer_perms(pairs: Any, d: int, xp: ModuleType) -> tuple[Any, Any]:
    """Per layer, ``perm`` (gather the first rows, then the second rows, then the rest) and its
    inverse; all layers at once with sorts (no scatter), one host sync for the overlap check."""
    L, p = pairs.shape[0], pairs.shape[1]
    dev = device(pairs)
    flat = xp.concat([pairs[..., 0], pairs[..., 1]], axis=-1)  # (L, 2p)
    ar = xp.broadcast_to(xp.arange(d, dtype=xp.int64, device=dev), (L, d))
    v = xp.sort(xp.concat([flat, ar], axis=-1), axis=-1)  # members twice, the rest once
    if 2 * p + d >= 3 and L > 0 and bool(xp.any(v[:, 2:] == v[:, :-2])):
        raise ValueError("`pairs` must hold disjoint pairs within each layer (a row appears twice in a layer, "
                         "or a pair (i, i)); rows of one layer are rotated in one vectorized step.")
    diff = v[:, 1:] != v[:, :-1]
    true = xp.ones((L, 1), dtype=xp.bool, device=dev)
    single = xp.concat([true, diff], axis=-1) & xp.concat([diff, true], axis=-1)
    rest = xp.sort(xp.where(single, v, xp.full_like(v, 2 * d + 1)), axis=-1)[:, : d - 2 * p]
    perm = xp.concat([flat, rest], axis=-1)
    return perm, xp.argsort(perm, axis=-1)


def _rotate(y: Any, idx: Any, c: Any, s: Any, p: int, xp: ModuleType) -> Any:
    """Gather rows by ``idx``, rotate the first ``p`` against the next ``p`` (no in-place writes)."""
    y = xp.take(y, idx, axis=y.ndim - 2)
    top, bot = y[..., :p, :], y[..., p: 2 * p, :]
    parts = [c * top - s * bot, s * top + c * bot]
    if y.shape[-2] > 2 * p:
        rest = y[..., 2 * p:, :]
        parts.append(xp.broadcast_to(rest, (*parts[0].shape[:-2], *rest.shape[-2:])))
    return xp.concat(parts, axis=-2)



def _namespace_and_dtype(xp: Any, dtype: Any) -> tuple[ModuleType, Any]:
    """The array-API namespace to create angles in (NumPy's by default) and its float dtype."""
    xp = array_namespace(resolve_xp(xp).asarray(0.0))
    return xp, resolve_dtype(dtype, xp)

class Givens(OrthogonalParametrization):
    """Product of layers of Givens rotations on disjoint row pairs, ``Q = R_{L-1} ⋯ R_1 R_0``.

    Parameters
    ----------
    pairs : int array, shape (n_layers, n_pairs, 2)
        Row pairs ``(i, j)``; the pairs of one layer must be disjoint (they rotate in one
        vectorized step).  Same array library as ``angles``.
    angles : array, shape (..., n_layers, n_pairs)
        Rotation angles; leading dimensions are a batch.
    d : int, optional
        Order of the operator (default: largest index in ``pairs`` plus one).

    Notes
    -----
    The rotation of angle ``theta`` on pair ``(i, j)`` maps rows ``x_i <- cos(theta) x_i - sin(theta) x_j``,
    ``x_j <- sin(theta) x_i + cos(theta) x_j``.  Layer 0 acts first: ``Q x = R_{L-1}(...(R_0 x))``.
    A layer is one gather (``take`` with a permutation), ``6 p k`` flops and a concatenation; the
    scatter of a layer and the gather of the next one are merged into one permutation.  Apply
    costs ``O(L d k)``; ``Q^T`` runs the layers backwards with negated angles.  Exactly orthogonal
    (up to ``cos^2 + sin^2 = 1`` in floating point); gradients by autograd through ``cos``, ``sin``,
    ``take`` and ``concat``.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import Givens
    >>> G = Givens(np.array([[[0, 1]]]), np.array([[np.pi / 2]]), d=3)
    >>> np.round(G.matrix(), 12) + 0.0
    array([[ 0., -1.,  0.],
           [ 1.,  0.,  0.],
           [ 0.,  0.,  1.]])
    """

    def __init__(self, pairs: Any, angles: Any, *, d: int | None = None) -> None:
        angles, xp = as_params(angles, "angles", min_ndim=2)
        pairs = as_array(pairs, xp)
        try:
            integral = xp.isdtype(pairs.dtype, "integral")
        except (TypeError, ValueError):
            integral = False
        if not integral:
            raise TypeError(f"`pairs` must be an integer array; got dtype {pairs.dtype}.")
        if pairs.ndim != 3 or pairs.shape[-1] != 2:
            raise ValueError(f"`pairs` must have shape (n_layers, n_pairs, 2); got shape {tuple(pairs.shape)}.")
        if tuple(angles.shape[-2:]) != tuple(pairs.shape[:2]):
            raise ValueError(f"`angles` must have shape (..., n_layers, n_pairs) = (..., {pairs.shape[0]}, "
                             f"{pairs.shape[1]}) to match `pairs` {tuple(pairs.shape)}; got {tuple(angles.shape)}.")
        pairs = xp.astype(pairs, xp.int64)
        if math.prod(pairs.shape):
            lo, hi = int(xp.min(pairs)), int(xp.max(pairs))
        else:
            lo, hi = 0, -1
        if d is None:
            if hi < 0:
                raise ValueError("`d` is needed when `pairs` is empty.")
            d = hi + 1
        d = check_int(d, "d", low=1)
        if lo < 0 or hi >= d:
            raise ValueError(f"`pairs` must hold row indices in [0, d) = [0, {d}); got values in [{lo}, {hi}].")
        if 2 * pairs.shape[1] > d:
            raise ValueError(f"`pairs` has {pairs.shape[1]} pairs per layer, more than d/2 = {d / 2:g} disjoint ones.")
        self._setup(pairs, angles, d, xp)

    def _setup(self, pairs: Any, angles: Any, d: int, xp: ModuleType) -> None:
        self._pairs = pairs
        self._angles = angles
        self._xp = xp
        self._d = d
        self._batch_shape = tuple(angles.shape[:-2])
        self._dtype = angles.dtype
        self._device = device(angles)
        perm, inv = _layer_perms(pairs, d, xp)
        L = pairs.shape[0]
        # Forward: gather with perm[0, :], then inv[l-1] followed by perm[l, :] as one take, end with inv[L-1].
        self._fwd = [perm[0, :]] + [xp.take(inv[l - 1, :], perm[l, :]) for l in range(1, L)] if L else []
        self._fwd_end = inv[L - 1, :] if L else None
        self._bwd = [perm[L - 1, :]] + [xp.take(inv[L - m, :], perm[L - 1 - m, :]) for m in range(1, L)] if L else []
        self._bwd_end = inv[0, :] if L else None

    # ------------------------------------------------------------------ constructors

    @classmethod
    def round_robin(cls, d: int, angles: Any = None, *, xp: Any = None, dtype: Any = None) -> Givens:
        """The round-robin (circle-method) layout: every pair ``i < j`` once, ``d(d-1)/2`` angles.

        ``d - 1`` layers of ``d/2`` pairs for even ``d``; for odd ``d`` a dummy row is added and its
        pairs dropped: ``d`` layers of ``(d-1)/2`` pairs.  ``angles=None`` gives the identity (zeros,
        in ``xp``/``dtype``, default NumPy float64).  At zero angles the map's Jacobian is the basis
        ``E_ij - E_ji`` of the skew matrices, so it is a local chart of SO(d); numerically it
        reaches random SO(d) matrices (checked by least squares for d <= 6), but no closed-form
        inverse is known: :meth:`from_matrix` uses :func:`qr_layout` instead.

        Examples
        --------
        >>> from orthla.ortho import Givens
        >>> G = Givens.round_robin(4)
        >>> G.pairs.shape, G.n_params
        ((3, 2, 2), 6)
        """
        d = check_int(d, "d", low=1)
        pairs_np = round_robin_pairs(d)
        return cls._from_layout(pairs_np, angles, d, xp, dtype)

    @classmethod
    def _from_layout(cls, pairs_np: np.ndarray, angles: Any, d: int, xp: Any, dtype: Any) -> Givens:
        if angles is None:
            xp, dtype = _namespace_and_dtype(xp, dtype)
            angles = xp.zeros(pairs_np.shape[:2], dtype=dtype)
        angles, xp = as_params(angles, "angles", min_ndim=2)
        if tuple(angles.shape[-2:]) != pairs_np.shape[:2]:
            raise ValueError(f"`angles` must have shape (..., {pairs_np.shape[0]}, {pairs_np.shape[1]}) for "
                             f"d = {d}; got {tuple(angles.shape)}.")
        out = cls.__new__(cls)
        out._setup(xp.asarray(pairs_np, device=device(angles)), angles, d, xp)
        return out

    @classmethod
    def from_matrix(cls, Q: Any) -> Givens:
        """Givens QR of ``Q`` in SO(d): the rotations that reproduce it, in :func:`qr_layout`.

        Stage ``t`` of the elimination zeroes, for each column ``c`` it reaches, entry ``(i, c)``
        against row ``i - 1`` with the angle that leaves a non-negative pivot; after ``2d - 3``
        stages ``R^T Q = diag(1, ..., 1, det Q)``.  The returned operator has the stages in reverse
        order with negated angles, filler pairs at angle 0, ``(2d-3) * (d//2)`` angles of which
        ``d(d-1)/2`` are used; its :meth:`matrix` reproduces ``Q`` to ``O(d eps)``.  Products of
        rotations have determinant +1, so ``det Q = -1`` raises (flip one column of ``Q`` first).

        Raises
        ------
        ValueError
            If ``Q`` is not orthogonal (``max|Q^T Q - I| > sqrt(eps)``) or has determinant -1.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import Givens
        >>> c, s = np.cos(0.3), np.sin(0.3)
        >>> Q = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        >>> bool(np.allclose(Givens.from_matrix(Q).matrix(), Q))
        True
        """
        Q, xp = check_orthogonal(Q, "Q")
        d = Q.shape[-1]
        pairs_np, cols_np = qr_layout(d)
        T, p = pairs_np.shape[:2]
        dev = device(Q)
        pairs = xp.asarray(pairs_np, device=dev)
        perm, inv = _layer_perms(pairs, d, xp)
        ar = xp.arange(d, dtype=xp.int64, device=dev)
        M = Q
        phis = []
        for t in range(T):
            onehot = xp.astype(xp.asarray(cols_np[t], device=dev)[:, None] == ar, Q.dtype)  # (p, d)
            y = xp.take(M, perm[t, :], axis=M.ndim - 2)
            a = xp.sum(y[..., :p, :] * onehot, axis=-1)
            b = xp.sum(y[..., p: 2 * p, :] * onehot, axis=-1)
            phi = xp.atan2(-b, a)
            phis.append(phi)
            y = _rotate(M, perm[t, :], xp.cos(phi)[..., None], xp.sin(phi)[..., None], p, xp)
            M = xp.take(y, inv[t, :], axis=y.ndim - 2)
        last = host_float(xp.min(M[..., d - 1, d - 1]))
        if last < 0:
            raise ValueError("`Q` has determinant -1; a product of rotations has determinant +1 "
                             "(flip the sign of one column of Q first).")
        if T == 0:
            angles = xp.zeros((*Q.shape[:-2], 0, p), dtype=Q.dtype, device=dev)
        else:
            angles = -xp.stack(phis[::-1], axis=-2)
        out = cls.__new__(cls)
        out._setup(xp.asarray(pairs_np[::-1].copy(), device=dev), angles, d, xp)
        return out

    @classmethod
    def random(cls, d: int, *, batch_shape: tuple[int, ...] = (), rng: Any = None, dtype: Any = None,
               xp: Any = None) -> Givens:
        """Round-robin layout with seeded angles uniform in ``[-pi, pi)`` (not Haar-distributed).

        Examples
        --------
        >>> from orthla.ortho import Givens
        >>> Givens.random(5, batch_shape=(2,), rng=0).shape
        (2, 5, 5)
        """
        d = check_int(d, "d", low=1)
        batch_shape = check_batch_shape(batch_shape)
        pairs_np = round_robin_pairs(d)
        theta = as_rng(rng).uniform(-math.pi, math.pi, (*batch_shape, *pairs_np.shape[:2]))
        xp, dtype = _namespace_and_dtype(xp, dtype)
        return cls._from_layout(pairs_np, xp.asarray(theta, dtype=dtype), d, xp, dtype)

    # ------------------------------------------------------------------ accessors

    @property
    def pairs(self) -> Any:
        """The row pairs, shape ``(n_layers, n_pairs, 2)`` (int64)."""
        return self._pairs

    @property
    def angles(self) -> Any:
        """The angles, shape ``batch_shape + (n_layers, n_pairs)``."""
        return self._angles

    @property
    def n_params(self) -> int:
        return self._pairs.shape[0] * self._pairs.shape[1]

    def _apply(self, x: Any, transpose: bool) -> Any:
        xp = self._xp
        L, p = self._pairs.shape[0], self._pairs.shape[1]
        batch = _broadcast_shapes(self._batch_shape, tuple(x.shape[:-2]))
        y = xp.broadcast_to(x, (*batch, *x.shape[-2:]))
        if L == 0 or p == 0:
            return y if L == 0 else xp.take(xp.take(y, self._fwd[0], axis=y.ndim - 2), self._fwd_end,
                                             axis=y.ndim - 2)
        angles = self._angles if self._angles.dtype == x.dtype else xp.astype(self._angles, x.dtype)
        C, S = xp.cos(angles), xp.sin(angles)
        order = range(L - 1, -1, -1) if transpose else range(L)
        idxs = self._bwd if transpose else self._fwd
        for step, l in enumerate(order):
            c, s = C[..., l, :, None], S[..., l, :, None]
            y = _rotate(y, idxs[step], c, -s if transpose else s, p, xp)
        return xp.take(y, self._bwd_end if transpose else self._fwd_end, axis=y.ndim - 2)


def _broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    return tuple(j if i == 1 else i for i, j in zip(a, b, strict=True))
