"""One-sided (Hestenes) Jacobi SVD with QR-with-column-pivoting preconditioning."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability, is_numpy, no_grad, select_engine
from .._validate import (
    as_floating,
    check_choice,
    check_finite,
    check_int,
    check_ndim,
    is_complex,
)
from ._jacobi_common import (
    PIVOTINGS,
    JacobiConvergenceWarning,
    JacobiInfo,
    checked_rng,
    default_tolerance,
    pow2_exponent,
    scale_pow2,
    unscale,
)
from ._jacobi_onesided import one_sided_jacobi

__all__ = ["SVDResult", "jacobi_svd"]

PRECONDITIONERS = ("qrcp", None)


class SVDResult(NamedTuple):
    """Result of :func:`jacobi_svd`: ``a = U @ diag(S) @ Vh``.

    Attributes
    ----------
    U : array, shape (m, k) or (m, m), or None
        Left singular vectors (``None`` when ``compute_uv=False``).
    S : array, shape (k,)
        Singular values in descending order, k = min(m, n), real.
    Vh : array, shape (k, n) or (n, n), or None
        Conjugate-transposed right singular vectors.
    info : JacobiInfo
        Sweeps, rotations, final largest column cosine, convergence flag.
    """

    U: Any
    S: Any
    Vh: Any
    info: JacobiInfo


@capability("pivoting", numba=True)
def jacobi_svd(a: Any, *, pivoting: str = "cyclic", precondition: str | None = "qrcp",
               full_matrices: bool = False, compute_uv: bool = True, tol: float | None = None,
               max_sweeps: int | None = None, rng: Any = None, engine: str = "auto") -> SVDResult:
    """Singular value decomposition by one-sided (Hestenes) Jacobi.

    Parameters
    ----------
    a : array_like, shape (m, n)
        Real or complex matrix of any array-API library; integer input is
        promoted to float64.  Never modified.
    pivoting : {"cyclic", "random", "random-sweep"}, default "cyclic"
        Order of the column pairs, as in :func:`jacobi_eigh`, except that on NumPy
        ``"cyclic"`` is the cyclic-by-rows order (which needs fewer rotations in
        one-sided Jacobi than the tiled round-robin kept for other libraries).
    precondition : {"qrcp", None}, default "qrcp"
        ``"qrcp"``: factor ``a P = Q R`` first and run Jacobi on ``R^H`` (Drmac-Veselic),
        which needs far fewer sweeps.  On NumPy the factorization is LAPACK's QR with
        column pivoting (``scipy.linalg.qr(pivoting=True)``), followed as in LAPACK
        ``*gejsv`` by a second QR, ``R^H = Q_2 R_2``, Jacobi on ``R_2^H`` without
        accumulating the rotations, and the right singular vectors from a triangular
        solve with ``R`` (see Notes); on other libraries the columns are ordered by
        decreasing norm and factored by ``xp.linalg.qr``.
        ``None``: Jacobi on ``a`` itself.
    full_matrices : bool, default False
        Return square ``U`` (m x m) and ``Vh`` (n x n) instead of the economy factors.
    compute_uv : bool, default True
        Compute the singular vectors; with False, ``U`` and ``Vh`` are ``None``.
    tol : float, optional
        Stop when every pair of columns has cosine ``|g_i^H g_j| / (||g_i|| ||g_j||)
        <= tol``; default ``sqrt(m) * eps`` of the dtype (as LAPACK ``*gesvj``).
    max_sweeps : int, optional
        Sweeps before giving up (default 50).
    rng : numpy.random.Generator, int or None
        Randomness for the random pivotings (SPEC 7).
    engine : {"auto", "numba", "xp"}, default "auto"
        Numba kernel (NumPy input) or the batched array-API path (any backend).

    Returns
    -------
    SVDResult
        ``(U, S, Vh, info)`` in the namespace and on the device of ``a``.

    Raises
    ------
    ValueError
        If ``a`` is not 2-D, has NaN/Inf, or an option is invalid; also if the largest
        singular value exceeds the largest float of the dtype (possible only for entries
        within a factor ``sqrt(m n)`` of it).
    TypeError
        For a non-numeric dtype (float16 included), mixed array libraries, or a
        boolean ``max_sweeps``/``rng``.

    Warns
    -----
    JacobiConvergenceWarning
        If the tolerance is not met within ``max_sweeps`` (``info.converged`` is False).

    Notes
    -----
    Not differentiable: on torch the input is detached (the rotations are applied in place), so
    the outputs have ``requires_grad=False``; for gradients use ``torch.linalg.svd``.

    One-sided Jacobi rotates pairs of columns ``g_p, g_q`` of the working matrix until
    all are mutually orthogonal; the singular values are then the column norms, the
    normalized columns are the left singular vectors and the accumulated rotations the
    right ones.  A sweep over all n(n-1)/2 pairs costs about ``4 m n^2`` flops
    (one dot product and one rotation of two columns per pair, the column norms being
    updated by formula as in LAPACK ``*gesvj``), plus ``3 n^3`` per sweep for the
    accumulated rotations; on NumPy the cyclic order runs row by row in blocks of 64
    columns so that they stay in cache.  On NumPy with ``"qrcp"`` the rotations are not accumulated: with
    ``a P = Q_1 R_1``, ``R_1 = L Q_2^H`` (``L = R_2^H``) and Jacobi ``L W = G``, the right
    singular vectors are ``P Q_2 W = P R_1^{-1} G`` (one triangular solve, ``n^3`` flops
    in all instead of ``3 n^3`` per sweep).  The solve is invariant to scaling the rows
    of ``R_1``, which QRCP leaves well conditioned up to that scaling, so the result is
    orthogonal to working accuracy; this is checked (``||Z^H Z - I||_F <= n^{3/2} eps``)
    and the rotations are accumulated instead when it fails (e.g. Kahan's matrix, or an
    exactly singular ``R_1``).  For ``a = B D`` with ``D`` diagonal
    (columns of very different scales) the computed singular values have relative
    error ``O(n eps kappa(B))`` whatever ``D`` is [1]_; LAPACK's bidiagonalization
    (``*gesdd``) only guarantees ``eps ||a||``.  QR with column pivoting is
    columnwise backward stable, keeps that property, and makes ``R^H`` strongly
    diagonally dominant so that few sweeps are needed [2]_.  Exactly zero singular
    values get an orthonormal completion as their singular vectors.

    The SVD is homogeneous: ``a`` is scaled by a power of two (exactly) so that its
    largest entry lies in [0.5, 1), and the singular values are scaled back, so any
    finite input works (``jacobi_svd(a * 2**k)`` gives ``S * 2**k`` and the same vectors,
    bit for bit while ``a * 2**k`` stays in the normal range).  On the scaled matrix,
    as in LAPACK ``*gesvj``, a column whose squared norm is at most
    ``floor = smallest_normal / eps`` (1e-292 in float64, 1e-31 in float32; the norm is
    then below about ``2e-146`` resp. ``6e-16`` times the largest entry) counts as zero: it is
    not rotated and gives a zero singular value.  Without this guard the rounding noise
    of a rank-deficient matrix shrinks sweep after sweep until its squares underflow.

    References
    ----------
    .. [1] J. Demmel, K. Veselic, "Jacobi's method is more accurate than QR",
       SIAM J. Matrix Anal. Appl. 13 (1992).
    .. [2] Z. Drmac, K. Veselic, "New fast and accurate Jacobi SVD algorithm I",
       SIAM J. Matrix Anal. Appl. 29 (2008).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import jacobi_svd
    >>> a = np.array([[3.0, 0.0], [4.0, 5.0], [0.0, 0.0]])
    >>> u, s, vh, info = jacobi_svd(a)
    >>> np.round(s, 6)
    array([6.708204, 2.236068])
    >>> bool(np.allclose(u * s @ vh, a)), info.converged
    (True, True)

    Columns scaled over 30 orders of magnitude keep all their digits:

    >>> b = np.array([[1.0, 1.0], [1.0, -1.0]]) * np.array([1.0, 1e-30])
    >>> s = jacobi_svd(b, compute_uv=False).S
    >>> [f"{x:.6e}" for x in s]
    ['1.414214e+00', '1.414214e-30']
    """
    xp = array_namespace(a)
    a = xp.asarray(a) if not hasattr(a, "shape") else a
    a = no_grad(a)  # rotations applied in place: not differentiable (see Notes)
    check_ndim(a, "a", 2)
    a = as_floating(a, "a", xp)
    check_finite(a, "a", xp)
    check_choice(pivoting, "pivoting", PIVOTINGS)
    check_choice(precondition, "precondition", PRECONDITIONERS)
    use = select_engine(engine, xp)
    max_sweeps = 50 if max_sweeps is None else check_int(max_sweeps, "max_sweeps", low=1)
    rng = checked_rng(rng)
    m, n = a.shape
    cplx = is_complex(a, xp)
    if min(m, n) == 0:
        return _empty_svd(a, full_matrices, compute_uv, tol, xp)
    # homogeneous: work on a * 2^-e (exact), largest entry in [0.5, 1); S scales back
    exponent = pow2_exponent(a, xp)
    a = scale_pow2(a, -exponent, xp)
    if m < n:  # work on a^H: a = (U' S V'^H)^H = V' S U'^H
        ah = xp.conj(a.mT) if cplx else a.mT
        u, s, vh, info = _tall_svd(ah, pivoting, precondition, full_matrices, compute_uv,
                                   tol, max_sweeps, rng, use, xp)
        if compute_uv:
            u, vh = (xp.conj(vh.mT) if cplx else vh.mT), (xp.conj(u.mT) if cplx else u.mT)
    else:
        u, s, vh, info = _tall_svd(a, pivoting, precondition, full_matrices, compute_uv,
                                   tol, max_sweeps, rng, use, xp)
    s = unscale(s, exponent, xp, "singular values")
    if not info.converged:
        warnings.warn(
            f"jacobi_svd did not converge in max_sweeps={max_sweeps} sweeps: largest column "
            f"cosine {info.off_norm:.3g} > tol={info.tol:.3g}.", JacobiConvergenceWarning, stacklevel=2)
    return SVDResult(u, s, vh, info)


def _empty_svd(a, full_matrices, compute_uv, tol, xp):
    m, n = a.shape
    real = xp.real(a[:0, :0]).dtype
    s = xp.zeros((0,), dtype=real, device=a.device)
    info = JacobiInfo(True, 0, 0, 0.0, default_tolerance(tol, max(m, 1), a.dtype, xp))
    if not compute_uv:
        return SVDResult(None, s, None, info)
    u = xp.eye(m, dtype=a.dtype, device=a.device) if full_matrices else xp.zeros((m, 0), dtype=a.dtype, device=a.device)
    vh = xp.eye(n, dtype=a.dtype, device=a.device) if full_matrices else xp.zeros((0, n), dtype=a.dtype, device=a.device)
    return SVDResult(u, s, vh, info)


def _qrcp(a, xp):
    """``a[:, perm] = Q R``; LAPACK's pivoted QR on NumPy, norm-sorted Householder QR elsewhere."""
    if is_numpy(xp):
        import scipy.linalg

        q, r, perm = scipy.linalg.qr(np.asarray(a), mode="economic", pivoting=True, check_finite=False)
        return q, r, perm
    # `a` is scaled (largest entry in [0.5, 1)): an entry below the smallest normal number is
    # negligible, and zeroed, because torch's QR returned NaN on a trailing block of subnormals
    tiny = float(xp.finfo(a.dtype).smallest_normal)
    a = xp.where(xp.abs(a) < tiny, xp.zeros_like(a), a)
    norms = xp.linalg.vector_norm(a, axis=0)
    perm_x = xp.argsort(-norms, stable=True)
    q, r = xp.linalg.qr(xp.take(a, perm_x, axis=1))
    return q, r, perm_x


def _tall_svd(a, pivoting, precondition, full_matrices, compute_uv, tol, max_sweeps, rng, use, xp):
    m, n = a.shape
    cplx = is_complex(a, xp)
    tol = default_tolerance(tol, m, a.dtype, xp)
    spent = None
    if precondition == "qrcp" and is_numpy(xp):
        out = _two_qr_svd(a, pivoting, full_matrices, compute_uv, tol, max_sweeps, rng, use, xp)
        if not isinstance(out, JacobiInfo):
            return out
        spent = out  # R1 too ill-conditioned for the triangular solve: accumulate V below
    if precondition == "qrcp" and n > 0:
        q, r, perm = _qrcp(a, xp)
        x = xp.conj(r.mT) if cplx else r.mT
        g, w, info = one_sided_jacobi(x, tol, max_sweeps, pivoting, rng, compute_uv, use, xp)
    else:
        g, w, info = one_sided_jacobi(a, tol, max_sweeps, pivoting, rng, compute_uv and n > 0, use, xp)
    if spent is not None:  # report the work of both attempts
        info = info._replace(sweeps=spent.sweeps + info.sweeps, rotations=spent.rotations + info.rotations)
    s = xp.linalg.vector_norm(g, axis=0)
    order = xp.argsort(-s, stable=True)
    s = xp.take(s, order)
    if not compute_uv:
        return None, s, None, info
    g = xp.take(g, order, axis=1)
    w = xp.take(w, order, axis=1)
    safe = xp.where(s > 0, s, xp.ones_like(s))
    left = g / xp.astype(safe, g.dtype)[None, :]  # zero columns where s == 0, completed below
    if precondition == "qrcp" and n > 0:
        # a P = Q R, R^H W = left S  =>  a = (Q W) S (P left)^H
        u = q @ w
        if is_numpy(xp):
            inv = np.empty_like(perm)
            inv[perm] = np.arange(n)
            v = xp.take(left, xp.asarray(inv), axis=0)
        else:
            v = xp.take(left, xp.argsort(perm), axis=0)
        if bool(xp.any(s == 0)):  # completion of the right vectors too: rows of `left` vanish
            v = _complete(v, s, n, xp)
    else:
        u, v = left, w
    u = _complete(u, s, m if full_matrices else n, xp)
    vh = xp.conj(v.mT) if cplx else v.mT
    return u, s, vh, info


def _two_qr_svd(a, pivoting, full_matrices, compute_uv, tol, max_sweeps, rng, use, xp):
    """NumPy route of dgejsv: Jacobi without accumulated rotations, V from a triangular solve.

    ``a P = Q1 R1`` (QRCP), ``R1^H = Q2 R2`` (plain QR) and Jacobi on the lower triangular
    ``L = R2^H`` (``R1 = L Q2^H``): ``L W = G`` with orthogonal columns.  Then
    ``a P = (Q1 G S^-1) S (Q2 W)^H`` and ``Q2 W = R1^-1 G``, one triangular solve instead
    of applying every rotation to an n x n matrix (which cost 40% of a sweep).  The solve
    is row-scaling invariant and QRCP leaves ``R1`` well conditioned up to row scaling,
    so ``Q2 W`` comes out orthogonal to working accuracy; that is checked, and when it
    fails (``R1`` singular or ill-conditioned even after scaling its rows) the
    :class:`JacobiInfo` of the attempt is returned so that the caller falls back to
    accumulating the rotations.

    The factorizations are LAPACK's own routines (``*geqp3``, ``*geqrf``, ``*ormqr``/``*unmqr``),
    called as ``*gejsv`` does: ``Q1`` is never formed, ``Q1 (G S^-1)`` is one ``*ormqr``
    (``scipy.linalg.qr`` forms ``Q1`` by ``*orgqr`` and copies its input and outputs: together
    about a third of the time of the whole SVD at n = 500 on the benchmark VM).
    """
    import scipy.linalg
    from scipy.linalg import get_lapack_funcs

    m, n = a.shape
    a_np = np.asarray(a)
    cplx = np.iscomplexobj(a_np)
    work = np.array(a_np, order="F", copy=True)
    geqp3, geqrf, ormqr = get_lapack_funcs(("geqp3", "geqrf", "unmqr" if cplx else "ormqr"), (work,))
    lwork = _lwork(geqp3(work, lwork=-1)[3][0], n)
    qr1, jpvt, tau1, _, _ = geqp3(work, lwork=lwork, overwrite_a=1)  # info < 0 only for bad arguments
    perm = jpvt.astype(np.intp) - 1
    r = np.triu(qr1[:n])
    rt = np.array(r.conj().T if cplx else r.T, order="F")
    lwork = _lwork(geqrf(rt, lwork=-1)[2][0], n)  # (qr, tau, work, info)
    r2 = geqrf(rt, lwork=lwork, overwrite_a=1)[0]
    low = np.asarray(np.tril(r2.conj().T if cplx else r2.T), order="F")
    g, _, info = one_sided_jacobi(xp.asarray(low), tol, max_sweeps, pivoting, rng, False, use, xp)
    g = np.asarray(g)
    s = np.linalg.norm(g, axis=0)
    order = np.argsort(-s, kind="stable")
    s = s[order]
    if not compute_uv:
        return None, s, None, info
    if n == 0 or not np.all(np.diagonal(r) != 0) or not s[-1] > 0:
        return info
    g = g[:, order]
    with np.errstate(all="ignore"):  # overflow only when R1 is near singular: caught below
        z = scipy.linalg.solve_triangular(r, g, check_finite=False)  # R1 Z = L W: Z = Q2 W
        z /= np.linalg.norm(z, axis=0)
        gap = _orthogonality_gap(z)
    # the level accumulated rotations reach: n^2 entries, each O(sqrt(n) eps) off
    if not gap <= n * np.sqrt(n) * np.finfo(s.dtype).eps:
        return info
    c = np.zeros((m, n), dtype=g.dtype, order="F")
    c[:n] = g / s
    lwork = _lwork(ormqr("L", "N", qr1, tau1, c, -1)[1][0], n)
    u = ormqr("L", "N", qr1, tau1, c, lwork, overwrite_c=1)[0]  # Q1 [G S^-1; 0]
    inv = np.empty_like(perm)
    inv[perm] = np.arange(n)
    v = z[inv]
    u = _complete(u, s, m if full_matrices else n, xp)
    return u, s, (v.conj().T if cplx else v.T), info


def _lwork(query, n):
    """Workspace size from a LAPACK ``lwork=-1`` query (at least ``n``)."""
    return max(int(np.real(query)), n, 1)


def _orthogonality_gap(z):
    """``||Z^H Z - I||_F`` from the upper triangle of ``Z^H Z`` (BLAS ``*syrk``/``*herk``, half a GEMM)."""
    from scipy.linalg.blas import get_blas_funcs

    cplx = np.iscomplexobj(z)
    (rank_k,) = get_blas_funcs(("herk" if cplx else "syrk",), (z,))
    c = rank_k(1.0, z, trans=2 if cplx else 1)
    diag = np.real(np.diagonal(c)) - 1.0
    off = np.triu(c, 1)
    return float(np.sqrt(np.sum(diag * diag) + 2.0 * np.sum(np.abs(off) ** 2)))


def _complete(u, s, ncols, xp):
    """Replace columns for s == 0 (and append up to ``ncols``) by an orthonormal completion."""
    m, k = u.shape
    r = int(xp.sum(xp.astype(s > 0, xp.int64)))
    if r == k and ncols == k:
        return u
    if r == 0:
        basis = xp.eye(m, dtype=u.dtype, device=u.device)
    else:
        basis, _ = xp.linalg.qr(u[:, :r], mode="complete")  # columns r: span the complement
    return xp.concat([u[:, :r], basis[:, r:ncols]], axis=1)
