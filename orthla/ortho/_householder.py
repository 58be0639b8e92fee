"""``Householder``: products of reflectors in compact WY form, applied without forming them."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import capability, is_torch
from .._validate import as_rng, check_int, eps
from ._param_base import OrthogonalParametrization, as_params, param_device
from ._random_orthogonal import check_batch_shape, host_to_xp, resolve_dtype, resolve_xp

__all__ = ["Householder"]

#: Orthogonality tolerance of ``from_matrix``: ``max|Q^T Q - I| <= ORTH_TOL * d * eps``.
ORTH_TOL = 50


def _unit_columns(v: Any, xp: ModuleType) -> tuple[Any, Any]:
    """Columns of ``v`` (..., d, r) scaled to unit 2-norm, and a mask of the zero columns.

    Each column is divided by its largest magnitude first, so neither ``2**500 * v`` nor
    ``2**-500 * v`` over- or underflows in the sum of squares; the result does not depend on that
    scale, and autograd through it is exact (the unit vector is invariant to the scale factor).
    """
    amax = xp.max(xp.abs(v), axis=-2, keepdims=True)
    zero = amax == 0
    w = v / xp.where(zero, xp.ones_like(amax), amax)
    nrm = xp.sqrt(xp.sum(w * w, axis=-2, keepdims=True))
    return w / xp.where(zero, xp.ones_like(nrm), nrm), zero


def _wy_t(u: Any, xp: ModuleType) -> Any:
    """The upper triangular ``T`` of ``H_1 ... H_r = I - U T U^T`` for unit columns ``U``.

    ``T^{-1} = striu(U^T U) + I/2`` (the UT transform of Joffrain et al.; with unit vectors every
    ``tau_j = 2``), so ``T`` is one Gram product (``d r^2`` flops) and a triangular inverse
    (``r^3/3``).  The inverse is taken with the namespace's ``linalg.solve``: the matrix is upper
    triangular with diagonal 1/2, so partial pivoting never swaps rows and the LU is the matrix
    itself, i.e. the solve *is* back substitution; it is differentiable on torch.
    """
    r = u.shape[-1]
    g = xp.matmul(xp.matrix_transpose(u), u)
    dev = param_device(u)
    eye = xp.eye(r, dtype=u.dtype, device=dev)
    idx = xp.arange(r, device=dev)
    upper = idx[None, :] > idx[:, None]  # a mask, not xp.triu: torch.triu took ~30 ms on 3 x 3 (CPU threads)
    s = xp.where(upper, g, xp.zeros_like(g)) + 0.5 * eye
    return xp.linalg.solve(s, xp.broadcast_to(eye, s.shape))


class Householder(OrthogonalParametrization):
    r"""Product of Householder reflectors ``Q = H_1 H_2 ⋯ H_r``, stored in compact WY form.

    Each column ``v_j`` of ``V`` (shape ``(..., d, r)``, ``r <= d``, any nonzero norms) defines the
    reflector ``H_j = I - 2 v_j v_j^T / (v_j^T v_j)``; the operator is their product, so
    ``apply(x) = H_1 (H_2 (... (H_r x)))``.  It is held as ``Q = I - U T U^T`` with ``U`` the
    columns of ``V`` scaled to unit norm and ``T`` upper triangular ``r x r``, and applied to
    ``k`` vectors with two tall GEMMs and one ``r x r`` one, never forming ``Q``.

    Parameters
    ----------
    V : array, shape (..., d, r)
        Reflector vectors as columns, real floating (integers are promoted to float64); leading
        dimensions are a batch of independent operators.  Only directions matter: a column may be
        scaled by any nonzero factor (including ``-1`` and ``2**±500``) without changing ``Q``.

    Attributes
    ----------
    V : array
        The array passed in (not a copy: on torch it is the tensor gradients flow to).  The
        operator is computed when the object is built; changing ``V`` in place afterwards does not
        change it (build a new ``Householder`` after each optimizer step).
    n_params : int
        ``d * r``, the number of entries of ``V`` (the manifold of such products has
        ``d r - r (r + 1) / 2`` dimensions; the rest is the scale of each column and the choice of
        vectors within the span).
    d, batch_shape, shape, dtype
        See :class:`OrthogonalParametrization`.

    Raises
    ------
    ValueError
        If ``V`` has fewer than 2 dimensions, ``d < 1``, ``r > d``, NaN/inf entries, or a zero
        column (a reflector needs a nonzero vector).
    TypeError
        If ``V`` is complex, boolean, float16 or not an array.

    Notes
    -----
    **Build.**  With unit columns ``u_j`` the product of reflectors is ``I - U T U^T`` where
    ``T^{-1} = striu(U^T U) + I/2`` [2]_ [3]_ (equivalently LAPACK's ``larft`` recurrence [1]_).
    ``U^T U`` costs ``d r^2`` flops and the triangular inverse ``r^3 / 3``; everything is batched
    and written without in-place updates, so torch's autograd differentiates it directly.

    **Apply.**  ``Q x = x - U (T (U^T x))`` and ``Q^T x = x - U (T^T (U^T x))``: ``4 d r k + 2 r^2 k``
    flops for ``x`` of shape ``(d, k)``, against ``2 d^2 k`` for a dense ``Q`` (and ``~2 d^2 r``
    just to form it).  The backward pass costs the same GEMMs again: on torch, autograd through
    the build and the apply is as cheap as the forward (measured in
    ``benchmarks/bench_ortho_householder.py`` against ``torch.linalg.householder_product``, whose
    backward is far more expensive).

    **Accuracy.**  The compact WY representation is backward stable [1]_: ``Q`` is orthogonal to
    ``O(r eps)`` and ``apply`` agrees with the exact product of the reflectors to ``O(r eps ||x||)``
    (tests check ``c d eps``).

    References
    ----------
    .. [1] R. Schreiber and C. Van Loan, "A storage-efficient WY representation for products of
       Householder transformations", SIAM J. Sci. Stat. Comput. 10(1), 1989.
    .. [2] T. Joffrain, T. M. Low, E. S. Quintana-Orti, R. van de Geijn and F. G. Van Zee,
       "Accumulating Householder transformations, revisited", ACM TOMS 32(2), 2006.
    .. [3] C. Puglisi, "Modification of the Householder method based on the compact WY
       representation", SIAM J. Sci. Stat. Comput. 13(3), 1992.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import Householder
    >>> rng = np.random.default_rng(0)
    >>> V = rng.standard_normal((6, 2))
    >>> H = Householder(V)
    >>> x = rng.standard_normal((6, 3))
    >>> def refl(v):
    ...     return np.eye(6) - 2 * np.outer(v, v) / (v @ v)
    >>> bool(np.allclose(H.apply(x), refl(V[:, 0]) @ refl(V[:, 1]) @ x))
    True
    >>> bool(np.allclose(H.T.apply(H.apply(x)), x))
    True
    >>> H.n_params
    12
    """

    def __init__(self, V: Any) -> None:
        v, xp = as_params(V, "V", min_ndim=2)
        d, r = v.shape[-2], v.shape[-1]
        if d < 1:
            raise ValueError(f"`V` must have shape (..., d, r) with d >= 1; got shape {tuple(v.shape)}.")
        if r > d:
            raise ValueError(f"`V` must have shape (..., d, r) with r <= d (at most d reflectors); "
                             f"got shape {tuple(v.shape)}, r = {r} > d = {d}.")
        u, zero = _unit_columns(v, xp)
        if math.prod(zero.shape) and bool(xp.any(zero)):
            n0 = int(xp.sum(xp.astype(zero, xp.int64)))
            raise ValueError(f"`V` must have nonzero columns (a reflector needs a nonzero vector); "
                             f"found {n0} zero column(s) in V of shape {tuple(v.shape)}.")
        self._params = V if not isinstance(V, list | tuple) else v
        self._xp = xp
        self._d = d
        self._r = r
        self._batch_shape = tuple(v.shape[:-2])
        self._dtype = v.dtype
        self._device = param_device(v)
        self._u = u
        if r == 0:
            self._t = xp.zeros((*self._batch_shape, 0, 0), dtype=v.dtype, device=self._device)
        else:
            self._t = _wy_t(u, xp)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_params(cls, V: Any) -> Householder:
        """Same as ``Householder(V)``: the product of the reflectors of the columns of ``V``.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import Householder
        >>> Householder.from_params(np.eye(4)[:, :1]).matrix()[0, 0]
        np.float64(-1.0)
        """
        return cls(V)

    @classmethod
    def random(cls, d: int, r: int, *, batch_shape: Any = (), rng: Any = None, dtype: Any = None,
               xp: ModuleType | None = None, device: Any = None) -> Householder:
        """Product of ``r`` reflectors with independent standard Gaussian vectors (uniform directions).

        Parameters
        ----------
        d, r : int
            Order and number of reflectors, ``1 <= d``, ``0 <= r <= d``.
        batch_shape : tuple of int, optional
            Leading dimensions of ``V``.
        rng : numpy.random.Generator, int or None, optional
            Source of randomness (SPEC 7); the same seed gives the same ``V`` on every backend.
        dtype : dtype or str, optional
            ``float64`` (default) or ``float32``.
        xp, device : optional
            Library and device of ``V`` (NumPy when omitted); ``V`` is drawn by NumPy's
            ``Generator`` and copied once to ``xp``.

        Returns
        -------
        Householder

        Notes
        -----
        The directions are uniform on the sphere, but the product is not Haar-distributed on the
        orthogonal group (use :func:`random_orthogonal` for that).

        Examples
        --------
        >>> from orthla.ortho import Householder
        >>> H = Householder.random(8, 3, batch_shape=(2,), rng=0)
        >>> H.shape, H.V.shape
        ((2, 8, 8), (2, 8, 3))
        """
        d = check_int(d, "d", low=1)
        r = check_int(r, "r", low=0, high=d, high_expr="d")
        batch_shape = check_batch_shape(batch_shape)
        xp = resolve_xp(xp)
        dt = resolve_dtype(dtype, xp)
        v = as_rng(rng).standard_normal((*batch_shape, d, r))
        return cls(host_to_xp(v, xp, dt, device))

    @classmethod
    def from_matrix(cls, Q: Any, r: int | None = None) -> Householder:
        r"""Reflectors whose product is the orthogonal matrix ``Q`` (a QR of ``Q`` with ``R = I``).

        Parameters
        ----------
        Q : array, shape (..., d, d)
            Orthogonal matrices (``max|Q^T Q - I| <= 50 d eps``), real floating.
        r : int, optional
            Number of reflectors, ``0 <= r <= d``.  ``Q`` must then be a product of ``r``
            reflectors (it must move at most an ``r``-dimensional subspace, and
            ``det Q = (-1)^r``).  Default: ``d - 1`` or ``d``, whichever matches ``det Q``.

        Returns
        -------
        Householder
            ``H`` with ``H.matrix() == Q`` to working precision.  Its ``V`` is normalized as
            follows: unit 2-norm columns, ``v_j[i] = 0`` for ``i < j`` (lower trapezoidal), and
            ``v_j[j] >= 0``.  When ``Q = Householder(W).matrix()`` for a lower trapezoidal ``W``
            with ``w_j[j] != 0`` (LAPACK's ``geqrf`` vectors, for instance) this normalization is
            unique: the result is ``W`` with each column scaled by ``sign(w_j[j]) / ||w_j||``.  A
            generic ``Q = Householder(W).matrix()`` with a full ``W`` (``d x r``) is recovered with
            ``r`` reflectors too, but with other (lower trapezoidal) vectors.

        Raises
        ------
        ValueError
            If ``Q`` is not square, not orthogonal to the tolerance, not a product of ``r``
            reflectors, or (``r=None``) a batch mixing determinants ``+1`` and ``-1`` (a batch
            of operators has one number of reflectors).
        TypeError
            If ``Q`` is complex, boolean, float16 or from another library.

        Notes
        -----
        Householder QR with the reflectors chosen to map each column to ``+e_j`` (as LAPACK's
        ``dlarfgp``, with the sign-free formula ``x_j - 1 = -||x_{j+1:}||^2 / (1 + x_j)`` for
        ``x_j > 0``), so that ``R = I`` and ``Q = H_1 ... H_r`` exactly, with no diagonal sign
        matrix left over.  Each reflector fixes the sign of one diagonal entry, hence the parity
        rule: ``d - 1`` reflectors reach ``det Q = (-1)^(d-1)``; otherwise a ``d``-th reflector
        ``e_d`` flips the last entry.  A column already equal to ``e_j`` needs no reflection; since
        the count is fixed, the reflector ``e_{j+1}`` is used there (the next step undoes it).
        Cost ``4 r d^2`` flops plus ``2 d^3`` for the orthogonality check.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import Householder, random_orthogonal
        >>> Q = random_orthogonal(5, rng=0)
        >>> H = Householder.from_matrix(Q)
        >>> bool(np.allclose(H.matrix(), Q))
        True
        >>> W = np.tril(np.random.default_rng(1).standard_normal((5, 2)))
        >>> H2 = Householder.from_matrix(Householder(W).matrix(), r=2)
        >>> bool(np.allclose(H2.V, W * np.sign(np.diag(W)) / np.linalg.norm(W, axis=0)))
        True
        """
        q, xp = as_params(Q, "Q", min_ndim=2)
        if q.shape[-1] != q.shape[-2] or q.shape[-1] < 1:
            raise ValueError(f"`Q` must be square with shape (..., d, d), d >= 1; got shape {tuple(q.shape)}.")
        d = q.shape[-1]
        if r is not None:
            r = check_int(r, "r", low=0, high=d, high_expr="d")
        batch = tuple(q.shape[:-2])
        dev = param_device(q)
        eye = xp.eye(d, dtype=q.dtype, device=dev)
        tol = ORTH_TOL * d * eps(q.dtype, xp)
        if math.prod(batch):
            err = float(xp.max(xp.abs(xp.matmul(xp.matrix_transpose(q), q) - eye)))
            if not err <= tol:
                raise ValueError(f"`Q` must be orthogonal: max|Q^T Q - I| = {err:.3g} exceeds "
                                 f"{ORTH_TOL} d eps = {tol:.3g}.")
        steps = d - 1 if r is None else r
        a = q
        cols = []
        for j in range(steps):
            u = _reflector_to_ej(a, j, d, xp)
            a = a - 2.0 * u[..., :, None] * xp.matmul(u[..., None, :], a)
            cols.append(u)
        if r is None:
            last = a[..., d - 1, d - 1]
            neg = last < 0
            nneg = int(xp.sum(xp.astype(neg, xp.int64))) if math.prod(batch) else 0
            total = math.prod(batch)
            if 0 < nneg < total:
                raise ValueError(f"`Q` mixes determinants: {nneg} of its {total} matrices need d = {d} "
                                 f"reflectors and the others d - 1; a batch has one number of "
                                 "reflectors (split the batch by the sign of det Q).")
            if nneg:
                ed = xp.broadcast_to(xp.reshape(eye[d - 1, :], (*([1] * len(batch)), d)), (*batch, d))
                a = a - 2.0 * ed[..., :, None] * xp.matmul(ed[..., None, :], a)
                cols.append(ed)
        if math.prod(batch):
            err = float(xp.max(xp.abs(a - eye)))
            if not err <= tol:
                k = len(cols)
                raise ValueError(f"`Q` is not a product of r = {k} reflectors: after {k} steps of "
                                 f"Householder QR, max|R - I| = {err:.3g} exceeds {tol:.3g} "
                                 f"(det Q must be (-1)^r and Q - I of rank at most r).")
        if cols:
            v = xp.stack(cols, axis=-1)
        else:
            v = xp.zeros((*batch, d, 0), dtype=q.dtype, device=dev)
        return cls(v)

    # ------------------------------------------------------------------ the operator

    @property
    def V(self) -> Any:
        """The reflector vectors as passed in, shape ``batch_shape + (d, r)``."""
        return self._params

    @property
    def r(self) -> int:
        """Number of reflectors."""
        return self._r

    @property
    def n_params(self) -> int:
        """``d * r``: the entries of ``V``."""
        return self._d * self._r

    def _apply(self, x: Any, transpose: bool) -> Any:
        xp = self._xp
        u, t = self._u, self._t
        if x.dtype != u.dtype:
            u, t = xp.astype(u, x.dtype), xp.astype(t, x.dtype)
        if self._r == 0:
            shape = tuple(np.broadcast_shapes(tuple(x.shape), (*self._batch_shape, 1, 1)))
            return xp.broadcast_to(x, shape) + xp.zeros(shape, dtype=x.dtype, device=self._device)
        y = xp.matmul(xp.matrix_transpose(u), x)
        y = xp.matmul(xp.matrix_transpose(t) if transpose else t, y)
        if x.ndim == 2 and u.ndim == 2 and is_torch(xp):
            import torch

            return torch.addmm(x, u, y, alpha=-1)  # x - U y in one BLAS call (differentiable)
        out = xp.matmul(u, y)
        if isinstance(out, np.ndarray):  # a fresh array of ours: x - U y without a second temporary
            return np.subtract(x, out, out=out)
        return x - out

    def __repr__(self) -> str:
        batch = f", batch_shape={self._batch_shape}" if self._batch_shape else ""
        return f"Householder(d={self._d}, r={self._r}{batch}, dtype={self._dtype})"


def _reflector_to_ej(a: Any, j: int, d: int, xp: ModuleType) -> Any:
    """Unit ``u`` (..., d) with ``(I - 2 u u^T) a[:, j] = e_j``, zero above ``j``, ``u_j >= 0``.

    ``a`` is orthogonal with columns ``0..j-1`` equal to ``e_0..e_{j-1}``.  ``v = x - e_j`` with
    ``x = a[j:, j]``, its first entry computed without cancellation; a column equal to ``e_j``
    gets ``e_{j+1}`` (a reflection the next step undoes).
    """
    x = a[..., j:, j]
    xj = x[..., 0]
    xl = x[..., 1:]
    s2 = xp.sum(xl * xl, axis=-1)
    vj = xp.where(xj > 0, -s2 / (1.0 + xp.abs(xj)), xj - 1.0)
    v = xp.concat([-vj[..., None], -xl], axis=-1)  # sign flipped: u_j >= 0
    amax = xp.max(xp.abs(v), axis=-1, keepdims=True)
    trivial = amax == 0
    w = v / xp.where(trivial, xp.ones_like(amax), amax)
    nrm = xp.sqrt(xp.sum(w * w, axis=-1, keepdims=True))
    w = w / xp.where(trivial, xp.ones_like(nrm), nrm)
    if d - j > 1:
        nxt = xp.zeros(d - j, dtype=a.dtype, device=param_device(a))
        nxt = xp.concat([nxt[:1], nxt[1:2] + 1.0, nxt[2:]])
        w = xp.where(trivial, xp.broadcast_to(nxt, w.shape), w)
    else:
        w = xp.where(trivial, xp.ones_like(w), w)
    if j:
        w = xp.concat([xp.zeros((*w.shape[:-1], j), dtype=a.dtype, device=param_device(a)), w], axis=-1)
    return w


capability("ortho", numba=False, notes="compact WY; torch autograd through array-API ops")(Householder)
