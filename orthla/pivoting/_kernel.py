"""Kernel matrices evaluated lazily, and the Nystrom approximation A ~ F F^H."""

from __future__ import annotations

import math
from typing import Any

from .._backend import array_namespace
from .._validate import as_floating, check_choice, check_finite, check_ndim, is_complex

__all__ = ["KernelMatrix", "NystromApproximation"]

KERNELS = ("gaussian", "laplace", "matern")


class KernelMatrix:
    """Kernel matrix ``K[i, j] = k(x_i, x_j)`` that evaluates only what is asked for.

    :func:`rp_cholesky` calls :meth:`diag`, :meth:`columns` and :meth:`block`, so
    the N x N matrix is never formed.

    Parameters
    ----------
    points : array, shape (N, d)
        Data points, any array-API library; never modified.
    kernel : {"gaussian", "laplace", "matern"}, default "gaussian"
        ``exp(-r^2 / (2 h^2))``, ``exp(-r / h)``, or the Matern kernel with
        smoothness ``nu`` (``r = ||x - y||``, ``h = bandwidth``).
    bandwidth : float, default 1.0
        Length scale ``h > 0``.
    nu : {0.5, 1.5, 2.5}, default 1.5
        Matern smoothness (only for ``kernel="matern"``).

    Raises
    ------
    ValueError
        If ``points`` is not 2-D or not finite, or a parameter is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import KernelMatrix
    >>> k = KernelMatrix(np.array([[0.0], [1.0], [3.0]]), bandwidth=1.0)
    >>> np.round(k.columns(np.array([1])), 4).ravel()
    array([0.6065, 1.    , 0.1353])
    """

    def __init__(self, points: Any, kernel: str = "gaussian", *, bandwidth: float = 1.0, nu: float = 1.5):
        xp = array_namespace(points)
        points = xp.asarray(points) if not hasattr(points, "shape") else points
        check_ndim(points, "points", 2)
        points = as_floating(points, "points", xp, allow_complex=False)
        check_finite(points, "points", xp)
        check_choice(kernel, "kernel", KERNELS)
        bandwidth = float(bandwidth)
        if not (bandwidth > 0 and math.isfinite(bandwidth)):
            raise ValueError(f"`bandwidth` must be a positive finite number; got {bandwidth!r}.")
        if kernel == "matern":
            check_choice(float(nu), "nu", (0.5, 1.5, 2.5))
        self.points, self.kernel, self.bandwidth, self.nu = points, kernel, bandwidth, float(nu)
        self._xp = xp
        self._sqnorms = xp.sum(points * points, axis=1)

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
        return self._xp.ones(self.points.shape[0], dtype=self.points.dtype, device=self.points.device)

    def block(self, rows: Any, cols: Any) -> Any:
        """``K[rows][:, cols]`` for integer index arrays of the points' library."""
        xp, h = self._xp, self.bandwidth
        x, y = xp.take(self.points, rows, axis=0), xp.take(self.points, cols, axis=0)
        sx, sy = xp.take(self._sqnorms, rows), xp.take(self._sqnorms, cols)
        if self.kernel == "gaussian":
            # exp(-(|x|^2 + |y|^2 - 2 x.y) / (2 h^2)), scaled before broadcasting: few full passes
            c = 1 / (2 * h * h)
            arg = (x @ y.mT) * (2 * c) - (sx * c)[:, None] - (sy * c)[None, :]
            return xp.exp(xp.minimum(arg, xp.zeros_like(arg)))
        sq = sx[:, None] + sy[None, :] - 2 * (x @ y.mT)
        return self._profile(xp.maximum(sq, xp.zeros_like(sq)))

    def columns(self, idx: Any) -> Any:
        """``K[:, idx]``, shape (N, len(idx))."""
        xp = self._xp
        return self.block(xp.arange(self.points.shape[0], device=self.points.device), idx)

    def rows(self, idx: Any) -> Any:
        """``K[idx, :]``, shape (len(idx), N) (the transpose of :meth:`columns`, K being symmetric)."""
        xp = self._xp
        return self.block(idx, xp.arange(self.points.shape[0], device=self.points.device))

    def _profile(self, sq):
        xp, h = self._xp, self.bandwidth
        r = xp.sqrt(sq) / h
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
        The factor ``F`` (for example from :func:`rp_cholesky`).

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
        xp = array_namespace(factor)
        check_ndim(factor, "factor", 2)
        self.F = factor
        self._xp = xp
        self._svd = None

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

    def matvec(self, x: Any) -> Any:
        """``F (F^H x)`` for a vector (N,) or a block of vectors (N, p); ``O(N k p)``."""
        fh = self._h(self.F)
        return self.F @ (fh @ x)

    def solve(self, y: Any, shift: float) -> Any:
        """``(F F^H + shift I)^{-1} y`` for ``shift > 0`` (Woodbury, through the SVD of F).

        With ``F = U S V^H``: ``U diag(1 / (s^2 + shift)) U^H y + (y - U U^H y) / shift``,
        stable for any spread of ``s``.  ``O(N k^2)`` once, then ``O(N k)`` per vector.
        """
        shift = float(shift)
        if not (shift > 0 and math.isfinite(shift)):
            raise ValueError(f"`shift` must be a positive finite number; got {shift!r}.")
        xp = self._xp
        u, s = self._factors()
        coef = self._h(u) @ y
        scale = 1 / (s * s + shift) - 1 / shift
        scale = xp.astype(scale, coef.dtype)
        scaled = coef * (scale[:, None] if coef.ndim == 2 else scale)
        return y / shift + u @ scaled

    def eigh(self) -> tuple[Any, Any]:
        """Nonzero eigenpairs of ``F F^H``: eigenvalues (k,) descending, eigenvectors (N, k)."""
        u, s = self._factors()
        return s * s, u
