"""Kernel matrices evaluated lazily, and the Nystrom approximation A ~ F F^H."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat

from .._dask import is_dask
from .._validate import as_floating, check_choice, check_finite, check_ndim, check_real, is_complex
from ._rp_common import as_arg, namespace_of

__all__ = ["KernelMatrix", "NystromApproximation"]

KERNELS = ("gaussian", "laplace", "matern")

#: Gaussian blocks use the Gram form ``|z|^2 + |w|^2 - 2 z.w`` on centered points ``z = (x - c) / h``
#: only while ``(d + 2) max|z|^2`` is at most this: its rounding error is then below about
#: ``GRAM_LIMIT * eps`` (absolute, on entries of size at most 1).  Otherwise, and for the kernels of
#: ``sqrt(r^2)`` (whose error near r = 0 would be ``sqrt(eps) max|z|``), differences are taken directly.
GRAM_LIMIT = 256.0
#: Scaled differences are clipped at this many bandwidths (every kernel is 0 there in float64).
CLIP = 1e4


class KernelMatrix:
    """Kernel matrix ``K[i, j] = k(x_i, x_j)`` that evaluates only what is asked for.

    :func:`rp_cholesky` calls :meth:`diag`, :meth:`columns` and :meth:`block`, so
    the N x N matrix is never formed.

    Parameters
    ----------
    points : array, shape (N, d)
        Data points, any array-API library (a nested list is read as NumPy); real floating or
        integer.  Copied, so later changes to the caller's array do not affect the matrix.
        A ``dask.array`` of NumPy chunks (chunked along the point axis) is kept distributed:
        see Notes.
    kernel : {"gaussian", "laplace", "matern"}, default "gaussian"
        ``exp(-r^2 / (2 h^2))``, ``exp(-r / h)``, or the Matern kernel with
        smoothness ``nu`` (``r = ||x - y||``, ``h = bandwidth``).
    bandwidth : float, default 1.0
        Length scale ``h > 0`` (finite).
    nu : {0.5, 1.5, 2.5}, default 1.5
        Matern smoothness (only for ``kernel="matern"``).

    Raises
    ------
    ValueError
        If ``points`` is not 2-D or not finite, or ``bandwidth``/``nu``/``kernel`` is invalid.
    TypeError
        If ``points`` is not an array of a real floating or integer dtype (float16 and booleans
        are refused), or ``bandwidth``/``nu`` is not a real number.

    Notes
    -----
    Distances are computed from differences of the points, never from ``|x|^2 + |y|^2 - 2 x.y``
    on the raw coordinates, which cancels for points far from the origin (at offset 1e8 an
    entry could be off by 0.8).  The Gaussian kernel uses that Gram form, for its matrix-matrix
    speed, only on points centered at the midpoint of their bounding box and scaled by ``h``,
    and only while its rounding error stays below ``256 eps`` (``(d + 2) max|z|^2 <= 256`` for
    the centered scaled points ``z``); otherwise, and always for the Laplace and Matern kernels,
    ``r^2`` is summed over coordinates from clipped differences ``(x_k - y_k) / h``, accurate to
    a few ``d eps`` relative (for float64 NumPy points that need no clipping, by SciPy's
    ``cdist(x, y, "sqeuclidean") / h^2``, the same sums in one compiled pass).  Each entry costs ``O(d)``.  Differences are clipped at ``1e4 h``
    (every kernel is 0 there), so no bandwidth in ``(0, inf)`` over- or underflows; float32
    points with a bandwidth outside ``2**+-100`` are evaluated in float64 and rounded back.

    **Dask points.**  With ``points`` a ``dask.array``, the centering and the choice of formula
    come from global Dask reductions (two passes: min/max/finiteness, then the largest centered
    norm; NaN/Inf is reported here), and every request is answered with a NumPy array: a block
    with all ``N`` rows (``columns``, :func:`rp_cholesky`'s ``N x block`` column blocks) or all
    ``N`` columns (``rows``) is evaluated chunk by chunk by Dask (the other ``t`` points gathered
    and sent to every chunk), a small block locally after gathering its points.  Each entry
    goes through the same operations as in memory, so the results, and ``rp_cholesky``'s factor
    for the same ``rng``, are equal bit for bit.  ``F`` (``N x k``), the residual diagonal and
    the pivot decisions stay on the client.  Costs per column block: two Dask computations
    (gather, then evaluate), ``O(N t d)`` work on the workers, ``N t`` entries to the client.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import KernelMatrix
    >>> k = KernelMatrix(np.array([[0.0], [1.0], [3.0]]), bandwidth=1.0)
    >>> np.round(k.columns(np.array([1])), 4).ravel()
    array([0.6065, 1.    , 0.1353])
    """

    def __init__(self, points: Any, kernel: str = "gaussian", *, bandwidth: float = 1.0, nu: float = 1.5):
        self._dask = is_dask(points)
        if self._dask:
            from ._kernel_dask import setup

            setup(self, points, kernel, bandwidth, nu)
            return
        xp = namespace_of(points, "points")
        points = xp.asarray(points) if not hasattr(points, "shape") else points
        check_ndim(points, "points", 2)
        points = as_floating(points, "points", xp, allow_complex=False)
        check_finite(points, "points", xp)
        check_choice(kernel, "kernel", KERNELS)
        bandwidth = check_real(bandwidth, "bandwidth", low=0, low_open=True)
        nu = check_real(nu, "nu")
        if kernel == "matern":
            check_choice(nu, "nu", (0.5, 1.5, 2.5))
        # a private copy: the cached centering and norms below must stay those of the points
        points = xp.asarray(points, copy=True)
        self.points, self.kernel, self.bandwidth, self.nu = points, kernel, bandwidth, nu
        n, dim = points.shape
        self._gram = False
        self._cdist = False
        # float32 points with a bandwidth outside 2**+-100 (1e-300 underflows to 0 in float32):
        # differences, scaling and the profile in float64, entries rounded back to float32
        self._wide = xp.finfo(points.dtype).bits < 64 and not (2.0**-100 <= bandwidth <= 2.0**100)
        if n and dim and not self._wide:
            lo, hi = xp.min(points, axis=0), xp.max(points, axis=0)
            center = lo / 2 + hi / 2  # no overflow, unlike (lo + hi) / 2 or a mean
            half = float(xp.max(hi / 2 - lo / 2))  # every |x_k - c_k| is at most this
            # float64 NumPy points whose differences need no clipping (|x_k - y_k| <= 2 half <=
            # CLIP h) and whose squares neither over- nor underflow: SciPy's cdist sums the same
            # squared differences in one compiled pass (30x faster than the loop in _sqdist)
            self._cdist = (array_api_compat.is_numpy_namespace(xp) and points.dtype == xp.float64
                           and 1e-100 <= bandwidth <= 1e100 and 2 * half <= CLIP * bandwidth)
            if kernel == "gaussian" and half <= 16 * bandwidth:  # |z_k| <= 16: no overflow below
                # centered points: magnitudes are those of the spread, not of the offset
                z = (points - center[None, :]) / bandwidth
                sz = xp.sum(z * z, axis=1)
                if (dim + 2) * float(xp.max(sz)) <= GRAM_LIMIT:
                    self._gram, self._z, self._half_sz = True, z, sz / 2

    @property
    def _xp(self):
        if self._dask:  # Dask points: everything returned is NumPy (see _kernel_dask)
            return array_api_compat.numpy
        return namespace_of(self.points, "points")

    @property
    def _like(self):
        """An array on the device of the results (the points, or NumPy for Dask points)."""
        return self._arange if self._dask else self.points

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, N)``."""
        n = self.points.shape[0]
        return (n, n)

    @property
    def dtype(self):
        """Floating dtype of the entries (that of ``points``)."""
        return self.points.dtype

    def diag(self) -> Any:
        """The diagonal, all ones (``k(x, x) = 1`` for these kernels)."""
        return self._xp.ones(self.points.shape[0], dtype=self.points.dtype, device=self._like.device)

    def block(self, rows: Any, cols: Any) -> Any:
        """``K[rows][:, cols]``.

        Parameters
        ----------
        rows, cols : array of int, shape (p,) and (q,)
            Indices in ``[0, N)``, arrays of the points' library (or lists).  Boolean masks and
            negative indices are refused.

        Returns
        -------
        array, shape (p, q)

        Raises
        ------
        ValueError
            If an index array is not 1-D or has an index outside ``[0, N)``.
        TypeError
            If an index array is boolean or not of an integer dtype, or comes from another
            array library.
        """
        return self._block(self._index(rows, "rows"), self._index(cols, "cols"))

    def columns(self, idx: Any) -> Any:
        """``K[:, idx]``, shape (N, len(idx)); ``idx`` as for :meth:`block`."""
        idx = self._index(idx, "idx")
        return self._block(self._all(), idx)

    def rows(self, idx: Any) -> Any:
        """``K[idx, :]``, shape (len(idx), N) (the transpose of :meth:`columns`, K being symmetric)."""
        idx = self._index(idx, "idx")
        return self._block(idx, self._all())

    def _all(self):
        if self._dask:
            return self._arange
        xp = self._xp
        return xp.arange(self.points.shape[0], device=self.points.device)

    def _index(self, idx: Any, name: str) -> Any:
        xp = self._xp
        idx = as_arg(idx, name, xp, self._like)
        if idx.ndim != 1:
            raise ValueError(f"`{name}` must be a 1-D array of integer indices; got ndim={idx.ndim} "
                             f"(shape {tuple(idx.shape)}).")
        if xp.isdtype(idx.dtype, "bool"):
            raise TypeError(f"`{name}` must hold integer indices; got a boolean array (masks are not "
                            "accepted: pass the indices of the True entries, xp.nonzero(mask)[0]).")
        if not xp.isdtype(idx.dtype, "integral"):
            raise TypeError(f"`{name}` must have an integer dtype; got {idx.dtype}.")
        n = self.points.shape[0]
        if idx.shape[0]:
            lo, hi = int(xp.min(idx)), int(xp.max(idx))
            if lo < 0 or hi >= n:
                raise ValueError(f"`{name}` must hold indices of `points` in [0, N - 1] = [0, {n - 1}]; "
                                 f"got {lo if lo < 0 else hi}.")
        return idx

    def _block(self, rows, cols):
        """``K[rows][:, cols]`` for validated index arrays."""
        if self._dask:
            from ._kernel_dask import block

            return block(self, rows, cols)
        xp = self._xp
        if self._gram:
            z, w = xp.take(self._z, rows, axis=0), xp.take(self._z, cols, axis=0)
            hz, hw = xp.take(self._half_sz, rows), xp.take(self._half_sz, cols)
            return self._gram_eval(z, w, hz, hw)
        # the raw points: x_k - y_k is then exact for nearby points (Sterbenz), whereas the
        # centered ones carry the rounding of x - c (1e-10 for points at 1e6 centered near 0)
        return self._direct_eval(xp.take(self.points, rows, axis=0), xp.take(self.points, cols, axis=0))

    def _gram_eval(self, z, w, hz, hw):
        """Gaussian entries from centered scaled points ``z``, ``w`` and their halved squared norms."""
        xp = self._xp
        # -r^2 / 2 = z.w - |z|^2 / 2 - |w|^2 / 2 on centered scaled points (see GRAM_LIMIT)
        arg = z @ w.mT - hz[:, None] - hw[None, :]
        return xp.exp(xp.minimum(arg, xp.zeros_like(arg)))

    def _direct_eval(self, x, y):
        """Entries between the points ``x`` (rows) and ``y`` (columns) from their differences."""
        out = self._profile(self._sqdist(x, y))
        return self._xp.astype(out, self.dtype) if self._wide else out

    def _sqdist(self, x, y):
        """``r^2 / h^2`` between the rows of ``x`` and ``y``, summed coordinate by coordinate from
        clipped differences."""
        xp, h = self._xp, self.bandwidth
        if self._cdist:
            from scipy.spatial.distance import cdist

            # exact differences as below; then one division by h^2 (1e-200..1e200: no over/underflow)
            return xp.asarray(cdist(x, y, "sqeuclidean")) / (h * h)
        if self._wide:
            x, y = xp.astype(x, xp.float64), xp.astype(y, xp.float64)
        sq = xp.zeros((x.shape[0], y.shape[0]), dtype=x.dtype, device=x.device)
        cap = CLIP * h  # a Python float: inf for a huge h, which clips nothing
        for k in range(x.shape[1]):
            t = xp.clip(x[:, k][:, None] - y[:, k][None, :], min=-cap, max=cap) / h
            sq = sq + t * t
        return sq

    def _profile(self, sq):
        xp = self._xp
        if self.kernel == "gaussian":
            return xp.exp(-sq / 2)
        r = xp.sqrt(sq)
        if self.kernel == "laplace" or self.nu == 0.5:
            return xp.exp(-r)
        if self.nu == 1.5:
            s = math.sqrt(3) * r
            return (1 + s) * xp.exp(-s)
        s = math.sqrt(5) * r
        return (1 + s + s * s / 3) * xp.exp(-s)


class NystromApproximation:
    """Low-rank PSD approximation ``A ~ F F^H`` with fast products, solves and eigenpairs.

    Parameters
    ----------
    factor : array, shape (N, k)
        The factor ``F`` (for example from :func:`rp_cholesky`), real or complex floating (or
        integer, promoted to float64), any array-API library (a nested list is read as NumPy).
        Copied, so the cached SVD stays that of ``F``.

    Raises
    ------
    ValueError
        If ``factor`` is not 2-D or has NaN/Inf.
    TypeError
        If ``factor`` is not an array of a floating or integer dtype (float16 and booleans are
        refused).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import NystromApproximation
    >>> f = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    >>> nys = NystromApproximation(f)
    >>> bool(np.allclose(nys.matvec(np.ones(3)), f @ f.T @ np.ones(3)))
    True
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> bool(np.allclose((f @ f.T + 0.5 * np.eye(3)) @ nys.solve(y, 0.5), y))
    True
    """

    def __init__(self, factor: Any):
        xp = namespace_of(factor, "factor")
        factor = xp.asarray(factor) if not hasattr(factor, "shape") else factor
        check_ndim(factor, "factor", 2)
        factor = as_floating(factor, "factor", xp)
        check_finite(factor, "factor", xp)
        self.F = xp.asarray(factor, copy=True)
        self._svd = None

    @classmethod
    def _shared(cls, factor: Any) -> NystromApproximation:
        """Wrap a factor built and checked by orthla, without a copy (rp_cholesky's result)."""
        self = cls.__new__(cls)
        self.F, self._svd = factor, None
        return self

    @property
    def _xp(self):
        return namespace_of(self.F, "factor")

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, N)``."""
        return (self.F.shape[0], self.F.shape[0])

    @property
    def rank(self) -> int:
        """Number of columns k of ``F``."""
        return self.F.shape[1]

    def _h(self, z):
        return self._xp.conj(z.mT) if is_complex(z, self._xp) else z.mT

    def _factors(self):
        if self._svd is None:
            u, s, _ = self._xp.linalg.svd(self.F, full_matrices=False)
            self._svd = (u, s)
        return self._svd

    def _vector(self, v: Any, name: str) -> Any:
        """A right-hand side: (N,) or (N, p), floating, finite, of F's library."""
        xp = self._xp
        v = as_arg(v, name, xp, self.F)
        if v.ndim not in (1, 2) or v.shape[0] != self.F.shape[0]:
            raise ValueError(f"`{name}` must have shape (N,) or (N, p) with N = {self.F.shape[0]} the "
                             f"number of rows of `factor`; got shape {tuple(v.shape)}.")
        v = as_floating(v, name, xp)
        check_finite(v, name, xp)
        return v

    def _common(self, m, v):
        """Both operands in their promoted dtype (torch's matmul does not promote)."""
        xp = self._xp
        dt = xp.result_type(m.dtype, v.dtype)
        return (m if m.dtype == dt else xp.astype(m, dt)), (v if v.dtype == dt else xp.astype(v, dt))

    def matvec(self, x: Any) -> Any:
        """``F (F^H x)`` for a vector (N,) or a block of vectors (N, p); ``O(N k p)``.

        Raises ``ValueError`` if ``x`` has the wrong shape or NaN/Inf, ``TypeError`` if it is not
        a floating (or integer) array of ``F``'s library.
        """
        x = self._vector(x, "x")
        f, x = self._common(self.F, x)
        return f @ (self._h(f) @ x)

    def solve(self, y: Any, shift: float) -> Any:
        """``(F F^H + shift I)^{-1} y`` for ``shift > 0`` (Woodbury, through the SVD of F).

        With ``F = U S V^H``: ``U diag(1 / (s^2 + shift)) U^H y + (y - U U^H y) / shift``,
        stable for any spread of ``s``.  ``O(N k^2)`` once, then ``O(N k)`` per vector.

        Raises ``ValueError`` if ``y`` has the wrong shape or NaN/Inf, or ``shift`` is not a
        finite number > 0; ``TypeError`` if ``y`` is not a floating (or integer) array of
        ``F``'s library or ``shift`` is not a real number.
        """
        y = self._vector(y, "y")
        shift = check_real(shift, "shift", low=0, low_open=True)
        xp = self._xp
        u, s = self._factors()
        u, y = self._common(u, y)
        coef = self._h(u) @ y
        scale = 1 / (s * s + shift) - 1 / shift
        scale = xp.astype(scale, coef.dtype)
        scaled = coef * (scale[:, None] if coef.ndim == 2 else scale)
        return y / shift + u @ scaled

    def eigh(self) -> tuple[Any, Any]:
        """Nonzero eigenpairs of ``F F^H``: eigenvalues (k,) descending, eigenvectors (N, k)."""
        u, s = self._factors()
        return s * s, u
