"""Kronecker sums: (A_1 ⊕ ... ⊕ A_d + s I) x = b, Sylvester and Lyapunov equations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import array_namespace, capability, is_numpy
from .._validate import as_floating, check_choice, check_finite, check_square, eps
from ._common import (
    as_factor_list,
    cycle_modes,
    is_symmetric,
    kron_sum_vectors,
    matmul,
    operand,
    rmatmul_t,
    scalar,
)

__all__ = ["kron_sum_solve", "solve_lyapunov", "solve_sylvester"]

METHODS = ("auto", "eigh", "schur")


def _ct(a, xp):
    return xp.conj(a.mT) if xp.isdtype(a.dtype, "complex floating") else a.mT


def _check_denominators(den, xp, what):
    """Refuse a (numerically) singular diagonalized operator instead of returning Inf/NaN."""
    absden = xp.abs(den)
    dmin, dmax = scalar(xp.min(absden)), scalar(xp.max(absden))
    if dmin <= den.shape[0] * eps(den.dtype, xp) * dmax:
        raise np.linalg.LinAlgError(
            f"{what} is singular to working precision: min|eigenvalue sum| = {dmin:.3g}, "
            f"max = {dmax:.3g}.")


def _eigenbasis_solve(b, dims, to_eig, from_eig, den, xp):
    """``x = (⊗_k from_eig[k]) diag(1 / den) (⊗_k to_eig[k]) b`` by mode products.

    ``b`` has shape (N,) or (N, k), N = prod(dims); one pass for all columns.
    """
    x = xp.reshape(b, (*dims, *b.shape[1:]))
    x = cycle_modes(x, dims, [lambda y, m=m: rmatmul_t(y, m, xp) for m in to_eig], xp)
    x = x / xp.reshape(den, (*dims, *([1] * (b.ndim - 1))))
    x = cycle_modes(x, dims, [lambda y, m=m: rmatmul_t(y, m, xp) for m in from_eig], xp)
    return xp.reshape(x, b.shape)


@capability("kron", numba=False, notes="non-symmetric factors: NumPy only (SciPy)")
def kron_sum_solve(factors: Sequence[Any], b: Any, *, shift: float = 0.0) -> Any:
    """Solve ``(A_1 ⊕ A_2 ⊕ ⋯ ⊕ A_d + shift I) x = b`` by fast diagonalization.

    The Kronecker sum is ``A_1 ⊕ ⋯ ⊕ A_d = sum_k I ⊗ ⋯ ⊗ A_k ⊗ ⋯ ⊗ I``
    (row-major vectorization, as ``numpy.kron``); for two factors
    ``(A ⊕ B) vec(X) = vec(A X + X B^T)``.

    Parameters
    ----------
    factors : sequence of square arrays
        ``A_k`` of order ``n_k``, one array-API library.
    b : array, shape (N,) or (N, k), N = prod n_k
        Right-hand side(s), solved in one pass.
    shift : float, default 0
        Scalar ``s`` added to the diagonal.

    Returns
    -------
    array
        ``x`` with the shape of ``b``.

    Raises
    ------
    ValueError
        If a factor is not square or ``b`` does not match ``N``.
    TypeError
        If a factor is not symmetric and the input is not NumPy (the general path
        needs SciPy's eigensolver).
    numpy.linalg.LinAlgError
        If the operator is singular to working precision, or (non-symmetric
        factors) an eigenvector basis is too ill-conditioned to use.

    Notes
    -----
    Symmetric (Hermitian) factors: ``A_k = Q_k diag(l_k) Q_k^H`` and
    ``x = Q diag(1 / (l_1 ⊕ ⋯ ⊕ l_d + s)) Q^H b``; ``O(sum n_k^3 + 4 N sum n_k)`` flops,
    relative error about ``eps * cond`` (backward stable factors) [1]_.  Otherwise, on
    NumPy: two factors go through Bartels-Stewart (:func:`solve_sylvester`); more factors
    through eigenvector bases ``V_k`` (complex), refused when
    ``cond(V_k) > 1 / sqrt(eps)`` because the error grows like ``eps * prod cond(V_k)``.

    References
    ----------
    .. [1] R. E. Lynch, J. R. Rice, D. H. Thomas, "Direct solution of partial
       difference equations by tensor product methods", Numer. Math. 6 (1964).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import kron_sum_solve
    >>> a = np.array([[2.0, -1.0], [-1.0, 2.0]])
    >>> b = np.ones(4)
    >>> x = kron_sum_solve([a, a], b, shift=1.0)
    >>> dense = np.kron(a, np.eye(2)) + np.kron(np.eye(2), a) + np.eye(4)
    >>> bool(np.allclose(dense @ x, b))
    True
    """
    mats, xp = as_factor_list(factors, allow_identity=False, square=True)
    xp = array_namespace(b, *mats)
    dims = [int(a.shape[0]) for a in mats]
    b = operand(b, xp, "b", math.prod(dims), dims)
    shift = float(shift)
    sym = [is_symmetric(a, xp)[0] for a in mats]
    if all(sym):
        return _kron_sum_eigh(mats, dims, b, shift, xp)
    if not is_numpy(xp):
        bad = sym.index(False)
        raise TypeError(
            f"factor {bad} is not symmetric; non-symmetric Kronecker sums need NumPy input "
            f"(SciPy eigensolvers); got arrays from {xp.__name__}.")
    if len(mats) == 2:
        import scipy.linalg

        n0, n1 = dims
        batch = b.shape[1:]
        k = math.prod(batch)
        # (A ⊕ B + sI) vec(X) = vec((A + sI) X + X B^T); one Sylvester solve per right-hand side.
        c = np.reshape(b, (n0, n1, k))
        a0 = mats[0] + shift * np.eye(n0)
        x = np.stack([scipy.linalg.solve_sylvester(a0, mats[1].T, c[:, :, j]) for j in range(k)], axis=-1)
        return np.reshape(x, b.shape)
    return _kron_sum_eig(mats, dims, b, shift)


def _kron_sum_eigh(mats, dims, b, shift, xp):
    vals, vecs = zip(*(xp.linalg.eigh(a) for a in mats), strict=True)
    den = kron_sum_vectors(list(vals), xp) + shift
    _check_denominators(den, xp, "the Kronecker sum")
    return _eigenbasis_solve(b, dims, [_ct(v, xp) for v in vecs], vecs, den, xp)  # Q (.) Q^H


def _kron_sum_eig(mats, dims, b, shift):
    import scipy.linalg

    vals, vecs, invs = [], [], []
    limit = 1 / math.sqrt(np.finfo(np.result_type(*mats)).eps)
    for k, a in enumerate(mats):
        w, v = scipy.linalg.eig(a)
        cond = np.linalg.cond(v)
        if not cond < limit:
            raise np.linalg.LinAlgError(
                f"factor {k} is too far from normal for diagonalization: cond(V) = {cond:.3g} > "
                f"{limit:.3g}; use two factors (Bartels-Stewart) or symmetric factors.")
        vals.append(w), vecs.append(v), invs.append(np.linalg.inv(v))
    den = kron_sum_vectors(vals, np) + shift
    _check_denominators(den, np, "the Kronecker sum")
    x = _eigenbasis_solve(b, dims, invs, vecs, den, np)  # V (.) V^-1
    if not any(np.iscomplexobj(a) for a in mats) and not np.iscomplexobj(b):
        x = x.real  # conjugate eigenpairs cancel; the imaginary part is rounding
    return x


def _check_matrix(a, name, xp):
    a = xp.asarray(a) if not hasattr(a, "shape") else a
    a = as_floating(a, name, xp)
    check_finite(a, name, xp)
    return a


@capability("kron", numba=False, notes="non-symmetric input: NumPy only (SciPy Bartels-Stewart)")
def solve_sylvester(a: Any, b: Any, c: Any, *, method: str = "auto") -> Any:
    """Solve the Sylvester equation ``A X + X B = C``.

    Parameters
    ----------
    a : array, shape (m, m)
    b : array, shape (n, n)
    c : array, shape (m, n)
        Inputs of one array-API library; not modified.
    method : {"auto", "eigh", "schur"}, default "auto"
        ``"eigh"``: symmetric (Hermitian) ``A`` and ``B``, any backend.
        ``"schur"``: Bartels-Stewart via ``scipy.linalg.solve_sylvester`` (NumPy only).
        ``"auto"``: ``"eigh"`` when both are symmetric within ``100 n eps``, else ``"schur"``.

    Returns
    -------
    array, shape (m, n)

    Raises
    ------
    ValueError
        For non-square ``a``/``b``, a mismatched ``c``, an unknown ``method``, or
        ``method="eigh"`` with a non-symmetric input (asymmetry reported).
    TypeError
        For ``"schur"`` on non-NumPy input.
    numpy.linalg.LinAlgError
        If ``A`` and ``-B`` share an eigenvalue (to working precision).

    Notes
    -----
    Symmetric path: ``A = U diag(a) U^H``, ``B = V diag(b) V^H`` and
    ``X = U [(U^H C V) / (a_i + b_j)] V^H``: two eigendecompositions and four GEMMs,
    about ``(9 + 9) n^3 + 8 n^3`` flops against about ``2 * 25 n^3`` for two real Schur
    forms plus the triangular solve of Bartels-Stewart [1]_; when ``a is b`` one
    eigendecomposition is reused.  Both are backward stable up to ``eps * cond``.

    References
    ----------
    .. [1] R. H. Bartels, G. W. Stewart, "Solution of the matrix equation AX + XB = C",
       Comm. ACM 15 (1972).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import solve_sylvester
    >>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> b = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> c = np.ones((2, 2))
    >>> x = solve_sylvester(a, b, c)
    >>> bool(np.allclose(a @ x + x @ b, c))
    True
    """
    xp = array_namespace(a, b, c)
    same = a is b
    a, b, c = (_check_matrix(v, n, xp) for v, n in ((a, "a"), (b, "b"), (c, "c")))
    check_square(a, "a")
    check_square(b, "b")
    if tuple(c.shape) != (a.shape[0], b.shape[0]):
        raise ValueError(f"`c` must have shape (m, n) = ({a.shape[0]}, {b.shape[0]}) to match `a` "
                         f"and `b`; got {tuple(c.shape)}.")
    check_choice(method, "method", METHODS)
    if method in ("auto", "eigh"):
        sa, ra = is_symmetric(a, xp)
        sb, rb = (sa, ra) if same else is_symmetric(b, xp)
        if sa and sb:
            return _sylvester_eigh(a, None if same else b, c, xp)
        if method == "eigh":
            name, rel = ("a", ra) if not sa else ("b", rb)
            raise ValueError(f"method='eigh' needs symmetric `a` and `b`; `{name}` has "
                             f"max|M - M^H| / max|M| = {rel:.3g}.")
    if not is_numpy(xp):
        raise TypeError("non-symmetric Sylvester equations use Bartels-Stewart from SciPy and need "
                        f"NumPy input; got arrays from {xp.__name__}.")
    import scipy.linalg

    return scipy.linalg.solve_sylvester(a, b, c)


def _sylvester_eigh(a, b, c, xp):
    wa, u = xp.linalg.eigh(a)
    wb, v = (wa, u) if b is None else xp.linalg.eigh(b)
    den = wa[:, None] + wb[None, :]
    _check_denominators(xp.reshape(den, (-1,)), xp, "the Sylvester operator")
    return matmul(matmul(u, matmul(matmul(_ct(u, xp), c, xp), v, xp) / den, xp), _ct(v, xp), xp)


@capability("kron", numba=False, notes="non-symmetric input: NumPy only (SciPy Bartels-Stewart)")
def solve_lyapunov(a: Any, q: Any, *, method: str = "auto") -> Any:
    """Solve the continuous Lyapunov equation ``A X + X A^H = Q``.

    Parameters
    ----------
    a : array, shape (n, n)
    q : array, shape (n, n)
    method : {"auto", "eigh", "schur"}, default "auto"
        As in :func:`solve_sylvester`; ``"schur"`` calls
        ``scipy.linalg.solve_continuous_lyapunov``.

    Returns
    -------
    array, shape (n, n)

    Raises
    ------
    ValueError
        Shapes, unknown ``method``, or ``"eigh"`` with non-symmetric ``a``.
    TypeError
        ``"schur"`` on non-NumPy input.
    numpy.linalg.LinAlgError
        If ``a_i + conj(a_j) = 0`` for some eigenvalues (singular equation).

    Notes
    -----
    For symmetric ``A = U diag(w) U^H`` one eigendecomposition gives
    ``X = U [(U^H Q U) / (w_i + w_j)] U^H``, about ``13 n^3`` flops; otherwise
    Bartels-Stewart on the Schur form of ``A`` [1]_.

    References
    ----------
    .. [1] R. H. Bartels, G. W. Stewart, "Solution of the matrix equation AX + XB = C",
       Comm. ACM 15 (1972).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import solve_lyapunov
    >>> a = np.array([[-2.0, 1.0], [1.0, -3.0]])
    >>> q = -np.eye(2)
    >>> x = solve_lyapunov(a, q)
    >>> bool(np.allclose(a @ x + x @ a.T, q))
    True
    """
    xp = array_namespace(a, q)
    a, q = _check_matrix(a, "a", xp), _check_matrix(q, "q", xp)
    check_square(a, "a")
    if tuple(q.shape) != tuple(a.shape):
        raise ValueError(f"`q` must have the shape of `a`, {tuple(a.shape)}; got {tuple(q.shape)}.")
    check_choice(method, "method", METHODS)
    if method in ("auto", "eigh"):
        ok, rel = is_symmetric(a, xp)
        if ok:
            return _sylvester_eigh(a, None, q, xp)
        if method == "eigh":
            raise ValueError(f"method='eigh' needs symmetric `a`; max|A - A^H| / max|A| = {rel:.3g}.")
    if not is_numpy(xp):
        raise TypeError("non-symmetric Lyapunov equations use Bartels-Stewart from SciPy and need "
                        f"NumPy input; got arrays from {xp.__name__}.")
    import scipy.linalg

    return scipy.linalg.solve_continuous_lyapunov(a, q)
