"""O(n log n) Gram-matrix algebra: shift-invariant kernels on lattices (FFT), digitally
shift-invariant kernels on base-2 digital nets (Walsh-Hadamard)."""

from __future__ import annotations

import math
from typing import Any

from .._backend import array_namespace, as_array, capability, select_engine
from .._scaling import binary_exponent, max_abs_exponent, scale_pow2, unscale_checked
from .._validate import as_floating, check_finite, check_int, check_ndim, check_real
from ._digital import DigitalNet
from ._dsi import DigitalShiftInvariantKernel
from ._kernels import ShiftInvariantKernel, check_unit_cube
from ._lattice import Lattice
from ._transforms import _fftbr, _fwht, _ifftbr, bit_reversal_indices

__all__ = ["FastGram"]


@capability("qmc", numba=False)
class FastGram:
    """Gram matrix ``K + noise I`` on lattice or digital-net points, never formed.

    Parameters
    ----------
    x : array, shape (n, d), or Lattice or DigitalNet
        The first ``n = 2^m`` points of a point set, or an engine together with
        ``n`` (its first ``n`` points of the first replication are used):

        - with a :class:`ShiftInvariantKernel`: a (shifted) rank-1 lattice in
          natural or linear order (``Lattice(..., order="natural")``);
        - with a :class:`DigitalShiftInvariantKernel`: a base-2 digital net in
          natural or Gray order, unrandomized, digitally shifted and/or
          LMS-scrambled (:class:`DigitalNet`, :class:`Sobol`), as floats or as
          t-bit integers (``return_binary=True``).
    kernel : ShiftInvariantKernel or DigitalShiftInvariantKernel
        Kernel of the same dimension ``d``.
    noise : float, default 0.0
        Non-negative nugget added to the diagonal.
    n : int, optional
        Number of points when ``x`` is an engine.

    Methods
    -------
    matvec(y)
        ``(K + noise I) y``.
    solve(y)
        ``(K + noise I)^{-1} y``.
    logdet()
        ``log det(K + noise I)`` as a 0-d array.
    double(x_next=None)
        The same algebra for ``2n`` points, reusing this transform.

    Attributes
    ----------
    eigenvalues : array, shape (n,)
        Eigenvalues of ``K`` (without the nugget) in transform order, real, in
        the namespace and on the device of the points.
    n : int
    noise : float

    Raises
    ------
    ValueError
        ``n`` not a power of two; points without the structure the kernel needs
        (a Gray-order lattice or a Halton set with a shift-invariant kernel, a
        lattice or Halton set with a digitally shift-invariant one); an engine of
        the wrong kind or order; a dimension mismatch; negative or NaN noise;
        points outside [0, 1) or NaN/inf; NaN/inf in the vectors given to
        ``matvec``/``solve``, or results of theirs beyond the largest float (near
        the top of the range ``y`` and the eigenvalues are scaled by powers of
        two, so every representable result is returned exactly).
    TypeError
        ``kernel`` is of neither kernel class; points or vectors that are
        complex, boolean, float16, objects, strings or arrays of another
        namespace; ``noise`` not a real number or ``n`` not an integer
        (booleans included).

    Notes
    -----
    *Lattices.*  For ``x_i = frac(phi_2(i) g + Delta)`` the kernel matrix is
    ``K = P C P^T`` with ``P`` the bit-reversal permutation and ``C`` the
    symmetric circulant with first column ``c_k = K(frac(k g / n), 0)``, whose
    eigenvalues are ``lambda = DFT(c)`` [1]_: ``(K + noise I) y =
    ifftbr((lambda + noise) fftbr(y))``.  In linear order ``K = C`` itself
    (plain FFTs).  Gray order breaks the circulant structure and is refused.

    *Digital nets.*  For ``x_i = C i XOR s`` (natural order) or ``C gray(i) XOR s``
    (Gray order), ``x_i XOR x_k = x_{i XOR k} XOR x_0``, so ``K[i, k] = f(i XOR k)``:
    a dyadic convolution, diagonalized by the Walsh-Hadamard matrix ``H``,
    ``lambda = H f`` [2]_, ``(K + noise I) y = fwht((lambda + noise) fwht(y))``.

    In both cases the solve divides instead of multiplying and
    ``log det = sum log(lambda + noise)``: ``O(n d)`` to build (one kernel
    column), ``O(n log n)`` per product or solve, ``O(n)`` memory.  The structure
    of ``x`` is verified in ``O(n d)`` and everything above is exact up to
    rounding.

    References
    ----------
    .. [1] R. Jagadeeswaran, F. J. Hickernell, "Fast automatic Bayesian cubature
       using lattice sampling", Stat. Comput. 29 (2019).
    .. [2] R. Jagadeeswaran, F. J. Hickernell, "Fast automatic Bayesian cubature
       using Sobol' sampling", in Advances in Modeling and Simulation (2022).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import FastGram, Lattice, ShiftInvariantKernel
    >>> x = Lattice(2, rng=1).random(8)
    >>> k = ShiftInvariantKernel(2, alpha=1)
    >>> g = FastGram(x, k, noise=1e-3)
    >>> y = np.arange(8.0)
    >>> bool(np.allclose(g.matvec(g.solve(y)), y))
    True
    >>> dense = k(x) + 1e-3 * np.eye(8)
    >>> bool(np.isclose(g.logdet(), np.linalg.slogdet(dense)[1]))
    True
    """

    def __init__(self, x: Any, kernel: Any, *, noise: float = 0.0, n: int | None = None) -> None:
        engine_cls: type[Lattice] | type[DigitalNet]
        if isinstance(kernel, ShiftInvariantKernel):
            self._kind, engine_cls = "lattice", Lattice
        elif isinstance(kernel, DigitalShiftInvariantKernel):
            self._kind, engine_cls = "net", DigitalNet
        else:
            raise TypeError("`kernel` must be a ShiftInvariantKernel or a DigitalShiftInvariantKernel; "
                            f"got {type(kernel).__name__}.")
        noise = check_real(noise, "noise", low=0.0)
        if n is not None:
            n = check_int(n, "n", low=1)
        self._engine = None
        if hasattr(x, "random") and hasattr(x, "reset"):
            if not isinstance(x, engine_cls):
                raise ValueError(f"a {type(kernel).__name__} needs {engine_cls.__name__} points; got a "
                                 f"{type(x).__name__} engine.")
            self._engine = x
            x = self._points_from_engine(x, n)
        elif n is not None:
            raise ValueError("`n` is only used with an engine; with points, n = x.shape[0].")
        if isinstance(x, str | bytes):
            raise TypeError(f"`x` must be an array of points or an engine; got the string {x!r}.")
        xp = array_namespace(x)
        x = as_array(x, xp)
        check_ndim(x, "x", 2)
        n, d = x.shape
        if n < 1 or n & (n - 1):
            raise ValueError(f"`x` must hold n = 2^m points (a whole lattice or net); got n = {n}.")
        if d != kernel.d:
            raise ValueError(f"`x` has d = {d} columns but the kernel has d = {kernel.d}.")
        self.n, self.noise, self.kernel, self._xp = n, noise, kernel, xp
        if self._kind == "lattice":
            x = as_floating(x, "x", xp, allow_complex=False)
            check_unit_cube(x, "x", xp)
            self._linear = self._check_lattice(x)
            self._x = x
            # Eigenvalues of the circulant: DFT of the first column in linear order.
            self._lam = xp.fft.fft(self._lattice_column(x, x[:1, :]))
            self.eigenvalues = xp.real(self._lam)
        else:
            xi, self._t = kernel.to_integers(x, "x", xp)
            self._check_net(xi)
            self._x = xi
            col = kernel._xor_values(xi ^ xi[:1, :], self._t, xp)  # f(i) = K(x_i, x_0)
            self._lam = _fwht(col, 0, select_engine("auto", xp), xp) * math.sqrt(n)  # unnormalized
            self.eigenvalues = self._lam

    # -- construction helpers -------------------------------------------------
    def _points_from_engine(self, engine: Any, n: int | None) -> Any:
        if n is None:
            raise ValueError("`n` is required when an engine is given.")
        if self._kind == "lattice" and engine.order == "gray":
            raise ValueError("FastGram needs a lattice in natural or linear order (FFT); the engine "
                             "uses order='gray'.")
        if self._kind == "net" and engine.randomize == "nus":
            raise ValueError("FastGram needs the linear structure of a digital net; NUS (Owen) scrambling "
                             "destroys it. Use randomize='lms-ds', 'lms', 'ds' or False.")
        if n < 1 or n & (n - 1):
            raise ValueError(f"`n` must be a power of two; got {n}.")
        if n > engine._max_points:
            raise ValueError(f"`n` = {n} exceeds the engine's {engine._max_points} points.")
        return engine._generate(0, n)[0, ...]

    def _lattice_column(self, pts: Any, x0: Any) -> Any:
        """``K(pts_i, x0)`` for natural-order points, permuted to linear order, as complex."""
        xp = self._xp
        t = pts - x0
        t = t - xp.floor(t)
        col = self.kernel._shift_values(t, xp)
        if not self._linear:
            col = xp.take(col, bit_reversal_indices(pts.shape[0], xp, pts.device))
        return xp.astype(col, _complex(pts.dtype, xp))

    def _check_lattice(self, x: Any, what: str = "`x` is") -> bool:
        """Points must be x_0 + frac(k_i g / n) with k_i = bitrev(i) (natural order, returns
        False) or k_i = i (linear order, returns True)."""
        xp, n = self._xp, self.n
        if n == 1:
            return False
        diff = x - x[:1, :]
        diff = diff - xp.floor(diff)
        scaled = diff * n
        k = xp.round(scaled)
        tol = 1000.0 * n * float(xp.finfo(x.dtype).eps)
        off = float(xp.max(xp.abs(scaled - k)))
        if off > tol:
            raise ValueError(f"{what} not a lattice with n = {n} points: differences are off the grid "
                             f"1/n by up to {off / n:.3g}. Pass Lattice points in natural order.")
        k = xp.astype(k, xp.int64) % n
        g = k[n // 2, :]  # bitrev(n/2) = 1: the generating vector mod n
        idx = bit_reversal_indices(n, xp, x.device)
        if bool(xp.all(k == (idx[:, None] * g[None, :]) % n)):
            return False
        i = xp.arange(n, dtype=xp.int64, device=x.device)
        if bool(xp.all(k == (i[:, None] * k[1, :][None, :]) % n)):
            return True
        raise ValueError(f"{what} not a lattice in natural (radical-inverse) or linear order; FastGram "
                         "needs Lattice(..., order='natural' or 'linear') points (Gray order is not supported).")

    def _check_net(self, xi: Any, what: str = "`x` is") -> None:
        """D_i = x_i XOR x_0 must be XOR-linear in i: D_i = D_{i & (i-1)} XOR D_{lowbit(i)}."""
        xp, n = self._xp, self.n
        if n == 1:
            return
        dv = xi ^ xi[:1, :]
        i = xp.arange(1, n, dtype=xp.int64, device=xi.device)
        low = i & (-i)
        rest = i & (i - 1)
        ok = dv[1:, :] == (xp.take(dv, rest, axis=0) ^ xp.take(dv, low, axis=0))
        if not bool(xp.all(ok)):
            raise ValueError(f"{what} not a base-2 digital net with n = {n} points in natural or Gray "
                             "order (x_i XOR x_0 is not linear in i); FastGram needs DigitalNet/Sobol points.")

    # -- extension ------------------------------------------------------------
    def double(self, x_next: Any = None) -> FastGram:
        """The Gram algebra of the first ``2n`` points, reusing this one's transform.

        Parameters
        ----------
        x_next : array, shape (n, d), optional
            Points ``n..2n-1`` of the same point set in the same order (and
            representation); taken from the engine when this object was built
            from one.

        Returns
        -------
        FastGram
            For ``2n`` points, same kernel and noise.

        Raises
        ------
        ValueError
            ``x_next`` missing (built from points) or of the wrong shape, or the
            ``2n`` points without the required structure.

        Notes
        -----
        Lattice: in linear order the even points of the ``2n``-point lattice are
        the ``n``-point lattice and the odd ones are the new natural-order half, so
        the length-``2n`` DFT is one radix-2 butterfly of the stored DFT and the DFT
        of the new half's kernel column.  Digital net: ``H_2n = [[H_n, H_n], [H_n,
        -H_n]]``.  Either way ``O(n d)`` kernel evaluations plus one transform of
        length ``n``.
        """
        xp, n = self._xp, self.n
        if self._kind == "lattice" and self._linear:
            raise ValueError("double() needs natural order: the first n points of a linear-order "
                             "lattice of 2n points are not the n-point lattice.")
        if x_next is None:
            if self._engine is None:
                raise ValueError("`x_next` (points n..2n-1 in the same order) is required when "
                                 "FastGram was built from points rather than an engine.")
            if 2 * n > self._engine._max_points:
                raise ValueError(f"cannot double to {2 * n} points: the engine holds {self._engine._max_points}.")
            x_next = self._engine._generate(n, n)[0, ...]
        if isinstance(x_next, str | bytes):
            raise TypeError(f"`x_next` must be an array of points; got the string {x_next!r}.")
        x_next = as_array(x_next, xp)
        if tuple(x_next.shape) != (n, self.kernel.d):
            raise ValueError(f"`x_next` must have shape (n, d) = ({n}, {self.kernel.d}); got {tuple(x_next.shape)}.")
        new = object.__new__(FastGram)
        new.n, new.noise, new.kernel, new._xp = 2 * n, self.noise, self.kernel, xp
        new._engine, new._kind = self._engine, self._kind
        if self._kind == "lattice":
            new._linear = False
            x_next = as_floating(x_next, "x_next", xp, allow_complex=False)
            check_unit_cube(x_next, "x_next", xp)
            x2 = xp.concat([self._x, xp.astype(x_next, self._x.dtype)], axis=0)
            new._check_lattice(x2, "`x` followed by `x_next` is")
            odd = xp.fft.fft(new._lattice_column(x_next, self._x[:1, :]))
            k = xp.arange(n, dtype=xp.float64, device=x2.device)
            twiddle = xp.exp(xp.astype(k * (-math.pi / n), odd.dtype) * 1j)
            new._lam = xp.concat([self._lam + twiddle * odd, self._lam - twiddle * odd])
            new.eigenvalues = xp.real(new._lam)
        else:
            xi, t = self.kernel.to_integers(x_next, "x_next", xp)
            if t != self._t:
                raise ValueError("`x_next` must use the same representation (floats or t-bit integers) as `x`.")
            x2 = xp.concat([self._x, xi], axis=0)
            new._t = t
            new._check_net(x2, "`x` followed by `x_next` is")
            second = _fwht(self.kernel._xor_values(xi ^ self._x[:1, :], t, xp), 0,
                           select_engine("auto", xp), xp) * math.sqrt(n)
            new._lam = xp.concat([self._lam + second, self._lam - second])
            new.eigenvalues = new._lam
        new._x = x2
        return new

    # -- algebra --------------------------------------------------------------
    def _shifted(self) -> Any:
        return self.eigenvalues + self.noise

    def _check_rhs(self, y: Any, name: str) -> Any:
        xp = self._xp
        if isinstance(y, str | bytes):
            raise TypeError(f"`{name}` must be an array; got the string {y!r}.")
        y = as_array(y, xp)
        if y.ndim not in (1, 2) or y.shape[0] != self.n:
            raise ValueError(f"`{name}` must have shape (n,) or (n, k) with n = {self.n}; got {tuple(y.shape)}.")
        y = as_floating(y, name, xp, allow_complex=False)
        check_finite(y, name, xp)
        return y

    def _apply(self, y: Any, factor: Any) -> Any:
        xp = self._xp
        if y.ndim == 2 and y.shape[1] == 0:  # no columns (torch's FFT fails on empty batches)
            return xp.zeros(y.shape, dtype=y.dtype, device=y.device)
        # |result| <= max|factor| ||y||_2 <= max|factor| sqrt(n) max|y| (orthonormal transforms):
        # near the top of the range, y and the factor are scaled by powers of two (exact) and the
        # result is scaled back, refused with ValueError when it overflows (inf before).
        ey, ef = max_abs_exponent(y, xp), max_abs_exponent(factor, xp)
        top = binary_exponent(float(xp.finfo(y.dtype).max))
        if ey + ef + (self.n.bit_length() + 1) // 2 + 2 >= top:
            r = self._apply_unscaled(scale_pow2(y, -ey), scale_pow2(factor, -ef))
            return unscale_checked(r, ey + ef, xp, name="y", what="results ((K + noise I)^(+-1) y)")
        return self._apply_unscaled(y, factor)

    def _apply_unscaled(self, y: Any, factor: Any) -> Any:
        xp = self._xp
        f = factor if y.ndim == 1 else factor[:, None]
        if self._kind == "net":
            use = select_engine("auto", xp)
            return _fwht(f * _fwht(y, 0, use, xp), 0, use, xp)
        yc = xp.astype(y, _complex(y.dtype, xp))
        if self._linear:  # a plain circulant: no permutation
            return xp.real(xp.fft.ifft(f * xp.fft.fft(yc, axis=0), axis=0))
        return xp.real(_ifftbr(f * _fftbr(yc, 0, xp), 0, xp))

    def _positive(self) -> Any:
        lam = self._shifted()
        # below the smallest normal number, 1 / lambda overflows: as good as singular
        if not bool(self._xp.all(lam >= self._xp.finfo(lam.dtype).smallest_normal)):
            raise ValueError("the Gram matrix plus noise is not positive definite to working precision "
                             f"(smallest eigenvalue {float(self._xp.min(lam)):.3g}); increase `noise`.")
        return lam

    def matvec(self, y: Any) -> Any:
        """``(K + noise I) y`` for ``y`` of shape (n,) or (n, k), in ``O(n log n)`` per column.

        Raises ``ValueError`` for a wrong shape, NaN/inf in ``y`` or a result that
        overflows, ``TypeError`` for a complex, boolean, float16 or foreign-namespace ``y``.
        """
        y = self._check_rhs(y, "y")
        return self._apply(y, self._shifted())

    def solve(self, y: Any) -> Any:
        """``(K + noise I)^{-1} y``.

        Raises ``ValueError`` if the matrix is not positive definite, for a wrong shape or
        NaN/inf in ``y``, or when the solution overflows; ``TypeError`` as :meth:`matvec`.
        """
        y = self._check_rhs(y, "y")
        return self._apply(y, 1.0 / self._positive())

    def logdet(self) -> Any:
        """``log det(K + noise I) = sum log(lambda + noise)``, in ``O(n)``.

        Returns
        -------
        0-d array
            Real, in the namespace and on the device of the points (a NumPy scalar for
            NumPy points), as ``KronEigh.logdet``: no device-to-host copy, and on torch it
            stays in the autograd graph of the eigenvalues.  ``float(...)`` gives a Python
            number.

        Raises
        ------
        ValueError
            If the matrix is not positive definite to working precision (an eigenvalue
            plus ``noise`` below the smallest normal number).
        """
        return self._xp.sum(self._xp.log(self._positive()))


def _complex(dtype: Any, xp: Any) -> Any:
    return xp.complex64 if dtype == xp.float32 else xp.complex128
