"""KronEigh: cached factor eigendecompositions for shifted Kronecker solves and log-determinants."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability, is_numpy
from .._dask import is_dask
from .._validate import as_floating, check_finite, check_int, check_ndim, check_real
from ._chain import kron_apply, work_array
from ._common import (
    KronConvergenceWarning,
    as_factor_list,
    copy_array,
    cycle_modes,
    exactly_symmetric,
    is_symmetric,
    kron_vectors,
    operand,
    real_dtype,
    rmatmul_t,
    scalar,
    size,
)
from ._operator import _check_solution

__all__ = ["KronEigh", "PCGResult"]


class PCGResult(NamedTuple):
    """Result of :meth:`KronEigh.solve_diag` (preconditioned conjugate gradients).

    Attributes
    ----------
    x : array
        The iterate reached (the solution when ``converged``).
    converged : bool
        Whether every column reached ``||b - A x|| <= tol ||b||``.
    iterations : int
        Iterations run.
    residual : array, 0-d
        Largest relative residual ``||b - A x|| / ||b||`` over the columns,
        recomputed from ``x`` at the end (not the recurrence); real, in the namespace and
        on the device of ``x``.
    """

    x: Any
    converged: bool
    iterations: int
    residual: Any


def _conj_t(a, xp):
    return xp.conj(a.mT) if xp.isdtype(a.dtype, "complex floating") else a.mT


@capability("kron", numba=False)
class KronEigh:
    """Eigendecompositions of symmetric factors ``K_k = Q_k diag(l_k) Q_k^H``, cached.

    Represents ``K = K_1 ⊗ ⋯ ⊗ K_d = Q diag(l) Q^H`` with ``Q = Q_1 ⊗ ⋯ ⊗ Q_d``
    and ``l = kron(l_1, ..., l_d)``, and solves shifted systems with it:
    ``(K + s D) x = y`` for a scalar shift ``s`` and an optional positive
    Kronecker-structured diagonal ``D = diag(kron(d_1, ..., d_d))``.

    Parameters
    ----------
    factors : sequence of arrays or int
        Symmetric (Hermitian) square factors of one array-API library; an integer
        ``n`` is the identity ``I_n``.  Copied on construction (see ``factors`` below):
        a later in-place change of the caller's arrays changes neither ``@`` nor the
        cached eigendecompositions.
    noise : sequence of 1-D arrays, optional
        Positive per-factor diagonals ``d_k`` (length ``n_k``) of a Kronecker
        diagonal ``D``.  Default: ``D = I``.
    rtol : float, optional
        Symmetry tolerance, ``max|K_k - K_k^H| <= rtol max|K_k|``, a finite real
        ``>= 0``; default ``100 n_k eps``.  A factor within the tolerance but not exactly
        symmetric is replaced by ``(K_k + K_k^H) / 2``, so the solves are backward stable
        for a matrix within ``rtol`` of the one given.

    Attributes
    ----------
    factors : list
        Private copies of the factors (symmetrized as above; ints for identities): the
        matrix ``@`` applies and the eigendecompositions describe.
    factor_eigenvalues : list of arrays
        Eigenvalues of the (noise-scaled) factors, ascending.
    factor_eigenvectors : list of arrays or int
        Orthonormal eigenvectors (an int for identity factors).
    shape : tuple of int
        ``(N, N)``.

    Raises
    ------
    ValueError
        If a factor is not square, not symmetric (the measured asymmetry is reported),
        holds NaN/Inf, or a noise vector has the wrong length, a non-positive or
        non-finite entry; if ``rtol`` is NaN, infinite or negative.
    TypeError
        If the inputs mix array libraries or are not numeric (booleans and float16
        included); if ``rtol`` is not a real number.

    Notes
    -----
    With noise, the symmetrised factors ``D_k^{-1/2} K_k D_k^{-1/2}`` are
    diagonalized (``K + s D = D^{1/2} (K~ + s I) D^{1/2}``), so the solve stays exact.
    Set-up costs ``O(sum n_k^3)``; each solve is two Kronecker matvecs,
    ``4 N sum n_k`` flops per right-hand side, and :meth:`logdet` is ``O(N)``.
    The shifted eigenvalues ``l + s`` are built and checked once per shift and kept
    for the next call with the same shift.  On NumPy the two products run as in
    :class:`KronOperator` (``2d`` GEMMs into reused work arrays) and the division is
    done in place.  The computed solution
    has relative error about ``eps * d * cond(K + s D)`` because each factor
    eigendecomposition is backward stable [1]_.

    References
    ----------
    .. [1] Y. Saatci, "Scalable inference for structured Gaussian process models",
       PhD thesis, University of Cambridge (2011), chapter 5.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import KronEigh
    >>> t = np.linspace(0, 1, 5)
    >>> k1 = np.exp(-(t[:, None] - t[None, :]) ** 2)
    >>> ke = KronEigh([k1, k1])
    >>> y = np.ones(25)
    >>> x = ke.solve(y, shift=0.1)
    >>> dense = np.kron(k1, k1) + 0.1 * np.eye(25)
    >>> bool(np.allclose(dense @ x, y)), bool(np.isclose(ke.logdet(shift=0.1), np.linalg.slogdet(dense)[1]))
    (True, True)
    """

    def __init__(self, factors: Sequence[Any], *, noise: Sequence[Any] | None = None,
                 rtol: float | None = None):
        self._setup(factors, noise, rtol, name="factors", copy=True)

    @classmethod
    def _build(cls, factors: Sequence[Any], *, noise: Sequence[Any] | None = None,
               rtol: float | None = None, name: str = "factors", copy: bool = True) -> KronEigh:
        """Constructor for orthla's own callers: factor messages say ``{name}[k]`` (GridGP:
        ``kernels[k]``); ``copy=False`` for factors that no caller holds."""
        ke = cls.__new__(cls)
        ke._setup(factors, noise, rtol, name=name, copy=copy)
        return ke

    def _setup(self, factors, noise, rtol, *, name, copy):
        if rtol is not None:
            rtol = check_real(rtol, "rtol", low=0.0)
        mats, xp = as_factor_list(factors, name, square=True)
        self._xp = xp
        self._name = name
        self._dims = [f if isinstance(f, int) else int(f.shape[0]) for f in mats]
        self.shape = (math.prod(self._dims),) * 2
        own = []
        for k, f in enumerate(mats):
            if not isinstance(f, int):
                ok, rel = is_symmetric(f, xp, rtol)
                if not ok:
                    raise ValueError(
                        f"`{name}[{k}]` must be symmetric (Hermitian); max|K - K^H| / max|K| = "
                        f"{rel:.3g} exceeds the tolerance.")
                if not exactly_symmetric(f, xp):
                    f = (f + _conj_t(f, xp)) / 2  # a new array: the matrix actually decomposed
                elif copy and f is factors[k]:
                    f = copy_array(f, xp)
            own.append(f)
        self.factors = own
        self._sqrt_noise = self._check_noise(noise)
        vals, vecs = [], []
        for k, f in enumerate(self.factors):
            dev = self._device()
            if isinstance(f, int):
                vals.append(xp.ones((f,), dtype=self._real_dtype(), device=dev))
                vecs.append(f)
                continue
            if self._sqrt_noise is not None:
                s = self._sqrt_noise[k]
                f = (f / s[:, None]) / s[None, :]  # two divisions: s_i s_j may overflow
                f = (f + _conj_t(f, xp)) / 2  # exact symmetry for eigh
            w, v = xp.linalg.eigh(f)
            vals.append(w)
            vecs.append(v)
        self.factor_eigenvalues = vals
        self.factor_eigenvectors = vecs
        self._eigenvalues = None
        self._shifted_cache = None  # (shift, l + shift) of the last shift used
        self._mats_cache: dict = {}
        self._op = None

    # -- helpers ---------------------------------------------------------------------------
    def _arrays(self):
        return [f for f in self.factors if not isinstance(f, int)]

    def _device(self):
        arrays = self._arrays()
        return arrays[0].device if arrays else None

    def _real_dtype(self):
        xp = self._xp
        arrays = self._arrays()
        dt = xp.result_type(*arrays) if arrays else xp.float64
        return real_dtype(dt, xp)

    def _check_noise(self, noise):
        if noise is None:
            return None
        xp = self._xp
        if len(noise) != len(self.factors):
            raise ValueError(f"`noise` must have one diagonal per factor ({len(self.factors)}); "
                             f"got {len(noise)}.")
        out = []
        for k, (d, n) in enumerate(zip(noise, self._dims, strict=True)):
            label = f"noise[{k}]"
            array_namespace(d, *self._arrays())  # TypeError for another library
            d = xp.asarray(d) if not hasattr(d, "shape") else d
            check_ndim(d, label, 1)
            d = as_floating(d, label, xp, allow_complex=False)
            check_finite(d, label, xp)
            if d.shape[0] != n:
                raise ValueError(f"`{label}` must have length {n} (the order of factor {k}, "
                                 f"`{self._name}[{k}]`); got {d.shape[0]}.")
            dmin = scalar(xp.min(d)) if n else 1.0
            if dmin <= 0:
                raise ValueError(f"`{label}` must be positive; its smallest entry is {dmin:.3g}.")
            out.append(xp.sqrt(d))
        return out

    @property
    def eigenvalues(self) -> Any:
        """All ``N`` eigenvalues ``kron(l_1, ..., l_d)`` (of the noise-scaled operator), unsorted."""
        if self._eigenvalues is None:
            self._eigenvalues = kron_vectors(self.factor_eigenvalues, self._xp)
        return self._eigenvalues

    def _shifted(self, shift, what="shift"):
        """``l + shift`` (all N shifted eigenvalues), checked positive; kept for the last shift."""
        cached = self._shifted_cache
        if cached is not None and cached[0] == shift:
            return cached[1]
        xp = self._xp
        lam = self.eigenvalues + shift
        lmin = scalar(xp.min(lam)) if size(lam) else 1.0
        if lmin <= 0:
            raise ValueError(
                f"K + {what}*D must be positive definite; its smallest eigenvalue (after scaling "
                f"by D) is {lmin:.3g} with {what} = {shift:.3g} (K: the Kronecker product of "
                f"`{self._name}`).")
        if not getattr(lam, "requires_grad", False):  # never carry a torch graph across calls
            self._shifted_cache = (shift, lam)
        return lam

    def _numpy_solve(self, y, lam):
        """NumPy path of :meth:`solve`: ``Q^H`` into a work array, divide in place, ``Q`` (see ``_chain``)."""
        vecs = self.factor_eigenvectors
        arrays = [v for v in vecs if not isinstance(v, int)]
        dt = np.result_type(y, *arrays)
        n = self.shape[0]
        key = ("numpy_q", dt)
        if key not in self._mats_cache:
            q = [v if isinstance(v, int) else np.asarray(v, dtype=dt) for v in vecs]
            qh = [v if isinstance(v, int) else np.ascontiguousarray(v.conj().T) for v in q]
            self._mats_cache[key] = (q, qh)
        q, qh = self._mats_cache[key]
        x = y.reshape(n, math.prod(y.shape[1:])).astype(dt, copy=False)
        k = x.shape[1]
        out = np.empty((n, k), dtype=dt)
        if k == 0:
            return out.reshape(y.shape)
        if self._sqrt_noise is not None:
            x = x / kron_vectors(self._sqrt_noise, np)[:, None]
        z = kron_apply(x, qh, self._dims, out=work_array(3, n * k, dt).reshape(n, k))
        z /= lam[:, None]
        kron_apply(z, q, self._dims, out=out)
        if self._sqrt_noise is not None:
            out /= kron_vectors(self._sqrt_noise, np)[:, None]
        return out.reshape(y.shape)

    def _q(self, x, xp, adjoint):
        funcs = []
        for v in self.factor_eigenvectors:
            if isinstance(v, int):
                funcs.append(None)
            else:
                m = _conj_t(v, xp) if adjoint else v
                funcs.append(lambda y, m=m: rmatmul_t(y, m, xp))
        return cycle_modes(x, self._dims, funcs, xp)

    def _scale(self, x, xp, inverse):
        if self._sqrt_noise is None:
            return x
        s = kron_vectors(self._sqrt_noise, xp)
        s = 1 / s if inverse else s
        s = xp.reshape(s, (*self._dims, *([1] * (x.ndim - len(self._dims)))))
        return x * s

    def _check_shift(self, shift, name="shift"):
        return check_real(shift, name)

    # -- public API --------------------------------------------------------------------------
    def solve(self, y: Any, shift: float = 0.0) -> Any:
        """Solve ``(K + shift * D) x = y`` exactly in the eigenbasis.

        Parameters
        ----------
        y : array, shape (N,) or (N, k)
            Right-hand side(s), solved in one pass.  A ``dask.array`` (NumPy factors) chunked
            along the batch axes (axis 0 in one chunk) is solved lazily block by block, each
            block bit for bit as in memory; its values are checked when it is computed.  A
            single Dask vector ``(N,)`` may be chunked along the leading mode instead (chunk
            sizes multiples of ``N / n_1``): ``Q_2 ⊗ ⋯ ⊗ Q_d`` and the eigenvalues are applied
            chunk by chunk, ``Q_1`` mixes the chunks as a Dask product (equal to rounding), and
            no ``N``-vector is formed on the client.
        shift : float, default 0
            Scalar multiplying ``D`` (``I`` without noise), e.g. a noise variance.

        Returns
        -------
        array
            ``x`` with the shape of ``y``.

        Raises
        ------
        ValueError
            If ``y`` does not match ``N`` or holds NaN/Inf, ``shift`` is not finite,
            ``K + shift D`` is not positive definite (the smallest shifted eigenvalue is
            reported), or the solution overflows the dtype.
        TypeError
            If a Dask ``y`` is a matrix chunked along axis 0, or the factors are not NumPy.
        """
        shift = self._check_shift(shift)
        if is_dask(y):
            return self._dask_solve(y, shift)
        return self._solve(y, shift)

    def _dask_solve(self, y: Any, shift: float) -> Any:
        from ._dask import (
            batch_layout,
            check_dask_operand,
            dask_apply,
            eigh_leading_mode,
            smallest_shifted_eigenvalue,
        )

        n = self.shape[0]
        y, dtype = check_dask_operand(y, n, self._dims, "y", self._arrays(), "KronEigh.solve", self._name)
        if batch_layout(y):
            self._shifted(shift)  # not positive definite: reported now, not when computed
            return dask_apply(y, self, "solve", (shift,), n, dtype)
        if y.ndim != 1:
            raise TypeError(
                f"KronEigh.solve on a Dask array: `y` of shape {tuple(y.shape)} is chunked along axis 0 "
                f"({len(y.chunks[0])} chunks).  Dask right-hand sides must be chunked along the batch "
                "axes only (axis 0 in one chunk), or be a single vector (N,) chunked along the "
                "leading mode.")
        lmin = smallest_shifted_eigenvalue(self, shift)  # without forming the N eigenvalues
        if lmin <= 0:
            raise ValueError(
                f"K + shift*D must be positive definite; its smallest eigenvalue (after scaling by D) "
                f"is {lmin:.3g} with shift = {shift:.3g} (K: the Kronecker product of `{self._name}`).")
        return eigh_leading_mode(self, y, shift, dtype)

    def _solve(self, y, shift, finite=True):
        """:meth:`solve` after the shift check; ``finite=False`` for orthla's own iterates."""
        xp = array_namespace(y, *self._arrays())
        # finiteness of y is read from the solution: one host sync per solve, not two
        y = operand(y, xp, "y", self.shape[0], self._dims, self._name, finite=False)
        lam = self._shifted(shift)
        if size(y) == 0:
            return xp.zeros(y.shape, dtype=xp.result_type(y, *self._arrays()), device=y.device)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing solution is reported below
            if is_numpy(xp):
                z = self._numpy_solve(y, lam)
            else:
                x = xp.reshape(y, (*self._dims, *y.shape[1:]))
                x = self._scale(x, xp, inverse=True)
                z = self._q(x, xp, adjoint=True)
                lam = xp.reshape(lam, (*self._dims, *([1] * (y.ndim - 1))))
                z = self._q(z / lam, xp, adjoint=False)
                z = xp.reshape(self._scale(z, xp, inverse=True), y.shape)
        if finite:  # PCG iterates skip this
            _check_solution(z, y, "y", "the solution of (K + shift D) x = y", xp)
        return z

    def logdet(self, shift: float = 0.0) -> Any:
        """``log det (K + shift * D)`` as a 0-d array.

        Raises
        ------
        ValueError
            If ``K + shift D`` is not positive definite.
        """
        xp = self._xp
        lam = self._shifted(self._check_shift(shift))
        out = xp.sum(xp.log(lam))
        n = self.shape[0]
        if self._sqrt_noise is not None and n:
            for s, nk in zip(self._sqrt_noise, self._dims, strict=True):
                out = out + (n // nk) * 2 * xp.sum(xp.log(s))
        return out

    def __matmul__(self, x: Any) -> Any:
        """``K @ x`` with the factors (no noise, no shift); ``x`` is checked like ``y``."""
        return self._matvec(x)

    def _matvec(self, x, finite=True):
        if self._op is None:
            from ._operator import KronOperator

            self._op = KronOperator._owned(self.factors)
        return self._op._apply(x, "x", self._op.factors, "in", finite=finite)

    def solve_diag(self, y: Any, diag: Any, *, tol: float = 1e-10, maxiter: int | None = None,
                   precond_shift: float | None = None, x0: Any = None,
                   check_every: int | None = None) -> PCGResult:
        """Solve ``(K + diag(v)) x = y`` for a general positive diagonal by preconditioned CG.

        Parameters
        ----------
        y : array, shape (N,) or (N, k)
            Right-hand side(s); the columns iterate together.
        diag : array, shape (N,)
            Positive diagonal ``v`` (for example per-point noise variances).
        tol : float, default 1e-10
            Stop when every column has ``||y - A x|| <= tol ||y||``.
        maxiter : int, optional
            Iteration cap; default ``max(100, 10 * sqrt(N))``.
        precond_shift : float, optional
            The preconditioner is ``(K + c D)^{-1}`` applied exactly through the
            eigenbasis; default ``c = mean(v)`` (``D`` from ``noise``, else ``I``).
        x0 : array, optional
            Starting guess (default zeros).
        check_every : int, optional
            Read the residual (one device-to-host synchronisation) every this many
            iterations; default 1 on NumPy, 4 on other libraries (GPUs), where each read
            drains the device's queue.  Up to ``check_every - 1`` iterations may run past the
            one that reached ``tol`` (harmless: CG keeps reducing the residual), so a larger
            value pays off when an iteration is cheap next to a synchronisation (small
            grids on a GPU) and 1 is best when the matvec dominates.

        Returns
        -------
        PCGResult
            ``x``, ``converged``, ``iterations`` and the true final relative ``residual``.

        Raises
        ------
        ValueError
            For shape mismatches, NaN/Inf in ``y``, ``diag`` or ``x0``, a non-positive
            ``diag``, ``tol`` or ``check_every``, a non-finite ``precond_shift``.

        Warns
        -----
        KronConvergenceWarning
            When ``maxiter`` is reached before ``tol``; the result then has
            ``converged=False`` and the residual reached.  Never silent.

        Notes
        -----
        Each iteration costs one Kronecker matvec and one preconditioner solve
        (``6 N sum n_k`` flops); the stopping test reads the residual to the host once
        every ``check_every`` iterations, and the setup and the final true residual take a
        few more reads (measured on array_api_strict with the sync-counting test backend:
        ``iterations / check_every + 7``).
        The preconditioned operator is ``(K + cD)^{-1}(K + diag v)``; its eigenvalues are
        Rayleigh quotients ``(x^T K x + x^T V x) / (x^T K x + c x^T D x)`` and so lie in
        ``[min(1, min v/(cD)), max(1, max v/(cD))]``: the iteration count is bounded by the
        spread of ``v`` around ``c D``, not by the conditioning of ``K``.  ``y`` (and
        ``x0``) are divided by ``max|y|`` for the iteration and the solution scaled back,
        so the inner products neither overflow nor underflow.
        """
        xp = array_namespace(y, diag, x0, *self._arrays())
        n = self.shape[0]
        y = operand(y, xp, "y", n, self._dims, self._name)
        v = xp.asarray(diag) if not hasattr(diag, "shape") else diag
        check_ndim(v, "diag", 1)
        v = as_floating(v, "diag", xp, allow_complex=False)
        check_finite(v, "diag", xp)
        if v.shape[0] != n:
            raise ValueError(f"`diag` must have length N = {n}; got {v.shape[0]}.")
        vmin = scalar(xp.min(v)) if n else 1.0
        if vmin <= 0:
            raise ValueError(f"`diag` must be positive; its smallest entry is {vmin:.3g}.")
        tol = check_real(tol, "tol", low=0.0, low_open=True)
        if maxiter is None:
            maxiter = max(100, int(10 * math.sqrt(n)))
        maxiter = check_int(maxiter, "maxiter", low=1)
        check_every = (1 if is_numpy(xp) else 4) if check_every is None else check_int(
            check_every, "check_every", low=1)
        if x0 is not None:
            x0 = xp.asarray(x0) if not hasattr(x0, "shape") else x0
            x0 = as_floating(x0, "x0", xp)
            if tuple(x0.shape) != tuple(y.shape):
                raise ValueError(f"`x0` must have the shape of `y`, {tuple(y.shape)}; got {tuple(x0.shape)}.")
            check_finite(x0, "x0", xp)
        if precond_shift is not None:
            precond_shift = check_real(precond_shift, "precond_shift")
        ymax = scalar(xp.max(xp.abs(y))) if size(y) else 0.0
        if ymax == 0.0:  # the solution is zero (also for N = 0 or no columns)
            z = xp.zeros(y.shape, dtype=xp.result_type(y, v, *self._arrays()), device=y.device)
            return PCGResult(z, True, 0, xp.zeros((), dtype=real_dtype(z.dtype, xp), device=y.device))
        c = scalar(xp.mean(v)) if precond_shift is None else precond_shift
        self._shifted(c, "precond_shift")  # preconditioner must be SPD
        vcol = v if y.ndim == 1 else xp.reshape(v, (n, *([1] * (y.ndim - 1))))
        op = lambda z: self._matvec(z, finite=False) + vcol * z  # noqa: E731
        res = pcg(op, lambda r: self._solve(r, c, finite=False), y / ymax, xp, tol=tol,
                  maxiter=maxiter, x0=None if x0 is None else x0 / ymax, check_every=check_every)
        return res._replace(x=res.x * ymax)


def pcg(op, precond, b, xp, *, tol, maxiter, x0=None, check_every=None) -> PCGResult:
    """Preconditioned CG on every column of ``b`` at once (column-wise step sizes).

    The residual is read to the host (the stopping test) every ``check_every`` iterations and
    at ``maxiter``; ``None``: 1 on NumPy, 4 elsewhere.  The other work stays on the device.
    """
    if check_every is None:
        check_every = 1 if is_numpy(xp) else 4

    def dot(a, c):
        s = xp.sum(xp.conj(a) * c if xp.isdtype(a.dtype, "complex floating") else a * c, axis=0)
        return xp.real(s) if xp.isdtype(s.dtype, "complex floating") else s

    bnorm = xp.sqrt(dot(b, b))
    bnorm = xp.where(bnorm > 0, bnorm, xp.ones_like(bnorm))
    x = xp.zeros_like(b) if x0 is None else xp.asarray(x0, copy=True)
    r = b - op(x) if x0 is not None else xp.asarray(b, copy=True)
    z = precond(r)
    p = z
    rz = dot(r, z)
    it = 0
    rel = scalar(xp.max(xp.sqrt(dot(r, r)) / bnorm))
    while rel > tol and it < maxiter:
        ap = op(p)
        pap = dot(p, ap)
        alpha = rz / xp.where(pap != 0, pap, xp.ones_like(pap))
        x = x + alpha * p
        r = r - alpha * ap
        it += 1
        if it % check_every == 0 or it == maxiter:
            rel = scalar(xp.max(xp.sqrt(dot(r, r)) / bnorm))
            if rel <= tol:
                break
        z = precond(r)
        rz_new = dot(r, z)
        beta = rz_new / xp.where(rz != 0, rz, xp.ones_like(rz))
        rz = rz_new
        p = z + beta * p
    true = b - op(x)
    res_arr = xp.max(xp.sqrt(dot(true, true)) / bnorm)
    res = scalar(res_arr)  # read anyway: `converged` and the warning need it
    converged = res <= tol * 10 and rel <= tol  # recurrence and true residual both small
    if not converged:
        warnings.warn(
            f"PCG stopped after {it} iterations with relative residual {res:.3g} > tol = {tol:.3g}; "
            "raise maxiter or loosen tol.", KronConvergenceWarning, stacklevel=3)
    return PCGResult(x, converged, it, res_arr)
