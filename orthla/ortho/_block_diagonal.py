"""OFT's block-diagonal orthogonal operator ``diag(B_1, ..., B_k)``, applied block by block.

The blocks are either a dense array of orthogonal ``b x b`` matrices, shape ``(..., k, b, b)``, or
any :class:`OrthogonalParametrization` whose ``batch_shape`` ends in ``k`` (Cayley, Householder,
Givens... blocks).  Applying reshapes ``x`` of shape ``(..., d, n)`` to ``(..., k, b, n)`` (a view)
and makes one batched matmul over the ``k`` blocks: ``2 d b n`` flops, never the ``d x d`` matrix.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import array_namespace, is_numpy
from .._validate import as_rng, check_int, check_namespace, check_real, eps
from ._param_base import OrthogonalParametrization, as_params, param_device

__all__ = ["BlockDiagonal"]

#: Default tolerance factor: blocks pass when ``max_j ||B_j^T B_j - I||_F <= TOL_FACTOR * b * eps``.
TOL_FACTOR = 100.0


def _orthogonality_tol(tol: Any, b: int, dtype: Any, xp: ModuleType) -> float:
    if tol is None:
        return TOL_FACTOR * max(b, 1) * eps(dtype, xp)
    return check_real(tol, "tol", low=0.0, allow_inf=True)


def check_orthogonal_blocks(blocks: Any, name: str, tol: float, xp: ModuleType) -> None:
    """Raise ``ValueError`` naming ``name`` unless every ``b x b`` block is orthogonal to ``tol``.

    The measure is ``max_j ||B_j^T B_j - I||_F`` over all blocks (one host sync; two when a block
    has an entry above ``1 + tol`` in magnitude, which no orthogonal matrix has: the Gram matrix is
    then not formed, so huge entries cannot overflow).
    """
    if math.isinf(tol) or math.prod(blocks.shape) == 0:
        return
    blocks = detached(blocks)  # a check, not part of the differentiated computation
    b = blocks.shape[-1]
    big = float(xp.max(xp.abs(blocks)))
    if big > 1.0 + tol:
        raise ValueError(f"`{name}` must hold orthogonal blocks; an entry of magnitude {big:.3g} > 1 "
                         f"was found (every entry of an orthogonal matrix is at most 1 in magnitude).")
    eye = xp.eye(b, dtype=blocks.dtype, device=param_device(blocks))
    g = xp.matrix_transpose(blocks) @ blocks - eye
    dev = math.sqrt(float(xp.max(xp.sum(g * g, axis=(-2, -1)))))
    if not dev <= tol:
        raise ValueError(f"`{name}` must hold orthogonal blocks: max ||B^T B - I||_F = {dev:.3g} exceeds "
                         f"tol = {tol:.3g} (pass a larger `tol`, or tol=math.inf to skip the check).")


def detached(a: Any) -> Any:
    """``a`` cut from torch's autograd graph (other libraries: ``a`` itself)."""
    detach = getattr(a, "detach", None)
    return detach() if callable(detach) else a


def haar_blocks(shape: tuple[int, ...], b: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-distributed orthogonal ``b x b`` matrices of shape ``shape + (b, b)`` (NumPy, float64):
    QR of a Gaussian with the signs of ``diag(R)`` moved into ``Q`` (Mezzadri 2007)."""
    g = rng.standard_normal((*shape, b, b))
    q, r = np.linalg.qr(g)
    s = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    return q * np.where(s == 0, 1.0, s)[..., None, :]


def dtype_of(dtype: Any, xp: ModuleType) -> Any:
    """``None`` -> float64; float32/float64 (as the namespace's dtype or by name) accepted."""
    if dtype is None:
        return xp.float64
    name = None
    if isinstance(dtype, str):
        name = dtype
    elif isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        name = np.dtype(dtype).name
    else:
        name = next((n for n in ("float32", "float64") if dtype == getattr(xp, n)), None)
    if name not in ("float32", "float64"):
        raise TypeError(f"`dtype` must be float32 or float64; got {dtype!r}.")
    return getattr(xp, name)


def namespace_of(xp: Any) -> ModuleType:
    """``None`` -> NumPy (array-api-compat wrapped); otherwise a checked namespace."""
    if xp is None:
        return array_namespace(np.zeros(0))
    check_namespace(xp, "xp")
    return xp


def batch_shape_of(batch_shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(batch_shape)
    except TypeError:
        raise TypeError(f"`batch_shape` must be a tuple of non-negative integers; got {batch_shape!r}.") from None
    return tuple(check_int(s, "batch_shape", low=0) for s in shape)


class BlockDiagonal(OrthogonalParametrization):
    """Block-diagonal orthogonal operator ``Q = diag(B_1, …, B_k)`` (OFT), applied block by block.

    Parameters
    ----------
    blocks : array_like of shape (..., k, b, b), or OrthogonalParametrization
        Either the orthogonal blocks themselves (real, any array-API library; leading axes are a
        batch of operators; integer input is promoted to float64; never modified nor copied), or a
        parametrization of order ``b`` whose ``batch_shape`` ends in ``k`` (for example a Cayley,
        Householder or Givens parametrization of ``k`` blocks), applied through its own ``apply``.
        ``d = k * b``.
    tol : float, optional
        Dense blocks are checked: ``max_j ||B_j^T B_j - I||_F <= tol``.  Default
        ``100 * b * eps`` of the dtype; ``math.inf`` skips the check (and its host sync).

    Attributes
    ----------
    d, batch_shape, dtype, shape : see :class:`OrthogonalParametrization`.
    block_size : int
        ``b``.
    n_blocks : int
        ``k``.
    n_params : int
        ``k * b (b - 1) / 2`` for dense blocks (the dimension of the set of such operators, the
        number of parameters a Cayley or exponential map of the blocks uses); ``k`` times the
        inner parametrization's count otherwise.

    Raises
    ------
    ValueError
        If ``blocks`` has fewer than 3 axes, non-square or empty blocks, NaN/inf entries, or
        blocks that are not orthogonal to ``tol`` (the message gives the measured deviation); if a
        parametrization has an empty ``batch_shape``.
    TypeError
        If ``blocks`` is complex, boolean, float16 or not an array.

    See Also
    --------
    Butterfly : products of block-diagonal factors and butterfly permutations (BOFT).

    Notes
    -----
    ``apply`` reshapes ``x`` of shape ``(..., d, n)`` to ``(..., k, b, n)`` -- a view, also for
    the transposed view that ``side="right"`` makes of activations ``x`` of shape ``(n, d)`` --
    and multiplies by the blocks in one batched matmul (``B_j^T`` for the transpose):
    ``2 d b n`` flops and no copy of ``x``, against ``2 d^2 n`` for the dense matrix.  The result
    is exactly what the dense ``diag(B_1, ..., B_k) @ x`` gives up to the order of the sums
    (error ``<= b * eps * |B| |x|`` elementwise).  ``Q`` is orthogonal to the accuracy of the
    blocks.  On torch the result is differentiable with respect to the blocks (or to the inner
    parametrization's parameters) and ``x``; keep blocks orthogonal by building them from a
    parametrization (the check refuses perturbed dense blocks).

    References
    ----------
    .. [1] Z. Qiu, W. Liu, H. Feng, Y. Xue, Y. Feng, Z. Liu, D. Zhang, A. Weller, B. Schoelkopf,
       "Controlling Text-to-Image Diffusion by Orthogonal Finetuning", NeurIPS 2023 (OFT).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import BlockDiagonal
    >>> Q = BlockDiagonal.random(8, block_size=4, rng=0)
    >>> Q
    BlockDiagonal(d=8, n_params=12, dtype=float64)
    >>> x = np.random.default_rng(1).standard_normal((5, 8))      # 5 activations
    >>> y = Q.apply(x, side="right")                              # x @ Q
    >>> bool(np.allclose(y, x @ Q.matrix()))
    True
    >>> bool(np.allclose(Q.T.apply(Q.apply(x.T)), x.T))
    True
    >>> R = BlockDiagonal.from_matrix(Q.matrix(), block_size=4)
    >>> bool(np.array_equal(R.blocks, Q.blocks))
    True
    """

    def __init__(self, blocks: Any, *, tol: float | None = None) -> None:
        if isinstance(blocks, OrthogonalParametrization):
            if not blocks.batch_shape:
                raise ValueError("`blocks` as a parametrization must have a batch_shape ending in the "
                                 "number of blocks k; got batch_shape ().")
            self._inner: OrthogonalParametrization | None = blocks
            self._blocks = None
            self._xp = blocks._xp
            self._dtype = blocks.dtype
            self._device = blocks._device
            self._k = blocks.batch_shape[-1]
            self._b = blocks.d
            self._batch_shape = tuple(blocks.batch_shape[:-1])
        else:
            arr, xp = as_params(blocks, "blocks", min_ndim=3)
            *batch, k, b, b2 = arr.shape
            if b != b2:
                raise ValueError(f"`blocks` must have shape (..., k, b, b) (square blocks); "
                                 f"got shape {tuple(arr.shape)}.")
            if b == 0 or k == 0:
                raise ValueError(f"`blocks` must hold at least one block of size at least 1; "
                                 f"got shape {tuple(arr.shape)}.")
            check_orthogonal_blocks(arr, "blocks", _orthogonality_tol(tol, b, arr.dtype, xp), xp)
            self._inner = None
            self._blocks = arr
            self._xp = xp
            self._dtype = arr.dtype
            self._device = param_device(arr)
            self._k, self._b = k, b
            self._batch_shape = tuple(batch)
        self._d = self._k * self._b

    @classmethod
    def _trusted(cls, blocks: Any, xp: ModuleType) -> BlockDiagonal:
        """From dense blocks already validated and checked (Butterfly's factors)."""
        self = cls.__new__(cls)
        *batch, k, b, _ = blocks.shape
        self._inner, self._blocks, self._xp = None, blocks, xp
        self._dtype, self._device = blocks.dtype, param_device(blocks)
        self._k, self._b, self._d = k, b, k * b
        self._batch_shape = tuple(batch)
        return self

    # ------------------------------------------------------------------ properties

    @property
    def block_size(self) -> int:
        """Size ``b`` of each (square) block."""
        return self._b

    @property
    def n_blocks(self) -> int:
        """Number ``k`` of blocks on the diagonal (``d = k * b``)."""
        return self._k

    @property
    def parametrization(self) -> OrthogonalParametrization | None:
        """The blocks' parametrization when built from one, else ``None``."""
        return self._inner

    @property
    def blocks(self) -> Any:
        """The dense blocks, shape ``batch_shape + (k, b, b)`` (formed from the inner
        parametrization when there is one)."""
        if self._inner is not None:
            return self._inner.matrix()
        return self._blocks

    @property
    def n_params(self) -> int:
        if self._inner is not None:
            return self._k * self._inner.n_params
        return self._k * self._b * (self._b - 1) // 2

    # ------------------------------------------------------------------ the operator

    def _apply(self, x: Any, transpose: bool) -> Any:
        xp = self._xp
        lead, n = tuple(x.shape[:-2]), x.shape[-1]
        xr = xp.reshape(x, (*lead, self._k, self._b, n))
        if self._inner is not None:
            y = self._inner._apply(xr, transpose)
        else:
            blk = self._blocks
            if blk.dtype != x.dtype:
                blk = xp.astype(blk, x.dtype)
            blk = xp.matrix_transpose(blk) if transpose else blk
            if is_numpy(xp) and x.ndim == 2 and blk.ndim == 3 and x.strides[0] == x.itemsize:
                # x is the transposed view of C-ordered activations (side="right"): write the
                # result in the same layout, so x @ Q comes back C-ordered and BLAS writes rows
                # of length n (measured 1.37x -> 1.06x of an equal-flop GEMM at b = 32).
                out = np.empty((n, self._k, self._b), dtype=np.result_type(blk.dtype, x.dtype))
                np.matmul(blk, xr, out=np.transpose(out, (1, 2, 0)))
                return np.transpose(np.reshape(out, (n, self._d)))
            y = xp.matmul(blk, xr)
        return xp.reshape(y, (*y.shape[:-3], self._d, n))

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_matrix(cls, Q: Any, block_size: int, *, tol: float | None = None) -> BlockDiagonal:
        """Extract the diagonal blocks of a block-diagonal orthogonal matrix.

        Parameters
        ----------
        Q : array_like, shape (..., d, d)
            Block-diagonal orthogonal matrix (or a batch); never modified.
        block_size : int
            ``b``, a divisor of ``d``.
        tol : float, optional
            Off-block entries must satisfy ``max |Q_ij| <= tol`` and the blocks the orthogonality
            check of the constructor.  Default ``100 * d * eps`` (off-block) and the constructor's
            default (orthogonality).

        Returns
        -------
        BlockDiagonal
            Dense blocks ``Q[..., j*b:(j+1)*b, j*b:(j+1)*b]`` (a copy).

        Raises
        ------
        ValueError
            If ``Q`` is not square, ``block_size`` does not divide ``d``, an off-block entry exceeds
            ``tol`` (the message gives the largest), or the blocks are not orthogonal.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import BlockDiagonal
        >>> Q = np.kron(np.eye(3), np.array([[0.0, -1.0], [1.0, 0.0]]))
        >>> BlockDiagonal.from_matrix(Q, block_size=2).blocks.shape
        (3, 2, 2)
        """
        Q, xp = as_params(Q, "Q", min_ndim=2)
        *batch, d, d2 = Q.shape
        if d != d2:
            raise ValueError(f"`Q` must be square (shape (..., d, d)); got shape {tuple(Q.shape)}.")
        if d == 0:
            raise ValueError(f"`Q` must have d >= 1; got shape {tuple(Q.shape)}.")
        b = check_int(block_size, "block_size", low=1)
        if d % b:
            raise ValueError(f"`block_size` must divide d = {d}; got {b}.")
        k = d // b
        nb = len(batch)
        q4 = xp.reshape(Q, (*batch, k, b, k, b))
        q4 = xp.permute_dims(q4, (*range(nb), nb, nb + 2, nb + 1, nb + 3))  # (..., k, k, b, b)
        off_tol = 100.0 * d * eps(Q.dtype, xp) if tol is None else check_real(tol, "tol", low=0.0,
                                                                               allow_inf=True)
        if k > 1 and not math.isinf(off_tol):
            mask = 1.0 - xp.eye(k, dtype=Q.dtype, device=param_device(Q))
            off = float(xp.max(xp.abs(detached(q4)) * mask[:, :, None, None]))
            if not off <= off_tol:
                raise ValueError(f"`Q` must be block diagonal with blocks of size {b}: an off-block entry "
                                 f"of magnitude {off:.3g} exceeds tol = {off_tol:.3g}.")
        flat = xp.reshape(q4, (*batch, k * k, b, b))
        idx = xp.arange(0, k * k, k + 1, device=param_device(Q))
        blocks = xp.take(flat, idx, axis=nb)
        try:
            return cls(blocks, tol=tol)
        except ValueError as exc:
            raise ValueError(str(exc).replace("`blocks`", "`Q`'s diagonal blocks")) from None

    @classmethod
    def from_params(cls, p: Any, block_size: int, *, method: str = "exact", terms: int | None = None,
                    tol: float | None = None) -> BlockDiagonal:
        """OFT's parametrization: each block the Cayley transform of a skew matrix.

        Parameters
        ----------
        p : array_like, shape (..., k, b(b-1)/2)
            For each block, the strictly-lower-triangular entries of its skew generator ``S_j``
            (the layout of :meth:`Cayley.from_params`: pairs of ``numpy.tril_indices(b, -1)``).
        block_size : int
            ``b``.
        method, terms, tol
            As in :class:`Cayley`: ``B_j = (I - S_j)(I + S_j)^{-1}`` by an LU solve
            (``"exact"``) or a Neumann series with its bound and fallback.

        Returns
        -------
        BlockDiagonal
            Built on a batched :class:`Cayley` of ``batch_shape + (k,)``; ``n_params`` is
            ``k b (b - 1) / 2``.  On torch, differentiable with respect to ``p``.

        Raises
        ------
        ValueError
            If ``p`` has the wrong last axis for ``block_size``, fewer than 2 axes, or NaN/inf
            entries (and the errors of :class:`Cayley`).

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import BlockDiagonal
        >>> Q = BlockDiagonal.from_params(np.zeros((3, 6)), 4)     # k = 3 blocks of 4: identity
        >>> Q.d, Q.n_params, bool(np.array_equal(Q.matrix(), np.eye(12)))
        (12, 18, True)
        """
        from ._cayley import Cayley

        b = check_int(block_size, "block_size", low=1)
        arr, _ = as_params(p, "p", min_ndim=2)
        return cls(Cayley.from_params(arr, b, method=method, terms=terms, tol=tol))

    @classmethod
    def random(cls, d: int, *, block_size: int, batch_shape: tuple[int, ...] = (), rng: Any = None,
               dtype: Any = None, xp: ModuleType | None = None) -> BlockDiagonal:
        """Independent Haar-distributed orthogonal blocks.

        Parameters
        ----------
        d : int
            Order of the operator.
        block_size : int
            ``b``, a divisor of ``d``.
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
        BlockDiagonal

        Raises
        ------
        ValueError
            If ``d`` or ``block_size`` is not a positive integer or ``block_size`` does not divide
            ``d``.

        Examples
        --------
        >>> from orthla.ortho import BlockDiagonal
        >>> BlockDiagonal.random(64, block_size=16, batch_shape=(2,), rng=0).shape
        (2, 64, 64)
        """
        d = check_int(d, "d", low=1)
        b = check_int(block_size, "block_size", low=1)
        if d % b:
            raise ValueError(f"`block_size` must divide d = {d}; got {b}.")
        shape = batch_shape_of(batch_shape)
        gen = as_rng(rng)
        xp = namespace_of(xp)
        dt = dtype_of(dtype, xp)
        blocks = xp.asarray(haar_blocks((*shape, d // b), b, gen), dtype=dt)
        return cls(blocks)
