"""KronOperator: A_1 ⊗ A_2 ⊗ ... ⊗ A_d without forming it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability, is_numpy
from .._validate import eps
from ._common import (
    as_factor_list,
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


def _singular(k: int, detail: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"factor {k} is singular to working precision ({detail}).")


@capability("kron", numba=False, notes="as_linear_operator: NumPy only")
class KronOperator:
    """Kronecker product ``A = A_1 ⊗ A_2 ⊗ ⋯ ⊗ A_d`` as an operator, never formed.

    Parameters
    ----------
    factors : sequence of arrays or int
        2-D factors of any shapes (non-square allowed) from one array-API library;
        an integer ``n`` stands for the identity ``I_n``.  Not modified and not
        copied (a later change to a factor changes the operator).

    Attributes
    ----------
    factors : list
        The factors (arrays, or ints for identities).
    shape : tuple of int
        ``(prod m_k, prod n_k)``.
    dtype : dtype
        Result dtype of the factors.

    Raises
    ------
    TypeError
        If ``factors`` is empty, mixes array libraries, or contains ``None``
        (give the identity's order as an integer).
    ValueError
        If a factor is not 2-D or holds NaN/Inf.

    Notes
    -----
    Vectorization is row-major, as ``numpy.kron`` and ``x.reshape(-1)``:
    ``A @ x`` equals ``vec(X ×_1 A_1 ×_2 ⋯ ×_d A_d)`` for ``X = x.reshape(n_1, ..., n_d)``.
    In column-major (Fortran/MATLAB) vectorization the same matrix reads
    ``(A_d ⊗ ⋯ ⊗ A_1) vec_F(X)``; for two factors ``(A ⊗ B) vec(X) = vec(A X B^T)``.

    ``A @ x`` costs ``2 sum_k m_k * (size before step k)`` flops (``2 N sum n_k``
    for square factors) as ``d`` GEMMs (see :func:`multi_mode_product`); a matrix of
    right-hand sides ``(N, k)`` is one pass, not a loop.  :meth:`solve` uses per-factor
    LU, :meth:`lstsq` per-factor QR, :meth:`logdet` per-factor determinants and
    :meth:`svd`/:meth:`eigh` per-factor decompositions: ``O(sum n_k^3)`` instead of
    ``O(N^3)``.  Because the factor solutions are backward stable, the Kronecker
    solution has relative forward error about ``eps * sum_k cond(A_k)``.

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
    """

    def __init__(self, factors: Sequence[Any]):
        self.factors, self._xp = as_factor_list(factors)
        self._dims_in = [cols(f) for f in self.factors]
        self._dims_out = [rows(f) for f in self.factors]
        self.shape = (math.prod(self._dims_out), math.prod(self._dims_in))
        arrays = [f for f in self.factors if not isinstance(f, int)]
        self.dtype = self._xp.result_type(*arrays) if arrays else self._xp.float64
        self._cache: dict = {}

    def __repr__(self) -> str:
        parts = [f"I_{f}" if isinstance(f, int) else f"{f.shape[0]}x{f.shape[1]}" for f in self.factors]
        return f"KronOperator({' ⊗ '.join(parts)}, shape={self.shape})"

    def _arrays(self):
        return [f for f in self.factors if not isinstance(f, int)]

    def _namespace(self, b):
        return array_namespace(b, *self._arrays())

    def _apply(self, b, name, mats, dims_in, dims_out):
        xp = self._namespace(b)
        b = operand(b, xp, name, math.prod(dims_in), dims_in)
        x = xp.reshape(b, (*dims_in, *b.shape[1:]))
        funcs = [None if isinstance(a, int) else (lambda y, a=a: rmatmul_t(y, a, xp)) for a in mats]
        y = cycle_modes(x, dims_in, funcs, xp)
        return xp.reshape(y, (math.prod(dims_out), *b.shape[1:]))

    def __matmul__(self, b: Any) -> Any:
        """``A @ b`` for ``b`` of shape ``(N,)`` or ``(N, k)`` (or ``(N, *batch)``).

        For another KronOperator with matching factor sizes the product is again a
        Kronecker product, ``(A_1 B_1) ⊗ ⋯ ⊗ (A_d B_d)``, returned as a KronOperator.
        """
        if isinstance(b, KronOperator):
            return self._compose(b)
        return self._apply(b, "b", self.factors, self._dims_in, self._dims_out)

    def _compose(self, other: KronOperator) -> KronOperator:
        if len(other.factors) != len(self.factors) or other._dims_out != self._dims_in:
            raise ValueError(
                "Kronecker products compose factor by factor; the column sizes "
                f"{' x '.join(map(str, self._dims_in))} of the left operand must equal the row sizes "
                f"{' x '.join(map(str, other._dims_out))} of the right operand.")
        xp = self._xp
        out = []
        for a, b in zip(self.factors, other.factors, strict=True):
            out.append(b if isinstance(a, int) else a if isinstance(b, int) else matmul(a, b, xp))
        return KronOperator(out)

    def matvec(self, b: Any) -> Any:
        """Same as ``self @ b``."""
        return self @ b

    @property
    def T(self) -> KronOperator:
        """Transpose ``A_1^T ⊗ ⋯ ⊗ A_d^T`` (no conjugation)."""
        return KronOperator([f if isinstance(f, int) else f.mT for f in self.factors])

    @property
    def H(self) -> KronOperator:
        """Conjugate transpose ``A_1^H ⊗ ⋯ ⊗ A_d^H``."""
        xp = self._xp
        return KronOperator([f if isinstance(f, int) else xp.conj(f.mT) if
                             xp.isdtype(f.dtype, "complex floating") else f.mT for f in self.factors])

    def to_dense(self) -> Any:
        """The full ``(M, N)`` matrix, as ``numpy.kron`` would build it (small cases only)."""
        xp = self._xp
        arrays = self._arrays()
        dev = arrays[0].device if arrays else None
        out = xp.ones((1, 1), dtype=self.dtype, device=dev)
        for f in self.factors:
            if isinstance(f, int):
                f = xp.eye(f, dtype=self.dtype, device=dev)
            m, n = out.shape
            p, q = f.shape
            out = xp.reshape(out[:, None, :, None] * f[None, :, None, :], (m * p, n * q))
        return out

    def as_linear_operator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` with matvec/matmat/rmatvec (NumPy only)."""
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
            if not isinstance(f, int) and f.shape[0] != f.shape[1]:
                raise ValueError(f"{what} needs square factors; factor {k} has shape {tuple(f.shape)}.")

    def _lu(self):
        """Per-factor solvers ``y (n, R) -> (A^{-1} y)^T``, built once."""
        if "lu" in self._cache:
            return self._cache["lu"]
        xp = self._xp
        funcs = []
        for k, a in enumerate(self.factors):
            if isinstance(a, int):
                funcs.append(None)
                continue
            n = a.shape[0]
            if is_numpy(xp):
                import scipy.linalg

                with warnings.catch_warnings():
                    # An exactly singular factor is reported below, with its index, as LinAlgError.
                    warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
                    lu, piv = scipy.linalg.lu_factor(a, check_finite=False, overwrite_a=False)
                d = np.abs(np.diagonal(lu))
                if d.min() <= n * eps(a.dtype, xp) * d.max():
                    raise _singular(k, f"min|U_ii| / max|U_ii| = {d.min() / d.max():.3g}")
                funcs.append(lambda y, f=(lu, piv): scipy.linalg.lu_solve(f, y, check_finite=False).T)
            else:
                s = xp.linalg.svdvals(a)
                smin, smax = scalar(s[-1]), scalar(s[0])
                if smin <= n * eps(a.dtype, xp) * smax:
                    raise _singular(k, f"sigma_min / sigma_max = {smin / smax if smax else 0.0:.3g}")
                funcs.append(lambda y, a=a: xp.linalg.solve(*promote(xp, a, y)).mT)
        self._cache["lu"] = funcs
        return funcs

    def solve(self, b: Any) -> Any:
        """Solve ``A x = b`` by per-factor LU (square, nonsingular factors).

        Parameters
        ----------
        b : array, shape (N,) or (N, k)
            Right-hand side(s); one pass for all columns.

        Returns
        -------
        array
            ``x`` with the shape of ``b``.

        Raises
        ------
        ValueError
            If a factor is not square or ``b`` does not match ``N``.
        numpy.linalg.LinAlgError
            If a factor is singular to working precision (the message names it).
        """
        self._require_square("solve")
        funcs = self._lu()
        xp = self._namespace(b)
        b = operand(b, xp, "b", self.shape[1], self._dims_in)
        y = cycle_modes(xp.reshape(b, (*self._dims_in, *b.shape[1:])), self._dims_in, funcs, xp)
        return xp.reshape(y, b.shape)

    def _pinv_factors(self):
        if "pinv" in self._cache:
            return self._cache["pinv"]
        xp = self._xp
        out = []
        for k, a in enumerate(self.factors):
            if isinstance(a, int):
                out.append(a)
                continue
            m, n = a.shape
            tall = m >= n
            q, r = xp.linalg.qr(a if tall else a.mT)
            d = xp.abs(xp.linalg.diagonal(r))
            dmin, dmax = scalar(xp.min(d)), scalar(xp.max(d))
            if dmin <= max(m, n) * eps(a.dtype, xp) * dmax:
                raise np.linalg.LinAlgError(
                    f"factor {k} is rank deficient to working precision "
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
            If ``b`` does not have ``M`` rows.
        numpy.linalg.LinAlgError
            If a factor is rank deficient to working precision (the message names it).
        """
        pinv = self._pinv_factors()
        return self._apply(b, "b", pinv, self._dims_out, self._dims_in)

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
        return KronOperator([f if isinstance(f, int) else xp.linalg.inv(f) for f in self.factors])

    def logdet(self) -> Any:
        """``log det A = sum_k (N / n_k) log det A_k`` for a positive determinant.

        Returns
        -------
        0-d array
            In the factors' namespace.

        Raises
        ------
        ValueError
            If a factor is not square or ``det A <= 0`` (the sign is reported).
        """
        self._require_square("logdet")
        xp = self._xp
        n_total = self.shape[0]
        total, sign = None, 1.0
        for k, f in enumerate(self.factors):
            if isinstance(f, int):
                continue
            sgn, logabs = xp.linalg.slogdet(f)
            reps = n_total // f.shape[0]
            s = scalar(sgn, complex) if xp.isdtype(sgn.dtype, "complex floating") else scalar(sgn)
            if s == 0:
                raise ValueError(f"det A = 0: factor {k} is singular.")
            sign = sign * s**reps
            total = reps * logabs if total is None else total + reps * logabs
        if abs(sign - 1) > 1e-6:
            raise ValueError(f"det A must be positive for logdet; its sign is {sign:.3g}.")
        if total is None:
            return xp.asarray(0.0, dtype=self.dtype)
        return xp.real(total) if xp.isdtype(total.dtype, "complex floating") else total

    def eigh(self):
        """Eigendecomposition of symmetric factors as a :class:`KronEigh`."""
        from ._eigh import KronEigh

        return KronEigh(self.factors)

    def svd(self) -> KronSVD:
        """Per-factor thin SVDs: ``A = U @ diag(s) @ Vh`` with Kronecker-structured ``U``, ``Vh``.

        Returns
        -------
        KronSVD
            ``s`` is in Kronecker order (not sorted); sort it yourself if needed.
        """
        xp = self._xp
        us, ss, vhs = [], [], []
        arrays = self._arrays()
        dev = arrays[0].device if arrays else None
        for f in self.factors:
            if isinstance(f, int):
                us.append(f)
                vhs.append(f)
                ss.append(xp.ones((f,), dtype=real_dtype(self.dtype, xp), device=dev))
                continue
            u, s, vh = xp.linalg.svd(f, full_matrices=False)
            us.append(u), ss.append(s), vhs.append(vh)
        return KronSVD(KronOperator(us), kron_vectors(ss, xp), KronOperator(vhs))
