"""Kronecker sums: (A_1 ⊕ ... ⊕ A_d + s I) x = b, Sylvester and Lyapunov equations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import array_namespace, capability, is_numpy
from .._scaling import binary_exponent, scale_pow2
from .._validate import as_floating, check_choice, check_finite, check_real, check_square, eps
from ._common import (
    as_factor_list,
    conj_t,
    cycle_modes,
    exactly_symmetric,
    fro_norm,
    is_symmetric,
    kron_sum_vectors,
    matmul,
    operand,
    rmatmul_t,
    scalar,
    size,
    symmetrized,
)

__all__ = ["kron_sum_solve", "solve_lyapunov", "solve_sylvester"]

METHODS = ("auto", "eigh", "schur")


def _ct(a, xp):
    return conj_t(a, xp)


def _check_denominators(den, xp, what, scale=None, scale_desc="max|eigenvalue sum|"):
    """Refuse a numerically singular diagonalized operator instead of returning Inf/NaN.

    ``den`` holds the operator's eigenvalues (sums of factor eigenvalues, plus a shift).
    Singular to working precision means ``min|den| <= eps * scale``: the operator is within
    a relative perturbation of ``eps`` (of ``scale``, the sum of the matrices' Frobenius
    norms for Sylvester equations and Kronecker sums) of a singular one, i.e. its condition
    number is ``1 / eps`` or more.  Default ``scale``: ``max|den|``.
    """
    if size(den) == 0:
        return
    absden = xp.abs(den)
    dmin = scalar(xp.min(absden))
    if scale is None:
        scale = scalar(xp.max(absden))
    tol = eps(den.dtype, xp) * scale
    if dmin <= tol:
        cond = scale / dmin if dmin > 0 else math.inf
        raise np.linalg.LinAlgError(
            f"{what} is singular to working precision: min|eigenvalue sum| = {dmin:.3g} <= "
            f"eps * {scale_desc} = {tol:.3g} (condition estimate {cond:.3g}).")


# Exact power-of-two scaling, shared with every homogeneous algorithm.
_exponent = binary_exponent
_times_pow2 = scale_pow2


def _scale_exponent(scale: float, dtype: Any, xp) -> int:
    """The exponent ``e`` to scale the matrices by ``2**-e``, or 0 when ``scale`` is safe.

    Safe: ``scale`` within ``2**+-(emax / 5)`` (``2**+-204`` in double, ``2**+-25`` in
    single precision), where neither LAPACK's safe minimum in ``?TRSYL`` (about
    ``mn * tiny / eps``) nor products of two entries come near the range limits; scaling
    there would only cost copies.
    """
    lim = int(math.log2(float(xp.finfo(dtype).max))) // 5
    e = _exponent(scale)
    return e if abs(e) > lim else 0


def _solve_scaled(solve, e, xp, what):
    """``solve() * 2**e`` (the solution of the equation scaled by ``2**-e``), checked finite.

    Input is finite, so a non-finite entry is an overflow of the solution (in the division
    by small eigenvalue sums or in the scaling back): ``ValueError``, not inf/NaN.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # reported below
        x = _times_pow2(solve(), e, xp)
        if not bool(xp.all(xp.isfinite(x))):
            raise ValueError(f"the solution of {what} overflows {x.dtype}: the input is finite but "
                             "the solution is not representable.")
    return x


def _schur_eigvals(t: np.ndarray) -> np.ndarray:
    """Eigenvalues of a (quasi-)triangular Schur factor, in the order of its diagonal.

    A 2 x 2 block ``[[a, b], [c, a]]`` of LAPACK's standardized real Schur form has the
    eigenvalues ``a +- i sqrt(-b c)``.
    """
    lam = np.diagonal(t).astype(np.result_type(t.dtype, np.complex64))
    if not np.iscomplexobj(t) and t.shape[0] > 1:
        sub = np.diagonal(t, -1)
        idx = np.flatnonzero(sub)
        im = np.sqrt(np.abs(t[idx, idx + 1])) * np.sqrt(np.abs(sub[idx]))
        lam[idx] += 1j * im
        lam[idx + 1] -= 1j * im
    return lam


def _sylvester_schur(a, b, cs, scale, what, *, lyapunov=False):
    """Bartels-Stewart for ``A X + X B = C`` (NumPy), each ``C`` of ``cs`` with the same Schur forms.

    ``lyapunov``: ``B = A^H`` and one Schur form serves both.  Real input uses real Schur
    forms; complex input (any of ``a``, ``b``, ``c``) complex ones, so ``?TRSYL`` always
    gets (quasi-)triangular factors of its own type.  The singularity test is the one of
    the eigenvalue route (:func:`_check_denominators` on ``lambda_i(A) + lambda_j(B)``).
    """
    import scipy.linalg

    dt = np.result_type(a, *cs) if b is None else np.result_type(a, b, *cs)
    out = "complex" if np.iscomplexobj(np.empty(0, dt)) else "real"
    a = a.astype(dt, copy=False)
    r, u = scipy.linalg.schur(a, output=out)
    if lyapunov:  # B^H = A
        s, v = r, u
    else:
        s, v = scipy.linalg.schur(b.conj().T.astype(dt, copy=False), output=out)
    den = _schur_eigvals(r)[:, None] + np.conj(_schur_eigvals(s))[None, :]
    _check_denominators(den.reshape(-1), np, what, scale, "(||A||_F + ||B||_F)")
    trsyl = scipy.linalg.get_lapack_funcs("trsyl", (r, s))
    xs = []
    for c in cs:
        f = u.conj().T @ c.astype(dt, copy=False) @ v
        y, sc, info = trsyl(r, s, f, tranb="C")  # R Y + Y S^H = sc * F
        if info < 0:
            raise np.linalg.LinAlgError(f"?TRSYL: illegal value in argument {-info}.")
        if info == 1:  # LAPACK perturbed a near-zero eigenvalue sum (not reached after the test above)
            raise np.linalg.LinAlgError(f"{what} is singular to working precision (?TRSYL perturbed it).")
        if sc != 1.0:
            with np.errstate(over="ignore"):
                y = y / sc
            if not np.all(np.isfinite(y)):
                raise ValueError(f"the solution of {what} overflows {dt}.")
        xs.append(u @ y @ v.conj().T)
    return xs


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
        Scalar ``s`` added to the diagonal (finite).

    Returns
    -------
    array
        ``x`` with the shape of ``b`` (empty for ``N = 0``).

    Raises
    ------
    ValueError
        If a factor is not square, an input holds NaN/Inf, ``shift`` is not finite,
        ``b`` does not match ``N``, or the solution overflows the dtype.
    TypeError
        If a factor is not symmetric and the input is not NumPy (the general path
        needs SciPy's eigensolver).
    numpy.linalg.LinAlgError
        If the operator is singular to working precision, or (non-symmetric
        factors) an eigenvector basis is too ill-conditioned to use.

    Notes
    -----
    Routes, as in :func:`solve_sylvester`: exactly symmetric (Hermitian) factors,
    ``A_k = Q_k diag(l_k) Q_k^H`` and ``x = Q diag(1 / (l_1 ⊕ ⋯ ⊕ l_d + s)) Q^H b``;
    ``O(sum n_k^3 + 4 N sum n_k)`` flops, relative error about ``eps * cond`` (backward
    stable factors) [1]_.  Otherwise, on NumPy: two factors go through Bartels-Stewart
    (one pair of Schur forms for all right-hand sides); more factors through eigenvector
    bases ``V_k`` (complex), refused when ``cond(V_k) > 1 / sqrt(eps)`` because the error
    grows like ``eps * prod cond(V_k)``.  On other backends factors symmetric within
    ``100 n eps`` are symmetrized, ``(A + A^H) / 2``, and take the eigenvalue route (their
    backward error then includes the asymmetry, at most ``100 n eps`` relative).

    Every route refuses the same numerically singular operators: those with
    ``min |l_1i + ... + l_dj + s| <= eps * (sum_k ||A_k||_F + |s|)`` (condition ``1 / eps``
    or more), computed from the eigenvalues or the Schur forms.  Far from unit scale the
    factors and ``s`` are scaled by a power of two on entry and ``x`` back on exit (as in
    :func:`solve_sylvester`), so the scale of the input does not matter; a solution beyond
    the dtype's range raises ``ValueError``.

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
    shift = check_real(shift, "shift")
    b = operand(b, xp, "b", math.prod(dims), dims)
    if size(b) == 0:
        return xp.zeros(b.shape, dtype=xp.result_type(b, *mats), device=b.device)
    scale = sum(fro_norm(a, xp) for a in mats) + abs(shift)
    # Homogeneous, as solve_sylvester: for a scale far from 1, factors and shift scaled by
    # 2**-e (scale in [0.5, 1)) and x = y * 2**-e on exit (exact but for over/underflow).
    e = _scale_exponent(scale, xp.result_type(b, *mats), xp)
    mats = [_times_pow2(a, -e, xp) for a in mats]
    shift, scale = math.ldexp(shift, -e), math.ldexp(scale, -e)
    return _solve_scaled(lambda: _kron_sum_route(mats, dims, b, shift, scale, xp), -e, xp, "the Kronecker sum")


def _kron_sum_route(mats, dims, b, shift, scale, xp):
    exact = [exactly_symmetric(a, xp) for a in mats]
    if all(exact):
        return _kron_sum_eigh(mats, dims, b, shift, scale, xp)
    if not is_numpy(xp):
        sym = [is_symmetric(a, xp)[0] for a in mats]
        if all(sym):  # the only route here: symmetrize (backward error <= the asymmetry)
            return _kron_sum_eigh([symmetrized(a, xp) for a in mats], dims, b, shift, scale, xp)
        bad = sym.index(False)
        raise TypeError(
            f"factor {bad} (`factors[{bad}]`) is not symmetric; non-symmetric Kronecker sums need "
            f"NumPy input (SciPy eigensolvers); got arrays from {xp.__name__}.")
    if len(mats) == 2:
        n0, n1 = dims
        k = math.prod(b.shape[1:])
        # (A ⊕ B + sI) vec(X) = vec((A + sI) X + X B^T): one pair of Schur forms, one
        # triangular Sylvester solve per right-hand side.
        c = np.reshape(b, (n0, n1, k))
        a0 = mats[0] + shift * np.eye(n0)
        xs = _sylvester_schur(a0, mats[1].T, [c[:, :, j] for j in range(k)], scale, "the Kronecker sum")
        return np.reshape(np.stack(xs, axis=-1), b.shape)
    return _kron_sum_eig(mats, dims, b, shift, scale)


def _kron_sum_eigh(mats, dims, b, shift, scale, xp):
    vals, vecs = zip(*(xp.linalg.eigh(a) for a in mats), strict=True)
    den = kron_sum_vectors(list(vals), xp) + shift
    _check_denominators(den, xp, "the Kronecker sum", scale, "(sum_k ||A_k||_F + |shift|)")
    return _eigenbasis_solve(b, dims, [_ct(v, xp) for v in vecs], vecs, den, xp)  # Q (.) Q^H


def _kron_sum_eig(mats, dims, b, shift, scale):
    import scipy.linalg

    vals, vecs, invs = [], [], []
    limit = 1 / math.sqrt(np.finfo(np.result_type(*mats)).eps)
    for k, a in enumerate(mats):
        # LAPACK's ?GEEV returns wrong eigenvalues for entries near 2**500: decompose the
        # factor scaled by a power of two (exact) and scale the eigenvalues back.
        amax = float(np.max(np.abs(a))) if a.size else 0.0
        e = int(np.frexp(amax)[1]) if amax > 0 else 0
        w, v = scipy.linalg.eig(np.ldexp(a.real, -e) + 1j * np.ldexp(a.imag, -e) if np.iscomplexobj(a)
                                else np.ldexp(a, -e))
        w = w * 2.0**e
        cond = np.linalg.cond(v)
        if not cond < limit:
            raise np.linalg.LinAlgError(
                f"factor {k} (`factors[{k}]`) is too far from normal for diagonalization: cond(V) = {cond:.3g} > "
                f"{limit:.3g}; use two factors (Bartels-Stewart) or symmetric factors.")
        vals.append(w), vecs.append(v), invs.append(np.linalg.inv(v))
    den = kron_sum_vectors(vals, np) + shift
    _check_denominators(den, np, "the Kronecker sum", scale, "(sum_k ||A_k||_F + |shift|)")
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
        ``"eigh"``: symmetric (Hermitian) ``A`` and ``B`` within ``100 n eps``, any backend;
        inputs that are not exactly symmetric are symmetrized first, ``(M + M^H) / 2``.
        ``"schur"``: Bartels-Stewart on the Schur forms (SciPy, NumPy only).
        ``"auto"``: ``"eigh"`` when both are *exactly* symmetric (``M == M^H``), else
        ``"schur"`` on NumPy; on other backends, which have no Schur form, inputs
        symmetric within ``100 n eps`` take the symmetrized ``"eigh"`` route.

    Returns
    -------
    array, shape (m, n)
        Empty when ``m`` or ``n`` is 0 (as SciPy).

    Raises
    ------
    ValueError
        For non-square ``a``/``b``, a mismatched ``c``, NaN/Inf, an unknown ``method``,
        ``method="eigh"`` with a non-symmetric input (asymmetry reported), or a solution
        that overflows the dtype.
    TypeError
        For ``"schur"`` (or non-symmetric input) on non-NumPy input; boolean, float16
        or non-numeric arrays.
    numpy.linalg.LinAlgError
        If the equation is singular to working precision (see Notes).

    Notes
    -----
    Symmetric path: ``A = U diag(a) U^H``, ``B = V diag(b) V^H`` and
    ``X = U [(U^H C V) / (a_i + b_j)] V^H``: two eigendecompositions and four GEMMs,
    about ``(9 + 9) n^3 + 8 n^3`` flops against about ``2 * 25 n^3`` for two real Schur
    forms plus the triangular solve of Bartels-Stewart [1]_; when ``a is b`` one
    eigendecomposition is reused.  Both are backward stable: the residual
    ``||A X + X B - C||`` is a small multiple of ``eps (||A|| + ||B||) ||X||`` on either
    route (the tests compare it with SciPy's at ``n = 300``).  A symmetrized input adds
    its asymmetry (at most ``100 n eps`` relative) to the backward error, which is why
    ``"auto"`` symmetrizes only where no Schur route exists.  The Schur route uses real
    Schur forms for real input and complex ones as soon as any input is complex
    (``scipy.linalg.solve_sylvester`` would pass a real quasi-triangular form to the
    complex ``ztrsyl``, which reads it as triangular and returns a wrong solution).

    Both routes use one singularity test: the equation is refused when
    ``min_ij |a_i + b_j| <= eps (||A||_F + ||B||_F)`` over the eigenvalues ``a_i`` of
    ``A`` and ``b_j`` of ``B`` (from the eigendecompositions or the Schur forms), that
    is when its condition number is about ``1 / eps`` or more.  Anything better
    conditioned is solved (a condition of ``1e10`` is, on both routes), with forward
    error about ``eps * cond``.

    The equation is homogeneous: when ``||A||_F + ||B||_F`` lies outside ``2**+-204``
    (``2**+-25`` in single precision), ``A`` and ``B`` are scaled on entry by the power of
    two that brings it into ``[0.5, 1)`` and ``X`` back on exit (exact), so
    ``A, B ~ 1e-300`` are solved as well as ``A, B ~ 1`` (LAPACK's ``?TRSYL`` would
    otherwise perturb eigenvalue sums below its safe minimum); a solution beyond the
    dtype's range raises ``ValueError``.

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
    if size(c) == 0:  # m = 0 or n = 0: the empty solution, as SciPy
        return xp.zeros(tuple(c.shape), dtype=xp.result_type(a, b, c), device=c.device)
    scale = fro_norm(a, xp) + (fro_norm(a, xp) if same else fro_norm(b, xp))
    # Homogeneous: for ||A||_F + ||B||_F far from 1, A X + X B = C is solved for A, B scaled
    # by 2**-e (the sum then in [0.5, 1)) and X = Y * 2**-e (exact but for over/underflow).
    e = _scale_exponent(scale, xp.result_type(a, b, c), xp)
    a = _times_pow2(a, -e, xp)
    b = a if same else _times_pow2(b, -e, xp)
    scale = math.ldexp(scale, -e)
    route = _route(method, xp, [("a", a)] if same else [("a", a), ("b", b)], "Sylvester")
    what = "the Sylvester operator"
    if route == "schur":
        return _solve_scaled(lambda: _sylvester_schur(a, b, [c], scale, what)[0], -e, xp, what)
    a = symmetrized(a, xp)
    b = None if same else symmetrized(b, xp)
    return _solve_scaled(lambda: _sylvester_eigh(a, b, c, scale, xp, what), -e, xp, what)


def _route(method, xp, named, kind):
    """``"eigh"`` or ``"schur"`` for ``method`` (see :func:`solve_sylvester`), or an error."""
    if method == "schur" or (method == "auto" and is_numpy(xp)):
        if method == "auto" and all(exactly_symmetric(m, xp) for _, m in named):
            return "eigh"
        if not is_numpy(xp):
            raise TypeError(f"method='schur' uses Bartels-Stewart from SciPy and needs NumPy input; "
                            f"got arrays from {xp.__name__}.")
        return "schur"
    for name, m in named:  # "eigh", or "auto" off NumPy: symmetric within 100 n eps
        ok, rel = is_symmetric(m, xp)
        if not ok:
            if method == "eigh":
                names = " and ".join(f"`{n}`" for n, _ in named)
                raise ValueError(f"method='eigh' needs symmetric {names}; `{name}` has "
                                 f"max|M - M^H| / max|M| = {rel:.3g}.")
            raise TypeError(f"non-symmetric {kind} equations use Bartels-Stewart from SciPy and need "
                            f"NumPy input; got arrays from {xp.__name__} (`{name}` has "
                            f"max|M - M^H| / max|M| = {rel:.3g}).")
    return "eigh"


def _sylvester_eigh(a, b, c, scale, xp, what):
    wa, u = xp.linalg.eigh(a)
    wb, v = (wa, u) if b is None else xp.linalg.eigh(b)
    den = wa[:, None] + wb[None, :]
    _check_denominators(xp.reshape(den, (-1,)), xp, what, scale, "(||A||_F + ||B||_F)")
    return matmul(matmul(u, matmul(matmul(_ct(u, xp), c, xp), v, xp) / den, xp), _ct(v, xp), xp)


@capability("kron", numba=False, notes="non-symmetric input: NumPy only (SciPy Bartels-Stewart)")
def solve_lyapunov(a: Any, q: Any, *, method: str = "auto") -> Any:
    """Solve the continuous Lyapunov equation ``A X + X A^H = Q``.

    Parameters
    ----------
    a : array, shape (n, n)
    q : array, shape (n, n)
    method : {"auto", "eigh", "schur"}, default "auto"
        As in :func:`solve_sylvester` (routes, symmetrization and singularity test);
        ``"schur"`` is Bartels-Stewart on one Schur form of ``A``, as
        ``scipy.linalg.solve_continuous_lyapunov``.

    Returns
    -------
    array, shape (n, n)
        Empty for ``n = 0``.

    Raises
    ------
    ValueError
        Shapes, NaN/Inf, unknown ``method``, ``"eigh"`` with non-symmetric ``a``, or a
        solution that overflows the dtype.
    TypeError
        ``"schur"`` on non-NumPy input.
    numpy.linalg.LinAlgError
        If ``min |a_i + conj(a_j)| <= 2 eps ||A||_F`` (singular to working precision).

    Notes
    -----
    For exactly symmetric ``A = U diag(w) U^H`` one eigendecomposition gives
    ``X = U [(U^H Q U) / (w_i + w_j)] U^H``, about ``13 n^3`` flops; otherwise
    Bartels-Stewart on the Schur form of ``A`` [1]_.  ``A`` far from unit scale is scaled
    by a power of two on entry and ``X`` back on exit, as in :func:`solve_sylvester`.

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
    if size(q) == 0:
        return xp.zeros(tuple(q.shape), dtype=xp.result_type(a, q), device=q.device)
    scale = 2 * fro_norm(a, xp)
    e = _scale_exponent(scale, xp.result_type(a, q), xp)  # power-of-two scaling, as solve_sylvester
    a = _times_pow2(a, -e, xp)
    scale = math.ldexp(scale, -e)
    route = _route(method, xp, [("a", a)], "Lyapunov")
    what = "the Lyapunov operator"
    if route == "schur":
        return _solve_scaled(lambda: _sylvester_schur(a, None, [q], scale, what, lyapunov=True)[0], -e, xp, what)
    a = symmetrized(a, xp)
    return _solve_scaled(lambda: _sylvester_eigh(a, None, q, scale, xp, what), -e, xp, what)
