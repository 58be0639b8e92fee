"""True measures for quasi-Monte Carlo cubature: maps from the unit cube to the measure.

Each measure ``mu`` provides ``transform(u)`` (points of ``[0, 1]^d`` to points ``x`` distributed
as ``mu`` when ``u`` is uniform) and ``jacobian(u)`` (the factor ``J`` with
``int f dmu = int_{[0,1]^d} f(T(u)) J(u) du``; 1 for probability measures).  Parameters are
small host arrays; the transforms run on the points' array library and device (no host trips).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._backend import capability, is_numpy, numba_available
from .._validate import check_choice
from ._checks import points_array, real_parameter

__all__ = ["BrownianMotion", "Gaussian", "Lebesgue", "Measure", "Uniform", "ndtri"]

# Wichura's AS241 (PPND16) coefficients, relative accuracy about 1e-16.
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
      1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
      3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
      5.2264952788528545610e3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)


def _horner(coef: tuple, r: Any) -> Any:
    out = coef[-1] + 0 * r
    for c in coef[-2::-1]:
        out = out * r + c
    return out


def _ndtri_xp(p: Any, xp: Any) -> Any:
    """Wichura's AS241 in array-API operations (every branch evaluated, then selected)."""
    q = p - 0.5
    central = xp.abs(q) <= 0.425
    r = 0.180625 - q * q
    val_c = q * _horner(_A, r) / _horner(_B, r)
    tail = xp.where(q < 0, p, 1.0 - p)
    tail = xp.where(central, 0.5, tail)  # keep log() finite where the tail branch is unused
    s = xp.sqrt(-xp.log(xp.where(tail > 0, tail, 1.0)))
    near = s - 1.6
    far = s - 5.0
    val_t = xp.where(s <= 5.0, _horner(_C, near) / _horner(_D, near), _horner(_E, far) / _horner(_F, far))
    val_t = xp.where(tail > 0, val_t, math.inf)
    val_t = xp.where(q < 0, -val_t, val_t)
    return xp.where(central, val_c, val_t)


@capability("qmc", numba=False)
def ndtri(p: Any, *, engine: str = "auto") -> Any:
    """Inverse of the standard normal CDF, elementwise, on any array library.

    Parameters
    ----------
    p : array of probabilities in ``[0, 1]``
        Real floating (integers are promoted to float64).
    engine : {"auto", "scipy", "xp"}, default "auto"
        ``"scipy"``: :func:`scipy.special.ndtri` (NumPy input only).
        ``"xp"``: Wichura's algorithm AS241 in array-API operations (any backend,
        the GPU path).  ``"auto"``: on NumPy float64 2-D input a Numba kernel of
        AS241 when numba is installed, else SciPy; otherwise ``"xp"``.

    Returns
    -------
    array
        ``Phi^{-1}(p)`` in the namespace, device and dtype of ``p``; ``-inf`` at 0
        and ``+inf`` at 1.

    Raises
    ------
    ValueError
        If ``p`` holds NaN or values outside ``[0, 1]``, or ``engine="scipy"``
        is asked for non-NumPy input.
    TypeError
        If ``p`` is not real numeric.

    Notes
    -----
    AS241 (PPND16) uses a rational approximation of degree 7 in
    ``0.180625 - (p - 1/2)^2`` for ``|p - 1/2| <= 0.425`` and two rational
    approximations in ``sqrt(-log(min(p, 1 - p)))`` in the tails; its relative
    error is about ``1e-16`` [1]_.  Cost: ``O(1)`` operations per element, no host
    synchronisation.

    References
    ----------
    .. [1] M. J. Wichura, "Algorithm AS 241: The percentage points of the normal
       distribution", Applied Statistics 37 (1988), 477-484.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import ndtri
    >>> ndtri(np.array([0.5, 0.975]), engine="xp").round(6).tolist()
    [0.0, 1.959964]
    """
    engine = check_choice(engine, "engine", ("auto", "scipy", "xp"))
    xp, p = points_array(p, "p", finite=False)
    _check_unit(p, "p", xp)
    if engine == "scipy" and not is_numpy(xp):
        raise ValueError(f"`engine`='scipy' needs NumPy input; got {xp.__name__} arrays. Use engine='xp'.")
    return _ndtri(p, xp, engine)


def _ndtri(p: Any, xp: Any, engine: str = "auto") -> Any:
    if engine != "xp" and is_numpy(xp):
        if engine == "auto" and p.dtype == np.float64 and p.ndim == 2 and numba_available():
            from ._measures_numba import normal_map

            src = np.ascontiguousarray(p)
            out = np.empty_like(src)
            d = src.shape[1]
            normal_map(src, False, 0.0, 1.0, np.zeros(d), np.ones(d), out)
            return out
        import scipy.special

        return xp.asarray(scipy.special.ndtri(p))
    return _ndtri_xp(p, xp)


def _open_cube(u: Any, xp: Any, *, low: float | None = None) -> Any:
    """``u`` clipped to ``[low, 1 - eps/2]`` (``low`` = smallest normal by default): the normal map
    sends the cube's faces to finite points."""
    fi = xp.finfo(u.dtype)
    return xp.clip(u, fi.smallest_normal if low is None else low, 1.0 - fi.eps / 2)


def _check_unit(u: Any, name: str, xp: Any) -> None:
    """``u`` must lie in [0, 1] (NaN refused); one host sync."""
    if math.prod(u.shape) == 0:
        return
    ok = xp.all((u >= 0) & (u <= 1))
    if not bool(ok):
        raise ValueError(f"`{name}` must hold points of the unit cube [0, 1]; got values outside it "
                         f"(or NaN).")


def _points(u: Any, d: int | None, name: str = "u") -> tuple[Any, Any]:
    xp, u = points_array(u, name, finite=False)
    if u.ndim != 2 or (d is not None and u.shape[1] != d):
        raise ValueError(f"`{name}` must have shape (n, {'d' if d is None else d}); got {tuple(u.shape)}.")
    _check_unit(u, name, xp)
    return xp, u


def _vector(value: Any, name: str, d: int | None) -> np.ndarray:
    a = real_parameter(value, name)
    if a.ndim == 0:
        if d is None:
            a = a.reshape(1)
        else:
            a = np.full(d, float(a))
    if a.ndim != 1 or a.shape[0] == 0 or (d is not None and a.shape[0] != d):
        want = "a non-empty 1-D array" if d is None else f"a scalar or a 1-D array of length {d}"
        raise ValueError(f"`{name}` must be {want}; got shape {a.shape}.")
    return a


class Measure:
    """Base class of the true measures: a map ``T`` from ``[0, 1]^d`` and its Jacobian.

    Subclasses set ``d`` and implement ``_transform(u, xp)``; ``_weight`` is the
    constant total mass (1 for probability measures).
    """

    d: int
    _weight: float = 1.0

    def transform(self, u: Any) -> Any:
        """Points ``x = T(u)`` distributed as the measure when ``u`` is uniform.

        ``u`` has shape ``(n, d)`` with entries in ``[0, 1]``; ``x`` has the same
        shape, namespace, device and dtype.  ``ValueError`` names ``u`` on a wrong
        shape or values outside the cube, ``TypeError`` on a non-real dtype.
        Maps through the normal inverse CDF clip ``u`` to ``[tiny, 1 - eps/2]``
        first, so points on the cube's faces map to finite points.
        """
        xp, u = _points(u, self.d)
        return self._transform(u, xp)

    def jacobian(self, u: Any) -> Any:
        """Factor ``J(u)`` with ``int f dmu = int f(T(u)) J(u) du``, shape ``(n,)``."""
        xp, u = _points(u, self.d)
        return self._jacobian(u, xp)

    def _jacobian(self, u: Any, xp: Any) -> Any:
        return xp.full((u.shape[0],), self._weight, dtype=u.dtype, device=u.device)

    def _transform(self, u: Any, xp: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _param(self, a: np.ndarray, u: Any, xp: Any) -> Any:
        return xp.asarray(np.ascontiguousarray(a), dtype=u.dtype, device=u.device)


@capability("qmc", numba=False)
class Uniform(Measure):
    """Uniform probability measure on the box ``[lower, upper]``.

    Parameters
    ----------
    lower, upper : float or array_like, shape (d,)
        Finite bounds, ``lower < upper`` in every coordinate.
    d : int, optional
        Dimension when both bounds are scalars (default 1).

    Raises
    ------
    ValueError
        Non-finite bounds, ``lower >= upper``, mismatched lengths.
    TypeError
        Non-real bounds.

    Notes
    -----
    ``T(u) = lower + (upper - lower) u`` and ``J = 1``: the integral is the
    expectation ``E[f(X)]``, ``X ~ U[lower, upper]``.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import Uniform
    >>> Uniform([0, -1], [2, 1]).transform(np.array([[0.5, 0.25]])).tolist()
    [[1.0, -0.5]]
    """

    def __init__(self, lower: Any = 0.0, upper: Any = 1.0, *, d: int | None = None) -> None:
        lo = real_parameter(lower, "lower")
        hi = real_parameter(upper, "upper")
        n = d if d is not None else max(lo.size if lo.ndim else 1, hi.size if hi.ndim else 1)
        self.lower = _vector(lo, "lower", n)
        self.upper = _vector(hi, "upper", n)
        if not np.all(self.lower < self.upper):
            raise ValueError(f"`upper` must exceed `lower` in every coordinate; got lower={self.lower.tolist()}, "
                             f"upper={self.upper.tolist()}.")
        self.d = n

    def _transform(self, u: Any, xp: Any) -> Any:
        lo = self._param(self.lower, u, xp)
        return lo + self._param(self.upper - self.lower, u, xp) * u


@capability("qmc", numba=False)
class Lebesgue(Measure):
    """Lebesgue measure on a box; coordinates with both bounds infinite cover the real line.

    Parameters
    ----------
    lower, upper : float or array_like, shape (d,)
        Bounds; each coordinate is finite on both sides, or ``(-inf, inf)``.
    d : int, optional
        Dimension when both bounds are scalars.

    Raises
    ------
    ValueError
        ``lower >= upper``, half-infinite intervals, NaN, mismatched lengths.

    Notes
    -----
    Finite coordinates map linearly (``J`` gets the factor ``upper - lower``).
    An infinite coordinate maps through the standard normal inverse CDF,
    ``x = Phi^{-1}(u)`` with ``J`` factor ``1 / phi(x) = sqrt(2 pi) exp(x^2 / 2)``
    (``u`` clipped to ``[eps/2, 1 - eps/2]``, so ``|x| <= 8.3`` in float64): the
    integrand must decay faster than the Gaussian weight for a finite variance.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import Lebesgue
    >>> m = Lebesgue([0, 0], [2, 3])
    >>> m.jacobian(np.array([[0.5, 0.5]])).tolist()
    [6.0]
    """

    def __init__(self, lower: Any = 0.0, upper: Any = 1.0, *, d: int | None = None) -> None:
        lo = _host_bounds(lower, "lower")
        hi = _host_bounds(upper, "upper")
        n = d if d is not None else max(lo.size if lo.ndim else 1, hi.size if hi.ndim else 1)
        lo = np.full(n, float(lo)) if lo.ndim == 0 else lo
        hi = np.full(n, float(hi)) if hi.ndim == 0 else hi
        for a, name in ((lo, "lower"), (hi, "upper")):
            if a.ndim != 1 or a.shape[0] != n or n == 0:
                raise ValueError(f"`{name}` must be a scalar or a 1-D array of length {n}; got shape {a.shape}.")
        inf = np.isinf(lo) | np.isinf(hi)
        line = (lo == -np.inf) & (hi == np.inf)
        if np.any(inf & ~line):
            raise ValueError("`lower`/`upper`: a coordinate must be finite on both sides or the whole real "
                             f"line; got lower={lo.tolist()}, upper={hi.tolist()}.")
        if not np.all(lo[~line] < hi[~line]):
            raise ValueError(f"`upper` must exceed `lower` in every coordinate; got lower={lo.tolist()}, "
                             f"upper={hi.tolist()}.")
        self.lower, self.upper, self.d = lo, hi, n
        self._line = line
        width = np.where(line, 1.0, hi - lo)
        self._width = width
        self._weight = float(np.prod(width))
        if not math.isfinite(self._weight) or self._weight == 0:
            raise ValueError(f"`lower`/`upper`: the box volume {self._weight} is not a positive finite number.")

    def _transform(self, u: Any, xp: Any) -> Any:
        lo = self._param(np.where(self._line, 0.0, self.lower), u, xp)
        x = lo + self._param(self._width, u, xp) * u
        if np.any(self._line):
            z = _ndtri(_open_cube(u, xp, low=xp.finfo(u.dtype).eps / 2), xp)
            x = xp.where(self._param(self._line.astype(float), u, xp) > 0, z, x)
        return x

    def _jacobian(self, u: Any, xp: Any) -> Any:
        j = xp.full((u.shape[0],), self._weight, dtype=u.dtype, device=u.device)
        if np.any(self._line):
            idx = xp.asarray(np.flatnonzero(self._line), device=u.device)
            z = _ndtri(_open_cube(xp.take(u, idx, axis=1), xp, low=xp.finfo(u.dtype).eps / 2), xp)
            j = j * xp.exp(xp.sum(0.5 * z * z, axis=1)) * (2 * math.pi) ** (0.5 * idx.shape[0])
        return j


def _host_bounds(value: Any, name: str) -> np.ndarray:
    from ._checks import host_parameter

    a = host_parameter(value, name)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must hold real numbers; got dtype {a.dtype}.")
    a = a.astype(np.float64)
    if np.any(np.isnan(a)):
        raise ValueError(f"`{name}` must not hold NaN; got {a.tolist()}.")
    return a


class _LinearGaussian(Measure):
    """``x = mean + A Phi^{-1}(u)`` with ``A A^T = covariance``."""

    mean: np.ndarray
    factor: np.ndarray

    @property
    def covariance(self) -> np.ndarray:
        """The covariance matrix ``factor @ factor.T``."""
        return self.factor @ self.factor.T

    def _transform(self, u: Any, xp: Any) -> Any:
        if is_numpy(xp) and u.dtype == np.float64 and numba_available():
            return self._map_numba(u, False)
        z = _ndtri(_open_cube(u, xp), xp)
        if self._diagonal:
            return self._param(self.mean, u, xp) + z * self._param(np.diag(self.factor), u, xp)
        a = self._param(self.factor, u, xp)
        return self._param(self.mean, u, xp) + z @ a.T

    @property
    def _diagonal(self) -> bool:
        return bool(np.all(self.factor == np.diag(np.diag(self.factor))))

    def _map_numba(self, u: np.ndarray, baker: bool, out: np.ndarray | None = None) -> np.ndarray:
        """The map on NumPy float64 points in one Numba pass (:func:`normal_map`: the baker's map
        first when ``baker``, the open-cube clip, AS241, the diagonal affine map), then the
        factor's product for a non-diagonal factor: the values of the array-API path.  Written
        into ``out`` (C-contiguous, the shape of ``u``) when given."""
        return self._numba_mapper(baker)(u, out)

    def _numba_mapper(self, baker: bool) -> Any:
        """``map(u, out=None)``: :meth:`_map_numba` with its parameters prepared once (for maps
        applied block by block)."""
        from ._measures_numba import normal_map

        fi = np.finfo(np.float64)
        lo, hi = fi.smallest_normal, 1.0 - fi.eps / 2
        d = self.d
        factor_t = np.ascontiguousarray(self.factor.T)
        shift = self.mean.copy() if np.any(self.mean != 0) else None
        diagonal = self._diagonal
        if diagonal:
            mean, scale = self.mean.copy(), np.diag(self.factor).copy()
        else:
            mean, scale = np.zeros(d), np.ones(d)

        def run(u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
            src = np.ascontiguousarray(u)
            if diagonal:
                res = np.empty_like(src) if out is None else out
                normal_map(src, baker, lo, hi, mean, scale, res)
                return res
            z = np.empty_like(src)
            normal_map(src, baker, lo, hi, mean, scale, z)
            res = np.matmul(z, factor_t, out=out)
            if shift is not None:
                res += shift
            return res

        return run


def _pca_factor(cov: np.ndarray, name: str) -> np.ndarray:
    w, v = np.linalg.eigh(cov)
    scale = max(float(np.max(np.abs(w))), 0.0)
    if w[0] < -1e-10 * max(scale, np.finfo(float).tiny):
        raise ValueError(f"`{name}` must be positive semidefinite; its smallest eigenvalue is {w[0]:.3g}.")
    order = np.argsort(-w, kind="stable")  # equal eigenvalues keep their order (diagonal covariances)
    w = np.clip(w[order], 0.0, None)
    v = v[:, order]
    # Fix the sign of each eigenvector (largest entry positive) for reproducible points.
    sign = np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(v.shape[1])])
    sign[sign == 0] = 1.0
    return v * sign * np.sqrt(w)


def _cholesky_factor(cov: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"`{name}` must be positive definite for decomp='cholesky'; use decomp='pca' for a "
                         "semidefinite covariance.") from None


@capability("qmc", numba=False)
class Gaussian(_LinearGaussian):
    """Multivariate normal measure ``N(mean, covariance)``.

    Parameters
    ----------
    mean : float or array_like, shape (d,)
        Mean vector (a scalar is repeated ``d`` times).
    covariance : float, array_like of shape (d,) or (d, d)
        A scalar or vector means a diagonal covariance.  Symmetric positive
        (semi)definite.
    decomp : {"pca", "cholesky"}, default "pca"
        Square root ``A`` of the covariance: eigenvectors scaled by the square
        roots of the eigenvalues in decreasing order (puts the variance in the
        leading coordinates, where QMC points are best), or the Cholesky factor.
    d : int, optional
        Dimension when ``mean`` and ``covariance`` are scalars.

    Attributes
    ----------
    mean : numpy.ndarray, shape (d,)
    factor : numpy.ndarray, shape (d, d)
        ``A`` with ``A A^T = covariance``.
    covariance : numpy.ndarray, shape (d, d)

    Raises
    ------
    ValueError
        Non-finite or mismatched parameters, a covariance that is not symmetric
        positive semidefinite (definite for Cholesky).
    TypeError
        Non-real parameters.

    Notes
    -----
    ``T(u) = mean + A Phi^{-1}(u)`` with the inverse normal CDF applied
    coordinatewise (:func:`ndtri`), ``J = 1``.  Cost ``O(n d^2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import Gaussian
    >>> g = Gaussian([1.0, 2.0], [[2.0, 0.0], [0.0, 0.5]])
    >>> g.transform(np.array([[0.5, 0.5]])).tolist()
    [[1.0, 2.0]]
    """

    def __init__(self, mean: Any = 0.0, covariance: Any = 1.0, *, decomp: str = "pca",
                 d: int | None = None) -> None:
        self.decomp = check_choice(decomp, "decomp", ("pca", "cholesky"))
        m = real_parameter(mean, "mean")
        c = real_parameter(covariance, "covariance")
        if d is None:
            d = m.shape[0] if m.ndim == 1 else (c.shape[0] if c.ndim >= 1 else 1)
        self.mean = _vector(m, "mean", d)
        if c.ndim <= 1:
            diag = _vector(c, "covariance", d)
            if np.any(diag < 0):
                raise ValueError(f"`covariance` (a diagonal) must be non-negative; got {diag.tolist()}.")
            cov = np.diag(diag)
        elif c.shape == (d, d):
            cov = c
            if not np.allclose(cov, cov.T, rtol=1e-12, atol=0):
                raise ValueError("`covariance` must be symmetric.")
            cov = (cov + cov.T) / 2
        else:
            raise ValueError(f"`covariance` must be a scalar, a vector of length {d} or a ({d}, {d}) matrix; "
                             f"got shape {c.shape}.")
        self.d = d
        self.factor = (_pca_factor(cov, "covariance") if self.decomp == "pca"
                       else _cholesky_factor(cov, "covariance"))


def _bridge_factor(t: np.ndarray) -> np.ndarray:
    """A with W = A z for the Brownian bridge construction (final time first, then midpoints)."""
    d = t.shape[0]
    a = np.zeros((d, d))
    filled = {-1: np.zeros(d)}  # index -1 is time 0
    a[d - 1, 0] = math.sqrt(t[-1])
    filled[d - 1] = a[d - 1]
    k = 1
    intervals = [(-1, d - 1)]
    while intervals:
        nxt = []
        for left, right in intervals:
            if right - left < 2:
                continue
            mid = (left + right) // 2
            tl = 0.0 if left < 0 else t[left]
            tr, tm = t[right], t[mid]
            row = ((tr - tm) * filled[left] + (tm - tl) * filled[right]) / (tr - tl)
            row = row.copy()
            row[k] = math.sqrt((tm - tl) * (tr - tm) / (tr - tl))
            a[mid] = row
            filled[mid] = a[mid]
            k += 1
            nxt += [(left, mid), (mid, right)]
        intervals = nxt
    return a


@capability("qmc", numba=False)
class BrownianMotion(_LinearGaussian):
    """Brownian motion with drift observed at given times: ``W(t_j) + drift t_j``.

    Parameters
    ----------
    times : array_like, shape (d,)
        Strictly increasing positive observation times; an integer ``d`` means
        ``times = (1, ..., d) / d``.
    drift : float, default 0
        Drift ``c``: the mean at time ``t`` is ``c t``.
    decomp : {"pca", "bridge", "standard"}, default "pca"
        Construction of the path from independent normals: principal
        components of ``min(t_i, t_j)``, the Brownian bridge (final value first,
        then midpoints), or the standard time-stepping (Cholesky) construction.

    Attributes
    ----------
    times, mean : numpy.ndarray, shape (d,)
    factor : numpy.ndarray, shape (d, d)
    covariance : numpy.ndarray, shape (d, d)
        ``min(t_i, t_j)``.

    Raises
    ------
    ValueError
        Times not strictly increasing and positive, non-finite drift.

    Notes
    -----
    All three constructions give the same Gaussian law (``A A^T`` equals the
    covariance); they differ in how much of the variance the leading
    coordinates carry, which is what QMC rewards (PCA most, then the bridge).
    The bridge fills the midpoint of ``(t_l, t_r)`` with
    ``((t_r - t_m) W_l + (t_m - t_l) W_r) / (t_r - t_l) + sqrt((t_m - t_l)(t_r - t_m) / (t_r - t_l)) z``.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import BrownianMotion
    >>> bm = BrownianMotion([0.25, 0.5, 0.75, 1.0], decomp="bridge")
    >>> bool(np.allclose(bm.covariance, np.minimum.outer(bm.times, bm.times)))
    True
    """

    def __init__(self, times: Any, drift: Any = 0.0, *, decomp: str = "pca") -> None:
        self.decomp = check_choice(decomp, "decomp", ("pca", "bridge", "standard"))
        if isinstance(times, int | np.integer) and not isinstance(times, bool):
            if times < 1:
                raise ValueError(f"`times` as an integer must be at least 1; got {times}.")
            t = np.arange(1, int(times) + 1) / int(times)
        else:
            t = _vector(times, "times", None)
        if t[0] <= 0 or np.any(np.diff(t) <= 0):
            raise ValueError(f"`times` must be positive and strictly increasing; got {t.tolist()}.")
        drift_a = real_parameter(drift, "drift")
        if drift_a.ndim != 0:
            raise ValueError(f"`drift` must be a scalar; got shape {drift_a.shape}.")
        self.times = t
        self.drift = float(drift_a)
        self.d = t.shape[0]
        self.mean = self.drift * t
        cov = np.minimum.outer(t, t)
        if self.decomp == "pca":
            self.factor = _pca_factor(cov, "times")
        elif self.decomp == "standard":
            self.factor = np.linalg.cholesky(cov)
        else:
            self.factor = _bridge_factor(t)


def _as_measure(measure: Any, name: str = "measure") -> Measure:
    if isinstance(measure, Measure):
        return measure
    if isinstance(measure, int | np.integer) and not isinstance(measure, bool):
        if measure < 1:
            raise ValueError(f"`{name}` as a dimension must be a positive integer; got {measure}.")
        return Uniform(d=int(measure))
    raise TypeError(f"`{name}` must be a measure (Uniform, Gaussian, BrownianMotion, "
                    "GeometricBrownianMotion, Lebesgue) or a "
                    f"dimension d for the uniform measure on [0, 1]^d; got {type(measure).__name__}.")

