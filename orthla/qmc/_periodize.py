"""Periodizing variable transforms of the unit cube that keep the integral."""

from __future__ import annotations

import math
from typing import Any

from .._backend import capability
from .._validate import check_choice, check_int
from ._measures import _points

__all__ = ["PERIODIZATIONS", "periodize"]

PERIODIZATIONS = ("none", "baker", "c1", "c1sin", "c2sin", "sidi")


def _sidi(v: Any, m: int, xp: Any) -> tuple[Any, Any]:
    """psi(v) = J_m(v) / J_m(1), J_m(v) = int_0^v sin^m(pi t) dt, by the two-step recursion."""
    s = xp.sin(math.pi * v)
    c = xp.cos(math.pi * v)
    j_prev2, j_prev1 = v, (1.0 - c) / math.pi  # J_0, J_1
    one_prev2, one_prev1 = 1.0, 2.0 / math.pi
    if m == 0:
        return v, xp.ones_like(v)
    for k in range(2, m + 1):
        jk = -(s ** (k - 1)) * c / (k * math.pi) + (k - 1) / k * j_prev2
        onek = (k - 1) / k * one_prev2
        j_prev2, j_prev1 = j_prev1, jk
        one_prev2, one_prev1 = one_prev1, onek
    psi = j_prev1 / one_prev1
    return xp.clip(psi, 0.0, 1.0), s**m / one_prev1


def _periodize(u: Any, kind: str, m: int, xp: Any) -> tuple[Any, Any]:
    """(psi(u), prod_j psi'(u_j)) for a checked (n, d) array."""
    if kind == "none":
        return u, xp.ones((u.shape[0],), dtype=u.dtype, device=u.device)
    if kind == "baker":
        return 1.0 - xp.abs(2.0 * u - 1.0), xp.ones((u.shape[0],), dtype=u.dtype, device=u.device)
    if kind == "c1":
        v, w = u * u * (3.0 - 2.0 * u), 6.0 * u * (1.0 - u)
    elif kind == "c1sin":
        v, w = _sidi(u, 2, xp)
    elif kind == "c2sin":
        v, w = _sidi(u, 3, xp)
    else:
        v, w = _sidi(u, m, xp)
    return v, xp.prod(w, axis=1)


@capability("qmc", numba=False)
def periodize(u: Any, kind: str = "c1sin", *, order: int = 4) -> tuple[Any, Any]:
    """Periodizing transform ``v = psi(u)`` of the unit cube and its Jacobian.

    Parameters
    ----------
    u : array, shape (n, d)
        Points of ``[0, 1]^d``.
    kind : {"none", "baker", "c1", "c1sin", "c2sin", "sidi"}, default "c1sin"
        ``"baker"``: the tent map ``1 - |2u - 1|`` (measure preserving).
        ``"c1"``: ``3u^2 - 2u^3``.  ``"c1sin"``: ``u - sin(2 pi u) / (2 pi)``
        (Sidi's ``sin^2`` transform).  ``"c2sin"``: Sidi's ``sin^3`` transform
        ``(8 - 9 cos(pi u) + cos(3 pi u)) / 16``.  ``"sidi"``: Sidi's
        ``sin^order`` transform ``psi' proportional to sin(pi u)^order``.
    order : int, default 4
        Exponent of Sidi's transform (``kind="sidi"`` only), ``0 <= order <= 32``.

    Returns
    -------
    v : array, shape (n, d)
        ``psi(u)`` coordinatewise, in ``[0, 1]``.
    weight : array, shape (n,)
        ``prod_j psi'(u_j)`` (ones for "none" and "baker").

    Raises
    ------
    ValueError
        Unknown ``kind``, ``u`` not of shape ``(n, d)`` in the unit cube,
        ``order`` out of range.
    TypeError
        ``u`` not real.

    Notes
    -----
    For every integrable ``g``, ``int g(psi(u)) prod psi'(u_j) du = int g(v) dv``
    (for the baker's map, ``int g(psi(u)) du = int g(v) dv``).  The transformed
    integrand is continuous and periodic (its derivatives up to order ``k`` vanish
    at 0 and 1 for the ``C^k`` transforms), so the Fourier coefficients decay
    faster and lattice rules converge faster [1]_, [2]_.  The baker's map makes
    the integrand periodic and continuous (not smooth); lattice rules then
    converge like ``O(n^{-2})`` for smooth integrands [3]_.

    References
    ----------
    .. [1] A. Sidi, "A new variable transformation for numerical integration",
       Int. Ser. Numer. Math. 112 (1993).
    .. [2] I. H. Sloan, S. Joe, "Lattice Methods for Multiple Integration",
       Oxford (1994).
    .. [3] F. J. Hickernell, "Obtaining O(N^{-2+eps}) convergence for lattice
       quadrature rules", MCQMC 2000 (2002).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.qmc import periodize
    >>> v, w = periodize(np.array([[0.25, 0.5]]), "c1")
    >>> v.tolist(), w.tolist()
    ([[0.15625, 0.5]], [1.6875])
    """
    kind = check_choice(kind, "kind", PERIODIZATIONS)
    order = check_int(order, "order", low=0, high=32)
    xp, u = _points(u, None)
    return _periodize(u, kind, order, xp)
