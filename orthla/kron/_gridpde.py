"""Gaussian-process collocation for linear PDEs on a tensor grid (GP-HM style), by Kronecker algebra."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .._backend import array_namespace, capability, is_numpy, is_torch
from .._validate import as_floating, check_finite, check_int, check_ndim, check_real
from ._common import KronConvergenceWarning, copy_array, scalar
from ._modeprod import multi_mode_product
from ._spectral_kernels import SpectralMixture
from ._sums import _check_denominators, _schur_eigvals, kron_sum_solve

__all__ = ["GridPDESolution", "GridPDESolver", "SemilinearSolution"]


class GridPDESolution(NamedTuple):
    """Result of :meth:`GridPDESolver.solve`.

    Attributes
    ----------
    u : array, shape ``solver.shape``
        The GP solution (posterior mean) at the grid nodes, ``K (K + jitter)^{-1} U``.
    coef : array, shape ``solver.shape``
        Weights ``alpha = (K + jitter)^{-1} U`` of the interpolant
        ``u(x) = k(x, X) alpha`` (pass to :meth:`GridPDESolver.interpolate`).
    values : array, shape ``solver.shape``
        The collocation unknowns ``U`` (boundary data on the boundary nodes).
    """

    u: Any
    coef: Any
    values: Any


class SemilinearSolution(NamedTuple):
    """Result of :meth:`GridPDESolver.solve_semilinear`.

    Attributes
    ----------
    u, coef, values : arrays, shape ``solver.shape``
        As in :class:`GridPDESolution`, for the last iterate.
    nit : int
        Outer (Newton or Picard) steps taken.
    converged : bool
        Whether the last step met ``tol`` (a warning is raised when not).
    residual : float
        ``||L_h U + N(U) - f|| / ||f||`` over the interior nodes for the returned ``U``.
    """

    u: Any
    coef: Any
    values: Any
    nit: int
    converged: bool
    residual: float


def _checked_call(shape: tuple, xp: Any) -> Callable[[Callable[[Any], Any], Any, str], Any]:
    """``fn(v)``, refused unless an array of ``shape`` with finite entries."""

    def call(fn, v, name):
        out = fn(v)
        if not hasattr(out, "shape") or tuple(out.shape) != shape:
            raise ValueError(f"`{name}` must return an array of the grid's shape {shape}; got "
                             f"{tuple(out.shape) if hasattr(out, 'shape') else type(out).__name__}.")
        if not bool(xp.all(xp.isfinite(out))):
            raise ValueError(f"`{name}` returned NaN/Inf (the iteration diverged, or it is not finite at the "
                             "iterate).")
        return out

    return call


def _gmres(op: Callable[[Any], Any], precond: Callable[[Any], Any], b: Any, xp: Any, *, rtol: float = 1e-12,
           maxiter: int = 60) -> Any:
    """Right-preconditioned GMRES for ``op(x) = b`` (no restart); the small least squares on the host.

    Stops at ``||b - op(x)|| <= rtol ||b||`` or after ``maxiter`` iterations (an inexact
    Newton step; the outer loop checks convergence).  ``j + 2`` host scalars per iteration.
    """
    import numpy as np

    beta = scalar(xp.linalg.vector_norm(xp.reshape(b, (-1,))))
    if beta == 0:
        return xp.zeros_like(b)
    basis = [b / beta]
    h = np.zeros((maxiter + 1, maxiter))
    y: Any = np.zeros(0)
    for j in range(maxiter):
        w = op(precond(basis[j]))
        for i in range(j + 1):  # modified Gram-Schmidt
            h[i, j] = scalar(xp.sum(w * basis[i]))
            w = w - h[i, j] * basis[i]
        h[j + 1, j] = scalar(xp.linalg.vector_norm(xp.reshape(w, (-1,))))
        e1 = np.zeros(j + 2)
        e1[0] = beta
        y, *_ = np.linalg.lstsq(h[:j + 2, :j + 1], e1, rcond=None)
        res = float(np.linalg.norm(h[:j + 2, :j + 1] @ y - e1))
        if res <= rtol * beta or h[j + 1, j] <= 1e-300:
            break
        basis.append(w / h[j + 1, j])
    z = basis[0] * float(y[0])
    for i in range(1, y.shape[0]):
        z = z + basis[i] * float(y[i])
    return precond(z)


def _per_axis(value: Any, name: str, d: int) -> list[float]:
    seq = isinstance(value, Sequence) and not isinstance(value, str)
    vals = list(value) if seq else [value] * d
    if len(vals) != d:
        raise ValueError(f"`{name}` must be a scalar or have one entry per axis ({d}); got {len(vals)}.")
    return [check_real(v, f"{name}[{k}]" if seq else name) for k, v in enumerate(vals)]


def _pad_zero(v: Any, xp: Any, axes: Sequence[bool] | None = None) -> Any:
    """``v`` with one zero layer added on both sides of every axis (of the axes flagged in ``axes``)."""
    for ax in range(v.ndim):
        if axes is not None and not axes[ax]:
            continue
        shape = list(v.shape)
        shape[ax] = 1
        z = xp.zeros(tuple(shape), dtype=v.dtype, device=v.device)
        v = xp.concat([z, v, z], axis=ax)
    return v


def _interior(v: Any, axes: Sequence[bool] | None = None) -> Any:
    """``v`` without its first and last layer along every axis (the axes flagged in ``axes``)."""
    if axes is None:
        return v[(slice(1, -1),) * v.ndim]
    return v[tuple(slice(1, -1) if a else slice(None) for a in axes)]


class _Periodized:
    """``sum_m k(x - z - m P)``: the ``P``-periodic version of a 1-D kernel (its spectrum sampled at ``j / P``).

    The image sum stops where the component envelopes fall below ``1e-17`` of their peak
    (``|x - z| < P`` on the grid; further off, the images nearest the points are kept).
    """

    def __init__(self, kernel: SpectralMixture, period: float, label: str):
        s = kernel.scales
        if hasattr(s, "shape"):
            flat = [float(s)] if s.ndim == 0 else [float(s[i]) for i in range(int(s.shape[0]))]
        else:
            flat = [float(v) for v in (s if isinstance(s, Sequence) else [s])]
        smin = min(flat)
        if kernel.spectrum == "gaussian":  # exp(-2 pi^2 s^2 t^2) <= 1e-17 for |t| >= M P
            reach = math.sqrt(17 * math.log(10) / (2 * math.pi**2)) / smin
        else:  # Matérn envelope exp(-lam |t|) |t|^p, lam = 2 pi s sqrt(dof): a margin for the polynomial
            reach = (17 * math.log(10) + 10) / (2 * math.pi * smin * math.sqrt(kernel.dof or 1))
        images = math.ceil(reach / period) + 1
        if images > 200:
            raise ValueError(f"`{label}` is too narrow in frequency for `period` = {period:.6g}: its periodic "
                             f"version would need {2 * images + 1} images (at most 401); got min(`scales`) = "
                             f"{smin:.3g}, widen it.")
        self.kernel, self.period, self.images = kernel, period, images

    def __call__(self, x: Any, z: Any = None, *, dx: int = 0, dz: int = 0) -> Any:
        z = x if z is None else z
        out = self.kernel(x, z, dx=dx, dz=dz)
        for m in range(1, self.images + 1):
            out = out + self.kernel(x, z + m * self.period, dx=dx, dz=dz)
            out = out + self.kernel(x, z - m * self.period, dx=dx, dz=dz)
        return out


def _periods(period: Any, d: int) -> list:
    """``period`` as one entry per axis: ``None`` (Dirichlet) or a positive float."""
    if period is None:
        return [None] * d
    seq = isinstance(period, Sequence) and not isinstance(period, str)
    vals = list(period) if seq else [period] * d
    if len(vals) != d:
        raise ValueError(f"`period` must be None, a scalar or have one entry per axis ({d}); got {len(vals)}.")
    return [None if v is None else check_real(v, f"period[{k}]" if seq else "period", low=0.0, low_open=True)
            for k, v in enumerate(vals)]


def _eig_kron_sum_torch(blocks: list, rhs: Any, shift: float) -> Any:
    """``(A_1 ⊕ ⋯ ⊕ A_d + shift I)^{-1} rhs`` on torch through ``torch.linalg.eig`` (differentiable).

    ``A_k = V_k diag(l_k) V_k^{-1}``; refused when ``cond(V_k) > 1 / sqrt(eps)`` (the error
    grows like ``eps prod cond(V_k)``) or when an eigenvalue sum is zero to working precision.
    """
    import torch

    vals, fwd, bwd = [], [], []
    limit = 1 / math.sqrt(float(torch.finfo(rhs.dtype).eps))
    for k, a in enumerate(blocks):
        w, v = torch.linalg.eig(a)
        cond = float(torch.linalg.cond(v.detach()))
        if not cond < limit:
            raise ValueError(f"the interior collocation block of axis {k} is too far from normal for the torch "
                             f"eigenvector route (cond(V) = {cond:.3g}); use NumPy input (Bartels-Stewart) or a "
                             "larger `jitter`.")
        vals.append(w)
        fwd.append(v)
        bwd.append(torch.linalg.inv(v))
    den = vals[0]
    for w in vals[1:]:
        den = (den[..., None] + w)
    den = den + shift
    scale = sum(float(torch.linalg.matrix_norm(a.detach())) for a in blocks) + abs(shift)
    if not float(den.detach().abs().min()) > float(torch.finfo(rhs.dtype).eps) * scale:
        raise ValueError("the collocation operator is singular to working precision (an eigenvalue sum of the "
                         "interior blocks is zero); change the kernel or `jitter`.")
    y = multi_mode_product(rhs.to(den.dtype), bwd) / den
    return torch.real(multi_mode_product(y, fwd))


@capability("kron", numba=False, notes="d >= 2: NumPy (SciPy Bartels-Stewart) or torch (torch.linalg.eig)")
class GridPDESolver:
    """GP collocation solver of ``L u = f`` on a tensor grid with Dirichlet boundary values.

    ``L u = -sum_k nu_k d^2u/dx_k^2 + sum_k a_k du/dx_k + c u`` (Poisson: ``nu = 1``;
    Helmholtz ``-Δu - kappa^2 u``: ``nu = 1, c = -kappa^2``; advection-diffusion with
    constant coefficients).  The solution is a Gaussian process with the product kernel
    ``k(x, x') = prod_k k_k(x_k, x'_k)``; as in GP-HM [1]_ its values ``U`` on the grid
    ``x_1 × ⋯ × x_d`` (boundary nodes included) are the unknowns and derivatives come
    from the GP interpolant ``u(x) = k(x, X) K^{-1} U``.  ``U`` is fixed by the boundary
    values on the boundary nodes and by ``L u = f`` at every interior node.

    Parameters
    ----------
    grids : sequence of 1-D arrays
        Strictly increasing nodes ``x_k`` (at least 3 per axis); the first and last node
        of each axis are the boundary.
    kernels : SpectralMixture or sequence of SpectralMixture
        The kernel of each axis (one for all axes, or one per axis).
    diffusion : float or sequence of float, default 1
        ``nu_k``.
    advection : float or sequence of float, default 0
        ``a_k``.
    reaction : float, default 0
        ``c``.
    jitter : float, default 1e-10
        ``K_k + jitter * k_k(0) I`` replaces each factor (a relative nugget; spectral-mixture
        Gram matrices on fine grids are numerically singular).  Raised to ``1000 eps`` of the
        dtype when smaller (``1.2e-4`` in float32; no change in float64).
    period : float or sequence of (float or None), optional
        Periodic boundary conditions: ``period[k]`` (one float for all axes, or ``None`` for
        a Dirichlet axis) is the period ``P_k`` of axis ``k``, whose nodes must lie in less
        than one period (e.g. ``x_j = j P / n``, ``j < n``).  On a periodic axis every node is
        an unknown (no boundary values are used) and the kernel is replaced by its periodic
        version ``sum_m k(x - z - m P)``, the kernel whose spectrum is the mixture's sampled at
        the frequencies ``j / P``, so the GP and the solution are ``P``-periodic.  Default:
        Dirichlet on every axis.

    Attributes
    ----------
    shape : tuple of int
        The grid ``(n_1, ..., n_d)``.
    diff1, diff2 : list of arrays
        Differentiation matrices ``D_k^(m) = K_k^(m,0) K_k^{-1}`` (``n_k x n_k``).
    factors : list of arrays
        ``A_k = -nu_k D_k^(2) + a_k D_k^(1)`` on the full axis; ``L_h = A_1 ⊕ ⋯ ⊕ A_d + c I``.
    gram_raw, gram : list of arrays
        ``K_k = k_k(x_k, x_k)`` and ``K_k + jitter * k_k(0) I``.
    grids, kernels, diffusion, advection, reaction, jitter
        The validated inputs (treat as read-only).

    Raises
    ------
    ValueError
        Grids not 1-D, shorter than 3, not strictly increasing or not finite; a wrong
        number of kernels or coefficients; non-finite coefficients; ``jitter < 0``; a
        ``period`` that is not positive, not longer than the extent of its grid, or too
        short for the kernel's narrowest component (more than 401 images).
    TypeError
        Grids of several libraries; a kernel that is not a :class:`SpectralMixture`;
        ``d >= 2`` on a library other than NumPy or torch.

    Notes
    -----
    Because the kernel is a product, ``K = K_1 ⊗ ⋯ ⊗ K_d`` and the grid operator is a
    Kronecker sum ``L_h = A_1 ⊕ ⋯ ⊕ A_d + c I`` of the 1-D operators
    ``A_k = K_k^{(·,0)} K_k^{-1}`` [2]_.  With the boundary part ``U_B = g`` moved to the
    right-hand side, the interior unknowns solve
    ``((A_1)_II ⊕ ⋯ ⊕ (A_d)_II + c I) U_I = f_I - (L_h U_B)_I``, a Kronecker sum of
    non-symmetric ``(n_k - 2)``-order blocks: one direct solve in 1-D, Bartels-Stewart
    (``d = 2``; the two real Schur forms are computed at the first solve and kept, so
    further solves cost ``O(n^3)`` for the triangular Sylvester solve and four GEMMs
    only) or eigenvector bases (``d >= 3``, :func:`kron_sum_solve`) on NumPy,
    eigenvector bases from ``torch.linalg.eig`` on torch (differentiable; refused when an
    eigenvector basis has ``cond > 1 / sqrt(eps)``).  Set-up
    ``O(sum n_k^3)``, solve ``O(sum n_k^3 + N sum n_k)`` flops, ``O(N + sum n_k^2)`` memory:
    no ``N x N`` matrix is formed.  The result equals the dense GP collocation (the zero
    noise limit of GP-HM's residual likelihood) up to ``eps`` times its condition number;
    the tests check this to ``1e-10`` on small grids.  The accuracy against the true PDE
    solution depends on the kernel: mixture components near the solution's frequencies
    (``mu = omega / (2 pi)``) give relative L2 errors of ``1e-4`` to ``1e-6`` on the
    high-frequency Poisson problems of [1]_ with a few points per period (see the docs).
    On torch the solve is differentiable in kernel parameters given as tensors (1-D and 2-D tested).

    Periodic axes: the image sum ``sum_{|m| <= M} k(t - m P)`` stops where the component
    envelopes fall below ``1e-17`` (``M`` about ``1.4 / (s_min P)`` for the Gaussian
    spectrum), so a kernel call costs ``2M + 1`` times the plain one; the periodic Gram
    matrix on a uniform grid is circulant.  Test points of :meth:`interpolate` and
    :meth:`apply_at` are mapped into ``[x_0, x_0 + P)``.  A fully periodic problem without
    a reaction term is singular (constants solve ``L u = 0``).

    References
    ----------
    .. [1] S. Fang, M. Cooley, D. Long, S. Li, R. Kirby, S. Zhe, "Solving high frequency
       and multi-scale PDEs with Gaussian processes", ICLR (2024).
    .. [2] R. E. Lynch, J. R. Rice, D. H. Thomas, "Direct solution of partial difference
       equations by tensor product methods", Numer. Math. 6 (1964).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import GridPDESolver, SpectralMixture
    >>> x = np.linspace(0, 1, 41)
    >>> w = 20.0
    >>> solver = GridPDESolver([x], SpectralMixture([w / (2 * np.pi)], [1.0]))
    >>> res = solver.solve(w**2 * np.sin(w * x), np.sin(w * x))  # -u'' = f, u = sin(20 x)
    >>> bool(np.linalg.norm(res.u - np.sin(w * x)) < 1e-4 * np.linalg.norm(np.sin(w * x)))
    True

    Periodic boundaries, ``-u'' + u = f`` on ``[0, 1)``:

    >>> x = np.arange(64) / 64
    >>> u = np.sin(2 * np.pi * 16 * x)
    >>> per = GridPDESolver([x], SpectralMixture([16.0], [0.5]), reaction=1.0, period=1.0)
    >>> res = per.solve(((2 * np.pi * 16) ** 2 + 1) * u, np.zeros(64))
    >>> bool(np.linalg.norm(res.u - u) < 1e-5 * np.linalg.norm(u))
    True
    """

    def __init__(self, grids: Sequence[Any], kernels: Any, *, diffusion: Any = 1.0, advection: Any = 0.0,
                 reaction: float = 0.0, jitter: float = 1e-10, period: Any = None):
        if isinstance(grids, str) or not isinstance(grids, Sequence) or len(grids) == 0:
            raise TypeError(f"`grids` must be a non-empty list of 1-D arrays; got {type(grids).__name__}.")
        d = len(grids)
        xp = array_namespace(*grids)
        pts = []
        for k, g in enumerate(grids):
            label = f"grids[{k}]"
            g = xp.asarray(g) if not hasattr(g, "shape") else g
            check_ndim(g, label, 1)
            g = as_floating(g, label, xp, allow_complex=False)
            check_finite(g, label, xp)
            if g.shape[0] < 3:
                raise ValueError(f"`{label}` must have at least 3 nodes (two boundary nodes and an interior "
                                 f"one); got {g.shape[0]}.")
            step = scalar(xp.min(g[1:] - g[:-1]))
            if not step > 0:
                raise ValueError(f"`{label}` must be strictly increasing; got a step of {step:.3g}.")
            pts.append(copy_array(g, xp) if g is grids[k] else g)  # private: the factors depend on it
        if isinstance(kernels, SpectralMixture):
            kernels = [kernels] * d
        if isinstance(kernels, str) or not isinstance(kernels, Sequence):
            raise TypeError(f"`kernels` must be a SpectralMixture or a list of them; got {type(kernels).__name__}.")
        if len(kernels) != d:
            raise ValueError(f"`kernels` must have one kernel per axis of `grids` ({d}); got {len(kernels)}.")
        for k, kern in enumerate(kernels):
            if not isinstance(kern, SpectralMixture):
                raise TypeError(f"`kernels[{k}]` must be a SpectralMixture; got {type(kern).__name__}.")
        if d >= 2 and not (is_numpy(xp) or is_torch(xp)):
            raise TypeError(f"`grids` with {d} axes need NumPy or torch arrays (the non-symmetric Kronecker-sum "
                            f"solve needs a general eigensolver); got arrays from {xp.__name__}.")
        nu = _per_axis(diffusion, "diffusion", d)
        adv = _per_axis(advection, "advection", d)
        periods = _periods(period, d)
        self.period = periods
        self._dirichlet = [p is None for p in periods]
        self._kern: list = []
        for k, (g, p) in enumerate(zip(pts, periods, strict=True)):
            if p is None:
                self._kern.append(kernels[k])
                continue
            span = scalar(g[-1] - g[0])
            if not p > span:
                raise ValueError(f"`period[{k}]` must exceed the extent of `grids[{k}]` ({span:.6g}: the nodes "
                                 f"cover one period without its right end); got {p:.6g}.")
            self._kern.append(_Periodized(kernels[k], p, f"kernels[{k}]"))
        self.reaction = check_real(reaction, "reaction")
        self.jitter = check_real(jitter, "jitter", low=0.0)
        self.diffusion, self.advection = nu, adv
        self.grids, self.kernels = pts, list(kernels)
        self.shape = tuple(int(g.shape[0]) for g in pts)
        self._inv: Any = None
        self._schur: Any = None
        self.gram_raw, self.gram, self.diff1, self.diff2, self.factors = [], [], [], [], []
        for k, (g, kern) in enumerate(zip(pts, self._kern, strict=True)):
            gram = kern(g, g)
            n = g.shape[0]
            amp = xp.max(xp.abs(gram))  # = k(0) for a valid kernel
            if not scalar(amp) > 0:
                raise ValueError(f"`kernels[{k}]` is zero on `grids[{k}]`.")
            self.gram_raw.append(gram)
            nugget = max(self.jitter, 1000 * float(xp.finfo(gram.dtype).eps))  # float32: >= 1.2e-4
            gram = gram + (nugget * amp) * xp.eye(n, dtype=gram.dtype, device=gram.device)
            # D = K^(m,0) K^{-1} = (K^{-1} K^(0,m))^T, K symmetric
            d1 = xp.linalg.solve(gram, kern(g, g, dz=1)).mT
            d2 = xp.linalg.solve(gram, kern(g, g, dz=2)).mT
            fac = (-nu[k]) * d2 + adv[k] * d1
            if not bool(xp.all(xp.isfinite(fac))):
                raise ValueError(f"the differentiation matrices of `kernels[{k}]` on `grids[{k}]` are not finite "
                                 "(a singular Gram matrix: raise `jitter`).")
            self.gram.append(gram)
            self.diff1.append(d1)
            self.diff2.append(d2)
            self.factors.append(fac)

    def __repr__(self) -> str:
        return f"GridPDESolver(shape={self.shape})"

    @property
    def _xp(self) -> Any:
        # computed, not stored: a module in the instance dict would look like data to walkers
        return array_namespace(*self.grids)

    def _grid_array(self, v: Any, name: str) -> Any:
        xp = self._xp
        array_namespace(v, *self.grids)  # TypeError for another library
        v = xp.asarray(v) if not hasattr(v, "shape") else v
        if tuple(v.shape) != self.shape:
            raise ValueError(f"`{name}` must have the grid's shape {self.shape} (the lengths of `grids`); "
                             f"got shape {tuple(v.shape)}.")
        v = as_floating(v, name, xp, allow_complex=False)
        check_finite(v, name, xp)
        return v

    def apply(self, u: Any) -> Any:
        """The grid operator ``L_h u = (A_1 ⊕ ⋯ ⊕ A_d + c I) u`` on all nodes.

        Parameters
        ----------
        u : array, shape ``self.shape``
            Values on the grid.

        Returns
        -------
        array, shape ``self.shape``
            ``L`` applied to the GP interpolant of ``u``, at every node (boundary rows
            included).

        Raises
        ------
        ValueError
            ``u`` of another shape, or holding NaN/Inf.
        TypeError
            ``u`` of another library; boolean, complex or non-numeric ``u``.
        """
        return self._apply(self._grid_array(u, "u"))

    def _apply(self, u: Any) -> Any:
        d = len(self.shape)
        out = self.reaction * u if self.reaction != 0 else None
        for k, a in enumerate(self.factors):
            mats = [None] * d
            mats[k] = a
            term = multi_mode_product(u, mats)
            out = term if out is None else out + term
        return out

    def solve(self, f: Any, boundary: Any) -> Any:
        """GP collocation solution of ``L u = f`` inside, ``u = g`` on the boundary nodes.

        Parameters
        ----------
        f : array, shape ``self.shape``
            Right-hand side at the nodes (its boundary entries are not used).
        boundary : array, shape ``self.shape``
            Dirichlet values ``g`` (its interior entries are not used).

        Returns
        -------
        GridPDESolution
            ``u`` (the GP solution at the nodes), ``coef`` (its weights ``alpha``, for
            :meth:`interpolate` and :meth:`apply_at`) and ``values`` (the collocation
            unknowns ``U``: ``g`` on the boundary nodes), each of shape ``self.shape``.

        Raises
        ------
        ValueError
            ``f`` or ``boundary`` not of the grid's shape or holding NaN/Inf; a singular
            collocation operator (torch route); a solution that overflows.
        TypeError
            Arrays of another library; boolean, complex or non-numeric arrays.
        numpy.linalg.LinAlgError
            A collocation operator singular to working precision (NumPy routes).
        """
        xp = self._xp
        f = self._grid_array(f, "f")
        g = self._grid_array(boundary, "boundary")
        ub = g - self._pad(self._int(g))
        rhs = self._int(f - self._apply(ub))
        u = ub + self._pad(self._interior_solve(rhs))
        coef = multi_mode_product(u, self._gram_inv())
        mean = multi_mode_product(coef, self.gram_raw)
        if not (bool(xp.all(xp.isfinite(mean))) and bool(xp.all(xp.isfinite(coef)))):
            raise ValueError("the solution is not finite: the collocation operator is singular to working "
                             "precision, or `f`/`boundary` are too large for the dtype.")
        return GridPDESolution(mean, coef, u)

    def solve_semilinear(self, f: Any, boundary: Any, nonlinearity: Callable[[Any], Any], *,
                         derivative: Callable[[Any], Any] | None = None, method: str | None = None,
                         tol: float = 1e-5, maxiter: int = 100) -> SemilinearSolution:
        """Solve ``L u + N(u) = f`` (e.g. Allen-Cahn) by Newton's method or Picard iteration.

        Picard: ``L u_{k+1} = f - N(u_k)`` at the interior nodes, ``u_{k+1} = g`` on the
        boundary, starting from ``u = 0``: each step is one :meth:`solve`.  Newton:
        ``(L_h + diag N'(u_k))_II delta = f - L_h u_k - N(u_k)`` at the interior nodes, the
        Jacobian solved directly in 1-D and by GMRES preconditioned with the Kronecker-sum
        solve of ``L_h + mean(N'(u_k)) I`` for ``d >= 2`` (the same fast solver as
        :meth:`solve`, with a shifted reaction), with a backtracking step on the residual.

        Parameters
        ----------
        f, boundary
            As for :meth:`solve`.
        nonlinearity : callable
            ``N``: maps the grid values (an array of ``self.shape``) to an array of the same
            shape, elementwise (``lambda u: u**3`` for Allen-Cahn with the linear ``-u`` term
            in ``reaction``).
        derivative : callable, optional
            ``N'``, elementwise (``lambda u: 3 * u**2``); needed by Newton's method.
        method : {"newton", "picard"}, optional
            Default: ``"newton"`` when ``derivative`` is given, else ``"picard"``.
        tol : float, default 1e-5
            Stop when the step is small, ``||u_{k+1} - u_k|| <= tol ||u_{k+1}||``.  Not much
            below the sensitivity of the linear solve (``eps`` times the condition number of
            the jittered collocation system, often ``1e-7`` to ``1e-5`` relative): the iterates
            stall at that level.
        maxiter : int, default 100
            Cap on the outer (Newton or Picard) steps.

        Returns
        -------
        SemilinearSolution
            The last iterate (``u``, ``coef``, ``values`` as from :meth:`solve`), the number of
            steps ``nit``, ``converged`` and the final relative interior residual
            ``||L_h U + N(U) - f||_I / ||f||_I``.

        Raises
        ------
        ValueError
            As :meth:`solve`; ``N`` or ``N'`` returning another shape or NaN/Inf; ``tol <= 0``;
            an unknown ``method``; Newton without ``derivative``.
        TypeError
            ``nonlinearity`` or ``derivative`` not callable.

        Warns
        -----
        KronConvergenceWarning
            If ``maxiter`` steps do not reach ``tol`` (the last iterate is returned with
            ``converged=False``).

        Notes
        -----
        Picard is a contraction when ``Lip(N) ||L_h^{-1}|| < 1`` (errors fall by that
        factor per step); a linear part of the equation belongs in ``reaction``.  Newton
        converges quadratically near a solution whose Jacobian is invertible, in a few
        steps where Picard needs many or diverges (a large ``Lip(N)``); ``N'`` varies over
        the grid, so the Jacobian is not a Kronecker sum; GMRES with the shifted
        Kronecker-sum preconditioner is stopped at a relative residual of
        ``min(1e-2, ||r||)`` (inexact Newton: superlinear convergence without oversolving).
        The collocation operator has near-zero eigenvalues in directions the kernel does
        not support, so GMRES takes tens of iterations per step (about 50 on the 40 x 40
        Allen-Cahn test) rather than a few.  Costs: Picard one :meth:`solve` per step; Newton in 1-D one dense
        ``(n-2)``-order solve per step, for ``d >= 2`` one preconditioner solve (as
        :meth:`solve`) per GMRES iteration.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.kron import GridPDESolver, SpectralMixture
        >>> x = np.linspace(0, 1, 41)
        >>> u = np.sin(np.pi * x) + 0.1 * np.sin(20 * x)
        >>> f = np.pi**2 * np.sin(np.pi * x) + 40 * np.sin(20 * x) + u**3  # -u'' + u^3 = f
        >>> solver = GridPDESolver([x], SpectralMixture([0.0, 20 / (2 * np.pi)], [1.0, 1.0]))
        >>> res = solver.solve_semilinear(f, u, lambda v: v**3, derivative=lambda v: 3 * v**2)
        >>> bool(res.converged and np.linalg.norm(res.u - u) < 1e-5 * np.linalg.norm(u)), res.nit <= 5
        (True, True)
        """
        import warnings

        tol = check_real(tol, "tol", low=0.0, low_open=True)
        maxiter = check_int(maxiter, "maxiter", low=1)
        if not callable(nonlinearity):
            raise TypeError(f"`nonlinearity` must be callable; got {type(nonlinearity).__name__}.")
        if derivative is not None and not callable(derivative):
            raise TypeError(f"`derivative` must be callable or None; got {type(derivative).__name__}.")
        if method is None:
            method = "picard" if derivative is None else "newton"
        if method not in ("newton", "picard"):
            raise ValueError(f"`method` must be 'newton' or 'picard'; got {method!r}.")
        if method == "newton" and derivative is None:
            raise ValueError("`method='newton'` needs `derivative` (N', elementwise).")
        xp = self._xp
        f = self._grid_array(f, "f")
        g = self._grid_array(boundary, "boundary")
        call = _checked_call(self.shape, xp)
        fi = self._int(f)
        fnorm = max(scalar(xp.linalg.vector_norm(xp.reshape(fi, (-1,)))), 1e-300)

        def residual(v):
            return self._int(self._apply(v) + call(nonlinearity, v, "nonlinearity") - f)

        def rel(r):
            return scalar(xp.linalg.vector_norm(xp.reshape(r, (-1,)))) / fnorm

        change, norm, nit = math.inf, 1.0, 0
        if method == "picard":
            u = xp.zeros(self.shape, dtype=f.dtype, device=f.device)
            sol: Any = None
            for nit in range(1, maxiter + 1):  # noqa: B007
                sol = self.solve(f - call(nonlinearity, u, "nonlinearity"), g)
                norm = scalar(xp.linalg.vector_norm(xp.reshape(sol.u, (-1,))))
                change = scalar(xp.linalg.vector_norm(xp.reshape(sol.u - u, (-1,))))
                u = sol.u
                if change <= tol * norm:
                    break
            values = sol.values
        else:
            values = self.solve(f - call(nonlinearity, g - self._pad(self._int(g)), "nonlinearity"), g).values
            r = residual(values)
            assert derivative is not None  # checked above; for the type checker
            for nit in range(1, maxiter + 1):  # noqa: B007
                jac = self._int(call(derivative, values, "derivative"))
                r_norm = rel(r)
                # inexact Newton: the linear residual need only fall below min(1e-2, ||r||) of ||r||
                step = self._newton_step(jac, -r, xp, rtol=max(1e-12, min(1e-2, r_norm)))
                lam = 1.0
                for _ in range(30):  # backtracking on the residual norm
                    trial = values + self._pad(lam * step)
                    r_new = residual(trial)
                    if rel(r_new) <= (1 - 1e-4 * lam) * r_norm or r_norm == 0:
                        break
                    lam /= 2
                values, r = trial, r_new
                norm = scalar(xp.linalg.vector_norm(xp.reshape(values, (-1,))))
                change = lam * scalar(xp.linalg.vector_norm(xp.reshape(step, (-1,))))
                if change <= tol * norm:
                    break
            coef = multi_mode_product(values, self._gram_inv())
            sol = GridPDESolution(multi_mode_product(coef, self.gram_raw), coef, values)
        res = residual(sol.values)
        converged = change <= tol * norm
        if not converged:
            steps = "Picard" if method == "picard" else "Newton"
            warnings.warn(f"solve_semilinear: {maxiter} {steps} steps left a relative change of "
                          f"{change / max(norm, 1e-300):.3g} > `tol` = {tol:.3g}.", KronConvergenceWarning,
                          stacklevel=2)
        if not (bool(xp.all(xp.isfinite(sol.u))) and bool(xp.all(xp.isfinite(sol.coef)))):
            raise ValueError("the solution is not finite: the iteration diverged, or `f`/`boundary` are too large "
                             "for the dtype.")
        return SemilinearSolution(sol.u, sol.coef, sol.values, nit, converged, rel(res))

    def _newton_step(self, jac: Any, rhs: Any, xp: Any, *, rtol: float = 1e-12) -> Any:
        """``((L_h)_II + diag(jac)) x = rhs`` on the interior grid."""
        if len(self.shape) == 1:
            a = self._blocks()[0]
            n = a.shape[0]
            a = a + xp.eye(n, dtype=a.dtype, device=a.device) * (jac + self.reaction)[None, :]
            return xp.linalg.solve(a, rhs[:, None])[:, 0]
        mean = scalar(xp.mean(jac))
        blocks = self._blocks()

        def op(v):
            out = (self.reaction + jac) * v
            for k, a in enumerate(blocks):
                mats = [None] * len(blocks)
                mats[k] = a
                out = out + multi_mode_product(v, mats)
            return out

        return _gmres(op, lambda v: self._interior_solve(v, mean), rhs, xp, rtol=rtol)

    def _int(self, v: Any) -> Any:
        """The unknowns' part of a grid array: Dirichlet axes lose their end nodes."""
        return _interior(v, self._dirichlet)

    def _pad(self, v: Any) -> Any:
        return _pad_zero(v, self._xp, self._dirichlet)

    def _blocks(self) -> list:
        return [a[1:-1, 1:-1] if dirichlet else a for a, dirichlet in zip(self.factors, self._dirichlet, strict=True)]

    def _interior_solve(self, rhs: Any, extra: float = 0.0) -> Any:
        """``((A_1)_II ⊕ ⋯ ⊕ (A_d)_II + (c + extra) I)^{-1} rhs`` on the interior grid."""
        xp = self._xp
        blocks = self._blocks()
        shift = self.reaction + extra
        if len(self.shape) == 1:
            a = blocks[0]
            n = a.shape[0]
            if shift != 0:
                a = a + shift * xp.eye(n, dtype=a.dtype, device=a.device)
            rhs = xp.astype(rhs, a.dtype) if rhs.dtype != a.dtype else rhs
            return xp.linalg.solve(a, rhs[:, None])[:, 0]
        if is_numpy(xp) and len(self.shape) == 2:
            return self._bartels_stewart(blocks, rhs, extra)
        if is_numpy(xp):
            v = kron_sum_solve(blocks, xp.reshape(rhs, (-1,)), shift=shift)
            return xp.reshape(v, tuple(int(b.shape[0]) for b in blocks))
        return _eig_kron_sum_torch(blocks, rhs, shift)

    def _bartels_stewart(self, blocks: list, rhs: Any, extra: float = 0.0) -> Any:
        """``(A_1 + (c + extra) I) X + X A_2^T = R`` (NumPy), the two Schur forms computed once per solver."""
        import numpy as np
        import scipy.linalg

        if self._schur is None:
            a = blocks[0] + self.reaction * np.eye(blocks[0].shape[0], dtype=blocks[0].dtype)
            r, u = scipy.linalg.schur(a, output="real")
            t, v = scipy.linalg.schur(blocks[1], output="real")
            den = _schur_eigvals(r)[:, None] + np.conj(_schur_eigvals(t))[None, :]
            scale = float(np.linalg.norm(blocks[0]) + np.linalg.norm(blocks[1])) + abs(self.reaction)
            _check_denominators(den.reshape(-1), np, "the collocation operator", scale,
                                "(||A_1||_F + ||A_2||_F + |c|)")
            self._schur = (r, u, t, v, scipy.linalg.get_lapack_funcs("trsyl", (r, t)))
        r, u, t, v, trsyl = self._schur
        if extra != 0:  # same Schur vectors: R + extra I is the Schur form of A_1 + (c + extra) I
            r = r + extra * np.eye(r.shape[0], dtype=r.dtype)
            den = _schur_eigvals(r)[:, None] + np.conj(_schur_eigvals(t))[None, :]
            scale = float(np.linalg.norm(blocks[0]) + np.linalg.norm(blocks[1])) + abs(self.reaction + extra)
            _check_denominators(den.reshape(-1), np, "the collocation operator", scale,
                                "(||A_1||_F + ||A_2||_F + |c|)")
        rhs = rhs.astype(r.dtype, copy=False)
        y, sc, info = trsyl(r, t, u.T @ rhs @ v, tranb="C")  # R Y + Y T^T = sc F
        if info < 0:  # pragma: no cover - LAPACK argument error
            raise np.linalg.LinAlgError(f"?TRSYL: illegal value in argument {-info}.")
        if info == 1:
            raise np.linalg.LinAlgError("the collocation operator is singular to working precision (?TRSYL "
                                        "perturbed it).")
        if sc != 1.0:
            with np.errstate(over="ignore"):
                y = y / sc
        return u @ y @ v.T

    def _gram_inv(self) -> list:
        if self._inv is None:
            xp = self._xp
            self._inv = [xp.linalg.inv(g) for g in self.gram]  # small n_k x n_k
        return self._inv

    def _points(self, points: Sequence[Any]) -> list:
        xp = self._xp
        d = len(self.shape)
        if isinstance(points, str) or not isinstance(points, Sequence):
            raise TypeError(f"`points` must be a list of {d} 1-D arrays; got {type(points).__name__}.")
        if len(points) != d:
            raise ValueError(f"`points` must have one array per axis ({d}); got {len(points)}.")
        out = []
        for k, t in enumerate(points):
            label = f"points[{k}]"
            array_namespace(t, *self.grids)  # TypeError for another library
            t = xp.asarray(t) if not hasattr(t, "shape") else t
            check_ndim(t, label, 1)
            t = as_floating(t, label, xp, allow_complex=False)
            check_finite(t, label, xp)
            p = self.period[k]
            if p is not None:  # the image sum covers |t - x| < P: take the copy of t in [x_0, x_0 + P)
                t = self.grids[k][0] + (t - self.grids[k][0]) % p
            out.append(t)
        return out

    def apply_at(self, coef: Any, points: Sequence[Any]) -> Any:
        """``L u`` of the GP solution ``u(x) = k(x, X) alpha`` on the test grid ``t_1 × ⋯ × t_d``.

        Parameters
        ----------
        coef : array, shape ``self.shape``
            Interpolant weights ``alpha`` (``solve(...).coef``).
        points : sequence of 1-D arrays
            Test nodes ``t_k`` per axis.

        Returns
        -------
        array, shape ``(len(t_1), ..., len(t_d))``
            ``sum_k (K*_1 ⊗ ⋯ ⊗ (-nu_k K*_k^(2,0) + a_k K*_k^(1,0)) ⊗ ⋯ ⊗ K*_d) alpha
            + c (K*_1 ⊗ ⋯ ⊗ K*_d) alpha`` with ``K*_k = k_k(t_k, x_k)``: the PDE residual
            off the collocation nodes is ``apply_at(coef, points) - f(points)`` (the objective
            of :func:`fit_grid_pde`).  ``O(d T sum n_k)`` flops.

        Raises
        ------
        ValueError
            Shapes that do not match, NaN/Inf.
        TypeError
            Arrays of another library; boolean, complex or non-numeric arrays.
        """
        coef = self._grid_array(coef, "coef")
        return self._apply_at(coef, self._points(points))

    def _apply_at(self, coef: Any, pts: list) -> Any:
        xp = self._xp
        base = [kern(t, g) for t, g, kern in zip(pts, self.grids, self._kern, strict=True)]
        out = self.reaction * multi_mode_product(coef, base) if self.reaction != 0 else None
        for j, (t, g, kern) in enumerate(zip(pts, self.grids, self._kern, strict=True)):
            op = (-self.diffusion[j]) * kern(t, g, dx=2)
            if self.advection[j] != 0:
                op = op + self.advection[j] * kern(t, g, dx=1)
            mats = list(base)
            mats[j] = op
            term = multi_mode_product(coef, mats)
            out = term if out is None else out + term
        if not bool(xp.all(xp.isfinite(out))):
            raise ValueError("`L u` overflows at `points`: `coef` is too large for the dtype.")
        return out

    def interpolate(self, coef: Any, points: Sequence[Any]) -> Any:
        """The GP solution ``u(t) = k(t, X) alpha`` on the test grid ``t_1 × ⋯ × t_d``.

        Parameters
        ----------
        coef : array, shape ``self.shape``
            Interpolant weights ``alpha`` (``solve(...).coef``).
        points : sequence of 1-D arrays
            Test nodes ``t_k`` per axis (any order, inside or outside the box).

        Returns
        -------
        array, shape ``(len(t_1), ..., len(t_d))``
            ``(k_1(t_1, x_1) ⊗ ⋯ ⊗ k_d(t_d, x_d)) alpha``, ``O(T sum n_k)`` flops.

        Raises
        ------
        ValueError
            Shapes that do not match, NaN/Inf.
        TypeError
            Arrays of another library; boolean, complex or non-numeric arrays.
        """
        xp = self._xp
        coef = self._grid_array(coef, "coef")
        pts = self._points(points)
        mats = [kern(t, g) for t, g, kern in zip(pts, self.grids, self._kern, strict=True)]
        out = multi_mode_product(coef, mats)
        if not bool(xp.all(xp.isfinite(out))):
            raise ValueError("the interpolant overflows: `coef` is too large for the dtype.")
        return out
