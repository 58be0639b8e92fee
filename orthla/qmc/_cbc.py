"""Fast component-by-component (CBC) construction of rank-1 lattice rules with n = 2^m points."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .._backend import capability
from .._validate import check_int
from ._bernoulli import ALPHA_MAX, korobov_omega

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


def _as_weights(weights: Any, d: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(d, float(w))
    if w.ndim != 1 or w.shape[0] < d:
        raise ValueError(f"`weights` must be a scalar or a 1-D array of length at least d = {d}; "
                         f"got shape {tuple(np.shape(weights))}.")
    w = w[:d]
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("`weights` must be positive and finite.")
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
        in 1..5, or the weights are not positive.

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
    gamma = _as_weights(weights, d)
    k = np.arange(n, dtype=np.int64)
    p = np.ones(n)
    z = np.ones(d, dtype=np.int64)
    wce = np.empty(d)
    levels = _levels(n)
    powers = {N: _unit_powers(N) for _, N in levels if N >= 4}
    omega_tab = {N: korobov_omega(powers[N] / N, alpha) for N in powers}
    for j in range(d):
        if j > 0 and n >= 8:
            scores = _candidate_scores(p, n, levels, powers, omega_tab, gamma[j], alpha, extensible)
            best = int(np.argmin(scores))
            z[j] = int(pow(5, best, n))
        x = ((k * z[j]) % n) / n
        p *= 1.0 + gamma[j] * korobov_omega(x, alpha)
        wce[j] = math.sqrt(max(float(np.mean(p)) - 1.0, 0.0))
    return CBCResult(z, wce)


def _candidate_scores(p, n, levels, powers, omega_tab, gamma, alpha, extensible):
    """Squared error (or embedded ratio) of every candidate z = 5^j mod n, j < n/4."""
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
            err = err / N - 1.0
            r = err / max(float(np.min(err)), np.finfo(float).tiny)
            ratio = np.maximum(np.tile(ratio, L // ratio.shape[0]), r)
    if extensible:
        return ratio
    return base + gamma * total
