"""Exact Gaussian-process regression on a full or masked Cartesian grid."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from .._backend import array_namespace, capability
from .._validate import as_floating, check_finite, check_int, check_ndim, check_real
from ._common import copy_array, cycle_modes, kron_vectors, matmul, rmatmul_t
from ._eigh import KronEigh, pcg

__all__ = ["GridGP", "GridGPPrediction"]


class GridGPPrediction(NamedTuple):
    """Posterior on a test grid from :meth:`GridGP.predict`.

    Attributes
    ----------
    mean : array, shape (T,)
        Posterior mean of the latent function at the ``T = prod t_k`` test points.
    var : array, shape (T,) or None
        Posterior variance of the latent function (without noise); ``None`` unless
        ``test_diag`` was given.
    """

    mean: Any
    var: Any


@capability("kron", numba=False)
class GridGP:
    """Exact GP regression with a product kernel on a grid ``x_1 × ⋯ × x_d``.

    The training covariance is ``K = K_1 ⊗ ⋯ ⊗ K_d`` (row-major, like ``numpy.kron``:
    the targets ``y`` are ordered as ``Y.reshape(-1)`` for ``Y`` of shape ``(n_1, ..., n_d)``)
    plus i.i.d. noise ``noise * I``.

    Parameters
    ----------
    kernels : sequence of arrays
        Symmetric positive semi-definite ``K_k`` (``n_k x n_k``), the kernel on axis ``k``
        (copied, as in :class:`KronEigh`; messages call them ``kernels[k]``).
    noise : float
        Noise variance ``s2 > 0`` (finite).
    y : array, shape (N,) or (N, k)
        Finite targets on the full grid (entries off the mask are ignored, so they may be
        NaN there).  Copied (as the attribute ``y``), so a later in-place change of the
        caller's array changes neither ``alpha`` nor :meth:`log_marginal_likelihood`.
    mask : array of bool, shape (N,), optional
        Observed points of an incomplete grid.  Default: all observed (exact
        eigenbasis solve); with a mask, ``(K_oo + s2 I) alpha = y_o`` is solved by
        preconditioned CG (preconditioner ``P (K + s2 I)^{-1} P^T``).
    tol : float, default 1e-10
        PCG relative residual target (masked grids only).
    maxiter : int, optional
        PCG iteration cap (masked grids only); default ``max(200, 10 sqrt(N))``.

    Attributes
    ----------
    y : array, shape (N,) or (N, k)
        The operator's copy of the targets (zero at unobserved points); treat as read-only.
    alpha : array, shape (N,) or (N, k)
        ``(K + s2 I)^{-1} y`` on the grid (zero at unobserved points).
    pcg : PCGResult or None
        Iterations and residual of the masked solve.

    Raises
    ------
    ValueError
        Non-symmetric or indefinite kernels (``K + s2 I`` not positive definite),
        ``noise <= 0`` or NaN, ``tol <= 0``, NaN/Inf in a kernel or in observed targets,
        shape mismatches.
    TypeError
        Inputs from different array libraries, boolean/float16/non-numeric arrays.

    Warns
    -----
    KronConvergenceWarning
        If the masked PCG solve stops before ``tol`` (see ``pcg.converged``).

    Notes
    -----
    Full grid: ``alpha = Q (Λ + s2)^{-1} Q^T y`` with :class:`KronEigh`, set-up
    ``O(sum n_k^3)``, then ``O(N sum n_k)``.  The log marginal likelihood is
    ``-y^T alpha / 2 - log det(K + s2 I) / 2 - N log(2 pi) / 2``.  Posterior mean on a test
    grid: ``(K*_1 ⊗ ⋯ ⊗ K*_d) alpha``; posterior variance, exactly, from
    ``diag(K**) - (W_1∘W_1 ⊗ ⋯ ⊗ W_d∘W_d) (Λ + s2)^{-1}`` with ``W_k = K*_k Q_k`` [1]_.
    The full-grid path uses only array-API operations (eigh, matmul, log) and no host
    round trip, so on torch the likelihood, ``alpha`` and the prediction are
    differentiable with respect to the kernel matrices (hence their hyperparameters, as
    GP-HM style training needs); the tests check the lengthscale gradient of
    :meth:`log_marginal_likelihood` against central differences.  ``noise`` is taken as
    a Python float, so it carries no gradient.  The backward pass of ``eigh`` divides by
    eigenvalue gaps, so factors with (nearly) repeated eigenvalues give inaccurate
    gradients.

    References
    ----------
    .. [1] Y. Saatci, "Scalable inference for structured Gaussian process models",
       PhD thesis, University of Cambridge (2011).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import GridGP
    >>> x = np.linspace(0, 1, 6)
    >>> k = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / 0.3**2)
    >>> y = np.sin(3 * x)[:, None] * np.cos(2 * x)[None, :]
    >>> gp = GridGP([k, k], 1e-4, y.reshape(-1))
    >>> mean, var = gp.predict([k, k], test_diag=[np.ones(6), np.ones(6)])
    >>> bool(np.allclose(mean, y.reshape(-1), atol=1e-3)), bool(var.max() < 1e-3)
    (True, True)
    """

    def __init__(self, kernels: Sequence[Any], noise: float, y: Any, *, mask: Any = None,
                 tol: float = 1e-10, maxiter: int | None = None):
        noise = check_real(noise, "noise", low=0.0, low_open=True)
        tol = check_real(tol, "tol", low=0.0, low_open=True)
        self.noise = noise
        self.eigh = KronEigh._build(kernels, name="kernels")
        xp = array_namespace(y, *self.eigh._arrays())
        self._xp = xp
        self._dims = self.eigh._dims
        n = self.eigh.shape[0]
        given = y
        y = xp.asarray(y) if not hasattr(y, "shape") else y
        if y.ndim not in (1, 2) or y.shape[0] != n:
            labels = ", ".join(f"kernels[{k}]" for k in range(len(self._dims)))
            raise ValueError(f"`y` must have shape ({n},) or ({n}, k) for the grid "
                             f"{' x '.join(map(str, self._dims))} (of {labels}); got {tuple(y.shape)}.")
        y = as_floating(y, "y", xp)
        self.eigh._shifted(noise, "noise")  # K + s2 I must be positive definite
        self.pcg = None
        self._mask = None
        if mask is None:
            check_finite(y, "y", xp)
            # A private copy: log_marginal_likelihood pairs `y` with the cached `alpha`.
            self.y = copy_array(y, xp) if y is given else y
            self.alpha = self.eigh.solve(self.y, shift=noise)
            return
        array_namespace(mask, y)  # TypeError for another library or a masked array
        m = xp.asarray(mask) if not hasattr(mask, "shape") else mask
        check_ndim(m, "mask", 1)
        if m.shape[0] != n or not xp.isdtype(m.dtype, "bool"):
            raise ValueError(f"`mask` must be a boolean array of length {n}; got shape "
                             f"{tuple(m.shape)}, dtype {m.dtype}.")
        w = xp.astype(m, y.dtype)
        if y.ndim == 2:
            w = w[:, None]
        y = xp.where(w > 0, y, xp.zeros_like(y))  # unobserved entries never enter
        check_finite(y, "y", xp)
        self.y = y
        self._mask = w
        if maxiter is None:
            maxiter = max(200, int(10 * math.sqrt(n)))
        maxiter = check_int(maxiter, "maxiter", low=1)
        # P K P^T + s2 I, embedded; its iterates are not re-checked for NaN/Inf
        op = lambda z: w * self.eigh._matvec(w * z, finite=False) + noise * z  # noqa: E731
        pre = lambda r: w * self.eigh._solve(w * r, noise, finite=False)  # noqa: E731
        self.pcg = pcg(op, pre, y, xp, tol=tol, maxiter=maxiter)
        self.alpha = self.pcg.x

    def log_marginal_likelihood(self) -> Any:
        """``log p(y) = -y^T alpha / 2 - log det(K + s2 I) / 2 - N log(2 pi) / 2`` (full grid).

        Returns a 0-d array (one value per column summed for a matrix ``y``).

        Raises
        ------
        ValueError
            On a masked grid (the determinant of ``K_oo + s2 I`` has no Kronecker form).
        """
        if self._mask is not None:
            raise ValueError("log_marginal_likelihood is exact only on a full grid; this GridGP has a mask.")
        xp = self._xp
        n = self.eigh.shape[0]
        k = 1 if self.y.ndim == 1 else self.y.shape[1]
        fit = xp.sum(self.y * self.alpha)
        return -0.5 * fit - 0.5 * k * self.eigh.logdet(shift=self.noise) - 0.5 * k * n * math.log(2 * math.pi)

    def predict(self, cross: Sequence[Any], *, test_diag: Sequence[Any] | None = None) -> GridGPPrediction:
        """Posterior mean (and variance) on the test grid ``t_1 × ⋯ × t_d``.

        Parameters
        ----------
        cross : sequence of arrays
            ``K*_k = k_k(t_k, x_k)`` of shape ``(t_k, n_k)``.
        test_diag : sequence of 1-D arrays, optional
            ``diag k_k(t_k, t_k)`` (length ``t_k``); needed for the variance.

        Returns
        -------
        GridGPPrediction
            ``mean`` (T,) or (T, k); ``var`` (T,) or None.

        Raises
        ------
        ValueError
            Wrong number or shapes of cross-covariances, NaN/Inf in ``cross`` or
            ``test_diag``; variance asked on a masked grid.
        TypeError
            Arrays of another library, boolean/float16/non-numeric arrays.
        """
        xp = self._xp
        d = len(self._dims)
        if isinstance(cross, str) or not isinstance(cross, Sequence):
            raise TypeError(f"`cross` must be a list of {d} matrices; got {type(cross).__name__}.")
        if len(cross) != d:
            raise ValueError(f"`cross` must have one matrix per axis ({d}); got {len(cross)}.")
        mats = []
        for k, (c, n) in enumerate(zip(cross, self._dims, strict=True)):
            label = f"cross[{k}]"
            array_namespace(c, *self.eigh._arrays())  # TypeError for another library
            c = xp.asarray(c) if not hasattr(c, "shape") else c
            check_ndim(c, label, 2)
            if c.shape[1] != n:
                raise ValueError(f"`{label}` must have {n} columns (training points on axis {k}, "
                                 f"`kernels[{k}]`); got shape {tuple(c.shape)}.")
            c = as_floating(c, label, xp)
            check_finite(c, label, xp)
            mats.append(c)
        tdims = [int(c.shape[0]) for c in mats]
        a = xp.reshape(self.alpha, (*self._dims, *self.alpha.shape[1:]))
        mean = cycle_modes(a, self._dims, [lambda y, c=c: rmatmul_t(y, c, xp) for c in mats], xp)
        mean = xp.reshape(mean, (math.prod(tdims), *self.alpha.shape[1:]))
        if test_diag is None:
            return GridGPPrediction(mean, None)
        if self._mask is not None:
            raise ValueError("the exact variance formula needs a full grid; this GridGP has a mask.")
        if isinstance(test_diag, str) or not isinstance(test_diag, Sequence):
            raise TypeError(f"`test_diag` must be a list of {d} vectors; got {type(test_diag).__name__}.")
        if len(test_diag) != d:
            raise ValueError(f"`test_diag` must have one vector per axis ({d}); got {len(test_diag)}.")
        diags = []
        for k, (v, t) in enumerate(zip(test_diag, tdims, strict=True)):
            label = f"test_diag[{k}]"
            array_namespace(v, *self.eigh._arrays())  # TypeError for another library
            v = xp.asarray(v) if not hasattr(v, "shape") else v
            check_ndim(v, label, 1)
            if v.shape[0] != t:
                raise ValueError(f"`{label}` must have length {t} (the rows of `cross[{k}]`); "
                                 f"got {v.shape[0]}.")
            v = as_floating(v, label, xp)
            check_finite(v, label, xp)
            diags.append(v)
        sq = []
        for c, q in zip(mats, self.eigh.factor_eigenvectors, strict=True):
            wk = c if isinstance(q, int) else matmul(c, q, xp)
            sq.append(wk * wk)
        inv = 1 / (self.eigh.eigenvalues + self.noise)
        reduction = cycle_modes(xp.reshape(inv, tuple(self._dims)), self._dims,
                                [lambda y, s=s: rmatmul_t(y, s, xp) for s in sq], xp)
        var = kron_vectors(diags, xp) - xp.reshape(reduction, (-1,))
        return GridGPPrediction(mean, var)
