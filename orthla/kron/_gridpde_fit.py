"""Hyperparameters of the GP collocation PDE solver by minimizing the off-node PDE residual."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability, is_torch
from .._validate import as_floating, check_finite, check_int
from ._gridpde import GridPDESolver
from ._spectral_kernels import SpectralMixture

__all__ = ["GridPDEFit", "fit_grid_pde"]

_FIT_NAMES = ("freqs", "scales", "log_weights")


class GridPDEFit(NamedTuple):
    """Result of :func:`fit_grid_pde`.

    Attributes
    ----------
    kernels : list of SpectralMixture
        The fitted kernel of each axis (parameters as NumPy float64 arrays).
    solver : GridPDESolver
        The solver built with them (on the library of ``grids``).
    solution : GridPDESolution
        Its solution of the problem.
    objective : float
        The final relative squared residual ``||L u(t) - f(t)||^2 / ||f(t)||^2``.
    nit : int
        L-BFGS-B iterations.
    success : bool
        Whether SciPy's L-BFGS-B reported convergence.
    message : str
        SciPy's message.
    """

    kernels: list
    solver: Any
    solution: Any
    objective: float
    nit: int
    success: bool
    message: str


def _host(v: Any) -> np.ndarray:
    """A small parameter vector as NumPy float64 (element by element, any library)."""
    if isinstance(v, list | tuple | float | int):
        return np.atleast_1d(np.asarray(v, dtype=np.float64))
    if v.ndim == 0:
        return np.array([float(v)])
    return np.array([float(v[i]) for i in range(int(v.shape[0]))])


@capability("kron", numba=False, notes="gradient by torch autograd on torch; central differences elsewhere")
def fit_grid_pde(grids: Sequence[Any], kernels: Any, f: Any, boundary: Any, points: Sequence[Any], f_points: Any, *,
                 diffusion: Any = 1.0, advection: Any = 0.0, reaction: float = 0.0, jitter: float = 1e-10,
                 fit: Sequence[str] = _FIT_NAMES, maxiter: int = 50) -> GridPDEFit:
    """Fit the spectral-mixture hyperparameters of :class:`GridPDESolver` to the PDE.

    Minimizes the relative squared PDE residual of the GP solution at test points off
    the collocation nodes, ``J = ||L u(t) - f(t)||^2 / ||f(t)||^2``, over the mixture
    frequencies, log-scales and log-weights of every axis, with SciPy's L-BFGS-B on
    ``log J`` (``J`` spans many orders of magnitude over a frequency range), within bounds:
    ``|mu| <= 2 nyq``, ``1e-3 / length <= s <= 4 nyq``, ``|log w| <= 50`` per axis, with
    ``nyq = (n - 1) / (2 length)`` (widened to hold the starting point).

    Parameters
    ----------
    grids, kernels, f, boundary
        As for :class:`GridPDESolver` and :meth:`GridPDESolver.solve`; ``kernels`` is the
        starting point.
    points : sequence of 1-D arrays
        Test nodes ``t_k`` per axis (e.g. the cell midpoints of ``grids``).
    f_points : array, shape ``(len(t_1), ..., len(t_d))``
        ``f`` on the test grid.
    diffusion, advection, reaction, jitter
        As for :class:`GridPDESolver`.
    fit : sequence of {"freqs", "scales", "log_weights"}
        The parameters to fit (the others stay at their starting values).
    maxiter : int, default 50
        L-BFGS-B iteration cap.

    Returns
    -------
    GridPDEFit

    Raises
    ------
    ValueError
        As :class:`GridPDESolver` and its methods; an unknown name in ``fit``;
        ``f_points`` not of the test grid's shape or not finite; a starting point whose
        collocation system is singular.
    TypeError
        As :class:`GridPDESolver`.

    Notes
    -----
    Each objective evaluation is one set-up and solve of :class:`GridPDESolver`
    (``O(sum n_k^3 + N sum n_k)``) plus ``O(d T sum n_k)`` for the residual at ``T`` test
    points.  On torch the gradient comes from autograd through the kernel
    derivatives, the Gram solves and the collocation solve; on other libraries from
    central differences (``1 + 2P`` evaluations for ``P`` parameters).  The
    parameters (a few numbers) and the objective go through the host for SciPy's
    optimizer.  This is a local refinement, not a frequency search: ``J`` falls by many
    orders of magnitude over a band of frequencies around the solution's and is flat (at
    the rounding level) inside it, so the fitted frequencies are *not* the true ones in
    general, only frequencies giving a small residual; far from the band the collocation
    system is ill-conditioned, ``J`` is dominated by rounding and the search stalls.
    Start the frequencies near the solution's, e.g. from
    :func:`fit_grid_pde_spectrum` (GP-HM's many-frequency start with Jeffreys-prior
    pruning, which finds them).  A common scale of all weights leaves ``J`` unchanged.

    References
    ----------
    .. [1] S. Fang, M. Cooley, D. Long, S. Li, R. Kirby, S. Zhe, "Solving high frequency
       and multi-scale PDEs with Gaussian processes", ICLR (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import SpectralMixture, fit_grid_pde
    >>> w = 100.0
    >>> x = np.linspace(0, 1, 60)
    >>> t = (x[1:] + x[:-1]) / 2  # cell midpoints
    >>> start = SpectralMixture([13.0], [0.5])  # the true frequency is 100 / (2 pi) = 15.9
    >>> res = fit_grid_pde([x], start, w**2 * np.sin(w * x), np.sin(w * x), [t],
    ...                    w**2 * np.sin(w * t), fit=("freqs", "scales"), jitter=1e-6)
    >>> bool(res.objective < 1e-7)
    True
    """
    import scipy.optimize

    maxiter = check_int(maxiter, "maxiter", low=1)
    if isinstance(fit, str):
        fit = (fit,)
    for name in fit:
        if name not in _FIT_NAMES:
            raise ValueError(f"`fit` entries must be among {_FIT_NAMES}; got {name!r}.")
    opts = {"diffusion": diffusion, "advection": advection, "reaction": reaction, "jitter": jitter}
    start = GridPDESolver(grids, kernels, **opts)  # validates grids, kernels, coefficients
    xp = array_namespace(*start.grids)
    f = start._grid_array(f, "f")
    g = start._grid_array(boundary, "boundary")
    pts = start._points(points)
    tshape = tuple(int(t.shape[0]) for t in pts)
    for k, n in enumerate(tshape):
        if n == 0:
            raise ValueError(f"`points[{k}]` must hold at least one test node; got an empty array.")
    array_namespace(f_points, *start.grids)
    fp = xp.asarray(f_points) if not hasattr(f_points, "shape") else f_points
    if tuple(fp.shape) != tshape:
        raise ValueError(f"`f_points` must have the test grid's shape {tshape} (the lengths of `points`); "
                         f"got shape {tuple(fp.shape)}.")
    fp = as_floating(fp, "f_points", xp, allow_complex=False)
    check_finite(fp, "f_points", xp)
    fp = fp if fp.dtype == f.dtype else xp.astype(fp, f.dtype)
    fmax = float(xp.max(xp.abs(fp)))
    if not fmax > 0:
        raise ValueError("`f_points` must not be all zero (the objective is relative to ||f(t)||).")
    fps = fp / fmax  # J computed on residuals scaled by 1 / max|f(t)|: no overflow at 2**+-500
    fnorm = xp.sum(fps * fps)

    # theta: per axis, per fitted name, Q entries (scales in the log domain)
    init = []
    for kern in start.kernels:
        mu = _host(kern.freqs)
        vals = {"freqs": mu, "scales": np.log(_host(kern.scales)),
                "log_weights": np.zeros_like(mu) if kern.log_weights is None else _host(kern.log_weights)}
        init.append(vals)
    layout = [(k, name, int(init[k][name].shape[0])) for k in range(len(init)) for name in fit]
    theta0 = np.concatenate([init[k][name] for k, name, _ in layout]) if layout else np.zeros(0)
    torch_grad = is_torch(xp)
    bounds = []
    for k, name, q in layout:
        g_k = _host(start.grids[k])
        length = float(g_k[-1] - g_k[0])
        nyq = (g_k.shape[0] - 1) / (2 * length)  # cycles per unit length
        lo, hi = {"freqs": (-2 * nyq, 2 * nyq), "scales": (np.log(1e-3 / length), np.log(4 * nyq)),
                  "log_weights": (-50.0, 50.0)}[name]
        v = init[k][name]
        bounds += [(min(lo, float(v[i])), max(hi, float(v[i]))) for i in range(q)]

    def build(theta, as_xp):
        vals = [dict(v) for v in init]
        pos = 0
        for k, name, q in layout:
            vals[k][name] = theta[pos:pos + q]
            pos += q
        out = []
        for v, kern in zip(vals, start.kernels, strict=True):
            shape = {"spectrum": kern.spectrum, "dof": kern.dof}  # the spectrum family is kept
            if as_xp:
                v = {key: xp.asarray(a, dtype=f.dtype, device=f.device) if isinstance(a, np.ndarray) else a
                     for key, a in v.items()}
                out.append(SpectralMixture(v["freqs"], xp.exp(v["scales"]), log_weights=v["log_weights"], **shape))
            else:
                v = {key: np.asarray(a, dtype=np.float64) for key, a in v.items()}
                out.append(SpectralMixture(v["freqs"], np.exp(v["scales"]), log_weights=v["log_weights"], **shape))
        return out

    def objective(theta_t):
        solver = GridPDESolver(start.grids, build(theta_t, True), **opts)
        sol = solver.solve(f, g)
        r = solver._apply_at(sol.coef, pts) / fmax - fps
        return xp.sum(r * r) / fnorm, solver, sol

    def fun(theta):
        try:
            if torch_grad:
                import torch

                th = torch.tensor(theta, dtype=f.dtype, device=f.device, requires_grad=True)
                val = xp.log(objective(th)[0])
                (grad,) = torch.autograd.grad(val, th)
                return float(val.detach()), grad.detach().cpu().numpy().astype(np.float64)
            val = logj(theta)
            grad = np.empty_like(theta)
            for i in range(theta.shape[0]):  # central differences, relative step 1e-6
                h = 1e-6 * max(1.0, abs(theta[i]))
                e = np.zeros_like(theta)
                e[i] = h
                grad[i] = (logj(theta + e) - logj(theta - e)) / (2 * h)
            return val, grad
        except (ValueError, np.linalg.LinAlgError):
            return 1e3, np.zeros_like(theta)

    def logj(theta):
        return float(xp.log(objective(xp.asarray(theta, dtype=f.dtype, device=f.device))[0]))

    res = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": maxiter})
    best = xp.asarray(res.x, dtype=f.dtype, device=f.device)
    val, solver, sol = objective(best)
    if not bool(xp.isfinite(val)):
        raise ValueError("the PDE residual at `points` overflows: `f`, `boundary` or `f_points` are too large "
                         "for the dtype.")
    return GridPDEFit(build(res.x, False), solver, sol, float(val.detach() if torch_grad else val),
                      int(res.nit), bool(res.success), str(res.message))

