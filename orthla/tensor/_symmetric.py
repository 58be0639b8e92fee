"""Symmetric tensors: symmetrization, symmetry check, and the compressed flattening.

A symmetric tensor of order ``n`` in dimension ``d`` is determined by its entries
at the ``C(d + n - 1, n)`` sorted multi-indices.  Scaling each such coordinate by
``sqrt(multiplicity)`` (the number of index tuples that sort to it) makes the map
isometric: ``<X, Y>_F = sum_I mult(I) X_I Y_I``.  SPM therefore works with
matrices of size ``C(d + n - 1, n)`` instead of ``d**n``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations_with_replacement
from typing import Any

import numpy as np

from .._backend import array_namespace, capability, select_engine
from .._validate import as_floating, check_finite, check_int, eps
from ._scale import binary_exponent, max_abs, max_exponent, scale_pow2

__all__ = ["symmetrize"]


@lru_cache(maxsize=64)
def sym_indices(d: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted multi-indices of ``Sym^n(R^d)`` and the sqrt of their multiplicities.

    Returns ``idx`` (N x n, int64, lexicographic) and ``w`` (N,), with
    ``N = C(d + n - 1, n)`` and ``w_I = sqrt(n! / prod_k c_k!)`` for the counts
    ``c_k`` of each index ``k`` in ``I``.  Cached; callers must not modify them.
    """
    idx = np.array(list(combinations_with_replacement(range(d), n)), dtype=np.int64).reshape(-1, n)
    counts = np.zeros((idx.shape[0], d), dtype=np.int64)
    for p in range(n):
        np.add.at(counts, (np.arange(idx.shape[0]), idx[:, p]), 1)
    fact = np.array([math.factorial(k) for k in range(n + 1)], dtype=np.float64)
    mult = math.factorial(n) / np.prod(fact[counts], axis=1)
    idx.setflags(write=False)
    w = np.sqrt(mult)
    w.setflags(write=False)
    return idx, w


def flat_positions(idx: np.ndarray, d: int) -> np.ndarray:
    """Row-major position of each multi-index of ``idx`` in a ``d**n`` array."""
    n = idx.shape[1]
    return idx @ (d ** np.arange(n - 1, -1, -1, dtype=np.int64))


def compressed_flattening(T: Any, n: int, xp) -> tuple[Any, np.ndarray, np.ndarray]:
    """Flattening of symmetric ``T`` (order m) on ``Sym^n x Sym^(m-n)``, isometric coordinates.

    ``M[I, J] = w_I w_J T[I, J]``; ``||M||_F = ||T||_F`` for symmetric ``T``.
    Returns ``M`` (in ``xp``, on the device of ``T``) and the row/column
    multi-index tables ``(idx_n, w_n)``, ``(idx_r, w_r)`` as NumPy arrays.
    """
    m, d = T.ndim, T.shape[0]
    idx_n, w_n = sym_indices(d, n)
    idx_r, w_r = sym_indices(d, m - n)
    pos = flat_positions(idx_n, d)[:, None] * d ** (m - n) + flat_positions(idx_r, d)[None, :]
    dev = T.device
    flat = xp.reshape(T, (-1,))
    M = xp.take(flat, xp.asarray(pos.reshape(-1), device=dev))
    M = xp.reshape(M, pos.shape)
    scale = np.outer(w_n, w_r)
    return M * xp.asarray(scale, dtype=T.dtype, device=dev), (idx_n, w_n), (idx_r, w_r)


def _symmetrize_xp(T: Any, xp, modes: tuple[int, ...] | None = None) -> Any:
    """Average of ``T`` over all permutations of ``modes`` (default: every mode)."""
    # Coset recursion: averaging over S_k equals averaging, over k transpositions
    # (j, k-1), of the average over S_{k-1}; k^2/2 passes over T instead of k!.
    m = T.ndim
    modes = tuple(range(m)) if modes is None else tuple(modes)
    S = T
    for k in range(2, len(modes) + 1):
        acc = S
        for j in range(k - 1):
            perm = list(range(m))
            a, b = modes[j], modes[k - 1]
            perm[a], perm[b] = perm[b], perm[a]
            acc = acc + xp.permute_dims(S, tuple(perm))
        S = acc / k
    return S


def asymmetry(T: Any, xp, *, engine: str = "auto") -> float:
    """``max |T - T^sigma| / max |T|`` over generators sigma of the symmetric group.

    A swap of the first two modes and a cyclic shift generate all permutations,
    so the tensor is symmetric exactly when both differences vanish.  On NumPy with
    numba, one kernel reads ``T`` in place (NumPy makes a transposed copy and two more
    temporaries per generator: 33 ms of a 0.4 s ``spm`` call at order 4, d = 40).
    """
    m = T.ndim
    if select_engine(engine, xp) == "numba" and m >= 2:
        from ._symmetric_numba import max_asymmetry

        flat = np.ascontiguousarray(T).reshape(-1)
        swap, cycle, scale = max_asymmetry(flat, T.shape[0])
        return 0.0 if scale == 0.0 else max(swap, cycle) / scale
    scale = float(xp.max(xp.abs(T)))
    if scale == 0.0:
        return 0.0
    swap = (1, 0, *range(2, m))
    cycle = (*range(1, m), 0)
    diff = max(float(xp.max(xp.abs(T - xp.permute_dims(T, p)))) for p in (swap, cycle))
    return diff / scale


def check_cubical(T: Any, name: str, *, min_order: int) -> None:
    """Raise ``ValueError`` unless ``T`` has order ``>= min_order`` and equal side lengths."""
    if T.ndim < min_order:
        raise ValueError(
            f"`{name}` must be a tensor of order at least {min_order}; got ndim={T.ndim} "
            f"(shape {tuple(T.shape)})."
        )
    if len(set(T.shape)) != 1:
        raise ValueError(f"`{name}` must be cubical (all dimensions equal); got shape {tuple(T.shape)}.")


def check_nonempty(T: Any, name: str) -> None:
    """Raise ``ValueError`` if a dimension of ``T`` is 0 (nothing to decompose)."""
    if 0 in tuple(T.shape):
        raise ValueError(f"`{name}` must not be empty; got shape {tuple(T.shape)}.")


def check_symmetric_tensor(T: Any, name: str, xp, *, rtol: float | None,
                           engine: str = "auto") -> float:
    """Raise ``ValueError`` with the measured asymmetry unless ``T`` is symmetric within ``rtol``."""
    if rtol is None:
        rtol = 100 * T.ndim * eps(T.dtype, xp)
    asym = asymmetry(T, xp, engine=engine)
    if asym > rtol:
        raise ValueError(
            f"`{name}` must be a symmetric tensor; measured asymmetry max|T - T.transpose(p)| / "
            f"max|T| = {asym:.3g} exceeds sym_rtol = {rtol:.3g}. Use symmetrize(T) or "
            "assume_symmetric=True."
        )
    return asym


def parse_symmetry(symmetry: Any, ndim: int, shape: tuple, name: str = "symmetry") -> tuple[int, ...]:
    """Block sizes ``(k_1, ..., k_p)``: positive integers summing to ``ndim``, equal dims within a block."""
    if isinstance(symmetry, str | bytes) or not hasattr(symmetry, "__iter__"):
        raise TypeError(f"`{name}` must be a tuple of block sizes, e.g. (2, 1); got {symmetry!r}.")
    blocks = tuple(check_int(k, name, low=1) for k in symmetry)
    if sum(blocks) != ndim:
        raise ValueError(f"`{name}` must sum to T.ndim = {ndim}; got {blocks}.")
    first = 0
    for j, k in enumerate(blocks):
        dims = tuple(shape[first:first + k])
        if len(set(dims)) > 1:
            raise ValueError(f"block {j} of `{name}`={blocks} must have equal dimensions; "
                             f"got {dims} in T.shape = {tuple(shape)}.")
        first += k
    return blocks


@capability("tensor", numba=False)
def symmetrize(T: Any, *, symmetry: Any = None) -> Any:
    """Project a tensor onto the symmetric (or partially symmetric) tensors.

    Parameters
    ----------
    T : array_like, shape (d, d, ..., d), or blocks of equal dimensions with ``symmetry``
        Real tensor of any array-API library: of order m >= 2 and cubical without
        ``symmetry``.  Integer input is promoted to float64.  It is never modified.
    symmetry : tuple of int, optional
        Block sizes ``(k_1, ..., k_p)`` summing to ``T.ndim``, blocks on consecutive modes
        (the convention of :func:`mspm`): ``T`` is averaged over the permutations within
        each block only, e.g. ``symmetry=(2, 1)`` gives ``(T + T.transpose(1, 0, 2)) / 2``.
        Default: one block of all modes (full symmetry).

    Returns
    -------
    array, same shape as ``T``
        ``(1/|G|) sum_(sigma in G) T.transpose(sigma)`` for the group G of the
        permutations of every mode (or of the modes within each block), in the
        namespace and on the device of ``T``.

    Raises
    ------
    ValueError
        If ``T`` has order below 2 or is not cubical (without ``symmetry``), if
        ``symmetry`` does not sum to ``T.ndim`` or a block has unequal dimensions, or if
        ``T`` contains NaN/Inf.
    TypeError
        If ``T`` has a complex or non-numeric dtype, or ``symmetry`` is not a tuple of
        integers.

    Notes
    -----
    The average over all k! permutations of a block is computed by the coset recursion
    ``Sym_k = (1/k) sum_{j<k} tau_(j,k-1) Sym_(k-1)``, which takes ``k(k-1)/2`` passes
    over the entries per block.  The result is the orthogonal projection onto the
    tensors with that symmetry in the Frobenius inner product, accurate to a few ulps of
    ``max|T|``; it is the nearest such tensor, which makes measured data (symmetric up
    to noise) acceptable to :func:`spm` and :func:`mspm`.  A tensor near the overflow
    threshold is averaged after an exact scaling by a power of two.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.tensor import symmetrize
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 1] = 3.0
    >>> S = symmetrize(T)
    >>> float(S[0, 1, 0]), float(S[1, 0, 0]), float(S.sum())
    (1.0, 1.0, 3.0)
    >>> P = symmetrize(T, symmetry=(2, 1))   # symmetric in the first two modes only
    >>> float(P[0, 0, 1]), float(P[0, 1, 0])
    (3.0, 0.0)
    """
    xp = array_namespace(T)
    T = xp.asarray(T) if not hasattr(T, "shape") else T
    if symmetry is None:
        check_cubical(T, "T", min_order=2)
        blocks = (T.ndim,)
    else:
        if T.ndim < 1:
            raise ValueError(f"`T` must be a tensor of order at least 1; got ndim={T.ndim}.")
        blocks = parse_symmetry(symmetry, T.ndim, tuple(T.shape))
    T = as_floating(T, "T", xp, allow_complex=False)
    check_finite(T, "T", xp)
    # Sums of up to k entries: scale down first when they could overflow (exact, undone after).
    exponent = binary_exponent(max_abs(T, xp))
    shift = exponent if exponent > max_exponent(T.dtype, xp) - 8 else 0
    S = scale_pow2(T, -shift, xp)
    first = 0
    for k in blocks:
        if k > 1:
            S = _symmetrize_xp(S, xp, tuple(range(first, first + k)))
        first += k
    return scale_pow2(S, shift, xp) if shift else (S if S is not T else xp.asarray(T, copy=True))
