"""Learning the spectral mixture of a GP collocation PDE solver (GP-HM): wide frequency grid, Jeffreys pruning."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability
from .._validate import check_int, check_real
from ._common import KronConvergenceWarning
from ._gridpde import GridPDESolver, _interior
from ._gridpde_evidence import neg_log_evidence
from ._spectral_kernels import SpectralMixture

__all__ = ["GridPDESpectrumFit", "fit_grid_pde_spectrum"]

_MIN_WIDTH = 0.1  # narrowest component, cycles per domain length
_LW_BOUNDS = (-40.0, 10.0)  # log-weights of a unit-RMS field; Jeffreys drives unneeded ones to the floor


class GridPDESpectrumFit(NamedTuple):
    """Result of :func:`fit_grid_pde_spectrum`.

    Attributes
    ----------
    kernels : list of SpectralMixture
        The kernel of each axis used for the final solve: the surviving components at
        their learned frequencies, with equal weights and widths raised to at least
        ``1 / L_k`` (see Notes; parameters as lists of Python floats, usable with points of
        any array library).
    freqs : list of numpy.ndarray
        Per axis, the surviving mixture frequencies ``mu_q`` (cycles per unit length; the
        angular frequency is ``2 pi mu_q``), by decreasing weight.
    weights : list of numpy.ndarray
        The matching weights relative to the largest of the axis (the first is 1).
    solver : GridPDESolver
        The solver built with ``kernels``.
    solution : GridPDESolution
        Its solution of the problem.
    objective : float
        ``-log p(U | theta) + sum log w`` at the end of the last refinement fit (evidence of
        the collocation values scaled to unit RMS, up to ``N log(2 pi) / 2``, plus the
        Jeffreys term).
    noise : float
        The learned nugget of the evidence, relative to the mean square of ``U``.
    rounds : int
        Refinement rounds (solve, then fit the mixture to the solution) made.
    converged : bool
        Whether the frequencies settled to ``tol`` within ``rounds``.
    """

    kernels: list
    freqs: list
    weights: list
    solver: Any
    solution: Any
    objective: float
    noise: float
    rounds: int
    converged: bool


def _to_np(v: Any) -> np.ndarray:
    """A small array of any library as NumPy float64 (element by element)."""
    n = int(v.shape[0]) if v.ndim else 1
    flat = v if v.ndim else [v]
    return np.array([float(flat[i]) for i in range(n)], dtype=np.float64)


def _fit_mixture(field: Any, grids: list, params: list, log_noise: float, free: tuple, *, jeffreys: float,
                 noise_floor: float, maxiter: int, xp: Any, like: Any, shape: dict) -> tuple:
    """Minimize the evidence of ``field`` + ``jeffreys * sum log w`` by L-BFGS-B over the ``free`` parameters.

    ``params[k] = [mu, log_s, lw]`` (NumPy); ``free`` holds indices into it (0, 1, 2).  Returns the
    parameters, the log-noise and the objective.
    """
    import scipy.optimize

    sizes = [int(p[0].shape[0]) for p in params]
    bounds = []
    for g, q in zip(grids, sizes, strict=True):
        gh = _to_np(g)
        length = float(gh[-1] - gh[0])
        nyq = (gh.shape[0] - 1) / (2 * length)
        per = {0: (0.0, nyq), 1: (math.log(_MIN_WIDTH / length), math.log(nyq)), 2: _LW_BOUNDS}
        for i in free:
            bounds += [per[i]] * q
    bounds.append((math.log(noise_floor), 0.0))

    def unpack(theta):
        out, pos = [], 0
        for p, q in zip(params, sizes, strict=True):
            cur = list(p)
            for i in free:
                cur[i] = theta[pos:pos + q]
                pos += q
            out.append(cur)
        return out, float(theta[-1])

    def fun(theta):
        cur, ln = unpack(theta)
        arrs = [[xp.asarray(v, dtype=like.dtype, device=like.device) for v in p] for p in cur]
        try:
            val, grads, dn = neg_log_evidence(field, grids, arrs, ln, xp, **shape)
            val = float(val) + jeffreys * float(sum(np.sum(p[2]) for p in cur))
        except (ValueError, np.linalg.LinAlgError):
            return 1e300, np.zeros_like(theta)
        if not math.isfinite(val):
            return 1e300, np.zeros_like(theta)
        gvec = []
        for gk in grads:
            parts = [_to_np(gk[0]), _to_np(gk[1]), _to_np(gk[2]) + jeffreys]
            gvec += [parts[i] for i in free]
        gvec.append(np.array([float(dn)]))
        return val, np.concatenate(gvec)

    theta0 = np.concatenate([p[i] for p in params for i in free] + [np.array([log_noise])])
    theta0 = np.clip(theta0, [b[0] for b in bounds], [b[1] for b in bounds])
    res = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": maxiter})
    cur, ln = unpack(res.x)
    return cur, ln, float(res.fun)


def _prune(params: list, prune: float) -> list:
    out = []
    for mu, log_s, lw in params:
        keep = lw >= np.max(lw) + math.log(prune)
        out.append([mu[keep], log_s[keep], lw[keep]])
    return out


def _unit_rms(v: Any, xp: Any) -> Any:
    top = float(xp.max(xp.abs(v)))
    if top > 0:
        v = v / top  # no overflow in v * v at 2**+-500
    rms = float(xp.sqrt(xp.mean(v * v)))
    if not rms > 0:
        raise ValueError("the collocation solution is zero: nothing to learn a spectrum from (`f` and `boundary` "
                         "are zero).")
    return v / rms


def _kernels(params: list, shape: dict) -> list:
    # Python floats: converted to the namespace of the points at each call (any array library)
    return [SpectralMixture(mu.tolist(), np.exp(log_s).tolist(), log_weights=lw.tolist(), **shape)
            for mu, log_s, lw in params]


@capability("kron", numba=False, notes="d >= 2: NumPy or torch (as GridPDESolver)")
def fit_grid_pde_spectrum(grids: Sequence[Any], f: Any, boundary: Any, *, diffusion: Any = 1.0,
                          advection: Any = 0.0, reaction: float = 0.0, jitter: float = 1e-10,
                          jeffreys: float = 1.0, prune: float = 1e-6, rounds: int = 6, tol: float = 1e-3,
                          maxiter: int = 300, spectrum: str = "gaussian", dof: int | None = None,
                          period: Any = None) -> GridPDESpectrumFit:
    """Learn the spectral-mixture kernels of :class:`GridPDESolver` from the PDE (GP-HM).

    As in GP-HM [1]_, each axis starts from many mixture components on a wide frequency
    grid, the weights live in the log domain with a Jeffreys prior ``p(w) ∝ 1/w`` (the
    term ``sum_q log w_q`` of the objective), which drives the weights of unneeded
    frequencies to zero, and the hyperparameters maximize the GP probability of the
    solution values ``U`` on the grid: ``log N(vec(U) | 0, K_1 ⊗ ⋯ ⊗ K_d + s2 I)``,
    optimized jointly with ``U`` by alternating (``U`` = the collocation solution of
    :class:`GridPDESolver` for the current kernels, which fits the PDE and the boundary
    values exactly; then the kernels for that ``U``).

    Parameters
    ----------
    grids, f, boundary
        As for :class:`GridPDESolver` and :meth:`GridPDESolver.solve`.
    diffusion, advection, reaction, jitter, period
        As for :class:`GridPDESolver` (on a periodic axis the evidence uses the plain,
        non-periodized mixture: the frequencies are those of the values on the nodes).
    jeffreys : float, default 1
        Strength of the Jeffreys term (0 turns the pruning prior off).
    prune : float, default 1e-6
        Components whose weight falls below ``prune`` times the largest weight of their
        axis are removed after each fit.
    rounds : int, default 6
        Cap on the solve-then-fit rounds after the frequency search.
    tol : float, default 1e-3
        Stop when the number of components is unchanged and no frequency moved by more than
        ``tol`` times the largest frequency (or ``1 / length``).
    maxiter : int, default 300
        L-BFGS-B iteration cap per fit.
    spectrum, dof
        The spectral family of every component, as for :class:`SpectralMixture`
        (``"student_t"``: Matérn-times-cosine components; the widths are the t scales).

    Returns
    -------
    GridPDESpectrumFit
        Kernels, dominant frequencies and weights per axis, the solver and its solution.

    Raises
    ------
    ValueError
        As :class:`GridPDESolver` and :meth:`GridPDESolver.solve`; as :class:`SpectralMixture`
        for ``spectrum`` and ``dof``; ``jeffreys < 0``,
        ``prune`` outside ``(0, 1)``, ``tol <= 0``, ``rounds``/``maxiter`` < 1; ``f`` and
        ``boundary`` both zero.
    TypeError
        As :class:`GridPDESolver`.

    Warns
    -----
    KronConvergenceWarning
        When the frequencies have not settled after ``rounds`` rounds (the last fit is
        returned, with ``converged=False``).

    Notes
    -----
    *Frequency search.*  Axis ``k`` (``n_k`` nodes, length ``L_k``) starts with components
    at ``mu = 0, 1/L_k, 2/L_k, ...`` up to the grid's Nyquist frequency
    ``(n_k - 1) / (2 L_k)``, all of width ``s = 1/L_k`` and weight 1.  With the frequencies
    and widths held, the log-weights and the nugget are fitted (L-BFGS-B with the analytic
    gradient) to two fields: the collocation solution ``U`` of this broadband kernel, and
    the interior right-hand side ``f``.  For constant coefficients ``f = L u`` has the
    frequencies of ``u``, amplified by the symbol of ``L`` (``|2 pi mu|^2`` for a
    Laplacian), so small high-frequency parts of ``u`` (``0.05 cos(100 x)`` beside
    ``sin(x)``) stand out in ``f`` where a broad low-frequency component would absorb them
    in ``U``.  The survivors of both fits (weights above ``prune``) form the mixture.

    *Refinement.*  Then, per round: solve the PDE with the current mixture, and fit all
    frequencies, widths, log-weights and the nugget to the evidence of the new ``U`` with the
    Jeffreys term; prune.  Each evaluation costs one symmetric eigendecomposition per axis,
    ``O(sum n_k^3 + N sum n_k + sum n_k Q_k)`` on uniform NumPy/torch axes (the kernel and
    its derivatives at the ``2 n_k - 1`` lags; ``n_k^2 Q_k`` otherwise); the gradient uses the
    Kronecker identities of grid GP regression [2]_, so no ``N x N`` matrix is formed.  Weights of a
    product kernel are fixed up to a scale per axis (moved between axes); ``weights`` are
    reported relative to the largest.

    *The final solve.*  The evidence of a pure oscillation favours the narrowest widths
    allowed (``0.1 / L_k``), which pin the frequency but make the collocation system
    ill-conditioned, and weights spanning orders of magnitude, which let the relative
    nugget ``jitter * k(0)`` (set by the largest weight) swamp the small components.  In
    the noise-free collocation limit the weights only shape the interpolation rule, so the
    final solve keeps the learned frequencies and gives every component unit weight and a
    width of at least ``1 / L_k`` (the domain's frequency resolution).  Measured on
    ``sin(500 x) - 2 (x - 0.5)^2`` (300 nodes): 5.3e-5 this way against 2.4e-2 with the
    learned weights (1e3 apart); on the other manufactured solutions of [1]_ the errors are
    those of kernels set by hand at the true frequencies, and the learned frequencies come
    within half a percent of the true ones (see the tests and the docs).

    References
    ----------
    .. [1] S. Fang, M. Cooley, D. Long, S. Li, R. Kirby, S. Zhe, "Solving high frequency
       and multi-scale PDEs with Gaussian processes", ICLR (2024).
    .. [2] Y. Saatçi, "Scalable inference for structured Gaussian process models", PhD
       thesis, University of Cambridge (2011).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import fit_grid_pde_spectrum
    >>> x = np.linspace(0, 1, 40)
    >>> u = np.sin(20 * x)
    >>> res = fit_grid_pde_spectrum([x], 400 * u, u)  # -u'' = f, u = sin(20 x)
    >>> bool(abs(2 * np.pi * res.freqs[0][0] - 20) < 0.2)  # one of 20 start frequencies survives
    True
    >>> bool(np.linalg.norm(res.solution.u - u) < 1e-4 * np.linalg.norm(u))
    True
    """
    jeffreys = check_real(jeffreys, "jeffreys", low=0.0)
    prune = check_real(prune, "prune", low=0.0, high=1.0, low_open=True, high_open=True)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    rounds = check_int(rounds, "rounds", low=1)
    maxiter = check_int(maxiter, "maxiter", low=1)
    opts = {"diffusion": diffusion, "advection": advection, "reaction": reaction, "jitter": jitter,
            "period": period}
    shape: dict[str, Any] = {"spectrum": spectrum, "dof": dof}
    SpectralMixture([0.0], [1.0], **shape)  # validates spectrum and dof
    if spectrum == "student_t" and dof is None:
        shape["dof"] = 5
    probe = GridPDESolver(grids, SpectralMixture([0.0], [1.0]), **opts)  # validates grids and coefficients
    start = []  # the broadband start: the wide frequency grid of every axis
    for g in probe.grids:
        gh = _to_np(g)
        length = float(gh[-1] - gh[0])
        nyq = (gh.shape[0] - 1) / (2 * length)
        mu = np.arange(0.0, nyq + 0.5 / length, 1.0 / length)
        start.append([mu, np.full(mu.shape, -math.log(length)), np.zeros(mu.shape)])
    solver = GridPDESolver(probe.grids, _kernels(start, shape), **opts)
    xp = array_namespace(*solver.grids)
    like = solver.grids[0]
    f_arr = solver._grid_array(f, "f")
    g_arr = solver._grid_array(boundary, "boundary")
    eps = float(xp.finfo(like.dtype).eps)
    floor = max(1e-10, 1e4 * eps)
    fit_opts = {"jeffreys": jeffreys, "noise_floor": floor, "maxiter": maxiter, "xp": xp, "like": like,
                "shape": shape}

    # frequency search: weights only, on U of the broadband kernel and on the interior f
    sol = solver.solve(f_arr, g_arr)
    u_fit, _, _ = _fit_mixture(_unit_rms(sol.u, xp), solver.grids, start, math.log(1e-4), (2,), **fit_opts)
    params = _prune(u_fit, prune)
    f_int = solver._int(f_arr)
    if float(xp.max(xp.abs(f_int))) > 0:
        inner = [g if p is not None else _interior(g) for g, p in zip(solver.grids, solver.period, strict=True)]
        f_fit, _, _ = _fit_mixture(_unit_rms(f_int, xp), inner, start, math.log(1e-4), (2,), **fit_opts)
        f_fit = _prune(f_fit, prune)
        params = [[np.concatenate([a[i], b[i]]) for i in range(3)] for a, b in zip(params, f_fit, strict=True)]
    for p in params:  # equal start for the refinement; duplicates (found in both fields) merge in the fit
        _, idx = np.unique(np.round(p[0], 12), return_index=True)
        p[0], p[1], p[2] = p[0][idx], p[1][idx], np.zeros(idx.shape)

    converged = False
    objective = math.nan
    ln = math.log(max(1e-6, 100 * floor))  # small: a large start nugget lets the prior prune small components
    done = 0
    for done in range(1, rounds + 1):  # noqa: B007
        solver = GridPDESolver(solver.grids, _kernels(params, shape), **opts)
        sol = solver.solve(f_arr, g_arr)
        new, ln, objective = _fit_mixture(_unit_rms(sol.u, xp), solver.grids, params, ln, (0, 1, 2), **fit_opts)
        new = _prune(new, prune)
        moved = _moved(params, new, solver.grids)
        params = new
        if moved <= tol:
            converged = True
            break
    # the final solve: the learned frequencies, widths at least 1/L and equal weights (see Notes)
    final = [[mu, np.maximum(log_s, -math.log(_length(g))), np.zeros(lw.shape)]
             for (mu, log_s, lw), g in zip(params, solver.grids, strict=True)]
    solver = GridPDESolver(solver.grids, _kernels(final, shape), **opts)
    sol = solver.solve(f_arr, g_arr)
    if not converged:
        warnings.warn(f"fit_grid_pde_spectrum: the mixture frequencies still moved after {rounds} rounds (relative "
                      f"change {moved:.3g} > `tol` = {tol:.3g}); returning the last fit.", KronConvergenceWarning,
                      stacklevel=2)
    freqs, weights = [], []
    for mu, _log_s, lw in params:
        order = np.argsort(-lw, kind="stable")
        freqs.append(mu[order])
        weights.append(np.exp(lw[order] - np.max(lw)))
    return GridPDESpectrumFit(_kernels(final, shape), freqs, weights, solver, sol, objective, math.exp(ln), done, converged)


def _length(g: Any) -> float:
    gh = _to_np(g)
    return float(gh[-1] - gh[0])


def _moved(old: list, new: list, grids: list) -> float:
    """Largest frequency change relative to the largest frequency (inf when components were pruned)."""
    worst = 0.0
    for (mu0, _, _), (mu1, _, _), g in zip(old, new, grids, strict=True):
        if mu0.shape != mu1.shape:
            return math.inf
        gh = _to_np(g)
        ref = max(float(np.max(np.abs(mu1))) if mu1.size else 0.0, 1.0 / float(gh[-1] - gh[0]))
        worst = max(worst, float(np.max(np.abs(mu1 - mu0))) / ref if mu1.size else 0.0)
    return worst
