"""Adaptive quasi-Monte Carlo cubature with error bounds: ``orthla.qmc.integrate``."""

from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import array_namespace, as_array, capability, is_numpy, select_engine
from .._validate import as_rng, check_choice, check_int, check_real
from ._measures import Measure, _as_measure
from ._periodize import PERIODIZATIONS, _periodize
from ._transforms import _fftbr, _fwht

__all__ = ["METHODS", "IntegrationResult", "IntegrationWarning", "integrate"]

METHODS = ("lattice-fourier", "net-walsh", "replications", "bayes-lattice", "bayes-net")

#: Lag r of the cone condition: the bound uses the coefficients of wavenumbers 2^(m-r-1)..2^(m-r)-1.
_R_LAG = 4


class IntegrationWarning(RuntimeWarning):
    """The tolerance was not met within ``n_max`` points (see ``IntegrationResult.converged``)."""


@dataclass(frozen=True)
class IntegrationResult:
    """Result of :func:`integrate`.

    Attributes
    ----------
    estimate : float or numpy.ndarray of shape (p,)
        The integral (one entry per output of a vector-valued integrand).
    error_bound : float or numpy.ndarray
        Bound on ``|integral - estimate|``: guaranteed for integrands in the
        method's cone ("lattice-fourier", "net-walsh"), a half-width at the
        stated confidence for the probabilistic methods.
    n : int or numpy.ndarray of int
        Function evaluations (points) used for each output.
    converged : bool or numpy.ndarray of bool
        Whether each output met its tolerance; ``False`` when ``n_max`` was
        reached first (an :class:`IntegrationWarning` is then issued).
    time : float
        Wall time in seconds.
    method : str
        The method used.
    n_total : int
        Function evaluations in all.
    """

    estimate: Any
    error_bound: Any
    n: Any
    converged: Any
    time: float
    method: str
    n_total: int


def _result(estimate: np.ndarray, error_bound: np.ndarray, n: np.ndarray, converged: np.ndarray,
            elapsed: float, method: str, n_total: int, scalar: bool) -> IntegrationResult:
    def s(a: np.ndarray) -> Any:
        return a[0].item() if scalar else a

    return IntegrationResult(s(estimate), s(error_bound), s(n), s(converged), elapsed, method, n_total)


#: Values per block of points drawn, mapped and evaluated at once on the fused NumPy path (1 MiB):
#: larger blocks than the cache pay here, as the per-block overheads (draw, map, f, checks) shrink.
_BLOCK_VALUES = 2**17


class _Integrand:
    """``g(u) = f(T(psi(u))) J(psi(u)) psi'(u)``, with output checks; values as (n, p) float64."""

    def __init__(self, f: Any, measure: Measure, periodization: str, order: int, xp: Any) -> None:
        if not callable(f):
            raise TypeError(f"`f` must be callable as f(x) with x of shape (n, d); got {type(f).__name__}.")
        self.f, self.measure, self.kind, self.order, self.xp = f, measure, periodization, order, xp
        self.p: int | None = None
        self.scalar = True
        self.count = 0
        self.numba_f64 = select_engine("auto", xp) == "numba"
        self.unit_jacobian = type(measure)._jacobian is Measure._jacobian and measure._weight == 1.0
        self.numpy = is_numpy(xp)
        self._mapper: Any = None

    def _fused(self, dtype: Any) -> bool:
        """Whether the NumPy engine maps float64 points in one Numba pass (:meth:`_map_numba`:
        baker's map, open-cube clip, inverse normal CDF; J = 1)."""
        return (self.numba_f64 and dtype == np.float64 and self.kind in ("none", "baker")
                and self.unit_jacobian and hasattr(self.measure, "_map_numba"))

    def sample(self, engine: Any, n: int) -> Any:
        """``g`` at the next ``n`` points of ``engine`` (no replications).  On the fused NumPy path
        the points are drawn, mapped and handed to ``f`` block by block (``_BLOCK_VALUES``), never
        as one (n, d) array: the same points (the sequences are extensible) and values; ``f``'s
        temporaries stay small (no page faults from fresh (n, d) arrays).  Other paths: one call
        of ``f`` per draw."""
        if not (self._fused(engine.dtype) and is_numpy(engine.xp) and engine.replications is None):
            return self(engine.random(n))
        d = self.measure.d
        rows = 1 << max(8, (_BLOCK_VALUES // d).bit_length() - 1)
        if self._mapper is None:  # once per integrate call: the measure does not change meanwhile
            self._mapper = self.measure._numba_mapper(self.kind == "baker")
        mapper = self._mapper
        y = None
        for i in range(0, n, rows):
            b = min(rows, n - i)
            yb = self._evaluate(mapper(engine.random(b)), None, None, b)
            if y is None:
                if b == n:
                    return yb
                y = np.empty((n, yb.shape[1]))
            y[i : i + b] = yb
        return y

    def __call__(self, u: Any) -> Any:
        xp = self.xp
        n = u.shape[0]
        tiny = xp.finfo(u.dtype).smallest_normal
        top = 1.0 - xp.finfo(u.dtype).eps / 2
        w = None
        if self._fused(u.dtype):
            x = self.measure._map_numba(u, self.kind == "baker")
        else:
            if self.numba_f64 and u.dtype == np.float64 and self.kind == "baker":
                from ._cub_numba import baker_clip

                src = np.ascontiguousarray(u)
                u = np.empty_like(src)
                baker_clip(src, tiny, top, u)
            else:
                if self.kind != "none":
                    u, w = _periodize(u, self.kind, self.order, xp)
                u = xp.clip(u, tiny, top)
            x = self.measure._transform(u, xp)
        return self._evaluate(x, u, w, n)

    def _evaluate(self, x: Any, u: Any, w: Any, n: int) -> Any:
        """``f(x)`` checked, as (n, p) float64, times the periodization's weights ``w`` and the
        Jacobian at ``u`` where they are not 1."""
        xp = self.xp
        y = self.f(x)
        # NumPy in, NumPy out: the namespace checks below are a no-op, and their ~30 us per call
        # count when f is called on many small blocks
        plain = self.numpy and type(y) is np.ndarray
        if not plain:
            y = self._library_checked(y)
        if y.ndim not in (1, 2) or y.shape[0] != n:
            raise ValueError(f"`f` must return an array of shape ({n},) or ({n}, p) for x of shape "
                             f"{tuple(x.shape)}; got shape {tuple(y.shape)}.")
        if not (y.dtype.kind in "fiu" if plain else
                (xp.isdtype(y.dtype, "real floating") or xp.isdtype(y.dtype, "integral"))):
            raise TypeError(f"`f` must return real values; got dtype {y.dtype}.")
        p = 1 if y.ndim == 1 else y.shape[1]
        if self.p is None:
            self.p, self.scalar = p, y.ndim == 1
            if p == 0:
                raise ValueError("`f` returned an array with no outputs (shape (n, 0)).")
        elif p != self.p or (y.ndim == 1) != self.scalar:
            raise ValueError(f"`f` changed its output shape between calls: first (n, {self.p}) then "
                             f"{tuple(y.shape)}.")
        if plain:
            y = y.astype(np.float64).reshape(n, p)  # a copy, as xp.astype makes
            finite = bool(np.isfinite(y).all())
        else:
            y = xp.reshape(xp.astype(y, xp.float64), (n, p))
            finite = not bool(xp.any(~xp.isfinite(y)))
        if not finite:
            bad = ~xp.isfinite(y)
            row = xp.any(bad, axis=1)
            i = int(xp.argmax(xp.astype(row, xp.int32)))
            xi = np.asarray(_host(x[i, ...])).tolist()
            raise ValueError(f"`f` returned a non-finite value at point index {self.count + i} "
                             f"(x = {xi}); integrands must be finite on the measure's support.")
        if w is not None:
            y = y * xp.astype(w, xp.float64)[:, None]
        if not self.unit_jacobian:
            y = y * xp.astype(self.measure._jacobian(u, xp), xp.float64)[:, None]
        self.count += n
        return y

    def _library_checked(self, y: Any) -> Any:
        """``f``'s output as an array of the points' library (TypeError otherwise)."""
        xp = self.xp
        if isinstance(y, list | tuple):
            y = np.asarray(y)
        try:
            yns = array_namespace(y)
        except TypeError:
            raise TypeError(f"`f` must return an array of shape (n,) or (n, p); got {type(y).__name__}.") from None
        if yns is not xp and not (getattr(yns, "__name__", "").endswith("numpy")
                                 and getattr(xp, "__name__", "").endswith("numpy")):
            raise TypeError(f"`f` returned a {yns.__name__} array for points of {xp.__name__}; return an array "
                            "of the points' library.")
        return as_array(y, xp)


def _host(a: Any) -> np.ndarray:
    from .._testing import to_host

    return to_host(a)


def _tolerances(abs_tol: Any, rel_tol: Any) -> tuple[float, float]:
    a = check_real(abs_tol, "abs_tol", low=0.0)
    r = check_real(rel_tol, "rel_tol", low=0.0, high=1.0, high_open=True)
    if a <= 0 and r <= 0:
        raise ValueError(f"`abs_tol` and `rel_tol` must not both be zero (got abs_tol={a}, rel_tol={r}): "
                         "no finite number of points meets them.")
    return a, r


def _tol(s: np.ndarray, a: float, r: float) -> np.ndarray:
    return np.maximum(a, r * np.abs(s))


def _combine(mu: np.ndarray, half: np.ndarray, a: float, r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, its error bound and the flags from the interval [mu - half, mu + half] (QMCPy's
    "EITHER" rule: the point of the interval whose error is within max(abs_tol, rel_tol |I|))."""
    lo, hi = mu - half, mu + half
    tlo, thi = _tol(lo, a, r), _tol(hi, a, r)
    est = 0.5 * (lo + hi + tlo - thi)
    ok = (hi - lo) <= (tlo + thi)
    err = np.maximum(hi - est, est - lo)
    return est, err, ok


class _Tally:
    """Per-output bookkeeping of a doubling loop: each output keeps the estimate, bound and point
    count of the step at which it met its tolerance; the others move on with every step."""

    def __init__(self) -> None:
        self.est: Any = None

    def record(self, e: np.ndarray, b: np.ndarray, ok: np.ndarray, n: int) -> bool:
        """Take one step's estimates ``e``, bounds ``b`` and met flags ``ok``; True when all met."""
        if self.est is None:
            k = e.shape[0]
            self.est, self.err = np.full(k, np.nan), np.full(k, np.inf)
            self.n_used, self.done = np.zeros(k, dtype=np.int64), np.zeros(k, dtype=bool)
        live = ~self.done
        self.est[live], self.err[live], self.n_used[live] = e[live], b[live], n
        self.done |= ok
        return bool(self.done.all())

    def result(self, n: int) -> tuple:
        return self.est, self.err, self.n_used, self.done, n


class _Rule:
    """The stopping decision: (estimate, error bound, converged) from the intervals
    ``[mu - half, mu + half]`` of the outputs, through ``combine`` when given."""

    def __init__(self, a: float, r: float, combine: Any) -> None:
        self.a, self.r, self.combine = a, r, combine

    def __call__(self, mu: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.combine is None:
            return _combine(mu, half, self.a, self.r)
        lo, hi = _combined_bounds(self.combine, mu - half, mu + half)
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        return _combine(mid, rad, self.a, self.r)


def _combined_bounds(combine: Any, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = combine(lo.copy(), hi.copy())
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("`combine` must return a pair (lower, upper) of arrays; got "
                        f"{type(out).__name__}.")
    clo = np.atleast_1d(np.asarray(out[0], dtype=np.float64))
    chi = np.atleast_1d(np.asarray(out[1], dtype=np.float64))
    if clo.ndim != 1 or clo.shape != chi.shape:
        raise ValueError(f"`combine` must return two 1-D arrays of equal length; got shapes {clo.shape} "
                         f"and {chi.shape}.")
    if np.any(np.isnan(clo) | np.isnan(chi)) or np.any(clo > chi):
        raise ValueError("`combine` returned NaN or a lower bound above the upper bound.")
    return clo, chi


def _update_kappa(kappa: Any, mag: Any, mfrom: int, mto: int, xp: Any, engine: str = "xp") -> Any:
    """Rearrange the wavenumber map so that larger coefficients come first within each pair
    ``(k, k + 2^l)``, levels l = mfrom down to mto + 1 (Hickernell & Jimenez Rugama)."""
    if engine == "numba":
        from ._cub_numba import update_kappa

        out = np.array(kappa, dtype=np.int64, order="C", copy=True)
        update_kappa(out, np.ascontiguousarray(mag, dtype=np.float64), mfrom, mto)
        return out
    p, n = kappa.shape
    for level in range(mfrom, mto, -1):
        nl = 2**level
        blocks = xp.reshape(kappa, (p, n // (2 * nl), 2, nl))
        a = xp.take_along_axis(mag, blocks[:, 0, 0, :], axis=1)
        b = xp.take_along_axis(mag, blocks[:, 0, 1, :], axis=1)
        keep0 = xp.arange(nl, device=kappa.device) > 0
        flip = ((b > a) & keep0[None, :])[:, None, :]
        first, second = blocks[:, :, 0, :], blocks[:, :, 1, :]
        kappa = xp.reshape(xp.stack([xp.where(flip, second, first), xp.where(flip, first, second)], axis=2),
                           (p, n))
    return kappa


def _transform_ld(y: Any, net: bool, engine: str, xp: Any) -> Any:
    """Mean-normalized discrete Fourier (lattice) or Walsh (net) coefficients of y (n, p) -> (p, n)."""
    n = y.shape[0]
    yt = xp.permute_dims(y, (1, 0))
    if net:
        return _fwht(yt, 1, engine, xp) / math.sqrt(n)
    if xp.__name__.endswith("numpy"):  # cached bit reversal, one gather and one real-input FFT
        import scipy.fft

        return scipy.fft.fft(np.take(yt, _bitrev_np(n), axis=1), axis=1, overwrite_x=True) * (1.0 / n)
    return _fftbr(xp.astype(yt, xp.complex128), 1, xp) / math.sqrt(n)


@functools.lru_cache(maxsize=40)
def _bitrev_np(n: int) -> np.ndarray:
    """Bit-reversal permutation of ``log2 n`` bits, from the one for ``n / 2`` in O(n)."""
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    half = 2 * _bitrev_np(n // 2)
    return np.concatenate([half, half + 1])


def _twiddle(n: int, xp: Any, device: Any) -> Any:
    th = xp.arange(n, dtype=xp.float64, device=device) * (math.pi / n)
    if xp.__name__.endswith("numpy"):
        return np.exp(-1j * th)
    return xp.astype(xp.cos(th), xp.complex128) - 1j * xp.astype(xp.sin(th), xp.complex128)


_TWIDDLES: list[np.ndarray] = [np.ones(1, dtype=np.complex128)]


def _twiddles_np(n: int) -> np.ndarray:
    """``exp(-i pi k / n)``, k < n, on NumPy: the same values as :func:`_twiddle`, kept between
    calls as one table for the largest ``n`` used (a smaller table is a strided view of it:
    ``(k N / n) (pi / N)`` and ``k (pi / n)`` round alike).  A larger table takes the current one
    as its even entries and computes only the odd ones."""
    t = _TWIDDLES[0]
    while t.shape[0] < n:
        h = t.shape[0]
        th = (2 * np.arange(h, dtype=np.float64) + 1) * (math.pi / (2 * h))
        nxt = np.empty(2 * h, dtype=np.complex128)
        nxt[0::2] = t
        nxt[1::2] = np.exp(-1j * th)
        t = nxt
        _TWIDDLES[0] = t  # one reference swap: safe for concurrent readers
    return t[:: t.shape[0] // n]


def _double_numba(yt: np.ndarray, ytn: np.ndarray, w: np.ndarray | None, kappa: np.ndarray,
                  mto: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The doubling step of :func:`_cub_ld` on NumPy in one Numba pass, then the map update of
    levels ``m .. mto + 1`` (``n = 2^m`` before the doubling)."""
    from ._cub_numba import double_coefficients, update_kappa_doubled

    p, n = yt.shape
    ytn = np.ascontiguousarray(ytn)
    out = np.empty((p, 2 * n), dtype=yt.dtype)
    mag = np.empty((p, 2 * n))
    knew = np.empty((p, 2 * n), dtype=np.int64)
    twiddle = w is not None
    double_coefficients(np.ascontiguousarray(yt), ytn, w if twiddle else np.ones(1, dtype=ytn.dtype),
                        twiddle, np.ascontiguousarray(kappa, dtype=np.int64), out, knew)
    np.abs(out, out=mag)
    update_kappa_doubled(knew, mag, mag[:, n:] > mag[:, :n], n.bit_length() - 1, mto)
    return out, mag, knew


def _cub_ld(g: _Integrand, engine_pts: Any, net: bool, rule: _Rule, m0: int, mmax: int,
            xp: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    fft_engine = select_engine("auto", xp) if net else "xp"
    kap_engine = select_engine("auto", xp)
    m = m0
    n = 2**m
    y = g.sample(engine_pts, n)
    p = y.shape[1]
    ysum = xp.sum(y, axis=0)
    yt = _transform_ld(y, net, fft_engine, xp)
    mag = xp.abs(yt)
    kappa = xp.broadcast_to(xp.arange(n, dtype=xp.int64, device=y.device)[None, :], (p, n))
    kappa = _update_kappa(kappa, mag, m - 1, 0, xp, kap_engine)
    fused = kap_engine == "numba"  # NumPy: the doubling in one Numba pass
    tally = _Tally()
    while True:
        nll = 2 ** (m - _R_LAG - 1)
        s = xp.sum(xp.take_along_axis(mag, kappa[:, nll : 2 * nll], axis=1), axis=1)
        half = _host(5.0 * 2.0**-m * s).astype(np.float64)
        mu = _host(ysum / n).astype(np.float64)
        if tally.record(*rule(mu, half), n) or m >= mmax:
            return tally.result(n)
        # doubling: the next n points are the previous lattice/net shifted by one more digit
        ynew = g.sample(engine_pts, n)
        ysum = ysum + xp.sum(ynew, axis=0)
        ytn = _transform_ld(ynew, net, fft_engine, xp)
        if fused:
            yt, mag, kappa = _double_numba(yt, ytn, None if net else _twiddles_np(n), kappa, m - _R_LAG)
        else:
            if not net:
                ytn = ytn * _twiddle(n, xp, y.device)[None, :]
            yt = xp.concat([(yt + ytn) / 2, (yt - ytn) / 2], axis=1)
            mag = xp.abs(yt)
            kappa = xp.concat([kappa, kappa + n], axis=1)
            kappa = _update_kappa(kappa, mag, m, m - _R_LAG, xp, kap_engine)
        m += 1
        n *= 2


def _student_t(conf: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + conf / 2, dof))


def _cub_rep(g: _Integrand, engine_pts: Any, R: int, conf: float, rule: _Rule, m0: int, mmax: int,
             xp: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    q = _student_t(conf, R - 1)
    m = m0
    n = 2**m
    sums = None
    drawn = 0
    tally = _Tally()
    while True:
        u = engine_pts.random(n - drawn)  # (R, k, d)
        k = u.shape[1]
        y = g(xp.reshape(u, (R * k, u.shape[2])))
        part = xp.sum(xp.reshape(y, (R, k, y.shape[1])), axis=1)
        sums = part if sums is None else sums + part
        drawn = n
        means = _host(sums / n).astype(np.float64)  # (R, p)
        mu = means.mean(axis=0)
        half = q * means.std(axis=0, ddof=1) / math.sqrt(R)
        if tally.record(*rule(mu, half), R * n) or m >= mmax:
            return tally.result(R * n)
        m += 1
        n *= 2


@capability("qmc", numba=True)
def integrate(f: Any, measure: Any, *, abs_tol: float = 1e-2, rel_tol: float = 0.0,
              method: str = "lattice-fourier", n_init: int = 2**10, n_max: int = 2**30,
              periodization: str | None = None, periodization_order: int = 4,
              replications: int = 16, confidence: float = 0.99, combine: Any = None, rng: Any = None,
              xp: Any = None, device: Any = None) -> IntegrationResult:
    """Adaptive quasi-Monte Carlo cubature to a tolerance, with an error bound.

    Parameters
    ----------
    f : callable
        Vectorized integrand: ``f(x)`` with ``x`` of shape ``(n, d)`` (an array of
        ``xp`` on ``device``) returns shape ``(n,)`` or ``(n, p)`` for ``p``
        outputs, each integrated to tolerance.  It may be called several times
        per doubling, on consecutive blocks of its points (NumPy with Numba,
        Gaussian and (geometric) Brownian-motion measures: about 2^17 values
        per block),
        so ``n`` varies between calls.
    measure : Measure or int
        :class:`Uniform`, :class:`Gaussian`, :class:`BrownianMotion`,
        :class:`GeometricBrownianMotion`, :class:`Lebesgue`; an integer ``d``
        means the uniform measure on
        ``[0, 1]^d``.
    abs_tol, rel_tol : float, default 1e-2 and 0
        Stop when ``|I - estimate| <= max(abs_tol, rel_tol |I|)`` is certified for
        every output.  Non-negative, not both zero, ``rel_tol < 1``.
    method : {"lattice-fourier", "net-walsh", "replications", "bayes-lattice", "bayes-net"}
        ``"lattice-fourier"``: shifted rank-1 lattice (:class:`Lattice`) with the
        guaranteed stopping rule from the decay of the discrete Fourier
        coefficients [1]_.  ``"net-walsh"``: digitally shifted, LMS-scrambled
        Sobol' points (:class:`Sobol`) with the rule from Walsh coefficients [2]_.
        ``"replications"``: ``replications`` independent LMS+DS Sobol' sequences and a
        Student-t interval at ``confidence``.  ``"bayes-lattice"``/``"bayes-net"``:
        Bayesian cubature with shift-invariant / digitally shift-invariant
        kernels (credible interval at ``confidence``).
    n_init, n_max : int, default 2^10 and 2^30
        First and largest number of points (powers of two; ``n_init >= 2^8``
        for the guaranteed methods, ``n_max >= n_init``).  For "replications"
        these count points per randomization.
    periodization : {"none", "baker", "c1", "c1sin", "c2sin", "sidi"}, optional
        Variable transform applied before the measure's map (:func:`periodize`);
        default "baker" for "lattice-fourier", "c1sin" for "bayes-lattice" (the
        Gaussian-process prior is smooth and periodic), "none" otherwise.
    periodization_order : int, default 4
        Exponent of Sidi's transform.
    replications : int, default 16
        Randomizations for "replications" (at least 2).
    confidence : float, default 0.99
        Level of the probabilistic intervals (``"replications"``, ``"bayes-lattice"``, ``"bayes-net"``).
    combine : callable, optional
        Combined quantities of the outputs (ratios, differences, Sobol'
        indices): ``combine(lower, upper)`` receives the current bounds of the
        ``p`` integrals (arrays of shape ``(p,)``) and returns ``(lower_c,
        upper_c)``, bounds of the ``q`` combined quantities (interval
        arithmetic).  The tolerances then apply to those, and the result
        reports them (arrays of shape ``(q,)``).
    rng : numpy.random.Generator or int, optional
        Source of the randomization (SPEC 7).
    xp, device : optional
        Array library and device of the points handed to ``f`` (default NumPy).

    Returns
    -------
    IntegrationResult
        ``estimate``, ``error_bound``, ``n``, ``converged``, ``time`` (scalars for a
        scalar integrand, arrays of shape ``(p,)`` otherwise).

    Raises
    ------
    ValueError
        Tolerances negative or both zero, ``n_init``/``n_max`` not powers of two
        or ``n_max < n_init``, unknown method or periodization, ``f`` returning a
        wrong shape or a non-finite value (the point index and ``x`` are named).
    TypeError
        ``f`` not callable, ``measure`` not a measure, ``f`` returning a
        non-array, complex values or another array library, ``combine`` not
        callable or not returning a pair.

    Warns
    -----
    IntegrationWarning
        When ``n_max`` points were used without meeting the tolerance (then
        ``converged`` is False for the outputs concerned).

    Notes
    -----
    With ``u`` the points of ``[0, 1]^d`` and ``T``/``J`` the measure's map and
    Jacobian, the integrand on the cube is ``g(u) = f(T(psi(u))) J(psi(u))
    psi'(u)`` (``psi`` the periodization).  The guaranteed methods keep the
    ``n = 2^m`` coefficients ``g~_k`` of the values in natural order, updated at
    each doubling in ``O(n)`` from one fast transform (:func:`fftbr`,
    :func:`fwht`) of the ``n`` new values, and a wavenumber map ``kappa`` that
    sorts them by size within dyadic blocks.  The bound is
    ``5 2^-m sum_{k = 2^(m-r-1)}^{2^(m-r)-1} |g~_kappa(k)|`` with ``r = 4``:
    for ``g`` in the cone of functions whose Fourier (Walsh) coefficients decay
    steadily, it bounds the error [1]_, [2]_ (the same rule as QMCPy's
    ``CubQMCLatticeG``/``CubQMCNetG``).  With a relative tolerance the estimate
    is the point of ``[mu - bound, mu + bound]`` certified by the "either" rule.
    Cost per doubling: ``n`` evaluations of ``f``, ``O(n log n)`` transform,
    ``O(n)`` map update.  Outside the cone (discontinuous integrands) the bound
    may be too small; "replications" is the choice then.

    "replications" draws ``R`` independent LMS+DS Sobol' sequences and stops
    when ``t_{R-1} s / sqrt(R)`` (``s`` the spread of the ``R`` estimates)
    meets the tolerance; ``n`` then counts all ``R n`` evaluations.  The
    Bayesian methods model ``g`` as a Gaussian process with the product kernel
    ``prod_j (1 + gamma Kt(u_j - t_j))`` (Korobov or Walsh kernel of order 2);
    its Gram matrix on the points is diagonalized by the FFT (FWHT), so the
    profiled marginal likelihood costs ``O(n d + n log n)`` per shape value
    ``gamma`` (chosen by a bounded scalar search), the estimate is the sample
    mean and the half-width is ``z sqrt(s (1 - n / lambda_0))`` [3]_.

    References
    ----------
    .. [1] Ll. A. Jimenez Rugama, F. J. Hickernell, "Adaptive multidimensional
       integration based on rank-1 lattices", MCQMC 2014, Springer (2016) 407-422.
    .. [2] F. J. Hickernell, Ll. A. Jimenez Rugama, "Reliable adaptive cubature
       using digital sequences", MCQMC 2014, Springer (2016) 367-383.
    .. [3] R. Jagadeeswaran, F. J. Hickernell, "Fast automatic Bayesian
       cubature using lattice sampling", Stat. Comput. 29 (2019).

    Examples
    --------
    The Keister integrand ``pi^(d/2) cos(|x|)`` under ``N(0, I/2)`` in ``d = 2``:

    >>> import numpy as np
    >>> from orthla.qmc import Gaussian, integrate
    >>> keister = lambda x: np.pi * np.cos(np.sqrt((x * x).sum(axis=1)))
    >>> res = integrate(keister, Gaussian(0.0, 0.5, d=2), abs_tol=1e-4, rng=7)
    >>> bool(res.converged), bool(abs(res.estimate - 1.808186429263620) <= res.error_bound)
    (True, True)
    """
    t0 = time.perf_counter()
    method = check_choice(method, "method", METHODS)
    meas = _as_measure(measure)
    a, r = _tolerances(abs_tol, rel_tol)
    n_init = check_int(n_init, "n_init", low=1)
    n_max = check_int(n_max, "n_max", low=1)
    for val, name in ((n_init, "n_init"), (n_max, "n_max")):
        if val & (val - 1):
            raise ValueError(f"`{name}` must be a power of two; got {val}.")
    guaranteed = method in ("lattice-fourier", "net-walsh")
    low = 2**8 if guaranteed else (2**5 if method.startswith("bayes") else 1)
    if n_init < low:
        raise ValueError(f"`n_init` must be at least {low} for method={method!r}; got {n_init}.")
    if n_max < n_init:
        raise ValueError(f"`n_max` must be at least `n_init` = {n_init}; got {n_max}.")
    lattice = method in ("lattice-fourier", "bayes-lattice")
    if periodization is None:
        periodization = "c1sin" if method == "bayes-lattice" else ("baker" if lattice else "none")
    periodization = check_choice(periodization, "periodization", PERIODIZATIONS)
    order = check_int(periodization_order, "periodization_order", low=0, high=32)
    R = check_int(replications, "replications", low=2)
    conf = check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    if combine is not None and not callable(combine):
        raise TypeError(f"`combine` must be callable as combine(lower, upper); got {type(combine).__name__}.")
    rule = _Rule(a, r, combine)
    gen = as_rng(rng)
    m0, mmax = n_init.bit_length() - 1, n_max.bit_length() - 1

    from ._digital import Sobol
    from ._lattice import Lattice

    d = meas.d
    reps = R if method == "replications" else None
    if lattice:
        pts = Lattice(d, rng=gen, xp=xp, device=device, m_max=max(20, min(mmax, 31)))
        mmax = min(mmax, pts.m_max)
    else:
        pts = Sobol(d, rng=gen, xp=xp, device=device, replications=reps)
        mmax = min(mmax, 32)
    pxp = pts.xp
    g = _Integrand(f, meas, periodization, order, pxp)
    if guaranteed:
        est, err, n_used, done, n_total = _cub_ld(g, pts, not lattice, rule, m0, mmax, pxp)
    elif method == "replications":
        est, err, n_used, done, n_total = _cub_rep(g, pts, R, conf, rule, m0, mmax, pxp)
    else:
        from ._cub_bayes import _cub_bayes

        est, err, n_used, done, n_total = _cub_bayes(g, pts, not lattice, conf, rule, m0, mmax, pxp)
    if not done.all():
        bad = np.flatnonzero(~done).tolist()
        warnings.warn(f"integrate: the tolerance was not met within n_max = {n_total} points "
                      f"(method={method!r}) for output(s) {bad}; the result is not certified "
                      "(converged=False). Raise `n_max` or loosen `abs_tol`/`rel_tol`.",
                      IntegrationWarning, stacklevel=2)
    return _result(est, err, n_used, done, time.perf_counter() - t0, method, n_total,
                   g.scalar and combine is None)
