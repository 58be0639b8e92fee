"""Fast component-by-component (CBC) construction of rank-1 lattice rules with n = 2^m points."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .._backend import capability
from .._validate import check_int
from ._bernoulli import ALPHA_MAX, korobov_omega
from ._checks import check_bool, real_parameter

__all__ = ["CBCResult", "cbc_lattice"]

#: Largest supported exponent: k * z stays below 2^62 in int64 arithmetic.
M_MAX = 31


class CBCResult(NamedTuple):
    """Result of :func:`cbc_lattice`.

    Attributes
    ----------
    generating_vector : numpy.ndarray of int64, shape (d,)
        Odd integers ``z_j`` in ``[1, n)``; the lattice points are ``frac(k z / n)``.
    worst_case_error : numpy.ndarray of float64, shape (d,)
        ``worst_case_error[j]`` is the worst-case error (not squared) of the
        ``n``-point rule in the first ``j + 1`` dimensions.
    """

    generating_vector: Any
    worst_case_error: Any


#: Bounds on log2(1 + gamma_j omega_alpha(0)), per weight and summed over the dimensions:
#: the running product of the worst-case error stays below 2^2000 (its square root, the
#: error, below 2^1000), and one factor below 2^900 keeps every score finite.
_LOG2_FACTOR_MAX = 900.0
_LOG2_PRODUCT_MAX = 2000.0


def _as_weights(weights: Any, d: int, alpha: int) -> np.ndarray:
    w = real_parameter(weights, "weights")
    if w.ndim == 0:
        w = np.full(d, float(w))
    if w.ndim != 1 or w.shape[0] < d:
        raise ValueError(f"`weights` must be a scalar or a 1-D array of length at least d = {d}; "
                         f"got shape {w.shape}.")
    w = w[:d]
    if np.any(w <= 0):
        raise ValueError(f"`weights` must be positive and finite; got {w[w <= 0][:3].tolist()}.")
    # |1 + gamma omega(x)| <= 1 + gamma omega(0) = 1 + 2 gamma zeta(2 alpha)
    omega0 = float(korobov_omega(0.0, alpha))
    bits = np.logaddexp2(0.0, np.log2(w) + math.log2(omega0))  # log2(1 + w omega0), no overflow
    if np.max(bits) > _LOG2_FACTOR_MAX:
        j = int(np.argmax(bits))
        raise ValueError(f"`weights` must be at most 2^{_LOG2_FACTOR_MAX:g} / omega(0) = "
                         f"{2.0**_LOG2_FACTOR_MAX / omega0:.3g} (omega(0) = {omega0:.4g} for alpha = "
                         f"{alpha}); got weights[{j}] = {w[j]:.3g}.")
    if float(np.sum(bits)) > _LOG2_PRODUCT_MAX:
        raise ValueError(f"`weights` are too large for d = {d}: sum_j log2(1 + gamma_j omega(0)) = "
                         f"{float(np.sum(bits)):.1f} exceeds {_LOG2_PRODUCT_MAX:g}, so the worst-case "
                         "error would overflow double precision; scale the weights down.")
    return w


def _levels(n: int) -> list[tuple[int, int]]:
    """(s, N) pairs: the indices k = 2^s u with u a unit mod N = n / 2^s."""
    m = n.bit_length() - 1
    return [(s, n >> s) for s in range(m + 1)]


def _unit_powers(N: int) -> np.ndarray:
    """5^i mod N for i < N/4: with -1 these generate the units mod N = 2^k, k >= 2."""
    L = N // 4
    out = np.empty(L, dtype=np.int64)
    v = 1
    for i in range(L):
        out[i] = v
        v = (v * 5) % N
    return out


@capability("qmc", numba=False, backends=("numpy",),
            notes="host construction; the vector feeds Lattice on any backend")
def cbc_lattice(n: int, d: int, *, weights: Any = 1.0, alpha: int = 1,
                extensible: bool = False) -> CBCResult:
    """Generating vector of a rank-1 lattice rule by the fast CBC construction.

    Parameters
    ----------
    n : int
        Number of points, a power of two ``2^m`` with ``1 <= m <= 31``.
    d : int
        Dimension, at least 1.
    weights : float or array_like, shape (d,), default 1.0
        Positive product weights ``gamma_j`` of the Korobov space.
    alpha : {1, 2, 3, 4, 5}, default 1
        Smoothness of the Korobov space (the kernel uses ``B_{2 alpha}``).
    extensible : bool, default False
        If True, choose each component to minimise the largest ratio
        ``e_k(z) / e_k(z_k*)`` over all ``2^k <= n``, ``k >= 3``, where ``z_k*`` is
        the best component for ``2^k`` points alone, so that every leading
        block of ``2^k`` points (in natural order) is a good lattice too.

    Returns
    -------
    CBCResult
        ``(generating_vector, worst_case_error)`` as NumPy arrays.

    Raises
    ------
    ValueError
        If ``n`` is not a power of two in range, ``d < 1``, ``alpha`` is not
        in 1..5, or the weights are not positive and finite, or so large that
        the worst-case error overflows: each ``log2(1 + gamma_j omega(0))`` must
        be at most 900 and their sum at most 2000 (``omega(0) = 2 zeta(2 alpha)``,
        3.29 for ``alpha = 1``; with unit weights ``d <= 950``).
    TypeError
        If ``n``, ``d`` or ``alpha`` is not an integer (booleans included) or the
        weights are not real numbers (strings, booleans, complex).

    Notes
    -----
    The squared worst-case error of the lattice rule with generating vector
    ``z`` in the weighted Korobov space is [1]_

    .. math:: e^2(z) = -1 + \\frac{1}{n} \\sum_{k=0}^{n-1} \\prod_{j=1}^{d}
              \\bigl(1 + \\gamma_j \\omega_\\alpha(\\{k z_j / n\\})\\bigr),

    with :math:`\\omega_\\alpha(x) = (-1)^{\\alpha+1} (2\\pi)^{2\\alpha} B_{2\\alpha}(x) / (2\\alpha)!`.
    Component ``j`` minimises it over the odd candidates with ``z_1..z_{j-1}``
    fixed.  For ``n = 2^m`` the units modulo ``2^k`` are ``{+-5^i}``, and
    :math:`\\omega_\\alpha` and the running product are symmetric under
    ``k -> n - k``, so grouping the indices ``k = 2^s u`` by their power of
    two turns the ``n/2 x n`` candidate-by-index matrix into one circulant of
    order ``2^(m-s)/4`` per level ``s``: all candidates are scored with FFTs in
    ``O(n log n)`` per component, ``O(d n log n)`` in all, ``O(n)`` memory
    (Nuyens and Cools [2]_, [3]_).  The chosen component is ``5^j mod n`` of
    smallest ``j`` among ties (up to sign every odd ``z`` is such a power).
    The running product ``prod_j (1 + gamma_j omega(.))`` is divided by a power
    of two (exactly) whenever it could overflow a score, so large weights or
    many dimensions (unit weights beyond ``d = 490`` used to overflow) give the
    same choices as exact arithmetic would; the errors are reported up to
    ``2^1000``, hence the bound on the weights.  The product is kept as
    ``1 + q`` as well: errors of tiny weights are relatively accurate, and
    without ``extensible``, while ``q`` stays below ``2^-20``, candidates are
    ranked by ``sum_k q_k omega(k z / n)`` (the rest of the score is the same
    for every ``z``), so weights below about ``1e-17`` (``p`` rounding to 1)
    no longer give ``z = (1, 1, ...)``.  With ``extensible`` the ratios still
    compare ``1 + e^2`` and such weights leave the choice to rounding.

    References
    ----------
    .. [1] J. Dick, F. Y. Kuo, I. H. Sloan, "High-dimensional integration: the
       quasi-Monte Carlo way", Acta Numerica 22 (2013).
    .. [2] D. Nuyens, R. Cools, "Fast algorithms for component-by-component
       construction of rank-1 lattice rules in shift-invariant reproducing
       kernel Hilbert spaces", Math. Comp. 75 (2006).
    .. [3] R. Cools, F. Y. Kuo, D. Nuyens, "Constructing embedded lattice rules
       for multivariate integration", SIAM J. Sci. Comput. 28 (2006).

    Examples
    --------
    >>> from orthla.qmc import cbc_lattice
    >>> res = cbc_lattice(64, 3, weights=[1.0, 0.5, 0.25])
    >>> res.generating_vector.tolist()
    [1, 45, 29]
    >>> res.worst_case_error.round(4).tolist()
    [0.0283, 0.1272, 0.2818]
    """
    n = check_int(n, "n", low=2, high=2**M_MAX, high_expr="2**31")
    if n & (n - 1):
        raise ValueError(f"`n` must be a power of two (2^m points); got {n}.")
    d = check_int(d, "d", low=1)
    alpha = check_int(alpha, "alpha", low=1, high=ALPHA_MAX)
    extensible = check_bool(extensible, "extensible")
    gamma = _as_weights(weights, d, alpha)
    log2_factor = np.logaddexp2(0.0, np.log2(gamma) + math.log2(float(korobov_omega(0.0, alpha))))
    k = np.arange(n, dtype=np.int64)
    p = np.ones(n)
    q = np.zeros(n)  # p - 1, kept while p is unscaled: the error without cancelling against 1
    buf = np.empty(n)
    z = np.ones(d, dtype=np.int64)
    wce = np.empty(d)
    levels = _levels(n)
    powers = {N: _unit_powers(N) for _, N in levels if N >= 4}
    omega_tab = {N: korobov_omega(powers[N] / N, alpha) for N in powers}
    e = 0  # the running product is p * 2^e: rescaled by powers of two (exactly) when large
    for j in range(d):
        # |1 + gamma omega(x)| <= 1 + gamma omega(0) (every Fourier coefficient is positive), so
        # p_0 = prod (1 + gamma_j omega(0)) is max |p| and q_0 max |q|: no pass over p or q
        pmax = float(p[0])
        if math.log2(pmax) + math.log2(n) + float(log2_factor[j]) > 960.0:
            s = math.frexp(pmax)[1]
            p = np.ldexp(p, -s)
            e += s
        if j > 0 and n >= 8:
            # Without the extensible ratios only the candidate-dependent part of the scores
            # matters: sum_k p_k omega(k z / n) = sum_k omega(k z / n) + sum_k q_k omega(k z / n),
            # and the first sum is the same for every odd z (k -> k z permutes Z_n).  When p is
            # within 2^-20 of 1 that common sum swamps the rest (p = 1 exactly below weights of
            # about 1e-17 made every candidate tie, z = 1), so rank by the q sum; otherwise by the
            # p sum, as before (same choices for ordinary weights, ties included).
            tiny = e == 0 and not extensible and float(q[0]) < 2.0**-20
            scores = _candidate_scores(q if tiny else p, n, levels, powers, omega_tab, gamma[j],
                                       alpha, extensible, math.ldexp(1.0, -e))
            best = int(np.argmin(scores))
            z[j] = int(pow(5, best, n))
        x = ((k * z[j]) % n) / n
        f = gamma[j] * korobov_omega(x, alpha)
        p *= 1.0 + f
        if e == 0:
            # q += f + q f, (1 + q)(1 + f) - 1, through one buffer (same rounding)
            np.multiply(q, f, out=buf)
            buf += f
            q += buf
            wce[j] = math.sqrt(max(float(np.mean(q)), 0.0))
        else:
            wce[j] = _error(float(np.mean(p)), e)
    return CBCResult(z, wce)


def _error(mean: float, e: int) -> float:
    """sqrt(max(mean 2^e - 1, 0)) without overflow (mean 2^e <= 2^2000)."""
    if e == 0 or mean <= 0 or math.log2(mean) + e < 1000:
        return math.sqrt(max(math.ldexp(mean, e) - 1.0, 0.0))
    # mean 2^e >= 2^1000: the -1 is far below rounding
    return math.ldexp(math.sqrt(math.ldexp(mean, e % 2)), e // 2)


def _candidate_scores(p, n, levels, powers, omega_tab, gamma, alpha, extensible, one=1.0):
    """Squared error (or embedded ratio) of every candidate z = 5^j mod n, j < n/4.

    ``p`` is the running product divided by ``2^e`` and ``one = 2^-e``: the scores are
    those of the true product divided by ``2^e``, which changes neither the argmin nor
    the embedded ratios.
    """
    # Cumulative sums from the coarsest level (k = 0) to the finest (odd k), so that
    # the error of every leading 2^k-point sub-lattice is available on the way.
    base = 0.0  # sum of p over the indices of the current sub-lattice
    total = np.zeros(1)  # sum over levels of p(k) * omega, per candidate exponent mod L
    ratio = np.zeros(1)
    for s, N in reversed(levels):
        stride = 1 << s
        if N == 1:
            base += p[0]
            total = total + p[0] * float(korobov_omega(0.0, alpha))
            continue
        if N == 2:
            base += p[n // 2]
            total = total + p[n // 2] * float(korobov_omega(0.5, alpha))
            continue
        u = powers[N]
        a = p[u * stride]
        b = omega_tab[N]
        corr = 2.0 * np.fft.irfft(np.conj(np.fft.rfft(a)) * np.fft.rfft(b), n=a.shape[0])
        base += 2.0 * float(np.sum(a))
        L = N // 4
        total = np.tile(total, L // total.shape[0]) + corr
        if extensible and N >= 8:
            err = base + gamma * total  # n_k (1 + e_k^2), up to the common factor
            err = err / N - one
            r = err / max(float(np.min(err)), np.finfo(float).tiny)
            ratio = np.maximum(np.tile(ratio, L // ratio.shape[0]), r)
    if extensible:
        return ratio
    # base is the same for every candidate and gamma > 0: rank by total alone, which small
    # weights would otherwise round away against base
    return total
