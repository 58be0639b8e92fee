"""Modified Gram-Schmidt QR with one re-orthogonalization pass."""

from __future__ import annotations

from typing import Any, NamedTuple

from .._backend import (
    array_namespace,
    as_array,
    capability,
    from_numpy,
    no_grad,
    select_engine,
    to_numpy,
)
from .._validate import as_floating, check_finite, check_ndim, is_complex
from ._jacobi_common import pow2_exponent, scale_pow2, unscale

__all__ = ["QRResult", "mgs_qr"]


class QRResult(NamedTuple):
    """Result of :func:`mgs_qr`: ``a = Q @ R``.

    Attributes
    ----------
    Q : array, shape (m, k)
        Orthonormal columns, k = min(m, n).
    R : array, shape (k, n)
        Upper triangular (upper trapezoidal when m < n), real non-negative diagonal.
    """

    Q: Any
    R: Any


@capability("pivoting", numba=True)
def mgs_qr(a: Any, *, reorthogonalize: bool = True, engine: str = "auto") -> QRResult:
    """Economy QR factorization by modified Gram-Schmidt.

    Parameters
    ----------
    a : array_like, shape (m, n)
        Real or complex matrix of any array-API library.  Integer input is
        promoted to float64.  It is never modified.
    reorthogonalize : bool, default True
        Run Gram-Schmidt twice ("twice is enough"): ``Q1 R1 = a``,
        ``Q R2 = Q1``, ``R = R2 R1``.  Without it, the loss of orthogonality
        grows like ``eps * cond(a)``.
    engine : {"auto", "numba", "xp"}, default "auto"
        ``"numba"``: compiled kernel (NumPy input only).  ``"xp"``: pure
        array-API implementation (any backend, the GPU path).  ``"auto"``:
        Numba for NumPy input when numba is installed, else ``"xp"``.

    Returns
    -------
    QRResult
        Named tuple ``(Q, R)`` with ``Q`` of shape (m, k), ``R`` of shape
        (k, n), k = min(m, n), in the namespace and on the device of ``a``.

    Raises
    ------
    ValueError
        If ``a`` is not 2-D, contains NaN/Inf, or ``engine`` is unknown or
        cannot be honoured for this input; also if an entry of ``R`` exceeds the
        largest float of the dtype (possible only for entries within a factor
        ``sqrt(m)`` of it).
    TypeError
        If ``a`` has a non-numeric dtype (float16 included), or arrays of several
        libraries are mixed.
    ImportError
        If ``engine="numba"`` and numba is not installed.

    Notes
    -----
    Not differentiable: on torch the input is detached (the rotations are applied in place), so
    the outputs have ``requires_grad=False``; for gradients use ``torch.linalg.qr``.

    Right-looking MGS: column j is normalised, then projected out of all later
    columns at once (one rank-1 update, BLAS-2), which costs ``2 m n k`` flops per
    pass.  For m < n the leading m x m block is factored and the remaining
    columns of ``R`` are ``Q^H a[:, m:]``.  With re-orthogonalization, ``||Q^H Q - I|| = O(eps)`` as long as
    ``eps * cond(a) < 1`` [1]_; the backward error ``||a - Q R|| / ||a||`` is
    ``O(eps)`` in both modes.  The diagonal of ``R`` is real and non-negative.
    A column whose residual is exactly zero gives a zero column of ``Q`` and a
    zero diagonal entry of ``R``, as does a residual below the smallest normal number
    (on the scaled input: below about ``1e-308`` times the largest entry of ``a`` in
    float64); for rank-deficient input use a pivoted QR.

    QR is homogeneous: ``a`` is scaled by a power of two (exactly) so that its largest
    entry lies in [0.5, 1), and ``R`` is scaled back, so any finite input works
    (``mgs_qr(a * 2**k)`` gives the same ``Q`` and ``R * 2**k``, bit for bit while
    ``a * 2**k`` stays in the normal range).  Column norms are computed so that
    they neither under- nor overflow, so a column far smaller than the others
    (1e-200 times) is normalized like any other.

    References
    ----------
    .. [1] L. Giraud, J. Langou, M. Rozloznik, "The loss of orthogonality in the
       Gram-Schmidt orthogonalization process", Comput. Math. Appl. 50 (2005).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla import mgs_qr
    >>> a = np.array([[3.0, 0.0], [4.0, 5.0], [0.0, 2.0]])
    >>> q, r = mgs_qr(a)
    >>> np.round(r, 6)
    array([[5.      , 4.      ],
           [0.      , 3.605551]])
    >>> bool(np.allclose(q @ r, a)) and bool(np.allclose(q.T @ q, np.eye(2)))
    True
    """
    xp = array_namespace(a)
    a = as_array(a, xp)
    a = no_grad(a)  # rotations applied in place: not differentiable (see Notes)
    check_ndim(a, "a", 2)
    a = as_floating(a, "a", xp)
    check_finite(a, "a", xp)
    use = select_engine(engine, xp)
    m, n = a.shape
    exponent = pow2_exponent(a, xp)
    a = scale_pow2(a, -exponent, xp)
    # Wide input: factor the leading square block, then project the rest onto the
    # final Q in one matrix product, so the dropped residual is O(eps) after re-orthogonalization.
    lead = a[:, :m] if m < n else a
    if use == "numba":
        qr_pass = _mgs_numba
        lead = to_numpy(lead, name="a")
    else:
        qr_pass = _mgs_xp
    q, r = qr_pass(lead)
    if reorthogonalize:
        q, r2 = qr_pass(q)
        r = r2 @ r
    if use == "numba":
        q, r = from_numpy(q, xp, like=a), from_numpy(r, xp, like=a)
    if m < n:
        qh = xp.conj(q.mT) if is_complex(a, xp) else q.mT
        r = xp.concat([r, qh @ a[:, m:]], axis=1)
    return QRResult(q, unscale(r, exponent, xp, "entries of R"))


def _mgs_numba(a):
    import numpy as np

    from ._mgs_numba import mgs_inplace

    q = np.array(a, order="F", copy=True)
    k = min(a.shape)
    r = np.zeros((k, a.shape[1]), dtype=a.dtype)
    mgs_inplace(q, r, float(np.finfo(a.dtype).tiny))
    return q[:, :k], r


def _mgs_xp(a):
    xp = array_namespace(a)
    m, n = a.shape
    k = min(m, n)
    cplx = is_complex(a, xp)
    q = xp.asarray(a, copy=True)
    r = xp.zeros((k, n), dtype=a.dtype, device=a.device)
    tiny = float(xp.finfo(a.dtype).smallest_normal)
    for j in range(k):
        col = q[:, j]
        # ||col|| = c ||col / c||, c = max |col_i|: no underflow of the squares for a tiny
        # column.  A residual without a normal entry counts as zero (dividing by a subnormal
        # overflows); no host sync on the GPU, where() instead of a branch.
        big = xp.max(xp.abs(col))
        live = big >= tiny
        one = xp.ones_like(big)
        big = xp.where(live, big, one)
        nrm = xp.where(live, big * xp.linalg.vector_norm(col / xp.astype(big, a.dtype)), 0 * one)
        col = xp.where(live, col / xp.astype(xp.where(live, nrm, one), a.dtype), xp.zeros_like(col))
        q[:, j] = col
        r[j, j] = xp.astype(nrm, a.dtype)
        if j + 1 < n:
            rest = q[:, j + 1 :]
            coef = (xp.conj(col) if cplx else col) @ rest
            r[j, j + 1 :] = coef
            q[:, j + 1 :] = rest - col[:, None] * coef[None, :]
    return q[:, :k], r
