"""KronOperator: A_1 ⊗ A_2 ⊗ ... ⊗ A_d without forming it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability, is_numpy, is_torch
from .._dask import is_dask
from .._validate import check_finite, eps
from ._chain import kron_apply
from ._common import (
    as_factor_list,
    check_overflow,
    cols,
    cycle_modes,
    kron_vectors,
    matmul,
    operand,
    promote,
    real_dtype,
    rmatmul_t,
    rows,
    scalar,
    size,
)

__all__ = ["KronOperator", "KronSVD"]


class KronSVD(NamedTuple):
    """Kronecker SVD ``A = U @ diag(s) @ Vh`` from :meth:`KronOperator.svd`.

    Attributes
    ----------
    U : KronOperator
        Left singular vectors, ``U_1 ⊗ ⋯ ⊗ U_d`` with orthonormal columns.
    s : array, shape (r,)
        Singular values in Kronecker order ``kron(s_1, ..., s_d)``, not sorted.
    Vh : KronOperator
        Right singular vectors (conjugate-transposed), ``Vh_1 ⊗ ⋯ ⊗ Vh_d``.
    """

    U: Any
    s: Any
    Vh: Any


def _eye(f: Any) -> bool:
    """An identity factor: an int (its order) or None (order fixed by the operand)."""
    return f is None or isinstance(f, int)


def _singular(k: int, detail: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"factor {k} (`factors[{k}]`) is singular to working precision ({detail}).")


def _factor_solver(a: Any, k: int, xp: Any):
    """``y (n, R) -> (A^{-1} y)^T`` for one square factor, factorized once (every backend).

    NumPy: SciPy's LU; torch: ``torch.linalg.lu_factor_ex``; other backends (CuPy,
    array_api_strict), which have no LU in the array API: the explicit inverse, computed
    once.  LU routes refuse ``min|U_ii| <= n eps max|U_ii|``, the inverse route
    ``sigma_min <= n eps sigma_max``.
    """
    n = int(a.shape[0])
    if n == 0:
        return lambda y: y.mT
    tol = n * eps(a.dtype, xp)
    if is_numpy(xp) or is_torch(xp):
        if is_numpy(xp):
            import scipy.linalg

            with warnings.catch_warnings():
                # An exactly singular factor is reported below, with its index, as LinAlgError.
                warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
                lu, piv = scipy.linalg.lu_factor(a, check_finite=False, overwrite_a=False)
            d = np.abs(np.diagonal(lu))
        else:
            import torch

            lu, piv, _ = torch.linalg.lu_factor_ex(a)
            d = xp.abs(xp.linalg.diagonal(lu))
        dmin, dmax = scalar(xp.min(d)), scalar(xp.max(d))
        if dmin <= tol * dmax:
            raise _singular(k, f"min|U_ii| / max|U_ii| = {dmin / dmax if dmax else 0.0:.3g}")
        if is_numpy(xp):
            # A copy of the n pivots per call: SciPy 1.17's lu_solve corrupted the heap when
            # threads (a Dask worker's) solved concurrently with one shared pivot array.
            return lambda y: scipy.linalg.lu_solve((lu, piv.copy()), y, check_finite=False).T

        def torch_solve(y):
            f, y = promote(xp, lu, y)
            return torch.linalg.lu_solve(f, piv, y).mT

        return torch_solve
    s = xp.linalg.svdvals(a)
    smin, smax = scalar(s[-1]), scalar(s[0])
    if smin <= tol * smax:
        raise _singular(k, f"sigma_min / sigma_max = {smin / smax if smax else 0.0:.3g}")
    inv = xp.linalg.inv(a)
    return lambda y: rmatmul_t(y, inv, xp)


def _check_solution(z: Any, y: Any, name: str, what: str, xp: Any) -> None:
    """One host sync: a non-finite solution is refused, naming ``y`` when it came from a
    non-finite right-hand side (NaN/Inf propagate through every solve), else as an overflow."""
    if not bool(xp.all(xp.isfinite(z))):
        check_finite(y, name, xp)
        check_overflow(z, what, xp)


def _numpy_apply(b: np.ndarray, mats: Sequence[Any], dims_in: Sequence[int]) -> np.ndarray:
    """NumPy path of ``A @ b``: promote once, then one ``out=`` GEMM per factor (see ``_chain``)."""
    arrays = [a for a in mats if not _eye(a)]
    dt = np.result_type(b, *arrays)
    mats = [n if _eye(a) else a.astype(dt, copy=False) for a, n in zip(mats, dims_in, strict=True)]
    x = b.reshape(b.shape[0], math.prod(b.shape[1:])).astype(dt, copy=False)
    m_out = math.prod(n if _eye(a) else a.shape[0] for a, n in zip(mats, dims_in, strict=True))
    return kron_apply(x, mats, dims_in).reshape(m_out, *b.shape[1:])


@capability("kron", numba=False, notes="as_linear_operator: NumPy only")
class KronOperator:
    """Kronecker product ``A = A_1 ⊗ A_2 ⊗ ⋯ ⊗ A_d`` as an operator, never formed.

    Parameters
    ----------
    factors : sequence of arrays, int or None
        2-D factors of any shapes (non-square allowed) from one array-API library;
        an integer ``n`` stands for the identity ``I_n``.  At most one factor may be
        ``None``: an identity whose order ``s`` is inferred each time the operator is
        applied, ``s = len(b) / prod(other factors' column counts)`` (row counts for
        :meth:`lstsq`).  Not modified.  **Copied on construction**: the operator is the
        matrix at construction, so an in-place change of the caller's array afterwards
        changes neither ``@`` nor :meth:`solve`/:meth:`lstsq` (whose factorizations are
        cached) -- both keep agreeing.  The copy costs ``sum m_k n_k`` entries; on torch it
        is a ``clone``, which keeps the autograd graph.

    Attributes
    ----------
    factors : list
        The operator's private copies of the factors (arrays, ints or None for identities);
        treat them as read-only.
    shape : tuple of int
        ``(prod m_k, prod n_k)``.  With a ``None`` factor the shape is unknown and
        reading it raises ``ValueError``, as do the other methods that need every
        size (:meth:`to_dense`, :meth:`logdet`, :meth:`svd`, :meth:`eigh`,
        :meth:`as_linear_operator`); ``@``, :meth:`solve`, :meth:`lstsq`,
        :meth:`inv`, ``T`` and ``H`` work.
    dtype : dtype
        Result dtype of the factors.

    Raises
    ------
    TypeError
        If ``factors`` is empty or mixes array libraries, or a factor has a boolean,
        non-numeric or float16 dtype.
    ValueError
        If a factor is not 2-D or holds NaN/Inf, or more than one factor is ``None``.
        When applied: if the operand ``b`` holds NaN/Inf or does not match the factor
        sizes, or a ``None`` factor's order does not come out an integer (the message
        names the operand length and the product it must be a multiple of).

    Notes
    -----
    Vectorization is row-major, as ``numpy.kron`` and ``x.reshape(-1)``:
    ``A @ x`` equals ``vec(X ×_1 A_1 ×_2 ⋯ ×_d A_d)`` for ``X = x.reshape(n_1, ..., n_d)``.
    In column-major (Fortran/MATLAB) vectorization the same matrix reads
    ``(A_d ⊗ ⋯ ⊗ A_1) vec_F(X)``; for two factors ``(A ⊗ B) vec(X) = vec(A X B^T)``.

    ``A @ x`` costs ``2 sum_k m_k * (size before step k)`` flops (``2 N sum n_k``
    for square factors) as ``d`` GEMMs (see :func:`multi_mode_product`); a matrix of
    right-hand sides ``(N, k)`` is one pass, not a loop, with one transpose of the
    right-hand-side axis.  On NumPy the intermediate results go to per-thread work
    arrays kept between calls (at most four, each kept only up to 64 MiB), so only the
    result is allocated.  :meth:`solve` uses per-factor
    LU, :meth:`lstsq` per-factor QR, :meth:`logdet` per-factor determinants and
    :meth:`svd`/:meth:`eigh` per-factor decompositions: ``O(sum n_k^3)`` instead of
    ``O(N^3)``.  Because the factor solutions are backward stable, the Kronecker
    solution has relative forward error about ``eps * sum_k cond(A_k)``.  The factor
    factorizations are computed on the first :meth:`solve`/:meth:`lstsq` and cached on
    every backend: SciPy LU on NumPy, ``torch.linalg.lu_factor_ex`` on torch, and on
    backends without an LU in the array API (CuPy, array_api_strict) the factor inverses
    (computed once; same ``eps * cond`` forward error).

    Size-0 factors are allowed: the operator then has ``N = 0`` columns (or rows), the
    products are empty, ``to_dense`` is empty and ``logdet`` is 0 (the empty determinant
    is 1).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import KronOperator
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((3, 3)), rng.standard_normal((2, 4))
    >>> op = KronOperator([a, b, 2])
    >>> op.shape
    (12, 24)
    >>> x = rng.standard_normal(24)
    >>> bool(np.allclose(op @ x, np.kron(np.kron(a, b), np.eye(2)) @ x))
    True

    ``None`` takes its order from the operand (here ``I_5`` for a vector of 60):

    >>> x = rng.standard_normal(60)
    >>> bool(np.allclose(KronOperator([a, None, b]) @ x, np.kron(np.kron(a, np.eye(5)), b) @ x))
    True
    """

    def __init__(self, factors: Sequence[Any]):
        self._setup(factors, copy=True)

    @classmethod
    def _owned(cls, factors: Sequence[Any]) -> KronOperator:
        """An operator on arrays that no caller holds (results of orthla): no copy."""
        op = cls.__new__(cls)
        op._setup(factors, copy=False)
        return op

    def _setup(self, factors: Sequence[Any], copy: bool) -> None:
        self.factors, self._xp = as_factor_list(factors, allow_none=True, copy=copy)
        free = [k for k, f in enumerate(self.factors) if f is None]
        if len(free) > 1:
            raise ValueError(
                f"at most one factor may be None (an identity whose size is inferred from the "
                f"operand); factors {free} are None.  Give the other identities' orders as integers.")
        self._free = free[0] if free else None
        self._dims_in = [cols(f) for f in self.factors]
        self._dims_out = [rows(f) for f in self.factors]
        if self._free is None:
            self._shape = (math.prod(self._dims_out), math.prod(self._dims_in))
        arrays = [f for f in self.factors if not _eye(f)]
        self.dtype = self._xp.result_type(*arrays) if arrays else self._xp.float64
        self._cache: dict = {}

    def __repr__(self) -> str:
        parts = ["I_?" if f is None else f"I_{f}" if _eye(f) else f"{f.shape[0]}x{f.shape[1]}"
                 for f in self.factors]
        shape = "unknown until applied" if self._free is not None else self._shape
        return f"KronOperator({' ⊗ '.join(parts)}, shape={shape})"

    @property
    def shape(self) -> tuple[int, int]:
        """``(prod m_k, prod n_k)``; ``ValueError`` while a ``None`` factor's size is unknown."""
        self._require_sizes("shape")
        return self._shape

    def _require_sizes(self, what: str) -> None:
        if self._free is not None:
            raise ValueError(
                f"{what} needs every factor's size, but factor {self._free} is None: the identity's "
                "size is unknown until the operator is applied (it is then inferred from the length "
                "of the right-hand side).  Pass the identity's order as an integer instead.")

    def _bind(self, b: Any, name: str, xp: Any, along: str) -> tuple[list, list]:
        """(dims_in, dims_out) with a None factor's size inferred from ``b.shape[0]``.

        ``along`` is ``"in"`` when ``b`` has the column size (``A @ b``, ``solve``) and
        ``"out"`` when it has the row size (``lstsq``).
        """
        if self._free is None:
            return self._dims_in, self._dims_out
        b = xp.asarray(b) if not hasattr(b, "shape") else b
        if b.ndim == 0:
            raise ValueError(f"`{name}` must have shape (N,) or (N, k); got a 0-D array.")
        n = int(b.shape[0])
        known = self._dims_in if along == "in" else self._dims_out
        others = [d for d in known if d is not None]
        other = math.prod(others)
        what = "column" if along == "in" else "row"
        if n == 0 or n % other:
            raise ValueError(
                f"`{name}` has length {n}, which is not a positive multiple of the product of the "
                f"other factors' {what} sizes {' x '.join(map(str, others)) or '1'} = {other}, so the "
                f"size of the identity factor {self._free} (None) cannot be inferred.")
        s = n // other
        return ([s if d is None else d for d in self._dims_in],
                [s if d is None else d for d in self._dims_out])

    def _arrays(self):
        return [f for f in self.factors if not _eye(f)]

    def _namespace(self, b):
        return array_namespace(b, *self._arrays())

    def _apply(self, b, name, mats, along, finite=True):
        xp = self._namespace(b)
        dims_in, dims_out = self._bind(b, name, xp, along)
        if along == "out":  # lstsq: the operand has the row sizes, the result the column sizes
            dims_in, dims_out = dims_out, dims_in
        b = operand(b, xp, name, math.prod(dims_in), dims_in, finite=finite)
        if is_numpy(xp):
            return _numpy_apply(b, mats, dims_in)
        x = xp.reshape(b, (*dims_in, *b.shape[1:]))
        funcs = [None if _eye(a) else (lambda y, a=a: rmatmul_t(y, a, xp)) for a in mats]
        y = cycle_modes(x, dims_in, funcs, xp)
        return xp.reshape(y, (math.prod(dims_out), *b.shape[1:]))

    def __matmul__(self, b: Any) -> Any:
        """``A @ b`` for ``b`` of shape ``(N,)`` or ``(N, k)`` (or ``(N, *batch)``).

        For another KronOperator with matching factor sizes the product is again a
        Kronecker product, ``(A_1 B_1) ⊗ ⋯ ⊗ (A_d B_d)``, returned as a KronOperator.

        A ``dask.array`` ``b`` (NumPy factors) gives a lazy Dask result: chunked along the batch
        axes (axis 0 in one chunk), each block is the in-memory product of that block, bit for
        bit; a single vector ``(N,)`` may instead be chunked along the leading mode (chunk sizes
        multiples of ``N / n_1``): ``A_2 ⊗ ⋯ ⊗ A_d`` is applied chunk by chunk and ``A_1`` mixes
        the chunks as a Dask matrix product (equal to rounding).  NaN/Inf in a Dask ``b`` is
        reported when the result is computed.
        """
        if isinstance(b, KronOperator):
            return self._compose(b)
        if is_dask(b):
            return self._dask(b, "__matmul__")
        return self._apply(b, "b", self.factors, "in")

    def _dask(self, b: Any, method: str) -> Any:
        """``self @ b`` or ``self.solve(b)`` for a Dask ``b`` (see ``orthla/kron/_dask.py``)."""
        from ._dask import batch_layout, check_dask_operand, dask_apply, leading_mode

        what = "KronOperator @ b" if method == "__matmul__" else "KronOperator.solve"
        if method == "solve":
            self._require_square("solve")
        dims_in, dims_out = self._bind(b, "b", None, "in")
        b, dtype = check_dask_operand(b, math.prod(dims_in), dims_in, "b", self._arrays(), what)
        if method == "solve":
            self._lu()  # a singular factor is reported now, not when the result is computed
            dims_out = dims_in
        if batch_layout(b):
            return dask_apply(b, self, method, (), math.prod(dims_out), dtype)
        if b.ndim != 1:
            raise TypeError(
                f"{what} on a Dask array: `b` of shape {tuple(b.shape)} is chunked along axis 0 "
                f"({len(b.chunks[0])} chunks).  Dask right-hand sides must be chunked along the batch "
                "axes only (axis 0 in one chunk), or be a single vector (N,) chunked along the "
                "leading mode.")
        bound = [n if f is None else f for f, n in zip(self.factors, dims_in, strict=True)]
        rest = KronOperator._owned(bound[1:] or [1])
        if method == "solve":
            rest._lu()
        return leading_mode(b, rest, bound[0], dims_in, dims_out, method, dtype, "b")

    def _compose(self, other: KronOperator) -> KronOperator:
        if len(other.factors) != len(self.factors) or any(
                p is not None and q is not None and p != q for p, q in zip(self._dims_in, other._dims_out, strict=True)):
            raise ValueError(
                "Kronecker products compose factor by factor; the column sizes "
                f"{' x '.join(map(str, self._dims_in))} of the left operand must equal the row sizes "
                f"{' x '.join(map(str, other._dims_out))} of the right operand.")
        xp = self._xp
        out = []
        for a, b in zip(self.factors, other.factors, strict=True):
            out.append(b if _eye(a) else a if _eye(b) else matmul(a, b, xp))
        return KronOperator._owned(out)

    def matvec(self, b: Any) -> Any:
        """Same as ``self @ b``."""
        return self @ b

    @property
    def T(self) -> KronOperator:
        """Transpose ``A_1^T ⊗ ⋯ ⊗ A_d^T`` (no conjugation)."""
        return KronOperator._owned([f if _eye(f) else f.mT for f in self.factors])

    @property
    def H(self) -> KronOperator:
        """Conjugate transpose ``A_1^H ⊗ ⋯ ⊗ A_d^H``."""
        xp = self._xp
        return KronOperator._owned([f if _eye(f) else xp.conj(f.mT) if
                             xp.isdtype(f.dtype, "complex floating") else f.mT for f in self.factors])

    def to_dense(self) -> Any:
        """The full ``(M, N)`` matrix, as ``numpy.kron`` would build it (small cases only)."""
        self._require_sizes("to_dense")
        xp = self._xp
        arrays = self._arrays()
        dev = arrays[0].device if arrays else None
        out = xp.ones((1, 1), dtype=self.dtype, device=dev)
        for f in self.factors:
            if _eye(f):
                f = xp.eye(f, dtype=self.dtype, device=dev)
            m, n = out.shape
            p, q = f.shape
            out = xp.reshape(out[:, None, :, None] * f[None, :, None, :], (m * p, n * q))
        return out

    def as_linear_operator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` with matvec/matmat/rmatvec (NumPy only)."""
        self._require_sizes("as_linear_operator")
        if not is_numpy(self._xp):
            raise TypeError(
                "as_linear_operator needs NumPy factors (scipy.sparse.linalg is CPU/NumPy only); "
                f"the factors come from {self._xp.__name__}.")
        from scipy.sparse.linalg import LinearOperator

        adj = self.H
        return LinearOperator(self.shape, matvec=self.__matmul__, matmat=self.__matmul__,
                              rmatvec=adj.__matmul__, rmatmat=adj.__matmul__, dtype=self.dtype)

    # -- factorizations ------------------------------------------------------------------
    def _require_square(self, what: str) -> None:
        for k, f in enumerate(self.factors):
            if not _eye(f) and f.shape[0] != f.shape[1]:
                raise ValueError(f"{what} needs square factors; factor {k} has shape {tuple(f.shape)}.")

    def _lu(self):
        """Per-factor solvers ``y (n, R) -> (A^{-1} y)^T``, factorized once and cached."""
        if "lu" in self._cache:
            return self._cache["lu"]
        funcs = [None if _eye(a) else _factor_solver(a, k, self._xp) for k, a in enumerate(self.factors)]
        self._cache["lu"] = funcs
        return funcs

    def solve(self, b: Any) -> Any:
        """Solve ``A x = b`` by per-factor LU (square, nonsingular factors).

        Parameters
        ----------
        b : array, shape (N,) or (N, k)
            Right-hand side(s); one pass for all columns.  A ``dask.array`` (NumPy factors)
            is solved lazily, as for ``@``: chunked along the batch axes (each block solved as
            in memory, bit for bit), or a single vector chunked along the leading mode (the
            first factor's explicit inverse mixes the chunks; equal to rounding).

        Returns
        -------
        array
            ``x`` with the shape of ``b`` (a lazy Dask array for a Dask ``b``).

        Raises
        ------
        ValueError
            If a factor is not square, ``b`` does not match ``N`` or holds NaN/Inf, or the
            solution overflows the dtype (finite input, non-finite result).  For a Dask ``b``
            the values are checked when the result is computed.
        TypeError
            If a Dask ``b`` is a matrix chunked along axis 0, or the factors are not NumPy.
        numpy.linalg.LinAlgError
            If a factor is singular to working precision (the message names it).
        """
        if is_dask(b):
            return self._dask(b, "solve")
        self._require_square("solve")
        xp = self._namespace(b)
        dims, _ = self._bind(b, "b", xp, "in")
        # finiteness of b is read from the solution: one host sync per solve, not two
        b = operand(b, xp, "b", math.prod(dims), dims, finite=False)
        funcs = self._lu()
        if size(b) == 0:
            return xp.zeros(b.shape, dtype=xp.result_type(b, *self._arrays()), device=b.device)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing solution is reported below
            y = xp.reshape(cycle_modes(xp.reshape(b, (*dims, *b.shape[1:])), dims, funcs, xp), b.shape)
        _check_solution(y, b, "b", "the solution of A x = b", xp)
        return y

    def _pinv_factors(self):
        if "pinv" in self._cache:
            return self._cache["pinv"]
        xp = self._xp
        out = []
        for k, a in enumerate(self.factors):
            if _eye(a):
                out.append(a)
                continue
            m, n = a.shape
            if m == 0 or n == 0:  # full rank trivially; the pseudo-inverse is the (n, m) zero matrix
                out.append(xp.zeros((n, m), dtype=a.dtype, device=a.device))
                continue
            tall = m >= n
            q, r = xp.linalg.qr(a if tall else a.mT)
            d = xp.abs(xp.linalg.diagonal(r))
            dmin, dmax = scalar(xp.min(d)), scalar(xp.max(d))
            if dmin <= max(m, n) * eps(a.dtype, xp) * dmax:
                raise np.linalg.LinAlgError(
                    f"factor {k} (`factors[{k}]`) is rank deficient to working precision "
                    f"(min|R_ii| / max|R_ii| = {dmin / dmax if dmax else 0.0:.3g}).")
            cplx = xp.isdtype(a.dtype, "complex floating")
            qh = xp.conj(q.mT) if cplx else q.mT
            rh = xp.conj(r.mT) if cplx else r.mT
            # tall: A^+ = R^{-1} Q^H; wide (A^H = QR): A^+ = Q R^{-H}.
            out.append(xp.linalg.solve(r, qh) if tall else q @ xp.linalg.solve(rh, xp.eye(
                m, dtype=a.dtype, device=a.device)))
        self._cache["pinv"] = out
        return out

    def lstsq(self, b: Any) -> Any:
        """Least-squares solution of ``A x ≈ b`` via per-factor QR.

        Uses ``(A_1 ⊗ ⋯ ⊗ A_d)^+ = A_1^+ ⊗ ⋯ ⊗ A_d^+``: for tall full-column-rank
        factors this is the unique least-squares solution, for wide full-row-rank
        factors the minimum-norm solution.

        Parameters
        ----------
        b : array, shape (M,) or (M, k)
            Right-hand side(s).

        Returns
        -------
        array, shape (N,) or (N, k)

        Raises
        ------
        ValueError
            If ``b`` does not have ``M`` rows or holds NaN/Inf.
        numpy.linalg.LinAlgError
            If a factor is rank deficient to working precision (the message names it).
        """
        pinv = self._pinv_factors()
        return self._apply(b, "b", pinv, "out")

    def inv(self) -> KronOperator:
        """The inverse ``A_1^{-1} ⊗ ⋯ ⊗ A_d^{-1}`` as a KronOperator (explicit factor inverses).

        Raises
        ------
        ValueError
            If a factor is not square.
        numpy.linalg.LinAlgError
            If a factor is singular to working precision.
        """
        self._require_square("inv")
        self._lu()  # singularity check with the factor index
        xp = self._xp
        return KronOperator._owned([f if _eye(f) else xp.linalg.inv(f) for f in self.factors])

    def logdet(self) -> Any:
        """``log det A = sum_k (N / n_k) log det A_k`` for a positive determinant.

        Returns
        -------
        0-d array
            In the factors' namespace; 0 when ``N = 0`` (a size-0 factor).

        Raises
        ------
        ValueError
            If a factor is not square or ``det A <= 0`` (the sign is reported).
        """
        self._require_sizes("logdet")
        self._require_square("logdet")
        xp = self._xp
        n_total = self.shape[0]
        if n_total == 0:  # the determinant of a 0 x 0 matrix is 1
            return xp.asarray(0.0, dtype=real_dtype(self.dtype, xp), device=self._device())
        total, sign = None, 1.0
        for k, f in enumerate(self.factors):
            if _eye(f):
                continue
            sgn, logabs = xp.linalg.slogdet(f)
            reps = n_total // f.shape[0]
            s = scalar(sgn, complex) if xp.isdtype(sgn.dtype, "complex floating") else scalar(sgn)
            if s == 0:
                raise ValueError(f"det A = 0: factor {k} (`factors[{k}]`) is singular.")
            sign = sign * s**reps
            total = reps * logabs if total is None else total + reps * logabs
        if abs(sign - 1) > 1e-6:
            raise ValueError(f"det A must be positive for logdet; its sign is {sign:.3g}.")
        if total is None:
            return xp.asarray(0.0, dtype=real_dtype(self.dtype, xp), device=self._device())
        return xp.real(total) if xp.isdtype(total.dtype, "complex floating") else total

    def _device(self):
        arrays = self._arrays()
        return arrays[0].device if arrays else None

    def eigh(self):
        """Eigendecomposition of symmetric factors as a :class:`KronEigh`."""
        from ._eigh import KronEigh

        self._require_sizes("eigh")
        return KronEigh._build(self.factors, copy=False)

    def svd(self) -> KronSVD:
        """Per-factor thin SVDs: ``A = U @ diag(s) @ Vh`` with Kronecker-structured ``U``, ``Vh``.

        Returns
        -------
        KronSVD
            ``s`` is in Kronecker order (not sorted); sort it yourself if needed.
        """
        self._require_sizes("svd")
        xp = self._xp
        us, ss, vhs = [], [], []
        arrays = self._arrays()
        dev = arrays[0].device if arrays else None
        for f in self.factors:
            if _eye(f):
                us.append(f)
                vhs.append(f)
                ss.append(xp.ones((f,), dtype=real_dtype(self.dtype, xp), device=dev))
                continue
            u, s, vh = xp.linalg.svd(f, full_matrices=False)
            us.append(u), ss.append(s), vhs.append(vh)
        return KronSVD(KronOperator._owned(us), kron_vectors(ss, xp), KronOperator._owned(vhs))
