"""Kronecker products and solves on Dask right-hand sides (issue #16).

Two layouts are served:

* **batch axis**: ``b`` of shape ``(N, k)`` (or ``(N, *batch)``) chunked along the batch axes
  only (axis 0 in one chunk): every block is an ordinary in-memory right-hand side, so the
  product/solve runs block by block (``map_blocks``) with the small factors sent along, and each
  block of the result is bit for bit what the in-memory call gives for those columns.
* **leading mode** (``KronOperator`` ``@``/``solve``, ``KronEigh.solve``): a single vector ``b``
  of shape ``(N,)`` chunked along axis 0 in whole slices of the first mode (chunk sizes multiples
  of ``N / n_1``).  With ``A = A_1 ⊗ B``: each chunk of rows of ``X = b.reshape(n_1, N / n_1)``
  gets ``B`` locally, then ``A_1`` (or its inverse) mixes the chunks as one Dask matrix product
  (``KronEigh``: ``Q_B^H``, ``Q_1^H``, the eigenvalues, ``Q_1``, ``Q_B``, with the eigenvalues and
  the noise made per chunk).  The result agrees with the in-memory call to rounding (the modes
  are applied in another order).

Everything else with a Dask operand raises ``TypeError`` naming Dask.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from typing import Any

import array_api_compat.numpy as np_xp
import numpy as np

from .._dask import dask_array_module, numpy_chunks
from .._validate import as_floating

__all__ = ["dask_apply", "eigh_leading_mode", "leading_mode", "portable"]

#: Operators rebuilt on a worker, by token: the factorizations (LU, eigenvectors in the needed
#: dtype) are then made once per worker process, not once per block.
_WORKER_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 8
_DROP = ("_xp", "_cache", "_mats_cache", "_shifted_cache", "_op", "_eigenvalues")


class _Portable:
    """An operator (KronOperator, KronEigh) for a Dask graph, picklable for distributed workers.

    Pickled as its NumPy state without the namespace module and the caches (closures over LU
    factors are not picklable); rebuilt once per worker process and kept there by token.
    """

    def __init__(self, obj: Any) -> None:
        self.obj, self.token = obj, uuid.uuid4().hex

    def __reduce__(self) -> tuple:
        state = {k: v for k, v in self.obj.__dict__.items() if k not in _DROP}
        dropped = tuple(k for k in _DROP if k in self.obj.__dict__)
        return (_thaw, (type(self.obj), state, dropped, self.token))


def _thaw(cls: type, state: dict, dropped: tuple, token: str) -> _Portable:
    hit = _WORKER_CACHE.get(token)
    if hit is not None:
        return hit
    obj: Any = object.__new__(cls)
    obj.__dict__.update(state)
    defaults = {"_xp": np_xp, "_cache": {}, "_mats_cache": {}}
    obj.__dict__.update({k: defaults.get(k) for k in dropped})
    out = _Portable(obj)
    out.token = token
    _WORKER_CACHE[token] = out
    while len(_WORKER_CACHE) > _CACHE_SIZE:
        _WORKER_CACHE.popitem(last=False)
    return out


def portable(obj: Any) -> _Portable:
    return _Portable(obj)


def _refuse_factors(arrays: list, what: str) -> None:
    for a in arrays:
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{what} on a Dask array needs NumPy factors; got factors of "
                            f"{type(a).__module__}.{type(a).__name__}.")


def check_dask_operand(b: Any, n: int, dims: list, name: str, arrays: list, what: str,
                       factors: str = "factors") -> tuple[Any, np.dtype]:
    """Shape and dtype of a Dask right-hand side, checked up front (values are checked per block)."""
    _refuse_factors(arrays, what)
    numpy_chunks(b, name)
    if b.ndim == 0 or b.shape[0] != n or any(math.isnan(s) for s in b.shape):
        labels = ", ".join(f"{factors}[{k}]" for k in range(len(dims)))
        raise ValueError(
            f"`{name}` must have shape ({n},) or ({n}, k) to match the factor sizes "
            f"{' x '.join(map(str, dims))} = {n} (of {labels}); got shape {tuple(b.shape)}.")
    b = as_floating(b, name, np_xp)
    return b, np.result_type(b.dtype, *[a.dtype for a in arrays])


def _call(block: Any, *, op: _Portable, method: str, args: tuple) -> Any:
    return getattr(op.obj, method)(block, *args)


def batch_layout(b: Any) -> bool:
    """True for right-hand sides with axis 0 in one chunk (chunked along the batch axes only)."""
    return len(b.chunks[0]) == 1


def dask_apply(b: Any, obj: Any, method: str, args: tuple, n_out: int, dtype: np.dtype) -> Any:
    """``obj.method(block, *args)`` on every block of ``b`` (axis 0 in one chunk)."""
    meta = np.empty((0,) * b.ndim, dtype=dtype)
    return b.map_blocks(_call, op=portable(obj), method=method, args=args,
                        chunks=((n_out,), *b.chunks[1:]), dtype=dtype, meta=meta)


def _rest_apply(block: Any, *, op: _Portable, method: str, rest_in: int) -> Any:
    """``B`` (or ``B^{-1}``) on each row of a chunk of ``X`` (rows: slices of the first mode)."""
    rows = block.shape[0]
    y = getattr(op.obj, method)(np.ascontiguousarray(block.reshape(rows, rest_in).T))
    return np.ascontiguousarray(y.T)


def _unfold(b: Any, dims: list, name: str) -> tuple[Any, tuple, int]:
    """``b`` (N,) chunked along the leading mode as ``X`` (n_1, N / n_1) with row chunks."""
    n1, rest = dims[0], math.prod(dims[1:])
    bounds = np.cumsum((0, *b.chunks[0]))
    if rest == 0 or np.any(bounds % rest):
        raise ValueError(
            f"`{name}` is chunked along axis 0 in sizes {b.chunks[0]}; a vector chunked along the "
            f"leading mode needs chunk sizes that are multiples of N / n_1 = {rest} (whole "
            "slices of the first mode).  Rechunk it, or chunk a matrix of right-hand sides along "
            "its batch axis instead.")
    rows = tuple(int(c) // rest for c in b.chunks[0])
    x = b.reshape((n1, rest), merge_chunks=False)
    if x.chunks != (rows, (rest,)):
        x = x.rechunk((rows, (rest,)))
    return x, rows, rest


def _mix(a: Any, z: Any, rows: tuple, dtype: np.dtype) -> Any:
    """``A_1 Z`` for the row-chunked ``Z`` (an int ``a`` is the identity)."""
    if isinstance(a, int):
        return z
    da = dask_array_module()
    return da.from_array(np.asarray(a, dtype=dtype), chunks=(rows, rows)) @ z


def _kron_rows(vecs: list, block_info: Any) -> np.ndarray:
    """Rows ``r0:r1`` of ``kron(v_1, ..., v_d)`` reshaped (r1 - r0, N / n_1): the in-memory order
    of the products (left to right), so the entries are those of the full vector."""
    from ._common import kron_vectors

    r0, r1 = block_info[0]["array-location"][0]
    return kron_vectors([vecs[0][r0:r1], *vecs[1:]], np).reshape(r1 - r0, -1)


def _divide_rows(block: Any, *, vecs: list, shift: float | None = None, block_info: Any = None) -> Any:
    """The block divided by its rows of ``kron(vecs)`` (plus ``shift``, as ``l + shift``)."""
    d = _kron_rows(vecs, block_info)
    return block / (d if shift is None else d + shift)


def eigh_leading_mode(ke: Any, y: Any, shift: float, dtype: np.dtype) -> Any:
    """``(K + shift D)^{-1} y`` for a vector chunked along the leading mode:
    ``D^{-1/2} Q diag(1 / (l + shift)) Q^H D^{-1/2} y`` with ``Q = Q_1 ⊗ Q_B``: ``Q_B`` (and its
    adjoint) chunk by chunk, ``Q_1`` as a Dask product, the eigenvalues and the noise made per
    chunk from the factors' vectors."""
    from ._operator import KronOperator

    x, rows, rest = _unfold(y, ke._dims, "y")
    meta = np.empty((0, 0), dtype=dtype)
    vecs = ke.factor_eigenvectors
    adj = [v if isinstance(v, int) else np.ascontiguousarray(np.conj(v).T) for v in vecs]
    qh_rest = KronOperator._owned(adj[1:] or [1])
    q_rest = KronOperator._owned(list(vecs[1:]) or [1])
    vals = [np.asarray(v) for v in ke.factor_eigenvalues]
    noise = None if ke._sqrt_noise is None else [np.asarray(s) for s in ke._sqrt_noise]

    def each(z, func, **kw):
        return z.map_blocks(func, chunks=z.chunks, dtype=dtype, meta=meta, **kw)

    if noise is not None:
        x = each(x, _divide_rows, vecs=noise)
    z = each(x, _rest_apply, op=portable(qh_rest), method="__matmul__", rest_in=rest)
    z = _mix(adj[0], z, rows, dtype)
    z = each(z, _divide_rows, vecs=vals, shift=shift)
    z = _mix(vecs[0], z, rows, dtype)
    z = each(z, _rest_apply, op=portable(q_rest), method="__matmul__", rest_in=rest)
    if noise is not None:
        z = each(z, _divide_rows, vecs=noise)
    return z.reshape((ke.shape[0],), merge_chunks=False)


def smallest_shifted_eigenvalue(ke: Any, shift: float) -> float:
    """``min(kron(l_1, ..., l_d)) + shift`` from the factors' extreme eigenvalues (the minimum of a
    product over a box is at a vertex): no N-vector is formed."""
    import itertools

    vals = [np.asarray(v) for v in ke.factor_eigenvalues]
    if any(v.shape[0] == 0 for v in vals):
        return 1.0
    ends = [(float(v[0]), float(v[-1])) for v in vals]
    return min(math.prod(c) for c in itertools.product(*ends)) + shift


def leading_mode(b: Any, rest: Any, first: Any, dims_in: list, dims_out: list, method: str,
                 dtype: np.dtype, name: str) -> Any:
    """``(A_1 ⊗ B) b`` (``method="__matmul__"``) or ``(A_1 ⊗ B)^{-1} b`` (``"solve"``) for a
    vector chunked along the leading mode; ``first`` is ``A_1`` (an array, or an int identity)."""
    da = dask_array_module()
    m1, rest_out = dims_out[0], math.prod(dims_out[1:])
    x, rows, rest_in = _unfold(b, dims_in, name)
    meta = np.empty((0, 0), dtype=dtype)
    z = x.map_blocks(_rest_apply, op=portable(rest), method=method, rest_in=rest_in,
                     chunks=(rows, (rest_out,)), dtype=dtype, meta=meta)
    if isinstance(first, int):  # identity first factor: no mixing between chunks
        y = z
    else:
        a1 = first if method == "__matmul__" else np.linalg.inv(first)
        a1 = da.from_array(np.asarray(a1, dtype=dtype), chunks=(rows if m1 == dims_in[0] else (m1,), rows))
        y = a1 @ z
    return y.reshape((m1 * rest_out,), merge_chunks=False)
