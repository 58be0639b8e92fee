"""BOFT's butterfly orthogonal operator: block-diagonal factors between butterfly permutations.

Convention (that of BOFT [1]_ and its reference implementation): with block size ``b`` (even when
there are two factors or more), ``k = d / b`` blocks and ``m`` factors,

    Q = F_{m-1} ... F_1 F_0,      F_i = P_i D_i P_i^T,

``D_i = diag(B_{i,0}, ..., B_{i,k-1})`` block diagonal with orthogonal ``b x b`` blocks, and
``P_i`` the permutation matrix ``P_i[j, p_i[j]] = 1`` (so ``(P_i x)[j] = x[p_i[j]]``) of the
index map ``p_i``: cut ``0..d-1`` into chunks of ``b 2^i`` consecutive indices and each chunk into
``2^(i+1)`` half-blocks of ``r = b/2`` indices; within each chunk the half-blocks are reordered
evens first, then odds: ``0, 2, 4, ..., 1, 3, 5, ...``.  ``P_0 = I`` (so ``F_0`` is plain OFT);
the block ``j`` of ``D_i`` couples the half-blocks ``t`` and ``t + 2^i`` of a chunk, i.e. indices
``b 2^(i-1)`` apart, as the stages of an FFT butterfly do.  ``m`` factors need ``2^(m-1)`` to divide
``k``: at most ``1 + log2(k)`` factors when ``k`` is a power of two (``F_{m-1}`` then mixes the
whole vector), which is BOFT's "full" butterfly (``m = log2(d)`` for ``b = 2``).

In terms of the half-block index ``h = j // r``: ``P_i^T`` moves the entry at ``h`` to the ``h``
whose low ``i + 1`` bits are rotated left by one, so ``P_i^T P_{i-1}`` swaps bits ``i`` and ``0``
of ``h``.  ``apply`` uses this: between consecutive block-diagonal products it makes one
reshape-and-swap-two-axes copy, and one more (a rotation) at the end -- ``m`` copies of ``x`` and
``m`` batched block matmuls (``2 d b n`` flops each), never a ``d x d`` matrix.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .._validate import as_rng, check_int
from ._block_diagonal import (
    BlockDiagonal,
    _orthogonality_tol,
    batch_shape_of,
    check_orthogonal_blocks,
    dtype_of,
    haar_blocks,
    namespace_of,
)
from ._param_base import OrthogonalParametrization, as_params

__all__ = ["Butterfly", "butterfly_permutation", "max_factors"]


def _two_adic(k: int) -> int:
    """Largest ``e`` with ``2**e`` dividing ``k`` (``k >= 1``)."""
    return (k & -k).bit_length() - 1


def max_factors(d: int, block_size: int) -> int:
    """Largest number of butterfly factors at order ``d`` and block size ``b``: ``1 + v`` with
    ``2**v`` the largest power of two dividing ``k = d / b`` (``1`` when ``b`` is odd)."""
    k = d // block_size
    return 1 if block_size % 2 else 1 + _two_adic(k)


def butterfly_permutation(d: int, block_size: int, i: int) -> np.ndarray:
    """The index map ``p_i`` of ``P_i`` (``(P_i x)[j] = x[p_i[j]]``), as a NumPy integer array.

    For documentation and tests; :class:`Butterfly` never forms it.
    """
    r = block_size // 2
    if i == 0:
        return np.arange(d)
    g = d // (block_size << i)
    # position (g, v, u, o) of P_i x holds the entry at (g, u, v, o) of x, u < 2^i, v < 2.
    src = np.arange(d).reshape(g, 1 << i, 2, r)
    return np.ascontiguousarray(src.transpose(0, 2, 1, 3)).reshape(d)


def _swap_axes(x: Any, mid: tuple[int, ...], a: int, c: int, xp: ModuleType) -> Any:
    """Reshape axis -2 of ``x`` (..., d, n) to ``mid``, swap axes ``a`` and ``c`` of ``mid``, flatten back."""
    lead, d, n = tuple(x.shape[:-2]), x.shape[-2], x.shape[-1]
    nl = len(lead)
    y = xp.reshape(x, (*lead, *mid, n))
    axes = list(range(nl + len(mid) + 1))
    axes[nl + a], axes[nl + c] = axes[nl + c], axes[nl + a]
    return xp.reshape(xp.permute_dims(y, tuple(axes)), (*lead, d, n))


class Butterfly(OrthogonalParametrization):
    """BOFT's butterfly orthogonal operator ``Q = F_{m-1} ⋯ F_0``, ``F_i = P_i D_i P_i^T``.

    Parameters
    ----------
    blocks : array_like of shape (..., m, k, b, b), or a sequence of m factors
        The orthogonal blocks of the ``m`` block-diagonal factors ``D_0, ..., D_{m-1}`` (real, any
        array-API library; leading axes are a batch of operators; never modified nor copied).  Or a
        list/tuple of ``m`` factors, each a :class:`BlockDiagonal` or an
        :class:`OrthogonalParametrization` whose ``batch_shape`` ends in ``k`` (Cayley,
        Householder, Givens... blocks), all of the same block size and library.  ``d = k * b``.
    tol : float, optional
        Orthogonality check of dense blocks (see :class:`BlockDiagonal`): default
        ``100 * b * eps``; ``math.inf`` skips it.

    Attributes
    ----------
    d, batch_shape, dtype, shape : see :class:`OrthogonalParametrization`.
    factors : list of BlockDiagonal
        ``D_0, ..., D_{m-1}``.
    block_size, n_factors : int
        ``b`` and ``m``.
    n_params : int
        Sum over the factors (``m k b (b - 1) / 2`` for dense blocks).

    Raises
    ------
    ValueError
        If the factors' block sizes or orders differ, ``b`` is odd with ``m >= 2``, ``m``
        exceeds :meth:`max_factors` (``2^(m-1)`` must divide ``k``), or the dense blocks fail the
        checks of :class:`BlockDiagonal` (shape, NaN/inf, orthogonality to ``tol``).
    TypeError
        If ``blocks`` is complex, boolean, float16 or not an array, or the factors come from
        different array libraries.

    Notes
    -----
    Convention (BOFT [1]_): ``P_i`` reorders, within each chunk of ``b 2^i`` consecutive indices,
    the ``2^(i+1)`` half-blocks of ``b/2`` indices as evens then odds, ``(P_i x)[j] = x[p_i[j]]``
    with ``p_i`` given by :meth:`permutation`; ``P_0 = I``.  The operator applies
    ``F_0`` first.  ``m`` factors need ``2^(m-1) | k``; with ``k`` a power of two the full butterfly
    has ``m = 1 + log2(k)`` factors (``log2(d)`` for ``b = 2``) and every output depends on every
    input.  There is no ``from_matrix``: the factorization is not unique (any orthogonal ``b x b``
    change of basis between half-blocks can move from one factor to the next) and a general
    orthogonal matrix has none.

    ``apply`` never forms a permutation or a ``d x d`` matrix: ``P_i^T P_{i-1}`` swaps two bits of
    the half-block index, one reshape and axis swap (a copy of ``x``); each ``D_i`` is one batched
    matmul of a reshaped view (:class:`BlockDiagonal`).  Cost per vector: ``2 m d b`` flops and
    ``m`` copies, against ``(3m - 1) 2 d^3`` flops to build the dense ``Q`` the way BOFT's
    reference code does and ``2 d^2`` per vector to apply it.  Rounding: each factor is applied
    to working precision, ``|Q x - fl(Q x)| <= m b eps |x|`` up to a constant; ``Q`` is orthogonal
    to the accuracy of the blocks.  On torch the result differentiates with respect to the
    blocks (or the factors' parameters) and ``x``.

    References
    ----------
    .. [1] W. Liu, Z. Qiu, Y. Feng, Y. Xiu, Y. Xue, L. Yu, H. Feng, Z. Liu, J. Heo, S. Peng,
       Y. Wen, M. J. Black, A. Weller, B. Schoelkopf, "Parameter-Efficient Orthogonal Finetuning
       via Butterfly Factorization", ICLR 2024, arXiv:2311.06243.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import Butterfly
    >>> Q = Butterfly.random(16, block_size=2, rng=0)      # full butterfly: 1 + log2(8) factors
    >>> Q.n_factors, Q.n_params
    (4, 32)
    >>> x = np.random.default_rng(1).standard_normal((16, 3))
    >>> bool(np.allclose(Q.apply(x), Q.matrix() @ x))
    True
    >>> bool(np.all(Q.matrix() != 0))                      # every output sees every input
    True
    >>> bool(np.allclose(Q.inverse().apply(Q.apply(x)), x))
    True
    """

    def __init__(self, blocks: Any, *, tol: float | None = None) -> None:
        if isinstance(blocks, list | tuple) and any(isinstance(f, OrthogonalParametrization) for f in blocks):
            factors = [f if isinstance(f, BlockDiagonal) else BlockDiagonal(f, tol=tol) for f in blocks]
            xps = {id(f._xp) for f in factors}
            if len(xps) > 1:
                raise TypeError("`blocks`: the factors must come from one array library; got several.")
            dims = sorted({(f.d, f.block_size) for f in factors})
            if len(dims) > 1:
                raise ValueError(f"`blocks`: the factors must share d and the block size; got (d, b) = {dims}.")
            xp = factors[0]._xp
            dtype = factors[0].dtype
            for f in factors[1:]:
                dtype = xp.result_type(dtype, f.dtype)
            try:
                batch = np.broadcast_shapes(*(f.batch_shape for f in factors))
            except ValueError:
                raise ValueError(f"`blocks`: the factors' batch shapes do not broadcast; got "
                                 f"{[f.batch_shape for f in factors]}.") from None
            device = factors[0]._device
        else:
            arr, xp = as_params(blocks, "blocks", min_ndim=4)
            *batch, m, k, b, b2 = arr.shape
            if b != b2:
                raise ValueError(f"`blocks` must have shape (..., m, k, b, b) (square blocks); "
                                 f"got shape {tuple(arr.shape)}.")
            if 0 in (m, k, b):
                raise ValueError(f"`blocks` must hold at least one factor of at least one block of size at "
                                 f"least 1; got shape {tuple(arr.shape)}.")
            check_orthogonal_blocks(arr, "blocks", _orthogonality_tol(tol, b, arr.dtype, xp), xp)
            factors = [BlockDiagonal._trusted(arr[..., i, :, :, :], xp) for i in range(m)]
            dtype, device = arr.dtype, factors[0]._device
        m, b, k = len(factors), factors[0].block_size, factors[0].n_blocks
        if m == 0:
            raise ValueError("`blocks` must hold at least one factor; got none.")
        if m > 1 and b % 2:
            raise ValueError(f"`blocks`: a butterfly of {m} factors needs an even block size (half-blocks "
                             f"of b/2 are exchanged); got b = {b}.")
        mmax = max_factors(k * b, b)
        if m > mmax:
            raise ValueError(f"`blocks` has {m} factors of k = {k} blocks of size {b}; the butterfly "
                             f"needs 2**(m-1) to divide k, so at most {mmax} factors here.")
        self._factors = factors
        self._xp, self._dtype, self._device = xp, dtype, device
        self._d, self._b, self._k = k * b, b, k
        self._batch_shape = tuple(int(s) for s in batch)

    # ------------------------------------------------------------------ properties

    @property
    def factors(self) -> list[BlockDiagonal]:
        """The block-diagonal factors ``D_0, ..., D_{m-1}`` (``D_0`` is applied first)."""
        return list(self._factors)

    @property
    def block_size(self) -> int:
        """Block size ``b`` of every factor."""
        return self._b

    @property
    def n_factors(self) -> int:
        """Number ``m`` of block-diagonal factors."""
        return len(self._factors)

    @property
    def n_params(self) -> int:
        return sum(f.n_params for f in self._factors)

    def permutation(self, i: int) -> Any:
        """Index map ``p_i`` of the butterfly permutation ``P_i``: ``(P_i x)[j] = x[p_i[j]]``.

        For inspection and tests (``apply`` never forms it).  Integer array of length ``d`` in the
        library and on the device of the operator; ``p_0`` is the identity.

        Parameters
        ----------
        i : int
            Factor index, ``0 <= i < n_factors``.

        Returns
        -------
        array of int64, shape (d,)

        Raises
        ------
        ValueError
            If ``i`` is out of range.

        Examples
        --------
        >>> from orthla.ortho import Butterfly
        >>> Q = Butterfly.random(8, block_size=2, rng=0)
        >>> [int(j) for j in Q.permutation(1)], [int(j) for j in Q.permutation(2)]
        ([0, 2, 1, 3, 4, 6, 5, 7], [0, 2, 4, 6, 1, 3, 5, 7])
        """
        i = check_int(i, "i", low=0, high=self.n_factors - 1, high_expr="n_factors - 1")
        p = butterfly_permutation(self._d, self._b, i)
        return self._xp.asarray(p, dtype=self._xp.int64, device=self._device)

    @staticmethod
    def max_factors(d: int, block_size: int) -> int:
        """Largest number of factors of a butterfly of order ``d`` and block size ``b``.

        ``m`` factors need ``2^(m-1)`` to divide ``k = d / b`` (and ``b`` even for ``m >= 2``):
        the answer is ``1 + log2`` of the largest power of two dividing ``k``, ``1 + log2(k)``
        when ``k`` is a power of two (the full butterfly), ``1`` when ``b`` is odd.

        Parameters
        ----------
        d : int
            Order of the operator.
        block_size : int
            ``b``, a divisor of ``d``.

        Returns
        -------
        int

        Raises
        ------
        ValueError
            If ``block_size`` does not divide ``d``.

        Examples
        --------
        >>> from orthla.ortho import Butterfly
        >>> Butterfly.max_factors(4096, 8), Butterfly.max_factors(768, 8), Butterfly.max_factors(30, 3)
        (10, 6, 1)
        """
        d = check_int(d, "d", low=1)
        b = check_int(block_size, "block_size", low=1)
        if d % b:
            raise ValueError(f"`block_size` must divide d = {d}; got {b}.")
        return max_factors(d, b)

    # ------------------------------------------------------------------ the operator

    def _apply(self, x: Any, transpose: bool) -> Any:
        xp, m, r = self._xp, len(self._factors), self._b // 2
        two_k = 2 * self._k

        def swap(y: Any, i: int) -> Any:  # P_i^T P_{i-1} (= its inverse): swap bits i and 0 of h
            return _swap_axes(y, (two_k >> (i + 1), 2, 1 << (i - 1), 2, r), 1, 3, xp)

        def rot(y: Any, left: bool) -> Any:  # P_{m-1}^T (left) or P_{m-1} on the low m bits of h
            g = two_k >> m
            mid = (g, 2, 1 << (m - 1), r) if left else (g, 1 << (m - 1), 2, r)
            return _swap_axes(y, mid, 1, 2, xp)

        if not transpose:
            for i, f in enumerate(self._factors):
                x = f._apply(swap(x, i) if i else x, False)
            return rot(x, False) if m > 1 else x
        x = rot(x, True) if m > 1 else x
        for i in range(m - 1, -1, -1):
            x = self._factors[i]._apply(x, True)
            if i:
                x = swap(x, i)
        return x

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_params(cls, p: Any, block_size: int, *, method: str = "exact", terms: int | None = None,
                    tol: float | None = None) -> Butterfly:
        """BOFT's parametrization: every block the Cayley transform of a skew matrix.

        Parameters
        ----------
        p : array_like, shape (..., m, k, b(b-1)/2)
            For factor ``i`` and block ``j``, the strictly-lower-triangular entries of the skew
            generator (layout of :meth:`Cayley.from_params`).
        block_size : int
            ``b``.
        method, terms, tol
            As in :class:`Cayley` (LU solve or Neumann series with bound and fallback).

        Returns
        -------
        Butterfly
            ``m`` factors, each a :class:`BlockDiagonal` on a batched :class:`Cayley`; on torch,
            differentiable with respect to ``p``.

        Raises
        ------
        ValueError
            If ``p`` has fewer than 3 axes or the wrong last axis, NaN/inf entries, or too many
            factors for the butterfly (see :meth:`max_factors`).

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import Butterfly
        >>> p = 0.1 * np.random.default_rng(0).standard_normal((3, 4, 1))  # m = 3, k = 4, b = 2
        >>> Q = Butterfly.from_params(p, 2)
        >>> Q.d, Q.n_factors, Q.n_params
        (8, 3, 12)
        """
        from ._cayley import Cayley

        b = check_int(block_size, "block_size", low=1)
        arr, _ = as_params(p, "p", min_ndim=3)
        m, k = arr.shape[-3], arr.shape[-2]
        if m == 0 or k == 0:
            raise ValueError(f"`p` must hold at least one factor of at least one block; got shape "
                             f"{tuple(arr.shape)}.")
        if m > 1 and b % 2:
            raise ValueError(f"`p`: a butterfly of {m} factors needs an even `block_size`; got {b}.")
        if m > max_factors(k * b, b):
            raise ValueError(f"`p` has {m} factors of k = {k} blocks; the butterfly needs 2**(m-1) to divide "
                             f"k, so at most {max_factors(k * b, b)} factors here.")
        return cls([BlockDiagonal(Cayley.from_params(arr[..., i, :, :], b, method=method, terms=terms, tol=tol))
                    for i in range(m)])

    @classmethod
    def random(cls, d: int, *, block_size: int, n_factors: int | None = None,
               batch_shape: tuple[int, ...] = (), rng: Any = None, dtype: Any = None,
               xp: ModuleType | None = None) -> Butterfly:
        """A butterfly with independent Haar-distributed orthogonal blocks.

        Parameters
        ----------
        d : int
            Order of the operator.
        block_size : int
            ``b``, a divisor of ``d`` (even when ``n_factors >= 2``).
        n_factors : int, optional
            ``m``, at most :meth:`max_factors` ``(d, b)``; default that maximum (the full
            butterfly when ``d / b`` is a power of two).
        batch_shape : tuple of int
            Leading batch shape of the operators.
        rng : numpy.random.Generator or int or None
            Source of randomness (SPEC 7).
        dtype : float32 or float64, optional
            Default float64.
        xp : array namespace, optional
            Library of the blocks (default NumPy); drawn with NumPy, then moved.

        Returns
        -------
        Butterfly

        Raises
        ------
        ValueError
            If ``block_size`` does not divide ``d``, or ``n_factors`` is not in
            ``1..max_factors(d, block_size)``.

        Examples
        --------
        >>> from orthla.ortho import Butterfly
        >>> Q = Butterfly.random(4096, block_size=8, rng=0)
        >>> Q.n_factors, Q.n_params
        (10, 143360)
        """
        d = check_int(d, "d", low=1)
        b = check_int(block_size, "block_size", low=1)
        if d % b:
            raise ValueError(f"`block_size` must divide d = {d}; got {b}.")
        mmax = max_factors(d, b)
        m = mmax if n_factors is None else check_int(
            n_factors, "n_factors", low=1, high=mmax,
            high_expr=f"1 + log2(largest power of two dividing d/b = {d // b})" if b % 2 == 0
            else "1 (odd block size)")
        shape = batch_shape_of(batch_shape)
        gen = as_rng(rng)
        xp = namespace_of(xp)
        dt = dtype_of(dtype, xp)
        blocks = haar_blocks((*shape, m, d // b), b, gen)
        return cls(xp.asarray(blocks, dtype=dt))
