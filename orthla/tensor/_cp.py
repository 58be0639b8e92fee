"""CP tensors: forming them, seeded test generators, and matching recovered components."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability, is_cupy, is_numpy, is_torch
from .._validate import (
    as_floating,
    as_rng,
    check_finite,
    check_int,
    check_namespace,
    check_ndim,
    check_real,
)
from ._scale import binary_exponent, max_abs, max_exponent, scale_pow2
from ._symmetric import _symmetrize_xp

__all__ = ["ComponentMatch", "LowRankTensor", "cp_to_tensor", "match_components", "random_low_rank"]


def host_copy(x: Any, xp) -> np.ndarray:
    """Explicit copy of a small array to NumPy (for SciPy calls on the host)."""
    if is_numpy(xp):
        return np.asarray(x)
    if is_cupy(xp):
        return x.get()
    if is_torch(xp):
        return x.detach().cpu().numpy()
    return np.asarray(np.from_dlpack(x))


def _khatri_rao(mats: list, xp) -> Any:
    # Column-wise Kronecker product, row-major so it matches a C-order reshape.
    z = mats[0]
    for b in mats[1:]:
        z = xp.reshape(z[:, None, :] * b[None, :, :], (-1, z.shape[1]))
    return z


@capability("tensor", numba=False)
def cp_to_tensor(weights: Any, factors: Any, *, order: int | None = None) -> Any:
    """Dense tensor from CP weights and factors (symmetric, or one factor matrix per mode).

    Forms ``sum_r weights[r] * a_r^(1) (x) a_r^(2) (x) ... (x) a_r^(m)``.

    Parameters
    ----------
    weights : array_like, shape (R,)
        Weights (signed) of the rank-one terms.
    factors : array, shape (d, R), or sequence of arrays of shapes (d_j, R)
        A single matrix gives the symmetric tensor ``sum_r w_r a_r^(x order)``
        (``order`` required; with ``order``, a nested list is one matrix).  A sequence gives one factor matrix per mode, so
        any partial symmetry is expressed by repeating a matrix, e.g.
        ``[A, A, B]`` for ``sum_r w_r a_r (x) a_r (x) b_r``.
    order : int, optional
        Order m >= 1 of the symmetric tensor; only with a single matrix.

    Returns
    -------
    array, shape (d_1, ..., d_m)
        In the namespace and on the device of the inputs.

    Raises
    ------
    ValueError
        If shapes disagree, ``order`` is missing for a single matrix or given
        with a sequence, the inputs contain NaN/Inf, or the tensor's entries
        would overflow the floating type.
    TypeError
        If the inputs mix array libraries or have non-real dtypes.

    Notes
    -----
    The modes are split in two halves; the Khatri-Rao products of each half
    (``prod d_j x R``) are multiplied in one GEMM, so the cost is
    ``2 R prod_j d_j`` flops and the extra memory is that of the two halves,
    never ``R`` times the tensor.  The products are formed from inputs scaled
    to unit size by powers of two (exact), so only a tensor whose entries
    themselves overflow is refused; entries below the floating range become
    subnormal or zero, as in any product.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.tensor import cp_to_tensor
    >>> a = np.array([[1.0], [2.0]])
    >>> T = cp_to_tensor(np.array([0.5]), a, order=3)
    >>> T.shape, float(T[1, 1, 1]), float(T[0, 1, 1])
    ((2, 2, 2), 4.0, 2.0)
    >>> float(cp_to_tensor([1.0], [a, a, np.array([[3.0]])])[1, 0, 0])
    6.0
    """
    # With `order`, `factors` is one matrix (a nested list counts as one); without it, a
    # sequence holds one matrix per mode.
    single = hasattr(factors, "shape") or (
        order is not None and isinstance(factors, Sequence)
        and not any(hasattr(f, "shape") for f in factors))
    if isinstance(factors, Sequence) and not single:
        if order is not None:
            raise ValueError("`order` is only used with a single factor matrix; got a sequence of factors.")
        mats = list(factors)
        if not mats:
            raise ValueError("`factors` must hold at least one matrix; got an empty sequence.")
    else:
        if order is None:
            raise ValueError("`order` is required when `factors` is a single matrix (symmetric tensor).")
        order = check_int(order, "order", low=1)
        mats = [factors] * order
    xp = array_namespace(weights, *mats)
    mats = [xp.asarray(a) if not hasattr(a, "shape") else a for a in mats]
    weights = xp.asarray(weights) if not hasattr(weights, "shape") else weights
    check_ndim(weights, "weights", 1)
    R = weights.shape[0]
    for j, a in enumerate(mats):
        check_ndim(a, f"factors[{j}]", 2)
        if a.shape[1] != R:
            raise ValueError(
                f"`factors[{j}]` must have len(weights) = {R} columns; got shape {tuple(a.shape)}."
            )
    weights = as_floating(weights, "weights", xp, allow_complex=False)
    mats = [as_floating(a, f"factors[{j}]", xp, allow_complex=False) for j, a in enumerate(mats)]
    dtype = xp.result_type(weights, *mats)
    mats = [xp.astype(a, dtype) for a in mats]
    weights = xp.astype(weights, dtype)
    check_finite(weights, "weights", xp)
    for j, a in enumerate(mats):
        check_finite(a, f"factors[{j}]", xp)
    # Products of m + 1 entries: form them from inputs scaled to unit size by powers of two
    # (exact), so no intermediate over- or underflows, then scale the tensor back once.
    exps = [binary_exponent(max_abs(a, xp)) for a in (weights, *mats)]
    weights = scale_pow2(weights, -exps[0], xp)
    mats = [scale_pow2(a, -e, xp) for a, e in zip(mats, exps[1:], strict=True)]
    half = (len(mats) + 1) // 2
    left = _khatri_rao(mats[:half], xp) * weights[None, :]
    shape = tuple(a.shape[0] for a in mats)
    if half == len(mats):
        T = xp.reshape(xp.sum(left, axis=1), shape)
    else:
        T = xp.reshape(left @ _khatri_rao(mats[half:], xp).mT, shape)
    total = sum(exps)
    if total > 0 and math.prod(shape):
        top = binary_exponent(max_abs(T, xp))
        if top + total > max_exponent(T.dtype, xp):
            raise ValueError(
                f"the tensor formed from `weights` and `factors` overflows {T.dtype}: its largest "
                f"entry is about 2**{top + total}; scale `weights` or `factors` down."
            )
    return scale_pow2(T, total, xp)


class LowRankTensor(NamedTuple):
    """Result of :func:`random_low_rank`.

    Attributes
    ----------
    tensor : array
        The CP tensor plus the requested noise.
    weights : array, shape (rank,)
        Standard normal (signed) weights.
    factors : array, shape (d, rank), or list of arrays
        Unit-norm columns with independent Gaussian directions: one matrix for
        a symmetric tensor, a list with one (d_j x rank) matrix per block when
        ``symmetry`` is given.
    """

    tensor: Any
    weights: Any
    factors: Any


@capability("tensor", numba=False)
def random_low_rank(d: Any, rank: int, *, order: int | None = None, symmetry: Any = None,
                    noise: float = 0.0, rng: Any = None, xp: Any = None,
                    device: Any = None) -> LowRankTensor:
    """Seeded random low-rank symmetric or partially symmetric tensor (test generator).

    Parameters
    ----------
    d : int or tuple of int
        Dimension of each mode; with ``symmetry``, one dimension per block (an
        int means the same for all blocks).
    rank : int
        Number of rank-one terms (>= 1).
    order : int, optional
        Order m >= 2 of a symmetric tensor ``sum_r w_r a_r^(x m)``.  Give
        either ``order`` or ``symmetry``.
    symmetry : tuple of int, optional
        Block sizes ``(k_1, ..., k_p)`` of a partially symmetric tensor
        ``sum_r w_r a_r^(1)(x k_1) (x) ... (x) a_r^(p)(x k_p)``, blocks on
        consecutive modes (as for :func:`mspm`).
    noise : float, default 0.0
        Relative Frobenius size of added Gaussian noise with the same symmetry:
        ``||E||_F = noise * ||T_clean||_F``.
    rng : numpy.random.Generator, int or None
        Source of randomness (SPEC 7).  The same seed gives the same tensor
        on every backend.
    xp : namespace, optional
        Array library of the output (default NumPy).
    device : optional
        Device of the output arrays in ``xp``.

    Returns
    -------
    LowRankTensor
        Named tuple ``(tensor, weights, factors)``; the weights and factors are
        those of the clean tensor.

    Raises
    ------
    ValueError
        If sizes are out of range, both or neither of ``order`` and
        ``symmetry`` are given, or ``noise`` is negative, NaN or infinite.
    TypeError
        If sizes are not integers (booleans included), ``rng`` is not a valid
        seed, or ``xp`` is not an array namespace (a string such as
        ``"numpy"`` included).

    Notes
    -----
    Factors are ``g / ||g||`` with ``g ~ N(0, I_d)``; weights are ``N(0, 1)``.
    Everything is drawn with NumPy on the host (float64) and moved to ``xp``
    once, so results do not depend on the backend.  The noise is a Gaussian
    tensor averaged over the permutations within each block, then scaled.

    Examples
    --------
    >>> from orthla.tensor import random_low_rank
    >>> T, w, A = random_low_rank(5, 3, order=4, rng=0)
    >>> T.shape, w.shape, A.shape
    ((5, 5, 5, 5), (3,), (5, 3))
    >>> bool(abs((A**2).sum(axis=0) - 1).max() < 1e-15)
    True
    >>> T, w, (A, B) = random_low_rank((4, 3), 2, symmetry=(2, 1), rng=0)
    >>> T.shape, A.shape, B.shape
    ((4, 4, 3), (4, 2), (3, 2))
    """
    if xp is not None:
        check_namespace(xp, "xp")
    rank = check_int(rank, "rank", low=1)
    if (order is None) == (symmetry is None):
        raise ValueError("give exactly one of `order` (symmetric tensor) and `symmetry` (block sizes).")
    if order is not None:
        order = check_int(order, "order", low=2)
        blocks = (order,)
        dims = (check_int(d, "d", low=1),)
    else:
        if isinstance(symmetry, str | bytes) or not hasattr(symmetry, "__iter__"):
            raise TypeError(f"`symmetry` must be a tuple of block sizes, e.g. (2, 1); got {symmetry!r}.")
        blocks = tuple(check_int(k, "symmetry", low=1) for k in symmetry)
        if not blocks:
            raise ValueError("`symmetry` must list at least one block size; got ().")
        dd = (d,) * len(blocks) if not hasattr(d, "__iter__") else tuple(d)
        if len(dd) != len(blocks):
            raise ValueError(f"`d` must give one dimension per block of symmetry={blocks}; got {dd}.")
        dims = tuple(check_int(x, "d", low=1) for x in dd)
    noise = check_real(noise, "noise", low=0.0)
    gen = as_rng(rng)
    mats = []
    for dj in dims:
        a = gen.standard_normal((dj, rank))
        mats.append(a / np.linalg.norm(a, axis=0))
    w = gen.standard_normal(rank)
    T = cp_to_tensor(w, [a for a, k in zip(mats, blocks, strict=True) for _ in range(k)])
    if noise > 0.0:
        import array_api_compat.numpy as npx

        E = gen.standard_normal(T.shape)
        first = 0
        for k in blocks:
            E = _symmetrize_xp(E, npx, tuple(range(first, first + k)))
            first += k
        T = T + E * (noise * np.linalg.norm(T) / np.linalg.norm(E))
    if xp is None:
        import array_api_compat.numpy as xp
    factors = mats[0] if order is not None else mats
    move = lambda x: xp.asarray(x, device=device)  # noqa: E731
    return LowRankTensor(move(T), move(w),
                         move(factors) if order is not None else [move(a) for a in factors])


class ComponentMatch(NamedTuple):
    """Result of :func:`match_components`; entry ``i`` describes column ``i`` of ``A``.

    Attributes
    ----------
    index : array of int64, shape (R_A,)
        Column of ``B`` matched to column ``i`` of ``A``; -1 where ``B`` has
        too few columns.
    abs_cos : array, shape (R_A,)
        ``|cos|`` of the angle between the matched columns (0 if unmatched).
    angle_deg : array, shape (R_A,)
        Angle in degrees between the lines spanned by the matched columns,
        computed as ``2 asin(||a - s b|| / 2)`` (accurate for tiny angles);
        90 where unmatched.
    sign : array, shape (R_A,)
        Sign ``s`` of the cosine, so ``B[:, index] * sign`` aligns with ``A``.
    """

    index: Any
    abs_cos: Any
    angle_deg: Any
    sign: Any


def _unit_columns(A, name, xp):
    """Columns of ``A`` scaled to unit norm, via a per-column power of two (no over/underflow)."""
    if A.shape[1] == 0:
        return A
    amax = xp.max(xp.abs(A), axis=0) if A.shape[0] else xp.zeros(A.shape[1], dtype=A.dtype)
    zero = int(xp.sum(xp.astype(amax == 0, xp.int64)))
    if zero:
        raise ValueError(f"`{name}` must not have zero columns; found {zero}.")
    # 2**-e with amax = f 2**e, f in [0.5, 1): computed from frexp on the host (one small copy).
    expo = np.frexp(host_copy(amax, xp).astype(np.float64))[1]
    factor = xp.asarray(np.ldexp(1.0, -expo), dtype=A.dtype, device=A.device)
    A = A * factor[None, :]
    return A / xp.linalg.vector_norm(A, axis=0)[None, :]


@capability("tensor", numba=False)
def match_components(A: Any, B: Any) -> ComponentMatch:
    """Match the columns of ``B`` to those of ``A`` up to sign (Hungarian method on ``|cos|``).

    Parameters
    ----------
    A : array, shape (d, R_A)
        Reference components (columns need not be normalized).
    B : array, shape (d, R_B)
        Recovered components, same library as ``A``.

    Returns
    -------
    ComponentMatch
        Named tuple ``(index, abs_cos, angle_deg, sign)`` with one entry per
        column of ``A``, in the namespace and on the device of ``A``.

    Raises
    ------
    ValueError
        If the inputs are not 2-D, their row counts differ, they contain
        NaN/Inf or a zero column.
    TypeError
        If they mix array libraries or are complex.

    Notes
    -----
    The assignment maximizing the sum of ``|cos|`` over matched pairs is found
    by :func:`scipy.optimize.linear_sum_assignment` (``O(R^3)``).  SciPy runs on
    the CPU, so the ``R_A x R_B`` cosine matrix (only that) is copied to the
    host explicitly; the result is moved back to the device of ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.tensor import match_components
    >>> A = np.eye(3)
    >>> B = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    >>> m = match_components(A, B)
    >>> m.index.tolist(), m.sign.tolist(), float(m.angle_deg.max())
    ([1, 2, 0], [-1.0, 1.0, 1.0], 0.0)
    """
    from scipy.optimize import linear_sum_assignment

    xp = array_namespace(A, B)
    A = xp.asarray(A) if not hasattr(A, "shape") else A
    B = xp.asarray(B) if not hasattr(B, "shape") else B
    check_ndim(A, "A", 2)
    check_ndim(B, "B", 2)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"`A` and `B` must have the same number of rows; got shapes "
                         f"{tuple(A.shape)} and {tuple(B.shape)}.")
    A = as_floating(A, "A", xp, allow_complex=False)
    B = as_floating(B, "B", xp, allow_complex=False)
    check_finite(A, "A", xp)
    check_finite(B, "B", xp)
    dtype = xp.result_type(A, B)
    A, B = xp.astype(A, dtype), xp.astype(B, dtype)
    An, Bn = _unit_columns(A, "A", xp), _unit_columns(B, "B", xp)
    cos = host_copy(An.mT @ Bn, xp)
    rows, cols = linear_sum_assignment(-np.abs(cos))
    ra = A.shape[1]
    index = np.full(ra, -1, dtype=np.int64)
    index[rows] = cols
    sign = np.ones(ra)
    sign[rows] = np.where(cos[rows, cols] < 0, -1.0, 1.0)
    abs_cos = np.zeros(ra)
    abs_cos[rows] = np.abs(cos[rows, cols])
    dev = A.device
    # Angle from the chord length, which keeps full relative accuracy for tiny angles.
    idx_dev = xp.asarray(np.where(index < 0, 0, index), device=dev)
    sign_dev = xp.asarray(sign, dtype=A.dtype, device=dev)
    chord = xp.linalg.vector_norm(An - xp.take(Bn, idx_dev, axis=1) * sign_dev[None, :], axis=0)
    angle = 2 * xp.asin(xp.clip(chord / 2, 0.0, 1.0)) * (180.0 / np.pi)
    matched = xp.asarray(index >= 0, device=dev)
    angle = xp.where(matched, angle, xp.asarray(90.0, dtype=A.dtype, device=dev))
    return ComponentMatch(xp.asarray(index, device=dev), xp.asarray(abs_cos, dtype=A.dtype, device=dev),
                          angle, sign_dev)
