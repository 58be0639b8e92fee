"""Shifted symmetric higher-order power method (SS-HOPM) for tensor Z-eigenpairs."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

from .._backend import array_namespace, capability
from .._validate import as_floating, check_finite, check_int, check_ndim, check_real
from ._scale import binary_exponent, ldexp, max_abs, scale_pow2
from ._spm import TensorWarning
from ._symmetric import check_cubical, check_nonempty, check_symmetric_tensor

__all__ = ["SSHOPMResult", "sshopm"]


class SSHOPMResult(NamedTuple):
    """Result of :func:`sshopm`: ``T x^(m-1) = eigenvalue * x`` with ``||x|| = 1``.

    Attributes
    ----------
    eigenvalue : float
        ``T x^m`` at the final point.
    eigenvector : array, shape (d,)
        Unit vector x, in the namespace and on the device of ``T``.
    iterations : int
        Power steps taken.
    converged : bool
        Whether the eigen-residual reached the tolerance within ``max_iter``.
    residual : float
        ``||T x^(m-1) - eigenvalue * x|| / ||T||_F`` at the final point.
    """

    eigenvalue: float
    eigenvector: Any
    iterations: int
    converged: bool
    residual: float


def _powers(x, k, xp):
    """Flattened ``x^(x k)`` (length d**k, row-major)."""
    v = xp.ones((1,), dtype=x.dtype, device=x.device)
    for _ in range(k):
        v = xp.reshape(v[:, None] * x[None, :], (-1,))
    return v


@capability("tensor", numba=False, notes="one GEMV with the d x d^(m-1) unfolding per step")
def sshopm(T: Any, x0: Any, *, shift: str | float = "adaptive", max_iter: int = 1000,
           tol: float = 1e-12, tau: float = 1e-6, assume_symmetric: bool = False,
           sym_rtol: float | None = None) -> SSHOPMResult:
    """One real Z-eigenpair of a symmetric tensor by the shifted power method (Kolda-Mayo).

    Parameters
    ----------
    T : array, shape (d,) * m
        Real symmetric tensor of order m >= 2 of any array-API library.  Never modified.
    x0 : array, shape (d,)
        Nonzero starting vector (normalized internally), same library as ``T``.
    shift : "adaptive" or float, default "adaptive"
        A float alpha gives the fixed-shift iteration ``x <- s (T x^(m-1) + alpha x)``
        normalized, with ``s = +1`` for ``alpha >= 0`` (ascent to a local
        maximum of ``T x^m`` when alpha makes it convex) and ``s = -1`` for
        ``alpha < 0`` (descent to a local minimum).  ``"adaptive"`` ascends with
        ``alpha = max(0, tau - (m-1) lambda_min(T x^(m-2)))`` at each step, the
        smallest shift that keeps the local model convex [2]_.
        A float shift is in the units of ``T`` (it scales with it).
    max_iter : int, default 1000
        Maximum number of steps.
    tol : float, default 1e-12
        Stop when ``||T x^(m-1) - lambda x|| <= tol * ||T||_F``.
    tau : float, default 1e-6
        Convexity margin of the adaptive shift, relative to ``||T||_F`` (so the iteration
        is the same for ``T`` and ``c T``).
    assume_symmetric : bool, default False
        Skip the symmetry check.
    sym_rtol : float, optional
        Allowed relative asymmetry (default ``100 m eps``).

    Returns
    -------
    SSHOPMResult
        Named tuple ``(eigenvalue, eigenvector, iterations, converged, residual)``.

    Raises
    ------
    ValueError
        If ``T`` has order < 2, is not cubical or symmetric, has NaN/Inf; if
        ``x0`` has the wrong shape, is zero or not finite; if an option is
        out of range (``tol`` and ``tau`` must be finite, ``tol > 0``, ``tau >= 0``;
        a float ``shift`` finite).
    TypeError
        If the inputs are complex, non-numeric or from different libraries.

    Warns
    -----
    TensorWarning
        If the iteration did not converge within ``max_iter``.

    Notes
    -----
    Z-eigenpairs satisfy ``T x^(m-1) = lambda x``, ``||x|| = 1``; they are the
    critical points of ``f(x) = T x^m`` on the sphere.  With a shift alpha for
    which ``f(x) + alpha ||x||^m`` is convex (alpha > (m-1) max_x rho(T x^(m-2))
    suffices), the iteration increases f monotonically and converges to an
    eigenpair [1]_.  Each step costs one product of the ``d x d^(m-1)``
    unfolding with ``x^(x (m-1))`` (``2 d^m`` flops); the adaptive shift adds a
    ``d x d`` symmetric eigenvalue problem.  Convergence is linear near a
    local maximum, with a rate that improves as the shift shrinks.

    References
    ----------
    .. [1] T. G. Kolda, J. R. Mayo, "Shifted power method for computing tensor
       eigenpairs", SIAM J. Matrix Anal. Appl. 32 (2011) 1095-1124.
    .. [2] T. G. Kolda, J. R. Mayo, "An adaptive shifted power method for
       computing generalized tensor eigenpairs", SIAM J. Matrix Anal. Appl. 35
       (2014) 1563-1581.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.tensor import cp_to_tensor, sshopm
    >>> Q = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))[0]
    >>> T = cp_to_tensor(np.array([3.0, 2.0, 1.0, 0.5]), Q, order=3)
    >>> res = sshopm(T, Q[:, 1] + 0.1 * Q[:, 0])
    >>> round(res.eigenvalue, 10), res.converged
    (2.0, True)
    >>> bool(np.allclose(abs(res.eigenvector @ Q[:, 1]), 1.0))
    True
    """
    xp = array_namespace(T, x0)
    T = xp.asarray(T) if not hasattr(T, "shape") else T
    x0 = xp.asarray(x0) if not hasattr(x0, "shape") else x0
    check_cubical(T, "T", min_order=2)
    check_nonempty(T, "T")
    T = as_floating(T, "T", xp, allow_complex=False)
    check_finite(T, "T", xp)
    check_ndim(x0, "x0", 1)
    m, d = T.ndim, T.shape[0]
    if x0.shape[0] != d:
        raise ValueError(f"`x0` must have length d = {d}; got shape {tuple(x0.shape)}.")
    x0 = as_floating(x0, "x0", xp, allow_complex=False)
    check_finite(x0, "x0", xp)
    x0 = xp.astype(x0, T.dtype)
    # Only the direction of x0 matters: bring it to unit size exactly before the norm.
    x0 = scale_pow2(x0, -binary_exponent(max_abs(x0, xp)), xp)
    nrm0 = float(xp.linalg.vector_norm(x0))
    if nrm0 == 0.0:
        raise ValueError("`x0` must be a nonzero vector; got all zeros (or values that underflow "
                         f"in {T.dtype}).")
    adaptive = isinstance(shift, str)
    if adaptive and shift != "adaptive":
        raise ValueError(f"`shift` must be 'adaptive' or a float; got {shift!r}.")
    alpha = 0.0 if adaptive else check_real(shift, "shift")
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    tau = check_real(tau, "tau", low=0.0)
    if sym_rtol is not None:
        sym_rtol = check_real(sym_rtol, "sym_rtol", low=0.0)
    # Homogeneous in T: iterate on T / 2**e with max|T| / 2**e in [0.5, 1) (exact); the
    # eigenvalue and a fixed shift scale with it, the eigenvector does not.
    sign = -1.0 if alpha < 0 else 1.0
    exponent = binary_exponent(max_abs(T, xp))
    T = scale_pow2(T, -exponent, xp)
    alpha = ldexp(alpha, -exponent)
    if not assume_symmetric:
        check_symmetric_tensor(T, "T", xp, rtol=sym_rtol)

    unfold = xp.reshape(T, (d, -1))
    hess_unfold = xp.reshape(T, (d * d, -1)) if adaptive else None
    scale = float(xp.linalg.vector_norm(xp.reshape(T, (-1,))))
    if scale == 0.0:
        scale = 1.0
    margin = tau * scale
    x = x0 / nrm0
    converged = False
    it = 0
    while True:
        g = unfold @ _powers(x, m - 1, xp)
        lam = float(xp.sum(g * x))
        res = float(xp.linalg.vector_norm(g - lam * x)) / scale
        if res <= tol:
            converged = True
            break
        if it == max_iter:
            break
        if adaptive:
            H = xp.reshape(hess_unfold @ _powers(x, m - 2, xp), (d, d))
            lmin = float(xp.min(xp.linalg.eigvalsh((H + H.mT) / 2)))
            alpha = max(0.0, margin - (m - 1) * lmin)
        step = sign * (g + alpha * x)
        nrm = float(xp.linalg.vector_norm(step))
        if nrm == 0.0:  # g = -alpha x up to rounding: no direction to move in
            break
        x = step / nrm
        it += 1
    lam = ldexp(lam, exponent)
    if not converged:
        warnings.warn(f"sshopm: no convergence within max_iter={max_iter} (residual {res:.2e}).",
                      TensorWarning, stacklevel=2)
    return SSHOPMResult(lam, x, it, converged, res)
