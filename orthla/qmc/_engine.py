"""Shared machinery of the point generators: the scipy.stats.qmc.QMCEngine interface.

Every engine is a subclass of :class:`scipy.stats.qmc.QMCEngine` (SciPy is a required
dependency), so SciPy's consumers of engines (``MultivariateNormalQMC(engine=...)``,
``MultinomialQMC(engine=...)``, ``NumericalInversePolynomial.qrvs(qmc_engine=...)``,
``scipy.integrate.qmc_quad(qrng=...)``) accept them; points are still made by orthla's own
kernels, in the engine's array namespace.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
from scipy.stats import qmc as _scipy_qmc

from .._backend import is_numpy
from .._validate import as_rng, check_bool, check_choice, check_int
from ._checks import check_namespace, integer_parameter
from ._engine_interop import SciPyEngineInterop

__all__ = ["PointEngine", "resolve_namespace"]


def resolve_namespace(xp: Any, device: Any, dtype: Any) -> tuple[ModuleType, Any, Any]:
    """(namespace, device, dtype) for generated points; default NumPy, float64."""
    if xp is None:
        import array_api_compat.numpy as xp_np

        xp = xp_np
    else:
        check_namespace(xp, "xp")
        try:
            probe = xp.asarray(0)
        except Exception as exc:  # a module with an unrelated `asarray`
            raise TypeError(f"`xp` must be an array-API namespace; got {xp!r} ({exc}).") from None
        if not array_api_compat.is_array_api_obj(probe):
            raise TypeError(f"`xp` must be an array-API namespace; got {xp!r}.")
    # Wrap plain numpy/cupy/torch modules in their array-api-compat namespaces.
    xp = array_api_compat.array_namespace(xp.asarray(0, device=device) if device is not None
                                          else xp.asarray(0))
    if dtype is None:
        dtype = xp.float64
    if dtype not in (xp.float64, xp.float32):
        raise TypeError(f"`dtype` must be float64 or float32 of {xp.__name__}; got {dtype!r}.")
    return xp, device, dtype


class PointEngine(SciPyEngineInterop, _scipy_qmc.QMCEngine):
    """Base class: sequence state, ``random``/``integers``/``random_base2``/``reset``/``fast_forward``.

    Subclasses implement ``_generate(start, n)`` returning an array of shape
    ``(R, n, d)`` (R = number of replications) in ``self.xp`` on ``self.device``,
    and set ``self._max_points``.  ``d = 0`` is handled here (empty points, as SciPy).
    """

    _orders: tuple = ("natural",)

    def __init__(self, d: int, *, order: str, replications: int | None, rng: Any,
                 xp: Any, device: Any, dtype: Any, d_max: int | None = None,
                 d_max_hint: str = "", optimization: str | None = None) -> None:
        d = check_int(d, "d", low=0)
        if d_max is not None and d > d_max:
            raise ValueError(f"`d` = {d} exceeds the {d_max} dimensions available{d_max_hint}.")
        self.order = check_choice(order, "order", self._orders)
        self.replications = None if replications is None else check_int(replications, "replications", low=1)
        self.xp, self.device, self.dtype = resolve_namespace(xp, device, dtype)
        rng = as_rng(rng)
        # the generator's state before any draw (for rng_seed; a deep copy would cost 90 us)
        self._rng_snapshot = (type(rng.bit_generator), rng.bit_generator.state)
        if optimization is not None:
            if not isinstance(optimization, str):
                raise TypeError(f"`optimization` must be None, 'random-cd' or 'lloyd'; got {optimization!r}.")
            if not is_numpy(self.xp):
                raise ValueError("`optimization` runs SciPy's optimizers on NumPy points; got "
                                 f"xp = {self.xp.__name__}. Optimize on the host explicitly instead.")
        # QMCEngine's own state (d, num_generated, SciPy's optimizer with its own Generator,
        # spawned so the randomization drawn from `rng` is the same with or without it).
        if optimization is None:
            # QMCEngine.__init__ would seed a Generator of its own from OS entropy and deep-copy
            # it (0.3 ms, a tenth of a small integrate call) for an optimizer that is not used
            self._optimization, self.optimization_method = None, None
        else:
            opt_rng = _spawn(rng)
            try:
                super().__init__(d, optimization=optimization, rng=opt_rng)
            except TypeError:  # SciPy < 1.15 names the generator `seed`
                super().__init__(d, optimization=optimization, seed=opt_rng)
        self.d = d
        self.rng = rng
        self.num_generated = 0
        self._max_points = 2**63
        self._workers = 1

    @property
    def _R(self) -> int:
        return 1 if self.replications is None else self.replications

    def _random(self, n: int = 1, *, workers: int = 1) -> Any:  # QMCEngine's abstract hook
        return self.random(n, workers=workers)

    def _check_draw(self, start: int, n: int) -> None:
        """Hook: warn about a draw (digital nets warn on a first draw of ``n`` not a power of two)."""

    def random(self, n: int = 1, *, workers: int = 1) -> Any:
        """Draw the next ``n`` points.

        Parameters
        ----------
        n : int, default 1
            Number of points.
        workers : int, default 1
            Threads for the generation: ``-1`` for every CPU.  :class:`Halton` splits its
            dimensions among them on the Numba engine; the other engines accept the
            argument (as SciPy's Sobol' does) and run on one thread.

        Returns
        -------
        array
            Shape ``(n, d)``, or ``(replications, n, d)`` when the engine was built with
            ``replications``, in the engine's namespace, device and dtype.

        Raises
        ------
        ValueError
            ``n`` negative, past the engine's capacity, or ``workers`` not ``-1`` or positive.
        """
        n = check_int(n, "n", low=0)
        workers = _check_workers(workers)
        start = self.num_generated
        if start + n > self._max_points:
            cap = self._max_points
            pow2 = f"2^{cap.bit_length() - 1} = " if cap & (cap - 1) == 0 else ""
            raise ValueError(
                f"cannot draw {n} points after {start}: this engine holds at most "
                f"{pow2}{cap} points ({self._capacity_hint})."
            )
        self._check_draw(start, n)
        if self.d == 0:  # as SciPy: n points without coordinates
            pts = self.xp.zeros((self._R, n, 0), dtype=self._point_dtype(), device=self.device)
        else:
            self._workers = workers
            try:
                pts = self._generate(start, n)
            finally:
                self._workers = 1
        if self.optimization_method is not None and n > 0 and self.d > 0:
            pts = self._optimize(pts)
        self.num_generated = start + n
        return pts if self.replications is not None else pts[0, ...]

    def _point_dtype(self) -> Any:
        """dtype of the points returned by :meth:`random` (engines returning integers override this)."""
        return self.dtype

    def _optimize(self, pts: Any) -> Any:
        """SciPy's optimizer (``optimization=``) on each replication's points (NumPy only)."""
        out = np.empty(pts.shape, dtype=pts.dtype)
        for r in range(pts.shape[0]):
            x = np.asarray(self._unit(pts[r]), dtype=np.float64)
            out[r] = self.optimization_method(x).astype(out.dtype, copy=False)
        return out

    def _unit(self, x: Any) -> Any:
        """Points as floats in [0, 1) (engines returning integers override this)."""
        return x

    def integers(self, l_bounds: Any, *, u_bounds: Any = None, n: int = 1, endpoint: bool = False,
                 workers: int = 1) -> Any:
        """Draw ``n`` integer points from ``[l_bounds, u_bounds)`` (as SciPy's ``QMCEngine.integers``).

        Parameters
        ----------
        l_bounds : int or array_like of int, shape (d,)
            Lowest integers (inclusive); with ``u_bounds=None`` the bounds are
            ``[0, l_bounds)``.
        u_bounds : int or array_like of int, shape (d,), optional
            One above the largest integers (or the largest with ``endpoint``).
        n : int, default 1
            Number of points.
        endpoint : bool, default False
            Include ``u_bounds``.
        workers : int, default 1
            As in :meth:`random`.

        Returns
        -------
        array of int64
            ``floor(x (u - l) + l)`` for the next ``n`` points ``x``, shape ``(n, d)`` or
            ``(replications, n, d)``, in the engine's namespace and device.

        Raises
        ------
        TypeError
            Bounds that are not integers (floats, booleans, strings).
        ValueError
            Bounds whose shape is not ``()`` or ``(d,)``, ``l_bounds >= u_bounds``, and the
            errors of :meth:`random`.

        Notes
        -----
        The map of [0, 1) to integers is the one SciPy uses; it keeps each point's
        stratification (a coordinate in ``[k/m, (k+1)/m)`` gives ``l + k`` for ``m = u - l``).
        A product that rounds up to ``u`` (ranges near ``2^53``) is clipped to ``u - 1``.

        Examples
        --------
        >>> from orthla.qmc import Sobol
        >>> Sobol(2, randomize=False, order="gray").integers([0, 10], u_bounds=[4, 14], n=4)
        array([[ 0, 10],
               [ 2, 12],
               [ 3, 11],
               [ 1, 13]])
        """
        if u_bounds is None:
            l_bounds, u_bounds = 0, l_bounds
        libs = {type(b).__module__.split(".")[0] for b in (l_bounds, u_bounds)
                if array_api_compat.is_array_api_obj(b) and not isinstance(b, np.generic)}
        if len(libs) > 1:
            raise TypeError(f"`l_bounds` and `u_bounds` must be arrays of one library; got {sorted(libs)}.")
        lo = np.atleast_1d(integer_parameter(l_bounds, "l_bounds"))
        hi = np.atleast_1d(integer_parameter(u_bounds, "u_bounds"))
        if check_bool(endpoint, "endpoint"):
            if hi.size and int(hi.max()) == np.iinfo(np.int64).max:
                raise ValueError("`u_bounds` must be below 2^63 - 1 with endpoint=True.")
            hi = hi + 1
        for name, b in (("l_bounds", lo), ("u_bounds", hi)):
            if b.ndim != 1 or b.shape[0] not in (1, self.d):
                raise ValueError(f"`{name}` must be an integer or have shape ({self.d},); got shape {b.shape}.")
        lo, hi = np.broadcast_to(lo, (self.d,)), np.broadcast_to(hi, (self.d,))
        if np.any(lo >= hi):
            raise ValueError(f"`l_bounds` must be below `u_bounds` in every dimension; got {lo.tolist()} "
                             f"and {hi.tolist()}{' (after +1 for endpoint)' if endpoint else ''}.")
        x = self._unit(self.random(n, workers=workers))
        xp = self.xp
        width = xp.asarray((hi.astype(np.float64) - lo.astype(np.float64)), device=self.device)
        low = xp.asarray(lo.astype(np.float64), device=self.device)
        y = xp.astype(xp.floor(xp.astype(x, xp.float64) * width + low), xp.int64)
        top = xp.asarray(hi - 1, dtype=xp.int64, device=self.device)
        return xp.minimum(y, top) if self.d else y

    def random_base2(self, m: int) -> Any:
        """Draw the next ``2^m`` points; the total drawn must stay a power of two."""
        m = check_int(m, "m", low=0)
        if m >= self._max_points.bit_length():  # before forming 2^m, which may be astronomically large
            raise ValueError(f"cannot draw 2^{m} points: this engine holds at most {self._max_points} "
                             f"points ({self._capacity_hint}).")
        n = 2**m
        total = self.num_generated + n
        if total & (total - 1):
            raise ValueError(
                f"The balance properties of Sobol' points (and of every QMC point set drawn with "
                f"random_base2) require n to be a power of 2: {self.num_generated} points were drawn "
                f"before, so {self.num_generated} + 2^{m} = {total} is not. Use random(n) to draw them anyway."
            )
        return self.random(n)

    def reset(self) -> PointEngine:
        """Return to the first point (the randomization is kept, as in SciPy)."""
        self.num_generated = 0
        return self

    def fast_forward(self, n: int) -> PointEngine:
        """Skip the next ``n`` points."""
        n = check_int(n, "n", low=0)
        self.num_generated += n
        return self

    _capacity_hint = ""

    # helpers for subclasses -------------------------------------------------
    def _indices(self, start: int, n: int) -> Any:
        return self.xp.arange(start, start + n, dtype=self.xp.int64, device=self.device)

    def _to_device(self, a: np.ndarray) -> Any:
        return self.xp.asarray(a, device=self.device)

    def _finish(self, x: Any) -> Any:
        """Cast float64 points in [0, 1) to the engine dtype, keeping them below 1."""
        xp = self.xp
        if self.dtype == xp.float64:
            return x
        y = xp.astype(x, self.dtype)
        # Rounding may reach 1.0; keep the half-open unit cube with the largest float below 1.
        below_one = xp.asarray(1.0 - xp.finfo(self.dtype).eps / 2, dtype=self.dtype, device=self.device)
        return xp.where(y >= 1, below_one, y)


def _spawn(rng: np.random.Generator) -> np.random.Generator:
    """An independent Generator for SciPy's optimizer, leaving ``rng``'s stream untouched."""
    try:
        return rng.spawn(1)[0]
    except (TypeError, ValueError, AttributeError):  # a bit generator without a SeedSequence
        return np.random.default_rng(rng.integers(2**63))


def _check_workers(workers: Any) -> int:
    """``workers`` as a thread count: ``-1`` (every CPU) or a positive integer."""
    w = check_int(workers, "workers")
    if w == -1:
        return os.cpu_count() or 1
    if w < 1:
        raise ValueError(f"`workers` must be -1 (every CPU) or a positive integer; got {w}.")
    return w
